from __future__ import annotations

import os
import re

from reviewbot.core import Coverage, Report, Severity, Skipped
from reviewbot.reporters import terminal

from .conftest import SPACE_PATH, UNICODE_PATH, finding


def test_findings_grouped_by_file_with_location_severity_category_and_reviewer(nasty):
    out = terminal.render(nasty)
    lines = out.splitlines()
    # Sorted by path; inside a file, file-level notes first, then by line; a blank line between files.
    assert lines[0] == 'c:odd/x%20y.py:1: warning: colon, comma: 50% [bug/off-by-one] (local-model)'
    assert lines[1] == ''
    assert lines[2] == f'{UNICODE_PATH}: warning: no test covers this file [bug/missing-test] (local-model)'
    assert lines[3] == f'{UNICODE_PATH}:2: info: naming: ünïcödé 名前 [style/naming] (local-model)'
    assert lines[4] == ''
    # A finding on a removed line is not printed at a new-file line that holds something else.
    assert lines[5] == ('src/app.py: warning: (removed line 4) removed the only bounds check '
                        '[bug/off-by-one] (local-model)')
    assert lines[6] == ''
    assert lines[7] == f'{SPACE_PATH}:7: error: 100% sure: a,b::c [secret/aws-access-key] (secrets)'


def test_multiline_message_and_suggestion_are_indented(nasty):
    out = terminal.render(nasty)
    block = out.split(f'{SPACE_PATH}:7: ', 1)[1].split('\n\n', 1)[0].splitlines()
    assert block[1] == '    ::set-output name=pwned::1'
    assert block[2] == '    ::add-mask::x %0A %25'
    head = '    fix (cloud, unsafe: applied only with --unsafe-fixes):'
    assert head in block
    i = block.index(head)
    # the verified fix as a diff: the old lines, then the new ones
    assert block[i + 1:i + 5] == ['    - key = "AKIA****"', '    - other = 1',
                                  '    + key = os.environ["K"]', '    + other = 2']
    # Every line of the finding but the first is indented: nothing the model wrote starts a line.
    assert all(ln.startswith('    ') for ln in block[1:])


def test_control_characters_from_model_text_are_shown_not_obeyed(nasty):
    for color in (False, True):
        out = terminal.render(nasty, color=color)
        assert '\\x1b[31mred\\x1b[0m' in out
        assert '\r' not in out
        if not color:
            assert '\x1b' not in out
    bidi = Report([finding(message='safe\u202e txt.exe', suggestion='a\u2066b')], Coverage(1, 1, 1))
    out = terminal.render(bidi)
    assert '\u202e' not in out and '\u2066' not in out
    assert 'safe\\u202e txt.exe' in out and '+ a\\u2066b' in out


def test_summary_line_counts_findings_and_groups_skipped_reasons(nasty):
    last = terminal.render(nasty).splitlines()[-1]
    assert last == ('5 findings (1 error, 3 warnings, 1 info); reviewed 4 files, 5 hunks, 37 lines; '
                    'skipped: 2 files (lock file), 1 file (binary), 1 hunk (budget)')
    notes = terminal.render(nasty).splitlines()[-2]
    assert notes == 'note: cloud reviewer not used: repository is private'


def test_skipped_for_one_reviewer_names_it_and_hunks_of_one_file_count_separately():
    report = Report([], Coverage(1, 1, 3, [
        Skipped('a.py', 'over size limit', reviewer='local-model'),
        Skipped('b.py', 'budget', hunk=0), Skipped('b.py', 'budget', hunk=1),
    ]))
    assert terminal.summary_line(report) == ('no findings; reviewed 1 file, 1 hunk, 3 lines; '
                                             'skipped: 1 file (over size limit, local-model only), '
                                             '2 hunks (budget)')


def test_empty_report_says_nothing_to_review(empty):
    assert terminal.render(empty) == 'nothing to review\n'


def test_nothing_reviewed_but_skipped_says_why():
    report = Report([], Coverage(skipped=[Skipped('logo.png', 'binary')]))
    assert terminal.render(report) == 'nothing to review; skipped: 1 file (binary)\n'


def test_reviewed_without_findings_says_no_findings():
    report = Report([], Coverage(2, 2, 10))
    assert terminal.render(report) == 'no findings; reviewed 2 files, 2 hunks, 10 lines\n'


def test_colour_marks_severity_only_when_asked(nasty):
    plain = terminal.render(nasty, color=False)
    coloured = terminal.render(nasty, color=True)
    assert '\x1b[' not in plain
    assert '\x1b[1;31merror\x1b[0m' in coloured
    # Stripping the colour codes gives back the plain text.
    assert re.sub(r'\x1b\[[0-9;]*m', '', coloured) == plain


def test_use_color_needs_a_tty_and_no_NO_COLOR(tmp_path):
    with open(tmp_path / 'out.txt', 'w') as not_a_tty:
        assert not terminal.use_color(not_a_tty, environ={})
    master, slave = os.openpty()
    try:
        with os.fdopen(slave, 'w', closefd=False) as tty:
            assert terminal.use_color(tty, environ={})
            assert not terminal.use_color(tty, environ={'NO_COLOR': '1'})
            # no-color.org: an empty NO_COLOR does not disable colour.
            assert terminal.use_color(tty, environ={'NO_COLOR': ''})
    finally:
        os.close(master)
        os.close(slave)


def test_severity_order_within_a_line():
    report = Report([finding(line=5, severity=Severity.INFO, message='minor'),
                     finding(line=5, severity=Severity.ERROR, message='major')], Coverage(1, 1, 1))
    lines = terminal.render(report).splitlines()
    assert lines[0].startswith('src/app.py:5: error: major')
    assert lines[1].startswith('src/app.py:5: info: minor')


def test_a_suggestion_without_a_verified_fix_is_never_shown():
    bare = Report([finding(suggestion='x = 2', verified=False)], Coverage(1, 1, 1))
    out = terminal.render(bare)
    assert 'x = 2' not in out and 'fix' not in out.split('\n')[1]
