"""The hook's answer cache (reviewbot.answers): an index reviewed whole before gets the same answer
without a review; anything the answer depends on that changes brings a new review."""
from __future__ import annotations

from pathlib import Path

from reviewbot import answers, toolenv
from tests.conftest import GitRepo
from tests.hook.conftest import AWS_KEY_LINE, index_bytes, snapshot
from tests.hook.conftest import run_hook as _run_hook

SAME = 'the same answer as for this index before'
CHANGE = 'import subprocess\n\n\ndef main(cmd):\n    return subprocess.call(cmd, shell=True)\n'


def run_hook(repo: Path, *args: str, **env: str):
    # semgrep's tool environment stays where setup built it when XDG_CACHE_HOME moves the caches
    return _run_hook(repo, *args, **{'REVIEWBOT_TOOLS_DIR': str(toolenv.tools_dir()), **env})


def _repo(repo: GitRepo, config: str = 'reviewers = ["secrets", "ruff"]\n') -> None:
    repo.write('.reviewbot.toml', config)
    repo.write('app.py', 'def main():\n    return 1\n')
    repo.commit('initial')
    repo.write('app.py', CHANGE + AWS_KEY_LINE)
    repo.git('add', 'app.py')


def _stored(cache: Path) -> list[Path]:
    return sorted((cache / 'reviewbot' / 'answers').glob('*.json'))


def test_an_unchanged_index_gets_the_same_answer_without_a_review(repo: GitRepo, tmp_path: Path):
    _repo(repo)
    cache = str(tmp_path / 'cache')
    first = run_hook(repo.path, XDG_CACHE_HOME=cache)
    assert first.returncode == 1, first.stderr
    assert b'secret/aws-access-key' in first.stdout and b'S602' in first.stdout
    assert SAME.encode() not in first.stderr
    assert len(_stored(tmp_path / 'cache')) == 1
    before, raw_index = snapshot(repo.path), index_bytes(repo.path)
    again = run_hook(repo.path, XDG_CACHE_HOME=cache)
    assert again.returncode == 1 and again.stdout == first.stdout
    assert SAME.encode() in again.stderr
    assert snapshot(repo.path) == before and index_bytes(repo.path) == raw_index  # still read-only
    # an unstaged edit is not what the commit contains: still the same answer
    repo.write('app.py', CHANGE + AWS_KEY_LINE + '# not staged\n')
    assert SAME.encode() in run_hook(repo.path, XDG_CACHE_HOME=cache).stderr
    # --no-cache reviews again, and stores nothing
    fresh = run_hook(repo.path, '--no-cache', XDG_CACHE_HOME=cache)
    assert fresh.returncode == 1 and fresh.stdout == first.stdout and SAME.encode() not in fresh.stderr


def test_what_the_answer_depends_on_brings_a_new_review(repo: GitRepo, tmp_path: Path):
    _repo(repo)
    cache = str(tmp_path / 'cache')
    assert run_hook(repo.path, XDG_CACHE_HOME=cache).returncode == 1
    # an option: a new answer (and it is stored under its own key)
    lenient = run_hook(repo.path, '--fail-level', 'none', XDG_CACHE_HOME=cache)
    assert lenient.returncode == 0 and SAME.encode() not in lenient.stderr
    # the environment reviewbot reads
    env = run_hook(repo.path, XDG_CACHE_HOME=cache, NO_COLOR='1')
    assert SAME.encode() not in env.stderr
    # the staged content: the secret removed from the index
    repo.write('app.py', CHANGE)
    repo.git('add', 'app.py')
    fixed = run_hook(repo.path, XDG_CACHE_HOME=cache)
    assert SAME.encode() not in fixed.stderr and b'aws-access-key' not in fixed.stdout and b'S602' in fixed.stdout
    # the diff git gives: a .gitattributes in the work tree that makes the file binary to diff
    assert SAME.encode() in run_hook(repo.path, XDG_CACHE_HOME=cache).stderr
    (repo.path / '.gitattributes').write_text('app.py -diff\n')
    binary = run_hook(repo.path, XDG_CACHE_HOME=cache)
    assert SAME.encode() not in binary.stderr and b'S602' not in binary.stdout
    (repo.path / '.gitattributes').unlink()
    # the configuration file
    repo.write('.reviewbot.toml', 'reviewers = ["secrets"]\n')
    config = run_hook(repo.path, XDG_CACHE_HOME=cache)
    assert SAME.encode() not in config.stderr and b'S602' not in config.stdout
    assert SAME.encode() in run_hook(repo.path, XDG_CACHE_HOME=cache).stderr


def test_a_partial_answer_is_not_kept(repo: GitRepo, tmp_path: Path):
    # the model (its findings asked) is missing (fail-open): its part is skipped, so the answer is not
    # whole and not kept;
    # a file over the size limit is decided by the diff and the config, and does not count
    _repo(repo, 'reviewers = ["secrets", "ruff", "model"]\nmax_file_changed_lines = 10\nmodel_findings = "info"\n')
    repo.write('big.py', ''.join(f'X_{i} = {i}\n' for i in range(20)))
    repo.git('add', 'big.py')
    cache = tmp_path / 'cache'
    env = {'XDG_CACHE_HOME': str(cache), 'REVIEWBOT_MODEL_DIR': str(tmp_path / 'no-models')}
    first = run_hook(repo.path, **env)
    assert first.returncode == 1 and b'model unavailable' in first.stdout
    assert b'over size limit' in first.stdout
    assert _stored(cache) == []
    assert SAME.encode() not in run_hook(repo.path, **env).stderr
    # the same with only the deterministic reviewers: whole, so kept
    assert run_hook(repo.path, '--reviewers', 'secrets,ruff', **env).returncode == 1
    assert len(_stored(cache)) == 1


def _report(skipped, unfinished=(), reviewers=('secrets', 'ruff', 'model')):
    from reviewbot.core import Coverage, Report
    return Report([], Coverage(skipped=list(skipped)), reviewers=list(reviewers), unfinished=list(unfinished))


def test_whole_counts_only_what_another_run_could_do_better():
    from reviewbot.core import Skipped
    decided = [Skipped('a.py', 'over size limit (20 changed lines > 10)'),
               Skipped('a.py', 'triage: low risk score 0.12', reviewer='model', hunk=0, lines=3),
               Skipped('README.md', 'model: not a source file the model reviews', reviewer='model')]
    assert answers.whole(_report(decided))
    for reason, reviewer in [('budget: not reached', 'model'), ('model: model unavailable', 'model'),
                             ('ruff: over the time budget, not checked', 'ruff'),
                             ('budget: still running at the deadline', 'patterns')]:
        assert not answers.whole(_report([*decided, Skipped('a.py', reason, reviewer=reviewer)]))
    assert not answers.whole(_report(decided, ['fixes: the time budget ran out during the fix stage']))
    assert not answers.whole(_report(decided, reviewers=('secrets', 'cloud')))  # the network decides


def test_a_fix_stage_that_could_not_run_is_not_kept(repo: GitRepo, tmp_path: Path):
    # ruff S506 has a semgrep fix rule: with semgrep missing the fix stage is cut, so nothing is kept
    repo.write('.reviewbot.toml', 'reviewers = ["ruff"]\n')
    repo.write('app.py', 'import yaml\n')
    repo.commit('initial')
    repo.write('app.py', 'import yaml\n\n\ndef load(path):\n    return yaml.load(open(path))\n')
    repo.git('add', 'app.py')
    cache = tmp_path / 'cache'
    env = {'XDG_CACHE_HOME': str(cache), 'REVIEWBOT_SEMGREP': str(tmp_path / 'no-semgrep')}
    first = run_hook(repo.path, **env)
    assert b'S506' in first.stdout and b'fix rules' in first.stdout, first.stdout
    assert _stored(cache) == []


def test_nothing_is_kept_inside_the_work_tree_and_a_bad_cache_is_no_error(repo: GitRepo, tmp_path: Path):
    _repo(repo)
    before = snapshot(repo.path)
    inside = run_hook(repo.path, REVIEWBOT_CACHE_DIR=str(repo.path / '.rbcache'))
    assert inside.returncode == 1 and b'aws-access-key' in inside.stdout
    assert snapshot(repo.path) == before  # no answers folder appeared in the work tree
    # a folder other users may write is not trusted: not read, and the review runs as ever
    shared = tmp_path / 'shared'
    (shared / 'answers').mkdir(parents=True)
    assert run_hook(repo.path, REVIEWBOT_CACHE_DIR=str(shared)).returncode == 1
    (shared / 'answers').chmod(0o777)
    again = run_hook(repo.path, REVIEWBOT_CACHE_DIR=str(shared))
    assert again.returncode == 1 and SAME.encode() not in again.stderr
    # a dangling link or a vanished file is part of the key, never a traceback
    (tmp_path / 'gone.py').symlink_to(tmp_path / 'nowhere.py')
    assert answers.file_identity(tmp_path / 'gone.py') == [str(tmp_path / 'gone.py'), None, None]


def test_store_keeps_the_newest_and_ignores_a_damaged_entry(tmp_path: Path):
    folder = tmp_path / 'answers'
    for i in range(answers.MAX_ENTRIES + 3):
        answers.store(f'k{i}', answers.Answer(f'out {i}\n', i % 2), folder)
    assert len(list(folder.glob('*.json'))) == answers.MAX_ENTRIES
    newest = answers.MAX_ENTRIES + 2
    assert answers.load(f'k{newest}', folder) == answers.Answer(f'out {newest}\n', newest % 2)
    assert answers.load('k0', folder) is None  # the oldest went
    (folder / 'bad.json').write_text('{"stdout": 3')
    assert answers.load('bad', folder) is None
    assert oct(folder.stat().st_mode & 0o777) == '0o700'
