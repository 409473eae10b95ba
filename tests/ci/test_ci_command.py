"""`reviewbot ci` in simulated GitHub Actions and GitLab CI jobs: the environment variables and event
payloads the platforms give, and real git histories for base and head."""
from __future__ import annotations

import dataclasses
import html
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from reviewbot.core import Report
from tests.conftest import REPO_ROOT, GitRepo
from tests.hook.conftest import AWS_KEY_LINE, GITHUB_TOKEN_LINE, REVIEWBOT_TOML

_CI_PREFIXES = ('GITHUB_', 'GITLAB_', 'CI_', 'RUNNER_', 'REVIEWBOT_', 'PRE_COMMIT')


def ci_env(**extra: str) -> dict[str, str]:
    """This process's environment without any real CI's variables, plus the simulated ones."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(_CI_PREFIXES) and k not in ('CI', 'GITLAB_CI', 'GITHUB_ACTIONS', 'SKIP',
                                                           'GH_TOKEN', 'GITHUB_TOKEN')}
    env['PYTHONPATH'] = str(REPO_ROOT) + os.pathsep + env.get('PYTHONPATH', '')
    env.update(extra)
    return env


def run_ci(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-m', 'reviewbot', 'ci', *args], cwd=cwd,
                          capture_output=True, env=ci_env(**env), timeout=300)


@dataclasses.dataclass
class PullRequest:
    repo: GitRepo
    base: str  # the base branch's tip when the PR event fired
    head: str  # the PR branch's tip
    merge_base: str
    merge: str  # the test-merge commit GitHub checks out for pull_request (GITHUB_SHA)


@pytest.fixture
def pr(tmp_path: Path) -> PullRequest:
    """main: base; feature: adds leak.py (secret on line 2) and edits app.py; then main moves on with
    a secret of its own, which is not part of the pull request and must not be reported."""
    repo = GitRepo(tmp_path / 'clone')
    repo.write('.reviewbot.toml', REVIEWBOT_TOML)
    repo.write('app.py', 'def main():\n    return 1\n')
    merge_base = repo.commit('base')
    repo.git('checkout', '-q', '-b', 'feature')
    repo.write('app.py', 'def main():\n    return 2\n')
    repo.write('leak.py', 'import os\n' + AWS_KEY_LINE)
    head = repo.commit('feature work')
    repo.git('checkout', '-q', 'main')
    repo.write('main_only.py', GITHUB_TOKEN_LINE)
    base = repo.commit('main moves on')
    repo.git('checkout', '-q', '--detach', base)
    repo.git('merge', '-q', '--no-ff', '-m', 'Merge feature into main', head)
    merge = repo.git('rev-parse', 'HEAD').strip()
    return PullRequest(repo, base, head, merge_base, merge)


def github_pr_env(pr: PullRequest, tmp_path: Path, event: str = 'pull_request',
                  head_repo: str = 'contributor/widgets') -> dict[str, str]:
    payload = {
        'action': 'synchronize',
        'number': 7,
        'pull_request': {
            'number': 7,
            'draft': False,
            'base': {'ref': 'main', 'sha': pr.base,
                     'repo': {'full_name': 'acme/widgets', 'private': True, 'visibility': 'private'}},
            'head': {'ref': 'feature', 'sha': pr.head,
                     'repo': {'full_name': head_repo, 'private': False, 'visibility': 'public'}},
        },
        'repository': {'full_name': 'acme/widgets', 'private': True, 'visibility': 'private',
                       'default_branch': 'main'},
    }
    event_path = tmp_path / 'event.json'
    event_path.write_text(json.dumps(payload))
    return {
        'CI': 'true', 'GITHUB_ACTIONS': 'true', 'GITHUB_EVENT_NAME': event,
        'GITHUB_EVENT_PATH': str(event_path), 'GITHUB_REPOSITORY': 'acme/widgets',
        'GITHUB_SHA': pr.merge, 'GITHUB_REF': 'refs/pull/7/merge', 'GITHUB_HEAD_REF': 'feature',
        'GITHUB_BASE_REF': 'main', 'GITHUB_WORKSPACE': str(pr.repo.path),
        'GITHUB_API_URL': 'http://127.0.0.1:9', 'GITHUB_SERVER_URL': 'http://127.0.0.1:9',
        'GITHUB_STEP_SUMMARY': str(tmp_path / 'step_summary.md'), 'RUNNER_TEMP': str(tmp_path),
    }


def test_github_pull_request_annotations_summary_sarif_json(pr: PullRequest, tmp_path: Path, official):
    env = github_pr_env(pr, tmp_path)
    summary = Path(env['GITHUB_STEP_SUMMARY'])
    summary.write_text('earlier step\n')  # the summary is appended to, never replaced
    proc = run_ci(pr.repo.path, '--sarif', str(tmp_path / 'r.sarif'), '--json', str(tmp_path / 'r.json'), **env)
    out, err = proc.stdout.decode(), proc.stderr.decode()
    assert proc.returncode == 1, out + err
    assert 'pull request #7' in err
    annotations = [ln for ln in out.splitlines() if ln.startswith('::error ')]
    assert len(annotations) == 1
    assert annotations[0].startswith('::error file=leak.py,line=2,')
    assert 'secret/aws-access-key' in annotations[0]
    assert 'main_only.py' not in out  # on the base branch only: not in merge-base..head

    text = html.unescape(summary.read_text())  # the summary escapes Markdown as character references
    assert text.startswith('earlier step\n') and '## reviewbot review' in text and 'leak.py' in text

    log = json.loads((tmp_path / 'r.sarif').read_text())
    official.validate(log)
    (result,) = log['runs'][0]['results']
    loc = result['locations'][0]['physicalLocation']
    assert loc['artifactLocation']['uri'] == 'leak.py' and loc['region']['startLine'] == 2
    assert result['level'] == 'error'

    report = Report.from_dict(json.loads((tmp_path / 'r.json').read_text()))
    assert [(f.path, f.line, f.category) for f in report.findings] == [('leak.py', 2, 'secret/aws-access-key')]
    assert report.coverage.files_reviewed == 2  # app.py and leak.py


def test_github_clean_pull_request_passes(tmp_path: Path, official):
    repo = GitRepo(tmp_path / 'clone')
    repo.write('.reviewbot.toml', REVIEWBOT_TOML)
    base = repo.commit('base')
    repo.write('ok.py', 'x = 1\n')
    head = repo.commit('clean')
    pr = PullRequest(repo, base, head, base, head)
    env = github_pr_env(pr, tmp_path)
    proc = run_ci(repo.path, '--sarif', str(tmp_path / 'r.sarif'), **env)
    assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()
    assert '::error' not in proc.stdout.decode()
    log = json.loads((tmp_path / 'r.sarif').read_text())
    official.validate(log)
    assert log['runs'][0]['results'] == []
    assert '## reviewbot review' in Path(env['GITHUB_STEP_SUMMARY']).read_text()


def test_github_fail_level_none_still_writes_everything(pr: PullRequest, tmp_path: Path):
    env = github_pr_env(pr, tmp_path)
    proc = run_ci(pr.repo.path, '--fail-level', 'none', '--json', str(tmp_path / 'r.json'), **env)
    assert proc.returncode == 0
    assert '::error file=leak.py' in proc.stdout.decode()
    assert json.loads((tmp_path / 'r.json').read_text())['findings']


def test_github_pull_request_target_reviews_the_same_range(pr: PullRequest, tmp_path: Path):
    env = github_pr_env(pr, tmp_path, event='pull_request_target')
    proc = run_ci(pr.repo.path, **env)
    assert proc.returncode == 1
    assert '::error file=leak.py,line=2,' in proc.stdout.decode()


def test_github_push_event(pr: PullRequest, tmp_path: Path):
    payload = {'ref': 'refs/heads/feature', 'before': pr.merge_base, 'after': pr.head,
               'repository': {'full_name': 'acme/widgets', 'default_branch': 'main'}}
    (tmp_path / 'push.json').write_text(json.dumps(payload))
    env = github_pr_env(pr, tmp_path)
    env.update(GITHUB_EVENT_NAME='push', GITHUB_EVENT_PATH=str(tmp_path / 'push.json'), GITHUB_SHA=pr.head)
    proc = run_ci(pr.repo.path, **env)
    assert proc.returncode == 1
    assert '::error file=leak.py,line=2,' in proc.stdout.decode()
    assert 'main_only.py' not in proc.stdout.decode()


def test_github_event_without_a_diff_is_an_error(pr: PullRequest, tmp_path: Path):
    env = github_pr_env(pr, tmp_path, event='workflow_dispatch')
    proc = run_ci(pr.repo.path, **env)
    assert proc.returncode == 2
    err = proc.stderr.decode().strip()
    assert len(err.splitlines()) == 1 and "'workflow_dispatch'" in err


def test_shallow_checkout_says_fetch_depth_0(pr: PullRequest, tmp_path: Path):
    shallow = tmp_path / 'shallow'
    subprocess.run(['git', 'clone', '-q', '--depth', '1', '--branch', 'feature',
                    f'file://{pr.repo.path}', str(shallow)], check=True)
    env = github_pr_env(pr, tmp_path)
    proc = run_ci(shallow, **env)
    assert proc.returncode == 2
    err = proc.stderr.decode().strip()
    assert len(err.splitlines()) == 1 and 'Traceback' not in err
    assert 'not in this clone' in err and 'shallow' in err and 'fetch-depth: 0' in err


def test_outside_ci_says_so_and_exits_2(pr: PullRequest):
    proc = run_ci(pr.repo.path)
    assert proc.returncode == 2
    err = proc.stderr.decode().strip()
    assert len(err.splitlines()) == 1 and 'not running in a known CI' in err
    assert proc.stdout == b''


def test_publish_is_an_opt_in_hook_point(pr: PullRequest, tmp_path: Path):
    env = github_pr_env(pr, tmp_path)
    proc = run_ci(pr.repo.path, '--publish', **env)
    assert proc.returncode == 2
    err = proc.stderr.decode().strip()
    assert len(err.splitlines()) == 1 and 'Traceback' not in err
    if importlib.util.find_spec('reviewbot.publish') is None:
        assert 'reviewbot.publish is not installed' in err
    else:  # no token in this job: it says which one to give
        assert 'token' in err


def gitlab_mr_env(pr: PullRequest, **extra: str) -> dict[str, str]:
    env = {
        'CI': 'true', 'GITLAB_CI': 'true', 'CI_PIPELINE_SOURCE': 'merge_request_event',
        'CI_SERVER_URL': 'http://127.0.0.1:9', 'CI_API_V4_URL': 'http://127.0.0.1:9/api/v4',
        'CI_PROJECT_ID': '42', 'CI_PROJECT_PATH': 'acme/widgets', 'CI_PROJECT_VISIBILITY': 'private',
        'CI_MERGE_REQUEST_IID': '12', 'CI_MERGE_REQUEST_PROJECT_ID': '42',
        'CI_MERGE_REQUEST_SOURCE_PROJECT_ID': '42', 'CI_MERGE_REQUEST_DIFF_BASE_SHA': pr.merge_base,
        'CI_MERGE_REQUEST_TARGET_BRANCH_NAME': 'main', 'CI_MERGE_REQUEST_SOURCE_BRANCH_NAME': 'feature',
        'CI_COMMIT_SHA': pr.head, 'CI_JOB_TOKEN': 'job-token-not-for-comments',
    }
    env.update(extra)
    return env


def test_gitlab_merge_request_pipeline(pr: PullRequest, tmp_path: Path):
    summary = tmp_path / 'not-github.md'
    proc = run_ci(pr.repo.path, '--json', str(tmp_path / 'r.json'),
                  **gitlab_mr_env(pr, GITHUB_STEP_SUMMARY=str(summary)))
    out, err = proc.stdout.decode(), proc.stderr.decode()
    assert proc.returncode == 1, out + err
    assert 'merge request !12' in err
    assert 'leak.py:2: error' in out and '::' not in out  # no GitHub workflow commands on GitLab
    assert 'main_only.py' not in out
    assert not summary.exists()
    report = Report.from_dict(json.loads((tmp_path / 'r.json').read_text()))
    assert [(f.path, f.line) for f in report.findings] == [('leak.py', 2)]


def test_gitlab_merged_results_pipeline_reviews_the_source_branch(pr: PullRequest, tmp_path: Path):
    # CI_COMMIT_SHA is GitLab's merge commit there; main's own secret must still not be reviewed
    env = gitlab_mr_env(pr, CI_COMMIT_SHA=pr.merge, CI_MERGE_REQUEST_SOURCE_BRANCH_SHA=pr.head,
                        CI_MERGE_REQUEST_EVENT_TYPE='merged_result')
    proc = run_ci(pr.repo.path, **env)
    assert proc.returncode == 1
    assert 'leak.py:2: error' in proc.stdout.decode() and 'main_only.py' not in proc.stdout.decode()


def test_gitlab_branch_pipeline_is_not_reviewable(pr: PullRequest):
    env = gitlab_mr_env(pr, CI_PIPELINE_SOURCE='push')
    for k in ('CI_MERGE_REQUEST_IID', 'CI_MERGE_REQUEST_PROJECT_ID', 'CI_MERGE_REQUEST_DIFF_BASE_SHA'):
        env.pop(k)
    proc = run_ci(pr.repo.path, **env)
    assert proc.returncode == 2
    assert b'merge_request_event' in proc.stderr


def test_gitlab_publish_refuses_the_job_token(pr: PullRequest):
    if importlib.util.find_spec('reviewbot.publish') is None:
        pytest.skip('reviewbot.publish is not in this checkout yet')
    proc = run_ci(pr.repo.path, '--publish', **gitlab_mr_env(pr))
    assert proc.returncode == 2
    assert b'CI_JOB_TOKEN cannot comment' in proc.stderr


def test_pull_request_target_without_the_head_commit_says_what_to_fetch(pr: PullRequest, tmp_path: Path):
    base_only = tmp_path / 'base-only'
    subprocess.run(['git', 'clone', '-q', '--single-branch', '--branch', 'main',
                    f'file://{pr.repo.path}', str(base_only)], check=True)
    env = github_pr_env(pr, tmp_path, event='pull_request_target')
    proc = run_ci(base_only, **env)
    assert proc.returncode == 2
    err = proc.stderr.decode().strip()
    assert len(err.splitlines()) == 1
    assert f'head commit {pr.head[:12]} is not in this clone' in err and 'refs/pull/7/head' in err


def _patches(pr: PullRequest) -> dict[str, str]:
    """The PR's files as GitHub's API gives them (path -> hunks), from the real history."""
    out = {}
    for path in ('app.py', 'leak.py'):
        diff = pr.repo.git('diff', '--no-color', f'{pr.merge_base}..{pr.head}', '--', path)
        out[path] = diff[diff.index('@@'):]
    return out


def test_publish_posts_the_review_through_reviewbot_publish(pr: PullRequest, tmp_path: Path):
    """The --publish hook point against the loopback fake GitHub API (when reviewbot.publish and its
    fake server are in this checkout)."""
    if importlib.util.find_spec('reviewbot.publish') is None:
        pytest.skip('reviewbot.publish is not in this checkout yet')
    fakes = pytest.importorskip('tests.fakes.github_api')
    with fakes.FakeGitHub() as fake:
        fake.add_user('ghp_test', 'reviewbot-bot')
        fake.add_repo('acme', 'widgets', private=True)
        fake.add_pull('acme/widgets', 7, pr.head, _patches(pr), base_sha=pr.base,
                      status={'leak.py': 'added', 'app.py': 'modified'})
        env = github_pr_env(pr, tmp_path)
        env.update(GITHUB_TOKEN='ghp_test', GITHUB_API_URL=fake.base_url)
        proc = run_ci(pr.repo.path, '--publish', **env)
        pull = fake.repos['acme/widgets'].pulls[7]
    assert proc.returncode == 1, proc.stderr.decode()  # the secret still fails the check
    assert '1 inline comment(s) posted' in proc.stderr.decode()
    (comment,) = pull.review_comments
    assert comment['path'] == 'leak.py' and comment['line'] == 2


def test_publish_refuses_when_a_push_landed_during_the_review(pr: PullRequest, tmp_path: Path):
    """The PR's head moved on while the review ran: nothing is posted on the new head's lines."""
    if importlib.util.find_spec('reviewbot.publish') is None:
        pytest.skip('reviewbot.publish is not in this checkout yet')
    fakes = pytest.importorskip('tests.fakes.github_api')
    with fakes.FakeGitHub() as fake:
        fake.add_user('ghp_test', 'reviewbot-bot')
        fake.add_repo('acme', 'widgets', private=True)
        patches = _patches(pr)
        fake.add_pull('acme/widgets', 7, pr.head, patches, base_sha=pr.base,
                      status={'leak.py': 'added', 'app.py': 'modified'})
        moved = dict(patches, **{'leak.py': '@@ -0,0 +1,3 @@\n+import sys\n' + patches['leak.py'].split('\n', 1)[1]})
        fake.push('acme/widgets', 7, 'e' * 40, moved)
        env = github_pr_env(pr, tmp_path)
        env.update(GITHUB_TOKEN='ghp_test', GITHUB_API_URL=fake.base_url)
        proc = run_ci(pr.repo.path, '--publish', **env)
        pull = fake.repos['acme/widgets'].pulls[7]
    err = proc.stderr.decode()
    assert proc.returncode == 1, err  # the secret still fails the check
    assert 'the head moved from' in err and 'not publishing' in err
    assert not pull.review_comments and not pull.issue_comments
