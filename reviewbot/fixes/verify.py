"""The verifier: a fix is shown to a person only when every check holds on the patched text.

Checks, in the order they run (the first that fails names the rejection reason):
  in-hunk          every replaced line lies inside the finding's hunk, give or take 3 lines;
  not-suppression  the fix adds no `noqa`, `nosec`, `nosemgrep`, `pragma: allowlist secret`, ...;
  not-deletion     the fix does not just delete the flagged code (or replace it with `pass`);
  no-secret        the replacement carries nothing the secrets reviewer reports, nor the mask;
  no-controls      the replacement holds no control or bidi character ("Trojan Source"): code that
                   reads differently than it runs is never proposed, and no output has to escape it;
  parses           Python: the patched file compiles (`compile()`, in memory); other languages:
                   semgrep parses it with no error the original did not have (when semgrep runs);
  finding-gone     the reviewer that raised the finding (ruff, patterns, secrets) run again on the
                   patched file no longer raises it at the fixed lines;
  no-new-findings  the deterministic reviewers raise nothing on the patched file the original did
                   not have (counted per rule).
The patched text lives in memory and in a temporary directory the reviewers read: the work tree
is never touched.
"""
from __future__ import annotations

import collections
import dataclasses
import re
import warnings
from pathlib import PurePosixPath

from reviewbot.core import (
    ChangeKind,
    Diff,
    DiffLine,
    FileChange,
    Finding,
    Fix,
    Hunk,
    LineKind,
)
from reviewbot.fixes.text import apply_fix, bare, split_lines
from reviewbot.languages import is_python
from reviewbot.reviewers import ReviewContext
from reviewbot.textsafe import has_unsafe_chars

HUNK_SLACK = 3  # lines a fix may reach past its hunk
# reviewers whose findings are re-checked on the patched text; the others (model, cloud) are not
# deterministic, and the cloud may not be sent the code again
DETERMINISTIC = ('secrets', 'ruff', 'patterns')
LINE_LOCAL = ('secrets',)  # reviewers whose findings depend on one line: only the fixed lines run
_SUPPRESSION = re.compile(
    r'noqa|nosec|nosemgrep|nosonar|nolint|pragma:\s*allowlist|allowlist\s+secret|eslint-disable|'
    r'tslint:disable|type:\s*ignore|pylint:\s*disable|@SuppressWarnings|lgtm\s*\[|'
    r'detect-secrets|ruff:\s*noqa|pyright:\s*ignore|#\s*nocov|\bnolint\b', re.IGNORECASE)
_COMMENT = re.compile(r'^\s*(#|//|/\*|\*|--)')
_PLACEHOLDERS = frozenset({'pass', '...', ''})


@dataclasses.dataclass
class Candidate:
    finding: Finding
    fix: Fix


def _code_lines(text: str) -> list[str]:
    return [' '.join(ln.split()) for ln in text.split('\n') if ln.strip() and not _COMMENT.match(ln)]


def static_reason(c: Candidate, fc: FileChange, text: str) -> str | None:
    """The first static check that fails (None: all hold). Appends nothing: pure."""
    fx = c.fix
    n = len(split_lines(text))
    if not 1 <= fx.line <= fx.end_line <= n:
        return 'outside-file'
    if fx.replacement == fx.original:
        return 'no-change'
    hunk = fc.hunk_at(c.finding.line or 0)
    if hunk is None or fx.line < hunk.new_start - HUNK_SLACK or fx.end_line > hunk.new_end + HUNK_SLACK:
        return 'outside-hunk'
    if len(_SUPPRESSION.findall(fx.replacement)) > len(_SUPPRESSION.findall(fx.original)):
        return 'suppression'
    if deletes_flagged_code(c, text):
        return 'deletes-code'
    if carries_secret(fx):  # a suggestion is shown and posted: it may carry no secret
        return 'contains-secret'
    if has_unsafe_chars(fx.replacement):
        return 'control-characters'
    return None


_TARGET = re.compile(r'^\s*(?:return\b|yield\b|[\w.]+(?:\[[^\]]*\])?\s*(?:,\s*[\w.]+\s*)*(?::[^=]+)?=(?!=))')
_STRING = re.compile(r'(["\'])(?:\\.|(?!\1).)*\1')
_NOT_NAMES = frozenset({'True', 'False', 'None', 'true', 'false', 'null', 'nil', 'return', 'await',
                        'not', 'and', 'or', 'is', 'in', 'if', 'else', 'lambda', 'pass'})


def _used_names(code: list[str]) -> set[str]:
    """Names the lines read (right of an assignment or `return`, outside string literals)."""
    out: set[str] = set()
    for ln in code:
        m = _TARGET.match(ln)
        rest = _STRING.sub('', ln[m.end():] if m else ln)
        out |= set(re.findall(r'[A-Za-z_]\w*', rest)) - _NOT_NAMES
    return out


def carries_secret(fx: Fix) -> bool:
    """The secrets reviewer's scan finds a secret on a line of the replacement, or it holds the
    redaction mask. (The redactor's eager scan is not used here: it also masks code such as
    `KEY = rsa.generate_private_key(...)`; what it masks in a report stays masked there.)"""
    from reviewbot.privacy.redact import MASK, scan_line
    return MASK in fx.replacement or any(scan_line(ln) for ln in fx.replacement.split('\n') if ln.strip())


def _statement_start(text: str, line: int) -> int | None:
    """First line of the innermost Python statement holding `line` (None: no parse, no statement)."""
    import ast

    from reviewbot.fixes.edits import parse  # the tree the rewrite fixers read, not a second parse
    try:
        tree = parse(text)
    except (SyntaxError, ValueError):
        return None
    best = None
    for node in ast.walk(tree):
        if (isinstance(node, ast.stmt) and node.lineno <= line <= (node.end_lineno or node.lineno)
                and (best is None or node.lineno >= best.lineno)):
            best = node
    return None if best is None else best.lineno


def deletes_flagged_code(c: Candidate, text: str) -> bool:
    """The fix writes nothing but `pass`/`...`, or only removes lines and with them the flagged
    statement. Removing part of a statement (an argument line such as `verify=False,`) is an edit:
    in Python the flagged statement must keep its first line."""
    fx = c.fix
    old_code, new_code = _code_lines(fx.original), _code_lines(fx.replacement)
    if all(ln in _PLACEHOLDERS for ln in new_code):
        return True
    old_names = _used_names(old_code)
    if old_names and not old_names & _used_names(new_code):
        return True  # `result = 0` for `result = subprocess.run(...)`: the flagged code is gone
    if not (all(ln in old_code for ln in new_code) and len(new_code) < len(old_code)):
        return False  # something new is written
    if is_python(c.finding.path) and c.finding.line is not None:
        first = _statement_start(text, c.finding.line)
        if first is not None and not fx.line <= first <= fx.end_line:
            return False  # the statement starts before the fixed lines: it stays
        if first is not None:
            head = ' '.join(split_lines(text)[first - 1].split())
            return head not in new_code
    return True


def python_parses(path: str, text: str) -> bool:
    if not is_python(path):
        return True
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')  # SyntaxWarning for odd escapes: not our concern here
            compile(text, path, 'exec', dont_inherit=True)
    except (SyntaxError, ValueError):
        return False
    return True


def whole_file_change(path: str, text: str, lines: range | None = None) -> FileChange:
    """The file as a diff that adds it (or only `lines` of it): reviewers then check every line."""
    body = split_lines(text)
    numbers = lines if lines is not None else range(1, len(body) + 1)
    dlines = [DiffLine(LineKind.ADDED, bare(body[k - 1]), None, k)
              for k in numbers if 1 <= k <= len(body)]
    start = dlines[0].new_lineno if dlines else 1
    hunk = Hunk(0, 0, start or 1, len(dlines), '', dlines)
    return FileChange(None, path, ChangeKind.ADDED, [hunk] if dlines else [])


def _variant_path(i: int, path: str) -> str:
    return str(PurePosixPath(f'_reviewbot_fix{i}') / path)


def analyze(variants: dict[str, tuple[str, range | None]], reviewers: list, ctx: ReviewContext
            ) -> tuple[dict[str, list[Finding]], set[str]]:
    """Findings of the deterministic reviewers per variant path (variant -> (text, lines or None
    for all)), and the variant paths semgrep could not parse cleanly."""
    out: dict[str, list[Finding]] = {p: [] for p in variants}
    unparsed: set[str] = set()
    texts = {p: t for p, (t, _) in variants.items()}
    vctx = dataclasses.replace(ctx, read_new_file=texts.get)
    for r in reviewers:
        changes = [whole_file_change(p, t, lines if r.name in LINE_LOCAL else None)
                   for p, (t, lines) in variants.items()]
        result = r.review([c for c in changes if c.hunks], vctx)
        for f in result.findings:
            if f.path in out:
                out[f.path].append(f)
        for note in result.notes:
            for p in variants:
                if note.startswith(f'patterns: {p}: '):
                    unparsed.add(p)
    return out, unparsed


def verify(cands: list[Candidate], texts: dict[str, str], diff: Diff, reviewers: list,
           ctx: ReviewContext) -> list[Fix]:
    """Each candidate's fix, verified (with the checks that passed) or rejected (with the reason)."""
    results: list[Fix | None] = [None] * len(cands)
    checks: dict[int, list[str]] = {}
    variants: dict[str, tuple[str, range | None]] = {}
    patched: dict[int, str] = {}
    names = {r.name for r in reviewers}
    original_parses: dict[str, bool] = {}  # per file, not per candidate
    for i, c in enumerate(cands):
        path = c.finding.path
        fc, text = diff.file(path), texts.get(path)
        if fc is None or text is None:
            results[i] = dataclasses.replace(c.fix, rejected='no-file-text')
            continue
        reason = static_reason(c, fc, text)
        if reason is not None:
            results[i] = dataclasses.replace(c.fix, rejected=reason)
            continue
        new_text = apply_fix(text, c.fix)
        done = ['in-hunk', 'not-suppression', 'not-deletion', 'no-secret']
        if is_python(path):
            if path not in original_parses:
                original_parses[path] = python_parses(path, text)
            if not original_parses[path]:
                results[i] = dataclasses.replace(c.fix, rejected='original-does-not-parse')
                continue
            if not python_parses(path, new_text):
                results[i] = dataclasses.replace(c.fix, rejected='does-not-parse')
                continue
            done.append('parses')
        checks[i] = done
        patched[i] = new_text
        variants.setdefault(path, (text, None))
        variants[_variant_path(i, path)] = (new_text, None)
    if not patched:
        return [r for r in results if r is not None]
    # line-local reviewers run on the fixed lines only; the others on whole files
    local = [r for r in reviewers if r.name in LINE_LOCAL]
    whole = [r for r in reviewers if r.name not in LINE_LOCAL]
    found, unparsed = analyze(variants, whole, ctx)
    local_variants: dict[str, tuple[str, range | None]] = {}
    for i, new_text in patched.items():
        fx, path = cands[i].fix, cands[i].finding.path
        n_new = len(fx.replacement.split('\n')) if fx.replacement else 0
        local_variants[f'_reviewbot_orig{i}/{path}'] = (texts[path], range(fx.line, fx.end_line + 1))
        local_variants[_variant_path(i, path)] = (new_text, range(fx.line, fx.line + n_new))
    if local:
        lfound, _ = analyze(local_variants, local, ctx)
        for p, fs in lfound.items():
            found.setdefault(p, []).extend(fs)
    for i in patched:
        c = cands[i]
        path, fx = c.finding.path, c.fix
        vpath = _variant_path(i, path)
        before = collections.Counter(f.category for f in found.get(path, []))
        before.update(f.category for f in found.get(f'_reviewbot_orig{i}/{path}', []))
        after = collections.Counter(f.category for f in found.get(vpath, []))
        if vpath in unparsed and path not in unparsed:
            results[i] = dataclasses.replace(fx, rejected='does-not-parse')
            continue
        if not is_python(path) and 'patterns' in names and vpath not in unparsed:
            checks[i].append('parses')
        reason = None
        if c.finding.reviewer in names:
            n_new = len(fx.replacement.split('\n')) if fx.replacement else 1
            here = range(fx.line, fx.line + max(n_new, 1))
            if before[c.finding.category] == 0:
                reason = 'not-reproduced'
            elif any(f.category == c.finding.category and f.line in here for f in found.get(vpath, [])) \
                    or after[c.finding.category] >= before[c.finding.category]:
                reason = 'still-raised'
            else:
                checks[i].append('finding-gone')
        if reason is None:
            new = [cat for cat in after if after[cat] > before[cat]]
            if new:
                reason = 'new-finding'
            else:
                checks[i].append('no-new-findings')
        results[i] = dataclasses.replace(fx, rejected=reason) if reason else \
            dataclasses.replace(fx, verified=True, checks=tuple(checks[i]))
    return [r for r in results if r is not None]
