"""How long the model's work will take, learned as it runs: the reviewer never starts a model call
that would overrun the review's deadline, and sizes an answer to the time left."""
from __future__ import annotations

import os
from typing import Any

from reviewbot.reviewers import ReviewContext
from reviewbot.reviewers.model.prompt import PROMPT_OVERHEAD_CHARS

ASSUMED_PREFILL_TOKENS_PER_SECOND = 150.0
ASSUMED_DECODE_TOKENS_PER_SECOND = 20.0
ASSUMED_LOAD_SECONDS = 2.0
GENERATION_MARGIN_SECONDS = 0.1  # an answer is sized to end this long before the deadline
CHARS_PER_TOKEN = 3.5  # of code


class Pace:
    """Prefill and decode speeds (tokens per second) measured so far; None until the first call."""

    def __init__(self) -> None:
        self.prefill_rate: float | None = None
        self.decode_rate: float | None = None

    def prompt_cost(self, view: str, new_tokens: int, *, loaded: bool) -> float:
        """Seconds a prompt over `view` will take: from the speeds seen so far, or, before the first
        call, from conservative speeds of a busy 2-core machine plus the model load. A model call
        cannot be interrupted, so one is never started that would overrun the deadline."""
        tokens = (len(view) + PROMPT_OVERHEAD_CHARS) / CHARS_PER_TOKEN
        cost = tokens / (self.prefill_rate or ASSUMED_PREFILL_TOKENS_PER_SECOND)
        if new_tokens:
            cost += new_tokens / (self.decode_rate or ASSUMED_DECODE_TOKENS_PER_SECOND)
        if not loaded:
            # loading holds the GIL in parts (the tokenizer): one not finished by the deadline would
            # delay the whole review past it, so it is started only with time for it on a loaded machine
            cost += ASSUMED_LOAD_SECONDS * busy()
        return cost

    def tokens_for(self, view: str, ctx: ReviewContext, most: int, *, loaded: bool) -> int:
        """New tokens an answer may generate: `most`, or fewer when the time left (after the prompt,
        at the decode speed measured so far) allows fewer, so the answer ends before the deadline
        instead of being cut at it."""
        left = ctx.time_left()
        if left is None:
            return most
        spare = left - self.prompt_cost(view, 0, loaded=loaded) - GENERATION_MARGIN_SECONDS
        rate = self.decode_rate or ASSUMED_DECODE_TOKENS_PER_SECOND
        return max(0, min(most, int(spare * rate)))

    def note_prefill(self, prompt: str, seconds: float) -> None:
        if seconds > 0:
            self.prefill_rate = (len(prompt) / CHARS_PER_TOKEN) / seconds

    def note_generation(self, gen: Any, prompt: str, seconds: float) -> None:
        prefill = getattr(gen, 'prefill_seconds', None)
        decode = getattr(gen, 'decode_seconds', None)
        if prefill and getattr(gen, 'prompt_tokens', 0):
            self.prefill_rate = gen.prompt_tokens / max(prefill, 1e-3)
        elif prefill is None:
            self.note_prefill(prompt, seconds)
        if decode and getattr(gen, 'token_ids', None):
            self.decode_rate = len(gen.token_ids) / max(decode, 1e-3)


def time_for(ctx: ReviewContext, cost: float) -> bool:
    left = ctx.time_left()
    return left is None or left > cost


def busy() -> float:
    """How much slower than on an idle machine work may run now: 1-minute load average per CPU, >= 1."""
    try:
        return max(1.0, os.getloadavg()[0] / (os.cpu_count() or 1))
    except OSError:
        return 1.0
