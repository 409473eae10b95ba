"""Anchor findings to the diff: a finding is reported only at a line the diff shows.

Reviewers (especially models) may name lines that are not in the diff, or paths that are not in
it. A finding on an added or context line keeps its place; one outside the diff is never reported
at a wrong line: it becomes a file-level note (config `unanchored = "file-note"`) or is dropped.
Findings on paths the diff does not contain are always dropped.
"""
from __future__ import annotations

import dataclasses

from reviewbot.core import Diff, Finding, LineKind, Side


@dataclasses.dataclass
class AnchorResult:
    findings: list[Finding]
    dropped: int  # findings on invented paths, or off-diff with unanchored = 'drop'
    demoted: int  # findings turned into file-level notes


def anchor(findings: list[Finding], diff: Diff, unanchored: str = 'file-note') -> AnchorResult:
    by_path = {f.path: f for f in diff.files}
    indexes = {path: f.new_line_index() for path, f in by_path.items()}
    out: list[Finding] = []
    dropped = demoted = 0
    seen: set[tuple[str, int | None]] = set()
    for fd in findings:
        fc = by_path.get(fd.path)
        if fc is None:
            dropped += 1
            continue
        index = indexes[fd.path]
        if fd.side is Side.LEFT or fd.line is None:
            anchored = fd if fd.line is None else None
        else:
            anchored = _anchor_right(fd, fc.hunk_at(fd.line), index)
        if anchored is None:
            if unanchored == 'drop':
                dropped += 1
                continue
            demoted += 1
            note = f' (reported for line {fd.line}, which is not part of this diff)' \
                if fd.line is not None else ''
            anchored = dataclasses.replace(fd, line=None, end_line=None, suggestion=None,
                                           message=fd.message + note)
        key = (anchored.fingerprint, anchored.line)
        if key in seen:
            continue
        seen.add(key)
        out.append(anchored)
    out.sort(key=lambda f: (f.path, f.line or 0, -f.severity.rank, f.category))
    return AnchorResult(out, dropped, demoted)


def _anchor_right(fd: Finding, hunk, index) -> Finding | None:
    start = fd.line
    if start is None or hunk is None or start not in index:
        return None
    end = fd.end_line if fd.end_line is not None and fd.end_line >= start else start
    # a range must stay inside one hunk (GitHub/GitLab reject ranges across hunks)
    end = min(end, hunk.new_end)
    while end > start and end not in index:
        end -= 1
    lines = [index[n] for n in range(start, end + 1) if n in index]
    suggestion = fd.suggestion
    if suggestion is not None and any(ln.kind is not LineKind.ADDED for ln in lines):
        suggestion = None  # only changed lines may be rewritten by a suggestion
    code = fd.anchored_code or '\n'.join(ln.text for ln in lines)
    return dataclasses.replace(fd, line=start, end_line=end, suggestion=suggestion,
                               anchored_code=code)
