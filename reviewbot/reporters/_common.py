"""Helpers every reporter shares: ordering, line spans, counts and the skipped-work summary."""
from __future__ import annotations

import collections
from collections.abc import Iterable

from reviewbot.core import Basis, Coverage, Finding, Severity, Side


def line_span(f: Finding) -> tuple[int, int] | None:
    """(start, end) new-file lines a finding points at, or None when it has no place in the new file.

    A finding on a removed line (side LEFT) carries old-file numbers: in a report about the new
    tree it is shown as a file-level note rather than at a line that holds something else.
    """
    if f.line is None or f.side is not Side.RIGHT:
        return None
    start = max(int(f.line), 1)
    end = f.end_line if f.end_line is not None else start
    return start, max(int(end), start)


def message_with_side(f: Finding) -> str:
    """The message, saying which removed line it is about when it cannot be placed in the new file."""
    if f.line is not None and f.side is Side.LEFT:
        end = f' to {f.end_line}' if f.end_line and f.end_line != f.line else ''
        return f'(removed line {f.line}{end}) {f.message}'
    return f.message


def sort_key(f: Finding) -> tuple[str, int, int, str, str]:
    span = line_span(f)
    return (f.path, span[0] if span else 0, -f.severity.rank, f.category, f.message)


def sorted_findings(findings: Iterable[Finding]) -> list[Finding]:
    """By file, then line (file-level notes first), most severe first within a line."""
    return sorted(findings, key=sort_key)


def most_severe_first(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (-f.severity.rank, *sort_key(f)))


def plural(n: int, word: str, words: str | None = None) -> str:
    return f'{n} {word if n == 1 else (words or word + "s")}'


def severity_counts(findings: Iterable[Finding]) -> str:
    """'3 findings (1 error, 2 warnings)' or 'no findings'."""
    counts = collections.Counter(f.severity for f in findings)
    total = sum(counts.values())
    if not total:
        return 'no findings'
    order = (Severity.ERROR, Severity.WARNING, Severity.INFO)
    parts = [plural(counts[s], s.value, 'info' if s is Severity.INFO else None) for s in order if counts[s]]
    return f'{plural(total, "finding")} ({", ".join(parts)})'


def reviewed_text(cov: Coverage) -> str:
    return (f'reviewed {plural(cov.files_reviewed, "file")}{basis_text(cov)}, '
            f'{plural(cov.hunks_reviewed, "hunk")}, {plural(cov.lines_reviewed, "line")}')


_BASIS_WORDS = {Basis.FULL: 'in full', Basis.BLOB: 'from blobs', Basis.FRAGMENTS: 'from fragments'}


def basis_text(cov: Coverage) -> str:
    """' (2 in full, 1 from fragments)', or '' when every file was read in full."""
    counts = collections.Counter(b.basis for b in cov.files)
    if not counts or set(counts) == {Basis.FULL}:
        return ''
    return ' (' + ', '.join(f'{counts[b]} {w}' for b, w in _BASIS_WORDS.items() if counts[b]) + ')'


def skipped_groups(cov: Coverage) -> list[tuple[str, int, str, int]]:
    """[(kind 'file'|'hunk', count, reason, changed lines not reviewed)], largest group first.

    A skip that concerns one reviewer only keeps that reviewer in its reason, since the other
    reviewers did look at that code.
    """
    files: dict[str, set[str]] = collections.defaultdict(set)
    hunks: collections.Counter[str] = collections.Counter()
    lines: collections.Counter[tuple[str, str]] = collections.Counter()
    for s in cov.skipped:
        reason = s.reason if not s.reviewer else f'{s.reason}, {s.reviewer} only'
        kind = 'file' if s.hunk is None else 'hunk'
        if kind == 'file':
            files[reason].add(s.path)
        else:
            hunks[reason] += 1
        lines[kind, reason] += max(int(s.lines or 0), 0)
    groups = [('file', len(paths), reason, lines['file', reason]) for reason, paths in files.items()]
    groups += [('hunk', n, reason, lines['hunk', reason]) for reason, n in hunks.items()]
    return sorted(groups, key=lambda g: (g[0] != 'file', -g[1], g[2]))


def skipped_text(cov: Coverage) -> str:
    """'skipped: 2 files (lock file), 1 hunk (budget)' or '' when nothing was skipped."""
    groups = skipped_groups(cov)
    if not groups:
        return ''
    return 'skipped: ' + ', '.join(f'{plural(n, kind)} ({reason})' for kind, n, reason, _ in groups)


def nothing_reviewed(cov: Coverage) -> bool:
    return not (cov.files_reviewed or cov.hunks_reviewed or cov.lines_reviewed)


def rule_id(category: str) -> str:
    """The stable rule id of a category (what SARIF, rdjsonl and annotations call the rule)."""
    return category.strip() or 'reviewbot/unspecified'
