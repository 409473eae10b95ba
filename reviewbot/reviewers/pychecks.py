"""Python checks on the syntax tree, beside ruff (reviewbot.reviewers.ruff).

Two rules ruff reports flag forms that are safe when read with the file's syntax tree
(`drop_known_safe`), and one check ruff lacks: a coroutine called and never awaited
(`unawaited_coroutines`).
"""
from __future__ import annotations

import ast
import re
from typing import Any

# --- ruff diagnostics on forms known to be safe ------------------------------------------------
# Two rules flag a form that is safe when read with the file's syntax tree:
# S608 flags any SQL-looking string built with interpolation, also when every interpolated value
# is a module constant (`f"SELECT {_COLUMNS} FROM t WHERE id = %s"`, parameters passed apart);
# PLW1508 flags a non-string env default, also `os.environ.get("CA_BUNDLE", True)`, where the
# bool is the deliberate "no setting" value of an option that takes a path or a flag (requests'
# verify). Int/float defaults stay flagged: the value's type then depends on the environment.

_CONSTANT_NAME = re.compile(r'^_*[A-Z][A-Z0-9_]*$')


def _interpolated(node: ast.AST) -> list[ast.AST] | None:
    """The values a string-building expression puts into its literal; None if it is not one."""
    if isinstance(node, ast.JoinedStr):
        return [v.value for v in node.values if isinstance(v, ast.FormattedValue)]
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mod, ast.Add)):
        if isinstance(node.left, ast.Constant) and isinstance(node.left.value, str):
            right = node.right
            return list(right.elts) if isinstance(right, ast.Tuple) else [right]
        if isinstance(node.op, ast.Add):
            parts = [p for side in (node.left, node.right) for p in (_interpolated(side) or [side])]
            return [p for p in parts if not (isinstance(p, ast.Constant) and isinstance(p.value, str))]
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == 'format' and isinstance(node.func.value, ast.Constant)):
        return [*node.args, *(k.value for k in node.keywords)]
    return None


def _only_constants(values: list[ast.AST]) -> bool:
    def constant(v: ast.AST) -> bool:
        if isinstance(v, ast.FormattedValue):
            v = v.value
        return (isinstance(v, ast.Constant) and not isinstance(v.value, (bytes,))
                or isinstance(v, ast.Name) and bool(_CONSTANT_NAME.match(v.id)))
    return all(constant(v) for v in values)


def _sql_from_constants(tree: ast.AST, row: int, end_row: int) -> bool:
    """The outermost string-building expression starting on rows row..end_row interpolates
    only literals and UPPER_CASE names."""
    best: tuple[tuple[int, int, int, int], ast.expr] | None = None
    for node in ast.walk(tree):
        if (isinstance(node, ast.expr) and row <= node.lineno <= end_row
                and _interpolated(node) is not None):
            key = (node.lineno, node.col_offset, -(node.end_lineno or 0), -(node.end_col_offset or 0))
            if best is None or key < best[0]:
                best = (key, node)
    return best is not None and _only_constants(_interpolated(best[1]) or [])


def _env_default_is_bool(tree: ast.AST, row: int) -> bool:
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and getattr(node, 'lineno', 0) == row
                and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant)
                and isinstance(node.args[1].value, bool)):
            return True
    return False


def drop_known_safe(diagnostics: list[dict[str, Any]], text: str) -> list[dict[str, Any]]:
    if not any(d.get('code') in ('S608', 'PLW1508') for d in diagnostics):
        return diagnostics
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return diagnostics
    out = []
    for d in diagnostics:
        row = int(d['location']['row'])
        end_row = int((d.get('end_location') or d['location'])['row'])
        if d.get('code') == 'S608' and _sql_from_constants(tree, row, end_row):
            continue
        if d.get('code') == 'PLW1508' and _env_default_is_bool(tree, row):
            continue
        out.append(d)
    return out


# --- one check ruff lacks: a coroutine called and never awaited -------------------------------
# ruff has no rule for `send(...)` inside `async def` when `send` is itself `async def` (that needs
# types in general); within one file the definition is visible, so the common case is precise.

_ASYNCIO_COROUTINES = frozenset({'sleep', 'wait_for', 'wait', 'open_connection', 'to_thread',
                                 'start_server', 'create_subprocess_exec', 'create_subprocess_shell'})


def unawaited_coroutines(text: str) -> list[tuple[int, str]]:
    """(line, callee) of coroutine calls inside `async def` bodies whose result is dropped or only
    used as a plain value (never awaited, passed on, returned or yielded)."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return []
    async_names = {n.name for n in ast.walk(tree) if isinstance(n, ast.AsyncFunctionDef)}
    sync_names = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
    async_names -= sync_names  # a name that is sync somewhere is ambiguous: say nothing

    def callee(call: ast.Call) -> str | None:
        fn = call.func
        if isinstance(fn, ast.Name) and fn.id in async_names:
            return fn.id
        if isinstance(fn, ast.Attribute) and isinstance(fn.value, ast.Name):
            if fn.value.id in ('self', 'cls') and fn.attr in async_names:
                return f'{fn.value.id}.{fn.attr}'
            if fn.value.id == 'asyncio' and fn.attr in _ASYNCIO_COROUTINES:
                return f'asyncio.{fn.attr}'
        return None

    def handed_on(func: ast.AST, name: str) -> bool:
        """Is the variable awaited, passed to a call, returned, yielded or stored anywhere?"""
        for node in ast.walk(func):
            if (isinstance(node, (ast.Await, ast.Return, ast.Yield, ast.YieldFrom))
                    and node.value is not None
                    and any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(node.value))):
                return True
            if isinstance(node, ast.Call):
                args = list(node.args) + [k.value for k in node.keywords]
                if any(isinstance(a, ast.Name) and a.id == name for a in args):
                    return True
            if isinstance(node, (ast.List, ast.Tuple, ast.Set, ast.Dict)):
                elts = node.values if isinstance(node, ast.Dict) else node.elts
                if any(isinstance(e, ast.Name) and e.id == name for e in elts):
                    return True
        return False

    found: list[tuple[int, str]] = []
    for func in ast.walk(tree):
        if not isinstance(func, ast.AsyncFunctionDef):
            continue
        for stmt in ast.walk(func):
            if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
                name = callee(stmt.value)
                if name:
                    found.append((stmt.lineno, name))
            elif (isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Call)
                  and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)):
                name = callee(stmt.value)
                if name and not handed_on(func, stmt.targets[0].id):
                    found.append((stmt.lineno, name))
    return sorted(set(found))
