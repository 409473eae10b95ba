"""The manifest of an exported model folder: what the model is and the sha256 of every file.

`reviewbot model verify` re-hashes every file. load_model does the cheap checks on every load
(every listed file present with its size, small files hashed) so a truncated or swapped file is
a one-line error instead of a crash inside onnxruntime.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from reviewbot.engine import paths, registry
from reviewbot.engine.paths import MANIFEST
from reviewbot.errors import ModelError

FORMAT = 1
QUICK_HASH_LIMIT = 32 << 20  # files up to this size are hashed on every load


def _sha256(path: Path) -> str:
    from reviewbot.engine.fetch import sha256_file
    return sha256_file(path)


def write(folder: Path, info: dict[str, Any]) -> dict[str, Any]:
    files = {}
    for path in sorted(p for p in folder.rglob('*') if p.is_file() and p.name != MANIFEST):
        rel = path.relative_to(folder).as_posix()
        files[rel] = {'size': path.stat().st_size, 'sha256': _sha256(path)}
    data = {'format': FORMAT, **info, 'files': files}
    tmp = folder / (MANIFEST + '.tmp')
    tmp.write_text(json.dumps(data, indent=2) + '\n', encoding='utf-8')
    os.replace(tmp, folder / MANIFEST)
    return data


def read(folder: Path, fix_hint: str) -> dict[str, Any]:
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding='utf-8'))
    except FileNotFoundError:
        raise ModelError(f'{folder} is not an exported reviewbot model (no {MANIFEST}): {fix_hint}') from None
    except (OSError, ValueError) as e:
        raise ModelError(f'{folder / MANIFEST} is unreadable ({e}): {fix_hint}') from None
    if not isinstance(data, dict) or data.get('format') != FORMAT or not isinstance(data.get('files'), dict):
        raise ModelError(f'{folder / MANIFEST} has an unknown format: {fix_hint}')
    return data


def check(folder: Path, data: dict[str, Any], fix_hint: str, full: bool,
          on_bytes: Any = None) -> None:
    """Raise ModelError naming the first missing, resized or changed file.

    full=False hashes only files below QUICK_HASH_LIMIT (the tokenizer, config, chat template)."""
    for rel, want in data['files'].items():
        path = folder / rel
        if not path.is_file():
            raise ModelError(f'{path} is missing: {fix_hint}')
        size = path.stat().st_size
        if size != want['size']:
            raise ModelError(f'{path} is corrupt (size {size}, expected {want["size"]}): {fix_hint}')
        if full or size <= QUICK_HASH_LIMIT:
            from reviewbot.engine.fetch import sha256_file
            if sha256_file(path, on_bytes) != want['sha256']:
                raise ModelError(f'{path} is corrupt (sha256 mismatch): {fix_hint}')


def _fix_hint(name: str, folder: Path) -> str:
    if name in registry.names():
        return f'run `reviewbot model export {name}` again (or delete {folder})'
    return f'copy the exported model folder {folder} again'


def _given(name_or_path: str | None) -> Path | None:
    """`name_or_path` itself when it names an exported folder (not a registered model), else None."""
    if name_or_path and name_or_path not in registry.names():
        candidate = Path(name_or_path).expanduser()
        if (candidate / MANIFEST).is_file():
            return candidate
    return None


def folder(name_or_path: str | None, model_dir: str | os.PathLike[str] | None = None) -> Path:
    """The exported folder load_model would use: an exported folder given by path, else the registered
    model's (None or '': the default model) in the model dir, which may not exist yet."""
    return _given(name_or_path) or paths.model_path(registry.resolve(name_or_path).name, model_dir)


def locate(name_or_path: str | None, model_dir: str | os.PathLike[str] | None = None,
           precision: str | None = None) -> tuple[Path, dict[str, Any]]:
    """The exported folder of a model (as folder(), at `precision` if given) and its manifest, checked
    (sizes; hashes of the small files): what runtime.load_model loads. A missing or damaged model is a
    one-line ModelError that says how to fix it."""
    found = _given(name_or_path)
    if found is not None:
        data = read(found, _fix_hint('', found))
    else:
        spec = registry.resolve(name_or_path)
        if precision and precision not in registry.PRECISIONS:
            raise ModelError(f'unknown precision {precision!r}: use int4, int8 or fp32')
        found = paths.model_path(spec.name, model_dir, precision)
        if not (found / MANIFEST).is_file():
            flag = f' --precision {precision}' if precision else ''
            if not paths.gguf_path(spec.name, model_dir).is_file():
                raise ModelError(f"model {spec.name!r} is not fetched: run `reviewbot model fetch {spec.name} "
                                 f"&& reviewbot model export {spec.name}{flag}`")
            raise ModelError(f"model {spec.name!r} is not exported{' at ' + precision if precision else ''}: "
                             f"run `reviewbot model export {spec.name}{flag}`")
        data = read(found, _fix_hint(spec.name, found))
    check(found, data, _fix_hint(data.get('name', ''), found), full=False)
    return found, data
