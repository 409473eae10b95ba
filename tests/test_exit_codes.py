"""One exit-code table (reviewbot/errors.py) for every command: the README prints it, and no command
returns a bare number that could mean something else elsewhere."""
from __future__ import annotations

import ast
from pathlib import Path

from reviewbot import errors

ROOT = Path(__file__).resolve().parent.parent
# every module whose return value becomes the process's exit code
EXIT_MODULES = [*sorted((ROOT / 'reviewbot' / 'commands').glob('*.py')), ROOT / 'reviewbot' / 'cli.py',
                ROOT / 'reviewbot' / 'server' / 'daemon.py']


def test_readme_prints_the_exit_code_table() -> None:
    readme = (ROOT / 'README.md').read_text(encoding='utf-8')
    assert errors.exit_code_table() in readme


def test_exit_codes_are_distinct_and_each_means_one_thing() -> None:
    codes = [v for k, v in vars(errors).items() if k.startswith('EXIT_') and isinstance(v, int)]
    assert len(codes) == len(set(codes))  # no two names for one code
    assert set(codes) == set(errors.EXIT_CODES)  # and each is in the table


def _bare_exit_numbers(path: Path) -> list[str]:
    """In functions returning an int (a command's run(), cli.main, the daemon's run): `return 3`,
    `return 1 if x else 0`, `sys.exit(2)`: an int literal given as an exit code."""
    def literal(v: ast.expr) -> bool:
        if isinstance(v, ast.IfExp):
            return literal(v.body) or literal(v.orelse)
        return isinstance(v, ast.Constant) and type(v.value) is int

    found = []
    for fn in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
        if not isinstance(fn, ast.FunctionDef):
            continue
        for node in ast.walk(fn):
            if isinstance(node, ast.Return) and node.value is not None:
                value = node.value if fn.returns is not None and ast.unparse(fn.returns) == 'int' else None
            elif isinstance(node, ast.Call) and ast.unparse(node.func) in ('sys.exit', 'exit', 'SystemExit'):
                value = node.args[0] if node.args else None
            else:
                continue
            if value is not None and literal(value):
                found.append(f'{path.name}:{node.lineno}: {ast.unparse(node)}')
    return found


def test_no_command_returns_a_bare_exit_number() -> None:
    found = [hit for path in EXIT_MODULES for hit in _bare_exit_numbers(path)]
    assert not found, '\n'.join(found)


def test_the_check_finds_a_bare_number(tmp_path: Path) -> None:
    bad = tmp_path / 'bad.py'
    bad.write_text('import sys\ndef run() -> int:\n    if x:\n        return 3\n'
                   '    sys.exit(1 if y else EXIT_OK)\n    return EXIT_OK\n'
                   'def port() -> str:\n    return 8\n')
    assert [h.split(':')[1] for h in _bare_exit_numbers(bad)] == ['4', '5']
