"""Python hunks made into one program that parses (reviewbot.fragments has the whole story)."""
from __future__ import annotations

import ast
import dataclasses
import re
from collections.abc import Sequence

from reviewbot.fragments.fragment import CLOSER, OPENER, SCAFFOLD, Fragment, bracket, expand_tabs, indent_width

_MAX_REPAIRS = 60  # lines cut out of a Python fragment before giving up on making it parse


_STRING_START = re.compile(r'''(?i)(?:[rbuf]{0,2})('{3}|"{3}|'|")''')


@dataclasses.dataclass
class _Scan:
    """Lexical state of Python source after some lines."""
    stack: list[str]  # open brackets
    string: str | None  # the quote of an open (triple-quoted) string
    unmatched: list[tuple[int, str]]  # (line index, closer) closing nothing seen
    logical: list[bool]  # per line: it starts a statement
    colon: list[bool]  # per line: the statement that ends on it ends with ':'


def _scan_python(lines: list[str], string: str | None = None) -> _Scan:
    stack: list[str] = []
    unmatched: list[tuple[int, str]] = []
    logical: list[bool] = []
    colon: list[bool] = []
    continued = False
    for i, line in enumerate(lines):
        logical.append(not stack and string is None and not continued)
        continued = False
        last = ''  # last code character of the line
        j = 0
        while j < len(line):
            c = line[j]
            if string is not None:
                if c == '\\':
                    j += 2
                    continue
                if line.startswith(string, j):
                    j += len(string)
                    string = None
                    last = 'q'
                    continue
                j += 1
                continue
            if c == '#':
                break
            m = _STRING_START.match(line, j) if c in '\'"rRbBuUfF' else None
            if m and (j == 0 or not (line[j - 1].isalnum() or line[j - 1] == '_')):
                string = m.group(1)
                j = m.end()
                continue
            bracket(c, i, stack, unmatched)
            if not c.isspace():
                last = c
            if c == '\\' and j == len(line) - 1:
                continued = True
            j += 1
        if string is not None and len(string) == 1:  # a one-quote string ends with its line
            string = None
        colon.append(last == ':' and not stack and string is None and not continued)
    return _Scan(stack, string, unmatched, logical, colon)


@dataclasses.dataclass
class _Line:
    text: str
    origin: int | None
    logical: bool = True
    colon: bool = False


def _repair_brackets(seg: Segment) -> list[_Line]:
    """One segment's lines with scaffold lines that open what it closes without opening and
    close what it leaves open (brackets, a triple-quoted string)."""
    texts = [expand_tabs(t) for _, t in seg]
    scan = _scan_python(texts)
    prefix: list[_Line] = []
    start_string = None
    if scan.string is not None and len(scan.string) == 3:
        # an odd triple quote: a line that is only the quote closes a docstring the segment starts
        # in; one with text after it opens a docstring the segment ends in
        first = next((t.strip() for t in texts if scan.string in t), '')
        again = _scan_python(texts, scan.string)
        if again.string is None and first == scan.string:
            start_string, scan = scan.string, again
    if start_string is not None:
        after = next((t for t, lg in zip(texts, scan.logical) if lg and t.strip()), '')
        prefix.append(_Line(' ' * indent_width(after) + f'{SCAFFOLD} = {start_string}', None))
    if scan.unmatched:
        line_of_last = scan.unmatched[-1][0]
        indent = indent_width(texts[line_of_last])
        openers = ''.join(CLOSER[c] for _, c in reversed(scan.unmatched))
        head = f'{SCAFFOLD}('
        if openers.startswith('(') and scan.colon[line_of_last]:  # `...):` ends a header
            region = texts[:line_of_last + 1]
            head = f'def {SCAFFOLD}(' if any(_ANNOTATED.match(t) for t in region) else 'if ('
        elif openers.startswith('(') and re.match(r'\s*\)\s*from\b', texts[line_of_last]):
            head = f'raise {SCAFFOLD}('  # `raise X(...) from e` cut after its `(`
        opener_text = openers.replace('(', head, 1) if openers.startswith('(') else openers
        if _OPERAND_MISSING.match(texts[0].lstrip()):  # a comprehension or an operation cut in two
            opener_text += f' {SCAFFOLD}'
        prefix.append(_Line(' ' * indent + opener_text, None))
    body = [_Line(t, n, lg, cl) for (n, _), t, lg, cl in zip(seg, texts, scan.logical, scan.colon)]
    if scan.unmatched:  # the segment's first statement begins on the scaffold line
        for ln in body[:line_of_last + 1]:
            ln.logical = False
    suffix: list[_Line] = []
    if scan.string is not None:
        suffix.append(_Line(scan.string, None, logical=False))
    if scan.stack:
        closers = ''.join(OPENER[c] for c in reversed(scan.stack))
        if _OPERATOR_END.search(texts[-1].split('#')[0].rstrip()):
            closers = SCAFFOLD + closers  # `a and` + `)`: the operand the cut took away
        head = next((ln.text.lstrip() for ln in reversed(body) if ln.logical), '')
        compound = bool(_COMPOUND.match(head))  # `if (` cut open: the closed header needs its colon
        suffix.append(_Line(closers + (':' if compound else ''), None, logical=False, colon=compound))
    elif texts and texts[-1].rstrip().endswith('\\'):
        suffix.append(_Line(SCAFFOLD, None, logical=False))
    last = next((ln for ln in reversed(body) if ln.logical and ln.text.strip()), None)
    if last is not None and last.text.lstrip().startswith('@') and not suffix:
        # a decorator whose function is outside the hunk
        suffix.append(_Line(' ' * indent_width(last.text) + f'def {SCAFFOLD}(): pass', None))
    return prefix + body + suffix


_CLAUSE = re.compile(r'(elif|else|except|finally)\b')
_COMPOUND = re.compile(r'(async\s+)?(if|elif|while|for|with|def|class|except)\b')
_OPERAND_MISSING = re.compile(r'(async\s+for|for|if|else|and|or|in|is|not in)\b|[-+*/%@|&^<>=!.]')
_OPERATOR_END = re.compile(r'(\b(and|or|not|in|is|if|else)|[-+*/%@|&^<>=!.:])$')
_ANNOTATED = re.compile(r'\s*\*{0,2}\w+\s*:\s*\S|.*\)\s*->')
_ASYNC = re.compile(r'\bawait\b|\basync\s+(for|with)\b')


def _indent_blocks(lines: list[_Line], is_async: bool) -> list[_Line]:
    """Scaffold block openers where a statement is deeper than the block it is in, `pass` where a
    block opener has no body, and a statement to hang a cut-off clause on."""
    stmts = [k for k, ln in enumerate(lines) if ln.logical and ln.text.strip()
             and not ln.text.lstrip().startswith('#')]
    stack = [0]
    out: list[_Line] = []
    pending = False  # the previous statement opened a block
    tries: list[int] = []  # indentation of `try:` statements whose handlers are not seen yet
    opener = 'async def' if is_async else 'def'
    next_stmt = {k: stmts[i + 1] if i + 1 < len(stmts) else None for i, k in enumerate(stmts)}
    k = 0
    for k, ln in enumerate(lines):
        if k not in next_stmt:
            out.append(ln)
            continue
        ind = indent_width(ln.text)
        if pending and ind <= stack[-1]:
            out.append(_Line(' ' * (stack[-1] + 4) + 'pass', None))
        elif pending:
            stack.append(ind)
        pending = False
        while ind < stack[-1]:
            stack.pop()
        if ind > stack[-1]:
            levels = _levels_ahead(lines, stmts, k, stack[-1])
            bases = [stack[-1]] + levels[:-1]
            for base, body in zip(bases, levels):
                out.append(_Line(' ' * base + _opener_for(lines, stmts, k, base, opener), None))
                stack.append(body)
        clause = _CLAUSE.match(ln.text.lstrip())
        while tries and (tries[-1] > ind or tries[-1] == ind and not clause):
            # a `try:` whose handlers are outside the hunk
            out.append(_Line(' ' * tries[-1] + 'except Exception:', None))
            out.append(_Line(' ' * (tries[-1] + 4) + 'pass', None))
            tries.pop()
        if clause and tries and tries[-1] == ind and clause.group(1) in ('except', 'finally'):
            tries.pop()
        if clause and not _clause_fits(out, ind, clause.group(1)):
            head = 'try:' if clause.group(1) in ('except', 'finally') else f'if {SCAFFOLD}:'
            out.append(_Line(' ' * ind + head, None))
            out.append(_Line(' ' * (ind + 4) + 'pass', None))
        out.append(ln)
        pending = ln.colon or _ends_statement_with_colon(lines, k, next_stmt[k])
        if re.match(r'try\s*:', ln.text.lstrip()):
            tries.append(ind)
    if pending:
        out.append(_Line(' ' * (stack[-1] + 4) + 'pass', None))
    for level in reversed(tries):
        out.append(_Line(' ' * level + 'except Exception:', None))
        out.append(_Line(' ' * (level + 4) + 'pass', None))
    return out


def _ends_statement_with_colon(lines: list[_Line], k: int, nxt: int | None) -> bool:
    """Whether the statement starting at line k ends (on one of its lines) with ':'."""
    end = nxt if nxt is not None else len(lines)
    return any(ln.colon for ln in lines[k + 1:end] if not ln.logical)


def _levels_ahead(lines: list[_Line], stmts: list[int], k: int, floor: int) -> list[int]:
    """The indentation levels (ascending, all > floor, the last being line k's) that statements
    from line k on return to before leaving the block at `floor`."""
    seen: list[int] = []
    low = None
    for s in stmts[stmts.index(k):]:
        ind = indent_width(lines[s].text)
        if ind <= floor:
            break
        if low is None or ind < low:
            low = ind
            seen.append(ind)
    return sorted(seen)


def _opener_for(lines: list[_Line], stmts: list[int], k: int, base: int, outer: str) -> str:
    if base == 0:
        return f'{outer} {SCAFFOLD}():'
    for s in stmts[stmts.index(k):]:
        ind = indent_width(lines[s].text)
        if ind < base:
            break
        if ind == base:
            word = lines[s].text.lstrip()
            if word.startswith(('elif', 'else')):
                return f'if {SCAFFOLD}:'
            if word.startswith(('except', 'finally')):
                return 'try:'
            break
    return f'for {SCAFFOLD} in {SCAFFOLD}:'


_CLAUSE_AFTER = {'elif': ('if', 'elif'), 'else': ('if', 'elif', 'for', 'while', 'try', 'except'),
                 'except': ('try', 'except'), 'finally': ('try', 'except', 'else')}


def _clause_fits(out: list[_Line], ind: int, clause: str) -> bool:
    """Whether the last statement emitted at indentation `ind` is one `clause` may follow."""
    for ln in reversed(out):
        if not ln.logical or not ln.text.strip():
            continue
        i = indent_width(ln.text)
        if i < ind:
            return False
        if i == ind:
            word = re.match(r'(async\s+)?(\w+)', ln.text.lstrip())
            return word is not None and word.group(2) in _CLAUSE_AFTER[clause]
    return False


def _compose(segments: list[Segment]) -> list[_Line]:
    lines = [ln for seg in segments for ln in _repair_brackets(seg)]
    is_async = any(_ASYNC.search(t) for seg in segments for _, t in seg)
    out = _indent_blocks(lines, is_async)
    first = next((k for k, ln in enumerate(out) if ln.text.strip()), 0)
    at = first + 1 if out and out[first].text.startswith('from __future__') else 0
    return out[:at] + [_Line(SNIPPET_IMPORTS, None)] + out[at:]


# A fragment has lost its imports, and ruff's bandit rules resolve calls through them (`yaml.load`
# is S506 only if `yaml` is the module): the usual modules are imported on a scaffold line.
SNIPPET_IMPORTS = ('import os, sys, subprocess, pickle, marshal, shelve, yaml, hashlib, random, '
                   'tempfile, sqlite3, requests, httpx, urllib.request, ssl, telnetlib, ftplib, '
                   'xml.etree.ElementTree, jinja2, tarfile, zipfile, shutil, shlex, pty; '
                   'from markupsafe import Markup')


Segment = list[tuple[int | None, str]]  # (new-file line or None for scaffolding, text)


def _syntax_error_at(segments: list[Segment]) -> tuple[list[_Line], str, int | None]:
    """The composed lines, their text, and the new-file line to blame for a syntax error (None
    when it parses)."""
    out = _compose(segments)
    text = '\n'.join(ln.text for ln in out) + '\n'
    try:
        ast.parse(text)
    except SyntaxError as e:
        return out, text, _culprit(out, e.lineno or 1) or -1
    return out, text, None


def _segment_of(segments: list[Segment], line: int) -> int | None:
    return next((k for k, seg in enumerate(segments) if any(n == line for n, _ in seg)), None)


def _wrapped(seg: Segment) -> list[Segment]:
    """The segment inside scaffold brackets: a hunk cut from the inside of a dict, a call's
    arguments or a list."""
    indent = min((indent_width(expand_tabs(t)) for _, t in seg if t.strip()), default=0)
    return [[(None, ' ' * indent + opener)] + seg + [(None, closer)]
            for opener, closer in (('{', '}'), (f'{SCAFFOLD}(', ')'), ('[', ']'),
                                   (f'def {SCAFFOLD}(', '): pass'))]


def python_fragment(given: Sequence[Sequence[tuple[int, str]]]) -> Fragment:
    segments: list[Segment] = [list(s) for s in given]
    dropped: list[int] = []
    tried: set[int] = set()  # segments already tried inside brackets (by their first line)
    for _ in range(_MAX_REPAIRS):
        out, text, where = _syntax_error_at(segments)
        if where is None:
            return Fragment(text, [ln.origin for ln in out], sorted(dropped))
        if where < 0:
            break
        k = _segment_of(segments, where)
        first = next((n for n, _ in segments[k] if n is not None), None) if k is not None else None
        if k is not None and first is not None and first not in tried:
            tried.add(first)
            for candidate in _wrapped(segments[k]):
                trial = segments[:k] + [candidate] + segments[k + 1:]
                _, _, now = _syntax_error_at(trial)
                later = _segment_of(trial, now) if now is not None and now >= 0 else None
                if now is None or later is not None and later > k:
                    segments = trial
                    break
            else:
                segments = _cut(segments, where)
                dropped.append(where)
            continue
        segments = _cut(segments, where)
        dropped.append(where)
    out = _compose(segments)
    return Fragment('\n'.join(ln.text for ln in out) + '\n', [ln.origin for ln in out],
                    sorted(dropped), parses=False)


def _culprit(out: list[_Line], lineno: int) -> int | None:
    """The new-file line to cut for a syntax error at text line `lineno`: that line, or the
    nearest real line before it (after it, for scaffolding at the top)."""
    k = min(max(lineno, 1), len(out)) - 1
    for j in list(range(k, -1, -1)) + list(range(k + 1, len(out))):
        if out[j].origin is not None:
            return out[j].origin
    return None


def _cut(segments: list[Segment], line: int) -> list[Segment]:
    """The segments without new-file line `line`, the segment holding it split in two there."""
    out = []
    for seg in segments:
        idx = next((i for i, (n, _) in enumerate(seg) if n == line), None)
        if idx is None:
            out.append(seg)
            continue
        out += [s for s in (seg[:idx], seg[idx + 1:]) if s]
    return out
