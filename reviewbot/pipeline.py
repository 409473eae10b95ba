"""The one-way pipeline: review(source, config) -> Report, the one function every command calls.

A diff's bytes go through: parse -> scope -> reviewers -> anchor -> scrub -> baseline -> fixes, and come
out as a Report the commands render (reporters/) or post (publish/). `plan` answers --dry-run: what
review() would do, without running a reviewer.
"""
from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from reviewbot import baseline as baseline_mod
from reviewbot import fixes
from reviewbot import reviewers as reviewers_mod
from reviewbot.anchor import anchor
from reviewbot.config import Config
from reviewbot.core import (
    Coverage,
    Diff,
    Finding,
    Report,
    Reviewed,
    Severity,
    commit_id,
    diff_sha256,
)
from reviewbot.diffparse import parse_diff
from reviewbot.errors import ConfigError
from reviewbot.newside import NewFiles
from reviewbot.privacy.redact import redact
from reviewbot.reviewers import ReviewContext, Reviewer
from reviewbot.scope import Plan, make_plan
from reviewbot.sources import DiffSource

# the reviewers to run: built objects, or a factory called only when there is something to review
Reviewers = Sequence[Reviewer] | Callable[[], Sequence[Reviewer]]


def review(source: DiffSource, config: Config, *, stage: str = 'cli', platform: object = None,
           budget: float | None = None, baseline: Path | None = None, use_baseline: bool = False,
           reviewers: Reviewers | None = None, model: object = None) -> Report:
    """Review one diff, from its bytes to a Report.

    `stage` ('cli', 'pre-commit', 'pre-push', 'ci') picks the time budget (`budget` overrides it: seconds
    each reviewer may use, 0 for no limit); `platform`: the CI context (forge.detect) the cloud
    reviewer's privacy gate reads; `use_baseline`: drop the findings of `baseline` (default: the
    repository's .reviewbot-baseline.json, when there is one); `reviewers`: default the configured
    ones, built from the registry (with `model`, an already loaded model, for the server)."""
    # 1. what to review: the diff parsed, and scoped (excluded, binary, generated, oversized: skipped)
    prep = prepare(source, config, stage=stage, platform=platform, budget=budget,
                   baseline=baseline, use_baseline=use_baseline)
    plan, ctx = prep.plan, prep.context
    coverage = Coverage(files_reviewed=len(plan.files), hunks_reviewed=plan.hunks,
                        lines_reviewed=plan.added_lines, skipped=list(plan.skipped))
    report = Report(findings=[], coverage=coverage, reviewers=[],
                    reviewed=Reviewed(commit_id(source.new_rev), commit_id(source.base_rev),
                                      diff_sha256(source.data)))
    # 2. who reviews: built only when there is something to review (a name is checked either way)
    chosen = _reviewers(config, reviewers, model, needed=bool(plan.files))
    report.reviewers = [r.name for r in chosen]
    # 3. each reviewer in turn, each with the whole budget: a slow cloud call must not starve the model
    raw: list[Finding] = []
    for r in chosen if plan.files else ():
        t0 = time.perf_counter()
        _restart_clock(ctx)
        result = r.review(plan.files, ctx)
        report.timings[r.name] = time.perf_counter() - t0
        raw.extend(result.findings)
        coverage.skipped.extend(result.skipped)
        report.notes.extend(result.notes)
        report.egress.extend(result.egress)
    if prep.new_files is not None:
        # said per file (JSON coverage.files, terminal notes): in full, from blobs, from fragments
        coverage.files.extend(prep.new_files.basis(f.path) for f in plan.files)
    # 4. every finding at an added or context line of the diff, else a file note (or dropped)
    anchored = anchor(raw, prep.diff, config.unanchored)
    if anchored.demoted:
        report.notes.append(f'{anchored.demoted} findings pointed outside the diff and are '
                            'reported at file level')
    if anchored.dropped:
        report.notes.append(f'{anchored.dropped} findings pointed outside the diff and were dropped')
    # 5. no reviewer's output may carry a secret into a report (defence in depth)
    report.findings = [_scrub(f) for f in anchored.findings]
    # 6. findings the team recorded as known are not reported again (with a note)
    if prep.baseline is not None:
        baseline_mod.apply(report, prep.baseline, _shown_path(prep.baseline.path, source.repo_root))
    # 7. fix proposals, each verified on the patched text in memory before a person may see it
    t0 = time.perf_counter()
    _restart_clock(ctx)
    outcome = fixes.run(report.findings, prep.diff, ctx, chosen, enabled=bool(config.get('enabled', 'fix')),
                        model=_fix_model(config, chosen, stage))
    report.findings = outcome.findings
    report.fixes = outcome.summary
    report.notes.extend(outcome.notes)
    if report.findings:
        report.timings['fixes'] = time.perf_counter() - t0
    return report


def fails(report: Report, fail_level: str) -> bool:
    """Whether the report has a finding at or above `fail_level` ('none': never)."""
    if fail_level == 'none':
        return False
    threshold = Severity(fail_level).rank
    return any(f.severity.rank >= threshold for f in report.findings)


def plan(source: DiffSource, config: Config, *, stage: str = 'cli', baseline: Path | None = None,
         use_baseline: bool = False) -> list[str]:
    """--dry-run: what review() would review, skip and send, one line each; no reviewer runs."""
    prep = prepare(source, config, stage=stage, dry_run=True, baseline=baseline, use_baseline=use_baseline)
    chosen = reviewers_mod.build(config.reviewers, config)
    lines = [f'diff: {source.description}: {len(prep.diff.files)} files']
    for f in prep.plan.files:
        lines.append(f'  review  {f.path}: {len(f.hunks)} hunks, {f.added_count} added lines')
    for s in prep.plan.skipped:
        lines.append(f'  skip    {s.path}: {s.reason}')
    if prep.baseline is not None:
        lines.append(f'baseline: {prep.baseline.path}: {len(prep.baseline.fingerprints)} known findings '
                     'will not be reported')
    for r in chosen:
        plan_of = getattr(r, 'plan', None)
        lines.extend(plan_of(prep.plan.files, prep.context) if plan_of else [f'{r.name}: review'])
    # Only a reviewer that declares `remote = True` (the cloud reviewer) may send anything; its
    # plan() lines say exactly what (or why nothing will be sent).
    server = config.server
    if server and any(r.name == 'model' for r in chosen):
        lines.append(f'leaves this machine: the model reviewer\'s prompts, to the in-house server '
                     f'{server}' + ('' if config.server_is_local
                                    else ' (refused: server_is_local is not true)'))
    elif not any(getattr(r, 'remote', False) for r in chosen):
        lines.append('leaves this machine: nothing')
    return lines


def new_files(source: DiffSource, diff: Diff) -> NewFiles:
    """Where each file's new revision is read from. A diff file or stdin names no revision: the new side
    is read from the blobs its `index` lines name, the work tree when it matches, or not at all
    (reviewers then use the diff's fragments)."""
    return NewFiles(diff, source.read_new_file, exact=source.new_rev is not None,
                    repo=source.blob_repo or source.repo_root, revision=source.new_rev)


# --- the stages' helpers ----------------------------------------------------------------------------

@dataclasses.dataclass
class Prepared:
    source: DiffSource
    diff: Diff
    plan: Plan
    context: ReviewContext
    baseline: baseline_mod.Baseline | None = None  # known findings not to report again
    new_files: NewFiles | None = None  # where each file's new revision was read from


def prepare(source: DiffSource, config: Config, *, stage: str = 'cli', dry_run: bool = False,
            platform: object = None, budget: float | None = None,
            baseline: Path | None = None, use_baseline: bool = False) -> Prepared:
    """The diff parsed and scoped, and the reviewers' context. `use_baseline` (the review, hook and ci
    commands; not the server, which has no work tree): honour `baseline`, by default
    .reviewbot-baseline.json at the repository root (or in the current directory outside a repository)
    when there is one. A corrupt baseline fails here, before any reviewer runs."""
    if not use_baseline:
        known = None
    else:
        path = baseline or baseline_mod.find(source.repo_root or Path.cwd())
        known = baseline_mod.load(path) if path is not None else None
    diff = parse_diff(source.data)
    scoped = make_plan(diff, config)
    seconds = budget if budget is not None else stage_budget(config, stage)
    files = new_files(source, diff)
    ctx = ReviewContext(config=config, read_new_file=files.read, repo_root=source.repo_root, stage=stage,
                        dry_run=dry_run, platform=platform, budget=seconds or None,
                        deadline=time.monotonic() + seconds if seconds else None)
    return Prepared(source, diff, scoped, ctx, known, files)


def stage_budget(config: Config, stage: str) -> float:
    """Seconds the reviewers may use when no --budget is given: a hook must answer in seconds,
    a CI job may take minutes."""
    if stage in ('pre-commit', 'pre-push'):
        return config.get('budget', 'hook')
    if stage == 'ci':
        return config.ci_budget
    return config.budget


def _reviewers(config: Config, given: Reviewers | None, model: object, *, needed: bool) -> list[Reviewer]:
    if given is None:
        unknown = [n for n in config.reviewers if n not in reviewers_mod.REGISTRY]
        if unknown:
            raise ConfigError(f'unknown reviewer {unknown[0]!r} (known: {", ".join(reviewers_mod.REGISTRY)})')
        return reviewers_mod.build(config.reviewers, config, model=model) if needed else []
    if callable(given):
        return list(given()) if needed else []
    return list(given)


def _restart_clock(ctx: ReviewContext) -> None:
    if ctx.budget:
        ctx.deadline = time.monotonic() + ctx.budget


def _scrub(f: Finding) -> Finding:
    msg, n1 = redact(f.message)
    code, n2 = redact(f.anchored_code)
    sug, n3 = redact(f.suggestion) if f.suggestion is not None else (None, 0)
    if n1 or n2 or n3:
        return dataclasses.replace(f, message=msg, anchored_code=code, suggestion=sug)
    return f


def _shown_path(path: Path, root: Path | None) -> str:
    """The baseline's path as the report's note names it: relative to the repository when inside it."""
    try:
        return str(path.relative_to(root)) if root is not None else str(path)
    except ValueError:
        return str(path)


def _fix_model(config: Config, reviewers: Sequence[Reviewer], stage: str) -> object:
    """The model reviewer whose engine and cache the model fixer uses, or None. `[fix] model`:
    "auto" when the review runs the model reviewer or runs in CI; "on"; "off" (the default)."""
    mode = config.get('model', 'fix')
    if mode == 'off':
        return None
    for r in reviewers:
        inner = getattr(r, 'inner', r)  # the hook wraps reviewers
        if getattr(inner, 'name', '') == 'model' and hasattr(inner, 'model_identity'):
            return inner
    if mode == 'on' or stage == 'ci':
        from reviewbot.reviewers.model import ModelReviewer
        return ModelReviewer(config)
    return None
