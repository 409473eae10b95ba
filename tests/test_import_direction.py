"""Imports flow one way: stages never reach into the applications that run them.

Every module under reviewbot/ is read with `ast` (imports at module level and inside functions,
relative ones resolved), and each import is checked against the layering:
  - the applications (reviewbot/commands/, reviewbot/server/, reviewbot/cli.py, __main__) are
    imported by nothing but themselves;
  - reviewbot/publish/ is imported only by the applications (and itself);
  - reviewbot/privacy/ does not import reviewbot/reviewers/ (reviewers use privacy, not back).
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import reviewbot

ROOT = Path(reviewbot.__file__).parent
APPLICATIONS = ('reviewbot.commands', 'reviewbot.server', 'reviewbot.cli', 'reviewbot.__main__')
# (importer prefixes, imported prefix, importers allowed anyway)
RULES = [
    ('reviewbot', 'reviewbot.commands', APPLICATIONS),
    ('reviewbot', 'reviewbot.server', APPLICATIONS),
    ('reviewbot', 'reviewbot.cli', APPLICATIONS),
    ('reviewbot', 'reviewbot.publish', (*APPLICATIONS, 'reviewbot.publish')),
    ('reviewbot.privacy', 'reviewbot.reviewers', ()),
]
# Known back-edges (none left): each must still exist, so it is dropped here the moment it is gone.
KNOWN: set[tuple[str, str]] = set()


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + '.')


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix('').parts
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


def imports_of(path: Path) -> set[str]:
    """Every module `path` imports (for `from a import b`: a.b, which also covers a itself)."""
    name = _module_name(path)
    package = name if path.name == '__init__.py' else name.rpartition('.')[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split('.')
                base = base[:len(base) - (node.level - 1)]
                module = '.'.join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ''
            found.add(module)
            found.update(f'{module}.{alias.name}' for alias in node.names)
    return found


def back_edges() -> set[tuple[str, str]]:
    edges = set()
    for path in sorted(ROOT.rglob('*.py')):
        importer = _module_name(path)
        for imported in imports_of(path):
            for scope, target, allowed in RULES:
                if (_within(importer, scope) and _within(imported, target)
                        and not any(_within(importer, a) for a in allowed)):
                    edges.add((importer, target))
    return edges


def test_no_stage_imports_an_application_or_privacy_a_reviewer() -> None:
    edges = back_edges()
    assert edges - KNOWN == set(), 'back-edges: ' + ', '.join(f'{a} -> {b}' for a, b in sorted(edges - KNOWN))
    assert KNOWN <= edges, f'no longer there, drop from KNOWN: {sorted(KNOWN - edges)}'


@pytest.mark.parametrize(('source', 'edge'), [
    ('from reviewbot.server.client import Client\n', ('reviewbot.engine.x', 'reviewbot.server')),
    ('def f():\n    from ..commands import review\n', ('reviewbot.engine.x', 'reviewbot.commands')),
    ('import reviewbot.publish.render\n', ('reviewbot.engine.x', 'reviewbot.publish')),
    ('from reviewbot import server\n', ('reviewbot.engine.x', 'reviewbot.server')),
])
def test_the_walk_sees_every_kind_of_import(tmp_path, monkeypatch, source, edge) -> None:
    """The checker itself: module-level, function-level, relative and `from package import module`."""
    pkg = tmp_path / 'reviewbot'
    (pkg / 'engine').mkdir(parents=True)
    (pkg / '__init__.py').write_text('')
    (pkg / 'engine' / '__init__.py').write_text('')
    (pkg / 'engine' / 'x.py').write_text(source)
    (pkg / 'commands').mkdir()
    (pkg / 'commands' / '__init__.py').write_text('from reviewbot.publish import render\n')
    monkeypatch.setattr(sys.modules[__name__], 'ROOT', pkg)
    assert back_edges() == {edge}
