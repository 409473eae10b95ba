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
