"""Python rewrites no rule language can express, done on the syntax tree:

  shell  `subprocess.run(f"ping -c 1 {host}", shell=True)`  ->  `subprocess.run(["ping", "-c", "1", host])`
         (a command of plain words and whole-word placeholders becomes an argument list, no shell);
  sql    `cur.execute(f"SELECT * FROM t WHERE name = '{name}'")`  ->
         `cur.execute("SELECT * FROM t WHERE name = ?", (name,))`
         (values become query parameters, in the driver's style: `?` for sqlite3, `%s` for
         psycopg/pymysql/MySQLdb; any other driver, a LIKE pattern or a `%` in the text: no fix).
  await  `send(x)` -> `await send(x)` for the unawaited-coroutine check (safe).
  system `os.system("convert " + src + " " + out)` -> `subprocess.run(["convert", src, out]).returncode`
         (the shell command rule above; only where the module imports subprocess).
  loop   `lambda: on_click(name)` in a loop -> `lambda name=name: on_click(name)` (ruff's B023).
  eval   `eval(text)` -> `ast.literal_eval(text)` (one argument, no namespace: an eval given names
         evaluates expressions over them, which literal_eval cannot; only where `ast` is imported).
  markup `Markup(f"<b>{name}</b>")` -> `Markup("<b>{}</b>").format(name)` (Markup.format and `%`
         escape their arguments; S704).
  regex  `re.compile(user_text, ...)` -> `re.compile(re.escape(user_text), ...)`: request input is
         matched literally.
  xpath  `tree.xpath(f"//item[@sku='{sku}']")` -> `tree.xpath("//item[@sku=$sku]", sku=sku)`
         (lxml's XPath variables; only values that fill a whole quoted literal).
  xxe    `XMLParser(resolve_entities=True, no_network=False, load_dtd=True)` -> all three off.
  pickle a pickle round trip inside one module (dumps and loads both there) -> the same in JSON.
  log    `log.warning("failed for %s (password=%r)", user, password)` -> the secret's placeholder,
         its label and its argument dropped.
All but `await` are 'unsafe' (what runs changes: that is the point); all go through the
verifier.
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
            if isinstance(v, ast.Constant) and isinstance(v.value, str):
                out.append(v.value)
            elif isinstance(v, ast.FormattedValue) and v.conversion in (-1, 115) and v.format_spec is None:
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


_SHELL_WORD_CHAR = re.compile(r'[A-Za-z0-9_./:,=@+-]')


def _str_literal(text: str) -> str:
    """A Python string literal for `text`, double-quoted unless the text holds a double quote."""
    r = repr(text)
    return '"' + r[1:-1] + '"' if '"' not in text and "'" not in text else r


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


def _shell_args(parts: list[str | ast.expr], source: str, tree: ast.AST | None = None) -> list[str] | None:
    """The words the shell would make of the command, as Python expressions; None when the shell
    matters (pipes, globs, variables, double quotes, redirections) or a value sits unquoted inside
    a word. A single-quoted word is one argument, values and spaces included."""
    stream: list[str | ast.expr] = []
    for p in parts:
        stream.extend(p if isinstance(p, str) else [p])
    words: list[list[str | ast.expr]] = []
    cur: list[str | ast.expr] | None = None
    quoted = bare_value = False  # inside '...'; the word is an unquoted value (nothing may touch it)
    for item in stream:
        if not isinstance(item, str):
            if quoted:
                cur.append(item)
            elif cur is None:
                cur, bare_value = [item], True
            else:
                return None  # `{x}.txt`, `a{x}`: a value glued into a word
            continue
        if quoted:
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
            out.append(_str_literal(''.join(word)))
            continue
        segs = [ast.get_source_segment(source, v) for v in values]
        if any(seg is None for seg in segs):
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
    return _as_argument_list(text, tree, call, lambda first: _rebuild(text, call, first, [], 'shell'))


def _as_argument_list(text: str, tree: ast.AST, call: ast.Call, new_call) -> str | None:
    """`text` with the call's command string made an argument list (in the call, or in the name's
    assignment the call runs) and the call replaced by `new_call(first argument)`."""
    found = _command_source(tree, call)
    if found is None:
        return None
    value, assign = found
    parts = _parts(value)
    words = _shell_args(parts, text, tree) if parts is not None else None
    if not words:
        return None
    listed = f'[{", ".join(words)}]'
    lines = split_lines(text)
    start, end = _segment(text, lines, call)
    if assign is None:
        return text[:start] + new_call(listed) + text[end:]
    text2 = text[:start] + new_call(ast.get_source_segment(text, call.args[0]) or '') + text[end:]
    v_start, v_end = _segment(text, lines, value)
    return text2[:v_start] + listed + text2[v_end:]


def system_fix(text: str, tree: ast.AST, line: int) -> str | None:
    """`os.system(cmd)` -> `subprocess.run([...]).returncode` (zero exactly when os.system's is),
    or a bare `subprocess.run([...])` where the status is not used."""
    if not _imports(tree, 'subprocess'):
        return None
    call = _call_on(tree, line, lambda c: isinstance(c.func, ast.Attribute) and c.func.attr == 'system'
                    and isinstance(c.func.value, ast.Name) and c.func.value.id == 'os'
                    and len(c.args) == 1 and not c.keywords)
    if call is None:
        return None
    bare = any(isinstance(n, ast.Expr) and n.value is call for n in ast.walk(tree))
    return _as_argument_list(text, tree, call,
                             lambda first: f'subprocess.run({first})' + ('' if bare else '.returncode'))


def _imports(tree: ast.AST, module: str) -> bool:
    """The module is imported under its own name at the top level of the file."""
    return any(isinstance(n, ast.Import) and any(a.name == module and a.asname is None for a in n.names)
               for n in getattr(tree, 'body', []))


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


def _replace(text: str, node: ast.AST, new: str) -> str:
    start, end = _segment(text, split_lines(text), node)
    return text[:start] + new + text[end:]


def loop_binding_fix(text: str, tree: ast.AST, line: int, name: str | None) -> str | None:
    """`lambda: f(name)` / `def cb(): ...f(name)` made in a loop -> the loop variable bound as a
    default argument (`name=name`), so each function keeps its own iteration's value."""
    if not name:
        return None
    for fn in sorted((n for n in ast.walk(tree) if isinstance(n, (ast.Lambda, ast.FunctionDef, ast.AsyncFunctionDef))
                      and n.lineno <= line <= (n.end_lineno or n.lineno)), key=lambda n: -n.lineno):
        a = fn.args
        if a.vararg or a.kwarg or a.kwonlyargs or any(x.arg == name for x in a.posonlyargs + a.args):
            continue
        if not any(isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Load) for n in ast.walk(fn)):
            continue
        lines = split_lines(text)
        fn_start, fn_end = _segment(text, lines, fn)
        positional = a.posonlyargs + a.args
        if positional:
            last = a.defaults[-1] if a.defaults else positional[-1]
            _, at = _segment(text, lines, last)
            if a.defaults and (positional[-1].lineno, positional[-1].col_offset) > (last.lineno, last.col_offset):
                _, at = _segment(text, lines, positional[-1])
            return text[:at] + f', {name}={name}' + text[at:]
        if isinstance(fn, ast.Lambda):
            at = fn_start + len('lambda')
            return text[:at] + f' {name}={name}' + text[at:]
        m = re.compile(r'def\s+' + re.escape(fn.name) + r'\s*\(\s*').search(text, fn_start, fn_end)
        if m is None:
            return None
        return text[:m.end()] + f'{name}={name}' + text[m.end():]
    return None


def eval_fix(text: str, tree: ast.AST, line: int) -> str | None:
    """`eval(text)` -> `ast.literal_eval(text)`: literals only, nothing runs."""
    if _imports(tree, 'ast'):
        func = 'ast.literal_eval'
    elif any(isinstance(n, ast.ImportFrom) and n.module == 'ast' and any(
            a.name == 'literal_eval' and a.asname is None for a in n.names) for n in getattr(tree, 'body', [])):
        func = 'literal_eval'
    else:
        return None
    call = _call_on(tree, line, lambda c: isinstance(c.func, ast.Name) and c.func.id == 'eval'
                    and len(c.args) == 1 and not c.keywords and not isinstance(c.args[0], ast.Starred))
    return _replace(text, call.func, func) if call is not None else None


def _template(node: ast.expr, source: str) -> tuple[str, list[str]] | None:
    """An f-string as a str.format template (literal braces doubled) and its argument sources."""
    if not isinstance(node, ast.JoinedStr):
        return None
    template, args = '', []
    for v in node.values:
        if isinstance(v, ast.Constant) and isinstance(v.value, str):
            template += v.value.replace('{', '{{').replace('}', '}}')
        elif isinstance(v, ast.FormattedValue) and v.format_spec is None:
            seg = ast.get_source_segment(source, v.value)
            if seg is None:
                return None
            template += '{' + {-1: '', 115: '!s', 114: '!r', 97: '!a'}[v.conversion] + '}'
            args.append(seg)
        else:
            return None
    return template, args


def markup_fix(text: str, tree: ast.AST, line: int) -> str | None:
    """`Markup(f"...{x}...")` / `Markup("..." % x)` / `Markup("...".format(x))` -> the template
    made Markup first, so Markup's own format / % escapes the values."""
    call = _call_on(tree, line, lambda c: (isinstance(c.func, ast.Name) and c.func.id == 'Markup'
                                           or isinstance(c.func, ast.Attribute) and c.func.attr == 'Markup')
                    and len(c.args) == 1 and not c.keywords)
    if call is None:
        return None
    func, arg = ast.get_source_segment(text, call.func), call.args[0]
    made = _template(arg, text)
    if made is not None:
        if not made[1]:
            return None
        return _replace(text, call, f'{func}({_str_literal(made[0])}).format({", ".join(made[1])})')
    if (isinstance(arg, ast.BinOp) and isinstance(arg.op, ast.Mod) and isinstance(arg.left, ast.Constant)
            and isinstance(arg.left.value, str)):
        return _replace(text, call, f'{func}({ast.get_source_segment(text, arg.left)}) % '
                                    f'{ast.get_source_segment(text, arg.right)}')
    if (isinstance(arg, ast.Call) and isinstance(arg.func, ast.Attribute) and arg.func.attr == 'format'
            and isinstance(arg.func.value, ast.Constant) and isinstance(arg.func.value.value, str)):
        rest = text[_offset(split_lines(text), arg.func.value.end_lineno, arg.func.value.end_col_offset):
                    _offset(split_lines(text), arg.end_lineno, arg.end_col_offset)]
        return _replace(text, call, f'{func}({ast.get_source_segment(text, arg.func.value)}){rest}')
    return None


_RE_FUNCS = ('compile', 'search', 'match', 'fullmatch', 'findall', 'finditer', 'sub', 'subn', 'split')


def regex_escape_fix(text: str, tree: ast.AST, line: int) -> str | None:
    """`re.compile(value, ...)` -> `re.compile(re.escape(value), ...)`: the input is matched as
    text, not run as a pattern."""
    def built(c: ast.Call) -> bool:
        return (isinstance(c.func, ast.Attribute) and c.func.attr in _RE_FUNCS and isinstance(c.func.value, ast.Name)
                and c.func.value.id == 're' and bool(c.args) and not isinstance(c.args[0], (ast.Constant, ast.Starred))
                and not (isinstance(c.args[0], ast.Call) and isinstance(c.args[0].func, ast.Attribute)
                         and c.args[0].func.attr == 'escape'))
    call = _call_on(tree, line, built)
    if call is None:
        return None
    return _replace(text, call.args[0], f're.escape({ast.get_source_segment(text, call.args[0])})')


def xpath_fix(text: str, tree: ast.AST, line: int) -> str | None:
    """`.xpath(f"//a[@id='{v}']")` -> `.xpath("//a[@id=$v]", v=v)`: each value that fills a
    whole quoted XPath literal becomes an XPath variable (lxml), never part of the expression."""
    call = _call_on(tree, line, lambda c: isinstance(c.func, ast.Attribute) and c.func.attr == 'xpath'
                    and len(c.args) == 1)
    parts = _parts(call.args[0]) if call is not None else None
    if not parts:
        return None
    parts = list(parts)
    taken = {k.arg for k in call.keywords}
    expr, kwargs = '', []
    for k, p in enumerate(parts):
        if isinstance(p, str):
            expr += p
            continue
        before = parts[k - 1] if k and isinstance(parts[k - 1], str) else ''
        after = parts[k + 1] if k + 1 < len(parts) and isinstance(parts[k + 1], str) else ''
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
    return _replace(text, call, _rebuild(text, call, _str_literal(expr), kwargs, None))


def xxe_fix(text: str, tree: ast.AST, line: int) -> str | None:
    """`XMLParser(resolve_entities=True, no_network=False, load_dtd=True)` -> no entities resolved,
    no network, no external DTD read (a DTD's attribute defaults are lost: unsafe)."""
    call = _call_on(tree, line, lambda c: isinstance(c.func, (ast.Name, ast.Attribute))
                    and (getattr(c.func, 'attr', None) or getattr(c.func, 'id', None)) == 'XMLParser')
    if call is None:
        return None
    flips = {'resolve_entities': (True, 'False'), 'no_network': (False, 'True'), 'load_dtd': (True, 'False')}
    edits = [(k.value, flips[k.arg][1]) for k in call.keywords if k.arg in flips
             and isinstance(k.value, ast.Constant) and k.value.value is flips[k.arg][0]]
    for node, new in sorted(edits, key=lambda e: (e[0].lineno, e[0].col_offset), reverse=True):
        text = _replace(text, node, new)
    return text if edits else None


_SECRET_NAME = re.compile(r'(?i)(?:^|_)(pass(word|wd|phrase)?|pwd|secret|token|api_?key|credential|private_?key)s?$')
_LOG_METHODS = ('debug', 'info', 'warning', 'warn', 'error', 'critical', 'exception', 'log')
_PCT_SPEC = re.compile(r'%(?:\([^)]*\))?[-#0 +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[diouxXeEfFgGcrsa%]')


def _secret_arg(node: ast.expr) -> bool:
    leaf = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ''
    return bool(_SECRET_NAME.search(leaf))


def _drop_placeholder(fmt: str, start: int, end: int) -> str:
    """The format text without the placeholder at [start, end), its `label=` and the brackets or
    the space that held it."""
    m = re.search(r'[\w-]+\s*[=:]\s*$', fmt[:start])
    if m:
        start = m.start()
    if start and end < len(fmt) and fmt[start - 1] + fmt[end] in ('()', '[]', '<>', '{}'):
        start, end = start - 1, end + 1
    if start and fmt[start - 1] == ' ' and (end == len(fmt) or fmt[end] in ' ,.;:)'):
        start -= 1
    elif end < len(fmt) and fmt[end] == ' ' and (start == 0 or fmt[start - 1] in ' ('):
        end += 1
    m = re.search(r'\s+(with|and|using|via)$', fmt[:start])
    if m and (end == len(fmt) or fmt[end] in ',.;:)'):
        start = m.start()  # "as %s with token=%s" -> "as %s", not "as %s with"
    rest = fmt[end:].lstrip(' ,;:') if start == 0 else fmt[end:]
    return fmt[:start] + rest


def logged_secret_fix(text: str, tree: ast.AST, line: int) -> str | None:
    """`log.warning("failed for %s (password=%r)", user, password)` -> the placeholder of each
    argument named like a credential goes, with its label, and so does the argument."""
    def logs(c: ast.Call) -> bool:
        return (isinstance(c.func, ast.Attribute) and c.func.attr in _LOG_METHODS and len(c.args) >= 2
                and isinstance(c.args[0], ast.Constant) and isinstance(c.args[0].value, str)
                and c.func.attr != 'log' and not any(isinstance(a, ast.Starred) for a in c.args))
    call = _call_on(tree, line, logs)
    if call is None:
        return None
    fmt, values = call.args[0].value, call.args[1:]
    specs = [m for m in _PCT_SPEC.finditer(fmt) if m.group() != '%%']
    if len(specs) != len(values) or any('(' in m.group() or '*' in m.group() for m in specs):
        return None
    drop = [k for k, v in enumerate(values) if _secret_arg(v)]
    if not drop:
        return None
    for k in reversed(drop):
        fmt = _drop_placeholder(fmt, specs[k].start(), specs[k].end())
    kept = [ast.get_source_segment(text, v) or '' for k, v in enumerate(values) if k not in drop]
    args = [_str_literal(fmt)] + kept + [ast.get_source_segment(text, kw) or '' for kw in call.keywords]
    return _replace(text, call, f'{ast.get_source_segment(text, call.func)}({", ".join(args)})')


def pickle_json_fix(text: str, tree: ast.AST, line: int) -> str | None:
    """A pickle round trip kept inside one module (`pickle.dumps` of a value, `pickle.loads` of
    what comes back, e.g. a cookie) -> the same round trip in JSON, which builds only plain data:
    `pickle.loads(b)` -> `json.loads(b)`, `pickle.dumps(v)` -> `json.dumps(v).encode()` (still
    bytes). Only when json is imported, the file uses pickle for nothing else, and both ends are
    here (a loads alone reads what some other program writes: changing it breaks that)."""
    if not _imports(tree, 'json'):
        return None
    uses = [n for n in ast.walk(tree) if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)
            and n.value.id == 'pickle']
    calls = [c for c in ast.walk(tree) if isinstance(c, ast.Call) and c.func in uses]
    if len(calls) != len(uses) or any(c.func.attr not in ('loads', 'dumps') or len(c.args) != 1 or c.keywords
                                      or isinstance(c.args[0], ast.Starred) for c in calls):
        return None
    kinds = {c.func.attr for c in calls}
    if kinds != {'loads', 'dumps'} or not any(c.func.attr == 'loads' and c.lineno <= line <= (c.end_lineno or c.lineno)
                                              for c in calls):
        return None
    for c in sorted(calls, key=lambda c: (c.lineno, c.col_offset), reverse=True):
        arg = ast.get_source_segment(text, c.args[0])
        if arg is None:
            return None
        text = _replace(text, c, f'json.loads({arg})' if c.func.attr == 'loads' else f'json.dumps({arg}).encode()')
    return text


_LOOP_VAR = re.compile(r'loop variable `([A-Za-z_]\w*)`')

# category -> (rewrite, safety, what the fix does)
REWRITES = {
    **{c: (shell_fix, 'unsafe', 'pass values as an argument list, without a shell') for c in SHELL_RULES},
    **{c: (sql_fix, 'unsafe', 'pass values as query parameters') for c in SQL_RULES},
    'bug/unawaited-coroutine': (await_fix, 'safe', 'await the coroutine'),
    'ruff/S605': (system_fix, 'unsafe', 'run the command as an argument list with subprocess, without a shell'),
    'ruff/B023': (None, 'unsafe', 'bind the loop variable as a default argument'),
    'ruff/S301': (pickle_json_fix, 'unsafe', 'keep the data as JSON, which builds only plain values'),
    'ruff/S307': (eval_fix, 'unsafe', 'read a literal with ast.literal_eval instead of running code'),
    'ruff/S704': (markup_fix, 'unsafe', "let Markup's own formatting escape the values"),
    'patterns/py-request-regex-injection': (regex_escape_fix, 'unsafe', 'match the input literally (re.escape)'),
    'patterns/py-request-ldap-xpath-injection': (xpath_fix, 'unsafe', 'pass values as XPath variables'),
    'patterns/py-xml-external-entities-enabled': (xxe_fix, 'unsafe',
                                                  'do not resolve entities, load DTDs or fetch over the network'),
    'patterns/py-logged-secret': (logged_secret_fix, 'unsafe', 'leave the credential out of the log'),
}


def candidates(f: Finding, text: str) -> list[Fix]:
    if f.line is None or not f.path.endswith(('.py', '.pyi')) or f.category not in REWRITES:
        return []
    rewrite, safety, description = REWRITES[f.category]
    try:
        tree = ast.parse(text)
        if rewrite is None:  # B023: the variable is the one ruff names
            m = _LOOP_VAR.search(f.message)
            new = loop_binding_fix(text, tree, f.line, m.group(1) if m else None)
        else:
            new = rewrite(text, tree, f.line)
    except (SyntaxError, ValueError, IndexError, KeyError):
        return []
    if new is None:
        return []
    fx = fix_from_texts(text, new, source='rewrite', safety=safety,
                        description=description, cover=(f.line, f.end_line or f.line))
    return [fx] if fx else []
