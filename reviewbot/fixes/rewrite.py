"""Python rewrites no rule language can express, done on the syntax tree:

  shell, system, sql, xpath: values kept out of a shell command, a SQL query or an XPath
         expression (reviewbot/fixes/injection.py);
  await  `send(x)` -> `await send(x)` for the unawaited-coroutine check (safe).
  loop   `lambda: on_click(name)` in a loop -> `lambda name=name: on_click(name)` (ruff's B023).
  eval   `eval(text)` -> `ast.literal_eval(text)` (one argument, no namespace: an eval given names
         evaluates expressions over them, which literal_eval cannot; only where `ast` is imported).
  markup `Markup(f"<b>{name}</b>")` -> `Markup("<b>{}</b>").format(name)` (Markup.format and `%`
         escape their arguments; S704).
  regex  `re.compile(user_text, ...)` -> `re.compile(re.escape(user_text), ...)`: request input is
         matched literally.
  xxe    `XMLParser(resolve_entities=True, no_network=False, load_dtd=True)` -> all three off.
  pickle a pickle round trip inside one module (dumps and loads both there) -> the same in JSON.
  log    `log.warning("failed for %s (password=%r)", user, password)` -> the secret's placeholder,
         its label and its argument dropped.
All but `await` are 'unsafe' (what runs changes: that is the point); all go through the
verifier. The file is parsed once for all its findings (reviewbot.fixes.edits.parse).
"""
from __future__ import annotations

import ast
import re
from typing import cast

from reviewbot.core import Finding, Fix
from reviewbot.fixes.edits import call_on, imports, parse, replace_node, span, str_literal
from reviewbot.fixes.injection import SHELL_RULES, SQL_RULES, shell_fix, sql_fix, system_fix, xpath_fix
from reviewbot.fixes.text import fix_from_texts, split_lines


def await_fix(text: str, tree: ast.AST, line: int) -> str | None:
    """`send(x)` -> `await send(x)`: the coroutine call the unawaited-coroutine check names."""
    calls = sorted((n for n in ast.walk(tree) if isinstance(n, ast.Call) and n.lineno == line),
                   key=lambda n: n.col_offset)
    inside = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Await)}
    call = next((c for c in calls if id(c) not in inside), None)
    if call is None:
        return None
    lines = split_lines(text)
    start, _ = span(text, lines, call)
    return text[:start] + 'await ' + text[start:]


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
        fn_start, fn_end = span(text, lines, fn)
        positional = a.posonlyargs + a.args
        if positional:
            last = a.defaults[-1] if a.defaults else positional[-1]
            _, at = span(text, lines, last)
            if a.defaults and (positional[-1].lineno, positional[-1].col_offset) > (last.lineno, last.col_offset):
                _, at = span(text, lines, positional[-1])
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
    if imports(tree, 'ast'):
        func = 'ast.literal_eval'
    elif any(isinstance(n, ast.ImportFrom) and n.module == 'ast' and any(
            a.name == 'literal_eval' and a.asname is None for a in n.names) for n in getattr(tree, 'body', [])):
        func = 'literal_eval'
    else:
        return None
    call = call_on(tree, line, lambda c: isinstance(c.func, ast.Name) and c.func.id == 'eval'
                    and len(c.args) == 1 and not c.keywords and not isinstance(c.args[0], ast.Starred))
    return replace_node(text, call.func, func) if call is not None else None


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
    call = call_on(tree, line, lambda c: (isinstance(c.func, ast.Name) and c.func.id == 'Markup'
                                           or isinstance(c.func, ast.Attribute) and c.func.attr == 'Markup')
                    and len(c.args) == 1 and not c.keywords)
    if call is None:
        return None
    func, arg = ast.get_source_segment(text, call.func), call.args[0]
    made = _template(arg, text)
    if made is not None:
        if not made[1]:
            return None
        return replace_node(text, call, f'{func}({str_literal(made[0])}).format({", ".join(made[1])})')
    if (isinstance(arg, ast.BinOp) and isinstance(arg.op, ast.Mod) and isinstance(arg.left, ast.Constant)
            and isinstance(arg.left.value, str)):
        return replace_node(text, call, f'{func}({ast.get_source_segment(text, arg.left)}) % '
                                    f'{ast.get_source_segment(text, arg.right)}')
    if (isinstance(arg, ast.Call) and isinstance(arg.func, ast.Attribute) and arg.func.attr == 'format'
            and isinstance(arg.func.value, ast.Constant) and isinstance(arg.func.value.value, str)):
        lines = split_lines(text)
        rest = text[span(text, lines, arg.func.value)[1]:span(text, lines, arg)[1]]
        return replace_node(text, call, f'{func}({ast.get_source_segment(text, arg.func.value)}){rest}')
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
    call = call_on(tree, line, built)
    if call is None:
        return None
    return replace_node(text, call.args[0], f're.escape({ast.get_source_segment(text, call.args[0])})')


def xxe_fix(text: str, tree: ast.AST, line: int) -> str | None:
    """`XMLParser(resolve_entities=True, no_network=False, load_dtd=True)` -> no entities resolved,
    no network, no external DTD read (a DTD's attribute defaults are lost: unsafe)."""
    call = call_on(tree, line, lambda c: isinstance(c.func, (ast.Name, ast.Attribute))
                    and (getattr(c.func, 'attr', None) or getattr(c.func, 'id', None)) == 'XMLParser')
    if call is None:
        return None
    flips = {'resolve_entities': (True, 'False'), 'no_network': (False, 'True'), 'load_dtd': (True, 'False')}
    edits = [(k.value, flips[k.arg][1]) for k in call.keywords if k.arg in flips
             and isinstance(k.value, ast.Constant) and k.value.value is flips[k.arg][0]]
    for node, new in sorted(edits, key=lambda e: (e[0].lineno, e[0].col_offset), reverse=True):
        text = replace_node(text, node, new)
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
    call = call_on(tree, line, logs)
    if call is None:
        return None
    fmt = cast(str, cast(ast.Constant, call.args[0]).value)  # a str constant: `logs` checked it
    values = call.args[1:]
    specs = [m for m in _PCT_SPEC.finditer(fmt) if m.group() != '%%']
    if len(specs) != len(values) or any('(' in m.group() or '*' in m.group() for m in specs):
        return None
    drop = [k for k, v in enumerate(values) if _secret_arg(v)]
    if not drop:
        return None
    for k in reversed(drop):
        fmt = _drop_placeholder(fmt, specs[k].start(), specs[k].end())
    kept = [ast.get_source_segment(text, v) or '' for k, v in enumerate(values) if k not in drop]
    args = [str_literal(fmt)] + kept + [ast.get_source_segment(text, kw) or '' for kw in call.keywords]
    return replace_node(text, call, f'{ast.get_source_segment(text, call.func)}({", ".join(args)})')


def pickle_json_fix(text: str, tree: ast.AST, line: int) -> str | None:
    """A pickle round trip kept inside one module (`pickle.dumps` of a value, `pickle.loads` of
    what comes back, e.g. a cookie) -> the same round trip in JSON, which builds only plain data:
    `pickle.loads(b)` -> `json.loads(b)`, `pickle.dumps(v)` -> `json.dumps(v).encode()` (still
    bytes). Only when json is imported, the file uses pickle for nothing else, and both ends are
    here (a loads alone reads what some other program writes: changing it breaks that)."""
    if not imports(tree, 'json'):
        return None
    uses = [n for n in ast.walk(tree) if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)
            and n.value.id == 'pickle']
    calls = [(c, c.func.attr) for c in ast.walk(tree)
             if isinstance(c, ast.Call) and isinstance(c.func, ast.Attribute) and c.func in uses]
    if len(calls) != len(uses) or any(attr not in ('loads', 'dumps') or len(c.args) != 1 or c.keywords
                                      or isinstance(c.args[0], ast.Starred) for c, attr in calls):
        return None
    kinds = {attr for _, attr in calls}
    if kinds != {'loads', 'dumps'} or not any(attr == 'loads' and c.lineno <= line <= (c.end_lineno or c.lineno)
                                              for c, attr in calls):
        return None
    for c, attr in sorted(calls, key=lambda ca: (ca[0].lineno, ca[0].col_offset), reverse=True):
        arg = ast.get_source_segment(text, c.args[0])
        if arg is None:
            return None
        text = replace_node(text, c, f'json.loads({arg})' if attr == 'loads' else f'json.dumps({arg}).encode()')
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
        tree = parse(text)
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

