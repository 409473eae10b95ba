"""The part of a Python module a change touches, for an analyzer whose cost grows with the lines it
scans (semgrep: ~0.3 s of its ~0.6 s on a 480-line module went to matching functions the change
never touched).

narrowed() blanks each top-level function and class that touches no changed line and keeps everything
else: the touched ones, and all module-level code (imports, assignments, `if __name__ == ...`
blocks: semgrep analyses module-level statements as one scope, and rules look across them, e.g. `app =
Flask(...)` before `app.run(debug=True)`). A function's body is its own taint scope, so an untouched one
cannot change what is found in the rest. The comment lines just above a kept statement stay (a
`# nosemgrep` there still applies). Each character of a blanked line becomes as many spaces as its
UTF-8 bytes, so every line number and byte offset (a rule's fix is given as byte offsets) stays what
it is in the file.
"""
from __future__ import annotations

import ast
import re

_LINES = re.compile(r'(?<=\n)')  # split after each '\n', keeping it


def narrowed(text: str, lines: set[int]) -> str:
    """`text` with the top-level functions and classes that touch none of `lines` (1-based) blanked
    out; `text` itself when it does not parse, has a lone carriage return (Python and this module would
    count its lines differently) or nothing is dropped."""
    if not lines or '\r' in text.replace('\r\n', ''):
        return text
    tops = statements(text)
    if tops is None:
        return text
    keep: set[int] = set()
    dropped: set[int] = set()
    for start, end, scoped in tops:
        span = range(start, end + 1)
        (keep if not scoped or any(n in lines for n in span) else dropped).update(span)
    if not dropped or keep & dropped:  # nothing to drop, or a line shared by a kept and a dropped statement
        return text
    rows = _LINES.split(text)
    for n in sorted(keep):  # the comment lines directly above a kept statement stay with it
        above = n - 1
        while above >= 1 and above not in keep and rows[above - 1].lstrip().startswith('#'):
            keep.add(above)
            above -= 1
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


def statements(text: str) -> list[tuple[int, int, bool]] | None:
    """(first line, decorators included; last line; whether it is a function or class) of each
    top-level statement of `text`; None when it does not parse."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, UnicodeError, RecursionError, MemoryError):
        return None
    return [(min([n.lineno] + [d.lineno for d in getattr(n, 'decorator_list', [])]), n.end_lineno or n.lineno,
             isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))) for n in tree.body]
