"""Secrets in added lines, reported as findings (detection and masking: reviewbot.privacy.redact)."""
from __future__ import annotations

import re
from typing import Any

from reviewbot import textscan
from reviewbot.config import Config
from reviewbot.core import FileChange, Finding, Severity, Skipped
from reviewbot.privacy.redact import mask_line, pem_spans, scan_line
from reviewbot.reviewers import ReviewContext, ReviewerResult


def _slug(secret_type: str) -> str:
    return re.sub(r'[^a-z0-9]+', '-', secret_type.lower()).strip('-')


class SecretsReviewer:
    name = 'secrets'

    def plan(self, files: list[FileChange], ctx: ReviewContext) -> list[str]:
        lines = sum(f.added_count for f in files)
        return [f'secrets: scan {lines} added lines in {len(files)} files (local, nothing leaves)']

    def review(self, files: list[FileChange], ctx: ReviewContext) -> ReviewerResult:
        result = ReviewerResult()
        windowed = 0
        for f in files:
            for hunk_index, hunk in enumerate(f.hunks):
                left = ctx.time_left()
                if left is not None and left <= 0:  # the stage's budget bounds this reviewer too
                    result.skipped.append(Skipped(
                        f.path, 'secrets: over the time budget, not scanned', self.name,
                        hunk=hunk_index, lines=len(hunk.added)))
                    continue
                added = hunk.added
                in_pem = {k for a, b in pem_spans([ln.text for ln in added]) for k in range(a, b + 1)}
                for k, ln in enumerate(added):
                    windowed += len(ln.text) > textscan.WINDOW
                    hits = scan_line(ln.text)
                    if k in in_pem and not any(h.type == 'Private Key' for h in hits):
                        continue  # the key's body: reported once, at its BEGIN line
                    for h in hits:
                        result.findings.append(Finding(
                            path=f.path, line=ln.new_lineno, end_line=ln.new_lineno,
                            severity=Severity.ERROR, category=f'secret/{_slug(h.type)}',
                            message=(f'{h.type} committed in source: '
                                     f'`{mask_line(ln.text, [h]).strip()[:160]}`. Remove it, '
                                     'rotate the credential, and load it from the environment '
                                     'or a secret store.'),
                            reviewer=self.name,
                            anchored_code=mask_line(ln.text, hits),
                        ))
        if windowed:
            lines = 'line' if windowed == 1 else 'lines'
            result.notes.append(f'secrets: {windowed} {lines} over {textscan.WINDOW} characters scanned '
                                f'in windows overlapping by {textscan.OVERLAP}')
        return result


def from_config(config: Config, **_: Any) -> SecretsReviewer:
    """The registry's factory (reviewbot.reviewers.REGISTRY)."""
    return SecretsReviewer()
