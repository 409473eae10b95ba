"""The model reviewer's result cache: triage scores and generations, as JSON files keyed by sha256 of
the model, the prompt version and the exact prompt, so re-reviewing unchanged hunks costs no
inference and no model load."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from reviewbot.engine.paths import ENV_CACHE_DIR, cache_home
from reviewbot.safefile import atomic_write


def default_cache_dir() -> Path:
    env = os.environ.get(ENV_CACHE_DIR)
    if env:
        return Path(env).expanduser()
    return cache_home() / 'results'


class ResultCache:
    """JSON files keyed by sha256; a write goes to a temporary file renamed into place, so a
    crash never leaves half an entry, and an unreadable entry is a miss."""

    def __init__(self, root: Path | None) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        assert self.root is not None
        return self.root / key[:2] / f'{key}.json'

    def get(self, key: str) -> dict[str, Any] | None:
        if self.root is None:
            return None
        try:
            value = json.loads(self._path(key).read_text(encoding='utf-8'))
        except (OSError, ValueError):
            return None
        return value if isinstance(value, dict) else None

    def put(self, key: str, value: dict[str, Any]) -> None:
        if self.root is None:
            return
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, json.dumps(value))
        except OSError:
            pass  # a cache that cannot be written only costs time


def cache_key(*parts: str) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode('utf-8', 'surrogateescape'))
        h.update(b'\0')
    return h.hexdigest()

