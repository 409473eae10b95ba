"""GitLab merge requests through python-gitlab: one discussion per inline finding, positioned from the MR's
diff_refs and checked to be a DiffNote; one summary note edited in place."""
from __future__ import annotations

import re
import urllib.parse
from typing import Any

from reviewbot.core import Diff, LineKind, Report
from reviewbot.errors import PublishError
from reviewbot.publish import GitLabTarget, PublishResult, dismiss, retry
from reviewbot.publish.markers import parse_marker
from reviewbot.publish.placement import Inline
from reviewbot.publish.sync import Posted, Rejected, run


def server_url(url: str) -> str:
    """python-gitlab wants the server URL; CI gives CI_API_V4_URL (…/api/v4)."""
    url = url.rstrip('/')
    return url.removesuffix('/api/v4')


def make_client(target: GitLabTarget, seen_headers: dict[str, str]) -> Any:
    """A python-gitlab client whose own retries are off: every request goes through retry.RetryAdapter
    (the policy GitHub uses too); the headers of the last response are kept in `seen_headers`
    (GitlabError does not carry Retry-After)."""
    import gitlab
    import requests

    class Client(gitlab.Gitlab):
        def http_request(self, *args: Any, **kwargs: Any) -> Any:
            kwargs.update(obey_rate_limit=False, retry_transient_errors=False, max_retries=0)
            return super().http_request(*args, **kwargs)

    session = requests.Session()
    retry.mount(session, target.retry)

    def keep_headers(response: Any, *args: Any, **kwargs: Any) -> None:
        seen_headers.clear()
        seen_headers.update(response.headers)
    session.hooks['response'].append(keep_headers)
    return Client(server_url(target.url), private_token=target.token, timeout=target.retry.timeout,
                  session=session, per_page=100)


def classify(e: BaseException, policy: retry.RetryPolicy, headers: dict[str, str]) -> retry.Transient | None:
    import gitlab
    import requests
    if isinstance(e, requests.exceptions.RequestException):
        return retry.Transient(type(e).__name__)
    if not isinstance(e, gitlab.exceptions.GitlabError) or e.response_code is None:
        return None
    return retry.classify_status(e.response_code, headers, _message(e), policy)


def _message(e: Any) -> str:
    msg = getattr(e, 'error_message', '') or ''
    if isinstance(msg, dict):  # {'note': ['is too long']}
        msg = '; '.join(f'{k} {" ".join(map(str, v)) if isinstance(v, list) else v}' for k, v in msg.items())
    msg = ' '.join(str(msg).split())[:300]
    code = getattr(e, 'response_code', None)
    # GitLab repeats the status in its messages: '401 Unauthorized', '404 Project Not Found'
    return re.sub(rf'^{code}\b:? *', '', msg) if code else msg


def error_text(e: BaseException) -> str:
    """An API error in words on one line, e.g. 'unauthorized (HTTP 401)' (retry.error_text)."""
    import gitlab

    def api_error(e: BaseException) -> str | None:
        if not isinstance(e, gitlab.exceptions.GitlabError):
            return None
        msg = retry.words(_message(e))
        return f'{msg or "no message"} (HTTP {e.response_code})' if e.response_code else (msg or type(e).__name__)
    return retry.error_text(e, api_error)


class GitLabForge:
    platform = 'gitlab'
    batch_size = 1  # GitLab has no multi-comment review call; drafts would hide partial failures

    def __init__(self, target: GitLabTarget) -> None:
        self.target = target
        self.where = f'GitLab project {target.project} MR !{target.mr_iid}'
        self.headers: dict[str, str] = {}
        self.gl = make_client(target, self.headers)
        self.project = self.gl.projects.get(target.project, lazy=True)
        self.mr: Any = None
        self.username: str | None = None
        self._partial: dict[str, tuple[Any, list[Any]]] = {}
        self.strays: dict[str, list[int]] = {}  # fingerprint -> our plain notes that should be DiffNotes

    def classify(self, e: BaseException) -> retry.Transient | None:
        return classify(e, self.target.retry, self.headers)

    def describe(self, e: BaseException) -> str:
        return error_text(e)

    def open(self) -> tuple[str, str]:
        if self.mr is None:
            self.mr = self.project.mergerequests.get(self.target.mr_iid)
        if self.username is None:  # who we are: a transient failure is retried; a refusal stops the run
            self.gl.auth()
            self.username = self.gl.user.username if self.gl.user is not None else None
            if not self.username:
                raise PublishError(f'{self.where}: cannot tell which account this token posts as (GET /user)')
        refs = self.mr.diff_refs or {}
        if not refs.get('head_sha'):
            raise PublishError(f'GitLab MR !{self.target.mr_iid} has no diff_refs yet; retry when its diff is ready')
        return refs['head_sha'], getattr(self.mr, 'web_url', '') or ''

    def _resumable(self, name: str, make: Any) -> list[Any]:
        """All items of a listing; after a failed page, the next call resumes at that page."""
        state = self._partial.get(name)
        if state is None:
            state = self._partial[name] = (make(), [])
        iterator, items = state
        for obj in iterator:
            items.append(obj)
        del self._partial[name]
        return items

    def _ours(self, note: dict[str, Any]) -> bool:
        return (note.get('author') or {}).get('username') == self.username

    def list_inline(self) -> list[Posted]:
        out = []
        strays: dict[str, list[int]] = {}
        for d in self._resumable('discussions', lambda: self.mr.discussions.list(iterator=True)):
            notes = d.attributes.get('notes') or []
            if not notes:
                continue
            first = notes[0]
            m = parse_marker(first.get('body'))
            if m is None or m.is_summary or m.fingerprint is None or not self._ours(first):
                continue
            if first.get('type') != 'DiffNote':
                # a plain note GitLab made from a position it refused, in a request that timed out
                strays.setdefault(m.fingerprint, []).append(first['id'])
                continue
            path = (first.get('position') or {}).get('new_path') or ''
            out.append(Posted(m, first['body'], path, (d.id, first['id']),
                              dismiss.gitlab_thread(notes, self._ours, m.resolved)))
        self.strays = strays
        return out

    def thumbs_down(self, posted: Posted) -> str | None:
        return dismiss.gitlab_thumbs_down(self.mr, posted.handle[1], self._ours)

    def list_summaries(self) -> list[Posted]:
        out = []
        notes = self._resumable('notes', lambda: self.mr.notes.list(iterator=True, sort='asc',
                                                                     order_by='created_at'))
        for n in notes:
            m = parse_marker(n.body)
            if m is not None and m.is_summary and self._ours(n.attributes) and not n.attributes.get('system'):
                out.append(Posted(m, n.body, '', n))
        return out

    def _position(self, i: Inline) -> dict[str, Any]:
        refs = self.mr.diff_refs
        pos: dict[str, Any] = {'position_type': 'text', 'base_sha': refs['base_sha'],
                               'start_sha': refs['start_sha'], 'head_sha': refs['head_sha'],
                               'old_path': i.old_path, 'new_path': i.path}
        # added line: new_line only; removed: old_line only; context: both (GitLab's line_code rules)
        if i.anchor.kind is not LineKind.REMOVED:
            pos['new_line'] = i.anchor.new_lineno
        if i.anchor.kind is not LineKind.ADDED:
            pos['old_line'] = i.anchor.old_lineno
        return pos

    def post_inline(self, batch: list[tuple[Inline, str]]) -> None:
        import gitlab
        for i, body in batch:
            for stray in self.strays.pop(i.fingerprint, []):
                try:
                    self.mr.notes.delete(stray)  # a retry: the earlier attempt left a plain note
                except gitlab.exceptions.GitlabDeleteError as e:
                    if e.response_code != 404:  # 404: already gone
                        raise
            try:
                d = self.mr.discussions.create({'body': body, 'position': self._position(i)})
            except gitlab.exceptions.GitlabCreateError as e:
                if e.response_code in (400, 422):
                    raise Rejected(error_text(e)) from e
                raise
            note = (d.attributes.get('notes') or [{}])[0]
            if note.get('type') != 'DiffNote':
                # GitLab silently made a plain comment: take it back, the finding goes to the summary
                try:
                    self.mr.notes.delete(note['id'])
                except Exception as e:
                    raise Rejected(f'GitLab did not attach the comment to the diff, and the plain comment it '
                                   f'made instead (note {note.get("id")}) could not be removed: {error_text(e)}') from e
                raise Rejected('GitLab did not attach the comment to the diff (not a DiffNote)')

    def discard_strays(self) -> None:
        """Delete our plain notes that were meant as DiffNotes (their findings are in the summary)."""
        import gitlab
        for fp in list(self.strays):
            for note_id in list(self.strays[fp]):
                try:
                    self.mr.notes.delete(note_id)
                except gitlab.exceptions.GitlabDeleteError as e:
                    if e.response_code != 404:  # 404: already gone
                        raise Rejected(f'note {note_id}: {error_text(e)}') from e
                self.strays[fp].remove(note_id)
            del self.strays[fp]

    def edit_inline(self, posted: Posted, body: str, resolved: bool) -> None:
        discussion_id, note_id = posted.handle
        d = self.mr.discussions.get(discussion_id, lazy=True)
        note = d.notes.get(note_id, lazy=True)
        note.body = body
        note.save()
        d.resolved = resolved
        d.save()

    def create_summary(self, body: str) -> int | None:
        return self.mr.notes.create({'body': body}).id

    def edit_summary(self, posted: Posted, body: str) -> None:
        note = self.mr.notes.get(posted.handle.id, lazy=True)
        note.body = body
        note.save()


def publish_gitlab(report: Report, diff: Diff, target: GitLabTarget) -> PublishResult:
    import gitlab
    import requests
    result = PublishResult('gitlab')
    where = f'GitLab project {target.project} MR !{target.mr_iid}'
    try:
        return run(report, diff, GitLabForge(target), target.retry, result, target.expect_head,
                   target.map_moved_head)
    except retry.GaveUp as e:
        raise PublishError(f'{where}: {e}') from e
    except gitlab.exceptions.GitlabAuthenticationError as e:
        raise PublishError(f'{where}: the token was refused ({error_text(e)}); use a project access token '
                           'with api scope (CI_JOB_TOKEN cannot comment on merge requests)') from e
    except gitlab.exceptions.GitlabError as e:
        raise PublishError(f'{where}: {error_text(e)}') from e
    except requests.exceptions.RequestException as e:
        raise PublishError(f'{where}: {target.url} did not answer ({type(e).__name__})') from e


def fetch_diff_bytes(target: GitLabTarget) -> bytes:
    """The MR's diff from /merge_requests/:iid/diffs, as git-style unified diff bytes."""
    import gitlab
    forge = GitLabForge(target)
    pid = urllib.parse.quote(str(target.project), safe='')
    path = f'/projects/{pid}/merge_requests/{target.mr_iid}/diffs'
    import requests
    try:
        files = forge._resumable('diffs', lambda: forge.gl.http_list(path, iterator=True))
    except (retry.GaveUp, gitlab.exceptions.GitlabError) as e:
        raise PublishError(f'{forge.where}: cannot read the diff: {error_text(e)}') from e
    except requests.exceptions.RequestException as e:
        raise PublishError(f'{forge.where}: cannot read the diff: {target.url} did not answer '
                           f'({type(e).__name__})') from e
    chunks = []
    for f in files:
        old, new = f['old_path'], f['new_path']
        header = [f'diff --git a/{old} b/{new}']
        if f.get('renamed_file'):
            header += [f'rename from {old}', f'rename to {new}']
        if f.get('new_file'):
            header.append(f'new file mode {f.get("b_mode") or "100644"}')
        if f.get('deleted_file'):
            header.append(f'deleted file mode {f.get("a_mode") or "100644"}')
        text = f.get('diff') or ''
        if not text:
            chunks.append('\n'.join(header) + '\n')
            continue
        a = '/dev/null' if f.get('new_file') else f'a/{old}'
        b = '/dev/null' if f.get('deleted_file') else f'b/{new}'
        body = text if text.endswith('\n') else text + '\n'
        chunks.append('\n'.join(header + [f'--- {a}', f'+++ {b}']) + '\n' + body)
    return ''.join(chunks).encode('utf-8', 'surrogateescape')
