"""Linear-time scanning of untrusted lines: structural checks (bounded work, bounded inputs handed
to third-party regexes), never wall-clock asserts."""
from __future__ import annotations

import random
import re
import time

from reviewbot import textscan
from reviewbot.config import defaults
from reviewbot.diffparse import parse_diff
from reviewbot.privacy import layers
from reviewbot.privacy import redact as redact_module
from reviewbot.privacy.redact import MASK, redact, scan_line
from reviewbot.reviewers import ReviewContext
from reviewbot.reviewers.secrets import SecretsReviewer

# the two regexes the linear scan replaced (both quadratic on a long line)
_OLD_SECRETS = re.compile(r'[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@"\'`]+:(?P<pw>[^\s"\'`]+)@[^\s@"\'`]')
_OLD_PAYLOAD = re.compile(r'[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@"\'`]*:(?P<secret>[^\s@"\'`/]+)@')


class _Counting(str):
    """A str that counts how often a character is looked at by index."""
    reads = 0

    def __getitem__(self, key):  # type: ignore[override]
        _Counting.reads += 1
        return str.__getitem__(self, key)


def test_url_password_spans_match_the_old_regexes():
    rng = random.Random(14)
    alphabet = 'ab:/@ "1.x\t'
    for _ in range(20000):
        line = ''.join(rng.choice(alphabet) for _ in range(rng.randint(0, 24)))
        assert list(textscan.url_password_spans(line)) == [m.span('pw') for m in _OLD_SECRETS.finditer(line)]
        assert (list(textscan.url_password_spans(line, empty_user=True, at_in_password=False))
                == [m.span('secret') for m in _OLD_PAYLOAD.finditer(line)])


def test_url_password_scan_reads_each_character_a_bounded_number_of_times():
    n = 200_000
    lines = ['a://b:' + 'c' * n, 'x' * n, 'a://' + 'b:' * (n // 2), 'a://u:' * (n // 6),
             'h://u:p@' * (n // 8), 'a://' + 'b' * n, ('x' * 20 + '://') * (n // 23)]
    for line in lines:
        for kw in ({}, {'empty_user': True, 'at_in_password': False}):
            _Counting.reads = 0
            list(textscan.url_password_spans(_Counting(line), **kw))
            assert _Counting.reads <= 4 * len(line) + 10, (line[:20], kw, _Counting.reads)


def test_detect_secrets_sees_only_bounded_windows(monkeypatch):
    """The quadratic/cubic detect-secrets plugins never get a long line, a long run of spaces, or
    (keyword/OpenAI) a long word: the old code handed them the whole line."""
    seen: list[tuple[str, str]] = []
    plugins = redact_module._plugins()

    class Spy:
        def __init__(self, inner):
            self.inner = inner

        def analyze_line(self, **kw):
            seen.append((type(self).__name__, kw['line']))
            return self.inner.analyze_line(**kw)

    # each spy's class has its plugin's name, which scan_line goes by
    spies = tuple(type(type(p).__name__, (Spy,), {})(p) for p in plugins)
    monkeypatch.setattr(redact_module, '_plugins', lambda: spies)
    line = ('password' * 3000 + ' api_key' + ' ' * 5000 + '= "x" ') * 3
    scan_line(line, eager=True)
    assert seen
    for name, text in seen:
        assert len(text) <= textscan.WINDOW + textscan.WINDOW // textscan.MAX_WORD  # + the breaks
        assert ' ' * (textscan.MAX_SPACES + 1) not in text
        if name in ('KeywordDetector', 'OpenAIDetector'):
            assert max(len(w) for w in re.findall(r'[\w-]+', text)) <= textscan.MAX_WORD


def test_windows_cover_every_secret_up_to_the_overlap():
    token = 'ghp_' + 'a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8'
    filler = 'x = 1; '
    for at in (textscan.WINDOW - 20, textscan.WINDOW - 2, 2 * (textscan.WINDOW - textscan.OVERLAP) + 5):
        line = (filler * (at // len(filler) + 1))[:at] + f' t="{token}" ' + filler * 5000
        hits = scan_line(line)
        assert any(line[h.start:h.end] == token for h in hits), at
        red, n = redact(line)
        assert token not in red and n >= 1


def test_view_maps_back_to_the_original():
    line = 'a' + ' ' * 20 + 'b' + ' ' * 9 + 'c  d' + 'w' * 300 + ' ' * 30 + 'e'
    for view in (textscan.View(line), textscan.View(line, break_words=True)):
        for i, ch in enumerate(view.text):
            orig = line[view.to_original(i)]
            assert orig == ch or (ch == ' ' and view.text is not line)


def test_secret_after_a_long_run_of_spaces_is_still_masked_in_place():
    line = 'password' + ' ' * 40 + '=   "correct-horse-battery-staple"' + ' ' * 12 + '#'
    red, _ = redact(line)
    assert 'correct-horse-battery-staple' not in red and MASK in red
    assert red.startswith('password' + ' ' * 40)


def test_payload_regexes_have_no_unbounded_repetition_before_the_value():
    pattern = layers._ASSIGNMENT.pattern.split('(?P<secret>')[0]
    assert not re.search(r'(?<!\\)[*+]', pattern.replace('[bru])?', '')), pattern


def test_long_line_review_notes_the_windows_and_a_spent_budget_skips():
    line = 'x = "' + 'y' * (textscan.WINDOW * 2) + '"'
    body = f'+{line}\n+b = 1\n'
    diff = parse_diff((f'diff --git a/f.py b/f.py\nnew file mode 100644\n--- /dev/null\n+++ b/f.py\n'
                       f'@@ -0,0 +1,2 @@\n{body}').encode())
    ctx = ReviewContext(config=defaults(), read_new_file=lambda p: None)
    result = SecretsReviewer().review(diff.files, ctx)
    assert any('1 line over' in n and 'windows' in n for n in result.notes)
    ctx.deadline = time.monotonic() - 1  # the stage's budget is spent: nothing is scanned, and says so
    result = SecretsReviewer().review(diff.files, ctx)
    assert not result.findings
    assert [s.reason for s in result.skipped] == ['secrets: over the time budget, not scanned']


def test_a_spent_budget_stops_ruff_too():
    from reviewbot.reviewers.ruff import RuffReviewer, ruff_binary
    if ruff_binary() is None:
        import pytest
        pytest.skip('ruff is not installed')
    diff = parse_diff(b'diff --git a/f.py b/f.py\nnew file mode 100644\n--- /dev/null\n+++ b/f.py\n'
                      b'@@ -0,0 +1 @@\n+import os\n')
    ctx = ReviewContext(config=defaults(), read_new_file=lambda p: 'import os\n',
                        deadline=time.monotonic() - 1)
    result = RuffReviewer(defaults()).review(diff.files, ctx)
    assert not result.findings
    assert [s.reason for s in result.skipped] == ['ruff: over the time budget, not checked']
