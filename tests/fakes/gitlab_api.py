"""A fake GitLab REST API v4 (the endpoints reviewbot uses) on 127.0.0.1, behaving the way GitLab does.

- `PRIVATE-TOKEN` (or CI `JOB-TOKEN`) auth; GET /user; GET /projects/:id (numeric or URL-encoded path,
  case-insensitive) with `visibility` and the repository / merge request access levels.
- Merge requests with diff_refs, /diffs (paginated with Link / X-Next-Page headers on the own host).
- Discussions: a position whose shas do not match diff_refs is a 400; a position whose lines do not
  match the diff (added: new_line only; removed: old_line only; context: both) silently becomes a
  plain note (type null), as GitLab does — the client must check for a DiffNote.
- Notes (summary), editable and deletable by their author only; discussions resolvable.
"""
from __future__ import annotations

import dataclasses
import itertools
import urllib.parse
from typing import Any

from tests.fakes.http import FakeServer, HttpError, Request, Response, patch_lines

MAX_NOTE = 1_000_000


def line_kinds(patch: str) -> dict[tuple[int | None, int | None], str]:
    """(old_line, new_line) -> kind for every line the patch shows, keyed the way GitLab positions are."""
    return {(old, new): kind for _, old, new, kind in patch_lines(patch)}


@dataclasses.dataclass
class MergeRequest:
    iid: int
    base_sha: str
    head_sha: str
    files: dict[str, str]  # path -> diff hunks
    new_files: set[str] = dataclasses.field(default_factory=set)
    discussions: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    notes: list[dict[str, Any]] = dataclasses.field(default_factory=list)  # every note, in order
    awards: dict[int, list[dict[str, Any]]] = dataclasses.field(default_factory=dict)  # note id -> emoji


@dataclasses.dataclass
class Project:
    id: int
    path: str
    visibility: str = 'public'
    repository_access_level: str | None = 'enabled'  # None: the API leaves the field out
    merge_requests_access_level: str | None = 'enabled'
    mrs: dict[int, MergeRequest] = dataclasses.field(default_factory=dict)


class FakeGitLab(FakeServer):
    prefix = '/api/v4'
    unquote_path = False

    def __init__(self) -> None:
        super().__init__()
        self.projects: dict[int, Project] = {}
        self.tokens: dict[str, str] = {}  # token -> username
        self.ids = itertools.count(500)
        p = r'/projects/([^/]+)'
        mr = p + r'/merge_requests/(\d+)'
        self.route('GET', r'/user', self.get_user)
        self.route('GET', p, self.get_project)
        self.route('GET', mr, self.get_mr)
        self.route('GET', mr + r'/diffs', self.list_diffs)
        self.route('GET', mr + r'/discussions', self.list_discussions)
        self.route('POST', mr + r'/discussions', self.create_discussion)
        self.route('PUT', mr + r'/discussions/([0-9a-f]+)', self.update_discussion)
        self.route('PUT', mr + r'/discussions/([0-9a-f]+)/notes/(\d+)', self.update_discussion_note)
        self.route('GET', mr + r'/notes/(\d+)/award_emoji', self.list_note_awards)
        self.route('GET', mr + r'/notes', self.list_notes)
        self.route('POST', mr + r'/notes', self.create_note)
        self.route('PUT', mr + r'/notes/(\d+)', self.update_note)
        self.route('DELETE', mr + r'/notes/(\d+)', self.delete_note)

    # -- set-up -----------------------------------------------------------------------------------
    def add_user(self, token: str, username: str) -> None:
        self.tokens[token] = username

    def add_project(self, pid: int, path: str, visibility: str = 'public', repository: str | None = 'enabled',
                    merge_requests: str | None = 'enabled') -> Project:
        self.projects[pid] = Project(pid, path, visibility, repository, merge_requests)
        return self.projects[pid]

    def add_mr(self, pid: int, iid: int, head_sha: str, files: dict[str, str],
               base_sha: str = 'b' * 40, new_files: set[str] | None = None) -> MergeRequest:
        mr = MergeRequest(iid, base_sha, head_sha, dict(files), set(new_files or ()))
        self.projects[pid].mrs[iid] = mr
        return mr

    def push(self, pid: int, iid: int, head_sha: str, files: dict[str, str]) -> None:
        with self.lock:
            mr = self.projects[pid].mrs[iid]
            mr.head_sha = head_sha
            mr.files = dict(files)

    def human_reply(self, pid: int, iid: int, discussion_id: str, username: str, body: str) -> dict[str, Any]:
        mr = self.projects[pid].mrs[iid]
        d = next(d for d in mr.discussions if d['id'] == discussion_id)
        note = self._note(username, body, d['notes'][0]['type'], d['notes'][0].get('position'))
        d['notes'].append(note)
        mr.notes.append(note)
        return note

    def human_resolve(self, pid: int, iid: int, discussion_id: str, username: str) -> None:
        with self.lock:
            d = next(d for d in self.projects[pid].mrs[iid].discussions if d['id'] == discussion_id)
            self._resolve(d, True, username)

    def human_award(self, pid: int, iid: int, note_id: int, username: str, name: str) -> None:
        """An award emoji ('thumbsup', 'thumbsdown', ...) on a note."""
        with self.lock:
            awards = self.projects[pid].mrs[iid].awards.setdefault(note_id, [])
            awards.append({'id': next(self.ids), 'name': name, 'awardable_id': note_id,
                           'awardable_type': 'Note', 'created_at': '2026-01-01T00:00:00Z',
                           'user': {'username': username, 'id': abs(hash(username)) % 1000}})

    def plain_note(self, pid: int, iid: int, username: str, body: str) -> dict[str, Any]:
        mr = self.projects[pid].mrs[iid]
        note = self._note(username, body, None, None)
        mr.notes.append(note)
        mr.discussions.append({'id': f'{next(self.ids):040x}', 'individual_note': True, 'notes': [note]})
        return note

    # -- helpers ----------------------------------------------------------------------------------
    def authenticate(self, req: Request) -> None:
        token = req.headers.get('private-token') or req.headers.get('job-token')
        if token not in self.tokens:
            raise HttpError(401, {'message': '401 Unauthorized'})
        req.user = self.tokens[token]

    def fault_response(self, kind: str) -> Response:
        if kind == '403-rate-limit':  # GitLab answers rate limits with 429 and RateLimit-* headers
            import time
            return Response(429, {'message': 'Retry later'},
                            {'RateLimit-Remaining': '0', 'RateLimit-Reset': str(int(time.time()) + 1)})
        return super().fault_response(kind)

    def _project(self, pid: str) -> Project:
        key = urllib.parse.unquote(pid).lower()
        for p in self.projects.values():
            if str(p.id) == key or p.path.lower() == key:
                return p
        raise HttpError(404, {'message': '404 Project Not Found'})

    def _mr(self, pid: str, iid: str) -> MergeRequest:
        mr = self._project(pid).mrs.get(int(iid))
        if mr is None:
            raise HttpError(404, {'message': '404 Not found'})
        return mr

    def _note(self, username: str, body: str, type: str | None, position: dict[str, Any] | None) -> dict[str, Any]:
        return {'id': next(self.ids), 'body': body, 'type': type, 'system': False,
                'author': {'username': username, 'id': abs(hash(username)) % 1000},
                'position': position, 'resolvable': type == 'DiffNote', 'resolved': False, 'resolved_by': None,
                'created_at': '2026-01-01T00:00:00Z'}

    def _find_note(self, mr: MergeRequest, note_id: str) -> dict[str, Any]:
        for n in mr.notes:
            if n['id'] == int(note_id):
                return n
        raise HttpError(404, {'message': '404 Not found'})

    def _edit(self, req: Request, note: dict[str, Any]) -> dict[str, Any]:
        if note['author']['username'] != req.user:
            raise HttpError(403, {'message': '403 Forbidden'})
        body = (req.data or {}).get('body')
        if body is not None:
            if len(body) > MAX_NOTE:
                raise HttpError(400, {'message': {'note': ['is too long (maximum is 1000000 characters)']}})
            note['body'] = body
        return note

    # -- routes -----------------------------------------------------------------------------------
    def get_user(self, req: Request) -> Any:
        return {'id': 1, 'username': req.user, 'bot': True}

    def project_json(self, p: Project) -> dict[str, Any]:
        out: dict[str, Any] = {'id': p.id, 'path_with_namespace': p.path, 'visibility': p.visibility,
                               'web_url': f'{self.origin}/{p.path}'}
        levels = {'repository_access_level': p.repository_access_level,
                  'merge_requests_access_level': p.merge_requests_access_level}
        out.update({k: v for k, v in levels.items() if v is not None})
        return out

    def get_project(self, req: Request, pid: str) -> Any:
        return self.project_json(self._project(pid))

    def get_mr(self, req: Request, pid: str, iid: str) -> Any:
        p = self._project(pid)
        mr = self._mr(pid, iid)
        return {'id': mr.iid + 10000, 'iid': mr.iid, 'project_id': p.id, 'state': 'opened', 'sha': mr.head_sha,
                'diff_refs': {'base_sha': mr.base_sha, 'start_sha': mr.base_sha, 'head_sha': mr.head_sha},
                'web_url': f'{self.origin}/{p.path}/-/merge_requests/{mr.iid}'}

    def list_diffs(self, req: Request, pid: str, iid: str) -> Response:
        mr = self._mr(pid, iid)
        files = [{'old_path': path, 'new_path': path, 'diff': patch, 'new_file': path in mr.new_files,
                  'renamed_file': False, 'deleted_file': False, 'a_mode': '100644', 'b_mode': '100644'}
                 for path, patch in mr.files.items()]
        return self.paginate(req, files, default_per_page=20)

    def list_discussions(self, req: Request, pid: str, iid: str) -> Response:
        return self.paginate(req, self._mr(pid, iid).discussions, default_per_page=20)

    def _position_ok(self, mr: MergeRequest, pos: dict[str, Any]) -> bool:
        patch = mr.files.get(pos.get('new_path', ''))
        if patch is None or pos.get('old_path') != pos.get('new_path'):
            return False
        key = (pos.get('old_line'), pos.get('new_line'))
        kind = line_kinds(patch).get((int(key[0]) if key[0] else None, int(key[1]) if key[1] else None))
        return kind is not None

    def create_discussion(self, req: Request, pid: str, iid: str) -> Response:
        mr = self._mr(pid, iid)
        data = req.data or {}
        body = data.get('body') or ''
        if not body or len(body) > MAX_NOTE:
            raise HttpError(400, {'message': '400 Bad request - body is missing or too long'})
        pos = data.get('position')
        note_type = None
        if pos:
            shas = (pos.get('base_sha'), pos.get('start_sha'), pos.get('head_sha'))
            if shas != (mr.base_sha, mr.base_sha, mr.head_sha):
                raise HttpError(400, {'message': '400 Bad request - Note {:line_code=>["can\'t be blank", '
                                                 '"must be a valid line code"]}'})
            # a line that is not in the diff: GitLab quietly makes an ordinary comment
            note_type = 'DiffNote' if self._position_ok(mr, pos) else 'DiscussionNote'
        note = self._note(req.user, body, note_type, pos if note_type == 'DiffNote' else None)
        d = {'id': f'{next(self.ids):040x}', 'individual_note': False, 'notes': [note]}
        mr.discussions.append(d)
        mr.notes.append(note)
        return Response(201, d)

    def update_discussion(self, req: Request, pid: str, iid: str, did: str) -> Any:
        mr = self._mr(pid, iid)
        d = next((d for d in mr.discussions if d['id'] == did), None)
        if d is None:
            raise HttpError(404, {'message': '404 Not found'})
        resolved = (req.data or {}).get('resolved')
        if resolved is not None:
            if not d['notes'][0]['resolvable']:
                raise HttpError(400, {'message': '400 Bad request - not resolvable'})
            self._resolve(d, resolved in (True, 'true'), req.user)
        return d

    @staticmethod
    def _resolve(d: dict[str, Any], resolved: bool, username: str | None) -> None:
        for n in d['notes']:  # GitLab repeats the state, and who set it, on every note
            n['resolved'] = resolved
            n['resolved_by'] = {'username': username} if resolved else None

    def list_note_awards(self, req: Request, pid: str, iid: str, nid: str) -> Response:
        mr = self._mr(pid, iid)
        self._find_note(mr, nid)
        return self.paginate(req, mr.awards.get(int(nid), []), default_per_page=20)

    def update_discussion_note(self, req: Request, pid: str, iid: str, did: str, nid: str) -> Any:
        mr = self._mr(pid, iid)
        d = next((d for d in mr.discussions if d['id'] == did), None)
        if d is None or not any(n['id'] == int(nid) for n in d['notes']):
            raise HttpError(404, {'message': '404 Not found'})
        return self._edit(req, self._find_note(mr, nid))

    def list_notes(self, req: Request, pid: str, iid: str) -> Response:
        notes = list(self._mr(pid, iid).notes)
        if req.query.get('sort') != 'asc':
            notes.reverse()  # GitLab's default: newest first
        return self.paginate(req, notes, default_per_page=20)

    def create_note(self, req: Request, pid: str, iid: str) -> Response:
        mr = self._mr(pid, iid)
        body = (req.data or {}).get('body') or ''
        if not body or len(body) > MAX_NOTE:
            raise HttpError(400, {'message': '400 Bad request - body is missing or too long'})
        note = self._note(req.user, body, None, None)
        mr.notes.append(note)
        mr.discussions.append({'id': f'{next(self.ids):040x}', 'individual_note': True, 'notes': [note]})
        return Response(201, note)

    def update_note(self, req: Request, pid: str, iid: str, nid: str) -> Any:
        return self._edit(req, self._find_note(self._mr(pid, iid), nid))

    def delete_note(self, req: Request, pid: str, iid: str, nid: str) -> Response:
        mr = self._mr(pid, iid)
        note = self._find_note(mr, nid)
        if note['author']['username'] != req.user:
            raise HttpError(403, {'message': '403 Forbidden'})
        mr.notes.remove(note)
        for d in list(mr.discussions):
            if note in d['notes']:
                d['notes'].remove(note)
                if not d['notes']:
                    mr.discussions.remove(d)
        return Response(204)
