from __future__ import annotations

import json

import pytest

from reviewbot.errors import ReviewbotError
from reviewbot.reporters import FORMATS, render


def test_formats_offered():
    assert list(FORMATS) == ['terminal', 'json', 'sarif', 'rdjsonl', 'github-annotations']


@pytest.mark.parametrize('fmt', list(FORMATS))
def test_every_format_renders_both_reports(fmt, nasty, empty):
    for report in (nasty, empty):
        text = render(report, fmt)
        assert isinstance(text, str)
        assert text == '' or text.endswith('\n')
    assert render(nasty, fmt)


@pytest.mark.parametrize('fmt', ['json', 'sarif'])
def test_machine_formats_are_json(fmt, nasty):
    json.loads(render(nasty, fmt))


def test_color_only_changes_the_terminal_format(nasty):
    assert '\x1b[' in render(nasty, 'terminal', color=True)
    assert '\x1b[' not in render(nasty, 'terminal')
    assert render(nasty, 'json', color=True) == render(nasty, 'json')


def test_unknown_format_is_a_one_line_error(nasty):
    with pytest.raises(ReviewbotError) as e:
        render(nasty, 'xml')
    message = str(e.value)
    assert '\n' not in message
    assert "'xml'" in message and 'sarif' in message and 'github-annotations' in message


@pytest.mark.parametrize('fmt', [*FORMATS, 'job-summary'])
def test_a_path_in_no_utf8_never_breaks_utf8_output(fmt):
    from reviewbot.core import Coverage, Report
    from reviewbot.reporters import job_summary

    from .conftest import finding
    path = b'caf\xe9 \xff.py'.decode('utf-8', 'surrogateescape')
    report = Report([finding(path, 2, suggestion='x = 1'), finding(path, None)], Coverage(1, 1, 1))
    text = job_summary.render(report) if fmt == 'job-summary' else render(report, fmt)
    text.encode('utf-8')  # would raise on a lone surrogate
    if fmt == 'terminal':
        assert text.startswith('caf\\xe9 \\xff.py: ')
