from __future__ import annotations

import json
from pathlib import Path

import pytest

from reviewbot.forge import (
    GITHUB,
    GITLAB,
    PlatformContext,
    detect,
    from_git_remotes,
    parse_remote_url,
)
from tests.conftest import GitRepo


def _event(tmp_path: Path, event: dict) -> str:
    p = tmp_path / 'event.json'
    p.write_text(json.dumps(event))
    return str(p)


def test_github_pull_request_from_a_fork(tmp_path: Path):
    event = {
        'number': 12,
        'repository': {'full_name': 'acme/widget', 'private': False, 'visibility': 'public'},
        'pull_request': {
            'number': 12,
            'base': {'sha': 'b' * 40, 'repo': {'full_name': 'acme/widget', 'visibility': 'public'}},
            'head': {'sha': 'c' * 40, 'repo': {'full_name': 'alice/widget', 'private': False}},
        },
    }
    ctx = detect({'GITHUB_ACTIONS': 'true', 'GITHUB_REPOSITORY': 'acme/widget',
                  'GITHUB_API_URL': 'https://ghe.example.com/api/v3/', 'GITHUB_TOKEN': 'gh-token-value',
                  'GITHUB_EVENT_NAME': 'pull_request', 'GITHUB_EVENT_PATH': _event(tmp_path, event)})
    assert ctx is not None and ctx.platform == GITHUB and ctx.source == 'github-actions'
    assert ctx.api_url == 'https://ghe.example.com/api/v3'
    assert (ctx.pr_number, ctx.base_repo, ctx.head_repo) == (12, 'acme/widget', 'alice/widget')
    assert (ctx.base_sha, ctx.head_sha) == ('b' * 40, 'c' * 40)
    assert ctx.repos_to_verify() == ['acme/widget', 'alice/widget']
    assert ('acme/widget', 'public') in ctx.visibility_hints
    assert ('alice/widget', 'public') in ctx.visibility_hints
    assert 'gh-token-value' not in repr(ctx)  # the token is never printed


def test_github_push_without_event_file_has_no_pr():
    ctx = detect({'GITHUB_ACTIONS': 'true', 'GITHUB_REPOSITORY': 'acme/widget'})
    assert ctx is not None and not ctx.is_pull_request and ctx.token is None
    assert ctx.api_url == 'https://api.github.com' and ctx.repos_to_verify() == ['acme/widget']


def test_self_contradicting_payload_is_read_as_private(tmp_path: Path):
    event = {'repository': {'full_name': 'acme/widget', 'private': True, 'visibility': 'public'}}
    ctx = detect({'GITHUB_ACTIONS': 'true', 'GITHUB_REPOSITORY': 'acme/widget',
                  'GITHUB_EVENT_PATH': _event(tmp_path, event)})
    assert ctx is not None and ctx.visibility_hints == (('acme/widget', 'private'),)


def test_malformed_pr_payload_is_marked_so_the_gate_refuses_it(tmp_path: Path):
    event = {'pull_request': {'head': {'repo': {'full_name': 'alice/widget'}}}}
    ctx = detect({'GITHUB_ACTIONS': 'true', 'GITHUB_REPOSITORY': 'acme/widget',
                  'GITHUB_EVENT_PATH': _event(tmp_path, event)})
    assert ctx is not None and ctx.is_pull_request and ctx.pr_number == 0 and ctx.base_repo == ''


def test_gitlab_merge_request_pipeline():
    ctx = detect({'GITLAB_CI': 'true', 'CI_PROJECT_ID': '77', 'CI_API_V4_URL': 'https://gl.example/api/v4',
                  'CI_MERGE_REQUEST_IID': '3', 'CI_MERGE_REQUEST_PROJECT_ID': '42',
                  'CI_MERGE_REQUEST_SOURCE_PROJECT_ID': '77', 'CI_MERGE_REQUEST_DIFF_BASE_SHA': 'd' * 40,
                  'CI_PROJECT_VISIBILITY': 'public', 'CI_JOB_TOKEN': 'job'})
    assert ctx is not None and ctx.platform == GITLAB
    assert (ctx.pr_number, ctx.base_repo, ctx.head_repo, ctx.base_sha) == (3, '42', '77', 'd' * 40)
    assert ctx.token == 'job' and ctx.token_header == 'JOB-TOKEN'
    assert ctx.repos_to_verify() == ['42', '77']
    assert ctx.visibility_hints == (('77', 'public'),)


def test_gitlab_api_token_is_preferred_over_the_job_token():
    ctx = detect({'GITLAB_CI': 'true', 'CI_PROJECT_ID': '42', 'CI_SERVER_URL': 'https://gitlab.com',
                  'CI_JOB_TOKEN': 'job', 'GITLAB_TOKEN': 'api'})
    assert ctx is not None and ctx.api_url == 'https://gitlab.com/api/v4'
    assert (ctx.token, ctx.token_header) == ('api', 'PRIVATE-TOKEN') and not ctx.is_pull_request


@pytest.mark.parametrize('env', [{}, {'CI': 'true', 'JENKINS_URL': 'x'}, {'GITHUB_ACTIONS': 'true'},
                                 {'GITLAB_CI': 'true', 'CI_PROJECT_ID': '1'}])
def test_no_platform(env):
    assert detect(env) is None


@pytest.mark.parametrize('url, expected', [
    ('https://github.com/acme/widget.git', (GITHUB, 'https://api.github.com', 'acme/widget')),
    ('git@github.com:acme/widget.git', (GITHUB, 'https://api.github.com', 'acme/widget')),
    ('ssh://git@github.com/acme/widget', (GITHUB, 'https://api.github.com', 'acme/widget')),
    ('https://x-access-token:abc@github.com/acme/widget/', (GITHUB, 'https://api.github.com',
                                                           'acme/widget')),
    ('https://gitlab.com/group/sub/proj.git', (GITLAB, 'https://gitlab.com/api/v4', 'group/sub/proj')),
    ('git@gitlab.com:group/proj.git', (GITLAB, 'https://gitlab.com/api/v4', 'group/proj')),
])
def test_parse_remote_url(url, expected):
    assert parse_remote_url(url) == expected


@pytest.mark.parametrize('url', ['https://bitbucket.org/acme/widget.git', 'git@github.com:acme.git',
                                 '/srv/git/widget.git', 'https://github.com/acme/widget/extra',
                                 'https://github.com/../etc', 'file:///tmp/x'])
def test_parse_remote_url_rejects(url):
    assert parse_remote_url(url) is None


def test_from_git_remotes_lists_every_remote(repo: GitRepo):
    repo.git('remote', 'add', 'origin', 'git@github.com:acme/widget.git')
    repo.git('remote', 'add', 'fork', 'https://github.com/alice/widget.git')
    ctx, why = from_git_remotes(repo.path, {'GITHUB_TOKEN': 't'})
    assert why == '' and isinstance(ctx, PlatformContext)
    assert ctx.source == 'git-remote' and ctx.token == 't'
    assert sorted(ctx.repos_to_verify()) == ['acme/widget', 'alice/widget']


def test_from_git_remotes_includes_the_push_target(repo: GitRepo):
    repo.git('remote', 'add', 'origin', 'git@github.com:acme/widget.git')
    ctx, _ = from_git_remotes(repo.path, {'PRE_COMMIT_REMOTE_URL': 'git@github.com:acme/secret.git'})
    assert ctx is not None and 'acme/secret' in ctx.repos_to_verify()


@pytest.mark.parametrize('remotes, why', [
    ([], 'no git remote'),
    (['https://github.com/acme/widget.git', 'https://gitlab.com/acme/widget.git'], 'more than one'),
    (['https://github.com/acme/widget.git', 'https://git.corp.example/acme/widget.git'],
     'not a github.com or gitlab.com'),
])
def test_from_git_remotes_refuses(repo: GitRepo, remotes, why):
    for i, url in enumerate(remotes):
        repo.git('remote', 'add', f'r{i}', url)
    ctx, reason = from_git_remotes(repo.path, {})
    assert ctx is None and why in reason


def test_remote_credentials_are_not_repeated_in_the_reason(repo: GitRepo):
    repo.git('remote', 'add', 'origin', 'https://user:hunter2@git.corp.example/acme/widget.git')
    ctx, reason = from_git_remotes(repo.path, {})
    assert ctx is None and 'hunter2' not in reason and 'git.corp.example' in reason
