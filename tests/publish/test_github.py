"""reviewbot.publish.github against a fake GitHub API on 127.0.0.1, through the real PyGithub client."""
from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from github import Auth

from reviewbot.core import Coverage, Report, Reviewed, Side
from reviewbot.errors import PublishError, StaleReport
from reviewbot.publish import GitHubTarget, PublishResult, RetryPolicy, publish_report
from reviewbot.publish.markers import parse_marker
from tests.fakes.github_api import FakeGitHub
from tests.fakes.http import Faults, Response
from tests.publish.helpers import (
    APP_PATCH_MOVED,
    FILES,
    FILES_PLUS5,
    INJECTION,
    assert_inert,
    code_at,
    diff_from_patches,
    finding,
    holds,
    sample_findings,
    stale_findings,
)

REPO = 'acme/app'
PR = 7
TOKEN = 'ghp_test_token'
BOT = 'reviewbot-ci'


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with FakeGitHub() as server:
        server.add_user(TOKEN, BOT)
        server.add_user('ghp_human', 'alice')
        server.add_repo('acme', 'app')
        server.add_pull(REPO, PR, 'a' * 40, FILES, status={'src/util.py': 'added'})
        server.max_per_page = 2  # every listing spans several pages
        yield server


def target(fake: FakeGitHub, sleeps: list[float] | None = None, **kw: object) -> GitHubTarget:
    policy = RetryPolicy(attempts=8, base_delay=0.01, max_delay=5.0, timeout=1,
                         sleep=(sleeps if sleeps is not None else []).append)
    return GitHubTarget(REPO, PR, fake.base_url, Auth.Token(TOKEN), retry=policy,
                        seconds_between_requests=0, seconds_between_writes=0, **kw)  # type: ignore[arg-type]


def report(findings: list) -> Report:  # type: ignore[type-arg]
    return Report(findings=findings, coverage=Coverage())


def ours(fake: FakeGitHub) -> tuple[list[dict], list[dict]]:  # type: ignore[type-arg]
    pull = fake.repos[REPO].pulls[PR]
    inline = [c for c in pull.review_comments if c['user']['login'] == BOT]
    summaries = [c for c in pull.issue_comments if c['user']['login'] == BOT]
    return inline, summaries


def posted_fps(fake: FakeGitHub) -> tuple[list[str], list[str]]:
    """Fingerprints of active inline comments, and of findings listed in the summary."""
    inline, summaries = ours(fake)
    fps = [parse_marker(c['body']).fingerprint for c in inline if not parse_marker(c['body']).resolved]
    listed = [fp for s in summaries for fp in re.findall(r'<!-- reviewbot:item=([0-9a-f]+) -->', s['body'])]
    return fps, listed


def test_three_runs_leave_one_comment_per_finding_and_one_summary(fake: FakeGitHub) -> None:
    findings = sample_findings()
    diff = diff_from_patches(FILES, added=('src/util.py',))
    results = [publish_report(report(findings), diff, target(fake)) for _ in range(3)]

    assert all(r.ok for r in results), [r.describe() for r in results]
    inline, summaries = ours(fake)
    assert len(summaries) == 1
    fps, listed = posted_fps(fake)
    # 4 placeable (single, multi-line, error, LEFT side), 2 in the summary (file-level, off the diff)
    assert sorted(fps) == sorted(f.fingerprint for f in findings[:4])
    assert sorted(listed) == sorted(f.fingerprint for f in findings[4:])
    assert len(inline) == 4
    assert results[0].inline_posted and not results[1].inline_posted and not results[2].inline_posted
    assert len(results[2].inline_kept) == 4
    assert [r['state'] for r in fake.repos[REPO].pulls[PR].reviews] == ['COMMENTED']
    assert 'first run' in summaries[0]['body'] or 'unchanged' in summaries[0]['body']
    assert '0 new, 0 resolved, 6 unchanged' in summaries[0]['body']


def test_inline_positions_and_suggestion(fake: FakeGitHub) -> None:
    findings = sample_findings()
    publish_report(report(findings), diff_from_patches(FILES), target(fake))
    inline, _ = ours(fake)
    by_fp = {parse_marker(c['body']).fingerprint: c for c in inline}
    multi = by_fp[findings[1].fingerprint]
    assert (multi['start_line'], multi['line'], multi['side']) == (5, 6, 'RIGHT')
    assert '```suggestion\n    out = subprocess.run(cmd.split())\n    return out.returncode\n```' in multi['body']
    left = by_fp[findings[3].fingerprint]
    assert (left['line'], left['side']) == (4, 'LEFT')
    assert 'suggestion' not in by_fp[findings[0].fingerprint]['body']


def test_push_that_moves_lines_duplicates_nothing(fake: FakeGitHub) -> None:
    findings = sample_findings()[:3]
    publish_report(report(findings), diff_from_patches(FILES), target(fake))
    moved_files = dict(FILES, **{'src/app.py': APP_PATCH_MOVED})
    fake.push(REPO, PR, 'c' * 40, moved_files)
    moved = [finding(f.path, f.line + 3, f.category, f.message, f.anchored_code,
                     end_line=f.end_line and f.end_line + 3, suggestion=f.suggestion, severity=f.severity)
             for f in findings]
    assert [f.fingerprint for f in moved] == [f.fingerprint for f in findings]
    result = publish_report(report(moved), diff_from_patches(moved_files), target(fake))

    assert result.ok and not result.inline_posted
    inline, summaries = ours(fake)
    assert len(inline) == 3 and len(summaries) == 1
    assert '0 new, 0 resolved, 3 unchanged' in summaries[0]['body']


def test_vanished_finding_is_marked_resolved_and_human_reply_kept(fake: FakeGitHub) -> None:
    findings = sample_findings()[:3]
    publish_report(report(findings), diff_from_patches(FILES), target(fake))
    inline, _ = ours(fake)
    gone = next(c for c in inline if parse_marker(c['body']).fingerprint == findings[2].fingerprint)
    reply = fake.human_reply(REPO, PR, gone['id'], 'alice', 'fixed, thanks @reviewbot-ci')
    new = finding('src/util.py', 3, 'bug/index', 'x[len(x)] is out of range', 'return x[len(x)]')

    result = publish_report(report(findings[:2] + [new]), diff_from_patches(FILES), target(fake))

    assert result.ok
    assert result.resolved == [findings[2].fingerprint]
    assert result.inline_posted == [new.fingerprint]
    pull = fake.repos[REPO].pulls[PR]
    assert reply in pull.review_comments and reply['body'] == 'fixed, thanks @reviewbot-ci'
    marker = parse_marker(gone['body'])
    assert marker.resolved and 'division by zero' in gone['body']
    summary = ours(fake)[1][0]['body']
    assert '1 new, 1 resolved, 2 unchanged' in summary
    # a third run with the same findings changes nothing
    again = publish_report(report(findings[:2] + [new]), diff_from_patches(FILES), target(fake))
    assert again.ok and not again.resolved and not again.inline_posted
    assert '0 new, 0 resolved, 3 unchanged' in ours(fake)[1][0]['body']
    # the finding comes back: the resolved comment becomes active again, no new comment
    back = publish_report(report(findings + [new]), diff_from_patches(FILES), target(fake))
    assert back.ok and not back.inline_posted
    assert not parse_marker(gone['body']).resolved
    assert len(ours(fake)[0]) == 4


def test_a_comment_rejected_as_off_the_diff_moves_to_the_summary(fake: FakeGitHub) -> None:
    findings = sample_findings()[:3]
    # the report was computed against a diff with an extra hunk GitHub does not know about
    stale = dict(FILES, **{'src/app.py': FILES['src/app.py'] + '@@ -40,2 +42,3 @@\n x = 1\n+y = 2\n z = 3\n'})
    off = finding('src/app.py', 43, 'bug/ghost', 'line only in a stale diff', 'y = 2')
    result = publish_report(report(findings + [off]), diff_from_patches(stale), target(fake))

    assert result.ok, result.describe()
    fps, listed = posted_fps(fake)
    assert sorted(fps) == sorted(f.fingerprint for f in findings)
    assert listed == [off.fingerprint]
    assert any('must be part of the diff' in why for _, why in result.in_summary)


def test_findings_are_posted_in_batches_of_at_most_50(fake: FakeGitHub) -> None:
    many = [finding('src/app.py', 2, f'rule/{n}', f'finding {n}') for n in range(120)]
    result = publish_report(report(many), diff_from_patches(FILES), target(fake))
    assert result.ok and len(result.inline_posted) == 120
    reviews = fake.repos[REPO].pulls[PR].reviews
    sizes = [sum(c['pull_request_review_id'] == r['id'] for c in fake.repos[REPO].pulls[PR].review_comments)
             for r in reviews]
    assert sizes == [50, 50, 20]


def test_comments_by_others_carrying_our_marker_are_not_ours(fake: FakeGitHub) -> None:
    findings = sample_findings()[:1]
    fp = findings[0].fingerprint
    # a PR author tries to suppress a finding by posting a comment with its marker
    fake.human_issue_comment(REPO, PR, 'mallory', f'<!-- reviewbot:summary fps={fp} -->\nnothing here')
    result = publish_report(report(findings), diff_from_patches(FILES), target(fake))
    assert result.ok and result.inline_posted == [fp]
    assert len(ours(fake)[1]) == 1


def test_github_app_installation_auth(fake: FakeGitHub) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    pub = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    fake.add_app(4242, pub, 99, 'reviewbot')
    auth = Auth.AppAuth(4242, pem).get_installation_auth(99)
    t = target(fake)
    t.auth = auth
    findings = sample_findings()[:2]
    first = publish_report(report(findings), diff_from_patches(FILES), t)
    second = publish_report(report(findings), diff_from_patches(FILES), t)
    assert first.ok and second.ok and len(first.inline_posted) == 2 and not second.inline_posted
    pull = fake.repos[REPO].pulls[PR]
    assert {c['user']['login'] for c in pull.review_comments + pull.issue_comments} == {'reviewbot[bot]'}
    assert len(pull.issue_comments) == 1


def test_rate_limit_headers_are_honoured(fake: FakeGitHub) -> None:
    sleeps: list[float] = []
    fake.faults = Faults(rate=1.0, kinds=('429',))
    t = target(fake, sleeps)
    t.retry.attempts = 3
    with pytest.raises(PublishError, match='429'):
        publish_report(report(sample_findings()), diff_from_patches(FILES), t)
    assert sleeps == [1.0, 1.0]  # Retry-After: 1, twice, then give up


def test_a_wait_longer_than_allowed_fails_instead_of_hanging(fake: FakeGitHub) -> None:
    sleeps: list[float] = []
    fake.faults = Faults(rate=1.0, kinds=('429',))
    t = target(fake, sleeps)
    t.retry.max_delay = 0.5
    with pytest.raises(PublishError, match='asks to wait'):
        publish_report(report(sample_findings()), diff_from_patches(FILES), t)
    assert sleeps == []


@pytest.mark.parametrize('seed', range(6))
def test_twenty_percent_failures_lose_nothing_and_duplicate_nothing(fake: FakeGitHub, seed: int) -> None:
    findings = sample_findings()
    stale = dict(FILES, **{'src/app.py': FILES['src/app.py'] + '@@ -40,2 +42,3 @@\n x = 1\n+y = 2\n z = 3\n'})
    off = finding('src/app.py', 43, 'bug/ghost', 'line only in a stale diff', 'y = 2')
    extra = [finding('src/app.py', 6, f'rule/{n}', f'note {n}') for n in range(10)]
    everything = findings + [off] + extra
    faults = fake.faults = Faults(rate=0.2, seed=seed)
    results: list[PublishResult | str] = []
    for _ in range(2):  # and a re-run under the same failure rate
        try:
            results.append(publish_report(report(everything), diff_from_patches(stale), target(fake)))
        except PublishError as e:  # a run may fail outright: then it must say so
            results.append(str(e))
    fake.faults = None
    assert faults.injected, 'the seed injected no fault'
    assert fake.log  # the runs reached the server

    fps, listed = posted_fps(fake)
    assert len(fps) == len(set(fps)), 'an inline comment was posted twice'
    assert len(ours(fake)[1]) <= 1, 'more than one summary'
    last = results[-1]
    if isinstance(last, PublishResult) and last.ok:
        # every finding exactly once, inline or in the summary
        assert sorted(fps + listed) == sorted(f.fingerprint for f in everything)
    else:
        text = last if isinstance(last, str) else last.describe()
        assert text  # non-zero exit with a reason; what is missing is named
        if isinstance(last, PublishResult):
            missing = {f.fingerprint for f in everything} - set(fps) - set(listed)
            named = {f.fingerprint for f, _ in last.not_posted}
            assert missing <= named


def test_prompt_injection_cannot_mention_link_or_approve(fake: FakeGitHub) -> None:
    evil = finding('src/app.py', 5, 'bug/@org/admins', INJECTION, 'out = subprocess.run(cmd, shell=True)',
                   end_line=6, suggestion='ok\n```\n</details> @org/admins https://evil.example\n````')
    evil_summary = finding('src/util.py', None, 'approve', INJECTION + ' APPROVE', 'API_KEY')
    result = publish_report(report([evil, evil_summary]), diff_from_patches(FILES), target(fake))
    assert result.ok
    pull = fake.repos[REPO].pulls[PR]
    assert [r['state'] for r in pull.reviews] == ['COMMENTED']
    for c in pull.review_comments + pull.issue_comments + pull.reviews:
        body = c['body']
        prose = re.sub(r'(?ms)^ *(`{3,})suggestion\n.*?\n *\1$|^ *(`{3,})\n.*?\n *\2$', '', body)
        prose = re.sub(r'<!-- reviewbot:item=[0-9a-f]+ -->', '', prose)
        # the markers are ours; everything else must be inert
        assert_inert(prose.split('\n', 1)[1] if prose.startswith('<!--') else prose)
    inline = pull.review_comments[0]['body']
    # the suggestion sits in one block its content cannot close: the fence is 5 backticks
    assert '`````suggestion\nok\n```\n</details> @org/admins https://evil.example\n````\n`````' in inline


def test_when_nothing_can_be_written_every_finding_is_named(fake: FakeGitHub) -> None:
    findings = sample_findings()
    fake.faults = Faults(rate=1.0, kinds=('503',), only_methods=('POST',))
    t = target(fake)
    t.retry.attempts = 2
    result = publish_report(report(findings), diff_from_patches(FILES), t)
    assert not result.ok
    assert sorted(f.fingerprint for f, _ in result.not_posted) == sorted(f.fingerprint for f in findings)
    text = result.describe()
    assert text.count('NOT POSTED') == len(findings) + 1 and 'HTTP 503' in text  # + the summary
    assert not fake.repos[REPO].pulls[PR].review_comments


def test_bodies_stay_under_githubs_limit(fake: FakeGitHub) -> None:
    huge = finding('src/app.py', 2, 'bug/huge', 'x' * 200_000, 'import subprocess', suggestion='y' * 100_000)
    result = publish_report(report([huge]), diff_from_patches(FILES), target(fake))
    assert result.ok
    body = ours(fake)[0][0]['body']
    assert len(body) < 65536 and 'truncated' in body and 'withheld' in body


def test_a_summary_too_long_names_what_it_left_out(fake: FakeGitHub) -> None:
    many = [finding('src/util.py', None, f'rule/{n}', f'{n} ' + 'z' * 3900, f'c{n}') for n in range(40)]
    result = publish_report(report(many), diff_from_patches(FILES), target(fake))
    assert not result.ok
    summary = ours(fake)[1][0]['body']
    assert len(summary) < 65536 and 'did not fit' in summary
    _, listed = posted_fps(fake)
    left_out = {f.fingerprint for f, _ in result.not_posted}
    assert left_out and not (left_out & set(listed))
    assert left_out | set(listed) == {f.fingerprint for f in many}
    assert all('too long' in why for _, why in result.not_posted)


def test_actions_token_posts_as_the_bot_login_it_is_given(fake: FakeGitHub) -> None:
    fake.add_user('ghs_actions', 'github-actions[bot]', type='Bot')
    findings = sample_findings()[:2]
    t = target(fake, bot_login='github-actions[bot]')
    t.auth = Auth.Token('ghs_actions')
    first = publish_report(report(findings), diff_from_patches(FILES), t)
    second = publish_report(report(findings), diff_from_patches(FILES), t)
    assert first.ok and second.ok and len(first.inline_posted) == 2 and not second.inline_posted
    assert len(fake.repos[REPO].pulls[PR].issue_comments) == 1


def test_an_identity_that_cannot_be_established_stops_before_posting(fake: FakeGitHub) -> None:
    """An installation token cannot read /user: without --bot-login the run stops; it never
    falls back to "nothing is mine" (which re-posted everything)."""
    fake.add_user('ghs_actions', 'github-actions[bot]', type='Bot')
    t = target(fake)
    t.auth = Auth.Token('ghs_actions')
    with pytest.raises(PublishError, match=r"^GitHub acme/app#7: cannot tell which account .*--bot-login"):
        publish_report(report(sample_findings()), diff_from_patches(FILES), t)
    assert not [m for m, _, _ in fake.log if m == 'POST']
    assert fake.requests_to('GET', '/user') == 1  # a refusal, not a transient fault: asked once


@pytest.mark.parametrize('answer', [
    Response(403, {'message': 'API rate limit exceeded for user'},
             {'X-RateLimit-Remaining': '0', 'X-RateLimit-Reset': '0'}),
    Response(403, {'message': 'You have exceeded a secondary rate limit.'}, {'Retry-After': '1'}),
    Response(429, {'message': 'Too Many Requests'}, {'Retry-After': '1'}),
    Response(502, {'message': 'Server Error'}),
])
def test_one_transient_failure_on_user_duplicates_nothing(fake: FakeGitHub, answer: Response) -> None:
    findings = sample_findings()
    first = publish_report(report(findings), diff_from_patches(FILES), target(fake))
    fake.fail_next('GET', '/user', answer)
    second = publish_report(report(findings), diff_from_patches(FILES), target(fake))
    assert first.ok and second.ok, second.describe()
    assert not second.inline_posted and len(second.inline_kept) == 4
    inline, summaries = ours(fake)
    assert len(inline) == 4 and len(summaries) == 1
    assert fake.requests_to('GET', '/user') == 3  # run 1, then the fault and its retry


def test_a_refused_user_lookup_stops_the_run_and_the_next_run_duplicates_nothing(fake: FakeGitHub) -> None:
    findings = sample_findings()
    publish_report(report(findings), diff_from_patches(FILES), target(fake))
    fake.fail_next('GET', '/user', Response(403, {'message': 'Forbidden'}))
    with pytest.raises(PublishError, match='cannot tell which account'):
        publish_report(report(findings), diff_from_patches(FILES), target(fake))
    third = publish_report(report(findings), diff_from_patches(FILES), target(fake))
    assert third.ok and not third.inline_posted
    inline, summaries = ours(fake)
    assert len(inline) == 4 and len(summaries) == 1


def test_attempts_are_counted_per_request(fake: FakeGitHub) -> None:
    """Two faults on each of two URLs: each request gets its own attempts, the run recovers."""
    for path in ('/user', '/repos/acme/app'):
        fake.fail_next('GET', path, Response(503, {'message': 'busy'}), Response(503, {'message': 'busy'}))
    t = target(fake)
    t.retry.attempts = 3
    result = publish_report(report(sample_findings()), diff_from_patches(FILES), t)
    assert result.ok and len(result.inline_posted) == 4


def test_always_503_makes_exactly_attempts_requests_and_says_why(fake: FakeGitHub) -> None:
    sleeps: list[float] = []
    fake.faults = Faults(rate=1.0, kinds=('503',))
    t = target(fake, sleeps)
    t.retry.attempts = 5
    t.retry.max_delay = 0.02
    with pytest.raises(PublishError) as e:
        publish_report(report(sample_findings()), diff_from_patches(FILES), t)
    assert fake.requests_to('GET', '/user') == 5 and len(fake.requests) == 5
    assert str(e.value).startswith('GitHub acme/app#7: GET /api/v3/user: HTTP 503 on all 5 attempts')
    assert 'asks to wait' not in str(e.value) and 'backoff' in str(e.value)
    assert sleeps == [0.01, 0.02, 0.02, 0.02]  # backoff, capped at --max-wait


def test_always_503_on_writes_makes_exactly_attempts_posts_each(fake: FakeGitHub) -> None:
    fake.faults = Faults(rate=1.0, kinds=('503',), only_methods=('POST',))
    t = target(fake)
    t.retry.attempts = 5
    result = publish_report(report(sample_findings()), diff_from_patches(FILES), t)
    assert not result.ok
    posts = [r.path for r in fake.requests if r.method == 'POST']
    assert posts == ['/repos/acme/app/pulls/7/reviews'] * 5 + ['/repos/acme/app/issues/7/comments'] * 5
    assert 'post the summary comment: HTTP 503 on all 5 attempts' in result.describe()


def test_a_resolved_finding_that_returns_off_the_diff_reopens_its_comment(fake: FakeGitHub) -> None:
    f = sample_findings()[0]
    publish_report(report([f]), diff_from_patches(FILES), target(fake))
    publish_report(report([]), diff_from_patches(FILES), target(fake))
    assert parse_marker(ours(fake)[0][0]['body']).resolved
    returned = finding(f.path, 300, f.category, f.message, f.anchored_code)  # same finding, off the diff
    result = publish_report(report([returned]), diff_from_patches(FILES), target(fake))
    assert result.ok and result.inline_kept == [f.fingerprint] and not result.in_summary
    assert not parse_marker(ours(fake)[0][0]['body']).resolved


@pytest.mark.parametrize('kind', ['slow', '502-after-write'])
def test_a_write_that_landed_before_the_error_is_not_repeated(fake: FakeGitHub, kind: str) -> None:
    """Every POST takes effect but the client sees a timeout or a 502: nothing may be posted twice."""
    findings = sample_findings()
    fake.faults = Faults(rate=1.0, kinds=(kind,), only_methods=('POST',))
    result = publish_report(report(findings), diff_from_patches(FILES), target(fake))
    assert result.ok, result.describe()
    fps, listed = posted_fps(fake)
    assert sorted(fps + listed) == sorted(f.fingerprint for f in findings)
    assert len(ours(fake)[1]) == 1 and len(fake.repos[REPO].pulls[PR].reviews) == 1


def test_summary_says_what_was_not_reviewed_and_the_report_notes(fake: FakeGitHub) -> None:
    from reviewbot.core import Skipped
    r = Report(findings=[], coverage=Coverage(skipped=[Skipped('vendor/x.js', 'excluded @vendor')]),
               notes=['cloud reviewer not used: private repository'])
    assert publish_report(r, diff_from_patches(FILES), target(fake)).ok
    body = ours(fake)[1][0]['body']
    assert 'Not reviewed (1)' in body and '`vendor/x.js`' in body and 'excluded @\u200dvendor' in body
    assert 'cloud reviewer not used' in body and 'No findings' in body


def test_repository_visibility_endpoint_for_the_cloud_gate(fake: FakeGitHub) -> None:
    from github import Github
    fake.add_repo('acme', 'secret', private=True)
    gh = Github(auth=Auth.Token(TOKEN), base_url=fake.base_url, retry=None)
    secret = gh.get_repo('acme/secret')
    assert (secret.private, secret.visibility) == (True, 'private')
    assert gh.get_repo(REPO).visibility == 'public'


def test_the_log_of_what_was_not_posted_cannot_forge_lines() -> None:
    f = finding('a.py\n::error::forged\x1b[31m', 1, 'x\ny', 'm')
    text = PublishResult('github', not_posted=[(f, 'boom\n::warning::x')]).describe()
    assert len(text.splitlines()) == 2 and '\\n::error::forged\\x1b[31m' in text


def test_missing_write_permission_names_every_finding(fake: FakeGitHub) -> None:
    """A token that may read but not write (403 without rate-limit headers): not retried, all named."""
    fake.faults = Faults(rate=1.0, kinds=('403-forbidden',), only_methods=('POST',))
    result = publish_report(report(sample_findings()), diff_from_patches(FILES), target(fake))
    assert not result.ok and result.summary_error == 'resource not accessible by integration (HTTP 403)'
    assert len(result.not_posted) == len(sample_findings())
    assert 'NOT POSTED: the summary comment' in result.describe()


def _stale_setup(fake: FakeGitHub) -> Report:
    """A report of head a…a, and the PR pushed to head c…c with 5 lines added at the top of each file."""
    fake.push(REPO, PR, 'c' * 40, FILES_PLUS5)
    r = report(stale_findings())
    r.reviewed = Reviewed('a' * 40, 'b' * 40, '0' * 64)
    return r


def _every_comment_on_its_code(fake: FakeGitHub, findings: list) -> int:  # type: ignore[type-arg]
    by_fp = {f.fingerprint: f for f in findings}
    inline, _ = ours(fake)
    for c in inline:
        f = by_fp[parse_marker(c['body']).fingerprint]
        first = c['start_line'] or c['line']  # a range's comment: its first line holds the code's first line
        text = code_at(FILES_PLUS5, c['path'], first, Side(c['side']))
        assert holds(text, f.anchored_code), (c['path'], first, text, f.anchored_code)
        assert c['commit_id'] == 'c' * 40
    return len(inline)


def test_a_report_of_an_older_head_is_refused_and_nothing_is_posted(fake: FakeGitHub) -> None:
    r = _stale_setup(fake)
    moved = r'^GitHub acme/app#7: the head moved from aaaaaaaaaaaa .* to cccccccccccc'
    with pytest.raises(StaleReport, match=moved) as e:
        publish_report(r, diff_from_patches(FILES_PLUS5, added=('src/util.py',)), target(fake))
    assert e.value.exit_code == 4
    assert not [m for m, _, _ in fake.log if m in ('POST', 'PATCH')]


def test_a_report_of_an_older_head_mapped_puts_every_comment_on_its_code(fake: FakeGitHub) -> None:
    r = _stale_setup(fake)
    result = publish_report(r, diff_from_patches(FILES_PLUS5, added=('src/util.py',)),
                            target(fake, map_moved_head=True))
    assert result.ok, result.describe()
    assert _every_comment_on_its_code(fake, r.findings) == 5
    lines = sorted((c['path'], c['line']) for c in ours(fake)[0])
    assert lines == [('src/app.py', 7), ('src/app.py', 11), ('src/app.py', 29), ('src/util.py', 6), ('src/util.py', 8)]
    assert any('moved from aaaaaaaaaaaa' in w for w in result.warnings)


def test_a_report_that_names_no_commit_never_lands_on_other_code(fake: FakeGitHub) -> None:
    """The issue's case: the AWS-key comment went on `import sqlite3`. Without a recorded head, each
    line is checked against the finding's code; what does not match goes to the summary, not a line."""
    r = _stale_setup(fake)
    r.reviewed = None
    result = publish_report(r, diff_from_patches(FILES_PLUS5, added=('src/util.py',)), target(fake))
    assert result.ok, result.describe()
    _every_comment_on_its_code(fake, r.findings)
    fps, listed = posted_fps(fake)
    assert sorted(fps + listed) == sorted(f.fingerprint for f in r.findings)
    assert result.in_summary and all('does not hold the code' in why or 'outside the changed hunks' in why
                                     for _, why in result.in_summary)


def test_a_report_for_another_commit_than_expected_is_refused(fake: FakeGitHub) -> None:
    r = report(sample_findings())
    r.reviewed = Reviewed('d' * 40, None, '0' * 64)
    with pytest.raises(PublishError, match='reviewed commit dddddddddddd, not aaaaaaaaaaaa as expected') as e:
        publish_report(r, diff_from_patches(FILES), target(fake, expect_head='a' * 40))
    assert e.value.exit_code == 2  # not a moved head: a report that is not what the CI event says
    r.reviewed = Reviewed('a' * 40, None, '0' * 64)
    assert publish_report(r, diff_from_patches(FILES), target(fake, expect_head='a' * 40)).ok
