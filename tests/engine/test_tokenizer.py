"""The exported tokenizers.Tokenizer tokenizes exactly like the original (transformers from the GGUF,
and llama.cpp when llama-cpp-python is installed) and knows where to stop."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from tokenizers import Tokenizer

from reviewbot.engine import paths, registry

REPO = Path(__file__).resolve().parents[2]
TINY = 'smollm2-135m'


def code_corpus() -> list[str]:
    """Real code of this repository plus edge cases (whitespace runs, tabs, unicode, specials)."""
    texts = [p.read_text(encoding='utf-8') for p in sorted((REPO / 'reviewbot').rglob('*.py'))][:12]
    texts += [
        'def f(x):\n\treturn x  # tab\n\n\n    \n',
        'const s = `${a}` + "ünïcödé ✓ 日本語";\n',
        'SELECT * FROM users WHERE id = \' + user_id + \';',
        '<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n',
        '    ' * 10 + 'x = 1\r\n',
        '',
    ]
    return texts


@pytest.fixture(scope='module')
def exported(tiny_models) -> Tokenizer:
    return Tokenizer.from_file(str(tiny_models['fp32'] / 'tokenizer.json'))


def test_ids_equal_transformers_from_gguf(exported, hf_tiny):
    from transformers import AutoTokenizer
    from reviewbot.engine.export import fix_tokenizer
    gguf = paths.gguf_path(TINY)
    original = fix_tokenizer(AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name),
                             registry.get(TINY))
    for text in code_corpus():
        assert exported.encode(text, add_special_tokens=False).ids == \
            original(text, add_special_tokens=False).input_ids
        # and what the runtime sees (add_special_tokens=True) adds no BOS
        assert exported.encode(text).ids == original(text).input_ids


def test_ids_equal_llama_cpp(exported, tiny_models):
    llama_cpp = pytest.importorskip('llama_cpp')
    gguf = paths.gguf_path(TINY)
    llm = llama_cpp.Llama(model_path=str(gguf), vocab_only=True, verbose=False)
    for text in code_corpus():
        if not text:
            continue
        expected = llm.tokenize(text.encode('utf-8'), add_bos=False, special=True)
        assert exported.encode(text, add_special_tokens=False).ids == expected


def test_special_tokens_are_fixed(exported, tiny_models):
    spec = registry.get(TINY)
    config = json.loads((tiny_models['fp32'] / 'tokenizer_config.json').read_text(encoding='utf-8'))
    assert config['eos_token'] == '<|im_end|>'
    assert exported.token_to_id('<|im_end|>') in spec.stop_token_ids
    assert exported.encode('x').ids == exported.encode('x', add_special_tokens=False).ids  # no BOS
    manifest = json.loads((tiny_models['fp32'] / paths.MANIFEST).read_text(encoding='utf-8'))
    assert manifest['stop_token_ids'] == list(spec.stop_token_ids)
    assert exported.decode(exported.encode('def f():\n    pass\n').ids) == 'def f():\n    pass\n'
