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
    assert proc.returncode == 2 and 'Traceback' not in proc.stderr
    assert proc.stderr == 'reviewbot: GitHub acme/app#99: cannot read the diff: not found (HTTP 404)\n'
    assert bad_token.returncode == 2
    assert bad_token.stderr == 'reviewbot: GitHub acme/app#99: cannot read the diff: bad credentials (HTTP 401)\n'


def test_api_errors_are_words_never_raw_json(report_file: Path, tmp_path: Path) -> None:
    diff = tmp_path / 'pr.diff'
    diff.write_text('diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n')
    with FakeGitHub() as fake:
        fake.add_user('ghp_x', 'bot')
        fake.add_repo('acme', 'app')
        fake.add_pull('acme/app', 1, 'a' * 40, FILES)
        args = ['--report', str(report_file), '--github-pr', '1', '--repo', 'acme/app',
                '--github-api-url', fake.base_url]
        bad = run_cli(args + ['--diff', str(diff)], {'GITHUB_TOKEN': 'wrong'})
    with FakeGitLab() as gl:
        gl.add_user('glpat-x', 'bot')
        gl.add_project(42, 'acme/app')
        glbad = run_cli(['--report', str(report_file), '--gitlab-mr', '3', '--project', '42',
                         '--gitlab-url', gl.base_url],
                        {'GITLAB_TOKEN': 'glpat-x'})
    assert bad.returncode == 2 and bad.stderr == 'reviewbot: GitHub acme/app#1: bad credentials (HTTP 401)\n'
    assert glbad.returncode == 2 and len(glbad.stderr.splitlines()) == 1, glbad.stderr
    assert '{' not in glbad.stderr and 'not found (HTTP 404)' in glbad.stderr


def test_always_503_makes_exactly_attempts_requests_with_an_honest_message(report_file: Path) -> None:
    with FakeGitHub() as fake:
        fake.add_user('ghp_x', 'bot')
        fake.faults = Faults(rate=1.0, kinds=('503',))
        proc = run_cli(['--report', str(report_file), '--github-pr', '7', '--repo', 'acme/app',
                        '--github-api-url', fake.base_url, '--attempts', '5', '--max-wait', '5',
                        '--backoff', '0.01'], {'GITHUB_TOKEN': 'ghp_x'})
        paths = [r.path for r in fake.requests]
    assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1, proc.stderr
    assert paths == [paths[0]] * 5
    assert 'HTTP 503 on all 5 attempts; waited 0.01s, 0.02s, 0.04s, 0.08s between them (backoff)' in proc.stderr
    assert 'asks to wait' not in proc.stderr


def _stale_report(tmp_path: Path) -> tuple[Path, Path]:
    from reviewbot.core import Reviewed
    from tests.publish.helpers import stale_findings
    diff = tmp_path / 'head1.diff'
    diff.write_bytes(b'diff --git a/src/app.py b/src/app.py\n--- a/src/app.py\n+++ b/src/app.py\n'
                     + FILES['src/app.py'].encode())
    import hashlib
    r = Report(stale_findings(), Coverage(),
               reviewed=Reviewed('a' * 40, 'b' * 40, hashlib.sha256(diff.read_bytes()).hexdigest()))
    path = tmp_path / 'stale.json'
    path.write_text(json.dumps(r.to_dict()), encoding='utf-8')
    return path, diff


@pytest.mark.parametrize('forge', ['github', 'gitlab'])
def test_a_report_of_an_older_head_is_refused_with_exit_4_or_mapped(tmp_path: Path, forge: str) -> None:
    from tests.publish.helpers import FILES_PLUS5, code_at, holds, stale_findings
    report, diff = _stale_report(tmp_path)
    server = FakeGitHub() if forge == 'github' else FakeGitLab()
    with server as fake:
        if forge == 'github':
            fake.add_user('ghp_x', 'bot')
            fake.add_repo('acme', 'app')
            fake.add_pull('acme/app', 7, 'a' * 40, FILES, status={'src/util.py': 'added'})
            fake.push('acme/app', 7, 'c' * 40, FILES_PLUS5)
            args = ['--report', str(report), '--github-pr', '7', '--repo', 'acme/app',
                    '--github-api-url', fake.base_url]
            env = {'GITHUB_TOKEN': 'ghp_x'}
        else:
            fake.add_user('glpat-x', 'bot')
            fake.add_project(42, 'acme/app')
            fake.add_mr(42, 3, 'a' * 40, FILES, new_files={'src/util.py'})
            fake.push(42, 3, 'c' * 40, FILES_PLUS5)
            args = ['--report', str(report), '--gitlab-mr', '3', '--project', '42', '--gitlab-url', fake.base_url]
            env = {'GITLAB_TOKEN': 'glpat-x'}
        refused = run_cli(args, env)
        refused_with_diff = run_cli(args + ['--diff', str(diff)], env)
        writes_before = [m for m, _, _ in fake.log if m != 'GET']
        mapped = run_cli(args + ['--map-moved-head'], env)
        if forge == 'github':
            pull = fake.repos['acme/app'].pulls[7]
            placed = [(c['path'], c['start_line'] or c['line'], c['body']) for c in pull.review_comments]
        else:
            mr = fake.projects[42].mrs[3]
            placed = [(n['position']['new_path'], n['position']['new_line'], n['body'])
                      for n in mr.notes if n['type'] == 'DiffNote']
    for proc in (refused, refused_with_diff):
        assert proc.returncode == 4, proc.stderr
        assert len(proc.stderr.splitlines()) == 1 and 'head moved from aaaaaaaaaaaa' in proc.stderr
    assert writes_before == []
    assert mapped.returncode == 0, mapped.stderr
    by_fp = {f.fingerprint: f for f in stale_findings()}
    assert len(placed) == 5
    for path, line, body in placed:
        f = by_fp[parse_marker(body).fingerprint]
        code = f.anchored_code if forge == 'github' else f.anchored_code.split('\n')[-1]
        assert holds(code_at(FILES_PLUS5, path, line), code), (path, line)


def test_a_diff_that_is_not_the_reviewed_one_is_refused(tmp_path: Path) -> None:
    report, diff = _stale_report(tmp_path)
    diff.write_bytes(diff.read_bytes() + b' # end\n')
    proc = run_cli(['--report', str(report), '--github-pr', '7', '--repo', 'acme/app', '--diff', str(diff)],
                   {'GITHUB_TOKEN': 'x'})
    assert proc.returncode == 2 and 'is not the one the report was computed on' in proc.stderr
    both = run_cli(['--report', str(report), '--github-pr', '7', '--repo', 'acme/app', '--diff', str(diff),
                    '--map-moved-head'], {'GITHUB_TOKEN': 'x'})
    assert both.returncode == 2 and 'leave out --diff' in both.stderr


@pytest.mark.parametrize('kind', ['403-forbidden', '503'])
def test_raw_json_never_reaches_stderr(report_file: Path, kind: str) -> None:
    with FakeGitHub() as fake:
        fake.add_user('ghp_x', 'bot')
        fake.add_repo('acme', 'app')
        fake.add_pull('acme/app', 7, 'a' * 40, FILES)
        fake.faults = Faults(rate=1.0, kinds=(kind,), only_methods=('POST',))
        proc = run_cli(['--report', str(report_file), '--github-pr', '7', '--repo', 'acme/app',
                        '--github-api-url', fake.base_url, '--attempts', '2', '--backoff', '0'],
                       {'GITHUB_TOKEN': 'ghp_x'})
    assert proc.returncode == 3, proc.stderr
    assert '{' not in proc.stderr and '"message"' not in proc.stderr
    assert ('resource not accessible by integration (HTTP 403)' if kind == '403-forbidden'
            else 'HTTP 503 on all 2 attempts') in proc.stderr
