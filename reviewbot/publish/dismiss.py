"""Dismissed stays dismissed: a person's verdict on one of our inline comments silences its finding on
that pull/merge request for good.

A comment is dismissed when someone other than the bot
  - resolved its thread (GitHub: GraphQL `reviewThreads { isResolved resolvedBy }`; GitLab: the
    discussion's `resolved` / `resolved_by`),
  - replied to it with "false positive", "won't fix", "wontfix" or "not a bug" (case-insensitive,
    anywhere in the reply outside quoted `>` lines), or
  - reacted to it with -1 (GitHub) / thumbsdown (GitLab).
The finding is found again by its fingerprint (rule, path and normalised code: it survives line shifts),
is never posted again, its comment is never edited, and the summary counts it under "dismissed".
Nothing is stored: the verdict is read back from the request on every run, so it holds as long as the
comment and the person's reply, reaction or resolution stay.
"""
from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol, TypeVar

from reviewbot.core import Finding
from reviewbot.publish.placement import Placement

T = TypeVar('T')

_PHRASE = re.compile(r"(?i)\b(false[\s-]+positive|won[’']?t[\s-]*fix|not\s+a\s+bug)\b")


@dataclasses.dataclass
class Thread:
    """What others did in the thread of one of our comments (filled by the forge's listing)."""
    replies: list[tuple[str, str]] = dataclasses.field(default_factory=list)  # (author, body), not ours
    resolved_by: str | None = None  # someone other than the bot who resolved the thread


def dismissal_phrase(text: str | None) -> str | None:
    """The dismissal phrase a reply says (outside quoted lines), or None."""
    for line in (text or '').splitlines():
        if line.lstrip().startswith('>'):  # quoting the bot (or anyone) is not a verdict
            continue
        m = _PHRASE.search(line)
        if m:
            return re.sub(r'\s+', ' ', m.group(1).lower())
    return None


class _Posted(Protocol):
    @property
    def fingerprint(self) -> str | None: ...
    thread: Thread
    handle: Any


class _Forge(Protocol):
    platform: str

    def describe(self, e: BaseException) -> str: ...


def find(posted: Iterable[_Posted], forge: _Forge, call: Callable[[Callable[[], T], str], T],
         warnings: list[str]) -> dict[str, str]:
    """fingerprint -> how it was dismissed, for every one of our comments a person dismissed.

    Optional forge methods: `read_resolved(posted)` fills thread.resolved_by when the listing cannot
    (GitHub); `thumbs_down(p)` is who reacted -1 to comment p, or None. A failed read is a warning: the
    comment then counts as not dismissed this run (its finding is already posted, so nothing is
    duplicated; at worst a label is updated)."""
    items = [p for p in posted if p.fingerprint]
    out: dict[str, str] = {}
    describe = forge.describe  # an API error in words
    read_resolved = getattr(forge, 'read_resolved', None)
    if read_resolved is not None and items:
        try:
            call(lambda: read_resolved(items), 'read resolved threads')
        except Exception as e:  # see above
            warnings.append(f'resolved threads could not be read, so none counts as dismissed this run: '
                            f'{describe(e)}')
    thumbs_down = getattr(forge, 'thumbs_down', None)
    for p in items:
        fp = p.fingerprint
        assert fp is not None
        if fp in out:
            continue
        if p.thread.resolved_by:
            out[fp] = f'thread resolved by {p.thread.resolved_by}'
            continue
        said = next(((who, phrase) for who, body in p.thread.replies
                     if (phrase := dismissal_phrase(body)) is not None), None)
        if said is not None:
            out[fp] = f'{said[0]} replied "{said[1]}"'
            continue
        if thumbs_down is None:
            continue
        try:
            who = call(functools.partial(thumbs_down, p), 'read reactions')
        except Exception as e:  # see above
            warnings.append(f'reactions of comment {fp} could not be read: {describe(e)}')
            continue
        if who:
            out[fp] = f'thumbs-down by {who}'
    return out


def drop(placement: Placement, dismissed: dict[str, str]) -> tuple[Placement, list[tuple[Finding, str]]]:
    """The placement without the dismissed findings, and [(dismissed finding, how)] in report order."""
    if not dismissed:
        return placement, []
    gone: dict[str, tuple[Finding, str]] = {}
    for f in [i.finding for i in placement.inline] + [f for f, _ in placement.summary]:
        if f.fingerprint in dismissed:
            gone.setdefault(f.fingerprint, (f, dismissed[f.fingerprint]))
    kept = Placement([i for i in placement.inline if i.fingerprint not in dismissed],
                     [(f, why) for f, why in placement.summary if f.fingerprint not in dismissed],
                     [(d, k) for d, k in placement.duplicates if k.fingerprint not in dismissed])
    return kept, list(gone.values())


# -- GitHub -------------------------------------------------------------------------------------------
# replies come with the review comment listing (in_reply_to_id names the thread's first comment);
# resolution exists only in GraphQL; reactions are one REST listing per comment.

_THREADS_QUERY = '''
query($owner: String!, $name: String!, $number: Int!, $after: String) {
  repository(owner: $owner, name: $name) {
    pullRequest(number: $number) {
      reviewThreads(first: 100, after: $after) {
        pageInfo { hasNextPage endCursor }
        nodes { isResolved resolvedBy { login } comments(first: 1) { nodes { databaseId } } }
      }
    }
  }
}'''
MAX_THREAD_PAGES = 50


def github_replies(ours: Sequence[_Posted], listed: list[Any], is_ours: Callable[[Any], bool]) -> None:
    """Attach to each of our comments the replies others wrote in its thread."""
    by_id = {p.handle.id: p for p in ours}
    for c in listed:
        # _rawData: a root comment has no in_reply_to_id, and asking PyGithub for a missing attribute
        # costs a request per comment
        parent = by_id.get(c._rawData.get('in_reply_to_id'))
        if parent is not None and c.user is not None and not is_ours(c):
            parent.thread.replies.append((c.user.login, c.body or ''))


def github_resolved(requester: Any, repo: str, number: int, posted: Sequence[_Posted], bot: str | None) -> None:
    """Fill thread.resolved_by from GraphQL `reviewThreads` (the REST API does not say)."""
    by_id = {p.handle.id: p for p in posted}
    owner, name = repo.split('/', 1)
    after = None
    for _ in range(MAX_THREAD_PAGES):
        _, data = requester.graphql_query(_THREADS_QUERY, {'owner': owner, 'name': name, 'number': number,
                                                           'after': after})
        pr = (((data.get('data') or {}).get('repository') or {}).get('pullRequest') or {})
        threads = pr.get('reviewThreads') or {}
        for t in threads.get('nodes') or []:
            first = ((t.get('comments') or {}).get('nodes') or [{}])[0] or {}
            p = by_id.get(first.get('databaseId'))
            who = ((t.get('resolvedBy') or {}).get('login')) or 'someone'
            if p is not None and t.get('isResolved') and who != bot:
                p.thread.resolved_by = who
        info = threads.get('pageInfo') or {}
        if not info.get('hasNextPage') or not info.get('endCursor'):
            return
        after = info['endCursor']
    raise ValueError(f'more than {MAX_THREAD_PAGES * 100} review threads')


def github_thumbs_down(comment: Any, is_ours: Callable[[Any], bool]) -> str | None:
    """Who (other than the bot) reacted -1 to a review comment, or None."""
    rollup = comment._rawData.get('reactions')  # the listing carries the counts: skip the request at 0
    if isinstance(rollup, dict) and rollup.get('-1') == 0:
        return None
    for r in comment.get_reactions():
        if r.content == '-1' and r.user is not None and not is_ours(r):
            return str(r.user.login)
    return None


# -- GitLab -------------------------------------------------------------------------------------------
# replies and resolution come with the discussions listing; award emoji are one listing per note.

def gitlab_thread(notes: list[dict[str, Any]], is_ours: Callable[[dict[str, Any]], bool],
                  marked_resolved: bool) -> Thread:
    """Others' replies in a discussion we started, and who resolved it if not us. A resolved discussion
    without `resolved_by` was resolved by us when our marker says so, else by a person."""
    first = notes[0]
    thread = Thread(replies=[((n.get('author') or {}).get('username', ''), n.get('body') or '')
                             for n in notes[1:] if not is_ours(n) and not n.get('system')])
    if first.get('resolved'):
        by = first.get('resolved_by')
        if isinstance(by, dict) and by.get('username'):
            if not is_ours({'author': by}):
                thread.resolved_by = by['username']
        elif not marked_resolved:
            thread.resolved_by = 'someone'
    return thread


def gitlab_thumbs_down(mr: Any, note_id: int, is_ours: Callable[[dict[str, Any]], bool]) -> str | None:
    """Who (other than the bot) awarded :thumbsdown: to one of our notes, or None."""
    for award in mr.notes.get(note_id, lazy=True).awardemojis.list(iterator=True):
        user = award.attributes.get('user') or {}
        if award.attributes.get('name') == 'thumbsdown' and not is_ours({'author': user}):
            return str(user.get('username', 'someone'))
    return None
