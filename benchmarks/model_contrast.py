"""Does the model tell a change that adds a defect from the change that removes it?

The model reviewer's triage score is the model's own belief that a unit has a finding
(1 - P(answer = NONE), one prefill). On the eval set it scores a defect and its fix alike, which
keeps the pair score low. This experiment measures a contrastive score instead: the same prefill
on the unit as changed (new code marked +) and on the reverse change (the removed code marked +,
i.e. the old version reviewed as if it were the change), and their difference. A defect diff
should make the code riskier (new > old), its fix less risky (new < old). Pure additions have no
old side; their contrast is their plain risk.

Both views are rendered from the diff alone (no surrounding file), so they show the same amount of
code. Reports AUCs (units holding a defect line vs units of clean and fix diffs) and, per
defect/fix pair, how often the defect's score exceeds its fix's.

Usage:
  python benchmarks/model_contrast.py --model qwen2.5-coder-0.5b --limit 25 --out eval/results/contrast-0.5b.json
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / 'eval'))

from reviewbot.config import defaults
from reviewbot.core import DiffLine, FileChange, Hunk, LineKind
from reviewbot.diffparse import parse_diff
from reviewbot.reviewers import model as mr
from reviewbot.scope import make_plan

_SWAP = {LineKind.ADDED: LineKind.REMOVED, LineKind.REMOVED: LineKind.ADDED, LineKind.CONTEXT: LineKind.CONTEXT}


def reversed_file(fc: FileChange) -> FileChange:
    """The change undone: removed lines become added ones, old numbers become new ones."""
    hunks = [Hunk(h.new_start, h.new_count, h.old_start, h.old_count, h.section,
                  [DiffLine(_SWAP[ln.kind], ln.text, ln.new_lineno, ln.old_lineno) for ln in h.lines])
             for h in fc.hunks]
    return dataclasses.replace(fc, old_path=fc.new_path, new_path=fc.old_path or fc.new_path, hunks=hunks)


def overlaps(a: mr.Unit, b: mr.Unit, fc: FileChange) -> bool:
    """Whether unit b of the reversed change covers the same hunks as unit a."""
    return bool(set(a.hunk_indexes) & set(b.hunk_indexes))


def risk(model: Any, u: mr.Unit) -> float:
    u.view = mr.render_view(u, None)
    return mr.scan_unit(model, u).risk


def run(args: argparse.Namespace) -> int:
    import score  # eval/score.py
    cases = score.subset(score.load_cases(Path(args.cases)), args.limit)
    if args.ids_from:  # the very cases of an earlier run (e.g. model_eval.py collect's output)
        ids = set(json.loads(Path(args.ids_from).read_text(encoding='utf-8'))['cases'])
        cases = [c for c in score.load_cases(Path(args.cases)) if c.id in ids]
    config = defaults().override(model=args.model)
    model = mr.ModelReviewer(config).model
    out: dict[str, Any] = {'model': args.model, 'cases': {}}
    t0 = time.perf_counter()
    for k, case in enumerate(cases, 1):
        plan = make_plan(parse_diff(case.diff), config)
        rows = []
        for fc in plan.files:
            if mr.language(fc.path) is None or not fc.hunks:
                continue
            old_units = mr.make_units(reversed_file(fc)) if fc.old_path else []
            for u in mr.make_units(fc):
                r_new = risk(model, u)
                olds = [o for o in old_units if overlaps(u, o, fc)]
                r_old = max((risk(model, o) for o in olds), default=None)
                rows.append({'path': u.path, 'added': sorted(u.added), 'new': r_new, 'old': r_old})
        out['cases'][case.id] = {'label': case.label, 'defect_lines': case.defect_lines, 'units': rows}
        if k % 10 == 0 or k == len(cases):
            print(f'{k}/{len(cases)} cases, {time.perf_counter() - t0:.0f} s', file=sys.stderr, flush=True)
            Path(args.out).write_text(json.dumps(out, indent=1), encoding='utf-8')
    report(out)
    return 0


def auc(pos: list[float], neg: list[float]) -> float | None:
    if not pos or not neg:
        return None
    return sum((p > n) + 0.5 * (p == n) for p in pos for n in neg) / (len(pos) * len(neg))


SCORES = {
    'new (plain risk)': lambda u: u['new'],
    'new - old (contrast)': lambda u: u['new'] - (u['old'] if u['old'] is not None else 0.0),
    'new - old, 0.5 weight': lambda u: u['new'] - 0.5 * (u['old'] if u['old'] is not None else 0.0),
}


def report(data: dict[str, Any]) -> None:
    cases = data['cases']
    for name, f in SCORES.items():
        pos, neg = [], []
        for e in cases.values():
            for u in e['units']:
                if e['label'] in ('defect', 'vuln'):
                    if any(abs(a - d) <= 3 for a in u['added'] for d in e['defect_lines']):
                        pos.append(f(u))
                else:
                    neg.append(f(u))
        wins = ties = n = 0
        for cid, e in cases.items():
            fix = cases.get(cid + '-fix')
            if e['label'] not in ('defect', 'vuln') or fix is None or not e['units'] or not fix['units']:
                continue
            a = max(f(u) for u in e['units'])
            b = max(f(u) for u in fix['units'])
            n += 1
            wins += a > b
            ties += a == b
        a = auc(pos, neg)
        print(f'{name}: unit AUC {a:.3f} ({len(pos)} defect units / {len(neg)} others); '
              f'defect > its fix in {wins}/{n} pairs (ties {ties})' if a is not None else f'{name}: no data')


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--model', default='qwen2.5-coder-0.5b')
    ap.add_argument('--cases', default=str(ROOT / 'eval' / 'cases'))
    ap.add_argument('--limit', type=int, default=25)
    ap.add_argument('--out', default=str(ROOT / 'eval' / 'results' / 'contrast.json'))
    ap.add_argument('--ids-from', metavar='JSON', help="the cases of an earlier run's JSON ('cases' keys)")
    ap.add_argument('--report', metavar='JSON', help='only report on a stored run')
    args = ap.parse_args()
    if args.report:
        report(json.loads(Path(args.report).read_text(encoding='utf-8')))
        return 0
    return run(args)


if __name__ == '__main__':
    raise SystemExit(main())
