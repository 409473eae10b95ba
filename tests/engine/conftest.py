"""The tiny real model (smollm2-135m), fetched and exported once per machine.

Uses $REVIEWBOT_MODEL_DIR if set, else the per-user cache, so CI on the same machine reuses it.
Exporting needs the export extra; without it the tests run on an already-exported model or skip.
"""
from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

import pytest

from reviewbot.engine import paths, registry

TINY = 'smollm2-135m'
REPO = Path(__file__).resolve().parents[2]
HAS_EXPORT_STACK = all(importlib.util.find_spec(m) for m in ('torch', 'transformers', 'optimum', 'onnx'))


def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env['PYTHONPATH'] = str(REPO) + os.pathsep + env.get('PYTHONPATH', '')
    return env


def python() -> str:
    return sys.executable


def _up_to_date(name: str, precision: str) -> bool:
    file = paths.onnx_path(name, precision) / paths.MANIFEST
    if not file.is_file():
        return False
    if not HAS_EXPORT_STACK:
        return True  # cannot re-export anyway: use what is there
    from reviewbot.engine import export
    wanted = export.choose_graph(registry.get(name), 'auto')
    return json.loads(file.read_text(encoding='utf-8')).get('graph') == wanted


@pytest.fixture(scope='session')
def tiny_models() -> dict[str, Path]:
    """precision -> exported folder of the tiny model, for fp32, int8 and int4."""
    folders = {}
    for precision in ('fp32', 'int8', 'int4'):
        if not _up_to_date(TINY, precision):
            if not HAS_EXPORT_STACK:
                pytest.skip(f'{TINY} is not exported and the export extra (torch...) is not installed')
            from reviewbot.engine import export, fetch
            fetch.fetch(TINY, quiet=True)
            export.export(TINY, precision, quiet=True)
        folders[precision] = paths.onnx_path(TINY, precision)
    return folders


@pytest.fixture(scope='session')
def tiny_fp32(tiny_models: dict[str, Path]):  # noqa: ANN201
    from reviewbot.engine import load_model
    return load_model(str(tiny_models['fp32']), threads=2)


@pytest.fixture(scope='session')
def hf_tiny(tiny_models: dict[str, Path]) -> Path:
    """The Hugging Face folder the tiny model was exported from (needs torch/transformers)."""
    if not HAS_EXPORT_STACK:
        pytest.skip('needs the export extra (torch, transformers)')
    folder = paths.hf_path(TINY)
    if not (folder / 'config.json').is_file():
        from reviewbot.engine import export
        export.gguf_to_hf(TINY)
    return folder
