"""Verified fix proposals on the repo's own eval set: what share of analyzer findings gets a fix
that passed the verifier, by fixer and by rule family, and how often it matches the case's own
reference fix.

Every case of eval/cases (built by `python eval/build.py`: the authored and blind-authored samples,
and the real commits whose snapshots are present; never BugsInPy, SVEN, SecurityEval, bandit's
examples, click or requests) runs through the pipeline as `reviewbot review` runs it, with the
deterministic reviewers (secrets, ruff, patterns) and the fix stage. For a defect/vuln case whose
pair has a `-fix` case, the reference is that case's new file: a verified fix "matches" when the
patched file has the same AST as the reference (Python), and "fixes the same lines" when its new
lines appear in the reference.

Usage: python benchmarks/bench_fixes.py [--cases eval/cases] [--name fixes]
       python benchmarks/bench_fixes.py --model qwen2.5-coder-0.5b --name fixes-model
Writes benchmarks/results/<name>.json and .md (and a bar chart <name>.png when matplotlib is there:
`--rerender` redraws it from the saved JSON, with the model run's bars when <name>-model.json exists).
"""
from __future__ import annotations

import argparse
import ast
import collections
import json
import os
import platform
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / 'results'
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / 'eval'))

from reviewbot import pipeline
from reviewbot import reviewers as reviewers_mod
from reviewbot.config import defaults
from reviewbot.fixes.text import apply_fix
from reviewbot.sources import DiffSource

REVIEWERS = ['secrets', 'ruff', 'patterns']


def family(category: str) -> str:
    """ruff/S506 -> ruff/S (bandit); patterns/py-request-ssrf -> patterns/py; secret/x -> secret."""
    kind, _, rest = category.partition('/')
    if kind == 'ruff':
        return 'ruff/' + (re.match(r'[A-Z]+', rest) or re.match('', rest)).group()
    if kind == 'patterns':
        return 'patterns/' + rest.split('-', 1)[0]
    return kind


def same_ast(a: str, b: str) -> bool:
    try:
        return ast.dump(ast.parse(a)) == ast.dump(ast.parse(b))
    except (SyntaxError, ValueError):
        return False


def _norm(s: str) -> str:
    return ' '.join(s.split())


def run(cases_dir: Path, model: str | None = None) -> dict:
    import score  # eval/score.py: the case loader
    cases = score.load_cases(cases_dir)
    by_id = {c.id: c for c in cases}
    config = defaults().override(reviewers=REVIEWERS, model=model, cache=False)
    config.values['fix']['model'] = 'on' if model else 'off'  # the model fixer, without the reviewer
    reviewers = reviewers_mod.build(REVIEWERS, config)
    rows = []
    fix_seconds = []
    model_seconds = []  # per case: mean seconds of its model calls
    for k, case in enumerate(cases, 1):
        source = DiffSource(description=case.id, data=case.diff, read_new_file=case.read_new_file)
        report = pipeline.review(source, config, budget=0, reviewers=reviewers)
        if report.findings:
            fix_seconds.append(report.timings.get('fixes', 0.0))
        if report.fixes.get('model_calls'):
            model_seconds += [report.fixes['model_seconds'] / report.fixes['model_calls']] * \
                report.fixes['model_calls']
        ref = by_id.get(f'{case.id}-fix') if case.label in ('defect', 'vuln') else None
        for f in report.findings:
            fx = f.verified_fix
            row = {'case': case.id, 'label': case.label, 'lang': case.lang, 'category': f.category,
                   'family': family(f.category), 'line': f.line, 'source': fx.source if fx else None,
                   'safety': fx.safety if fx else None, 'same_ast': None, 'same_lines': None}
            if fx is not None and ref is not None and ref.path == case.path:
                text = case.read_new_file(case.path)
                ref_text = ref.read_new_file(ref.path)
                if text is not None and ref_text is not None:
                    patched = apply_fix(text, fx)
                    row['same_ast'] = same_ast(patched, ref_text) if case.path.endswith('.py') else None
                    ref_lines = {_norm(ln) for ln in ref_text.split('\n')}
                    row['same_lines'] = all(_norm(ln) in ref_lines for ln in fx.replacement.split('\n')
                                            if ln.strip())
            rows.append(row)
        if k % 50 == 0:
            print(f'  {k}/{len(cases)} cases', file=sys.stderr)
    return {'cases': len(cases), 'rows': rows, 'fix_seconds': fix_seconds, 'model': model,
            'model_seconds': model_seconds}


def _share(n: int, d: int) -> str:
    return f'{n}/{d} ({100 * n / d:.0f} %)' if d else '-'


def summarise(result: dict) -> dict:
    rows = result['rows']
    out = {}
    for scope, pick in (('all', lambda r: True), ('python', lambda r: r['lang'] == 'python')):
        sel = [r for r in rows if pick(r)]
        fixed = [r for r in sel if r['source']]
        by_source = collections.Counter(r['source'] for r in fixed)
        fams = collections.defaultdict(lambda: [0, 0])
        for r in sel:
            fams[r['family']][0] += 1
            fams[r['family']][1] += bool(r['source'])
        with_ref = [r for r in fixed if r['same_lines'] is not None]
        out[scope] = {
            'findings': len(sel), 'verified': len(fixed), 'by_source': dict(by_source),
            'by_family': {k: {'findings': v[0], 'verified': v[1]} for k, v in sorted(fams.items())},
            'with_reference': len(with_ref),
            'same_lines': sum(1 for r in with_ref if r['same_lines']),
            'same_ast': sum(1 for r in with_ref if r['same_ast']),
            'unsafe': sum(1 for r in fixed if r['safety'] == 'unsafe'),
        }
    ms = sorted(result['model_seconds'])
    out['model_call_seconds'] = {
        'median': round(statistics.median(ms), 2) if ms else None,
        'p90': round(ms[int(0.9 * (len(ms) - 1))], 2) if ms else None, 'calls': len(ms)}
    secs = sorted(result['fix_seconds'])
    out['fix_stage_seconds'] = {
        'median': round(statistics.median(secs), 3) if secs else None,
        'p90': round(secs[int(0.9 * (len(secs) - 1))], 3) if secs else None,
        'cases_with_findings': len(secs)}
    return out


def markdown(result: dict, summary: dict, meta: dict) -> str:
    lines = ['# Verified fixes on the eval set', '',
             (f'{result["cases"]} cases (eval/cases; real-commit cases only where a snapshot was present); '
             f'reviewers {", ".join(REVIEWERS)}; model fixer: {result["model"] or "off"}; measured '
             f'{meta["date"]} on {meta["machine"]}, load average {meta["load"]}, {meta["seconds"]} s.'), '',
             '| scope | analyzer findings | with a verified fix | ruff | semgrep | rewrite | secrets | model '
             '| unsafe among them |',
             '|---|---:|---:|---:|---:|---:|---:|---:|---:|']
    for scope in ('python', 'all'):
        s = summary[scope]
        lines.append(f'| {scope} | {s["findings"]} | {_share(s["verified"], s["findings"])} | '
                     f'{s["by_source"].get("ruff", 0)} | {s["by_source"].get("semgrep", 0)} | '
                     f'{s["by_source"].get("rewrite", 0)} | {s["by_source"].get("secrets", 0)} | '
                     f'{s["by_source"].get("model", 0)} | {s["unsafe"]} |')
    lines += ['', '## By rule family (all languages)', '',
              '| family | findings | verified fix |', '|---|---:|---:|']
    for fam, v in summary['all']['by_family'].items():
        lines.append(f'| {fam} | {v["findings"]} | {_share(v["verified"], v["findings"])} |')
    s = summary['all']
    lines += ['', '## Against the reference fixes', '',
              (f'Verified fixes on defect/vuln cases that have a `-fix` pair: {s["with_reference"]}. '
              f'New lines all present in the reference: {_share(s["same_lines"], s["with_reference"])}; '
              f'patched file has the same AST as the reference (Python): '
              f'{_share(s["same_ast"], s["with_reference"])}.'), '',
              (f'Fix stage (every fixer that ran, and verification), seconds per case with findings: median '
              f'{summary["fix_stage_seconds"]["median"]}, p90 {summary["fix_stage_seconds"]["p90"]} '
              f'({summary["fix_stage_seconds"]["cases_with_findings"]} cases).'), '',
              (f'Model fixer: {summary["model_call_seconds"]["calls"]} model answers, seconds per answer '
              f'median {summary["model_call_seconds"]["median"]}, p90 {summary["model_call_seconds"]["p90"]} '
              '(2 threads).'), '',
              '## Findings without a verified fix (all languages)', '']
    missing = collections.Counter(r['category'] for r in result['rows'] if not r['source'])
    lines += [f'- `{cat}`: {n}' for cat, n in missing.most_common()]
    return '\n'.join(lines) + '\n'


def plot(summary: dict, path: Path, with_model: dict | None = None, cases: int | None = None) -> bool:
    """Findings per rule family, and how many got a verified fix (deterministic; with the model)."""
    try:
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fams = summary['all']['by_family']
    names = list(fams)
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(names) + 1.5))
    ax.barh(names, [fams[n]['findings'] for n in names], color='#ddd', label='analyzer findings')
    if with_model is not None:
        model_fams = with_model['all']['by_family']
        ax.barh(names, [model_fams.get(n, {}).get('verified', 0) for n in names], color='#9cd',
                label='verified fix, with the model fixer')
    ax.barh(names, [fams[n]['verified'] for n in names], color='#3a7',
            label='verified fix, deterministic fixers')
    ax.set_xlabel(f'findings on the eval set ({cases} cases)' if cases else 'findings on the eval set')
    ax.legend(loc='lower right')
    ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return True


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--cases', type=Path, default=ROOT / 'eval' / 'cases')
    ap.add_argument('--name', default='fixes')
    ap.add_argument('--rerender', action='store_true',
                    help='only write the Markdown again from benchmarks/results/<name>.json')
    ap.add_argument('--model', help='also run the model fixer with this local model '
                    '(e.g. qwen2.5-coder-0.5b); default: deterministic fixers only')
    args = ap.parse_args()
    if args.rerender:
        saved = json.loads((RESULTS / f'{args.name}.json').read_text())
        (RESULTS / f'{args.name}.md').write_text(markdown(saved, saved['summary'], saved['meta']))
        model_file = RESULTS / f'{args.name}-model.json'
        with_model = json.loads(model_file.read_text())['summary'] if model_file.is_file() else None
        plot(saved['summary'], RESULTS / f'{args.name}.png', with_model, saved.get('cases'))
        return 0
    t0 = time.perf_counter()
    result = run(args.cases, args.model)
    summary = summarise(result)
    meta = {'date': time.strftime('%Y-%m-%d'), 'machine': f'{platform.machine()}, {os.cpu_count()} CPUs',
            'load': ' '.join(f'{x:.2f}' for x in os.getloadavg()), 'seconds': round(time.perf_counter() - t0, 1)}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f'{args.name}.json').write_text(json.dumps({'meta': meta, 'summary': summary, **result},
                                                          indent=1) + '\n')
    (RESULTS / f'{args.name}.md').write_text(markdown(result, summary, meta))
    plotted = plot(summary, RESULTS / f'{args.name}.png', cases=result['cases'])
    print(markdown(result, summary, meta))
    if not plotted:
        print('(no plot: matplotlib is not installed)', file=sys.stderr)
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
