"""Every git command reviewbot runs, one small typed function each (pre-commit's git.py is the shape).

One runner: git is asked with explicit diff prefixes, quoted paths, no pager, no external diff and the
C locale, so neither the user's git config nor the environment changes the bytes parsed here. The
variables a hook runs under (GIT_INDEX_FILE, GIT_DIR...) are honoured: they are the truth of what is
being committed. A failing command is a GitError (a DiffError: one line, exit 2) where the caller needs
the answer, and None/False/'' where "no" is an answer. Paths and blobs git prints are decoded with
surrogateescape (os.fsdecode for file names), never dropped for being undecodable.

No other module of reviewbot runs git (tests/test_git_module.py holds that).
"""
from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from reviewbot.errors import DiffError

DIFF_FLAGS = (
    '--no-color', '--no-ext-diff', '--no-textconv', '--find-renames',
    '--src-prefix=a/', '--dst-prefix=b/', '--unified=3', '--ignore-submodules=none',
    '--diff-filter=ACDMRTUXB',
)
_CONFIG = ('-c', 'core.quotepath=on', '-c', 'diff.noprefix=false', '-c', 'diff.mnemonicprefix=false')


class GitError(DiffError):
    """A git command failed (or git is missing); str(e) is one line."""


def _env(extra: dict[str, str] | None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop('GIT_EXTERNAL_DIFF', None)
    env['GIT_PAGER'] = 'cat'
    env['LC_ALL'] = 'C'
    return {**env, **(extra or {})}


def _proc(args: list[str], cwd: Path, *, env: dict[str, str] | None = None, stdin: bytes | None = None,
          timeout: float | None = None) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(['git', *_CONFIG, *args], cwd=cwd, input=stdin, capture_output=True,
                              check=False, env=_env(env), timeout=timeout)
    except FileNotFoundError:
        raise GitError('git is not installed or not on PATH') from None
    except subprocess.TimeoutExpired:
        raise GitError(f'git {args[0]} timed out after {timeout:g} s') from None


def _run(args: list[str], cwd: Path, *, env: dict[str, str] | None = None, timeout: float | None = None) -> bytes:
    """stdout of `git args` in `cwd`; a GitError naming the subcommand and git's last stderr line."""
    proc = _proc(args, cwd, env=env, timeout=timeout)
    if proc.returncode != 0:
        msg = proc.stderr.decode('utf-8', 'replace').strip().splitlines()
        raise GitError(f'git {args[0]} failed: {msg[-1] if msg else proc.returncode}')
    return proc.stdout


def _ask(args: list[str], cwd: Path) -> str:
    """stripped stdout of `git args` whatever its exit status ('' when it printed nothing)."""
    return _proc(args, cwd).stdout.strip().decode('utf-8', 'surrogateescape')


# --- where the repository is


def repo_root(cwd: Path) -> Path:
    """The top of the work tree `cwd` is in; a GitError when it is in none."""
    out = _ask(['rev-parse', '--show-toplevel'], cwd)
    if not out:
        raise GitError(f'not inside a git repository: {cwd}')
    return Path(out)


def git_dir(cwd: Path) -> Path | None:
    """The absolute git directory of the repository at `cwd` (`.git`, a linked worktree's, a
    --separate-git-dir's); None outside a repository. A GitError when git cannot run."""
    out = _proc(['rev-parse', '--absolute-git-dir'], cwd, timeout=10).stdout.strip()
    return Path(os.fsdecode(out)) if out else None


def in_repository(cwd: Path) -> bool:
    """Is `cwd` inside a repository, with or without a work tree (a bare clone)? False without git."""
    try:
        return bool(_ask(['rev-parse', '--git-dir'], cwd))
    except GitError:
        return False


def hooks_dir(cwd: Path) -> Path:
    """Where git looks for hooks (core.hooksPath and linked worktrees respected)."""
    return Path(os.fsdecode(_run(['rev-parse', '--path-format=absolute', '--git-path', 'hooks'], cwd).strip()))


def is_shallow(root: Path) -> bool:
    return _ask(['rev-parse', '--is-shallow-repository'], root) == 'true'


def remote_names(root: Path) -> list[str]:
    return _run(['remote'], root).decode('utf-8', 'surrogateescape').split()


def remote_lines(root: Path) -> list[str] | None:
    """`git remote -v` lines ('name<TAB>url (fetch)'); None when git fails."""
    try:
        return _run(['remote', '-v'], root, timeout=10).decode('utf-8', 'surrogateescape').splitlines()
    except (GitError, OSError):
        return None


# --- commits


def resolve_commit(root: Path, rev: str) -> str | None:
    """The commit id `rev` names (a tag peeled), None when it names no commit of this repository."""
    return _ask(['rev-parse', '--verify', '--quiet', f'{rev}^{{commit}}'], root) or None


def commit(root: Path, rev: str) -> str:
    """resolve_commit, or a GitError: unknown revision."""
    sha = resolve_commit(root, rev)
    if sha is None:
        raise GitError(f'unknown revision: {rev!r}')
    return sha


def merge_base(root: Path, a: str, b: str) -> str | None:
    return _ask(['merge-base', a, b], root) or None


def empty_tree(root: Path) -> str:
    """The id of the empty tree in this repository's hash."""
    return _run(['hash-object', '-t', 'tree', '/dev/null'], root).strip().decode()


def commits_not_on_remote(root: Path, rev: str, remote: str | None) -> list[str]:
    """Commits of `rev` on no ref of `remote` (every remote when None), oldest first (topological)."""
    remotes = f'--remotes={remote}' if remote else '--remotes'
    return _run(['rev-list', rev, '--topo-order', '--reverse', '--not', remotes], root).decode().split()


def parents(root: Path, rev: str) -> list[str]:
    return _run(['rev-list', '--parents', '-n', '1', rev], root).decode().split()[1:]


# --- objects


def cat_blob(root: Path, spec: str) -> bytes:
    """The bytes of blob `spec` (an id, or `rev:path`); a GitError when there is none."""
    return _run(['cat-file', 'blob', spec], root)


def show(root: Path, spec: str) -> bytes | None:
    """`git cat-file -p spec` (`rev:path`, `:path` for the index); None when there is no such object."""
    try:
        return _run(['cat-file', '-p', spec], root)
    except GitError:
        return None


def object_type(root: Path, spec: str) -> str | None:
    """'blob', 'tree', 'commit' or 'tag' for `spec`; None when it names nothing."""
    return _ask(['cat-file', '-t', spec], root) or None


def tree_entry(root: Path, rev: str, path: str) -> tuple[str, str, str] | None:
    """(mode, type, object id) of `path` in commit `rev`; None when the commit has no such entry (a
    missing file, or a parent directory that is a symbolic link in that commit)."""
    entry = _proc(['ls-tree', '-z', rev, '--', path], root).stdout.split(b'\0', 1)[0]
    if not entry:
        return None
    mode, kind, sha = entry.split(b'\t', 1)[0].decode().split(' ')
    return mode, kind, sha


# --- diffs


def diff_index(root: Path, base: str) -> bytes:
    """`git diff --cached base`: what the index (GIT_INDEX_FILE honoured) changes from tree-ish `base`."""
    return _run(['diff', '--cached', *DIFF_FLAGS, base, '--'], root)


def index_state(root: Path, base: str) -> bytes:
    """`git diff-index --cached --full-index -M -z base`: mode and full blob id of every path the index
    changes from `base` (renames found): what a review of the staged changes reads, as ids."""
    return _run(['diff-index', '--cached', '--full-index', '-M', '-z', base, '--'], root)


def tree_diff(root: Path, base: str, head: str) -> bytes:
    """`git diff base head` of two commits, blind to the checkout's `.gitattributes`.

    git reads diff attributes from the work tree and the index, which in CI hold the code under
    review: a head adding `* -diff` would turn every file into "Binary files differ" and hide it
    from every reviewer. Run from an empty directory as work tree, with an empty index, the diff
    depends on the two commits alone (binary files are still found by their content; the user's
    own $GIT_DIR/info/attributes still applies).
    """
    gd = _run(['rev-parse', '--absolute-git-dir'], root).strip().decode('utf-8', 'surrogateescape')
    with tempfile.TemporaryDirectory(prefix='reviewbot-diff-') as empty:
        return _run([f'--git-dir={gd}', f'--work-tree={empty}', 'diff', *DIFF_FLAGS, base, head, '--'],
                    Path(empty), env={'GIT_INDEX_FILE': os.path.join(empty, 'index')})


# --- the work tree


def apply(root: Path, patch: bytes, *, check_only: bool = False) -> None:
    """`git apply` the patch to the work tree (not the index); with check_only, only see that it
    applies. A GitError with git's first complaint when it does not."""
    proc = _proc(['apply', *(['--check'] if check_only else []), '-'], root, stdin=patch)
    if proc.returncode != 0:
        err = proc.stderr.decode('utf-8', 'replace').strip().splitlines()
        raise GitError(err[0] if err else 'git apply failed')
