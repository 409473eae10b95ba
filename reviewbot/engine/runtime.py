"""Generate with an exported model: onnxruntime + tokenizers + numpy + jinja2, nothing heavier.

The graph (see reviewbot.engine.export) is a decoder with past key/values and a `logits_to_keep`
input, so a prefill computes logits only for the positions asked for. Decoding is a plain loop:
one token in, its key/values appended by the graph, greedy argmax or seeded sampling out.
"""
from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from reviewbot.engine import manifest, paths, registry
from reviewbot.errors import ModelError

STOP_REASONS = ('eos', 'stop', 'length', 'deadline')


@dataclasses.dataclass(frozen=True)
class GenerationResult:
    text: str  # generated text, without the stop sequence or eos token
    token_ids: list[int]  # generated token ids (the eos token excluded)
    stop_reason: str  # one of STOP_REASONS
    prompt_tokens: int
    prefill_seconds: float
    decode_seconds: float


def _raise_exception(message: str) -> None:
    raise ModelError(f'chat template: {message}')


def _compile_template(source: str) -> Any:
    # The same environment transformers uses for chat templates, minus transformers.
    from jinja2.sandbox import ImmutableSandboxedEnvironment
    import json

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=['jinja2.ext.loopcontrols'])
    env.filters['tojson'] = lambda x, indent=None, ensure_ascii=False, separators=None, sort_keys=False: \
        json.dumps(x, indent=indent, ensure_ascii=ensure_ascii, separators=separators, sort_keys=sort_keys)
    env.globals['raise_exception'] = _raise_exception
    env.globals['strftime_now'] = lambda fmt: time.strftime(fmt)
    return env.from_string(source)


class OnnxModel:
    """An exported model, ready to generate. Build it with load_model()."""

    def __init__(self, folder: Path, info: dict[str, Any], threads: int):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.folder = folder
        self.name: str = info['name']
        self.precision: str = info['precision']
        self.context_length: int = int(info['context_length'])
        self.stop_token_ids: tuple[int, ...] = tuple(int(i) for i in info['stop_token_ids'])
        self.tokenizer = Tokenizer.from_file(str(folder / 'tokenizer.json'))
        self._special = self._special_tokens(folder)
        self._template = _compile_template((folder / 'chat_template.jinja').read_text(encoding='utf-8'))
        self._num_layers = int(info['num_layers'])
        self._kv_shape = (1, int(info['num_kv_heads']), 0, int(info['head_dim']))

        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, int(threads))
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(str(folder / info.get('onnx', 'model.onnx')), options,
                                                 providers=['CPUExecutionProvider'])
        except Exception as e:  # onnxruntime raises its own exception types; keep one line
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ModelError(f'{folder} could not be loaded by onnxruntime ({first[:200]}): '
                             f're-export it with `reviewbot model export {self.name}`') from None
        self._input_names = {i.name for i in self._session.get_inputs()}
        self._kv_dtype = np.float16 if 'float16' in self._session.get_inputs()[-1].type else np.float32
        self._output_names = [o.name for o in self._session.get_outputs()]

    @staticmethod
    def _special_tokens(folder: Path) -> dict[str, str]:
        import json
        try:
            config = json.loads((folder / 'tokenizer_config.json').read_text(encoding='utf-8'))
        except (OSError, ValueError):
            return {}
        out = {}
        for key in ('bos_token', 'eos_token'):
            value = config.get(key)
            if isinstance(value, dict):
                value = value.get('content')
            if isinstance(value, str):
                out[key] = value
        return out

    # -- text <-> ids -------------------------------------------------------------------------

    def chat_prompt(self, messages: list[dict[str, Any]]) -> str:
        """The chat template applied to `messages`, with the assistant's generation prompt added."""
        return self._template.render(messages=messages, add_generation_prompt=True, **self._special)

    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False).ids

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=False)

    # -- the graph ----------------------------------------------------------------------------

    def _empty_past(self) -> list[np.ndarray]:
        empty = np.zeros(self._kv_shape, dtype=self._kv_dtype)
        return [empty] * (2 * self._num_layers)

    def _run(self, ids: Sequence[int], past: list[np.ndarray], keep: int) -> tuple[np.ndarray, list[np.ndarray]]:
        """Feed `ids` after `past`; return logits of the last `keep` positions and the new past."""
        past_len = past[0].shape[2]
        n = len(ids)
        feed: dict[str, np.ndarray] = {
            'input_ids': np.asarray([ids], dtype=np.int64),
            'attention_mask': np.ones((1, past_len + n), dtype=np.int64),
            'logits_to_keep': np.asarray([keep], dtype=np.int64),
        }
        if 'position_ids' in self._input_names:
            feed['position_ids'] = np.arange(past_len, past_len + n, dtype=np.int64)[None, :]
        for layer in range(self._num_layers):
            feed[f'past_key_values.{layer}.key'] = past[2 * layer]
            feed[f'past_key_values.{layer}.value'] = past[2 * layer + 1]
        outputs = self._session.run(self._output_names, feed)
        return outputs[0][0], outputs[1:]

    def _check_length(self, n_tokens: int) -> None:
        if n_tokens > self.context_length:
            raise ModelError(f'the prompt has {n_tokens} tokens, more than {self.name}\'s context of '
                             f'{self.context_length}: review a smaller diff')

    # -- public API ---------------------------------------------------------------------------

    def generate(self, prompt: str, max_new_tokens: int = 128, stop: Sequence[str] = (),
                 temperature: float = 0.0, seed: int = 0, deadline: float | None = None) -> GenerationResult:
        """Generate after `prompt` (already templated, see chat_prompt).

        Ends at an eos/stop token id ('eos'), a stop sequence ('stop', text cut before it),
        max_new_tokens ('length') or when time.monotonic() passes `deadline` ('deadline'; checked
        between tokens, so generation ends cleanly with what it has). temperature 0 is greedy and
        deterministic; otherwise tokens are sampled with a numpy generator seeded by `seed`."""
        prompt_ids = self.encode(prompt)
        if not prompt_ids:
            raise ModelError('empty prompt')
        self._check_length(len(prompt_ids))
        max_new_tokens = max(0, min(max_new_tokens, self.context_length - len(prompt_ids)))
        rng = np.random.default_rng(seed)
        stops = [s for s in stop if s]
        generated: list[int] = []
        text = ''
        reason = 'length'

        start = time.monotonic()
        if deadline is not None and start >= deadline:
            return GenerationResult('', [], 'deadline', len(prompt_ids), 0.0, 0.0)
        if max_new_tokens == 0:
            return GenerationResult('', [], 'length', len(prompt_ids), 0.0, 0.0)
        logits, past = self._run(prompt_ids, self._empty_past(), keep=1)
        prefill_seconds = time.monotonic() - start
        decode_start = time.monotonic()
        while True:
            token = self._pick(logits[-1], temperature, rng)
            if token in self.stop_token_ids:
                reason = 'eos'
                break
            generated.append(token)
            text = self.decode(generated)
            cut = min((i for i in (text.find(s) for s in stops) if i >= 0), default=-1)
            if cut >= 0:
                text = text[:cut]
                reason = 'stop'
                break
            if len(generated) >= max_new_tokens:
                reason = 'length'
                break
            if deadline is not None and time.monotonic() >= deadline:
                reason = 'deadline'
                break
            logits, past = self._run([token], past, keep=1)
        return GenerationResult(text, generated, reason, len(prompt_ids), prefill_seconds,
                                time.monotonic() - decode_start)

    @staticmethod
    def _pick(logits: np.ndarray, temperature: float, rng: np.random.Generator) -> int:
        if temperature <= 0:
            return int(np.argmax(logits))
        scaled = logits.astype(np.float64) / temperature
        scaled -= scaled.max()
        probs = np.exp(scaled)
        probs /= probs.sum()
        return int(rng.choice(len(probs), p=probs))

    @staticmethod
    def _log_softmax(logits: np.ndarray) -> np.ndarray:
        x = logits.astype(np.float64)
        x = x - x.max(axis=-1, keepdims=True)
        return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))

    def next_token_logprobs(self, prompt: str, candidates: Sequence[str]) -> dict[str, float]:
        """log P(first token of each candidate | prompt), from one prefill (e.g. ' yes' vs ' no')."""
        prompt_ids = self.encode(prompt)
        if not prompt_ids:
            raise ModelError('empty prompt')
        self._check_length(len(prompt_ids))
        logits, _ = self._run(prompt_ids, self._empty_past(), keep=1)
        logprobs = self._log_softmax(logits[-1])
        out = {}
        for candidate in candidates:
            ids = self.encode(candidate)
            out[candidate] = float(logprobs[ids[0]]) if ids else -math.inf
        return out

    def token_surprisals(self, prefix: str, text: str) -> list[float]:
        """Surprisal (nats, -log P) of each token of `text` after `prefix`, from one prefill.

        prefix and text are tokenized separately, so token boundaries never cross between them.
        With an empty prefix the first token has no context and is not scored."""
        prefix_ids = self.encode(prefix) if prefix else []
        text_ids = self.encode(text)
        if not text_ids:
            return []
        ids = prefix_ids + text_ids
        self._check_length(len(ids))
        scored = len(text_ids) if prefix_ids else len(text_ids) - 1
        if scored <= 0:
            return []
        # logits at position i predict token i+1: keep the positions before each scored token
        logits, _ = self._run(ids, self._empty_past(), keep=scored + 1)
        logprobs = self._log_softmax(logits[:-1])
        targets = text_ids[-scored:]
        return [float(-logprobs[i, t]) for i, t in enumerate(targets)]


def _fix_hint(name: str, folder: Path) -> str:
    if name in registry.names():
        return f'run `reviewbot model export {name}` again (or delete {folder})'
    return f'copy the exported model folder {folder} again'


def load_model(name_or_path: str, model_dir: str | os.PathLike[str] | None = None, threads: int = 2,
               precision: str | None = None) -> OnnxModel:
    """Load a registered model by name (from the model dir) or an exported folder by path.

    Checks the folder against its manifest (sizes; hashes of the small files) first, so a missing
    or damaged model is a one-line ModelError that says how to fix it."""
    candidate = Path(name_or_path).expanduser()
    if name_or_path not in registry.names() and (candidate / paths.MANIFEST).is_file():
        folder = candidate
        data = manifest.read(folder, _fix_hint('', folder))
    else:
        spec = registry.resolve(name_or_path)
        if precision and precision not in registry.PRECISIONS:
            raise ModelError(f'unknown precision {precision!r}: use int4, int8 or fp32')
        folder = paths.model_path(spec.name, model_dir, precision)
        if not (folder / paths.MANIFEST).is_file():
            flag = f' --precision {precision}' if precision else ''
            if not paths.gguf_path(spec.name, model_dir).is_file():
                raise ModelError(f"model {spec.name!r} is not fetched: run `reviewbot model fetch {spec.name} "
                                 f"&& reviewbot model export {spec.name}{flag}`")
            raise ModelError(f"model {spec.name!r} is not exported{' at ' + precision if precision else ''}: "
                             f"run `reviewbot model export {spec.name}{flag}`")
        data = manifest.read(folder, _fix_hint(spec.name, folder))
    manifest.check(folder, data, _fix_hint(data.get('name', ''), folder), full=False)
    return OnnxModel(folder, data, threads)
