"""`reviewbot review` on every example diff, with the deterministic reviewers, in every format, is
byte-identical to tests/golden/ (recorded before the issue-15 layout work by scripts/golden_examples.py;
only the json timings and the annotations' random stop token are normalised). A change that is meant to
change the output regenerates them: `python scripts/golden_examples.py tests/golden`, and says why."""
from __future__ import annotations

import difflib
import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / 'golden'


def _script():
    spec = importlib.util.spec_from_file_location('golden_examples', ROOT / 'scripts' / 'golden_examples.py')
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def results() -> dict:
    return _script().collect()


def test_every_example_and_format_is_recorded() -> None:
    golden = _script()
    index = json.loads((GOLDEN / 'index.json').read_text(encoding='utf-8'))
    expected = {f'{golden.case_name(d)}.{how}.{fmt}' for d in golden.example_diffs()
                for how in ('range', 'file') for fmt in golden.FORMATS}
    assert set(index) == expected
    assert len(golden.example_diffs()) >= 6
    # the goldens are not vacuous: findings with fixes, exit 1 at the default fail level, and a clean run
    assert index['sql-injection.range.terminal']['exit'] == 1
    assert index['planted--refactor.range.json']['exit'] == 0
    assert '"verified": 2' in (GOLDEN / 'sql-injection.range.json.out').read_text(encoding='utf-8')


def test_review_output_is_byte_identical_to_golden(results: dict) -> None:
    index = json.loads((GOLDEN / 'index.json').read_text(encoding='utf-8'))
    problems = []
    for name, (stdout, code, stderr) in sorted(results.items()):
        want = (GOLDEN / f'{name}.out').read_bytes()
        if stdout != want:
            delta = difflib.unified_diff(want.decode('utf-8', 'replace').splitlines(),
                                         stdout.decode('utf-8', 'replace').splitlines(),
                                         'golden', 'now', lineterm='', n=1)
            problems.append(f'{name}: stdout differs\n' + '\n'.join(list(delta)[:30]))
        if (code, stderr) != (index[name]['exit'], index[name]['stderr']):
            problems.append(f'{name}: exit {code} stderr {stderr!r}, golden {index[name]}')
    assert not problems, '\n'.join(problems)


def test_normalise_replaces_only_the_variable_parts() -> None:
    golden = _script()
    text = '{\n  "timings": {\n    "ruff": 0.0171,\n    "total": 1.5e-05\n  },\n  "x": 0.5\n}'
    want = '{\n  "timings": {\n    "ruff": 0.0,\n    "total": 0.0\n  },\n  "x": 0.5\n}'
    assert golden.normalise(text, 'json') == want
    token = 'reviewbot-' + 'ab' * 16
    assert golden.normalise(f'::stop-commands::{token}\nx\n::{token}::', 'github-annotations') == \
        '::stop-commands::reviewbot-STOPTOKEN\nx\n::reviewbot-STOPTOKEN::'
    assert golden.normalise(text, 'terminal') == text
