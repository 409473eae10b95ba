"""Extract risk features for every hunk of the mined set (issue 18), cached and resumable.

    nice python -m eval.risk.features [--hunks FILE] [--out DIR] [--limit N] [--threads 1] [--minutes M]

Reads h-mine's hunks.jsonl (one hunk a line: id, project, label bug|clean|fix, path, the hunk's
unified-diff text, file_before, commit counts), and for each hunk writes DIR/<key>.npz with
  scalars  the change metrics, today's triage score and the naturalness features (features.NAMES),
  hidden.<layer>  the hidden state mean-pooled over the added rows' tokens, for RESEARCH_LAYERS,
  meta     JSON: id, project, label, pair, lines added, tokens read, seconds.
A hunk already in DIR is skipped, so the job resumes where it stopped; hunks are taken round-robin
over projects (shuffled with a fixed seed) so a run cut short still covers every project.

The prompt is exactly the local model's triage prompt (reviewbot.reviewers.model.review_messages of
the hunk's first unit, rendered against the new file rebuilt from file_before), with the view cut at
features.VIEW_TOKEN_CAP tokens: the model is causal, so the rows read are the product's rows; only
today's triage answer sees a shorter view for long hunks (noted in the results). One prefill per hunk,
through the ordinary runtime with hidden-state outputs added in memory (eval/risk/graph.py).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from reviewbot.core import ChangeKind, FileChange, Hunk
from reviewbot.diffparse import parse_diff
from reviewbot.risk import features as F

SHARED = Path(os.environ.get('RISK_SHARED', '/work/wt/_shared/risk'))
SEED = 18


def key_of(record_id: str) -> str:
    return hashlib.sha1(record_id.encode()).hexdigest()[:20]


def parse_hunk(path: str, text: str) -> Hunk | None:
    """The one hunk of `text` (starting at its @@ line)."""
    at = text.find('@@')
    if at < 0:
        return None
    body = text[at:]
    if not body.endswith('\n'):
        body += '\n'
    diff = f'diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n{body}'.encode('utf-8', 'replace')
    try:
        parsed = parse_diff(diff)
    except Exception:
        return None
    if not parsed.files or not parsed.files[0].hunks:
        return None
    return parsed.files[0].hunks[0]


def new_file(before: str | None, hunk: Hunk) -> str | None:
    """The new revision of the file around the hunk: file_before with the hunk applied."""
    if before is None:
        return None
    old = before.split('\n')
    start = max(hunk.old_start - 1, 0) if hunk.old_count else hunk.old_start
    replaced = [ln.text for ln in hunk.lines if ln.kind.value != 'added']
    if old[start:start + len(replaced)] != replaced:
        return None
    new = [ln.text for ln in hunk.lines if ln.kind.value != 'removed']
    return '\n'.join(old[:start] + new + old[start + len(replaced):])


def field(record: dict[str, Any], *names: str, default: Any = None) -> Any:
    for n in names:
        if record.get(n) is not None:
            return record[n]
    return default


def trim_view(model: Any, view: str, cap: int) -> str:
    """The view's first rows, as many as fit in `cap` tokens (at least one)."""
    rows, used = [], 0
    for row in view.split('\n'):
        n = len(model.encode(row + '\n'))
        if rows and used + n > cap:
            break
        rows.append(row)
        used += n
    return '\n'.join(rows)


def extract(model: Any, record: dict[str, Any]) -> dict[str, Any] | None:
    from reviewbot.reviewers import model as M
    from reviewbot.reviewers.model.triage import NONE_ANSWER

    path = str(field(record, 'path', 'new_path', 'file', default=''))
    hunk = parse_hunk(path, str(field(record, 'hunk', 'diff', 'patch', default='')))
    if hunk is None or not hunk.added:
        return None
    files = int(field(record, 'files_in_commit', default=1) or 1)
    change_added = int(field(record, 'commit_added', default=len(hunk.added)))
    change_removed = int(field(record, 'commit_removed', default=len(hunk.removed)))
    metrics = F.change_metrics([hunk], files, change_added, change_removed)
    text = new_file(field(record, 'file_before', 'before'), hunk)
    fc = FileChange(old_path=path, new_path=path, kind=ChangeKind.MODIFIED, hunks=[hunk])
    units = M.make_units(fc)
    if not units:
        return None
    unit = units[0]
    unit.view = trim_view(model, M.render_view(unit, text), F.VIEW_TOKEN_CAP)
    prompt = model.chat_prompt(M.review_messages(unit))
    at = prompt.rfind('\n' + unit.view + '\n')
    prefix, rest = prompt[:at + 1], prompt[at + 1:]
    t0 = time.perf_counter()
    pre = F.read_prefill(model, prefix, rest, unit.view, answer=NONE_ANSWER, naturalness=True)
    seconds = time.perf_counter() - t0
    return {'scalars': F.scalars(metrics, pre), 'hidden': pre.hidden, 'seconds': seconds, 'tokens': pre.tokens,
            'added': metrics.added, 'removed': metrics.removed, 'rebuilt': text is not None}


def save(file: Path, record: dict[str, Any], out: dict[str, Any] | None, reason: str = '') -> None:
    meta = {'id': record.get('id'), 'project': record.get('project'), 'label': record.get('label'),
            'pair': field(record, 'pair', 'pair_id', 'fix_id'), 'commit': field(record, 'commit', 'sha'),
            'path': field(record, 'path', 'new_path', 'file')}
    arrays: dict[str, np.ndarray] = {}
    if out is None:
        meta['skipped'] = reason
    else:
        meta.update({k: out[k] for k in ('seconds', 'tokens', 'added', 'removed', 'rebuilt')})
        names = list(F.NAMES)
        arrays['scalar_names'] = np.asarray(names, dtype=str)
        arrays['scalars'] = np.asarray([out['scalars'][n] for n in names], dtype=np.float64)
        for name, vec in out['hidden'].items():
            arrays[name] = vec.astype(np.float32)
    arrays['meta'] = np.asarray(json.dumps(meta))
    tmp = file.with_name(f'.{file.name}.{os.getpid()}.tmp')
    with open(tmp, 'wb') as f:
        np.savez(f, **arrays)
    os.replace(tmp, file)


def order(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Round-robin over projects; inside a project (shuffled) a bug hunk, then the fix hunk its
    pair names, then a clean hunk, so a run cut short keeps labels balanced and pairs whole (fix
    hunks are only needed as the other half of a pair)."""
    by_id = {str(r.get('id')): r for r in records}
    by_project: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        by_project[str(r.get('project'))][str(r.get('label'))].append(r)
    rng = random.Random(SEED)
    queues = []
    for k, project in enumerate(sorted(by_project)):
        labels = by_project[project]
        for q in labels.values():
            rng.shuffle(q)
        queue: list[dict[str, Any]] = []
        seen: set[str] = set()
        bugs, cleans = labels.get('bug', []), labels.get('clean', [])
        for i in range(max(len(bugs), len(cleans))):
            group = []
            if i < len(bugs):
                group.append(bugs[i])
                partner = by_id.get(str(bugs[i].get('pair')))
                if partner is not None and partner.get('label') == 'fix':
                    group.append(partner)
            if i < len(cleans):  # every other project starts with its clean hunk: a round cut
                group.insert(0 if k % 2 else len(group), cleans[i])  # short stays balanced
            for r in group:
                if str(r.get('id')) not in seen:
                    seen.add(str(r.get('id')))
                    queue.append(r)
        queues.append(queue[::-1])
    out = []
    while any(queues):
        for q in queues:
            if q:
                out.append(q.pop())
    return out


def read_records(file: Path) -> list[dict[str, Any]]:
    records = []
    with open(file, encoding='utf-8') as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                records.append(json.loads(line))
            except ValueError:
                continue  # a batch being written: its last line may be incomplete
    return records


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--hunks', type=Path, default=SHARED / 'hunks.jsonl')
    ap.add_argument('--out', type=Path, default=SHARED / 'features')
    ap.add_argument('--limit', type=int, default=0, help='stop after this many new hunks (0: all)')
    ap.add_argument('--minutes', type=float, default=0, help='stop after this long (0: no limit)')
    ap.add_argument('--threads', type=int, default=1)
    args = ap.parse_args(argv)
    from eval.risk.graph import close, default_folder, with_hidden_states

    records = read_records(args.hunks)
    args.out.mkdir(parents=True, exist_ok=True)
    todo = [r for r in order(records) if not (args.out / f'{key_of(str(r.get("id")))}.npz').exists()]
    print(f'{len(records)} hunks, {len(records) - len(todo)} done, {len(todo)} to extract', file=sys.stderr)
    if not todo:
        return 0
    model = with_hidden_states(default_folder(), threads=args.threads)
    start = time.monotonic()
    done = 0
    try:
        for r in todo:
            file = args.out / f'{key_of(str(r.get("id")))}.npz'
            try:
                out = extract(model, r)
                save(file, r, out, '' if out is not None else 'no added lines or unparsable hunk')
            except Exception as e:
                save(file, r, None, f'{type(e).__name__}: {str(e)[:120]}')
            done += 1
            elapsed = time.monotonic() - start
            if done % 10 == 0:
                print(f'{done}/{len(todo)} in {elapsed:.0f} s ({elapsed / done:.1f} s/hunk), load '
                      f'{os.getloadavg()[0]:.1f}', file=sys.stderr, flush=True)
            if args.limit and done >= args.limit or args.minutes and elapsed > args.minutes * 60:
                break
    finally:
        close(model)
    print(f'extracted {done} hunks in {time.monotonic() - start:.0f} s', file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
