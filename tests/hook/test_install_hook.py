"""`reviewbot install-hook` and the plain git hook it installs, driven by real `git commit` / `git push`."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from reviewbot.commands import install_hook
from tests.conftest import REPO_ROOT, GitRepo
from tests.hook.conftest import (
    AWS_KEY_LINE,
    REVIEWBOT_TOML,
    hook_env,
    messy_repo,
    snapshot,
)


def install(repo: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-m', 'reviewbot', 'install-hook', *args], cwd=repo,
                          capture_output=True, env=hook_env(**env), timeout=60)


def git(repo: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(['git', *args], cwd=repo, capture_output=True, env=hook_env(**env), timeout=300)


def test_the_shipped_script_is_the_installed_template():
    """hooks/reviewbot-hook (for copying by hand) and the packaged template must not drift."""
    assert (REPO_ROOT / 'hooks' / 'reviewbot-hook').read_text() == install_hook.template()
    assert os.access(REPO_ROOT / 'hooks' / 'reviewbot-hook', os.X_OK)
    assert subprocess.run(['sh', '-n', str(REPO_ROOT / 'hooks' / 'reviewbot-hook')]).returncode == 0


def test_commit_with_a_staged_secret_is_blocked_and_nothing_changes(repo: GitRepo):
    messy_repo(repo, staged_secret=True)
    proc = install(repo.path)
    assert proc.returncode == 0, proc.stderr
    hook_file = repo.path / '.git' / 'hooks' / 'pre-commit'
    assert hook_file.stat().st_mode & stat.S_IXUSR
    before = snapshot(repo.path)
    commit = git(repo.path, 'commit', '-m', 'leak')
    assert commit.returncode != 0
    assert b'secret/aws-access-key' in commit.stdout + commit.stderr
    assert snapshot(repo.path) == before  # HEAD, index and work tree as they were


def test_clean_commit_goes_through(repo: GitRepo):
    messy_repo(repo, staged_secret=False)
    assert install(repo.path).returncode == 0
    head = repo.git('rev-parse', 'HEAD')
    commit = git(repo.path, 'commit', '-q', '-m', 'clean')
    assert commit.returncode == 0, commit.stdout + commit.stderr
    assert repo.git('rev-parse', 'HEAD') != head
    # what was not staged stays unstaged
    assert 'unstaged edit' in (repo.path / 'app.py').read_text()
    assert 'unstaged edit' not in repo.git('show', 'HEAD:app.py')


def test_plain_hook_honours_skip(repo: GitRepo):
    messy_repo(repo, staged_secret=True)
    assert install(repo.path).returncode == 0
    commit = git(repo.path, 'commit', '-q', '-m', 'leak anyway', SKIP='black, reviewbot')
    assert commit.returncode == 0
    assert b'skipped (SKIP=reviewbot)' in commit.stderr


def test_respects_core_hooks_path(repo: GitRepo):
    repo.write('.reviewbot.toml', REVIEWBOT_TOML)
    repo.commit('initial')
    repo.git('config', 'core.hooksPath', '.githooks')
    proc = install(repo.path, '--pre-push')
    assert proc.returncode == 0, proc.stderr
    assert (repo.path / '.githooks' / 'pre-commit').is_file()
    assert (repo.path / '.githooks' / 'pre-push').is_file()
    assert not (repo.path / '.git' / 'hooks' / 'pre-commit').exists()
    repo.write('a.py', AWS_KEY_LINE)
    repo.git('add', 'a.py')
    assert git(repo.path, 'commit', '-m', 'x').returncode != 0


def test_never_overwrites_a_foreign_hook_without_force(repo: GitRepo, tmp_path: Path):
    messy_repo(repo, staged_secret=True)
    hooks = repo.path / '.git' / 'hooks'
    marker = tmp_path / 'legacy-ran'
    foreign = f'#!/bin/sh\necho legacy >> "{marker}"\nexit 0\n'
    (hooks / 'pre-commit').write_text(foreign)
    (hooks / 'pre-commit').chmod(0o755)
    proc = install(repo.path)
    assert proc.returncode == 2
    assert b'--force' in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert (hooks / 'pre-commit').read_text() == foreign
    # --force keeps it as pre-commit.legacy, which still runs first
    proc = install(repo.path, '--force')
    assert proc.returncode == 0
    assert (hooks / 'pre-commit.legacy').read_text() == foreign
    assert install_hook.is_ours(hooks / 'pre-commit')
    commit = git(repo.path, 'commit', '-m', 'leak')
    assert commit.returncode != 0 and marker.read_text() == 'legacy\n'
    # installing again updates our hook and leaves the backup alone
    assert install(repo.path).returncode == 0
    assert (hooks / 'pre-commit.legacy').read_text() == foreign
    # uninstall puts the team's hook back
    assert install(repo.path, '--uninstall').returncode == 0
    assert (hooks / 'pre-commit').read_text() == foreign
    assert not (hooks / 'pre-commit.legacy').exists()


def test_a_failing_legacy_hook_still_blocks(repo: GitRepo):
    messy_repo(repo, staged_secret=False)
    hooks = repo.path / '.git' / 'hooks'
    (hooks / 'pre-commit').write_text('#!/bin/sh\necho no >&2\nexit 3\n')
    (hooks / 'pre-commit').chmod(0o755)
    assert install(repo.path, '--force').returncode == 0
    assert git(repo.path, 'commit', '-m', 'x').returncode != 0


def test_points_at_the_pre_commit_framework_when_its_hook_is_there(repo: GitRepo):
    repo.commit('initial')
    hooks = repo.path / '.git' / 'hooks'
    (hooks / 'pre-commit').write_text('#!/usr/bin/env bash\n# File generated by pre-commit: https://pre-commit.com\n')
    proc = install(repo.path)
    assert proc.returncode == 2 and b'.pre-commit-config.yaml' in proc.stderr


def test_pre_push_hook_blocks_a_pushed_secret(tmp_path: Path):
    remote = tmp_path / 'origin.git'
    subprocess.run(['git', 'init', '-q', '--bare', str(remote)], check=True)
    repo = GitRepo(tmp_path / 'work')
    repo.write('.reviewbot.toml', REVIEWBOT_TOML)
    repo.commit('base')
    repo.git('remote', 'add', 'origin', str(remote))
    repo.git('push', '-q', 'origin', 'main')
    assert install(repo.path, '--pre-push').returncode == 0
    repo.write('leak.py', AWS_KEY_LINE)
    repo.git('add', 'leak.py')
    # committing with SKIP gets the secret past pre-commit; pre-push still stops it
    assert git(repo.path, 'commit', '-q', '-m', 'leak', SKIP='reviewbot').returncode == 0
    push = git(repo.path, 'push', 'origin', 'main')
    assert push.returncode != 0
    assert b'leak.py:1: error' in push.stdout + push.stderr
    assert b'blocking the push' in push.stdout + push.stderr
    remote_head = subprocess.run(['git', 'rev-parse', 'main'], cwd=remote, capture_output=True).stdout
    assert remote_head.strip() != repo.git('rev-parse', 'HEAD').strip().encode()
    # a new branch with only clean commits on top of what origin has goes through
    repo.git('checkout', '-q', '-b', 'topic', 'origin/main')
    repo.write('ok.py', 'x = 1\n')
    repo.git('add', 'ok.py')
    assert git(repo.path, 'commit', '-q', '-m', 'ok').returncode == 0
    push = git(repo.path, 'push', '-q', 'origin', 'topic')
    assert push.returncode == 0, push.stdout + push.stderr


def test_commit_all_and_commit_paths_review_what_git_will_commit(repo: GitRepo):
    """`git commit -a` / `git commit PATH` commit from a temporary index (GIT_INDEX_FILE): the hook
    must review that, not the real index, which holds no secret here."""
    repo.write('.reviewbot.toml', REVIEWBOT_TOML)
    repo.write('app.py', 'x = 1\n')
    repo.commit('initial')
    assert install(repo.path).returncode == 0
    repo.write('app.py', 'x = 1\n' + AWS_KEY_LINE)  # tracked, modified, not staged
    assert git(repo.path, 'diff', '--cached', '--quiet').returncode == 0
    for args in (['commit', '-a', '-m', 'all'], ['commit', '-m', 'path', '--', 'app.py']):
        commit = git(repo.path, *args)
        assert commit.returncode != 0, args
        assert b'app.py:2: error' in commit.stdout + commit.stderr
    assert git(repo.path, 'diff', '--cached', '--quiet').returncode == 0  # real index untouched
