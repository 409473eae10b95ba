"""Reports with nasty content, shared by the reporter tests."""
from __future__ import annotations

import pytest

from reviewbot.core import Coverage, Finding, Fix, Report, Severity, Side, Skipped

# Model text that tries everything: workflow commands, escapes, CRLF, Markdown/HTML, terminal codes.
NASTY = ('100% sure: a,b::c\r\n::set-output name=pwned::1\n::add-mask::x %0A %25\n'
         '<script>alert(1)</script> [click](https://evil.example) @octocat | cell | \x1b[31mred\x1b[0m')
SPACE_PATH = 'src/my dir/a file, v2.py'
UNICODE_PATH = 'docs/ünï/日本 語.py'
COLON_PATH = 'c:odd/x%20y.py'


def finding(path: str = 'src/app.py', line: int | None = 3, end_line: int | None = None, *,
            severity: Severity = Severity.WARNING, category: str = 'bug/off-by-one',
            message: str = 'index can run past the end', reviewer: str = 'local-model',
            suggestion: str | None = None, code: str | None = None, side: Side = Side.RIGHT,
            verified: bool = True) -> Finding:
    """A finding; a `suggestion` comes with the verified Fix the pipeline would attach to it
    (`verified=False`: a bare suggestion, which no reporter may show)."""
    if code is None:
        code = '' if line is None else '\n'.join(f'line {n}' for n in range(line, (end_line or line) + 1))
    return Finding(path=path, line=line, end_line=end_line if end_line is not None else line,
                   severity=severity, category=category, message=message, reviewer=reviewer,
                   side=side, suggestion=suggestion, anchored_code=code,
                   fix=None if suggestion is None or line is None else Fix(
                       line=line, end_line=end_line if end_line is not None else line,
                       replacement=suggestion, source='cloud', safety='unsafe', original=code,
                       verified=verified, checks=('parses',) if verified else ()))


def nasty_report() -> Report:
    return Report(
        findings=[
            finding(SPACE_PATH, 7, 8, severity=Severity.ERROR, category='secret/aws-access-key',
                    message=NASTY, reviewer='secrets', suggestion='key = os.environ["K"]\nother = 2\n',
                    code='key = "AKIA****"\nother = 1'),
            finding(UNICODE_PATH, 2, severity=Severity.INFO, category='style/naming',
                    message='naming: ünïcödé 名前', code='x = 1'),
            finding(UNICODE_PATH, None, None, severity=Severity.WARNING, category='bug/missing-test',
                    message='no test covers this file'),
            finding(COLON_PATH, 1, severity=Severity.WARNING, message='colon, comma: 50%', code='é = 1'),
            finding('src/app.py', 4, 4, severity=Severity.WARNING, side=Side.LEFT,
                    message='removed the only bounds check', code='if i < n:'),
        ],
        coverage=Coverage(files_reviewed=4, hunks_reviewed=5, lines_reviewed=37, skipped=[
            Skipped('poetry.lock', 'lock file', lines=120),
            Skipped('web/package-lock.json', 'lock file', lines=900),
            Skipped('src/big.py', 'budget', hunk=2, lines=40),
            Skipped('img/logo.png', 'binary'),
        ]),
        timings={'parse': 0.001234567, 'secrets': 0.5},
        reviewers=['secrets', 'local-model'],
        notes=['cloud reviewer not used: repository is private'],
    )


def empty_report() -> Report:
    return Report(findings=[], coverage=Coverage())


@pytest.fixture
def nasty() -> Report:
    return nasty_report()


@pytest.fixture
def empty() -> Report:
    return empty_report()
