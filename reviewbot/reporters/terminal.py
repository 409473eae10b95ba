"""Human-readable report for a terminal: findings grouped by file, then one line of coverage.

    src/app.py:12: error: AWS access key in source [secret/aws-access-key] (secrets)
        fix (secrets, unsafe: applied only with --unsafe-fixes):
        - key = "AKIA********"
        + key = os.environ["KEY"]

    2 findings (1 error, 1 warning); reviewed 3 files, 4 hunks, 51 lines; skipped: 1 file (lock file)

Colour only when asked (the caller decides with `use_color(stream)`), as plain ANSI codes so
the hook does not pay for importing a rendering library.
"""
from __future__ import annotations

import itertools
import os
from collections.abc import Mapping
from typing import TextIO

from reviewbot.core import Basis, Finding, Report, Severity
from reviewbot.reporters._common import (
    line_span,
    message_with_side,
    nothing_reviewed,
    plural,
    reviewed_text,
    severity_counts,
    skipped_text,
    sorted_findings,
)
from reviewbot.textsafe import visible

_RESET = '\x1b[0m'
_BOLD = '\x1b[1m'
_DIM = '\x1b[2m'
_RED = '\x1b[31m'
_GREEN = '\x1b[32m'
_SEVERITY_COLOR = {Severity.ERROR: '\x1b[1;31m', Severity.WARNING: '\x1b[33m', Severity.INFO: '\x1b[36m'}
INDENT = '    '


def use_color(stream: TextIO, environ: Mapping[str, str] | None = None) -> bool:
    """Colour only for a TTY, and never when NO_COLOR is set to a non-empty value (no-color.org)."""
    env = os.environ if environ is None else environ
    if env.get('NO_COLOR'):
        return False
    isatty = getattr(stream, 'isatty', None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


def _paint(text: str, code: str, color: bool) -> str:
    return f'{code}{text}{_RESET}' if color else text


def _location(f: Finding) -> str:
    span = line_span(f)
    return f'{visible(f.path, keep_newlines=False)}:{span[0]}' if span else visible(f.path, keep_newlines=False)


def _finding_lines(f: Finding, color: bool) -> list[str]:
    message_lines = visible(message_with_side(f)).split('\n') or ['']
    severity = _paint(f.severity.value, _SEVERITY_COLOR[f.severity], color)
    tail = _paint(f'[{visible(f.category, keep_newlines=False)}] '
                  f'({visible(f.reviewer, keep_newlines=False)})', _DIM, color)
    out = [f'{_paint(_location(f), _BOLD, color)}: {severity}: {message_lines[0]} {tail}']
    out += [INDENT + ln for ln in message_lines[1:]]
    fx = f.verified_fix
    if fx is not None:
        safety = '' if fx.safety == 'safe' else ', unsafe: applied only with --unsafe-fixes'
        out.append(INDENT + _paint(f'fix ({fx.source}{safety}):', _DIM, color))
        out += [f'{INDENT}{_paint(f"- {ln}".rstrip(), _RED, color)}'
                for ln in visible(fx.original).split('\n')] if fx.original else []
        out += [f'{INDENT}{_paint(f"+ {ln}".rstrip(), _GREEN, color)}'
                for ln in visible(fx.replacement.rstrip('\n')).split('\n')] if fx.replacement else []
    return out


def summary_line(report: Report) -> str:
    cov = report.coverage
    skipped = skipped_text(cov)
    if nothing_reviewed(cov) and not report.findings:
        head = 'nothing to review'
    else:
        head = f'{severity_counts(report.findings)}; {reviewed_text(cov)}'
    return '; '.join(p for p in (head, skipped) if p)


def render(report: Report, *, color: bool = False) -> str:
    out: list[str] = []
    for _, group in itertools.groupby(sorted_findings(report.findings), key=lambda f: f.path):
        for f in group:
            out += _finding_lines(f, color)
        out.append('')
    for note in report.notes:
        out.append(f'note: {visible(note)}')
    for b in report.coverage.files:
        if b.basis is not Basis.FULL:  # said per file: a fragment review sees less than the file
            how = 'from blobs' if b.basis is Basis.BLOB else 'from the diff\'s fragments only'
            out.append(f'note: {visible(b.path, keep_newlines=False)}: reviewed {how} '
                       f'({visible(b.detail, keep_newlines=False)})')
    if report.egress:
        out.append(f'note: {plural(len(report.egress), "request")} left this machine '
                   '(listed under "egress" in --format json)')
    out.append(_paint(summary_line(report), _BOLD, color))
    return '\n'.join(out) + '\n'
