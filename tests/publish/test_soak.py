"""Soak: seeded random faults (25 % of all requests: 5xx before and after the write, 429, rate-limited
403, answers slower than the client's timeout) on every request, three faulty runs, then a clean run.
Afterwards each fake holds exactly the comments of a fault-free run: none lost, none duplicated, for every seed.

Loopback only; no real waits (the retry sleep is recorded, not slept); the only time spent is the
slow answers outliving the client timeout.
"""
from __future__ import annotations

import re
from typing import Any

import pytest
from github import Auth

from reviewbot.core import Coverage, Report
from reviewbot.errors import PublishError
from reviewbot.publish import GitHubTarget, GitLabTarget, RetryPolicy, publish_report
from reviewbot.publish.markers import parse_marker
from tests.fakes.github_api import FakeGitHub
from tests.fakes.gitlab_api import FakeGitLab
from tests.fakes.http import FAULT_KINDS, Faults
from tests.publish.helpers import FILES, diff_from_patches, finding, sample_findings

SEEDS = range(12)
# every kind of fault, rate-limited 403s weighted up: one on GET /user made the old code think none of
# its comments were its own and post everything again (seeds 3 and 6 reproduce it on that code)
KINDS = FAULT_KINDS + ('403-rate-limit',) * 3
RATE = 0.25
FAULTY_RUNS = 3
STALE = dict(FILES, **{'src/app.py': FILES['src/app.py'] + '@@ -40,2 +42,3 @@\n x = 1\n+y = 2\n z = 3\n'})


def everything() -> list:  # type: ignore[type-arg]
    """Inline findings (single, range, LEFT side), summary ones, one each forge refuses, and enough
    to span several pages and batches."""
    off = finding('src/app.py', 43, 'bug/ghost', 'line only in a stale diff', 'y = 2')
    extra = [finding('src/app.py', 6, f'rule/{n}', f'note {n}') for n in range(8)]
    return sample_findings() + [off] + extra


def policy() -> RetryPolicy:
    return RetryPolicy(attempts=4, base_delay=0.01, max_delay=2.0, timeout=0.3, sleep=lambda s: None)


# -- GitHub ---------------------------------------------------------------------------------------------
def github() -> FakeGitHub:
    fake = FakeGitHub().start()
    fake.add_user('ghp_bot', 'reviewbot-ci')
    fake.add_repo('acme', 'app')
    fake.add_pull('acme/app', 7, 'a' * 40, STALE)
    fake.max_per_page = 3
    return fake


def github_state(fake: FakeGitHub) -> tuple[Any, ...]:
    pull = fake.repos['acme/app'].pulls[7]
    inline = sorted(((c['path'], c['line'], c['start_line'], c['side'], c['body'])
                    for c in pull.review_comments if c['user']['login'] == 'reviewbot-ci'), key=repr)
    summaries = [c['body'] for c in pull.issue_comments if c['user']['login'] == 'reviewbot-ci']
    return inline, len(summaries), _listed(summaries)


def github_publish(fake: FakeGitHub) -> None:
    t = GitHubTarget('acme/app', 7, fake.base_url, Auth.Token('ghp_bot'), retry=policy(),
                     seconds_between_requests=0, seconds_between_writes=0, batch_size=4)
    publish_report(Report(everything(), Coverage()), diff_from_patches(STALE), t)


# -- GitLab ---------------------------------------------------------------------------------------------
def gitlab() -> FakeGitLab:
    fake = FakeGitLab().start()
    fake.add_user('glpat-bot', 'project_42_bot')
    fake.add_project(42, 'acme/app')
    fake.add_mr(42, 3, 'a' * 40, STALE)
    fake.max_per_page = 3
    return fake


def gitlab_state(fake: FakeGitLab) -> tuple[Any, ...]:
    mr = fake.projects[42].mrs[3]
    mine = [n for n in mr.notes if n['author']['username'] == 'project_42_bot']
    inline = sorted(((n['position']['new_path'], n['position'].get('new_line'), n['position'].get('old_line'),
                      n['body']) for n in mine if n['type'] == 'DiffNote'), key=repr)
    others = [n['body'] for n in mine if n['type'] != 'DiffNote']  # the summary, and no stray copies
    return inline, len(others), _listed(others)


def gitlab_publish(fake: FakeGitLab) -> None:
    t = GitLabTarget(42, 3, fake.base_url, 'glpat-bot', retry=policy())
    publish_report(Report(everything(), Coverage()), diff_from_patches(STALE), t)


def _listed(summaries: list[str]) -> list[str]:
    return sorted(fp for s in summaries for fp in re.findall(r'<!-- reviewbot:item=([0-9a-f]+) -->', s))


FORGES = {'github': (github, github_state, github_publish), 'gitlab': (gitlab, gitlab_state, gitlab_publish)}
_reference: dict[str, tuple[Any, ...]] = {}


def reference(forge: str) -> tuple[Any, ...]:
    """What a fault-free run leaves on the server (runs as many times as the soak, to be fair)."""
    if forge not in _reference:
        make, state, publish = FORGES[forge]
        fake = make()
        try:
            for _ in range(FAULTY_RUNS + 1):
                publish(fake)
            _reference[forge] = state(fake)
        finally:
            fake.stop()
    return _reference[forge]


@pytest.mark.parametrize('forge', sorted(FORGES))
@pytest.mark.parametrize('seed', SEEDS)
def test_random_faults_then_a_clean_run_leave_exactly_the_fault_free_comments(forge: str, seed: int) -> None:
    make, state, publish = FORGES[forge]
    want = reference(forge)
    inline, summaries, listed = want
    assert summaries == 1 and len(inline) + len(listed) == len(everything())
    assert all(parse_marker(row[-1]) for row in inline)

    fake = make()
    try:
        fake.faults = faults = Faults(rate=RATE, seed=seed, kinds=KINDS, slow_seconds=0.45)
        failed_runs = 0
        for _ in range(FAULTY_RUNS):
            try:
                publish(fake)
            except PublishError:
                failed_runs += 1  # a run may stop (e.g. retries exhausted); the next one must complete it
        fake.faults = None
        publish(fake)
        assert faults.injected, 'the seed injected no fault'
        got = state(fake)
    finally:
        fake.stop()
    assert got == want, f'seed {seed}: {len(faults.injected)} faults, {failed_runs} failed runs'
