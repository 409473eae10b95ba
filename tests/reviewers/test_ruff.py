from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from reviewbot import pipeline
from reviewbot.config import defaults
from reviewbot.core import Severity
from reviewbot.diffparse import parse_diff
from reviewbot.reviewers import ReviewContext
from reviewbot.reviewers.ruff import (
    RuffReviewer,
    ruff_binary,
    run_ruff,
    run_ruff_each,
    severity_of,
)
from reviewbot.sources import staged
from tests.conftest import GitRepo, run_cli

BASE = '''\
import subprocess


def legacy(cmd):
    # already in the repository: not part of the change, never reported
    return subprocess.call(cmd, shell=True)


def health():
    return {"ok": True}
'''

PLANTED = BASE + '''

def ping(host):
    return subprocess.run(f"ping -c 1 {host}", shell=True)


def find_user(conn, name):
    return conn.execute("SELECT * FROM users WHERE name = '%s'" % name).fetchone()


def add_item(item, items=[]):
    items.append(item)
    return items
'''

REFACTORED = BASE.replace('def health():\n    return {"ok": True}',
                          'def health_status():\n    status = {"ok": True}\n    return status')


def _review_staged(repo: GitRepo) -> list:
    report = pipeline.review(staged(repo.path), defaults(), reviewers=[RuffReviewer(defaults())])
    return report.findings


def _line_of(text: str, needle: str) -> int:
    return next(i for i, ln in enumerate(text.splitlines(), 1) if needle in ln)


def _review_new_file(path: str, text: str, config=None):
    """RuffReviewer's result on a diff that adds `path` with `text` (the file readable)."""
    config = config or defaults()
    body = ''.join('+' + ln + '\n' for ln in text.splitlines())
    n = len(text.splitlines())
    diff = parse_diff(f'diff --git a/{path} b/{path}\nnew file mode 100644\n--- /dev/null\n'
                      f'+++ b/{path}\n@@ -0,0 +1,{n} @@\n{body}'.encode())
    ctx = ReviewContext(config=config, read_new_file=lambda p: text)
    return RuffReviewer(config).review(diff.files, ctx)


def test_ruff_binary_is_the_packaged_one():
    assert ruff_binary() is not None
    assert Path(ruff_binary()).name.startswith('ruff')


def test_planted_defects_flagged_on_added_lines_only(repo: GitRepo):
    repo.write('app/net.py', BASE)
    repo.commit('base')
    repo.write('app/net.py', PLANTED)
    repo.git('add', '-A')
    findings = _review_staged(repo)
    by_cat = {f.category: f for f in findings}
    assert by_cat['ruff/S602'].line == _line_of(PLANTED, 'ping -c 1')
    assert by_cat['ruff/S608'].line == _line_of(PLANTED, 'SELECT * FROM users')
    assert by_cat['ruff/B006'].line == _line_of(PLANTED, 'items=[]')
    assert by_cat['ruff/S602'].severity is Severity.ERROR
    # the pre-existing shell=True call on an unchanged line is not this change's business
    legacy_line = _line_of(PLANTED, 'subprocess.call(cmd, shell=True)')
    assert all(f.line != legacy_line for f in findings)
    assert all(f.reviewer == 'ruff' and f.path == 'app/net.py' for f in findings)
    assert 'shell=True' in by_cat['ruff/S602'].anchored_code


def test_clean_refactor_is_quiet(repo: GitRepo):
    repo.write('app/net.py', BASE)
    repo.commit('base')
    repo.write('app/net.py', REFACTORED)
    repo.git('add', '-A')
    assert _review_staged(repo) == []


def test_non_python_files_are_not_checked(repo: GitRepo):
    repo.write('notes.md', 'x\n')
    repo.commit('base')
    repo.write('notes.md', 'x\neval(input())\n')
    repo.write('run.js', 'eval(userInput);\n')
    repo.git('add', '-A')
    assert _review_staged(repo) == []


def test_without_the_file_each_hunk_is_linted_at_its_true_lines():
    """A diff file outside its repository: hunks (or single added lines) are linted alone."""
    diff = parse_diff(b"""diff --git a/app/db.py b/app/db.py
--- a/app/db.py
+++ b/app/db.py
@@ -40,6 +40,7 @@ class Store:
     def find(self, name):
         conn = self.connect()
-        cur = conn.execute("SELECT * FROM t WHERE n = ?", (name,))
+        cur = conn.execute("SELECT * FROM t WHERE n = '%s'" % name)
+        subprocess.run("ls " + name, shell=True)
         return cur.fetchone()
 
     def load(self, blob):
@@ -60,3 +61,3 @@ class Store:
             ok = True
-        return yaml.safe_load(blob)
+        return yaml.load(blob)
 
""")
    ctx = ReviewContext(config=defaults(), read_new_file=lambda p: None)
    result = RuffReviewer(defaults()).review(diff.files, ctx)
    assert sorted((f.line, f.category) for f in result.findings) == [
        (42, 'ruff/S608'), (43, 'ruff/S602'), (62, 'ruff/S506')]
    assert result.skipped == []
    # pyflakes rules are off in snippets: `subprocess`, `yaml`, `name` are undefined here
    assert not any(f.category.startswith('ruff/F') for f in result.findings)


def test_lines_linted_one_by_one_share_one_ruff_process(monkeypatch):
    """Added lines a fragment's repair cut out are linted each as a module of its own: all in ONE
    ruff process, with exactly the diagnostics one `ruff -` per line gives."""
    binary = ruff_binary()
    select = RuffReviewer(defaults()).select
    imports = 'import yaml, subprocess'  # line 1 of a snippet that starts later (ruff._with_imports)
    texts = [imports + '\n' * 4 + 'x = eval(a)\n', 'import yaml; data = yaml.load(b)\n',
             'print "python 2"\n', '\n', imports + '\n' * 9 + 'subprocess.call(cmd, shell=True)\n',
             'def f(x=[]): pass\n']
    one_by_one = [run_ruff(binary, 'app/x.py', t, select, []) for t in texts]
    calls = []
    real_run = subprocess.run
    monkeypatch.setattr(subprocess, 'run', lambda cmd, **kw: calls.append(cmd) or real_run(cmd, **kw))
    together = run_ruff_each(binary, 'app/x.py', texts, select, [])
    assert len(calls) == 1

    def same(diags):
        return [{k: v for k, v in d.items() if k != 'filename'} for d in diags]
    assert [same(d) for d in together] == [same(d) for d in one_by_one]
    assert [sorted({d['code'] for d in ds} - {'F821'}) for ds in together] == [
        ['S307'], ['S506'], ['invalid-syntax'], [], ['S602'], ['B006']]
    assert run_ruff_each(binary, 'app/x.py', [], select, []) == []


def test_syntax_error_in_new_file_is_not_a_finding():
    text = 'print "python 2"\nx = eval(y)\n'
    result = _review_new_file('old.py', text)
    assert all(f.category.startswith('ruff/') and f.category != 'ruff/None' for f in result.findings)


def test_config_ignore_drops_a_rule():
    text = 'def f(x=[]):\n    return eval(x)\n'
    cfg = defaults()
    cfg.values['ruff']['ignore'] = ['B006']
    cats = {f.category for f in _review_new_file('m.py', text, cfg).findings}
    assert cats == {'ruff/S307'}


def test_severity_split():
    assert severity_of('S608') is Severity.ERROR
    assert severity_of('PLE1205') is Severity.ERROR
    assert severity_of('S324') is Severity.WARNING
    assert severity_of('B018') is Severity.WARNING


def test_cli_reports_ruff_findings_as_json(repo: GitRepo):
    reporters = pytest.importorskip('reviewbot.reporters')
    if not hasattr(reporters, 'render'):
        pytest.skip('reporters not merged yet')
    repo.write('svc.py', 'import yaml\n')
    repo.commit('base')
    repo.write('svc.py', 'import yaml\n\n\ndef load(raw):\n    return yaml.load(raw, Loader=yaml.Loader)\n')
    repo.git('add', '-A')
    proc = run_cli('review', '--staged', '--reviewers', 'ruff', '--format', 'json', cwd=repo.path)
    assert proc.returncode == 1, proc.stderr  # an error-level finding fails the run
    report = json.loads(proc.stdout)
    assert [(f['category'], f['line']) for f in report['findings']] == [('ruff/S506', 5)]


ASYNC_BASE = '''\
import asyncio


async def send(client, to):
    return await client.post("/send", json={"to": to})
'''


def test_missing_await_flagged_and_fixed_version_quiet(repo: GitRepo):
    repo.write('jobs.py', ASYNC_BASE)
    repo.commit('base')
    bad = ASYNC_BASE + '''

async def notify(client, users):
    sent = 0
    for u in users:
        ok = send(client, u)
        if ok:
            sent += 1
        asyncio.sleep(0.1)
    return sent
'''
    repo.write('jobs.py', bad)
    repo.git('add', '-A')
    findings = _review_staged(repo)
    assert [(f.category, f.line) for f in findings] == [
        ('bug/unawaited-coroutine', _line_of(bad, 'ok = send(')),
        ('bug/unawaited-coroutine', _line_of(bad, 'asyncio.sleep(0.1)')),
    ]
    repo.commit('bad')
    fixed = (bad.replace('ok = send(', 'ok = await send(')
             .replace('        asyncio.sleep', '        await asyncio.sleep'))
    repo.write('jobs.py', fixed + '''

async def fan_out(client, users):
    tasks = [send(client, u) for u in users]
    first = send(client, users[0])
    return await asyncio.gather(first, *tasks)
''')
    repo.git('add', '-A')
    assert _review_staged(repo) == []


def test_insecure_snmp_flagged_as_warning_and_snmpv3_with_privacy_quiet():
    text = ('from pysnmp.hlapi import CommunityData, UsmUserData\n'
            '\n'
            'def targets():\n'
            '    v2 = CommunityData("public", mpModel=1)\n'
            '    bare = UsmUserData("monitor")\n'
            '    private = UsmUserData("monitor", "authkey1", "privkey1")\n'
            '    return v2, bare, private\n')
    findings = _review_new_file('snmp.py', text).findings
    assert sorted((f.line, f.category, f.severity) for f in findings) == [
        (4, 'ruff/S508', Severity.WARNING), (5, 'ruff/S509', Severity.WARNING)]


def test_rules_measured_noisy_on_real_code_stay_off():
    """0o755 on a script, '0.0.0.0' in a comparison, urlopen of a config URL: correct code."""
    text = ('import os, urllib.request\n'
            '\n'
            'def install(path, host, url):\n'
            '    os.chmod(path, 0o755)\n'
            '    if host == "0.0.0.0":\n'
            '        host = "localhost"\n'
            '    return urllib.request.urlopen(url)\n')
    assert _review_new_file('inst.py', text).findings == []


SQL_CONSTANT_COLUMNS = '''\
import os

_COLUMNS = "id, email"
TABLE = "customers"


def get(cur, customer_id):
    cur.execute(f"SELECT {_COLUMNS} FROM {TABLE} WHERE id = %s", (customer_id,))
    query = (
        f"SELECT {_COLUMNS} FROM customers "
        "WHERE lower(email) = lower(%s)"
    )
    cur.execute(query, ("x",))


def find(cur, name):
    cur.execute(f"SELECT {_COLUMNS} FROM customers WHERE name = '{name}'")
    cur.execute("SELECT id FROM customers WHERE name = '%s'" % name)


def settings():
    ca = os.environ.get("CA_BUNDLE", True)
    port = os.environ.get("PORT", 8000)
    return ca, port
'''


def _staged_constants_module(repo: GitRepo) -> list:
    """Findings on SQL_CONSTANT_COLUMNS staged over an empty app/db.py."""
    repo.write('app/db.py', '')
    repo.commit('base')
    repo.write('app/db.py', SQL_CONSTANT_COLUMNS)
    repo.git('add', '-A')
    return _review_staged(repo)


def test_sql_built_from_constants_is_not_s608_but_from_a_value_is(repo: GitRepo):
    findings = _staged_constants_module(repo)
    s608 = sorted(f.line for f in findings if f.category == 'ruff/S608')
    assert s608 == [_line_of(SQL_CONSTANT_COLUMNS, "name = '{name}'"),
                    _line_of(SQL_CONSTANT_COLUMNS, "% name")]


def test_bool_env_default_is_not_plw1508_but_an_int_one_is(repo: GitRepo):
    findings = _staged_constants_module(repo)
    assert [f.line for f in findings if f.category == 'ruff/PLW1508'] == [
        _line_of(SQL_CONSTANT_COLUMNS, '"PORT", 8000')]
