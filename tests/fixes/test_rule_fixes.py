"""One vulnerable snippet per fixer rule -> its verified fix, through the real CLI on a real git
repo (ruff, semgrep and detect-secrets all real). Every case is a file of its own in one staged
change, reviewed once."""
from __future__ import annotations

import json

import pytest

from reviewbot.privacy.redact import redact
from tests.conftest import GitRepo, run_cli

FULL_CHECKS = {'in-hunk', 'not-suppression', 'not-deletion', 'no-secret', 'finding-gone',
               'no-new-findings'}

# path, file text, the finding's category, the fixer, its safety, the line the fix must produce
CASES = [
    ('yaml_load.py', 'import yaml\n\n\ndef read(p):\n    return yaml.load(open(p))\n',
     'ruff/S506', 'semgrep', 'safe', '    return yaml.safe_load(open(p))'),
    ('yaml_loader.py', 'import yaml\n\n\ndef read(p):\n    return yaml.load(open(p), Loader=yaml.Loader)\n',
     'ruff/S506', 'semgrep', 'safe', '    return yaml.safe_load(open(p))'),
    ('verify_off.py', 'import requests\n\n\ndef get(u):\n    return requests.get(u, verify=False, timeout=5)\n',
     'ruff/S501', 'semgrep', 'safe', '    return requests.get(u, timeout=5)'),
    # an argument on a line of its own: the line goes, the call stays (an edit, not a deletion)
    ('verify_own_line.py', ('import requests\n\n\ndef get(u):\n    return requests.get(\n        u,\n'
                           '        timeout=5,\n        verify=False,\n    )\n'),
     'ruff/S501', 'semgrep', 'safe', '        timeout=5,'),
    ('untar.py', ('import tarfile\n\n\ndef unpack(a, d):\n    with tarfile.open(a) as tar:\n'
                 '        tar.extractall(d)\n'),
     'ruff/S202', 'semgrep', 'unsafe', '        tar.extractall(d, filter="data")'),
    ('unverified_ctx.py', 'import ssl\n\nCTX = ssl._create_unverified_context()\n',
     'ruff/S323', 'semgrep', 'safe', 'CTX = ssl.create_default_context()'),
    ('mktemp.py', 'import tempfile\n\n\ndef scratch():\n    return tempfile.mktemp(suffix=".csv")\n',
     'ruff/S306', 'semgrep', 'unsafe', '    return tempfile.mkstemp(suffix=".csv")[1]'),
    ('jinja_off.py', 'import jinja2\n\nENV = jinja2.Environment(loader=None, autoescape=False)\n',
     'ruff/S701', 'semgrep', 'unsafe', 'ENV = jinja2.Environment(loader=None, autoescape=True)'),
    ('jinja_missing.py', 'import jinja2\n\nENV = jinja2.Environment(loader=None)\n',
     'ruff/S701', 'semgrep', 'unsafe', 'ENV = jinja2.Environment(loader=None, autoescape=True)'),
    ('flask_app.py', 'from flask import Flask\n\napp = Flask(__name__)\napp.run(port=8000, debug=True)\n',
     'ruff/S201', 'semgrep', 'safe', 'app.run(port=8000, debug=False)'),
    ('shell_literal.py', ('import subprocess\n\n\ndef listing():\n'
                         '    return subprocess.run("ls -l /tmp", shell=True, check=True)\n'),
     'ruff/S602', 'semgrep', 'unsafe', '    return subprocess.run("ls -l /tmp".split(), check=True)'),
    ('ssh.py', ('import paramiko\n\nclient = paramiko.SSHClient()\n'
               'client.set_missing_host_key_policy(paramiko.AutoAddPolicy())\n'),
     'ruff/S507', 'semgrep', 'unsafe', 'client.set_missing_host_key_policy(paramiko.RejectPolicy())'),
    ('sql_fstring.py', ('import sqlite3\n\n\ndef find(conn, name):\n'
                       '    return conn.execute(f"SELECT id FROM users WHERE name = \'{name}\'").fetchall()\n'),
     'ruff/S608', 'rewrite', 'unsafe',
     '    return conn.execute("SELECT id FROM users WHERE name = ?", (name,)).fetchall()'),
    ('sql_percent.py', ('def orders(cursor, customer, status):\n'
                       '    query = "SELECT id FROM orders WHERE customer = %s AND status = \'%s\'" '
                       '% (customer, status)\n'
                       '    cursor.execute(query)\n    return cursor.fetchall()\n'),
     'ruff/S608', 'rewrite', 'unsafe',
     ('    query = "SELECT id FROM orders WHERE customer = %s AND status = %s"\n'
     '    cursor.execute(query, (customer, status))')),
    ('shell_fstring.py', ('import subprocess\n\n\ndef ping(host):\n'
                         '    return subprocess.run(f"ping -c 1 {host}", shell=True, check=False)\n'),
     'ruff/S602', 'rewrite', 'unsafe', '    return subprocess.run(["ping", "-c", "1", host], check=False)'),
    ('await_me.py', ('import asyncio\n\n\nasync def send(x):\n    await asyncio.sleep(0)\n\n\n'
                    'async def main():\n    send(1)\n'),
     'bug/unawaited-coroutine', 'rewrite', 'safe', '    await send(1)'),
    ('rsa_key.py', ('from cryptography.hazmat.primitives.asymmetric import rsa\n\n'
                   'KEY = rsa.generate_private_key(public_exponent=65537, key_size=1024)\n'),
     'ruff/S505', 'semgrep', 'unsafe', 'KEY = rsa.generate_private_key(public_exponent=65537, key_size=3072)'),
    ('chmod.py', 'import os\n\n\ndef share(d):\n    os.chmod(d, 0o777)\n',
     'patterns/py-world-writable-permissions', 'semgrep', 'safe', '    os.chmod(d, 0o755)'),
    ('range_end.py', 'def total(xs):\n    s = 0\n    for i in range(len(xs) + 1):\n        s += xs[i]\n    return s\n',
     'patterns/py-range-past-end-index', 'semgrep', 'safe', '    for i in range(len(xs)):'),
    ('is_literal.py', 'def same(x):\n    return x is "a"\n',
     'ruff/F632', 'ruff', 'safe', '    return x == "a"'),
    ('mutable_default.py', 'def add(x, seen=[]):\n    seen.append(x)\n    return seen\n',
     'ruff/B006', 'ruff', 'unsafe', 'def add(x, seen=None):\n    if seen is None:\n        seen = []'),
    ('serve.py', 'def main(application):\n    application.run(host="127.0.0.1", debug=True)\n',
     'patterns/py-flask-debug-run', 'semgrep', 'safe', '    application.run(host="127.0.0.1", debug=False)'),
    ('session.py', ('import requests\n\n\ndef client():\n    session = requests.Session()\n'
                   '    session.verify = False\n    return session\n'),
     'patterns/py-session-tls-verify-off', 'semgrep', 'safe', '    session.verify = True'),
    ('metrics.py', ('from http.server import HTTPServer, BaseHTTPRequestHandler\n\n\ndef serve():\n'
                   '    HTTPServer(("0.0.0.0", 9100), BaseHTTPRequestHandler).serve_forever()\n'),
     'patterns/py-server-bind-all-interfaces', 'semgrep', 'unsafe',
     '    HTTPServer(("127.0.0.1", 9100), BaseHTTPRequestHandler).serve_forever()'),
    ('xxe.py', 'from lxml import etree\n\nPARSER = etree.XMLParser(resolve_entities=True)\n',
     'patterns/py-xml-external-entities-enabled', 'semgrep', 'safe',
     'PARSER = etree.XMLParser(resolve_entities=False)'),
    ('tokens.py', ('import random\nimport string\n\n\ndef new_session():\n'
                  '    session_token = "".join(random.choice(string.ascii_letters) for _ in range(32))\n'
                  '    return session_token\n'),
     'patterns/py-weak-random-secret', 'semgrep', 'safe',
     '    session_token = "".join(random.SystemRandom().choice(string.ascii_letters) for _ in range(32))'),
    ('last.py', 'def last(items):\n    return items[len(items)]\n',
     'patterns/py-index-at-len', 'semgrep', 'unsafe', '    return items[len(items) - 1]'),
    ('tlsclient.go', ('package main\n\nimport "crypto/tls"\n\nfunc config() *tls.Config {\n'
                     '\treturn &tls.Config{InsecureSkipVerify: true}\n}\n'),
     'patterns/go-tls-insecure-skip-verify', 'semgrep', 'safe', '\treturn &tls.Config{InsecureSkipVerify: false}'),
    ('smtp_login.py', ('import smtplib\n\nMAIL_PASSWORD = "Wd8qLz2rT7vNp4x"\n\n\ndef send():\n'
                      '    smtplib.SMTP("mail").login("bot", MAIL_PASSWORD)\n'),
     'patterns/py-hardcoded-login-password', 'secrets', 'unsafe',
     'import os\nMAIL_PASSWORD = os.environ["MAIL_PASSWORD"]'),
    # an app bound to every interface: 0.0.0.0 is no public address, the fix may carry it
    ('serve_all.py', 'def main(app):\n    app.run(host="0.0.0.0", port=5000, debug=True)\n',
     'patterns/py-flask-debug-run', 'semgrep', 'safe', '    app.run(host="0.0.0.0", port=5000, debug=False)'),
    ('xxe_network.py',
     'from lxml import etree\n\nPARSER = etree.XMLParser(no_network=False, resolve_entities=True, load_dtd=True)\n',
     'patterns/py-xml-external-entities-enabled', 'rewrite', 'unsafe',
     'PARSER = etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False)'),
    ('os_system.py', ('import os\nimport subprocess\n\n\ndef resize(src, dst, width: int):\n'
                     '    return os.system("magick " + src + " -resize " + str(width) + " " + dst)\n'),
     'ruff/S605', 'rewrite', 'unsafe',
     '    return subprocess.run(["magick", src, "-resize", str(width), dst]).returncode'),
    # the command built on the line before, single-quoted words with values in them
    ('shell_quoted.py', ('import subprocess\n\nLEVEL = 10\n\n\ndef archive(folder, name):\n'
                        '    cmd = f"nice -n {LEVEL} gzip -k \'{folder}/{name}.tar\'"\n'
                        '    subprocess.run(cmd, shell=True, check=True)\n'),
     'ruff/S602', 'rewrite', 'unsafe',
     ('    cmd = ["nice", "-n", str(LEVEL), "gzip", "-k", f"{folder}/{name}.tar"]\n'
      '    subprocess.run(cmd, check=True)')),
    ('late_lambda.py', ('def make(jobs):\n    tasks = []\n    for job in jobs:\n'
                       '        tasks.append(lambda: print(job))\n    return tasks\n'),
     'ruff/B023', 'rewrite', 'unsafe', '        tasks.append(lambda job=job: print(job))'),
    ('late_def.py', ('def build(items):\n    out = []\n    for i in items:\n        def show(scale):\n'
                    '            return i * scale\n        out.append(show)\n    return out\n'),
     'ruff/B023', 'rewrite', 'unsafe', '        def show(scale, i=i):\n            return i * scale'),
    ('literal_eval.py', 'import ast\n\n\ndef parse(raw):\n    return eval(raw)\n',
     'ruff/S307', 'rewrite', 'unsafe', '    return ast.literal_eval(raw)'),
    ('markup_f.py',
     'from markupsafe import Markup\n\n\ndef badge(label):\n    return Markup(f"<i class=\'b\'>{label!s}</i>")\n',
     'ruff/S704', 'rewrite', 'unsafe', '    return Markup("<i class=\'b\'>{!s}</i>").format(label)'),
    ('markup_pct.py', 'import markupsafe\n\n\ndef bold(name):\n    return markupsafe.Markup("<b>%s</b>" % name)\n',
     'ruff/S704', 'rewrite', 'unsafe', '    return markupsafe.Markup("<b>%s</b>") % name'),
    ('grep_view.py', ('import re\n\nfrom flask import Flask, request\n\napp = Flask(__name__)\n\n\n'
                     '@app.get("/grep")\ndef grep():\n    needle = request.args.get("q", "")\n'
                     '    return {"hit": re.search(needle, "some text") is not None}\n'),
     'patterns/py-request-regex-injection', 'rewrite', 'unsafe',
     '    return {"hit": re.search(re.escape(needle), "some text") is not None}'),
    ('xpath_view.py', ('from flask import Flask, request\nfrom lxml import etree\n\napp = Flask(__name__)\n'
                      'DOC = etree.fromstring(b"<users/>")\n\n\n@app.get("/user")\ndef user():\n'
                      '    name = request.args.get("name", "")\n'
                      '    nodes = DOC.xpath(f\'//user[@name="{name}"]\')\n    return {"n": len(nodes)}\n'),
     'patterns/py-request-ldap-xpath-injection', 'rewrite', 'unsafe',
     '    nodes = DOC.xpath("//user[@name=$name]", name=name)'),
    ('log_token.py', ('import logging\n\nlog = logging.getLogger(__name__)\n\n\ndef connect(user, access_token):\n'
                     '    log.info("connecting as %s with token=%s", user, access_token)\n'),
     'patterns/py-logged-secret', 'rewrite', 'unsafe', '    log.info("connecting as %s", user)'),
    ('prefs_cookie.py', ('import json\nimport pickle\n\n\ndef dump_prefs(prefs):\n    return pickle.dumps(prefs)\n\n\n'
                        'def load_prefs(blob):\n    return pickle.loads(blob)\n'),
     'ruff/S301', 'rewrite', 'unsafe',
     '    return json.dumps(prefs).encode()\n\n\ndef load_prefs(blob):\n    return json.loads(blob)'),
]
AWS = 'AKIAZ3MHQW7RNBX5TQ2P'
GH = 'ghp_' + 'Zq8Ry2Lp4Nd6Kf1Wm3Xb7Vc9Hs5Tj0Ga2Ue'
SECRET_CASES = [
    ('keys_os.py', f'import os\n\nAWS_ACCESS_KEY_ID = "{AWS}"\n',
     'AWS_ACCESS_KEY_ID = os.environ["AWS_ACCESS_KEY_ID"]'),
    ('keys_noimport.py', f'\n\ndef client():\n    github_token = "{GH}"\n    return github_token\n',
     '    import os\n    github_token = os.environ["GITHUB_TOKEN"]'),
    ('keys.js', f'const githubToken = "{GH}";\nmodule.exports = {{ githubToken }};\n',
     'const githubToken = process.env.GITHUB_TOKEN;'),
    ('keys.go',
     f'package main\n\nimport "os"\n\nvar awsKeyID = "{AWS}"\n\nfunc home() string {{ return os.Getenv("HOME") }}\n',
     'var awsKeyID = os.Getenv("AWS_KEY_ID")'),
    ('Keys.java', f'class Keys {{\n    static final String API_TOKEN = "{GH}";\n}}\n',
     '    static final String API_TOKEN = System.getenv("API_TOKEN");'),
]


@pytest.fixture(scope='module')
def report(tmp_path_factory):
    repo = GitRepo(tmp_path_factory.mktemp('fixes') / 'repo')
    repo.write('README.md', 'cases\n')
    repo.commit('base')
    for path, text, *_ in CASES:
        repo.write(path, text)
    for path, text, _ in SECRET_CASES:
        repo.write(path, text)
    repo.write('sql_order_by.py', 'import sqlite3\n\n\ndef listing(conn, column):\n'
                                  '    return conn.execute(f"SELECT id FROM users ORDER BY {column}").fetchall()\n')
    repo.write('shell_pipe.py', 'import subprocess\n\n\ndef count():\n'
                                '    return subprocess.run("ls | wc -l", shell=True, check=True)\n')
    # no fix: an eval given names (literal_eval has none), a value glued into a shell word
    repo.write('eval_names.py', 'import ast\n\n\ndef rule(expr, qty):\n    return eval(expr, {"qty": qty})\n')
    repo.write('shell_glued.py', 'import subprocess\n\n\ndef pack(n):\n'
                                 '    cmd = f"gzip -{n} data.tar"\n    return subprocess.run(cmd, shell=True)\n')
    # a pickle another program writes: loads alone cannot switch format
    repo.write('cache_read.py', 'import json\nimport pickle\n\n\ndef load(blob):\n    return pickle.loads(blob)\n')
    repo.git('add', '-A')
    proc = run_cli('review', '--staged', '--reviewers', 'secrets,ruff,patterns', '--format', 'json',
                   '--fail-level', 'none', cwd=repo.path)
    assert proc.returncode == 0, proc.stderr.decode()
    return json.loads(proc.stdout)


def _the(report, path, category):
    found = [f for f in report['findings'] if f['path'] == path and f['category'] == category]
    assert len(found) == 1, [(f['path'], f['category']) for f in report['findings'] if f['path'] == path]
    return found[0]


@pytest.mark.parametrize('path,text,category,source,safety,fixed', CASES, ids=[c[0] for c in CASES])
def test_rule_fix_is_proposed_and_verified(report, path, text, category, source, safety, fixed):
    f = _the(report, path, category)
    assert f['suggestion'] == fixed
    assert f['fix']['source'] == source and f['fix']['safety'] == safety
    assert FULL_CHECKS <= set(f['fix']['checks'])
    if path.endswith('.py'):
        assert 'parses' in f['fix']['checks']
    # the suggestion replaces exactly the finding's lines (shown with secrets masked)
    lines = text.split('\n')
    assert f['fix']['original'] == redact('\n'.join(lines[f['line'] - 1:f['end_line']]))[0]


@pytest.mark.parametrize('path,text,fixed', SECRET_CASES, ids=[c[0] for c in SECRET_CASES])
def test_a_secret_becomes_a_read_from_the_environment(report, path, text, fixed):
    f = [f for f in report['findings'] if f['path'] == path and f['category'].startswith('secret/')]
    assert len(f) == 1
    assert f[0]['suggestion'] == fixed
    assert f[0]['fix']['source'] == 'secrets' and f[0]['fix']['safety'] == 'unsafe'
    assert AWS not in json.dumps(report) and GH not in json.dumps(report)


def test_a_shell_command_the_shell_interprets_gets_no_fix(report):
    f = _the(report, 'shell_pipe.py', 'ruff/S602')
    assert f['suggestion'] is None and f['fix'] is None


def test_an_eval_with_names_a_glued_shell_value_or_a_lone_unpickle_gets_no_fix(report):
    for path, category in (('eval_names.py', 'ruff/S307'), ('shell_glued.py', 'ruff/S602'),
                           ('cache_read.py', 'ruff/S301')):
        f = _the(report, path, category)
        assert f['suggestion'] is None and f['fix'] is None


def test_a_column_name_is_not_made_a_query_parameter(report):
    f = _the(report, 'sql_order_by.py', 'ruff/S608')
    assert f['suggestion'] is None and f['fix'] is None


def test_the_report_counts_the_fixes(report):
    fixes = report['fixes']
    assert fixes['verified'] == sum(1 for f in report['findings'] if f['fix'])
    assert fixes['verified'] >= len(CASES) + len(SECRET_CASES)
    assert sum(fixes['verified_by_source'].values()) == fixes['verified']
    assert any(n.startswith('fixes: ') for n in report['notes'])


def test_semgrep_fix_rules_are_not_started_without_the_time_for_them(monkeypatch):
    import time as time_mod

    from reviewbot.core import Finding, Severity
    from reviewbot.fixes import semgrep as semgrep_fixer
    from reviewbot.reviewers import patterns

    started = []
    monkeypatch.setattr(patterns, 'run_semgrep', lambda *a, **k: started.append(a) or {'results': []})
    finding = Finding('app.py', 2, 2, Severity.ERROR, 'ruff/S506', 'unsafe yaml.load', 'ruff')
    texts = {'app.py': 'import yaml\ndata = yaml.load(open("c.yml"))\n'}
    t0 = time_mod.monotonic()
    fixes, notes = semgrep_fixer.rule_fixes([finding], texts, 0.2)
    assert (fixes, started) == ({}, []) and time_mod.monotonic() - t0 < 0.5
    assert notes == ['fixes: budget: 0.2 s left, too little to run the semgrep fix rules for 1 finding(s)']
    # with the time for it, semgrep is run (here a stand-in that finds nothing)
    if patterns.locate(None).path is not None:  # (setup builds semgrep's tool environment)
        assert semgrep_fixer.rule_fixes([finding], texts, 5.0) == ({}, []) and len(started) == 1
