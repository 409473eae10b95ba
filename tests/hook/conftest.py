"""Temp repos for the hook tests, and a snapshot of everything a hook must leave untouched."""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, GitRepo

# Planted defects the secrets reviewer reports at severity error (AWS's documented example key id
# and a token of the GitHub format); assembled so this file itself holds no literal secret.
AWS_KEY_LINE = 'aws_key = "' + 'AKIA' + 'IOSFODNN7EXAMPLE"\n'
GITHUB_TOKEN_LINE = 'token = "' + 'ghp_' + 'aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5' + '"\n'
REVIEWBOT_TOML = 'reviewers = ["secrets"]\n'
RENAMED_BODY = ''.join(f'VALUE_{i} = {i}\n' for i in range(10))


def snapshot(repo: Path) -> dict[str, str]:
    """Hashes of the index entries, both diffs, intent-to-add state and every file's bytes."""
    def git(*args: str) -> bytes:
        return subprocess.run(['git', *args], cwd=repo, capture_output=True, check=True).stdout

    def h(b: bytes) -> str:
        return hashlib.sha256(b).hexdigest()

    state = {
        'ls-files -s': h(git('ls-files', '-s')),
        'diff --cached': h(git('diff', '--cached', '--binary')),
        'diff': h(git('diff', '--binary')),
        'diff name-status': h(git('diff', '--name-status')),  # intent-to-add entries show as A here
        'untracked': h(git('ls-files', '-o', '--exclude-standard', '-z')),
        'HEAD': git('rev-parse', '--verify', '--quiet', 'HEAD').decode().strip(),
    }
    for p in sorted(repo.rglob('*')):
        rel = p.relative_to(repo)
        if rel.parts[0] == '.git' or not p.is_file():
            continue
        state[f'file {rel}'] = h(p.read_bytes()) + oct(p.stat().st_mode)
    return state


def index_bytes(repo: Path) -> str:
    return hashlib.sha256((repo / '.git' / 'index').read_bytes()).hexdigest()


def messy_repo(repo: GitRepo, staged_secret: bool) -> None:
    """An initial commit, then every kind of change a hook must survive:
    partial staging, unstaged edits, an untracked file, an intent-to-add file and a rename."""
    repo.write('.reviewbot.toml', REVIEWBOT_TOML)
    repo.write('app.py', 'def main():\n    return 1\n')
    repo.write('old_name.py', RENAMED_BODY)
    repo.write('notes.txt', 'a\nb\nc\n')
    repo.commit('initial')
    # partial staging: the index gets one version, the work tree another
    repo.write('app.py', 'def main():\n    return 2\n' + (AWS_KEY_LINE if staged_secret else ''))
    repo.git('add', 'app.py')
    repo.write('app.py', 'def main():\n    return 3\n' + (AWS_KEY_LINE if staged_secret else '')
               + '# unstaged edit\n')
    # a secret only in the work tree: never staged, so never reviewed
    repo.write('notes.txt', 'a\nb\nc\n' + GITHUB_TOKEN_LINE)
    repo.git('mv', 'old_name.py', 'new_name.py')
    repo.write('untracked.py', GITHUB_TOKEN_LINE)
    repo.write('intent.py', GITHUB_TOKEN_LINE)
    repo.git('add', '-N', 'intent.py')


def hook_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env['PYTHONPATH'] = str(REPO_ROOT) + os.pathsep + env.get('PYTHONPATH', '')
    for k in ('SKIP', 'PRE_COMMIT_FROM_REF', 'PRE_COMMIT_TO_REF', 'PRE_COMMIT_REMOTE_NAME',
              'PRE_COMMIT_LOCAL_BRANCH', 'GIT_INDEX_FILE', 'GIT_DIR', 'GIT_WORK_TREE', 'NO_COLOR',
              'GITHUB_ACTIONS', 'GITLAB_CI'):  # a developer's machine, even when the suite runs in CI
        env.pop(k, None)
    env.update(extra)
    return env


def run_hook(repo: Path, *args: str, stdin: bytes | None = None, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-m', 'reviewbot', 'hook', *args], cwd=repo, input=stdin,
                          capture_output=True, env=hook_env(**env), timeout=300)


def copy_of_this_repo(dest: Path) -> tuple[Path, str]:
    """This checkout's files (tracked and untracked, not ignored; uncommitted edits included) as a
    one-commit git repo, so pre-commit installs exactly the code under test."""
    files = subprocess.run(['git', 'ls-files', '-z', '--cached', '--others', '--exclude-standard'],
                           cwd=REPO_ROOT, capture_output=True, check=True).stdout.split(b'\0')
    for raw in files:
        if not raw:
            continue
        rel = os.fsdecode(raw)
        src = REPO_ROOT / rel
        if not src.is_file():
            continue  # deleted in the work tree
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)
    snap = GitRepo(dest)
    sha = snap.commit('snapshot of reviewbot under test')
    return dest, sha


@pytest.fixture(scope='session')
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    return copy_of_this_repo(tmp_path_factory.mktemp('hook-repo') / 'reviewbot')


@pytest.fixture(scope='session')
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One PRE_COMMIT_HOME for the session: pre-commit builds the hook's virtualenv only once."""
    return tmp_path_factory.mktemp('pre-commit-home')


PRE_COMMIT = str(Path(sys.executable).with_name('pre-commit'))
