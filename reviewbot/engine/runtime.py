"""Generate with an exported model: onnxruntime + tokenizers + numpy + jinja2, nothing heavier.

The graph (see reviewbot.engine.export) is a decoder with past key/values and a `logits_to_keep`
input, so a prefill computes logits only for the positions asked for. Decoding is a plain loop:
one token in, its key/values appended by the graph, greedy argmax or seeded sampling out.

Scoring (token_surprisals) reads one number per token: exports since version 4 compute the
log-probability of each given next token in the graph (`target_ids` -> `target_logprobs`); older
exports return logits, reduced here in float32. Either way the scored positions go through the
graph SCORE_CHUNK at a time (with the key/values carried over), so the vocabulary-sized logits
held at once stay small.

The past key/values of recent prompts are kept (reviewbot.engine.prefix.PrefixCache): a prompt that
starts like an earlier one, e.g. generation after the triage prefill of the same review unit, or the
shared system prompt and examples of every unit, feeds only the tokens after the common prefix.
OnnxModel is the local engine.Backend (reviewbot.engine.backend).
"""
from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from reviewbot import defaults
from reviewbot.engine import manifest, prefix
from reviewbot.engine.backend import GenerationResult
from reviewbot.engine.chat import compile_template, special_tokens
from reviewbot.engine.prefix import PREFIX_CACHE_BYTES, PrefixCache
from reviewbot.engine.session import session_options
from reviewbot.engine.surgery import HIDDEN_PREFIX, TARGET_IDS, TARGET_LOGPROBS
from reviewbot.errors import DeadlinePassed, ModelError

SCORE_CHUNK = 64  # scored positions per graph call (even): bounds the logits held at once (64 x vocab)
PREFILL_CHUNK = 128  # unscored prompt tokens per graph call when a deadline is given (even)


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
        self._special = special_tokens(folder)
        self._template = compile_template((folder / 'chat_template.jinja').read_text(encoding='utf-8'))
        self._num_layers = int(info['num_layers'])
        self._kv_shape = (1, int(info['num_kv_heads']), 0, int(info['head_dim']))

        options = session_options(threads)
        try:
            self._session = ort.InferenceSession(str(folder / info.get('onnx', 'model.onnx')), options,
                                                 providers=['CPUExecutionProvider'])
        except Exception as e:  # onnxruntime raises its own types; keep one line
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ModelError(f'{folder} could not be loaded by onnxruntime ({first[:200]}): '
                             f're-export it with `reviewbot model export {self.name}`') from None
        self._input_names = {i.name for i in self._session.get_inputs()}
        self._kv_dtype = np.float16 if 'float16' in self._session.get_inputs()[-1].type else np.float32
        outputs = [o.name for o in self._session.get_outputs()]
        # hidden-state outputs (export 5+, read by reviewbot.risk): fetched only when asked for
        self.hidden_names: list[str] = [o for o in outputs if o.startswith(HIDDEN_PREFIX)]
        self._output_names = [o for o in outputs if o != TARGET_LOGPROBS and o not in self.hidden_names]
        self._present_names = [n for n in self._output_names if n != 'logits']
        self.scores_in_graph = TARGET_LOGPROBS in {o.name for o in self._session.get_outputs()}
        # int8 exports quantize activations with one scale per graph call (the max over all its
        # tokens): splitting a prompt across calls would change every number, so they score in
        # one call and reuse nothing. fp32 and int4 (per-row) give the same numbers either way.
        self.splits_exactly = self.precision != 'int8'
        self.prefix_cache = PrefixCache(PREFIX_CACHE_BYTES if self.splits_exactly else 0)
        self.tokens_fed = 0  # tokens run through the graph so far (prefix-cache hits are not fed)
        onnx_entry = info.get('files', {}).get(info.get('onnx', 'model.onnx'), {})
        self.weights_sha256: str = onnx_entry.get('sha256', '') if isinstance(onnx_entry, dict) else ''

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

    def _feed(self, ids: Sequence[int], past: list[np.ndarray], keep: int) -> dict[str, np.ndarray]:
        past_len = past[0].shape[2]
        n = len(ids)
        self.tokens_fed += n
        feed: dict[str, np.ndarray] = {
            'input_ids': np.asarray([ids], dtype=np.int64),
            'attention_mask': np.ones((1, past_len + n), dtype=np.int64),
            'logits_to_keep': np.asarray([keep], dtype=np.int64),
        }
        if 'position_ids' in self._input_names:
            feed['position_ids'] = np.arange(past_len, past_len + n, dtype=np.int64)[None, :]
        if TARGET_IDS in self._input_names:
            feed[TARGET_IDS] = np.zeros((1, keep), dtype=np.int64)
        for layer in range(self._num_layers):
            feed[f'past_key_values.{layer}.key'] = past[2 * layer]
            feed[f'past_key_values.{layer}.value'] = past[2 * layer + 1]
        return feed

    def _call(self, names: list[str], feed: dict[str, np.ndarray],
              states: dict[str, list[np.ndarray]] | None) -> list[np.ndarray]:
        """Run the graph for `names`; with `states`, also each hidden-state output's rows of the
        tokens fed, appended to states[name]."""
        if states is None or not self.hidden_names:
            return self._session.run(names, feed)
        outputs = self._session.run(names + self.hidden_names, feed)
        for name, rows in zip(self.hidden_names, outputs[len(names):]):
            states.setdefault(name, []).append(rows[0])
        return outputs[:len(names)]

    def _run(self, ids: Sequence[int], past: list[np.ndarray], keep: int,
             states: dict[str, list[np.ndarray]] | None = None) -> tuple[np.ndarray, list[np.ndarray]]:
        """Feed `ids` after `past`; return logits of the last `keep` positions and the new past."""
        outputs = self._call(self._output_names, self._feed(ids, past, keep), states)
        return outputs[0][0], outputs[1:]

    def _score(self, ids: Sequence[int], targets: Sequence[int], past: list[np.ndarray],
               states: dict[str, list[np.ndarray]] | None = None) -> tuple[np.ndarray, list[np.ndarray]]:
        """Feed `ids` after `past`; return log P(targets[i]) at each of the last len(targets)
        positions (float32) and the new past. In the graph when it has the scoring output; else
        from its logits, here."""
        feed = self._feed(ids, past, keep=len(targets))
        if self.scores_in_graph:
            feed[TARGET_IDS] = np.asarray([targets], dtype=np.int64)
            outputs = self._call([TARGET_LOGPROBS] + self._present_names, feed, states)
            return outputs[0][0], outputs[1:]
        outputs = self._call(self._output_names, feed, states)
        logits = outputs[0][0]
        top = logits.max(axis=-1)
        lse = top + np.log(np.exp(logits - top[:, None]).sum(axis=-1))
        picked = logits[np.arange(len(targets)), np.asarray(targets, dtype=np.int64)]
        return picked - lse, outputs[1:]

    def _resume(self, ids: Sequence[int], limit: int) -> tuple[int, list[np.ndarray]]:
        """The past of the longest cached prefix of ids (at most `limit` tokens, an even number:
        see token_surprisals): (length, past)."""
        start, past = self.prefix_cache.lookup(ids, max(0, limit))
        return (start, past) if past is not None else (0, self._empty_past())

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
        reused, past = self._resume(prompt_ids, len(prompt_ids) - 1)
        logits, past = self._run(prompt_ids[reused:], past, keep=1)
        fed = list(prompt_ids)
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
            fed.append(token)
        self.prefix_cache.put(fed, past)
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
        reused, past = self._resume(prompt_ids, len(prompt_ids) - 1)
        logits, past = self._run(prompt_ids[reused:], past, keep=1)
        self.prefix_cache.put(prompt_ids, past)
        logprobs = self._log_softmax(logits[-1])
        out = {}
        for candidate in candidates:
            ids = self.encode(candidate)
            out[candidate] = float(logprobs[ids[0]]) if ids else -math.inf
        return out

    def keep_prefix(self, text: str, folder: Path) -> int:
        """Make the key/values of `text`, a head many prompts start with (a system prompt and its
        examples), available without prefilling it: from `folder` when an earlier process saved
        them for these weights and tokens, else prefilled once and saved there. Returns how many
        tokens were loaded from disk (0 when prefilled, or nothing to do)."""
        ids = self.encode(text) if text else []
        n = len(ids) & ~1  # even, like every reuse (see token_surprisals)
        if n < 2 or not self.splits_exactly or not self.weights_sha256:
            return 0
        ids = ids[:n]
        if self.prefix_cache.lookup(ids, n)[0] == n:
            return 0
        file = prefix.kept_file(Path(folder), self.weights_sha256, self._kv_dtype, ids)
        past = prefix.load_kept(file, 2 * self._num_layers, (1, self._kv_shape[1], n, self._kv_shape[3]),
                                self._kv_dtype)
        if past is not None:
            self.prefix_cache.put(ids, past)
            return n
        _, past = self._run(ids, self._empty_past(), keep=1)
        self.prefix_cache.put(ids, past)
        prefix.save_kept(file, past)
        return 0

    def token_surprisals(self, prefix: str, text: str, last: int | None = None,
                         states: dict[str, np.ndarray] | None = None,
                         deadline: float | None = None) -> list[float]:
        """Surprisal (nats, -log P) of each token of `text` after `prefix`, from one prefill.

        prefix and text are tokenized separately, so token boundaries never cross between them.
        With an empty prefix the first token has no context and is not scored. `last`: score only
        the last `last` tokens of text (the rest is prefilled without the vocabulary projection).

        `states`: a dict filled, when the export has hidden-state outputs (`hidden_names`), with
        each one's rows for the tokens of `text`, [len(text tokens), hidden] float32, from the same
        prefill (reviewbot.risk reads them); rows of tokens served by the prefix cache are NaN.

        `deadline` (time.monotonic()): checked before every graph call; once passed, DeadlinePassed.
        With a deadline the unscored head is fed PREFILL_CHUNK tokens a call (even lengths from even
        positions, so int4 gives the same numbers as one call; int8 scores in one call regardless)."""
        prefix_ids = self.encode(prefix) if prefix else []
        text_ids = self.encode(text)
        if not text_ids:
            return []
        ids = prefix_ids + text_ids
        self._check_length(len(ids))
        scored = len(text_ids) if prefix_ids else len(text_ids) - 1
        wanted = scored if last is None else min(scored, max(0, last))
        if wanted <= 0:
            return []
        if self.splits_exactly:
            scored = wanted
        # logits at position p predict token p+1: positions first-1 .. n-2 are scored.
        n = len(ids)
        first = n - scored
        targets = list(ids[1:]) + [0]  # the last position predicts nothing given
        collected: dict[str, list[np.ndarray]] | None = {} if states is not None else None
        _in_time(deadline)
        if not self.splits_exactly:  # one call, the same rows as ever (see __init__)
            # (and the vocabulary projection of the same rows: its activations share one scale too)
            logprobs, past = self._score(ids, targets[first - 1:], self._empty_past(), collected)
            self._keep_states(collected, states, 0, len(prefix_ids), n)
            return [-float(x) for x in logprobs[:-1]][scored - wanted:]
        # Every graph call starts at an even position and all of them but the last have even
        # lengths: the int4 kernels compute rows in pairs (a lone last row takes another path),
        # so the rows pair up exactly as in one prefill of all n tokens and the numbers are the same.
        start = (first - 1) & ~1
        reused, past = self._resume(ids, start)
        step = PREFILL_CHUNK if deadline is not None else max(start - reused, 1)
        for a in range(reused, start, step):  # the unscored head: plain prefill
            _in_time(deadline)
            _, past = self._run(ids[a:min(a + step, start)], past, keep=1, states=collected)
        out: list[float] = []
        for a in range(start, n, SCORE_CHUNK):
            _in_time(deadline)
            b = min(a + SCORE_CHUNK, n)
            logprobs, past = self._score(ids[a:b], targets[a:b], past, collected)
            out.extend(-float(logprobs[p - a]) for p in range(max(a, first - 1), min(b, n - 1)))
        self.prefix_cache.put(ids, past)
        self._keep_states(collected, states, reused, len(prefix_ids), n)
        return out

    @staticmethod
    def _keep_states(collected: dict[str, list[np.ndarray]] | None, states: dict[str, np.ndarray] | None,
                     fed_from: int, text_from: int, n: int) -> None:
        """The rows of positions text_from..n-1 out of the rows fed for positions fed_from..n-1."""
        if states is None or not collected:
            return
        for name, parts in collected.items():
            rows = np.concatenate(parts, axis=0).astype(np.float32, copy=False)
            full = np.full((n - text_from, rows.shape[-1]), np.nan, dtype=np.float32)
            lo = max(fed_from, text_from)
            full[lo - text_from:] = rows[lo - fed_from:]
            states[name] = full


def _in_time(deadline: float | None) -> None:
    if deadline is not None and time.monotonic() >= deadline:
        raise DeadlinePassed('the deadline passed before the model call')


def load_model(name_or_path: str | None, model_dir: str | os.PathLike[str] | None = None,
               threads: int = defaults.THREADS, precision: str | None = None) -> OnnxModel:
    """Load a registered model by name (from the model dir; None or '': the default model) or an
    exported folder by path.

    Checks the folder against its manifest (sizes; hashes of the small files) first
    (manifest.locate), so a missing or damaged model is a one-line ModelError that says how to fix it."""
    folder, data = manifest.locate(name_or_path, model_dir, precision)
    return OnnxModel(folder, data, threads)
