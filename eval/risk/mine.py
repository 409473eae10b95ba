"""Mine bug-introducing, clean and fix hunks from public Python histories with SZZ (issue 18).

    python eval/risk/mine.py                         # every project of eval/risk/projects.toml
    python eval/risk/mine.py --projects attrs,httpx  # some of them (owner/name or name)
    python eval/risk/mine.py --repo DIR --name owner/name --commit REV --out OUT   # one local repository

SZZ with plain git: fix commits are found by message (fix/bug/"issue #N"/"closes #N"/"Fixes #N"),
never merges; refactor/format/typo/docs/CI/typing commits, test-only or docs-only commits and huge
commits (> 10 files or > 500 changed lines) are dropped. For every non-test .py file a fix modifies,
the lines it deletes or changes (whitespace-insensitive, blank and comment-only lines skipped) are
blamed with `git blame -w --porcelain <fix>^ -L …`; the blamed commits that are not huge, not merges
and not the fix itself are the bug introducers, and the hunks of their diff (.py, non-test) that hold
a blamed line are the bug hunks. Clean hunks come from commits of the same period (between the first
and the last introducer) that no blamed fix ever reached and that are not fixes themselves. A fix hunk
is paired with the bug hunk its deleted line blames to. Sampling is deterministic (fixed seed).

Output (outside git): OUT/hunks.jsonl (appended per project), OUT/done/<owner+name> markers and
OUT/STATUS; the per-project label counts go to --counts (eval/risk/counts.json by default).
The held-out projects (BugsInPy's, click, requests, SVEN/SecurityEval/bandit) are refused: exit 2.
"""
from __future__ import annotations

import argparse
import datetime as dt
import fcntl
import hashlib
import json
import os
import random
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import tomllib

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = Path('/work/wt/_shared/risk')
DEFAULT_MIRRORS = Path('/work/.mirror')
SEED = 18

# Held out for the independent judge: never mined, whatever the owner.
EXCLUDED_NAMES = frozenset(n.lower() for n in (
    'pandas', 'youtube-dl', 'scrapy', 'keras', 'thefuck', 'luigi', 'matplotlib', 'ansible', 'black',
    'fastapi', 'tornado', 'spacy', 'tqdm', 'httpie', 'sanic', 'cookiecutter', 'PySnooper'))
EXCLUDED_REPOS = frozenset(('pallets/click', 'psf/requests'))
EXCLUDED_WORDS = ('sven', 'securityeval', 'bandit')

MAX_FILES = 10          # a commit touching more files is "huge"
MAX_LINES = 500         # ... or changing more lines
MAX_FIXES = 400         # fixes blamed per project (a deterministic sample when there are more)
MAX_BUG = 40
MAX_CLEAN = 40
MAX_PAIRS = 25
MAX_FILE_BYTES = 400_000  # file_before larger than this: the hunk is skipped

# the subject says it fixes something; or the body links the issue it closes
FIX_RE = re.compile(
    r'\b(fix(e[sd]|ing)?|bug(s|fix)?|hotfix)\b'
    r'|\bissue\s*#\d+'
    r'|\b(close[sd]?|resolve[sd]?)\s*(#\d+|https://github\.com/\S+/issues/\d+)', re.IGNORECASE)
LINK_RE = re.compile(
    r'\b(fix(e[sd])?|close[sd]?|resolve[sd]?):?\s*(#\d+|https://github\.com/\S+/issues/\d+)'
    r'|\bissue\s*#\d+', re.IGNORECASE)
FEATURE_RE = re.compile(
    r'^\W*(add(s|ed|ing)?|implement\w*|introduce\w*|support\w*|new|improve\w*|optimi[sz]\w*|speed\w*|perf\w*'
    r'|deprecat\w*|remov\w*|drop\w*|updat\w*|upgrad\w*|allow\w*|enabl\w*|expos\w*)\b', re.IGNORECASE)
NOT_FIX_RE = re.compile(
    r'\b(refactor\w*|reformat\w*|format(ting)?|whitespace|typos?|spelling|grammar|docs?|docstrings?|document\w*'
    r'|documentation|readme|changelog|changes\.rst|news|comments?|lint\w*|flake8|pylint|ruff|mypy|pyright'
    r'|typing|type\s*hints?|annotations?|isort|pre-commit|style|pep\s*8|ci|travis|appveyor|tox'
    r'|workflows?|github\s*actions|coverage|bump|release|version|dependabot|revert)\b', re.IGNORECASE)


class Refused(Exception):
    """A project this mining must never touch, or a bad input: one line, exit 2."""


def excluded(name: str) -> str | None:
    """Why `name` (owner/name, or a bare name) is held out, or None."""
    low = name.strip().lower().rstrip('/')
    low = low.removesuffix('.git')
    repo = low.rsplit('/', 1)[-1]
    if repo in EXCLUDED_NAMES:
        return f'{name} is a BugsInPy project (held out)'
    if low in EXCLUDED_REPOS or (low.count('/') == 0 and repo in {'click', 'requests'}):
        return f'{name} is held out (click/requests histories are the judge\'s)'
    for w in EXCLUDED_WORDS:
        if w in low:
            return f'{name} looks like {w} (held out)'
    return None


def check_allowed(name: str) -> None:
    why = excluded(name)
    if why:
        raise Refused(f'refusing to mine {why}')


# ---- git ---------------------------------------------------------------------------------------------

class Git:
    def __init__(self, git_dir: Path) -> None:
        self.git_dir = git_dir

    def run(self, *args: str, check: bool = True) -> str:
        proc = subprocess.run(['git', '--git-dir', str(self.git_dir), *args], capture_output=True, check=False)
        if check and proc.returncode:
            raise RuntimeError(f'git {" ".join(args[:3])}: {proc.stderr.decode(errors="replace").strip()[:200]}')
        return proc.stdout.decode('utf-8', 'surrogateescape')

    def blob(self, rev: str, path: str) -> str | None:
        proc = subprocess.run(['git', '--git-dir', str(self.git_dir), 'cat-file', '-p', f'{rev}:{path}'],
                              capture_output=True, check=False)
        if proc.returncode:
            return None
        return proc.stdout.decode('utf-8', 'replace')


@dataclass
class Commit:
    sha: str
    parents: list[str]
    time: int
    subject: str
    body: str
    files: dict[str, tuple[int, int]] = field(default_factory=dict)  # path -> (added, removed)

    @property
    def added(self) -> int:
        return sum(a for a, _ in self.files.values())

    @property
    def removed(self) -> int:
        return sum(r for _, r in self.files.values())

    @property
    def huge(self) -> bool:
        return len(self.files) > MAX_FILES or self.added + self.removed > MAX_LINES


def is_test_or_doc(path: str) -> bool:
    parts = path.lower().split('/')
    base = parts[-1]
    if any(p in ('test', 'tests', 'testing', 'docs', 'doc', 'examples', 'example', 'benchmarks') for p in parts[:-1]):
        return True
    return base.startswith('test_') or base.endswith('_test.py') or base in ('conftest.py', 'noxfile.py')


def is_source_py(path: str) -> bool:
    return path.endswith('.py') and not is_test_or_doc(path)


LOG_FORMAT = '--format=%x1e%H%x00%P%x00%ct%x00%s%x00%b%x00'
TEXT_PATHS = ('*.py', '*.pyi', '*.pyx', '*.rst', '*.md', '*.txt', '*.cfg', '*.toml', '*.ini', '*.yml', '*.yaml')


def _parse_log(out: str) -> dict[str, Commit]:
    commits: dict[str, Commit] = {}
    for chunk in out.split('\x1e')[1:]:
        fields = chunk.split('\x00')
        sha, parents, ctime, subject, body = fields[:5]
        c = Commit(sha, parents.split(), int(ctime), subject, body)
        # with -z: "added\tremoved\tpath\0" (--numstat) or "path\0" (--name-only) after the body's \0
        for item in fields[5:]:
            item = item.strip('\n')
            if not item:
                continue
            bits = item.split('\t', 2)
            if len(bits) == 3:
                a, r, path = bits
                c.files[path] = (int(a) if a.isdigit() else 0, int(r) if r.isdigit() else 0)
            else:
                c.files[item] = (0, 0)
        commits[sha] = c
    return commits


def read_commits(git: Git, rev: str) -> dict[str, Commit]:
    """Every non-merge commit reachable from rev, with per-file numstat (no rename detection)."""
    log = ('log', '--no-merges', '--no-renames', '-z', LOG_FORMAT)
    try:
        return _parse_log(git.run(*log, '--numstat', rev))
    except RuntimeError:
        pass
    # A snapshot without its largest blobs (media files over 4 MiB) cannot numstat them: every path comes
    # from the trees (--name-only reads no blob), the line counts from the text files only.
    commits = _parse_log(git.run(*log, '--name-only', rev))
    for pathspec in (TEXT_PATHS, ('*.py',)):
        try:
            counted = _parse_log(git.run(*log, '--numstat', rev, '--', *pathspec))
        except RuntimeError:
            continue
        for sha, c in counted.items():
            commits[sha].files.update(c.files)
        break
    return commits


def fix_message(subject: str, body: str) -> bool:
    """Fix by message: the subject says fix/bug/"issue #N"/"closes #N", or the body links an issue
    ("Fixes #N", "Closes #N") and the subject does not announce a feature."""
    if NOT_FIX_RE.search(subject):
        return False
    if FIX_RE.search(subject):
        return True
    return bool(LINK_RE.search(body)) and not FEATURE_RE.search(subject)


def is_fix(c: Commit) -> bool:
    if not fix_message(c.subject, c.body):
        return False
    if len(c.parents) != 1 or c.huge:
        return False
    return any(is_source_py(p) for p in c.files)


# ---- diffs -------------------------------------------------------------------------------------------

HUNK_RE = re.compile(r'^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@')


@dataclass
class Hunk:
    old_start: int
    old_count: int
    new_start: int
    new_count: int
    lines: list[str]   # the hunk text, header first

    @property
    def text(self) -> str:
        return '\n'.join(self.lines) + '\n'

    def added_new_lines(self) -> dict[int, str]:
        """new-file line number -> text, for the '+' lines."""
        out, n = {}, self.new_start
        for ln in self.lines[1:]:
            if ln.startswith('+'):
                out[n] = ln[1:]
                n += 1
            elif ln.startswith(' '):
                n += 1
        return out

    def removed_old_lines(self) -> dict[int, str]:
        out, o = {}, self.old_start
        for ln in self.lines[1:]:
            if ln.startswith('-'):
                out[o] = ln[1:]
                o += 1
            elif ln.startswith(' '):
                o += 1
        return out

    @property
    def added(self) -> int:
        return sum(1 for ln in self.lines[1:] if ln.startswith('+'))

    @property
    def removed(self) -> int:
        return sum(1 for ln in self.lines[1:] if ln.startswith('-'))

    def whitespace_only(self) -> bool:
        def norm(lines: dict[int, str]) -> list[str]:
            return [re.sub(r'\s+', '', s) for s in lines.values() if s.strip()]
        return norm(self.added_new_lines()) == norm(self.removed_old_lines())


def parse_hunks(diff: str) -> list[Hunk]:
    hunks: list[Hunk] = []
    cur: Hunk | None = None
    for ln in diff.split('\n'):
        m = HUNK_RE.match(ln)
        if m:
            cur = Hunk(int(m[1]), int(m[2] if m[2] is not None else 1),
                       int(m[3]), int(m[4] if m[4] is not None else 1), [ln])
            hunks.append(cur)
        elif cur is not None and ln[:1] in (' ', '+', '-', '\\'):
            cur.lines.append(ln)
        elif cur is not None and ln == '':
            continue
        else:
            cur = None
    return hunks


def meaningful(line: str) -> bool:
    s = line.strip()
    return bool(s) and not s.startswith('#') and s not in ('"""', "'''")


def code_only(line: str) -> str:
    """The line without whitespace and without a trailing comment (naive: ' #' outside nothing)."""
    return re.sub(r'\s+', '', re.sub(r'\s+#.*$', '', line))


def blamable_lines(ws_hunks: list[Hunk]) -> list[int]:
    """Old-file lines a fix deletes or changes, without blank/comment-only lines and without lines whose
    code comes back unchanged among the added lines (comment edits, moves inside a hunk)."""
    out = []
    for h in ws_hunks:
        kept = {code_only(s) for s in h.added_new_lines().values()}
        out += [n for n, s in h.removed_old_lines().items() if meaningful(s) and code_only(s) not in kept]
    return out


def diff_hunks(git: Git, parent: str, sha: str, path: str, context: int = 3, ignore_ws: bool = False) -> list[Hunk]:
    args = ['diff', '--no-color', '--no-ext-diff', '--no-renames', f'-U{context}']
    if ignore_ws:
        args.append('-w')
    return parse_hunks(git.run(*args, parent, sha, '--', path))


def blame(git: Git, rev: str, path: str, lines: list[int]) -> dict[int, tuple[str, int, str]]:
    """old line -> (blamed sha, line number in that commit's file, that commit's path)."""
    if not lines:
        return {}
    ranges: list[list[int]] = []
    for n in sorted(set(lines)):
        if ranges and n == ranges[-1][1] + 1:
            ranges[-1][1] = n
        else:
            ranges.append([n, n])
    args = ['blame', '-w', '--porcelain']
    for a, b in ranges:
        args += ['-L', f'{a},{b}']
    out = git.run(*args, rev, '--', path, check=False)
    result: dict[int, tuple[str, int, str]] = {}
    names: dict[str, str] = {}
    boundary: set[str] = set()
    pending: tuple[str, int, int] | None = None
    for ln in out.split('\n'):
        if pending is None:
            parts = ln.split(' ')
            if len(parts) >= 3 and len(parts[0]) == 40 and all(c in '0123456789abcdef' for c in parts[0]):
                pending = (parts[0], int(parts[1]), int(parts[2]))
            continue
        if ln.startswith('filename '):
            names[pending[0]] = ln[len('filename '):]
        elif ln == 'boundary':
            boundary.add(pending[0])
        elif ln.startswith('\t'):
            sha, orig, final = pending
            if sha not in boundary:
                result[final] = (sha, orig, names.get(sha, path))
            pending = None
    return result


# ---- mining ------------------------------------------------------------------------------------------

def stable_rng(*keys: str) -> random.Random:
    h = hashlib.sha256(('\x00'.join((str(SEED),) + keys)).encode()).hexdigest()
    return random.Random(int(h[:16], 16))


def iso(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


@dataclass
class Link:
    fix: str
    fix_path: str
    fix_hunk: Hunk
    bug: str
    bug_path: str
    bug_hunk_key: tuple[str, str, int]   # (introducer, path, index of hunk in its diff)


def mine_project(git: Git, project: str, rev: str, *, max_fixes: int = MAX_FIXES, max_bug: int = MAX_BUG,
                 max_clean: int = MAX_CLEAN, max_pairs: int = MAX_PAIRS, log=None) -> tuple[list[dict], dict]:
    """The records of one project and its counts."""
    check_allowed(project)
    pin = git.run('rev-parse', '--verify', f'{rev}^{{commit}}').strip()
    commits = read_commits(git, pin)
    fixes = sorted((c for c in commits.values() if is_fix(c)), key=lambda c: c.sha)
    fix_shas = {c.sha for c in fixes}
    rng = stable_rng(project, 'fixes')
    if len(fixes) > max_fixes:
        fixes = rng.sample(fixes, max_fixes)
    fixes.sort(key=lambda c: c.time)

    hunk_cache: dict[tuple[str, str], list[Hunk]] = {}

    def hunks_of(sha: str, path: str) -> list[Hunk]:
        key = (sha, path)
        if key not in hunk_cache:
            c = commits[sha]
            hunk_cache[key] = diff_hunks(git, c.parents[0], sha, path)
        return hunk_cache[key]

    links: list[Link] = []
    blamed: set[str] = set()        # every commit any blamed line reached (even those we then ignore)
    introducers: set[str] = set()
    for fx in fixes:
        parent = fx.parents[0]
        for path in sorted(fx.files):
            if not is_source_py(path):
                continue
            ws = diff_hunks(git, parent, fx.sha, path, context=0, ignore_ws=True)
            old_lines = blamable_lines(ws)
            if not old_lines:
                continue
            full = diff_hunks(git, parent, fx.sha, path)
            for n, (sha, orig, bpath) in blame(git, parent, path, old_lines).items():
                blamed.add(sha)
                intro = commits.get(sha)
                if intro is None or sha == fx.sha or len(intro.parents) != 1 or intro.huge:
                    continue
                if not is_source_py(bpath):
                    continue
                bhunks = hunks_of(sha, bpath)
                idx = next((i for i, h in enumerate(bhunks) if orig in h.added_new_lines()), None)
                if idx is None or bhunks[idx].whitespace_only():
                    continue
                fh = next((h for h in full if n in h.removed_old_lines()), None)
                if fh is None:
                    continue
                introducers.add(sha)
                links.append(Link(fx.sha, path, fh, sha, bpath, (sha, bpath, idx)))
        if log:
            log(f'{project}: fix {fx.sha[:10]} -> {len(links)} links')

    # bug hunks, pairs (one fix hunk per bug hunk, each fix hunk once)
    bug_keys = sorted({ln.bug_hunk_key for ln in links})
    rng = stable_rng(project, 'bugs')
    rng.shuffle(bug_keys)
    by_bug: dict[tuple[str, str, int], list[Link]] = {}
    for ln in links:
        by_bug.setdefault(ln.bug_hunk_key, []).append(ln)
    pairs: dict[tuple[str, str, int], Link] = {}
    used_fix_hunks: set[tuple[str, str, int]] = set()
    for key in bug_keys:
        if len(pairs) >= max_pairs:
            break
        for ln in sorted(by_bug[key], key=lambda x: (x.fix, x.fix_path, x.fix_hunk.old_start)):
            fk = (ln.fix, ln.fix_path, ln.fix_hunk.old_start)
            if fk not in used_fix_hunks:
                used_fix_hunks.add(fk)
                pairs[key] = ln
                break
    chosen = [k for k in bug_keys if k in pairs][:max_bug]
    chosen += [k for k in bug_keys if k not in pairs][:max_bug - len(chosen)]

    records: list[dict] = []
    file_cache: dict[tuple[str, str], str | None] = {}

    def file_at(rev_: str, path: str) -> str | None:
        if (rev_, path) not in file_cache:
            file_cache[(rev_, path)] = git.blob(rev_, path)
        return file_cache[(rev_, path)]

    def record(label: str, sha: str, path: str, h: Hunk) -> dict | None:
        c = commits[sha]
        before = file_at(c.parents[0], path)
        if before is not None and len(before.encode('utf-8', 'replace')) > MAX_FILE_BYTES:
            return None
        rid = f'{project}:{sha[:12]}:{path}:{h.old_start},{h.new_start}:{label}'
        return {'id': rid, 'project': project, 'commit': sha, 'parent': c.parents[0], 'path': path,
                'label': label, 'pair': None, 'old_start': h.old_start, 'old_count': h.old_count,
                'new_start': h.new_start, 'new_count': h.new_count, 'hunk': h.text,
                'file_before': before if before is not None else '', 'added': h.added, 'removed': h.removed,
                'files_in_commit': len(c.files), 'commit_added': c.added, 'commit_removed': c.removed,
                'date': iso(c.time)}

    n_pairs = 0
    for key in chosen:
        sha, path, idx = key
        bug = record('bug', sha, path, hunks_of(sha, path)[idx])
        if bug is None:
            continue
        records.append(bug)
        link = pairs.get(key)
        if link is not None:
            fix = record('fix', link.fix, link.fix_path, link.fix_hunk)
            if fix is not None:
                fix['pair'], bug['pair'] = bug['id'], fix['id']
                records.append(fix)
                n_pairs += 1
    n_bug = sum(1 for r in records if r['label'] == 'bug')

    # clean hunks: same period as the introducers, never blamed, not a fix (by message either)
    n_clean = 0
    if introducers:
        t0 = min(commits[s].time for s in introducers)
        t1 = max(commits[s].time for s in introducers)
        pool = sorted(c.sha for c in commits.values()
                      if t0 <= c.time <= t1 and len(c.parents) == 1 and not c.huge
                      and c.sha not in blamed and c.sha not in fix_shas
                      and not FIX_RE.search(c.subject) and not LINK_RE.search(c.body)
                      and any(is_source_py(p) for p in c.files))
        rng = stable_rng(project, 'clean')
        rng.shuffle(pool)
        want = min(max_clean, max(n_bug, 1))
        # uniform over the hunks of the period (not one per commit: that would over-sample small commits),
        # drawn from the hunks of randomly ordered commits until there are plenty to choose from
        cands: list[tuple[str, str, Hunk]] = []
        for k, sha in enumerate(pool):
            if len(cands) >= 6 * want and k >= 3 * want:
                break
            c = commits[sha]
            cands += [(sha, p, h) for p in sorted(c.files) if is_source_py(p)
                      for h in hunks_of(sha, p) if h.added and not h.whitespace_only()]
        rng.shuffle(cands)
        for sha, p, h in cands:
            if n_clean >= want:
                break
            rec = record('clean', sha, p, h)
            if rec is not None:
                records.append(rec)
                n_clean += 1

    counts = {'project': project, 'commit': pin, 'commits': len(commits), 'fix_commits': len(fix_shas),
              'fixes_blamed': len(fixes), 'links': len(links), 'introducers': len(introducers),
              'bug': n_bug, 'clean': n_clean, 'fix': n_pairs, 'pairs': n_pairs}
    return records, counts


# ---- driver ------------------------------------------------------------------------------------------

def load_projects(path: Path) -> list[dict]:
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise Refused(f'cannot read {path}: {e}') from None
    projects = data.get('project', [])
    for p in projects:
        if not isinstance(p.get('name'), str) or not isinstance(p.get('commit'), str):
            raise Refused(f'{path}: every [[project]] needs name and commit')
        check_allowed(p['name'])
    return projects


def write_output(out: Path, project: str, records: list[dict], counts: dict, counts_path: Path | None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / 'done').mkdir(exist_ok=True)
    with open(out / 'hunks.jsonl', 'a', encoding='utf-8') as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.write(''.join(json.dumps(r, ensure_ascii=False) + '\n' for r in records))
        f.flush()
        os.fsync(f.fileno())
        fcntl.flock(f, fcntl.LOCK_UN)
    (out / 'done' / project.replace('/', '+')).write_text(json.dumps(counts) + '\n')
    if counts_path is not None:
        all_counts = json.loads(counts_path.read_text()) if counts_path.exists() else {}
        all_counts[project] = counts
        counts_path.write_text(json.dumps(dict(sorted(all_counts.items())), indent=1) + '\n')
    done = [json.loads(p.read_text()) for p in sorted((out / 'done').iterdir())]
    tot = {k: sum(d[k] for d in done) for k in ('bug', 'clean', 'fix')}
    lines = [(f'updated {iso(int(time.time()))}; {len(done)} projects done; '
              f'bug {tot["bug"]} clean {tot["clean"]} fix {tot["fix"]} (pairs {tot["fix"]})'),
             'project\tbug\tclean\tfix\tcommit']
    lines += [f'{d["project"]}\t{d["bug"]}\t{d["clean"]}\t{d["fix"]}\t{d["commit"][:12]}' for d in done]
    (out / 'STATUS').write_text('\n'.join(lines) + '\n')


def counts_table(counts: dict[str, dict]) -> str:
    keys = ('bug', 'clean', 'fix', 'fix_commits', 'fixes_blamed', 'introducers', 'commits')
    lines = ['| project | commit | bug | clean | fix (= pairs) | fix commits | fixes blamed | introducers | commits |',
             '|---|---|---:|---:|---:|---:|---:|---:|---:|']
    for name, c in sorted(counts.items(), key=lambda kv: kv[0].lower()):
        lines.append(f'| {name} | `{c["commit"][:12]}` | ' + ' | '.join(str(c[k]) for k in keys) + ' |')
    tot = {k: sum(c[k] for c in counts.values()) for k in keys}
    lines.append(f'| **{len(counts)} projects** | | ' + ' | '.join(f'**{tot[k]}**' for k in keys) + ' |')
    return '\n'.join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--projects', help='comma-separated subset of projects.toml (owner/name or name)')
    ap.add_argument('--pins', type=Path, default=HERE / 'projects.toml')
    ap.add_argument('--mirrors', type=Path, default=DEFAULT_MIRRORS, help='DIR/<owner>+<name>/repo')
    ap.add_argument('--repo', type=Path, help='mine one local git repository (with --name and --commit)')
    ap.add_argument('--name', help='owner/name of --repo')
    ap.add_argument('--commit', default='HEAD')
    ap.add_argument('--out', type=Path, default=DEFAULT_OUT)
    ap.add_argument('--counts', type=Path, default=HERE / 'counts.json')
    ap.add_argument('--no-counts', action='store_true', help='do not update the counts JSON')
    ap.add_argument('--force', action='store_true', help='mine projects that have a done marker again')
    ap.add_argument('--max-fixes', type=int, default=MAX_FIXES)
    ap.add_argument('--table', action='store_true', help='print the counts JSON as a Markdown table and exit')
    ap.add_argument('-v', '--verbose', action='store_true')
    args = ap.parse_args(argv)
    if args.table:
        try:
            print(counts_table(json.loads(args.counts.read_text())))
        except (OSError, ValueError) as e:
            print(f'mine: cannot read {args.counts}: {e}', file=sys.stderr)
            return 2
        return 0
    counts_path = None if args.no_counts else args.counts
    log = (lambda m: print(m, file=sys.stderr)) if args.verbose else None
    try:
        if args.repo is not None:
            if not args.name:
                raise Refused('--repo needs --name owner/name')
            check_allowed(args.name)
            proc = subprocess.run(['git', '-C', str(args.repo), 'rev-parse', '--absolute-git-dir'],
                                  capture_output=True, text=True, check=False)
            if proc.returncode:
                raise Refused(f'{args.repo} is not a git repository')
            jobs = [(args.name, args.commit, Path(proc.stdout.strip()))]
        else:
            if args.name:
                check_allowed(args.name)
            projects = load_projects(args.pins)
            if args.projects:
                wanted = [w.strip() for w in args.projects.split(',') if w.strip()]
                for w in wanted:
                    check_allowed(w)
                sel = [p for p in projects if p['name'] in wanted or p['name'].split('/')[-1] in wanted]
                missing = set(wanted) - {p['name'] for p in sel} - {p['name'].split('/')[-1] for p in sel}
                if missing:
                    raise Refused(f'not in {args.pins}: {", ".join(sorted(missing))}')
                projects = sel
            jobs = [(p['name'], p['commit'], args.mirrors / p['name'].replace('/', '+') / 'repo') for p in projects]
        failed = 0
        for name, rev, git_dir in jobs:
            marker = args.out / 'done' / name.replace('/', '+')
            if marker.exists() and not args.force:
                print(f'{name}: done already (--force to mine again)', file=sys.stderr)
                continue
            if not git_dir.is_dir():
                print(f'{name}: no snapshot at {git_dir}, skipped', file=sys.stderr)
                continue
            t = time.time()
            try:
                records, counts = mine_project(Git(git_dir), name, rev, max_fixes=args.max_fixes, log=log)
            except RuntimeError as e:
                print(f'{name}: not mined: {e}', file=sys.stderr)
                failed += 1
                continue
            write_output(args.out, name, records, counts, counts_path)
            print(f'{name}: bug {counts["bug"]} clean {counts["clean"]} fix {counts["fix"]} '
                  f'({counts["fixes_blamed"]}/{counts["fix_commits"]} fixes blamed, {time.time() - t:.0f}s)',
                  file=sys.stderr)
    except Refused as e:
        print(f'mine: {e}', file=sys.stderr)
        return 2
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
