from __future__ import annotations

import re
from pathlib import Path

import pytest

from reviewbot.engine import paths, registry
from reviewbot.errors import ModelError

REPO = Path(__file__).resolve().parents[2]


def test_registry_has_the_three_models_and_the_default():
    assert {'qwen2.5-coder-0.5b', 'qwen2.5-coder-1.5b', 'smollm2-135m'} <= set(registry.names())
    assert registry.default_name() == 'qwen2.5-coder-0.5b'
    assert registry.resolve(None).name == 'qwen2.5-coder-0.5b'


@pytest.mark.parametrize('name', registry.names())
def test_entries_are_complete(name):
    spec = registry.get(name)
    assert re.fullmatch(r'[0-9a-f]{64}', spec.gguf_sha256)
    assert spec.gguf_size > 0 and spec.gguf_parts
    assert spec.precision in registry.PRECISIONS
    assert spec.stop_token_ids and spec.eos_token
    assert spec.license == 'Apache-2.0'


def test_chunk_parts_are_in_numeric_order():
    parts = registry.get('qwen2.5-coder-1.5b').gguf_parts
    numbers = [int(re.search(r'part(\d+)\.bin$', p.member).group(1)) for p in parts]
    assert numbers == list(range(1, 23))


def test_checkout_file_is_the_packaged_file():
    checkout = REPO / 'models' / 'registry.toml'
    packaged = REPO / 'reviewbot' / 'data' / 'registry.toml'
    assert checkout.read_bytes() == packaged.read_bytes()


def test_unknown_model_is_a_one_line_error():
    with pytest.raises(ModelError) as e:
        registry.get('gpt-17')
    assert '\n' not in str(e.value) and 'smollm2-135m' in str(e.value)


def test_model_dir_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv(paths.ENV_MODEL_DIR, str(tmp_path / 'env'))
    assert paths.model_dir() == tmp_path / 'env'
    assert paths.model_dir(str(tmp_path / 'flag')) == tmp_path / 'flag'
    monkeypatch.delenv(paths.ENV_MODEL_DIR)
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'xdg'))
    assert paths.model_dir() == tmp_path / 'xdg' / 'reviewbot' / 'models'
    assert paths.model_path('smollm2-135m', tmp_path) == tmp_path / 'smollm2-135m' / 'onnx-int8'
