"""Markdown for $GITHUB_STEP_SUMMARY: counts, a table of findings, coverage and skipped reasons.

Model text is untrusted: every character that Markdown or HTML could read as markup becomes a
numeric character reference, so a message cannot add links, images, mentions, HTML or table
cells. GitHub accepts at most 1 MiB of summary per step; rows that do not fit are counted instead.
"""
from __future__ import annotations

import os
from collections.abc import Mapping

from reviewbot.core import Finding, Report
from reviewbot.reporters._common import (
    line_span,
    message_with_side,
    nothing_reviewed,
    plural,
    reviewed_text,
    rule_id,
    severity_counts,
    skipped_groups,
    sorted_findings,
)
from reviewbot.textsafe import html_pre, md_text

MAX_BYTES = 1024 * 1024 - 16 * 1024  # GitHub's 1 MiB per step, less room for other steps' lines
MAX_CELL_CHARS = 1000
_ICON = {'error': ':x:', 'warning': ':warning:', 'info': ':information_source:'}


def _location(f: Finding) -> str:
    span = line_span(f)
    where = md_text(f.path, limit=300)
    if not span:
        return where
    return f'{where}:{span[0]}' + (f'&#8211;{span[1]}' if span[1] != span[0] else '')


def _row(f: Finding) -> str:
    return (f'| {_ICON[f.severity.value]} {f.severity.value} | {_location(f)} '
            f'| {md_text(message_with_side(f), MAX_CELL_CHARS)} '
            f'| {md_text(rule_id(f.category), 200)} | {md_text(f.reviewer, 100)} |')


def _suggestion(f: Finding) -> str:
    return f'{_location(f)}\n\n<pre>\n{html_pre(f.suggestion or "")}\n</pre>\n'


def _coverage(report: Report) -> list[str]:
    cov = report.coverage
    out = [f'**Coverage:** {"nothing to review" if nothing_reviewed(cov) else reviewed_text(cov)}.', '']
    groups = skipped_groups(cov)
    if groups:
        out += ['| Skipped | Count | Reason | Changed lines not reviewed |', '| --- | ---: | --- | ---: |']
        out += [f'| {plural(n, kind).split(" ", 1)[1]} | {n} | {md_text(reason, 300)} | {lines} |'
                for kind, n, reason, lines in groups]
        out.append('')
    return out


def _within(budget: int, pieces: list[str]) -> tuple[list[str], int]:
    """The pieces that fit in `budget` bytes (one line each, in order, skipping any too large),
    and the budget left."""
    kept = []
    for piece in pieces:
        cost = len(piece.encode('utf-8', 'surrogateescape')) + 1
        if cost <= budget:
            kept.append(piece)
            budget -= cost
    return kept, budget


def render(report: Report, max_bytes: int = MAX_BYTES) -> str:
    findings = sorted_findings(report.findings)
    head = ['## reviewbot review', '', f'**{severity_counts(findings).capitalize()}.**', '']
    tail = _coverage(report)
    tail += [f'> {md_text(note, MAX_CELL_CHARS)}' for note in report.notes]
    if report.notes:
        tail.append('')
    tail.append(f'**Left this machine:** {len(report.egress) or "nothing"}'
                f'{" request(s); see egress in the JSON report" if report.egress else ""}.')
    budget = max_bytes - len('\n'.join(head + tail).encode('utf-8', 'surrogateescape')) - 2048
    body: list[str] = []
    if findings:
        rows = ['| Severity | Location | Finding | Rule | Reviewer |', '| --- | --- | --- | --- | --- |']
        budget -= sum(len(r) + 1 for r in rows)
        kept, budget = _within(budget, [_row(f) for f in findings])
        dropped = len(findings) - len(kept)
        body += rows + kept + ['']
        suggestions = [f for f in findings if f.verified_fix is not None and line_span(f)]
        if suggestions:
            parts, budget = _within(budget, [_suggestion(f) for f in suggestions])
            if parts:
                body += [f'<details><summary>Verified fixes ({len(parts)})</summary>', '', *parts,
                         '</details>', '']
        if dropped:
            body += [(f'*{dropped} more findings do not fit in a job summary (1 MiB); '
                      'see the JSON or SARIF report.*'), '']
    return '\n'.join(head + body + tail) + '\n'


def append_to_step_summary(report: Report, environ: Mapping[str, str] | None = None) -> bool:
    """Append the summary to $GITHUB_STEP_SUMMARY when running in Actions; False when not."""
    path = (os.environ if environ is None else environ).get('GITHUB_STEP_SUMMARY')
    if not path:
        return False
    with open(path, 'a', encoding='utf-8', errors='surrogateescape') as fh:
        fh.write(render(report))
    return True
