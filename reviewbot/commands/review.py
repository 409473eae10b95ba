"""`reviewbot review`: review one diff and report findings."""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from reviewbot.errors import EXIT_FINDINGS, EXIT_OK

FORMATS = ('terminal', 'json', 'sarif', 'rdjsonl', 'github-annotations')


def add_source_args(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group()
    src.add_argument('--staged', action='store_true',
                     help='review the index: what a commit would contain (the default)')
    src.add_argument('--range', metavar='A..B', help='review commits: A..B, or A...B from their merge-base')
    src.add_argument('--base', metavar='REF', help='review from merge-base(REF, HEAD) to HEAD')
    src.add_argument('--diff', metavar='FILE', help="review a diff file ('-' for standard input)")
    src.add_argument('stdin', nargs='?', choices=['-'], help="same as --diff -")


def add_common_args(p: argparse.ArgumentParser) -> None:
    p.add_argument('--format', choices=FORMATS, default='terminal', help='report format')
    p.add_argument('--output', '-o', metavar='FILE', help='write the report to FILE')
    add_review_options(p)
    p.add_argument('--dry-run', action='store_true',
                   help='run no reviewer: show what would be reviewed, skipped, and sent')


def add_review_options(p: argparse.ArgumentParser) -> None:
    """Options every command that reports findings shares (review, ci)."""
    p.add_argument('--fail-level', choices=('error', 'warning', 'info', 'none'),
                   help='exit 1 when a finding is at or above this severity (default: config, error)')
    add_baseline_options(p)
    add_reviewer_options(p)


def add_baseline_options(p: argparse.ArgumentParser) -> None:
    bl = p.add_mutually_exclusive_group()
    bl.add_argument('--baseline', metavar='FILE', help='report only findings not in this baseline file '
                    '(default: .reviewbot-baseline.json at the repository root, when it exists)')
    bl.add_argument('--no-baseline', action='store_true', help='report every finding, ignoring the baseline')


def baseline_kwargs(args: argparse.Namespace) -> dict:
    """pipeline.review's baseline arguments from --baseline / --no-baseline."""
    return {'baseline': Path(args.baseline) if getattr(args, 'baseline', None) else None,
            'use_baseline': not getattr(args, 'no_baseline', False)}


def add_reviewer_options(p: argparse.ArgumentParser) -> None:
    """Options every command that runs the reviewers shares (review, ci, baseline)."""
    p.add_argument('--config', metavar='FILE', help='config file (default: nearest .reviewbot.toml '
                   'or pyproject.toml [tool.reviewbot])')
    p.add_argument('--reviewers', metavar='A,B', help='comma-separated reviewers to run')
    p.add_argument('--budget', type=float, metavar='SECONDS', help='seconds the reviewers (run at once) may use')
    p.add_argument('--model', metavar='NAME', help='local model name or exported model folder')
    p.add_argument('--model-dir', metavar='DIR', help='model cache directory')
    p.add_argument('--no-cache', action='store_true', help='do not use the result cache')


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser('review', help='review a diff (staged changes, a range, a file or stdin)',
                       description='Review a diff and report findings anchored to its lines. '
                       'Findings in .reviewbot-baseline.json (see `reviewbot baseline`) are not reported. '
                       'Exit 0: fine; 1: a finding at or above --fail-level; 2: usage or input error '
                       '(also a corrupt baseline).')
    add_source_args(p)
    add_common_args(p)
    fx = p.add_argument_group('fixes', 'verified fixes are shown in the report; nothing is written '
                              'unless asked here')
    fx.add_argument('--fix-patch', metavar='FILE',
                    help="write the verified fixes as one patch for `git apply` ('-': standard output)")
    fx.add_argument('--apply-fixes', action='store_true',
                    help='apply the verified fixes to the work tree (with git apply; never in a hook)')
    fx.add_argument('--unsafe-fixes', action='store_true',
                    help='include fixes marked unsafe (they may change behaviour) in --fix-patch / --apply-fixes')
    p.add_argument('--stage', default='cli', help=argparse.SUPPRESS)
    p.set_defaults(func=run)


def load_config(args: argparse.Namespace):
    from reviewbot import config as cfgmod
    return apply_flags(cfgmod.load(Path(args.config) if args.config else None), args)


def run_config(args: argparse.Namespace, env, range_base: str | None = None):
    """(this run's config with the command-line flags applied, the note on trusted keys the checkout
    set but that were not used, or None). Outside CI: the config file. In a CI job (any event, any
    stage) the checkout may be anybody's code, so settings that decide where code and credentials go
    come from the event's base commit, else `range_base`, else their defaults (reviewbot.ci_env.run_config)."""
    from reviewbot import ci_env
    if not ci_env.in_ci(env):
        return load_config(args), None
    from reviewbot import forge
    return with_trust(ci_env.run_config(forge.detect(env), env, Path.cwd(), range_base,
                                    Path(args.config) if args.config else None), args)


def with_trust(trust, args: argparse.Namespace):
    """(trust.config with the command-line flags applied, trust.note()), the note also on stderr."""
    cfg = apply_flags(trust.config, args)
    if (note := trust.note()) is not None:
        print(f'reviewbot: {note}', file=sys.stderr)
    return cfg, note


def apply_flags(cfg, args: argparse.Namespace):
    """The config with the command-line options of add_review_options applied."""
    reviewers = [r.strip() for r in args.reviewers.split(',') if r.strip()] if args.reviewers else None
    return cfg.override(
        fail_level=args.fail_level, reviewers=reviewers, budget=args.budget, model=args.model,
        model_dir=args.model_dir, cache=False if args.no_cache else None)


def open_source(args: argparse.Namespace):
    from reviewbot import sources
    cwd = Path.cwd()
    if args.diff is not None or args.stdin == '-':
        return sources.from_file(cwd, args.diff or '-')
    if args.range:
        return sources.commit_range(cwd, args.range)
    if args.base:
        return sources.since_base(cwd, args.base)
    return sources.staged(cwd)


def write_report(text: str, output: str | None) -> None:
    if output:
        from reviewbot.errors import ReviewbotError
        from reviewbot.safefile import atomic_write
        try:
            atomic_write(output, text if text.endswith('\n') or not text else text + '\n')
        except OSError as e:
            raise ReviewbotError(f'cannot write {output}: {e.strerror or e}') from None
    elif text:
        sys.stdout.write(text if text.endswith('\n') else text + '\n')
        sys.stdout.flush()


def run(args: argparse.Namespace) -> int:
    from reviewbot import pipeline, reporters
    from reviewbot.textsafe import visible
    t0 = time.perf_counter()
    source = open_source(args)
    cfg, ignored = run_config(args, os.environ, source.base_rev if (args.range or args.base) else None)
    if args.dry_run:
        # paths come from the diff: shown with their control characters escaped
        write_report('\n'.join(visible(ln, keep_newlines=False) for ln in pipeline.plan(
            source, cfg, stage=args.stage, **baseline_kwargs(args))), args.output)
        return EXIT_OK
    report = pipeline.review(source, cfg, stage=args.stage, **baseline_kwargs(args))
    if not report.coverage.files_reviewed:
        print(f'reviewbot: nothing to review in {source.description}'
              + (f' ({len(report.coverage.skipped)} files skipped)' if report.coverage.skipped else ''),
              file=sys.stderr)
    if ignored is not None:
        report.notes.insert(0, ignored)
    report.timings['total'] = time.perf_counter() - t0
    color = args.output is None and sys.stdout.isatty() and 'NO_COLOR' not in os.environ
    write_report(reporters.render(report, args.format, color=color), args.output)
    if args.fix_patch or args.apply_fixes:
        write_fixes(args, source, report)
    return EXIT_FINDINGS if pipeline.fails(report, cfg.fail_level) else EXIT_OK


def write_fixes(args: argparse.Namespace, source, report) -> None:
    """--fix-patch / --apply-fixes: the verified fixes, only when asked (ruff's model)."""
    from reviewbot import git
    from reviewbot.diffparse import parse_diff
    from reviewbot.errors import ReviewbotError
    from reviewbot.fixes import patch as patch_mod
    from reviewbot.pipeline import new_files
    if args.stage in ('pre-commit', 'pre-push'):
        raise ReviewbotError('fixes are never written from a hook')
    read = new_files(source, parse_diff(source.data)).read  # the new side the fixes were verified on
    fp = patch_mod.build(report.findings, read, unsafe=args.unsafe_fixes)
    left = (f'; {fp.unsafe_left_out} unsafe fixes left out (--unsafe-fixes to include them)'
            if fp.unsafe_left_out else '')
    if args.fix_patch:
        if args.fix_patch == '-':
            sys.stdout.write(fp.text)
            sys.stdout.flush()
        else:
            try:
                from reviewbot.safefile import atomic_write
                atomic_write(args.fix_patch, fp.text)
            except OSError as e:
                raise ReviewbotError(f'cannot write {args.fix_patch}: {e.strerror or e}') from None
        print(f'reviewbot: {fp.applied} verified fixes written to {args.fix_patch}{left}', file=sys.stderr)
    if args.apply_fixes:
        if not fp.text:
            print(f'reviewbot: no verified fixes to apply{left}', file=sys.stderr)
            return
        root = source.repo_root or Path.cwd()
        for check_only in (True, False):
            try:
                git.apply(root, fp.text.encode('utf-8', 'surrogateescape'), check_only=check_only)
            except git.GitError as e:
                raise ReviewbotError('the fixes do not apply to the work tree (it differs from the '
                                     f'reviewed revision): {e}') from None
        print(f'reviewbot: applied {fp.applied} verified fixes to the work tree (not staged){left}',
              file=sys.stderr)
