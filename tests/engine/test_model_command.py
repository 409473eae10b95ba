"""`reviewbot model ...` as a user runs it."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, '-m', 'reviewbot', 'model', *args], env=env,
                          capture_output=True, text=True, cwd=REPO)


def test_list_shows_every_model_and_the_default(tmp_path):
    proc = _cli('list', '--model-dir', str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert '* qwen2.5-coder-0.5b' in proc.stdout
    assert 'qwen2.5-coder-1.5b' in proc.stdout and 'smollm2-135m' in proc.stdout
    assert 'not fetched' in proc.stdout and str(tmp_path) in proc.stdout


def test_info_json(tiny_models):
    proc = _cli('info', 'smollm2-135m', '--json')
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info['license'] == 'Apache-2.0' and info['context_length'] == 8192
    assert set(info['exported']) >= {'fp32', 'int8', 'int4'}


def test_verify_ok(tiny_models):
    proc = _cli('verify', 'smollm2-135m')
    assert proc.returncode == 0, proc.stderr
    assert 'ok (gguf, onnx-int4, onnx-int8, onnx-fp32)' in proc.stdout


def test_unknown_model_is_one_line_exit_2():
    proc = _cli('info', 'nope')
    assert proc.returncode == 2
    assert proc.stderr.startswith("reviewbot: unknown model 'nope'") and proc.stderr.count('\n') == 1


def test_export_without_fetch_says_fetch(tmp_path):
    proc = _cli('export', 'smollm2-135m', '--model-dir', str(tmp_path))
    assert proc.returncode == 2
    assert 'reviewbot model fetch smollm2-135m' in proc.stderr and proc.stderr.count('\n') == 1


def test_verify_nothing_fetched(tmp_path):
    proc = _cli('verify', 'smollm2-135m', '--model-dir', str(tmp_path))
    assert proc.returncode == 2 and 'not fetched' in proc.stderr


def test_fetch_uses_the_verified_cache(tiny_models):
    proc = _cli('fetch', 'smollm2-135m')
    assert proc.returncode == 0, proc.stderr
    assert 'sha256 ok' in proc.stdout
