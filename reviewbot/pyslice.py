"""The part of a Python module a change touches, for an analyzer whose cost grows with the lines it
scans (semgrep: ~0.3 s of its ~0.6 s on a 480-line module went to matching lines the change never
touched; its taint analysis is per function, so the other functions cannot change what it finds on
the changed ones).

narrowed() keeps every top-level statement that touches a changed line, every import (also inside a
top-level `if`/`try`, e.g. an `except ImportError` fallback) and the comment lines just above a kept
statement (a `# nosemgrep` there still applies), and blanks the rest: each character of a dropped line
becomes as many spaces as its UTF-8 bytes, so every line number and byte offset (a rule's fix is given
as byte offsets) stays what it is in the file.
"""
from __future__ import annotations

import ast
import re

_LINES = re.compile(r'(?<=\n)')  # split after each '\n', keeping it


def narrowed(text: str, lines: set[int]) -> str:
    """`text` with the top-level statements that touch none of `lines` (1-based) and hold no
    import blanked out; `text` itself when it does not parse, has a lone carriage return (Python and
    this module would count its lines differently) or nothing would be dropped."""
    if not lines or '\r' in text.replace('\r\n', ''):
        return text
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, UnicodeError, RecursionError, MemoryError):
        return text
    keep: set[int] = set()
    for node in tree.body:
        start = min([node.lineno] + [d.lineno for d in getattr(node, 'decorator_list', [])])
        end = node.end_lineno or node.lineno
        touched = any(start <= n <= end for n in lines)
        imports = not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and any(
            isinstance(n, (ast.Import, ast.ImportFrom)) for n in ast.walk(node))
        if touched or imports:
            keep.update(range(start, end + 1))
    rows = _LINES.split(text)
    for n in sorted(keep):  # the comment lines directly above a kept statement stay with it
        above = n - 1
        while above >= 1 and above not in keep and rows[above - 1].lstrip().startswith('#'):
            keep.add(above)
            above -= 1
    if len(keep) >= len(rows):
        return text
    out = []
    for i, row in enumerate(rows, 1):
        if i in keep:
            out.append(row)
            continue
        tail = '\r\n' if row.endswith('\r\n') else '\n' if row.endswith('\n') else ''
        try:
            out.append(' ' * len(row[:len(row) - len(tail)].encode('utf-8', 'surrogateescape')) + tail)
        except UnicodeError:  # not writable as the file is written either: left as it is
            return text
    return ''.join(out)
