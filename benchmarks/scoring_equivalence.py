"""Scoring in the graph against the full-vocabulary numpy scoring it replaced, on eval cases.

For every unit the model reviewer makes on the eval subset (eval/score.py: N defect/vuln cases
with their fixes and N clean cases, stable order; eval/cases from `make eval-build`), three scans with
the same model: the old way (one prefill, every scored position's logits, float64 log-softmax
in numpy: `full_vocabulary`), the runtime's scan with line surprisals (in the graph, chunked,
prefix cache) and the triage scan (the answer's probability only). Reports the largest
differences of the risk and of the line surprisals, and any triage decision (at the default
threshold) or picked line that differs. Writes benchmarks/results/scoring_equivalence.{json,md}.

    python benchmarks/scoring_equivalence.py [--model qwen2.5-coder-0.5b] [--limit 30]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / 'eval'))

import numpy as np

from reviewbot.config import defaults
from reviewbot.diffparse import parse_diff
from reviewbot.reviewers import ReviewContext
from reviewbot.reviewers import model as mr
from reviewbot.scope import make_plan
from tests.reviewers.full_vocabulary import FullVocabularyScoring

RESULTS = Path(__file__).resolve().parent / 'results'


def main() -> int:
    import score  # eval/score.py

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--model', default='qwen2.5-coder-0.5b')
    ap.add_argument('--cases', default=str(ROOT / 'eval' / 'cases'))
    ap.add_argument('--limit', type=int, default=30)
    args = ap.parse_args()
    from reviewbot.engine import load_model
    model = load_model(args.model)
    oracle = FullVocabularyScoring(model)
    threshold = mr.DEFAULT_TRIAGE_THRESHOLD
    config = defaults().override(model=args.model)
    reviewer = mr.ModelReviewer(config, model=model)
    rows = []
    seconds = {'full_vocabulary': 0.0, 'graph_lines': 0.0, 'graph_triage': 0.0}
    for case in score.subset(score.load_cases(Path(args.cases)), args.limit):
        plan = make_plan(parse_diff(case.diff), config)
        ctx = ReviewContext(config=config, read_new_file=case.read_new_file)
        units, _ = reviewer.units(plan.files, ctx)
        for u in units:
            scans = {}
            for name, scorer, lines in (('full_vocabulary', oracle, True), ('graph_lines', model, True),
                                        ('graph_triage', model, False)):
                model.prefix_cache.clear()  # each scan as in a fresh process
                t0 = time.perf_counter()
                scans[name] = mr.scan_unit(scorer, u, lines=lines)
                seconds[name] += time.perf_counter() - t0
            old, new, triage = scans['full_vocabulary'], scans['graph_lines'], scans['graph_triage']
            line_diff = max((abs(new.line_surprisal.get(n, np.inf) - v) for n, v in old.line_surprisal.items()),
                            default=0.0)
            rows.append({
                'case': case.id, 'path': u.path, 'first': u.first_line,
                'risk_full_vocabulary': old.risk, 'risk_graph': new.risk, 'risk_triage': triage.risk,
                'risk_diff': max(abs(new.risk - old.risk), abs(triage.risk - old.risk)),
                'line_surprisal_diff': line_diff,
                'same_lines': set(new.line_surprisal) == set(old.line_surprisal),
                'decision_same': (old.risk >= threshold) == (new.risk >= threshold) == (triage.risk >= threshold),
                'picked_same': mr.pick_line(old) == mr.pick_line(new),
            })
            print(f"{case.id} L{u.first_line}: risk {old.risk:.5f} / {new.risk:.5f} / {triage.risk:.5f}, "
                  f"lines max diff {line_diff:.2e}", flush=True)
    summary = {
        'model': args.model, 'precision': model.precision, 'scores_in_graph': model.scores_in_graph,
        'cases': args.limit, 'units': len(rows), 'threshold': threshold,
        'max_risk_diff': max((r['risk_diff'] for r in rows), default=0.0),
        'max_line_surprisal_diff': max((r['line_surprisal_diff'] for r in rows), default=0.0),
        'decisions_changed': sum(not r['decision_same'] for r in rows),
        'picked_lines_changed': sum(not r['picked_same'] for r in rows),
        'line_sets_changed': sum(not r['same_lines'] for r in rows),
        'seconds': {k: round(v, 1) for k, v in seconds.items()},
        'load1_at_end': round(os.getloadavg()[0], 2),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / 'scoring_equivalence.json').write_text(json.dumps({'summary': summary, 'units': rows}, indent=1) + '\n',
                                                       encoding='utf-8')
    md = ['# Scoring in the graph vs the full-vocabulary numpy scoring', '',
          (f"{summary['units']} units of the eval subset --limit {args.limit} ({args.limit} defect/vuln cases with "
           f"their fixes and {args.limit} clean cases), {args.model} ({model.precision}, "
           f"scoring output in the graph: {model.scores_in_graph}); load average at the end "
           f"{summary['load1_at_end']}."), '',
          '| measure | value |', '|---|---:|',
          f"| largest risk difference (line scan and triage scan vs old) | {summary['max_risk_diff']:.2e} |",
          f"| largest line-surprisal difference (nats/token) | {summary['max_line_surprisal_diff']:.2e} |",
          f"| triage decisions changed at threshold {threshold} | {summary['decisions_changed']} |",
          f"| picked lines changed | {summary['picked_lines_changed']} |",
          f"| seconds, old full-vocabulary scans | {summary['seconds']['full_vocabulary']} |",
          f"| seconds, scans with line surprisals in the graph | {summary['seconds']['graph_lines']} |",
          f"| seconds, triage scans (answer only) | {summary['seconds']['graph_triage']} |", '']
    (RESULTS / 'scoring_equivalence.md').write_text('\n'.join(md), encoding='utf-8')
    print('\n'.join(md))
    return 0 if summary['decisions_changed'] == 0 and summary['max_risk_diff'] < 1e-4 else 1


if __name__ == '__main__':
    raise SystemExit(main())
