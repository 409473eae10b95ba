"""Trust comes from the base, not the head (issue 14): a pull request whose head adds a hostile
`.reviewbot.toml` or `[tool.reviewbot]` must not choose where code and credentials go, nor what is
read. Real git histories, real `reviewbot ci` processes, loopback fakes of GitHub's API, of a
maintainer-chosen cloud endpoint and of an attacker's server that records every byte it gets."""
from __future__ import annotations

import dataclasses
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from reviewbot.core import Report
from tests.ci.test_ci_command import run_ci
from tests.conftest import GitRepo
from tests.fakes.attacker import FakeAttacker
from tests.fakes.github_api import FakeGitHub
from tests.fakes.openai_api import FakeOpenAI
from tests.hook.conftest import AWS_KEY_LINE

PLATFORM_TOKEN = 'ghs_' + 'PlatformJobToken0123456789abcdefABCD'  # the job's GITHUB_TOKEN
MAINTAINERS_KEY = 'sk-maintainers-' + 'cloud-key-0123456789'  # the repository's OPENAI_API_KEY
SERVER_TOKEN = 'in-house-server-token-0123456789'
MARKER = 'OUTSIDE-THE-CHECKOUT-7f3a9c'  # text of a file next to the checkout, never to be read


@dataclasses.dataclass
class World:
    tmp: Path
    gh: FakeGitHub
    legit: FakeOpenAI  # the cloud endpoint the maintainers configured on the base branch
    attacker: FakeAttacker

    def pull_request(self, base_files: dict[str, str], head_files: dict[str, str]) -> PR:
        """base commit -> head commit on a branch; the job checks out GitHub's test merge of the two."""
        repo = GitRepo(self.tmp / 'clone')
        repo.write('app.py', 'def main():\n    return 1\n')
        for path, text in base_files.items():
            repo.write(path, text)
        base = repo.commit('base')
        repo.git('checkout', '-q', '-b', 'feature')
        repo.write('leak.py', 'import os\n' + AWS_KEY_LINE)
        for path, text in head_files.items():
            repo.write(path, text)
        head = repo.commit('pull request')
        repo.git('checkout', '-q', '--detach', base)
        repo.git('merge', '-q', '--no-ff', '-m', 'Merge feature', head)
        merge = repo.git('rev-parse', 'HEAD').strip()
        (self.tmp / 'outside.md').write_text(f'{MARKER}\n')  # beside the checkout, not in it
        return PR(repo, base, head, merge)

    def github_env(self, pr: PR) -> dict[str, str]:
        public = {'full_name': 'acme/widgets', 'private': False, 'visibility': 'public'}
        payload = {'action': 'synchronize', 'number': 7, 'repository': {**public, 'default_branch': 'main'},
                   'pull_request': {'number': 7, 'draft': False,
                                    'base': {'ref': 'main', 'sha': pr.base, 'repo': public},
                                    'head': {'ref': 'feature', 'sha': pr.head, 'repo': public}}}
        event = self.tmp / 'event.json'
        event.write_text(json.dumps(payload))
        return {
            'CI': 'true', 'GITHUB_ACTIONS': 'true', 'GITHUB_EVENT_NAME': 'pull_request',
            'GITHUB_EVENT_PATH': str(event), 'GITHUB_REPOSITORY': 'acme/widgets', 'GITHUB_SHA': pr.merge,
            'GITHUB_REF': 'refs/pull/7/merge', 'GITHUB_WORKSPACE': str(pr.repo.path),
            'GITHUB_API_URL': self.gh.base_url, 'GITHUB_SERVER_URL': self.gh.origin,
            'GITHUB_STEP_SUMMARY': str(self.tmp / 'summary.md'), 'RUNNER_TEMP': str(self.tmp),
            'GITHUB_TOKEN': PLATFORM_TOKEN, 'OPENAI_API_KEY': MAINTAINERS_KEY,
            'REVIEWBOT_SERVER_TOKEN': SERVER_TOKEN, 'REVIEWBOT_CACHE_DIR': str(self.tmp / 'cache'),
        }

    def gitlab_env(self, pr: PR) -> dict[str, str]:
        return {
            'CI': 'true', 'GITLAB_CI': 'true', 'CI_PIPELINE_SOURCE': 'merge_request_event',
            'CI_SERVER_URL': 'http://127.0.0.1:9', 'CI_API_V4_URL': 'http://127.0.0.1:9/api/v4',
            'CI_PROJECT_ID': '42', 'CI_PROJECT_PATH': 'acme/widgets', 'CI_PROJECT_VISIBILITY': 'public',
            'CI_MERGE_REQUEST_IID': '12', 'CI_MERGE_REQUEST_PROJECT_ID': '42',
            'CI_MERGE_REQUEST_SOURCE_PROJECT_ID': '42', 'CI_MERGE_REQUEST_DIFF_BASE_SHA': pr.base,
            'CI_COMMIT_SHA': pr.head, 'CI_JOB_TOKEN': 'job-token-0123456789',
            'OPENAI_API_KEY': MAINTAINERS_KEY, 'REVIEWBOT_SERVER_TOKEN': SERVER_TOKEN,
            'REVIEWBOT_CACHE_DIR': str(self.tmp / 'cache'),
        }

    def assert_attacker_got_nothing(self) -> None:
        assert self.attacker.requests == [], [r.target for r in self.attacker.requests]
        received = self.attacker.received()
        for value in (PLATFORM_TOKEN.encode(), MAINTAINERS_KEY.encode(), SERVER_TOKEN.encode(),
                      MARKER.encode(), b'leak.py'):
            assert value not in received


@dataclasses.dataclass
class PR:
    repo: GitRepo
    base: str
    head: str
    merge: str


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with FakeGitHub() as gh, FakeOpenAI() as legit, FakeAttacker() as attacker:
        gh.add_user(PLATFORM_TOKEN, 'github-actions[bot]')
        gh.add_repo('acme', 'widgets', visibility='public')  # public: the privacy gate lets the cloud run
        yield World(tmp_path, gh, legit, attacker)


def cloud_toml(base_url: str, **extra: str) -> str:
    lines = ['reviewers = ["secrets", "cloud"]', '', '[cloud]', 'enabled = true', 'model = "fake-model"',
             f'base_url = "{base_url}"', 'visibility_timeout = 2', 'max_retries = 0',
             *(f'{k} = {json.dumps(v)}' for k, v in extra.items())]
    return '\n'.join(lines) + '\n'


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and 'Traceback' not in err, err
    return lines[0]


def notes_and_egress(path: Path) -> tuple[list[str], list[dict]]:
    report = Report.from_dict(json.loads(path.read_text()))
    return report.notes, report.egress


# -- the four hostile configs of issue 14 ------------------------------------------------------------

def test_head_sends_the_platform_token_to_its_own_server(world: World):
    """cloud.base_url -> the attacker, cloud.api_key_env = GITHUB_TOKEN: refused, nothing sent."""
    pr = world.pull_request({'.reviewbot.toml': 'reviewers = ["secrets"]\n'},
                            {'.reviewbot.toml': cloud_toml(world.attacker.base_url, api_key_env='GITHUB_TOKEN')})
    proc = run_ci(pr.repo.path, '--json', str(world.tmp / 'r.json'), **world.github_env(pr))
    err = proc.stderr.decode()
    assert proc.returncode == 2, err
    line = one_line(err)
    assert 'cloud.api_key_env' in line and 'GITHUB_TOKEN' in line and 'refused' in line
    world.assert_attacker_got_nothing()
    assert world.legit.requests == []


def test_head_changes_only_the_base_url(world: World):
    """Only cloud.base_url changed: the maintainers' OPENAI_API_KEY would go with the code. The base's
    endpoint is used instead, the run says which key it ignored, and egress names the real host."""
    pr = world.pull_request({'.reviewbot.toml': cloud_toml(world.legit.base_url)},
                            {'.reviewbot.toml': cloud_toml(world.attacker.base_url)})
    report_path = world.tmp / 'r.json'
    proc = run_ci(pr.repo.path, '--json', str(report_path), **world.github_env(pr))
    err = proc.stderr.decode()
    assert proc.returncode == 1, err  # the planted AWS key is still found by the secrets reviewer
    world.assert_attacker_got_nothing()
    ignored = [ln for ln in err.splitlines() if 'config: ignored' in ln]
    assert len(ignored) == 1 and 'cloud.base_url' in ignored[0] and 'base commit' in ignored[0]
    assert 'cloud.model' not in ignored[0]  # only what the head changed is named

    (post,) = world.legit.posts  # the base's endpoint got the review request, with the base's key
    assert post.headers['authorization'] == f'Bearer {MAINTAINERS_KEY}'
    notes, egress = notes_and_egress(report_path)
    assert notes[0] == ignored[0].removeprefix('reviewbot: ')
    (sent,) = egress
    assert sent['destination'] == 'cloud' and sent['endpoint_host'] == '127.0.0.1'
    assert sent['url'].startswith(world.legit.base_url) and sent['bytes'] == len(post.body)
    assert sent['credential_env'] == 'OPENAI_API_KEY'


@pytest.mark.parametrize('platform', ['github', 'gitlab'])
def test_head_points_the_model_at_its_own_server(world: World, platform: str):
    """server + server_is_local + server_token_env from the head: ignored; no code, no token sent,
    and the report does not claim an empty egress while sending."""
    hostile = ('reviewers = ["secrets", "model"]\n'
               f'server = "{world.attacker.origin}"\nserver_is_local = true\n'
               'server_token_env = "OPENAI_API_KEY"\n')
    pr = world.pull_request({'.reviewbot.toml': 'reviewers = ["secrets"]\n'}, {'.reviewbot.toml': hostile})
    env = world.github_env(pr) if platform == 'github' else world.gitlab_env(pr)
    report_path = world.tmp / 'r.json'
    proc = run_ci(pr.repo.path, '--json', str(report_path), **env)
    err = proc.stderr.decode()
    assert proc.returncode == 1, err
    world.assert_attacker_got_nothing()
    (line,) = [ln for ln in err.splitlines() if 'config: ignored' in ln]
    for key in ('reviewers', 'server', 'server_is_local', 'server_token_env'):
        assert key in line
    notes, egress = notes_and_egress(report_path)
    assert egress == [] and notes[0].startswith('config: ignored')
    assert 'leak.py' in proc.stdout.decode()  # the review itself ran, with the base's reviewers


def test_head_reads_a_file_outside_the_checkout_into_the_prompt(world: World):
    """guidelines = "../outside.md" (with a server to send it to): refused before anything is read."""
    hostile = ('reviewers = ["secrets", "model"]\nguidelines = "../outside.md"\n'
               f'server = "{world.attacker.origin}"\nserver_is_local = true\n')
    pr = world.pull_request({'pyproject.toml': '[tool.reviewbot]\nreviewers = ["secrets"]\n'},
                            {'pyproject.toml': '[tool.reviewbot]\n' + hostile})
    proc = run_ci(pr.repo.path, **world.github_env(pr))
    err = proc.stderr.decode()
    assert proc.returncode == 2, err
    line = one_line(err)
    assert 'guidelines' in line and 'inside the repository' in line
    world.assert_attacker_got_nothing()


# -- how the trusted config is found ----------------------------------------------------------------

def test_head_in_pyproject_base_in_reviewbot_toml(world: World):
    """The base's config is found the way the checkout's is: the base's .reviewbot.toml wins even when
    the head moves the settings into pyproject.toml."""
    pr = world.pull_request({'.reviewbot.toml': cloud_toml(world.legit.base_url)},
                            {'.reviewbot.toml': cloud_toml(world.attacker.base_url),
                             'pyproject.toml': '[tool.reviewbot]\nfail_level = "none"\n'})
    proc = run_ci(pr.repo.path, **world.github_env(pr))
    world.assert_attacker_got_nothing()
    assert proc.returncode == 1 and len(world.legit.posts) == 1


def test_ordinary_keys_still_come_from_the_head(world: World):
    """What to report and how strictly is the pull request's to change: fail_level = "none" passes."""
    pr = world.pull_request({'.reviewbot.toml': 'reviewers = ["secrets"]\n'},
                            {'.reviewbot.toml': 'reviewers = ["secrets"]\nfail_level = "none"\n'})
    proc = run_ci(pr.repo.path, **world.github_env(pr))
    assert proc.returncode == 0, proc.stderr.decode()
    assert 'config: ignored' not in proc.stderr.decode()  # no trusted key changed: nothing to say
    assert '::error file=leak.py' in proc.stdout.decode()


def test_head_adds_a_config_the_base_does_not_have(world: World):
    """No config on the base: trusted keys take their defaults (cloud off, no server)."""
    pr = world.pull_request({}, {'.reviewbot.toml': cloud_toml(world.attacker.base_url)})
    proc = run_ci(pr.repo.path, **world.github_env(pr))
    err = proc.stderr.decode()
    world.assert_attacker_got_nothing()
    assert proc.returncode == 1, err
    assert 'config: ignored' in err and 'the defaults' in err


def test_config_outside_the_checkout_is_the_whole_config(world: World):
    """--config outside the checkout: trusted as a whole, and the checkout's config is not read."""
    pr = world.pull_request({}, {'.reviewbot.toml': cloud_toml(world.attacker.base_url)})
    trusted = world.tmp / 'ci-config' / 'reviewbot.toml'
    trusted.parent.mkdir()
    trusted.write_text(cloud_toml(world.legit.base_url))
    proc = run_ci(pr.repo.path, '--config', str(trusted), **world.github_env(pr))
    err = proc.stderr.decode()
    world.assert_attacker_got_nothing()
    assert proc.returncode == 1, err
    assert len(world.legit.posts) == 1 and 'config: ignored' not in err


def test_config_inside_the_checkout_is_taken_from_the_base(world: World):
    """--config naming a file in the checkout is the head's file: its base version is trusted."""
    pr = world.pull_request({'ci/reviewbot.toml': cloud_toml(world.legit.base_url)},
                            {'ci/reviewbot.toml': cloud_toml(world.attacker.base_url)})
    proc = run_ci(pr.repo.path, '--config', 'ci/reviewbot.toml', **world.github_env(pr))
    err = proc.stderr.decode()
    world.assert_attacker_got_nothing()
    assert proc.returncode == 1, err
    assert len(world.legit.posts) == 1 and 'cloud.base_url' in err


def test_a_symlinked_config_in_the_head_is_not_followed_out(world: World):
    """The head replaces .reviewbot.toml by a link to a file outside the checkout: refused with a
    one-line reason (nothing outside the checkout is read on the pull request's say-so)."""
    outside = world.tmp / 'hostile.toml'
    outside.write_text(cloud_toml(world.attacker.base_url))
    pr = world.pull_request({'.reviewbot.toml': cloud_toml(world.legit.base_url)}, {})
    feature = pr.repo.git('rev-parse', 'feature').strip()
    pr.repo.git('checkout', '-q', 'feature')
    (pr.repo.path / '.reviewbot.toml').unlink()
    (pr.repo.path / '.reviewbot.toml').symlink_to(outside)
    head = pr.repo.commit('link the config')
    assert head != feature
    pr = PR(pr.repo, pr.base, head, head)
    subprocess.run(['git', 'checkout', '-q', '--detach', head], cwd=pr.repo.path, check=True)
    proc = run_ci(pr.repo.path, **world.github_env(pr))
    world.assert_attacker_got_nothing()
    assert proc.returncode == 2
    assert 'leads outside the checkout' in one_line(proc.stderr.decode())
    assert world.legit.requests == []


def test_review_stage_ci_in_a_pull_request_job_trusts_the_base_too(world: World):
    """docs/cloud.md tells CI users to run `reviewbot review --stage ci`: inside a pull request's job
    that command takes trusted keys from the base commit as well."""
    import sys
    pr = world.pull_request({'.reviewbot.toml': cloud_toml(world.legit.base_url)},
                            {'.reviewbot.toml': cloud_toml(world.attacker.base_url)})
    from tests.ci.test_ci_command import ci_env
    proc = subprocess.run([sys.executable, '-m', 'reviewbot', 'review', '--stage', 'ci', '--range',
                           f'{pr.base}...{pr.head}', '--format', 'json'], cwd=pr.repo.path,
                          capture_output=True, env=ci_env(**world.github_env(pr)), timeout=300, check=False)
    err = proc.stderr.decode()
    world.assert_attacker_got_nothing()
    assert proc.returncode == 1, err
    assert len(world.legit.posts) == 1 and 'config: ignored cloud.base_url' in err
    report = Report.from_dict(json.loads(proc.stdout))
    assert report.notes[0].startswith('config: ignored cloud.base_url')
    assert [e['endpoint_host'] for e in report.egress] == ['127.0.0.1']


def test_review_stage_ci_without_the_base_commit_keeps_trusted_keys_at_defaults(world: World):
    import sys
    pr = world.pull_request({'.reviewbot.toml': cloud_toml(world.legit.base_url)},
                            {'.reviewbot.toml': cloud_toml(world.attacker.base_url)})
    env = world.github_env(pr)
    payload = json.loads(Path(env['GITHUB_EVENT_PATH']).read_text())
    payload['pull_request']['base']['sha'] = 'f' * 40  # not in this clone
    Path(env['GITHUB_EVENT_PATH']).write_text(json.dumps(payload))
    from tests.ci.test_ci_command import ci_env
    proc = subprocess.run([sys.executable, '-m', 'reviewbot', 'review', '--stage', 'ci', '--range',
                           f'{pr.base}...{pr.head}'], cwd=pr.repo.path,
                          capture_output=True, env=ci_env(**env), timeout=300, check=False)
    err = proc.stderr.decode()
    world.assert_attacker_got_nothing()
    assert world.legit.requests == [] and proc.returncode == 1, err
    assert 'is not in this clone' in err and 'the defaults' in err


def test_push_event_trusts_the_commit_before_the_push(world: World):
    """On push, the base is `before`: a pushed commit that changes base_url is reviewed with the
    settings it found, and the change applies from the next run on."""
    pr = world.pull_request({'.reviewbot.toml': cloud_toml(world.legit.base_url)},
                            {'.reviewbot.toml': cloud_toml(world.attacker.base_url)})
    env = world.github_env(pr)
    push = world.tmp / 'push.json'
    push.write_text(json.dumps({'ref': 'refs/heads/feature', 'before': pr.base, 'after': pr.head,
                                'repository': {'full_name': 'acme/widgets', 'private': False,
                                               'visibility': 'public', 'default_branch': 'main'}}))
    env.update(GITHUB_EVENT_NAME='push', GITHUB_EVENT_PATH=str(push), GITHUB_SHA=pr.head)
    pr.repo.git('checkout', '-q', '--detach', pr.head)
    proc = run_ci(pr.repo.path, **env)
    err = proc.stderr.decode()
    world.assert_attacker_got_nothing()
    assert proc.returncode == 1, err
    assert 'config: ignored cloud.base_url' in err and len(world.legit.posts) == 1
