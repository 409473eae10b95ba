"""The fix stage: verified fix proposals for anchored findings, cheapest fixer first.

For each finding the fixers propose in this order, and the first proposal the verifier passes
(reviewbot.fixes.verify) is kept:
  ruff     ruff's own fix for the rule (its safe/unsafe applicability kept);
  semgrep  a bundled rule's `fix:`/`fix-regex:`, or a fix-only rule for a ruff rule ruff cannot fix;
  rewrite  Python syntax-tree rewrites: a shell command string -> an argument list, SQL built with
           values -> query parameters (reviewbot/fixes/rewrite.py);
  secrets  the literal replaced by a read from the environment (always unsafe);
  <reviewer> a replacement the reviewer itself proposed (the cloud reviewer's `suggestion`);
  model    the local model, last, for the analyzer findings still without a fix (one attempt and
           one retry with the verifier's reason, within the review's time budget).
A finding keeps `suggestion` only as the text of its verified fix; every other proposal is dropped
and counted by reason in the report's `fixes` summary. Nothing here writes to the work tree: fixes
are applied only on request (`reviewbot review --fix-patch FILE` / `--apply-fixes`).
"""
from __future__ import annotations

import collections
import dataclasses
from typing import Any

from reviewbot import defaults
from reviewbot.core import FIX_SOURCES, Diff, Finding, Fix, Side
from reviewbot.fixes import rewrite as rewrite_fixer
from reviewbot.fixes import ruff as ruff_fixer
from reviewbot.fixes import secrets as secrets_fixer
from reviewbot.fixes import semgrep as semgrep_fixer
from reviewbot.fixes.text import apply_fix, fix_from_texts
from reviewbot.fixes.verify import DETERMINISTIC, Candidate, verify
from reviewbot.privacy.redact import redact
from reviewbot.reviewers import ReviewContext


@dataclasses.dataclass
class FixOutcome:
    findings: list[Finding]
    summary: dict[str, Any]
    notes: list[str]
    # why the stage did not finish (a tool missing or failing, the time budget): another run could do more
    cut: list[str] = dataclasses.field(default_factory=list)


def _reviewer_fix(f: Finding, text: str) -> list[Fix]:
    """A replacement the reviewer proposed for the finding's lines (the cloud's `suggestion`)."""
    if f.suggestion is None or f.line is None:
        return []
    end = f.end_line or f.line
    source = f.reviewer if f.reviewer in FIX_SOURCES else 'cloud'
    try:
        new = apply_fix(text, Fix(line=f.line, end_line=end, replacement=f.suggestion.rstrip('\n'), source=source))
    except ValueError:  # lines outside the file
        return []
    fx = fix_from_texts(text, new, source=source, safety='unsafe',
                        description=f'proposed by the {f.reviewer} reviewer', cover=(f.line, end))
    return [fx] if fx else []


def _why_none(f: Finding, fc_missing: bool, text: str | None) -> str | None:
    if f.line is None:
        return 'no-line'
    if f.side is not Side.RIGHT:
        return 'removed-line'
    if fc_missing:
        return 'not-in-diff'
    if text is None:
        return 'no-file-text'
    return None


def run(findings: list[Finding], diff: Diff, ctx: ReviewContext, reviewers: list,
        enabled: bool = True, model: Any = None) -> FixOutcome:
    """Findings with verified fixes attached (and unverified suggestions removed), the summary."""
    summary: dict[str, Any] = {'findings': len(findings), 'proposed': 0, 'verified': 0,
                               'verified_by_source': {}, 'rejected': {}, 'no_fix': {},
                               'model_calls': 0, 'model_skipped_for_time': 0, 'model_seconds': 0.0}
    if not findings:
        return FixOutcome(findings, summary, [])
    notes: list[str] = []
    cut: list[str] = []
    checkers = [r for r in reviewers if r.name in DETERMINISTIC]
    texts: dict[str, str] = {}
    for path in {f.path for f in findings}:
        fc = diff.file(path)
        if fc is None or fc.is_binary or fc.new_path is None:
            continue
        text = ctx.read_new_file(path)
        if text is not None and '\0' not in text:
            texts[path] = text
    rule_fixes: dict[int, list[Fix]] = {}
    if enabled:
        rule_fixes, more = semgrep_fixer.rule_fixes(findings, texts, ctx.time_left(), ctx.config)
        notes += more
        cut += more  # each of its notes says why the fix rules did not (all) run
    cands: list[Candidate] = []
    owner: list[int] = []
    none_why: dict[int, str] = {}
    for i, f in enumerate(findings):
        why = _why_none(f, diff.file(f.path) is None, texts.get(f.path))
        proposals: list[Fix] = []
        if why is None:
            text = texts[f.path]
            if enabled:
                proposals += ruff_fixer.candidates(f, text) if f.reviewer == 'ruff' else []
                proposals += semgrep_fixer.candidates(f, text) + rule_fixes.get(i, [])
                proposals += rewrite_fixer.candidates(f, text)
                proposals += secrets_fixer.candidates(f, text)
            proposals += _reviewer_fix(f, text)
        if not proposals:
            none_why[i] = why or 'no-fixer'
        for fx in proposals:
            cands.append(Candidate(f, fx))
            owner.append(i)
    checked = verify(cands, texts, diff, checkers, ctx) if cands else []
    chosen: dict[int, Fix] = {}
    rejected: collections.Counter[str] = collections.Counter()
    proposed = set(owner)
    for i, fx in zip(owner, checked):
        if fx.verified and i not in chosen:
            chosen[i] = dataclasses.replace(fx, original=redact(fx.original)[0])
        elif not fx.verified:
            rejected[fx.rejected or 'unknown'] += 1
    skipped_for_time = calls = 0
    model_seconds = 0.0
    if enabled and model is not None:
        skipped_for_time, calls, model_seconds = _model_round(
            findings, texts, diff, ctx, checkers, model, chosen, proposed, rejected, notes, cut)
    no_fix = collections.Counter(why for i, why in none_why.items() if i not in proposed)
    out: list[Finding] = []
    by_source: collections.Counter[str] = collections.Counter()
    for i, f in enumerate(findings):
        kept = chosen.get(i)
        if kept is None:
            out.append(dataclasses.replace(f, suggestion=None, fix=None) if f.suggestion or f.fix else f)
            continue
        by_source[kept.source] += 1
        # the finding's range grows to the fixed lines, so `suggestion` replaces line..end_line
        out.append(dataclasses.replace(f, line=kept.line, end_line=kept.end_line,
                                       suggestion=kept.replacement, fix=kept))
    summary.update(proposed=len(proposed), verified=len(chosen), verified_by_source=dict(by_source),
                   rejected=dict(rejected), no_fix=dict(no_fix), model_calls=calls,
                   model_skipped_for_time=skipped_for_time, model_seconds=round(model_seconds, 3))
    if skipped_for_time:
        notes.append(f'fixes: {skipped_for_time} model fixes skipped: the time budget ran out')
        cut.append(notes[-1])
    left = ctx.time_left()
    if left is not None and left <= 0:  # the verifier's analyzers may have stopped at the deadline
        cut.append('fixes: the time budget ran out during the fix stage')
    if proposed:
        text = f'fixes: {len(chosen)} of {len(findings)} findings have a verified fix'
        if rejected:
            text += ('; proposals rejected by the verifier: '
                     + ', '.join(f'{n} {r}' for r, n in rejected.most_common()))
        notes.append(text)
    return FixOutcome(out, summary, notes, cut)


def _model_round(findings: list[Finding], texts: dict[str, str], diff: Diff, ctx: ReviewContext,
                 checkers: list, reviewer: Any, chosen: dict[int, Fix], proposed: set[int],
                 rejected: collections.Counter[str], notes: list[str], cut: list[str]) -> tuple[int, int, float]:
    """The model's proposals for analyzer findings still without a fix: one attempt, then one
    retry with the verifier's reason. Returns (fixes skipped for time, model calls, their seconds)."""
    from reviewbot.errors import ModelError
    from reviewbot.fixes.model import ModelFixer
    fixer = ModelFixer(reviewer)
    todo = [i for i, f in enumerate(findings)
            if i not in chosen and f.path in texts and fixer.can_fix(f)]
    reasons: dict[int, str] = {}
    skipped = 0
    for _attempt in (0, 1):
        cands: list[Candidate] = []
        owners: list[int] = []
        for n, i in enumerate(todo):
            left = ctx.time_left()
            if left is not None and left < defaults.FIX_MODEL_MIN_SECONDS:
                skipped += len(todo) - n
                break
            proposed.add(i)
            try:
                fx = fixer.propose(findings[i], texts[findings[i].path], ctx.deadline, reasons.get(i))
            except ValueError as e:  # the answer is not one line of code
                rejected[str(e)] += 1
                reasons[i] = 'the answer was not one line of code'
                continue
            except ModelError as e:
                notes.append(f'fixes: the model fixer did not run: {str(e).splitlines()[0][:200]}')
                cut.append(notes[-1])
                return skipped, fixer.calls, sum(fixer.seconds)
            if fx is None:  # the deadline cut the answer
                skipped += 1
                continue
            cands.append(Candidate(findings[i], fx))
            owners.append(i)
        for i, fx in zip(owners, verify(cands, texts, diff, checkers, ctx) if cands else []):
            if fx.verified:
                chosen[i] = dataclasses.replace(fx, original=redact(fx.original)[0])
            else:
                rejected[fx.rejected or 'unknown'] += 1
                reasons[i] = fx.rejected or 'unknown'
        todo = [i for i in todo if i not in chosen and i in reasons]
        if not todo or skipped:
            break
    return skipped, fixer.calls, sum(fixer.seconds)
