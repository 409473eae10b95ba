"""`reviewbot review` end to end: real git repos, the real CLI process."""
from __future__ import annotations

import json

from tests.conftest import run_cli
from tests.reviewers.test_secrets import AWS_ID, GH_TOKEN, PEM_BODY

SECRETS_ONLY = 'reviewers = ["secrets"]\n'


def review_json(repo, *args):
    proc = run_cli('review', '--format', 'json', *args, cwd=repo.path)
    assert proc.returncode in (0, 1), proc.stderr.decode()
    return proc.returncode, json.loads(proc.stdout)


def test_range_findings_point_at_the_flagged_line_at_head(repo):
    repo.write('.reviewbot.toml', SECRETS_ONLY)
    repo.write('old name.py', ''.join(f'value_{i} = {i}\n' for i in range(40)))
    repo.write('notrail.py', 'a = 1\nb = 2')
    repo.commit('base')
    repo.git('mv', 'old name.py', 'new name.py')
    lines = [f'value_{i} = {i}' for i in range(40)]
    lines.insert(25, f'AWS_KEY = "{AWS_ID}"')
    repo.write('new name.py', '\n'.join(lines) + '\n')
    repo.write('notrail.py', f'a = 1\nb = 2\nTOKEN = "{GH_TOKEN}"')
    head = repo.commit('add secrets')
    code, report = review_json(repo, '--range', 'HEAD~1..HEAD')
    assert code == 1
    found = {(f['path'], f['category']): f for f in report['findings']}
    assert set(found) == {('new name.py', 'secret/aws-access-key'),
                          ('notrail.py', 'secret/github-token')}
    for (path, _), f in found.items():
        text_at_head = repo.show(head, path)[f['line'] - 1]
        assert ('AWS_KEY' in text_at_head) or ('TOKEN' in text_at_head)
        assert AWS_ID not in json.dumps(f) and GH_TOKEN not in json.dumps(f)
    assert report['schema_version'] == 1
    assert report['coverage']['files_reviewed'] == 2


def test_staged_secrets_fail_at_error_and_clean_diff_passes(repo):
    repo.write('.reviewbot.toml', SECRETS_ONLY)
    repo.write('app.py', 'print("hi")\n')
    repo.commit('base')
    repo.write('app.py', f'print("hi")\nAWS = "{AWS_ID}"\nGH = "{GH_TOKEN}"\nKEY = """\n'
                         f'-----BEGIN RSA PRIVATE KEY-----\n{PEM_BODY}\n'
                         '-----END RSA PRIVATE KEY-----\n"""\n')
    repo.git('add', 'app.py')
    proc = run_cli('review', '--staged', '--fail-level', 'error', cwd=repo.path)
    out = proc.stdout.decode()
    assert proc.returncode == 1, proc.stderr.decode()
    for secret in (AWS_ID, GH_TOKEN, PEM_BODY):
        assert secret not in out
    assert out.count('error') >= 3
    proc = run_cli('review', '--staged', '--fail-level', 'none', cwd=repo.path)
    assert proc.returncode == 0
    repo.git('reset', '-q', 'app.py')
    repo.write('app.py', 'print("hi")\nprint("bye")\n')
    repo.git('add', 'app.py')
    proc = run_cli('review', '--staged', '--fail-level', 'error', cwd=repo.path)
    assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()


def test_bad_inputs_are_one_line_errors(repo, tmp_path):
    repo.write('.reviewbot.toml', SECRETS_ONLY)
    repo.write('a.txt', 'a\n')
    repo.commit('base')
    cases = {
        'malformed': b'diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1,3 +1,3 @@\n-a\n',
        'garbage': b'this is not a diff at all\n',
    }
    for name, data in cases.items():
        proc = run_cli('review', '-', cwd=repo.path, input=data)
        err = proc.stderr.decode().strip()
        assert proc.returncode == 2, name
        assert len(err.splitlines()) == 1 and 'Traceback' not in err, err
    proc = run_cli('review', '--diff', str(tmp_path / 'missing.diff'), cwd=repo.path)
    assert proc.returncode == 2 and 'cannot read diff file' in proc.stderr.decode()
    proc = run_cli('review', '--range', 'nope..HEAD', cwd=repo.path)
    assert proc.returncode == 2 and "unknown revision: 'nope'" in proc.stderr.decode()


def test_empty_and_binary_only_diffs_have_nothing_to_review(repo):
    repo.write('.reviewbot.toml', SECRETS_ONLY)
    repo.write('logo.png', b'\x89PNG\x00\x01\x02')
    repo.commit('base')
    proc = run_cli('review', '--staged', cwd=repo.path)
    assert proc.returncode == 0 and 'nothing to review' in proc.stderr.decode()
    repo.write('logo.png', b'\x89PNG\x00\x01\x03')
    repo.git('add', '-A')
    proc = run_cli('review', '--staged', '--format', 'json', cwd=repo.path)
    assert proc.returncode == 0 and 'nothing to review' in proc.stderr.decode()
    report = json.loads(proc.stdout)
    assert report['coverage']['skipped'][0]['reason'] == 'binary file'


def test_unknown_config_key(repo):
    repo.write('.reviewbot.toml', 'colour = "blue"\n')
    repo.commit('base')
    proc = run_cli('review', '--staged', cwd=repo.path)
    err = proc.stderr.decode().strip()
    assert proc.returncode == 2 and "unknown key 'colour'" in err and len(err.splitlines()) == 1


def test_dry_run_shows_plan_and_skips(repo):
    repo.write('.reviewbot.toml', SECRETS_ONLY)
    repo.write('a.py', 'x = 1\n')
    repo.commit('base')
    repo.write('a.py', 'x = 2\n')
    repo.write('package-lock.json', '{}\n')
    repo.git('add', '-A')
    proc = run_cli('review', '--staged', '--dry-run', cwd=repo.path)
    out = proc.stdout.decode()
    assert proc.returncode == 0
    assert 'review  a.py' in out and 'skip    package-lock.json' in out
    assert 'leaves this machine: nothing' in out


def test_a_head_gitattributes_cannot_hide_its_code_from_a_range_review(repo):
    """`* -diff` in the reviewed head's .gitattributes once made every file "Binary files differ"
    (git reads diff attributes from the checkout): the secret it added went unreported, exit 0."""
    repo.write('.reviewbot.toml', SECRETS_ONLY)
    repo.write('app.py', 'print("hi")\n')
    repo.commit('base')
    repo.write('.gitattributes', '* -diff\n')
    repo.write('app.py', f'print("hi")\nAWS = "{AWS_ID}"\n')
    repo.write('logo.png', b'\x89PNG\x00\x01\x02')
    repo.commit('head')
    proc = run_cli('review', '--range', 'HEAD~1..HEAD', '--format', 'json', cwd=repo.path)
    assert proc.returncode == 1, proc.stderr.decode()
    report = json.loads(proc.stdout)
    assert [(f['path'], f['line']) for f in report['findings']] == [('app.py', 2)]
    skipped = {s['path']: s['reason'] for s in report['coverage']['skipped']}
    assert skipped.get('logo.png') == 'binary file'  # a real binary is still found by its content
    assert AWS_ID not in proc.stdout.decode()


def test_output_file_never_writes_through_a_planted_link(repo, tmp_path):
    """-o writes a fresh temporary file and renames it: `<out>.tmp` (or `<out>`) committed as a link to a
    file outside is replaced or left alone, never written through."""
    repo.write('.reviewbot.toml', SECRETS_ONLY)
    repo.commit('base')
    repo.write('keys.py', f'aws_key = "{AWS_ID}"\n')
    victim = tmp_path / 'victim'
    victim.write_text('keep me\n')
    (repo.path / 'report.json.tmp').symlink_to(victim)
    (repo.path / 'report.json').symlink_to(tmp_path / 'victim2')
    repo.commit('links')
    proc = run_cli('review', '--range', 'HEAD~1..HEAD', '--format', 'json', '-o', 'report.json', cwd=repo.path)
    assert proc.returncode == 1, proc.stderr.decode()
    assert victim.read_text() == 'keep me\n' and not (tmp_path / 'victim2').exists()
    out = repo.path / 'report.json'
    assert not out.is_symlink() and json.loads(out.read_text())['findings']
    proc = run_cli('review', '--range', 'HEAD~1..HEAD', '-o', str(tmp_path / 'no' / 'dir' / 'r.txt'), cwd=repo.path)
    err = proc.stderr.decode()
    assert proc.returncode == 2 and len(err.splitlines()) == 1 and 'cannot write' in err and 'Traceback' not in err
