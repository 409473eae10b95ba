"""A pull request plants links and special files in the checkout that `reviewbot ci` then reads or
writes: a relative receipts_file (or its directory) linked out of the checkout, `<report>.tmp` linked
to a file outside, `.reviewbot-baseline.json` linked out or a FIFO. Real git histories, real `reviewbot
ci` processes, the loopback fakes of the trust tests; the "outside" files stand for ~/.bashrc and the
like of the runner's user."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ci.test_ci_command import ci_env, run_ci
from tests.ci.test_ci_trust import (
    PR,
    World,
    cloud_toml,
    notes_and_egress,
    one_line,
)

SECRET_VALUE = 'OUTSIDE-SECRET-VALUE-42'


def head_with_links(pr: PR, links: dict[str, Path], *, merge: bool = True) -> PR:
    """The pull request's head also commits `links` (name -> target) as symbolic links."""
    r = pr.repo
    r.git('checkout', '-q', 'feature')
    for name, target in links.items():
        (r.path / name).symlink_to(os.path.relpath(target, r.path))
    head = r.commit('links')
    if not merge:  # GitLab merge-request pipelines check out the source branch's head
        r.git('checkout', '-q', '--detach', head)
        return PR(r, pr.base, head, head)
    r.git('checkout', '-q', '--detach', 'main')
    r.git('merge', '-q', '--no-ff', '-m', 'merge', head)
    return PR(r, pr.base, head, r.git('rev-parse', 'HEAD').strip())


@pytest.mark.parametrize('receipts_file,link', [('reviewbot-egress.jsonl', 'reviewbot-egress.jsonl'),
                                                ('logs/egress.jsonl', 'logs')], ids=['file', 'directory'])
def test_a_receipts_file_linked_out_of_the_checkout_is_not_written(world: World, receipts_file: str,
                                                                   link: str):
    victim_dir = world.tmp / 'home'
    victim_dir.mkdir()
    victim = victim_dir / ('.bashrc' if link == receipts_file else 'egress.jsonl')
    if link == receipts_file:
        victim.write_text('# the runner user\'s shell start-up file\n')
    pr = world.pull_request({'.reviewbot.toml': cloud_toml(world.legit.base_url, receipts_file=receipts_file)},
                            {'$(touch PWNED).py': 'x = 1\n'})
    pr = head_with_links(pr, {link: victim if link == receipts_file else victim_dir})
    before = {p.name: p.read_bytes() for p in victim_dir.iterdir()}
    proc = run_ci(pr.repo.path, '--json', str(world.tmp / 'r.json'), **world.github_env(pr))
    err = proc.stderr.decode()
    assert proc.returncode == 1 and 'Traceback' not in err, err  # the local review still ran
    assert {p.name: p.read_bytes() for p in victim_dir.iterdir()} == before
    assert world.legit.posts == []  # no receipt, no request
    notes, egress = notes_and_egress(world.tmp / 'r.json')
    refused = [n for n in notes if 'refusing to write the egress receipt' in n]
    assert len(refused) == 1 and 'symbolic link' in refused[0] and '\n' not in refused[0], notes
    assert egress == []


def test_a_relative_receipts_file_without_links_is_still_written(world: World):
    pr = world.pull_request({'.reviewbot.toml': cloud_toml(world.legit.base_url,
                                                           receipts_file='audit/egress.jsonl')}, {})
    proc = run_ci(pr.repo.path, '--json', str(world.tmp / 'r.json'), **world.github_env(pr))
    assert proc.returncode == 1, proc.stderr.decode()
    assert len(world.legit.posts) == 1
    lines = (pr.repo.path / 'audit' / 'egress.jsonl').read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])['files']


def test_report_tmp_names_linked_out_of_the_checkout_are_not_written_through(world: World):
    home = world.tmp / 'home'
    home.mkdir()
    profile = home / '.profile'
    profile.write_text('export PATH=/usr/local/bin:$PATH\n')
    pr = world.pull_request({'.reviewbot.toml': 'reviewers = ["secrets"]\n'}, {"$(touch$IFS'PWNED').py": 'x = 1\n'})
    pr = head_with_links(pr, {'reviewbot-report.json.tmp': profile, 'reviewbot-report.sarif.tmp': home / '.bashrc'},
                         merge=False)
    proc = run_ci(pr.repo.path, '--json', 'reviewbot-report.json', '--sarif', 'reviewbot-report.sarif',
                  **world.gitlab_env(pr))
    assert proc.returncode == 1, proc.stderr.decode()
    assert profile.read_text() == 'export PATH=/usr/local/bin:$PATH\n'
    assert sorted(p.name for p in home.iterdir()) == ['.profile']
    for name in ('reviewbot-report.json', 'reviewbot-report.sarif'):
        out = pr.repo.path / name
        assert out.is_file() and not out.is_symlink() and json.loads(out.read_text())
        assert (pr.repo.path / (name + '.tmp')).is_symlink()  # the planted links are left alone
    assert not [p for p in pr.repo.path.iterdir() if p.name.startswith('.reviewbot-report')]  # no temp left


def test_a_report_directory_linked_out_of_the_checkout_is_refused(world: World):
    outside = world.tmp / 'outside-dir'
    outside.mkdir()
    pr = world.pull_request({'.reviewbot.toml': 'reviewers = ["secrets"]\n'}, {})
    pr = head_with_links(pr, {'out': outside}, merge=False)
    proc = run_ci(pr.repo.path, '--json', 'out/report.json', **world.gitlab_env(pr))
    err = proc.stderr.decode()
    assert proc.returncode == 2 and 'Traceback' not in err, err
    assert 'reviewbot: refusing to write out/report.json: out is a symbolic link' in err, err
    assert list(outside.iterdir()) == []
    (pr.repo.path / 'real').mkdir()
    proc = run_ci(pr.repo.path, '--json', 'real/report.json', '--sarif', str(world.tmp / 'r.sarif'),
                  **world.gitlab_env(pr))
    assert proc.returncode == 1 and (pr.repo.path / 'real' / 'report.json').is_file(), proc.stderr.decode()
    assert (world.tmp / 'r.sarif').is_file()  # outside the checkout: written as given


def test_a_baseline_linked_out_of_the_checkout_is_refused_without_quoting_it(world: World):
    outside = world.tmp / 'outside-secret.json'
    outside.write_text(json.dumps({'version': SECRET_VALUE, 'findings': []}))
    pr = world.pull_request({'.reviewbot.toml': 'reviewers = ["secrets"]\n'}, {})
    pr = head_with_links(pr, {'.reviewbot-baseline.json': outside})
    proc = run_ci(pr.repo.path, **world.github_env(pr))
    err = one_line(proc.stderr.decode())
    assert proc.returncode == 2 and 'symbolic link' in err and SECRET_VALUE not in err, err


def test_a_baseline_linked_to_a_fifo_does_not_hang_the_job(world: World):
    fifo = world.tmp / 'fifo'  # stands for any device file (/dev/zero would exhaust memory)
    os.mkfifo(fifo)
    pr = world.pull_request({'.reviewbot.toml': 'reviewers = ["secrets"]\n'}, {})
    pr = head_with_links(pr, {'.reviewbot-baseline.json': fifo})
    proc = subprocess.run([sys.executable, '-m', 'reviewbot', 'ci'], cwd=pr.repo.path, capture_output=True,
                          env=ci_env(**world.github_env(pr)), timeout=60, check=False)  # the old code blocked here
    err = one_line(proc.stderr.decode())
    assert proc.returncode == 2 and 'symbolic link' in err, err
