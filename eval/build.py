"""Materialise the evaluation set into eval/cases/ (gitignored).

Two sources, both with provenance written down:

* eval/authored/*.case -- samples written for this project (source `authored` in the index), and
  eval/authored-blind/*.case -- a second batch in the same format written blind to the project's
  detection rules (source `authored-blind`), so those rules can be measured honestly. Each file
  holds up to four versions of one source file: `base` (before; empty = the file is new), `bad` (the
  defect or vulnerability added), `good` (the fix) and `refactor` (a behaviour-preserving change of
  `good`). It yields three cases: `<id>` (base -> bad, label defect|vuln), `<id>-fix` (bad -> good,
  label fix, same pair) and `<id>-clean` (good -> refactor, label clean).
* eval/manifest.jsonl -- real commits of public projects. The projects' code is never committed: the
  builder reads it from a local snapshot (`fetch` puts one at /work/.mirror/<owner>+<name>/repo; set
  EVAL_MIRRORS to another directory of the same layout). A `defect` entry names a bug-fix commit: the
  defect case is that commit reversed (it re-introduces the bug), its pair is the commit itself (label
  fix). A `clean` entry is a refactor/doc commit used as is. Entries whose snapshot is missing are
  skipped and counted, never silently.

Each case becomes eval/cases/<id>/diff.patch (a git-style unified diff with a/ b/ prefixes), the new
revision of the file under eval/cases/<id>/new/<path> (for reviewers that read whole files), and one
line of eval/cases/index.jsonl: id, label, lang, path, defect_lines (new-file numbering; defect and vuln
cases only), pair, source, provenance, note.

Usage: python eval/build.py [--out DIR] [--mirrors DIR] [--check]
"""
from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_MIRRORS = Path(os.environ.get('EVAL_MIRRORS', '/work/.mirror'))
CONTEXT = 3

LANG_BY_SUFFIX = {
    '.py': 'python', '.js': 'javascript', '.mjs': 'javascript', '.jsx': 'javascript',
    '.ts': 'typescript', '.tsx': 'typescript', '.go': 'go', '.java': 'java', '.c': 'c', '.h': 'c',
    '.cc': 'cpp', '.cpp': 'cpp', '.rb': 'ruby', '.php': 'php', '.rs': 'rust',
}

_SECTION = re.compile(r'^@@@ (base|bad|good|refactor)\s*$')
_HEADER = re.compile(r'^#\s*(\w+):\s*(.*?)\s*$')
_HUNK = re.compile(r'^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@')


def language(path: str) -> str:
    return LANG_BY_SUFFIX.get(Path(path).suffix.lower(), 'text')


# --- diffs -------------------------------------------------------------------------------------

def unified(path: str, old: str | None, new: str | None) -> str:
    """A git-style diff of one file; old/new None means the file does not exist on that side."""
    a = (old or '').splitlines(keepends=True)
    b = (new or '').splitlines(keepends=True)
    body = list(difflib.unified_diff(a, b, n=CONTEXT))[2:]  # drop difflib's ---/+++ lines
    if not body:
        return ''
    head = [f'diff --git a/{path} b/{path}\n']
    if old is None:
        head += ['new file mode 100644\n', '--- /dev/null\n', f'+++ b/{path}\n']
    elif new is None:
        head += ['deleted file mode 100644\n', f'--- a/{path}\n', '+++ /dev/null\n']
    else:
        head += [f'--- a/{path}\n', f'+++ b/{path}\n']
    out = []
    for ln in body:
        out.append(ln if ln.endswith('\n') else ln + '\n\\ No newline at end of file\n')
    return ''.join(head + out)


def changed_lines(diff: str) -> tuple[list[int], list[int]]:
    """(new-file numbers of added lines, new-file numbers next to which lines were only removed)."""
    added: list[int] = []
    deletion_points: list[int] = []
    new_no = 0
    pending_removal = False
    in_hunk = False  # '+++'/'---' are file headers only before a hunk (inside one, '+++i;' is code)
    for ln in diff.splitlines():
        m = _HUNK.match(ln)
        if m:
            new_no = int(m.group(3))
            pending_removal = False
            in_hunk = True
            continue
        if ln.startswith('diff '):
            in_hunk = False
        if not in_hunk or ln.startswith('\\'):
            continue
        if ln.startswith('+'):
            added.append(new_no)
            new_no += 1
            pending_removal = False
        elif ln.startswith('-'):
            if not pending_removal:
                deletion_points.append(new_no)  # the line now at the gap (the one after it)
            pending_removal = True
        elif ln.startswith(' '):
            new_no += 1
            pending_removal = False
    return added, deletion_points


def defect_lines_of(reintroducing_diff: str) -> list[int]:
    """Where the defect is in the new file of a diff that introduces it: its added lines, or, for a
    defect that is a missing line, the lines on both sides of the gap."""
    added, gaps = changed_lines(reintroducing_diff)
    if added:
        return added
    lines: list[int] = []
    for g in gaps:
        lines += [n for n in (g - 1, g) if n >= 1]
    return sorted(set(lines))


# --- authored cases ----------------------------------------------------------------------------

def parse_case_file(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    meta: dict[str, str] = {}
    sections: dict[str, list[str]] = {}
    current: str | None = None
    for ln in path.read_text(encoding='utf-8').splitlines(keepends=True):
        m = _SECTION.match(ln)
        if m:
            current = m.group(1)
            sections[current] = []
        elif current is None:
            h = _HEADER.match(ln)
            if h:
                meta[h.group(1)] = h.group(2)
        else:
            sections[current].append(ln)
    for key in ('id', 'path', 'label', 'note'):
        if key not in meta:
            raise SystemExit(f'{path}: missing header "# {key}:"')
    for key in ('bad', 'good'):
        if key not in sections:
            raise SystemExit(f'{path}: missing section "@@@ {key}"')
    return meta, {k: ''.join(v) for k, v in sections.items()}


def authored_cases(authored_dir: Path, source: str = 'authored') -> list[tuple[dict, str, str | None]]:
    """(index entry, diff, new file text) for every authored case; `source` labels the batch
    (`authored`, or `authored-blind` for eval/authored-blind/, written without seeing the rules)."""
    out = []
    for f in sorted(authored_dir.glob('*.case')):
        meta, sec = parse_case_file(f)
        cid, path = meta['id'], meta['path']
        base = sec.get('base') or None  # empty or absent: the bad version adds a new file
        bad, good = sec['bad'], sec['good']
        defect_diff = unified(path, base, bad)
        if 'defect_lines' in meta:
            dl = [int(x) for x in meta['defect_lines'].split(',')]
        else:
            # The lines the fix rewrites, in the bad file's numbering: removed lines of bad -> good.
            fix_reversed = unified(path, good, bad)
            dl = defect_lines_of(fix_reversed)
        common = {
            'lang': meta.get('lang') or language(path), 'path': path, 'source': source,
            'provenance': f'{source.replace("-", " ")} for reviewbot: eval/{authored_dir.name}/{f.name}',
            'cwe': meta.get('cwe', ''), 'note': meta['note'],
        }
        out.append(({'id': cid, 'label': meta['label'], 'defect_lines': dl, 'pair': cid, **common},
                    defect_diff, bad))
        out.append(({'id': f'{cid}-fix', 'label': 'fix', 'defect_lines': [], 'pair': cid, **common},
                    unified(path, bad, good), good))
        if 'refactor' in sec:
            out.append(({'id': f'{cid}-clean', 'label': 'clean', 'defect_lines': [], 'pair': None,
                         **common, 'note': 'refactor of the fixed version: ' + meta.get('refactor', '')},
                        unified(path, good, sec['refactor']), sec['refactor']))
    return out


# --- real commits from snapshots ---------------------------------------------------------------

def _git(repo: Path, *args: str) -> str:
    r = subprocess.run(['git', '-C', str(repo), *args], capture_output=True, text=True,
                       encoding='utf-8', errors='surrogateescape')
    if r.returncode != 0:
        raise RuntimeError(f'git {" ".join(args)}: {r.stderr.strip()}')
    return r.stdout


def _git_diff(repo: Path, a: str, b: str, path: str) -> str:
    return _git(repo, 'diff', '--no-color', '--no-ext-diff', f'-U{CONTEXT}', '--src-prefix=a/',
                '--dst-prefix=b/', a, b, '--', path)


def mirror_of(repo: str, mirrors: Path) -> Path | None:
    p = mirrors / repo.replace('/', '+') / 'repo'
    return p if p.is_dir() else None


def manifest_cases(manifest: Path, mirrors: Path) -> tuple[list[tuple[dict, str, str | None]], list[str]]:
    out, missing = [], []
    for raw in manifest.read_text(encoding='utf-8').splitlines():
        if not raw.strip() or raw.lstrip().startswith('#'):
            continue
        e = json.loads(raw)
        repo_dir = mirror_of(e['repo'], mirrors)
        if repo_dir is None:
            missing.append(f'{e["id"]}: no snapshot of {e["repo"]} under {mirrors}')
            continue
        sha, path = e['commit'], e['file']
        try:
            parent = _git(repo_dir, 'rev-parse', f'{sha}^').strip()
            fixed_text = _git(repo_dir, 'show', f'{sha}:{path}')
            buggy_text = _git(repo_dir, 'show', f'{parent}:{path}')
        except RuntimeError as err:
            missing.append(f'{e["id"]}: {err}')
            continue
        common = {'lang': language(path), 'path': path, 'source': 'commit',
                  'provenance': f'https://github.com/{e["repo"]}/commit/{sha}', 'cwe': e.get('cwe', ''),
                  'note': e.get('note', '')}
        if e['kind'] == 'defect':
            defect_diff = _git_diff(repo_dir, sha, parent, path)  # the fix reversed
            dl = defect_lines_of(defect_diff)
            if e.get('defect_lines') and e['defect_lines'] != dl:
                raise SystemExit(f'{e["id"]}: manifest says defect lines {e["defect_lines"]}, '
                                 f'snapshot gives {dl}')
            out.append(({'id': e['id'], 'label': e.get('label', 'defect'), 'defect_lines': dl,
                         'pair': e['id'], **common}, defect_diff, buggy_text))
            out.append(({'id': f'{e["id"]}-fix', 'label': 'fix', 'defect_lines': [], 'pair': e['id'],
                         **common}, _git_diff(repo_dir, parent, sha, path), fixed_text))
        elif e['kind'] == 'clean':
            out.append(({'id': e['id'], 'label': 'clean', 'defect_lines': [], 'pair': None, **common},
                        _git_diff(repo_dir, parent, sha, path), fixed_text))
        else:
            raise SystemExit(f'{e["id"]}: unknown kind {e["kind"]!r}')
    return out, missing


def write_cases(cases: list[tuple[dict, str, str | None]], out_dir: Path) -> None:
    """Write into a sibling folder, then swap it in: a scorer reading the old set meanwhile never
    sees a half-written one."""
    final = out_dir
    out_dir = final.with_name(final.name + '.new')
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    _write_cases(cases, out_dir)
    old = final.with_name(final.name + '.old')
    if old.exists():
        shutil.rmtree(old)
    if final.exists():
        final.rename(old)
    out_dir.rename(final)
    if old.exists():
        shutil.rmtree(old)


def _write_cases(cases: list[tuple[dict, str, str | None]], out_dir: Path) -> None:
    seen: set[str] = set()
    with (out_dir / 'index.jsonl').open('w', encoding='utf-8') as index:
        for entry, diff, new_text in cases:
            if entry['id'] in seen:
                raise SystemExit(f'duplicate case id {entry["id"]}')
            seen.add(entry['id'])
            if not diff.strip():
                raise SystemExit(f'{entry["id"]}: empty diff')
            d = out_dir / entry['id']
            d.mkdir()
            (d / 'diff.patch').write_text(diff, encoding='utf-8', errors='surrogateescape')
            if new_text is not None:
                nf = d / 'new' / entry['path']
                nf.parent.mkdir(parents=True, exist_ok=True)
                nf.write_text(new_text, encoding='utf-8', errors='surrogateescape')
            index.write(json.dumps(entry, sort_keys=True) + '\n')


def build(out_dir: Path, mirrors: Path, quiet: bool = False) -> dict[str, int]:
    cases = authored_cases(HERE / 'authored')
    cases += authored_cases(HERE / 'authored-blind', source='authored-blind')
    real, missing = manifest_cases(HERE / 'manifest.jsonl', mirrors)
    cases += real
    write_cases(cases, out_dir)
    counts: dict[str, int] = {}
    for entry, _, _ in cases:
        counts[entry['label']] = counts.get(entry['label'], 0) + 1
    if not quiet:
        for m in missing:
            print(f'skipped {m}', file=sys.stderr)
        print(f'{len(cases)} cases in {out_dir} ({", ".join(f"{k} {v}" for k, v in sorted(counts.items()))});'
              f' {len(missing)} manifest entries skipped', file=sys.stderr)
    counts['skipped'] = len(missing)
    return counts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--out', type=Path, default=HERE / 'cases')
    ap.add_argument('--mirrors', type=Path, default=DEFAULT_MIRRORS)
    args = ap.parse_args(argv)
    build(args.out, args.mirrors)
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
