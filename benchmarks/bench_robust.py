"""Review pathological diffs through the real CLI and record how long each takes.

Cases: single-line diffs of 1 MB that made the old scanners quadratic or cubic (a URL with no
'@', 'api_key' followed by spaces, a repeated keyword, minified-looking code), and a 10 MB diff of
400 ordinary files with planted secrets. Each runs as `python -m reviewbot review --diff FILE`
(reviewers: secrets and ruff, the deterministic local ones; --no-cache), one after another.

    nice python benchmarks/bench_robust.py [--limit 600]

Writes benchmarks/results/robust.{json,md} with the times, exit codes and the load average.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / 'benchmarks' / 'results'
MB = 1_000_000
GH_TOKEN = 'ghp_' + 'a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8'


def one_line_diff(line: str, path: str = 'big.js') -> bytes:
    return (f'diff --git a/{path} b/{path}\nnew file mode 100644\n--- /dev/null\n+++ b/{path}\n'
            f'@@ -0,0 +1 @@\n+{line}\n').encode()


def minified(size: int) -> str:
    chunk = ('var a=function(b,c){return b+c};if(x){y("https://cdn.example.com/lib.js")}'
             'else{z=[1,2,3].map(function(q){return q*2})};')
    return (chunk * (size // len(chunk) + 1))[:size]


def ten_mb_diff() -> bytes:
    parts = []
    body = ''.join(f'+def handler_{i}(request):\n+    value = compute(request, {i})\n+    return value\n'
                   for i in range(260))
    for n in range(400):
        extra = f'+TOKEN = "{GH_TOKEN}"\n' if n % 50 == 0 else ''
        text = body + extra
        count = text.count('\n')
        parts.append(f'diff --git a/pkg/mod_{n}.py b/pkg/mod_{n}.py\nnew file mode 100644\n'
                     f'--- /dev/null\n+++ b/pkg/mod_{n}.py\n@@ -0,0 +1,{count} @@\n{text}')
    data = ''.join(parts).encode()
    pad = 10 * MB - len(data) - 200
    return data + one_line_diff(minified(pad), 'pad.js') if pad > 0 else data


CASES = {
    '1 MB line: URL without @ (old: quadratic)': lambda: one_line_diff('a://b:' + 'c' * MB),
    '1 MB line: api_key + spaces (detect-secrets: cubic)': lambda: one_line_diff('api_key' + ' ' * MB + '"'),
    '1 MB line: repeated keyword, quoted (detect-secrets: quadratic)':
        lambda: one_line_diff(('password' * 100 + '"') * (MB // 801)),
    '1 MB line: repeated short keyword, quoted (worst case found)':
        lambda: one_line_diff(('pwd' * 300 + '"') * (MB // 901)),
    '1 MB line: minified code': lambda: one_line_diff(minified(MB)),
    '10 MB diff: 400 files, 8 secrets': ten_mb_diff,
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--limit', type=float, default=600, help='seconds before a run counts as a hang')
    ap.add_argument('--reviewers', default='secrets,ruff')
    args = ap.parse_args()
    env = dict(os.environ, PYTHONPATH=str(REPO))
    rows = []
    with tempfile.TemporaryDirectory(prefix='reviewbot-bench-') as tmp:
        for name, make in CASES.items():
            path = Path(tmp) / 'case.diff'
            path.write_bytes(make())
            load = os.getloadavg()
            t0 = time.perf_counter()
            try:
                proc = subprocess.run([sys.executable, '-m', 'reviewbot', 'review', '--diff', str(path),
                                       '--reviewers', args.reviewers, '--format', 'json', '--no-cache'],
                                      cwd=tmp, capture_output=True, env=env, timeout=args.limit, check=False)
                code, report = proc.returncode, proc.stdout
            except subprocess.TimeoutExpired:
                code, report = None, b''
            secs = time.perf_counter() - t0
            findings = len(json.loads(report)['findings']) if code in (0, 1) else None
            rows.append({'case': name, 'bytes': path.stat().st_size, 'seconds': round(secs, 2),
                         'exit': code, 'findings': findings, 'load_average_before': load})
            print(f'{name}: {secs:.1f} s, exit {code}, {findings} findings, load {load[0]:.2f}',
                  flush=True)
    result = {'reviewers': args.reviewers, 'python': platform.python_version(), 'cpus': os.cpu_count(),
              'rows': rows, 'load_average_after': os.getloadavg()}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / 'robust.json').write_text(json.dumps(result, indent=2) + '\n')
    md = ['# Pathological diffs through `reviewbot review`', '',
          (f'Reviewers `{args.reviewers}`, `--no-cache`, one real process per case, {os.cpu_count()} CPUs '
          '(shared with other work: see the load average).'), '',
          '| case | size | seconds | exit | findings | load avg (1 min) before |', '|---|---|---|---|---|---|']
    md += [f'| {r["case"]} | {r["bytes"] / MB:.1f} MB | {r["seconds"]} | {r["exit"]} | {r["findings"]} | '
           f'{r["load_average_before"][0]:.2f} |' for r in rows]
    (RESULTS / 'robust.md').write_text('\n'.join(md) + '\n')
    return 0 if all(r['exit'] in (0, 1) for r in rows) else 1


if __name__ == '__main__':
    sys.exit(main())
