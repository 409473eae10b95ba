"""What the risk read-out adds to the local model's triage (issue 18).

    nice python benchmarks/bench_risk.py [--units 12] [--rounds 3]

For the units of the last commits of this repository (Python files), times, interleaved and
repeated (median per unit over rounds; the 1-minute load average is printed with the result):
  triage   reviewers.model.scan_unit(lines=False): today's triage prefill (answer only)
  risk     reviewbot.risk.features.read_prefill(naturalness=False) + the read-out's score: the same
           prefill also fetching the hidden-state outputs, pooling and scoring
  risk+nat read_prefill(naturalness=True): the code tokens projected onto the vocabulary too
on the default model with the hidden-state outputs added in memory (eval/risk/graph.py; a version-5
export has the same outputs). The prefix cache is cleared before every call, the prompt head
(system prompt and examples) kept, as in a review.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def units(n: int):
    from reviewbot.diffparse import parse_diff
    from reviewbot.reviewers import model as M
    out = []
    for back in range(1, 40):
        diff = subprocess.run(['git', '-C', str(REPO), 'diff', f'HEAD~{back}', f'HEAD~{back - 1}', '--', '*.py'],
                              capture_output=True, check=False).stdout
        if not diff:
            continue
        for fc in parse_diff(diff).files:
            if not fc.new_path or not fc.new_path.endswith('.py'):
                continue
            for u in M.make_units(fc):
                u.view = M.render_view(u, None)
                out.append(u)
                if len(out) >= n:
                    return out
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument('--units', type=int, default=12)
    ap.add_argument('--rounds', type=int, default=3)
    ap.add_argument('--threads', type=int, default=2)
    args = ap.parse_args()
    from eval.risk.graph import close, default_folder, with_hidden_states
    from reviewbot.reviewers import model as M
    from reviewbot.risk import features as F
    from reviewbot.risk import readout as R

    model = with_hidden_states(default_folder(), layers=(12, 18), threads=args.threads)
    readout = R.load()
    todo = units(args.units)
    head = model.chat_prompt(M.review_messages(todo[0]))
    model.keep_prefix(head[:head.rfind(M.unit_header(todo[0]))], Path('/tmp/bench-risk-kv'))
    kept = list(model.prefix_cache._entries)  # the prompt head every unit shares
    times: dict[str, list[list[float]]] = {k: [[] for _ in todo] for k in ('triage', 'risk', 'risk+nat')}
    loads = []
    try:
        for _ in range(args.rounds):
            for i, u in enumerate(todo):
                prompt = model.chat_prompt(M.review_messages(u))
                at = prompt.rfind('\n' + u.view + '\n')
                prefix, text = prompt[:at + 1], prompt[at + 1:]
                metrics = F.change_metrics(u.hunks, 1, len(u.added), 0)
                for kind in ('triage', 'risk', 'risk+nat'):
                    model.prefix_cache.clear()  # no unit reuses another call's key/values...
                    for ids, past in kept:  # ...but the head is reused, as in a review
                        model.prefix_cache.put(ids, past)
                    t0 = time.perf_counter()
                    if kind == 'triage':
                        M.scan_unit(model, u, lines=False)
                    else:
                        pre = F.read_prefill(model, prefix, text, u.view, naturalness=kind == 'risk+nat')
                        readout.score(F.scalars(metrics, pre), pre.hidden)
                    times[kind][i].append(time.perf_counter() - t0)
                loads.append(os.getloadavg()[0])
    finally:
        close(model)
    per_unit = {k: [statistics.median(v) for v in rows] for k, rows in times.items()}
    total = {k: sum(v) for k, v in per_unit.items()}
    result = {
        'units': len(todo), 'rounds': args.rounds, 'threads': args.threads,
        'load_average_1min': [round(min(loads), 1), round(statistics.median(loads), 1), round(max(loads), 1)],
        'seconds_total_of_unit_medians': {k: round(v, 2) for k, v in total.items()},
        'risk_over_triage': round(total['risk'] / total['triage'] - 1, 4),
        'risk_nat_over_triage': round(total['risk+nat'] / total['triage'] - 1, 4),
    }
    print(json.dumps(result, indent=1))
    return 0


if __name__ == '__main__':
    sys.exit(main())
