"""The new revision of each changed file: from where it can be had, and how sure that is.

A diff read from a commit range or the index is exact (the source's own reader). A diff file or
stdin is not tied to any revision; for it, in order:
  1. the new blob its `index OLD..NEW` line names, when the repository at hand has it;
  2. the old blob, with the diff's hunks applied (a mailed patch against a base the reader has);
  3. the whole file, when the diff adds it in one hunk;
  4. the work tree, only when every new-side line the diff shows is in it at its line number;
  5. nothing: reviewers then work from the diff's fragments (reviewbot.fragments).
Any text used is checked against the diff's new-side lines. Paths from a patch are untrusted: an
absolute path, `..`, or a path through a symbolic link is never read (see unsafe_path and
sources._worktree_reader); blobs are read by id, never by path.
"""
from __future__ import annotations

import dataclasses
import re
import threading
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from reviewbot import sources
from reviewbot.core import Basis, Diff, FileBasis, FileChange, LineKind


def unsafe_path(path: str) -> str | None:
    """Why a path from a patch must not be used to read or write anything, or None if it is fine."""
    if not path or '\0' in path:
        return 'empty path or NUL byte in the path'
    p = PurePosixPath(path)
    if p.is_absolute() or path.startswith(('~', '\\')) or re.match(r'[A-Za-z]:[\\/]', path):
        return f'absolute path {path!r}'
    if any(part == '..' for part in p.parts):
        return f'path leaves the repository ({path!r})'
    return None


@dataclasses.dataclass
class Resolved:
    text: str | None
    basis: Basis
    detail: str  # where the text came from (or why there is none), said in the report's coverage


def matches_diff(text: str, f: FileChange) -> bool:
    """Every new-side line the diff shows is at its line number in `text`."""
    lines = text.split('\n')
    for h in f.hunks:
        for ln in h.lines:
            n = ln.new_lineno
            if n is None:
                continue
            if n > len(lines) or lines[n - 1].removesuffix('\r') != ln.text:
                return False
    return True


def apply_to_old(old: str, f: FileChange) -> str | None:
    """The new revision: `old` with the diff's hunks applied; None when the old side does not match."""
    src = old.split('\n')
    trailing_newline = old.endswith('\n')
    if trailing_newline:
        src = src[:-1]
    out: list[str] = []
    pos = 0  # index into src of the next line not yet copied
    last_no_eol = False
    for h in f.hunks:
        start = h.old_start if h.old_count == 0 else h.old_start - 1
        if start < pos or start > len(src):
            return None
        out.extend(src[pos:start])
        pos = start
        for ln in h.lines:
            if ln.kind is LineKind.ADDED:
                out.append(ln.text)
                last_no_eol = ln.no_newline_at_eof
                continue
            if pos >= len(src) or src[pos].removesuffix('\r') != ln.text:
                return None
            if ln.kind is LineKind.CONTEXT:
                out.append(src[pos])
                last_no_eol = ln.no_newline_at_eof
            pos += 1
    if pos < len(src):
        out.extend(src[pos:])
        last_no_eol = not trailing_newline
    return '\n'.join(out) + ('' if last_no_eol else '\n')


def _added_whole(f: FileChange) -> str | None:
    """A file the diff adds whole is known exactly from the diff."""
    if f.old_path is not None or len(f.hunks) != 1 or f.hunks[0].new_start > 1:
        return None
    lines = f.hunks[0].lines
    body = '\n'.join(ln.text for ln in lines)
    return body if lines and lines[-1].no_newline_at_eof else body + '\n'


class NewFiles:
    """Reads (and remembers) the new revision of the diff's files, and says from where."""

    def __init__(self, diff: Diff, read: Callable[[str], str | None], *, exact: bool,
                 repo: Path | None, revision: str | None = None):
        self.diff = diff
        self._read = read
        self.exact = exact  # `read` is the reviewed revision itself (index, commit)
        self.repo = repo  # a repository whose objects may hold the diff's blobs
        self.revision = revision
        self._cache: dict[str, Resolved] = {}
        self._lock = threading.Lock()  # the reviewers run in threads (pipeline): each file is read once

    def read(self, path: str) -> str | None:
        return self.resolve(path).text

    def resolve(self, path: str) -> Resolved:
        with self._lock:
            if path not in self._cache:
                self._cache[path] = self._resolve(path)
            return self._cache[path]

    def basis(self, path: str) -> FileBasis:
        if self.exact and path not in self._cache:  # no reviewer needed it: not read just to say so
            return FileBasis(path, Basis.FULL, self._where())
        r = self.resolve(path)
        return FileBasis(path, r.basis, r.detail)

    def _where(self) -> str:
        return 'the index' if self.revision == ':' else 'the reviewed revision'

    def _resolve(self, path: str) -> Resolved:
        f = self.diff.file(path)
        why = unsafe_path(path)
        if why is not None:
            return Resolved(None, Basis.FRAGMENTS, f'not read: {why}')
        if self.exact or f is None:
            text = self._read(path)
            if text is not None:
                return Resolved(text, Basis.FULL, self._where())
            if f is None:
                return Resolved(None, Basis.FRAGMENTS, 'not in the diff')
        blob, detail = self._from_blobs(f)
        if blob is not None:
            tree = self._read(path)
            if tree is not None and tree != blob:
                return Resolved(blob, Basis.BLOB, f'{detail}; the work tree differs, the blob was used')
            return Resolved(blob, Basis.BLOB, detail)
        whole = _added_whole(f)
        if whole is not None:
            return Resolved(whole, Basis.FULL, 'the diff adds the whole file')
        tree = self._read(path)
        if tree is not None and matches_diff(tree, f):
            return Resolved(tree, Basis.FULL, 'work tree')
        if tree is not None:
            detail += '; the work tree does not match the diff'
        return Resolved(None, Basis.FRAGMENTS, detail)

    def _from_blobs(self, f: FileChange) -> tuple[str | None, str]:
        """The new text from the blobs the diff names: (text, detail), or (None, why not)."""
        if self.repo is None:
            return None, 'no repository'
        if f.new_blob is None and f.old_blob is None:
            return None, 'no blob ids in the diff'
        if f.new_blob is not None:
            text = sources.blob_text(self.repo, f.new_blob)
            if text is not None and matches_diff(text, f):
                return text, f'new blob {f.new_blob}'
        if f.old_blob is not None and f.old_path is not None:
            old = sources.blob_text(self.repo, f.old_blob)
            text = apply_to_old(old, f) if old is not None else None
            if text is not None and matches_diff(text, f):
                return text, f'old blob {f.old_blob} with the diff applied'
        return None, 'blobs not in the repository'
