"""Train and validate the risk read-out (issue 18): numpy logistic regression, leave-projects-out CV.

    python -m eval.risk.train [--features DIR] [--folds 5] [--ship]

Reads the per-hunk feature files of eval/risk/features.py. Labels: `bug` (SZZ bug-introducing) = 1,
`clean` = 0; `fix` hunks are scored out of fold but not trained on or counted in AUC (they give the
bug-above-its-fix pair rate). Folds group whole projects (never a project in both train and test).
Every model is fitted inside the training folds only, standardisation and PCA included, and its
ridge penalty and PCA size are chosen by an inner leave-projects-out CV inside the training folds:

  lines-added     LR on log(lines added)            (Zeng et al. ISSTA 2021's LApredict)
  metrics         LR on all change metrics
  triage          today's triage score, as is       (no training)
  naturalness     LR on the surprisal features
  hidden          LR on PCA(hidden.12) + PCA(hidden.18)
  combination     LR on metrics + triage + naturalness + hidden PCA
  product         LR on metrics + triage + hidden PCA (no naturalness: free at review time)
  (+ the product's inputs through a small MLP, and trained with the fix hunks as negatives too)
  (+ ablations: one hidden layer at a time, layers 6 and 23)

Measures, per fold and pooled (out-of-fold scores concatenated): ROC AUC (bug vs clean),
Recall@20%Effort and Effort@20%Recall with effort = lines added, hunks ranked by risk density
(risk / lines added, as JITLine and Kamei et al. rank for effort-aware evaluation), a hunk
bootstrap CI for the pooled AUC difference to lines-added, and the pair rate. Writes
eval/results/risk.md, risk.json, risk.png; --ship also writes the product read-out trained on all
data to reviewbot/data/risk/readout.npz and its manifest.json.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

# Small matrices: BLAS threads only fight each other (and the other jobs) on a busy 2-core machine.
for _var in ('OPENBLAS_NUM_THREADS', 'OMP_NUM_THREADS', 'MKL_NUM_THREADS'):
    os.environ.setdefault(_var, '1')

import numpy as np  # noqa: E402 - after the BLAS thread settings

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get('RISK_SHARED', '/work/wt/_shared/risk'))
MINE = Path(os.environ.get('RISK_MINE', '/work/wt/h-mine/eval/risk'))  # h-mine's pins until merged
SEED = 18
# The ridge penalty (on standardised features) and the PCA components per hidden layer are chosen
# INSIDE each training fold, by an inner leave-projects-out CV (3 groups) on AUC: the outer test
# projects never inform them. The MLP's settings are fixed.
L2_GRID = (1.0, 10.0, 100.0)
PCA_GRID = (8, 32)
INNER_FOLDS = 3
PRODUCT_LAYERS = (12, 18)  # = reviewbot.engine.surgery.HIDDEN_LAYERS
# Never trained or evaluated on (issue 18): BugsInPy's projects, click, requests, and the
# SVEN/SecurityEval/bandit example sets.
EXCLUDED = frozenset({
    'pandas', 'youtube-dl', 'scrapy', 'keras', 'thefuck', 'luigi', 'matplotlib', 'ansible', 'black',
    'fastapi', 'tornado', 'spacy', 'tqdm', 'httpie', 'sanic', 'cookiecutter', 'pysnooper', 'click',
    'requests', 'sven', 'securityeval', 'bandit'})


def project_name(project: str) -> str:
    return project.rstrip('/').split('/')[-1].lower().removesuffix('.git')


# --- data -----------------------------------------------------------------------------------------

class Data:
    def __init__(self, rows: list[dict[str, Any]], scalar_names: list[str], layers: list[str]):
        self.rows = rows
        self.scalar_names = scalar_names
        self.layers = layers
        self.X = np.asarray([r['scalars'] for r in rows], dtype=np.float64)
        self.H = {name: np.asarray([r['hidden'][name] for r in rows], dtype=np.float64) for name in layers}
        self.label = np.asarray([r['label'] for r in rows])
        self.y = (self.label == 'bug').astype(np.float64)
        self.project = np.asarray([r['project'] for r in rows])
        self.effort = np.asarray([max(1, r['added']) for r in rows], dtype=np.float64)

    def col(self, name: str) -> np.ndarray:
        return self.X[:, self.scalar_names.index(name)]


def load(features: Path) -> tuple[Data, dict[str, int]]:
    rows: list[dict[str, Any]] = []
    skipped: dict[str, int] = defaultdict(int)
    names: list[str] | None = None
    layers: set[str] | None = None
    for file in sorted(features.glob('*.npz')):
        try:
            with np.load(file, allow_pickle=False) as d:
                meta = json.loads(str(d['meta']))
                if meta.get('skipped') or 'scalars' not in d.files:
                    skipped[str(meta.get('skipped', 'no features'))[:40]] += 1
                    continue
                hidden = {k: d[k].astype(np.float64) for k in d.files if k.startswith('hidden.')}
                if names is None:
                    names = [str(n) for n in d['scalar_names']]
                scalars = d['scalars'].astype(np.float64)
        except (OSError, ValueError, KeyError):
            skipped['unreadable'] += 1
            continue
        if project_name(str(meta.get('project'))) in EXCLUDED:
            raise SystemExit(f'{file}: project {meta.get("project")} is excluded (issue 18) and must not be used')
        if meta.get('label') not in ('bug', 'clean', 'fix') or not np.all(np.isfinite(scalars)):
            skipped['label or non-finite'] += 1
            continue
        layers = set(hidden) if layers is None else layers & set(hidden)
        rows.append({'scalars': scalars, 'hidden': hidden, 'label': meta['label'], 'project': str(meta['project']),
                     'pair': meta.get('pair'), 'added': int(meta.get('added') or 1), 'id': meta.get('id'),
                     'tokens': meta.get('tokens'), 'seconds': meta.get('seconds')})
    if not rows or names is None:
        raise SystemExit(f'no usable feature files in {features}')
    return Data(rows, names, sorted(layers or (), key=lambda n: int(n.split('.')[1]))), dict(skipped)


def project_folds(projects: np.ndarray, k: int) -> list[np.ndarray]:
    """k groups of whole projects, balanced by hunk count (largest first, into the smallest group)."""
    counts: dict[str, int] = defaultdict(int)
    for p in projects:
        counts[str(p)] += 1
    rng = np.random.default_rng(SEED)
    names = sorted(counts)
    rng.shuffle(names)
    names.sort(key=lambda p: -counts[p])
    groups: list[list[str]] = [[] for _ in range(k)]
    sizes = [0] * k
    for p in names:
        i = int(np.argmin(sizes))
        groups[i].append(p)
        sizes[i] += counts[p]
    return [np.isin(projects, g) for g in groups]


# --- models ---------------------------------------------------------------------------------------

def fit_logistic(X: np.ndarray, y: np.ndarray, l2: float, iters: int = 100) -> tuple[np.ndarray, float]:
    """L2-penalised logistic regression by Newton's method (IRLS); the bias is not penalised."""
    n, d = X.shape
    A = np.hstack([X, np.ones((n, 1))])
    w = np.zeros(d + 1)
    reg = np.full(d + 1, l2)
    reg[-1] = 0.0
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-np.clip(A @ w, -30, 30)))
        grad = A.T @ (p - y) + reg * w
        hess = (A * (p * (1 - p))[:, None]).T @ A + np.diag(reg) + 1e-9 * np.eye(d + 1)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return w[:-1], float(w[-1])


class Pipeline:
    """Standardise scalars; PCA each hidden layer (fitted here), standardise scores; logistic regression."""

    def __init__(self, scalars: list[str], layers: list[str], k: int = 16, l2: float = 10.0):
        self.scalars, self.layers, self.k, self.l2 = scalars, layers, k, l2

    def _design(self, data: Data, idx: np.ndarray, fit: bool) -> np.ndarray:
        parts = []
        if self.scalars:
            x = np.stack([data.col(n)[idx] for n in self.scalars], axis=1)
            if fit:
                self.mu = x.mean(axis=0)
                self.sd = x.std(axis=0)
                self.sd[self.sd < 1e-9] = 1.0
            parts.append((x - self.mu) / self.sd)
        if fit:
            self.pca: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        for i, name in enumerate(self.layers):
            h = data.H[name][idx]
            if fit:
                mean = h.mean(axis=0)
                _u, _s, vt = np.linalg.svd(h - mean, full_matrices=False)
                comps = vt[:min(self.k, len(vt))]
                scores = (h - mean) @ comps.T
                sd = scores.std(axis=0)
                sd[sd < 1e-9] = 1.0
                self.pca.append((mean, comps, sd))
            mean, comps, sd = self.pca[i]
            parts.append(((h - mean) @ comps.T) / sd)
        return np.hstack(parts)

    def fit(self, data: Data, idx: np.ndarray) -> Pipeline:
        self.w, self.b = fit_logistic(self._design(data, idx, fit=True), data.y[idx], self.l2)
        return self

    def predict(self, data: Data, idx: np.ndarray) -> np.ndarray:
        z = self._design(data, idx, fit=False) @ self.w + self.b
        return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


class MLPPipeline(Pipeline):
    """The same inputs through one hidden layer (16 tanh units), L2, full-batch Adam for a fixed
    number of steps (nothing tuned on the folds); the mean of 5 seeds."""

    HIDDEN, STEPS, LR, L2 = 16, 400, 0.01, 1e-2

    def fit(self, data: Data, idx: np.ndarray) -> MLPPipeline:
        X, y = self._design(data, idx, fit=True), data.y[idx]
        self.nets = [self._train(X, y, seed) for seed in range(5)]
        return self

    def _train(self, X: np.ndarray, y: np.ndarray, seed: int) -> list[np.ndarray]:
        rng = np.random.default_rng(SEED + seed)
        d = X.shape[1]
        params = [rng.normal(0, 1 / math.sqrt(d), (d, self.HIDDEN)), np.zeros(self.HIDDEN),
                  rng.normal(0, 1 / math.sqrt(self.HIDDEN), self.HIDDEN), np.zeros(1)]
        m = [np.zeros_like(p) for p in params]
        v = [np.zeros_like(p) for p in params]
        for t in range(1, self.STEPS + 1):
            W1, b1, w2, b2 = params
            h = np.tanh(X @ W1 + b1)
            p = 1 / (1 + np.exp(-np.clip(h @ w2 + b2[0], -30, 30)))
            g = (p - y) / len(y)
            gh = np.outer(g, w2) * (1 - h ** 2)
            grads = [X.T @ gh + self.L2 * W1, gh.sum(0), h.T @ g + self.L2 * w2, np.array([g.sum()])]
            for i, gr in enumerate(grads):
                m[i] = 0.9 * m[i] + 0.1 * gr
                v[i] = 0.999 * v[i] + 0.001 * gr ** 2
                params[i] = params[i] - self.LR * (m[i] / (1 - 0.9 ** t)) / (np.sqrt(v[i] / (1 - 0.999 ** t)) + 1e-8)
        return params

    def predict(self, data: Data, idx: np.ndarray) -> np.ndarray:
        X = self._design(data, idx, fit=False)
        out = np.zeros(len(idx))
        for W1, b1, w2, b2 in self.nets:
            out += 1 / (1 + np.exp(-np.clip(np.tanh(X @ W1 + b1) @ w2 + b2[0], -30, 30)))
        return out / len(self.nets)


# --- measures -------------------------------------------------------------------------------------

def auc(score: np.ndarray, y: np.ndarray) -> float:
    """ROC AUC with ties counted half (Mann-Whitney)."""
    pos, neg = y == 1, y == 0
    if not pos.any() or not neg.any():
        return float('nan')
    order = np.argsort(score, kind='mergesort')
    ranks = np.empty(len(score))
    s = score[order]
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and s[j + 1] == s[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[pos].sum() - pos.sum() * (pos.sum() + 1) / 2) / (pos.sum() * neg.sum()))


def effort_order(score: np.ndarray, effort: np.ndarray) -> np.ndarray:
    """Hunks by risk density (risk / effort) descending; ties: less effort first."""
    return np.lexsort((effort, -(score / effort)))


def recall_at_effort(score: np.ndarray, y: np.ndarray, effort: np.ndarray, share: float = 0.2) -> float:
    order = effort_order(score, effort)
    cum = np.cumsum(effort[order]) / effort.sum()
    inside = cum <= share + 1e-12
    return float(y[order][inside].sum() / max(y.sum(), 1))


def effort_at_recall(score: np.ndarray, y: np.ndarray, effort: np.ndarray, share: float = 0.2) -> float:
    order = effort_order(score, effort)
    found = np.cumsum(y[order])
    need = math.ceil(share * y.sum())
    at = int(np.searchsorted(found, need))
    return float(effort[order][:at + 1].sum() / effort.sum())


def measures(score: np.ndarray, y: np.ndarray, effort: np.ndarray) -> dict[str, float]:
    return {'auc': auc(score, y), 'recall@20%effort': recall_at_effort(score, y, effort),
            'effort@20%recall': effort_at_recall(score, y, effort), 'n': len(y), 'bugs': int(y.sum())}


# --- experiment -----------------------------------------------------------------------------------

def methods(data: Data) -> dict[str, dict[str, Any]]:
    metric_names = [n for n in data.scalar_names if not n.startswith('nat_') and n != 'triage']
    nat = [n for n in data.scalar_names if n.startswith('nat_')]
    product = [f'hidden.{i}' for i in PRODUCT_LAYERS if f'hidden.{i}' in data.layers]
    out: dict[str, dict[str, Any]] = {
        'lines-added': {'scalars': ['log_added'], 'layers': []},
        'metrics': {'scalars': metric_names, 'layers': []},
        'triage': {'raw': 'triage'},
        'naturalness': {'scalars': nat, 'layers': []},
        'hidden': {'scalars': [], 'layers': product},
        'combination': {'scalars': metric_names + ['triage'] + nat, 'layers': product},
        'product': {'scalars': metric_names + ['triage'], 'layers': product},
        'product (MLP)': {'scalars': metric_names + ['triage'], 'layers': product, 'mlp': True},
        'product (fix hunks as negatives)': {'scalars': metric_names + ['triage'], 'layers': product,
                                             'fix_negative': True},
    }
    for name in data.layers:
        out[f'{name} only'] = {'scalars': [], 'layers': [name]}
    return out


def fitting_rows(data: Data, spec: dict[str, Any], rows: np.ndarray) -> np.ndarray:
    """The rows a model is fitted on: bug and clean; fix hunks too (as negatives) if the spec says so."""
    return rows if spec.get('fix_negative') else rows[data.label[rows] != 'fix']


def fit_spec(data: Data, spec: dict[str, Any], tr: np.ndarray) -> Pipeline:
    """The spec's model fitted on training rows `tr`, its settings chosen by inner grouped CV on `tr` only."""
    if spec.get('mlp'):
        return MLPPipeline(spec['scalars'], spec['layers'], k=16).fit(data, fitting_rows(data, spec, tr))
    k, l2 = choose(data, spec, tr)
    return Pipeline(spec['scalars'], spec['layers'], k=k, l2=l2).fit(data, fitting_rows(data, spec, tr))


def choose(data: Data, spec: dict[str, Any], tr: np.ndarray) -> tuple[int, float]:
    """(PCA components, L2) with the best inner leave-projects-out AUC (bug vs clean) over `tr`."""
    grid = [(k, l2) for k in (PCA_GRID if spec['layers'] else (0,)) for l2 in L2_GRID]
    inner = project_folds(data.project[tr], INNER_FOLDS)
    ev = data.label[tr] != 'fix'
    best, best_auc = grid[0], -1.0
    for k, l2 in grid:
        oof = np.full(len(tr), np.nan)
        for test in inner:
            model = Pipeline(spec['scalars'], spec['layers'], k=k, l2=l2)
            oof[test] = model.fit(data, fitting_rows(data, spec, tr[~test])).predict(data, tr[test])
        a = auc(oof[ev], data.y[tr][ev])
        if a > best_auc + 1e-9:
            best, best_auc = (k, l2), a
    return best


def cross_validate(data: Data, folds: list[np.ndarray], spec: dict[str, Any]) -> np.ndarray:
    """Out-of-fold scores for every hunk (fix hunks included)."""
    oof = np.full(len(data.y), np.nan)
    for test in folds:
        te = np.flatnonzero(test)
        if 'raw' in spec:
            oof[te] = data.col(spec['raw'])[te]
            continue
        oof[te] = fit_spec(data, spec, np.flatnonzero(~test)).predict(data, te)
    return oof


def pair_rate(data: Data, score: np.ndarray) -> dict[str, Any]:
    """Share of bug/fix pairs (a fix hunk and the bug-introducing hunk its `pair` names, both
    extracted) whose bug side scores above the fix; ties count half."""
    index = {str(r['id']): i for i, r in enumerate(data.rows)}
    wins = n = 0.0
    for i, r in enumerate(data.rows):
        j = index.get(str(r['pair'])) if r['label'] == 'fix' else None
        if j is None or data.rows[j]['label'] != 'bug':
            continue
        n += 1
        wins += 1.0 if score[j] > score[i] else 0.5 if score[j] == score[i] else 0.0
    return {'pairs': int(n), 'bug_above_fix': wins / n if n else None}


def bootstrap_diff(a: np.ndarray, b: np.ndarray, y: np.ndarray, reps: int = 500) -> tuple[float, float]:
    rng = np.random.default_rng(SEED)
    diffs = []
    for _ in range(reps):
        i = rng.integers(0, len(y), len(y))
        if y[i].min() == y[i].max():
            continue
        diffs.append(auc(a[i], y[i]) - auc(b[i], y[i]))
    lo, hi = np.percentile(diffs, [2.5, 97.5])
    return float(lo), float(hi)


def run(features: Path, k: int) -> dict[str, Any]:
    data, skipped = load(features)
    train_mask = data.label != 'fix'
    folds = project_folds(data.project, k)
    specs = methods(data)
    result: dict[str, Any] = {
        'hunks': {lab: int((data.label == lab).sum()) for lab in ('bug', 'clean', 'fix')},
        'projects': len(set(data.project)), 'skipped': skipped, 'folds': k, 'seed': SEED,
        'l2_grid': L2_GRID, 'pca_grid': PCA_GRID, 'inner_folds': INNER_FOLDS, 'layers': data.layers,
        'scalar_names': data.scalar_names,
        'fold_projects': [sorted(set(data.project[f])) for f in folds], 'methods': {}}
    scores: dict[str, np.ndarray] = {}
    ev = train_mask  # AUC and effort: bug vs clean
    for name, spec in specs.items():
        oof = cross_validate(data, folds, spec)
        scores[name] = oof
        per_fold = [measures(oof[f & ev], data.y[f & ev], data.effort[f & ev]) for f in folds]
        pooled = measures(oof[ev], data.y[ev], data.effort[ev])
        result['methods'][name] = {'pooled': pooled, 'folds': per_fold, 'pairs': pair_rate(data, oof),
                                   'features': spec}
    base = scores['lines-added'][ev]
    for name in ('combination', 'product', 'hidden'):
        lo, hi = bootstrap_diff(scores[name][ev], base, data.y[ev])
        result['methods'][name]['auc_minus_lines_added_ci95'] = [lo, hi]
    seconds = [r['seconds'] for r in data.rows if r.get('seconds')]
    tokens = [r['tokens'] for r in data.rows if r.get('tokens')]
    result['extraction'] = {'seconds_per_hunk_median': float(np.median(seconds)) if seconds else None,
                            'view_tokens_median': float(np.median(tokens)) if tokens else None}
    return {'result': result, 'data': data, 'scores': scores, 'folds': folds, 'specs': specs}


def calibrate(data: Data, oof: np.ndarray, clean_share: float = 0.10) -> float:
    """Risk above which at most `clean_share` of the clean hunks fall (out of fold): findings on a
    hunk above it are warnings, elsewhere info."""
    clean = oof[data.label == 'clean']
    return float(np.quantile(clean, 1.0 - clean_share)) if len(clean) else 0.5


def ship(out: dict[str, Any], name: str, path: Path, pins: dict[str, Any]) -> dict[str, Any]:
    from reviewbot.risk import readout as R

    data, spec = out['data'], out['specs'][name]
    model = fit_spec(data, spec, np.arange(len(data.y)))
    warn = calibrate(data, out['scores'][name])
    res = out['result']
    manifest = {
        'issue': 18, 'method': name, 'features': {'scalars': spec['scalars'], 'hidden': spec['layers'],
                                                   'pca_k': model.k if spec['layers'] else 0,
                                                   'view_token_cap': 256},
        'model': 'qwen2.5-coder-0.5b int4 (fused graph)', 'seed': SEED, 'l2': model.l2,
        'trained_on': res['hunks'],
        'projects': res['projects'], 'data': pins, 'warn_above': warn,
        'warn_above_rule': 'out-of-fold risk exceeded by 10 % of clean hunks',
        'cv': {m: res['methods'][m]['pooled'] | {'pairs': res['methods'][m]['pairs']}
               for m in ('lines-added', 'triage', name)},
        'trainer': 'eval/risk/train.py'}
    readout = R.Readout(
        names=tuple(spec['scalars']), scalar_mean=getattr(model, 'mu', np.zeros(0)),
        scalar_std=getattr(model, 'sd', np.ones(0)), hidden=tuple(spec['layers']),
        pca_mean=tuple(p[0] for p in model.pca), pca_components=tuple(p[1] for p in model.pca),
        pca_std=tuple(p[2] for p in model.pca), weights=model.w, bias=model.b, warn_above=warn,
        manifest=manifest)
    R.save(path, readout)
    (path.parent / 'manifest.json').write_text(json.dumps(manifest, indent=1, sort_keys=True) + '\n', encoding='utf-8')
    return manifest


def fmt(x: Any) -> str:
    return '–' if x is None or (isinstance(x, float) and math.isnan(x)) else f'{x:.3f}'


def report(out: dict[str, Any], md: Path) -> None:
    res = out['result']
    lines = ['# Risk ranking of hunks: leave-projects-out results (issue 18)', '',
             (f"{res['hunks']['bug']} bug-introducing, {res['hunks']['clean']} clean and {res['hunks']['fix']} fix "
             f"hunks from {res['projects']} projects; {res['folds']} folds of whole projects; seed {res['seed']}. "
             'Trained on bug vs clean inside each training fold (standardisation and PCA included); AUC is bug '
             'vs clean; effort = lines added, hunks ranked by risk / lines added (JITLine); pairs: share of '
             'bug/fix pairs whose bug side scores above its fix (out of fold). `python -m eval.risk.train`.'), '',
             '## Pooled (out-of-fold scores of all folds)', '',
             '| method | AUC | Recall@20%Effort | Effort@20%Recall | bug above fix | AUC − lines-added (95 % CI) |',
             '|---|---|---|---|---|---|']
    for name, m in res['methods'].items():
        p = m['pooled']
        ci = m.get('auc_minus_lines_added_ci95')
        diff = p['auc'] - res['methods']['lines-added']['pooled']['auc']
        cell = f'{diff:+.3f} [{ci[0]:+.3f}, {ci[1]:+.3f}]' if ci else f'{diff:+.3f}'
        lines.append(f"| {name} | {fmt(p['auc'])} | {fmt(p['recall@20%effort'])} | {fmt(p['effort@20%recall'])} | "
                     f"{fmt(m['pairs']['bug_above_fix'])} ({m['pairs']['pairs']}) | {cell} |")
    lines += ['', '## Per fold (AUC / Recall@20%Effort / Effort@20%Recall)', '',
              '| method | ' + ' | '.join(f'fold {i + 1}' for i in range(res['folds'])) + ' |',
              '|---|' + '---|' * res['folds']]
    for name, m in res['methods'].items():
        cells = [f"{fmt(f['auc'])} / {fmt(f['recall@20%effort'])} / {fmt(f['effort@20%recall'])}" for f in m['folds']]
        lines.append(f'| {name} | ' + ' | '.join(cells) + ' |')
    lines += ['', 'Fold sizes (hunks, bugs): ' + ', '.join(
        f"{f['n']}/{f['bugs']}" for f in res['methods']['lines-added']['folds']), '',
        'Projects per fold: ' + '; '.join(', '.join(p) for p in res['fold_projects']), '']
    md.write_text('\n'.join(lines) + '\n', encoding='utf-8')


def plot(out: dict[str, Any], png: Path) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    data, scores = out['data'], out['scores']
    ev = data.label != 'fix'
    y, effort = data.y[ev], data.effort[ev]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.5))
    for name in ('lines-added', 'metrics', 'triage', 'naturalness', 'hidden', 'combination', 'product'):
        s = scores[name][ev]
        order = np.argsort(-s, kind='mergesort')
        tpr = np.concatenate([[0], np.cumsum(y[order]) / y.sum()])
        fpr = np.concatenate([[0], np.cumsum(1 - y[order]) / (1 - y).sum()])
        a1.plot(fpr, tpr, label=f'{name} ({auc(s, y):.2f})')
        eo = effort_order(s, effort)
        a2.plot(np.concatenate([[0], np.cumsum(effort[eo]) / effort.sum()]),
                np.concatenate([[0], np.cumsum(y[eo]) / y.sum()]), label=name)
    a1.plot([0, 1], [0, 1], 'k:', lw=0.8)
    a1.set(xlabel='false positive rate (clean hunks)', ylabel='true positive rate (bug hunks)',
           title='ROC, leave-projects-out (pooled)')
    a2.axvline(0.2, color='k', ls=':', lw=0.8)
    a2.set(xlabel='effort (share of lines added reviewed)', ylabel='recall (share of bug hunks)',
           title='Effort-aware (ranked by risk / lines added)')
    a1.legend(fontsize=7)
    a2.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(png, dpi=110)


def pins() -> dict[str, Any]:
    """The data the read-out was trained on: h-mine's pins and counts (eval/risk/projects.toml,
    counts.json: repository and commit of every project mined) and the hunks file, by sha256."""
    out: dict[str, Any] = {}
    for name in ('projects.toml', 'counts.json'):
        for base in (REPO / 'eval' / 'risk', MINE, SHARED):
            f = base / name
            if f.is_file():
                out[f'eval/risk/{name}'] = hashlib.sha256(f.read_bytes()).hexdigest()
                break
    hunks = SHARED / 'hunks.jsonl'
    if hunks.is_file():
        out['hunks.jsonl'] = hashlib.sha256(hunks.read_bytes()).hexdigest()
    out['miner'] = 'eval/risk/mine.py'
    out['features'] = 'eval/risk/features.py (VIEW_TOKEN_CAP 256, qwen2.5-coder-0.5b int4 fused export)'
    try:
        out['trainer_commit'] = subprocess.run(['git', '-C', str(REPO), 'rev-parse', 'HEAD'], capture_output=True,
                                               text=True, check=False).stdout.strip()
    except OSError:
        pass
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--features', type=Path, default=SHARED / 'features')
    ap.add_argument('--folds', type=int, default=5)
    ap.add_argument('--results', type=Path, default=REPO / 'eval' / 'results')
    ap.add_argument('--ship', metavar='METHOD', default='', help='write the read-out of METHOD trained on all data')
    args = ap.parse_args(argv)
    out = run(args.features, args.folds)
    args.results.mkdir(parents=True, exist_ok=True)
    if args.ship:
        out['result']['shipped'] = ship(out, args.ship, REPO / 'reviewbot' / 'data' / 'risk' / 'readout.npz', pins())
    report(out, args.results / 'risk.md')
    (args.results / 'risk.json').write_text(json.dumps(out['result'], indent=1, sort_keys=True) + '\n',
                                            encoding='utf-8')
    plot(out, args.results / 'risk.png')
    for name, m in out['result']['methods'].items():
        p = m['pooled']
        print(f"{name:24} AUC {fmt(p['auc'])}  R@20%E {fmt(p['recall@20%effort'])}  E@20%R "
              f"{fmt(p['effort@20%recall'])}  pairs {fmt(m['pairs']['bug_above_fix'])}", file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
