"""Fuzz `reviewbot review` with mutated diffs: no traceback, no hang, exit codes only 0/1/2.

Seeds are small valid diffs (git and plain, renames, quoted and non-UTF-8 paths, binary, mode
changes, several hunks, '\\ No newline'); each case applies 1-4 random mutations (byte flips,
inserted control/NUL/undecodable bytes and bidi characters, duplicated/dropped/swapped lines,
truncation, splices between seeds, absurd hunk numbers, long lines) and runs the real CLI entry
point in-process (reviewbot.cli.main, SystemExit caught) with the fast deterministic reviewers and
a rotating report format. A sample also runs as real `python -m reviewbot` processes. A case fails
if it raises anything but SystemExit, exits outside {0, 1, 2}, writes a traceback, prints a
multi-line or control-character error on exit 2, or takes longer than the hang limit.

    nice python benchmarks/fuzz_cli.py [--cases 10000] [--subprocess 200] [--seed 14]

Writes benchmarks/results/fuzz_cli.{json,md}.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
RESULTS = REPO / 'benchmarks' / 'results'
HANG_SECONDS = 30
FORMATS = ('terminal', 'json', 'sarif', 'rdjsonl', 'github-annotations')
REVIEWERS = 'secrets'  # fast and deterministic; ruff (a process per run) joins in the subprocess sample
_RAW_CONTROL = re.compile('[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]')

SEEDS: list[bytes] = [
    (b'diff --git a/app.py b/app.py\nindex 1111111..2222222 100644\n--- a/app.py\n+++ b/app.py\n'
    b'@@ -1,3 +1,4 @@\n import os\n-x = 1\n+x = 2\n+TOKEN = "ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"\n'
    b' print(x)\n@@ -10,2 +11,2 @@ def f():\n-    return 1\n+    return 2\n     pass\n'),
    (b'diff --git a/old name.py b/new name.py\nsimilarity index 90%\nrename from old name.py\n'
    b'rename to new name.py\n--- a/old name.py\n+++ b/new name.py\n@@ -1 +1 @@\n-a = 1\n+a = 2\n'),
    (b'diff --git "a/\\303\\251t\\303\\251.py" "b/\\303\\251t\\303\\251.py"\nnew file mode 100644\n'
    b'--- /dev/null\n+++ "b/\\303\\251t\\303\\251.py"\n@@ -0,0 +1,2 @@\n+DB = "postgres://u:S3cr3t!@h/db"\n'
    b'+y = 2\n\\ No newline at end of file\n'),
    b'diff --git a/img.png b/img.png\nnew file mode 100644\nBinary files /dev/null and b/img.png differ\n',
    b'diff --git a/run.sh b/run.sh\nold mode 100644\nnew mode 100755\n',
    b'--- a/plain.c\n+++ b/plain.c\n@@ -1,2 +1,2 @@\n int main() {\n-  return 0;\n+  return 1;\n',
    (b'diff --git a/gone.py b/gone.py\ndeleted file mode 100644\n--- a/gone.py\n+++ /dev/null\n'
    b'@@ -1,2 +0,0 @@\n-a = 1\n-b = 2\n'),
    (b'diff --git a/sub b/sub\nindex 1234567..89abcde 160000\n--- a/sub\n+++ b/sub\n@@ -1 +1 @@\n'
    b'-Subproject commit 1234567\n+Subproject commit 89abcde\n'),
]
NASTY = [b'\x00', b'\r', b'\x1b[2J', b'\x1b]0;t\x07', b'\xff', b'\xfe\xfe', b'\xe2\x80\xae', b'\xc3',
         b'"', b'\\', b'\\000', b'\\377', b'\t', b' ', b'\n', b'@@', b'+', b'-', b'\\ ', b'@',
         b'://', b'u:p@', b'api_key' + b' ' * 40, b'password' * 20, b'diff --git ', b'--- ',
         b'+++ ', b'@@ -1 +1 @@', b'@@ -0,0 +99999999999999999999 @@', b'rename from x', b'/dev/null']


def mutate(rng: random.Random, data: bytes) -> bytes:
    for _ in range(rng.randint(1, 4)):
        kind = rng.randrange(9)
        pos = rng.randint(0, len(data)) if data else 0
        if kind == 0 and data:  # flip a byte
            i = rng.randrange(len(data))
            data = data[:i] + bytes([rng.randrange(256)]) + data[i + 1:]
        elif kind == 1:  # insert something nasty
            data = data[:pos] + rng.choice(NASTY) + data[pos:]
        elif kind in (2, 3):  # duplicate / drop / swap lines
            lines = data.split(b'\n')
            if len(lines) > 1:
                i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
                if kind == 2:
                    lines.insert(i, lines[j])
                elif rng.random() < 0.5:
                    del lines[i]
                else:
                    lines[i], lines[j] = lines[j], lines[i]
            data = b'\n'.join(lines)
        elif kind == 4:  # truncate
            data = data[:pos]
        elif kind == 5:  # splice with another seed
            other = rng.choice(SEEDS)
            data = data[:pos] + other[rng.randint(0, len(other)):]
        elif kind == 6:  # absurd hunk numbers
            data = re.sub(rb'@@ -\d+(,\d+)? \+\d+(,\d+)? @@',
                          lambda m: b'@@ -%d,%d +%d,%d @@' % tuple(rng.choice([0, 1, 7, 2**31, 10**30])
                                                                  for _ in range(4)), data, count=1)
        elif kind == 7:  # a long added line
            data = data[:pos] + b'\n+' + rng.choice(NASTY) * rng.randint(100, 3000) + b'\n' + data[pos:]
        else:  # a second copy of the whole seed
            data = data + data
    return data


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang()


def run_in_process(path: Path, fmt: str) -> tuple[int | None, str, str, float]:
    """(exit code or None for a crash, stdout, stderr, seconds) of reviewbot.cli.main."""
    from reviewbot import cli
    out, err = io.StringIO(), io.StringIO()
    t0 = time.perf_counter()
    code: int | None
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(HANG_SECONDS)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = cli.main(['review', '--diff', str(path), '--reviewers', REVIEWERS,
                                 '--format', fmt, '--no-cache', '--fail-level', 'error'])
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else 2
    except Hang:
        code = None
        err.write('HANG\n')
    except Exception as e:  # exactly what the fuzzer looks for
        import traceback
        code = None
        err.write('Traceback (in-process)\n' + ''.join(traceback.format_exception(e)))
    finally:
        signal.alarm(0)
    return code, out.getvalue(), err.getvalue(), time.perf_counter() - t0


def run_subprocess(path: Path, fmt: str, cwd: Path) -> tuple[int | None, str, str, float]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, '-m', 'reviewbot', 'review', '--diff', str(path),
                               '--reviewers', 'secrets,ruff', '--format', fmt, '--no-cache'],
                              cwd=cwd, capture_output=True, env=env, timeout=HANG_SECONDS * 4, check=False)
    except subprocess.TimeoutExpired:
        return None, '', 'HANG\n', time.perf_counter() - t0
    return (proc.returncode, proc.stdout.decode('utf-8', 'replace'),
            proc.stderr.decode('utf-8', 'replace'), time.perf_counter() - t0)


def problem(code: int | None, out: str, err: str) -> str | None:
    """Why a run is a failure, or None."""
    if code is None:
        return 'hang' if err.startswith('HANG') else 'crash'
    if code not in (0, 1, 2):
        return f'exit {code}'
    if 'Traceback' in err or 'Traceback' in out:
        return 'traceback'
    if code == 2:
        body = err.rstrip('\n')
        if '\n' in body or _RAW_CONTROL.search(body):
            return 'error not one clean line'
    return None


def fuzz(cases: int, seed: int, sample: int = 0, quiet: bool = False) -> dict:
    rng = random.Random(seed)
    exits: dict[str, int] = {}
    failures: list[dict] = []
    times: list[float] = []
    sub_exits: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix='reviewbot-fuzz-') as tmp:
        cwd = Path(tmp)
        old = Path.cwd()
        os.chdir(cwd)  # not a repository: nothing of this checkout is read as the new side
        try:
            for n in range(cases):
                data = mutate(rng, rng.choice(SEEDS))
                path = cwd / 'case.diff'
                path.write_bytes(data)
                fmt = FORMATS[n % len(FORMATS)]
                code, out, err, secs = run_in_process(path, fmt)
                times.append(secs)
                exits[str(code)] = exits.get(str(code), 0) + 1
                why = problem(code, out, err)
                if why:
                    failures.append({'case': n, 'why': why, 'format': fmt, 'diff': data[:2000].hex(),
                                     'stderr': err[-2000:]})
                if not quiet and n % 1000 == 999:
                    print(f'{n + 1} cases, {len(failures)} failures', file=sys.__stderr__, flush=True)
            for n in range(sample):
                data = mutate(rng, rng.choice(SEEDS))
                path = cwd / 'case.diff'
                path.write_bytes(data)
                fmt = FORMATS[n % len(FORMATS)]
                code, out, err, secs = run_subprocess(path, fmt, cwd)
                sub_exits[str(code)] = sub_exits.get(str(code), 0) + 1
                why = problem(code, out, err)
                if why:
                    failures.append({'case': f'subprocess {n}', 'why': why, 'format': fmt,
                                     'diff': data[:2000].hex(), 'stderr': err[-2000:]})
        finally:
            os.chdir(old)
    times.sort()
    return {
        'cases_in_process': cases, 'cases_subprocess': sample, 'seed': seed,
        'exit_codes_in_process': exits, 'exit_codes_subprocess': sub_exits,
        'failures': failures,
        'tracebacks': sum(f['why'] in ('traceback', 'crash') for f in failures),
        'hangs': sum(f['why'] == 'hang' for f in failures),
        'seconds_median': times[len(times) // 2] if times else 0.0,
        'seconds_max': times[-1] if times else 0.0,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--cases', type=int, default=10000)
    ap.add_argument('--subprocess', type=int, default=200)
    ap.add_argument('--seed', type=int, default=14)
    args = ap.parse_args()
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    result = fuzz(args.cases, args.seed, args.subprocess)
    result['wall_seconds'] = round(time.perf_counter() - t0, 1)
    result['load_average_before'] = load_before
    result['load_average_after'] = os.getloadavg()
    result['cpus'] = os.cpu_count()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / 'fuzz_cli.json').write_text(json.dumps(result, indent=2) + '\n')
    md = [
        '# Fuzzing `reviewbot review` with mutated diffs', '',
        (f'`python benchmarks/fuzz_cli.py --cases {args.cases} --subprocess {args.subprocess} '
        f'--seed {args.seed}` (reviewers: {REVIEWERS} in-process; secrets,ruff in subprocesses; '
        f'formats rotate over {", ".join(FORMATS)}).'), '',
        '| | value |', '|---|---|',
        f'| mutated diffs, in-process (reviewbot.cli.main) | {args.cases} |',
        f'| mutated diffs, real `python -m reviewbot` processes | {args.subprocess} |',
        f'| exit codes, in-process | {result["exit_codes_in_process"]} |',
        f'| exit codes, subprocess | {result["exit_codes_subprocess"]} |',
        f'| tracebacks / crashes | {result["tracebacks"]} |',
        f'| hangs (> {HANG_SECONDS} s) | {result["hangs"]} |',
        f'| other failures | {len(result["failures"]) - result["tracebacks"] - result["hangs"]} |',
        (f'| seconds per in-process case: median / max | {result["seconds_median"]:.4f} / '
        f'{result["seconds_max"]:.2f} |'),
        f'| wall time | {result["wall_seconds"]} s |',
        (f'| load average before / after (1, 5, 15 min) | '
        f'{", ".join(f"{x:.2f}" for x in load_before)} / '
        f'{", ".join(f"{x:.2f}" for x in result["load_average_after"])} on {result["cpus"]} CPUs |'),
    ]
    (RESULTS / 'fuzz_cli.md').write_text('\n'.join(md) + '\n')
    print('\n'.join(md))
    return 1 if result['failures'] else 0


if __name__ == '__main__':
    sys.exit(main())
