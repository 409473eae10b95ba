"""Scoring hunks at review time: the read-out, the model's hidden-state outputs, a clean fallback.

A reviewer asks `Scorer.open()` once per review: it loads the read-out (reviewbot.risk.readout) or,
when the file is missing or corrupt, returns no scorer and a one-line note (the review goes on,
ranked by the triage score). `usable(model)` says whether the loaded model has the hidden-state
outputs the read-out reads (exports before version 5 do not: another note, no risk score). Then,
per unit, `prefill()` replaces the triage prefill (same prompt, same answer score) and `score()`
turns its features into a risk in [0, 1].
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from reviewbot.core import Hunk
from reviewbot.risk import features as F
from reviewbot.risk import readout as R


@dataclasses.dataclass(frozen=True)
class HunkRisk:
    """One reviewed hunk's entry in the report: risk in [0, 1], None when not scored."""
    path: str
    new_start: int
    new_count: int
    risk: float | None

    def to_dict(self) -> dict[str, Any]:
        return {'path': self.path, 'new_start': self.new_start, 'new_count': self.new_count,
                'risk': None if self.risk is None else round(self.risk, 4)}


class Scorer:
    def __init__(self, readout: R.Readout):
        self.readout = readout

    @classmethod
    def open(cls, path: Path | str | None = None) -> tuple[Scorer | None, str | None]:
        """(scorer, None), or (None, a one-line note) when the read-out cannot be used."""
        try:
            return cls(R.load(path)), None
        except R.ReadoutError as e:
            return None, f'risk: {e}; hunks are ranked by the triage score instead'

    def usable(self, model: Any) -> str | None:
        """None when `model` feeds this read-out; else the note to show."""
        have = set(getattr(model, 'hidden_names', ()) or ())
        missing = [n for n in self.readout.hidden if n not in have]
        if not missing:
            return None
        name = getattr(model, 'name', 'the model')
        return (f'risk: {name}\'s export has no {", ".join(missing)} output (exported before version 5): '
                f'run `reviewbot model export {name}` for a risk score; hunks are ranked by the triage score')

    def prefill(self, model: Any, prefix: str, text: str, view: str, answer: str = 'NONE') -> F.Prefill:
        return F.read_prefill(model, prefix, text, view, answer=answer,
                              naturalness=self.readout.needs_naturalness)

    def score(self, hunks: Sequence[Hunk], files: int, change_added: int, change_removed: int,
              prefill: F.Prefill) -> float | None:
        metrics = F.change_metrics(hunks, files, change_added, change_removed)
        return self.readout.score(F.scalars(metrics, prefill), prefill.hidden)

    def warns(self, risk: float | None) -> bool:
        """Whether a model finding on a hunk of this risk is a warning (else info)."""
        return risk is not None and risk >= self.readout.warn_above
