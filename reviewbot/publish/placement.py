"""Decide which findings can be inline comments (their lines lie inside one hunk of the diff and still hold
the code the finding was made on) and which go to the summary, and why. Pure: no I/O, shared by the
GitHub and GitLab publishers."""
from __future__ import annotations

import dataclasses
import re

from reviewbot.core import (
    Diff,
    DiffLine,
    FileChange,
    Finding,
    Hunk,
    LineKind,
    Side,
    normalise_code,
)

MASK = '********'  # what reviewbot.reviewers.secrets puts in place of a secret in anchored_code


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


def _line_matches(want: str, have: str) -> bool:
    if want == have:
        return True
    if MASK not in want:
        return False
    # a masked secret in the anchored code stands for whatever the line holds there
    pattern = '.+?'.join(re.escape(part) for part in want.split(MASK))
    return re.fullmatch(pattern, have, flags=re.DOTALL) is not None


def code_matches(anchored_code: str, texts: list[str]) -> bool:
    """Do the diff lines `texts` (the finding's range) still hold the code the finding was made on?
    White space is folded as in fingerprints; the anchored code may cover the first lines of the range
    only (a reviewer may anchor a range on its first line). No anchored code: nothing to compare."""
    want = [ln for ln in normalise_code(anchored_code).split('\n') if ln]
    if not want:
        return True
    have = [ln for ln in normalise_code('\n'.join(texts)).split('\n') if ln]
    return len(want) <= len(have) and all(_line_matches(w, h) for w, h in zip(want, have))


def _range_texts(fc: FileChange, side: Side, start: int, end: int) -> list[str] | None:
    """Text of lines start..end on `side`, all inside one hunk; None when they are not."""
    for hunk in fc.hunks:
        lines = [_line_on(hunk, side, n) for n in range(start, end + 1)]
        if lines[0] is None:
            continue
        if all(ln is not None for ln in lines):
            return [ln.text for ln in lines if ln is not None]
        return [lines[0].text]  # a range leaving the hunk is commented on its first line only
    return None


def _relocate(f: Finding, diff: Diff) -> Finding | None:
    """The finding moved to the one place of its file's diff whose lines hold its anchored code;
    None when there is no such place, or more than one."""
    fc = diff.file(f.path)
    if fc is None or f.line is None or not normalise_code(f.anchored_code):
        return None
    span = (f.end_line - f.line) if f.end_line is not None and f.end_line >= f.line else 0
    starts = sorted({at for h in fc.hunks for ln in h.lines
                     if (at := (ln.new_lineno if f.side is Side.RIGHT else
                                (ln.old_lineno if ln.kind is not LineKind.ADDED else None))) is not None})
    found = [n for n in starts if n is not None
             and (texts := _range_texts(fc, f.side, n, n + span)) is not None
             and code_matches(f.anchored_code, texts)]
    if len(found) != 1:
        return None
    return dataclasses.replace(f, line=found[0], end_line=found[0] + span if f.end_line is not None else None)


def place_checked(f: Finding, diff: Diff, relocate: bool = False) -> Inline | str:
    """place_finding, and the line must still hold the finding's code: a finding is never anchored to a
    line whose text is not the text it was made on. With `relocate` (the report was made on an older
    head), a finding whose line changed moves to the one line of the new diff that holds its code."""
    where = place_finding(f, diff)
    if isinstance(where, Inline):
        texts = _range_texts(diff.file(f.path), where.side, where.start_line or where.line, where.line)  # type: ignore[arg-type]
        if texts is not None and code_matches(f.anchored_code, texts):
            return where
    elif f.line is None or not relocate:
        return where
    if relocate:
        moved = _relocate(f, diff)
        if moved is not None:
            again = place_finding(moved, diff)
            if isinstance(again, Inline):
                return again
        return (f'the code it was reported on is no longer at {"new" if f.side is Side.RIGHT else "old"} '
                f'line {f.line}, and the new diff holds it at no single place')
    side = 'new' if f.side is Side.RIGHT else 'old'
    return f'{side} line {f.line} does not hold the code the finding was made on (not the diff it was reviewed on)'


def place(findings: list[Finding], diff: Diff, relocate: bool = False) -> Placement:
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
        where = place_checked(f, diff, relocate)
        if isinstance(where, Inline):
            inline.append(where)
        else:
            summary.append((f, where))
    return Placement(inline, summary, duplicates)
