"""A tampered or half-copied model is detected, by `model verify` and by load_model."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from reviewbot.engine import load_model, manifest, paths
from reviewbot.engine.fetch import verify_gguf
from reviewbot.errors import ModelError

REPO = Path(__file__).resolve().parents[2]


def _cli(*args: str, model_dir: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    extra = ['--model-dir', str(model_dir)] if model_dir else []
    return subprocess.run([sys.executable, '-m', 'reviewbot', 'model', *args, *extra], env=env,
                          capture_output=True, text=True, cwd=REPO)


def _copy(source: Path, tmp_path: Path, link_weights: bool) -> Path:
    """A private copy of an exported model laid out as a model dir: <tmp>/smollm2-135m/onnx-int4.
    With link_weights the (read-only here) weights are a symlink, to keep the test fast."""
    folder = tmp_path / 'smollm2-135m' / 'onnx-int4'
    folder.mkdir(parents=True)
    for file in source.iterdir():
        if link_weights and file.name.startswith('model.onnx'):
            (folder / file.name).symlink_to(file)
        else:
            shutil.copyfile(file, folder / file.name)
    return folder


@pytest.fixture
def copied(tiny_models, tmp_path) -> Path:
    return _copy(tiny_models['int4'], tmp_path, link_weights=True)


@pytest.fixture
def copied_weights(tiny_models, tmp_path) -> Path:
    return _copy(tiny_models['int4'], tmp_path, link_weights=False)


def _flip_byte(path: Path, offset: int) -> None:
    with open(path, 'r+b') as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0xFF]))


def test_a_copied_folder_loads_by_path(copied):
    model = load_model(str(copied))
    assert model.name == 'smollm2-135m' and model.precision == 'int4'


def test_flipped_byte_in_weights_is_found_by_verify(copied_weights):
    copied = copied_weights
    _flip_byte(copied / 'model.onnx', (copied / 'model.onnx').stat().st_size // 2)
    data = manifest.read(copied, 'hint')
    with pytest.raises(ModelError, match='sha256 mismatch'):
        manifest.check(copied, data, 'hint', full=True)
    proc = _cli('verify', 'smollm2-135m', '--precision', 'int4', model_dir=copied.parents[1])
    assert proc.returncode == 2
    assert proc.stderr.count('\n') == 1 and 'corrupt' in proc.stderr and 'model export' in proc.stderr


def test_truncated_weights_are_found_by_load(copied_weights):
    copied = copied_weights
    with open(copied / 'model.onnx', 'r+b') as f:
        f.truncate(1000)
    with pytest.raises(ModelError, match='corrupt.*size'):
        load_model(str(copied))
    with pytest.raises(ModelError, match='corrupt'):
        load_model('smollm2-135m', model_dir=copied.parents[1], precision='int4')


def test_tampered_tokenizer_is_found_by_load(copied):
    _flip_byte(copied / 'tokenizer.json', 100)
    with pytest.raises(ModelError, match='sha256 mismatch'):
        load_model(str(copied))


def test_missing_file_is_found_by_load(copied):
    (copied / 'chat_template.jinja').unlink()
    with pytest.raises(ModelError, match='missing'):
        load_model(str(copied))


def test_unfinished_export_is_never_used(tmp_path):
    # a staging folder left by a killed export has no manifest under the final name
    (tmp_path / 'smollm2-135m' / '.onnx-int8-abc').mkdir(parents=True)
    with pytest.raises(ModelError) as e:
        load_model('smollm2-135m', model_dir=tmp_path)
    assert 'reviewbot model fetch smollm2-135m && reviewbot model export smollm2-135m' in str(e.value)


def test_corrupt_gguf_says_how_to_recover(tmp_path):
    gguf = paths.gguf_path('smollm2-135m', tmp_path)
    gguf.parent.mkdir(parents=True)
    gguf.write_bytes(b'GGUF' + b'\0' * 100)
    with pytest.raises(ModelError, match='fetch smollm2-135m --force'):
        verify_gguf('smollm2-135m', tmp_path)
