"""reviewbot.git is the only module that runs git; its functions, on real repositories in temp folders."""
from __future__ import annotations

import ast
import os
import subprocess
from pathlib import Path

import pytest

from reviewbot import git
from reviewbot.errors import DiffError
from tests.conftest import REPO_ROOT, GitRepo

PACKAGE = REPO_ROOT / 'reviewbot'
_RUNNERS = {'run', 'Popen', 'call', 'check_call', 'check_output', 'getoutput', 'getstatusoutput',
            'system', 'popen', 'create_subprocess_exec', 'create_subprocess_shell',
            'execv', 'execvp', 'execvpe', 'execl', 'execlp', 'spawnv', 'spawnvp', 'spawnlp'}


def _is_git(node: ast.AST | None) -> bool:
    """A literal that starts a git command: 'git', '/usr/bin/git', or 'git status' (a shell line)."""
    if not isinstance(node, ast.Constant) or not isinstance(node.value, str):
        return False
    first = node.value.strip().split(' ', 1)[0] if node.value.strip() else ''
    return first == 'git' or first.endswith('/git')


def git_calls(source: str) -> list[int]:
    """Lines that run git: a process call (subprocess, os, asyncio) whose command starts with 'git',
    any list or tuple literal that starts with 'git' (an argv built to be run later), and any use
    of reviewbot.git's private runner (`git._run([...])`)."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.expr):
            continue
        argv = isinstance(node, (ast.List, ast.Tuple)) and bool(node.elts) and _is_git(node.elts[0])
        private = (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                   and node.value.id == 'git' and node.attr.startswith('_'))
        if argv or private:
            lines.append(node.lineno)
        elif isinstance(node, ast.Call) and node.args:
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, 'id', '')
            if name in _RUNNERS and _is_git(node.args[0]):
                lines.append(node.lineno)
    return sorted(set(lines))


def test_the_detector_finds_the_ways_to_run_git():
    src = ('import subprocess, os\n'
           "subprocess.run(['git', 'status'])\n"
           "cmd = ('git', '-C', root, 'log')\n"
           "os.system('git fetch')\n"
           "subprocess.check_output('/usr/bin/git rev-parse HEAD', shell=True)\n"
           "subprocess.run(['ls', 'git'])\n"
           "print('git is a tool')\n"
           "from reviewbot import git\n"
           "git._run(['status'], root)\n")
    assert git_calls(src) == [2, 3, 4, 5, 9]


def test_no_module_but_reviewbot_git_runs_git():
    found = {}
    for path in sorted(PACKAGE.rglob('*.py')):
        if path == PACKAGE / 'git.py':
            continue
        if lines := git_calls(path.read_text(encoding='utf-8')):
            found[path.relative_to(REPO_ROOT).as_posix()] = lines
    assert found == {}, f'git is run outside reviewbot/git.py (use a function of reviewbot.git): {found}'
    assert git_calls((PACKAGE / 'git.py').read_text(encoding='utf-8')), 'the detector no longer sees git.py'


# --- the functions, on real repositories


@pytest.fixture
def two(repo: GitRepo) -> tuple[GitRepo, str, str]:
    repo.write('a.py', 'x = 1\n')
    first = repo.commit('first')
    repo.write('a.py', 'x = 2\n')
    second = repo.commit('second')
    return repo, first, second


def test_repo_root_and_git_dir(repo: GitRepo, tmp_path: Path):
    (repo.path / 'sub').mkdir()
    assert git.repo_root(repo.path / 'sub') == repo.path.resolve()
    assert git.git_dir(repo.path / 'sub') == (repo.path / '.git').resolve()
    assert git.in_repository(repo.path)
    outside = tmp_path / 'outside'
    outside.mkdir()
    with pytest.raises(DiffError, match='not inside a git repository'):
        git.repo_root(outside)
    assert git.git_dir(outside) is None
    assert not git.in_repository(outside)


def test_a_bare_clone_is_a_repository_without_a_root(two, tmp_path: Path):
    repo, _, second = two
    bare = tmp_path / 'bare.git'
    subprocess.run(['git', 'clone', '-q', '--bare', str(repo.path), str(bare)], check=True)
    assert git.in_repository(bare)
    assert git.git_dir(bare) == bare.resolve()
    assert git.resolve_commit(bare, 'HEAD') == second
    with pytest.raises(DiffError, match='not inside a git repository'):
        git.repo_root(bare)


def test_a_linked_worktree_has_its_own_git_dir(two, tmp_path: Path):
    repo, first, _ = two
    wt = tmp_path / 'linked'
    repo.git('worktree', 'add', '-q', '--detach', str(wt), first)
    assert git.repo_root(wt) == wt.resolve()
    gd = git.git_dir(wt)
    assert gd is not None and gd.parent == (repo.path / '.git' / 'worktrees').resolve()
    assert git.hooks_dir(wt) == (repo.path / '.git' / 'hooks').resolve()


def test_hooks_dir_follows_core_hookspath(repo: GitRepo):
    repo.git('config', 'core.hooksPath', 'my-hooks')
    assert git.hooks_dir(repo.path) == (repo.path / 'my-hooks').resolve()


def test_one_answer_to_does_this_commit_exist(two):
    repo, first, second = two
    repo.git('tag', '-a', '-m', 'annotated', 'v1', first)
    assert git.resolve_commit(repo.path, 'HEAD') == second
    assert git.resolve_commit(repo.path, 'v1') == first  # the tag object peeled to its commit
    assert git.resolve_commit(repo.path, f'{second}^') == first
    assert git.resolve_commit(repo.path, f'{first}^') is None  # a root has no parent
    assert git.resolve_commit(repo.path, 'HEAD:a.py') is None  # a blob, not a commit
    assert git.resolve_commit(repo.path, '0' * 40) is None
    assert git.commit(repo.path, 'main') == second
    with pytest.raises(DiffError, match=r"^unknown revision: 'nope'$"):
        git.commit(repo.path, 'nope')


def test_an_unborn_head_resolves_to_nothing(repo: GitRepo):
    assert git.resolve_commit(repo.path, 'HEAD') is None
    assert git.empty_tree(repo.path) == '4b825dc642cb6eb9a060e54bf8d69288fbee4904'


def test_merge_base_parents_and_history(two):
    repo, first, second = two
    repo.git('checkout', '-q', '-b', 'side', first)
    repo.write('b.py', 'y = 1\n')
    side = repo.commit('side')
    assert git.merge_base(repo.path, second, side) == first
    assert git.parents(repo.path, side) == [first]
    assert git.parents(repo.path, first) == []
    orphan = repo.git('commit-tree', '-m', 'unrelated', git.empty_tree(repo.path)).strip()
    assert git.merge_base(repo.path, second, orphan) is None


def test_commits_not_on_a_remote(two, tmp_path: Path):
    repo, first, second = two
    upstream = tmp_path / 'up.git'
    subprocess.run(['git', 'init', '-q', '--bare', str(upstream)], check=True)
    repo.git('remote', 'add', 'origin', str(upstream))
    assert git.remote_names(repo.path) == ['origin']
    assert git.commits_not_on_remote(repo.path, second, None) == [first, second]  # oldest first
    repo.git('push', '-q', 'origin', f'{first}:refs/heads/main')
    repo.git('fetch', '-q', 'origin')
    assert git.commits_not_on_remote(repo.path, second, 'origin') == [second]
    assert git.commits_not_on_remote(repo.path, first, 'origin') == []
    lines = git.remote_lines(repo.path)
    assert lines is not None and f'origin\t{upstream} (fetch)' in lines


def test_shallow_clone(two, tmp_path: Path):
    repo, _, second = two
    assert not git.is_shallow(repo.path)
    clone = tmp_path / 'shallow'
    subprocess.run(['git', 'clone', '-q', '--depth', '1', f'file://{repo.path}', str(clone)], check=True)
    assert git.is_shallow(clone)
    assert git.resolve_commit(clone, 'HEAD') == second
    assert git.resolve_commit(clone, 'HEAD^') is None


def test_objects_blobs_and_tree_entries(two):
    repo, first, _ = two
    (repo.path / 'link').symlink_to('a.py')
    head = repo.commit('link')
    assert git.cat_blob(repo.path, f'{first}:a.py') == b'x = 1\n'
    assert git.show(repo.path, f'{first}:a.py') == b'x = 1\n'
    assert git.show(repo.path, f'{first}:missing.py') is None
    assert git.object_type(repo.path, f'{head}:link') == 'blob'
    assert git.object_type(repo.path, f'{head}:nope') is None
    mode, kind, sha = git.tree_entry(repo.path, head, 'link') or ('', '', '')
    assert (mode, kind) == ('120000', 'blob') and git.cat_blob(repo.path, sha) == b'a.py'
    assert git.tree_entry(repo.path, head, 'link/x') is None
    assert git.tree_entry(repo.path, head, 'nope') is None
    with pytest.raises(DiffError, match=r'^git cat-file failed: '):
        git.cat_blob(repo.path, f'{head}:nope')


def test_the_index_is_read_from_git_index_file(two):
    repo, _, _ = two
    repo.write('a.py', 'x = 3\n')
    repo.git('add', 'a.py')
    assert git.show(repo.path, ':a.py') == b'x = 3\n'
    diff = git.diff_index(repo.path, 'HEAD')
    assert b'--- a/a.py\n+++ b/a.py\n' in diff and b'+x = 3\n' in diff
    # the hook's own index (pre-commit exports GIT_INDEX_FILE) is the truth, not .git/index
    other = repo.path / '.git' / 'other-index'
    subprocess.run(['git', 'read-tree', 'HEAD'], cwd=repo.path, check=True,
                   env={**os.environ, 'GIT_INDEX_FILE': str(other)})
    os.environ['GIT_INDEX_FILE'] = str(other)
    try:
        assert git.diff_index(repo.path, 'HEAD') == b''
    finally:
        del os.environ['GIT_INDEX_FILE']


def test_user_config_cannot_change_the_diff(two):
    repo, first, second = two
    for key, value in (('diff.noprefix', 'true'), ('diff.mnemonicprefix', 'true'), ('color.diff', 'always'),
                       ('diff.external', 'false'), ('core.pager', 'rev')):
        repo.git('config', key, value)
    diff = git.tree_diff(repo.path, first, second)
    assert diff.startswith(b'diff --git a/a.py b/a.py\n')
    assert b'\x1b[' not in diff and b'-x = 1\n+x = 2\n' in diff


def test_a_range_diff_ignores_the_checkouts_gitattributes(two):
    repo, first, _ = two
    repo.write('.gitattributes', '* -diff\n')
    repo.write('a.py', 'x = 4\n')
    head = repo.commit('hide the diff')
    diff = git.tree_diff(repo.path, first, head)
    assert b'+x = 4\n' in diff and b'Binary files' not in diff
    staged = git.diff_index(repo.path, first)  # the index diff honours them, as git does
    assert b'Binary files a/a.py and b/a.py differ' in staged


def test_quoted_and_undecodable_paths(repo: GitRepo):
    name = b'caf\xe9 "x".py'  # latin-1 bytes: not UTF-8
    (repo.path / os.fsdecode(name)).write_bytes(b'v = 1\n')
    repo.git('add', '-A')
    diff = git.diff_index(repo.path, git.empty_tree(repo.path))
    assert b'\n+++ "b/caf\\351 \\"x\\".py"' in diff  # core.quotepath=on: one line, escaped
    head = repo.commit('odd name')
    mode, kind, _ = git.tree_entry(repo.path, head, os.fsdecode(name)) or ('', '', '')
    assert (mode, kind) == ('100644', 'blob')


def test_apply_checks_then_writes_the_work_tree_only(two):
    repo, first, second = two
    patch = git.tree_diff(repo.path, second, first)  # x = 2 -> x = 1
    git.apply(repo.path, patch, check_only=True)
    assert (repo.path / 'a.py').read_text() == 'x = 2\n'
    git.apply(repo.path, patch)
    assert (repo.path / 'a.py').read_text() == 'x = 1\n'
    assert git.show(repo.path, ':a.py') == b'x = 2\n'  # the index is untouched
    with pytest.raises(DiffError) as e:
        git.apply(repo.path, patch, check_only=True)  # applied already: no longer applies
    assert '\n' not in str(e.value) and 'a.py' in str(e.value)


def test_a_missing_git_is_one_line(two, monkeypatch):
    repo, _, _ = two
    monkeypatch.setenv('PATH', str(repo.path / 'no-such-dir'))
    with pytest.raises(DiffError, match=r'^git is not installed or not on PATH$'):
        git.repo_root(repo.path)
    assert git.remote_lines(repo.path) is None
