"""Diff sources: where the bytes of a diff come from, and how to read the new revision's files.

Every source yields a DiffSource: the raw diff bytes plus a reader for file contents at the new
revision (the index for --staged, B for A..B), which reviewers use for context. Git is asked
with explicit prefixes and no external diff/textconv so user git config cannot change the format.
"""
from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from reviewbot.errors import DiffError

GIT_DIFF_FLAGS = (
    '--no-color', '--no-ext-diff', '--no-textconv', '--find-renames',
    '--src-prefix=a/', '--dst-prefix=b/', '--unified=3', '--ignore-submodules=none',
    '--diff-filter=ACDMRTUXB',
)


@dataclasses.dataclass
class DiffSource:
    description: str  # e.g. 'staged changes', 'HEAD~1..HEAD'
    data: bytes
    read_new_file: Callable[[str], str | None]
    repo_root: Path | None = None
    new_rev: str | None = None  # commit (or ':' for the index) the new side is read from
    base_rev: str | None = None  # commit the diff starts from (HEAD for staged changes), None: unknown
    blob_repo: Path | None = None  # a repository (maybe bare) whose objects may hold the diff's blobs


def _git_env() -> dict[str, str]:
    env = dict(os.environ)
    # pre-commit and git hooks export GIT_INDEX_FILE etc.; they are honoured (they are the truth of
    # what is being committed), but a pager or a locale must not change the bytes we parse
    env.pop('GIT_EXTERNAL_DIFF', None)
    env['GIT_PAGER'] = 'cat'
    env['LC_ALL'] = 'C'
    return env


def git(args: list[str], cwd: Path, *, check: bool = True,
        env: dict[str, str] | None = None) -> bytes:
    try:
        proc = subprocess.run(['git', '-c', 'core.quotepath=on', '-c', 'diff.noprefix=false',
                               '-c', 'diff.mnemonicprefix=false', *args],
                              cwd=cwd, capture_output=True, check=False,
                              env={**_git_env(), **(env or {})})
    except FileNotFoundError:
        raise DiffError('git is not installed or not on PATH') from None
    if check and proc.returncode != 0:
        msg = proc.stderr.decode('utf-8', 'replace').strip().splitlines()
        raise DiffError(f'git {args[0]} failed: {msg[-1] if msg else proc.returncode}')
    return proc.stdout


def tree_diff(root: Path, base: str, head: str) -> bytes:
    """`git diff base head` of two commits, blind to the checkout's `.gitattributes`.

    git reads diff attributes from the work tree and the index, which in CI hold the code under
    review: a head adding `* -diff` would turn every file into "Binary files differ" and hide it
    from every reviewer. Run from an empty directory as work tree, with an empty index, the diff
    depends on the two commits alone (binary files are still found by their content; the user's
    own $GIT_DIR/info/attributes still applies).
    """
    git_dir = git(['rev-parse', '--absolute-git-dir'], root).strip().decode('utf-8', 'surrogateescape')
    with tempfile.TemporaryDirectory(prefix='reviewbot-diff-') as empty:
        return git([f'--git-dir={git_dir}', f'--work-tree={empty}', 'diff', *GIT_DIFF_FLAGS,
                    base, head, '--'], Path(empty), env={'GIT_INDEX_FILE': os.path.join(empty, 'index')})


def repo_root(cwd: Path) -> Path:
    out = git(['rev-parse', '--show-toplevel'], cwd, check=False).strip()
    if not out:
        raise DiffError(f'not inside a git repository: {cwd}')
    return Path(out.decode('utf-8', 'surrogateescape'))


_BLOB_ID = re.compile(r'[0-9a-f]{4,64}')


def blob_text(root: Path, blob_id: str) -> str | None:
    """The text of blob `blob_id` (hex, maybe abbreviated, as a diff's `index` line has it) in the
    repository at `root`, with one git call; None when the repository has no such blob (or the
    id is not hex, or names something other than a blob)."""
    if not _BLOB_ID.fullmatch(blob_id):
        return None
    try:
        return git(['cat-file', 'blob', f'{blob_id}^{{blob}}'], root).decode('utf-8', 'surrogateescape')
    except DiffError:
        return None


def _reader(root: Path, rev: str) -> Callable[[str], str | None]:
    """Read files from a tree-ish ('' + ':' prefix for the index) lazily, memoised."""
    cache: dict[str, str | None] = {}

    def read(path: str) -> str | None:
        if path not in cache:
            spec = f':{path}' if rev == ':' else f'{rev}:{path}'
            try:
                cache[path] = git(['cat-file', '-p', spec], root).decode('utf-8', 'surrogateescape')
            except DiffError:  # not in that revision
                cache[path] = None
        return cache[path]
    return read


def _verify_rev(root: Path, rev: str) -> str:
    out = git(['rev-parse', '--verify', '--quiet', f'{rev}^{{commit}}'], root, check=False).strip()
    if not out:
        raise DiffError(f'unknown revision: {rev!r}')
    return out.decode()


def staged(cwd: Path) -> DiffSource:
    """What a commit would contain now: the index against HEAD (or the empty tree)."""
    root = repo_root(cwd)
    head = git(['rev-parse', '--verify', '--quiet', 'HEAD^{commit}'], root, check=False).strip().decode()
    if head:
        data = git(['diff', '--cached', *GIT_DIFF_FLAGS, 'HEAD', '--'], root)
    else:  # first commit: compare the index with the empty tree
        empty = git(['hash-object', '-t', 'tree', '/dev/null'], root).strip().decode()
        data = git(['diff', '--cached', *GIT_DIFF_FLAGS, empty, '--'], root)
    return DiffSource('staged changes', data, _reader(root, ':'), root, ':', head or None)


def commit_range(cwd: Path, spec: str) -> DiffSource:
    """`A..B` (the two trees) or `A...B` (merge-base of A and B to B)."""
    root = repo_root(cwd)
    if '...' in spec:
        a, b = spec.split('...', 1)
        a_sha, b_sha = _verify_rev(root, a or 'HEAD'), _verify_rev(root, b or 'HEAD')
        base = git(['merge-base', a_sha, b_sha], root, check=False).strip().decode()
        if not base:
            raise DiffError(f'{a} and {b} have no common ancestor')
    elif '..' in spec:
        a, b = spec.split('..', 1)
        base, b_sha = _verify_rev(root, a or 'HEAD'), _verify_rev(root, b or 'HEAD')
    else:
        raise DiffError(f'--range takes A..B or A...B, not {spec!r}')
    data = tree_diff(root, base, b_sha)
    return DiffSource(spec, data, _reader(root, b_sha), root, b_sha, base)


def between(cwd: Path, base: str | None, head: str, description: str | None = None) -> DiffSource:
    """From commit `base` to commit `head`; base None means the empty tree (a push of a whole history)."""
    root = repo_root(cwd)
    head_sha = _verify_rev(root, head)
    if base is None:
        base_sha = git(['hash-object', '-t', 'tree', '/dev/null'], root).strip().decode()
    else:
        base_sha = _verify_rev(root, base)
    data = tree_diff(root, base_sha, head_sha)
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
        root = repo_root(cwd)
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
    return DiffSource(desc, data, read, root, None, blob_repo=root or git_dir(cwd))


def git_dir(cwd: Path) -> Path | None:
    """`cwd` when it is inside a git directory without a work tree (a bare clone), else None."""
    try:
        out = git(['rev-parse', '--git-dir'], cwd, check=False).strip()
    except DiffError:
        return None
    return cwd if out else None
