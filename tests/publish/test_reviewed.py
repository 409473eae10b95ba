"""Every report records what it reviewed: head and base commit, and the sha256 of the exact diff."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT, GitRepo


def review_json(cwd: Path, *args: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(('GITHUB_', 'GITLAB_', 'CI_', 'REVIEWBOT_'))}
    env['PYTHONPATH'] = str(REPO_ROOT)
    proc = subprocess.run([sys.executable, '-m', 'reviewbot', 'review', '--format', 'json',
                           '--reviewers', 'secrets', '--fail-level', 'none', *args],
                          cwd=cwd, capture_output=True, env=env, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr.decode()
    return json.loads(proc.stdout)


def test_a_range_and_staged_changes_record_their_commits_and_diff_hash(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / 'r')
    repo.write('a.py', 'x = 1\n')
    base = repo.commit('base')
    repo.write('a.py', 'x = 2\n')
    head = repo.commit('head')
    diff = subprocess.run(['git', 'diff', '--no-color', '--no-ext-diff', '--no-textconv', '--find-renames',
                           '--src-prefix=a/', '--dst-prefix=b/', '--unified=3', '--ignore-submodules=none',
                           '--diff-filter=ACDMRTUXB', base, head, '--'],
                          cwd=repo.path, capture_output=True, check=True).stdout

    ranged = review_json(repo.path, '--range', f'{base}..{head}')['reviewed']
    assert ranged == {'head': head, 'base': base, 'diff_sha256': hashlib.sha256(diff).hexdigest()}

    repo.write('a.py', 'x = 3\n')
    repo.git('add', 'a.py')
    staged = review_json(repo.path)['reviewed']
    assert staged['head'] is None and staged['base'] == head and len(staged['diff_sha256']) == 64

    (tmp_path / 'x.diff').write_bytes(diff)
    from_file = review_json(repo.path, '--diff', str(tmp_path / 'x.diff'))['reviewed']
    assert from_file == {'head': None, 'base': None, 'diff_sha256': hashlib.sha256(diff).hexdigest()}
