"""GitHub pull requests through PyGithub: one COMMENT review per batch of inline comments, one summary
issue comment edited in place. Never APPROVE or REQUEST_CHANGES: the event is a constant, not data."""
from __future__ import annotations

import math
from typing import Any

from reviewbot.core import Diff, Report
from reviewbot.errors import PublishError
from reviewbot.publish import GitHubTarget, PublishResult, dismiss, retry
from reviewbot.publish.markers import parse_marker
from reviewbot.publish.placement import Inline
from reviewbot.publish.sync import Posted, Rejected, run

REVIEW_EVENT = 'COMMENT'
REVIEW_BODY = 'reviewbot: inline comments for this commit; the summary is in the conversation.'


def _with_retries(requester: Any, policy: retry.RetryPolicy) -> None:
    """Every request of this client goes through retry.RetryAdapter (attempts counted per request).
    PyGithub takes only a urllib3 Retry; the connection class of this one client is swapped instead."""
    attr = '_Requester__connectionClass'
    base = getattr(requester, attr, None)
    if base is None:  # a PyGithub without it would post without our retries: refuse, loudly
        raise PublishError('this PyGithub has no per-client connection class; reviewbot needs PyGithub 2.x')

    class Connection(base):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            retry.mount(self.session, policy)
    setattr(requester, attr, Connection)


def make_client(target: GitHubTarget) -> Any:
    from github import Github
    gh = Github(
        auth=target.auth, base_url=target.base_url.rstrip('/'),
        timeout=max(1, math.ceil(target.retry.timeout)),  # PyGithub insists on whole seconds
        retry=None,  # our own bounded retry (reviewbot.publish.retry) also handles 429 and timeouts
        seconds_between_requests=target.seconds_between_requests,
        seconds_between_writes=target.seconds_between_writes,
    )
    _with_retries(gh.requester, target.retry)
    return gh


def _message(e: Any) -> str:
    data = getattr(e, 'data', None)
    if isinstance(data, dict):
        msg = str(data.get('message', '') or '')
        errors = data.get('errors')
        if errors:
            msg += ': ' + '; '.join(str(x.get('message', x) if isinstance(x, dict) else x) for x in errors)
        return msg
    return data if isinstance(data, str) and not data.lstrip().startswith(('<', '{', '[')) else ''


def classify(e: BaseException, policy: retry.RetryPolicy) -> retry.Transient | None:
    import requests
    from github import GithubException
    if isinstance(e, requests.exceptions.RequestException):
        return retry.Transient(f'{type(e).__name__}')
    if not isinstance(e, GithubException):
        return None
    return retry.classify_status(e.status, e.headers or {}, _message(e), policy)


def error_text(e: BaseException) -> str:
    """An API error in words on one line, e.g. 'bad credentials (HTTP 401)' (retry.error_text)."""
    from github import GithubException

    def api_error(e: BaseException) -> str | None:
        if not isinstance(e, GithubException):
            return None
        return f'{retry.words(_message(e)) or "no message"} (HTTP {e.status})'
    return retry.error_text(e, api_error)



class GitHubForge:
    platform = 'github'

    def __init__(self, target: GitHubTarget) -> None:
        self.target = target
        self.where = f'GitHub {target.repo}#{target.pr_number}'
        self.batch_size = target.batch_size
        self.gh = make_client(target)
        self.repo: Any = None
        self.pr: Any = None
        self.commit: Any = None
        # who we are: comments by anyone else never count as ours, whatever their marker says
        self.login: str | None = None
        self._partial: dict[str, Any] = {}

    def classify(self, e: BaseException) -> retry.Transient | None:
        return classify(e, self.target.retry)

    def describe(self, e: BaseException) -> str:
        return error_text(e)

    def identity(self) -> str:
        """The login this token posts as. A transient failure is retried like any request; when the
        identity cannot be established the run stops before posting (never "nothing is mine")."""
        from github import Auth, GithubException, GithubIntegration
        if self.target.bot_login:
            return self.target.bot_login
        auth = self.target.auth
        app_auth = auth if isinstance(auth, Auth.AppAuth) else getattr(auth, '_app_auth', None)
        if isinstance(app_auth, Auth.AppAuth):  # a GitHub App: GET /app (with its JWT) names its slug
            integration = GithubIntegration(auth=app_auth, base_url=self.target.base_url.rstrip('/'), retry=None,
                                            seconds_between_requests=self.target.seconds_between_requests)
            _with_retries(integration.requester, self.target.retry)
            return f'{integration.get_app().slug}[bot]'
        try:
            return str(self.gh.get_user().login)
        except GithubException as e:
            if e.status in (403, 404):  # an installation token (Actions' GITHUB_TOKEN) may not read /user
                raise PublishError(f'{self.where}: cannot tell which account this token posts as '
                                   f'(GET /user: {error_text(e)}); pass --bot-login, e.g. '
                                   "--bot-login 'github-actions[bot]' for Actions' GITHUB_TOKEN") from e
            raise

    def open(self) -> tuple[str, str]:
        if self.login is None:
            self.login = self.identity()
        if self.repo is None:
            self.repo = self.gh.get_repo(self.target.repo)
        if self.pr is None:
            self.pr = self.repo.get_pull(self.target.pr_number)
        if self.commit is None:
            self.commit = self.repo.get_commit(self.pr.head.sha)
        return self.pr.head.sha, self.pr.html_url or ''

    def _ours(self, c: Any) -> bool:
        user = c.user
        return user is not None and self.login is not None and user.login.lower() == self.login.lower()

    def _resumable(self, name: str, make: Any) -> list[Any]:
        """All items of a paginated listing. A PaginatedList keeps the pages it already has and
        its next-page URL when a page fails, so a retry resumes at the failed page."""
        plist = self._partial.get(name)
        if plist is None:
            plist = self._partial[name] = make()
        items = list(plist)
        del self._partial[name]
        return items

    def list_inline(self) -> list[Posted]:
        out = []
        listed = self._resumable('review', self.pr.get_review_comments)
        for c in listed:
            m = parse_marker(c.body)
            if m is not None and not m.is_summary and self._ours(c):
                out.append(Posted(m, c.body, c.path or '', c))
        dismiss.github_replies(out, listed, self._ours)
        return out

    def read_resolved(self, posted: list[Posted]) -> None:
        dismiss.github_resolved(self.gh.requester, self.target.repo, self.target.pr_number,
                                     posted, self.login)

    def thumbs_down(self, posted: Posted) -> str | None:
        return dismiss.github_thumbs_down(posted.handle, self._ours)

    def list_summaries(self) -> list[Posted]:
        out = []
        for c in self._resumable('issue', self.pr.get_issue_comments):
            m = parse_marker(c.body)
            if m is not None and m.is_summary and self._ours(c):
                out.append(Posted(m, c.body, '', c))
        return out

    def post_inline(self, batch: list[tuple[Inline, str]]) -> None:
        from github import GithubException
        comments = []
        for i, body in batch:
            c: dict[str, Any] = {'path': i.path, 'line': i.line, 'side': i.side.value, 'body': body}
            if i.start_line is not None:
                c['start_line'] = i.start_line
                c['start_side'] = i.side.value
            comments.append(c)
        try:
            self.pr.create_review(commit=self.commit, body=REVIEW_BODY, event=REVIEW_EVENT, comments=comments)
        except GithubException as e:
            if e.status == 422:
                raise Rejected(error_text(e)) from e
            raise

    def discard_strays(self) -> None:
        """Nothing to do: GitHub rejects a bad position instead of posting it elsewhere."""

    def edit_inline(self, posted: Posted, body: str, resolved: bool) -> None:
        posted.handle.edit(body)

    def create_summary(self, body: str) -> int | None:
        return self.pr.create_issue_comment(body).id

    def edit_summary(self, posted: Posted, body: str) -> None:
        posted.handle.edit(body)


def publish_github(report: Report, diff: Diff, target: GitHubTarget) -> PublishResult:
    import requests
    from github import GithubException
    result = PublishResult('github')
    where = f'GitHub {target.repo}#{target.pr_number}'
    try:
        forge = GitHubForge(target)
        return run(report, diff, forge, target.retry, result, target.expect_head, target.map_moved_head)
    except (retry.GaveUp, GithubException) as e:
        raise PublishError(f'{where}: {error_text(e)}') from e
    except requests.exceptions.RequestException as e:
        raise PublishError(f'{where}: {target.base_url} did not answer ({type(e).__name__})') from e


def fetch_diff_bytes(target: GitHubTarget) -> bytes:
    """The PR's diff rebuilt from `pr.get_files()` patches, as git-style unified diff bytes."""
    forge = GitHubForge(target)

    def files() -> list[Any]:
        pr = forge.gh.get_repo(target.repo).get_pull(target.pr_number)
        return list(pr.get_files())
    import requests
    from github import GithubException
    try:
        listed = files()
    except (retry.GaveUp, GithubException) as e:
        raise PublishError(f'{forge.where}: cannot read the diff: {error_text(e)}') from e
    except requests.exceptions.RequestException as e:
        raise PublishError(f'{forge.where}: cannot read the diff: {target.base_url} did not answer '
                           f'({type(e).__name__})') from e
    chunks = []
    for f in listed:
        new = f.filename
        old = f.previous_filename or new
        header = [f'diff --git a/{old} b/{new}']
        if f.status == 'renamed':
            header += [f'rename from {old}', f'rename to {new}']
        if f.patch is None:  # binary, or too large for the API: no lines to comment on
            header.append(f'Binary files a/{old} and b/{new} differ')
            chunks.append('\n'.join(header) + '\n')
            continue
        a = '/dev/null' if f.status == 'added' else f'a/{old}'
        b = '/dev/null' if f.status == 'removed' else f'b/{new}'
        if f.status == 'added':
            header.append('new file mode 100644')
        elif f.status == 'removed':
            header.append('deleted file mode 100644')
        patch = f.patch if f.patch.endswith('\n') else f.patch + '\n'
        chunks.append('\n'.join(header + [f'--- {a}', f'+++ {b}']) + '\n' + patch)
    return ''.join(chunks).encode('utf-8', 'surrogateescape')
