"""Triage: one prefill of the review prompt followed by "NONE" scores a unit's risk and the
naturalness of each of its added lines (scan_unit); generation starts at the least natural one."""
from __future__ import annotations

import dataclasses
import inspect
import math
import re
from typing import Any

from reviewbot.reviewers.model.prompt import review_messages
from reviewbot.reviewers.model.units import Unit


@dataclasses.dataclass
class Scan:
    """What one prefill of the review prompt says about a unit."""
    risk: float  # 1 - P(the answer starts with NONE): the model's own belief that it has a finding
    line_surprisal: dict[int, float]  # added line -> mean surprisal (nats/token) of its code
    lines_scored: bool = True  # False: scanned for the answer only (scan_unit(lines=False))

    def to_cache(self) -> dict[str, Any]:
        return {'risk': self.risk, 'lines': self.line_surprisal, 'lines_scored': self.lines_scored}

    @classmethod
    def from_cache(cls, hit: Any) -> Scan | None:
        """The scan a result-cache entry holds; None when it is not one (an older or damaged entry)."""
        try:
            return cls(float(hit['risk']), {int(k): float(v) for k, v in hit['lines'].items()},
                       lines_scored=bool(hit.get('lines_scored', True)))
        except (KeyError, TypeError, ValueError, AttributeError):
            return None


NONE_ANSWER = 'NONE'
_ADDED_ROW = re.compile(r'^L(?P<n>\d+) +\+ (?P<code>.*)$')  # an added line in render_view's layout


def scan_unit(model: Any, u: Unit, guidelines: str = '', lines: bool = True,
              deadline: float | None = None) -> Scan:
    """One prefill of the review prompt followed by 'NONE': the surprisal of each code token of
    the view (how unnatural each added line is to the model; Ray et al., ICSE 2016) and, at the
    end, the probability of NONE as the answer. Generation then starts at the least natural
    added line.

    lines=False: only the answer's probability (line_surprisal left empty), when the model can
    score just the last tokens: the prompt is then prefilled without projecting every code
    token onto the vocabulary (a third of the prefill's work for Qwen-0.5B).

    `deadline` (time.monotonic()) goes to a model that takes one: it raises DeadlinePassed once the
    deadline is past, between graph calls."""
    prompt = model.chat_prompt(review_messages(u, guidelines))
    at = prompt.rfind('\n' + u.view + '\n')
    if at < 0:  # pragma: no cover - the template keeps the user text intact
        return Scan(0.0, {})
    prefix, text = prompt[:at + 1], prompt[at + 1:]
    head = model.tokenizer.encode(text, add_special_tokens=False)
    full = model.tokenizer.encode(text + NONE_ANSWER, add_special_tokens=False)
    n_head = len(head.ids)
    if full.ids[:n_head] != head.ids or len(full.ids) == n_head:
        return Scan(0.0, {})
    params = inspect.signature(model.token_surprisals).parameters
    timed = {'deadline': deadline} if deadline is not None and 'deadline' in params else {}
    if not lines and 'last' in params:
        tail = list(model.token_surprisals(prefix, text + NONE_ANSWER, last=len(full.ids) - n_head, **timed))
        if len(tail) != len(full.ids) - n_head:
            return Scan(0.0, {})
        return Scan(_answer_risk(tail[0]), {}, lines_scored=False)
    surprisals = list(model.token_surprisals(prefix, text + NONE_ANSWER, **timed))
    if len(surprisals) != len(full.ids):
        return Scan(0.0, {})
    spans: list[tuple[int, int, int]] = []  # code span of each added line in the view text
    pos = 0
    for row in u.view.split('\n'):
        m = _ADDED_ROW.match(row)
        if m and int(m['n']) in u.added and len(m['code'].strip()) >= 3:
            spans.append((pos + m.start('code'), pos + len(row), int(m['n'])))
        pos += len(row) + 1
    per_line: dict[int, list[float]] = {}
    for (start, _end), value in zip(full.offsets[:n_head], surprisals[:n_head]):
        for lo, hi, n in spans:
            if lo <= start < hi:
                per_line.setdefault(n, []).append(value)
                break
    means = {n: sum(v) / len(v) for n, v in per_line.items() if v}
    return Scan(_answer_risk(surprisals[n_head]), means)


def _answer_risk(surprisal: float) -> float:
    """1 - P(the answer starts with NONE), from the surprisal of that first answer token."""
    return min(1.0, max(0.0, 1.0 - math.exp(-max(0.0, surprisal))))


# Which number from the scan is the unit's triage score (chosen on the eval set, see
# eval/results/model.md): 'answer' = scan.risk; 'surprisal' = how unnatural the least natural added
# line is, mapped to 0..1; 'both' = their geometric mean.
TRIAGE_SIGNAL = 'answer'


def unit_risk(scan: Scan, signal: str | None = None) -> float:
    signal = signal or TRIAGE_SIGNAL
    worst = max(scan.line_surprisal.values(), default=0.0)
    surprisal = 1.0 - math.exp(-max(0.0, worst) / 2.0)
    if signal == 'surprisal':
        return surprisal
    if signal == 'both':
        return math.sqrt(max(0.0, scan.risk) * surprisal)
    return scan.risk


def pick_line(scan: Scan) -> int | None:
    """The added line generation starts at: the least natural one."""
    if not scan.line_surprisal:
        return None
    return max(scan.line_surprisal.items(), key=lambda kv: (kv[1], -kv[0]))[0]

