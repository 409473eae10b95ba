"""The shipped publish step (workflows/github-publish.yml), run as the runner would run it: its shell
script with the step's environment, `reviewbot` from this checkout, against the fake GitHub API."""
from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from reviewbot.core import Coverage, Report, Reviewed
from reviewbot.publish.markers import parse_marker
from tests.fakes.github_api import FakeGitHub
from tests.publish.helpers import FILES, FILES_PLUS5, code_at, holds, stale_findings

ROOT = Path(__file__).resolve().parents[2]
HEAD1, HEAD2 = 'a' * 40, 'c' * 40


def publish_step() -> dict:
    workflow = yaml.safe_load((ROOT / 'workflows' / 'github-publish.yml').read_text(encoding='utf-8'))
    steps = workflow['jobs']['publish']['steps']
    return next(s for s in steps if 'publish' in s.get('run', '') and '--report' in s.get('run', ''))


def run_step(tmp_path: Path, fake: FakeGitHub, reviewed_commit: str,
             map_moved: str = 'false') -> subprocess.CompletedProcess[str]:
    step = publish_step()
    env = step['env']
    # what GitHub puts into the step's ${{ }} expressions
    assert env['REVIEWED_COMMIT'] == '${{ github.event.workflow_run.head_sha }}'
    assert env['MAP_MOVED_HEAD'] == 'false'  # refusing is the default
    runner = tmp_path / 'runner'
    (runner / 'reviewbot-venv' / 'bin').mkdir(parents=True, exist_ok=True)
    exe = runner / 'reviewbot-venv' / 'bin' / 'reviewbot'
    exe.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m reviewbot "$@"\n')
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    clean = {k: v for k, v in os.environ.items() if not k.startswith(('GITHUB_', 'GITLAB_', 'CI_', 'REVIEWBOT_'))}
    clean.update(PYTHONPATH=str(ROOT), RUNNER_TEMP=str(runner), ARTIFACT_DIR=str(tmp_path / 'artifact'),
                 GITHUB_TOKEN='ghs_actions', PR_NUMBER='7', REVIEWED_COMMIT=reviewed_commit,
                 MAP_MOVED_HEAD=map_moved, GITHUB_REPOSITORY='acme/app', GITHUB_API_URL=fake.base_url)
    # GitHub runs `run:` with bash -e {0}
    return subprocess.run(['bash', '--noprofile', '--norc', '-eo', 'pipefail', '-c', step['run']], env=clean,
                          cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def fake(tmp_path: Path):
    artifact = tmp_path / 'artifact'
    artifact.mkdir()
    diff = b'diff --git a/src/app.py b/src/app.py\n' + FILES['src/app.py'].encode()
    r = Report(stale_findings(), Coverage(), reviewed=Reviewed(HEAD1, 'b' * 40, hashlib.sha256(diff).hexdigest()))
    (artifact / 'report.json').write_text(json.dumps(r.to_dict()), encoding='utf-8')
    with FakeGitHub() as server:
        server.add_user('ghs_actions', 'github-actions[bot]', type='Bot')  # /user is refused to it
        server.add_repo('acme', 'app')
        server.add_pull('acme/app', 7, HEAD1, FILES, status={'src/util.py': 'added'})
        yield server


def test_the_step_posts_a_report_of_the_current_head(tmp_path: Path, fake: FakeGitHub) -> None:
    proc = run_step(tmp_path, fake, HEAD1)
    assert proc.returncode == 0, proc.stderr
    pull = fake.repos['acme/app'].pulls[7]
    assert len(pull.review_comments) == 5 and len(pull.issue_comments) == 1
    assert {c['commit_id'] for c in pull.review_comments} == {HEAD1}


def test_the_step_refuses_a_report_of_an_older_head_unless_told_to_map_it(tmp_path: Path, fake: FakeGitHub) -> None:
    fake.push('acme/app', 7, HEAD2, FILES_PLUS5)
    refused = run_step(tmp_path, fake, HEAD1)
    pull = fake.repos['acme/app'].pulls[7]
    assert refused.returncode == 0, refused.stderr  # a notice, not a failure: the newer run posts
    assert '::notice::PR #7 has moved on since this review' in refused.stdout
    assert 'head moved from aaaaaaaaaaaa' in refused.stderr
    assert not pull.review_comments and not pull.issue_comments

    mapped = run_step(tmp_path, fake, HEAD1, map_moved='true')
    assert mapped.returncode == 0, mapped.stderr
    by_fp = {f.fingerprint: f for f in stale_findings()}
    assert len(pull.review_comments) == 5
    for c in pull.review_comments:
        line = c['start_line'] or c['line']
        assert holds(code_at(FILES_PLUS5, c['path'], line), by_fp[parse_marker(c['body']).fingerprint].anchored_code)


def test_the_step_fails_on_a_report_of_another_commit_than_the_run(tmp_path: Path, fake: FakeGitHub) -> None:
    proc = run_step(tmp_path, fake, 'd' * 40)
    assert proc.returncode == 2 and 'not dddddddddddd as expected' in proc.stderr
    assert not fake.repos['acme/app'].pulls[7].review_comments
