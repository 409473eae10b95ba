"""The past key/values of recent prompts, kept for reuse (PrefixCache): a prompt that starts like an
earlier one, e.g. generation after the triage prefill of the same review unit, or the shared system
prompt and examples of every unit, feeds only the tokens after the common prefix.

The head every review prompt shares is also kept on disk (kept_file, load_kept, save_kept; used by
OnnxModel.keep_prefix), keyed by the weights' hash, the key/value dtype and the token ids, so a
new process does not prefill it again."""
from __future__ import annotations

import hashlib
import io
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from reviewbot.safefile import atomic_write_bytes

PREFIX_CACHE_BYTES = 96 << 20  # past key/values kept for reuse (~6 Qwen-0.5B prompts of 600 tokens)


class PrefixCache:
    """Past key/values of the token sequences fed most recently, looked up by longest common prefix.

    Bounded by bytes; least recently used entries go first; an entry that is a prefix of a newer
    one is dropped (the newer one serves it)."""

    def __init__(self, limit_bytes: int = PREFIX_CACHE_BYTES):
        self.limit_bytes = limit_bytes
        self._entries: list[tuple[np.ndarray, list[np.ndarray]]] = []  # least recent first
        self._lock = threading.Lock()

    @staticmethod
    def _common(a: np.ndarray, b: np.ndarray) -> int:
        n = min(len(a), len(b))
        differ = np.flatnonzero(a[:n] != b[:n])
        return int(differ[0]) if len(differ) else n

    def lookup(self, ids: Sequence[int], limit: int) -> tuple[int, list[np.ndarray] | None]:
        """(n, past of ids[:n]) for the longest cached prefix, n <= limit and even (see
        OnnxModel.token_surprisals); (0, None) if none."""
        want = np.asarray(ids, dtype=np.int64)
        with self._lock:
            best, found = 0, -1
            for i, (cached, _past) in enumerate(self._entries):
                n = min(self._common(cached, want), limit) & ~1
                if n > best:
                    best, found = n, i
            if found < 0:
                return 0, None
            entry = self._entries.pop(found)
            self._entries.append(entry)
        return best, [p[:, :, :best, :] for p in entry[1]]

    def put(self, ids: Sequence[int], past: list[np.ndarray]) -> None:
        if not len(ids) or not past or past[0].shape[2] != len(ids):
            return
        new = np.asarray(ids, dtype=np.int64)
        size = sum(p.nbytes for p in past)
        if size > self.limit_bytes:
            return
        with self._lock:
            kept = []
            for cached, cached_past in self._entries:
                if len(cached) <= len(new) and self._common(cached, new) == len(cached):
                    continue  # a prefix of the new entry
                kept.append((cached, cached_past))
            kept.append((new, past))
            while sum(p.nbytes for _ids, ps in kept for p in ps) > self.limit_bytes:
                kept.pop(0)
            self._entries = kept

    def clear(self) -> None:
        with self._lock:
            self._entries = []


def kept_file(folder: Path, weights_sha256: str, dtype: Any, ids: Sequence[int]) -> Path:
    """Where the key/values of `ids` for these weights and this key/value dtype are kept."""
    key = hashlib.sha256(f'{weights_sha256}|{np.dtype(dtype).type.__name__}|'.encode()
                         + np.asarray(ids, dtype=np.int64).tobytes()).hexdigest()
    return folder / f'{key}.npz'


def load_kept(file: Path, count: int, shape: tuple[int, ...], dtype: Any) -> list[np.ndarray] | None:
    """The `count` saved arrays, when all are there with this shape and dtype; else None."""
    try:
        with np.load(file, allow_pickle=False) as saved:
            past = [saved[f'kv{i}'] for i in range(count)]
    except (OSError, ValueError, KeyError):
        return None  # missing or unreadable: prefill it again
    return past if all(p.shape == shape and p.dtype == dtype for p in past) else None


def save_kept(file: Path, past: list[np.ndarray]) -> None:
    """Save `past` at `file` (atomically: a reader never sees half a file)."""
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        saved = io.BytesIO()
        arrays: dict[str, Any] = {f'kv{i}': p for i, p in enumerate(past)}
        np.savez(saved, **arrays)
        atomic_write_bytes(file, saved.getvalue())
    except OSError:
        pass  # a read-only cache only costs the prefill next time
