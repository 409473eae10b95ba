"""semgrep with a small bundled rule set on the changed lines of JS/TS, Go, Java, C/C++ (and Python).

ruff covers Python, except data-flow classes (request input reaching a file path, a fetched URL, a
command, SQL, a template, an HTML response, a redirect, ...) and a few constructs ruff's rules flag
too broadly (`random` for secrets, chmod modes), which the Python rules here add. The rules
(reviewbot/data/patterns/*.yaml) are few and chosen for precision: well-known CWE classes in the
form that is a hole in nearly every real use (HTML sinks fed non-literals, shell commands and SQL
built from strings, TLS verification off, deserialisation of network bytes, unbounded copies into
fixed buffers, non-literal format strings, allocation sizes that can wrap, use after free / double
free within a function, weak random for secrets, XXE, open redirects, prototype pollution, ...).
Every rule is kept quiet on real, well-kept code (eval/results/rules-fp-c.md). semgrep runs fully
offline (`--metrics=off`, only our local rule files, never the registry), once per review over all
files: the new revisions are written into a temporary directory under their relative paths, so the
startup cost is paid once; of a Python file the untouched top-level functions and classes are
blanked (reviewbot.pyslice: lines and byte offsets kept; a function is its own taint scope, so they
cannot change what is found elsewhere, and matching them was half of semgrep's time in a hook). As
with ruff, only hits that land on lines the diff adds are reported. A
file whose new revision cannot be read (a bare patch) is scanned as its hunks made into one
parseable program (reviewbot.fragments), and each hit is mapped back to its new-file line.

semgrep runs from an environment of its own (reviewbot.toolenv: `reviewbot tools install semgrep`,
which scripts/setup.sh runs), never from the user's: its pins would break pip's check there.
Without it the reviewer says so in a note naming that command and skips; it never fails the review
and never installs anything. Only needed work: when no changed file is in a language a bundled rule
covers (their `languages:`), semgrep is neither looked for nor run.
"""
from __future__ import annotations

import functools
import json
import re
import subprocess
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

from reviewbot import fragments, languages, pyslice, toolenv
from reviewbot.config import Config
from reviewbot.core import ChangeKind, FileChange, Finding, Severity, Skipped
from reviewbot.reviewers import (
    ReviewContext,
    ReviewerResult,
    first_added_line,
    new_side_lines,
)

RULES_DIR = Path(__file__).resolve().parent.parent / 'data' / 'patterns'
SEMGREP_TIMEOUT = 120.0  # seconds for the whole run when the review has no deadline
MISSING_NOTE = f'patterns: semgrep not installed: run `{toolenv.INSTALL_COMMAND}`'
_LANGUAGES_LINE = re.compile(r'^\s*-?\s*languages:\s*\[([^\]]*)\]', re.MULTILINE)


def rule_files() -> list[Path]:
    return sorted(RULES_DIR.glob('*.yaml'))


@functools.cache
def rule_languages() -> frozenset[str]:
    """Every language a bundled rule names (`languages: [...]`, semgrep's ids, as in
    reviewbot.languages); read as text, not YAML: a hook must not pay for parsing the rules."""
    return frozenset(lang.strip() for path in rule_files()
                     for m in _LANGUAGES_LINE.finditer(path.read_text(encoding='utf-8'))
                     for lang in m.group(1).split(',') if lang.strip())


def is_pattern_target(path: str) -> bool:
    """A file in a language some bundled rule covers (Python only for what ruff lacks); not a
    type stub (.pyi), which holds no code a rule matches."""
    return languages.language(path) in rule_languages() and not path.lower().endswith('.pyi')


def locate(config: Config | None = None) -> toolenv.Semgrep:
    """Where semgrep comes from (reviewbot.toolenv), with `[tool.reviewbot.patterns] semgrep`."""
    section = config.section('patterns') if config is not None else {}
    return toolenv.locate_semgrep(str(section.get('semgrep') or ''))


def _safe_relpath(path: str) -> PurePosixPath | None:
    """The diff path as a relative path that stays inside the temp dir, else None."""
    p = PurePosixPath(path)
    if p.is_absolute() or any(part in ('', '.', '..') for part in p.parts):
        return None
    return p


def run_semgrep(binary: str, root: Path, timeout: float, experimental: bool = True,
                configs: list[Path] | None = None) -> dict[str, Any]:
    """semgrep's JSON output for every file under `root`, with only the bundled rules.

    `--experimental` is semgrep's native (OCaml) CLI: same engine and output, ~0.5 s to start
    against ~6 s for the Python wrapper. Raises OSError, ValueError or subprocess.TimeoutExpired.
    """
    cmd = [binary, 'scan']
    if experimental:
        cmd.append('--experimental')
    cmd += ['--metrics=off', '--disable-version-check', '--json', '--quiet', '--no-git-ignore',
            '--timeout', str(max(1, int(timeout))), '--max-target-bytes', '2000000']
    for rules in rule_files() if configs is None else configs:
        cmd += ['--config', str(rules)]
    cmd.append('.')
    env = toolenv.quiet_env(root.parent / 'semgrep-state')  # settings and log: not in the user's home
    proc = subprocess.run(cmd, cwd=root, capture_output=True, timeout=timeout, env=env, check=False)
    try:
        out = json.loads(proc.stdout or b'')
    except json.JSONDecodeError:
        err = proc.stderr.decode('utf-8', 'replace').strip().splitlines()
        raise ValueError(err[-1] if err else f'exit {proc.returncode}, no JSON output') from None
    if not isinstance(out, dict):
        raise ValueError("unexpected semgrep output")  # caught with the others
    return out


class PatternsReviewer:
    name = 'patterns'

    def __init__(self, config: Config | None = None):
        self.config = config
        section = config.section('patterns') if config is not None else {}
        self.ignore = set(section.get('ignore', []))

    def plan(self, files: list[FileChange], ctx: ReviewContext) -> list[str]:
        targets = self._targets(files)
        return [(f'patterns: semgrep (bundled rules, offline) on {len(targets)} JS/TS/Go/Java/C/C++/'
                 'Python files, report only added lines (local, nothing leaves)')]

    @staticmethod
    def _targets(files: list[FileChange]) -> list[FileChange]:
        return [f for f in files if is_pattern_target(f.path) and f.kind is not ChangeKind.DELETED
                and f.added_count and not f.is_binary]

    def review(self, files: list[FileChange], ctx: ReviewContext) -> ReviewerResult:
        result = ReviewerResult()
        targets = self._targets(files)
        result.stats['pattern_files'] = len(targets)
        if not targets:
            return result
        semgrep = locate(self.config)  # only now: a diff with no target never looks for semgrep
        binary = semgrep.path
        if binary is None:
            result.notes.append(f'patterns: {semgrep.problem}')
            for f in targets:
                result.skipped.append(Skipped(f.path, semgrep.problem, reviewer=self.name,
                                              lines=f.added_count))
            return result
        left = ctx.time_left()
        timeout = SEMGREP_TIMEOUT if left is None else max(1.0, left)
        with tempfile.TemporaryDirectory(prefix='reviewbot-patterns-') as tmp:
            root = Path(tmp) / 'src'
            root.mkdir()
            # An empty ignore file: semgrep's built-in one would skip tests/, vendor/, ...
            (root / '.semgrepignore').write_text('')
            scanned: dict[str, FileChange] = {}
            pieces: dict[str, fragments.Fragment] = {}  # files scanned from the diff's fragments
            for f in targets:
                rel = _safe_relpath(f.path)
                text = ctx.read_new_file(f.path) if rel is not None else None
                frag = fragments.build(f) if text is None and rel is not None else None
                if frag is not None:
                    # A diff without its repository: its hunks, made into one parseable program
                    # (reviewbot.fragments); findings are mapped back to new-file lines.
                    text = frag.text
                    pieces[str(rel)] = frag
                if text is None or rel is None:
                    reason = ('unsafe path in the diff' if rel is None
                              else 'new revision of the file not readable, semgrep needs the whole file')
                    result.skipped.append(Skipped(f.path, reason, reviewer=self.name,
                                                  lines=f.added_count))
                    continue
                if frag is None and languages.language(f.path) == 'python':
                    text = pyslice.narrowed(text, new_side_lines(f)[0])  # only what the change touches
                dest = root / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_text(text, encoding='utf-8', errors='surrogateescape')
                scanned[str(rel)] = f
            if not scanned:
                return result
            try:
                try:
                    out = run_semgrep(binary, root, timeout)
                except ValueError:
                    # the native CLI is newer; the Python wrapper gives the same results, slower
                    left = ctx.time_left()
                    out = run_semgrep(binary, root, timeout if left is None else max(1.0, left),
                                      experimental=False)
            except (OSError, ValueError, subprocess.TimeoutExpired) as e:
                reason = 'semgrep timed out' if isinstance(e, subprocess.TimeoutExpired) else f'semgrep failed: {e}'
                for f in scanned.values():
                    result.skipped.append(Skipped(f.path, reason, reviewer=self.name,
                                                  lines=f.added_count))
                return result
        result.findings.extend(self._findings(scanned, _mapped(out.get('results') or [], scanned, pieces)))
        for err in out.get('errors') or []:
            # A file semgrep could not parse (partly) is said, not hidden.
            path = str(err.get('path') or '').removeprefix('./')
            if path in scanned:
                result.notes.append(f'patterns: {path}: {err.get("type", "error")}: '
                                    f'{str(err.get("message", "")).splitlines()[0][:200]}')
        result.stats['semgrep_results'] = len(out.get('results') or [])
        return result

    def _findings(self, scanned: dict[str, FileChange], results: list[dict[str, Any]]) -> list[Finding]:
        out: list[Finding] = []
        seen: set[tuple[str, int, str]] = set()
        lines_of = {path: new_side_lines(f) for path, f in scanned.items()}
        for r in results:
            rule = str(r.get('check_id', '')).rsplit('.', 1)[-1]
            path = str(r.get('path', '')).removeprefix('./')
            f = scanned.get(path)
            if f is None or rule in self.ignore:
                continue
            added, text_at = lines_of[path]
            line = first_added_line(added, int(r['start']['line']), int(r.get('end', r['start'])['line']))
            if line is None or (f.path, line, rule) in seen:
                continue
            seen.add((f.path, line, rule))
            extra = r.get('extra') or {}
            meta = extra.get('metadata') or {}
            cwe = meta.get('cwe')
            message = ' '.join(str(extra.get('message', '')).split())
            out.append(Finding(
                path=f.path, line=line, end_line=line,
                severity=Severity.WARNING if extra.get('severity') in ('WARNING', 'INFO') else Severity.ERROR,
                category=f'patterns/{rule}',
                message=f'{message} ({cwe})' if cwe else message,
                reviewer=self.name, anchored_code=text_at.get(line, ''),
                extra={**({'cwe': cwe} if cwe else {}), **_fix_of(r)},
            ))
        return out


def _fix_of(r: dict[str, Any]) -> dict[str, Any]:
    """A rule's `fix:`/`fix-regex:` as semgrep rendered it for this match (byte offsets of the
    matched text, its replacement, and the rule's `fix-safety`), for the fix stage."""
    extra = r.get('extra') or {}
    fix = extra.get('fix')
    if not isinstance(fix, str):
        return {}
    safety = (extra.get('metadata') or {}).get('fix-safety', 'safe')
    return {'semgrep_fix': {'start': int(r['start']['offset']), 'end': int(r['end']['offset']),
                            'text': fix, 'safety': 'unsafe' if safety == 'unsafe' else 'safe'}}


def _mapped(results: list[dict[str, Any]], scanned: dict[str, FileChange],
            pieces: dict[str, fragments.Fragment]) -> list[dict[str, Any]]:
    """semgrep results with the lines of fragment files mapped to new-file lines; a result that
    starts on scaffolding, or touches no added line, is dropped."""
    out = []
    added_in = {path: new_side_lines(scanned[path])[0] for path in pieces}  # once per file
    for r in results:
        path = str(r.get('path', '')).removeprefix('./')
        frag = pieces.get(path)
        if frag is None:
            out.append(r)
            continue
        added = added_in[path]
        line = frag.anchor(int(r['start']['line']), int(r.get('end', r['start'])['line']), added)
        if line is not None:
            # a fix semgrep rendered is about the repaired program, not the file: it is dropped
            extra = {k: v for k, v in (r.get('extra') or {}).items() if k != 'fix'}
            out.append({**r, 'start': {**r['start'], 'line': line}, 'end': {**r['start'], 'line': line},
                        'extra': extra})
    return out


def from_config(config: Config, **_: Any) -> PatternsReviewer:
    """The registry's factory (reviewbot.reviewers.REGISTRY)."""
    return PatternsReviewer(config)
