"""The Python security rules of the `patterns` reviewer (reviewbot/data/patterns/python.yaml).

Each rule has a vulnerable snippet, flagged exactly on the lines marked `# FLAW`, and a safe variant
of the same code that must draw no finding at all. All snippets go through the real reviewer in one
staged change of one git repository, so semgrep starts once for the whole file.
"""
from __future__ import annotations

import pytest

from reviewbot import pipeline
from reviewbot.config import defaults
from reviewbot.core import Severity
from reviewbot.reviewers.patterns import PatternsReviewer, locate
from reviewbot.sources import staged
from tests.conftest import GitRepo

pytestmark = pytest.mark.skipif(locate().path is None, reason=locate().problem)

MARK = '# FLAW'

# rule id -> (vulnerable source, safe source)
CASES: dict[str, tuple[str, str]] = {
    'py-request-command-injection': ('''\
import subprocess

from flask import Flask, request

app = Flask(__name__)


@app.route("/convert")
def convert():
    fmt = request.args["fmt"]
    subprocess.run(["sh", "-c", "convert in.png out." + fmt])  # FLAW
    return "ok"


@app.route("/tool/<name>")
def tool(name):
    return subprocess.check_output([name, "--version"])  # FLAW
''', '''\
import shlex
import subprocess

from flask import Flask, request

app = Flask(__name__)


@app.route("/convert")
def convert():
    fmt = request.args["fmt"]
    subprocess.run(["sh", "-c", "convert in.png out." + shlex.quote(fmt)])
    subprocess.run(["convert", "in.png", "out." + fmt], check=True)
    argv = ["convert", "in.png", "out." + fmt]
    subprocess.run(argv, check=True)
    subprocess.run(convert_command(fmt), check=True)
    return "ok"


def convert_command(fmt: str) -> list[str]:
    return ["convert", "in.png", "out." + fmt]


@app.route("/tool/<int:count>")
def tool(count: int):
    return subprocess.check_output(["seq", str(count)])
'''),
    'py-request-code-injection': ('''\
import importlib

from flask import request


def plugin():
    module = importlib.import_module(request.args.get("plugin"))  # FLAW
    return module.run()


def formula():
    code = compile(request.form["expr"], "<formula>", "eval")  # FLAW
    return code
''', '''\
import importlib

from flask import request

PLUGINS = {"csv": "app.plugins.csv", "xml": "app.plugins.xml"}


def plugin():
    module = importlib.import_module(PLUGINS[request.args.get("plugin", "csv")])
    return module.run()


def formula():
    code = compile("1 + 1", "<formula>", "eval")
    return code, request.form["expr"]
'''),
    'py-request-sql-injection': ('''\
from django.http import JsonResponse

from .models import Order


def orders(request, cursor):
    where = "customer = '" + request.GET["customer"] + "'"
    query = "SELECT id, total FROM orders WHERE " + where
    cursor.execute(query)  # FLAW
    return JsonResponse(cursor.fetchall(), safe=False)


def recent(request):
    sql = "SELECT * FROM app_order ORDER BY " + request.GET.get("sort", "id")
    return list(Order.objects.raw(sql))  # FLAW
''', '''\
from django.http import JsonResponse

from .models import Order


def orders(request, cursor):
    query = "SELECT id, total FROM orders WHERE customer = %s"
    cursor.execute(query, [request.GET["customer"]])
    return JsonResponse(cursor.fetchall(), safe=False)


def recent(request):
    limit = int(request.GET.get("limit", "10"))
    sql = "SELECT * FROM app_order ORDER BY id LIMIT %d" % limit
    return list(Order.objects.raw(sql))
'''),
    'py-request-template-injection': ('''\
from flask import Flask, render_template_string, request

app = Flask(__name__)


@app.route("/hello")
def hello():
    name = request.args.get("name", "world")
    return render_template_string("<h1>Hello " + name + "!</h1>")  # FLAW
''', '''\
from flask import Flask, render_template_string, request

app = Flask(__name__)


@app.route("/hello")
def hello():
    name = request.args.get("name", "world")
    page = "<h1>Hello {{ name }}!</h1>"
    return render_template_string(page, name=name)
'''),
    'py-request-reflected-xss': ('''\
from flask import Flask, make_response, request

app = Flask(__name__)


@app.route("/search")
def search():
    q = request.args.get("q", "")
    return f"<p>No results for {q}</p>"  # FLAW


@app.route("/greet")
def greet():
    who = request.args.get("who", "")
    html = "<b>%s</b>" % who  # FLAW
    return make_response(html)


@app.route("/echo")
def echo():
    return make_response(request.args["text"])  # FLAW
''', '''\
from flask import Flask, make_response, request
from markupsafe import escape

app = Flask(__name__)


@app.route("/search")
def search():
    q = request.args.get("q", "")
    return f"<p>No results for {escape(q)}</p>"


@app.route("/greet")
def greet():
    who = escape(request.args.get("who", ""))
    html = "<b>%s</b>" % who
    return make_response(html)


@app.route("/echo")
def echo():
    text = request.args["text"]
    return make_response(f"Wrong value: {len(text)} characters", 400)
'''),
    'py-request-open-redirect': ('''\
from flask import Flask, redirect, request

app = Flask(__name__)


@app.route("/login", methods=["POST"])
def login():
    target = request.args.get("next", "/")
    return redirect(target)  # FLAW


@app.route("/go/<slug>")
def go(slug):
    return redirect(slug)  # FLAW
''', '''\
from urllib.parse import urlparse

from django.http import HttpResponseRedirect
from django.utils.http import url_has_allowed_host_and_scheme
from flask import Flask, redirect, request, url_for

app = Flask(__name__)


@app.route("/login", methods=["POST"])
def login():
    target = request.args.get("next", "/")
    if urlparse(target).netloc:
        return redirect(url_for("index"))
    return redirect(target)


@app.route("/go/<slug>")
def go(slug):
    return redirect("/entry/" + slug)


def set_language(request):  # Django
    next_url = request.POST.get("next")
    if next_url and not url_has_allowed_host_and_scheme(url=next_url, allowed_hosts={request.get_host()}):
        next_url = "/"
    return HttpResponseRedirect(next_url or "/")
'''),
    'py-request-ldap-xpath-injection': ('''\
import ldap
from flask import request
from lxml import etree


def find_user(conn):
    uid = request.args["uid"]
    return conn.search_s("ou=people,dc=example,dc=org", ldap.SCOPE_SUBTREE, "(uid=" + uid + ")")  # FLAW


def find_book(tree):
    title = request.args["title"]
    return tree.xpath("//book[title='" + title + "']")  # FLAW
''', '''\
import ldap
from flask import request
from ldap.filter import escape_filter_chars
from lxml import etree


def find_user(conn):
    uid = escape_filter_chars(request.args["uid"])
    return conn.search_s("ou=people,dc=example,dc=org", ldap.SCOPE_SUBTREE, "(uid=" + uid + ")")


def find_book(tree):
    title = request.args["title"]
    return tree.xpath("//book[title=$t]", t=title)
'''),
    'py-request-regex-injection': ('''\
import re

from flask import request


def grep(lines):
    pattern = re.compile(request.args["q"])  # FLAW
    return [ln for ln in lines if pattern.search(ln)]
''', '''\
import re

from flask import request


def grep(lines):
    pattern = re.compile(re.escape(request.args["q"]))
    return [ln for ln in lines if pattern.search(ln)]
'''),
    'py-request-deserialization': ('''\
import yaml
from flask import request


def import_settings():
    settings = yaml.unsafe_load(request.get_data())  # FLAW
    return settings
''', '''\
import yaml
from flask import request


def import_settings():
    settings = yaml.safe_load(request.get_data())
    return settings
'''),
    'py-jwt-signature-not-verified': ('''\
import jwt


def current_user(token, key):
    claims = jwt.decode(token, key, algorithms=["HS256"], options={"verify_signature": False})  # FLAW
    return claims["sub"]


def legacy_user(token, key):
    return jwt.decode(token, key, algorithms=["none"])["sub"]  # FLAW
''', '''\
import jwt


def current_user(token, key):
    claims = jwt.decode(token, key, algorithms=["HS256"])
    return claims["sub"]


def legacy_user(token, key):
    header = jwt.get_unverified_header(token)
    return jwt.decode(token, key[header["kid"]], algorithms=["RS256"])["sub"]
'''),
    'py-weak-random-secret': ('''\
import random
import string


def make_reset_token(n=32):
    return "".join(random.choice(string.ascii_letters) for _ in range(n))  # FLAW


def new_user(user):
    user.api_key = "%032x" % random.getrandbits(128)  # FLAW
    otp = random.randint(100000, 999999)  # FLAW
    return user, otp
''', '''\
import random
import secrets
import string


def make_reset_token(n=32):
    return "".join(secrets.choice(string.ascii_letters) for _ in range(n))


def new_user(user):
    user.api_key = secrets.token_hex(16)
    otp = secrets.randbelow(900000) + 100000
    delay = random.uniform(0.1, 0.5)
    return user, otp, delay
'''),
    'py-password-fast-hash': ('''\
import hashlib


def store(db, user, password):
    digest = hashlib.sha256(password.encode()).hexdigest()  # FLAW
    db.save(user, digest)
''', '''\
import hashlib
import os


def store(db, user, password):
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)
    db.save(user, salt + digest)
'''),
    'py-world-writable-permissions': ('''\
import os


def publish(path):
    os.chmod(path, 0o777)  # FLAW
''', '''\
import os


def publish(path):
    os.chmod(path, 0o755)
'''),
    'py-logged-secret': ('''\
import logging

logger = logging.getLogger(__name__)


def connect(user, password):
    logger.debug("connecting as %s with %s", user, password)  # FLAW
    logger.info(f"token={user.token}")  # FLAW
''', '''\
import logging

logger = logging.getLogger(__name__)


def connect(user, password):
    logger.debug("connecting as %s (password set: %s)", user, bool(password))
    logger.info("token present: %s", user.token is not None)
'''),
    'py-xml-external-entities-enabled': ('''\
from lxml import etree


def parse(data):
    parser = etree.XMLParser(resolve_entities=True)  # FLAW
    return etree.fromstring(data, parser)
''', '''\
from lxml import etree


def parse(data):
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return etree.fromstring(data, parser)
'''),
}


# Classes generalised after a batch of eval cases written blind to the rules: name -> (rule id,
# vulnerable source, safe source). Changed rules get a pair for the new form; new rules get one.
GENERALISED: dict[str, tuple[str, str, str]] = {
    'fastapi-path-param-traversal': ('py-request-path-traversal', '''\
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

router = APIRouter()
BASE = Path("/data/exports")


@router.get("/{name:path}")
def download(name: str):
    path = BASE / name
    return FileResponse(path)  # FLAW
''', '''\
from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

router = APIRouter()
BASE = Path("/data/exports").resolve()


@router.get("/{name:path}")
def download(name: str):
    path = (BASE / name).resolve()
    if not path.is_relative_to(BASE):
        raise HTTPException(404)
    return FileResponse(path)


@router.get("/by-id/{report_id}")
def by_id(report_id: int):
    return FileResponse(BASE / f"{report_id}.csv")
'''),
    'redirect-own-check': ('py-request-open-redirect', '''\
from flask import Flask, redirect, request

app = Flask(__name__)


@app.route("/login")
def login():
    next_url = request.args.get("next")
    return redirect(next_url or "/")  # FLAW
''', '''\
from urllib.parse import urlsplit

from flask import Flask, redirect, request

app = Flask(__name__)


def _is_local(target):
    parts = urlsplit(target or "")
    return not parts.scheme and not parts.netloc and (target or "").startswith("/")


@app.route("/login")
def login():
    next_url = request.args.get("next")
    if not _is_local(next_url):
        next_url = None
    return redirect(next_url or "/")
'''),
    'xss-lookup-results': ('py-request-reflected-xss', '''\
from flask import Flask, request

app = Flask(__name__)


@app.get("/search")
def search():
    q = request.args.get("q", "")
    return f"<h1>Results for {q}</h1>"  # FLAW
''', '''\
from html import escape

from flask import Flask, request

app = Flask(__name__)


@app.get("/search")
def search():
    q = request.args.get("q", "")
    hits = search_articles(q, limit=20)
    items = "".join(f"<li>{escape(h.title)}</li>" for h in hits)
    return f"<h1>{len(hits)} results for {escape(q)}</h1><ul>{items}</ul>"
'''),
    'reset-code-random': ('py-weak-random-secret', '''\
import random


def start_reset(user):
    code = f"{random.randint(0, 999999):06d}"  # FLAW
    user.send(code)
''', '''\
import random
import secrets


def start_reset(user):
    code = f"{secrets.randbelow(1_000_000):06d}"
    user.send(code)


def pick_colour_code():
    code = random.choice(["red", "green"])
    return code
'''),
    'csrf-exempt-login-view': ('py-csrf-exempt-authenticated-view', '''\
from django.contrib.auth.decorators import login_required
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt  # FLAW
@login_required
def change_email(request):
    request.user.email = request.POST["email"]
    request.user.save()
''', '''\
from django.contrib.auth.decorators import login_required
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def stripe_webhook(request):
    verify_signature(request)


@login_required
def change_email(request):
    request.user.email = request.POST["email"]
    request.user.save()
'''),
    'app-run-debug': ('py-flask-debug-run', '''\
from shop import create_app

app = create_app()

if __name__ == "__main__":
    app.run(host="127.0.0.1", debug=True)  # FLAW
''', '''\
import os

from shop import create_app

app = create_app()

if __name__ == "__main__":
    app.run(host="127.0.0.1", debug=os.environ.get("SHOP_DEBUG") == "1")
'''),
    'session-verify-off': ('py-session-tls-verify-off', '''\
import requests


class Client:
    def __init__(self):
        self.session = requests.Session()
        self.session.verify = False  # FLAW
''', '''\
import os

import requests


class Client:
    def __init__(self):
        self.session = requests.Session()
        self.session.verify = os.environ.get("CA_BUNDLE", True)
        self.verify = False  # an option of this class, not a TLS session
'''),
    'server-bind-all': ('py-server-bind-all-interfaces', '''\
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def start(port):
    return ThreadingHTTPServer(("0.0.0.0", port), BaseHTTPRequestHandler)  # FLAW
''', '''\
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def start(port, host="127.0.0.1"):
    ThreadingHTTPServer(("127.0.0.1", port), BaseHTTPRequestHandler)
    return ThreadingHTTPServer((host, port), BaseHTTPRequestHandler)
'''),
    'hardcoded-login-password': ('py-hardcoded-login-password', '''\
import smtplib

SMTP_USER = "mailer"
SMTP_PASSWORD = "Wd8qLz2rT7vNp4"  # FLAW


def send(msg):
    with smtplib.SMTP("smtp.example.net", 587) as smtp:
        smtp.login(SMTP_USER, SMTP_PASSWORD)
        smtp.login("ops", "k3yZ9pQ2w")  # FLAW
''', '''\
import os
import smtplib

SMTP_USER = "mailer"
SMTP_PASSWORD = os.environ["SMTP_PASSWORD"]
DEFAULT_PASSWORD = "changeme123"


def send(msg, password):
    with smtplib.SMTP("smtp.example.net", 587) as smtp:
        smtp.login(SMTP_USER, SMTP_PASSWORD)
        smtp.login("ops", password)
'''),
    'zip-slip': ('py-archive-member-path-traversal', '''\
import os
import zipfile


def unpack(archive, dest):
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist()[:100]:
            target = os.path.join(dest, info.filename)
            with open(target, "wb") as out:  # FLAW
                out.write(zf.read(info))
''', '''\
import os
import zipfile


def unpack(archive, dest):
    root = os.path.realpath(dest)
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist()[:100]:
            target = os.path.realpath(os.path.join(root, info.filename))
            if os.path.commonpath([root, target]) != root:
                raise ValueError(info.filename)
            with open(target, "wb") as out:
                out.write(zf.read(info))


def list_names(archive):
    with zipfile.ZipFile(archive) as zf:
        for name in zf.namelist():
            with open(os.path.join("/tmp/x", name)) as f:
                print(f.read())
'''),
    'mass-assignment': ('py-request-mass-assignment', '''\
from flask import Blueprint, request
from flask_login import current_user

bp = Blueprint("users", __name__)


@bp.patch("/me")
def update_me():
    changes = request.get_json(force=True) or {}
    for field, value in changes.items():
        if hasattr(current_user, field):
            setattr(current_user, field, value)  # FLAW
''', '''\
from flask import Blueprint, request
from flask_login import current_user

bp = Blueprint("users", __name__)
EDITABLE = frozenset({"display_name", "bio"})


@bp.patch("/me")
def update_me():
    changes = request.get_json(force=True) or {}
    for field, value in changes.items():
        if field in EDITABLE:
            setattr(current_user, field, value)


def configure(obj, **options):
    for name, value in options.items():
        setattr(obj, name, value)
'''),
    'ldap-filter-param': ('py-ldap-filter-formatted', '''\
import ldap


def find_user(conn, username):
    search_filter = f"(&(objectClass=person)(uid={username}))"  # FLAW
    by_mail = "(mail=%s)" % username  # FLAW
    return conn.search_s("dc=x", ldap.SCOPE_SUBTREE, search_filter + by_mail)
''', '''\
import ldap
from ldap.filter import escape_filter_chars, filter_format


def find_user(conn, username):
    search_filter = f"(&(objectClass=person)(uid={escape_filter_chars(username)}))"
    by_mail = filter_format("(mail=%s)", [username])
    label = f"Point(x={username})"
    return conn.search_s("dc=x", ldap.SCOPE_SUBTREE, search_filter + by_mail), label
'''),
}

def _path(rule: str, variant: str) -> str:
    return f'app/{rule.replace("-", "_")}_{variant}.py'


@pytest.fixture(scope='module')
def findings(tmp_path_factory: pytest.TempPathFactory) -> list:
    """One review of one staged change that adds every snippet: one semgrep run."""
    repo = GitRepo(tmp_path_factory.mktemp('pysec') / 'repo')
    repo.write('README.md', 'base\n')
    repo.commit('base')
    for rule, (vulnerable, safe) in CASES.items():
        repo.write(_path(rule, 'vulnerable'), vulnerable)
        repo.write(_path(rule, 'safe'), safe)
    for name, (_rule, vulnerable, safe) in GENERALISED.items():
        repo.write(_path(name, 'vulnerable'), vulnerable)
        repo.write(_path(name, 'safe'), safe)
    repo.git('add', '-A')
    cfg = defaults()
    report = pipeline.review(staged(repo.path), cfg, reviewers=[PatternsReviewer(cfg)])
    return report.findings


def test_every_python_rule_has_a_case():
    import yaml

    from reviewbot.reviewers.patterns import RULES_DIR
    rules = yaml.safe_load((RULES_DIR / 'python.yaml').read_text())['rules']
    ids = {r['id'] for r in rules}
    assert set(CASES) <= ids
    for r in rules:
        assert r['metadata']['cwe'].startswith('CWE-'), r['id']
        assert r['message'].count('.') >= 1, r['id']


@pytest.mark.parametrize('rule', sorted(CASES))
def test_vulnerable_snippet_flagged_on_its_lines(findings: list, rule: str):
    vulnerable, _ = CASES[rule]
    path = _path(rule, 'vulnerable')
    expected = [i for i, ln in enumerate(vulnerable.splitlines(), 1) if ln.endswith(MARK)]
    assert expected, 'a vulnerable snippet marks its flawed lines'
    here = [f for f in findings if f.path == path]
    assert sorted(f.line for f in here) == expected, here
    assert {f.category for f in here} == {f'patterns/{rule}'}
    assert all('CWE-' in f.message and f.reviewer == 'patterns' for f in here)
    assert all(f.severity in (Severity.ERROR, Severity.WARNING) for f in here)


@pytest.mark.parametrize('rule', sorted(CASES))
def test_safe_variant_not_flagged(findings: list, rule: str):
    path = _path(rule, 'safe')
    assert [f for f in findings if f.path == path] == []


@pytest.mark.parametrize('name', sorted(GENERALISED))
def test_generalised_form_flagged_on_its_lines(findings: list, name: str):
    rule, vulnerable, _ = GENERALISED[name]
    path = _path(name, 'vulnerable')
    expected = [i for i, ln in enumerate(vulnerable.splitlines(), 1) if ln.endswith(MARK)]
    assert expected, 'a vulnerable snippet marks its flawed lines'
    here = [f for f in findings if f.path == path]
    assert sorted(f.line for f in here) == expected, here
    assert {f.category for f in here} == {f'patterns/{rule}'}


@pytest.mark.parametrize('name', sorted(GENERALISED))
def test_generalised_safe_form_not_flagged(findings: list, name: str):
    path = _path(name, 'safe')
    assert [f for f in findings if f.path == path] == []


def test_every_new_rule_has_a_generalised_case():
    import yaml

    from reviewbot.reviewers.patterns import RULES_DIR
    ids = {r['id'] for r in yaml.safe_load((RULES_DIR / 'python.yaml').read_text())['rules']}
    assert {rule for rule, _, _ in GENERALISED.values()} <= ids
