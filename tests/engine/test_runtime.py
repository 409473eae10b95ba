"""The runtime on the real tiny model (smollm2-135m) through onnxruntime."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from reviewbot.engine import load_model
from reviewbot.errors import ModelError

REPO = Path(__file__).resolve().parents[2]
PROMPTS = [
    [{'role': 'user', 'content': 'Write a Python function that adds two numbers.'}],
    [{'role': 'user', 'content': 'What does `git rebase` do? Answer in one sentence.'}],
    [{'role': 'system', 'content': 'You review code.'},
     {'role': 'user', 'content': 'Is `eval(input())` safe in Python?'}],
]


@pytest.fixture(scope='module')
def hf_model(hf_tiny):  # noqa: ANN201
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    return (AutoTokenizer.from_pretrained(hf_tiny),
            AutoModelForCausalLM.from_pretrained(hf_tiny, dtype=torch.float32).eval())


def _hf_greedy(hf_model, prompt: str, max_new_tokens: int, stop_ids: tuple[int, ...]) -> list[int]:  # noqa: ANN001
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
    proc = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == 'clean'
