"""What a user waits for: `reviewbot review` of a small diff and `reviewbot hook` on a staged change.

Two scenarios, each run as its own process under /usr/bin/time -v (wall time and peak RSS of the
whole process, model in-process, defaults otherwise):

* review: `reviewbot review --no-cache --diff examples/sql-injection.diff` (6 added lines);
* hook cold ($REVIEWBOT_DAEMON=off): `reviewbot hook` in a temporary git repository where a 20-line function is staged
  into a ~460-line Python module (this project's reviewbot/server/app.py as of the base tree
  given), with an empty result cache; hook rerun: the same again with the cache it left; hook
  next: that change committed and a 6-line function staged at the end of the module (the next
  commit: new to the result cache, with what the first run kept there);
* hook warm, warm rerun, warm next: the same three with a fresh result cache while a warm model
  daemon (`reviewbot daemon start`, started before and not timed) serves the model, for trees
  that have it.

Each named code tree (e.g. the commit before a change and after it) is run in turn, round after
round (interleaved, so load from other users of the machine falls on both alike); the load
average is recorded before every run and the medians are reported with it.

    python benchmarks/bench_review.py --tree before=/tmp/base:/models-v3 --tree after=.:/models-v4 \
        [--rounds 3] [--name review]

A tree is NAME=CODE_DIR[:MODEL_DIR] (the model dir defaults to the usual one). Writes
benchmarks/results/<name>.{json,md}.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / 'results'
GIT_ENV = {'GIT_AUTHOR_NAME': 'bench', 'GIT_AUTHOR_EMAIL': 'bench@example.invalid',
           'GIT_COMMITTER_NAME': 'bench', 'GIT_COMMITTER_EMAIL': 'bench@example.invalid'}

ADDED_FUNCTION = '''

def _client_address(request: Request) -> str:
    """The address a request came from, for the access log."""
    forwarded = request.headers.get('x-forwarded-for', '')
    if forwarded:
        first = forwarded.split(',')[0].strip()
        if first:
            return first
    client = request.client
    if client is None:
        return 'unknown'
    host, port = client.host, client.port
    if ':' in host:
        host = f'[{host}]'
    return f'{host}:{port}'


def _elapsed_ms(arrived: float) -> int:
    return int((time.monotonic() - arrived) * 1000)
'''


def git(repo: Path, *args: str) -> None:
    subprocess.run(['git', *args], cwd=repo, check=True, capture_output=True,
                   env={**os.environ, **GIT_ENV})


def make_hook_repo(base: Path, module: str) -> Path:
    """A git repository with `module` committed and a 20-line function staged into its middle."""
    repo = Path(tempfile.mkdtemp(prefix='bench-hook-'))
    git(repo, 'init', '-q')
    text = (base / 'reviewbot' / 'server' / 'app.py').read_text(encoding='utf-8')
    target = repo / module
    target.parent.mkdir(parents=True)
    target.write_text(text, encoding='utf-8')
    git(repo, 'add', '-A')
    git(repo, 'commit', '-qm', 'base')
    lines = text.split('\n')
    # insert before the first top-level def after the middle of the file
    at = next(i for i in range(len(lines) // 2, len(lines)) if lines[i].startswith('def '))
    while at > 0 and lines[at - 1].strip() == '':
        at -= 1
    added = ADDED_FUNCTION.strip('\n').split('\n')
    new = lines[:at] + [''] + added + lines[at:]
    target.write_text('\n'.join(new), encoding='utf-8')
    git(repo, 'add', '-A')
    return repo


NEXT_FUNCTION = '''

def _retry_after(seconds: float) -> dict[str, str]:
    """The Retry-After header for a refused request, in whole seconds (at least one)."""
    value = max(1, int(seconds + 0.999))
    return {'retry-after': str(value)}
'''


def stage_next_change(repo: Path, module: str) -> None:
    """Commit what is staged, then stage another function at the end of the module: the next
    commit of the same user (its hunk is new to the result cache; the model's prompt head is not)."""
    git(repo, 'commit', '-qm', 'change')
    target = repo / module
    target.write_text(target.read_text(encoding='utf-8').rstrip('\n') + '\n' + NEXT_FUNCTION, encoding='utf-8')
    git(repo, 'add', '-A')


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> dict:
    load = os.getloadavg()[0]
    proc = subprocess.run(['/usr/bin/time', '-v', *cmd], cwd=cwd, env=env, capture_output=True, text=True,
                          check=False)
    wall = re.search(r'Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)', proc.stderr)
    rss = re.search(r'Maximum resident set size \(kbytes\): (\d+)', proc.stderr)
    if not wall or not rss:
        raise SystemExit(f'no timing from /usr/bin/time for {cmd}: {proc.stderr[-800:]}')
    seconds = int(wall[1] or 0) * 3600 + int(wall[2]) * 60 + float(wall[3])
    tail = [ln for ln in proc.stdout.strip().splitlines() if ln.strip()][-1:] or ['']
    return {'seconds': round(seconds, 2), 'peak_rss_mb': round(int(rss[1]) / 1024), 'load1': round(load, 2),
            'exit': proc.returncode, 'summary': tail[0][:300]}


def daemon_peak_rss_mb(reviewbot: list[str], env: dict[str, str]) -> int | None:
    status = subprocess.run([*reviewbot, 'daemon', 'status'], env=env, capture_output=True, text=True,
                            check=False, cwd='/')
    pid = re.search(r'pid (\d+)', status.stdout)
    try:
        text = Path(f'/proc/{pid[1]}/status').read_text() if pid else ''
    except OSError:
        return None
    hwm = re.search(r'VmHWM:\s+(\d+) kB', text)
    return round(int(hwm[1]) / 1024) if hwm else None


def hook_runs(reviewbot: list[str], repo: Path, env: dict[str, str], names: tuple[str, str, str]) -> dict:
    """The hook on the staged change, again unchanged, then on the next staged change: timed as `names`."""
    first, rerun, nxt = names
    hook = [*reviewbot, 'hook', '--fail-level', 'none']
    out = {first: timed(hook, repo, env), rerun: timed(hook, repo, env)}
    stage_next_change(repo, 'service/app.py')
    out[nxt] = timed(hook, repo, env)
    return out


def run_warm(code: Path, env: dict[str, str], reviewbot: list[str], repo_base: Path, cache: Path) -> dict:
    """The hook scenarios again with a warm daemon (`reviewbot daemon start`, not timed) serving
    the model: hook_warm = the same staged change with an empty result cache (all model work done
    again, in the daemon), hook_warm_rerun, hook_warm_next as above."""
    out: dict = {}
    if not (code / 'reviewbot' / 'engine' / 'warm.py').is_file():
        return out  # a tree without the daemon
    ddir = Path(tempfile.mkdtemp(prefix='rbd', dir='/tmp'))  # short: a socket path has ~100 bytes
    denv = {**env, 'REVIEWBOT_DAEMON_DIR': str(ddir / 'd'), 'REVIEWBOT_DAEMON': 'use'}
    subprocess.run([*reviewbot, 'daemon', 'start'], env=denv, check=True, capture_output=True, cwd='/')
    repo = make_hook_repo(repo_base, 'service/app.py')
    try:
        hook_env = {**denv, 'REVIEWBOT_CACHE_DIR': str(cache / 'hook-warm')}
        out.update(hook_runs(reviewbot, repo, hook_env, ('hook_warm', 'hook_warm_rerun', 'hook_warm_next')))
        rss = daemon_peak_rss_mb(reviewbot, denv)
        for v in out.values():
            v['daemon_peak_rss_mb'] = rss
    finally:
        subprocess.run([*reviewbot, 'daemon', 'stop'], env=denv, check=False, capture_output=True, cwd='/')
        shutil.rmtree(repo, ignore_errors=True)
        shutil.rmtree(ddir, ignore_errors=True)
    return out


def run_tree(name: str, code: Path, model_dir: str | None, repo_base: Path, cache_root: Path,
             only: set[str] | None = None) -> dict:
    env = {**os.environ, 'PYTHONPATH': str(code), 'REVIEWBOT_DAEMON': 'off'}  # cold: model in-process
    env.pop('REVIEWBOT_MODEL_DIR', None)
    if model_dir:
        env['REVIEWBOT_MODEL_DIR'] = model_dir
    reviewbot = [sys.executable, '-m', 'reviewbot']
    out = {}
    cache = Path(tempfile.mkdtemp(prefix=f'{name}-', dir=cache_root))
    if only is None or 'review' in only:
        out['review'] = timed([*reviewbot, 'review', '--no-cache', '--fail-level', 'none', '--diff',
                               str(ROOT / 'examples' / 'sql-injection.diff')], ROOT,
                              {**env, 'REVIEWBOT_CACHE_DIR': str(cache / 'review')})
    if only is None or 'hook' in only:
        repo = make_hook_repo(repo_base, 'service/app.py')
        try:
            hook_env = {**env, 'REVIEWBOT_CACHE_DIR': str(cache / 'hook')}
            out.update(hook_runs(reviewbot, repo, hook_env, ('hook_cold', 'hook_rerun', 'hook_next')))
        finally:
            shutil.rmtree(repo, ignore_errors=True)
    if only is None or 'warm' in only:
        out.update(run_warm(code, env, reviewbot, repo_base, cache))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--tree', action='append', required=True, metavar='NAME=CODE[:MODEL_DIR]')
    ap.add_argument('--rounds', type=int, default=3)
    ap.add_argument('--name', default='review')
    ap.add_argument('--only', metavar='A,B', help='scenario groups to run: review, hook, warm (default: all)')
    args = ap.parse_args()
    trees = []
    for spec in args.tree:
        name, _, rest = spec.partition('=')
        code, _, model_dir = rest.partition(':')
        trees.append((name, Path(code).resolve(), model_dir or None))
    repo_base = trees[0][1]
    cache_root = Path(tempfile.mkdtemp(prefix='bench-review-cache-'))
    runs: dict[str, list[dict]] = {name: [] for name, _, _ in trees}
    try:
        for r in range(args.rounds):
            for name, code, model_dir in trees:
                result = run_tree(name, code, model_dir, repo_base, cache_root,
                                  set(args.only.split(',')) if args.only else None)
                runs[name].append(result)
                print(f'round {r + 1} {name}: ' + ', '.join(
                    f"{k} {v['seconds']} s {v['peak_rss_mb']} MB (load {v['load1']})" for k, v in result.items()),
                    flush=True)
    finally:
        shutil.rmtree(cache_root, ignore_errors=True)
    summary = {}
    for name, results in runs.items():
        summary[name] = {}
        for scenario in results[0]:
            values = [r[scenario] for r in results]
            summary[name][scenario] = {
                'median_seconds': statistics.median(v['seconds'] for v in values),
                'min_seconds': min(v['seconds'] for v in values),
                'max_seconds': max(v['seconds'] for v in values),
                'median_peak_rss_mb': statistics.median(v['peak_rss_mb'] for v in values),
                'load1': [v['load1'] for v in values],
                'daemon_peak_rss_mb': values[-1].get('daemon_peak_rss_mb'),
                'summary': values[-1]['summary'],
            }
    data = {'machine': {'cpus': os.cpu_count(), 'platform': platform.platform(), 'python': platform.python_version()},
            'rounds': args.rounds, 'trees': {n: {'code': str(c), 'model_dir': m} for n, c, m in trees},
            'runs': runs, 'summary': summary}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f'{args.name}.json').write_text(json.dumps(data, indent=2) + '\n', encoding='utf-8')
    lines = [f'# {args.name}: what a user waits for (medians of {args.rounds} interleaved rounds)', '',
             '| tree | scenario | median s | min–max s | peak RSS MB | load average (1 min) per run |',
             '|---|---|---:|---:|---:|---|']
    for name, scenarios in summary.items():
        for scenario, s in scenarios.items():
            lines.append(f"| {name} | {scenario} | {s['median_seconds']:.2f} | {s['min_seconds']:.2f}–"
                         f"{s['max_seconds']:.2f} | {s['median_peak_rss_mb']:.0f} | "
                         f"{', '.join(f'{x:.1f}' for x in s['load1'])} |")
    lines += ['', ('Scenarios: review = `reviewbot review --no-cache --diff examples/sql-injection.diff`; '
                   'hook_cold = `reviewbot hook` on a 20-line function staged into a ~460-line module, empty '
                   'result cache; hook_rerun = the same again (cache kept); hook_next = the next commit, a 6-line '
                   'function staged after that change is committed (cache kept); hook_warm* = the three hook '
                   'scenarios again (fresh result cache) with `reviewbot daemon start` run before them '
                   '(not timed), so the model is served by the warm daemon; the other rows run with '
                   '$REVIEWBOT_DAEMON=off. Each run is its own process, wall time and peak RSS (of the '
                   'hook process, not the daemon) from /usr/bin/time -v.'), '']
    for name, scenarios in summary.items():
        rss = next((s['daemon_peak_rss_mb'] for s in scenarios.values() if s.get('daemon_peak_rss_mb')), None)
        if rss:
            lines.append(f'- {name}: the daemon\'s own peak RSS after the warm runs: {rss} MB')
    for name, c, m in trees:
        lines.append(f'- {name}: code {c}, models {m or "(default dir)"}')
    (RESULTS / f'{args.name}.md').write_text('\n'.join(lines) + '\n', encoding='utf-8')
    print('\n'.join(lines))


if __name__ == '__main__':
    main()
