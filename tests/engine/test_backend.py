"""engine.Backend: the surface reviewers use, offered by the local model, the warm daemon's model
and the in-house server's (reviewers never import reviewbot.server)."""
from __future__ import annotations

import inspect

import pytest

from reviewbot.engine import backend
from reviewbot.engine.backend import Backend
from reviewbot.engine.remote import RemoteModel
from reviewbot.engine.warm import WarmModel

METHODS = ('chat_prompt', 'encode', 'decode', 'generate', 'token_surprisals', 'next_token_logprobs')


def test_the_local_model_is_a_backend(tiny_fp32):
    assert isinstance(tiny_fp32, Backend)
    assert backend.identity(tiny_fp32) == f'{tiny_fp32.name}|fp32'
    gen = tiny_fp32.generate(tiny_fp32.chat_prompt([{'role': 'user', 'content': 'Hi'}]), max_new_tokens=2)
    assert isinstance(gen, backend.GenerationResult)


@pytest.mark.parametrize('cls', [WarmModel, RemoteModel])
@pytest.mark.parametrize('method', METHODS)
def test_warm_and_remote_models_take_every_backend_call(cls, method):
    """Each Backend method exists and accepts the protocol's parameters, by position and by name."""
    want = inspect.signature(getattr(Backend, method)).parameters
    have = inspect.signature(getattr(cls, method)).parameters
    assert list(have)[:len(want)] == list(want)
    for name, p in want.items():
        if p.default is not inspect.Parameter.empty:
            assert have[name].default == p.default, (cls.__name__, method, name)
    extra = [p for name, p in have.items() if name not in want]
    assert all(p.default is not inspect.Parameter.empty for p in extra)  # nothing more is required


def test_identity_of_a_backend_without_a_precision():
    class Served:
        name = 'qwen'
    assert backend.identity(Served()) == 'qwen|'
