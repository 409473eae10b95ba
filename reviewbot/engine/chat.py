"""The exported model's chat template (chat_template.jinja), rendered without transformers."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from reviewbot.errors import ModelError


def _raise_exception(message: str) -> None:
    raise ModelError(f'chat template: {message}')


def compile_template(source: str) -> Any:
    """The chat template, compiled in the same sandboxed environment transformers uses, minus transformers."""
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=['jinja2.ext.loopcontrols'])
    env.filters['tojson'] = lambda x, indent=None, ensure_ascii=False, separators=None, sort_keys=False: \
        json.dumps(x, indent=indent, ensure_ascii=ensure_ascii, separators=separators, sort_keys=sort_keys)
    env.globals['raise_exception'] = _raise_exception
    env.globals['strftime_now'] = lambda fmt: time.strftime(fmt)
    return env.from_string(source)


def special_tokens(folder: Path) -> dict[str, str]:
    """The bos/eos tokens the chat template may refer to, from tokenizer_config.json."""
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
