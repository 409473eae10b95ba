"""The one-way pipeline: review(source, config) -> Report, the one function every command calls.

A diff's bytes go through: parse -> scope -> reviewers -> anchor -> scrub -> baseline -> fixes, and come
out as a Report the commands render (reporters/) or post (publish/). `plan` answers --dry-run: what
review() would do, without running a reviewer.
"""
from __future__ import annotations

import dataclasses
import queue
import threading
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
    FileChange,
    Finding,
    Report,
    Reviewed,
    Severity,
    Skipped,
    commit_id,
    diff_sha256,
)
from reviewbot.diffparse import parse_diff
from reviewbot.errors import ConfigError
from reviewbot.newside import NewFiles
from reviewbot.privacy.redact import redact
from reviewbot.reviewers import ANALYZERS, STARTED_FIRST, WAITED_FOR, ReviewContext, Reviewer, ReviewerResult
from reviewbot.scope import Plan, make_plan
from reviewbot.sources import DiffSource

# how long past the deadline the pipeline still waits for a reviewer's own (partial) result: the model
# checks the deadline between tokens and units, a subprocess is killed at it
GRACE_SECONDS = 0.25
HOOK_STAGES = ('pre-commit', 'pre-push')
THREAD_PREFIX = 'reviewbot-reviewer-'  # the reviewers' threads; see abandoned()

# the reviewers to run: built objects, or a factory called only when there is something to review
Reviewers = Sequence[Reviewer] | Callable[[], Sequence[Reviewer]]


def review(source: DiffSource, config: Config, *, stage: str = 'cli', platform: object = None,
           budget: float | None = None, baseline: Path | None = None, use_baseline: bool = False,
           reviewers: Reviewers | None = None, model: object = None) -> Report:
    """Review one diff, from its bytes to a Report.

    `stage` ('cli', 'pre-commit', 'pre-push', 'ci') picks the time budget (`budget` overrides it: seconds
    the reviewers, run at once, may use, 0 for no limit); `platform`: the CI context (forge.detect) the cloud
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
    # 3. the reviewers at once, against one deadline: the analyzers' subprocesses and the model's engine
    # wait outside the GIL; results are merged in reviewer order, so the report is as if run in turn
    raw: list[Finding] = []
    # (the server's own model, `model`, is used only on the server's model thread: there, in turn)
    for r, result, seconds in _run_reviewers(chosen, plan, ctx, in_turn=model is not None) if plan.files else ():
        report.timings[r.name] = seconds
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
    # 7. fix proposals, each verified on the patched text in memory before a person may see it; in a hook
    # within what is left of the one budget (the hook's answer is due), elsewhere with a budget of their own
    t0 = time.perf_counter()
    if stage not in HOOK_STAGES:
        _restart_clock(ctx)
    outcome = fixes.run(report.findings, prep.diff, ctx, chosen, enabled=bool(config.get('enabled', 'fix')),
                        model=_fix_model(config, chosen, stage))
    report.findings = outcome.findings
    report.fixes = outcome.summary
    report.notes.extend(outcome.notes)
    report.unfinished.extend(outcome.cut)
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
    if server and any(r.name == 'model' and getattr(r, 'uses_model', True) for r in chosen):
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
    if stage in HOOK_STAGES:
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


def _run_reviewers(chosen: Sequence[Reviewer], plan: Plan, ctx: ReviewContext,
                   in_turn: bool = False) -> list[tuple[Reviewer, ReviewerResult, float]]:
    """Run every reviewer in its own thread, all against one deadline (the budget), and return
    (reviewer, result, seconds) in reviewer order. An analyzer's error or warning on a hunk's added
    lines marks that hunk explained (ctx.explained) as soon as the analyzer returns: the model
    reviews such hunks last. A reviewer still running at the deadline (plus GRACE_SECONDS) is not
    waited for, unless it is in WAITED_FOR (secrets): its files are reported skipped, with a note.
    A reviewer's exception is raised here, the first reviewer's first.

    `in_turn` (the server, whose loaded model belongs to its model thread): one reviewer after another
    in this thread, each with the whole budget, and every one waited for."""
    files = plan.files
    if in_turn:
        ran = []
        for r in chosen:
            _restart_clock(ctx)
            t0 = time.perf_counter()
            got = r.review(files, ctx)
            if r.name in ANALYZERS:
                ctx.explained.update(explained_hunks(got.findings, files))
            ran.append((r, got, time.perf_counter() - t0))
        return ran
    _restart_clock(ctx)
    done: queue.Queue[tuple[int, ReviewerResult | None, BaseException | None, float]] = queue.Queue()

    def work(i: int, r: Reviewer) -> None:
        t0 = time.perf_counter()
        try:
            result = r.review(files, ctx)
        except BaseException as e:  # raised in the pipeline's thread, in reviewer order
            done.put((i, None, e, time.perf_counter() - t0))
            return
        done.put((i, result, None, time.perf_counter() - t0))

    start = time.perf_counter()
    first = [i for i, r in enumerate(chosen) if r.name in STARTED_FIRST]
    for i in first + [i for i in range(len(chosen)) if i not in first]:
        r = chosen[i]
        # daemon: a reviewer abandoned at the deadline must not keep the process (the hook) alive
        threading.Thread(target=work, args=(i, r), name=f'{THREAD_PREFIX}{r.name}', daemon=True).start()
    results: dict[int, tuple[ReviewerResult | None, BaseException | None, float]] = {}
    while len(results) < len(chosen):
        must = any(r.name in WAITED_FOR for i, r in enumerate(chosen) if i not in results)
        wait = None if ctx.deadline is None or must else max(0.0, ctx.deadline + GRACE_SECONDS - time.monotonic())
        try:
            i, result, error, seconds = done.get(timeout=wait)
        except queue.Empty:
            break
        results[i] = (result, error, seconds)
        if result is not None and chosen[i].name in ANALYZERS:
            ctx.explained.update(explained_hunks(result.findings, files))
    errors = [e for i in sorted(results) if (e := results[i][1]) is not None]
    if errors:
        raise errors[0]
    out = []
    for i, r in enumerate(chosen):
        if i in results:
            result, _, seconds = results[i]
            out.append((r, result or ReviewerResult(), seconds))
        else:
            out.append((r, _not_finished(r.name, files, ctx.budget), time.perf_counter() - start))
    return out


def abandoned() -> bool:
    """Whether a reviewer the pipeline stopped waiting for is still running in this process."""
    return any(t.name.startswith(THREAD_PREFIX) and t.is_alive() for t in threading.enumerate())


def explained_hunks(findings: Sequence[Finding], files: Sequence[FileChange]) -> set[tuple[str, int]]:
    """(path, hunk new_start) of each hunk with an error or warning on one of its added lines."""
    lines: dict[tuple[str, int], int] = {}
    for fc in files:
        for h in fc.hunks:
            for ln in h.added:
                if ln.new_lineno is not None:
                    lines[(fc.path, ln.new_lineno)] = h.new_start
    out = set()
    for f in findings:
        if f.severity in (Severity.ERROR, Severity.WARNING):
            start = lines.get((f.path, f.line)) if f.line is not None else None
            if start is not None:
                out.add((f.path, start))
    return out


def _not_finished(name: str, files: Sequence[FileChange], budget: float | None) -> ReviewerResult:
    reason = f'{name}: budget: still running at the deadline'
    return ReviewerResult(
        skipped=[Skipped(f.path, reason, reviewer=name, lines=f.added_count) for f in files],
        notes=[f'{name} did not finish within the {budget or 0:.1f} s budget: not waited for; '
               'its files are reported as skipped'])


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
