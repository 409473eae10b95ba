"""A bare patch reviewed as well as a checkout (issue 19): blobs named by the diff, fragments when
nothing else exists, untrusted paths. Real git repositories, the real CLI, real ruff and semgrep."""
from __future__ import annotations

import ast
import json
import os
from pathlib import Path

import pytest

from reviewbot.diffparse import parse_diff
from reviewbot.fragments import build
from reviewbot.newside import apply_to_old
from reviewbot.reviewers.patterns import locate
from tests.conftest import GitRepo, run_cli

needs_semgrep = pytest.mark.skipif(locate().path is None, reason=locate().problem)
INJECTION = 'patterns/py-request-command-injection'


def change(repo: GitRepo, path: str, before: str, after: str) -> tuple[bytes, list[str]]:
    """Commit `before` then `after`; the diff between them (as `git diff` prints it, with its
    `index` line) and the new file's lines."""
    repo.write(path, before)
    repo.commit('base')
    repo.write(path, after)
    repo.commit('change')
    diff = repo.git('diff', 'HEAD~1', 'HEAD').encode()
    return diff, after.split('\n')


def review(diff: bytes, cwd: Path, reviewers: str = 'ruff,patterns') -> dict:
    patch = cwd.parent / f'{cwd.name}.patch'
    patch.write_bytes(diff)
    proc = run_cli('review', '--diff', str(patch), '--format', 'json', '--reviewers', reviewers,
                   '--no-baseline', '--fail-level', 'none', cwd=cwd)
    assert proc.returncode == 0, proc.stderr.decode()
    return json.loads(proc.stdout)


def found(report: dict, category: str) -> list[int]:
    return sorted(f['line'] for f in report['findings'] if f['category'] == category)


def basis(report: dict, path: str) -> dict:
    return next(b for b in report['coverage']['files'] if b['path'] == path)


def assert_maps_back(diff: bytes) -> None:
    """Every fragment line that is not scaffolding is the new-file line it says it is, and the
    fragment parses."""
    for f in parse_diff(diff).files:
        frag = build(f)
        assert frag is not None and frag.parses
        if f.path.endswith('.py'):
            ast.parse(frag.text)
        shown = {ln.new_lineno: ln.text for h in f.hunks for ln in h.lines if ln.new_lineno}
        for text, line in zip(frag.text.split('\n'), frag.origin):
            if line is not None:
                assert text == shown[line].expandtabs(8) or text == shown[line]


def outside_any_repo(tmp_path: Path) -> Path:
    d = tmp_path / 'elsewhere'
    d.mkdir()
    return d


# A long function: the change lands deep inside it, so the hunk starts mid-function, inside an
# `if` of a method, and its context shows the request value but not the function's header.
MID_BEFORE = '''import subprocess

from flask import request


class Jobs:
    def run(self):
        """Run the job the form names."""
        settings = {}
        for key in ("a", "b", "c"):
            settings[key] = key.upper()
        if settings:
            count = len(settings)
            name = request.args.get("name")
            label = name.strip()
            print(count, label)
        return settings
'''


@needs_semgrep
def test_hunk_starting_mid_function_is_reviewed_from_the_bare_diff(repo, tmp_path):
    after = MID_BEFORE.replace('            print(count, label)\n',
                               '            print(count, label)\n'
                               '            subprocess.run([name, "--fast"])\n'
                               '            data = yaml.load(label)\n')
    diff, new = change(repo, 'jobs.py', MID_BEFORE, after)
    assert b'@@ -14,' in diff  # the hunk starts in the `if` body, 8 lines into the method
    report = review(diff, outside_any_repo(tmp_path))
    assert basis(report, 'jobs.py')['basis'] == 'fragments'
    sink = new.index('            subprocess.run([name, "--fast"])') + 1
    assert found(report, INJECTION) == [sink]
    assert found(report, 'ruff/S506') == [sink + 1]  # yaml.load: the scaffold imports yaml
    assert_maps_back(diff)


UNCLOSED_BEFORE = '''import subprocess


def view():
    """Build the page."""
    name = request.args.get("name")
    title = name.title()
    payload = dict(
        title=title,
        size=10,
        kind="page",
        owner=None,
    )
    return payload
'''


@needs_semgrep
@pytest.mark.parametrize('where', ['before an open bracket', 'after a closing bracket'])
def test_hunk_with_a_bracket_cut_open_by_its_context(repo, tmp_path, where):
    added = '    subprocess.run([name])\n    subprocess.call(title, shell=True)\n'
    if where == 'before an open bracket':  # the context after the change ends inside dict(
        after = UNCLOSED_BEFORE.replace('    title = name.title()\n', '    title = name.title()\n' + added)
        first = 8
    else:  # the context before the change starts inside dict( and closes it
        after = UNCLOSED_BEFORE.replace('    )\n', '    )\n' + added)
        first = 14
    diff, new = change(repo, 'view.py', UNCLOSED_BEFORE, after)
    assert new[first - 1] == '    subprocess.run([name])'
    shown = [ln.text for ln in parse_diff(diff).files[0].hunks[0].lines]
    if where == 'before an open bracket':
        assert '    payload = dict(' in shown and '    )' not in shown
    else:
        assert '    )' in shown and '    payload = dict(' not in shown
    report = review(diff, outside_any_repo(tmp_path))
    assert found(report, 'ruff/S602') == [first + 1]
    # the request value is in the hunk only when the change is right after it
    assert found(report, INJECTION) == ([first] if where == 'before an open bracket' else [])
    assert_maps_back(diff)


def two_hunks_file(sink: bool) -> str:
    filler = ''.join(f'    step_{i} = {i}\n' for i in range(12))
    return ('import subprocess\n\nfrom flask import request\n\n\ndef handler():\n'
            '    """Handle it."""\n'
            + ('    target = request.args["target"]\n' if sink else '    target = "default"\n')
            + filler
            + ('    subprocess.run([target])\n' if sink else '    print(target)\n')
            + '    return target\n')


@needs_semgrep
def test_source_in_one_hunk_and_sink_in_another_still_meet(repo, tmp_path):
    diff, new = change(repo, 'handler.py', two_hunks_file(False), two_hunks_file(True))
    f = parse_diff(diff).files[0]
    assert len(f.hunks) == 2
    assert not any('request' in ln.text for ln in f.hunks[1].lines)  # the source is only in hunk 1
    report = review(diff, outside_any_repo(tmp_path))
    assert found(report, INJECTION) == [new.index('    subprocess.run([target])') + 1]
    assert_maps_back(diff)


@pytest.mark.parametrize('lines', [
    ['            "method": method,', '            "path": unquote(path),', '            "client": self.client,'],
    ['        """', '        return x'],  # starts at the end of a docstring
    ['        """Called first.', '', '        Override this.'],  # ends inside one
    ['        if (', '            self.debug or self.trap', '            and'],  # header cut open
    ['            try:', '                delattr(cls, name)'],  # handlers outside the hunk
    ['                for k, v in self._kwargs.items()', '                if k in ["debug"]', '            }',
     '            return handler(**kwargs)'],  # comprehension cut from its element
    ['        params: QueryParamTypes = None,', '        auth: AuthTypes = None,', '    ) -> Response:',
     '        return self.request(params)'],  # a signature cut open
    ['                "Invalid redirect URL origin",', '            ) from origin_val_err', '    else:',
     '        y = 1'],
    ['    @app.route("/x")'],  # a decorator whose function is outside
])
def test_python_fragments_cut_anywhere_still_parse_whole(lines):
    from reviewbot.fragments import python_fragment
    frag = python_fragment([[(100 + i, t) for i, t in enumerate(lines)]])
    assert frag.parses and frag.dropped == []
    ast.parse(frag.text)
    assert [o for o in frag.origin if o is not None] == [100 + i for i in range(len(lines))]


def test_brace_language_fragments_close_and_open_blocks():
    diff = (b'diff --git a/s.c b/s.c\n--- a/s.c\n+++ b/s.c\n@@ -20,4 +20,5 @@ int f(char *s)\n'
            b'         n = 1;\n     }\n+    strcpy(buf, s);\n     g(a,\n       b,\n')
    frag = build(parse_diff(diff).files[0])
    assert frag is not None
    lines = frag.text.split('\n')
    assert lines[0] == 'void _reviewbot_(void) {' and frag.origin[0] is None
    assert lines[frag.origin.index(22)] == '    strcpy(buf, s);'
    assert frag.text.count('{') == frag.text.count('}')
    assert frag.text.count('(') == frag.text.count(')')


def test_js_callback_cut_open_is_reopened_above_its_own_hunk():
    diff = (b"diff --git a/r.js b/r.js\n--- a/r.js\n+++ b/r.js\n@@ -1,2 +1,2 @@\n"
            b"-const { execFile } = require('child_process');\n"
            b"+const { exec, execFile } = require('child_process');\n const router = express.Router();\n"
            b"@@ -11,2 +11,4 @@\n   });\n });\n+router.get('/x', (req, res) => {\n+  exec(req.query.c);\n")
    frag = build(parse_diff(diff).files[0])
    lines = frag.text.split('\n')
    # the imports stay at the top; the callback openers sit right above the hunk that closes them
    assert lines[0].startswith('const { exec, execFile }') and frag.origin[0] == 1
    at = frag.origin.index(11)
    assert lines[at - 4:at] == ['_reviewbot_(', 'function () {', '_reviewbot_(', 'function () {']
    assert frag.origin[at - 4:at] == [None] * 4
    assert frag.text.count('{') == frag.text.count('}') and frag.text.count('(') == frag.text.count(')')


# --- blob ids ----------------------------------------------------------------------------------

# The request value is read far above the change: only a review of the whole file sees it.
FAR_BEFORE = ('import subprocess\n\nfrom flask import request\n\n\ndef handler():\n'
              '    target = request.args["target"]\n'
              + ''.join(f'    step_{i} = {i}\n' for i in range(12))
              + '    return target\n')
FAR_AFTER = FAR_BEFORE.replace('    return target\n', '    subprocess.run([target])\n    return target\n')


@needs_semgrep
def test_blob_ids_present_in_the_repo_are_read_even_with_the_work_tree_elsewhere(repo, tmp_path):
    diff, new = change(repo, 'far.py', FAR_BEFORE, FAR_AFTER)
    assert b'\nindex ' in diff
    sink = new.index('    subprocess.run([target])') + 1
    repo.git('checkout', '-q', 'HEAD~1')  # the work tree is at the old revision
    report = review(diff, repo.path)
    b = basis(report, 'far.py')
    assert b['basis'] == 'blob' and 'the work tree differs, the blob was used' in b['detail']
    assert found(report, INJECTION) == [sink]

    # a clone that has only the base: the old blob with the diff applied is the new file
    base_only = GitRepo(tmp_path / 'base-only')
    base_only.write('far.py', FAR_BEFORE)
    base_only.commit('same base')
    report = review(diff, base_only.path)
    b = basis(report, 'far.py')
    assert b['basis'] == 'blob' and b['detail'].startswith('old blob ') and 'diff applied' in b['detail']
    assert found(report, INJECTION) == [sink]

    # a bare clone (no work tree at all) has the blobs too
    bare = tmp_path / 'bare.git'
    repo.git('clone', '-q', '--bare', str(repo.path), str(bare))
    report = review(diff, bare)
    assert basis(report, 'far.py')['basis'] == 'blob'
    assert found(report, INJECTION) == [sink]

    # terminal: the summary says how the files were read
    patch = tmp_path / 'far.patch'
    patch.write_bytes(diff)
    proc = run_cli('review', '--diff', str(patch), '--reviewers', 'ruff', '--no-baseline',
                   cwd=base_only.path)
    assert 'reviewed 1 file (1 from blobs)' in proc.stdout.decode()


@needs_semgrep
def test_blob_ids_absent_from_the_repo_fall_back_to_fragments(repo, tmp_path):
    diff, _ = change(repo, 'far.py', FAR_BEFORE, FAR_AFTER)
    other = GitRepo(tmp_path / 'other')
    other.write('README', 'unrelated\n')
    other.commit('unrelated')
    report = review(diff, other.path)
    b = basis(report, 'far.py')
    assert b == {'path': 'far.py', 'basis': 'fragments', 'detail': 'blobs not in the repository'}
    # the source is 13 lines above the change, outside the hunk: fragments cannot see it
    assert found(report, INJECTION) == []
    patch = tmp_path / 'other.patch'
    patch.write_bytes(diff)
    out = run_cli('review', '--diff', str(patch), '--reviewers', 'ruff', '--no-baseline',
                  cwd=other.path).stdout.decode()
    assert "far.py: reviewed from the diff's fragments only (blobs not in the repository)" in out
    assert 'reviewed 1 file (1 from fragments)' in out


@pytest.mark.parametrize('old, new', [
    (''.join(f'line {i}\n' for i in range(30)),
     ''.join(f'line {i}\n' for i in range(30) if i not in (2, 17)).replace('line 9\n', 'nine\nmore\n')
     + 'tail\n'),
    ('a\nb\nc', 'a\nB\nc'),  # no newline at the end of either side
    ('a\nb\n', 'x\na\nb\nc'),  # insertion at the top, new side without a final newline
])
def test_old_blob_with_the_diff_applied_is_the_new_file(repo, old, new):
    diff, _ = change(repo, 'f.txt', old, new)
    assert apply_to_old(old, parse_diff(diff).files[0]) == new


def test_blob_ids_are_parsed_and_only_hex_reaches_git():
    diff = (b'diff --git a/a.py b/a.py\nindex 1a2b3c4..00000000 100644\n--- a/a.py\n+++ b/a.py\n'
            b'@@ -1 +1 @@\n-a = 1\n+a = 2\n')
    f = parse_diff(diff).files[0]
    assert (f.old_blob, f.new_blob) == ('1a2b3c4', None)
    bad = diff.replace(b'1a2b3c4..00000000', b'--output=x..HEAD')
    f = parse_diff(bad).files[0]
    assert (f.old_blob, f.new_blob) == (None, None)


# --- untrusted paths ---------------------------------------------------------------------------

def patch_for(path: str, body: str = 'import subprocess\nsubprocess.call(x, shell=True)\ny = 1\n') -> bytes:
    lines = body.split('\n')[:-1]
    hunk = f'@@ -1,2 +1,3 @@\n {lines[0]}\n+{lines[1]}\n {lines[2]}\n'
    return f'diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n{hunk}'.encode()


@needs_semgrep
@pytest.mark.parametrize('path', ['../outside.py', 'sub/../../outside.py', '/tmp/abs-outside.py', 'C:/outside.py'])
def test_path_traversal_in_a_patch_is_skipped_with_a_reason(repo, tmp_path, path):
    # a file where the path points, whose content matches the diff: reading it would be visible
    (repo.path.parent / 'outside.py').write_text('import subprocess\nsubprocess.call(x, shell=True)\ny = 1\n')
    repo.write('README', 'x\n')
    repo.commit('base')
    report = review(patch_for(path), repo.path)
    assert report['findings'] == []
    assert report['coverage']['files'] == []
    [skip] = report['coverage']['skipped']
    assert skip['path'] == path and skip['reason'].startswith('unsafe path in the patch')
    assert not any(p.name == 'outside.py' for p in repo.path.rglob('*'))


@needs_semgrep
def test_a_symlink_in_the_repo_is_not_followed(repo, tmp_path):
    outside = tmp_path / 'outside-dir'
    outside.mkdir()
    (outside / 'mod.py').write_text('import subprocess\nsubprocess.call(x, shell=True)\ny = 1\n')
    repo.write('README', 'x\n')
    os.symlink(outside, repo.path / 'lib')
    repo.commit('a link out of the repository')
    report = review(patch_for('lib/mod.py'), repo.path)
    b = basis(report, 'lib/mod.py')
    assert b['basis'] == 'fragments'  # the matching file behind the link was not read
    assert found(report, 'ruff/S602') == [2]  # the fragment itself is still reviewed
