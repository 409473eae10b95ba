"""The risk read-out file: loads, scores deterministically, and fails as one line."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from reviewbot.risk import features as F
from reviewbot.risk import readout as R

REPO = Path(__file__).resolve().parents[2]


def _readout(d: int = 8, k: int = 3) -> R.Readout:
    rng = np.random.default_rng(7)
    names = F.METRIC_NAMES + F.TRIAGE_NAMES
    return R.Readout(
        names=names, scalar_mean=rng.normal(size=len(names)), scalar_std=rng.uniform(0.5, 2, len(names)),
        hidden=('hidden.12',), pca_mean=(rng.normal(size=d),), pca_components=(rng.normal(size=(k, d)),),
        pca_std=(rng.uniform(0.5, 2, k),), weights=rng.normal(size=len(names) + k), bias=-0.3,
        warn_above=0.6, manifest={'seed': 18})


def _features(d: int = 8) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    metrics = F.ChangeMetrics(added=4, removed=2, files=2, change_added=10, change_removed=3, spread=6,
                              complexity_delta=1)
    pre = F.Prefill(triage=0.4, added=None, removed=None,
                    hidden={'hidden.12': np.linspace(-1, 1, d, dtype=np.float32)}, tokens=40)
    return F.scalars(metrics, pre), pre.hidden


def test_round_trip_scores_the_same_number(tmp_path: Path):
    r = _readout()
    R.save(tmp_path / 'r.npz', r)
    loaded = R.load(tmp_path / 'r.npz')
    scalars, hidden = _features()
    a, b = r.score(scalars, hidden), loaded.score(scalars, hidden)
    assert a is not None and 0.0 < a < 1.0
    assert b == loaded.score(scalars, hidden) == R.load(tmp_path / 'r.npz').score(scalars, hidden)
    assert b == pytest.approx(a, abs=1e-6)  # the file keeps the PCA components in float32
    x = (np.asarray([scalars[n] for n in r.names]) - r.scalar_mean) / r.scalar_std
    z = (hidden['hidden.12'] - r.pca_mean[0]) @ r.pca_components[0].T / r.pca_std[0]
    expected = 1 / (1 + np.exp(-(np.concatenate([x, z]) @ r.weights + r.bias)))
    assert a == pytest.approx(float(expected), abs=1e-6)
    assert loaded.manifest == {'seed': 18} and loaded.warn_above == 0.6 and not loaded.needs_naturalness


def test_a_missing_feature_scores_none(tmp_path: Path):
    r = _readout()
    scalars, hidden = _features()
    assert r.score(scalars, {}) is None  # an export without hidden-state outputs
    assert r.score({k: v for k, v in scalars.items() if k != 'triage'}, hidden) is None
    assert r.score(scalars, {'hidden.12': np.zeros(5)}) is None  # another model's width


def _one_line(e: BaseException) -> str:
    text = str(e)
    assert '\n' not in text and 'Traceback' not in text
    return text


def test_missing_and_corrupt_files_are_one_line_errors(tmp_path: Path):
    with pytest.raises(R.ReadoutError) as e:
        R.load(tmp_path / 'nope.npz')
    assert 'is missing' in _one_line(e.value)
    garbage = tmp_path / 'garbage.npz'
    garbage.write_bytes(b'PK\x03\x04 not really a zip')
    with pytest.raises(R.ReadoutError) as e:
        R.load(garbage)
    assert 'unreadable' in _one_line(e.value)
    good = tmp_path / 'good.npz'
    R.save(good, _readout())
    truncated = tmp_path / 'truncated.npz'
    truncated.write_bytes(good.read_bytes()[:200])
    with pytest.raises(R.ReadoutError) as e:
        R.load(truncated)
    _one_line(e.value)
    bad = _readout()
    R.save(tmp_path / 'shapes.npz', R.Readout(**{**bad.__dict__, 'weights': bad.weights[:-1]}))
    with pytest.raises(R.ReadoutError) as e:
        R.load(tmp_path / 'shapes.npz')
    assert 'inconsistent' in _one_line(e.value)
    with np.load(good) as data:
        arrays = {k: data[k] for k in data.files if k != 'manifest'}
    np.savez(tmp_path / 'no-manifest.npz', **arrays)
    with pytest.raises(R.ReadoutError):
        R.load(tmp_path / 'no-manifest.npz')


def test_the_shipped_readout_loads_and_scores_deterministically():
    if not R.DEFAULT_PATH.is_file():
        pytest.fail(f'{R.DEFAULT_PATH} is not shipped')
    r = R.load()
    manifest = json.loads((R.DEFAULT_PATH.parent / 'manifest.json').read_text(encoding='utf-8'))
    assert r.manifest == manifest and manifest['seed'] == 18 and 0.0 <= r.warn_above <= 1.0
    metrics = F.ChangeMetrics(added=4, removed=2, files=2, change_added=10, change_removed=3, spread=6,
                              complexity_delta=1)
    widths = {name: comps.shape[1] for name, comps in zip(r.hidden, r.pca_components)}
    hidden = {name: np.cos(np.arange(w, dtype=np.float32)) for name, w in widths.items()}
    pre = F.Prefill(triage=0.4, added=(2.0, 6.0), removed=(1.5, 4.0), hidden=hidden, tokens=40, scored=True)
    scores = {r.score(F.scalars(metrics, pre), hidden) for _ in range(3)}
    assert len(scores) == 1 and next(iter(scores)) is not None and 0.0 <= next(iter(scores)) <= 1.0
    # the same number in a fresh process
    code = ('import numpy as np; from reviewbot.risk import readout as R, features as F; r = R.load(); '
            'm = F.ChangeMetrics(4, 2, 2, 10, 3, 6, 1); '
            'h = {n: np.cos(np.arange(c.shape[1], dtype=np.float32)) for n, c in zip(r.hidden, r.pca_components)}; '
            'p = F.Prefill(0.4, (2.0, 6.0), (1.5, 4.0), h, 40, True); print(repr(r.score(F.scalars(m, p), h)))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, cwd=REPO, check=True)
    assert float(out.stdout) == next(iter(scores))


def test_training_refuses_an_excluded_project(tmp_path: Path):
    from eval.risk import train
    names = list(F.NAMES)
    np.savez(tmp_path / 'a.npz', scalar_names=np.asarray(names), scalars=np.zeros(len(names)),
             meta=np.asarray(json.dumps({'id': 'x', 'project': 'pallets/click', 'label': 'bug', 'added': 1})))
    with pytest.raises(SystemExit) as e:
        train.load(tmp_path)
    assert 'excluded' in str(e.value)


def test_the_scorer_falls_back_with_a_note(tmp_path: Path):
    from reviewbot.risk.score import Scorer
    scorer, note = Scorer.open(tmp_path / 'missing.npz')
    assert scorer is None and note is not None and '\n' not in note and 'triage score' in note
    R.save(tmp_path / 'r.npz', _readout())
    scorer, note = Scorer.open(tmp_path / 'r.npz')
    assert scorer is not None and note is None

    class OldExport:  # a version-4 export: no hidden-state outputs
        name = 'qwen2.5-coder-0.5b'
        hidden_names: tuple[str, ...] = ()

    said = scorer.usable(OldExport())
    assert said is not None and 'hidden.12' in said and 'reviewbot model export qwen2.5-coder-0.5b' in said
    OldExport.hidden_names = ('hidden.12', 'hidden.18')
    assert scorer.usable(OldExport()) is None


def test_naturalness_is_zero_not_missing_when_no_code_token_was_read():
    metrics = F.ChangeMetrics(1, 0, 1, 1, 0, 1, 0)
    pre = F.Prefill(triage=0.2, added=None, removed=None, hidden={}, tokens=256, scored=True)
    assert [F.scalars(metrics, pre)[n] for n in F.NATURALNESS_NAMES] == [0.0] * len(F.NATURALNESS_NAMES)
    unscored = F.Prefill(triage=0.2, added=None, removed=None, hidden={}, tokens=256)
    assert not set(F.NATURALNESS_NAMES) & set(F.scalars(metrics, unscored))
