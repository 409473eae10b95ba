"""Hostile diffs through the real CLI: bad paths are one-line input errors (exit 2), and no output
format or stderr message carries a raw control character or a live @mention."""
from __future__ import annotations

import json
import re

from reviewbot.core import Report
from reviewbot.reporters import job_summary
from tests.conftest import run_cli
from tests.reviewers.test_secrets import GH_TOKEN

# ESC, BEL, CR, the C1 CSI, U+202E (right-to-left override), U+2066 (isolate), a lone surrogate
_RAW_CONTROL = re.compile('[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]')
# a path that recolours a terminal, retitles it, returns to column 0 and flips the text direction
HOSTILE_PATH_QUOTED = r'"b/x\033]0;pwn\007\r::error::forged\342\200\256gnp.py"'


def _diff(path_quoted: str, lines: list[str]) -> bytes:
    old = path_quoted.replace('"b/', '"a/', 1)
    body = ''.join(f'+{ln}\n' for ln in lines)
    return (f'diff --git {old} {path_quoted}\nnew file mode 100644\n--- /dev/null\n'
            f'+++ {path_quoted}\n@@ -0,0 +1,{len(lines)} @@\n{body}').encode()


def _review(tmp_path, data: bytes, *args: str):
    (tmp_path / 'in.diff').write_bytes(data)
    return run_cli('review', '--reviewers', 'secrets', '--diff', 'in.diff', *args, cwd=tmp_path)


def _one_clean_line(stderr: bytes) -> str:
    text = stderr.decode('utf-8')
    assert 'Traceback' not in text
    assert text.count('\n') == 1 and text.endswith('\n'), text
    assert not _RAW_CONTROL.search(text.rstrip('\n')), text
    return text


def test_nul_byte_in_a_path_is_a_one_line_input_error(tmp_path):
    proc = _review(tmp_path, _diff(r'"b/x\000y.py"', ['a = 1']))
    assert proc.returncode == 2
    assert 'NUL' in _one_clean_line(proc.stderr)


def test_undecodable_path_is_a_one_line_input_error(tmp_path):
    data = _diff('b/xQQ.py', ['a = 1']).replace(b'QQ', b'\xff\xfe')
    proc = _review(tmp_path, data)
    assert proc.returncode == 2
    assert '\\xff\\xfe' in _one_clean_line(proc.stderr)


def test_malformed_diff_error_does_not_echo_control_characters(tmp_path):
    data = (b'diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n@@ -1,2 +1,2 @@\n-a\n'
            b'\x1b]0;t\x07\r::error::forged \xe2\x80\xae x\x1b[2J\n+b\n')
    proc = _review(tmp_path, data)
    assert proc.returncode == 2
    text = _one_clean_line(proc.stderr)
    assert '\\x0d::error::forged' in text and '\\u202e' in text


def _hostile_report(tmp_path, fmt: str) -> str:
    line = f'TOKEN = "{GH_TOKEN}"  # ask @octocat \u202e \x1b[31m'
    proc = _review(tmp_path, _diff(HOSTILE_PATH_QUOTED, [line]), '--format', fmt)
    assert proc.returncode == 1, proc.stderr.decode()
    assert not _RAW_CONTROL.search(proc.stderr.decode())
    return proc.stdout.decode('utf-8')


def _strings(obj):
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _strings(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _strings(v)


def test_no_format_writes_a_raw_control_character(tmp_path):
    for fmt in ('terminal', 'json', 'sarif', 'rdjsonl', 'github-annotations'):
        out = _hostile_report(tmp_path, fmt)
        assert not _RAW_CONTROL.search(out), fmt
        assert GH_TOKEN not in out


def test_github_annotation_file_property_is_escaped(tmp_path):
    out = _hostile_report(tmp_path, 'github-annotations')
    first = out.split('\n')[0]
    assert first.startswith('::error file=')
    assert '\\x1b]0;pwn\\x07\\x0d%3A%3Aerror%3A%3Aforged\\u202egnp.py' in first
    assert sum(ln.startswith('::error') for ln in out.split('\n')) == 1  # nothing forged at column 0


def test_rdjsonl_message_escapes_controls_and_defuses_mentions(tmp_path):
    out = _hostile_report(tmp_path, 'rdjsonl')
    (diag,) = [json.loads(ln) for ln in out.splitlines()]
    assert '@octocat' not in diag['message'] and '@\u200doctocat' in diag['message']
    assert not _RAW_CONTROL.search(diag['message'])


def test_sarif_texts_have_no_controls_once_decoded(tmp_path):
    doc = json.loads(_hostile_report(tmp_path, 'sarif'))
    result = doc['runs'][0]['results'][0]
    for text in _strings(result):
        assert not _RAW_CONTROL.search(text), text


def test_job_summary_escapes_controls_and_mentions(tmp_path):
    report = Report.from_dict(json.loads(_hostile_report(tmp_path, 'json')))
    out = job_summary.render(report)
    assert not _RAW_CONTROL.search(out)
    assert '@octocat' not in out


def test_dry_run_escapes_paths(tmp_path):
    proc = _review(tmp_path, _diff(HOSTILE_PATH_QUOTED, ['a = 1']), '--dry-run')
    assert proc.returncode == 0, proc.stderr.decode()
    out = proc.stdout.decode('utf-8')
    assert 'forged' in out and not _RAW_CONTROL.search(out)
