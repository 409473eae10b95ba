"""Measure and calibrate the model reviewer on the eval set (eval/cases, built by eval/build.py).

`collect` runs, for every case and every unit the reviewer would make, the reviewer's one-prefill
scan (risk and per-line surprisal) and its generation, optionally the naive single-prompt baseline
(`--naive`), and records everything (and the timings) in a JSON file. It fills the reviewer's own
result cache, so a later `python eval/score.py --reviewers model` with the same model costs no
inference.

`calibrate` reads such files and, without running the model again, simulates the reviewer for
every triage threshold: the findings of a case are the validated findings of its units whose
score is at or above the threshold. It reports the metrics of eval/score.py (recall within +-3
lines, FP per clean/fix diff, precision, pair score), the AUC of each triage score, and chooses
the threshold by 2-fold cross-validation over pairs (fold = hash of the pair id): the threshold
chosen on one fold is scored on the other, so the reported numbers are not tuned on themselves.

Usage:
  python benchmarks/model_eval.py collect --model qwen2.5-coder-0.5b --out eval/results/model-0.5b.json
  python benchmarks/model_eval.py calibrate eval/results/model-0.5b.json
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / 'eval'))

from baselines import naive_review  # eval/baselines.py

from reviewbot.config import defaults
from reviewbot.diffparse import parse_diff
from reviewbot.reviewers import ReviewContext
from reviewbot.reviewers import model as mr
from reviewbot.scope import make_plan

MAX_FP_PER_CLEAN = 0.3  # the project's target; the threshold is the one with the best pair score under it


def _score_module() -> Any:
    import score  # eval/score.py
    return score


def collect(args: argparse.Namespace) -> int:
    score = _score_module()
    cases = score.subset(score.load_cases(Path(args.cases)), args.limit)
    config = defaults().override(model=args.model, threads=args.threads)
    reviewer = mr.ModelReviewer(config)
    t_load = time.perf_counter()
    model = reviewer.model
    load_seconds = time.perf_counter() - t_load
    out: dict[str, Any] = {'model': args.model, 'identity': reviewer.model_identity(),
                           'prompt_version': mr.PROMPT_VERSION, 'load_seconds': load_seconds,
                           'cases': {}}
    stats: dict[str, Any] = {'cache_hits': 0, 'model_calls': 0, 'triaged': 0}
    for k, case in enumerate(cases, 1):
        diff = parse_diff(case.diff)
        plan = make_plan(diff, config)
        ctx = ReviewContext(config=config, read_new_file=case.read_new_file)
        units, _ = reviewer.units(plan.files, ctx)
        rows = []
        for u in units:
            row: dict[str, Any] = {'path': u.path, 'first': u.first_line, 'last': u.last_line,
                                   'added': sorted(u.added), 'chars': len(u.view),
                                   'added_text': {str(n): t for n, t in u.added.items()}}
            t0 = time.perf_counter()
            calls = stats['model_calls']
            reviewer.triage(u, '', ctx, stats)
            if u.scan is not None and not u.scan.lines_scored:  # triage scores the answer only
                reviewer._score_lines(u, '', ctx, stats)
            row['seconds_scan'] = time.perf_counter() - t0 if stats['model_calls'] > calls else None
            row['score_answer'] = u.score
            row['line_surprisal'] = u.scan.line_surprisal if u.scan else {}
            row['picked'] = mr.pick_line(u.scan) if u.scan else None
            t0 = time.perf_counter()
            calls = stats['model_calls']
            text, _complete = reviewer.answer(u, '', ctx, stats)
            row['seconds_answer_gen'] = time.perf_counter() - t0 if stats['model_calls'] > calls else None
            row['text'] = text
            checked = mr.validate(mr.parse_output(text), u)
            row['findings'] = [{'line': f.line, 'category': f.category, 'message': f.message}
                               for f in checked.findings]
            row['dropped'] = checked.dropped
            rows.append(row)
        entry: dict[str, Any] = {'label': case.label, 'units': rows}
        if args.naive:
            t0 = time.perf_counter()
            naive = naive_review(plan.files, model)
            entry['naive'] = [{'path': f.path, 'line': f.line, 'message': f.message} for f in naive]
            entry['naive_seconds'] = time.perf_counter() - t0
        out['cases'][case.id] = entry
        if k % 5 == 0 or k == len(cases):
            print(f'{args.model}: {k}/{len(cases)} cases', file=sys.stderr, flush=True)
            Path(args.out).write_text(json.dumps(out, indent=1), encoding='utf-8')
    Path(args.out).write_text(json.dumps(out, indent=1), encoding='utf-8')
    return 0


# --- calibration ---------------------------------------------------------------------------------

def auc(pos: list[float], neg: list[float]) -> float | None:
    if not pos or not neg:
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


SIGNALS = ('answer', 'surprisal', 'both')


def signal_of(u: dict[str, Any], signal: str) -> float:
    scan = mr.Scan(float(u.get('score_answer') or 0.0),
                   {int(k): float(v) for k, v in (u.get('line_surprisal') or {}).items()})
    return mr.unit_risk(scan, signal)


def revalidate(u: dict[str, Any], path: str) -> list[dict]:
    """The unit's findings under the current validator (the raw answer is stored)."""
    added = {int(k): v for k, v in u.get('added_text', {}).items()}
    if not added:
        return u['findings']
    unit = mr.Unit(path, '', [0], [], added)
    return [{'line': f.line, 'category': f.category, 'message': f.message}
            for f in mr.validate(mr.parse_output(u['text']), unit).findings]


def findings_at(data: dict[str, Any], threshold: float, method: str) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for cid, entry in data['cases'].items():
        fs = []
        for u in entry['units']:
            if signal_of(u, method) >= threshold:
                fs.extend(u['_valid'])
        out[cid] = fs
    return out


def fold_of(case_id: str, label: str) -> int:
    pair = case_id.removesuffix('-fix').removesuffix('-clean')
    return int(hashlib.sha256(pair.encode()).hexdigest(), 16) % 2


def choose(cases: list[Any], data: dict[str, Any], method: str, thresholds: list[float]) -> tuple[float, dict]:
    score = _score_module()
    best: tuple[float, dict] | None = None
    for t in thresholds:
        m = score.metrics(cases, findings_at(data, t, method))
        ok = m['fp_per_clean'] is not None and m['fp_per_clean'] <= MAX_FP_PER_CLEAN
        key = (ok, m['pair_score'] or 0.0, m['precision'] or 0.0, t)
        if best is None or key > best[1]['_key']:
            best = (t, {**m, '_key': key})
    assert best is not None
    return best


def calibrate(args: argparse.Namespace) -> int:
    score = _score_module()
    all_cases = score.load_cases(Path(args.cases))
    for path in args.files:
        data = json.loads(Path(path).read_text(encoding='utf-8'))
        cases = [c for c in all_cases if c.id in data['cases']]
        by_id = {c.id: c for c in cases}
        print(f'## {data["model"]} ({len(cases)} cases)')
        # Unit-level separation of each triage score: units holding a defect line vs units of
        # clean and fix diffs.
        methods = list(SIGNALS)
        for e in data['cases'].values():
            for u in e['units']:
                u['_valid'] = revalidate(u, u['path'])
        for method in methods:
            pos, neg = [], []
            for cid, entry in data['cases'].items():
                c = by_id[cid]
                for u in entry['units']:
                    s = signal_of(u, method)
                    if c.label in ('defect', 'vuln'):
                        if any(abs(a - d) <= 3 for a in u['added'] for d in c.defect_lines):
                            pos.append(s)
                    else:
                        neg.append(s)
            a = auc(pos, neg)
            print(f'triage {method}: AUC {a:.3f} over {len(pos)} defect units / {len(neg)} clean units'
                  if a is not None else f'triage {method}: no data')
        thresholds = sorted({round(signal_of(u, m), 4) for e in data['cases'].values()
                             for u in e['units'] for m in methods} | {0.0})
        grid = [0.0] + [t for t in thresholds if t > 0][::max(1, len(thresholds) // 60)] + [1.01]
        for method in methods:
            for t in (0.0,):
                m = score.metrics(cases, findings_at(data, t, method))
                print(f'  no triage: {_fmt(m)}')
            folds = [[c for c in cases if fold_of(c.id, c.label) == f] for f in (0, 1)]
            held: list[str] = []
            for f in (0, 1):
                t, _ = choose(folds[f], data, method, grid)
                m = score.metrics(folds[1 - f], findings_at(data, t, method))
                held.append(f'fold{f}->t={t:.3f}: {_fmt(m)}')
            t_all, m_all = choose(cases, data, method, grid)
            print(f'  {method}: chosen on all t={t_all:.3f}: {_fmt(m_all)}')
            for h in held:
                print(f'    cross-validated {h}')
        if any('naive' in e for e in data['cases'].values()):
            naive = {cid: [f for f in e.get('naive', []) if f.get('line') is not None]
                     for cid, e in data['cases'].items()}
            print(f'  naive single prompt: {_fmt(score.metrics(cases, naive))}')
        gen = [u['seconds_answer_gen'] for e in data['cases'].values() for u in e['units']
               if u.get('seconds_answer_gen')]
        tri = [u['seconds_scan'] for e in data['cases'].values() for u in e['units']
               if u.get('seconds_scan')]
        if gen and tri:
            gen.sort()
            tri.sort()
            print(f'  seconds per unit: triage median {tri[len(tri) // 2]:.2f}, generation median '
                  f'{gen[len(gen) // 2]:.2f} (p90 {gen[int(len(gen) * 0.9)]:.2f}); load {data["load_seconds"]:.1f}')
        if args.export:
            method = args.method or methods[0]
            t = args.threshold if args.threshold is not None else choose(cases, data, method, grid)[0]
            fo = findings_at(data, t, method)
            Path(args.export).write_text(json.dumps(fo, indent=1) + '\n', encoding='utf-8')
            print(f'  wrote findings at {method} >= {t:.3f} to {args.export}')
    return 0


def _fmt(m: dict[str, Any]) -> str:
    keys = ('recall', 'vuln_recall', 'defect_recall', 'fp_per_clean', 'precision', 'pair_score')
    return ', '.join(f'{k} {m.get(k)}' for k in keys)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(required=True)
    c = sub.add_parser('collect')
    c.add_argument('--model', required=True)
    c.add_argument('--out', required=True)
    c.add_argument('--cases', default=str(ROOT / 'eval' / 'cases'))
    c.add_argument('--limit', type=int, default=None)
    c.add_argument('--threads', type=int, default=2)
    c.add_argument('--naive', action='store_true', help='also run the naive single-prompt baseline')
    c.set_defaults(func=collect)
    k = sub.add_parser('calibrate')
    k.add_argument('files', nargs='+')
    k.add_argument('--cases', default=str(ROOT / 'eval' / 'cases'))
    k.add_argument('--export', help='write {case id: findings} at the chosen threshold (for eval/score.py --import)')
    k.add_argument('--method', help='triage method for --export (default: the first measured)')
    k.add_argument('--threshold', type=float, help='threshold for --export (default: chosen on all cases)')
    k.set_defaults(func=calibrate)
    args = ap.parse_args()
    return args.func(args)


if __name__ == '__main__':
    sys.exit(main())
