"""The pipeline runs its reviewers at once against one deadline (reviewbot.pipeline._run_reviewers):
results merged in reviewer order, a reviewer past the deadline not waited for, and the analyzers'
flags handed to the model as explained hunks. Real git repos and real reviewers; the test reviewers
are real modules registered by name in reviewers.REGISTRY, as the server's tests do."""
from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator

import pytest

from reviewbot import config as cfgmod
from reviewbot import pipeline, sources
from reviewbot.core import Finding, Severity
from reviewbot.diffparse import parse_diff
from reviewbot.reviewers import REGISTRY, WAITED_FOR, ReviewerResult
from tests.conftest import GitRepo
from tests.hook.conftest import AWS_KEY_LINE

RELEASE = threading.Event()  # lets the slow reviewer's thread end when its test is over


class SlowReviewer:
    """Runs far past any budget (until RELEASE, at most 60 s), then would report one error."""
    name = 'slow'

    def review(self, files, ctx):
        RELEASE.wait(60)
        return ReviewerResult(findings=[Finding(files[0].path, 1, 1, Severity.ERROR, 'slow', 'late', 'slow')],
                              notes=['slow: finished'])


class LateFirstReviewer:
    """First in reviewer order but the last to finish: its note must still come first."""
    name = 'late-first'

    def review(self, files, ctx):
        time.sleep(0.5)
        return ReviewerResult(notes=['late-first: note'])


class Observer:
    """Waits (up to 3 s) until an analyzer has marked a hunk explained, and says which it saw."""
    name = 'observer'

    def review(self, files, ctx):
        end = time.monotonic() + 3
        while not ctx.explained and time.monotonic() < end:
            time.sleep(0.02)
        return ReviewerResult(notes=[f'observer saw {sorted(ctx.explained)}'])


@pytest.fixture
def registered() -> Iterator[None]:
    names = {'slow': SlowReviewer, 'late-first': LateFirstReviewer, 'observer': Observer}
    for name, cls in names.items():
        module = type(sys)(f'reviewbot_test_reviewer_{name.replace("-", "_")}')
        module.from_config = lambda config, *, model=None, cls=cls: cls()  # type: ignore[attr-defined]
        sys.modules[module.__name__] = module
        REGISTRY[name] = module.__name__
    RELEASE.clear()
    try:
        yield
    finally:
        RELEASE.set()
        for name in names:
            del sys.modules[REGISTRY.pop(name)]


def staged_secret(repo: GitRepo) -> None:
    repo.write('app.py', 'def main():\n    return 1\n')
    repo.commit('initial')
    repo.write('app.py', 'def main():\n    return 2\n' + AWS_KEY_LINE)
    repo.git('add', 'app.py')


def review(repo: GitRepo, reviewers: list[str], budget: float = 0):
    config = cfgmod.defaults().override(reviewers=reviewers)
    return pipeline.review(sources.staged(repo.path), config, stage='pre-commit', budget=budget)


def test_a_reviewer_past_the_deadline_is_not_waited_for(repo: GitRepo, registered):
    staged_secret(repo)
    t0 = time.monotonic()
    report = review(repo, ['secrets', 'slow'], budget=1.0)
    waited = time.monotonic() - t0
    # the slow reviewer would run 60 s: the pipeline returned at the deadline plus its grace (and
    # a generous margin for a loaded machine), with the other reviewer's findings
    assert waited < 1.0 + pipeline.GRACE_SECONDS + 5.0, waited
    assert [f.reviewer for f in report.findings] == ['secrets']
    assert [(s.path, s.reviewer, s.reason) for s in report.coverage.skipped] == \
        [('app.py', 'slow', 'slow: budget: still running at the deadline')]
    assert any('slow did not finish within the 1.0 s budget' in n for n in report.notes), report.notes
    assert 'slow: finished' not in report.notes


def test_results_are_merged_in_reviewer_order_not_finishing_order(repo: GitRepo, registered):
    staged_secret(repo)
    report = review(repo, ['late-first', 'observer', 'secrets'])
    assert report.reviewers == ['late-first', 'observer', 'secrets']
    assert report.notes[:2] == ['late-first: note', "observer saw [('app.py', 1)]"]
    assert [f.reviewer for f in report.findings] == ['secrets']


def test_an_analyzer_error_marks_its_hunk_explained_while_the_others_run(repo: GitRepo, registered):
    staged_secret(repo)
    report = review(repo, ['secrets', 'observer'])
    assert "observer saw [('app.py', 1)]" in report.notes
    # a clean change: nothing is explained
    repo.write('app.py', 'def main():\n    return 3\n')
    repo.git('add', 'app.py')
    report = review(repo, ['secrets', 'observer'])
    assert 'observer saw []' in report.notes


def test_explained_hunks_are_those_with_an_error_or_warning_on_added_lines():
    diff = parse_diff(b'diff --git a/m.py b/m.py\n--- a/m.py\n+++ b/m.py\n'
                      b'@@ -1,2 +1,3 @@\n a = 1\n+b = 2\n c = 3\n'
                      b'@@ -20,2 +21,3 @@\n x = 1\n+y = 2\n z = 3\n'
                      b'@@ -40,2 +42,3 @@\n p = 1\n+q = 2\n r = 3\n')

    def f(line: int, severity: Severity) -> Finding:
        return Finding('m.py', line, line, severity, 'c', 'm', 'ruff')

    found = [f(2, Severity.WARNING), f(21, Severity.ERROR),  # 21: a context line, not added
             f(43, Severity.INFO)]  # info explains nothing
    assert pipeline.explained_hunks(found, diff.files) == {('m.py', 1)}
    assert pipeline.explained_hunks([f(22, Severity.ERROR)], diff.files) == {('m.py', 21)}


def test_a_reviewer_in_waited_for_is_waited_for_even_past_the_deadline(repo: GitRepo, registered, monkeypatch):
    assert 'secrets' in WAITED_FOR  # a slow machine must not let a secret through
    staged_secret(repo)
    monkeypatch.setattr(pipeline, 'WAITED_FOR', frozenset({'late-first'}))  # 0.5 s, past a 0.1 s budget
    report = review(repo, ['slow', 'late-first'], budget=0.1)
    assert 'late-first: note' in report.notes
    assert [s.reviewer for s in report.coverage.skipped] == ['slow']
