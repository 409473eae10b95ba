"""The patterns reviewer gives semgrep a Python file narrowed to what the change touches
(reviewbot/pyslice.py): the findings on the changed lines are those of the whole file."""
from __future__ import annotations

import pytest

from reviewbot import pipeline
from reviewbot.config import defaults
from reviewbot.reviewers.patterns import PatternsReviewer, locate
from reviewbot.sources import staged
from tests.conftest import GitRepo

pytestmark = pytest.mark.skipif(locate().path is None, reason=locate().problem)

BASE = '''\
from flask import Flask, request

app = Flask(__name__)


def helper(name):
    return open(name).read()
'''

ADDED = '''

@app.route('/read')
def read():
    return open(request.args['p']).read()


if __name__ == '__main__':
    app.run(debug=True)
'''


def test_module_level_context_still_reaches_semgrep(repo: GitRepo):
    # `app = Flask(...)` is an unchanged module-level line: narrowed away, py-flask-debug-run would
    # fire on the `app.run(debug=True)` ruff's S201 already reports; the untouched helper() is blanked
    repo.write('web.py', BASE)
    repo.commit('base')
    repo.write('web.py', BASE + ADDED)
    repo.git('add', 'web.py')
    cfg = defaults()
    report = pipeline.review(staged(repo.path), cfg, reviewers=[PatternsReviewer(cfg)])
    lines = (BASE + ADDED).split('\n')
    got = sorted((f.line, f.category) for f in report.findings)
    assert got == [(lines.index("    return open(request.args['p']).read()") + 1,
                    'patterns/py-request-path-traversal')], got
