"""Text helpers of the fix stage: whole-line fixes made from edited text, applied in memory, and
written as one patch `git apply` takes. Pure functions: no I/O."""
from __future__ import annotations

import re

from reviewbot.core import Fix

_LINE = re.compile(r'[^\n]*\n|[^\n]+$')


def split_lines(text: str) -> list[str]:
    """Lines with their line ends ('\\n' only: a form feed or U+2028 stays inside its line)."""
    return _LINE.findall(text)


def bare(line: str) -> str:
    """A line from split_lines without its line end ('\\n' or '\\r\\n')."""
    return line.rstrip('\n').rstrip('\r')


def fix_from_texts(old: str, new: str, *, source: str, safety: str = 'safe', description: str = '',
                   cover: tuple[int, int] | None = None) -> Fix | None:
    """The whole-line Fix that turns `old` into `new` (the lines between their common head and
    tail), widened to cover lines `cover` (a finding's line..end_line). None if nothing changes."""
    a, b = split_lines(old), split_lines(new)
    if a == b:
        return None
    head = 0
    while head < min(len(a), len(b)) and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < min(len(a), len(b)) - head and a[len(a) - 1 - tail] == b[len(b) - 1 - tail]:
        tail += 1
    start, end = head, len(a) - tail  # old lines [start, end) are replaced
    if start == end or len(b) - tail == head:
        # a pure insertion or deletion: take in the line before (or after, at the top), so the
        # fix replaces lines with lines (a suggestion that is empty reads as "delete this")
        if start > 0:
            start -= 1
        elif end < len(a):
            end += 1
        else:
            return None
    if cover is not None:
        start = min(start, cover[0] - 1)
        end = max(end, cover[1])
        if end > len(a):
            return None
    new_end = len(b) - (len(a) - end)
    return Fix(line=start + 1, end_line=end, replacement='\n'.join(bare(ln) for ln in b[start:new_end]),
               source=source, safety=safety, description=description,
               original='\n'.join(bare(ln) for ln in a[start:end]))


def apply_fix(text: str, fix: Fix) -> str:
    """`text` with lines fix.line..fix.end_line replaced (the file's line ends kept)."""
    lines = split_lines(text)
    if not 1 <= fix.line <= fix.end_line <= len(lines):
        raise ValueError(f'fix lines {fix.line}-{fix.end_line} outside the file ({len(lines)} lines)')
    old = lines[fix.line - 1:fix.end_line]
    last = old[-1]
    eol = '\r\n' if last.endswith('\r\n') else '\n' if last.endswith('\n') else ''
    near = old + lines[fix.line - 2:fix.line - 1]  # the replaced lines, else the one before
    inner = '\r\n' if any(ln.endswith('\r\n') for ln in near) else '\n'
    new = [] if fix.replacement == '' else [inner.join(fix.replacement.split('\n')) + eol]
    return ''.join(lines[:fix.line - 1] + new + lines[fix.end_line:])


def apply_all(text: str, fixes: list[Fix]) -> tuple[str, list[Fix]]:
    """`text` with every fix applied whose lines overlap no fix before it; the fixes applied."""
    taken: list[Fix] = []
    for fx in fixes:
        if all(fx.end_line < t.line or fx.line > t.end_line for t in taken):
            taken.append(fx)
    for fx in sorted(taken, key=lambda f: f.line, reverse=True):  # bottom up: numbers stay true
        text = apply_fix(text, fx)
    return text, sorted(taken, key=lambda f: f.line)


def unified_patch(path: str, old: str, new: str, context: int = 3) -> str:
    """A git-style patch of one file, `git apply` ready (a missing final newline said as git does)."""
    import difflib
    a, b = split_lines(old), split_lines(new)
    out = [f'diff --git a/{path} b/{path}\n', f'--- a/{path}\n', f'+++ b/{path}\n']
    body = list(difflib.unified_diff(a, b, n=context, lineterm='\n'))[2:]
    if not body:
        return ''
    for ln in body:
        if ln.startswith('@@'):
            out.append(ln if ln.endswith('\n') else ln + '\n')
            continue
        out.append(ln if ln.endswith('\n') else ln + '\n\\ No newline at end of file\n')
    return ''.join(out)
