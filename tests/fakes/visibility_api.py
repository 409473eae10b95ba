"""Loopback GitHub (GET /repos/{owner}/{repo}) and GitLab (GET /api/v4/projects/{id}) endpoints that
answer only what the privacy gate asks: a repository's visibility. Records every request."""
from __future__ import annotations

import urllib.parse

from tests.fakes._server import RecordingServer, Request, Response


def github_repo(full_name: str, visibility: str) -> dict:
    return {'id': 1, 'full_name': full_name, 'name': full_name.split('/')[-1],
            'private': visibility != 'public', 'visibility': visibility}


def gitlab_project(project_id: int, path: str, visibility: str, repository: str = 'enabled',
                   merge_requests: str = 'enabled') -> dict:
    return {'id': project_id, 'path_with_namespace': path, 'visibility': visibility,
            'repository_access_level': repository, 'merge_requests_access_level': merge_requests}


class FakeVisibilityAPI(RecordingServer):
    """`github[owner/name]` / `gitlab[id or path]` -> a Response (a repo missing from both: 404).
    A request without the expected token header gets 401."""

    def __init__(self, token: str = 'test-token') -> None:
        self.token = token
        self.github: dict[str, Response] = {}
        self.gitlab: dict[str, Response] = {}
        super().__init__(self._handle)

    @property
    def github_api(self) -> str:
        return self.url

    @property
    def gitlab_api(self) -> str:
        return self.url + '/api/v4'

    def add_github(self, full_name: str, visibility: str) -> None:
        self.github[full_name.lower()] = Response(200, github_repo(full_name, visibility))

    def add_gitlab(self, project_id: int, path: str, visibility: str, **levels: str) -> None:
        resp = Response(200, gitlab_project(project_id, path, visibility, **levels))
        self.gitlab[str(project_id)] = resp
        self.gitlab[path.lower()] = resp

    def _handle(self, req: Request) -> Response:
        path = urllib.parse.unquote(req.path.split('?')[0])
        if path.startswith('/api/v4/projects/'):
            if req.headers.get('private-token') != self.token and \
                    req.headers.get('job-token') != self.token:
                return Response(401, {'message': '401 Unauthorized'})
            key = path[len('/api/v4/projects/'):].lower()
            return self.gitlab.get(key, Response(404, {'message': '404 Project Not Found'}))
        if path.startswith('/repos/'):
            if req.headers.get('authorization') != f'Bearer {self.token}':
                return Response(401, {'message': 'Bad credentials'})
            key = path[len('/repos/'):].lower()
            return self.github.get(key, Response(404, {'message': 'Not Found'}))
        return Response(404, {'message': 'Not Found'})
