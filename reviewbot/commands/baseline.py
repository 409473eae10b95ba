"""`reviewbot baseline`: record today's findings in .reviewbot-baseline.json so that `review`, the hook
and `ci` report only new ones (commit the file to share it with the team)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reviewbot.commands.review import add_reviewer_options, add_source_args
from reviewbot.errors import EXIT_OK


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        'baseline', help='write the fingerprints of the current findings to .reviewbot-baseline.json',
        description='Review a diff (as `reviewbot review` does, or the whole tree with --all) and write the '
                    'fingerprints of its findings (rule id, path and normalised code; no line numbers) to '
                    '.reviewbot-baseline.json at the repository root. `review`, `hook` and `ci` then report '
                    'only findings not in it. The existing baseline is ignored while reviewing and replaced '
                    '(--merge keeps its entries). Exit 0: written; 2: usage or input error, a corrupt '
                    'baseline with --merge, or nothing to review (nothing is written then).')
    add_source_args(p)
    p.add_argument('--all', action='store_true', help='review every file at HEAD (the diff from the empty tree)')
    p.add_argument('--output', '-o', metavar='FILE',
                   help='baseline file to write (default: .reviewbot-baseline.json at the repository root)')
    p.add_argument('--merge', action='store_true', help='keep the entries already in the baseline file')
    add_reviewer_options(p)
    p.set_defaults(func=run, fail_level=None)


def run(args: argparse.Namespace) -> int:
    from reviewbot import baseline, pipeline, sources
    from reviewbot.commands.review import load_config, open_source
    from reviewbot.errors import ReviewbotError
    if args.all and (args.staged or args.range or args.base or args.diff or args.stdin):
        raise ReviewbotError('--all reviews the whole tree: give no other diff source')
    cfg = load_config(args)
    source = sources.between(Path.cwd(), None, 'HEAD', 'every file at HEAD') if args.all else open_source(args)
    root = source.repo_root or Path.cwd()
    out = Path(args.output) if args.output else root / baseline.BASELINE_FILE
    kept = list(baseline.load(out).entries) if args.merge and out.exists() else []
    report = pipeline.review(source, cfg, stage='cli')  # today's findings, all of them
    if not report.coverage.files_reviewed:
        raise ReviewbotError(f'nothing to review in {source.description}; {out} not written '
                             '(--all records the findings of the whole tree)')
    entries = baseline.entries_of(report.findings)
    baseline.write(out, kept + entries)
    total = len({e['fingerprint'] for e in kept + entries})
    print(f'reviewbot: {out}: {total} fingerprint(s) written ({len(entries)} from {len(report.findings)} '
          f'finding(s) in {source.description}' + (f', {len(kept)} kept' if args.merge else '') + ')',
          file=sys.stderr)
    if report.coverage.skipped:
        print(f'reviewbot: {len(report.coverage.skipped)} file(s) or part(s) were not reviewed; their '
              'findings are not in the baseline', file=sys.stderr)
    return EXIT_OK
