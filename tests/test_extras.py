"""Every command that needs an optional extra says which, in one line on stderr, and exits 2 when the
extra is missing: the real CLI in a subprocess, with the extra's top module made unimportable by a
module of that name earlier on PYTHONPATH that raises ModuleNotFoundError, as a missing one does."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from reviewbot import extras
from tests.conftest import REPO_ROOT, GitRepo, run_cli


def without(tmp_path: Path, *modules: str) -> dict[str, str]:
    """The environment of a Python where `modules` are not installed."""
    shim = tmp_path / 'not-installed'
    shim.mkdir(parents=True, exist_ok=True)
    for module in modules:
        (shim / f'{module}.py').write_text(
            f'raise ModuleNotFoundError("No module named {module!r}", name={module!r})\n', encoding='utf-8')
    return {'PYTHONPATH': os.pathsep.join((str(shim), str(REPO_ROOT)))}  # before site-packages


def one_line_naming(proc, extra: str, module: str) -> str:
    err = proc.stderr.decode()
    assert proc.returncode == 2, err
    assert 'Traceback' not in err and err.count('\n') == 1, err
    assert f"pip install 'reviewbot[{extra}]'" in err and module in err, err
    return err


def test_serve_without_the_server_extra(tmp_path: Path) -> None:
    for module in ('uvicorn', 'starlette'):
        proc = run_cli('serve', '--model', 'smollm2-135m', cwd=tmp_path,
                       env=without(tmp_path / module, module))
        err = one_line_naming(proc, 'server', module)
        assert err.startswith("reviewbot: `reviewbot serve` needs the 'server' extra"), err


def test_publish_without_the_publish_extra(tmp_path: Path) -> None:
    report = tmp_path / 'report.json'
    report.write_text(json.dumps({'schema_version': 1, 'findings': []}), encoding='utf-8')
    for module, target in (('github', ['--github-pr', '1', '--repo', 'acme/widget']),
                           ('gitlab', ['--gitlab-mr', '1', '--project', '7'])):
        proc = run_cli('publish', '--report', str(report), *target, cwd=tmp_path,
                       env={**without(tmp_path / module, module), 'GITHUB_TOKEN': 'x', 'GITLAB_TOKEN': 'x'})
        one_line_naming(proc, 'publish', module)


def test_ci_publish_without_the_publish_extra(repo: GitRepo, tmp_path: Path) -> None:
    repo.write('a.py', 'x = 1\n')
    repo.commit('base')
    env = {**without(tmp_path, 'github'), 'GITHUB_ACTIONS': 'true', 'GITHUB_EVENT_NAME': 'pull_request',
           'GITHUB_REPOSITORY': 'acme/widget', 'GITHUB_TOKEN': 'x'}
    proc = run_cli('ci', '--publish', cwd=repo.path, env=env)
    err = one_line_naming(proc, 'publish', 'github')
    assert '`reviewbot ci --publish`' in err


def test_model_export_without_the_export_extra(tmp_path: Path) -> None:
    proc = run_cli('model', 'export', 'smollm2-135m', '--model-dir', str(tmp_path / 'models'), cwd=tmp_path,
                   env=without(tmp_path, 'torch'))
    one_line_naming(proc, 'export', 'torch')
    assert not (tmp_path / 'models').exists() or not any((tmp_path / 'models').rglob('*.onnx'))


def test_a_missing_extra_met_later_is_one_line_too(repo: GitRepo, tmp_path: Path) -> None:
    """A client of an in-house server needs httpx (the cloud extra): met only when the model reviewer
    first asks the server, and said in one line by cli.main."""
    repo.write('a.py', 'x = 1\n')
    repo.commit('base')
    repo.write('a.py', 'x = 1\ny = eval(input())\n')
    repo.git('add', 'a.py')
    repo.write('.reviewbot.toml', 'server = "http://127.0.0.1:9"\nserver_is_local = true\nmodel_findings = "on"\n')
    proc = run_cli('review', '--reviewers', 'model', '--no-cache', cwd=repo.path,
                   env={**without(tmp_path, 'httpx'), 'REVIEWBOT_DAEMON': 'off'})
    one_line_naming(proc, 'cloud', 'httpx')


@pytest.mark.parametrize('module, extra', [('uvicorn', 'server'), ('github.Auth', 'publish'),
                                           ('httpx', 'cloud'), ('torch.nn', 'export'), ('yaml', None),
                                           (None, None)])
def test_extra_of(module: str | None, extra: str | None) -> None:
    assert extras.extra_of(module) == extra


def test_require_names_the_extra_and_lets_a_present_one_pass(tmp_path: Path) -> None:
    from reviewbot.errors import MissingExtra
    extras.require('server', 'x')  # installed in the test environment
    with pytest.raises(MissingExtra) as info:
        extras.require('server', '`x`', ('reviewbot_no_such_module',))
    assert str(info.value) == ("`x` needs the 'server' extra (reviewbot_no_such_module is not installed): "
                               "pip install 'reviewbot[server]'")
    assert info.value.exit_code == 2
