"""The runtime on the real tiny model (smollm2-135m) through onnxruntime."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from reviewbot.engine import load_model, runtime
from reviewbot.errors import ModelError

REPO = Path(__file__).resolve().parents[2]
PROMPTS = [
    [{'role': 'user', 'content': 'Write a Python function that adds two numbers.'}],
    [{'role': 'user', 'content': 'What does `git rebase` do? Answer in one sentence.'}],
    [{'role': 'system', 'content': 'You review code.'},
     {'role': 'user', 'content': 'Is `eval(input())` safe in Python?'}],
]


@pytest.fixture(scope='module')
def hf_model(hf_tiny):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    return (AutoTokenizer.from_pretrained(hf_tiny),
            AutoModelForCausalLM.from_pretrained(hf_tiny, dtype=torch.float32).eval())


def _hf_greedy(hf_model, prompt: str, max_new_tokens: int, stop_ids: tuple[int, ...]) -> list[int]:
    import torch
    tokenizer, model = hf_model
    ids = tokenizer(prompt, return_tensors='pt', add_special_tokens=False).input_ids
    with torch.no_grad():
        out = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False,
                             max_new_tokens=max_new_tokens, eos_token_id=list(stop_ids),
                             pad_token_id=stop_ids[0])
    new = out[0, ids.shape[1]:].tolist()
    return [t for t in new if t not in stop_ids]


@pytest.mark.parametrize('messages', PROMPTS)
def test_fp32_greedy_equals_transformers_token_for_token(tiny_fp32, hf_model, messages):
    prompt = tiny_fp32.chat_prompt(messages)
    ours = tiny_fp32.generate(prompt, max_new_tokens=32)
    theirs = _hf_greedy(hf_model, prompt, 32, tiny_fp32.stop_token_ids)
    assert ours.token_ids == theirs
    assert ours.prompt_tokens == len(tiny_fp32.encode(prompt))


def test_chat_prompt_equals_transformers_chat_template(tiny_fp32, hf_model):
    tokenizer = hf_model[0]
    for messages in PROMPTS:
        expected = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        assert tiny_fp32.chat_prompt(messages) == expected
    assert tiny_fp32.chat_prompt(PROMPTS[0]).endswith('<|im_start|>assistant\n')


@pytest.mark.parametrize('precision', ['int8', 'int4'])
def test_quantized_models_stay_sensible(tiny_models, tiny_fp32, precision):
    model = load_model(str(tiny_models[precision]))
    assert model.precision == precision
    agree = 0
    for messages in PROMPTS:
        prompt = model.chat_prompt(messages)
        result = model.generate(prompt, max_new_tokens=24)
        reference = tiny_fp32.generate(prompt, max_new_tokens=24)
        assert result.token_ids and result.text.strip()
        assert '\ufffd' not in result.text
        agree += result.token_ids[0] == reference.token_ids[0]
    assert agree >= 2  # the first token matches full precision on most prompts
    code = 'def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n'
    ours = np.mean(model.token_surprisals('# arithmetic helpers\n', code))
    full = np.mean(tiny_fp32.token_surprisals('# arithmetic helpers\n', code))
    assert abs(ours - full) < 0.5  # nats per token


def test_greedy_is_deterministic(tiny_fp32):
    prompt = tiny_fp32.chat_prompt(PROMPTS[1])
    assert tiny_fp32.generate(prompt, max_new_tokens=20).token_ids == \
        tiny_fp32.generate(prompt, max_new_tokens=20).token_ids


def test_sampling_is_seeded(tiny_fp32):
    prompt = tiny_fp32.chat_prompt(PROMPTS[0])
    a = tiny_fp32.generate(prompt, max_new_tokens=24, temperature=1.0, seed=1)
    b = tiny_fp32.generate(prompt, max_new_tokens=24, temperature=1.0, seed=1)
    c = tiny_fp32.generate(prompt, max_new_tokens=24, temperature=1.0, seed=2)
    assert a.token_ids == b.token_ids
    assert a.token_ids != c.token_ids


def test_max_new_tokens_ends_with_length(tiny_fp32):
    result = tiny_fp32.generate(tiny_fp32.chat_prompt(PROMPTS[0]), max_new_tokens=5)
    assert result.stop_reason == 'length' and len(result.token_ids) == 5


def test_stop_sequence_cuts_the_text_before_it(tiny_fp32):
    prompt = tiny_fp32.chat_prompt(PROMPTS[0])
    free = tiny_fp32.generate(prompt, max_new_tokens=40)
    assert len(free.text) > 20
    stop = free.text[10:14]  # a piece of what the model writes anyway
    first = free.text.find(stop)
    result = tiny_fp32.generate(prompt, max_new_tokens=40, stop=[stop, 'never-written-xyz'])
    assert result.stop_reason == 'stop'
    assert result.text == free.text[:first]
    assert stop not in result.text


def test_eos_ends_generation_and_is_not_returned(tiny_fp32):
    prompt = tiny_fp32.chat_prompt([{'role': 'user', 'content': 'Say hi.'}])
    result = tiny_fp32.generate(prompt, max_new_tokens=200)
    assert result.stop_reason == 'eos'
    assert not set(result.token_ids) & set(tiny_fp32.stop_token_ids)
    assert '<|im_end|>' not in result.text


def test_deadline_ends_generation_cleanly(tiny_fp32):
    prompt = tiny_fp32.chat_prompt(PROMPTS[0])
    passed = tiny_fp32.generate(prompt, max_new_tokens=50, deadline=time.monotonic() - 1)
    assert passed.stop_reason == 'deadline' and passed.token_ids == [] and passed.text == ''
    far = tiny_fp32.generate(prompt, max_new_tokens=8, deadline=time.monotonic() + 3600)
    assert far.stop_reason == 'length' and len(far.token_ids) == 8


def test_next_token_logprobs_agree_with_surprisals(tiny_fp32):
    prompt = tiny_fp32.chat_prompt([{'role': 'user', 'content': 'Is the sky blue? Answer yes or no.'}])
    logprobs = tiny_fp32.next_token_logprobs(prompt, ['Yes', 'No', 'banana'])
    assert set(logprobs) == {'Yes', 'No', 'banana'}
    assert all(v <= 0 for v in logprobs.values())
    assert logprobs['Yes'] > logprobs['banana']
    yes_id = tiny_fp32.encode('Yes')
    assert len(yes_id) == 1
    assert tiny_fp32.token_surprisals(prompt, 'Yes')[0] == pytest.approx(-logprobs['Yes'], abs=1e-3)


def test_token_surprisals_one_per_token(tiny_fp32):
    text = '    return a + b\n'
    surprisals = tiny_fp32.token_surprisals('def add(a, b):\n', text)
    assert len(surprisals) == len(tiny_fp32.encode(text))
    assert all(s >= 0 for s in surprisals)
    # natural code is less surprising than shuffled code
    shuffled = tiny_fp32.token_surprisals('def add(a, b):\n', '    b return + a\n')
    assert np.mean(surprisals) < np.mean(shuffled)
    assert len(tiny_fp32.token_surprisals('', text)) == len(tiny_fp32.encode(text)) - 1


def test_too_long_prompt_is_a_model_error(tiny_fp32):
    with pytest.raises(ModelError, match='context'):
        tiny_fp32.generate('hello ' * (tiny_fp32.context_length + 10))


def test_runtime_imports_no_torch(tiny_models):
    code = (
        'import sys\n'
        'from reviewbot.engine import load_model\n'
        f'm = load_model({str(tiny_models["int8"])!r})\n'
        "r = m.generate(m.chat_prompt([{'role': 'user', 'content': 'hi'}]), max_new_tokens=4)\n"
        'm.next_token_logprobs("a", ["b"]); m.token_surprisals("a", "b c")\n'
        "heavy = [x for x in ('torch', 'transformers', 'optimum', 'onnx') if x in sys.modules]\n"
        'assert r.token_ids and not heavy, heavy\n'
        'print("clean")\n'
    )
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == 'clean'


# --- scoring in the graph, and the prefix cache --------------------------------------------------

def full_vocabulary_surprisals(model, prefix: str, text: str) -> list[float]:
    """The scoring as it was before the graph had a scoring output (the oracle): one prefill,
    logits of every scored position, float64 log-softmax over the whole vocabulary in numpy."""
    prefix_ids = model.encode(prefix) if prefix else []
    text_ids = model.encode(text)
    ids = prefix_ids + text_ids
    scored = len(text_ids) if prefix_ids else len(text_ids) - 1
    logits, _ = model._run(ids, model._empty_past(), keep=scored + 1)
    x = logits[:-1].astype(np.float64)
    x = x - x.max(axis=-1, keepdims=True)
    logprobs = x - np.log(np.exp(x).sum(axis=-1, keepdims=True))
    return [float(-logprobs[i, t]) for i, t in enumerate(text_ids[-scored:])]


SCORED_CODE = (REPO / 'reviewbot' / 'engine' / 'manifest.py').read_text(encoding='utf-8')[:1200]


@pytest.mark.parametrize('precision', ['fp32', 'int4', 'int8'])
@pytest.mark.parametrize('prefix', ['', '# odd\n', '# a prefix of some other length, for the other parity\n'])
def test_scoring_in_the_graph_equals_the_full_vocabulary_log_softmax(tiny_models, precision, prefix):
    model = load_model(str(tiny_models[precision]))
    assert model.scores_in_graph  # exports have the scoring output
    expected = full_vocabulary_surprisals(model, prefix, SCORED_CODE)
    assert len(expected) > 2 * runtime.SCORE_CHUNK  # several graph calls
    got = model.token_surprisals(prefix, SCORED_CODE)
    assert len(got) == len(expected)
    tolerance = 1e-4
    assert np.abs(np.array(got) - np.array(expected)).max() < tolerance
    model.prefix_cache.clear()
    tail = model.token_surprisals(prefix, SCORED_CODE, last=5)  # the rest prefilled, not projected
    assert np.abs(np.array(tail) - np.array(expected[-5:])).max() < tolerance
    model.scores_in_graph = False  # an export without the scoring output: logits reduced in numpy
    model.prefix_cache.clear()
    fallback = model.token_surprisals(prefix, SCORED_CODE)
    assert np.abs(np.array(fallback) - np.array(expected)).max() < tolerance


def test_generation_after_scoring_reuses_the_prompt_and_answers_the_same(tiny_models):
    model = load_model(str(tiny_models['int4']))
    prompt = model.chat_prompt([{'role': 'user', 'content': 'Review this code:\n' + SCORED_CODE}])
    cold = model.generate(prompt + 'L1:', max_new_tokens=12)
    model.prefix_cache.clear()
    at = prompt.index('Review this code')
    model.token_surprisals(prompt[:at], prompt[at:] + 'NONE')
    before = model.tokens_fed
    warm = model.generate(prompt + 'L1:', max_new_tokens=12)
    prompt_tokens = len(model.encode(prompt + 'L1:'))
    # only the tokens after the scored prompt (and the generated ones) go through the graph
    assert model.tokens_fed - before <= (prompt_tokens - len(model.encode(prompt)) + 2) + len(warm.token_ids)
    assert warm.token_ids == cold.token_ids
    # a second prompt sharing only the head still reuses the head
    before = model.tokens_fed
    other = model.chat_prompt([{'role': 'user', 'content': 'Review this code:\nx = 1\n'}])
    model.next_token_logprobs(other, ['NONE'])
    assert model.tokens_fed - before < len(model.encode(other)) - 4


def test_prefix_cache_keeps_recent_prompts_within_its_byte_limit():
    def past(n: int) -> list[np.ndarray]:
        return [np.full((1, 2, n, 4), float(n), dtype=np.float32)] * 2
    one_entry = sum(p.nbytes for p in past(10))
    cache = runtime.PrefixCache(limit_bytes=int(2.5 * one_entry))
    assert cache.lookup([1, 2, 3], 3) == (0, None)
    cache.put(list(range(10)), past(10))
    n, kv = cache.lookup(list(range(7)) + [99], 100)
    assert n == 6 and kv[0].shape[2] == 6  # even lengths only (see token_surprisals)
    cache.put(list(range(10)) + [5, 5], past(12))  # the shorter entry is its prefix: replaced
    assert len(cache._entries) == 1
    cache.put([7] * 10, past(10))
    cache.put([8] * 10, past(10))  # over the limit: the least recently used entry goes
    assert cache.lookup(list(range(12)), 100)[0] == 0
    assert cache.lookup([8] * 10, 9)[0] == 8
    cache.put([9] * 10, past(9))  # past and ids disagree: not kept
    assert cache.lookup([9] * 10, 10)[0] == 0


def test_a_kept_prompt_head_is_loaded_by_the_next_process_instead_of_prefilled(tiny_models, tmp_path):
    head = '<|im_start|>system\nYou review code. ' + 'Report real defects only. ' * 8
    rest = '<|im_end|>\n<|im_start|>user\n' + SCORED_CODE[:300]
    first = load_model(str(tiny_models['int4']))
    assert first.keep_prefix(head, tmp_path) == 0  # prefilled and saved
    (saved,) = tmp_path.glob('*.npz')
    expected = first.token_surprisals(head, rest)
    second = load_model(str(tiny_models['int4']))  # another process, as far as the cache knows
    n = second.keep_prefix(head, tmp_path)
    assert n >= len(second.encode(head)) - 1
    before = second.tokens_fed
    got = second.token_surprisals(head, rest)
    assert second.tokens_fed - before <= len(second.encode(rest)) + 2  # the head was not fed
    assert np.abs(np.array(got) - np.array(expected)).max() < 1e-4
    saved.write_bytes(b'not an npz')  # damaged: prefilled again, never an error
    third = load_model(str(tiny_models['int4']))
    assert third.keep_prefix(head, tmp_path) == 0
    assert np.abs(np.array(third.token_surprisals(head, rest)) - np.array(expected)).max() < 1e-4


@pytest.mark.parametrize('precision', ['int4', 'int8'])
def test_scoring_with_a_deadline_gives_the_same_numbers_and_stops_once_it_passed(tiny_models, precision, monkeypatch):
    import time
    import types

    from reviewbot.errors import DeadlinePassed
    model = load_model(str(tiny_models[precision]))
    prefix = '# a prefix\n'
    model.prefix_cache.clear()
    plain = model.token_surprisals(prefix, SCORED_CODE, last=5)
    model.prefix_cache.clear()
    calls = model.tokens_fed
    # with a deadline the unscored head goes through the graph PREFILL_CHUNK tokens a call (int4)
    timed = model.token_surprisals(prefix, SCORED_CODE, last=5, deadline=time.monotonic() + 600)
    assert len(model.encode(prefix + SCORED_CODE)) > 2 * runtime.PREFILL_CHUNK
    assert np.abs(np.array(timed) - np.array(plain)).max() < 1e-4
    assert model.tokens_fed - calls == len(model.encode(prefix)) + len(model.encode(SCORED_CODE))
    model.prefix_cache.clear()
    with pytest.raises(DeadlinePassed):
        model.token_surprisals(prefix, SCORED_CODE, last=5, deadline=time.monotonic() - 1)
    # a deadline that passes between two graph calls stops the prefill there (int4); int8 scores
    # in one call (its activations share one scale), so only the check before it applies
    ticks = iter([0.0, 0.0])
    clock = types.SimpleNamespace(monotonic=lambda: next(ticks, 10.0), perf_counter=time.perf_counter)
    monkeypatch.setattr(runtime, 'time', clock)
    model.prefix_cache.clear()
    fed = model.tokens_fed
    if model.splits_exactly:
        with pytest.raises(DeadlinePassed):
            model.token_surprisals(prefix, SCORED_CODE, last=5, deadline=5.0)
        assert model.tokens_fed - fed == runtime.PREFILL_CHUNK
    else:
        assert model.token_surprisals(prefix, SCORED_CODE, last=5, deadline=5.0) == pytest.approx(plain, abs=1e-4)
