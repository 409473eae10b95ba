"""A fake GitHub REST API (the endpoints reviewbot uses) on 127.0.0.1, behaving the way GitHub does.

- GitHub Enterprise layout: everything under /api/v3, so clients use base_url=fake.base_url.
- Token auth (`Authorization: token T`) and GitHub App auth (a JWT for
  POST /app/installations/{id}/access_tokens, then the installation token).
- Pagination with absolute Link headers on the server's own host:port (max_per_page is settable).
- POST /pulls/{n}/reviews is all-or-nothing: one comment outside the PR's hunks makes it a 422
  "Pull request review thread line must be part of the diff", and nothing is created.
- GET /repos/{owner}/{repo} reports `private` and `visibility` (what the cloud privacy gate asks);
  owner/name are matched case-insensitively, as on GitHub.
"""
from __future__ import annotations

import dataclasses
import itertools
from typing import Any

import jwt

from tests.fakes.http import FakeServer, HttpError, Request, Response, hunk_kind

MAX_BODY = 65536


@dataclasses.dataclass
class User:
    login: str
    type: str = 'User'  # 'Bot' for App installations
    id: int = 0


@dataclasses.dataclass
class Pull:
    number: int
    head_sha: str
    base_sha: str
    files: dict[str, str]  # path -> patch (the unified diff hunks, as pr.get_files() gives them)
    status: dict[str, str] = dataclasses.field(default_factory=dict)  # path -> added/modified/removed
    review_comments: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    issue_comments: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    reviews: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    commits: list[str] = dataclasses.field(default_factory=list)
    reactions: dict[int, list[tuple[str, str]]] = dataclasses.field(default_factory=dict)  # id -> (login, content)
    resolved: dict[int, str] = dataclasses.field(default_factory=dict)  # thread's first comment id -> resolver


@dataclasses.dataclass
class Repo:
    owner: str
    name: str
    private: bool = False
    visibility: str = 'public'
    pulls: dict[int, Pull] = dataclasses.field(default_factory=dict)

    @property
    def full_name(self) -> str:
        return f'{self.owner}/{self.name}'


class FakeGitHub(FakeServer):
    prefix = '/api/v3'

    def __init__(self) -> None:
        super().__init__()
        self.repos: dict[str, Repo] = {}
        self.tokens: dict[str, User] = {}
        self.apps: dict[int, tuple[str, User]] = {}  # app id -> (public key PEM, bot user)
        self.installations: dict[int, int] = {}  # installation id -> app id
        self.ids = itertools.count(1000)
        r = r'/repos/([^/]+)/([^/]+)'
        self.route('GET', r'/user', self.get_user)
        self.route('GET', r, self.get_repo)
        self.route('GET', r + r'/pulls/(\d+)', self.get_pull)
        self.route('GET', r + r'/pulls/(\d+)/files', self.list_files)
        self.route('GET', r + r'/commits/([0-9a-f]+)', self.get_commit)
        self.route('GET', r + r'/pulls/(\d+)/comments', self.list_review_comments)
        self.route('GET', r + r'/pulls/(\d+)/reviews', self.list_reviews)
        self.route('POST', r + r'/pulls/(\d+)/reviews', self.create_review)
        self.route('GET', r + r'/pulls/comments/(\d+)/reactions', self.list_reactions)
        self.route('POST', r'/api/graphql', self.graphql)  # GHE: /api/graphql beside /api/v3
        self.graphql_page_size = 100
        self.route('PATCH', r + r'/pulls/comments/(\d+)', self.edit_review_comment)
        self.route('DELETE', r + r'/pulls/comments/(\d+)', self.delete_review_comment)
        self.route('GET', r + r'/issues/(\d+)/comments', self.list_issue_comments)
        self.route('POST', r + r'/issues/(\d+)/comments', self.create_issue_comment)
        self.route('PATCH', r + r'/issues/comments/(\d+)', self.edit_issue_comment)
        self.route('DELETE', r + r'/issues/comments/(\d+)', self.delete_issue_comment)
        self.route('POST', r'/app/installations/(\d+)/access_tokens', self.create_installation_token)
        self.route('GET', r'/app', self.get_app)

    # -- test set-up ------------------------------------------------------------------------------
    def add_user(self, token: str, login: str, type: str = 'User') -> User:
        user = User(login, type, next(self.ids))
        self.tokens[token] = user
        return user

    def add_app(self, app_id: int, public_key_pem: str, installation_id: int, slug: str) -> None:
        self.apps[app_id] = (public_key_pem, User(f'{slug}[bot]', 'Bot', next(self.ids)))
        self.installations[installation_id] = app_id

    def add_repo(self, owner: str, name: str, private: bool | None = None, visibility: str | None = None) -> Repo:
        """`visibility` alone sets `private` the way GitHub does (internal repositories are private)."""
        if visibility is None:
            visibility = 'private' if private else 'public'
        if private is None:
            private = visibility != 'public'
        repo = Repo(owner, name, private, visibility)
        self.repos[repo.full_name] = repo
        return repo

    def add_pull(self, full_name: str, number: int, head_sha: str, files: dict[str, str],
                 base_sha: str = 'b' * 40, status: dict[str, str] | None = None) -> Pull:
        pull = Pull(number, head_sha, base_sha, dict(files), dict(status or {}), commits=[head_sha])
        self.repos[full_name].pulls[number] = pull
        return pull

    def push(self, full_name: str, number: int, head_sha: str, files: dict[str, str]) -> None:
        """A new head: comments on the old head whose line is not in the new diff become outdated."""
        with self.lock:
            pull = self.repos[full_name].pulls[number]
            pull.head_sha = head_sha
            pull.files = dict(files)
            pull.commits.append(head_sha)
            for c in pull.review_comments:
                if c['commit_id'] != head_sha:
                    c['line'] = None  # GitHub: an outdated comment has no current line
                    c['start_line'] = None

    def human_reply(self, full_name: str, number: int, comment_id: int, login: str, body: str) -> dict[str, Any]:
        pull = self.repos[full_name].pulls[number]
        parent = next(c for c in pull.review_comments if c['id'] == comment_id)
        c = dict(parent, id=next(self.ids), body=body, user=self._user_json(User(login)),
                 in_reply_to_id=comment_id)
        c['url'] = self.url(f'/repos/{full_name}/pulls/comments/{c["id"]}')
        pull.review_comments.append(c)
        return c

    def human_react(self, full_name: str, number: int, comment_id: int, login: str, content: str) -> None:
        """A reaction ('+1', '-1', 'laugh', ...) on a review comment."""
        with self.lock:
            self.repos[full_name].pulls[number].reactions.setdefault(comment_id, []).append((login, content))

    def human_resolve(self, full_name: str, number: int, comment_id: int, login: str) -> None:
        """Resolve the review thread that comment `comment_id` starts (the web UI's "Resolve conversation")."""
        with self.lock:
            self.repos[full_name].pulls[number].resolved[comment_id] = login

    def human_issue_comment(self, full_name: str, number: int, login: str, body: str) -> dict[str, Any]:
        pull = self.repos[full_name].pulls[number]
        c = self._issue_comment(full_name, User(login), body)
        pull.issue_comments.append(c)
        return c

    # -- helpers ----------------------------------------------------------------------------------
    def authenticate(self, req: Request) -> None:
        auth = req.headers.get('authorization', '')
        scheme, _, cred = auth.partition(' ')
        if req.path == '/app' or req.path.startswith('/app/'):
            return  # checked by the route (JWT)
        if scheme.lower() not in ('token', 'bearer') or cred not in self.tokens:
            raise HttpError(401, {'message': 'Bad credentials'})
        req.user = cred

    def _me(self, req: Request) -> User:
        assert req.user is not None
        return self.tokens[req.user]

    def _user_json(self, u: User) -> dict[str, Any]:
        return {'login': u.login, 'id': u.id, 'type': u.type, 'url': self.url(f'/users/{u.login}')}

    def _repo(self, owner: str, name: str) -> Repo:
        wanted = f'{owner}/{name}'.lower()
        repo = next((r for r in self.repos.values() if r.full_name.lower() == wanted), None)
        if repo is None:
            raise HttpError(404, {'message': 'Not Found'})
        return repo

    def _pull(self, owner: str, name: str, number: str) -> Pull:
        pull = self._repo(owner, name).pulls.get(int(number))
        if pull is None:
            raise HttpError(404, {'message': 'Not Found'})
        return pull

    def repo_json(self, repo: Repo) -> dict[str, Any]:
        return {'id': abs(hash(repo.full_name)) % 10**6, 'name': repo.name, 'full_name': repo.full_name,
                'private': repo.private, 'visibility': repo.visibility,
                'owner': {'login': repo.owner, 'type': 'Organization'},
                'url': self.url(f'/repos/{repo.full_name}'), 'html_url': f'{self.origin}/{repo.full_name}'}

    def _issue_comment(self, full_name: str, user: User, body: str) -> dict[str, Any]:
        cid = next(self.ids)
        return {'id': cid, 'body': body, 'user': self._user_json(user),
                'url': self.url(f'/repos/{full_name}/issues/comments/{cid}'),
                'html_url': f'{self.origin}/{full_name}/pull#issuecomment-{cid}',
                'created_at': '2026-01-01T00:00:00Z', 'updated_at': '2026-01-01T00:00:00Z'}

    # -- routes -----------------------------------------------------------------------------------
    def get_user(self, req: Request) -> Any:
        user = self._me(req)
        if user.type == 'Bot':
            raise HttpError(403, {'message': 'Resource not accessible by integration'})
        return self._user_json(user)

    def get_repo(self, req: Request, owner: str, name: str) -> Any:
        return self.repo_json(self._repo(owner, name))

    def get_pull(self, req: Request, owner: str, name: str, number: str) -> Any:
        repo = self._repo(owner, name)
        pull = self._pull(owner, name, number)
        base = f'/repos/{repo.full_name}'
        return {'number': pull.number, 'state': 'open', 'title': 'a change',
                'url': self.url(f'{base}/pulls/{pull.number}'),
                'issue_url': self.url(f'{base}/issues/{pull.number}'),
                'html_url': f'{self.origin}/{repo.full_name}/pull/{pull.number}',
                'head': {'sha': pull.head_sha, 'ref': 'feature', 'repo': self.repo_json(repo)},
                'base': {'sha': pull.base_sha, 'ref': 'main', 'repo': self.repo_json(repo)}}

    def list_files(self, req: Request, owner: str, name: str, number: str) -> Response:
        pull = self._pull(owner, name, number)
        files = [{'filename': path, 'status': pull.status.get(path, 'modified'), 'patch': patch,
                  'sha': 'f' * 40} for path, patch in pull.files.items()]
        return self.paginate(req, files)

    def get_commit(self, req: Request, owner: str, name: str, sha: str) -> Any:
        repo = self._repo(owner, name)
        if not any(sha in p.commits for p in repo.pulls.values()):
            raise HttpError(422, {'message': f'No commit found for SHA: {sha}'})
        return {'sha': sha, 'url': self.url(f'/repos/{repo.full_name}/commits/{sha}')}

    def list_review_comments(self, req: Request, owner: str, name: str, number: str) -> Response:
        pull = self._pull(owner, name, number)
        # like GitHub: every comment carries its reaction counts; only replies carry in_reply_to_id
        return self.paginate(req, [dict(c, reactions=self._rollup(pull, c)) for c in pull.review_comments])

    def _rollup(self, pull: Pull, c: dict[str, Any]) -> dict[str, Any]:
        contents = [content for _, content in pull.reactions.get(c['id'], [])]
        out: dict[str, Any] = {'url': c['url'] + '/reactions', 'total_count': len(contents)}
        out.update({k: contents.count(k) for k in ('+1', '-1', 'laugh', 'hooray', 'confused', 'heart',
                                                  'rocket', 'eyes')})
        return out

    def list_reactions(self, req: Request, owner: str, name: str, cid: str) -> Response:
        pull, c = self._find('review_comments', owner, name, cid)
        items = [{'id': i + 1, 'content': content, 'user': self._user_json(self._known_user(login)),
                  'created_at': '2026-01-01T00:00:00Z'}
                 for i, (login, content) in enumerate(pull.reactions.get(c['id'], []))]
        return self.paginate(req, items)

    def _known_user(self, login: str) -> User:
        return next((u for u in self.tokens.values() if u.login == login), User(login))

    def graphql(self, req: Request) -> Any:
        """The one GraphQL query reviewbot sends: a pull request's reviewThreads, paginated by cursor."""
        data = req.data or {}
        query, variables = str(data.get('query', '')), data.get('variables') or {}
        if 'reviewThreads' not in query:
            return {'errors': [{'message': 'this fake answers only reviewThreads queries'}]}
        try:
            pull = self._pull(variables['owner'], variables['name'], str(int(variables['number'])))
        except HttpError:
            return {'data': {'repository': None},
                    'errors': [{'type': 'NOT_FOUND', 'message': 'Could not resolve to a Repository'}]}
        roots = [c for c in pull.review_comments if not c.get('in_reply_to_id')]
        start = int(variables.get('after') or 0)
        page = roots[start:start + self.graphql_page_size]
        end = start + len(page)
        nodes = [{'isResolved': c['id'] in pull.resolved,
                  'resolvedBy': {'login': pull.resolved[c['id']]} if c['id'] in pull.resolved else None,
                  'comments': {'nodes': [{'databaseId': c['id']}]}} for c in page]
        return {'data': {'repository': {'pullRequest': {'reviewThreads': {
            'pageInfo': {'hasNextPage': end < len(roots), 'endCursor': str(end) if page else None},
            'nodes': nodes}}}}}

    def list_reviews(self, req: Request, owner: str, name: str, number: str) -> Response:
        return self.paginate(req, self._pull(owner, name, number).reviews)

    def _check_comment(self, pull: Pull, c: dict[str, Any]) -> str | None:
        """GitHub's reason to reject one review comment, or None."""
        body = c.get('body') or ''
        if len(body) > MAX_BODY:
            return 'Body is too long (maximum is 65536 characters)'
        patch = pull.files.get(c.get('path', ''))
        if patch is None:
            return 'Path could not be resolved'
        if 'position' in c:
            return 'position is not supported by this fake: use line/side'
        side = c.get('side', 'RIGHT')
        where = hunk_kind(patch, 'new' if side == 'RIGHT' else 'old', int(c.get('line') or 0))
        if where is None or (side == 'LEFT' and where[1] == 'added'):
            return 'Pull request review thread line must be part of the diff'
        if c.get('start_line') is not None:
            start_side = c.get('start_side', side)
            start = hunk_kind(patch, 'new' if start_side == 'RIGHT' else 'old', int(c['start_line']))
            if start is None:
                return 'Pull request review thread start line must be part of the diff'
            if start[0] != where[0] or int(c['start_line']) >= int(c['line']):
                return 'Pull request review thread start line must be part of the same hunk as the line.'
        return None

    def create_review(self, req: Request, owner: str, name: str, number: str) -> Any:
        repo = self._repo(owner, name)
        pull = self._pull(owner, name, number)
        data = req.data or {}
        event = data.get('event')
        if event not in (None, 'COMMENT', 'APPROVE', 'REQUEST_CHANGES'):
            raise HttpError(422, {'message': 'Unprocessable Entity', 'errors': [f'Invalid event {event!r}']})
        commit = data.get('commit_id', pull.head_sha)
        if commit not in pull.commits:
            raise HttpError(422, {'message': 'Unprocessable Entity',
                                  'errors': ['commit_id is not part of the pull request']})
        if len(data.get('body') or '') > MAX_BODY:
            raise HttpError(422, {'message': 'Unprocessable Entity', 'errors': ['Body is too long']})
        comments = data.get('comments') or []
        errors = [e for e in (self._check_comment(pull, c) for c in comments) if e]
        if errors:  # all or nothing, like GitHub
            raise HttpError(422, {'message': 'Unprocessable Entity', 'errors': errors[:1],
                                  'documentation_url': 'https://docs.github.com/rest/pulls/reviews'})
        user = self._me(req)
        review_id = next(self.ids)
        state = {'COMMENT': 'COMMENTED', 'APPROVE': 'APPROVED', 'REQUEST_CHANGES': 'CHANGES_REQUESTED',
                 None: 'PENDING'}[event]
        review = {'id': review_id, 'body': data.get('body', ''), 'state': state, 'commit_id': commit,
                  'user': self._user_json(user),
                  'html_url': f'{self.origin}/{repo.full_name}/pull/{pull.number}#review-{review_id}'}
        pull.reviews.append(review)
        for c in comments:
            cid = next(self.ids)
            pull.review_comments.append({
                'id': cid, 'pull_request_review_id': review_id, 'body': c['body'], 'path': c['path'],
                'line': c['line'], 'original_line': c['line'], 'side': c.get('side', 'RIGHT'),
                'start_line': c.get('start_line'), 'start_side': c.get('start_side'),
                'commit_id': commit, 'original_commit_id': commit, 'user': self._user_json(user),
                'url': self.url(f'/repos/{repo.full_name}/pulls/comments/{cid}'),
                'html_url': f'{self.origin}/{repo.full_name}/pull/{pull.number}#discussion_r{cid}',
                'created_at': '2026-01-01T00:00:00Z', 'updated_at': '2026-01-01T00:00:00Z'})
        return review

    def _find(self, items_of: str, owner: str, name: str, cid: str) -> tuple[Pull, dict[str, Any]]:
        for pull in self._repo(owner, name).pulls.values():
            for c in getattr(pull, items_of):
                if c['id'] == int(cid):
                    return pull, c
        raise HttpError(404, {'message': 'Not Found'})

    def _edit(self, req: Request, items_of: str, owner: str, name: str, cid: str) -> Any:
        _, c = self._find(items_of, owner, name, cid)
        if c['user']['login'] != self._me(req).login:
            raise HttpError(403, {'message': 'Must have admin rights to Repository.'})
        body = (req.data or {}).get('body', '')
        if len(body) > MAX_BODY:
            raise HttpError(422, {'message': 'Unprocessable Entity', 'errors': ['Body is too long']})
        c['body'] = body
        return c

    def _delete(self, req: Request, items_of: str, owner: str, name: str, cid: str) -> Response:
        pull, c = self._find(items_of, owner, name, cid)
        if c['user']['login'] != self._me(req).login:
            raise HttpError(403, {'message': 'Must have admin rights to Repository.'})
        getattr(pull, items_of).remove(c)
        return Response(204)

    def edit_review_comment(self, req: Request, owner: str, name: str, cid: str) -> Any:
        return self._edit(req, 'review_comments', owner, name, cid)

    def delete_review_comment(self, req: Request, owner: str, name: str, cid: str) -> Response:
        return self._delete(req, 'review_comments', owner, name, cid)

    def list_issue_comments(self, req: Request, owner: str, name: str, number: str) -> Response:
        return self.paginate(req, self._pull(owner, name, number).issue_comments)

    def create_issue_comment(self, req: Request, owner: str, name: str, number: str) -> Response:
        pull = self._pull(owner, name, number)
        body = (req.data or {}).get('body', '')
        if len(body) > MAX_BODY:
            raise HttpError(422, {'message': 'Unprocessable Entity', 'errors': ['Body is too long']})
        c = self._issue_comment(f'{owner}/{name}', self._me(req), body)
        pull.issue_comments.append(c)
        return Response(201, c)

    def edit_issue_comment(self, req: Request, owner: str, name: str, cid: str) -> Any:
        return self._edit(req, 'issue_comments', owner, name, cid)

    def delete_issue_comment(self, req: Request, owner: str, name: str, cid: str) -> Response:
        return self._delete(req, 'issue_comments', owner, name, cid)

    def _app_from_jwt(self, req: Request) -> int:
        scheme, _, token = req.headers.get('authorization', '').partition(' ')
        for app_id, (key, _) in self.apps.items():
            try:
                claims = jwt.decode(token, key, algorithms=['RS256'], options={'verify_iat': False})
            except jwt.PyJWTError:
                continue
            if scheme.lower() == 'bearer' and str(claims.get('iss')) == str(app_id):
                return app_id
        raise HttpError(401, {'message': 'A JSON web token could not be decoded'})

    def get_app(self, req: Request) -> Any:
        """GET /app with the App's JWT: the App itself (its slug names its bot: '<slug>[bot]')."""
        app_id = self._app_from_jwt(req)
        slug = self.apps[app_id][1].login.removesuffix('[bot]')
        return {'id': app_id, 'slug': slug, 'name': slug, 'node_id': f'A_{app_id}',
                'owner': {'login': 'acme', 'id': 1, 'type': 'Organization'},
                'html_url': f'{self.origin}/apps/{slug}', 'created_at': '2026-01-01T00:00:00Z',
                'updated_at': '2026-01-01T00:00:00Z', 'permissions': {}, 'events': []}

    def create_installation_token(self, req: Request, installation: str) -> Response:
        app_id = self.installations.get(int(installation))
        if app_id is None:
            raise HttpError(404, {'message': 'Not Found'})
        key, bot = self.apps[app_id]
        scheme, _, token = req.headers.get('authorization', '').partition(' ')
        try:
            claims = jwt.decode(token, key, algorithms=['RS256'], options={'verify_iat': False})
        except jwt.PyJWTError:
            raise HttpError(401, {'message': 'A JSON web token could not be decoded'}) from None
        if scheme.lower() != 'bearer' or str(claims.get('iss')) != str(app_id):
            raise HttpError(401, {'message': 'A JSON web token could not be decoded'})
        token = f'ghs_installation_{installation}_{next(self.ids)}'
        self.tokens[token] = bot
        return Response(201, {'token': token, 'expires_at': '2099-01-01T00:00:00Z', 'permissions': {}})
