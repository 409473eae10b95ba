"""The team's review guidelines file (config `guidelines`): its text, read safely.

The text goes into every model prompt, so where it is read from is a trust decision. From a commit
(CI: the trusted base commit, `git cat-file blob BASE:path`) or from the work tree (a developer's
own machine), but never through a symbolic link in any component of the path, never from the git
directory (`.git`, or whatever `git rev-parse --git-dir` names: it holds credentials such as
actions/checkout's AUTHORIZATION header), and never more than MAX_BYTES.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path, PurePosixPath

from reviewbot import git, sources
from reviewbot.errors import ConfigError

MAX_BYTES = 16 * 1024  # the prompt keeps far less (reviewers.model.GUIDELINES_MAX_CHARS)


def read(root: Path, value: str, rev: str | None = None) -> str:
    """The guidelines text at `value` (relative to `root`): from commit `rev`, else the work tree.
    A ConfigError (one line) for a path that leaves the repository, goes through a symbolic link,
    names the git directory, or does not exist."""
    pure = PurePosixPath(value.replace('\\', '/'))
    if not value or pure.is_absolute() or value.startswith('~') or '..' in pure.parts:
        raise ConfigError(f'guidelines must be a path inside the repository (relative, without ".."): {value!r}')
    parts = pure.parts
    if any(p.casefold() == '.git' for p in parts):
        raise ConfigError(f'guidelines {value!r} is in the git directory; it must be a file of the repository')
    data = _from_commit(root, value, rev) if rev is not None else _from_work_tree(root, value, parts)
    return data[:MAX_BYTES].decode('utf-8', 'replace').strip()


def _from_commit(root: Path, value: str, rev: str) -> bytes:
    path = PurePosixPath(value.replace('\\', '/')).as_posix()
    entry = git.tree_entry(root, rev, path)
    if entry is None:
        # a missing file, or a parent directory that is a symbolic link in that commit
        raise ConfigError(f'guidelines file not found: {path} in commit {rev[:12]} (config key guidelines)')
    mode, kind, sha = entry
    if mode == '120000':
        raise ConfigError(f'guidelines {value!r} is a symbolic link in commit {rev[:12]}; '
                          'it must be a regular file')
    if kind != 'blob':
        raise ConfigError(f'guidelines {value!r} is not a file in commit {rev[:12]}')
    return git.cat_blob(root, sha)[:MAX_BYTES]


def _from_work_tree(root: Path, value: str, parts: tuple[str, ...]) -> bytes:
    # no link on the way and no "..": the file is inside the repository
    if (link := sources.first_link(root, PurePosixPath(*parts))) is not None:
        raise ConfigError(f'guidelines {value!r} goes through a symbolic link ({link}); '
                          'it must be a regular file of the repository')
    p = root.joinpath(*parts)
    if (git_dir := git.git_dir(root)) is not None:
        gd = git_dir.resolve()
        target = p.resolve()
        if target == gd or gd in target.parents:
            raise ConfigError(f'guidelines {value!r} is in the git directory; '
                              'it must be a file of the repository')
    try:
        st = os.stat(p)
        if not stat.S_ISREG(st.st_mode):
            raise ConfigError(f'guidelines {value!r} is not a regular file')
        with open(p, 'rb') as f:
            return f.read(MAX_BYTES)
    except OSError:
        raise ConfigError(f'guidelines file not found: {p} (config key guidelines)') from None
