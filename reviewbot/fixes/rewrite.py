"""Python rewrites no rule language can express, done on the syntax tree:

  shell  `subprocess.run(f"ping -c 1 {host}", shell=True)`  ->  `subprocess.run(["ping", "-c", "1", host])`
         (a command of plain words and whole-word placeholders becomes an argument list, no shell);
  sql    `cur.execute(f"SELECT * FROM t WHERE name = '{name}'")`  ->
         `cur.execute("SELECT * FROM t WHERE name = ?", (name,))`
         (values become query parameters, in the driver's style: `?` for sqlite3, `%s` for
         psycopg/pymysql/MySQLdb; any other driver, a LIKE pattern or a `%` in the text: no fix).
  await  `send(x)` -> `await send(x)` for the unawaited-coroutine check (safe).
The first two are 'unsafe' (what runs changes: that is the point); all go through the verifier.
"""
from __future__ import annotations

import ast
import re

from reviewbot.core import Finding, Fix
from reviewbot.fixes.text import fix_from_texts, split_lines

SHELL_RULES = ('ruff/S602', 'ruff/S604', 'patterns/py-request-command-injection')
SQL_RULES = ('ruff/S608', 'patterns/py-request-sql-injection')
_PLAIN_WORD = re.compile(r'[A-Za-z0-9_./:,=@+-]+')
_IDENTIFIER_SLOT = re.compile(r'\b(ORDER\s+BY|GROUP\s+BY|FROM|JOIN|INTO|UPDATE|TABLE|SELECT|DESC|ASC)\s*$',
                              re.IGNORECASE)
_QMARK_DRIVERS = re.compile(r'^\s*(import|from)\s+sqlite3\b', re.MULTILINE)
_FORMAT_DRIVERS = re.compile(r'^\s*(import|from)\s+(psycopg2?|pymysql|MySQLdb|mysql\.connector)\b', re.MULTILINE)


def _offset(lines: list[str], lineno: int, col: int) -> int:
    """Character offset of (1-based line, UTF-8 byte column) in the text."""
    head = sum(len(ln) for ln in lines[:lineno - 1])
    return head + len(lines[lineno - 1].encode('utf-8', 'surrogateescape')[:col].decode('utf-8', 'surrogateescape'))


def _segment(text: str, lines: list[str], node: ast.AST) -> tuple[int, int]:
    return (_offset(lines, node.lineno, node.col_offset),
            _offset(lines, node.end_lineno or node.lineno, node.end_col_offset or 0))


def _parts(node: ast.AST) -> list[str | ast.expr] | None:
    """A string built from literals and values, as [literal text | value expression]."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):
        out: list[str | ast.expr] = []
        for v in node.values:
            if isinstance(v, ast.Constant) and isinstance(v.value, str) or isinstance(v, ast.FormattedValue) and v.conversion in (-1, 115) and v.format_spec is None:
                out.append(v.value)
            else:
                return None
        return out
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _parts(node.left), _parts(node.right)
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


def _shell_args(parts: list[str | ast.expr], source: str) -> list[str] | None:
    words: list[str] = []
    glued = False  # the last word touches the next part (no space between)
    for p in parts:
        if isinstance(p, str):
            if p and not p[0].isspace() and glued:
                return None  # `{x}.txt`: a placeholder inside a word
            for k, tok in enumerate(p.split()):
                if not _PLAIN_WORD.fullmatch(tok):
                    return None  # a pipe, a glob, quotes, a variable: the shell matters
                if k == 0 and words and glued and not p[0].isspace():
                    return None
                words.append(repr(tok).replace("'", '"') if '"' not in tok else repr(tok))
            glued = bool(p) and not p[-1].isspace()
        else:
            if glued:
                return None
            seg = ast.get_source_segment(source, p)
            if seg is None:
                return None
            words.append(seg)
            glued = True
    return words or None


def _call_on(tree: ast.AST, line: int, pred) -> ast.Call | None:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.lineno <= line <= (node.end_lineno or node.lineno) and pred(node):
            return node
    return None


def _rebuild(source: str, call: ast.Call, first: str, extra: list[str], drop_kw: str | None) -> str:
    args = [first] + [ast.get_source_segment(source, a) or '' for a in call.args[1:]] + extra
    args += [ast.get_source_segment(source, k) or '' for k in call.keywords if k.arg != drop_kw]
    return f'{ast.get_source_segment(source, call.func)}({", ".join(args)})'


def shell_fix(text: str, tree: ast.AST, line: int) -> str | None:
    def is_shell(c: ast.Call) -> bool:
        return bool(c.args) and any(k.arg == 'shell' and isinstance(k.value, ast.Constant)
                                    and k.value.value is True for k in c.keywords)
    call = _call_on(tree, line, is_shell)
    if call is None:
        return None
    parts = _parts(call.args[0])
    words = _shell_args(parts, text) if parts is not None else None
    if not words:
        return None
    new_call = _rebuild(text, call, f'[{", ".join(words)}]', [], 'shell')
    lines = split_lines(text)
    start, end = _segment(text, lines, call)
    return text[:start] + new_call + text[end:]


def _sql_params(parts: list[str | ast.expr], source: str, style: str) -> tuple[str, list[str]] | None:
    """(SQL text with placeholders, the value expressions), or None when a value is not a value slot."""
    parts = list(parts)
    sql, params = '', []
    for k, p in enumerate(parts):
        if isinstance(p, str):
            if '%' in p or '?' in p:
                return None  # a LIKE pattern, a literal % or ?: not a plain value slot
            sql += p
            continue
        before = parts[k - 1] if k and isinstance(parts[k - 1], str) else ''
        after = parts[k + 1] if k + 1 < len(parts) and isinstance(parts[k + 1], str) else ''
        if _IDENTIFIER_SLOT.search(sql):
            return None  # a table or column name: not something a parameter can carry
        if before.endswith(("'", '"')) and after.startswith(before[-1:]):
            sql = sql[:-1]
            parts[k + 1] = after[1:]
        elif (before and not before[-1].isspace() and before[-1] not in '(=,<>') or \
                (after and not after[0].isspace() and after[0] not in '),;'):
            return None  # a value glued to other text: a name or a pattern, not a value slot
        seg = ast.get_source_segment(source, p)
        if seg is None:
            return None
        sql += style
        params.append(seg)
    return (sql, params) if params else None


def _literal(sql: str) -> str:
    return repr(sql) if '"' in sql else '"' + sql.replace('\\', '\\\\') + '"'


def _values(params: list[str]) -> str:
    return f'({params[0]},)' if len(params) == 1 else f'({", ".join(params)})'


def _is_execute(c: ast.Call) -> bool:
    return isinstance(c.func, ast.Attribute) and c.func.attr in ('execute', 'executemany') and len(c.args) == 1


def sql_fix(text: str, tree: ast.AST, line: int) -> str | None:
    """The query built on `line`, either inside `cur.execute(...)` or assigned to a name that the
    next `cur.execute(name)` of the same function runs."""
    if _QMARK_DRIVERS.search(text):
        style: str | None = '?'
    elif _FORMAT_DRIVERS.search(text):
        style = '%s'
    else:
        style = None
    lines = split_lines(text)
    call = _call_on(tree, line, _is_execute)
    if call is not None:
        parts = _parts(call.args[0])
        if style is None and isinstance(call.args[0], ast.BinOp) and isinstance(call.args[0].op, ast.Mod):
            style = '%s'  # the code already writes %s into the query: the driver's format style
        built = _sql_params(parts, text, style) if parts is not None and style else None
        if built is None:
            return None
        new_call = _rebuild(text, call, _literal(built[0]), [_values(built[1])], None)
        start, end = _segment(text, lines, call)
        return text[:start] + new_call + text[end:]
    assign = next((n for n in ast.walk(tree) if isinstance(n, ast.Assign)
                   and n.lineno <= line <= (n.end_lineno or n.lineno)
                   and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name)), None)
    if assign is None:
        return None
    name = assign.targets[0].id
    runs = sorted((c for c in ast.walk(tree) if isinstance(c, ast.Call) and _is_execute(c)
                   and c.lineno > (assign.end_lineno or line) and c.lineno <= line + 10
                   and isinstance(c.args[0], ast.Name) and c.args[0].id == name), key=lambda c: c.lineno)
    if not runs:
        return None
    parts = _parts(assign.value)
    if style is None and isinstance(assign.value, ast.BinOp) and isinstance(assign.value.op, ast.Mod):
        style = '%s'
    built = _sql_params(parts, text, style) if parts is not None and style else None
    if built is None:
        return None
    run = runs[0]
    call_start, call_end = _segment(text, lines, run)
    value_start, value_end = _segment(text, lines, assign.value)
    new_call = _rebuild(text, run, name, [_values(built[1])], None)
    text = text[:call_start] + new_call + text[call_end:]
    return text[:value_start] + _literal(built[0]) + text[value_end:]


def await_fix(text: str, tree: ast.AST, line: int) -> str | None:
    """`send(x)` -> `await send(x)`: the coroutine call the unawaited-coroutine check names."""
    calls = sorted((n for n in ast.walk(tree) if isinstance(n, ast.Call) and n.lineno == line),
                   key=lambda n: n.col_offset)
    inside = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Await)}
    call = next((c for c in calls if id(c) not in inside), None)
    if call is None:
        return None
    lines = split_lines(text)
    start, _ = _segment(text, lines, call)
    return text[:start] + 'await ' + text[start:]


def candidates(f: Finding, text: str) -> list[Fix]:
    if f.line is None or not f.path.endswith(('.py', '.pyi')):
        return []
    rewrite = shell_fix if f.category in SHELL_RULES else sql_fix if f.category in SQL_RULES else \
        await_fix if f.category == 'bug/unawaited-coroutine' else None
    if rewrite is None:
        return []
    try:
        tree = ast.parse(text)
        new = rewrite(text, tree, f.line)
    except (SyntaxError, ValueError, IndexError):
        return []
    if new is None:
        return []
    description = {shell_fix: 'pass values as an argument list, without a shell',
                   sql_fix: 'pass values as query parameters', await_fix: 'await the coroutine'}[rewrite]
    fx = fix_from_texts(text, new, source='rewrite', safety='safe' if rewrite is await_fix else 'unsafe',
                        description=description, cover=(f.line, f.end_line or f.line))
    return [fx] if fx else []
