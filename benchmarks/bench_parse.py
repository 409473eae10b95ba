"""Diff parsing speed: time to parse diffs of 10k..200k changed lines, and the per-line cost ratio
(linear parsing keeps the ratio near 1.0). Writes benchmarks/results/parse.json and parse.md.

    python benchmarks/bench_parse.py
"""
from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

from reviewbot.diffparse import parse_diff

SIZES = (10_000, 50_000, 100_000, 200_000)
OUT = Path(__file__).parent / 'results'


def make_diff(changed: int, files: int = 20) -> bytes:
    per_file = changed // files
    parts = []
    for f in range(files):
        body = []
        for i in range(per_file // 2):
            body.append(f'-    old_value_{i} = compute({i}, "x")\n')
            body.append(f'+    new_value_{i} = compute({i}, "y")  # changed\n')
        n = per_file // 2
        parts.append(f'diff --git a/pkg/mod_{f}.py b/pkg/mod_{f}.py\nindex 1111111..2222222 100644\n'
                     f'--- a/pkg/mod_{f}.py\n+++ b/pkg/mod_{f}.py\n@@ -1,{n} +1,{n} @@\n' + ''.join(body))
    return ''.join(parts).encode()


def main() -> None:
    rows = []
    for size in SIZES:
        data = make_diff(size)
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            diff = parse_diff(data)
            times.append(time.perf_counter() - t0)
        assert sum(f.added_count + f.removed_count for f in diff.files) == size
        med = statistics.median(times)
        rows.append({'changed_lines': size, 'bytes': len(data), 'seconds': round(med, 4),
                     'us_per_line': round(med / size * 1e6, 3)})
    base = rows[0]['us_per_line']
    for r in rows:
        r['per_line_ratio_vs_10k'] = round(r['us_per_line'] / base, 2)
    OUT.mkdir(exist_ok=True)
    (OUT / 'parse.json').write_text(json.dumps(rows, indent=2) + '\n')
    md = ['| changed lines | seconds (median of 5) | µs per line | per-line cost vs 10k |',
          '|---:|---:|---:|---:|']
    md += [f"| {r['changed_lines']:,} | {r['seconds']} | {r['us_per_line']} | {r['per_line_ratio_vs_10k']} |"
           for r in rows]
    (OUT / 'parse.md').write_text('\n'.join(md) + '\n')
    print('\n'.join(md))


if __name__ == '__main__':
    main()
