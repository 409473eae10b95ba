"""Rewrites that keep values out of what a shell, a SQL driver or an XPath engine parses:

  shell  `subprocess.run(f"ping -c 1 {host}", shell=True)`  ->  `subprocess.run(["ping", "-c", "1", host])`
         (a command of plain words and whole-word placeholders becomes an argument list, no shell);
  system `os.system("convert " + src + " " + out)` -> `subprocess.run(["convert", src, out]).returncode`
         (the shell command rule above; only where the module imports subprocess).
  sql    `cur.execute(f"SELECT * FROM t WHERE name = '{name}'")`  ->
         `cur.execute("SELECT * FROM t WHERE name = ?", (name,))`
         (values become query parameters, in the driver's style: `?` for sqlite3, `%s` for
         psycopg/pymysql/MySQLdb; any other driver, a LIKE pattern or a `%` in the text: no fix).
  xpath  `tree.xpath(f"//item[@sku='{sku}']")` -> `tree.xpath("//item[@sku=$sku]", sku=sku)`
         (lxml's XPath variables; only values that fill a whole quoted literal).
Each takes (file text, its tree, the finding's line) and returns the new text or None.
"""
from __future__ import annotations

import ast
import re
from collections.abc import Callable
from typing import cast

from reviewbot.fixes.edits import Parts, call_on, imports, rebuild_call, replace_node, span, str_literal, string_parts
from reviewbot.fixes.text import split_lines

SHELL_RULES = ('ruff/S602', 'ruff/S604', 'patterns/py-request-command-injection')
SQL_RULES = ('ruff/S608', 'patterns/py-request-sql-injection')
_IDENTIFIER_SLOT = re.compile(r'\b(ORDER\s+BY|GROUP\s+BY|FROM|JOIN|INTO|UPDATE|TABLE|SELECT|DESC|ASC)\s*$',
                              re.IGNORECASE)
_QMARK_DRIVERS = re.compile(r'^\s*(import|from)\s+sqlite3\b', re.MULTILINE)
_FORMAT_DRIVERS = re.compile(r'^\s*(import|from)\s+(psycopg2?|pymysql|MySQLdb|mysql\.connector)\b', re.MULTILINE)


_SHELL_WORD_CHAR = re.compile(r'[A-Za-z0-9_./:,=@+-]')


def _needs_str(tree: ast.AST, expr: ast.expr) -> bool:
    """A value the command string turned into text that is known not to be a string (an int
    constant, a name bound to one, an int/float parameter): an argument list needs str() of it."""
    if isinstance(expr, ast.Constant):
        return not isinstance(expr.value, str)
    if isinstance(expr, ast.Name):
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and any(
                    isinstance(t, ast.Name) and t.id == expr.id for t in node.targets):
                return not isinstance(node.value.value, str)
            if isinstance(node, ast.arg) and node.arg == expr.id and isinstance(node.annotation, ast.Name):
                return node.annotation.id in ('int', 'float')
    return False


def _shell_args(parts: Parts, source: str, tree: ast.AST | None = None) -> list[str] | None:
    """The words the shell would make of the command, as Python expressions; None when the shell
    matters (pipes, globs, variables, double quotes, redirections) or a value sits unquoted inside
    a word. A single-quoted word is one argument, values and spaces included."""
    stream: Parts = []
    for p in parts:
        stream.extend(p if isinstance(p, str) else [p])
    words: list[Parts] = []
    cur: Parts | None = None
    quoted = bare_value = False  # inside '...'; the word is an unquoted value (nothing may touch it)
    for item in stream:
        if not isinstance(item, str):
            if quoted:
                assert cur is not None  # an opening quote starts a word
                cur.append(item)
            elif cur is None:
                cur, bare_value = [item], True
            else:
                return None  # `{x}.txt`, `a{x}`: a value glued into a word
            continue
        if quoted:
            assert cur is not None
            if item == "'":
                quoted = False
            else:
                cur.append(item)
        elif item.isspace():
            if cur is not None:
                words.append(cur)
            cur, bare_value = None, False
        elif bare_value:
            return None
        elif item == "'":
            cur = [] if cur is None else cur
            quoted = True
        elif _SHELL_WORD_CHAR.fullmatch(item):
            cur = [] if cur is None else cur
            cur.append(item)
        else:
            return None  # a pipe, a glob, a double quote, a variable: the shell matters
    if quoted:
        return None
    if cur is not None:
        words.append(cur)
    out = []
    for word in words:
        values = [x for x in word if not isinstance(x, str)]
        if not values:
            out.append(str_literal(''.join(x for x in word if isinstance(x, str))))
            continue
        segs = [seg for v in values if (seg := ast.get_source_segment(source, v)) is not None]
        if len(segs) != len(values):
            return None
        if len(word) == 1:
            out.append(f'str({segs[0]})' if tree is not None and _needs_str(tree, values[0]) else segs[0])
            continue
        if any(ch in seg for seg in segs for ch in '"\\{}\n'):
            return None
        body, k = '', 0
        for x in word:
            if isinstance(x, str):
                body += {'{': '{{', '}': '}}', '"': '\\"'}.get(x) or repr(x)[1:-1]
            else:
                body += '{' + segs[k] + '}'
                k += 1
        out.append('f"' + body + '"')
    return out or None


def _command_source(tree: ast.AST, call: ast.Call) -> tuple[ast.expr, ast.Assign | None] | None:
    """The command string a call runs: its first argument, or, when that is a name, the string
    assigned to it just before (within 3 lines, in the same function, used nowhere else)."""
    arg = call.args[0]
    if not isinstance(arg, ast.Name):
        return arg, None
    scope = next((n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                  and n.lineno <= call.lineno <= (n.end_lineno or n.lineno)
                  and not any(isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef)) and m is not n
                              and m.lineno <= call.lineno <= (m.end_lineno or m.lineno)
                              for m in ast.walk(n))), tree)
    assigns = [n for n in ast.walk(scope) if isinstance(n, ast.Assign) and len(n.targets) == 1
               and isinstance(n.targets[0], ast.Name) and n.targets[0].id == arg.id
               and (n.end_lineno or n.lineno) < call.lineno]
    stores = [n for n in ast.walk(scope) if isinstance(n, ast.Name) and n.id == arg.id
              and not isinstance(n.ctx, ast.Load)]
    loads = [n for n in ast.walk(scope) if isinstance(n, ast.Name) and n.id == arg.id
             and isinstance(n.ctx, ast.Load)]
    if len(assigns) != 1 or len(stores) != 1 or loads != [arg]:
        return None
    if call.lineno - (assigns[0].end_lineno or assigns[0].lineno) > 3:
        return None
    return assigns[0].value, assigns[0]


def shell_fix(text: str, tree: ast.AST, line: int) -> str | None:
    def is_shell(c: ast.Call) -> bool:
        return bool(c.args) and any(k.arg == 'shell' and isinstance(k.value, ast.Constant)
                                    and k.value.value is True for k in c.keywords)
    call = call_on(tree, line, is_shell)
    if call is None:
        return None
    return _as_argument_list(text, tree, call, lambda first: rebuild_call(text, call, first, [], 'shell'))


def _as_argument_list(text: str, tree: ast.AST, call: ast.Call, new_call: Callable[[str], str]) -> str | None:
    """`text` with the call's command string made an argument list (in the call, or in the name's
    assignment the call runs) and the call replaced by `new_call(first argument)`."""
    found = _command_source(tree, call)
    if found is None:
        return None
    value, assign = found
    parts = string_parts(value)
    words = _shell_args(parts, text, tree) if parts is not None else None
    if not words:
        return None
    listed = f'[{", ".join(words)}]'
    lines = split_lines(text)
    start, end = span(text, lines, call)
    if assign is None:
        return text[:start] + new_call(listed) + text[end:]
    text2 = text[:start] + new_call(ast.get_source_segment(text, call.args[0]) or '') + text[end:]
    v_start, v_end = span(text, lines, value)
    return text2[:v_start] + listed + text2[v_end:]


def system_fix(text: str, tree: ast.AST, line: int) -> str | None:
    """`os.system(cmd)` -> `subprocess.run([...]).returncode` (zero exactly when os.system's is),
    or a bare `subprocess.run([...])` where the status is not used."""
    if not imports(tree, 'subprocess'):
        return None
    call = call_on(tree, line, lambda c: isinstance(c.func, ast.Attribute) and c.func.attr == 'system'
                    and isinstance(c.func.value, ast.Name) and c.func.value.id == 'os'
                    and len(c.args) == 1 and not c.keywords)
    if call is None:
        return None
    bare = any(isinstance(n, ast.Expr) and n.value is call for n in ast.walk(tree))
    return _as_argument_list(text, tree, call,
                             lambda first: f'subprocess.run({first})' + ('' if bare else '.returncode'))


def _sql_params(parts: Parts, source: str, style: str) -> tuple[str, list[str]] | None:
    """(SQL text with placeholders, the value expressions), or None when a value is not a value slot."""
    parts = list(parts)
    sql, params = '', []
    for k, p in enumerate(parts):
        if isinstance(p, str):
            if '%' in p or '?' in p:
                return None  # a LIKE pattern, a literal % or ?: not a plain value slot
            sql += p
            continue
        before, after = _text_around(parts, k)
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


def _text_around(parts: Parts, k: int) -> tuple[str, str]:
    """The literal text right before and right after parts[k] ('' where a value or nothing is)."""
    before = parts[k - 1] if k else ''
    after = parts[k + 1] if k + 1 < len(parts) else ''
    return (before if isinstance(before, str) else ''), (after if isinstance(after, str) else '')


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
    call = call_on(tree, line, _is_execute)
    if call is not None:
        parts = string_parts(call.args[0])
        if style is None and isinstance(call.args[0], ast.BinOp) and isinstance(call.args[0].op, ast.Mod):
            style = '%s'  # the code already writes %s into the query: the driver's format style
        built = _sql_params(parts, text, style) if parts is not None and style else None
        if built is None:
            return None
        new_call = rebuild_call(text, call, _literal(built[0]), [_values(built[1])], None)
        start, end = span(text, lines, call)
        return text[:start] + new_call + text[end:]
    assign = next((n for n in ast.walk(tree) if isinstance(n, ast.Assign)
                   and n.lineno <= line <= (n.end_lineno or n.lineno)
                   and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name)), None)
    if assign is None:
        return None
    name = cast(ast.Name, assign.targets[0]).id
    runs = sorted((c for c in ast.walk(tree) if isinstance(c, ast.Call) and _is_execute(c)
                   and c.lineno > (assign.end_lineno or line) and c.lineno <= line + 10
                   and isinstance(c.args[0], ast.Name) and c.args[0].id == name), key=lambda c: c.lineno)
    if not runs:
        return None
    parts = string_parts(assign.value)
    if style is None and isinstance(assign.value, ast.BinOp) and isinstance(assign.value.op, ast.Mod):
        style = '%s'
    built = _sql_params(parts, text, style) if parts is not None and style else None
    if built is None:
        return None
    run = runs[0]
    call_start, call_end = span(text, lines, run)
    value_start, value_end = span(text, lines, assign.value)
    new_call = rebuild_call(text, run, name, [_values(built[1])], None)
    text = text[:call_start] + new_call + text[call_end:]
    return text[:value_start] + _literal(built[0]) + text[value_end:]


def xpath_fix(text: str, tree: ast.AST, line: int) -> str | None:
    """`.xpath(f"//a[@id='{v}']")` -> `.xpath("//a[@id=$v]", v=v)`: each value that fills a
    whole quoted XPath literal becomes an XPath variable (lxml), never part of the expression."""
    call = call_on(tree, line, lambda c: isinstance(c.func, ast.Attribute) and c.func.attr == 'xpath'
                    and len(c.args) == 1)
    parts = string_parts(call.args[0]) if call is not None else None
    if call is None or not parts:
        return None
    parts = list(parts)
    taken = {k.arg for k in call.keywords}
    expr, kwargs = '', []
    for k, p in enumerate(parts):
        if isinstance(p, str):
            expr += p
            continue
        before, after = _text_around(parts, k)
        if not (before.endswith(("'", '"')) and after.startswith(before[-1])):
            return None  # a value that is not a whole string literal: a name, a number, a path
        seg = ast.get_source_segment(text, p)
        if seg is None or '$' in ''.join(x for x in parts if isinstance(x, str)):
            return None
        var = p.id if isinstance(p, ast.Name) else (p.attr if isinstance(p, ast.Attribute) else f'v{k}')
        n, base = 1, var
        while var in taken:
            n += 1
            var = f'{base}{n}'
        taken.add(var)
        expr = expr[:-1] + '$' + var
        parts[k + 1] = after[1:]
        kwargs.append(f'{var}={seg}')
    if not kwargs:
        return None
    return replace_node(text, call, rebuild_call(text, call, str_literal(expr), kwargs, None))

