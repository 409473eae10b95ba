"""`reviewbot hook` run as git runs a hook (a subprocess in the repo), on real temp repositories."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from reviewbot import config as cfgmod
from reviewbot.commands import hook
from reviewbot.core import FileChange
from reviewbot.errors import ModelError
from reviewbot.reviewers import ReviewContext, ReviewerResult
from reviewbot.sources import staged
from tests.conftest import GitRepo
from tests.hook.conftest import (
    AWS_KEY_LINE,
    GITHUB_TOKEN_LINE,
    RENAMED_BODY,
    REVIEWBOT_TOML,
    index_bytes,
    messy_repo,
    run_hook,
    snapshot,
)


def test_blocks_a_staged_secret_and_touches_nothing(repo: GitRepo):
    messy_repo(repo, staged_secret=True)
    before, raw_index = snapshot(repo.path), index_bytes(repo.path)
    proc = run_hook(repo.path)
    assert proc.returncode == 1, proc.stderr
    out = proc.stdout.decode()
    assert 'app.py:3: error' in out and 'secret/aws-access-key' in out
    # only the index is reviewed: the token in unstaged/untracked/intent-to-add files is not
    assert 'github-token' not in out
    assert 'blocking the commit' in out
    assert snapshot(repo.path) == before
    assert index_bytes(repo.path) == raw_index  # not even a stat refresh of the index


def test_passes_when_the_secret_is_only_outside_the_index(repo: GitRepo):
    messy_repo(repo, staged_secret=False)
    before, raw_index = snapshot(repo.path), index_bytes(repo.path)
    proc = run_hook(repo.path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert b'secret/' not in proc.stdout
    assert b'0 findings' in proc.stdout or b'no findings' in proc.stdout
    assert snapshot(repo.path) == before
    assert index_bytes(repo.path) == raw_index


def test_staged_source_ignores_intent_to_add_and_follows_renames(repo: GitRepo):
    messy_repo(repo, staged_secret=False)
    repo.write('new_name.py', RENAMED_BODY + AWS_KEY_LINE)
    repo.git('add', 'new_name.py')
    src = staged(repo.path)
    text = src.data.decode()
    assert 'intent.py' not in text  # `git add -N` content is not staged content
    assert 'rename from old_name.py' in text and 'rename to new_name.py' in text
    proc = run_hook(repo.path)
    assert proc.returncode == 1
    assert 'new_name.py:11: error' in proc.stdout.decode()


def test_nothing_staged_exits_fast_and_quietly(repo: GitRepo):
    repo.write('.reviewbot.toml', REVIEWBOT_TOML)
    repo.commit('initial')
    repo.write('untracked.py', GITHUB_TOKEN_LINE)
    proc = run_hook(repo.path)
    assert proc.returncode == 0
    assert proc.stdout == b''
    assert b'nothing reviewable staged' in proc.stderr


def test_only_skipped_files_staged_is_nothing_to_review(repo: GitRepo):
    repo.write('.reviewbot.toml', REVIEWBOT_TOML)
    repo.commit('initial')
    repo.write('poetry.lock', GITHUB_TOKEN_LINE)  # lock files are skipped by default
    repo.git('add', 'poetry.lock')
    proc = run_hook(repo.path)
    assert proc.returncode == 0
    assert b'nothing reviewable staged' in proc.stderr


def test_first_commit_of_a_repository(repo: GitRepo):
    repo.write('.reviewbot.toml', REVIEWBOT_TOML)
    repo.write('a.py', AWS_KEY_LINE)
    repo.git('add', '.')
    proc = run_hook(repo.path)
    assert proc.returncode == 1
    assert b'a.py:1: error' in proc.stdout


@pytest.mark.parametrize('skip', ['reviewbot', 'ruff,reviewbot', ' other , reviewbot '])
def test_skip_env(repo: GitRepo, skip: str):
    messy_repo(repo, staged_secret=True)
    proc = run_hook(repo.path, SKIP=skip)
    assert proc.returncode == 0
    assert b'skipped (SKIP=reviewbot)' in proc.stderr


def test_skip_of_another_hook_does_not_skip_reviewbot(repo: GitRepo):
    messy_repo(repo, staged_secret=True)
    assert run_hook(repo.path, SKIP='reviewbot-extra,ruff').returncode == 1


def test_fail_level_from_the_hook_section(repo: GitRepo):
    messy_repo(repo, staged_secret=True)
    repo.write('.reviewbot.toml', REVIEWBOT_TOML + '[hook]\nfail_level = "none"\n')
    proc = run_hook(repo.path)
    assert proc.returncode == 0
    assert b'secret/aws-access-key' in proc.stdout  # still shown, just not blocking
    # the command line wins over the file
    assert run_hook(repo.path, '--fail-level', 'error').returncode == 1


def test_bad_hook_config_is_one_line(repo: GitRepo):
    messy_repo(repo, staged_secret=True)
    repo.write('.reviewbot.toml', REVIEWBOT_TOML + '[hook]\non_missing_model = "maybe"\n')
    proc = run_hook(repo.path)
    assert proc.returncode == 2
    err = proc.stderr.decode().strip()
    assert len(err.splitlines()) == 1 and 'hook.on_missing_model' in err and 'Traceback' not in err


# --- pre-push ------------------------------------------------------------------------------------

def _pushed_repo(tmp_path: Path) -> tuple[GitRepo, str, str, str]:
    """origin has `base` (which has a secret already); local adds a clean commit and then a secret."""
    remote = tmp_path / 'origin.git'
    subprocess.run(['git', 'init', '-q', '--bare', str(remote)], check=True)
    repo = GitRepo(tmp_path / 'work')
    repo.write('.reviewbot.toml', REVIEWBOT_TOML)
    repo.write('old.py', GITHUB_TOKEN_LINE)  # already pushed: a push hook must not report it again
    base = repo.commit('base')
    repo.git('remote', 'add', 'origin', str(remote))
    repo.git('push', '-q', 'origin', 'main')
    repo.write('clean.py', 'x = 1\n')
    clean = repo.commit('clean')
    repo.write('leak.py', AWS_KEY_LINE)
    leak = repo.commit('leak')
    return repo, base, clean, leak


def test_pre_push_reviews_only_the_pushed_range(tmp_path: Path):
    repo, base, clean, leak = _pushed_repo(tmp_path)
    ok = run_hook(repo.path, PRE_COMMIT_FROM_REF=base, PRE_COMMIT_TO_REF=clean, PRE_COMMIT_REMOTE_NAME='origin')
    assert ok.returncode == 0, ok.stdout
    assert b'github-token' not in ok.stdout
    bad = run_hook(repo.path, PRE_COMMIT_FROM_REF=base, PRE_COMMIT_TO_REF=leak)
    assert bad.returncode == 1
    assert b'leak.py:1: error' in bad.stdout and b'old.py' not in bad.stdout
    assert b'blocking the push' in bad.stdout


def test_pre_push_new_branch_reviews_commits_not_on_the_remote(tmp_path: Path):
    repo, base, _clean, leak = _pushed_repo(tmp_path)
    zeros = '0' * 40
    lines = f'refs/heads/topic {leak} refs/heads/topic {zeros}\n'.encode()
    proc = run_hook(repo.path, '--stage', 'pre-push', '--push-lines', '--remote', 'origin', stdin=lines)
    assert proc.returncode == 1
    out = proc.stdout.decode()
    assert 'leak.py:1: error' in out and 'old.py' not in out  # base is on origin: not re-reviewed
    # a new branch whose commits are all on the remote already: nothing to review
    lines = f'refs/heads/other {base} refs/heads/other {zeros}\n'.encode()
    proc = run_hook(repo.path, '--stage', 'pre-push', '--push-lines', '--remote', 'origin', stdin=lines)
    assert proc.returncode == 0
    assert b'nothing reviewable in the pushed commits' in proc.stderr


def test_pre_push_deleting_a_branch_reviews_nothing(tmp_path: Path):
    repo, base, _clean, _leak = _pushed_repo(tmp_path)
    lines = f'(delete) {"0" * 40} refs/heads/topic {base}\n'.encode()
    proc = run_hook(repo.path, '--stage', 'pre-push', '--push-lines', stdin=lines)
    assert proc.returncode == 0


def test_pre_push_whole_new_history(tmp_path: Path):
    """pre-commit's own pre-push for a history whose root is new gives branch names, no refs."""
    repo = GitRepo(tmp_path / 'work')
    repo.write('.reviewbot.toml', REVIEWBOT_TOML)
    repo.write('a.py', AWS_KEY_LINE)
    repo.commit('root')
    proc = run_hook(repo.path, PRE_COMMIT_LOCAL_BRANCH='refs/heads/main', PRE_COMMIT_REMOTE_NAME='origin')
    assert proc.returncode == 1
    assert b'a.py:1: error' in proc.stdout


def test_pre_push_without_a_range_is_a_usage_error(repo: GitRepo):
    repo.commit('initial')
    proc = run_hook(repo.path, '--stage', 'pre-push')
    assert proc.returncode == 2
    assert b'no pushed range' in proc.stderr


# --- a missing model: fail-open / fail-closed ------------------------------------------------------

class MissingModelReviewer:
    """A reviewer whose model is not on disk: it raises ModelError as the local reviewer does."""
    name = 'local-model'

    def review(self, files: list[FileChange], ctx: ReviewContext) -> ReviewerResult:
        raise ModelError("model 'tiny' is not fetched: run `reviewbot model fetch tiny`")


def test_fail_open_lets_the_other_reviewers_decide(repo: GitRepo, capsys):
    from reviewbot import pipeline
    from reviewbot.reviewers.secrets import SecretsReviewer
    messy_repo(repo, staged_secret=True)
    cfg = cfgmod.defaults()
    reviewers = [hook.FailOpen(MissingModelReviewer()), hook.FailOpen(SecretsReviewer())]
    report = pipeline.review(staged(repo.path), cfg, stage='pre-commit', reviewers=reviewers)
    assert [f.category for f in report.findings] == ['secret/aws-access-key']
    assert any('local-model did not run' in n and 'reviewbot model fetch tiny' in n for n in report.notes)
    assert any(s.reviewer == 'local-model' and 'model unavailable' in s.reason for s in report.coverage.skipped)
    err = capsys.readouterr().err
    assert 'fail-open' in err and 'reviewbot model fetch tiny' in err


def test_fail_closed_blocks_with_the_fetch_command(repo: GitRepo):
    from reviewbot import pipeline
    messy_repo(repo, staged_secret=False)
    cfg = cfgmod.defaults()
    with pytest.raises(ModelError) as info:
        try:
            pipeline.review(staged(repo.path), cfg, stage='pre-commit', reviewers=[MissingModelReviewer()])
        except ModelError as e:
            raise ModelError(hook._closed_text(e, cfg)) from None
    msg = str(info.value)
    assert 'reviewbot model fetch tiny' in msg and 'fail-closed' in msg and 'SKIP=reviewbot' in msg
    assert '\n' not in msg


def test_hook_reviewers_wraps_per_policy():
    cfg = cfgmod.defaults()
    opened = hook.hook_reviewers(['secrets'], cfg, 'fail-open')
    assert [type(r).__name__ for r in opened] == ['FailOpen'] and opened[0].name == 'secrets'
    closed = hook.hook_reviewers(['secrets'], cfg, 'fail-closed')
    assert [r.name for r in closed] == ['secrets'] and not isinstance(closed[0], hook.FailOpen)


def test_missing_model_text_adds_the_fetch_command_once():
    cfg = cfgmod.defaults()
    assert hook.missing_model_text(ModelError('model file is corrupt'), cfg).endswith(
        f'get it with `reviewbot model fetch {cfg.model} && reviewbot model export {cfg.model}`')
    for already in ('not fetched: run `reviewbot model fetch x`', 're-export it with `reviewbot model export x`'):
        assert hook.missing_model_text(ModelError(already), cfg) == already


def test_parse_push_lines():
    z = '0' * 40
    text = f'refs/heads/a b {"1" * 40} refs/heads/x {z}\n\n'
    assert hook.parse_push_lines(text) == [('refs/heads/a b', '1' * 40, 'refs/heads/x', z)]


def test_help_is_fast_to_import():
    """The hook path must not import heavy modules before it knows there is something to review."""
    code = ('import sys; from reviewbot.cli import build_parser; build_parser(); '
            'print(sorted(m for m in ("onnxruntime", "github", "gitlab", "httpx", "torch", "numpy") '
            'if m in sys.modules))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, check=True,
                         cwd=Path(__file__).resolve().parents[2]).stdout
    assert out.strip() == b'[]'


@pytest.mark.parametrize('policy', ['fail-open', 'fail-closed'])
def test_missing_local_model_end_to_end(repo: GitRepo, tmp_path: Path, policy: str):
    """With the real local-model reviewer (once it is in the pipeline) and an empty model dir."""
    empty = tmp_path / 'no-models'
    empty.mkdir()
    # the model asked for its findings: by default (findings and model fixes off) it is never needed
    repo.write('.reviewbot.toml', f'reviewers = ["secrets", "model"]\nmodel_dir = "{empty}"\n'
                                  f'model_findings = "info"\n[hook]\non_missing_model = "{policy}"\n')
    repo.write('app.py', 'x = 1\n')
    repo.commit('initial')
    repo.write('app.py', 'x = 2\n')
    repo.git('add', 'app.py')
    before = snapshot(repo.path)
    proc = run_hook(repo.path, REVIEWBOT_MODEL_DIR=str(empty))
    err = proc.stderr.decode()
    assert 'reviewbot model ' in err, err  # the command that fixes it
    if policy == 'fail-open':
        assert proc.returncode == 0, err
        assert 'fail-open' in err
    else:
        assert proc.returncode == 2 and 'fail-closed' in err and 'Traceback' not in err
    assert snapshot(repo.path) == before
