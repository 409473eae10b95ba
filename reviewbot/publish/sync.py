"""The publishing run shared by GitHub and GitLab; a Forge adapter does the platform calls.

A run: read our earlier comments (by marker and author), place the findings, post the new inline ones
in batches (a rejected batch is bisected until the bad comments are isolated; they move to the summary),
mark comments whose finding disappeared as resolved, then write the one summary in place.
Reads and edits are retried request by request underneath (retry.RetryAdapter); a POST is retried here,
after a fresh listing shows it did not take effect, so a request that timed out but landed is never sent
twice. Before anything is posted, the request's head must be the commit the report reviewed: otherwise
the run stops (StaleReport), or with map_moved_head each finding moves to the line that now holds its
code. No finding is ever anchored to a line whose text is not the code it was made on.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from reviewbot.core import Diff, Finding, Report
from reviewbot.errors import PublishError, StaleReport
from reviewbot.publish import PublishResult, dismiss, render, retry
from reviewbot.publish.markers import Marker
from reviewbot.publish.placement import Inline, place

T = TypeVar('T')


@dataclasses.dataclass
class Posted:
    """One of our comments already on the request."""
    marker: Marker
    body: str
    path: str
    handle: Any  # the platform's object, for edits
    thread: dismiss.Thread = dataclasses.field(default_factory=dismiss.Thread)  # others' replies etc.

    @property
    def fingerprint(self) -> str | None:
        return self.marker.fingerprint


class Rejected(Exception):
    """The platform refused the content (e.g. a line outside the diff); retrying cannot help."""


class Forge(Protocol):
    platform: str
    where: str  # e.g. 'GitHub acme/app#7', the start of every error line
    batch_size: int

    def classify(self, e: BaseException) -> retry.Transient | None: ...
    def describe(self, e: BaseException) -> str: ...  # an API error in words, one line
    def open(self) -> tuple[str, str]: ...  # (head sha, web url) of the request
    def list_inline(self) -> list[Posted]: ...  # our diff comments
    def list_summaries(self) -> list[Posted]: ...  # our summary comments, oldest first
    def post_inline(self, batch: list[tuple[Inline, str]]) -> None: ...  # all or nothing; Rejected
    def discard_strays(self) -> None: ...  # remove misplaced copies of inline comments (GitLab)
    def edit_inline(self, posted: Posted, body: str, resolved: bool) -> None: ...
    def create_summary(self, body: str) -> int | None: ...
    def edit_summary(self, posted: Posted, body: str) -> None: ...


def _by_fingerprint(posted: list[Posted]) -> dict[str, Posted]:
    """fingerprint -> our comment; an active comment wins over a resolved one."""
    out: dict[str, Posted] = {}
    for p in posted:
        fp = p.fingerprint
        if fp is None:
            continue
        if fp not in out or (out[fp].marker.resolved and not p.marker.resolved):
            out[fp] = p
    return out


class _Run:
    def __init__(self, forge: Forge, policy: retry.RetryPolicy, result: PublishResult) -> None:
        self.forge = forge
        self.policy = policy
        self.result = result

    def write(self, fn: Callable[[], T], what: str, before_retry: Callable[[], T | None] | None = None) -> T:
        """One POST with bounded retries; reads and edits are retried request by request underneath."""
        return retry.call(fn, self.policy, self.forge.classify, what, before_retry)

    def call(self, fn: Callable[[], T], what: str) -> T:
        """A read that may be a POST (GitHub GraphQL): retried here when it is; a GET or PATCH fails
        only after its own retries underneath (GaveUp is not retried again)."""
        return self.write(fn, what)

    def error(self, e: BaseException) -> str:
        return self.forge.describe(e)

    def posted_fps(self) -> set[str]:
        return {p.fingerprint for p in self.forge.list_inline() if p.fingerprint and not p.marker.resolved}

    def post(self, batch: list[tuple[Inline, str]], posted: list[Inline],
             failed: list[tuple[Finding, str]]) -> None:
        """Post one batch; bisect on rejection; on giving up, record every comment not on the server."""
        pending = list(batch)

        def attempt() -> bool:
            self.forge.post_inline(pending)
            return True

        def already_done() -> bool | None:
            there = self.posted_fps()
            landed = [b for b in pending if b[0].fingerprint in there]
            posted.extend(i for i, _ in landed)
            pending[:] = [b for b in pending if b[0].fingerprint not in there]
            return True if not pending else None

        try:
            self.write(attempt, f'post {len(pending)} inline comment(s)', already_done)
            posted.extend(i for i, _ in pending)
        except Rejected as e:
            if len(pending) == 1:
                why = f'{self.forge.platform} rejected the inline comment ({e}); moved to the summary'
                failed.append((pending[0][0].finding, why))
                return
            half = len(pending) // 2
            self.post(pending[:half], posted, failed)
            self.post(pending[half:], posted, failed)
        except Exception as e:  # e.g. 403/404 or gave up: the findings still go to the summary
            failed.extend((i.finding, f'inline comment failed ({self.error(e)}); moved to the summary')
                          for i, _ in pending)


def check_head(report: Report, head_sha: str, forge: Forge, expect_head: str | None,
               map_moved_head: bool, result: PublishResult) -> bool:
    """Is the request's head the commit the report reviewed? True: findings must be moved to the new
    head (map_moved_head). Raises StaleReport when it moved and moving was not asked for."""
    reviewed = report.reviewed.head if report.reviewed is not None else None
    if expect_head and reviewed and expect_head != reviewed:
        raise PublishError(f'{forge.where}: the report reviewed commit {reviewed[:12]}, not {expect_head[:12]} '
                           'as expected; not publishing it')
    wanted = expect_head or reviewed
    if not wanted:
        result.warnings.append('the report does not name the commit it reviewed; every inline comment '
                               'was checked against the code on its line')
        return False
    if wanted == head_sha:
        return False
    if not map_moved_head:
        raise StaleReport(f'{forge.where}: the head moved from {wanted[:12]} (the reviewed commit) to '
                          f'{head_sha[:12]}; not publishing a stale review (review the new head, or '
                          'pass --map-moved-head to move each finding to the line that now holds its code)')
    result.warnings.append(f'the head moved from {wanted[:12]} (the reviewed commit) to {head_sha[:12]}: '
                           'findings were moved to the lines that now hold their code')
    return True


def run(report: Report, diff: Diff, forge: Forge, policy: retry.RetryPolicy, result: PublishResult,
        expect_head: str | None = None, map_moved_head: bool = False) -> PublishResult:
    r = _Run(forge, policy, result)
    head_sha, result.url = forge.open()
    moved = check_head(report, head_sha, forge, expect_head, map_moved_head, result)
    listed = forge.list_inline()
    existing = _by_fingerprint(listed)
    summaries = forge.list_summaries()

    placement = place(report.findings, diff, relocate=moved)
    # dismissed by a person: never posted again, its comment left alone, counted in the summary
    dismissed = dismiss.find(listed, forge, r.call, result.warnings)
    placement, silenced = dismiss.drop(placement, dismissed)
    existing = {fp: p for fp, p in existing.items() if fp not in dismissed}
    result.dismissed = [f.fingerprint for f, _ in silenced]
    current = {i.fingerprint for i in placement.inline} | {f.fingerprint for f, _ in placement.summary}
    to_post = [i for i in placement.inline if i.fingerprint not in existing]
    kept = [i for i in placement.inline if i.fingerprint in existing]
    # a finding posted inline by an earlier run stays there, even if it can no longer be placed
    kept_fps = {i.fingerprint for i in kept} | {f.fingerprint for f, _ in placement.summary
                                                if f.fingerprint in existing}
    in_summary = [(f, why) for f, why in placement.summary if f.fingerprint not in existing]

    # a finding that disappeared and came back: our resolved comment becomes active again
    back = [(i.finding, i) for i in kept] + [(f, None) for f, _ in placement.summary if f.fingerprint in existing]
    for f, where in back:
        p = existing[f.fingerprint]
        if p.marker.resolved:
            body = render.finding_body(f, forge.platform, where)
            try:
                forge.edit_inline(p, body, False)
            except Exception as e:  # the finding's comment exists; only its label is stale
                result.warnings.append(f'could not mark comment {f.fingerprint} active again: {r.error(e)}')

    posted: list[Inline] = []
    failed: list[tuple[Finding, str]] = []
    batch_size = max(1, forge.batch_size)
    for start in range(0, len(to_post), batch_size):
        chunk = to_post[start:start + batch_size]
        r.post([(i, render.finding_body(i.finding, forge.platform, i)) for i in chunk], posted, failed)
    if failed:  # a write that "failed" may have landed after all: the listing decides
        try:
            there = r.posted_fps()
        except Exception:  # unknown: the findings stay named as not posted
            there = set()
        landed = {f.fingerprint for f, _ in failed if f.fingerprint in there}
        posted += [i for i in to_post if i.fingerprint in landed and i not in posted]
        failed = [(f, why) for f, why in failed if f.fingerprint not in landed]
    try:
        forge.discard_strays()
    except Exception as e:  # a duplicate at worst, nothing lost
        result.warnings.append(f'a misplaced copy of an inline comment could not be removed: {r.error(e)}')
    result.inline_posted = [i.fingerprint for i in posted]
    result.inline_kept = sorted(kept_fps)
    in_summary += failed

    # findings of earlier runs that are gone: mark OUR comment resolved (never delete, replies stay)
    for fp, p in existing.items():
        if fp in current or p.marker.resolved:
            continue
        try:
            forge.edit_inline(p, render.resolved_body(p.body, fp), True)
            result.resolved.append(fp)
        except Exception as e:  # a stale label, nothing lost
            result.warnings.append(f'could not mark comment {fp} resolved: {r.error(e)}')

    previous = set(summaries[0].marker.summary_fingerprints) if summaries else set()
    previous |= {fp for fp, p in existing.items() if not p.marker.resolved}
    previous -= set(dismissed)
    gone_paths = {fp: p.path for fp, p in existing.items()}
    summary_in = render.SummaryInput(
        head_sha=head_sha,
        all_fps=sorted(current),
        inline_new=len(posted),
        inline_kept=len(kept_fps),
        in_summary=in_summary,
        duplicates=placement.duplicates,
        first_run=not summaries and not existing,
        new_fps=current - previous,
        gone=sorted((fp, gone_paths.get(fp, '')) for fp in previous - current),
        skipped=list(report.coverage.skipped),
        notes=list(report.notes),
        dismissed=silenced,
    )
    body, omitted = render.summary_body(summary_in, forge.platform)
    try:
        if summaries:
            forge.edit_summary(summaries[0], body)
            result.summary_id = summaries[0].handle.id
        else:
            def find_created() -> int | None:
                found = forge.list_summaries()
                return found[0].handle.id if found else None
            result.summary_id = r.write(lambda: forge.create_summary(body), 'post the summary comment',
                                        find_created)
        left_out = {f.fingerprint for f, _ in omitted}
        result.in_summary = [(f, why) for f, why in in_summary if f.fingerprint not in left_out]
        result.not_posted += omitted
    except Exception as e:  # reported: every finding it should have carried is named
        result.summary_error = r.error(e)
        result.not_posted += [(f, f'{why}; and the summary comment could not be posted: {r.error(e)}')
                              for f, why in in_summary]
    return result
