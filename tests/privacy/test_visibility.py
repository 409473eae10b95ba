"""Visibility checks against the loopback GitHub/GitLab fakes (real HTTP)."""
from __future__ import annotations

import pytest

from reviewbot.forge import PlatformContext
from reviewbot.privacy.visibility import VisibilityError, fetch
from tests.fakes.github_api import FakeGitHub
from tests.fakes.gitlab_api import FakeGitLab
from tests.fakes.http import Response

TOKEN = 'vis-token'
REPO_PATH = ('GET', '/repos/acme/widget')


@pytest.fixture
def gh():
    with FakeGitHub() as server:
        server.add_user(TOKEN, 'ci-bot')
        yield server


@pytest.fixture
def gl():
    with FakeGitLab() as server:
        server.add_user(TOKEN, 'ci-bot')
        yield server


def github(gh: FakeGitHub, **kw) -> PlatformContext:
    return PlatformContext(**{'platform': 'github', 'api_url': gh.base_url, 'repo': 'acme/widget',
                              'source': 'github-actions', 'token': TOKEN, **kw})


def gitlab(gl: FakeGitLab, **kw) -> PlatformContext:
    return PlatformContext(**{'platform': 'gitlab', 'api_url': gl.base_url, 'repo': '42',
                              'source': 'gitlab-ci', 'token': TOKEN, 'token_header': 'PRIVATE-TOKEN',
                              **kw})


@pytest.mark.parametrize('vis, public', [('public', True), ('private', False), ('internal', False)])
def test_github(gh, vis, public):
    gh.add_repo('acme', 'widget', visibility=vis)
    v = fetch(github(gh), 'acme/widget')
    assert (v.visibility, v.is_public) == (vis, public)
    req = gh.requests[0]
    assert req.target == '/api/v3/repos/acme/widget' and req.headers['authorization'] == f'Bearer {TOKEN}'


def test_github_public_visibility_but_private_flag_is_not_public(gh):
    gh.add_repo('acme', 'widget', private=True, visibility='public')
    assert not fetch(github(gh), 'acme/widget').is_public


@pytest.mark.parametrize('body, why', [
    ({'full_name': 'acme/widget', 'private': False}, 'lacks visibility'),
    ({'full_name': 'acme/widget', 'visibility': 'public', 'private': 'false'}, 'lacks visibility'),
    ({'full_name': 'acme/other', 'visibility': 'public', 'private': False}, "'acme/other'"),
    ([1, 2], 'unexpected JSON'),
    (b'<html>not json</html>', 'invalid JSON'),
])
def test_github_odd_answers_raise(gh, body, why):
    gh.canned[REPO_PATH] = Response(200, body)
    with pytest.raises(VisibilityError, match=why):
        fetch(github(gh), 'acme/widget')


@pytest.mark.parametrize('response, why', [
    (Response(404, {'message': 'Not Found'}), 'HTTP 404'),
    (Response(500, {}), 'HTTP 500'),
    (Response(302, {}, headers={'Location': '/repos/acme/widget2'}), 'HTTP 302'),
    (Response(hang=True), 'timed out'),
])
def test_github_failures_raise(gh, response, why):
    gh.add_repo('acme', 'widget')
    gh.canned[REPO_PATH] = response
    with pytest.raises(VisibilityError, match=why):
        fetch(github(gh), 'acme/widget', timeout=0.3)


def test_github_unknown_repository_raises(gh):
    with pytest.raises(VisibilityError, match='HTTP 404'):
        fetch(github(gh), 'acme/widget')


def test_github_refused_token_raises(gh):
    gh.add_repo('acme', 'widget')
    with pytest.raises(VisibilityError, match='HTTP 401'):
        fetch(github(gh, token='not-a-token'), 'acme/widget')


def test_no_token_asks_nobody(gh):
    gh.add_repo('acme', 'widget')
    with pytest.raises(VisibilityError, match='no github API token'):
        fetch(github(gh, token=None), 'acme/widget')
    assert gh.requests == []


def test_non_https_api_is_refused_except_loopback():
    ctx = PlatformContext(platform='github', api_url='http://api.example.com', repo='a/b',
                          source='x', token='t')
    with pytest.raises(VisibilityError, match='must be https'):
        fetch(ctx, 'a/b')


def test_connection_refused_raises(gh):
    ctx = github(gh, api_url='http://127.0.0.1:9')  # the discard port: nothing listens
    with pytest.raises(VisibilityError, match='request failed'):
        fetch(ctx, 'acme/widget', timeout=1)


@pytest.mark.parametrize('repo', ['acme', 'a/b/c', '../x', 'a/..'])
def test_bad_github_names_raise(gh, repo):
    with pytest.raises(VisibilityError):
        fetch(github(gh), repo)
    assert gh.requests == []


def test_gitlab_by_id_and_by_path(gl):
    gl.add_project(42, 'group/sub/widget', 'public')
    assert fetch(gitlab(gl), '42').is_public
    v = fetch(gitlab(gl), 'group/sub/widget')
    assert v.is_public and 'repository_access_level=enabled' in v.detail
    assert gl.requests[1].target == '/api/v4/projects/group%2Fsub%2Fwidget'
    assert gl.requests[0].headers['private-token'] == TOKEN


def test_gitlab_job_token_header(gl):
    gl.add_project(42, 'acme/widget', 'public')
    assert fetch(gitlab(gl, token_header='JOB-TOKEN'), '42').is_public
    assert gl.requests[0].headers['job-token'] == TOKEN and 'private-token' not in gl.requests[0].headers


@pytest.mark.parametrize('levels, is_mr, public', [
    ({}, False, True),
    ({'repository': 'private'}, False, False),
    ({'repository': 'disabled'}, False, False),
    ({'merge_requests': 'private'}, False, True),
    ({'merge_requests': 'private'}, True, False),
])
def test_gitlab_access_levels(gl, levels, is_mr, public):
    gl.add_project(42, 'acme/widget', 'public', **levels)
    ctx = gitlab(gl, pr_number=1, base_repo='42') if is_mr else gitlab(gl)
    assert fetch(ctx, '42').is_public is public


def test_gitlab_missing_access_level_is_not_proof(gl):
    gl.add_project(42, 'acme/widget', 'public', repository=None)
    assert 'repository_access_level' not in gl.project_json(gl.projects[42])
    assert not fetch(gitlab(gl), '42').is_public


def test_gitlab_answer_about_another_project_raises(gl):
    gl.add_project(42, 'acme/widget', 'public')
    gl.canned['GET', '/projects/43'] = Response(200, gl.project_json(gl.projects[42]))
    with pytest.raises(VisibilityError, match='not'):
        fetch(gitlab(gl), '43')
