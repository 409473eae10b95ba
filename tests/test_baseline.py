"""`reviewbot baseline` and .reviewbot-baseline.json, honoured by `review`, the hook and `ci`: real git
repositories, the real CLI processes, the secrets reviewer (no model needed)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from reviewbot import baseline
from reviewbot.core import Coverage, Report
from reviewbot.errors import EXIT_USAGE
from tests.ci.test_ci_command import PullRequest, github_pr_env, pr, run_ci  # noqa: F401 - pr is a fixture
from tests.conftest import GitRepo, run_cli
from tests.hook.conftest import (
    AWS_KEY_LINE,
    GITHUB_TOKEN_LINE,
    REVIEWBOT_TOML,
    run_hook,
    snapshot,
)
from tests.publish.helpers import finding

FILE = baseline.BASELINE_FILE


def review(repo: GitRepo, *args: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    proc = run_cli('review', '--format', 'json', *args, cwd=repo.path)
    assert proc.returncode in (0, 1), proc.stderr.decode()
    return proc.returncode, json.loads(proc.stdout)


def found(report: dict) -> list[tuple[str, str]]:  # type: ignore[type-arg]
    return sorted((f['path'], f['category']) for f in report['findings'])


@pytest.fixture
def secrets(repo: GitRepo) -> str:
    """Three secret findings (two files); returns the commit before them."""
    repo.write('.reviewbot.toml', REVIEWBOT_TOML)
    start = repo.commit('start')
    repo.write('keys.py', 'import os\n' + AWS_KEY_LINE + 'x = 1\n' + GITHUB_TOKEN_LINE)
    repo.write('other.py', GITHUB_TOKEN_LINE)
    repo.commit('secrets')
    return start


ALL = [('keys.py', 'secret/aws-access-key'), ('keys.py', 'secret/github-token'),
       ('other.py', 'secret/github-token')]


def test_baseline_silences_exactly_its_fingerprints_across_line_shifts(repo: GitRepo, secrets: str) -> None:
    span = f'{secrets}..HEAD'
    proc = run_cli('baseline', '--range', span, cwd=repo.path)
    assert proc.returncode == 0, proc.stderr.decode()
    written = (repo.path / FILE).read_bytes()
    doc = json.loads(written)
    assert doc['version'] == 1 and [(e['path'], e['category']) for e in doc['findings']] == ALL
    assert run_cli('baseline', '--range', span, cwd=repo.path).returncode == 0
    assert (repo.path / FILE).read_bytes() == written  # stable: same findings, same bytes

    code, report = review(repo, '--range', span)
    assert code == 0 and report['findings'] == []
    assert 'baseline .reviewbot-baseline.json: 3 known findings silenced (3 fingerprints in the file)' \
        in report['notes']

    # keep two of the three: exactly the third is reported
    doc['findings'] = [e for e in doc['findings'] if e['path'] != 'other.py']
    (repo.path / FILE).write_text(json.dumps(doc))
    code, report = review(repo, '--range', span)
    assert code == 1 and found(report) == [('other.py', 'secret/github-token')]
    assert any('2 known findings silenced' in n for n in report['notes'])
    code, report = review(repo, '--range', span, '--no-baseline')
    assert found(report) == ALL and not any('baseline' in n for n in report['notes'])

    # five lines pushed in above the secrets: still silenced (no line numbers in a fingerprint) ...
    repo.write('keys.py', '# a\n# b\n# c\n# d\n# e\nimport os\n' + AWS_KEY_LINE + 'x = 1\n' + GITHUB_TOKEN_LINE)
    repo.commit('shift')
    code, report = review(repo, '--range', span)
    assert found(report) == [('other.py', 'secret/github-token')]
    # ... but the flagged code itself changed: a new finding, reported
    repo.write('keys.py', 'import os\n' + AWS_KEY_LINE.replace('aws_key', 'backup_key') + 'x = 1\n'
               + GITHUB_TOKEN_LINE)
    repo.commit('another key')
    code, report = review(repo, '--range', span)
    assert found(report) == [('keys.py', 'secret/aws-access-key'), ('other.py', 'secret/github-token')]


def test_baseline_of_the_staged_change_lets_the_hook_pass_and_it_writes_nothing(repo: GitRepo) -> None:
    repo.write('.reviewbot.toml', REVIEWBOT_TOML)
    repo.write('app.py', 'def main():\n    return 1\n')
    repo.commit('start')
    repo.write('app.py', 'def main():\n    return 1\n' + AWS_KEY_LINE)
    repo.git('add', 'app.py')
    assert run_hook(repo.path).returncode == 1
    proc = run_cli('baseline', cwd=repo.path)  # the staged change, as `review` does by default
    assert proc.returncode == 0, proc.stderr.decode()
    assert '1 fingerprint(s) written' in proc.stderr.decode()

    before = snapshot(repo.path)
    proc = run_hook(repo.path)
    assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()
    assert '1 known finding silenced' in proc.stdout.decode()
    assert snapshot(repo.path) == before

    repo.write('more.py', GITHUB_TOKEN_LINE)
    repo.git('add', 'more.py')
    proc = run_hook(repo.path)
    out = proc.stdout.decode()
    assert proc.returncode == 1 and 'more.py' in out and 'aws-access-key' not in out


def test_baseline_with_nothing_to_review_writes_nothing(repo: GitRepo) -> None:
    repo.write('.reviewbot.toml', REVIEWBOT_TOML)
    repo.commit('start')
    proc = run_cli('baseline', cwd=repo.path)
    assert proc.returncode == EXIT_USAGE and len(proc.stderr.decode().splitlines()) == 1
    assert not (repo.path / FILE).exists()


def test_baseline_all_and_merge(repo: GitRepo, secrets: str) -> None:
    assert run_cli('baseline', '--all', cwd=repo.path).returncode == 0
    assert len(json.loads((repo.path / FILE).read_text())['findings']) == 3
    repo.write('new.py', AWS_KEY_LINE)
    repo.git('add', 'new.py')
    assert run_cli('baseline', '--merge', cwd=repo.path).returncode == 0
    entries = json.loads((repo.path / FILE).read_text())['findings']
    assert [(e['path'], e['category']) for e in entries] == sorted(ALL + [('new.py', 'secret/aws-access-key')])


CORRUPT = {
    'truncated JSON': b'{"version": 1, "findings": [',
    'not an object': b'[]',
    'unknown version': b'{"version": 9, "findings": []}',
    'findings not a list': b'{"version": 1, "findings": {}}',
    'bad fingerprint': b'{"version": 1, "findings": [{"fingerprint": "not hex\\nforged line"}]}',
    'binary': b'\xff\xfe\x00garbage',
    'empty': b'',
}


def assert_one_line_error(proc, what: str = 'not a valid reviewbot baseline') -> None:  # type: ignore[no-untyped-def]
    err = proc.stderr.decode()
    assert proc.returncode == EXIT_USAGE, err
    assert len(err.splitlines()) == 1 and err.startswith('reviewbot: ') and what in err, err
    assert 'Traceback' not in err


@pytest.mark.parametrize('content', list(CORRUPT.values()), ids=list(CORRUPT))
def test_a_corrupt_baseline_is_a_one_line_error(repo: GitRepo, secrets: str, content: bytes) -> None:
    (repo.path / FILE).write_bytes(content)
    assert_one_line_error(run_cli('review', '--range', f'{secrets}..HEAD', cwd=repo.path))
    repo.write('x.py', 'x = 2\n')
    repo.git('add', 'x.py')
    before = snapshot(repo.path)
    assert_one_line_error(run_hook(repo.path))
    assert snapshot(repo.path) == before
    # --merge must not replace a file it cannot read; --no-baseline reviews without it
    assert_one_line_error(run_cli('baseline', '--merge', cwd=repo.path))
    assert (repo.path / FILE).read_bytes() == content
    assert run_cli('review', '--range', f'{secrets}..HEAD', '--no-baseline', cwd=repo.path).returncode == 1


def test_a_missing_explicit_baseline_is_a_one_line_error(repo: GitRepo, secrets: str) -> None:
    proc = run_cli('review', '--range', f'{secrets}..HEAD', '--baseline', 'nope.json', cwd=repo.path)
    assert_one_line_error(proc, 'cannot read baseline nope.json')


def test_ci_honours_the_baseline_in_the_work_tree(pr: PullRequest, tmp_path: Path) -> None:  # noqa: F811
    env = github_pr_env(pr, tmp_path)
    proc = run_ci(pr.repo.path, '--json', str(tmp_path / 'before.json'), **env)
    assert proc.returncode == 1 and '::error file=leak.py' in proc.stdout.decode()
    proc = run_cli('baseline', '--range', f'{pr.merge_base}..{pr.head}', cwd=pr.repo.path)
    assert proc.returncode == 0, proc.stderr.decode()

    proc = run_ci(pr.repo.path, '--json', str(tmp_path / 'r.json'), **env)
    out = proc.stdout.decode()
    assert proc.returncode == 0, out + proc.stderr.decode()
    assert '::error ' not in out
    report = Report.from_dict(json.loads((tmp_path / 'r.json').read_text()))
    assert report.findings == []
    assert any('1 known finding silenced' in n for n in report.notes)

    (pr.repo.path / FILE).write_text('{"version": 1')
    assert_one_line_error(run_ci(pr.repo.path, **env))


def test_load_dumps_round_trip_is_sorted_and_stable(tmp_path: Path) -> None:
    fs = [finding('b.py', 3, 'x/one', 'm', 'code b'), finding('a.py', 9, 'x/two', 'm', 'code a'),
          finding('a.py', 1, 'x/one', 'm', 'code a2'), finding('a.py', 40, 'x/one', 'm', 'code a2')]
    path = tmp_path / FILE
    baseline.write(path, baseline.entries_of(fs))
    text = path.read_text()
    loaded = baseline.load(path)
    assert [(e['path'], e['category']) for e in loaded.entries] == [('a.py', 'x/one'), ('a.py', 'x/two'),
                                                                   ('b.py', 'x/one')]
    baseline.write(path, baseline.entries_of(reversed(fs)))
    assert path.read_text() == text
    report = Report(findings=fs + [finding('c.py', 1, 'x/one', 'm', 'new')], coverage=Coverage())
    assert baseline.apply(report, loaded) == 4
    assert [f.path for f in report.findings] == ['c.py']


def test_a_bad_version_is_named_not_quoted(repo: GitRepo, secrets: str) -> None:
    (repo.path / FILE).write_text(json.dumps({'version': 'OUTSIDE-SECRET-VALUE-42', 'findings': []}))
    proc = run_cli('review', '--range', f'{secrets}..HEAD', cwd=repo.path)
    assert_one_line_error(proc, 'unsupported "version"')
    assert 'OUTSIDE-SECRET-VALUE-42' not in proc.stderr.decode()
    (repo.path / FILE).write_text('{"version": 1, "findings": [SECRET-IN-BAD-JSON]}')
    proc = run_cli('review', '--range', f'{secrets}..HEAD', cwd=repo.path)
    assert_one_line_error(proc, 'not JSON (line 1 column')
    assert 'SECRET-IN-BAD-JSON' not in proc.stderr.decode()


def test_a_baseline_link_or_oversized_file_is_refused(repo: GitRepo, secrets: str, tmp_path: Path) -> None:
    outside = tmp_path / 'outside.json'
    outside.write_text(baseline.dumps([]))
    (repo.path / FILE).symlink_to(outside)
    assert_one_line_error(run_cli('review', '--range', f'{secrets}..HEAD', cwd=repo.path),
                          'refusing to read baseline')
    (repo.path / FILE).unlink()
    with open(repo.path / FILE, 'wb') as fh:
        fh.truncate(baseline.MAX_BYTES + 1)
    assert_one_line_error(run_cli('review', '--range', f'{secrets}..HEAD', cwd=repo.path), 'larger than 10 MB')
    (repo.path / FILE).unlink()
    os.mkfifo(tmp_path / 'fifo')  # named with --baseline: refused, not waited on
    assert_one_line_error(run_cli('review', '--range', f'{secrets}..HEAD', '--baseline', str(tmp_path / 'fifo'),
                                  cwd=repo.path, timeout=60), 'not a regular file')


def test_writing_the_baseline_replaces_a_planted_tmp_link(repo: GitRepo, secrets: str, tmp_path: Path) -> None:
    victim = tmp_path / 'victim'
    victim.write_text('keep me\n')
    (repo.path / (FILE + '.tmp')).symlink_to(victim)
    (repo.path / FILE).symlink_to(tmp_path / 'victim2')
    proc = run_cli('baseline', '--range', f'{secrets}..HEAD', cwd=repo.path)
    assert proc.returncode == 0, proc.stderr.decode()
    assert victim.read_text() == 'keep me\n' and not (tmp_path / 'victim2').exists()
    assert not (repo.path / FILE).is_symlink() and len(baseline.load(repo.path / FILE).entries) == 3
