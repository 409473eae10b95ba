from __future__ import annotations

import html
import re

from reviewbot.core import Coverage, Report, Severity
from reviewbot.reporters import job_summary

from .conftest import NASTY, SPACE_PATH, finding


def table_rows(md: str) -> list[str]:
    return [ln for ln in md.splitlines() if ln.startswith('| ') and not ln.startswith('| ---')]


def cells(row: str) -> list[str]:
    # GFM splits a row at every unescaped '|'.
    return [c.strip() for c in re.split(r'(?<!\\)\|', row)[1:-1]]


def test_table_of_findings_counts_and_coverage(nasty):
    md = job_summary.render(nasty)
    assert md.startswith('## reviewbot review\n')
    assert '**5 findings (1 error, 3 warnings, 1 info).**' in md
    assert '**Coverage:** reviewed 4 files, 5 hunks, 37 lines.' in md
    rows = table_rows(md)
    assert cells(rows[0]) == ['Severity', 'Location', 'Finding', 'Rule', 'Reviewer']
    finding_rows = rows[1:6]
    assert all(len(cells(r)) == 5 for r in finding_rows)
    skipped = [cells(r) for r in rows if r.startswith(('| file', '| hunk'))]
    assert skipped == [['files', '2', 'lock file', '1020'], ['file', '1', 'binary', '0'],
                       ['hunk', '1', 'budget', '40']]
    assert '&#62; cloud reviewer not used' not in md and '> cloud reviewer not used' in md
    assert '**Left this machine:** nothing.' in md


def test_model_text_is_inert_and_lossless(nasty):
    md = job_summary.render(nasty)
    for markup in ('<script', '](', '@octocat', '\x1b', '\r'):
        assert markup not in md
    row = next(r for r in table_rows(md) if 'aws' in r)
    severity, location, message, rule, reviewer = cells(row)
    assert reviewer == 'secrets'
    assert severity == ':x: error'
    assert html.unescape(location) == f'{SPACE_PATH}:7–8'
    # Unescaping the cell gives back exactly what the model said (control characters made visible).
    assert html.unescape(message.replace('<br>', '\n')) == NASTY.replace('\r\n', '\n').replace('\x1b', '\\x1b')
    assert html.unescape(rule) == 'secret/aws-access-key'


def test_suggestions_sit_in_pre_blocks_that_model_text_cannot_close():
    report = Report([finding(line=2, suggestion='</pre><img src=x onerror=alert(1)>\nx = 1 & 2')],
                     Coverage(1, 1, 1))
    md = job_summary.render(report)
    assert '<details><summary>Verified fixes (1)</summary>' in md
    block = md.split('<pre>\n', 1)[1].split('\n</pre>', 1)[0]
    assert block == '&lt;/pre&gt;&lt;img src=x onerror=alert(1)&gt;\nx = 1 &amp; 2'
    assert md.count('</pre>') == 1


def test_stays_under_the_step_summary_limit_and_counts_what_did_not_fit():
    big = Report([finding(line=n, message='m' * 2000, severity=Severity.ERROR) for n in range(1, 3001)],
                 Coverage(1, 1, 3000))
    md = job_summary.render(big)
    size = len(md.encode('utf-8'))
    assert size < 1024 * 1024
    assert size > 512 * 1024  # the budget is used, not thrown away
    shown = len(table_rows(md)) - 1
    assert 0 < shown < 3000
    assert f'*{3000 - shown} more findings do not fit in a job summary (1 MiB)' in md


def test_long_messages_are_cut():
    md = job_summary.render(Report([finding(message='y' * 5000)], Coverage(1, 1, 1)))
    assert 'y' * job_summary.MAX_CELL_CHARS + '…' in md
    assert 'y' * (job_summary.MAX_CELL_CHARS + 1) not in md


def test_empty_report(empty):
    md = job_summary.render(empty)
    assert '**No findings.**' in md
    assert '**Coverage:** nothing to review.' in md
    assert '| Severity |' not in md


def test_append_to_step_summary(tmp_path, nasty):
    target = tmp_path / 'summary.md'
    target.write_text('earlier step\n', encoding='utf-8')
    assert job_summary.append_to_step_summary(nasty, {'GITHUB_STEP_SUMMARY': str(target)})
    text = target.read_text(encoding='utf-8')
    assert text.startswith('earlier step\n## reviewbot review\n')
    assert not job_summary.append_to_step_summary(nasty, {})
