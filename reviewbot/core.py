"""The core types every stage of the pipeline shares.

The pipeline flows one way:
  diff source (bytes) -> parsed Diff -> reviewers -> Findings anchored to diff lines -> reporters.
Everything in here is plain data: no I/O, no imports from the rest of the package.
"""
from __future__ import annotations

import dataclasses
import enum
import hashlib
import re
from typing import Any


class LineKind(str, enum.Enum):
    ADDED = 'added'
    REMOVED = 'removed'
    CONTEXT = 'context'


@dataclasses.dataclass(frozen=True)
class DiffLine:
    kind: LineKind
    text: str  # without the trailing newline
    old_lineno: int | None  # None for added lines
    new_lineno: int | None  # None for removed lines
    no_newline_at_eof: bool = False


@dataclasses.dataclass
class Hunk:
    old_start: int
    old_count: int
    new_start: int
    new_count: int
    section: str
    lines: list[DiffLine]

    @property
    def added(self) -> list[DiffLine]:
        return [ln for ln in self.lines if ln.kind is LineKind.ADDED]

    @property
    def removed(self) -> list[DiffLine]:
        return [ln for ln in self.lines if ln.kind is LineKind.REMOVED]

    @property
    def new_end(self) -> int:
        """Last new-file line number the hunk covers (inclusive)."""
        return self.new_start + max(self.new_count, 1) - 1


class ChangeKind(str, enum.Enum):
    ADDED = 'added'
    DELETED = 'deleted'
    MODIFIED = 'modified'
    RENAMED = 'renamed'
    COPIED = 'copied'
    MODE_ONLY = 'mode-only'


@dataclasses.dataclass
class FileChange:
    old_path: str | None  # None when the file is added
    new_path: str | None  # None when the file is deleted
    kind: ChangeKind
    hunks: list[Hunk]
    is_binary: bool = False
    is_submodule: bool = False
    old_mode: str | None = None
    new_mode: str | None = None
    # blob ids from git's `index OLD..NEW` line (abbreviated hex), when the diff names them
    old_blob: str | None = None
    new_blob: str | None = None

    @property
    def path(self) -> str:
        """The path findings are reported against: the new path, or the old one for deletions."""
        return self.new_path or self.old_path or ''

    @property
    def added_count(self) -> int:
        return sum(len(h.added) for h in self.hunks)

    @property
    def removed_count(self) -> int:
        return sum(len(h.removed) for h in self.hunks)

    def new_line_index(self) -> dict[int, DiffLine]:
        """new-file line number -> the added or context line of the diff at it."""
        return {
            ln.new_lineno: ln
            for h in self.hunks for ln in h.lines
            if ln.new_lineno is not None
        }

    def hunk_at(self, new_lineno: int) -> Hunk | None:
        for h in self.hunks:
            if h.new_start <= new_lineno <= h.new_end:
                return h
        return None


@dataclasses.dataclass
class Diff:
    files: list[FileChange]

    @property
    def is_empty(self) -> bool:
        return not self.files

    def file(self, path: str) -> FileChange | None:
        for f in self.files:
            if f.path == path:
                return f
        return None


class Severity(str, enum.Enum):
    INFO = 'info'
    WARNING = 'warning'
    ERROR = 'error'

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.INFO: 1, Severity.WARNING: 2, Severity.ERROR: 3}


class Side(str, enum.Enum):
    RIGHT = 'RIGHT'  # the new file (added and context lines)
    LEFT = 'LEFT'  # the old file (removed lines)


_WS = re.compile(r'\s+')


def normalise_code(code: str) -> str:
    """Code with white space folded, so a fingerprint survives re-indentation and line shifts."""
    return '\n'.join(_WS.sub(' ', ln).strip() for ln in code.splitlines() if ln.strip())


def fingerprint(path: str, category: str, anchored_code: str, message: str = '') -> str:
    """Stable identity of a finding: path, category and the normalised code, never a line number."""
    h = hashlib.sha256()
    for part in (path, category, normalise_code(anchored_code), message if not anchored_code else ''):
        h.update(part.encode('utf-8', 'surrogateescape'))
        h.update(b'\0')
    return h.hexdigest()[:16]


FIX_SOURCES = ('ruff', 'semgrep', 'rewrite', 'secrets', 'model', 'cloud')


@dataclasses.dataclass(frozen=True)
class Fix:
    """A proposed edit for a finding: new text for whole lines line..end_line of the new file.

    Fixers propose, the verifier (reviewbot.fixes.verify) decides: a fix is shown to a person only
    when `verified` (every check in `checks` passed); otherwise `rejected` says why. `safety` follows
    ruff's split: 'safe' keeps what correct code does, 'unsafe' may change behaviour (a secret read
    from the environment, a list instead of a shell string) and is applied only when asked.
    """
    line: int
    end_line: int
    replacement: str  # whole lines, no trailing newline; '' removes the lines
    source: str  # one of FIX_SOURCES
    safety: str = 'safe'  # 'safe' | 'unsafe'
    original: str = ''  # the lines before the fix (redacted), to show a diff
    description: str = ''
    verified: bool = False
    checks: tuple[str, ...] = ()  # names of the checks that passed
    rejected: str | None = None  # why the verifier dropped it

    def to_dict(self) -> dict[str, Any]:
        return {'source': self.source, 'safety': self.safety, 'checks': list(self.checks),
                'line': self.line, 'end_line': self.end_line, 'description': self.description,
                'original': self.original}

    @classmethod
    def from_dict(cls, d: dict[str, Any], replacement: str) -> Fix:
        """A verified fix read back from a report (it was verified when the report was made)."""
        return cls(line=int(d['line']), end_line=int(d['end_line']), replacement=replacement,
                   source=str(d['source']), safety=str(d.get('safety', 'safe')),
                   original=str(d.get('original', '')), description=str(d.get('description', '')),
                   verified=True, checks=tuple(str(c) for c in d.get('checks', [])))


@dataclasses.dataclass
class Finding:
    path: str
    line: int | None  # new-file line number; None for a file-level note
    end_line: int | None
    severity: Severity
    category: str  # stable rule id, e.g. 'secret/aws-access-key', 'bug/off-by-one'
    message: str
    reviewer: str
    side: Side = Side.RIGHT
    # Replacement text for lines line..end_line. A reviewer may propose one (the cloud does); after
    # the pipeline's fix stage it is set only from a verified `fix` (same text), else None.
    suggestion: str | None = None
    anchored_code: str = ''  # text of the anchored lines, filled in by anchoring
    confidence: float | None = None
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)
    fix: Fix | None = None  # the verified fix behind `suggestion`

    @property
    def verified_fix(self) -> Fix | None:
        """The fix a person may be shown: verified, and the same text as `suggestion`."""
        fx = self.fix
        if fx is None or not fx.verified or self.suggestion is None or self.suggestion != fx.replacement:
            return None
        return fx

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.path, self.category, self.anchored_code, self.message)

    def to_dict(self) -> dict[str, Any]:
        return {
            'path': self.path,
            'line': self.line,
            'end_line': self.end_line,
            'side': self.side.value,
            'severity': self.severity.value,
            'category': self.category,
            'message': self.message,
            'suggestion': self.suggestion if self.verified_fix else None,
            'fix': self.verified_fix.to_dict() if self.verified_fix else None,
            'reviewer': self.reviewer,
            'confidence': self.confidence,
            'fingerprint': self.fingerprint,
            'anchored_code': self.anchored_code,
            'cached': bool(self.extra.get('cached')),  # answered from the result cache
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Finding:
        """Inverse of to_dict (fingerprint is derived, not read). Raises KeyError/ValueError on bad data.

        A suggestion without its `fix` object is not read back: only a verified fix is ever shown."""
        suggestion, fix = d.get('suggestion'), d.get('fix')
        if not isinstance(suggestion, str) or not isinstance(fix, dict):
            suggestion, fix = None, None
        return cls(
            path=str(d['path']),
            line=None if d.get('line') is None else int(d['line']),
            end_line=None if d.get('end_line') is None else int(d['end_line']),
            severity=Severity(d['severity']),
            category=str(d['category']),
            message=str(d['message']),
            reviewer=str(d.get('reviewer', '')),
            side=Side(d.get('side', 'RIGHT')),
            suggestion=suggestion,
            anchored_code=str(d.get('anchored_code', '')),
            confidence=d.get('confidence'),
            fix=Fix.from_dict(fix, suggestion) if fix is not None and suggestion is not None else None,
            extra={'cached': True} if d.get('cached') is True else {},
        )


@dataclasses.dataclass
class Skipped:
    """Something that was not reviewed, and why. Never a silent skip."""
    path: str
    reason: str
    reviewer: str | None = None  # None: skipped for every reviewer
    hunk: int | None = None  # index of the hunk in the file, None: the whole file
    lines: int = 0  # changed lines not reviewed


class Basis(str, enum.Enum):
    """What the reviewers read of a file besides the diff."""
    FULL = 'full'  # the whole new revision: the reviewed commit or index, a matching work tree, an added file
    BLOB = 'blob'  # the whole new revision, from the git blobs the diff's `index` line names
    FRAGMENTS = 'fragments'  # only the hunks the diff shows


@dataclasses.dataclass
class FileBasis:
    path: str
    basis: Basis
    detail: str = ''  # where the text came from, e.g. 'new blob 1a2b3c4', 'work tree'


@dataclasses.dataclass
class Coverage:
    files_reviewed: int = 0
    hunks_reviewed: int = 0
    lines_reviewed: int = 0
    skipped: list[Skipped] = dataclasses.field(default_factory=list)
    files: list[FileBasis] = dataclasses.field(default_factory=list)  # per reviewed file

    def to_dict(self) -> dict[str, Any]:
        return {
            'files_reviewed': self.files_reviewed,
            'hunks_reviewed': self.hunks_reviewed,
            'lines_reviewed': self.lines_reviewed,
            'skipped': [dataclasses.asdict(s) for s in self.skipped],
            'files': [{'path': b.path, 'basis': b.basis.value, 'detail': b.detail} for b in self.files],
        }


REPORT_SCHEMA_VERSION = 1
_SHA = re.compile(r'[0-9a-f]{40}|[0-9a-f]{64}')


@dataclasses.dataclass(frozen=True)
class Reviewed:
    """What a report was computed on: the head commit (None for staged changes or a diff file), the base
    (the commit the diff starts from: a merge-base, or HEAD for staged changes) and the sha256 of the
    exact diff bytes. `reviewbot publish` refuses to post a report on a request whose head moved."""
    head: str | None
    base: str | None
    diff_sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {'head': self.head, 'base': self.base, 'diff_sha256': self.diff_sha256}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Reviewed:
        def sha(v: Any, what: str) -> str | None:
            if v is None:
                return None
            if not isinstance(v, str) or not _SHA.fullmatch(v):
                raise ValueError(f'reviewed.{what} is not a commit id')
            return v
        digest = d.get('diff_sha256')
        if not isinstance(digest, str) or not re.fullmatch(r'[0-9a-f]{64}', digest):
            raise ValueError('reviewed.diff_sha256 is not a sha256')
        return cls(sha(d.get('head'), 'head'), sha(d.get('base'), 'base'), digest)


def diff_sha256(data: bytes) -> str:
    """The digest of a diff's exact bytes that a report records (Reviewed.diff_sha256) and
    `reviewbot publish` compares."""
    return hashlib.sha256(data).hexdigest()


def commit_id(rev: str | None) -> str | None:
    """rev when it is a full commit id (not ':' for the index, not a ref name), else None."""
    return rev if rev is not None and _SHA.fullmatch(rev) else None


@dataclasses.dataclass
class Report:
    findings: list[Finding]
    coverage: Coverage
    timings: dict[str, float] = dataclasses.field(default_factory=dict)
    reviewers: list[str] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)  # e.g. why the cloud was not used
    egress: list[dict[str, Any]] = dataclasses.field(default_factory=list)  # what left the machine
    # the fix stage's counts: proposed, verified, rejected by reason, verified by source, ...
    fixes: dict[str, Any] = dataclasses.field(default_factory=dict)
    reviewed: Reviewed | None = None  # the commits and diff this report was computed on
    # not in the JSON: why another run of the same review could answer differently (the fix stage cut
    # by the budget or a missing tool); coverage.skipped holds the reviewers' own
    unfinished: list[str] = dataclasses.field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            'schema_version': REPORT_SCHEMA_VERSION,
            'tool': 'reviewbot',
            'findings': [f.to_dict() for f in self.findings],
            'coverage': self.coverage.to_dict(),
            'timings': {k: round(v, 4) for k, v in self.timings.items()},
            'reviewers': list(self.reviewers),
            'notes': list(self.notes),
            'egress': list(self.egress),
            'fixes': dict(self.fixes),
            'reviewed': self.reviewed.to_dict() if self.reviewed is not None else None,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Report:
        """Read back a JSON report (e.g. one computed in another CI job). Raises KeyError/ValueError."""
        if d.get('schema_version') != REPORT_SCHEMA_VERSION:
            raise ValueError(f'unsupported report schema_version {d.get("schema_version")!r}')
        cov = d.get('coverage', {})
        coverage = Coverage(
            files_reviewed=int(cov.get('files_reviewed', 0)),
            hunks_reviewed=int(cov.get('hunks_reviewed', 0)),
            lines_reviewed=int(cov.get('lines_reviewed', 0)),
            skipped=[Skipped(**s) for s in cov.get('skipped', [])],
            files=[FileBasis(str(b['path']), Basis(b['basis']), str(b.get('detail', '')))
                   for b in cov.get('files', [])],
        )
        return cls(
            findings=[Finding.from_dict(f) for f in d['findings']],
            coverage=coverage,
            timings=dict(d.get('timings', {})),
            reviewers=list(d.get('reviewers', [])),
            notes=list(d.get('notes', [])),
            egress=list(d.get('egress', [])),
            fixes=dict(d.get('fixes', {})),
            reviewed=Reviewed.from_dict(d['reviewed']) if d.get('reviewed') is not None else None,
        )
