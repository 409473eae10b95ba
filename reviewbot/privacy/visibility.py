"""Proof of a repository's visibility: one authenticated API call to GitHub or GitLab in this run.

`fetch(ctx, repo)` returns a Visibility only for a clean, well-formed 200 answer about exactly the
repository asked for; anything else (no token, timeout, 404, 5xx, redirect, bad JSON, a different
repository in the answer) raises VisibilityError, which the gate turns into "local review only".
"""
from __future__ import annotations

import dataclasses
import urllib.parse
from typing import Any

from reviewbot.errors import ReviewbotError
from reviewbot.forge import GITHUB, GITLAB, PlatformContext

LOOPBACK_HOSTS = ('127.0.0.1', 'localhost', '::1', '[::1]')


class VisibilityError(ReviewbotError):
    """The visibility of a repository could not be verified."""


@dataclasses.dataclass(frozen=True)
class Visibility:
    platform: str
    repo: str
    visibility: str  # 'public' | 'private' | 'internal' | whatever the API said
    is_public: bool  # True only when every field the platform offers says public
    detail: str  # what the API said, for the report, e.g. "visibility=public private=false"


def fetch(ctx: PlatformContext, repo: str, timeout: float = 5.0, transport: Any = None) -> Visibility:
    """Ask the platform API about `repo`. Raises VisibilityError on anything but a clear answer."""
    if not ctx.token:
        raise VisibilityError(f'no {ctx.platform} API token in this run, cannot verify visibility')
    if ctx.platform == GITHUB:
        url = f'{ctx.api_url}/repos/{_github_path(repo)}'
        headers = {
            'Authorization': f'Bearer {ctx.token}',
            'Accept': 'application/vnd.github+json',
            'X-GitHub-Api-Version': '2022-11-28',
        }
    elif ctx.platform == GITLAB:
        url = f'{ctx.api_url}/projects/{urllib.parse.quote(repo, safe="")}'
        header = ctx.token_header if ctx.token_header in ('PRIVATE-TOKEN', 'JOB-TOKEN') else 'PRIVATE-TOKEN'
        headers = {header: ctx.token}
    else:
        raise VisibilityError(f'unknown platform {ctx.platform!r}')
    data = _get_json(url, headers, timeout, transport, ctx.platform)
    if ctx.platform == GITHUB:
        return _github_visibility(repo, data)
    return _gitlab_visibility(repo, data, is_merge_request=ctx.is_pull_request)


def _github_path(repo: str) -> str:
    parts = repo.split('/')
    if len(parts) != 2 or not all(parts) or any(p in ('.', '..') for p in parts):
        raise VisibilityError(f'not a GitHub owner/name: {repo!r}')
    return '/'.join(urllib.parse.quote(p, safe='') for p in parts)


def _get_json(url: str, headers: dict[str, str], timeout: float, transport: Any, platform: str) -> Any:
    import httpx

    host = urllib.parse.urlsplit(url).hostname or ''
    if not url.startswith('https://') and host not in LOOPBACK_HOSTS:
        raise VisibilityError(f'{platform} API URL must be https: {url}')
    try:
        with httpx.Client(
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,  # a moved/renamed repository is not proof about this one
            transport=transport,
            trust_env=host not in LOOPBACK_HOSTS,
        ) as client:
            resp = client.get(url, headers={**headers, 'User-Agent': 'reviewbot'})
    except httpx.TimeoutException:
        raise VisibilityError(f'{platform} API timed out ({host})') from None
    except httpx.HTTPError as e:
        raise VisibilityError(f'{platform} API request failed ({host}): {type(e).__name__}') from None
    if resp.status_code != 200:
        raise VisibilityError(f'{platform} API answered HTTP {resp.status_code} for the repository')
    try:
        data = resp.json()
    except ValueError:
        raise VisibilityError(f'{platform} API answered with invalid JSON') from None
    if not isinstance(data, dict):
        raise VisibilityError(f'{platform} API answered with unexpected JSON')
    return data


def _github_visibility(repo: str, data: dict[str, Any]) -> Visibility:
    full_name = data.get('full_name')
    if not isinstance(full_name, str) or full_name.lower() != repo.lower():
        raise VisibilityError(f'GitHub API answered about {full_name!r}, not {repo!r}')
    vis = data.get('visibility')
    private = data.get('private')
    if not isinstance(vis, str) or not isinstance(private, bool):
        raise VisibilityError('GitHub API answer lacks visibility/private fields')
    return Visibility(
        platform=GITHUB, repo=repo, visibility=vis,
        is_public=vis == 'public' and private is False,
        detail=f'visibility={vis} private={str(private).lower()}',
    )


def _gitlab_visibility(repo: str, data: dict[str, Any], is_merge_request: bool) -> Visibility:
    if repo.isdigit():
        same = data.get('id') == int(repo)
    else:
        same = str(data.get('path_with_namespace', '')).lower() == repo.lower()
    if not same:
        raise VisibilityError(f'GitLab API answered about project {data.get("id")!r}, not {repo!r}')
    vis = data.get('visibility')
    if not isinstance(vis, str):
        raise VisibilityError('GitLab API answer lacks the visibility field')
    # A public project can still restrict its repository (and merge requests) to members: then the
    # code is not public. GitLab returns these access levels; a missing one is not proof.
    levels = {'repository_access_level': data.get('repository_access_level')}
    if is_merge_request:
        levels['merge_requests_access_level'] = data.get('merge_requests_access_level')
    detail = ' '.join([f'visibility={vis}', *(f'{k}={v}' for k, v in levels.items())])
    is_public = vis == 'public' and all(v == 'enabled' for v in levels.values())
    return Visibility(platform=GITLAB, repo=repo, visibility=vis, is_public=is_public, detail=detail)
