"""Golden outputs of `reviewbot review` on every examples/**/*.diff, to show a refactor changed nothing.

Each diff is reviewed two ways, in every output format (terminal, json, sarif, rdjsonl,
github-annotations), through the real CLI in a subprocess:
  range: a git repository made from the example's base (examples/demo-base for the top-level diffs,
         examples/planted/base for examples/planted/), the base committed, the diff applied and
         committed (fixed author, committer and dates, so the commit ids are the same on every
         machine), reviewed with `--range HEAD~1..HEAD`: every file read in full.
  file:  `--diff FILE` from an empty directory that is not a repository: the reviewers see only
         the diff's fragments.
What is written per case: stdout byte for byte, except what is variable by nature, replaced by a
fixed placeholder: the values of the json report's "timings" (seconds) and the random token of the
github-annotations stop-commands block. stderr and the exit code go to index.json.

Usage:
  python scripts/golden_examples.py OUT_DIR                  # deterministic reviewers (secrets,ruff,patterns)
  python scripts/golden_examples.py OUT_DIR --model-on       # default reviewers with the model on
                                                             # (--model, default the tiny smollm2-135m)
  diff -r BEFORE_DIR AFTER_DIR                               # compare two checkouts' outputs
tests/test_golden_examples.py checks the deterministic outputs against tests/golden/.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / 'examples'
FORMATS = ('terminal', 'json', 'sarif', 'rdjsonl', 'github-annotations')
DETERMINISTIC = 'secrets,ruff,patterns'
TINY = 'smollm2-135m'
GIT_ENV = {'GIT_AUTHOR_NAME': 'golden', 'GIT_AUTHOR_EMAIL': 'golden@example.invalid',
           'GIT_COMMITTER_NAME': 'golden', 'GIT_COMMITTER_EMAIL': 'golden@example.invalid',
           'GIT_AUTHOR_DATE': '2026-01-01T00:00:00+00:00', 'GIT_COMMITTER_DATE': '2026-01-01T00:00:00+00:00',
           'GIT_CONFIG_GLOBAL': os.devnull, 'GIT_CONFIG_NOSYSTEM': '1'}
_TIMINGS = re.compile(r'("timings": \{)(.*?)(\n  \})', re.DOTALL)
_SECONDS = re.compile(r'(": )-?[0-9][0-9.e+-]*')
_STOP_TOKEN = re.compile(r'reviewbot-[0-9a-f]{32}')


def example_diffs() -> list[Path]:
    return sorted(EXAMPLES.rglob('*.diff'))


def base_of(diff: Path) -> Path:
    """The tree an example diff applies to."""
    return EXAMPLES / 'planted' / 'base' if diff.parent.name == 'planted' else EXAMPLES / 'demo-base'


def case_name(diff: Path) -> str:
    return str(diff.relative_to(EXAMPLES).with_suffix('')).replace('/', '--')


def normalise(text: str, fmt: str) -> str:
    """stdout with only the inherently variable parts replaced (see the module docstring)."""
    if fmt == 'json':
        text = _TIMINGS.sub(lambda m: m.group(1) + _SECONDS.sub(r'\g<1>0.0', m.group(2)) + m.group(3), text)
    if fmt == 'github-annotations':
        text = _STOP_TOKEN.sub('reviewbot-STOPTOKEN', text)
    return text


def git(repo: Path, *args: str) -> None:
    subprocess.run(['git', *args], cwd=repo, check=True, capture_output=True, env={**os.environ, **GIT_ENV})


def make_range_repo(diff: Path, where: Path) -> Path:
    repo = where / 'repo'
    shutil.copytree(base_of(diff), repo)
    git(repo, 'init', '-q', '-b', 'main')
    git(repo, 'add', '-A')
    git(repo, 'commit', '-q', '-m', 'base')
    git(repo, 'apply', str(diff))
    git(repo, 'add', '-A')
    git(repo, 'commit', '-q', '-m', 'change')
    return repo


def cli_env(cache: Path) -> dict[str, str]:
    env = dict(os.environ)
    env['PYTHONPATH'] = str(ROOT) + os.pathsep + env.get('PYTHONPATH', '')
    env['REVIEWBOT_CACHE_DIR'] = str(cache)  # results cache only: models stay where they are
    env['REVIEWBOT_DAEMON'] = 'off'
    for k in ('NO_COLOR', 'GITHUB_ACTIONS', 'GITLAB_CI', 'CI'):
        env.pop(k, None)
    return env


def collect(*, model_on: bool = False, model: str = TINY, python: str = sys.executable
            ) -> dict[str, tuple[bytes, int, str]]:
    """{'<case>.<how>.<format>': (normalised stdout, exit code, stderr)} for every example diff."""
    reviewers = ['--model', model, '--budget', '0'] if model_on else ['--reviewers', DETERMINISTIC]
    out: dict[str, tuple[bytes, int, str]] = {}
    for diff in example_diffs():
        with tempfile.TemporaryDirectory(prefix='reviewbot-golden-') as tmp:
            where = Path(tmp)
            repo = make_range_repo(diff, where)
            empty = where / 'empty'
            empty.mkdir()
            shutil.copyfile(diff, empty / diff.name)
            for how, cwd, source in (('range', repo, ['--range', 'HEAD~1..HEAD']),
                                     ('file', empty, ['--diff', diff.name])):
                for fmt in FORMATS:
                    # a fresh results cache per run: every model answer is computed, never `cached`
                    cache = where / f'cache-{how}-{fmt}'
                    proc = subprocess.run([python, '-m', 'reviewbot', 'review', *source, *reviewers,
                                           '--format', fmt], cwd=cwd, capture_output=True,
                                          env=cli_env(cache), timeout=1800, check=False)
                    text = normalise(proc.stdout.decode('utf-8', 'surrogateescape'), fmt)
                    out[f'{case_name(diff)}.{how}.{fmt}'] = (
                        text.encode('utf-8', 'surrogateescape'), proc.returncode,
                        proc.stderr.decode('utf-8', 'replace'))
    return out


def write(out_dir: Path, results: dict[str, tuple[bytes, int, str]]) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    index = {}
    for name, (stdout, code, stderr) in sorted(results.items()):
        (out_dir / f'{name}.out').write_bytes(stdout)
        index[name] = {'exit': code, 'stderr': stderr}
    (out_dir / 'index.json').write_text(json.dumps(index, indent=2, sort_keys=True) + '\n', encoding='utf-8')


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('out_dir', type=Path)
    ap.add_argument('--model-on', action='store_true', help='default reviewers, the model included')
    ap.add_argument('--model', default=TINY, help=f'with --model-on: the local model (default {TINY})')
    args = ap.parse_args(argv)
    write(args.out_dir, collect(model_on=args.model_on, model=args.model))
    print(f'wrote {args.out_dir}', file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
