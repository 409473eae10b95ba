"""`reviewbot ci`: review a pull/merge request inside GitHub Actions or GitLab CI.

The platform comes from the environment (reviewbot.forge.detect); the diff from the local clone
(merge-base of base and head, reviewbot.ci_env). Writes GitHub annotations to stdout and Markdown to
$GITHUB_STEP_SUMMARY on GitHub, the terminal report elsewhere, and optional SARIF/JSON files. With
--publish, posts the review through reviewbot.publish when that module is installed. Exit codes as
`reviewbot review`: 1 when a finding is at or above the fail level, 2 for errors (also outside CI),
3 when --publish could not post every finding (and none is at the fail level).

Config: the checkout is the code under review, so keys that decide where code and credentials go
or what is read or run come from the base commit's config or a --config file outside the checkout
(reviewbot.ci_env.run_config); a checkout that sets them differently is told so in one line.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from reviewbot.commands.review import add_review_options, baseline_kwargs
from reviewbot.errors import EXIT_FINDINGS, EXIT_NOT_POSTED, EXIT_OK


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser('ci', help='review the pull/merge request of this CI run (GitHub Actions, GitLab CI)',
                       description='Review the pull request (GitHub Actions) or merge request (GitLab CI) '
                       'this job runs for, from the local clone (needs the full history: fetch-depth 0). '
                       'Settings that decide where code and credentials go, or what is read or run, '
                       'come from the base commit\'s config or a --config file outside the checkout, '
                       'never from the checkout. '
                       'Exit 0: fine; 1: a finding at or above the fail level; 2: error or not in CI; with '
                       '--publish also 3: a finding could not be posted, 4: the head moved (nothing posted).')
    p.add_argument('--sarif', metavar='FILE', help='also write a SARIF 2.1.0 report (code scanning)')
    p.add_argument('--json', metavar='FILE', help='also write the JSON report (for a separate posting job)')
    p.add_argument('--publish', action='store_true',
                   help='post the review on the pull/merge request (needs reviewbot.publish and a token)')
    p.add_argument('--no-summary', action='store_true', help='do not write $GITHUB_STEP_SUMMARY')
    add_review_options(p)
    p.set_defaults(func=run)


def _write(path: str, text: str) -> None:
    from reviewbot.errors import ReviewbotError
    from reviewbot.safefile import UnsafePathError, atomic_write
    try:
        atomic_write(path, text if text.endswith('\n') else text + '\n', inside=Path.cwd())
    except UnsafePathError as e:
        raise ReviewbotError(f'refusing to write {path}: {e}') from None
    except OSError as e:
        raise ReviewbotError(f'cannot write {path}: {e.strerror or e}') from None


def _load_publish(platform: str):
    """reviewbot.publish, when this install has what posting on `platform` needs (the publish extra)."""
    import importlib

    from reviewbot import extras
    from reviewbot.errors import ReviewbotError
    module = 'github' if platform == 'github' else 'gitlab'
    extras.require('publish', '`reviewbot ci --publish`', (module,))
    try:
        return importlib.import_module('reviewbot.publish')
    except ModuleNotFoundError as e:
        if e.name != 'reviewbot.publish':
            raise
        raise ReviewbotError('--publish is not available: reviewbot.publish is not installed') from None


def run(args: argparse.Namespace) -> int:
    from reviewbot import ci_env, forge, pipeline, reporters
    from reviewbot.commands.review import with_trust
    from reviewbot.errors import ReviewbotError
    t0 = time.perf_counter()
    env = os.environ
    ctx = forge.detect(env)
    if ctx is None:
        raise ReviewbotError('not running in a known CI (GitHub Actions or a GitLab merge-request '
                             'pipeline); use `reviewbot review` outside CI')
    # a missing module or token fails before the review, not after it
    publish = _load_publish(ctx.platform) if args.publish else None
    target = publish.ci_target(ctx) if publish is not None else None
    from reviewbot import git
    cwd = Path.cwd()
    root = git.repo_root(cwd)
    base, head, description = ci_env.review_range(ctx, env, root)
    if target is not None:
        # post only on the commit reviewed: a push that lands during a long review makes the
        # report stale, and publishing refuses it (the run for the new head posts instead)
        target.expect_head = head
    source = ci_env.diff_source(root, ctx.platform, base, head, description,
                            event_name=ctx.event_name, pr_number=ctx.pr_number)
    # the checkout is the pull request's code: settings that decide egress or what is read or run
    # come from the base commit's config (or a --config outside the checkout), never from it
    trust = ci_env.run_config(ctx, env, cwd, base, Path(args.config) if args.config else None,
                              no_base='this run has no base commit')
    cfg, ignored = with_trust(trust, args)
    report = pipeline.review(source, cfg, stage='ci', platform=ctx, **baseline_kwargs(args))
    if ignored is not None:
        report.notes.insert(0, ignored)
    report.timings['total'] = time.perf_counter() - t0
    print(f'reviewbot: {description}', file=sys.stderr)

    if ctx.platform == 'github':
        # annotations, then the whole report as inert text (stop-commands) for the log
        sys.stdout.write(reporters.render(report, 'github-annotations'))
        if not args.no_summary:
            from reviewbot.reporters import job_summary
            job_summary.append_to_step_summary(report, env)
    else:
        sys.stdout.write(reporters.render(report, 'terminal', color=False))
    sys.stdout.flush()
    if args.sarif:
        _write(args.sarif, reporters.render(report, 'sarif'))
    if args.json:
        _write(args.json, reporters.render(report, 'json'))
    failed = pipeline.fails(report, cfg.fail_level)
    if publish is not None:
        from reviewbot.diffparse import parse_diff
        from reviewbot.errors import StaleReport
        try:
            result = publish.publish_report(report, parse_diff(source.data), target)
        except StaleReport as e:
            print(f'reviewbot: {e}', file=sys.stderr)
            return EXIT_FINDINGS if failed else e.exit_code
        print(result.describe(), file=sys.stderr)
        if not result.ok and not failed:
            return EXIT_NOT_POSTED  # as `reviewbot publish`: the findings not posted are named above
    return EXIT_FINDINGS if failed else EXIT_OK
