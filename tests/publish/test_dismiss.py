"""Dismissed stays dismissed, on both fakes through the real PyGithub / python-gitlab clients: a person
resolving the bot's thread, replying "false positive" (or won't fix / wontfix / not a bug) or reacting
thumbs-down keeps the finding off every later run's comments, leaves its comment untouched, and the
summary counts it under "dismissed"."""
from __future__ import annotations

import copy
from collections.abc import Callable, Iterator

import pytest

from reviewbot.core import Finding
from reviewbot.publish import PublishResult, publish_report
from reviewbot.publish.dismiss import dismissal_phrase
from reviewbot.publish.markers import parse_marker
from tests.fakes.github_api import FakeGitHub
from tests.fakes.gitlab_api import FakeGitLab
from tests.publish import test_github as gh
from tests.publish import test_gitlab as gl
from tests.publish.helpers import (
    APP_PATCH_MOVED,
    FILES,
    diff_from_patches,
    finding,
    sample_findings,
)

MOVED_FILES = dict(FILES, **{'src/app.py': APP_PATCH_MOVED})


def moved(findings: list[Finding]) -> list[Finding]:
    """The same findings after a push that added 3 lines on top of app.py (same fingerprints)."""
    out = [finding(f.path, f.line + 3, f.category, f.message, f.anchored_code,
                   end_line=f.end_line and f.end_line + 3, suggestion=f.suggestion, severity=f.severity)
           for f in findings]
    assert [f.fingerprint for f in out] == [f.fingerprint for f in findings]
    return out


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub() as server:
        server.add_user(gh.TOKEN, gh.BOT)
        server.add_user('ghp_human', 'alice')
        server.add_repo('acme', 'app')
        server.add_pull(gh.REPO, gh.PR, 'a' * 40, FILES, status={'src/util.py': 'added'})
        server.max_per_page = 2  # every listing spans several pages
        server.graphql_page_size = 1  # and so do the GraphQL review threads
        yield server


@pytest.fixture
def gitlab() -> Iterator[FakeGitLab]:
    with FakeGitLab() as server:
        server.add_user(gl.TOKEN, gl.BOT)
        server.add_user('glpat-human', 'alice')
        server.add_project(gl.PID, gl.PATH)
        server.add_mr(gl.PID, gl.IID, 'a' * 40, FILES, new_files={'src/util.py'})
        server.max_per_page = 2
        yield server


class Forge:
    """The same test steps on either fake."""

    def __init__(self, name: str, github: FakeGitHub | None, gitlab: FakeGitLab | None) -> None:
        self.name = name
        self.github = github
        self.gitlab = gitlab

    def publish(self, findings: list[Finding], files: dict[str, str] = FILES) -> PublishResult:
        t = gh.target(self.github) if self.github else gl.target(self.gitlab)  # type: ignore[arg-type]
        result = publish_report(gh.report(findings), diff_from_patches(files), t)
        assert result.ok, result.describe()
        return result

    def push(self, files: dict[str, str]) -> None:
        if self.github:
            self.github.push(gh.REPO, gh.PR, 'c' * 40, files)
        else:
            assert self.gitlab
            self.gitlab.push(gl.PID, gl.IID, 'c' * 40, files)

    def comment(self, fp: str) -> dict:  # type: ignore[type-arg]
        """Our inline comment (GitLab: the first note of our discussion) for a fingerprint."""
        inline = gh.ours(self.github)[0] if self.github else gl.ours(self.gitlab)[0]  # type: ignore[arg-type]
        found = [c for c in inline if (m := parse_marker(c['body'])) is not None and m.fingerprint == fp]
        assert len(found) == 1, found
        return found[0]

    def inline_count(self) -> int:
        """Our inline comments that carry a marker (the bot's replies in a test do not)."""
        inline = gh.ours(self.github)[0] if self.github else gl.ours(self.gitlab)[0]  # type: ignore[arg-type]
        return sum(parse_marker(c['body']) is not None for c in inline)

    def summary(self) -> str:
        summaries = gh.ours(self.github)[1] if self.github else gl.ours(self.gitlab)[1]  # type: ignore[arg-type]
        assert len(summaries) == 1
        return summaries[0]['body']

    def _discussion(self, note_id: int) -> dict:  # type: ignore[type-arg]
        assert self.gitlab
        mr = self.gitlab.projects[gl.PID].mrs[gl.IID]
        return next(d for d in mr.discussions if d['notes'][0]['id'] == note_id)

    def reply(self, fp: str, who: str, text: str) -> None:
        c = self.comment(fp)
        if self.github:
            self.github.human_reply(gh.REPO, gh.PR, c['id'], who, text)
        else:
            assert self.gitlab
            self.gitlab.human_reply(gl.PID, gl.IID, self._discussion(c['id'])['id'], who, text)

    def resolve(self, fp: str, who: str) -> None:
        c = self.comment(fp)
        if self.github:
            self.github.human_resolve(gh.REPO, gh.PR, c['id'], who)
        else:
            assert self.gitlab
            self.gitlab.human_resolve(gl.PID, gl.IID, self._discussion(c['id'])['id'], who)

    def react(self, fp: str, who: str, down: bool = True) -> None:
        c = self.comment(fp)
        if self.github:
            self.github.human_react(gh.REPO, gh.PR, c['id'], who, '-1' if down else '+1')
        else:
            assert self.gitlab
            self.gitlab.human_award(gl.PID, gl.IID, c['id'], who, 'thumbsdown' if down else 'thumbsup')

    @property
    def bot(self) -> str:
        return gh.BOT if self.github else gl.BOT


@pytest.fixture(params=['github', 'gitlab'])
def forge(request: pytest.FixtureRequest) -> Forge:
    if request.param == 'github':
        return Forge('github', request.getfixturevalue('github'), None)
    return Forge('gitlab', None, request.getfixturevalue('gitlab'))


DISMISSALS: dict[str, Callable[[Forge, str], None]] = {
    'resolved thread': lambda f, fp: f.resolve(fp, 'alice'),
    'false positive reply': lambda f, fp: f.reply(fp, 'alice',
                                                  'This is a False Positive: the divisor is patched in tests.'),
    "won't fix reply": lambda f, fp: f.reply(fp, 'alice', "won't fix"),
    'wontfix reply': lambda f, fp: f.reply(fp, 'alice', 'WONTFIX'),
    'not a bug reply': lambda f, fp: f.reply(fp, 'alice', 'not a bug, intended'),
    'thumbs-down': lambda f, fp: f.react(fp, 'alice'),
}


@pytest.mark.parametrize('how', list(DISMISSALS))
def test_a_dismissed_finding_stays_dismissed_and_its_comment_untouched(forge: Forge, how: str) -> None:
    findings = sample_findings()[:3]
    forge.publish(findings)
    target_fp = findings[2].fingerprint  # bug/zero-division
    DISMISSALS[how](forge, target_fp)
    before = copy.deepcopy(forge.comment(target_fp))

    # next run, after a push that moved every line: nothing posted, the dismissed one counted
    forge.push(MOVED_FILES)
    second = forge.publish(moved(findings), MOVED_FILES)
    assert second.dismissed == [target_fp]
    assert second.inline_posted == [] and target_fp not in second.inline_kept
    assert forge.inline_count() == 3
    summary = forge.summary()
    assert '**Dismissed:** 1 finding dismissed' in summary and '`bug/zero-division`' in summary
    assert '2 findings on' in summary  # the dismissed one is not counted as a live finding

    # the finding disappears, then comes back: its comment is never marked resolved nor reopened
    gone = forge.publish(moved(findings[:2]), MOVED_FILES)
    assert gone.resolved == [] and gone.dismissed == []
    assert '0 resolved' in forge.summary()
    back = forge.publish(moved(findings), MOVED_FILES)
    assert back.dismissed == [target_fp] and back.inline_posted == [] and back.resolved == []
    after = forge.comment(target_fp)
    assert after['body'] == before['body'] and not parse_marker(after['body']).resolved
    if forge.gitlab:  # the person's resolution is not undone either
        assert after['resolved'] == before['resolved']
    assert forge.inline_count() == 3


def test_what_is_not_a_dismissal(forge: Forge) -> None:
    """A thank-you, a thumbs-up, a quoted phrase, and the bot's own words or reactions dismiss nothing."""
    findings = sample_findings()[:3]
    forge.publish(findings)
    a, b, c = (f.fingerprint for f in findings)
    forge.reply(a, 'alice', 'thanks, fixed')
    forge.react(a, 'alice', down=False)
    forge.reply(b, 'alice', '> is this a false positive?\nno, it is real')
    forge.reply(c, forge.bot, 'false positive')
    forge.react(c, forge.bot)
    result = forge.publish(findings[:2])  # c disappears: its comment is marked resolved as usual
    assert result.dismissed == [] and result.resolved == [c]
    assert parse_marker(forge.comment(c)['body']).resolved
    assert '**Dismissed:**' not in forge.summary()
    # the bot's own resolution (GitLab resolves the discussion too) is no dismissal: c comes back, reopened
    back = forge.publish(findings)
    assert back.dismissed == [] and back.inline_posted == []
    assert not parse_marker(forge.comment(c)['body']).resolved
    if forge.gitlab:
        assert not forge.comment(c)['resolved']


def test_only_the_dismissed_finding_is_silenced(forge: Forge) -> None:
    findings = sample_findings()[:3]
    forge.publish(findings[:2])
    forge.react(findings[0].fingerprint, 'alice')
    result = forge.publish(findings)
    assert result.dismissed == [findings[0].fingerprint]
    assert result.inline_posted == [findings[2].fingerprint]
    assert result.inline_kept == [findings[1].fingerprint]
    assert forge.inline_count() == 3


@pytest.mark.parametrize('text, phrase', [
    ('False positive.', 'false positive'), ('false-positive', 'false-positive'),
    ("Won't fix", "won't fix"), ('won’t fix', "won’t fix"), ('wontfix', 'wontfix'), ('wont fix', 'wont fix'),
    ('Not a bug', 'not a bug'), ('NOT  A  BUG', 'not a bug'),
    ('thanks', None), ('> false positive', None), ('this is not a bugfix', None), ('positive', None),
])
def test_dismissal_phrases(text: str, phrase: str | None) -> None:
    assert dismissal_phrase(text) == phrase


def test_github_without_graphql_warns_and_still_honours_replies(github: FakeGitHub) -> None:
    from tests.fakes.http import Response
    forge = Forge('github', github, None)
    findings = sample_findings()[:3]
    forge.publish(findings)
    forge.reply(findings[0].fingerprint, 'alice', 'false positive')
    github.canned[('POST', '/api/graphql')] = Response(404, {'message': 'Not Found'})
    result = forge.publish(findings)
    assert result.dismissed == [findings[0].fingerprint]
    assert any('resolved threads could not be read' in w for w in result.warnings), result.warnings


def test_github_reads_reactions_only_where_the_listing_counts_a_thumbs_down(github: FakeGitHub) -> None:
    forge = Forge('github', github, None)
    findings = sample_findings()[:3]
    forge.publish(findings)
    forge.react(findings[1].fingerprint, 'alice', down=False)
    forge.react(findings[2].fingerprint, 'alice')
    start = len(github.requests)
    assert forge.publish(findings).dismissed == [findings[2].fingerprint]
    asked = [r.path for r in github.requests[start:] if r.path.endswith('/reactions')]
    assert asked == [f'/repos/{gh.REPO}/pulls/comments/{forge.comment(findings[2].fingerprint)["id"]}/reactions']
