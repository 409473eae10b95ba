"""Does narrowing a Python file (reviewbot/pyslice.py) change what semgrep finds on the changed lines?

The Python files at HEAD of the given git repositories (bare mirrors or checkouts) are scanned twice
with the bundled rules, in one semgrep run each: whole, and narrowed to a simulated change. The change
of a file is the top-level statements that hold a hit of the whole-file scan (so every hit is put to
the test) plus three random others (seeded). Compared: the findings that touch a changed line, as
(file, line, start and end byte offset, rule, rendered fix). Writes
benchmarks/results/slice_equivalence.{json,md}.

    nice python benchmarks/slice_equivalence.py GITDIR [GITDIR ...] [--seed 11]
"""
from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / 'results'
MAX_BYTES = 300_000


def label(gitdir: Path) -> str:
    """The repository's name: its folder's, or its parent's for a mirror's `repo` folder."""
    return gitdir.resolve().parent.name if gitdir.name in ('repo', '.git') else gitdir.resolve().name


def python_files(gitdir: Path) -> dict[str, bytes]:
    """path -> bytes of each .py file at HEAD."""
    git = ['git', '--git-dir', str(gitdir)] if (gitdir / 'HEAD').is_file() else ['git', '-C', str(gitdir)]
    names = subprocess.run([*git, 'ls-tree', '-r', '--name-only', 'HEAD'], capture_output=True, text=True,
                           check=True).stdout.split('\n')
    out = {}
    for name in (n for n in names if n.endswith('.py')):
        blob = subprocess.run([*git, 'show', f'HEAD:{name}'], capture_output=True, check=False).stdout
        if 0 < len(blob) <= MAX_BYTES:
            out[name] = blob
    return out


def scan(folder: Path) -> dict:
    from reviewbot import toolenv
    from reviewbot.reviewers.patterns import rule_files
    semgrep = toolenv.locate_semgrep('').path
    if semgrep is None:
        raise SystemExit(f'slice_equivalence: semgrep not installed: run `{toolenv.INSTALL_COMMAND}`')
    (folder / '.semgrepignore').write_text('')
    cmd = [semgrep, 'scan', '--experimental', '--metrics=off', '--disable-version-check', '--json', '--quiet',
           '--no-git-ignore', '--timeout', '30']
    for rules in rule_files():
        cmd += ['--config', str(rules)]
    return json.loads(subprocess.run([*cmd, '.'], cwd=folder, capture_output=True, check=False).stdout)


def on_changed(out: dict, changed: dict[str, set[int]]) -> set[tuple]:
    got = set()
    for r in out.get('results') or []:
        path = r['path'].removeprefix('./')
        lines = range(r['start']['line'], r['end']['line'] + 1)
        if path in changed and any(n in changed[path] for n in lines):
            got.add((path, r['start']['line'], r['start']['offset'], r['end']['offset'],
                     r['check_id'].rsplit('.', 1)[-1], json.dumps(r.get('extra', {}).get('fix'))))
    return got


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('repos', nargs='+', type=Path)
    ap.add_argument('--seed', type=int, default=11)
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from reviewbot.pyslice import narrowed, statements
    rng = random.Random(args.seed)
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix='slice-eq-') as tmp:
        full, narrow = Path(tmp) / 'full', Path(tmp) / 'narrow'
        full.mkdir()
        narrow.mkdir()
        texts: dict[str, str] = {}
        for gitdir in args.repos:
            for name, blob in python_files(gitdir).items():
                flat = f"{label(gitdir)}__{name.replace('/', '__')}"
                (full / flat).write_bytes(blob)
                texts[flat] = blob.decode('utf-8', 'surrogateescape')
            print(f'{label(gitdir)}: {len(texts)} files so far', file=sys.stderr, flush=True)
        whole = scan(full)
        print(f"whole files: {len(whole.get('results') or [])} results", file=sys.stderr, flush=True)
        hits: dict[str, list[int]] = {}
        for r in whole.get('results') or []:
            hits.setdefault(r['path'].removeprefix('./'), []).append(r['start']['line'])
        changed: dict[str, set[int]] = {}
        kept_bytes = total_bytes = 0
        for flat, text in texts.items():
            tops = [(a, b) for a, b, _ in statements(text) or []]
            if not tops:
                continue
            lines: set[int] = set()
            for start, end in [s for s in tops if any(s[0] <= h <= s[1] for h in hits.get(flat, []))] + \
                    rng.sample(tops, min(3, len(tops))):
                lines.update(range(start, end + 1))
            changed[flat] = lines
            small = narrowed(text, lines)
            (narrow / flat).write_text(small, encoding='utf-8', errors='surrogateescape')
            kept_bytes += len(small.encode('utf-8', 'surrogateescape')) - small.count(' ')
            total_bytes += len(text.encode('utf-8', 'surrogateescape')) - text.count(' ')
        a, b = on_changed(whole, changed), on_changed(scan(narrow), changed)
    data = {'repos': [str(p) for p in args.repos], 'seed': args.seed, 'files': len(changed),
            'findings_whole': len(a), 'findings_narrowed': len(b), 'rules': sorted({x[4] for x in a}),
            'only_whole': sorted(a - b), 'only_narrowed': sorted(b - a),
            'non_blank_bytes_kept': round(kept_bytes / max(total_bytes, 1), 3),
            'seconds': round(time.monotonic() - t0), 'date': time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / 'slice_equivalence.json').write_text(json.dumps(data, indent=2) + '\n', encoding='utf-8')
    same = not data['only_whole'] and not data['only_narrowed']
    md = ['# semgrep on narrowed Python files (reviewbot/pyslice.py) against whole files', '',
          f"{data['files']} Python files at HEAD of {len(args.repos)} repositories "
          f"({', '.join(label(p) for p in args.repos)}), {data['date']}, seed {args.seed}. The change of a file: "
          'the top-level statements holding a hit of the whole-file scan, plus three random others.', '',
          '| findings on changed lines | whole files | narrowed | only whole | only narrowed |',
          '|---|---:|---:|---:|---:|',
          f"| (file, line, byte offsets, rule, fix) | {len(a)} | {len(b)} | {len(data['only_whole'])} | "
          f"{len(data['only_narrowed'])} |", '',
          f"Rules that fired: {', '.join(data['rules']) or 'none'}. Non-blank bytes given to semgrep: "
          f"{data['non_blank_bytes_kept']:.0%} of the whole files. "
          + ('Identical.' if same else 'NOT identical: see the json.')]
    (RESULTS / 'slice_equivalence.md').write_text('\n'.join(md) + '\n', encoding='utf-8')
    print('\n'.join(md))
    return 0 if same else 1


if __name__ == '__main__':
    raise SystemExit(main())
