"""Visibility checks against loopback GitHub/GitLab endpoints (real HTTP)."""
from __future__ import annotations

import dataclasses

import pytest

from reviewbot.platform import PlatformContext
from reviewbot.privacy.visibility import VisibilityError, fetch
from tests.fakes._server import Response
from tests.fakes.visibility_api import FakeVisibilityAPI

TOKEN = 'vis-token'


@pytest.fixture
def api():
    with FakeVisibilityAPI(token=TOKEN) as server:
        yield server


def github(api: FakeVisibilityAPI, **kw) -> PlatformContext:
    return PlatformContext(**{'platform': 'github', 'api_url': api.github_api, 'repo': 'acme/widget',
                              'source': 'github-actions', 'token': TOKEN, **kw})


def gitlab(api: FakeVisibilityAPI, **kw) -> PlatformContext:
    return PlatformContext(**{'platform': 'gitlab', 'api_url': api.gitlab_api, 'repo': '42',
                              'source': 'gitlab-ci', 'token': TOKEN, 'token_header': 'PRIVATE-TOKEN',
                              **kw})


@pytest.mark.parametrize('vis, public', [('public', True), ('private', False), ('internal', False)])
def test_github(api, vis, public):
    api.add_github('acme/widget', vis)
    v = fetch(github(api), 'acme/widget')
    assert (v.visibility, v.is_public) == (vis, public)
    req = api.requests[0]
    assert req.path == '/repos/acme/widget' and req.headers['authorization'] == f'Bearer {TOKEN}'


def test_github_public_visibility_but_private_flag_is_not_public(api):
    api.add_github('acme/widget', 'public')
    api.github['acme/widget'].body['private'] = True
    assert not fetch(github(api), 'acme/widget').is_public


@pytest.mark.parametrize('body, why', [
    ({'full_name': 'acme/widget', 'private': False}, 'lacks visibility'),
    ({'full_name': 'acme/widget', 'visibility': 'public', 'private': 'false'}, 'lacks visibility'),
    ({'full_name': 'acme/other', 'visibility': 'public', 'private': False}, "'acme/other'"),
    ([1, 2], 'unexpected JSON'),
    (b'<html>not json</html>', 'invalid JSON'),
])
def test_github_odd_answers_raise(api, body, why):
    api.github['acme/widget'] = Response(200, body)
    with pytest.raises(VisibilityError, match=why):
        fetch(github(api), 'acme/widget')


@pytest.mark.parametrize('response, why', [
    (Response(404, {'message': 'Not Found'}), 'HTTP 404'),
    (Response(500, {}), 'HTTP 500'),
    (Response(302, {}, headers={'Location': '/repos/acme/widget2'}), 'HTTP 302'),
    (Response(hang=True), 'timed out'),
])
def test_github_failures_raise(api, response, why):
    api.github['acme/widget'] = response
    with pytest.raises(VisibilityError, match=why):
        fetch(github(api), 'acme/widget', timeout=0.3)


def test_no_token_asks_nobody(api):
    api.add_github('acme/widget', 'public')
    with pytest.raises(VisibilityError, match='no github API token'):
        fetch(github(api, token=None), 'acme/widget')
    assert api.requests == []


def test_non_https_api_is_refused_except_loopback():
    ctx = PlatformContext(platform='github', api_url='http://api.example.com', repo='a/b',
                          source='x', token='t')
    with pytest.raises(VisibilityError, match='must be https'):
        fetch(ctx, 'a/b')


def test_connection_refused_raises(api):
    ctx = github(api, api_url='http://127.0.0.1:9')  # the discard port: nothing listens
    with pytest.raises(VisibilityError, match='request failed'):
        fetch(ctx, 'acme/widget', timeout=1)


@pytest.mark.parametrize('repo', ['acme', 'a/b/c', '../x', 'a/..'])
def test_bad_github_names_raise(api, repo):
    with pytest.raises(VisibilityError):
        fetch(github(api), repo)
    assert api.requests == []


def test_gitlab_by_id_and_by_path(api):
    api.add_gitlab(42, 'group/sub/widget', 'public')
    assert fetch(gitlab(api), '42').is_public
    v = fetch(gitlab(api), 'group/sub/widget')
    assert v.is_public and 'repository_access_level=enabled' in v.detail
    assert api.requests[1].path == '/api/v4/projects/group%2Fsub%2Fwidget'
    assert api.requests[0].headers['private-token'] == TOKEN


def test_gitlab_job_token_header(api):
    api.add_gitlab(42, 'acme/widget', 'public')
    assert fetch(gitlab(api, token_header='JOB-TOKEN'), '42').is_public
    assert api.requests[0].headers['job-token'] == TOKEN and 'private-token' not in api.requests[0].headers


@pytest.mark.parametrize('levels, is_mr, public', [
    ({}, False, True),
    ({'repository': 'private'}, False, False),
    ({'repository': 'disabled'}, False, False),
    ({'merge_requests': 'private'}, False, True),
    ({'merge_requests': 'private'}, True, False),
])
def test_gitlab_access_levels(api, levels, is_mr, public):
    api.add_gitlab(42, 'acme/widget', 'public', **levels)
    ctx = gitlab(api, pr_number=1, base_repo='42') if is_mr else gitlab(api)
    assert fetch(ctx, '42').is_public is public


def test_gitlab_missing_access_level_is_not_proof(api):
    api.add_gitlab(42, 'acme/widget', 'public')
    del api.gitlab['42'].body['repository_access_level']
    assert not fetch(gitlab(api), '42').is_public


def test_gitlab_answer_about_another_project_raises(api):
    api.add_gitlab(42, 'acme/widget', 'public')
    api.gitlab['43'] = dataclasses.replace(api.gitlab['42'])
    with pytest.raises(VisibilityError, match='not'):
        fetch(gitlab(api), '43')
