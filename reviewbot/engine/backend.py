"""What a reviewer needs of a model: the Backend protocol, and the result of a generation.

Three backends have this surface:
- reviewbot.engine.runtime.OnnxModel: the model loaded in this process (onnxruntime);
- reviewbot.engine.warm.WarmModel: the same model kept loaded by `reviewbot daemon` (Unix socket);
- reviewbot.engine.remote.RemoteModel: a team's in-house server (`reviewbot serve`), only when
  declared in-house (engine.remote.model_for).

A reviewer or fixer asks for text (chat_prompt, generate) and for scores (token_surprisals: the
surprisal of each token of a text after a prefix, from one prefill; next_token_logprobs). Result
caches key on the backend's identity: `name` and `precision` (identity()). Optional extras, used
when present: `keep_prefix(text, folder)` (local and warm: the shared prompt head's key/values
kept on disk), `token_surprisals(..., last=n)` (score only the last n tokens), `take_egress()`
(remote: the report's egress records) and `take_notes()` (warm: the daemon went away).

Nothing here imports numpy, onnxruntime or tokenizers.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

STOP_REASONS = ('eos', 'stop', 'length', 'deadline')


@dataclasses.dataclass(frozen=True)
class GenerationResult:
    text: str  # generated text, without the stop sequence or eos token
    token_ids: list[int]  # generated token ids (the eos token excluded)
    stop_reason: str  # one of STOP_REASONS
    prompt_tokens: int
    prefill_seconds: float
    decode_seconds: float


@runtime_checkable
class Backend(Protocol):
    """A model a reviewer can use: local (OnnxModel), warm (WarmModel) or in-house (RemoteModel)."""

    @property
    def name(self) -> str: ...

    @property
    def context_length(self) -> int: ...

    @property
    def tokenizer(self) -> Any:
        """`encode(text, add_special_tokens=False)` -> an encoding with `ids` and `offsets`."""
        ...

    def chat_prompt(self, messages: list[dict[str, str]]) -> str:
        """The model's chat template applied to `messages`, with the assistant's turn opened."""
        ...

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: Sequence[int]) -> str: ...

    def generate(self, prompt: str, max_new_tokens: int = 128, stop: Sequence[str] = (),
                 temperature: float = 0.0, seed: int = 0, deadline: float | None = None) -> GenerationResult:
        """Text after `prompt`; stops at eos, a stop sequence, max_new_tokens or time.monotonic()
        passing `deadline` (stop_reason says which)."""
        ...

    def token_surprisals(self, prefix: str, text: str) -> list[float]:
        """-log P of each token of `text` after `prefix` (tokenized separately), one prefill."""
        ...

    def next_token_logprobs(self, prompt: str, candidates: Sequence[str]) -> dict[str, float]:
        """log P(first token of each candidate | prompt)."""
        ...


def identity(model: Any) -> str:
    """`name|precision` of a backend, the model part of a result-cache key ('' for an unknown
    precision, e.g. a server's)."""
    return f'{getattr(model, "name", "?")}|{getattr(model, "precision", "")}'
