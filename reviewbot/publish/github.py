"""GitHub pull requests through PyGithub: one COMMENT review per batch of inline comments, one summary
issue comment edited in place. Never APPROVE or REQUEST_CHANGES: the event is a constant, not data."""
from __future__ import annotations

import math
from typing import Any

from reviewbot.core import Diff, Report
from reviewbot.errors import PublishError
from reviewbot.publish import GitHubTarget, PublishResult, dismiss, retry
from reviewbot.publish.engine import Posted, Rejected, run
from reviewbot.publish.markers import parse_marker
from reviewbot.publish.plan import Inline

REVIEW_EVENT = 'COMMENT'
REVIEW_BODY = 'reviewbot: inline comments for this commit; the summary is in the conversation.'


def make_client(target: GitHubTarget) -> Any:
    from github import Github
    return Github(
        auth=target.auth, base_url=target.base_url.rstrip('/'),
        timeout=max(1, math.ceil(target.retry.timeout)),  # PyGithub insists on whole seconds
        retry=None,  # our own bounded retry (reviewbot.publish.retry) also handles 429 and timeouts
        seconds_between_requests=target.seconds_between_requests,
        seconds_between_writes=target.seconds_between_writes,
    )


def classify(e: BaseException, policy: retry.RetryPolicy) -> retry.Transient | None:
    import requests
    from github import GithubException
    if isinstance(e, requests.exceptions.RequestException):
        return retry.Transient(f'{type(e).__name__}')
    if not isinstance(e, GithubException):
        return None
    status = e.status
    headers = e.headers or {}
    message = str((e.data or {}).get('message', '') if isinstance(e.data, dict) else e.data)
    if status >= 500:
        return retry.Transient(f'HTTP {status}')
    limited = (retry.header(headers, 'retry-after') is not None
               or retry.header(headers, 'x-ratelimit-remaining') == '0'
               or 'rate limit' in message.lower())
    if status == 429 or (status == 403 and limited):
        wait = retry.rate_limit_wait(headers, policy.clock)
        return retry.Transient(f'HTTP {status} rate limited',
                               wait if wait is not None else policy.secondary_limit_delay)
    return None


def _error_text(e: BaseException) -> str:
    data = getattr(e, 'data', None)
    if isinstance(data, dict):
        msg = str(data.get('message', ''))
        errors = data.get('errors')
        if errors:
            msg += ': ' + '; '.join(str(x.get('message', x) if isinstance(x, dict) else x) for x in errors)
        return f'HTTP {getattr(e, "status", "?")} {msg}'.strip()
    return str(e)


class GitHubForge:
    platform = 'github'

    def __init__(self, target: GitHubTarget) -> None:
        from github import Auth
        self.target = target
        self.batch_size = target.batch_size
        self.gh = make_client(target)
        self.repo: Any = None
        self.pr: Any = None
        self.commit: Any = None
        # who we are: comments by anyone else never count as ours, whatever their marker says
        self.login: str | None = None
        self._partial: dict[str, Any] = {}
        self._login_unknown = False
        self.app = isinstance(target.auth, (Auth.AppInstallationAuth, Auth.AppAuth))

    def classify(self, e: BaseException) -> retry.Transient | None:
        return classify(e, self.target.retry)

    def open(self) -> tuple[str, str]:
        from github import GithubException
        if self.repo is None:
            self.repo = self.gh.get_repo(self.target.repo)
        if self.pr is None:
            self.pr = self.repo.get_pull(self.target.pr_number)
        if self.commit is None:
            self.commit = self.repo.get_commit(self.pr.head.sha)
        if self.login is None and not self.app and not self._login_unknown:
            try:
                self.login = self.gh.get_user().login
            except GithubException as e:
                if e.status not in (401, 403, 404):
                    raise
                # Actions' GITHUB_TOKEN is an installation token: /user is forbidden; it posts as a Bot
                self._login_unknown = True
        return self.pr.head.sha, self.pr.html_url or ''

    def _ours(self, c: Any) -> bool:
        user = c.user
        if user is None:
            return False
        if self.login is not None:
            return user.login == self.login
        return user.type == 'Bot'  # installation tokens cannot ask /user; Apps post as Bots

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
                raise Rejected(_error_text(e)) from e
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
    try:
        forge = GitHubForge(target)
        return run(report, diff, forge, target.retry, result)
    except retry.GaveUp as e:
        raise PublishError(f'GitHub {target.repo}#{target.pr_number}: {e}') from e
    except GithubException as e:
        raise PublishError(f'GitHub {target.repo}#{target.pr_number}: {_error_text(e)}') from e
    except requests.exceptions.RequestException as e:
        raise PublishError(f'GitHub {target.base_url}: {type(e).__name__}: {e}') from e


def fetch_diff_bytes(target: GitHubTarget) -> bytes:
    """The PR's diff rebuilt from `pr.get_files()` patches, as git-style unified diff bytes."""
    forge = GitHubForge(target)
    policy = target.retry

    def files() -> list[Any]:
        pr = forge.gh.get_repo(target.repo).get_pull(target.pr_number)
        return list(pr.get_files())
    from github import GithubException
    try:
        listed = retry.call(files, policy, forge.classify, 'list the pull request files')
    except (retry.GaveUp, GithubException) as e:
        raise PublishError(f'GitHub {target.repo}#{target.pr_number}: cannot read the diff: {e}') from e
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
