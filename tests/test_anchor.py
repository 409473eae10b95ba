from __future__ import annotations

from reviewbot.anchor import anchor
from reviewbot.core import Finding, Severity
from reviewbot.diffparse import parse_diff

DIFF = b'''diff --git a/app.py b/app.py
--- a/app.py
+++ b/app.py
@@ -1,4 +1,5 @@
 import os
-x = 1
+x = 2
+y = 3
 z = 4
 w = 5
@@ -20,3 +21,3 @@ def f():
 a = 1
-b = 2
+b = 22
 c = 3
'''


def finding(line, end=None, path='app.py', suggestion=None, category='bug/x'):
    return Finding(path=path, line=line, end_line=end, severity=Severity.WARNING,
                   category=category, message='m', reviewer='t', suggestion=suggestion)


def test_added_and_context_lines_keep_their_place_with_code():
    diff = parse_diff(DIFF)
    res = anchor([finding(2), finding(4), finding(22)], diff)
    assert [(f.line, f.anchored_code) for f in res.findings] == [(2, 'x = 2'), (4, 'z = 4'),
                                                                  (22, 'b = 22')]


def test_off_diff_line_becomes_file_note_or_is_dropped():
    diff = parse_diff(DIFF)
    res = anchor([finding(12)], diff)
    assert res.findings[0].line is None and res.demoted == 1
    assert 'line 12' in res.findings[0].message
    res = anchor([finding(12)], diff, 'drop')
    assert res.findings == [] and res.dropped == 1


def test_invented_path_is_dropped():
    res = anchor([finding(2, path='nope.py')], parse_diff(DIFF))
    assert res.findings == [] and res.dropped == 1


def test_range_is_clipped_to_its_hunk_and_suggestion_kept_only_on_added_lines():
    diff = parse_diff(DIFF)
    res = anchor([finding(2, 40, suggestion='x = 3\ny = 4')], diff)
    f = res.findings[0]
    assert (f.line, f.end_line) == (2, 5) and f.suggestion is None  # range reaches context lines
    res = anchor([finding(2, 3, suggestion='x = 3\ny = 4')], diff)
    assert res.findings[0].suggestion == 'x = 3\ny = 4'


def test_duplicates_are_removed_and_fingerprint_ignores_line_shift():
    diff = parse_diff(DIFF)
    res = anchor([finding(2), finding(2)], diff)
    assert len(res.findings) == 1
    shifted = DIFF.replace(b'@@ -1,4 +1,5 @@', b'@@ -11,4 +11,5 @@').replace(
        b'@@ -20,3 +21,3 @@', b'@@ -30,3 +31,3 @@')
    a = anchor([finding(2)], diff).findings[0]
    b = anchor([finding(12)], parse_diff(shifted)).findings[0]
    assert a.fingerprint == b.fingerprint and a.line != b.line
