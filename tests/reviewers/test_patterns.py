from __future__ import annotations

import json

import pytest

from reviewbot import pipeline
from reviewbot.config import defaults, load
from reviewbot.core import Severity
from reviewbot.reviewers.patterns import (
    MISSING_NOTE,
    PatternsReviewer,
    locate,
    rule_files,
)
from reviewbot.sources import staged
from tests.conftest import GitRepo, run_cli

needs_semgrep = pytest.mark.skipif(locate().path is None, reason=locate().problem)

# One (base, vulnerable, fixed, refactor) quartet per language. The vulnerable and fixed versions
# differ in the planted line; `refactor` is a behaviour-preserving change of the fixed one.
CASES = {
    'web/static/render.js': {
        "base": '''\
const { exec } = require('child_process');

function legacy(host) {
  // already in the repository: not part of the change, never reported
  exec(`ping -c 1 ${host}`);
}

function show(el, name) {
  el.textContent = name;
}

module.exports = { legacy, show };
''',
        "old": '  el.textContent = name;\n',
        "vuln": '  el.innerHTML = `<b>${name}</b>`;\n',
        "fixed": '  el.textContent = `<b>${name}</b>`;\n',
        "category": 'patterns/js-xss-html-sink',
    },
    'db/users.go': {
        "base": '''\
package db

import (
	"database/sql"
)

func FindUser(db *sql.DB, name string) (*sql.Rows, error) {
	return db.Query("SELECT id FROM users WHERE name = $1", name)
}
''',
        "old": '\treturn db.Query("SELECT id FROM users WHERE name = $1", name)\n',
        "vuln": '\treturn db.Query(fmt.Sprintf("SELECT id FROM users WHERE name = \'%s\'", name))\n',
        "fixed": '\treturn db.Query("SELECT id FROM users WHERE name = $1 LIMIT 1", name)\n',
        "category": 'patterns/go-sql-built-query',
    },
    'src/main/java/app/Users.java': {
        "base": '''\
package app;

import java.sql.*;

class Users {
  ResultSet find(Connection c, String name) throws SQLException {
    PreparedStatement ps = c.prepareStatement("SELECT id FROM users WHERE name = ?");
    ps.setString(1, name);
    return ps.executeQuery();
  }
}
''',
        "old": '    PreparedStatement ps = c.prepareStatement("SELECT id FROM users WHERE name = ?");\n'
            '    ps.setString(1, name);\n    return ps.executeQuery();\n',
        "vuln": '    Statement st = c.createStatement();\n'
             '    return st.executeQuery("SELECT id FROM users WHERE name = \'" + name + "\'");\n',
        "fixed": '    PreparedStatement ps = c.prepareStatement("SELECT id FROM users WHERE name = ? LIMIT 1");\n'
              '    ps.setString(1, name);\n    return ps.executeQuery();\n',
        "category": 'patterns/java-sql-built-query',
    },
    'src/greet.c': {
        "base": '''\
#include <stdio.h>
#include <string.h>

void greet(const char *name) {
    char buf[32];
    snprintf(buf, sizeof buf, "%s", name);
    puts(buf);
}
''',
        "old": '    snprintf(buf, sizeof buf, "%s", name);\n',
        "vuln": '    strcpy(buf, name);\n',
        "fixed": '    snprintf(buf, sizeof buf, "hi %s", name);\n',
        "category": 'patterns/c-unbounded-copy-into-fixed-buffer',
    },
    'app/files.py': {
        "base": '''\
import os

from flask import Flask, request
from werkzeug.utils import secure_filename

app = Flask(__name__)
BASE = "/srv/files"


@app.route("/download")
def download():
    name = secure_filename(request.args.get("name", ""))
    with open(os.path.join(BASE, name)) as f:
        return f.read()
''',
        "old": '    name = secure_filename(request.args.get("name", ""))\n'
            '    with open(os.path.join(BASE, name)) as f:\n',
        "vuln": '    name = request.args.get("name", "")\n'
             '    with open(os.path.join(BASE, "uploads", name)) as f:\n',
        "fixed": '    name = os.path.basename(request.args.get("name", ""))\n'
              '    with open(os.path.join(BASE, "uploads", name)) as f:\n',
        "category": 'patterns/py-request-path-traversal',
    },
}


def _review(repo: GitRepo, config=None) -> pipeline.Report:
    cfg = config or defaults()
    return pipeline.review(staged(repo.path), cfg, reviewers=[PatternsReviewer(cfg)])


def _line_of(text: str, needle: str) -> int:
    return next(i for i, ln in enumerate(text.splitlines(), 1) if needle in ln)


def _commit_base(repo: GitRepo, path: str, case: dict) -> None:
    repo.write(path, case['base'])
    repo.commit('base')


def _stage(repo: GitRepo, path: str, text: str) -> None:
    repo.write(path, text)
    repo.git('add', '-A')


def test_bundled_rules_are_packaged_yaml():
    names = {p.name for p in rule_files()}
    assert {'javascript.yaml', 'go.yaml', 'java.yaml', 'c.yaml'} <= names


@needs_semgrep
@pytest.mark.parametrize('path', sorted(CASES))
def test_planted_vuln_flagged_on_its_line_and_fix_is_not(repo: GitRepo, path: str):
    case = CASES[path]
    _commit_base(repo, path, case)
    vulnerable = case['base'].replace(case['old'], case['vuln'])
    assert vulnerable != case['base']
    _stage(repo, path, vulnerable)
    findings = _review(repo).findings
    planted = _line_of(vulnerable, case['vuln'].strip().splitlines()[-1].strip())
    hits = [f for f in findings if f.category == case['category']]
    assert [f.line for f in hits] == [planted], findings
    assert hits[0].severity is Severity.ERROR
    assert hits[0].reviewer == 'patterns' and hits[0].path == path
    assert 'CWE-' in hits[0].message
    # nothing else: the pre-existing code on unchanged lines is not this change's business
    assert len(findings) == 1, findings

    # the fix, committed on top of the vulnerable version, is clean
    repo.commit('vulnerable')
    _stage(repo, path, case['base'].replace(case['old'], case['fixed']))
    assert _review(repo).findings == []


@needs_semgrep
@pytest.mark.parametrize('path', sorted(CASES))
def test_clean_refactor_not_flagged(repo: GitRepo, path: str):
    case = CASES[path]
    _commit_base(repo, path, case)
    # a behaviour-preserving edit: a comment line and a blank line added next to the old code
    comment = '# ' if path.endswith('.py') else '// '
    refactored = case['base'].replace(case['old'], f'{comment}unchanged behaviour\n\n' + case['old'])
    _stage(repo, path, refactored)
    assert _review(repo).findings == []


@needs_semgrep
def test_only_added_lines_reported_even_when_old_code_matches(repo: GitRepo):
    path = 'web/static/render.js'
    case = CASES[path]
    _commit_base(repo, path, case)
    # an unrelated added line; the legacy exec(`...${host}`) above stays unchanged
    _stage(repo, path, case['base'] + '\nconst VERSION = "1";\n')
    report = _review(repo)
    assert report.findings == []
    # the same legacy construct, added by this change, is reported at the added line
    added = case['base'] + '\nfunction again(h) {\n  exec(`ping -c 1 ${h}`);\n}\n'
    _stage(repo, path, added)
    findings = _review(repo).findings
    assert [f.line for f in findings] == [len(added.splitlines()) - 1]
    assert findings[0].category == 'patterns/js-child-process-shell-built-command'


@needs_semgrep
def test_all_languages_in_one_review(repo: GitRepo):
    for path, case in CASES.items():
        repo.write(path, case['base'])
    repo.commit('base')
    for path, case in CASES.items():
        repo.write(path, case['base'].replace(case['old'], case['vuln']))
    repo.git('add', '-A')
    report = _review(repo)
    assert {f.path for f in report.findings} == set(CASES)
    assert {f.category for f in report.findings} == {c['category'] for c in CASES.values()}


@needs_semgrep
def test_ignored_rule_not_reported(repo: GitRepo):
    path = 'src/greet.c'
    case = CASES[path]
    _commit_base(repo, path, case)
    (repo.path / 'pyproject.toml').write_text(
        '[tool.reviewbot.patterns]\nignore = ["c-unbounded-copy-into-fixed-buffer"]\n')
    _stage(repo, path, case['base'].replace(case['old'], case['vuln']))
    assert _review(repo, load(start=repo.path)).findings == []


def test_semgrep_missing_is_a_note_not_a_crash(repo: GitRepo):
    path = 'src/greet.c'
    case = CASES[path]
    _commit_base(repo, path, case)
    (repo.path / 'pyproject.toml').write_text(
        '[tool.reviewbot.patterns]\nsemgrep = "/nonexistent/bin/semgrep"\n')
    _stage(repo, path, case['base'].replace(case['old'], case['vuln']))
    cfg = load(start=repo.path)
    prep = pipeline.prepare(staged(repo.path), cfg)
    reviewer = PatternsReviewer(cfg)
    result = reviewer.review(prep.plan.files, prep.context)
    assert result.findings == []
    assert any('semgrep not found' in n for n in result.notes)
    assert [s.path for s in result.skipped] == [path]
    assert MISSING_NOTE.startswith('patterns: semgrep not installed')


def test_cli_runs_patterns_without_semgrep(repo: GitRepo):
    path = 'src/greet.c'
    case = CASES[path]
    _commit_base(repo, path, case)
    (repo.path / 'pyproject.toml').write_text(
        '[tool.reviewbot.patterns]\nsemgrep = "/nonexistent/bin/semgrep"\n')
    repo.git('add', 'pyproject.toml')
    repo.commit('config')
    _stage(repo, path, case['base'].replace(case['old'], case['vuln']))
    proc = run_cli('review', '--staged', '--reviewers', 'patterns', '--format', 'json', cwd=repo.path)
    assert proc.returncode == 0, proc.stderr.decode()
    report = json.loads(proc.stdout)
    assert report['findings'] == []
    assert 'semgrep not found' in json.dumps(report)


@needs_semgrep
def test_cli_reports_planted_vuln(repo: GitRepo):
    path = 'db/users.go'
    case = CASES[path]
    _commit_base(repo, path, case)
    vulnerable = case['base'].replace(case['old'], case['vuln'])
    _stage(repo, path, vulnerable)
    proc = run_cli('review', '--staged', '--reviewers', 'patterns', '--format', 'json', cwd=repo.path)
    report = json.loads(proc.stdout)
    lines = [(f['path'], f['line'], f['category']) for f in report['findings']]
    assert lines == [(path, _line_of(vulnerable, 'fmt.Sprintf'), 'patterns/go-sql-built-query')]


def test_a_diff_without_its_repository_is_scanned_at_true_lines():
    """`reviewbot review --diff FILE` outside the repo: the hunk's new side is scanned in place."""
    from reviewbot.diffparse import parse_diff
    from reviewbot.reviewers import ReviewContext
    from reviewbot.reviewers.patterns import PatternsReviewer
    diff = parse_diff(b'''diff --git a/web/view.js b/web/view.js
--- a/web/view.js
+++ b/web/view.js
@@ -30,5 +30,5 @@ function render(comment) {
   const el = document.getElementById("comments");
   const item = document.createElement("li");
-  item.textContent = comment.body;
+  item.innerHTML = comment.body;
   el.appendChild(item);
 }
''')
    cfg = defaults()
    result = PatternsReviewer(cfg).review(diff.files, ReviewContext(config=cfg, read_new_file=lambda p: None))
    assert [(f.path, f.line) for f in result.findings] == [('web/view.js', 32)]
    assert result.skipped == []
