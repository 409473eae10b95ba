"""The cloud reviewer end to end against loopback servers: a recording OpenAI-compatible API and
GitHub/GitLab visibility endpoints. No mocks: real HTTP, real git repositories, real redaction."""
from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from reviewbot.config import Config, from_table
from reviewbot.core import Severity
from reviewbot.diffparse import parse_diff
from reviewbot.privacy import receipts
from reviewbot.reviewers import ReviewContext, ReviewerResult
from reviewbot.reviewers.cloud import CloudReviewer
from tests.conftest import GitRepo
from tests.fakes.github_api import FakeGitHub
from tests.fakes.gitlab_api import FakeGitLab
from tests.fakes.http import Response
from tests.fakes.openai_api import FakeOpenAI

TOKEN = 'test-platform-token'
API_KEY = 'sk-test-cloud-key-not-a-real-one'
REPO_WIDGET = ('GET', '/repos/acme/widget')  # what the visibility check asks GitHub

AWS_ID = 'AKIAQ3EGRT5YEXAMPLE7'
AWS_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY'
GH_TOKEN = 'ghp_' + 'R4nd0mT0k3nV4lu3Xq9Zw8Yv7Ut6Sr5Qp4On'
GL_TOKEN = 'glpat-' + 'Zx9Yw8Vu7Ts6Rq5Po4Nm'
SLACK = 'xoxb-' + '123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx'
STRIPE = 'sk_live_' + '51HqLyjWDarjtT1zdp7dcXyZ'
GOOGLE = 'AIza' + 'SyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY'
JWT_SIG = 'dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U'
JWT = ('eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.' + JWT_SIG)
DB_PASSWORD = 'S3cr3tPassw0rd!'
GENERIC = 'q8Zr3LmP0xW9vT2kB7nY5cJ4hF6gD1sA'
PASSWORD = 'correct-horse-battery-staple'
PEM_BODY = 'MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0'
PEM_BODY2 = 'xq0Yd8Lk3nF7ZpR2sWv9Tb4Hc6Jm1Gu5Ne0Ai8Ko3Pl7Qy2Rw6Ex4Dz9Cs1Bt5Vh3Uj7Mg2Nf8'

PLANTED_SECRETS = {  # kind -> the value that must never leave
    'aws-access-key-id': AWS_ID, 'aws-secret-key': AWS_SECRET, 'github-token': GH_TOKEN,
    'gitlab-token': GL_TOKEN, 'slack-token': SLACK, 'stripe-key': STRIPE, 'google-api-key': GOOGLE,
    'jwt': JWT_SIG, 'db-url-password': DB_PASSWORD, 'generic-high-entropy': GENERIC,
    'password-assignment': PASSWORD, 'private-key-pem': PEM_BODY, 'private-key-pem-2': PEM_BODY2,
}
SETTINGS_LINES = [
    'import os',
    f'AWS_ACCESS_KEY_ID = "{AWS_ID}"',
    f'aws_secret_access_key = "{AWS_SECRET}"',
    f'GITHUB = "{GH_TOKEN}"',
    f'gitlab_client(token="{GL_TOKEN}")',
    f'SLACK_BOT = "{SLACK}"',
    f'stripe.api_key = "{STRIPE}"',
    f'MAPS = "{GOOGLE}"',
    f'session = "{JWT}"',
    f'DATABASE_URL = "postgres://app:{DB_PASSWORD}@db.internal:5432/app"',
    f'SIGNING = "{GENERIC}"',
    f'password = "{PASSWORD}"',
    'KEY = """',
    '-----BEGIN RSA PRIVATE KEY-----',
    PEM_BODY,
    PEM_BODY2,
    '-----END RSA PRIVATE KEY-----',
    '"""',
    'DEBUG = os.environ.get("DEBUG") == "1"',
]
LOGIC_LINES = [
    'def average(xs):',
    '    total = sum(xs)',
    '    return total / (len(xs) - 1)',
]


def _new_file(path: str, lines: list[str]) -> str:
    body = ''.join(f'+{ln}\n' for ln in lines)
    return (f'diff --git a/{path} b/{path}\nnew file mode 100644\n--- /dev/null\n+++ b/{path}\n'
            f'@@ -0,0 +1,{len(lines)} @@\n{body}')


def files_of(*parts: tuple[str, list[str]]):
    return parse_diff(''.join(_new_file(p, ls) for p, ls in parts).encode()).files


PUBLIC_FILES = (('app/logic.py', LOGIC_LINES), ('app/settings.py', SETTINGS_LINES))

GOOD_ANSWER = '\n'.join([
    json.dumps({'path': 'app/logic.py', 'line': 3, 'severity': 'error', 'category': 'bug/off-by-one',
                'message': 'Divides by len(xs) - 1: wrong mean, and ZeroDivisionError for one item.',
                'suggestion': '    return total / len(xs)'}),
    'Here are my findings:',  # prose: not a finding
    json.dumps({'path': 'app/logic.py', 'line': 99, 'severity': 'warning', 'category': 'bug/x',
                'message': 'a line that was never shown'}),
    json.dumps({'path': 'app/settings.py', 'line': 2, 'severity': 'error',
                'category': 'security/hardcoded-secret', 'message': 'Hard-coded AWS key.',
                'suggestion': 'AWS_ACCESS_KEY_ID = "********"'}),
])


@dataclasses.dataclass
class World:
    tmp: Path
    gh: FakeGitHub  # the visibility check's GitHub (and, in the publishing test, the PR's)
    gl: FakeGitLab
    llm: FakeOpenAI

    @property
    def receipts_file(self) -> Path:
        return self.tmp / 'egress.jsonl'

    def config(self, **cloud: Any) -> Config:
        table = {'enabled': True, 'model': 'fake-model', 'base_url': self.llm.base_url,
                 'receipts_file': str(self.receipts_file), 'visibility_timeout': 0.5,
                 'max_retries': 1, **cloud}
        return Config(from_table({'cloud': table}, 'test'))

    def github_env(self, repo: str = 'acme/widget', *, pr: dict | None = None,
                   repository: dict | None = None, token: str | None = TOKEN, **extra: str
                   ) -> dict[str, str]:
        event: dict[str, Any] = {'repository': repository or {'full_name': repo}}
        if pr is not None:
            event['pull_request'] = pr
            event['number'] = pr.get('number')
        event_path = self.tmp / 'event.json'
        event_path.write_text(json.dumps(event))
        env = {'GITHUB_ACTIONS': 'true', 'GITHUB_REPOSITORY': repo, 'GITHUB_API_URL': self.gh.base_url,
               'GITHUB_EVENT_PATH': str(event_path),
               'GITHUB_EVENT_NAME': 'pull_request' if pr is not None else 'push',
               'OPENAI_API_KEY': API_KEY}
        if token:
            env['GITHUB_TOKEN'] = token
        env.update(extra)
        return env

    def gitlab_env(self, project: str = '42', *, mr: bool = True, **extra: str) -> dict[str, str]:
        env = {'GITLAB_CI': 'true', 'CI_PROJECT_ID': project, 'CI_API_V4_URL': self.gl.base_url,
               'GITLAB_TOKEN': TOKEN, 'OPENAI_API_KEY': API_KEY}
        if mr:
            env.update(CI_MERGE_REQUEST_IID='7', CI_MERGE_REQUEST_PROJECT_ID=project,
                       CI_MERGE_REQUEST_SOURCE_PROJECT_ID=project,
                       CI_MERGE_REQUEST_DIFF_BASE_SHA='a' * 40,
                       CI_PIPELINE_SOURCE='merge_request_event')
        env.update(extra)
        return env

    def hook_repo(self, remote: str) -> GitRepo:
        repo = GitRepo(self.tmp / 'clone')
        repo.git('remote', 'add', 'origin', remote)
        return repo


def pr_payload(base: str, head: str, number: int = 5) -> dict:
    return {'number': number, 'base': {'sha': 'b' * 40, 'repo': {'full_name': base}},
            'head': {'sha': 'c' * 40, 'repo': {'full_name': head}}}


@pytest.fixture
def world(tmp_path: Path):
    with FakeGitHub() as gh, FakeGitLab() as gl, FakeOpenAI(answer=lambda req: GOOD_ANSWER) as llm:
        gh.add_user(TOKEN, 'ci-bot')
        gl.add_user(TOKEN, 'ci-bot')
        yield World(tmp_path, gh, gl, llm)


def review(world: World, cfg: Config, env: dict[str, str], *, stage: str = 'ci',
           repo_root: Path | None = None, dry_run: bool = False,
           files: Any = None) -> tuple[ReviewerResult, CloudReviewer, list]:
    files = files if files is not None else files_of(*PUBLIC_FILES)
    ctx = ReviewContext(config=cfg, read_new_file=lambda p: None, repo_root=repo_root, stage=stage,
                        dry_run=dry_run)
    reviewer = CloudReviewer(cfg, env=env, backoff_base=0.01)
    return reviewer.review(files, ctx), reviewer, files


# -- the matrix: every one of these must send NOTHING and say why ---------------------------------

@dataclasses.dataclass
class Scenario:
    name: str
    setup: Callable[[World], dict[str, Any]]  # -> kwargs for review()
    why: str  # a substring of the note explaining the refusal


def _private(w: World):
    w.gh.add_repo('acme', 'widget', visibility='private')
    return {'cfg': w.config(), 'env': w.github_env()}


def _internal(w: World):
    w.gh.add_repo('acme', 'widget', visibility='internal')
    return {'cfg': w.config(), 'env': w.github_env()}


def _api_404(w: World):
    return {'cfg': w.config(), 'env': w.github_env()}


def _api_500(w: World):
    w.gh.canned[REPO_WIDGET] = Response(500, {'message': 'Server Error'})
    return {'cfg': w.config(), 'env': w.github_env()}


def _api_timeout(w: World):
    w.gh.canned[REPO_WIDGET] = Response(hang=True)
    return {'cfg': w.config(visibility_timeout=0.3), 'env': w.github_env()}


def _no_token(w: World):
    w.gh.add_repo('acme', 'widget')
    return {'cfg': w.config(), 'env': w.github_env(token=None)}


def _env_public_api_private(w: World):
    w.gl.add_project(42, 'acme/widget', 'private')
    return {'cfg': w.config(), 'env': w.gitlab_env(CI_PROJECT_VISIBILITY='public')}


def _payload_private_api_public(w: World):
    w.gh.add_repo('acme', 'widget')
    env = w.github_env(repository={'full_name': 'acme/widget', 'private': True, 'visibility': 'private'})
    return {'cfg': w.config(), 'env': env}


def _public_fork_into_private(w: World):
    w.gh.add_repo('acme', 'private-app', visibility='private')
    w.gh.add_repo('alice', 'fork')
    env = w.github_env('acme/private-app', pr=pr_payload('acme/private-app', 'alice/fork'))
    return {'cfg': w.config(), 'env': env}


def _disabled(w: World):
    w.gh.add_repo('acme', 'widget')
    return {'cfg': w.config(enabled=False), 'env': w.github_env()}


def _deny_listed_only(w: World):
    w.gh.add_repo('acme', 'widget')
    files = files_of(('config/.env', ['API_TOKEN=abc']), ('deploy/prod.secret.yml', ['x: 1']))
    return {'cfg': w.config(deny_paths=['**/*.secret.yml']), 'env': w.github_env(), 'files': files}


def _pre_commit_without_opt_in(w: World):
    w.gh.add_repo('acme', 'widget')
    repo = w.hook_repo('https://github.com/acme/widget.git')
    env = {'REVIEWBOT_GITHUB_API_URL': w.gh.base_url, 'GITHUB_TOKEN': TOKEN, 'OPENAI_API_KEY': API_KEY}
    return {'cfg': w.config(), 'env': env, 'stage': 'pre-commit', 'repo_root': repo.path}


def _unknown_platform(w: World):
    repo = w.hook_repo('https://bitbucket.org/acme/widget.git')
    return {'cfg': w.config(), 'env': {'OPENAI_API_KEY': API_KEY}, 'repo_root': repo.path,
            'stage': 'cli'}


def _no_platform_at_all(w: World):
    return {'cfg': w.config(), 'env': {'OPENAI_API_KEY': API_KEY}, 'stage': 'cli'}


def _gitlab_internal(w: World):
    w.gl.add_project(42, 'acme/widget', 'internal')
    return {'cfg': w.config(), 'env': w.gitlab_env()}


def _gitlab_public_repo_members_only(w: World):
    w.gl.add_project(42, 'acme/widget', 'public', repository='private')
    return {'cfg': w.config(), 'env': w.gitlab_env()}


def _gitlab_private_target_public_source(w: World):
    w.gl.add_project(42, 'acme/app', 'private')
    w.gl.add_project(77, 'alice/app', 'public')
    env = w.gitlab_env('42', CI_MERGE_REQUEST_SOURCE_PROJECT_ID='77')
    return {'cfg': w.config(), 'env': env}


def _api_answers_other_repo(w: World):
    repo = w.gh.add_repo('acme', 'widget')
    w.gh.canned[REPO_WIDGET] = Response(200, {**w.gh.repo_json(repo), 'full_name': 'evil/other'})
    return {'cfg': w.config(), 'env': w.github_env()}


def _api_redirect(w: World):
    w.gh.canned[REPO_WIDGET] = Response(301, {'message': 'Moved Permanently'},
                                             headers={'Location': w.gh.url('/repos/acme/moved')})
    w.gh.add_repo('acme', 'moved')
    return {'cfg': w.config(), 'env': w.github_env()}


def _pr_target_not_this_repo(w: World):
    w.gh.add_repo('acme', 'widget')
    w.gh.add_repo('acme', 'other')
    env = w.github_env('acme/widget', pr=pr_payload('acme/other', 'acme/widget'))
    return {'cfg': w.config(), 'env': env}


def _pr_event_without_payload(w: World):
    w.gh.add_repo('acme', 'widget')
    env = w.github_env()
    env['GITHUB_EVENT_NAME'] = 'pull_request'
    return {'cfg': w.config(), 'env': env}


def _pre_push_private_second_remote(w: World):
    w.gh.add_repo('acme', 'widget')
    w.gh.add_repo('acme', 'widget-internal', visibility='private')
    repo = w.hook_repo('git@github.com:acme/widget.git')
    repo.git('remote', 'add', 'mirror', 'git@github.com:acme/widget-internal.git')
    env = {'REVIEWBOT_GITHUB_API_URL': w.gh.base_url, 'GITHUB_TOKEN': TOKEN, 'OPENAI_API_KEY': API_KEY}
    return {'cfg': w.config(stages=['ci', 'pre-push']), 'env': env, 'stage': 'pre-push',
            'repo_root': repo.path}


def _wrong_token(w: World):
    w.gh.add_repo('acme', 'widget')
    return {'cfg': w.config(), 'env': w.github_env(token='not-the-token')}


def _no_api_key(w: World):
    w.gh.add_repo('acme', 'widget')
    env = w.github_env()
    del env['OPENAI_API_KEY']
    return {'cfg': w.config(), 'env': env}


def _plain_http_endpoint(w: World):
    w.gh.add_repo('acme', 'widget')
    return {'cfg': w.config(base_url='http://llm.example.com/v1'), 'env': w.github_env()}


def _event_about_another_repo(w: World):
    w.gh.add_repo('acme', 'widget')
    env = w.github_env(repository={'full_name': 'acme/other', 'private': False, 'visibility': 'public'})
    return {'cfg': w.config(), 'env': env}


def _local_run_with_ci_variables(w: World):
    # CI variables on a developer's machine claim a public repository; the clone's remote is private
    w.gh.add_repo('acme', 'widget')
    w.gh.add_repo('acme', 'private-app', visibility='private')
    repo = w.hook_repo('git@github.com:acme/private-app.git')
    env = {**w.github_env('acme/widget'), 'REVIEWBOT_GITHUB_API_URL': w.gh.base_url}
    return {'cfg': w.config(), 'env': env, 'stage': 'cli', 'repo_root': repo.path}


SCENARIOS = [
    Scenario('private repo', _private, 'acme/widget is not public: private'),
    Scenario('internal repo', _internal, 'acme/widget is not public: internal'),
    Scenario('API 404', _api_404, 'HTTP 404'),
    Scenario('API 500', _api_500, 'HTTP 500'),
    Scenario('API timeout', _api_timeout, 'timed out'),
    Scenario('no token', _no_token, 'no github API token'),
    Scenario('env says public, API says private', _env_public_api_private, 'is not public: private'),
    Scenario('event says private, API says public', _payload_private_api_public, 'disagreement'),
    Scenario('public fork into private repo', _public_fork_into_private,
             'acme/private-app is not public: private'),
    Scenario('cloud disabled', _disabled, 'disabled'),
    Scenario('only deny-listed paths', _deny_listed_only, 'nothing left to send'),
    Scenario('pre-commit without opt-in', _pre_commit_without_opt_in, "stage 'pre-commit'"),
    Scenario('unknown platform (bitbucket remote)', _unknown_platform, 'unknown platform'),
    Scenario('no platform, no repository', _no_platform_at_all, 'unknown platform'),
    Scenario('GitLab internal project', _gitlab_internal, 'is not public: internal'),
    Scenario('GitLab public project, members-only repository', _gitlab_public_repo_members_only,
             'repository_access_level=private'),
    Scenario('GitLab MR from public fork into private project', _gitlab_private_target_public_source,
             '42 is not public: private'),
    Scenario('API answers about another repository', _api_answers_other_repo, 'evil/other'),
    Scenario('API redirects', _api_redirect, 'HTTP 301'),
    Scenario('PR targets another repository', _pr_target_not_this_repo, 'targets acme/other'),
    Scenario('pull_request event without payload', _pr_event_without_payload, 'without a pull_request'),
    Scenario('pre-push opted in, a second remote is private', _pre_push_private_second_remote,
             'widget-internal is not public: private'),
    Scenario('token rejected by the API', _wrong_token, 'HTTP 401'),
    Scenario('API key variable missing', _no_api_key, 'OPENAI_API_KEY is not set'),
    Scenario('plain-http cloud endpoint', _plain_http_endpoint, 'must be https'),
    Scenario('event payload about another repository', _event_about_another_repo,
             'names repository acme/other'),
    Scenario('local run, CI variables name a public repo, the clone is private',
             _local_run_with_ci_variables, 'acme/private-app is not public: private'),
]


@pytest.mark.parametrize('scenario', SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_nothing_leaves_and_the_notes_say_why(world: World, scenario: Scenario):
    kwargs = scenario.setup(world)
    cfg, env = kwargs.pop('cfg'), kwargs.pop('env')
    result, _, _ = review(world, cfg, env, **kwargs)
    assert world.llm.requests == []
    assert result.findings == [] and result.egress == []
    assert not world.receipts_file.exists()
    assert any(n.startswith('cloud: not used: ') and scenario.why in n for n in result.notes), \
        result.notes
    assert result.stats.get('requests', 0) == 0


def test_matrix_is_at_least_twelve_scenarios():
    assert len(SCENARIOS) >= 12


# -- public, opted in ----------------------------------------------------------------------------

def _all_bodies(world: World) -> list[bytes]:
    return [r.body for r in world.llm.requests]


def _assert_no_secret_left(bodies: list[bytes]) -> None:
    assert bodies
    for body in bodies:
        text = body.decode('utf-8')
        decoded = json.loads(text)  # also the JSON-unescaped content
        flat = json.dumps(decoded, ensure_ascii=False)
        for kind, value in PLANTED_SECRETS.items():
            assert value not in text and value not in flat, kind
        assert 'BEGIN RSA PRIVATE KEY' not in flat


def test_public_github_pr_sends_redacted_diff_and_returns_findings(world: World):
    world.gh.add_repo('acme', 'widget')
    env = world.github_env('acme/widget', pr=pr_payload('acme/widget', 'alice/widget'))
    world.gh.add_repo('alice', 'widget')
    result, _, _ = review(world, world.config(), env)

    assert len(world.llm.posts) == 1, result.notes
    req = world.llm.posts[0]
    assert req.path == '/v1/chat/completions'
    assert req.headers['authorization'] == f'Bearer {API_KEY}'
    _assert_no_secret_left(_all_bodies(world))
    user = req.json()['messages'][1]['content']
    assert '     3 +     return total / (len(xs) - 1)' in user  # code and true line numbers kept
    assert 'DEBUG = os.environ.get("DEBUG") == "1"' in user

    # the receipt is the exact bytes the server received
    lines = receipts.read(world.receipts_file)
    assert len(lines) == 1 and result.egress[0]['sha256'] == lines[0]['sha256']
    assert lines[0]['sha256'] == hashlib.sha256(req.body).hexdigest()
    assert lines[0]['bytes'] == len(req.body)
    assert lines[0]['endpoint_host'] == '127.0.0.1' and lines[0]['model'] == 'fake-model'
    assert lines[0]['files'] == ['app/logic.py', 'app/settings.py']
    assert lines[0]['hunks'] == ['app/logic.py:1-3', f'app/settings.py:1-{len(SETTINGS_LINES)}']
    assert lines[0]['redactions'] >= 12

    by_line = {(f.path, f.line): f for f in result.findings}
    assert set(by_line) == {('app/logic.py', 3), ('app/settings.py', 2)}
    bug = by_line[('app/logic.py', 3)]
    assert bug.reviewer == 'cloud' and bug.severity is Severity.ERROR
    assert bug.category == 'bug/off-by-one' and bug.suggestion == '    return total / len(xs)'
    assert by_line[('app/settings.py', 2)].suggestion is None  # never suggest the mask as code
    assert result.stats['prompt_tokens'] == 120 and result.stats['completion_tokens'] == 30
    assert result.stats['invalid_lines'] == 1 and result.stats['outside_sent_lines'] == 1
    assert any('verified public' in n for n in result.notes)
    assert any(n.startswith('cloud: reviewed 2 hunks in 2 files') for n in result.notes)


def test_public_gitlab_mr_is_sent_with_cost(world: World):
    world.gl.add_project(42, 'acme/widget', 'public')
    cfg = world.config(price_per_1k_input=0.5, price_per_1k_output=1.5)
    result, _, _ = review(world, cfg, world.gitlab_env(CI_PROJECT_VISIBILITY='public'))
    assert len(world.llm.posts) == 1, result.notes
    _assert_no_secret_left(_all_bodies(world))
    assert world.gl.requests[0].headers['private-token'] == TOKEN
    assert result.stats['cost'] == pytest.approx(120 / 1000 * 0.5 + 30 / 1000 * 1.5)
    assert any('cost 0.1050' in n for n in result.notes)
    assert len(result.findings) == 2


def test_pre_commit_with_opt_in_and_public_remote(world: World):
    world.gh.add_repo('acme', 'widget')
    repo = world.hook_repo('git@github.com:acme/widget.git')
    env = {'REVIEWBOT_GITHUB_API_URL': world.gh.base_url, 'GITHUB_TOKEN': TOKEN,
           'OPENAI_API_KEY': API_KEY}
    cfg = world.config(stages=['pre-commit'], receipts_file='')
    result, _, _ = review(world, cfg, env, stage='pre-commit', repo_root=repo.path)
    assert len(world.llm.posts) == 1, result.notes
    _assert_no_secret_left(_all_bodies(world))
    # the default receipts file is inside .git, never in the work tree a hook must not touch
    default = repo.path / '.git' / 'reviewbot' / 'egress.jsonl'
    assert receipts.read(default)[0]['sha256'] == hashlib.sha256(world.llm.posts[0].body).hexdigest()
    assert repo.git('status', '--porcelain', '--untracked-files=all') == ''
    assert len(result.findings) == 2


def test_deny_listed_file_is_withheld_and_others_sent(world: World):
    world.gh.add_repo('acme', 'widget')
    files = files_of(('app/logic.py', LOGIC_LINES), ('.env', ['DB_PASSWORD=hunter2-but-longer']),
                     ('certs/server.pem', ['not really a cert']))
    result, _, _ = review(world, world.config(), world.github_env(), files=files)
    body = world.llm.posts[0].body.decode()
    assert 'hunter2-but-longer' not in body and '.env' not in body and 'server.pem' not in body
    assert 'app/logic.py' in body
    assert any('2 file(s) on the deny list withheld: .env, certs/server.pem' in n for n in result.notes)
    assert {s.path for s in result.skipped} == {'.env', 'certs/server.pem'}
    assert receipts.read(world.receipts_file)[0]['files'] == ['app/logic.py']


def test_dry_run_prints_the_exact_body_and_sends_nothing(world: World):
    world.gh.add_repo('acme', 'widget')
    cfg, env = world.config(), world.github_env()
    files = files_of(*PUBLIC_FILES)
    ctx = ReviewContext(config=cfg, read_new_file=lambda p: None, stage='ci', dry_run=True)
    reviewer = CloudReviewer(cfg, env=env)
    plan = reviewer.plan(files, ctx)
    dry = reviewer.review(files, ctx)
    assert world.llm.requests == [] and not world.receipts_file.exists()
    assert dry.findings == [] and any('dry run' in n for n in dry.notes)
    printed = plan[plan.index('cloud: exact request body follows:') + 1].encode('utf-8')
    assert any(hashlib.sha256(printed).hexdigest() in line for line in plan)

    result, _, _ = review(world, cfg, env)  # the real run sends exactly what was printed
    assert world.llm.posts[0].body == printed
    assert result.egress[0]['sha256'] == hashlib.sha256(printed).hexdigest()


def test_dry_run_plan_of_a_denied_run_says_nothing_leaves(world: World):
    world.gh.add_repo('acme', 'widget', visibility='private')
    cfg, env = world.config(), world.github_env()
    ctx = ReviewContext(config=cfg, read_new_file=lambda p: None, stage='ci', dry_run=True)
    plan = CloudReviewer(cfg, env=env).plan(files_of(*PUBLIC_FILES), ctx)
    assert plan[-1] == 'cloud: leaves this machine: nothing'
    assert any('is not public: private' in line for line in plan)
    assert world.llm.requests == []


def test_retry_after_429_then_success_writes_a_receipt_per_attempt(world: World):
    world.gh.add_repo('acme', 'widget')
    world.llm.script = [Response(429, {'error': {'message': 'slow down'}}, headers={'Retry-After': '0'})]
    result, _, _ = review(world, world.config(max_retries=2), world.github_env())
    assert len(world.llm.posts) == 2 and world.llm.posts[0].body == world.llm.posts[1].body
    lines = receipts.read(world.receipts_file)
    assert [r['attempt'] for r in lines] == [1, 2]
    assert all(r['sha256'] == hashlib.sha256(world.llm.posts[0].body).hexdigest() for r in lines)
    assert result.stats['requests'] == 2 and len(result.findings) == 2


def test_server_errors_are_retried_a_bounded_number_of_times(world: World):
    world.gh.add_repo('acme', 'widget')
    world.llm.script = [Response(503, {'error': {}}) for _ in range(5)]
    result, _, _ = review(world, world.config(max_retries=2), world.github_env())
    assert len(world.llm.posts) == 3
    assert result.findings == []
    assert any('HTTP 503 after 3 attempts' in n for n in result.notes)
    assert len(receipts.read(world.receipts_file)) == 3


def test_a_long_retry_after_is_not_waited_for(world: World):
    world.gh.add_repo('acme', 'widget')
    world.llm.script = [Response(429, {'error': {}}, headers={'Retry-After': '3600'})]
    result, _, _ = review(world, world.config(max_retries=3, max_retry_wait=5), world.github_env())
    assert len(world.llm.posts) == 1, result.notes
    assert any('asks to wait 3600 s' in n for n in result.notes)


def test_client_errors_are_not_retried(world: World):
    world.gh.add_repo('acme', 'widget')
    world.llm.script = [Response(400, {'error': {'message': 'bad model'}})]
    result, _, _ = review(world, world.config(max_retries=3), world.github_env())
    assert len(world.llm.posts) == 1 and any('HTTP 400' in n for n in result.notes)


def test_anthropic_messages_protocol(world: World):
    world.gh.add_repo('acme', 'widget')
    env = {**world.github_env(), 'ANTHROPIC_API_KEY': 'anthropic-test-key'}
    result, _, _ = review(world, world.config(provider='anthropic'), env)
    req = world.llm.posts[0]
    assert req.path == '/v1/messages' and req.headers['x-api-key'] == 'anthropic-test-key'
    assert 'authorization' not in req.headers
    _assert_no_secret_left(_all_bodies(world))
    assert req.json()['system'].startswith('You are a careful')
    assert len(result.findings) == 2 and result.stats['prompt_tokens'] == 120


def test_api_key_comes_only_from_the_named_variable(world: World):
    world.gh.add_repo('acme', 'widget')
    env = {**world.github_env(), 'MY_GATEWAY_KEY': 'gateway-key'}
    review(world, world.config(api_key_env='MY_GATEWAY_KEY'), env)
    assert world.llm.posts[0].headers['authorization'] == 'Bearer gateway-key'


def test_payload_is_bounded_and_the_rest_is_reported_skipped(world: World):
    world.gh.add_repo('acme', 'widget')
    big = [f'value_{i} = compute({i}, factor={i % 7})' for i in range(400)]
    files = files_of(('app/logic.py', LOGIC_LINES), ('app/big.py', big))
    result, _, _ = review(world, world.config(max_payload_bytes=6000), world.github_env(), files=files)
    body = world.llm.posts[0].body
    assert len(body) <= 6000
    assert 'app/big.py' not in body.decode()
    assert any(s.path == 'app/big.py' and 'budget' in s.reason for s in result.skipped)


def test_unreadable_receipts_file_means_nothing_is_sent(world: World):
    world.gh.add_repo('acme', 'widget')
    blocker = world.tmp / 'not-a-dir'
    blocker.write_text('a file where a directory should be')
    cfg = world.config(receipts_file=str(blocker / 'egress.jsonl'))
    result, _, _ = review(world, cfg, world.github_env())
    assert world.llm.requests == []
    assert any('cannot write the egress receipt' in n for n in result.notes)


def test_through_the_pipeline_cloud_findings_reach_the_report(world: World):
    """Staged changes in a clone of a public repository, reviewed by the real pipeline in a hook."""
    from reviewbot import pipeline, sources
    from reviewbot.reviewers.secrets import SecretsReviewer

    world.gh.add_repo('acme', 'widget')
    repo = world.hook_repo('https://github.com/acme/widget.git')
    repo.write('README.md', 'widget\n')
    repo.commit('init')
    repo.write('app/logic.py', '\n'.join(LOGIC_LINES) + '\n')
    repo.write('app/settings.py', '\n'.join(SETTINGS_LINES) + '\n')
    repo.git('add', '-A')
    status_before = repo.git('status', '--porcelain')
    cfg = world.config(stages=['pre-commit'])
    env = {'REVIEWBOT_GITHUB_API_URL': world.gh.base_url, 'GITHUB_TOKEN': TOKEN,
           'OPENAI_API_KEY': API_KEY}
    report = pipeline.review(sources.staged(repo.path), cfg, stage='pre-commit',
                             reviewers=[SecretsReviewer(), CloudReviewer(cfg, env=env)])

    _assert_no_secret_left(_all_bodies(world))
    cloud = [f for f in report.findings if f.reviewer == 'cloud']
    assert {(f.path, f.line) for f in cloud} == {('app/logic.py', 3), ('app/settings.py', 2)}
    assert any(f.reviewer == 'secrets' for f in report.findings)
    assert report.egress and report.egress[0]['sha256'] == \
        hashlib.sha256(world.llm.posts[0].body).hexdigest()
    assert any('verified public' in n for n in report.notes)
    assert repo.git('status', '--porcelain') == status_before  # the work tree and index untouched


class _ExplodingTransport(httpx.BaseTransport):
    """An httpx transport whose handler fails in a way httpx does not wrap (a defect, not I/O)."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        raise RuntimeError('defect in the transport')


def test_an_unexpected_error_is_a_note_not_a_crash(world: World):
    world.gh.add_repo('acme', 'widget')
    cfg = world.config()
    ctx = ReviewContext(config=cfg, read_new_file=lambda p: None, stage='ci')
    reviewer = CloudReviewer(cfg, env=world.github_env(), transport=_ExplodingTransport())
    result = reviewer.review(files_of(*PUBLIC_FILES), ctx)
    assert result.findings == []
    assert any("internal error (RuntimeError: defect in the transport)" in n for n in result.notes), \
        result.notes
    assert len(receipts.read(world.receipts_file)) == 1  # the attempt was recorded before it was made


def test_no_request_when_the_run_is_out_of_time(world: World):
    import time

    world.gh.add_repo('acme', 'widget')
    cfg = world.config()
    ctx = ReviewContext(config=cfg, read_new_file=lambda p: None, stage='ci',
                        deadline=time.monotonic() - 1)
    result = CloudReviewer(cfg, env=world.github_env()).review(files_of(*PUBLIC_FILES), ctx)
    assert world.llm.requests == [] and not world.receipts_file.exists()
    assert any('out of time budget' in n for n in result.notes)


def test_cloud_findings_reach_the_pull_request_through_the_publishing_path(world: World):
    """Public repository, opted in: the cloud's findings go through anchoring and publishing and
    land as inline comments on the PR (real PyGithub against the loopback GitHub)."""
    from github import Auth

    from reviewbot import pipeline, sources
    from reviewbot.publish import GitHubTarget, RetryPolicy, publish_report

    world.gh.add_repo('acme', 'widget')
    repo = world.hook_repo('https://github.com/acme/widget.git')
    repo.write('README.md', 'widget\n')
    repo.commit('init')
    repo.write('app/logic.py', '\n'.join(LOGIC_LINES) + '\n')
    repo.write('app/settings.py', '\n'.join(SETTINGS_LINES) + '\n')
    repo.git('add', '-A')
    cfg = world.config(stages=['pre-commit'])
    env = {'REVIEWBOT_GITHUB_API_URL': world.gh.base_url, 'GITHUB_TOKEN': TOKEN,
           'OPENAI_API_KEY': API_KEY}
    source = sources.staged(repo.path)
    report = pipeline.review(source, cfg, stage='pre-commit', reviewers=[CloudReviewer(cfg, env=env)])
    cloud = {(f.path, f.line) for f in report.findings if f.reviewer == 'cloud'}
    assert cloud == {('app/logic.py', 3), ('app/settings.py', 2)}

    # the PR shows the same change: each file's hunks as pr.get_files() gives them
    patches = {}
    for chunk in source.data.decode().split('diff --git ')[1:]:
        path = chunk.split('\n', 1)[0].split(' b/', 1)[1]
        patches[path] = chunk[chunk.index('@@'):]
    gh = world.gh  # the same fake GitHub that answered the visibility check
    gh.add_user('ghp_bot_token_0123456789', 'reviewbot-bot')
    gh.add_pull('acme/widget', 7, 'a' * 40, patches, status={p: 'added' for p in patches})
    target = GitHubTarget('acme/widget', 7, gh.base_url, Auth.Token('ghp_bot_token_0123456789'),
                          retry=RetryPolicy(attempts=3, base_delay=0.01, timeout=5, sleep=lambda s: None),
                          seconds_between_requests=0, seconds_between_writes=0)
    publish_report(report, parse_diff(source.data), target)
    comments = gh.repos['acme/widget'].pulls[7].review_comments
    assert {(c['path'], c['line']) for c in comments} == cloud
    for comment in comments:
        for kind, value in PLANTED_SECRETS.items():
            assert value not in comment['body'], kind
