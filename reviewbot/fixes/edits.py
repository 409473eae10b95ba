"""Source edits on a Python syntax tree for the rewrite fixers: where a node is in the text, the
text with a node replaced, and the pieces of a string built from literals and values.

`parse` is cached: every finding of a file (and the verifier's statement lookup) reads the same
tree instead of parsing the file again.
"""
from __future__ import annotations

import ast
import functools
import re
from collections.abc import Callable

from reviewbot.fixes.text import split_lines

Located = ast.expr | ast.stmt | ast.arg | ast.keyword  # a node that has a place in the text
Parts = list[str | ast.expr]  # literal text | value expression


@functools.lru_cache(maxsize=8)
def parse(text: str) -> ast.Module:
    """ast.parse(text), shared by every finding of the same file (the tree is only read)."""
    return ast.parse(text)


def offset(lines: list[str], lineno: int, col: int) -> int:
    """Character offset of (1-based line, UTF-8 byte column) in the text."""
    head = sum(len(ln) for ln in lines[:lineno - 1])
    return head + len(lines[lineno - 1].encode('utf-8', 'surrogateescape')[:col].decode('utf-8', 'surrogateescape'))


def span(text: str, lines: list[str], node: Located) -> tuple[int, int]:
    """(start, end) character offsets of the node in `text` (split into `lines`)."""
    return (offset(lines, node.lineno, node.col_offset),
            offset(lines, node.end_lineno or node.lineno, node.end_col_offset or 0))


def string_parts(node: ast.AST) -> Parts | None:
    """A string built from literals and values, as [literal text | value expression]."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):
        out: Parts = []
        for v in node.values:
            if isinstance(v, ast.Constant) and isinstance(v.value, str):
                out.append(v.value)
            elif isinstance(v, ast.FormattedValue) and v.conversion in (-1, 115) and v.format_spec is None:
                out.append(v.value)
            else:
                return None
        return out
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = string_parts(node.left), string_parts(node.right)
        if left is None and right is None:
            return None
        return (left or [node.left]) + (right or [node.right])
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == 'format'
            and isinstance(node.func.value, ast.Constant) and isinstance(node.func.value.value, str)
            and not node.keywords and not any(isinstance(a, ast.Starred) for a in node.args)):
        pieces = re.split(r'\{\}', node.func.value.value)
        if len(pieces) != len(node.args) + 1 or any('{' in p or '}' in p for p in pieces):
            return None
        out = [pieces[0]]
        for v, p in zip(node.args, pieces[1:]):
            out += [v, p]
        return out
    if (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod)
            and isinstance(node.left, ast.Constant) and isinstance(node.left.value, str)):
        values = list(node.right.elts) if isinstance(node.right, ast.Tuple) else [node.right]
        pieces = re.split(r'%s', node.left.value)
        if len(pieces) != len(values) + 1 or re.search(r'%[^%]', ''.join(pieces).replace('%%', '')):
            return None
        out = [pieces[0]]
        for v, p in zip(values, pieces[1:]):
            out += [v, p]
        return out
    return None


def str_literal(text: str) -> str:
    """A Python string literal for `text`, double-quoted unless the text holds a double quote."""
    r = repr(text)
    return '"' + r[1:-1] + '"' if '"' not in text and "'" not in text else r


def call_on(tree: ast.AST, line: int, pred: Callable[[ast.Call], bool]) -> ast.Call | None:
    """The first call (in ast.walk order) spanning `line` that `pred` accepts."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.lineno <= line <= (node.end_lineno or node.lineno) and pred(node):
            return node
    return None


def rebuild_call(source: str, call: ast.Call, first: str, extra: list[str], drop_kw: str | None) -> str:
    args = [first] + [ast.get_source_segment(source, a) or '' for a in call.args[1:]] + extra
    args += [ast.get_source_segment(source, k) or '' for k in call.keywords if k.arg != drop_kw]
    return f'{ast.get_source_segment(source, call.func)}({", ".join(args)})'


def imports(tree: ast.AST, module: str) -> bool:
    """The module is imported under its own name at the top level of the file."""
    return any(isinstance(n, ast.Import) and any(a.name == module and a.asname is None for a in n.names)
               for n in getattr(tree, 'body', []))


def replace_node(text: str, node: Located, new: str) -> str:
    start, end = span(text, split_lines(text), node)
    return text[:start] + new + text[end:]

