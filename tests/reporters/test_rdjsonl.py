from __future__ import annotations

import json

from reviewbot.core import Coverage, Report
from reviewbot.reporters import rdjsonl
from reviewbot.textsafe import defuse_mentions, visible

from .conftest import SPACE_PATH, UNICODE_PATH, finding


def diagnostics(report: Report) -> list[dict]:
    text = rdjsonl.render(report)
    assert text.endswith('\n')
    lines = text.split('\n')[:-1]
    assert len(lines) == len(report.findings)
    return [json.loads(ln) for ln in lines]  # every line is one whole JSON object


def test_one_diagnostic_per_line_with_the_reviewdog_fields(nasty):
    for d in diagnostics(nasty):
        assert set(d) <= {'message', 'location', 'severity', 'source', 'code', 'suggestions'}
        assert d['severity'] in {'ERROR', 'WARNING', 'INFO'}
        assert d['source'] == {'name': 'reviewbot'}
        assert d['code']['value']
        assert d['location']['path']
        if 'range' in d['location']:
            start, end = d['location']['range']['start'], d['location']['range']['end']
            assert start['line'] >= 1 and end['line'] >= start['line']
            assert start.get('column', 1) >= 1 and end.get('column', 1) >= 1


def test_line_span_columns_and_severity(nasty):
    by_path = {}
    for d in diagnostics(nasty):
        by_path.setdefault(d['location']['path'], []).append(d)
    secret = by_path[SPACE_PATH][0]
    assert secret['severity'] == 'ERROR'
    assert secret['code'] == {'value': 'secret/aws-access-key'}
    # reviewdog posts it as Markdown: control characters escaped, @mentions defused
    assert secret['message'] == defuse_mentions(visible(nasty.findings[0].message))
    assert '\x1b' not in secret['message'] and '@octocat' not in secret['message']
    # Lines 7..8; the exclusive end column is past the last character of line 8 ('other = 1').
    assert secret['location']['range'] == {'start': {'line': 7, 'column': 1}, 'end': {'line': 8, 'column': 10}}
    # Columns count UTF-8 bytes: 'é = 1' is 6 bytes long.
    colon = by_path['c:odd/x%20y.py'][0]
    assert colon['location']['range']['end'] == {'line': 1, 'column': 7}
    levels = {d['message']: d['severity'] for d in by_path[UNICODE_PATH]}
    assert levels == {'naming: ünïcödé 名前': 'INFO', 'no test covers this file': 'WARNING'}


def test_file_level_and_removed_line_findings_have_no_range(nasty):
    by_message = {d['message']: d for d in diagnostics(nasty)}
    assert by_message['no test covers this file']['location'] == {'path': UNICODE_PATH}
    removed = by_message['(removed line 4) removed the only bounds check']
    assert 'range' not in removed['location']


def test_suggestions_replace_whole_lines(nasty):
    with_suggestion = [d for d in diagnostics(nasty) if 'suggestions' in d]
    assert len(with_suggestion) == 1
    assert with_suggestion[0]['suggestions'] == [{
        'range': {'start': {'line': 7}, 'end': {'line': 8}},
        'text': 'key = os.environ["K"]\nother = 2',
    }]


def test_range_without_matching_code_is_line_wise():
    d = diagnostics(Report([finding(line=5, end_line=6, code='')], Coverage()))[0]
    assert d['location']['range'] == {'start': {'line': 5}, 'end': {'line': 6}}


def test_empty_report_is_empty_output(empty):
    assert rdjsonl.render(empty) == ''
