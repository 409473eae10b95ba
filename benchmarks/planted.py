"""Planted defects in a real repository: which reviewer flags each one, and how long it takes.

For every diff in examples/planted/ (a SQL query built from input, an off-by-one loop, a missing
`await`, `shell=True` with input, and a clean refactor) this script makes a git repository from
examples/planted/base, commits the base, applies the diff as a second commit and runs
`reviewbot review --range HEAD~1..HEAD --format json` with the configuration given (default: the
project defaults, i.e. every default reviewer, the default model and budget). It writes what was
flagged on the planted lines (the diff's added lines), any other finding, what the model
reviewer skipped and why, and the wall time of each run, to benchmarks/results/planted.{json,md}.

Usage:
  python benchmarks/planted.py                       # defaults (needs the default model exported)
  python benchmarks/planted.py --model qwen2.5-coder-1.5b --budget 600 --name planted-1.5b
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

ROOT = Path(__file__).resolve().parent.parent
PLANTED = ROOT / 'examples' / 'planted'
RESULTS = Path(__file__).resolve().parent / 'results'
sys.path.insert(0, str(ROOT))

from reviewbot.core import LineKind
from reviewbot.diffparse import parse_diff

GIT_ENV = {'GIT_AUTHOR_NAME': 'bench', 'GIT_AUTHOR_EMAIL': 'bench@example.invalid',
           'GIT_COMMITTER_NAME': 'bench', 'GIT_COMMITTER_EMAIL': 'bench@example.invalid'}


def git(repo: Path, *args: str) -> None:
    subprocess.run(['git', *args], cwd=repo, check=True, capture_output=True,
                   env={**os.environ, **GIT_ENV})


def planted_lines(diff_text: str) -> set[tuple[str, int]]:
    """(path, new line) of every added line: where a planted defect must be flagged."""
    diff = parse_diff(diff_text.encode())
    return {(f.path, ln.new_lineno) for f in diff.files for h in f.hunks for ln in h.lines
            if ln.kind is LineKind.ADDED}


def run_case(diff_path: Path, extra: list[str]) -> dict:
    with tempfile.TemporaryDirectory(prefix='reviewbot-planted-') as tmp:
        repo = Path(tmp)
        subprocess.run(['cp', '-r', f'{PLANTED / "base"}/.', str(repo)], check=True)
        git(repo, 'init', '-q')
        git(repo, 'add', '-A')
        git(repo, 'commit', '-qm', 'base')
        git(repo, 'apply', str(diff_path))
        git(repo, 'commit', '-qam', diff_path.stem)
        cmd = [sys.executable, '-m', 'reviewbot', 'review', '--range', 'HEAD~1..HEAD',
               '--format', 'json', '--fail-level', 'none', *extra]
        started = time.perf_counter()
        proc = subprocess.run(cmd, check=False, cwd=repo, capture_output=True, text=True,
                              env={**os.environ, 'PYTHONPATH': str(ROOT)})
        wall = time.perf_counter() - started
    if proc.returncode != 0:
        return {'case': diff_path.stem, 'error': proc.stderr.strip().splitlines()[-1:], 'wall_s': wall}
    report = json.loads(proc.stdout)
    planted = planted_lines(diff_path.read_text())
    on_planted = [f for f in report['findings'] if (f['path'], f['line']) in planted]
    return {
        'case': diff_path.stem,
        'clean': diff_path.stem == 'refactor',
        'planted_lines': sorted(f'{p}:{n}' for p, n in planted),
        'flagged_by': sorted({f['reviewer'] for f in on_planted}),
        'findings': [{k: f[k] for k in ('path', 'line', 'reviewer', 'category', 'message')}
                     for f in report['findings']],
        'model_skipped': [s['reason'] for s in report['coverage']['skipped'] if s['reviewer'] == 'model'],
        'reviewers': report['reviewers'],
        'timings': report['timings'],
        'wall_s': round(wall, 2),
    }


def markdown(name: str, args: argparse.Namespace, rows: list[dict]) -> str:
    out = [f'# Planted defects: {name}', '',
           (f'`python benchmarks/planted.py {" ".join(args.extra_display)}` on {platform.machine()}, '
           f'{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end. Each diff of '
           'examples/planted/ is committed on examples/planted/base in a fresh git repository and '
           'reviewed with `reviewbot review --range HEAD~1..HEAD`.'), '',
           '| diff | planted line(s) | flagged by | other findings | model | model s | wall s |',
           '|---|---|---|---|---|---:|---:|']
    for r in rows:
        if 'error' in r:
            out.append(f'| {r["case"]} | | error: {" ".join(r["error"])} | | | | {r["wall_s"]:.1f} |')
            continue
        planted = set(r['planted_lines'])
        # on a clean refactor every finding is an "other" one
        others = [f'{f["reviewer"]} L{f["line"]}' for f in r['findings']
                  if r['clean'] or f'{f["path"]}:{f["line"]}' not in planted]
        flagged = '— (clean refactor)' if r['clean'] else (', '.join(r['flagged_by']) or '**nothing**')
        model = '; '.join(r['model_skipped']) or ('finding' if 'model' in r['flagged_by'] else 'reviewed, quiet')
        if 'model' not in r['reviewers']:
            model = 'not run'
        lines = ', '.join(str(n) for n in sorted(int(p.rsplit(':', 1)[1]) for p in r['planted_lines']))
        out.append(f'| {r["case"]} | {lines} | {flagged} | {", ".join(others) or "none"} | {model} | '
                   f'{r["timings"].get("model", 0):.1f} | {r["wall_s"]:.1f} |')
    return '\n'.join(out) + '\n'


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--name', default='planted')
    ap.add_argument('--model')
    ap.add_argument('--budget', type=float)
    ap.add_argument('--reviewers')
    ap.add_argument('--no-cache', action='store_true', help='run the model even on cached hunks')
    args = ap.parse_args()
    extra = []
    if args.model:
        extra += ['--model', args.model]
    if args.budget is not None:
        extra += ['--budget', str(args.budget)]
    if args.reviewers:
        extra += ['--reviewers', args.reviewers]
    args.extra_display = extra
    if args.no_cache:
        os.environ['REVIEWBOT_CACHE_DIR'] = tempfile.mkdtemp(prefix='reviewbot-planted-cache-')
    rows = []
    for diff_path in sorted(PLANTED.glob('*.diff')):
        row = run_case(diff_path, extra)
        rows.append(row)
        print(f'{row["case"]}: flagged by {row.get("flagged_by") or row.get("error") or "nothing"} '
              f'({row["wall_s"]:.1f} s)', file=sys.stderr)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f'{args.name}.json').write_text(json.dumps(rows, indent=1) + '\n')
    md = markdown(args.name, args, rows)
    (RESULTS / f'{args.name}.md').write_text(md)
    print(md)
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
