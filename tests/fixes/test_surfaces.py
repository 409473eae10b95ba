"""Every surface carries the verified fix in its own format, through the real CLI on a real git
repo: JSON, terminal, SARIF (validated against the official schema), rdjsonl, the GitHub and
GitLab fakes (suggestion blocks), `--fix-patch` (git apply takes it; the findings are gone after)
and `--apply-fixes`. A plain review writes nothing."""
from __future__ import annotations

import json
import re
import subprocess

import pytest

from tests.conftest import GitRepo, run_cli
from tests.fakes.github_api import FakeGitHub
from tests.fakes.gitlab_api import FakeGitLab
from tests.reporters.test_sarif import official  # noqa: F401 (the fixture)

BASE = 'import yaml\n\n\ndef read(p):\n    return p\n'
CHANGED = ('import yaml\n\n\ndef read(p, seen=[]):\n    if p is "x":\n        return None\n'
           '    return yaml.load(open(p))\n')
REVIEWERS = ('--reviewers', 'secrets,ruff,patterns')


@pytest.fixture
def staged(repo: GitRepo) -> GitRepo:
    repo.write('app.py', BASE)
    repo.commit('base')
    repo.write('app.py', CHANGED)
    repo.git('add', 'app.py')
    return repo


def review(repo: GitRepo, *args: str) -> subprocess.CompletedProcess:
    proc = run_cli('review', *REVIEWERS, '--fail-level', 'none', *args, cwd=repo.path)
    assert proc.returncode == 0, proc.stderr.decode()
    return proc


def test_json_and_terminal_carry_the_fixes_and_nothing_is_written(staged: GitRepo) -> None:
    doc = json.loads(review(staged, '--staged', '--format', 'json').stdout)
    by_cat = {f['category']: f for f in doc['findings']}
    assert by_cat['ruff/S506']['suggestion'] == '    return yaml.safe_load(open(p))'
    assert by_cat['ruff/F632']['fix']['source'] == 'ruff'
    assert by_cat['ruff/B006']['fix']['safety'] == 'unsafe'
    assert doc['fixes']['verified'] == 3
    out = review(staged, '--staged').stdout.decode()
    assert '    - def read(p, seen=[]):' in out and '    + def read(p, seen=None):' in out
    assert 'fix (ruff, unsafe: applied only with --unsafe-fixes):' in out
    assert (staged.path / 'app.py').read_text() == CHANGED  # a review writes nothing


def test_sarif_fixes_validate_against_the_official_schema(staged: GitRepo, official) -> None:  # noqa: F811
    doc = json.loads(review(staged, '--staged', '--format', 'sarif').stdout)
    official.validate(doc)
    results = doc['runs'][0]['results']
    fixed = [r for r in results if r.get('fixes')]
    assert len(fixed) == 3
    s506 = next(r for r in results if r['ruleId'] == 'ruff/S506')
    rep = s506['fixes'][0]['artifactChanges'][0]['replacements'][0]
    assert rep['insertedContent']['text'] == '    return yaml.safe_load(open(p))'
    assert rep['deletedRegion'] == {'startLine': 7, 'endLine': 7}


def test_rdjsonl_suggestions(staged: GitRepo) -> None:
    lines = [json.loads(ln) for ln in review(staged, '--staged', '--format', 'rdjsonl').stdout.splitlines()]
    s506 = next(d for d in lines if d['code']['value'] == 'ruff/S506')
    assert s506['suggestions'] == [{'range': {'start': {'line': 7}, 'end': {'line': 7}},
                                    'text': '    return yaml.safe_load(open(p))'}]


def test_fix_patch_applies_and_the_findings_are_gone(staged: GitRepo, tmp_path) -> None:
    patch = tmp_path / 'fixes.patch'
    proc = review(staged, '--staged', '--fix-patch', str(patch))
    assert '2 verified fixes written' in proc.stderr.decode()  # the unsafe B006 fix is left out
    assert 'unsafe fixes left out' in proc.stderr.decode()
    check = subprocess.run(['git', 'apply', '--check', str(patch)], cwd=staged.path, capture_output=True,
                           check=False)
    assert check.returncode == 0, check.stderr.decode()
    review(staged, '--staged', '--fix-patch', str(patch), '--unsafe-fixes')
    subprocess.run(['git', 'apply', str(patch)], cwd=staged.path, check=True)
    staged.git('add', 'app.py')
    doc = json.loads(review(staged, '--staged', '--format', 'json').stdout)
    assert doc['findings'] == []


def test_apply_fixes_writes_the_work_tree_only_when_asked(staged: GitRepo) -> None:
    proc = review(staged, '--staged', '--apply-fixes')
    assert 'applied 2 verified fixes to the work tree' in proc.stderr.decode()
    text = (staged.path / 'app.py').read_text()
    assert 'yaml.safe_load' in text and 'p == "x"' in text and 'seen=[]' in text
    assert staged.git('diff', '--cached', '--name-only').strip() == 'app.py'  # the index is untouched
    assert 'yaml.load(' in staged.git('show', ':app.py')


def test_apply_fixes_refuses_a_work_tree_that_moved_on(staged: GitRepo) -> None:
    staged.write('app.py', '# rewritten since it was staged\n')
    proc = run_cli('review', *REVIEWERS, '--staged', '--apply-fixes', cwd=staged.path)
    assert proc.returncode == 2
    err = proc.stderr.decode()
    assert err.count('\n') == 1 and 'do not apply to the work tree' in err and 'Traceback' not in err
    assert (staged.path / 'app.py').read_text() == '# rewritten since it was staged\n'


def _range_report(repo: GitRepo, tmp_path) -> tuple[str, dict[str, str], str, str]:
    repo.write('app.py', BASE)
    base = repo.commit('base')
    repo.write('app.py', CHANGED)
    head = repo.commit('change')
    report = tmp_path / 'report.json'
    review(repo, '--range', f'{base}..HEAD', '--format', 'json', '-o', str(report))
    patch = repo.git('diff', f'{base}..HEAD', '--', 'app.py')
    return str(report), {'app.py': patch[patch.index('@@'):]}, head, base


def _publish(args: list[str], env: dict[str, str], cwd) -> subprocess.CompletedProcess:
    proc = run_cli('publish', *args, cwd=cwd, env=env)
    assert proc.returncode == 0, proc.stderr.decode()
    return proc


def test_github_receives_suggestion_blocks(repo: GitRepo, tmp_path) -> None:
    report, files, head, base = _range_report(repo, tmp_path)
    with FakeGitHub() as fake:
        fake.add_user('ghp_x', 'bot')
        fake.add_repo('acme', 'app')
        fake.add_pull('acme/app', 7, head, files, base_sha=base)
        _publish(['--report', report, '--github-pr', '7', '--repo', 'acme/app'],
                 {'GITHUB_TOKEN': 'ghp_x', 'GITHUB_API_URL': fake.base_url}, repo.path)
        comments = fake.repos['acme/app'].pulls[7].review_comments
    bodies = {c['line']: c for c in comments}
    assert '```suggestion\n    return yaml.safe_load(open(p))\n```' in bodies[7]['body']
    assert '```suggestion\n    if p == "x":\n```' in bodies[5]['body']
    assert '```suggestion\ndef read(p, seen=None):\n    if seen is None:\n        seen = []\n```' in bodies[4]['body']


def test_gitlab_receives_suggestion_blocks(repo: GitRepo, tmp_path) -> None:
    report, files, head, base = _range_report(repo, tmp_path)
    with FakeGitLab() as fake:
        fake.add_user('glpat-x', 'bot')
        fake.add_project(42, 'acme/app')
        fake.add_mr(42, 3, head, files, base_sha=base)
        _publish(['--report', report, '--gitlab-mr', '3', '--project', '42'],
                 {'GITLAB_TOKEN': 'glpat-x', 'CI_API_V4_URL': fake.base_url}, repo.path)
        notes = [n for n in fake.projects[42].mrs[3].notes if n['type'] == 'DiffNote']
    blocks = [re.search(r'```(suggestion[^\n]*)\n(.*?)\n```', n['body'], re.DOTALL) for n in notes]
    got = {m.group(2): m.group(1) for m in blocks if m}
    assert got['    return yaml.safe_load(open(p))'] == 'suggestion'
    assert got['    if p == "x":'] == 'suggestion'


def test_the_hook_prints_the_fix_and_the_command_and_writes_nothing(staged: GitRepo) -> None:
    from tests.hook.conftest import index_bytes, run_hook, snapshot
    staged.write('.reviewbot.toml', 'reviewers = ["secrets", "ruff"]\n')
    before, raw_index = snapshot(staged.path), index_bytes(staged.path)
    proc = run_hook(staged.path)
    out = proc.stdout.decode()
    assert proc.returncode == 1, out + proc.stderr.decode()
    assert '    + def read(p, seen=None):' in out
    assert ('reviewbot: 3 verified fixes; to apply them to the work tree: '
            'reviewbot review --staged --apply-fixes --unsafe-fixes') in out
    assert snapshot(staged.path) == before and index_bytes(staged.path) == raw_index
