"""Verified fixes as one patch (`reviewbot review --fix-patch FILE`, `--apply-fixes`)."""
from __future__ import annotations

import collections
import dataclasses
from collections.abc import Callable

from reviewbot.core import Finding, Fix
from reviewbot.fixes.text import apply_all, bare, split_lines, unified_patch


@dataclasses.dataclass
class FixPatch:
    text: str  # '' when there is nothing to apply
    applied: int  # fixes in the patch
    unsafe_left_out: int  # verified unsafe fixes left out (no --unsafe-fixes)
    overlapping: int  # verified fixes left out because an earlier one changes the same lines
    stale: int = 0  # fixes whose lines no longer read as when they were verified


def build(findings: list[Finding], read_new_file: Callable[[str], str | None], *,
          unsafe: bool = False) -> FixPatch:
    by_path: dict[str, list[Fix]] = collections.defaultdict(list)
    unsafe_left_out = 0
    for f in findings:
        fx = f.verified_fix
        if fx is None:
            continue
        if fx.safety == 'unsafe' and not unsafe:
            unsafe_left_out += 1
            continue
        by_path[f.path].append(fx)
    parts: list[str] = []
    applied = overlapping = stale = 0
    for path in sorted(by_path):
        text = read_new_file(path)
        if text is None:
            continue
        # the original text of every fix must still be what the file holds
        fixes = [fx for fx in by_path[path] if _matches(text, fx)]
        stale += len(by_path[path]) - len(fixes)
        new, taken = apply_all(text, fixes)
        applied += len(taken)
        overlapping += len(fixes) - len(taken)
        parts.append(unified_patch(path, text, new))
    return FixPatch(''.join(parts), applied, unsafe_left_out, overlapping, stale)


def _matches(text: str, fx: Fix) -> bool:
    """The lines the fix replaces still read as its `original` (which has secrets masked)."""
    from reviewbot.privacy.redact import redact
    lines = split_lines(text)[fx.line - 1:fx.end_line]
    actual = '\n'.join(bare(ln) for ln in lines)
    return actual == fx.original or redact(actual)[0] == fx.original
