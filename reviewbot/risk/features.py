"""A hunk's risk features, from what a review computes anyway (issue 18).

Three groups, each a small typed record, flattened by `vector()` in a fixed order (NAMES):

* change metrics, plain counts from the diff (the JIT defect-prediction features that are hard to
  beat across projects, Zeng et al. ISSTA 2021): lines added/removed, files and hunks in the change,
  the hunk's spread, and a complexity delta (branch keywords added minus removed);
* the triage prefill (`read_prefill`): ONE prefill of the review prompt the local model's triage
  runs (reviewbot.reviewers.model.scan_unit), read three ways:
  - the answer: 1 - P(the answer starts with NONE), today's triage score;
  - naturalness: surprisal (nats/token) of the code of the added rows and of the removed rows of
    the view (Ray et al., ICSE 2016), mean and max, and their difference;
  - hidden states: the export's `hidden.<layer>` outputs (export version 5+), mean-pooled over the
    tokens of the added rows' code.

Only the first VIEW_TOKEN_CAP tokens of the view are read (the model is causal: the rows kept do
not depend on the rest), so research can feed short views and the product reads the same rows.
Needs numpy and a loaded model (reviewbot.engine.runtime.OnnxModel or anything with the same
`tokenizer`, `token_surprisals(prefix, text, last=, states=)` and `hidden_names`); no torch.
"""
from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from reviewbot.core import Hunk
from reviewbot.engine.surgery import HIDDEN_PREFIX

VIEW_TOKEN_CAP = 256  # view tokens read for the features (the research prefill feeds at most these)

# Branch points, as counted for a complexity delta (McCabe-like) over the languages the model reviews.
_BRANCH = re.compile(r'\b(?:if|elif|else|for|while|except|catch|case|switch|and|or|try|finally|with|'
                     r'match|when|unless|until|rescue)\b|&&|\|\||\?\s')
_ADDED_ROW = re.compile(r'^L(?P<n>\d+) +\+ (?P<code>.*)$')  # reviewers.model.render_view's layout
_REMOVED_ROW = re.compile(r'^ +- (?P<code>.*)$')

METRIC_NAMES = ('log_added', 'log_removed', 'log_files', 'log_change_added', 'log_change_removed', 'log_spread',
                'complexity_delta', 'added_share')
TRIAGE_NAMES = ('triage',)
NATURALNESS_NAMES = ('nat_added_mean', 'nat_added_max', 'nat_removed_mean', 'nat_removed_max',
                     'nat_has_removed', 'nat_diff_mean')


def branch_count(lines: Iterable[str]) -> int:
    return sum(len(_BRANCH.findall(text)) for text in lines)


@dataclasses.dataclass(frozen=True)
class ChangeMetrics:
    added: int  # lines the hunk adds
    removed: int  # lines the hunk removes
    files: int  # files the change (commit, or the reviewed diff) touches
    change_added: int  # lines the whole change adds
    change_removed: int  # lines the whole change removes
    spread: int  # diff lines from the hunk's first to its last changed line
    complexity_delta: int  # branch keywords added - removed

    def vector(self) -> list[float]:
        changed = self.added + self.removed
        return [math.log1p(self.added), math.log1p(self.removed), math.log1p(max(self.files, 1)),
                math.log1p(max(self.change_added, 0)), math.log1p(max(self.change_removed, 0)),
                math.log1p(max(self.spread, 0)), float(self.complexity_delta),
                self.added / changed if changed else 0.0]


def change_metrics(hunks: Sequence[Hunk], files: int, change_added: int, change_removed: int) -> ChangeMetrics:
    """The metrics of one unit of review (a hunk, or nearby hunks of one file reviewed together)
    inside a change of `files` files adding/removing change_added/change_removed lines."""
    added = [ln.text for h in hunks for ln in h.added]
    removed = [ln.text for h in hunks for ln in h.removed]
    spread = 0
    for h in hunks:
        changed = [i for i, ln in enumerate(h.lines) if ln.kind.value != 'context']
        spread += changed[-1] - changed[0] + 1 if changed else 0
    return ChangeMetrics(len(added), len(removed), files, change_added, change_removed, spread,
                         branch_count(added) - branch_count(removed))


@dataclasses.dataclass(frozen=True)
class Prefill:
    """What the triage prefill says about one unit's view."""
    triage: float  # 1 - P(answer starts with NONE)
    added: tuple[float, float] | None  # (mean, max) surprisal of the added rows' code tokens; None: not scored
    removed: tuple[float, float] | None  # the same for removed rows (None: none, or not scored)
    hidden: dict[str, np.ndarray]  # output name -> mean over the added rows' tokens [hidden]; {}: no outputs
    tokens: int  # view tokens read
    scored: bool = False  # the code tokens were scored (naturalness); added/removed None then means none read

    def naturalness(self) -> list[float]:
        a = self.added or (0.0, 0.0)
        r = self.removed
        if r is None:
            return [a[0], a[1], 0.0, 0.0, 0.0, 0.0]
        return [a[0], a[1], r[0], r[1], 1.0, a[0] - r[0]]


def _row_spans(view: str, cap_chars: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Char spans (in the view) of the code of added rows and of removed rows, inside cap_chars."""
    added: list[tuple[int, int]] = []
    removed: list[tuple[int, int]] = []
    pos = 0
    for row in view.split('\n'):
        if pos >= cap_chars:
            break
        m = _ADDED_ROW.match(row)
        target = added
        if m is None:
            m = _REMOVED_ROW.match(row)
            target = removed
        if m is not None and m['code'].strip():
            target.append((pos + m.start('code'), min(pos + len(row), cap_chars)))
        pos += len(row) + 1
    return added, removed


def _answer_risk(surprisal: float) -> float:
    return min(1.0, max(0.0, 1.0 - math.exp(-max(0.0, surprisal))))


def read_prefill(model: Any, prefix: str, text: str, view: str, answer: str = 'NONE',
                 naturalness: bool = True, cap: int = VIEW_TOKEN_CAP) -> Prefill:
    """One prefill of prefix + text + answer, where `text` starts with `view` (as scan_unit splits
    the review prompt). naturalness=False scores only the answer (no vocabulary projection of the
    code tokens: what the triage pays today); the hidden states come from the same prefill."""
    enc = model.tokenizer.encode(text, add_special_tokens=False)
    full = model.tokenizer.encode(text + answer, add_special_tokens=False)
    n_head = len(enc.ids)
    if full.ids[:n_head] != enc.ids or len(full.ids) == n_head:
        raise ValueError('the answer does not tokenize apart from the prompt')
    offsets = full.offsets[:n_head]
    view_tokens = [i for i, (start, _end) in enumerate(offsets) if start < len(view)]
    read = view_tokens[:cap]
    cap_chars = offsets[read[-1]][1] if read else 0
    added_spans, removed_spans = _row_spans(view, cap_chars)

    def tokens_in(spans: Sequence[tuple[int, int]]) -> list[int]:
        return [i for i in read if any(lo <= offsets[i][0] < hi for lo, hi in spans)]

    added_tok, removed_tok = tokens_in(added_spans), tokens_in(removed_spans)
    first = min(added_tok + removed_tok, default=n_head) if naturalness else n_head
    states: dict[str, np.ndarray] = {}
    kwargs: dict[str, Any] = {'states': states} if getattr(model, 'hidden_names', None) else {}
    scored = list(model.token_surprisals(prefix, text + answer, last=len(full.ids) - first, **kwargs))
    if len(scored) != len(full.ids) - first:
        raise ValueError('the model scored an unexpected number of tokens')
    surprisal = dict(zip(range(first, len(full.ids)), scored))

    def stats(idx: list[int]) -> tuple[float, float] | None:
        values = [surprisal[i] for i in idx if i in surprisal]
        return (float(np.mean(values)), float(np.max(values))) if values else None

    hidden: dict[str, np.ndarray] = {}
    for name, rows in states.items():
        picked = rows[added_tok] if added_tok else rows[read]
        picked = picked[~np.isnan(picked).any(axis=1)]
        if len(picked):
            hidden[name] = picked.mean(axis=0).astype(np.float32)
    return Prefill(triage=_answer_risk(surprisal[n_head]),
                   added=stats(added_tok) if naturalness else None,
                   removed=stats(removed_tok) if naturalness else None,
                   hidden=hidden, tokens=len(read), scored=naturalness)


def scalars(metrics: ChangeMetrics, prefill: Prefill) -> dict[str, float]:
    """Every scalar feature by name (features.NAMES order): what a read-out looks up."""
    out = dict(zip(METRIC_NAMES, metrics.vector()))
    out['triage'] = prefill.triage
    if prefill.scored:
        out.update(zip(NATURALNESS_NAMES, prefill.naturalness()))
    return out


NAMES = METRIC_NAMES + TRIAGE_NAMES + NATURALNESS_NAMES


def hidden_name(layer: int) -> str:
    return f'{HIDDEN_PREFIX}{layer}'
