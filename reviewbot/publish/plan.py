"""Decide which findings can be inline comments (their lines lie inside one hunk of the diff) and which go
to the summary, and why. Pure: no I/O, shared by the GitHub and GitLab publishers."""
from __future__ import annotations

import dataclasses

from reviewbot.core import Diff, DiffLine, Finding, Hunk, LineKind, Side


@dataclasses.dataclass(frozen=True)
class Inline:
    """A finding placed on the diff. GitHub: `line`/`side` (+ `start_line`); GitLab: old/new line."""
    finding: Finding
    path: str
    old_path: str
    side: Side
    line: int  # last line of the range, on `side`
    start_line: int | None  # first line when the range spans several lines (same hunk), else None
    anchor: DiffLine  # the diff line at `line`: its kind gives GitLab's old_line/new_line
    suggestion: bool  # the finding's suggestion can be offered (RIGHT side, range fully covered)

    @property
    def fingerprint(self) -> str:
        return self.finding.fingerprint


@dataclasses.dataclass(frozen=True)
class Placement:
    inline: list[Inline]
    summary: list[tuple[Finding, str]]  # finding, why it is not inline
    duplicates: list[tuple[Finding, Finding]]  # (dropped, kept): same fingerprint twice in the report


def _line_on(hunk: Hunk, side: Side, lineno: int) -> DiffLine | None:
    for ln in hunk.lines:
        if side is Side.RIGHT and ln.new_lineno == lineno:
            return ln
        if side is Side.LEFT and ln.old_lineno == lineno and ln.kind is not LineKind.ADDED:
            return ln
    return None


def place_finding(f: Finding, diff: Diff) -> Inline | str:
    """An Inline, or the reason the finding cannot be an inline comment."""
    if f.line is None:
        return 'file-level note'
    fc = diff.file(f.path)
    if fc is None:
        return 'file is not part of this diff'
    if fc.is_binary:
        return 'binary file'
    start = f.line
    end = f.end_line if f.end_line is not None and f.end_line >= start else start
    old_path = fc.old_path or fc.path
    for hunk in fc.hunks:
        first = _line_on(hunk, f.side, start)
        if first is None:
            continue
        last = _line_on(hunk, f.side, end)
        covered = last is not None and all(
            _line_on(hunk, f.side, n) is not None for n in range(start, end + 1))
        if covered and end != start:
            assert last is not None
            return Inline(f, fc.path, old_path, f.side, end, start, last,
                          suggestion=bool(f.suggestion is not None and f.side is Side.RIGHT))
        # a range leaving the hunk: comment on its first line only; a suggestion would replace
        # lines the comment does not cover, so it is not offered inline
        return Inline(f, fc.path, old_path, f.side, start, None, first,
                      suggestion=bool(f.suggestion is not None and f.side is Side.RIGHT and end == start))
    side = 'new' if f.side is Side.RIGHT else 'old'
    return f'{side} line {start} is outside the changed hunks'


def place(findings: list[Finding], diff: Diff) -> Placement:
    inline: list[Inline] = []
    summary: list[tuple[Finding, str]] = []
    duplicates: list[tuple[Finding, Finding]] = []
    seen: dict[str, Finding] = {}
    for f in findings:
        fp = f.fingerprint
        if fp in seen:  # one comment per fingerprint; the duplicate is named in the summary
            duplicates.append((f, seen[fp]))
            continue
        seen[fp] = f
        where = place_finding(f, diff)
        if isinstance(where, Inline):
            inline.append(where)
        else:
            summary.append((f, where))
    return Placement(inline, summary, duplicates)
