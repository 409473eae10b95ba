"""eval/risk/mine.py: the held-out projects are refused, and SZZ finds the right hunks in a real git history."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, GitRepo

sys.path.insert(0, str(REPO_ROOT / 'eval' / 'risk'))
import mine

MINE = REPO_ROOT / 'eval' / 'risk' / 'mine.py'


def run_mine(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(MINE), *args], capture_output=True, text=True, timeout=120,
                          check=False)


@pytest.mark.parametrize('name', ['pandas-dev/pandas', 'tornadoweb/tornado', 'psf/requests', 'pallets/click',
                                  'ytdl-org/youtube-dl', 'cool-RR/PySnooper', 'PyCQA/bandit', 'someone/SVEN',
                                  'x/SecurityEval', 'psf/black', 'tiangolo/fastapi'])
def test_held_out_project_is_refused_with_one_line_and_exit_2(tmp_path: Path, name: str):
    repo = GitRepo(tmp_path / 'r')
    repo.write('a.py', 'x = 1\n')
    repo.commit('init')
    out = tmp_path / 'out'
    proc = run_mine('--repo', str(repo.path), '--name', name, '--out', str(out), '--no-counts')
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and 'Traceback' not in proc.stderr
    assert 'refusing' in proc.stderr
    assert not out.exists()


def test_held_out_project_in_the_pins_or_selection_is_refused(tmp_path: Path):
    pins = tmp_path / 'projects.toml'
    pins.write_text('[[project]]\nname = "pallets/flask"\ncommit = "HEAD"\n\n'
                    '[[project]]\nname = "spotify/luigi"\ncommit = "HEAD"\n')
    proc = run_mine('--pins', str(pins), '--mirrors', str(tmp_path), '--out', str(tmp_path / 'o'), '--no-counts')
    assert proc.returncode == 2 and 'luigi' in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    pins.write_text('[[project]]\nname = "pallets/flask"\ncommit = "HEAD"\n')
    proc = run_mine('--pins', str(pins), '--projects', 'keras', '--out', str(tmp_path / 'o'), '--no-counts')
    assert proc.returncode == 2 and 'keras' in proc.stderr and 'Traceback' not in proc.stderr


def test_the_shipped_pins_hold_no_held_out_project():
    projects = mine.load_projects(REPO_ROOT / 'eval' / 'risk' / 'projects.toml')
    assert len(projects) >= 40
    assert all(mine.excluded(p['name']) is None and len(p['commit']) == 40 for p in projects)
    assert mine.excluded('pallets/flask') is None and mine.excluded('encode/httpx') is None


@pytest.mark.parametrize(('subject', 'body', 'want'), [
    ('Fix crash on empty input (#123)', '', True),
    ('Handle empty input', 'Fixes #12', True),
    ('Handle empty input', 'closes https://github.com/o/r/issues/7', True),
    ('Correct the bound, issue #4', '', True),
    ('Fix typo in docstring', '', False),
    ('Refactor: fix naming', '', False),
    ('Add a retry option', 'Closes #12', False),
    ('Speed up parsing', '* fix tests\n* fix lint', False),
    ('Bump version', 'fixes #3', False),
])
def test_fix_commits_are_found_by_message(subject: str, body: str, want: bool):
    assert mine.fix_message(subject, body) is want


CALC_V1 = '''\
def total(xs):
    return sum(xs)


def clamp(x, lo, hi):
    return max(lo, min(x, hi))
'''


def test_szz_labels_bug_clean_and_fix_hunks_of_a_real_history(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    repo = GitRepo(tmp_path / 'proj')
    day = [0]

    def commit(msg: str) -> str:
        day[0] += 1
        when = f'2024-01-{day[0]:02d}T12:00:00+00:00'
        monkeypatch.setenv('GIT_AUTHOR_DATE', when)
        monkeypatch.setenv('GIT_COMMITTER_DATE', when)
        return repo.commit(msg)

    repo.write('pkg/calc.py', CALC_V1)
    repo.write('tests/test_calc.py', 'from pkg.calc import total\n\n\ndef test_total():\n    assert total([1]) == 1\n')
    commit('initial import')
    # the bug: an off-by-one mean
    calc = CALC_V1 + '\n\ndef mean(xs):\n    n = len(xs)\n    return total(xs) / (n - 1)\n'
    repo.write('pkg/calc.py', calc)
    bug1 = commit('add mean')
    # a clean change, never blamed, in another file
    repo.write('pkg/fmt.py', 'def show(x):\n    return f"{x:.2f}"\n')
    clean = commit('add a formatter')
    # the second bug: a wrong comparison in a new function
    calc += '\n\ndef positive(xs):\n    return [x for x in xs if x >= 0]\n'
    repo.write('pkg/calc.py', calc)
    bug2 = commit('add positive filter')
    # not a fix: a comment-only edit whose subject says "typo"
    repo.write('pkg/calc.py', calc.replace('def mean(xs):\n', 'def mean(xs):  # the average\n'))
    calc = calc.replace('def mean(xs):\n', 'def mean(xs):  # the average\n')
    typo = commit('Fix typo in a comment')
    # the fixes (one also touches a test, which is never blamed)
    calc = calc.replace('/ (n - 1)', '/ n')
    repo.write('pkg/calc.py', calc)
    repo.write('tests/test_calc.py', 'from pkg.calc import mean\n\n\ndef test_mean():\n    assert mean([2]) == 2\n')
    fix1 = commit('Divide by the count in mean()\n\nFixes #3')
    calc = calc.replace('x >= 0', 'x > 0')
    repo.write('pkg/calc.py', calc)
    fix2 = commit('Fix positive() keeping zeros')
    # a test-only "fix" is not a fix
    repo.write('tests/test_calc.py', 'from pkg.calc import mean\n\n\ndef test_mean():\n    assert mean([4]) == 4\n')
    commit('Fix flaky test')

    out = tmp_path / 'out'
    assert mine.main(['--repo', str(repo.path), '--name', 'example/calc', '--out', str(out), '--no-counts']) == 0
    records = [json.loads(ln) for ln in (out / 'hunks.jsonl').read_text().splitlines()]
    by_label: dict[str, list[dict]] = {}
    for r in records:
        by_label.setdefault(r['label'], []).append(r)
    assert {r['commit'] for r in by_label['bug']} == {bug1, bug2}
    assert {r['commit'] for r in by_label['fix']} == {fix1, fix2}
    assert [r['commit'] for r in by_label['clean']] == [clean]
    assert typo not in {r['commit'] for r in records}
    assert all(r['path'].startswith('pkg/') for r in records)

    ids = {r['id']: r for r in records}
    assert len(ids) == len(records)
    b1 = next(r for r in by_label['bug'] if r['commit'] == bug1)
    assert '+    return total(xs) / (n - 1)\n' in b1['hunk'] and b1['hunk'].startswith('@@ -')
    assert b1['file_before'] == CALC_V1 and b1['parent'] == repo.git('rev-parse', f'{bug1}^').strip()
    f1 = ids[b1['pair']]
    assert f1['commit'] == fix1 and f1['pair'] == b1['id']
    assert '-    return total(xs) / (n - 1)\n' in f1['hunk'] and '+    return total(xs) / n\n' in f1['hunk']
    assert (b1['added'], b1['removed'], b1['files_in_commit']) == (5, 0, 1)
    assert b1['new_start'] == 4 and b1['date'] == '2024-01-02T12:00:00Z'
    b2 = next(r for r in by_label['bug'] if r['commit'] == bug2)
    assert ids[b2['pair']]['commit'] == fix2

    done = json.loads((out / 'done' / 'example+calc').read_text())
    assert (done['bug'], done['clean'], done['fix']) == (2, 1, 2)
    assert 'example/calc\t2\t1\t2' in (out / 'STATUS').read_text()
    # deterministic: mining again gives the same records
    out2 = tmp_path / 'out2'
    assert mine.main(['--repo', str(repo.path), '--name', 'example/calc', '--out', str(out2), '--no-counts']) == 0
    assert (out2 / 'hunks.jsonl').read_text() == (out / 'hunks.jsonl').read_text()


def test_a_huge_introducer_is_not_blamed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    repo = GitRepo(tmp_path / 'proj')
    repo.write('pkg/a.py', 'def f(x):\n    return x\n')
    repo.commit('initial')
    # one commit touching 11 files (> 10: huge) introduces the bug
    for i in range(10):
        repo.write(f'pkg/m{i}.py', f'V = {i}\n')
    repo.write('pkg/a.py', 'def f(x):\n    return x + 1\n')
    repo.commit('big reorganisation')
    repo.write('pkg/a.py', 'def f(x):\n    return x\n')
    repo.commit('Fix f adding one')
    records, counts = mine.mine_project(mine.Git(repo.path / '.git'), 'example/big', 'HEAD')
    assert records == [] and counts['fix_commits'] == 1 and counts['introducers'] == 0


def test_a_snapshot_missing_its_largest_blobs_is_still_mined(tmp_path: Path):
    """Snapshots here lack files of 4 MiB and more: numstat cannot read them, the mining goes on."""
    repo = GitRepo(tmp_path / 'proj')
    repo.write('pkg/a.py', 'def f(x):\n    return x\n')
    repo.commit('initial')
    repo.write('media/demo.mp4', bytes(range(256)) * 64)
    repo.write('pkg/a.py', 'def f(x):\n    return x + 1\n')
    repo.commit('add a demo video and change f')
    repo.write('pkg/a.py', 'def f(x):\n    return x\n')
    repo.commit('Fix f adding one')
    blob = repo.git('rev-parse', 'HEAD:media/demo.mp4').strip()
    (repo.path / '.git' / 'objects' / blob[:2] / blob[2:]).unlink()
    numstat = subprocess.run(['git', 'log', '--numstat'], cwd=repo.path, capture_output=True, check=False)
    assert numstat.returncode != 0  # git itself cannot numstat that commit any more
    records, counts = mine.mine_project(mine.Git(repo.path / '.git'), 'example/media', 'HEAD')
    assert counts['fix_commits'] == 1 and counts['introducers'] == 1
    assert [r['label'] for r in records] == ['bug', 'fix']
    assert records[0]['files_in_commit'] == 2
