"""The REAL pre-commit framework running this repository's .pre-commit-hooks.yaml.

pre-commit builds a virtualenv and pip-installs a snapshot of this checkout (with its dependencies,
from the package index) once per session into a shared PRE_COMMIT_HOME; the tests below reuse it.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT, GitRepo
from tests.hook.conftest import AWS_KEY_LINE, REVIEWBOT_TOML, messy_repo, snapshot


def pre_commit_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ('PYTHONPATH', 'SKIP', 'GIT_INDEX_FILE', 'GIT_DIR', 'GIT_WORK_TREE')
           and not k.startswith('PRE_COMMIT')}
    env['PRE_COMMIT_HOME'] = str(home)
    env['PRE_COMMIT_COLOR'] = 'never'
    env.update(extra)
    return env


def pre_commit(repo: Path, home: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-m', 'pre_commit', *args], cwd=repo, capture_output=True,
                          env=pre_commit_env(home, **env), timeout=1200)


def config_text(hook_repo: Path, rev: str) -> str:
    # the lines a team adds to .pre-commit-config.yaml (with its own repo URL and tag)
    return f'repos:\n  - repo: {hook_repo}\n    rev: {rev}\n    hooks:\n      - id: reviewbot\n'


def test_manifest_is_valid_for_pre_commit():
    from pre_commit.clientlib import load_manifest
    hooks = load_manifest(str(REPO_ROOT / '.pre-commit-hooks.yaml'))
    (h,) = hooks
    assert h['id'] == 'reviewbot' and h['entry'] == 'reviewbot hook' and h['language'] == 'python'
    assert h['pass_filenames'] is False and h['require_serial'] is True and h['always_run'] is True
    assert h['stages'] == ['pre-commit', 'pre-push', 'manual']
    assert h['minimum_pre_commit_version'] == '3.2.0' and h['verbose'] is False
    raw = yaml.safe_load((REPO_ROOT / '.pre-commit-hooks.yaml').read_text())
    assert raw[0]['minimum_pre_commit_version'] == '3.2.0'  # a string, not a float


@pytest.fixture(scope='module')
def built(hook_repo: tuple[Path, str], pre_commit_home: Path, tmp_path_factory) -> tuple[Path, str]:
    """Build the hook environment once (pre-commit install-hooks), so each test reuses it."""
    path, rev = hook_repo
    repo = GitRepo(tmp_path_factory.mktemp('warm') / 'repo')
    repo.write('.pre-commit-config.yaml', config_text(path, rev))
    repo.commit('config')
    proc = pre_commit(repo.path, pre_commit_home, 'install-hooks')
    assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()
    return path, rev


def test_try_repo_blocks_a_staged_secret_and_leaves_everything_as_it_was(
        repo: GitRepo, built: tuple[Path, str], pre_commit_home: Path):
    path, _ = built
    messy_repo(repo, staged_secret=True)
    before = snapshot(repo.path)
    proc = pre_commit(repo.path, pre_commit_home, 'try-repo', str(path), 'reviewbot', '--verbose')
    out = proc.stdout.decode()
    assert proc.returncode == 1, out + proc.stderr.decode()
    assert 'app.py:3: error' in out and 'secret/aws-access-key' in out
    assert 'github-token' not in out  # unstaged, untracked and intent-to-add content is not reviewed
    assert snapshot(repo.path) == before


def test_commit_through_pre_commit_install_blocks_then_passes(
        repo: GitRepo, built: tuple[Path, str], pre_commit_home: Path):
    path, rev = built
    repo.write('.pre-commit-config.yaml', config_text(path, rev))
    messy_repo(repo, staged_secret=True)
    assert pre_commit(repo.path, pre_commit_home, 'install').returncode == 0
    env = pre_commit_env(pre_commit_home)
    before = snapshot(repo.path)
    commit = subprocess.run(['git', 'commit', '-m', 'leak'], cwd=repo.path, capture_output=True,
                            env=env, timeout=600)
    assert commit.returncode != 0
    assert b'secret/aws-access-key' in commit.stdout + commit.stderr
    assert snapshot(repo.path) == before
    # unstage the secret (keep the rest): the same commit now goes through
    repo.git('reset', '-q', 'HEAD', '--', 'app.py')
    repo.write('app.py', 'def main():\n    return 2\n')
    repo.git('add', 'app.py')
    repo.write('app.py', 'def main():\n    return 3\n# unstaged edit\n')
    before = snapshot(repo.path)
    commit = subprocess.run(['git', 'commit', '-m', 'clean'], cwd=repo.path, capture_output=True,
                            env=env, timeout=600)
    assert commit.returncode == 0, commit.stdout.decode() + commit.stderr.decode()
    after = snapshot(repo.path)
    assert after['HEAD'] != before['HEAD']
    assert repo.git('show', 'HEAD:app.py') == 'def main():\n    return 2\n'
    assert (repo.path / 'app.py').read_text() == 'def main():\n    return 3\n# unstaged edit\n'
    assert after['untracked'] == before['untracked'] and after['diff'] == before['diff']


def test_pre_push_stage_reviews_the_pushed_range(repo: GitRepo, built: tuple[Path, str],
                                                 pre_commit_home: Path):
    path, rev = built
    repo.write('.pre-commit-config.yaml', config_text(path, rev))
    repo.write('.reviewbot.toml', REVIEWBOT_TOML)
    base = repo.commit('base')
    repo.write('leak.py', AWS_KEY_LINE)
    leak = repo.commit('leak')
    before = snapshot(repo.path)
    proc = pre_commit(repo.path, pre_commit_home, 'run', '--hook-stage', 'pre-push',
                      '--from-ref', base, '--to-ref', leak)
    assert proc.returncode == 1
    assert b'leak.py:1: error' in proc.stdout
    ok = pre_commit(repo.path, pre_commit_home, 'run', '--hook-stage', 'pre-push',
                    '--from-ref', base, '--to-ref', base)
    assert ok.returncode == 0, ok.stdout.decode()
    assert snapshot(repo.path) == before
