from __future__ import annotations

import re

from reviewbot.core import Coverage, Report, Severity
from reviewbot.reporters import github_annotations as gha

from .conftest import NASTY, SPACE_PATH, UNICODE_PATH, finding


def unescape_data(s: str) -> str:
    return s.replace('%0D', '\r').replace('%0A', '\n').replace('%25', '%')


def unescape_property(s: str) -> str:
    return (s.replace('%0D', '\r').replace('%0A', '\n').replace('%3A', ':').replace('%2C', ',')
            .replace('%25', '%'))


def run_like_the_actions_runner(output: str) -> list[tuple[str, dict[str, str], str]]:
    """The workflow commands a GitHub runner would execute from this step output.

    Like the runner: lines end at CR, LF or CRLF; a command is `::name props::data` after leading
    white space; `::stop-commands::TOKEN` ignores every command until a line `::TOKEN::`.
    """
    executed = []
    stop_token = None
    for line in re.split(r'\r\n|\r|\n', output):
        line = line.lstrip()
        if stop_token is not None:
            if line == f'::{stop_token}::':
                stop_token = None
            continue
        m = re.match(r'::([^ :]+)(?: ([^:]*))?::(.*)$', line)
        if not m:
            continue
        name, props, data = m.group(1), m.group(2) or '', m.group(3)
        properties = {}
        for item in filter(None, props.split(',')):
            key, _, value = item.partition('=')
            properties[key] = unescape_property(value)
        if name == 'stop-commands':
            stop_token = data
        executed.append((name, properties, unescape_data(data)))
    assert stop_token is None, 'the stop-commands block was never closed'
    return executed


def annotations(output: str) -> list[tuple[str, dict[str, str], str]]:
    return [c for c in run_like_the_actions_runner(output) if c[0] != 'stop-commands']


def test_model_text_cannot_issue_workflow_commands(nasty):
    out = gha.render(nasty)
    names = [name for name, _, _ in run_like_the_actions_runner(out)]
    assert set(names) <= {'error', 'warning', 'notice', 'stop-commands'}
    assert names.count('stop-commands') == 1
    # The model's "::set-output" and "::add-mask" do appear in the log, inside the stopped block.
    assert '::set-output name=pwned::1' in out and '::add-mask::x' in out


def test_annotations_round_trip_paths_lines_and_messages(nasty):
    got = annotations(gha.render(nasty))
    assert len(got) == len(nasty.findings)
    first_name, props, data = got[0]
    assert first_name == 'error'  # most severe first
    assert props == {'file': SPACE_PATH, 'line': '7', 'endLine': '8',
                     'title': 'secret/aws-access-key (secrets)'}
    assert data == NASTY.replace('\r\n', '\n').replace('\x1b', '\\x1b') + (
        '\n\nsuggestion:\nkey = os.environ["K"]\nother = 2')
    by_data = {d: (n, p) for n, p, d in got}
    assert by_data['colon, comma: 50%'] == ('warning', {'file': 'c:odd/x%20y.py', 'line': '1', 'endLine': '1',
                                                        'title': 'bug/off-by-one (local-model)'})
    assert by_data['naming: ünïcödé 名前'] == ('notice', {'file': UNICODE_PATH, 'line': '2', 'endLine': '2',
                                                         'title': 'style/naming (local-model)'})
    # File-level and removed-line findings annotate the file, not a line.
    assert by_data['no test covers this file'][1] == {'file': UNICODE_PATH,
                                                     'title': 'bug/missing-test (local-model)'}
    assert 'line' not in by_data['(removed line 4) removed the only bounds check'][1]


def test_escaping_rules():
    assert gha.escape_data('50%\r\n:,') == '50%25%0D%0A:,'
    assert gha.escape_property('a:b,c%\r\n') == 'a%3Ab%2Cc%25%0D%0A'
    line = gha.command('warning', 'x', file='a,b.py', title='t: 1')
    assert line == '::warning file=a%2Cb.py,title=t%3A 1::x'


def test_each_annotation_is_one_line(nasty):
    out = gha.render(nasty)
    annotation_lines = out.split('::stop-commands::')[0].splitlines()
    assert len(annotation_lines) == len(nasty.findings)
    assert all(re.match(r'::(error|warning|notice) ', ln) for ln in annotation_lines)


def test_the_full_report_follows_inside_a_fresh_stop_commands_block(nasty):
    out1, out2 = gha.render(nasty), gha.render(nasty)
    token1 = re.search(r'^::stop-commands::(\S+)$', out1, re.MULTILINE).group(1)
    token2 = re.search(r'^::stop-commands::(\S+)$', out2, re.MULTILINE).group(1)
    assert token1 != token2 and len(token1) >= 32
    assert out1.rstrip('\n').endswith(f'::{token1}::')
    inside = out1.split(f'::stop-commands::{token1}\n', 1)[1]
    assert inside.count(token1) == 1  # the closing line only
    assert 'skipped: 2 files (lock file), 1 file (binary), 1 hunk (budget)' in inside


def test_token_never_appears_in_the_wrapped_text():
    text = 'x'
    assert gha.stop_token(text) not in text


def test_at_most_ten_per_level_most_severe_first_and_the_rest_counted():
    findings = ([finding(line=n, severity=Severity.INFO, message=f'info {n}') for n in range(1, 13)]
                + [finding(line=n, severity=Severity.WARNING, message=f'warn {n}') for n in range(1, 16)]
                + [finding(line=n, severity=Severity.ERROR, message=f'err {n}') for n in range(1, 26)])
    out = gha.render(Report(findings, Coverage(1, 1, 30)))
    got = annotations(out)
    names = [n for n, _, _ in got]
    assert names == ['error'] * 10 + ['warning'] * 10 + ['notice'] * 10
    assert [d for _, _, d in got[:3]] == ['err 1', 'err 2', 'err 3']
    assert got[-1][2].startswith('reviewbot: 23 more findings not shown as annotations')
    # Everything is still in the log.
    for n in range(1, 26):
        assert f'src/app.py:{n}: error: err {n} ' in out


def test_empty_report():
    out = gha.render(Report([], Coverage()))
    assert annotations(out) == []
    assert 'nothing to review' in out
