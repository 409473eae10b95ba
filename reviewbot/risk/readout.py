"""The risk read-out: a logistic regression over a hunk's features, shipped as package data.

The file (reviewbot/data/risk/readout.npz, written by eval/risk/train.py) holds plain arrays, no
pickles: the names of the scalar features it reads (a subset of features.NAMES), their mean and
standard deviation, per hidden-state output a PCA (mean, components, score std), the weights, the
bias, the calibrated warning threshold and a JSON manifest (data pins, features, seed, metrics).
Scoring is numpy arithmetic: the same file and features give the same number on every machine.

load() turns every problem with the file (missing, truncated, not an npz, arrays of the wrong
shape) into one ReadoutError line; callers fall back to the triage score and say so.
"""
from __future__ import annotations

import dataclasses
import json
import math
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from reviewbot.errors import ModelError

FORMAT = 1
DEFAULT_PATH = Path(__file__).resolve().parent.parent / 'data' / 'risk' / 'readout.npz'


class ReadoutError(ModelError):
    """The read-out file cannot be used (one line, says which file and why)."""


@dataclasses.dataclass(frozen=True)
class Readout:
    names: tuple[str, ...]  # scalar features, in the order of the weights
    scalar_mean: np.ndarray
    scalar_std: np.ndarray
    hidden: tuple[str, ...]  # hidden-state outputs read (e.g. 'hidden.12'), after the scalars
    pca_mean: tuple[np.ndarray, ...]  # per hidden output [d]
    pca_components: tuple[np.ndarray, ...]  # per hidden output [k, d]
    pca_std: tuple[np.ndarray, ...]  # per hidden output [k]: the scores are standardised too
    weights: np.ndarray  # [len(names) + sum(k)]
    bias: float
    warn_above: float  # calibrated risk above which a model finding is a warning (else info)
    manifest: dict[str, Any]

    @property
    def needs_naturalness(self) -> bool:
        return any(n.startswith('nat_') for n in self.names)

    def score(self, scalars: Mapping[str, float], hidden: Mapping[str, np.ndarray] | None = None) -> float | None:
        """Risk in [0, 1]; None when a feature it reads is missing (e.g. an export without the
        hidden-state outputs)."""
        hidden = hidden or {}
        try:
            x = np.asarray([float(scalars[n]) for n in self.names], dtype=np.float64)
        except KeyError:
            return None
        parts = [(x - self.scalar_mean) / self.scalar_std]
        for name, mean, comps, std in zip(self.hidden, self.pca_mean, self.pca_components, self.pca_std):
            h = hidden.get(name)
            if h is None or np.shape(h) != mean.shape:
                return None
            parts.append(((np.asarray(h, dtype=np.float64) - mean) @ comps.T) / std)
        z = float(np.concatenate(parts) @ self.weights + self.bias)
        if not math.isfinite(z):
            return None
        return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


def save(path: Path, readout: Readout) -> None:
    arrays: dict[str, Any] = {  # Any: numpy's stubs type savez's **kwds as its allow_pickle flag
        'format': np.asarray(FORMAT),
        'names': np.asarray(readout.names, dtype=str),
        'scalar_mean': readout.scalar_mean, 'scalar_std': readout.scalar_std,
        'hidden': np.asarray(readout.hidden, dtype=str),
        'weights': readout.weights, 'bias': np.asarray(readout.bias),
        'warn_above': np.asarray(readout.warn_above),
        'manifest': np.asarray(json.dumps(readout.manifest, sort_keys=True)),
    }
    for i, (mean, comps, std) in enumerate(zip(readout.pca_mean, readout.pca_components, readout.pca_std)):
        arrays[f'pca_mean_{i}'] = mean
        arrays[f'pca_components_{i}'] = comps.astype(np.float32)
        arrays[f'pca_std_{i}'] = std
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, 'wb') as out:
        np.savez_compressed(out, **arrays)


def load(path: Path | str | None = None) -> Readout:
    file = Path(path) if path is not None else DEFAULT_PATH
    where = f'risk read-out {file}'
    try:
        with np.load(file, allow_pickle=False) as data:
            if int(data['format']) != FORMAT:
                raise ReadoutError(f'{where}: format {int(data["format"])}, this reviewbot reads {FORMAT}')
            names = tuple(str(n) for n in data['names'])
            hidden = tuple(str(n) for n in data['hidden'])
            pcs = [(data[f'pca_mean_{i}'].astype(np.float64), data[f'pca_components_{i}'].astype(np.float64),
                    data[f'pca_std_{i}'].astype(np.float64)) for i in range(len(hidden))]
            readout = Readout(
                names=names, scalar_mean=data['scalar_mean'].astype(np.float64),
                scalar_std=data['scalar_std'].astype(np.float64), hidden=hidden,
                pca_mean=tuple(p[0] for p in pcs), pca_components=tuple(p[1] for p in pcs),
                pca_std=tuple(p[2] for p in pcs), weights=data['weights'].astype(np.float64),
                bias=float(data['bias']), warn_above=float(data['warn_above']),
                manifest=json.loads(str(data['manifest'])))
    except ReadoutError:
        raise
    except FileNotFoundError:
        raise ReadoutError(f'{where} is missing: reinstall reviewbot, or turn [risk] off') from None
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as e:
        first = (str(e).splitlines() or [type(e).__name__])[0][:160]
        raise ReadoutError(f'{where} is unreadable ({first}): reinstall reviewbot, or turn [risk] off') from None
    _check(readout, where)
    return readout


def _check(r: Readout, where: str) -> None:
    k = sum(c.shape[0] for c in r.pca_components)
    ok = (r.scalar_mean.shape == r.scalar_std.shape == (len(r.names),) and r.weights.shape == (len(r.names) + k,)
          and all(m.ndim == 1 and c.ndim == 2 and c.shape[1] == m.shape[0] and s.shape == (c.shape[0],)
                  for m, c, s in zip(r.pca_mean, r.pca_components, r.pca_std))
          and bool(np.all(r.scalar_std > 0)) and all(bool(np.all(s > 0)) for s in r.pca_std)
          and bool(np.all(np.isfinite(r.weights))) and math.isfinite(r.bias) and 0.0 <= r.warn_above <= 1.0)
    if not ok:
        raise ReadoutError(f'{where} is inconsistent (array shapes or values): reinstall reviewbot, '
                           'or turn [risk] off')
