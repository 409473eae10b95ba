from __future__ import annotations

import difflib
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reviewbot.core import ChangeKind, LineKind
from reviewbot.diffparse import parse_diff, unquote_path
from reviewbot.errors import DiffError
from reviewbot.git import DIFF_FLAGS as GIT_DIFF_FLAGS


def staged_diff(repo) -> bytes:
    repo.git('add', '-A')
    return subprocess.run(['git', 'diff', '--cached', *GIT_DIFF_FLAGS, 'HEAD'], cwd=repo.path,
                          capture_output=True, check=True).stdout


def test_unquote_path_octal_utf8_and_escapes():
    assert unquote_path('"a/\\303\\251t\\303\\251.py"') == 'a/été.py'
    assert unquote_path('"a/q\\"uote\\\\x\\ty"') == 'a/q"uote\\x\ty'
    assert unquote_path('plain path.py') == 'plain path.py'


def test_rename_with_edits_binary_deletion_mode_and_no_newline(repo):
    repo.write('keep.py', ''.join(f'line {i}\n' for i in range(30)))
    repo.write('old name.py', ''.join(f'v = {i}\n' for i in range(30)))
    repo.write('gone.txt', 'bye\n')
    repo.write('blob.bin', b'\x00\x01\x02')
    repo.write('tool.sh', 'echo hi\n')
    repo.commit('base')
    repo.git('mv', 'old name.py', 'new name.py')
    repo.write('new name.py', ''.join(f'v = {i}\n' for i in range(30)) + 'tail = 1')
    (repo.path / 'gone.txt').unlink()
    repo.write('blob.bin', b'\x00\x01\x03')
    (repo.path / 'tool.sh').chmod(0o755)
    repo.write('keep.py', ''.join(f'line {i}\n' for i in range(30)).replace('line 10\n', 'line X\n'))
    diff = parse_diff(staged_diff(repo))
    by_path = {f.path: f for f in diff.files}
    renamed = by_path['new name.py']
    assert renamed.kind is ChangeKind.RENAMED and renamed.old_path == 'old name.py'
    last = renamed.hunks[-1].lines[-1]
    assert last.kind is LineKind.ADDED and last.text == 'tail = 1' and last.new_lineno == 31
    assert last.no_newline_at_eof
    assert by_path['gone.txt'].kind is ChangeKind.DELETED and by_path['gone.txt'].new_path is None
    assert by_path['blob.bin'].is_binary and not by_path['blob.bin'].hunks
    assert by_path['tool.sh'].kind is ChangeKind.MODE_ONLY
    assert (by_path['tool.sh'].old_mode, by_path['tool.sh'].new_mode) == ('100644', '100755')
    changed = [ln for h in by_path['keep.py'].hunks for ln in h.lines if ln.kind is LineKind.ADDED]
    assert [(ln.text, ln.new_lineno) for ln in changed] == [('line X', 11)]


def test_unicode_quote_and_space_paths(repo):
    repo.write('init.txt', 'x\n')
    repo.commit('base')
    names = ['dir with space/a b.py', 'ünïcødé.py', 'quo"te.py', 'tab\there.py']
    for n in names:
        repo.write(n, 'content\n')
    diff = parse_diff(staged_diff(repo))
    assert sorted(f.path for f in diff.files) == sorted(names)
    assert all(f.kind is ChangeKind.ADDED for f in diff.files)


def test_crlf_and_non_utf8_bytes(repo):
    repo.write('w.txt', b'one\r\ntwo\r\n')
    repo.write('latin.txt', b'caf\xe9\n')
    repo.commit('base')
    repo.write('w.txt', b'one\r\nTWO\r\n')
    repo.write('latin.txt', b'caf\xe9 au lait\n')
    diff = parse_diff(staged_diff(repo))
    w = diff.file('w.txt')
    assert [ln.text for ln in w.hunks[0].added] == ['TWO']
    latin = diff.file('latin.txt')
    text = latin.hunks[0].added[0].text
    assert text.encode('utf-8', 'surrogateescape') == b'caf\xe9 au lait'


def test_submodule_change_is_marked(repo, tmp_path):
    from tests.conftest import GitRepo
    sub = GitRepo(tmp_path / 'sub')
    sub.write('s.txt', 'a\n')
    first = sub.commit('one')
    repo.write('x.txt', 'x\n')
    repo.commit('base')
    repo.git('-c', 'protocol.file.allow=always', 'submodule', 'add', '-q', str(sub.path), 'sub')
    repo.commit('add sub')
    sub.write('s.txt', 'b\n')
    second = sub.commit('two')
    repo.git('-C', 'sub', 'fetch', '-q')
    repo.git('-C', 'sub', 'checkout', '-q', second)
    diff = parse_diff(staged_diff(repo))
    f = diff.file('sub')
    assert f.is_submodule and f.new_mode == '160000'
    assert first != second


def test_empty_input_is_empty_diff():
    assert parse_diff(b'').is_empty
    assert parse_diff(b'\n  \n').is_empty


@pytest.mark.parametrize('data', [
    b'hello world\nthis is not a diff\n',
    b'--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n-a\n',  # hunk shorter than its header
    b'\x00\x01\x02binary junk' * 10,
])
def test_malformed_input_is_a_diff_error(data):
    with pytest.raises(DiffError):
        parse_diff(data)


def test_large_diff_parses_linearly():
    """100k changed lines must parse; the exact speed is a benchmark, this checks correctness."""
    body = ''.join(f'+added line {i}\n' for i in range(100_000))
    data = f'diff --git a/big.py b/big.py\n--- a/big.py\n+++ b/big.py\n@@ -0,0 +1,100000 @@\n{body}'
    diff = parse_diff(data.encode())
    f = diff.files[0]
    assert f.added_count == 100_000
    assert f.hunks[0].lines[-1].new_lineno == 100_000


line_text = st.text(alphabet=st.characters(blacklist_categories=('Cs',), blacklist_characters='\n\r'),
                    max_size=20)


@given(old=st.lists(line_text, max_size=30), new=st.lists(line_text, max_size=30))
@settings(max_examples=200, deadline=None)
def test_added_line_numbers_match_new_file(old, new):
    diff_text = ''.join(difflib.unified_diff([ln + '\n' for ln in old], [ln + '\n' for ln in new],
                                             'a/f.txt', 'b/f.txt'))
    diff = parse_diff(diff_text.encode('utf-8'))
    if old == new:
        assert diff.is_empty
        return
    for f in diff.files:
        for h in f.hunks:
            for ln in h.lines:
                if ln.new_lineno is not None:
                    assert new[ln.new_lineno - 1] == ln.text
                if ln.old_lineno is not None:
                    assert old[ln.old_lineno - 1] == ln.text


@given(st.binary(max_size=2000))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_never_raises_anything_but_diff_error(data):
    try:
        parse_diff(data)
    except DiffError:
        pass


@given(st.lists(st.sampled_from([
    b'diff --git a/x b/x\n', b'--- a/x\n', b'+++ b/x\n', b'@@ -1,2 +1,2 @@\n', b'@@ -0,0 +1 @@\n',
    b'+added\n', b'-removed\n', b' context\n', b'\\ No newline at end of file\n',
    b'Binary files a/x and b/x differ\n', b'new file mode 100644\n', b'rename from x\n',
    b'rename to y\n', b'\n', b'\r\n', b'index 1234..5678 100644\n']), max_size=30))
@settings(max_examples=500, deadline=None)
def test_diff_shaped_garbage_never_raises_anything_but_diff_error(chunks):
    try:
        parse_diff(b''.join(chunks))
    except DiffError:
        pass
