"""reviewbot.publish.gitlab against a fake GitLab API on 127.0.0.1, through the real python-gitlab client."""
from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from reviewbot.core import Coverage, Report, Reviewed, Side
from reviewbot.errors import PublishError, StaleReport
from reviewbot.publish import GitLabTarget, PublishResult, RetryPolicy, publish_report
from reviewbot.publish.markers import parse_marker
from tests.fakes.gitlab_api import FakeGitLab
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

PID = 42
PATH = 'acme/app'
IID = 3
TOKEN = 'glpat-test'
BOT = 'project_42_bot'


@pytest.fixture
def fake() -> Iterator[FakeGitLab]:
    with FakeGitLab() as server:
        server.add_user(TOKEN, BOT)
        server.add_user('glpat-human', 'alice')
        server.add_project(PID, PATH)
        server.add_mr(PID, IID, 'a' * 40, FILES, new_files={'src/util.py'})
        server.max_per_page = 2  # every listing spans several pages
        yield server


def target(fake: FakeGitLab, sleeps: list[float] | None = None, project: str | int = PID,
           **kw: object) -> GitLabTarget:
    policy = RetryPolicy(attempts=8, base_delay=0.01, max_delay=5.0, timeout=1.0,
                         sleep=(sleeps if sleeps is not None else []).append)
    return GitLabTarget(project, IID, fake.base_url, TOKEN, retry=policy, **kw)  # type: ignore[arg-type]


def report(findings: list) -> Report:  # type: ignore[type-arg]
    return Report(findings=findings, coverage=Coverage())


def ours(fake: FakeGitLab) -> tuple[list[dict], list[dict]]:  # type: ignore[type-arg]
    """Our DiffNotes (first note of a discussion), and our summary notes."""
    mr = fake.projects[PID].mrs[IID]
    inline = [d['notes'][0] for d in mr.discussions
              if d['notes'][0]['author']['username'] == BOT and d['notes'][0]['type'] == 'DiffNote']
    summaries = [n for n in mr.notes if n['author']['username'] == BOT and n['type'] is None]
    return inline, summaries


def posted_fps(fake: FakeGitLab) -> tuple[list[str], list[str]]:
    inline, summaries = ours(fake)
    fps = [parse_marker(n['body']).fingerprint for n in inline if not parse_marker(n['body']).resolved]
    listed = [fp for s in summaries for fp in re.findall(r'<!-- reviewbot:item=([0-9a-f]+) -->', s['body'])]
    return fps, listed


def test_three_runs_leave_one_comment_per_finding_and_one_summary(fake: FakeGitLab) -> None:
    findings = sample_findings()
    diff = diff_from_patches(FILES, added=('src/util.py',))
    results = [publish_report(report(findings), diff, target(fake, project=p)) for p in (PID, PATH, PID)]

    assert all(r.ok for r in results), [r.describe() for r in results]
    inline, summaries = ours(fake)
    assert len(summaries) == 1
    fps, listed = posted_fps(fake)
    assert sorted(fps) == sorted(f.fingerprint for f in findings[:4])
    assert sorted(listed) == sorted(f.fingerprint for f in findings[4:])
    assert len(inline) == 4 and len(fake.projects[PID].mrs[IID].notes) == 5  # nothing else was left
    assert '0 new, 0 resolved, 6 unchanged' in summaries[0]['body']


def test_positions_follow_line_kinds(fake: FakeGitLab) -> None:
    findings = sample_findings()
    publish_report(report(findings), diff_from_patches(FILES), target(fake))
    by_fp = {parse_marker(n['body']).fingerprint: n for n in ours(fake)[0]}
    added = by_fp[findings[0].fingerprint]['position']
    assert (added.get('old_line'), added['new_line']) == (None, 2)
    removed = by_fp[findings[3].fingerprint]['position']
    assert removed.get('new_line') is None and removed['old_line'] == 4
    assert removed['base_sha'] == 'b' * 40 and removed['head_sha'] == 'a' * 40
    multi = by_fp[findings[1].fingerprint]
    assert multi['position']['new_line'] == 6  # the last line; the suggestion reaches one line up
    assert '```suggestion:-1+0\n    out = subprocess.run(cmd.split())' in multi['body']


def test_context_line_needs_both_line_numbers(fake: FakeGitLab) -> None:
    ctx = finding('src/app.py', 23, 'style/ctx', 'context line', '    a = 1')  # a context line
    result = publish_report(report([ctx]), diff_from_patches(FILES), target(fake))
    assert result.ok and result.inline_posted == [ctx.fingerprint]
    pos = ours(fake)[0][0]['position']
    assert (pos['old_line'], pos['new_line']) == (21, 23)


def test_a_comment_gitlab_does_not_attach_to_the_diff_moves_to_the_summary(fake: FakeGitLab) -> None:
    findings = sample_findings()[:3]
    stale = dict(FILES, **{'src/app.py': FILES['src/app.py'] + '@@ -40,2 +42,3 @@\n x = 1\n+y = 2\n z = 3\n'})
    off = finding('src/app.py', 43, 'bug/ghost', 'line only in a stale diff', 'y = 2')
    result = publish_report(report(findings + [off]), diff_from_patches(stale), target(fake))

    assert result.ok, result.describe()
    fps, listed = posted_fps(fake)
    assert sorted(fps) == sorted(f.fingerprint for f in findings) and listed == [off.fingerprint]
    assert any('not a DiffNote' in why for _, why in result.in_summary)
    mr = fake.projects[PID].mrs[IID]
    # the plain comment GitLab made instead was taken back: no stray copy of the finding
    assert sum(off.fingerprint in n['body'] for n in mr.notes) == 1


def test_push_that_moves_lines_duplicates_nothing(fake: FakeGitLab) -> None:
    findings = sample_findings()[:3]
    publish_report(report(findings), diff_from_patches(FILES), target(fake))
    moved_files = dict(FILES, **{'src/app.py': APP_PATCH_MOVED})
    fake.push(PID, IID, 'c' * 40, moved_files)
    moved = [finding(f.path, f.line + 3, f.category, f.message, f.anchored_code,
                     end_line=f.end_line and f.end_line + 3, suggestion=f.suggestion, severity=f.severity)
             for f in findings]
    result = publish_report(report(moved), diff_from_patches(moved_files), target(fake))
    assert result.ok and not result.inline_posted
    inline, summaries = ours(fake)
    assert len(inline) == 3 and len(summaries) == 1


def test_vanished_finding_is_resolved_and_human_reply_kept(fake: FakeGitLab) -> None:
    findings = sample_findings()[:3]
    publish_report(report(findings), diff_from_patches(FILES), target(fake))
    mr = fake.projects[PID].mrs[IID]
    d = next(d for d in mr.discussions if findings[2].fingerprint in d['notes'][0]['body'])
    reply = fake.human_reply(PID, IID, d['id'], 'alice', 'fixed it @project_42_bot')

    result = publish_report(report(findings[:2]), diff_from_patches(FILES), target(fake))

    assert result.ok and result.resolved == [findings[2].fingerprint]
    assert d['notes'][0]['resolved'] and parse_marker(d['notes'][0]['body']).resolved
    assert reply in d['notes'] and reply['body'] == 'fixed it @project_42_bot'
    assert '0 new, 1 resolved, 2 unchanged' in ours(fake)[1][0]['body']


def test_notes_by_others_with_our_marker_are_ignored(fake: FakeGitLab) -> None:
    f = sample_findings()[0]
    fake.plain_note(PID, IID, 'mallory', f'<!-- reviewbot:summary fps={f.fingerprint} -->\nhi')
    result = publish_report(report([f]), diff_from_patches(FILES), target(fake))
    assert result.ok and result.inline_posted == [f.fingerprint] and len(ours(fake)[1]) == 1


def test_prompt_injection_cannot_mention_link_or_run_quick_actions(fake: FakeGitLab) -> None:
    evil = finding('src/app.py', 2, 'bug/@group', INJECTION + '\n/approve', 'import subprocess',
                   suggestion='x\n```\n/approve\n@group')
    evil2 = finding('src/util.py', None, 'x', '/merge\n' + INJECTION, 'API_KEY')
    assert publish_report(report([evil, evil2]), diff_from_patches(FILES), target(fake)).ok
    for n in fake.projects[PID].mrs[IID].notes:
        prose = re.sub(r'(?ms)^ *(`{3,})suggestion[^\n]*\n.*?\n *\1$|^ *(`{3,})\n.*?\n *\2$', '', n['body'])
        prose = re.sub(r'<!-- reviewbot:item=[0-9a-f]+ -->', '', prose)
        assert_inert(prose.split('\n', 1)[1])


def test_rate_limit_retry_after_is_read_from_the_response(fake: FakeGitLab) -> None:
    sleeps: list[float] = []
    fake.faults = Faults(rate=1.0, kinds=('429',))
    t = target(fake, sleeps)
    t.retry.attempts = 3
    with pytest.raises(PublishError, match='429'):
        publish_report(report(sample_findings()), diff_from_patches(FILES), t)
    assert sleeps == [1.0, 1.0]


@pytest.mark.parametrize('seed', range(4))
def test_twenty_percent_failures_lose_nothing_and_duplicate_nothing(fake: FakeGitLab, seed: int) -> None:
    findings = sample_findings()
    stale = dict(FILES, **{'src/app.py': FILES['src/app.py'] + '@@ -40,2 +42,3 @@\n x = 1\n+y = 2\n z = 3\n'})
    off = finding('src/app.py', 43, 'bug/ghost', 'line only in a stale diff', 'y = 2')
    extra = [finding('src/app.py', 6, f'rule/{n}', f'note {n}') for n in range(6)]
    everything = findings + [off] + extra
    faults = fake.faults = Faults(rate=0.2, seed=seed)
    results: list[PublishResult | str] = []
    for _ in range(2):
        try:
            results.append(publish_report(report(everything), diff_from_patches(stale), target(fake)))
        except PublishError as e:
            results.append(str(e))
    fake.faults = None
    assert faults.injected, 'the seed injected no fault'
    fps, listed = posted_fps(fake)
    assert len(fps) == len(set(fps)), 'an inline comment was posted twice'
    assert len(ours(fake)[1]) <= 1, 'more than one summary'
    last = results[-1]
    if isinstance(last, PublishResult) and last.ok:
        assert sorted(fps + listed) == sorted(f.fingerprint for f in everything)
    else:
        text = last if isinstance(last, str) else last.describe()
        assert 'NOT POSTED' in text or 'GitLab project' in text
        if isinstance(last, PublishResult):
            missing = {f.fingerprint for f in everything} - set(fps) - set(listed)
            assert missing <= {f.fingerprint for f, _ in last.not_posted}


def test_project_visibility_endpoint_for_the_cloud_gate(fake: FakeGitLab) -> None:
    import gitlab
    fake.add_project(7, 'acme/secret', visibility='private')
    gl = gitlab.Gitlab(fake.origin, private_token=TOKEN)
    assert gl.projects.get('acme/secret').visibility == 'private'
    assert gl.projects.get(PID).visibility == 'public'


@pytest.mark.parametrize('kind', ['slow', '502-after-write'])
def test_a_write_that_landed_before_the_error_is_not_repeated(fake: FakeGitLab, kind: str) -> None:
    findings = sample_findings()
    # and one comment GitLab will not attach to the diff: its plain-note copies must not survive
    stale = dict(FILES, **{'src/app.py': FILES['src/app.py'] + '@@ -40,2 +42,3 @@\n x = 1\n+y = 2\n z = 3\n'})
    off = finding('src/app.py', 43, 'bug/ghost', 'line only in a stale diff', 'y = 2')
    fake.faults = Faults(rate=1.0, kinds=(kind,), only_methods=('POST',))
    t = target(fake)
    t.retry.attempts = 3  # the refused one times out on every try: keep the test short
    result = publish_report(report(findings + [off]), diff_from_patches(stale), t)
    assert result.ok, result.describe()
    fps, listed = posted_fps(fake)
    assert sorted(fps + listed) == sorted(f.fingerprint for f in findings + [off])
    notes = fake.projects[PID].mrs[IID].notes
    assert len(ours(fake)[1]) == 1 and len(notes) == 5
    assert sum(off.fingerprint in n['body'] for n in notes) == 1  # only the summary names it


def test_a_refused_token_is_one_actionable_error(fake: FakeGitLab) -> None:
    t = target(fake)
    t.token = 'ci-job-token'
    with pytest.raises(PublishError, match='project access token with api scope'):
        publish_report(report(sample_findings()), diff_from_patches(FILES), t)


def test_a_503s_own_retry_after_is_honoured(fake: FakeGitLab) -> None:
    sleeps: list[float] = []
    fake.fail_next('GET', f'/projects/{PID}/merge_requests/{IID}',
                   Response(503, {'message': 'maintenance'}, {'Retry-After': '2'}))
    result = publish_report(report(sample_findings()), diff_from_patches(FILES), target(fake, sleeps))
    assert result.ok and sleeps == [2.0]


def test_attempts_are_counted_per_request(fake: FakeGitLab) -> None:
    for path in ('/user', f'/projects/{PID}/merge_requests/{IID}'):
        fake.fail_next('GET', path, Response(502, {'message': 'x'}), Response(502, {'message': 'x'}))
    t = target(fake)
    t.retry.attempts = 3
    result = publish_report(report(sample_findings()), diff_from_patches(FILES), t)
    assert result.ok and len(result.inline_posted) == 4


def test_always_503_makes_exactly_attempts_requests_and_says_why(fake: FakeGitLab) -> None:
    sleeps: list[float] = []
    fake.faults = Faults(rate=1.0, kinds=('503',))
    t = target(fake, sleeps)
    t.retry.attempts = 5
    with pytest.raises(PublishError) as e:
        publish_report(report(sample_findings()), diff_from_patches(FILES), t)
    assert len(fake.requests) == 5 and len({r.path for r in fake.requests}) == 1
    assert 'HTTP 503 on all 5 attempts' in str(e.value) and 'asks to wait' not in str(e.value)
    assert len(str(e.value).splitlines()) == 1 and '{' not in str(e.value)


def _stale_setup(fake: FakeGitLab) -> Report:
    fake.push(PID, IID, 'c' * 40, FILES_PLUS5)
    r = report(stale_findings())
    r.reviewed = Reviewed('a' * 40, 'b' * 40, '0' * 64)
    return r


def _every_note_on_its_code(fake: FakeGitLab, findings: list) -> int:  # type: ignore[type-arg]
    by_fp = {f.fingerprint: f for f in findings}
    inline, _ = ours(fake)
    for n in inline:
        f = by_fp[parse_marker(n['body']).fingerprint]
        pos = n['position']
        assert (pos['base_sha'], pos['head_sha']) == ('b' * 40, 'c' * 40)
        line = pos.get('new_line') or pos['old_line']
        last = code_at(FILES_PLUS5, pos['new_path'], line, Side.RIGHT if pos.get('new_line') else Side.LEFT)
        # a note sits on the last line of a range: the code's last line is there
        assert holds(last, f.anchored_code.split('\n')[-1]), (pos, last, f.anchored_code)
    return len(inline)


def test_a_report_of_an_older_head_is_refused_and_nothing_is_posted(fake: FakeGitLab) -> None:
    r = _stale_setup(fake)
    with pytest.raises(StaleReport, match=r'^GitLab project 42 MR !3: the head moved from aaaaaaaaaaaa'):
        publish_report(r, diff_from_patches(FILES_PLUS5, added=('src/util.py',)), target(fake))
    assert not [m for m, _, _ in fake.log if m in ('POST', 'PUT', 'DELETE')]


def test_a_report_of_an_older_head_mapped_puts_every_note_on_its_code(fake: FakeGitLab) -> None:
    r = _stale_setup(fake)
    result = publish_report(r, diff_from_patches(FILES_PLUS5, added=('src/util.py',)),
                            target(fake, map_moved_head=True))
    assert result.ok, result.describe()
    assert _every_note_on_its_code(fake, r.findings) == 5
    summary = ours(fake)[1][0]['body']
    assert '`cccccccccccc`' in summary


def test_a_report_that_names_no_commit_never_lands_on_other_code(fake: FakeGitLab) -> None:
    r = _stale_setup(fake)
    r.reviewed = None
    result = publish_report(r, diff_from_patches(FILES_PLUS5, added=('src/util.py',)), target(fake))
    assert result.ok, result.describe()
    _every_note_on_its_code(fake, r.findings)
    fps, listed = posted_fps(fake)
    assert sorted(fps + listed) == sorted(f.fingerprint for f in r.findings)


@pytest.mark.parametrize('answer', [
    Response(429, {'message': 'Retry later'}, {'RateLimit-Remaining': '0', 'RateLimit-Reset': '0'}),
    Response(503, {'message': 'unavailable'}),
])
def test_one_transient_failure_on_user_duplicates_nothing(fake: FakeGitLab, answer: Response) -> None:
    findings = sample_findings()
    first = publish_report(report(findings), diff_from_patches(FILES), target(fake))
    fake.fail_next('GET', '/user', answer)
    second = publish_report(report(findings), diff_from_patches(FILES), target(fake))
    assert first.ok and second.ok and not second.inline_posted
    inline, summaries = ours(fake)
    assert len(inline) == 4 and len(summaries) == 1
    assert fake.requests_to('GET', '/user') == 3


def test_a_refused_user_lookup_stops_before_posting(fake: FakeGitLab) -> None:
    fake.fail_next('GET', '/user', Response(403, {'message': '403 Forbidden'}))
    with pytest.raises(PublishError, match=r'^GitLab project 42 MR !3: forbidden \(HTTP 403\)$'):
        publish_report(report(sample_findings()), diff_from_patches(FILES), target(fake))
    assert not [m for m, _, _ in fake.log if m != 'GET']
