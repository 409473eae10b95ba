"""Units of work for the model reviewer: one hunk, or nearby hunks of one file, at most MAX_UNIT_LINES
changed lines, and the numbered view of a unit's code the model is shown (render_view)."""
from __future__ import annotations

import dataclasses
from typing import Any

from reviewbot import languages
from reviewbot.core import FileChange, Hunk, LineKind

MAX_UNIT_LINES = 40  # changed lines per unit: more and a 0.5B model loses track of line numbers
MERGE_GAP = 6  # hunks of one file this close (new-file lines) share a unit
CONTEXT_LINES = 6  # surrounding new-revision lines shown before and after a unit
MAX_LINE_CHARS = 200

def language(path: str) -> str | None:
    """The language a file is written in, from its name; None for files the model does not review."""
    return languages.display_name(path)


@dataclasses.dataclass
class Unit:
    """One prompt's worth of change: nearby hunks of one file."""
    path: str
    lang: str
    hunk_indexes: list[int]
    hunks: list[Hunk]
    added: dict[int, str]  # new-file line number -> text of each added line in the unit
    view: str = ''  # the numbered code shown to the model
    score: float | None = None  # triage risk, 0..1
    scan: Any = None  # the Scan of the unit, once triaged
    cached_answer: bool = False  # the model's answer came from the result cache

    @property
    def first_line(self) -> int:
        return min(self.added)

    @property
    def last_line(self) -> int:
        return max(self.added)

    @property
    def changed(self) -> int:
        return len(self.added) + sum(len(h.removed) for h in self.hunks)


def make_units(fc: FileChange) -> list[Unit]:
    lang = language(fc.path) or 'text'
    units: list[Unit] = []
    for i, h in enumerate(fc.hunks):
        for part in _split_hunk(h):
            added = {ln.new_lineno: ln.text for ln in part.lines
                     if ln.kind is LineKind.ADDED and ln.new_lineno is not None}
            if not added:
                continue  # a pure deletion: nothing new for the model to review
            cur = units[-1] if units else None
            if (cur is not None and part.new_start - cur.hunks[-1].new_end <= MERGE_GAP
                    and cur.changed + len(part.lines) <= MAX_UNIT_LINES):
                cur.hunks.append(part)
                if i not in cur.hunk_indexes:
                    cur.hunk_indexes.append(i)
                cur.added.update(added)
            else:
                units.append(Unit(fc.path, lang, [i], [part], dict(added)))
    return units


def _split_hunk(h: Hunk) -> list[Hunk]:
    """A hunk cut into pieces of at most MAX_UNIT_LINES changed lines (a new 300-line file is
    reviewed in windows, not in one prompt the model cannot keep track of)."""
    changed = [ln for ln in h.lines if ln.kind is not LineKind.CONTEXT]
    if len(changed) <= MAX_UNIT_LINES:
        return [h]
    pieces: list[Hunk] = []
    cur: list = []
    n = 0
    for ln in h.lines:
        cur.append(ln)
        if ln.kind is not LineKind.CONTEXT:
            n += 1
        if n >= MAX_UNIT_LINES and ln.kind is not LineKind.REMOVED:
            pieces.append(_sub_hunk(h, cur))
            cur, n = [], 0
    if cur:
        pieces.append(_sub_hunk(h, cur))
    return [p for p in pieces if p.lines]


def _sub_hunk(h: Hunk, lines: list) -> Hunk:
    news = [ln.new_lineno for ln in lines if ln.new_lineno is not None]
    olds = [ln.old_lineno for ln in lines if ln.old_lineno is not None]
    new_start = news[0] if news else h.new_start
    return Hunk(old_start=olds[0] if olds else h.old_start, old_count=len(olds),
                new_start=new_start, new_count=len(news), section=h.section, lines=list(lines))


def render_view(unit: Unit, new_text: str | None) -> str:
    """The unit's code as the model sees it: `L<n> + code` for added lines, `L<n>   code` for
    unchanged ones, `     - code` (no number: it is not in the new file) for removed ones. The
    `L<n>` label is the very token the answer must start with: a small model copies it from the
    line far more reliably than it counts lines."""
    new_lines = new_text.split('\n') if new_text is not None else None
    lo = max(1, unit.hunks[0].new_start - CONTEXT_LINES)
    hi = unit.hunks[-1].new_end + CONTEXT_LINES
    width = len(str(hi)) + 1
    removed_before: dict[int, list[str]] = {}
    known: dict[int, str] = {}
    for h in unit.hunks:
        pending: list[str] = []
        for ln in h.lines:
            if ln.kind is LineKind.REMOVED:
                pending.append(ln.text)
                continue
            new = ln.new_lineno
            assert new is not None  # context and added lines are in the new file
            known[new] = ln.text
            if pending:
                removed_before.setdefault(new, []).extend(pending)
                pending = []
        if pending:  # removed at the end of the hunk: show them after its last line
            removed_before.setdefault(h.new_end + 1, []).extend(pending)
    out: list[str] = []
    if unit.hunks[0].section.strip():
        out.append(f'(inside: {_clip(unit.hunks[0].section.strip())})')
    for n in range(lo, hi + 1):
        for old in removed_before.get(n, ()):
            out.append(f'{"":<{width}} - {_clip(old)}')
        label = f'L{n}'
        if n in unit.added:
            out.append(f'{label:<{width}} + {_clip(unit.added[n])}')
            continue
        text = known.get(n)
        if text is None and new_lines is not None and n <= len(new_lines):
            text = new_lines[n - 1]
            if n == len(new_lines) and text == '':
                break  # the empty string after the final newline is not a line
        if text is None:
            if n > unit.hunks[-1].new_end:
                break
            continue
        out.append(f'{label:<{width}}   {_clip(text)}')
    return '\n'.join(out)


def _clip(s: str) -> str:
    s = s.replace('\t', '    ').rstrip()
    return s if len(s) <= MAX_LINE_CHARS else s[:MAX_LINE_CHARS] + ' ...'

