"""A file known only from its diff, made into source an analyzer can parse.

When the new revision of a file cannot be read (a bare patch, a diff on stdin, the server), the
diff still shows each hunk's new side: its added lines with their context lines. `build(f)` joins
the hunks of one file, in order, into one program and repairs what the cuts broke:

* Python: a hunk that starts inside a function (or a loop, a branch, a class) gets scaffold block
  openers above it at the indentation levels it later returns to, the outermost a `def` (so bare
  statements sit in a function, as semgrep's taint mode wants); clauses cut from their statement
  (`else:`, `except:`) get one; a block opener whose body is outside the hunk gets `pass`; brackets
  and triple-quoted strings left open at either end of a hunk are opened or closed. What still does
  not parse is cut out line by line (those lines are listed in `dropped`).
* C, C++, Go, Java, JavaScript/TypeScript: braces, brackets and parentheses left open are closed and
  ones closed without an opener are opened; a hunk inside a function body is wrapped in one (in
  Java, in a class and a method).

All hunks of a file go into one program, in one scope where their indentation says so, so a source
in one hunk and a sink in another still meet. `Fragment.origin` maps every line of the program back
to its new-file line; scaffolding maps to None, and a finding that starts on scaffolding is dropped.
"""
from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import PurePosixPath

from reviewbot.core import FileChange, LineKind

SCAFFOLD = '_reviewbot_'  # the one name every scaffold line uses
_MAX_REPAIRS = 60  # lines cut out of a Python fragment before giving up on making it parse

PYTHON = ('.py', '.pyi')
BRACE_LANGS = {
    '.go': 'go', '.java': 'java',
    '.js': 'js', '.jsx': 'js', '.mjs': 'js', '.cjs': 'js', '.ts': 'js', '.tsx': 'js', '.mts': 'js',
    '.cts': 'js',
    '.c': 'c', '.h': 'c', '.cc': 'c', '.cpp': 'c', '.cxx': 'c', '.c++': 'c', '.hh': 'c', '.hpp': 'c',
    '.hxx': 'c',
}


@dataclasses.dataclass
class Fragment:
    text: str
    origin: list[int | None]  # line i+1 of text -> its new-file line; None: scaffolding
    dropped: list[int] = dataclasses.field(default_factory=list)  # new-file lines left out
    parses: bool = True  # Python: the text parsed (ast) after the repairs

    def real_lines(self, start: int, end: int) -> list[int]:
        """New-file lines of text lines start..end (1-based, inclusive), scaffolding left out."""
        return [n for n in self.origin[max(start, 1) - 1:max(start, end)] if n is not None]

    def anchor(self, start: int, end: int, added: set[int]) -> int | None:
        """Where an analyzer's match over text lines start..end is reported: its first added
        line; None when it starts on scaffolding or touches no added line."""
        if not 1 <= start <= len(self.origin) or self.origin[start - 1] is None:
            return None
        return next((n for n in self.real_lines(start, end) if n in added), None)


def language(path: str) -> str | None:
    suffix = PurePosixPath(path).suffix.lower()
    if suffix in PYTHON:
        return 'python'
    return BRACE_LANGS.get(suffix)


def build(f: FileChange) -> Fragment | None:
    """The file's hunks as one parseable program, or None for a language this does not know."""
    lang = language(f.path)
    segments = [[(ln.new_lineno, ln.text) for ln in h.lines
                 if ln.kind is not LineKind.REMOVED and ln.new_lineno is not None]
                for h in f.hunks]
    segments = [s for s in segments if s]
    if lang == 'python':
        return python_fragment(segments)
    if lang is not None:
        return brace_fragment(segments, lang)
    return None


# --- Python ---------------------------------------------------------------------------------------

_CLOSER = {')': '(', ']': '[', '}': '{'}
_OPENER = {v: k for k, v in _CLOSER.items()}


def _bracket(c: str, i: int, stack: list[str], unmatched: list[tuple[int, str]]) -> None:
    """One character of code on line `i` for a bracket scanner: an opener is pushed, a closer pops
    its opener, a closer with nothing open is recorded as unmatched (either scanner's rule)."""
    if c in '([{':
        stack.append(c)
    elif c in ')]}':
        if stack and stack[-1] == _CLOSER[c]:
            stack.pop()
        elif not stack:
            unmatched.append((i, c))


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
            _bracket(c, i, stack, unmatched)
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
    texts = [_expand(t) for _, t in seg]
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
        prefix.append(_Line(' ' * _indent(after) + f'{SCAFFOLD} = {start_string}', None))
    if scan.unmatched:
        line_of_last = scan.unmatched[-1][0]
        indent = _indent(texts[line_of_last])
        openers = ''.join(_CLOSER[c] for _, c in reversed(scan.unmatched))
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
        closers = ''.join(_OPENER[c] for c in reversed(scan.stack))
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
        suffix.append(_Line(' ' * _indent(last.text) + f'def {SCAFFOLD}(): pass', None))
    return prefix + body + suffix


def _expand(text: str) -> str:
    body = text.lstrip(' \t')
    return text[:len(text) - len(body)].expandtabs(8) + body


def _indent(text: str) -> int:
    return len(text) - len(text.lstrip(' '))


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
        ind = _indent(ln.text)
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
        ind = _indent(lines[s].text)
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
        ind = _indent(lines[s].text)
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
        i = _indent(ln.text)
        if i < ind:
            return False
        if i == ind:
            word = re.match(r'(async\s+)?(\w+)', ln.text.lstrip())
            return bool(word) and word.group(2) in _CLAUSE_AFTER[clause]
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
    indent = min((_indent(_expand(t)) for _, t in seg if t.strip()), default=0)
    return [[(None, ' ' * indent + opener)] + seg + [(None, closer)]
            for opener, closer in (('{', '}'), (f'{SCAFFOLD}(', ')'), ('[', ']'),
                                   (f'def {SCAFFOLD}(', '): pass'))]


def python_fragment(segments: list[Segment]) -> Fragment:
    segments = [list(s) for s in segments]
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


# --- C, C++, Go, Java, JavaScript/TypeScript ---------------------------------------------------------

_WRAP = {
    'go': ['func _reviewbot_() {'],
    'java': ['class _Reviewbot_ {', 'void _reviewbot_() {'],
    'js': ['function _reviewbot_() {'],
    'c': ['void _reviewbot_(void) {'],
}


def _scan_braces(lines: list[str], lang: str) -> tuple[list[str], list[tuple[int, str]]]:
    """(brackets left open, [(line index, closer) closing nothing]) of C-like source."""
    stack: list[str] = []
    unmatched: list[tuple[int, str]] = []
    in_comment = False
    quote: str | None = None  # an open multi-line string: ` in JS and Go
    for i, line in enumerate(lines):
        j = 0
        while j < len(line):
            c = line[j]
            if in_comment:
                if line.startswith('*/', j):
                    in_comment = False
                    j += 2
                    continue
                j += 1
                continue
            if quote is not None:
                if c == '\\' and quote != '`' or c == '\\' and lang == 'js':
                    j += 2
                    continue
                if c == quote:
                    quote = None
                j += 1
                continue
            if line.startswith('//', j):
                break
            if line.startswith('/*', j):
                in_comment = True
                j += 2
                continue
            if c in '"\'' or c == '`' and lang in ('js', 'go'):
                quote = c
            else:
                _bracket(c, i, stack, unmatched)
            j += 1
        if quote in ('"', "'"):
            quote = None
    return stack, unmatched


def brace_fragment(segments: list[list[tuple[int, str]]], lang: str) -> Fragment:
    """All segments in one stream; what a segment closes without opening is opened just above it,
    what the stream leaves open is closed below, and statements get a function around them."""
    seg_lines = [(n, t) for seg in segments for n, t in seg]
    texts = [t for _, t in seg_lines]
    stack, unmatched = _scan_braces(texts, lang)
    starts = [sum(len(s) for s in segments[:k]) for k in range(len(segments))]
    heads: dict[int, list[str]] = {}
    tail: list[str] = []
    for k in range(len(segments)):
        end = starts[k + 1] if k + 1 < len(segments) else len(texts)
        group = [(i, c) for i, c in unmatched if starts[k] <= i < end]
        if group:
            heads[k], more = _openers(group, texts, lang)
            tail = more + tail
    if not unmatched and _statements_only(texts):
        wrap = _WRAP[lang]
        code_indent = min(_indent(_expand(t)) for t in texts if t.strip())
        heads[0] = wrap[:1] if lang == 'java' and code_indent <= 4 else list(wrap)
        tail = ['}'] * len(heads[0])
    closing: list[str] = []
    for c in reversed(stack):
        closer = _OPENER[c]
        if closer in ')]' and not closing and texts and texts[-1].rstrip().endswith((',', '(', '[', '+', '=')):
            closing.append(SCAFFOLD)
        closing.append(closer + (';' if closer == ')' and lang != 'go' else ''))
    text = '\n'.join(texts)
    for head in heads.values():
        if lang == 'js' and head and 'await' in text and head[0].startswith('function'):
            head[0] = 'async ' + head[0]
    lines: list[str] = _js_imports(text) if lang == 'js' else []
    origin: list[int | None] = [None] * len(lines)
    for k, seg in enumerate(segments):
        head = heads.get(k, [])
        lines += head + [t for _, t in seg]
        origin += [None] * len(head) + [n for n, _ in seg]
    lines += closing + tail
    origin += [None] * (len(closing) + len(tail))
    return Fragment('\n'.join(lines) + '\n', origin)


def _openers(unmatched: list[tuple[int, str]], texts: list[str], lang: str) -> tuple[list[str], list[str]]:
    """Scaffold lines that open what `unmatched` closes (line index, closer), and the lines
    that close the scaffolding the hunk does not close itself."""
    braces = [(i, c) for i, c in unmatched if c == '}']
    wrap = _WRAP[lang]
    head: list[str] = []
    tail: list[str] = []
    if braces and len(braces) != len(unmatched):
        # `});` and the like: a callback or closure passed in a call, cut open; its openers are
        # rebuilt outermost first, a `{` right after a `(` being a function literal
        return _interleaved([_CLOSER[c] for _, c in reversed(unmatched)], lang)
    if braces:
        # the outermost `}` at column 0 closes the top-level construct (Java: the class; else the
        # function); deeper, that construct is still open after the hunk
        outer_col = _indent(_expand(texts[braces[-1][0]]))
        depth = len(braces)
        if lang == 'java' and outer_col == 0:
            head = wrap[:1] + (wrap[1:] if depth > 1 else []) + ['{'] * max(depth - 2, 0)
        elif lang == 'java':
            inner = depth - 1 if outer_col <= 4 else depth
            head, tail = wrap + ['{'] * inner, ['}'] * (len(wrap) + inner - depth)
        elif outer_col == 0:
            head = wrap[:1] + ['{'] * (depth - 1)
        else:
            head, tail = wrap[:1] + ['{'] * depth, ['}']
        return head, tail
    others = ''.join(_CLOSER[c] for _, c in reversed(unmatched))
    return [others.replace('(', f'{SCAFFOLD}(', 1) if others.startswith('(') else others], []


# Modules a JS/TS fragment uses under their conventional names, imported on scaffold lines when
# the fragment uses the name and does not bind it itself (its imports are at the top of the file).
_JS_CONVENTIONAL = (
    (re.compile(r'\bjwt\.'), 'jwt', "import jwt from 'jsonwebtoken';"),
    (re.compile(r'\bchild_process\.'), 'child_process', "import * as child_process from 'child_process';"),
    (re.compile(r'(?<![.\w])(exec|execSync)\('), 'exec', "import { exec, execSync } from 'child_process';"),
)


def _js_imports(text: str) -> list[str]:
    out = []
    for used, name, line in _JS_CONVENTIONAL:
        bound = re.search(rf'\bimport\b[^;\n]*\b{name}\b|\b(const|let|var|function)\s+{name}\b'
                          rf'|\{{[^}}\n]*\b{name}\b[^}}\n]*\}}\s*=', text)
        if used.search(text) and not bound:
            out.append(line)
    return out


_FUNCTION_LITERAL = {'js': 'function () {', 'go': 'func() {', 'java': '() -> {', 'c': '{'}


def _interleaved(openers: list[str], lang: str) -> tuple[list[str], list[str]]:
    """Scaffold lines that open `openers` (outermost first), and what closes the wrapper."""
    head: list[str] = []
    tail: list[str] = []
    for k, op in enumerate(openers):
        if op == '(':
            head.append(f'{SCAFFOLD}(')
        elif op == '[':
            head.append('[')
        elif k and openers[k - 1] == '(':
            head.append(_FUNCTION_LITERAL[lang])
        elif k == 0:
            head += _WRAP[lang]
            tail = ['}'] * (len(_WRAP[lang]) - 1)
        else:
            head.append('{')
    return head, tail


def _statements_only(texts: list[str]) -> bool:
    """The code is indented throughout: the inside of a function (or a class body in Java)."""
    code = [t for t in texts if t.strip() and not t.lstrip().startswith(('//', '/*', '*', '#'))]
    return bool(code) and all(t[0].isspace() for t in code)
