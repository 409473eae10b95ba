"""ruff on the changed lines of Python files: deterministic, local, milliseconds.

ruff reads the whole new revision of each changed Python file (so names and imports resolve), or
for a bare patch the file's hunks made into one parseable program (reviewbot.fragments), and
only diagnostics that land on lines the diff adds are kept: a review comments on the change, not on
what was already there. The rule set is chosen for precision, not coverage: pyflakes checks that are
real errors (undefined names, `is` with a literal, broken format strings, ...), bugbear rules that are
bugs rather than style, the bandit-derived security rules whose hit is nearly always worth a look,
and pylint/ruff/async rules that name real defects. ruff runs `--isolated`, so a project's own ruff
configuration (which may ignore these rules) does not change what the review reports.

One check ruff lacks runs beside it on the same text: a call to a coroutine function defined in the
same file (or asyncio.sleep & co.) inside `async def` whose result is never awaited.
"""
from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

from reviewbot import fragments
from reviewbot.config import Config
from reviewbot.core import ChangeKind, FileChange, Finding, Severity, Skipped
from reviewbot.languages import is_python
from reviewbot.reviewers import (
    ReviewContext,
    ReviewerResult,
    first_added_line,
    new_side_lines,
)
from reviewbot.reviewers.pychecks import drop_known_safe, unawaited_coroutines

# Errors: a hit is a bug or a security hole in nearly every real use.
ERROR_RULES = (
    # pyflakes: code that cannot work as written
    'F501', 'F502', 'F503', 'F504', 'F505', 'F506', 'F507', 'F508', 'F509',
    'F521', 'F522', 'F523', 'F524', 'F525', 'F601', 'F602', 'F621', 'F622', 'F631', 'F632',
    'F633', 'F634', 'F701', 'F702', 'F704', 'F706', 'F707', 'F811', 'F821', 'F822', 'F823', 'F901',
    # pylint errors
    'PLE',
    # bandit-derived security rules
    'S102', 'S201', 'S202', 'S301', 'S302', 'S306', 'S307', 'S308', 'S323', 'S501', 'S502',
    'S503', 'S504', 'S505', 'S506', 'S507', 'S601', 'S602', 'S604', 'S605', 'S608', 'S609', 'S610',
    'S611', 'S612', 'S701', 'S702', 'S704',
    # bugbear rules that are bugs
    'B002', 'B006', 'B012', 'B016', 'B023', 'B025', 'B029', 'B030', 'B032', 'B035',
    # pylint warnings that are bugs: exception built but not raised, `except A or B`
    'PLW0133', 'PLW0711',
)
# Warnings: usually a defect, sometimes deliberate.
WARNING_RULES = (
    # S508/S509: SNMP v1/v2c or v3 without auth+privacy (cleartext community / no encryption).
    # Other bandit rules were measured on real code and left out (eval/results/rules-fp.md):
    # S103/S104/S105-S108/S310/S311/S312/S313-S319/S321 mostly flag correct code there; the
    # patterns reviewer has narrower rules for world-writable modes and random secrets.
    'S110', 'S112', 'S303', 'S304', 'S305', 'S324', 'S508', 'S509',
    'B003', 'B005', 'B011', 'B013', 'B014', 'B015', 'B017', 'B018', 'B019', 'B020', 'B021', 'B022',
    'B026', 'B031', 'B033', 'B034', 'B039',
    'RUF006', 'RUF018', 'RUF024', 'RUF026', 'RUF034', 'RUF064',
    'ASYNC210', 'ASYNC212', 'ASYNC220', 'ASYNC221', 'ASYNC222', 'ASYNC230', 'ASYNC251',
    'PLW0127', 'PLW0128', 'PLW0129', 'PLW0177', 'PLW0245', 'PLW0642', 'PLW1501', 'PLW1507',
    'PLW1508', 'PLW1509', 'PLW2101', 'PLW3301',
    'SIM222',  # `x == 'a' or 'b'`: a truthy constant in `or`, always true
)
RUFF_TIMEOUT = 30.0  # seconds for one file; ruff takes milliseconds


@functools.cache
def ruff_binary() -> str | None:
    """The ruff executable that ships with the `ruff` package, else one on PATH."""
    try:
        from ruff.__main__ import find_ruff_bin
        path = find_ruff_bin()
        if path and os.path.isfile(path):
            return str(path)
    except (ImportError, FileNotFoundError):
        pass
    return shutil.which('ruff')


def severity_of(code: str) -> Severity:
    if any(code == r or (len(r) < 4 and code.startswith(r)) for r in ERROR_RULES):
        return Severity.ERROR
    return Severity.WARNING


def _ruff(binary: str, args: list[str], select: list[str], ignore: list[str], timeout: float,
          stdin: bytes | None = None) -> list[dict[str, Any]]:
    cmd = [binary, 'check', '--isolated', '--no-cache', '--no-fix', '--exit-zero',
           '--output-format', 'json', '--select', ','.join(select)]
    if ignore:
        cmd += ['--ignore', ','.join(ignore)]
    proc = subprocess.run([*cmd, *args], input=stdin, capture_output=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        err = proc.stderr.decode('utf-8', 'replace').strip().splitlines()
        raise ValueError(err[-1] if err else f'exit {proc.returncode}')
    return json.loads(proc.stdout or b'[]')


def run_ruff(binary: str, path: str, text: str, select: list[str], ignore: list[str],
             timeout: float = RUFF_TIMEOUT) -> list[dict[str, Any]]:
    """ruff's JSON diagnostics for `text` as if it were the file `path`. Raises OSError/ValueError."""
    return _ruff(binary, ['--stdin-filename', path, '-'], select, ignore, timeout,
                 stdin=text.encode('utf-8', 'surrogateescape'))


def run_ruff_each(binary: str, path: str, texts: list[str], select: list[str], ignore: list[str],
                  timeout: float = RUFF_TIMEOUT) -> list[list[dict[str, Any]]]:
    """run_ruff for several texts of the file `path` in ONE ruff process: the diagnostics of each
    text, in order. Each text is a file of `path`'s name in a folder of its own."""
    if not texts:
        return []
    with tempfile.TemporaryDirectory(prefix='reviewbot-ruff-') as tmp:
        files = [Path(tmp) / str(i) / PurePosixPath(path).name for i in range(len(texts))]
        for file, text in zip(files, texts):
            file.parent.mkdir()
            file.write_bytes(text.encode('utf-8', 'surrogateescape'))
        diagnostics = _ruff(binary, ['--', *map(str, files)], select, ignore, timeout)
    out: list[list[dict[str, Any]]] = [[] for _ in texts]
    for d in diagnostics:
        out[int(Path(d['filename']).parent.name)].append(d)
    return out


_MAX_SNIPPET_LINES = 200


# A snippet has lost its imports, and ruff's bandit rules resolve calls through them
# (`yaml.load` is S506 only if `yaml` is the module). Line 1 of a snippet that starts later is
# blank padding: the usual modules are imported there, so line numbers stay true.
_SNIPPET_IMPORTS = fragments.SNIPPET_IMPORTS


def _with_imports(text: str) -> str:
    return _SNIPPET_IMPORTS + text if text.startswith('\n') else text


def _is_syntax_error(d: dict[str, Any]) -> bool:
    # ruff < 0.9 reports syntax errors with no code; newer ones as 'invalid-syntax'
    return not d.get('code') or d.get('code') == 'invalid-syntax' or d.get('name') == 'invalid-syntax'


def _single_statement(text: str) -> str | None:
    """One added line as a module of its own: dedented; a block opener gets a body."""
    line = text.strip()
    if not line or line.startswith(('#', ')', ']', '}', 'elif ', 'else', 'except', 'finally')):
        return None
    if line.endswith(':'):
        line += ' pass'
    for keyword in ('return ', 'yield ', 'await ', 'raise '):  # only legal inside a function
        if line.startswith(keyword):
            line = '_ = ' + line[len(keyword):]
    return line


# In a fragment (reviewbot.fragments) these pyflakes rules still hold: they read one expression or
# statement (format strings, duplicate keys, `is` with a literal, assert on a tuple, ...).
FRAGMENT_F_RULES = frozenset({
    'F501', 'F502', 'F503', 'F504', 'F505', 'F506', 'F507', 'F508', 'F509', 'F521', 'F522', 'F523',
    'F524', 'F525', 'F601', 'F602', 'F621', 'F622', 'F631', 'F632', 'F633', 'F634', 'F707', 'F901'})
# ... and these would be fooled by the scaffold: `nonlocal`, `global`, bare `raise` and `await`
# whose real enclosing function or handler is outside the hunk.
FRAGMENT_IGNORE = ('PLE0117', 'PLE0118', 'PLE0704', 'PLE1142')


def _unawaited_finding(path: str, line: int, name: str, code: str) -> Finding:
    return Finding(
        path=path, line=line, end_line=line, severity=Severity.ERROR,
        category='bug/unawaited-coroutine',
        message=(f'`{name}(...)` is a coroutine and is never awaited here: it does not run, and '
                 'the value used is a coroutine object. Add `await`.'),
        reviewer='ruff', anchored_code=code)


class RuffReviewer:
    name = 'ruff'

    def __init__(self, config: Config | None = None):
        section = config.section('ruff') if config is not None else {}
        self.select = list(ERROR_RULES + WARNING_RULES) + list(section.get('extend_select', []))
        self.ignore = list(section.get('ignore', []))

    def plan(self, files: list[FileChange], ctx: ReviewContext) -> list[str]:
        py = [f for f in files if is_python(f.path) and f.kind is not ChangeKind.DELETED]
        return [f'ruff: check {len(py)} Python files, report only added lines (local, nothing leaves)']

    def review(self, files: list[FileChange], ctx: ReviewContext) -> ReviewerResult:
        result = ReviewerResult()
        py = [f for f in files if is_python(f.path) and f.kind is not ChangeKind.DELETED
              and f.added_count and not f.is_binary]
        result.stats['python_files'] = len(py)
        if not py:
            return result
        binary = ruff_binary()
        if binary is None:
            for f in py:
                result.skipped.append(Skipped(f.path, 'ruff is not installed (pip install ruff)',
                                              reviewer=self.name, lines=f.added_count))
            return result
        for f in py:
            left = ctx.time_left()
            if left is not None and left <= 0:  # the stage's budget bounds this reviewer too
                result.skipped.append(Skipped(f.path, 'ruff: over the time budget, not checked',
                                              reviewer=self.name, lines=f.added_count))
                continue
            text = ctx.read_new_file(f.path)
            try:
                if text is None:
                    # A diff without its repository: lint the diff's fragments (reviewbot.fragments)
                    diagnostics, unawaited = self._lint_fragments(binary, f)
                    result.findings.extend(unawaited)
                    result.stats['snippet_files'] = result.stats.get('snippet_files', 0) + 1
                else:
                    diagnostics = run_ruff(binary, f.path, text, self.select, self.ignore,
                                           RUFF_TIMEOUT if left is None else min(RUFF_TIMEOUT, max(left, 1.0)))
                    diagnostics = drop_known_safe(diagnostics, text)
            except (OSError, ValueError, subprocess.TimeoutExpired) as e:
                result.skipped.append(Skipped(f.path, f'ruff failed: {e}', reviewer=self.name,
                                              lines=f.added_count))
                continue
            result.findings.extend(self._findings(f, diagnostics, whole_file=text is not None))
            if text is not None:
                result.findings.extend(self._unawaited(f, text))
        return result

    def _lint_fragments(self, binary: str, f: FileChange) -> tuple[list[dict[str, Any]], list[Finding]]:
        """Diagnostics (at new-file lines) for a file whose full new revision is not available (a
        diff file or stdin outside its repository), and unawaited coroutines in it. The hunks are
        linted together as one repaired program (reviewbot.fragments); diagnostics that start on
        scaffolding are dropped. Rules that need the whole module or are fooled by the scaffold
        (undefined and unused names, `await`/`nonlocal`/bare `raise` out of their place) are left
        out. Added lines the repair had to cut out are linted one by one (one ruff process for all)."""
        select = [r for r in self.select if not r.startswith('F') or r in FRAGMENT_F_RULES]
        ignore = self.ignore + list(FRAGMENT_IGNORE)
        frag = fragments.build(f)
        out: list[dict[str, Any]] = []
        unawaited: list[Finding] = []
        added, text_at = new_side_lines(f)
        if frag is not None:
            diags = drop_known_safe(run_ruff(binary, f.path, frag.text, select, ignore), frag.text)
            for d in diags:
                start = int(d['location']['row'])
                end = int((d.get('end_location') or d['location'])['row'])
                line = frag.anchor(start, end, added)
                if line is not None and not _is_syntax_error(d):
                    out.append({**d, 'location': {'row': line}, 'end_location': {'row': line}})
            if 'unawaited-coroutine' not in self.ignore:
                for row, name in unawaited_coroutines(frag.text):
                    line = frag.anchor(row, row, added)
                    if line is not None:
                        unawaited.append(_unawaited_finding(f.path, line, name, text_at[line]))
        lines = sorted(set(frag.dropped if frag is not None else added) & added)[:_MAX_SNIPPET_LINES]
        singles = [(line, _single_statement(text_at[line])) for line in lines]
        texts = [_with_imports('\n' * (line - 1) + one + '\n') for line, one in singles if one is not None]
        for diags in run_ruff_each(binary, f.path, texts, select, ignore):
            out.extend(d for d in diags if not _is_syntax_error(d))
        return out, unawaited

    def _unawaited(self, f: FileChange, text: str) -> list[Finding]:
        if 'unawaited-coroutine' in self.ignore:
            return []
        added = {ln.new_lineno: ln.text for h in f.hunks for ln in h.added}
        return [_unawaited_finding(f.path, line, name, added[line])
                for line, name in unawaited_coroutines(text) if line in added]

    def _findings(self, f: FileChange, diagnostics: list[dict[str, Any]],
                  whole_file: bool = True) -> list[Finding]:
        """Findings on added lines. ruff's own fix for a diagnostic (its edits, and whether ruff
        calls it safe or unsafe) rides along in `extra['ruff_fix']` for the fix stage, when the
        diagnostics are about the whole file (a snippet's edits are not about the real file)."""
        added, text_at = new_side_lines(f)
        out = []
        for d in diagnostics:
            if _is_syntax_error(d):  # the file may target another Python: not our call
                continue
            code = str(d['code'])
            # a multi-line diagnostic (e.g. a SQL string over several lines) is reported at its
            # first added line
            line = first_added_line(added, int(d['location']['row']),
                                    int((d.get('end_location') or d['location'])['row']))
            if line is None:
                continue
            out.append(Finding(
                path=f.path, line=line, end_line=line, severity=severity_of(code),
                category=f'ruff/{code}', message=f'{d.get("message", "").strip()} (ruff {code})',
                reviewer=self.name, anchored_code=text_at.get(line, ''),
                extra={**({'url': d.get('url')} if d.get('url') else {}),
                       **({'ruff_fix': d['fix']} if whole_file and d.get('fix') else {})},
            ))
        return out


def from_config(config: Config, **_: Any) -> RuffReviewer:
    """The registry's factory (reviewbot.reviewers.REGISTRY)."""
    return RuffReviewer(config)
