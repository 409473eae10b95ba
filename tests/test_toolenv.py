"""Where semgrep comes from (reviewbot.toolenv): its own environment under the user cache, an
explicit path, or a version-checked one on PATH. Real virtualenvs built by real pip (from a local
wheel whose `semgrep` only answers --version, so no network), real lock, real subprocesses."""
from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from reviewbot import toolenv
from reviewbot.diffparse import parse_diff
from reviewbot.reviewers import ReviewContext
from reviewbot.reviewers.patterns import MISSING_NOTE, PatternsReviewer, locate
from tests.conftest import REPO_ROOT, GitRepo, run_cli

FAKE = '''import sys
def main():
    if '--version' in sys.argv:
        print('{version}')
        return 0
    print('{{"results": [], "errors": []}}')
    return 0
'''


def fake_wheel(folder: Path, version: str = toolenv.SEMGREP_VERSION) -> Path:
    """A wheel whose console script `semgrep` prints `version` for --version."""
    files = {
        'fake_semgrep.py': FAKE.format(version=version),
        'fake_semgrep-1.0.dist-info/METADATA': 'Metadata-Version: 2.1\nName: fake-semgrep\nVersion: 1.0\n',
        'fake_semgrep-1.0.dist-info/WHEEL': ('Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\n'
                                             'Tag: py3-none-any\n'),
        'fake_semgrep-1.0.dist-info/entry_points.txt': '[console_scripts]\nsemgrep = fake_semgrep:main\n',
    }
    record = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b'=').decode()
        record.append(f'{name},sha256={digest},{len(text.encode())}')
    files['fake_semgrep-1.0.dist-info/RECORD'] = '\n'.join([*record, 'fake_semgrep-1.0.dist-info/RECORD,,']) + '\n'
    path = folder / 'fake_semgrep-1.0-py3-none-any.whl'
    with zipfile.ZipFile(path, 'w') as z:
        for name, text in files.items():
            z.writestr(name, text)
    return path


def script(folder: Path, body: str, name: str = 'semgrep') -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text('#!/bin/sh\n' + body)
    path.chmod(0o755)
    return path


def env_for(tmp_path: Path, path: str = '') -> dict[str, str]:
    return {toolenv.ENV_TOOLS_DIR: str(tmp_path / 'tools'), 'PATH': path or str(tmp_path / 'empty-bin')}


def test_tool_environment_is_built_once_under_a_lock_published_atomically_and_found(tmp_path):
    wheel = fake_wheel(tmp_path)
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), **{toolenv.ENV_TOOLS_DIR: str(tmp_path / 'tools')})
    code = ('from reviewbot import toolenv; '
            f'toolenv.install_semgrep(requirement={str(wheel)!r}, say=print)')
    # two installs at once (two hooks' worth of racing setup scripts): one builds, one waits and finds it
    procs = [subprocess.Popen([sys.executable, '-c', code], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE) for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1].decode() for o in outs]
    said = b''.join(o[0] for o in outs).decode()
    assert said.count('building semgrep') == 1 and said.count('already installed') == 1, said

    tools = tmp_path / 'tools'
    final = tools / f'semgrep-{toolenv.SEMGREP_VERSION}'
    assert final.is_symlink() and not os.readlink(final).startswith('/')  # a relative link
    builds = sorted(p.name for p in tools.glob('.semgrep-*'))
    assert builds == [os.readlink(final)]  # exactly one build folder, the published one
    found = toolenv.locate_semgrep(environ=env_for(tmp_path))
    assert (found.origin, found.version) == ('tool environment', toolenv.SEMGREP_VERSION)
    assert found.path == str(final / 'bin' / 'semgrep')
    out = subprocess.run([found.path, '--version'], capture_output=True, check=True).stdout.decode()
    assert out.strip() == toolenv.SEMGREP_VERSION  # the venv's own script runs

    # --force builds afresh and removes the replaced build; the link never dangles
    old = os.readlink(final)
    toolenv.install_semgrep(requirement=str(wheel), force=True, environ=env_for(tmp_path))
    assert os.readlink(final) != old and not (tools / old).exists()
    assert toolenv.installed_env(environ=env_for(tmp_path)) is not None


def test_a_half_built_environment_is_never_used_and_is_cleaned_up(tmp_path):
    tools = tmp_path / 'tools'
    half = tools / f'.semgrep-{toolenv.SEMGREP_VERSION}-crashed'
    script(half / 'bin', 'echo 1.187.0\n')  # an interrupted build: no manifest, never published
    assert toolenv.locate_semgrep(environ=env_for(tmp_path)).path is None
    # a published link whose folder lacks the manifest is not an environment either
    (tools / f'semgrep-{toolenv.SEMGREP_VERSION}').symlink_to(half.name)
    assert toolenv.installed_env(environ=env_for(tmp_path)) is None
    (tools / f'semgrep-{toolenv.SEMGREP_VERSION}').unlink()
    with pytest.raises(toolenv.ToolError, match='pip install semgrep==.* failed'):
        toolenv.install_semgrep(requirement=str(tmp_path / 'no-such.whl'), environ=env_for(tmp_path))
    assert list(tools.glob('.semgrep-*')) == []  # the crashed build and the failed one are gone


def test_semgrep_on_path_is_used_only_when_new_enough(tmp_path):
    new = script(tmp_path / 'new', 'echo 1.187.0\n')
    found = toolenv.locate_semgrep(environ=env_for(tmp_path, str(new.parent)))
    assert (found.path, found.origin, found.version) == (str(new), 'PATH', '1.187.0')
    old = script(tmp_path / 'old', 'echo 1.50.0\n')
    found = toolenv.locate_semgrep(environ=env_for(tmp_path, str(old.parent)))
    assert found.path is None and found.version == '1.50.0'
    assert '1.50.0 on PATH' in found.problem and toolenv.INSTALL_COMMAND in found.problem
    broken = script(tmp_path / 'broken', 'exit 3\n')
    found = toolenv.locate_semgrep(environ=env_for(tmp_path, str(broken.parent)))
    assert found.path is None and 'version cannot be read' in found.problem
    found = toolenv.locate_semgrep(environ=env_for(tmp_path))
    assert found.path is None and found.problem == f'semgrep not installed: run `{toolenv.INSTALL_COMMAND}`'


def test_an_explicit_path_wins_and_is_never_second_guessed(tmp_path):
    on_path = script(tmp_path / 'bin', 'echo 1.187.0\n')
    mine = script(tmp_path / 'mine', 'echo 0.1.0\n')  # explicit: used as given, no version check
    env = env_for(tmp_path, str(on_path.parent))
    found = toolenv.locate_semgrep(str(mine), environ=env)
    assert (found.path, found.origin) == (str(mine), 'config')
    env[toolenv.ENV_SEMGREP] = str(on_path)
    assert toolenv.locate_semgrep(str(mine), environ=env).origin == toolenv.ENV_SEMGREP  # env first
    env[toolenv.ENV_SEMGREP] = str(tmp_path / 'nowhere' / 'semgrep')
    found = toolenv.locate_semgrep(str(mine), environ=env)  # not found: said, no fallback
    assert found.path is None and 'semgrep not found at' in found.problem and 'REVIEWBOT_SEMGREP' in found.problem


def test_a_review_without_semgrep_notes_the_command_and_installs_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv(toolenv.ENV_TOOLS_DIR, str(tmp_path / 'tools'))
    monkeypatch.setenv('PATH', str(tmp_path / 'empty-bin'))
    monkeypatch.delenv(toolenv.ENV_SEMGREP, raising=False)
    diff = parse_diff(b'diff --git a/web/a.js b/web/a.js\n--- a/web/a.js\n+++ b/web/a.js\n'
                      b'@@ -1,1 +1,1 @@\n-el.textContent = x;\n+el.innerHTML = x;\n')
    from reviewbot.config import defaults
    result = PatternsReviewer(defaults()).review(diff.files, ReviewContext(defaults(), lambda p: None))
    assert result.notes == [MISSING_NOTE] and 'reviewbot tools install semgrep' in MISSING_NOTE
    assert [s.path for s in result.skipped] == ['web/a.js']
    assert not (tmp_path / 'tools').exists()


def test_the_suite_runs_semgrep_from_its_tool_environment():
    """scripts/setup.sh builds it; the patterns tests then run this real semgrep, not a fake."""
    if os.environ.get(toolenv.ENV_SEMGREP):
        pytest.skip(f'{toolenv.ENV_SEMGREP} chooses semgrep')
    found = locate()
    assert found.origin == 'tool environment', f'{found.problem}: scripts/setup.sh does it'
    assert found.path is not None and Path(found.path).resolve().is_relative_to(
        toolenv.tools_dir().resolve())
    out = subprocess.run([found.path, '--experimental', '--version'], capture_output=True,
                         env=toolenv.quiet_env(), check=True, timeout=120).stdout.decode()
    assert out.strip() == toolenv.SEMGREP_VERSION


def test_tools_command(tmp_path, repo: GitRepo):
    env = {toolenv.ENV_TOOLS_DIR: str(tmp_path / 'tools'), 'PATH': '/usr/bin:/bin'}
    proc = run_cli('tools', 'list', cwd=repo.path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert f'semgrep: semgrep not installed: run `{toolenv.INSTALL_COMMAND}`' in proc.stdout.decode()
    mine = script(tmp_path / 'mine', 'echo 1.187.0\n')
    repo.write('.reviewbot.toml', f'[patterns]\nsemgrep = "{mine}"\n')
    proc = run_cli('tools', 'list', cwd=repo.path, env=env)
    assert f'{mine} (config)' in proc.stdout.decode()
    for args in (['tools'], ['tools', 'install', 'ruff'], ['tools', 'install']):
        proc = run_cli(*args, cwd=repo.path, env=env)
        assert proc.returncode == 2 and len(proc.stderr.decode().splitlines()) == 1, (args, proc.stderr)
        assert proc.stdout == b''
