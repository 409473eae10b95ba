"""Score reviewer configurations on the evaluation set built by eval/build.py.

Each case's diff goes through the project's own pipeline (reviewbot.pipeline.review: parse,
plan, reviewers, anchoring), with the case's new file revision as the file reader, so a reviewer is
measured exactly as `reviewbot review` would run it. Each named reviewer runs once per case; a
combination ("ruff+model") is scored on the union of its members' findings.

Metrics (per configuration):
  recall         share of defect+vuln diffs with a finding within +-3 lines of a defect line
  defect_recall  the same on defect diffs only;  vuln_recall: on vuln diffs only
  fp_per_clean   findings per clean-or-fix diff (every finding on such a diff is a false positive)
  clean_flagged  share of clean-or-fix diffs with at least one finding
  precision      findings within +-3 lines of a defect line / all findings (file-level notes count
                 as findings that are never hits)
  pair_score     share of defect/fix pairs where the defect diff is flagged (as for recall) AND the
                 fix diff has no finding at all
  strict_recall, strict_pair_score  the same, counting a hit only when the finding is also on an
                 added line (or on the gap of a missing-line defect)

Reviewers: `every-line` (baseline: one finding on every added line), `hunk-start` (baseline: one
finding on the first line of each hunk, which shows what the +-3 tolerance gives away), `naive-prompt` (baseline: one
plain prompt per diff to the local model, eval/baselines.py), and every reviewer the pipeline knows
(reviewbot.pipeline.REVIEWERS: ruff, secrets, model, ...).

Usage: python eval/score.py --reviewers every-line,ruff [--combos ruff+model] [--name NAME]
       [--limit N] [--cases DIR] [--import model=findings.json]
Writes eval/results/NAME.json and eval/results/NAME.md.
"""
from __future__ import annotations

import argparse
import dataclasses
import functools
import hashlib
import json
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:  # run from a checkout: score this tree's reviewbot
    sys.path.insert(0, str(ROOT))
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import build  # noqa: E402

from reviewbot import pipeline, reviewers  # noqa: E402
from reviewbot.config import Config, defaults  # noqa: E402
from reviewbot.core import FileChange, Finding, Severity  # noqa: E402
from reviewbot.reviewers import ReviewContext, ReviewerResult  # noqa: E402
from reviewbot.sources import DiffSource  # noqa: E402

TOLERANCE = 3
POSITIVE = ('defect', 'vuln')
NEGATIVE = ('clean', 'fix')


class EveryLineReviewer:
    """Baseline: flags every added line. Perfect recall on added-line defects, no precision."""
    name = 'every-line'

    def review(self, files: list[FileChange], ctx: ReviewContext) -> ReviewerResult:
        result = ReviewerResult()
        for f in files:
            for h in f.hunks:
                for ln in h.added:
                    result.findings.append(Finding(
                        path=f.path, line=ln.new_lineno, end_line=ln.new_lineno,
                        severity=Severity.WARNING, category='baseline/every-line',
                        message='changed line', reviewer=self.name, anchored_code=ln.text))
        return result


class HunkStartReviewer:
    """Baseline: one finding on the first line each hunk shows (a context line in git's -U3 diffs).
    It measures what the +-3 tolerance gives away: that line is usually 3 lines above the change."""
    name = 'hunk-start'

    def review(self, files: list[FileChange], ctx: ReviewContext) -> ReviewerResult:
        result = ReviewerResult()
        for f in files:
            for h in f.hunks:
                first = next((ln for ln in h.lines if ln.new_lineno is not None), None)
                if first is not None:
                    result.findings.append(Finding(
                        path=f.path, line=first.new_lineno, end_line=first.new_lineno,
                        severity=Severity.WARNING, category='baseline/hunk-start',
                        message='hunk start', reviewer=self.name, anchored_code=first.text))
        return result


# --- cases -------------------------------------------------------------------------------------

@dataclasses.dataclass
class Case:
    id: str
    label: str
    lang: str
    path: str
    defect_lines: list[int]
    pair: str | None
    source: str
    dir: Path

    @property
    def diff(self) -> bytes:
        return (self.dir / 'diff.patch').read_bytes()

    @functools.cached_property
    def strict_lines(self) -> set[int]:
        """Lines a strict hit may be on: the diff's added lines, and the defect lines themselves
        (for a defect that is a missing line, they are the context lines around the gap)."""
        try:
            added, _ = build.changed_lines(self.diff.decode('utf-8', 'surrogateescape'))
        except OSError:
            added = []
        return set(added) | set(self.defect_lines)

    def read_new_file(self, path: str) -> str | None:
        p = self.dir / 'new' / path
        try:
            return p.read_text(encoding='utf-8', errors='surrogateescape')
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None


def load_cases(cases_dir: Path) -> list[Case]:
    index = cases_dir / 'index.jsonl'
    if not index.is_file():
        raise SystemExit(f'{index} not found: run `python eval/build.py` (or `make eval`) first')
    out = []
    for raw in index.read_text(encoding='utf-8').splitlines():
        e = json.loads(raw)
        out.append(Case(e['id'], e['label'], e['lang'], e['path'], list(e['defect_lines']),
                        e.get('pair'), e['source'], cases_dir / e['id']))
    return out


def _stable_rank(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def subset(cases: list[Case], limit: int | None) -> list[Case]:
    """A deterministic subset: `limit` pairs (defect/vuln with their fix) and `limit` clean cases,
    spread over sources and languages by a stable hash order."""
    if not limit:
        return cases
    by_id = {c.id: c for c in cases}
    positives = sorted((c for c in cases if c.label in POSITIVE), key=lambda c: _stable_rank(c.id))
    cleans = sorted((c for c in cases if c.label == 'clean'), key=lambda c: _stable_rank(c.id))
    keep: list[Case] = []
    for c in positives[:limit]:
        keep.append(c)
        fix = by_id.get(f'{c.id}-fix')
        if fix is not None:
            keep.append(fix)
    keep += cleans[:limit]
    return keep


# --- running -----------------------------------------------------------------------------------

def make_reviewer(name: str, config: Config) -> Any:
    if name == 'every-line':
        return EveryLineReviewer()
    if name == 'hunk-start':
        return HunkStartReviewer()
    if name == 'naive-prompt':
        from baselines import NaivePromptReviewer
        return NaivePromptReviewer(config)
    return reviewers.build([name], config)[0]


DIFF_ONLY = False


def review_case(case: Case, reviewer: Any, config: Config) -> tuple[list[Finding], list[str], float]:
    # --diff-only: the diff alone, as `reviewbot review --diff FILE` sees it outside its repository
    read = (lambda path: None) if DIFF_ONLY else case.read_new_file
    source = DiffSource(description=case.id, data=case.diff, read_new_file=read)
    t0 = time.perf_counter()
    report = pipeline.review(source, config, budget=0, reviewers=[reviewer])
    skipped = [f'{s.path}: {s.reason}' for s in report.coverage.skipped]
    return report.findings, skipped, time.perf_counter() - t0


def run_reviewer(name: str, cases: list[Case], config: Config, progress: bool = True) -> dict[str, Any]:
    reviewer = make_reviewer(name, config)
    per_case: dict[str, Any] = {}
    for k, case in enumerate(cases, 1):
        findings, skipped, seconds = review_case(case, reviewer, config)
        per_case[case.id] = {
            'findings': [{'line': f.line, 'category': f.category, 'severity': f.severity.value,
                          'message': f.message[:300]} for f in findings],
            'skipped': skipped, 'seconds': round(seconds, 4),
        }
        if progress and (k % 25 == 0 or k == len(cases)):
            print(f'  {name}: {k}/{len(cases)} cases', file=sys.stderr)
    return per_case


# --- metrics -----------------------------------------------------------------------------------

def is_hit(line: int | None, defect_lines: Iterable[int]) -> bool:
    return line is not None and any(abs(line - d) <= TOLERANCE for d in defect_lines)


def metrics(cases: list[Case], findings_of: dict[str, list[dict]]) -> dict[str, Any]:
    """findings_of: case id -> findings (dicts with 'line')."""
    flagged: dict[str, bool] = {}
    strict: dict[str, bool] = {}
    total = hits = 0
    for c in cases:
        fs = findings_of.get(c.id, [])
        total += len(fs)
        if c.label in POSITIVE:
            case_hits = [f for f in fs if is_hit(f['line'], c.defect_lines)]
            hits += len(case_hits)
            flagged[c.id] = bool(case_hits)
            strict[c.id] = any(f['line'] in c.strict_lines for f in case_hits)

    def share(ids: list[str], pred) -> float | None:
        return round(sum(1 for i in ids if pred(i)) / len(ids), 4) if ids else None

    pos = [c.id for c in cases if c.label in POSITIVE]
    neg = [c.id for c in cases if c.label in NEGATIVE]
    by_id = {c.id: c for c in cases}
    pairs = [c for c in cases if c.label in POSITIVE and f'{c.id}-fix' in by_id]
    neg_findings = sum(len(findings_of.get(i, [])) for i in neg)
    return {
        'cases': len(cases),
        'recall': share(pos, lambda i: flagged[i]),
        'defect_recall': share([i for i in pos if by_id[i].label == 'defect'], lambda i: flagged[i]),
        'vuln_recall': share([i for i in pos if by_id[i].label == 'vuln'], lambda i: flagged[i]),
        'fp_per_clean': round(neg_findings / len(neg), 4) if neg else None,
        'fp_per_clean_only': _per(cases, findings_of, 'clean'),
        'fp_per_fix': _per(cases, findings_of, 'fix'),
        'clean_flagged': share(neg, lambda i: bool(findings_of.get(i))),
        'precision': round(hits / total, 4) if total else None,
        'pair_score': share([c.id for c in pairs],
                            lambda i: flagged[i] and not findings_of.get(f'{i}-fix')),
        # the same, counting only hits on an added line (or on the gap of a missing-line defect):
        # a finding on the hunk's first context line is 3 lines from the change but says nothing
        'strict_recall': share(pos, lambda i: strict[i]),
        'strict_pair_score': share([c.id for c in pairs],
                                   lambda i: strict[i] and not findings_of.get(f'{i}-fix')),
        'findings': total,
        'positives': len(pos), 'negatives': len(neg), 'pairs': len(pairs),
    }


def _per(cases: list[Case], findings_of: dict[str, list[dict]], label: str) -> float | None:
    ids = [c.id for c in cases if c.label == label]
    return round(sum(len(findings_of.get(i, [])) for i in ids) / len(ids), 4) if ids else None


def imported_run(name: str, path: Path, cases: list[Case]) -> dict[str, Any]:
    """Findings produced outside this script, in the per-case shape run_reviewer returns."""
    data = json.loads(path.read_text(encoding='utf-8'))
    if isinstance(data, dict) and 'runs' in data:
        data = data['runs'][name]  # {case id: {'findings': [...], 'seconds': ...}}
    out = {}
    for c in cases:
        entry = data.get(c.id, [])
        findings = entry['findings'] if isinstance(entry, dict) else entry
        out[c.id] = {'findings': [{'line': f.get('line'), 'category': f.get('category', name),
                                   'severity': f.get('severity', 'warning'),
                                   'message': str(f.get('message', ''))[:300]} for f in findings],
                     'skipped': [], 'seconds': float(entry.get('seconds', 0)) if isinstance(entry, dict) else 0.0}
    return out


def union(runs: dict[str, dict[str, Any]], members: list[str]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for m in members:
        for cid, r in runs[m].items():
            out.setdefault(cid, []).extend(r['findings'])
    return out


def breakdown(cases: list[Case], findings_of: dict[str, list[dict]], key) -> dict[str, Any]:
    groups: dict[str, list[Case]] = {}
    for c in cases:
        groups.setdefault(key(c), []).append(c)
    return {g: metrics(cs, findings_of) for g, cs in sorted(groups.items())}


# --- report ------------------------------------------------------------------------------------

COLUMNS = (('recall', 'defect+vuln flagged'), ('defect_recall', 'defects flagged'),
           ('vuln_recall', 'vulns flagged'), ('pair_score', 'pair score'),
           ('strict_recall', 'strict: flagged on an added line'), ('strict_pair_score', 'strict pair score'),
           ('fp_per_clean', 'FP / clean+fix diff'), ('clean_flagged', 'clean+fix diffs flagged'),
           ('precision', 'precision'), ('findings', 'findings'))


def _fmt(v: Any) -> str:
    if v is None:
        return '-'
    if isinstance(v, float):
        return f'{v:.2f}' if v >= 1 or v == 0 else f'{v:.3f}'.rstrip('0')
    return str(v)


def markdown(result: dict[str, Any]) -> str:
    lines = [f'# Eval: {result["name"]}', '',
             f'{result["cases"]["total"]} cases '
             f'({", ".join(f"{k} {v}" for k, v in result["cases"]["by_label"].items())});'
             f' hit = finding within ±{TOLERANCE} lines of a defect line. Built by eval/build.py, scored by'
             ' eval/score.py.', '',
             '| configuration | ' + ' | '.join(c[1] for c in COLUMNS) + ' | s/case |',
             '|---|' + '---:|' * (len(COLUMNS) + 1)]
    for cfg, m in result['configs'].items():
        lines.append(f'| {cfg} | ' + ' | '.join(_fmt(m[c[0]]) for c in COLUMNS)
                     + f' | {_fmt(m.get("seconds_per_case"))} |')
    for title, key in (('By source (authored samples, blind-authored samples, real commits)', 'by_source'),
                       ('By language', 'by_lang')):
        lines += ['', f'## {title}', '',
                  '| configuration | group | cases | defect+vuln flagged | pair score | FP / clean+fix | precision |',
                  '|---|---|---:|---:|---:|---:|---:|']
        for cfg, m in result['configs'].items():
            for g, gm in m[key].items():
                lines.append(f'| {cfg} | {g} | {gm["cases"]} | {_fmt(gm["recall"])} | '
                             f'{_fmt(gm["pair_score"])} | {_fmt(gm["fp_per_clean"])} | {_fmt(gm["precision"])} |')
    for cfg, m in result['configs'].items():
        if cfg.startswith(('every-line', 'hunk-start', 'naive-prompt')) or len(m['false_positive_cases']) > 40:
            continue
        lines += ['', f'## Where {cfg} is wrong', '',
                  f'- vulns missed ({len(m["missed_vulns"])}): {", ".join(m["missed_vulns"]) or "none"}',
                  f'- clean/fix diffs with findings ({len(m["false_positive_cases"])}): '
                  f'{", ".join(m["false_positive_cases"]) or "none"}']
    if result.get('notes'):
        lines += ['', '## Notes', ''] + [f'- {n}' for n in result['notes']]
    return '\n'.join(lines) + '\n'


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--cases', type=Path, default=HERE / 'cases')
    ap.add_argument('--reviewers', default='every-line,ruff',
                    help='comma-separated reviewers, each scored alone')
    ap.add_argument('--combos', default='', help="comma-separated unions to score, e.g. 'ruff+model'")
    ap.add_argument('--limit', type=int, default=0,
                    help='score a stable subset: N defect/vuln cases with their fixes, N clean cases')
    ap.add_argument('--import', dest='imports', action='append', default=[], metavar='NAME=FILE',
                    help='score findings computed elsewhere: FILE is JSON {case id: [{"line": N}, ...]} '
                         'or a result file of this script (its run NAME is taken)')
    ap.add_argument('--ids-from', type=Path, metavar='JSON',
                    help="score only the cases of an earlier run: the keys of FILE's 'cases' object "
                         '(e.g. the 75 cases benchmarks/model_eval.py collected)')
    ap.add_argument('--diff-only', action='store_true',
                    help='reviewers see only the diff, not the new files (a diff file outside its repo)')
    ap.add_argument('--name', default='', help='result file name (default: from the reviewers)')
    ap.add_argument('--out', type=Path, default=HERE / 'results')
    args = ap.parse_args(argv)

    global DIFF_ONLY
    DIFF_ONLY = args.diff_only
    cases = subset(load_cases(args.cases), args.limit)
    if args.ids_from:
        wanted = json.loads(args.ids_from.read_text(encoding='utf-8'))['cases']
        cases = [c for c in cases if c.id in wanted]
        if len(cases) != len(wanted):
            raise SystemExit(f'{args.ids_from}: {len(wanted) - len(cases)} of its cases are not in {args.cases}')
    config = defaults()
    names = [n for n in args.reviewers.split(',') if n]
    combos = [c for c in args.combos.split(',') if c]
    runs: dict[str, dict[str, Any]] = {}
    notes: list[str] = []
    for name in names:
        print(f'{name}: {len(cases)} cases', file=sys.stderr)
        runs[name] = run_reviewer(name, cases, config)
        if name == 'naive-prompt':
            from baselines import NaivePromptReviewer
            notes.append(f'naive-prompt ran on: {NaivePromptReviewer(config).describe()}')
        skipped = sum(1 for r in runs[name].values() if r['skipped'])
        if skipped:
            notes.append(f'{name}: {skipped} cases had files skipped (e.g. '
                         f'{next(r["skipped"][0] for r in runs[name].values() if r["skipped"])})')
    for spec in args.imports:
        name, _, path = spec.partition('=')
        runs[name] = imported_run(name, Path(path), cases)
        names.append(name)
    configs: dict[str, Any] = {}
    for cfg in names + combos:
        members = cfg.split('+')
        missing = [m for m in members if m not in runs]
        if missing:
            raise SystemExit(f'combo {cfg}: reviewer {missing[0]} was not run (add it to --reviewers)')
        fo = union(runs, members)
        m = metrics(cases, fo)
        m['seconds_per_case'] = round(sum(r['seconds'] for mb in members for r in runs[mb].values())
                                      / max(1, len(cases)), 4)
        m['missed_vulns'] = [c.id for c in cases if c.label == 'vuln'
                             and not any(is_hit(f['line'], c.defect_lines) for f in fo.get(c.id, []))]
        m['false_positive_cases'] = [c.id for c in cases if c.label in NEGATIVE and fo.get(c.id)]
        m['by_source'] = breakdown(cases, fo, lambda c: c.source)
        m['by_lang'] = breakdown(cases, fo, lambda c: c.lang)
        configs[cfg] = m
    by_label: dict[str, int] = {}
    for c in cases:
        by_label[c.label] = by_label.get(c.label, 0) + 1
    name = args.name or '_'.join(names + combos).replace('+', '-')
    result = {'name': name, 'limit': args.limit,
              'cases': {'total': len(cases), 'by_label': dict(sorted(by_label.items()))},
              'configs': configs, 'notes': notes, 'runs': runs}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f'{name}.json').write_text(json.dumps(result, indent=1, sort_keys=False) + '\n')
    md = markdown(result)
    (args.out / f'{name}.md').write_text(md)
    print(md)
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
