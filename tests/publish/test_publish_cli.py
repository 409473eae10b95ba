"""`reviewbot publish` as a subprocess against the fake GitHub and GitLab servers (diff fetched from the API)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from reviewbot.core import Coverage, Report
from reviewbot.publish.markers import parse_marker
from tests.fakes.github_api import FakeGitHub
from tests.fakes.gitlab_api import FakeGitLab
from tests.fakes.http import Faults
from tests.publish.helpers import FILES, sample_findings

ROOT = Path(__file__).resolve().parents[2]


def run_cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(('GITHUB_', 'GITLAB_', 'CI_'))}
    clean.update(env, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, '-m', 'reviewbot', 'publish', *args], env=clean, cwd=ROOT, check=False,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def report_file(tmp_path: Path) -> Path:
    path = tmp_path / 'report.json'
    path.write_text(json.dumps(Report(sample_findings(), Coverage()).to_dict()), encoding='utf-8')
    return path


def test_github_pr_with_the_diff_fetched_from_the_api(report_file: Path) -> None:
    with FakeGitHub() as fake:
        fake.add_user('ghp_x', 'bot')
        fake.add_repo('acme', 'app')
        fake.add_pull('acme/app', 7, 'a' * 40, FILES, status={'src/util.py': 'added'})
        env = {'GITHUB_TOKEN': 'ghp_x', 'GITHUB_API_URL': fake.base_url}
        first = run_cli(['--report', str(report_file), '--github-pr', '7', '--repo', 'acme/app'], env)
        second = run_cli(['--report', str(report_file), '--github-pr', '7', '--repo', 'acme/app'], env)
        pull = fake.repos['acme/app'].pulls[7]
    assert first.returncode == 0, first.stderr
    assert '4 inline comment(s) posted' in first.stdout
    assert second.returncode == 0 and '0 inline comment(s) posted, 4 already present' in second.stdout
    assert len(pull.review_comments) == 4 and len(pull.issue_comments) == 1


def test_gitlab_mr_from_ci_variables(report_file: Path, tmp_path: Path) -> None:
    with FakeGitLab() as fake:
        fake.add_user('glpat-x', 'bot')
        fake.add_project(42, 'acme/app')
        fake.add_mr(42, 3, 'a' * 40, FILES, new_files={'src/util.py'})
        env = {'GITLAB_TOKEN': 'glpat-x', 'CI_API_V4_URL': fake.base_url, 'CI_PROJECT_ID': '42'}
        proc = run_cli(['--report', str(report_file), '--gitlab-mr', '3'], env)
        mr = fake.projects[42].mrs[3]
    assert proc.returncode == 0, proc.stderr
    diff_notes = [n for n in mr.notes if n['type'] == 'DiffNote']
    assert len(diff_notes) == 4 and all(parse_marker(n['body']) for n in diff_notes)


def test_what_could_not_be_posted_is_named_and_exit_is_non_zero(report_file: Path) -> None:
    with FakeGitHub() as fake:
        fake.add_user('ghp_x', 'bot')
        fake.add_repo('acme', 'app')
        fake.add_pull('acme/app', 7, 'a' * 40, FILES)
        fake.faults = Faults(rate=1.0, kinds=('503',), only_methods=('POST',))
        proc = run_cli(['--report', str(report_file), '--github-pr', '7', '--repo', 'acme/app',
                        '--github-api-url', fake.base_url, '--attempts', '1'], {'GITHUB_TOKEN': 'ghp_x'})
    assert proc.returncode == 3
    assert proc.stderr.count('NOT POSTED') == len(sample_findings()) + 1  # + the summary itself
    for f in sample_findings():
        assert f.fingerprint in proc.stderr


@pytest.mark.parametrize('content, message', [
    ('{not json', 'is not a reviewbot JSON report'),
    ('{"schema_version": 99, "findings": []}', 'unsupported report schema_version'),
])
def test_a_bad_report_is_one_line(tmp_path: Path, content: str, message: str) -> None:
    bad = tmp_path / 'r.json'
    bad.write_text(content)
    proc = run_cli(['--report', str(bad), '--github-pr', '1', '--repo', 'a/b'], {'GITHUB_TOKEN': 'x'})
    assert proc.returncode == 2 and message in proc.stderr
    assert 'Traceback' not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_missing_token_and_target_are_usage_errors(report_file: Path) -> None:
    no_token = run_cli(['--report', str(report_file), '--github-pr', '1', '--repo', 'a/b'], {})
    assert no_token.returncode == 2 and 'GITHUB_TOKEN' in no_token.stderr
    both = run_cli(['--report', str(report_file), '--github-pr', '1', '--gitlab-mr', '2'], {})
    assert both.returncode == 2 and 'exactly one' in both.stderr


def test_an_api_error_is_one_line(report_file: Path) -> None:
    with FakeGitHub() as fake:
        fake.add_user('ghp_x', 'bot')
        fake.add_repo('acme', 'app')
        proc = run_cli(['--report', str(report_file), '--github-pr', '99', '--repo', 'acme/app',
                        '--github-api-url', fake.base_url], {'GITHUB_TOKEN': 'ghp_x'})
        bad_token = run_cli(['--report', str(report_file), '--github-pr', '99', '--repo', 'acme/app',
                             '--github-api-url', fake.base_url], {'GITHUB_TOKEN': 'wrong'})
    assert proc.returncode == 2 and 'Not Found' in proc.stderr and 'Traceback' not in proc.stderr
    assert bad_token.returncode == 2 and 'Bad credentials' in bad_token.stderr
