"""Warnings the defaults raise per merged commit of mature public projects (issue 18's target: <= 0.2).

    python benchmarks/warnings_per_commit.py                      # 3 projects x 10 commits
    python benchmarks/warnings_per_commit.py --projects pytest-dev/pytest --commits 5
    python benchmarks/warnings_per_commit.py --pins benchmarks/results/warnings_per_commit.json  # same commits

For each project (a snapshot at MIRRORS/<owner>+<name>/repo, e.g. `git clone --bare`), the last N
commits of the default branch's first-parent history whose change (C^..C: for a merge, the whole merged
pull request) touches a .py file are checked out in a scratch clone and reviewed exactly as a user or a
CI job would: `python -m reviewbot review --range C^..C --format json` with the defaults (no config
of our own: the project's own files are what the checkout has). Counted per commit: findings by
severity, and the warnings (severity warning or error) by reviewer and by category. Writes
benchmarks/results/warnings_per_commit.md and .json. The held-out projects (BugsInPy's, click,
requests) are refused. Re-run it after a change of defaults with `--pins` on the previous JSON to
review the very same commits; the model's result cache makes unchanged answers free (use
`--no-cache` to measure speed).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / 'eval' / 'risk'))
from mine import excluded

DEFAULT_PROJECTS = ('pytest-dev/pytest', 'sphinx-doc/sphinx', 'pylint-dev/pylint')
SHOWN = ('warning', 'error')


def git(git_dir: Path, *args: str) -> str:
    return subprocess.run(['git', '-C', str(git_dir), *args], capture_output=True, text=True, check=True,
                          errors='surrogateescape').stdout


def pick_commits(repo: Path, rev: str, n: int) -> list[dict]:
    out = []
    for sha in git(repo, 'rev-list', '--first-parent', '-n', '400', rev).split():
        parents = git(repo, 'rev-list', '--parents', '-n', '1', sha).split()[1:]
        if not parents:
            continue
        names = git(repo, 'diff', '--name-only', '--no-renames', f'{sha}^', sha).split('\n')
        if not any(p.endswith('.py') for p in names):
            continue
        stat = git(repo, 'diff', '--shortstat', f'{sha}^', sha).strip()
        out.append({'commit': sha, 'merge': len(parents) > 1,
                    'subject': git(repo, 'log', '-1', '--format=%s', sha).strip(),
                    'files': len([p for p in names if p]), 'py_files': sum(p.endswith('.py') for p in names),
                    'shortstat': stat})
        if len(out) >= n:
            break
    return out


def review(clone: Path, sha: str, timeout: float, env: dict[str, str], extra: list[str]) -> dict[str, Any]:
    subprocess.run(['git', '-C', str(clone), 'checkout', '-q', '--force', '--detach', sha], check=True,
                   capture_output=True)
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, '-m', 'reviewbot', 'review', '--range', f'{sha}^..{sha}',
                           '--format', 'json', *extra], cwd=clone, capture_output=True, env=env,
                          timeout=timeout, check=False)
    seconds = time.perf_counter() - t
    try:
        report = json.loads(proc.stdout)
    except ValueError:
        return {'exit': proc.returncode, 'seconds': round(seconds, 1), 'error':
                proc.stderr.decode(errors='replace').strip().splitlines()[-1:] or ['no output']}
    findings = report.get('findings', [])
    shown = [f for f in findings if f.get('severity') in SHOWN]
    skipped = Counter(s.get('reason') for s in report.get('coverage', {}).get('skipped', []))
    return {'exit': proc.returncode, 'seconds': round(seconds, 1),
            'severity': dict(Counter(f.get('severity') for f in findings)),
            'warnings': len(shown),
            'by_reviewer': dict(Counter(f.get('reviewer') for f in shown)),
            'by_category': dict(Counter(f.get('category') for f in shown)),
            'info_by_reviewer': dict(Counter(f.get('reviewer') for f in findings if f.get('severity') == 'info')),
            'shown': [{'path': f.get('path'), 'line': f.get('line'), 'severity': f.get('severity'),
                       'category': f.get('category'), 'reviewer': f.get('reviewer'),
                       'message': (f.get('message') or '')[:200]} for f in shown],
            'skipped': dict(skipped), 'reviewers': report.get('reviewers'),
            'notes': report.get('notes', [])}


def summarise(rows: list[dict]) -> dict[str, Any]:
    done = [r for r in rows if 'warnings' in r['result']]
    n = len(done)
    warnings = sum(r['result']['warnings'] for r in done)
    by_rev: Counter = Counter()
    by_cat: Counter = Counter()
    for r in done:
        by_rev.update(r['result']['by_reviewer'])
        by_cat.update(r['result']['by_category'])
    secs = sorted(r['result']['seconds'] for r in done)
    return {'commits': n, 'failed': len(rows) - n, 'warnings': warnings,
            'warnings_per_commit': round(warnings / n, 3) if n else None,
            'commits_with_warning': sum(1 for r in done if r['result']['warnings']),
            'by_reviewer': dict(by_rev.most_common()), 'by_category': dict(by_cat.most_common()),
            'budget_skips': sum(n for r in done for k, n in r['result']['skipped'].items() if k.startswith('budget')),
            'timeouts': sum(n for r in done for k, n in r['result']['skipped'].items() if 'timed out' in k),
            'median_seconds': secs[len(secs) // 2] if secs else None,
            'target_met': (warnings / n <= 0.2) if n else None}


def markdown(data: dict[str, Any]) -> str:
    s = data['summary']
    lines = ['# Warnings per merged commit, defaults (issue 18)', '',
             (f'Measured {data["when"]} with `python -m reviewbot review --range C^..C --format json` '
              f'(defaults, model on: {data["model_note"]}), reviewbot at {data["reviewbot_commit"][:12]}. '
              f'Load average before/after: {data["load_before"]} / {data["load_after"]} (2 CPU cores, shared). '
              'Command: `' + data['command'] + '`.'), '',
             *([f'**Partial run: {s["commits"]} of the {data["planned_commits"]} planned commits reviewed.**', '']
               if data.get('planned_commits', s['commits']) > s['commits'] + s['failed'] else []),
             (f'**{s["warnings"]} warnings on {s["commits"]} commits = {s["warnings_per_commit"]} per commit** '
              f'(target <= 0.2: {"met" if s["target_met"] else "NOT met"}); commits with a warning: '
              f'{s["commits_with_warning"]}; units the model skipped for its time budget: {s["budget_skips"]}; '
              f'files a reviewer skipped on its own timeout: {s["timeouts"]}; '
              f'median review time {s["median_seconds"]} s.'), '',
             '| by reviewer | warnings |', '|---|---:|']
    lines += [f'| {k} | {v} |' for k, v in s['by_reviewer'].items()] or ['| (none) | 0 |']
    lines += ['', '| by category | warnings |', '|---|---:|']
    lines += [f'| `{k}` | {v} |' for k, v in s['by_category'].items()] or ['| (none) | 0 |']
    lines += ['', '| project | commits | warnings | per commit | commits with a warning |', '|---|---:|---:|---:|---:|']
    for p, ps in data['per_project'].items():
        lines.append(f'| {p} | {ps["commits"]} | {ps["warnings"]} | {ps["warnings_per_commit"]} | '
                     f'{ps["commits_with_warning"]} |')
    lines += ['', '## Per commit', '',
              '| project | commit | subject | files (.py) | warnings | info | by reviewer | budget skips | s |',
              '|---|---|---|---:|---:|---:|---|---:|---:|']
    for r in data['rows']:
        res = r['result']
        if 'warnings' not in res:
            lines.append(f'| {r["project"]} | {r["commit"][:10]} | {r["subject"][:60]} | | failed: exit {res["exit"]} '
                         f'{" ".join(res.get("error", []))[:80]} | | | | |')
            continue
        subj = r['subject'][:60].replace('|', '\\|')
        byr = ', '.join(f'{k} {v}' for k, v in res['by_reviewer'].items()) or '-'
        lines.append(f'| {r["project"]} | {r["commit"][:10]} | {subj} | {r["files"]} ({r["py_files"]}) | '
                     f'{res["warnings"]} | {res["severity"].get("info", 0)} | {byr} | '
                     f'{sum(n for k, n in res["skipped"].items() if k.startswith("budget"))} '
                     f'| {res["seconds"]} |')
    shown = [(r, f) for r in data['rows'] for f in r['result'].get('shown', [])]
    if shown:
        lines += ['', '## Every warning', '', '| commit | where | category | message |', '|---|---|---|---|']
        for r, f in shown:
            msg = f['message'].replace('|', '\\|').replace('\n', ' ')[:140]
            lines.append(f'| {r["project"]}@{r["commit"][:10]} | {f["path"]}:{f["line"]} | `{f["category"]}` | {msg} |')
    return '\n'.join(lines) + '\n'


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--projects', default=','.join(DEFAULT_PROJECTS), help='comma-separated owner/name')
    ap.add_argument('--commits', type=int, default=10, help='commits per project (default 10)')
    ap.add_argument('--pins', type=Path, help='review the commits listed in an earlier results JSON instead')
    ap.add_argument('--mirrors', type=Path, default=Path(os.environ.get('EVAL_MIRRORS', '/work/.mirror')))
    ap.add_argument('--out', type=Path, default=ROOT / 'benchmarks' / 'results' / 'warnings_per_commit')
    ap.add_argument('--timeout', type=float, default=900, help='seconds per review before it counts as failed')
    ap.add_argument('--no-cache', action='store_true', help='a fresh model result cache (REVIEWBOT_CACHE_DIR)')
    ap.add_argument('--review-arg', action='append', default=[], metavar='ARG',
                    help='one more argument for `reviewbot review` (repeat), e.g. --review-arg=--budget=0')
    args = ap.parse_args(argv)
    if args.commits < 1:
        print('warnings_per_commit: --commits must be at least 1', file=sys.stderr)
        return 2
    if args.pins:
        try:
            old = json.loads(args.pins.read_text())
            plan = {p: [r for r in old['rows'] if r['project'] == p] for p in old['per_project']}
        except (OSError, ValueError, KeyError) as e:
            print(f'warnings_per_commit: cannot read {args.pins}: {e}', file=sys.stderr)
            return 2
    else:
        plan = {p.strip(): [] for p in args.projects.split(',') if p.strip()}
    for p in plan:
        why = excluded(p)
        if why:
            print(f'warnings_per_commit: refusing {why}', file=sys.stderr)
            return 2
        if not (args.mirrors / p.replace('/', '+') / 'repo').is_dir():
            print(f'warnings_per_commit: no snapshot of {p} at {args.mirrors / p.replace("/", "+") / "repo"}',
                  file=sys.stderr)
            return 2
    env = dict(os.environ)
    env['PYTHONPATH'] = str(ROOT) + os.pathsep + env.get('PYTHONPATH', '')
    for k in ('GITHUB_ACTIONS', 'GITLAB_CI', 'CI', 'NO_COLOR'):
        env.pop(k, None)
    scratch = Path(tempfile.mkdtemp(prefix='wpc-'))
    if args.no_cache:
        env['REVIEWBOT_CACHE_DIR'] = str(scratch / 'cache')
    load_before = os.getloadavg()
    head = subprocess.run(['git', '-C', str(ROOT), 'rev-parse', 'HEAD'], capture_output=True, text=True,
                          check=False).stdout.strip()
    sys.path.insert(0, str(ROOT))
    from reviewbot.config import defaults
    cfg = defaults()
    argv_shown = ' '.join(argv if argv is not None else sys.argv[1:])
    rows: list[dict] = []

    def write(planned: int) -> dict[str, Any]:
        """The results so far (after every commit: a run cut short still leaves a coherent file)."""
        data: dict[str, Any] = {
            'when': dt.datetime.now(dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC'), 'reviewbot_commit': head,
            'command': f'python benchmarks/warnings_per_commit.py {argv_shown}'.strip(),
            'model_note': f'{cfg.model}, triage_threshold {cfg.triage_threshold}, budget {cfg.budget} s, '
                          f'reviewers {",".join(cfg.reviewers)}'
                          + (f'; extra arguments {" ".join(args.review_arg)}' if args.review_arg else ''),
            'load_before': [round(x, 1) for x in load_before], 'load_after': [round(x, 1) for x in os.getloadavg()],
            'planned_commits': planned,
            'summary': summarise(rows),
            'per_project': {p: summarise([r for r in rows if r['project'] == p]) for p in plan},
            'rows': rows}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.with_suffix('.json').write_text(json.dumps(data, indent=1) + '\n', encoding='utf-8')
        args.out.with_suffix('.md').write_text(markdown(data), encoding='utf-8')
        return data

    try:
        queues: dict[str, list[dict]] = {}
        clones: dict[str, Path] = {}
        for project, pinned in plan.items():
            mirror = args.mirrors / project.replace('/', '+') / 'repo'
            queues[project] = list(pinned or pick_commits(mirror, 'HEAD', args.commits))
            clones[project] = scratch / project.replace('/', '+')
            subprocess.run(['git', 'clone', '-q', '--shared', '--no-checkout', str(mirror), str(clones[project])],
                           check=True, capture_output=True)
        # round robin over the projects: a run cut short covers all of them
        order = [(p, q[i]) for i in range(max(map(len, queues.values()), default=0))
                 for p, q in queues.items() if i < len(q)]
        for project, c in order:
            try:
                res = review(clones[project], c['commit'], args.timeout, env, args.review_arg)
            except subprocess.TimeoutExpired:
                res = {'exit': None, 'seconds': args.timeout, 'error': ['timed out']}
            rows.append({'project': project, **{k: c[k] for k in ('commit', 'merge', 'subject', 'files', 'py_files',
                                                                  'shortstat')}, 'result': res})
            print(f'{project} {c["commit"][:10]}: {res.get("warnings", "failed")} warnings '
                  f'({res["seconds"]} s) {c["subject"][:50]}', file=sys.stderr, flush=True)
            data = write(len(order))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    data = write(len(order))
    s = data['summary']
    print(f'{s["warnings"]} warnings on {s["commits"]} commits: {s["warnings_per_commit"]} per commit', file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
