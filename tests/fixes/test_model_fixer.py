"""The model fixer: the strict answer parser, and real runs of the tiny model (smollm2-135m)
through onnxruntime inside the fix stage: whatever it writes is verified or counted as rejected,
never shown unverified; the budget is obeyed."""
from __future__ import annotations

import time

import pytest

from reviewbot.config import defaults
from reviewbot.core import Finding, Severity
from reviewbot.diffparse import parse_diff
from reviewbot.errors import ModelError
from reviewbot.fixes import run
from reviewbot.fixes.model import answer_prefix, parse_answer, with_imports
from reviewbot.fixes.text import unified_patch
from reviewbot.reviewers import ReviewContext
from reviewbot.reviewers import model as mr
from reviewbot.reviewers.ruff import RuffReviewer

TINY = 'smollm2-135m'
NEW = 'import pickle\n\n\ndef load(raw):\n    data = pickle.loads(raw)\n    return data\n'


def test_the_answer_is_started_at_the_line_and_parsed_strictly():
    assert answer_prefix('    data = pickle.loads(raw)') == '    data ='
    assert answer_prefix('    return eval(x)') == '    return'
    assert answer_prefix('    foo(x)') == '    '
    old = '    data = pickle.loads(raw)'
    assert parse_answer('    data =', ' json.loads(raw)', old) == '    data = json.loads(raw)'
    assert parse_answer('    data =', 'data = json.loads(raw)', old) == '    data = json.loads(raw)'
    for bad in ('', '```', '# use json instead', ' pickle.loads(raw)'):
        assert parse_answer('    data =', bad, old) is None, bad
    assert with_imports('    data = json.loads(raw)', NEW) == '    import json\n    data = json.loads(raw)'
    assert with_imports('    data = pickle.loads(raw)', NEW) == '    data = pickle.loads(raw)'


@pytest.fixture(scope='module')
def tiny():
    from reviewbot.engine import load_model
    try:
        return load_model(TINY)
    except ModelError as e:
        pytest.skip(f'{TINY} not exported here: {e}')


def stage(tiny, tmp_path, monkeypatch, deadline=None):
    monkeypatch.setenv(mr.ENV_CACHE_DIR, str(tmp_path / 'cache'))
    config = defaults().override(model=TINY)
    diff = parse_diff(unified_patch('app.py', 'import pickle\n', NEW).encode())
    ctx = ReviewContext(config=config, read_new_file={'app.py': NEW}.get, deadline=deadline)
    finding = Finding('app.py', 5, 5, Severity.ERROR, 'ruff/S301', '`pickle` can run code (ruff S301)',
                      'ruff', anchored_code='    data = pickle.loads(raw)')
    reviewer = mr.ModelReviewer(config, model=tiny)
    return run([finding], diff, ctx, [RuffReviewer(config)], model=reviewer)


def test_tiny_model_proposals_are_verified_or_counted(tiny, tmp_path, monkeypatch):
    out = stage(tiny, tmp_path, monkeypatch)
    [f] = out.findings
    s = out.summary
    assert 1 <= s['model_calls'] <= 2  # one attempt, at most one retry
    if f.suggestion is None:
        assert sum(s['rejected'].values()) == s['model_calls'] and f.fix is None
    else:  # anything shown passed every check
        assert f.verified_fix is not None and f.fix.source == 'model' and 'finding-gone' in f.fix.checks


def test_no_time_left_no_model_call(tiny, tmp_path, monkeypatch):
    out = stage(tiny, tmp_path, monkeypatch, deadline=time.monotonic() + 0.5)
    assert out.summary['model_calls'] == 0 and out.summary['model_skipped_for_time'] == 1
    assert any('skipped' in n for n in out.notes)
    assert out.findings[0].suggestion is None
