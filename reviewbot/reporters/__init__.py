"""Reporters: turn an anchored Report into text in one output format.

Each module has `render(report) -> str` (the terminal's also takes `color`); `render` below picks
one by its --format name. job_summary (Markdown for $GITHUB_STEP_SUMMARY) is not a --format: it
goes next to the GitHub annotations, not instead of them.
"""
from __future__ import annotations

from collections.abc import Callable

from reviewbot.core import Report
from reviewbot.errors import ReviewbotError
from reviewbot.reporters import github_annotations, json_, rdjsonl, sarif, terminal

FORMATS: dict[str, Callable[[Report], str]] = {
    'terminal': terminal.render,
    'json': json_.render,
    'sarif': sarif.render,
    'rdjsonl': rdjsonl.render,
    'github-annotations': github_annotations.render,
}


def render(report: Report, fmt: str, *, color: bool = False) -> str:
    """The report as text in format `fmt`; colour applies to the terminal format only."""
    if fmt == 'terminal':
        return terminal.render(report, color=color)
    try:
        renderer = FORMATS[fmt]
    except KeyError:
        raise ReviewbotError(
            f'unknown report format {fmt!r}; choose one of: {", ".join(FORMATS)}') from None
    return renderer(report)
