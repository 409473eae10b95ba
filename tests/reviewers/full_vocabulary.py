"""The scoring the model had before the graph scored (the oracle of scoring equivalence), shared by
tests/reviewers/test_model.py and benchmarks/scoring_equivalence.py."""
from __future__ import annotations

import numpy as np


class FullVocabularyScoring:
    """A model scored the old way: one prefill, every scored position's logits, float64
    log-softmax in numpy; no prefix cache."""

    def __init__(self, model) -> None:
        self.model = model
        self.tokenizer = model.tokenizer

    def chat_prompt(self, messages):
        return self.model.chat_prompt(messages)

    def token_surprisals(self, prefix: str, text: str) -> list[float]:
        prefix_ids = self.model.encode(prefix) if prefix else []
        text_ids = self.model.encode(text)
        scored = len(text_ids) if prefix_ids else len(text_ids) - 1
        logits, _ = self.model._run(prefix_ids + text_ids, self.model._empty_past(), keep=scored + 1)
        x = logits[:-1].astype(np.float64)
        x = x - x.max(axis=-1, keepdims=True)
        logprobs = x - np.log(np.exp(x).sum(axis=-1, keepdims=True))
        return [float(-logprobs[i, t]) for i, t in enumerate(text_ids[-scored:])]
