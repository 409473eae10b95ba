"""Parse a unified diff (git or plain) into the core types, with unidiff doing the hunk work.

unidiff reads hunks and line numbers well; git's extended headers (quoted paths, rename/copy
from/to, mode changes, submodules) are read here, because unidiff keeps paths as they appear
(quoted, prefixed) and cannot tell a path with spaces from two paths.
"""
from __future__ import annotations

import re

import unidiff
from unidiff.errors import UnidiffParseError

from reviewbot.core import ChangeKind, Diff, DiffLine, FileChange, Hunk, LineKind
from reviewbot.errors import DiffError
from reviewbot.textsafe import visible

_DEV_NULL = '/dev/null'
_SUBMODULE_MODE = '160000'
_QUOTED_ESCAPES = {'a': 7, 'b': 8, 't': 9, 'n': 10, 'v': 11, 'f': 12, 'r': 13, '"': 34, '\\': 92}
_OCTAL = re.compile(r'[0-7]{3}')


def unquote_path(path: str) -> str:
    """Undo git's C-style quoting ("a/\\303\\251 x.py" -> 'a/é x.py'); unquoted paths pass through."""
    if len(path) < 2 or not (path.startswith('"') and path.endswith('"')):
        return path
    body, out, i = path[1:-1], bytearray(), 0
    while i < len(body):
        c = body[i]
        if c == '\\' and i + 1 < len(body):
            nxt = body[i + 1]
            if _OCTAL.match(body, i + 1):
                out.append(int(body[i + 1:i + 4], 8))
                i += 4
                continue
            if nxt in _QUOTED_ESCAPES:
                out.append(_QUOTED_ESCAPES[nxt])
                i += 2
                continue
        out.extend(c.encode('utf-8', 'surrogateescape'))
        i += 1
    return out.decode('utf-8', 'surrogateescape')


def _strip_prefix(path: str | None, prefixed: bool) -> str | None:
    if path is None:
        return None
    path = unquote_path(path)
    if path == _DEV_NULL:
        return None
    if prefixed and len(path) > 2 and path[1] == '/' and path[0] in 'abciow12':
        return path[2:]
    return path


def _header_paths(header: str) -> tuple[str, str] | None:
    """Paths from `diff --git a/X b/Y`; for unquoted paths with spaces, git guarantees X == Y
    unless a rename/copy header follows (which then wins)."""
    rest = header[len('diff --git '):].rstrip('\n')
    if rest.startswith('"'):
        end = _closing_quote(rest)
        if end is None:
            return None
        old, new = rest[:end + 1], rest[end + 2:]
        return old, new
    if rest.endswith('"'):
        start = rest.rfind(' "')
        return (rest[:start], rest[start + 1:]) if start != -1 else None
    # unquoted both: split in the middle when the halves name the same file
    half = len(rest) // 2
    if len(rest) % 2 == 1 and rest[half] == ' ' and rest[:half][2:] == rest[half + 1:][2:]:
        return rest[:half], rest[half + 1:]
    parts = rest.split(' ')
    return (parts[0], parts[-1]) if len(parts) >= 2 else None


def _closing_quote(s: str) -> int | None:
    i = 1
    while i < len(s):
        if s[i] == '\\':
            i += 2
            continue
        if s[i] == '"':
            return i
        i += 1
    return None


def _lines(data: bytes) -> list[str]:
    """Split on LF only (CR, form feed and unicode separators are content), decode losslessly."""
    text = data.decode('utf-8', 'surrogateescape')
    parts = text.split('\n')
    lines = [p + '\n' for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1] + '\n')
    return lines


_INDEX = re.compile(r'^([0-9a-f]{4,64})\.\.([0-9a-f]{4,64})(?: [0-7]{6})?$')


def _blob_ids(index: str | None) -> tuple[str | None, str | None]:
    """(old, new) blob ids of `index OLD..NEW [mode]`; None for a missing side (all zeros) or
    a line that is not hex ids (the ids are untrusted: only hex ever reaches git)."""
    m = _INDEX.match(index.strip()) if index else None
    if m is None:
        return None, None
    return tuple(None if set(b) == {'0'} else b for b in m.groups())  # type: ignore[return-value]


def _convert_hunk(h: unidiff.Hunk) -> Hunk:
    out: list[DiffLine] = []
    for ln in h:
        if ln.line_type == '\\':
            if out:
                last = out[-1]
                out[-1] = DiffLine(last.kind, last.text, last.old_lineno, last.new_lineno, True)
            continue
        text = ln.value[:-1] if ln.value.endswith('\n') else ln.value
        if text.endswith('\r'):
            text = text[:-1]
        if ln.line_type == '+':
            kind = LineKind.ADDED
        elif ln.line_type == '-':
            kind = LineKind.REMOVED
        else:
            kind = LineKind.CONTEXT
        out.append(DiffLine(kind, text, ln.source_line_no, ln.target_line_no))
    return Hunk(h.source_start, h.source_length, h.target_start, h.target_length,
                (h.section_header or '').strip(), out)


def _check_path(path: str | None) -> None:
    """A path no file system or git could hold (NUL), or not UTF-8, is bad input (exit 2)."""
    if path is None:
        return
    if '\0' in path:
        raise DiffError(f'malformed diff: a path with a NUL byte: {visible(path, keep_newlines=False)}')
    if any('\udc80' <= c <= '\udcff' for c in path):
        raise DiffError(f'diff path is not valid UTF-8: {visible(path, keep_newlines=False)}')


def _convert_file(pf: unidiff.PatchedFile) -> FileChange:
    info = list(pf.patch_info or [])
    header = next((ln for ln in info if ln.startswith('diff --git ')), None)
    extended = {}
    for ln in info:
        for key in ('rename from ', 'rename to ', 'copy from ', 'copy to ',
                    'similarity index ', 'new file mode ', 'deleted file mode ', 'index '):
            if ln.startswith(key):
                extended[key.strip()] = ln[len(key):].rstrip('\n')
    prefixed = header is None or bool(re.match(r'diff --git "?a/', header))

    old_raw: str | None = pf.source_file
    new_raw: str | None = pf.target_file
    has_dashes = any(ln.startswith('--- ') for ln in info) or bool(len(pf))
    if header is not None and not has_dashes:
        # no ---/+++ lines (mode change, binary, pure rename): the header is all there is
        paths = _header_paths(header)
        if paths is None:
            raise DiffError(f'malformed diff header: {header.strip()!r}')
        old_raw, new_raw = paths
    old = _strip_prefix(old_raw, prefixed)
    new = _strip_prefix(new_raw, prefixed)
    if 'new file mode' in extended:
        old = None
    if 'deleted file mode' in extended:
        new = None
    for verb in ('rename', 'copy'):
        if f'{verb} from' in extended or f'{verb} to' in extended:
            if not (f'{verb} from' in extended and f'{verb} to' in extended):
                raise DiffError(f'malformed diff: "{verb} from" without "{verb} to" (or the reverse)')
            old = unquote_path(extended[f'{verb} from'])
            new = unquote_path(extended[f'{verb} to'])

    if old is None and new is None:
        raise DiffError('malformed diff: a file with neither an old nor a new path')
    for path in (old, new):
        _check_path(path)
    if old is None:
        kind = ChangeKind.ADDED
    elif new is None:
        kind = ChangeKind.DELETED
    elif 'copy to' in extended:
        kind = ChangeKind.COPIED
    elif old != new:
        kind = ChangeKind.RENAMED
    elif not len(pf) and not pf.is_binary_file and pf.source_mode != pf.target_mode:
        kind = ChangeKind.MODE_ONLY
    else:
        kind = ChangeKind.MODIFIED
    old_blob, new_blob = _blob_ids(extended.get('index'))
    return FileChange(
        old_path=old, new_path=new, kind=kind, old_blob=old_blob, new_blob=new_blob,
        hunks=[_convert_hunk(h) for h in pf],
        is_binary=bool(pf.is_binary_file),
        is_submodule=_SUBMODULE_MODE in (pf.source_mode, pf.target_mode),
        old_mode=pf.source_mode, new_mode=pf.target_mode,
    )


def parse_diff(data: bytes) -> Diff:
    """Parse diff bytes. Empty input is an empty Diff; anything that is not a diff is a DiffError."""
    if not data.strip():
        return Diff([])
    try:
        patch = unidiff.PatchSet(_lines(data))
    except UnidiffParseError as e:
        raise DiffError(f'malformed diff: {str(e).strip()[:200]}') from None
    if not len(patch):
        if b'\0' in data[:8192]:
            raise DiffError('input is binary data, not a unified diff')
        raise DiffError('input is not a unified diff (no file headers found)')
    return Diff([_convert_file(pf) for pf in patch])
