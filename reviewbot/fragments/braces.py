"""C, C++, Go, Java and JavaScript/TypeScript hunks made into one program whose brackets balance
(reviewbot.fragments has the whole story)."""
from __future__ import annotations

import re

from reviewbot.fragments.fragment import CLOSER, OPENER, SCAFFOLD, Fragment, bracket, expand_tabs, indent_width

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
                bracket(c, i, stack, unmatched)
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
        code_indent = min(indent_width(expand_tabs(t)) for t in texts if t.strip())
        heads[0] = wrap[:1] if lang == 'java' and code_indent <= 4 else list(wrap)
        tail = ['}'] * len(heads[0])
    closing: list[str] = []
    for c in reversed(stack):
        closer = OPENER[c]
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
        return _interleaved([CLOSER[c] for _, c in reversed(unmatched)], lang)
    if braces:
        # the outermost `}` at column 0 closes the top-level construct (Java: the class; else the
        # function); deeper, that construct is still open after the hunk
        outer_col = indent_width(expand_tabs(texts[braces[-1][0]]))
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
    others = ''.join(CLOSER[c] for _, c in reversed(unmatched))
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
