from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


class GitRepo:
    """A real git repository in a temp folder."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.git('init', '-q', '-b', 'main')
        self.git('config', 'user.email', 'test@example.invalid')
        self.git('config', 'user.name', 'Test')
        self.git('config', 'commit.gpgsign', 'false')

    def git(self, *args: str, check: bool = True) -> str:
        proc = subprocess.run(['git', *args], cwd=self.path, capture_output=True, check=False)
        if check and proc.returncode:
            raise AssertionError(f'git {args}: {proc.stderr.decode()}')
        return proc.stdout.decode('utf-8', 'surrogateescape')

    def write(self, rel: str, content: str | bytes) -> Path:
        p = self.path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            p.write_bytes(content.encode('utf-8'))
        else:
            p.write_bytes(content)
        return p

    def commit(self, message: str = 'change') -> str:
        self.git('add', '-A')
        self.git('commit', '-q', '--allow-empty', '-m', message)
        return self.git('rev-parse', 'HEAD').strip()

    def show(self, rev: str, path: str) -> list[str]:
        """Lines of a file at a revision (split on LF only, CR stripped) for line-number checks."""
        raw = subprocess.run(['git', 'cat-file', '-p', f'{rev}:{path}'], cwd=self.path,
                             capture_output=True, check=True).stdout
        return [ln.rstrip('\r') for ln in raw.decode('utf-8', 'surrogateescape').split('\n')]


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    return GitRepo(tmp_path / 'repo')


def run_cli(*args: str, cwd: Path | None = None, input: bytes | None = None,
            env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run `python -m reviewbot` as a user would, from this checkout."""
    full_env = dict(os.environ)
    full_env['PYTHONPATH'] = str(REPO_ROOT) + os.pathsep + full_env.get('PYTHONPATH', '')
    full_env.pop('NO_COLOR', None)
    for k in ('GITHUB_ACTIONS', 'GITLAB_CI'):  # a developer's machine, even when the suite runs in CI
        full_env.pop(k, None)
    if env:
        full_env.update(env)
    return subprocess.run([sys.executable, '-m', 'reviewbot', *args], cwd=cwd, input=input,
                          capture_output=True, env=full_env, timeout=timeout)
