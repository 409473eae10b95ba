"""Reviewers: each takes the planned diff and returns findings.

A reviewer is any object with a `name` and a `review(files, ctx)` method. Findings it returns may
point at any new-file line; the anchoring stage (reviewbot.anchor) decides what is reported where.
"""
from __future__ import annotations

import dataclasses
import importlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from reviewbot.config import Config
from reviewbot.core import FileChange, Finding, Skipped
from reviewbot.errors import ConfigError


@dataclasses.dataclass
class ReviewContext:
    config: Config
    # Text of a path at the new revision being reviewed (index for --staged, B for A..B), or None
    # when it cannot be had (stdin diff outside the repo, deleted file).
    read_new_file: Callable[[str], str | None]
    repo_root: Path | None = None
    stage: str = 'cli'  # 'cli', 'pre-commit', 'pre-push', 'ci'
    deadline: float | None = None  # time.monotonic() by which the running reviewer must return
    budget: float | None = None  # seconds the reviewers (run at once) may use; the pipeline sets `deadline`
    dry_run: bool = False
    platform: Any = None  # the CI/PR platform context, when there is one (cloud gate, publishing)
    # (path, hunk new_start) of the hunks an analyzer (ANALYZERS) found an error or warning on the added
    # lines of; the pipeline adds to it as each analyzer returns, the model reviewer reviews these last
    explained: set[tuple[str, int]] = dataclasses.field(default_factory=set)

    def time_left(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.monotonic()


@dataclasses.dataclass
class ReviewerResult:
    findings: list[Finding] = dataclasses.field(default_factory=list)
    skipped: list[Skipped] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)
    egress: list[dict[str, Any]] = dataclasses.field(default_factory=list)  # receipts of what left
    stats: dict[str, Any] = dataclasses.field(default_factory=dict)


class Reviewer(Protocol):
    name: str

    def review(self, files: list[FileChange], ctx: ReviewContext) -> ReviewerResult: ...

    def plan(self, files: list[FileChange], ctx: ReviewContext) -> list[str]:
        """Lines for --dry-run: what this reviewer would do (and what would leave the machine)."""
        ...


def new_side_lines(f: FileChange) -> tuple[set[int], dict[int, str]]:
    """The added lines of a file's hunks (new-file numbers), and the text of every new-side line."""
    added = {ln.new_lineno for h in f.hunks for ln in h.added if ln.new_lineno is not None}
    text_at = {ln.new_lineno: ln.text for h in f.hunks for ln in h.lines if ln.new_lineno}
    return added, text_at


def first_added_line(added: set[int], start: int, end: int) -> int | None:
    """Where an analyzer's match over lines start..end is reported: its first added line. None
    when it lies entirely on unchanged lines: then it is not about this change."""
    return next((n for n in range(start, max(start, end) + 1) if n in added), None)


# The one registry of reviewers: name -> the module that declares it. Each module has a
# `from_config(config, *, model=None) -> Reviewer` factory; the pipeline and the server both build
# reviewers here (the server passes its own loaded model, so a review never loads a second copy).
REGISTRY = {
    'secrets': 'reviewbot.reviewers.secrets',
    'ruff': 'reviewbot.reviewers.ruff',
    'patterns': 'reviewbot.reviewers.patterns',
    'model': 'reviewbot.reviewers.model',
    'cloud': 'reviewbot.reviewers.cloud',
}

# The deterministic analyzers: an error or warning of theirs on a hunk explains it (ReviewContext.explained).
ANALYZERS = frozenset({'secrets', 'ruff', 'patterns'})
# Waited for past the deadline: a hook must not let a secret through because the machine was slow
# (it is deterministic and normally takes well under a second).
WAITED_FOR = frozenset({'secrets'})
# started first: their work is a subprocess (semgrep ~0.6 s, the longest part of a hook run), which then
# runs while the others' Python (detect-secrets' imports) holds the GIL; results still merge in config order
STARTED_FIRST = ('patterns', 'ruff')


def build(names: list[str], config: Config, *, model: Any = None) -> list[Reviewer]:
    """The reviewers `names` (in that order) built from `config`; an unknown name is a ConfigError."""
    out = []
    for name in names:
        module = REGISTRY.get(name)
        if module is None:
            raise ConfigError(f'unknown reviewer {name!r} (known: {", ".join(REGISTRY)})')
        out.append(importlib.import_module(module).from_config(config, model=model))
    return out
