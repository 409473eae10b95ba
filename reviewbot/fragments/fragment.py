"""A fragment: source made from a diff's hunks, the map from its lines to new-file lines, and the
bracket and indentation helpers both languages' repairs use."""
from __future__ import annotations

import dataclasses

SCAFFOLD = '_reviewbot_'  # the one name every scaffold line uses


@dataclasses.dataclass
class Fragment:
    text: str
    origin: list[int | None]  # line i+1 of text -> its new-file line; None: scaffolding
    dropped: list[int] = dataclasses.field(default_factory=list)  # new-file lines left out
    parses: bool = True  # Python: the text parsed (ast) after the repairs

    def real_lines(self, start: int, end: int) -> list[int]:
        """New-file lines of text lines start..end (1-based, inclusive), scaffolding left out."""
        return [n for n in self.origin[max(start, 1) - 1:max(start, end)] if n is not None]

    def anchor(self, start: int, end: int, added: set[int]) -> int | None:
        """Where an analyzer's match over text lines start..end is reported: its first added
        line; None when it starts on scaffolding or touches no added line."""
        if not 1 <= start <= len(self.origin) or self.origin[start - 1] is None:
            return None
        return next((n for n in self.real_lines(start, end) if n in added), None)


CLOSER = {')': '(', ']': '[', '}': '{'}
OPENER = {v: k for k, v in CLOSER.items()}


def bracket(c: str, i: int, stack: list[str], unmatched: list[tuple[int, str]]) -> None:
    """One character of code on line `i` for a bracket scanner: an opener is pushed, a closer pops
    its opener, a closer with nothing open is recorded as unmatched (either scanner's rule)."""
    if c in '([{':
        stack.append(c)
    elif c in ')]}':
        if stack and stack[-1] == CLOSER[c]:
            stack.pop()
        elif not stack:
            unmatched.append((i, c))


def expand_tabs(text: str) -> str:
    body = text.lstrip(' \t')
    return text[:len(text) - len(body)].expandtabs(8) + body


def indent_width(text: str) -> int:
    return len(text) - len(text.lstrip(' '))
