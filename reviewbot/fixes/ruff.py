"""ruff's own fix for a ruff finding: the edits ruff reported with the diagnostic (the reviewer
keeps them in `extra['ruff_fix']`), with ruff's applicability as the fix's safety."""
from __future__ import annotations

from typing import Any

from reviewbot.core import Finding, Fix
from reviewbot.fixes.text import fix_from_texts, split_lines


def _offset(starts: list[int], text: str, loc: dict[str, Any]) -> int:
    """ruff's 1-based (row, column in characters) as an offset into text."""
    row, col = int(loc['row']), int(loc['column'])
    if row > len(starts):  # the end of the file
        return len(text)
    return starts[row - 1] + col - 1


def apply_edits(text: str, edits: list[dict[str, Any]]) -> str:
    starts, pos = [], 0
    for ln in split_lines(text):
        starts.append(pos)
        pos += len(ln)
    spans = sorted(((_offset(starts, text, e['location']), _offset(starts, text, e['end_location']),
                     str(e.get('content') or '')) for e in edits), reverse=True)
    for start, end, content in spans:
        text = text[:start] + content + text[end:]
    return text


def candidates(f: Finding, text: str) -> list[Fix]:
    fix = f.extra.get('ruff_fix')
    if not isinstance(fix, dict) or fix.get('applicability') not in ('safe', 'unsafe'):
        return []  # 'display-only' fixes are ruff's own "do not apply" ones
    try:
        new = apply_edits(text, list(fix.get('edits') or []))
    except (KeyError, TypeError, ValueError):
        return []
    fx = fix_from_texts(text, new, source='ruff', safety=fix['applicability'],
                        description=str(fix.get('message') or ''),
                        cover=(f.line, f.end_line or f.line) if f.line else None)
    return [fx] if fx else []
