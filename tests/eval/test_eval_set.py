"""The eval set is well-formed and the scorer's arithmetic is right (authored cases only: the
real-commit cases need local snapshots of other projects)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from reviewbot.core import LineKind
from reviewbot.diffparse import parse_diff
from tests.conftest import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / 'eval'))
import build
import score


@pytest.fixture(scope='module')
def cases_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp('cases')
    # an empty mirrors folder: only authored cases, and the manifest entries are counted as skipped
    counts = build.build(out, tmp_path_factory.mktemp('no-mirrors'), quiet=True)
    assert counts['skipped'] == sum(1 for ln in (REPO_ROOT / 'eval/manifest.jsonl').read_text().splitlines()
                                    if ln.strip() and not ln.startswith('#'))
    return out


def test_every_case_is_a_parseable_git_diff_with_its_new_file(cases_dir: Path):
    cases = score.load_cases(cases_dir)
    assert len(cases) >= 120
    for c in cases:
        diff = parse_diff(c.diff)
        assert [f.path for f in diff.files] == [c.path], c.id
        assert c.diff.startswith(f'diff --git a/{c.path} b/{c.path}\n'.encode())
        new_text = c.read_new_file(c.path)
        assert new_text is not None, c.id
        lines = new_text.splitlines()
        for ln in diff.files[0].hunks[0].lines:
            if ln.kind is not LineKind.REMOVED:
                assert lines[ln.new_lineno - 1] == ln.text, c.id


def test_defect_lines_are_lines_the_diff_shows_and_each_defect_has_a_fix(cases_dir: Path):
    cases = score.load_cases(cases_dir)
    ids = {c.id for c in cases}
    labels = {c.label for c in cases}
    assert labels == {'defect', 'vuln', 'fix', 'clean'}
    langs = {c.lang for c in cases}
    assert {'python', 'javascript', 'typescript', 'go', 'java', 'c'} <= langs
    for c in cases:
        if c.label in score.POSITIVE:
            shown = set(parse_diff(c.diff).files[0].new_line_index())
            assert c.defect_lines and set(c.defect_lines) <= shown, c.id
            assert f'{c.id}-fix' in ids
        else:
            assert c.defect_lines == []


def test_every_line_baseline_flags_every_authored_defect(cases_dir: Path):
    cases = score.load_cases(cases_dir)
    runs = {'every-line': score.run_reviewer('every-line', cases, score.defaults(), progress=False)}
    m = score.metrics(cases, score.union(runs, ['every-line']))
    assert m['recall'] == 1.0
    assert m['clean_flagged'] > 0.9  # only fixes that merely delete lines escape it
    assert m['pair_score'] < 0.1


def test_metrics_arithmetic():
    def case(cid, label, defect_lines=(), pair=None):
        return score.Case(cid, label, 'python', 'a.py', list(defect_lines), pair, 'authored', Path('.'))
    cases = [case('a', 'defect', [10], 'a'), case('a-fix', 'fix', pair='a'),
             case('b', 'vuln', [5], 'b'), case('b-fix', 'fix', pair='b'), case('c', 'clean')]
    found = {
        'a': [{'line': 13}, {'line': 30}],  # one hit (within 3), one miss
        'a-fix': [],
        'b': [{'line': 9}],  # 4 lines away: not a hit
        'b-fix': [{'line': 1}],
        'c': [{'line': None}],  # a file-level note still counts against precision
    }
    m = score.metrics(cases, found)
    assert m['recall'] == 0.5 and m['defect_recall'] == 1.0 and m['vuln_recall'] == 0.0
    assert m['pair_score'] == 0.5
    assert m['fp_per_clean'] == round(2 / 3, 4)
    assert m['precision'] == 0.2
    assert m['findings'] == 5


def test_score_cli_writes_json_and_markdown(cases_dir: Path, tmp_path: Path):
    assert score.main(['--cases', str(cases_dir), '--reviewers', 'every-line,ruff',
                       '--combos', 'every-line+ruff', '--name', 't', '--out', str(tmp_path)]) == 0
    result = json.loads((tmp_path / 't.json').read_text())
    assert set(result['configs']) == {'every-line', 'ruff', 'every-line+ruff'}
    ruff = result['configs']['ruff']
    assert ruff['vuln_recall'] > 0.3 and ruff['fp_per_clean'] < 0.1
    md = (tmp_path / 't.md').read_text()
    assert '| ruff |' in md and 'pair score' in md


def test_imported_findings_are_scored_and_combined(cases_dir: Path, tmp_path: Path):
    cases = score.load_cases(cases_dir)
    target = next(c for c in cases if c.id == 'go-sqli')
    external = tmp_path / 'model.json'
    external.write_text(json.dumps({'go-sqli': [{'line': target.defect_lines[0], 'message': 'SQL'}],
                                    'go-sqli-clean': [{'line': 3}]}))
    assert score.main(['--cases', str(cases_dir), '--reviewers', 'ruff', '--import', f'model={external}',
                       '--combos', 'ruff+model', '--name', 'imp', '--out', str(tmp_path)]) == 0
    result = json.loads((tmp_path / 'imp.json').read_text())
    model = result['configs']['model']
    assert model['findings'] == 2 and model['precision'] == 0.5
    assert result['configs']['ruff+model']['findings'] == result['configs']['ruff']['findings'] + 2


def test_strict_recall_ignores_hits_on_unchanged_lines(tmp_path: Path):
    d = tmp_path / 'bug'
    d.mkdir()
    (d / 'diff.patch').write_text(
        'diff --git a/m.py b/m.py\n--- a/m.py\n+++ b/m.py\n@@ -10,7 +10,7 @@ def f():\n'
        '     a = 1\n     b = 2\n     c = 3\n-    return items[:n]\n+    return items[:n - 1]\n'
        '     d = 4\n     e = 5\n     g = 6\n')
    bug = score.Case('bug', 'defect', 'python', 'm.py', [13], 'bug', 'commit', d)
    fix = score.Case('bug-fix', 'fix', 'python', 'm.py', [], 'bug', 'commit', tmp_path / 'none')
    assert bug.strict_lines == {13}
    m = score.metrics([bug, fix], {'bug': [{'line': 10}]})  # the hunk's first context line
    assert m['recall'] == 1.0 and m['strict_recall'] == 0.0 and m['strict_pair_score'] == 0.0
    m = score.metrics([bug, fix], {'bug': [{'line': 13}]})
    assert m['strict_recall'] == 1.0 and m['strict_pair_score'] == 1.0
