"""Placement agrees with how GitHub and GitLab judge positions (the fakes' independent rules)."""
from __future__ import annotations

import itertools

from reviewbot.core import LineKind, Side
from reviewbot.publish.placement import Inline, place, place_finding
from tests.fakes.github_api import FakeGitHub, Pull
from tests.fakes.gitlab_api import line_kinds
from tests.publish.helpers import (
    APP_PATCH_MOVED,
    FILES,
    diff_from_patches,
    finding,
    sample_findings,
)


def test_every_placement_is_one_github_accepts_and_every_refusal_one_it_would_reject() -> None:
    github = FakeGitHub()  # used for its rules only; no server is started
    for files in (FILES, {'src/app.py': APP_PATCH_MOVED}):
        pull = Pull(1, 'a' * 40, 'b' * 40, files)
        diff = diff_from_patches(files)
        for line, extra, side in itertools.product(range(32), (0, 1, 2, 5), (Side.RIGHT, Side.LEFT)):
            f = finding('src/app.py', line, 'r', 'm', f'{line}/{extra}', end_line=line + extra, side=side)
            where = place_finding(f, diff)
            if isinstance(where, Inline):
                comment = {'path': where.path, 'line': where.line, 'side': where.side.value, 'body': 'x'}
                if where.start_line is not None:
                    comment.update(start_line=where.start_line, start_side=where.side.value)
                assert github._check_comment(pull, comment) is None, (line, extra, side, where)
            else:
                single = {'path': 'src/app.py', 'line': line, 'side': side.value, 'body': 'x'}
                assert github._check_comment(pull, single) is not None, (line, side, where)


def test_gitlab_positions_match_line_kinds() -> None:
    diff = diff_from_patches(FILES)
    kinds = line_kinds(FILES['src/app.py'])
    for line, side in itertools.product(range(30), (Side.RIGHT, Side.LEFT)):
        where = place_finding(finding('src/app.py', line, 'r', 'm', str(line), side=side), diff)
        if not isinstance(where, Inline):
            continue
        a = where.anchor
        key = (None if a.kind is LineKind.ADDED else a.old_lineno, None if a.kind is LineKind.REMOVED else a.new_lineno)
        assert kinds.get(key) == a.kind.value


def test_ranges_leaving_the_hunk_comment_on_the_first_line_without_a_suggestion() -> None:
    diff = diff_from_patches(FILES)
    f = finding('src/app.py', 7, 'r', 'm', 'x', end_line=24, suggestion='y')  # spans both hunks
    where = place_finding(f, diff)
    assert isinstance(where, Inline) and (where.line, where.start_line, where.suggestion) == (7, None, False)


def test_placement_reasons_and_duplicates() -> None:
    findings = sample_findings()
    p = place(findings + [findings[0]], diff_from_patches(FILES))
    assert [i.finding for i in p.inline] == findings[:4]
    assert [why for _, why in p.summary] == ['file-level note', 'new line 15 is outside the changed hunks']
    assert p.duplicates == [(findings[0], findings[0])]
    assert place_finding(finding('docs/x.md', 1, 'r', 'm'), diff_from_patches(FILES)) == 'file is not part of this diff'
