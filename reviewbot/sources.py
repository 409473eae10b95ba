"""Diff sources: where the bytes of a diff come from, and how to read the new revision's files.

Every source yields a DiffSource: the raw diff bytes plus a reader for file contents at the new
revision (the index for --staged, B for A..B), which reviewers use for context. The git commands
are reviewbot.git's (explicit prefixes, no external diff/textconv: user git config cannot change the
format).
"""
from __future__ import annotations

import dataclasses
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path

from reviewbot import git
from reviewbot.errors import DiffError


@dataclasses.dataclass
class DiffSource:
    description: str  # e.g. 'staged changes', 'HEAD~1..HEAD'
    data: bytes
    read_new_file: Callable[[str], str | None]
    repo_root: Path | None = None
    new_rev: str | None = None  # commit (or ':' for the index) the new side is read from
    base_rev: str | None = None  # commit the diff starts from (HEAD for staged changes), None: unknown
    blob_repo: Path | None = None  # a repository (maybe bare) whose objects may hold the diff's blobs


_BLOB_ID = re.compile(r'[0-9a-f]{4,64}')


def blob_text(root: Path, blob_id: str) -> str | None:
    """The text of blob `blob_id` (hex, maybe abbreviated, as a diff's `index` line has it) in the
    repository at `root`, with one git call; None when the repository has no such blob (or the
    id is not hex, or names something other than a blob)."""
    if not _BLOB_ID.fullmatch(blob_id):
        return None
    try:
        return git.cat_blob(root, f'{blob_id}^{{blob}}').decode('utf-8', 'surrogateescape')
    except git.GitError:
        return None


def _reader(root: Path, rev: str) -> Callable[[str], str | None]:
    """Read files from a tree-ish ('' + ':' prefix for the index) lazily, memoised."""
    cache: dict[str, str | None] = {}

    def read(path: str) -> str | None:
        if path not in cache:
            data = git.show(root, f':{path}' if rev == ':' else f'{rev}:{path}')
            cache[path] = None if data is None else data.decode('utf-8', 'surrogateescape')  # None: not there
        return cache[path]
    return read


def staged(cwd: Path) -> DiffSource:
    """What a commit would contain now: the index against HEAD (or the empty tree)."""
    root = git.repo_root(cwd)
    head = git.resolve_commit(root, 'HEAD')
    # the first commit: compare the index with the empty tree
    data = git.diff_index(root, 'HEAD' if head else git.empty_tree(root))
    return DiffSource('staged changes', data, _reader(root, ':'), root, ':', head)


def commit_range(cwd: Path, spec: str) -> DiffSource:
    """`A..B` (the two trees) or `A...B` (merge-base of A and B to B)."""
    root = git.repo_root(cwd)
    if '...' in spec:
        a, b = spec.split('...', 1)
        a_sha, b_sha = git.commit(root, a or 'HEAD'), git.commit(root, b or 'HEAD')
        base = git.merge_base(root, a_sha, b_sha)
        if base is None:
            raise DiffError(f'{a} and {b} have no common ancestor')
    elif '..' in spec:
        a, b = spec.split('..', 1)
        base, b_sha = git.commit(root, a or 'HEAD'), git.commit(root, b or 'HEAD')
    else:
        raise DiffError(f'--range takes A..B or A...B, not {spec!r}')
    data = git.tree_diff(root, base, b_sha)
    return DiffSource(spec, data, _reader(root, b_sha), root, b_sha, base)


def between(cwd: Path, base: str | None, head: str, description: str | None = None) -> DiffSource:
    """From commit `base` to commit `head`; base None means the empty tree (a push of a whole history)."""
    root = git.repo_root(cwd)
    head_sha = git.commit(root, head)
    base_sha = git.empty_tree(root) if base is None else git.commit(root, base)
    data = git.tree_diff(root, base_sha, head_sha)
    desc = description or f'{base_sha[:12] if base else "(empty tree)"}..{head_sha[:12]}'
    return DiffSource(desc, data, _reader(root, head_sha), root, head_sha, base_sha if base else None)


def since_base(cwd: Path, base_ref: str) -> DiffSource:
    """From the merge-base of base_ref and HEAD to HEAD (what a pull request would show)."""
    src = commit_range(cwd, f'{base_ref}...HEAD')
    src.description = f'merge-base({base_ref}, HEAD)..HEAD'
    return src


def _worktree_reader(cwd: Path) -> tuple[Callable[[str], str | None], Path | None]:
    """For a diff from a file or stdin: read the new side from the work tree, if inside one."""
    try:
        root = git.repo_root(cwd)
    except DiffError:
        root = None
    base = root or cwd

    def read(path: str) -> str | None:
        p = (base / path)
        try:
            if base.resolve() not in p.resolve().parents or first_link(base, path) is not None:
                return None  # never read outside the tree a diff names, nor through a link
            return p.read_bytes().decode('utf-8', 'surrogateescape')
        except (OSError, ValueError):
            return None
    return read, root


def first_link(base: Path, path: str | os.PathLike[str]) -> Path | None:
    """The first component of base/path (below base) that is a symbolic link, relative to base; None
    when there is none."""
    p = base
    for part in Path(path).parts:
        p = p / part
        if p.is_symlink():
            return p.relative_to(base)
    return None


def from_file(cwd: Path, path: str) -> DiffSource:
    if path == '-':
        data = sys.stdin.buffer.read()
        desc = 'standard input'
    else:
        try:
            data = Path(path).read_bytes()
        except OSError as e:
            raise DiffError(f'cannot read diff file {path}: {e.strerror}') from None
        desc = path
    read, root = _worktree_reader(cwd)
    # outside a work tree, a bare clone's objects may still hold the diff's blobs
    return DiffSource(desc, data, read, root, None,
                      blob_repo=root or (cwd if git.in_repository(cwd) else None))
