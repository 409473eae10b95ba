"""The planted defects of examples/planted, each committed in a real repository and reviewed with
the default reviewers through the CLI: every planted line is flagged, the clean refactor is not.
(The model reviewer runs on the tiny real model here; benchmarks/planted.py measures the default.)"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from reviewbot.config import defaults
from reviewbot.core import LineKind
from reviewbot.diffparse import parse_diff
from tests.conftest import GitRepo, run_cli

PLANTED = Path(__file__).resolve().parent.parent / 'examples' / 'planted'
DEFECTS = ('sql', 'off-by-one', 'missing-await', 'shell-true')
TINY = 'smollm2-135m'


def added_lines(diff_text: str) -> set[tuple[str, int]]:
    diff = parse_diff(diff_text.encode())
    return {(f.path, ln.new_lineno) for f in diff.files for h in f.hunks for ln in h.lines
            if ln.kind is LineKind.ADDED}


def review_planted(repo: GitRepo, name: str, tmp_path: Path) -> dict:
    shutil.copytree(PLANTED / 'base', repo.path, dirs_exist_ok=True)
    repo.git('add', '-A')
    repo.commit('base')
    repo.git('apply', str(PLANTED / f'{name}.diff'))
    repo.git('add', '-A')
    repo.commit(name)
    proc = run_cli('review', '--range', 'HEAD~1..HEAD', '--format', 'json', '--fail-level', 'none',
                   '--model', TINY, '--budget', '120', cwd=repo.path,
                   env={'REVIEWBOT_CACHE_DIR': str(tmp_path / 'cache')})
    assert proc.returncode == 0, proc.stderr.decode()
    return json.loads(proc.stdout)


def test_every_planted_diff_is_a_small_single_purpose_change() -> None:
    for name in (*DEFECTS, 'refactor'):
        assert 1 <= len(added_lines((PLANTED / f'{name}.diff').read_text())) <= 7, name


@pytest.mark.parametrize('name', DEFECTS)
def test_planted_defect_is_flagged_on_its_line(repo: GitRepo, tmp_path: Path, name: str) -> None:
    report = review_planted(repo, name, tmp_path)
    assert report['reviewers'] == list(defaults().get('reviewers'))  # the default reviewers ran
    planted = added_lines((PLANTED / f'{name}.diff').read_text())
    on_planted = [f for f in report['findings'] if (f['path'], f['line']) in planted]
    assert on_planted, report['findings']
    assert all(f['severity'] in ('error', 'warning') for f in on_planted)


def test_clean_refactor_gets_no_finding(repo: GitRepo, tmp_path: Path) -> None:
    report = review_planted(repo, 'refactor', tmp_path)
    assert report['findings'] == []
    assert report['coverage']['files_reviewed'] == 1
