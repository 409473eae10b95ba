"""No module of reviewbot/ over 400 lines (issue 15): a module that grows past it is split by job."""
from __future__ import annotations

from pathlib import Path

import reviewbot

LIMIT = 400


def test_no_module_is_over_the_limit():
    root = Path(reviewbot.__file__).parent
    sizes = {p.relative_to(root).as_posix(): len(p.read_text(encoding='utf-8').splitlines())
             for p in root.rglob('*.py')}
    assert len(sizes) > 50  # the walk found the package
    assert {path: n for path, n in sizes.items() if n > LIMIT} == {}
