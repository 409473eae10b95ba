"""Where models live on disk.

<model_dir>/<name>/gguf/<file>.gguf          fetched, sha256-verified GGUF
<model_dir>/<name>/hf/                       Hugging Face folder converted from the GGUF (export input)
<model_dir>/<name>/onnx-<precision>/         exported model: ONNX + tokenizer + manifest (what runs)

model_dir is --model-dir, else $REVIEWBOT_MODEL_DIR, else the per-user cache
($XDG_CACHE_HOME or ~/.cache)/reviewbot/models. Everything is written under a temporary
name in the same directory and renamed into place, so a half-written model is never seen.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from reviewbot.engine import registry

MANIFEST = 'reviewbot-model.json'
ENV_MODEL_DIR = 'REVIEWBOT_MODEL_DIR'
ENV_CACHE_DIR = 'REVIEWBOT_CACHE_DIR'  # the model's results and the hook's answers


def cache_home(environ: dict[str, str] | os._Environ[str] | None = None) -> Path:
    """reviewbot's folder in the user's cache ($XDG_CACHE_HOME or ~/.cache, then reviewbot): results,
    the warm daemon's socket and egress receipts live below it."""
    env = os.environ if environ is None else environ
    return Path(env.get('XDG_CACHE_HOME') or Path.home() / '.cache') / 'reviewbot'


def default_model_dir() -> Path:
    if sys.platform == 'win32':  # pragma: no cover
        return Path(os.environ.get('LOCALAPPDATA') or Path.home() / 'AppData' / 'Local') / 'reviewbot' / 'models'
    if sys.platform == 'darwin':  # pragma: no cover
        return Path.home() / 'Library' / 'Caches' / 'reviewbot' / 'models'
    return cache_home() / 'models'


def model_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get(ENV_MODEL_DIR)
    if env:
        return Path(env).expanduser()
    return default_model_dir()


def gguf_path(name: str, model_dir_: str | os.PathLike[str] | None = None) -> Path:
    spec = registry.get(name)
    return model_dir(model_dir_) / name / 'gguf' / spec.gguf_file


def hf_path(name: str, model_dir_: str | os.PathLike[str] | None = None) -> Path:
    return model_dir(model_dir_) / name / 'hf'


def onnx_path(name: str, precision: str, model_dir_: str | os.PathLike[str] | None = None) -> Path:
    return model_dir(model_dir_) / name / f'onnx-{precision}'


def exported_precisions(name: str, model_dir_: str | os.PathLike[str] | None = None) -> list[str]:
    """Precisions of `name` that are completely exported (manifest present), in PRECISIONS order."""
    return [p for p in registry.PRECISIONS if (onnx_path(name, p, model_dir_) / MANIFEST).is_file()]


def model_path(name: str, model_dir: str | os.PathLike[str] | None = None,
               precision: str | None = None) -> Path:
    """The exported folder load_model would use for `name`: the given precision, else the
    registry's recommended one if exported, else any exported one, else the recommended one
    (which may not exist yet)."""
    spec = registry.get(name)
    if precision:
        return onnx_path(name, precision, model_dir)
    done = exported_precisions(name, model_dir)
    chosen = spec.precision if spec.precision in done or not done else done[0]
    return onnx_path(name, chosen, model_dir)
