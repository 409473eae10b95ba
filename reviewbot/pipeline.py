"""The one-way pipeline: DiffSource -> Diff -> Plan -> reviewers -> anchored findings -> Report."""
from __future__ import annotations

import dataclasses
import hashlib
import time
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
)
from reviewbot.diffparse import parse_diff
from reviewbot.newside import NewFiles
from reviewbot.privacy.redact import redact
from reviewbot.reviewers import ReviewContext, Reviewer
from reviewbot.scope import Plan, make_plan
from reviewbot.sources import DiffSource


def make_reviewers(names: list[str], config: Config) -> list[Reviewer]:
    return reviewers_mod.build(names, config)


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
    """`use_baseline` (the review, hook and ci commands; not the server, which has no work tree):
    honour `baseline`, by default .reviewbot-baseline.json at the repository root (or in the current
    directory outside a repository) when there is one. A corrupt baseline fails here, before any
    reviewer runs."""
    if not use_baseline:
        known = None
    else:
        path = baseline or baseline_mod.find(source.repo_root or Path.cwd())
        known = baseline_mod.load(path) if path is not None else None
    diff = parse_diff(source.data)
    plan = make_plan(diff, config)
    seconds = budget if budget is not None else stage_budget(config, stage)
    # A diff file or stdin names no revision: the new side is read from the blobs its `index` lines
    # name, the work tree when it matches, or not at all (reviewers then use the diff's fragments).
    new_files = NewFiles(diff, source.read_new_file, exact=source.new_rev is not None,
                         repo=source.blob_repo or source.repo_root, revision=source.new_rev)
    ctx = ReviewContext(config=config, read_new_file=new_files.read,
                        repo_root=source.repo_root, stage=stage, dry_run=dry_run,
                        platform=platform,
                        budget=seconds or None,
                        deadline=time.monotonic() + seconds if seconds else None)
    return Prepared(source, diff, plan, ctx, known, new_files)


def stage_budget(config: Config, stage: str) -> float:
    """Seconds the reviewers may use when no --budget is given: a hook must answer in seconds,
    a CI job may take minutes."""
    if stage in ('pre-commit', 'pre-push'):
        return config.get('budget', 'hook')
    if stage == 'ci':
        return config.ci_budget
    return config.budget


def dry_run_lines(prep: Prepared, reviewers: list[Reviewer]) -> list[str]:
    lines = [f'diff: {prep.source.description}: {len(prep.diff.files)} files']
    for f in prep.plan.files:
        lines.append(f'  review  {f.path}: {len(f.hunks)} hunks, {f.added_count} added lines')
    for s in prep.plan.skipped:
        lines.append(f'  skip    {s.path}: {s.reason}')
    if prep.baseline is not None:
        lines.append(f'baseline: {prep.baseline.path}: {len(prep.baseline.fingerprints)} known findings '
                     'will not be reported')
    for r in reviewers:
        plan = getattr(r, 'plan', None)
        lines.extend(plan(prep.plan.files, prep.context) if plan else [f'{r.name}: review'])
    # Only a reviewer that declares `remote = True` (the cloud reviewer) may send anything; its
    # plan() lines say exactly what (or why nothing will be sent).
    config = prep.context.config
    server = config.server
    if server and any(r.name == 'model' for r in reviewers):
        lines.append(f'leaves this machine: the model reviewer\'s prompts, to the in-house server '
                     f'{server}' + ('' if config.server_is_local
                                    else ' (refused: server_is_local is not true)'))
    elif not any(getattr(r, 'remote', False) for r in reviewers):
        lines.append('leaves this machine: nothing')
    return lines


def _scrub(f: Finding) -> Finding:
    """Defence in depth: no reviewer output may carry a secret into a report."""
    msg, n1 = redact(f.message)
    code, n2 = redact(f.anchored_code)
    sug, n3 = redact(f.suggestion) if f.suggestion is not None else (None, 0)
    if n1 or n2 or n3:
        return dataclasses.replace(f, message=msg, anchored_code=code, suggestion=sug)
    return f


def run(prep: Prepared, reviewers: list[Reviewer]) -> Report:
    config = prep.context.config
    coverage = Coverage(files_reviewed=len(prep.plan.files), hunks_reviewed=prep.plan.hunks,
                        lines_reviewed=prep.plan.added_lines, skipped=list(prep.plan.skipped))
    report = Report(findings=[], coverage=coverage, reviewers=[r.name for r in reviewers],
                    reviewed=Reviewed(commit_id(prep.source.new_rev), commit_id(prep.source.base_rev),
                                      hashlib.sha256(prep.source.data).hexdigest()))
    raw: list[Finding] = []
    for r in reviewers:
        if not prep.plan.files:
            break
        t0 = time.perf_counter()
        # each reviewer gets the whole budget: a slow cloud call must not starve the local model
        if prep.context.budget:
            prep.context.deadline = time.monotonic() + prep.context.budget
        result = r.review(prep.plan.files, prep.context)
        report.timings[r.name] = time.perf_counter() - t0
        raw.extend(result.findings)
        coverage.skipped.extend(result.skipped)
        report.notes.extend(result.notes)
        report.egress.extend(result.egress)
    if prep.new_files is not None:
        # said per file (JSON coverage.files, terminal notes): in full, from blobs, from fragments
        coverage.files.extend(prep.new_files.basis(f.path) for f in prep.plan.files)
    anchored = anchor(raw, prep.diff, config.unanchored)
    if anchored.demoted:
        report.notes.append(f'{anchored.demoted} findings pointed outside the diff and are '
                            'reported at file level')
    if anchored.dropped:
        report.notes.append(f'{anchored.dropped} findings pointed outside the diff and were dropped')
    report.findings = [_scrub(f) for f in anchored.findings]
    if prep.baseline is not None:
        root = prep.source.repo_root
        shown = prep.baseline.path
        try:
            shown = shown.relative_to(root) if root is not None else shown
        except ValueError:
            pass
        baseline_mod.apply(report, prep.baseline, str(shown))
    # fix proposals, each verified on the patched text in memory before a person may see it
    t0 = time.perf_counter()
    if prep.context.budget:
        prep.context.deadline = time.monotonic() + prep.context.budget
    outcome = fixes.run(report.findings, prep.diff, prep.context, reviewers,
                        enabled=bool(config.get('enabled', 'fix')),
                        model=_fix_model(config, reviewers, prep.context.stage))
    report.findings = outcome.findings
    report.fixes = outcome.summary
    report.notes.extend(outcome.notes)
    if report.findings:
        report.timings['fixes'] = time.perf_counter() - t0
    return report


def _fix_model(config: Config, reviewers: list[Reviewer], stage: str) -> object:
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


def fails(report: Report, fail_level: str) -> bool:
    if fail_level == 'none':
        return False
    threshold = Severity(fail_level).rank
    return any(f.severity.rank >= threshold for f in report.findings)
