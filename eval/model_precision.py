"""Precision of the model reviewer's free-form findings (category model/*) on the eval set, per class.

    python eval/model_precision.py [UNITS_JSON ...] [--threshold T] [--out eval/results/model-precision]

Reads the per-unit records `benchmarks/model_eval.py collect` writes (the raw answer of every unit,
its triage score), re-validates each answer with the current validator (as `calibrate` does) and keeps
the findings of the units the default triage sends to generation (score >= `triage_threshold`). A
finding is correct when eval/score.py counts it as a hit: on a defect/vuln case, within +-3 lines of a
defect line; every finding on a fix or clean case is a false positive. Reported per finding category
(model/bug, model/security), per message class (what the message claims, by keywords), per case
label and source, and for the same message shown on a defect and on its own fix.
"""
from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / 'eval'))
sys.path.insert(0, str(ROOT / 'benchmarks'))

import score  # noqa: E402

from reviewbot.config import defaults  # noqa: E402

# What a message claims, first match wins (the small model's answers fall into a few shapes).
MESSAGE_CLASSES: list[tuple[str, re.Pattern[str]]] = [
    ('unused ("X is not used")', re.compile(r'\bnot (being )?used\b|\bunused\b', re.IGNORECASE)),
    ('exception / crash', re.compile(r'exception|crash|raise|error is', re.IGNORECASE)),
    ('resource not closed', re.compile(r'not (properly )?closed|leak|close', re.IGNORECASE)),
    ('empty / missing value', re.compile(r'\bempty\b|\bnone\b|\bnull\b|\bmissing\b|not present|not set',
                                         re.IGNORECASE)),
    ('wrong name / type / value ("incorrect ...")', re.compile(
        r'incorrect|wrong|should be|should not|must be|is not a\b|not a valid|not properly|not implemented'
        r'|not descriptive|not return|does not return', re.IGNORECASE)),
    ('security claim', re.compile(r'inject|xss|secur|vulnerab|password|secret|sanit', re.IGNORECASE)),
]


def message_class(message: str) -> str:
    for name, rx in MESSAGE_CLASSES:
        if rx.search(message):
            return name
    return 'other'


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float] | None:
    if n == 0:
        return None
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return max(0.0, c - h), min(1.0, c + h)


def findings(data: dict[str, Any], cases: dict[str, Any], threshold: float) -> list[dict]:
    import model_eval  # benchmarks/model_eval.py: the validator and the triage score as the reviewer has them
    out = []
    for cid, entry in data['cases'].items():
        case = cases.get(cid)
        if case is None:
            continue
        for u in entry['units']:
            risk = model_eval.signal_of(u, 'answer')
            for f in model_eval.revalidate(u, u['path']):
                hit = case.label in score.POSITIVE and score.is_hit(f['line'], case.defect_lines)
                out.append({'case': cid, 'label': case.label, 'source': case.source, 'line': f['line'],
                            'category': f['category'], 'message': f['message'], 'risk': round(risk, 4),
                            'class': message_class(f['message']), 'hit': bool(hit),
                            'shown': risk >= threshold})
    return out


def table(rows: list[dict], key: str) -> list[dict]:
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        groups[r[key]].append(r)
    out = []
    for name, rs in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        k = sum(r['hit'] for r in rs)
        ci = wilson(k, len(rs))
        out.append({'class': name, 'findings': len(rs), 'correct': k, 'precision': round(k / len(rs), 3),
                    'ci95': [round(ci[0], 3), round(ci[1], 3)] if ci else None})
    return out


def same_on_fix(rows: list[dict], case_ids: set[str]) -> tuple[int, int]:
    """(defect/vuln findings whose message also appears on the case's own fix, defect/vuln findings whose
    fix case is in the set)"""
    msgs: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        msgs[r['case']].add(r['message'].lower())
    both = total = 0
    for r in rows:
        fix = f'{r["case"]}-fix'
        if r['label'] in score.POSITIVE and fix in case_ids:
            total += 1
            both += r['message'].lower() in msgs[fix]
    return both, total


def md_table(title: str, rows: list[dict]) -> list[str]:
    lines = [f'| {title} | findings | correct | precision | 95 % interval |', '|---|---:|---:|---:|---|']
    for r in rows:
        ci = f'{r["ci95"][0]:.2f}–{r["ci95"][1]:.2f}' if r['ci95'] else ''
        lines.append(f'| {r["class"]} | {r["findings"]} | {r["correct"]} | {r["precision"]:.2f} | {ci} |')
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('units', nargs='*', default=[str(ROOT / 'eval/results/model-0.5b-units.json')])
    ap.add_argument('--cases', default=str(ROOT / 'eval' / 'cases'))
    ap.add_argument('--threshold', type=float, default=None, help='triage threshold (default: the config default)')
    ap.add_argument('--out', help='write OUT.json (every finding) and print Markdown tables')
    args = ap.parse_args(argv)
    threshold = args.threshold if args.threshold is not None else float(defaults().triage_threshold)
    cases_dir = Path(args.cases)
    if not cases_dir.is_dir():
        print(f'model_precision: no cases at {cases_dir} (run `python eval/build.py` first)', file=sys.stderr)
        return 2
    cases = {c.id: c for c in score.load_cases(cases_dir)}
    report: dict[str, Any] = {'threshold': threshold, 'files': {}}
    md: list[str] = []
    for path in args.units:
        try:
            data = json.loads(Path(path).read_text(encoding='utf-8'))
        except (OSError, ValueError) as e:
            print(f'model_precision: cannot read {path}: {e}', file=sys.stderr)
            return 2
        rows = findings(data, cases, threshold)
        shown = [r for r in rows if r['shown']]
        n_cases = sum(1 for c in data['cases'] if c in cases)
        entry = {'model': data.get('model'), 'prompt_version': data.get('prompt_version'), 'cases': n_cases,
                 'default': {k: table(shown, k) for k in ('category', 'class', 'label', 'source')},
                 'no_triage': {k: table(rows, k) for k in ('category', 'class')},
                 'same_message_on_fix': dict(zip(('default', 'no_triage'),
                                                 (same_on_fix(shown, set(data['cases'])),
                                                  same_on_fix(rows, set(data['cases']))))),
                 'findings': rows}
        report['files'][Path(path).name] = entry
        md += [f'## {data.get("model")} (prompt {data.get("prompt_version")}, {n_cases} cases, {Path(path).name})', '',
               (f'Default triage (answer score >= {threshold}): {len(shown)} findings shown; '
                f'without triage: {len(rows)}.'), '']
        for key, title in (('category', 'category'), ('class', 'message class'), ('label', 'case label'),
                           ('source', 'case source')):
            md += md_table(f'{title} (default)', entry['default'][key]) + ['']
        for key, title in (('category', 'category'), ('class', 'message class')):
            md += md_table(f'{title} (no triage)', entry['no_triage'][key]) + ['']
        b, t = entry['same_message_on_fix']['default']
        b2, t2 = entry['same_message_on_fix']['no_triage']
        md += [(f'Same message on a defect and on its own fix: {b} of {t} defect/vuln findings (default), '
                f'{b2} of {t2} (no triage).'), '']
    if args.out:
        Path(args.out + '.json').write_text(json.dumps(report, indent=1) + '\n', encoding='utf-8')
    print('\n'.join(md))
    return 0


if __name__ == '__main__':
    sys.exit(main())
