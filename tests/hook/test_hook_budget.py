"""The hook's budget is a promise: with a budget far too small for the whole review, `reviewbot hook`
(a real subprocess in a real repo, all four default reviewers, the real tiny model) still answers,
with what it has, says what it skipped for the budget, and exits per the fail level."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import GitRepo
from tests.hook.conftest import run_hook, snapshot

TINY = 'smollm2-135m'
MODULE = '"""A small module."""\nimport os\n\n\n' + ''.join(
    f'def f{i}(x):\n    y = x + {i}\n    return y * {i + 1}\n\n\n' for i in range(8))
CHANGE = '''
def load_user(db, name):
    query = "SELECT * FROM users WHERE name = '" + name + "'"
    rows = db.execute(query).fetchall()
    if len(rows) == 0:
        return None
    user = rows[0]
    path = os.path.join("/tmp", name)
    with open(path) as fh:
        data = fh.read()
    result = eval(data)
    for k in result:
        if k is None:
            continue
        user[k] = result[k]
    return user
'''


@pytest.mark.parametrize('fail_level', ['error', 'none'])
def test_a_tiny_budget_answers_with_what_it_has_and_says_what_it_skipped(repo: GitRepo, tmp_path: Path,
                                                                         fail_level: str):
    from reviewbot.engine.paths import exported_precisions
    if not exported_precisions(TINY, None):
        pytest.skip(f'{TINY} is not exported here')
    # "info": the model triages (the default asks it for nothing when no finding needs a fix)
    repo.write('.reviewbot.toml', 'reviewers = ["secrets", "ruff", "patterns", "model"]\nmodel_findings = "info"\n')
    repo.write('mod.py', MODULE)
    repo.commit('initial')
    repo.write('mod.py', MODULE + CHANGE)
    repo.git('add', 'mod.py')
    before = snapshot(repo.path)
    proc = run_hook(repo.path, '--budget', '1', '--model', TINY, '--fail-level', fail_level,
                    REVIEWBOT_DAEMON='off', REVIEWBOT_CACHE_DIR=str(tmp_path / 'cache'))
    out, err = proc.stdout.decode(), proc.stderr.decode()
    assert 'Traceback' not in err, err
    summary = [ln for ln in out.splitlines() if 'reviewed 1 file' in ln]
    assert summary, out
    # the model cannot even load in 1 s: its unit is reported skipped for the budget, never silently
    budget_skip = r'skipped: .*budget: (not reached|still running at the deadline)[^)]*, model only'
    assert re.search(budget_skip, summary[0]), out
    errors = [ln for ln in out.splitlines() if ': error: ' in ln]
    assert proc.returncode == (1 if errors and fail_level == 'error' else 0), (out, err)
    assert snapshot(repo.path) == before
