"""The model registry: reviewbot/data/registry.toml (models/registry.toml in a checkout links to it).

Pure data access, no heavy imports: `reviewbot model list` and the review path read it.
"""
from __future__ import annotations

import dataclasses
import functools
import sys
from importlib import resources
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from reviewbot.errors import ModelError

PRECISIONS = ('int4', 'int8', 'fp32')


@dataclasses.dataclass(frozen=True)
class GgufPart:
    package: str  # PyPI project name
    version: str  # exact version, '' = newest
    member: str  # path of the chunk inside the wheel


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    name: str
    description: str
    hf_id: str
    license: str
    context_length: int
    architecture: str
    chat_template: str
    precision: str
    eos_token: str
    stop_token_ids: tuple[int, ...]
    add_bos_token: bool
    gguf_file: str
    gguf_size: int
    gguf_sha256: str
    gguf_parts: tuple[GgufPart, ...]


def _spec(name: str, raw: dict[str, Any]) -> ModelSpec:
    gguf = raw['gguf']
    precision = raw['precision']
    if precision not in PRECISIONS:  # a broken registry is a bug, but say which entry
        raise ModelError(f'registry entry {name!r} has unknown precision {precision!r}')
    return ModelSpec(
        name=name,
        description=raw.get('description', ''),
        hf_id=raw.get('hf_id', ''),
        license=raw['license'],
        context_length=int(raw['context_length']),
        architecture=raw['architecture'],
        chat_template=raw['chat_template'],
        precision=precision,
        eos_token=raw['eos_token'],
        stop_token_ids=tuple(int(i) for i in raw['stop_token_ids']),
        add_bos_token=bool(raw['add_bos_token']),
        gguf_file=gguf['file'],
        gguf_size=int(gguf['size']),
        gguf_sha256=gguf['sha256'].lower(),
        gguf_parts=tuple(GgufPart(p['package'], p.get('version', ''), p['member']) for p in gguf['parts']),
    )


@functools.lru_cache(maxsize=1)
def _load() -> tuple[str, dict[str, ModelSpec]]:
    text = resources.files('reviewbot').joinpath('data/registry.toml').read_text(encoding='utf-8')
    raw = tomllib.loads(text)
    specs = {name: _spec(name, entry) for name, entry in raw['models'].items()}
    return raw['default'], specs


def names() -> list[str]:
    """Registered model names, in registry order."""
    return list(_load()[1])


def default_name() -> str:
    return _load()[0]


def get(name: str) -> ModelSpec:
    specs = _load()[1]
    if name not in specs:
        raise ModelError(f"unknown model {name!r}: known models are {', '.join(specs)} "
                         '(or pass the path of an exported model folder)')
    return specs[name]


def resolve(name: str | None) -> ModelSpec:
    """The spec for `name`, or for the default model when name is None or empty."""
    return get(name or default_name())
