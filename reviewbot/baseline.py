"""The team's memory of known findings: `.reviewbot-baseline.json`, the way detect-secrets and semgrep
baselines work. `reviewbot baseline` writes the fingerprints of today's findings; `review`, the hook and
`ci` then report only findings whose fingerprint is not in it, and say in the report's notes how many
were silenced.

A fingerprint is core.fingerprint: rule id + path + the normalised anchored code (white space folded),
never a line number, so it survives lines moving above the finding and re-indentation; it changes when
the flagged code itself, its file's path or the rule changes, and then the finding is reported again.

The file is versioned JSON, one entry per fingerprint, sorted, with no timestamps, so regenerating it on
the same code gives the same bytes and a diff of it in review shows exactly what was silenced:
  {"version": 1, "tool": "reviewbot", "findings": [{"path": ..., "category": ..., "fingerprint": ...}]}
It is read from the work tree (the repository root), in CI too: a pull request can edit its own
baseline, which can only hide findings from that pull request's review, never add or change code.
Because a pull request decides what is at that path, the file must be a regular file, not a symbolic
link (nor a FIFO or a device), of at most MAX_BYTES; errors say what is wrong with it, never quote
values from it. It is written through reviewbot.safefile.atomic_write (a link there is replaced,
never written through).
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from reviewbot import safefile
from reviewbot.core import Finding, Report
from reviewbot.errors import ReviewbotError

BASELINE_FILE = '.reviewbot-baseline.json'
BASELINE_VERSION = 1
MAX_BYTES = 10_000_000
_FP = re.compile(r'[0-9a-f]{8,64}')


class BaselineError(ReviewbotError):
    """The baseline file cannot be read or is not a reviewbot baseline (exit 2)."""


@dataclasses.dataclass(frozen=True)
class Baseline:
    path: Path
    entries: tuple[dict[str, str], ...]  # {'path', 'category', 'fingerprint'}, sorted

    @property
    def fingerprints(self) -> frozenset[str]:
        return frozenset(e['fingerprint'] for e in self.entries)


def _bad(path: Path, why: str) -> BaselineError:
    why = ' '.join(why.split())  # one line, whatever the parser said
    return BaselineError(f'{path} is not a valid reviewbot baseline: {why} '
                         '(regenerate it with `reviewbot baseline`)')


def load(path: Path) -> Baseline:
    """Read and check a baseline file. Raises BaselineError (one line) when it is unreadable or corrupt."""
    try:
        data: Any = json.loads(safefile.open_regular(path, MAX_BYTES))
    except safefile.UnsafePathError as e:
        raise BaselineError(f'refusing to read baseline {path}: {e}') from None
    except OSError as e:
        raise BaselineError(f'cannot read baseline {path}: {e.strerror or e}') from None
    except UnicodeDecodeError:
        raise _bad(path, 'not UTF-8 text') from None
    except json.JSONDecodeError as e:  # its position only: the message may quote the file
        raise _bad(path, f'not JSON (line {e.lineno} column {e.colno})') from None
    except (ValueError, RecursionError):
        raise _bad(path, 'not JSON') from None
    if not isinstance(data, dict):
        raise _bad(path, 'not a JSON object')
    if data.get('version') != BASELINE_VERSION:
        raise _bad(path, f'unsupported "version" (this reviewbot reads version {BASELINE_VERSION})')
    findings = data.get('findings')
    if not isinstance(findings, list):
        raise _bad(path, '"findings" is not a list')
    entries = []
    for i, item in enumerate(findings):
        if not isinstance(item, dict) or not isinstance(item.get('fingerprint'), str) \
                or not _FP.fullmatch(item['fingerprint']):
            raise _bad(path, f'findings[{i}] has no valid "fingerprint"')
        entries.append({'path': str(item.get('path', '')), 'category': str(item.get('category', '')),
                        'fingerprint': item['fingerprint']})
    return Baseline(path, tuple(_sorted(entries)))


def find(root: Path) -> Path | None:
    """The baseline file at the repository root, if there is anything at that name (load() then
    refuses what is not a regular file, a link included)."""
    path = root / BASELINE_FILE
    try:
        os.lstat(path)
    except OSError:
        return None
    return path


def _sorted(entries: Iterable[dict[str, str]]) -> list[dict[str, str]]:
    unique = {e['fingerprint']: e for e in entries}
    return sorted(unique.values(), key=lambda e: (e['path'], e['category'], e['fingerprint']))


def entries_of(findings: Iterable[Finding]) -> list[dict[str, str]]:
    return _sorted({'path': f.path, 'category': f.category, 'fingerprint': f.fingerprint} for f in findings)


def dumps(entries: Iterable[dict[str, str]]) -> str:
    """The file's text: stable for the same findings (sorted, no timestamps), ending in a newline."""
    doc = {'version': BASELINE_VERSION, 'tool': 'reviewbot',
           'about': 'known findings reviewbot does not report again: rule id + path + normalised code '
                    '(no line numbers); regenerate with `reviewbot baseline`',
           'findings': _sorted(entries)}
    return json.dumps(doc, indent=2, ensure_ascii=False) + '\n'


def write(path: Path, entries: Iterable[dict[str, str]]) -> None:
    """Write the baseline atomically (a crash never leaves half a file)."""
    try:
        safefile.atomic_write(path, dumps(entries))
    except OSError as e:
        raise BaselineError(f'cannot write baseline {path}: {e.strerror or e}') from None


def apply(report: Report, baseline: Baseline, shown_as: str = BASELINE_FILE) -> int:
    """Drop the report's findings the baseline knows; a note says how many. Returns that number."""
    known = baseline.fingerprints
    kept = [f for f in report.findings if f.fingerprint not in known]
    silenced = len(report.findings) - len(kept)
    report.findings = kept
    report.notes.append(f'baseline {shown_as}: {silenced} known finding{"s" if silenced != 1 else ""} '
                        f'silenced ({len(known)} fingerprint{"s" if len(known) != 1 else ""} in the file)')
    return silenced
