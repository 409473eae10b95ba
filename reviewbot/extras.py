"""The optional extras of pyproject.toml, and the one-line error when a command needs one that is missing.

`require(extra, what)` imports the extra's modules up front, so a command fails before it does any work
with `reviewbot: `reviewbot serve` needs the 'server' extra (uvicorn is not installed): pip install
'reviewbot[server]'` (exit 2) instead of a ModuleNotFoundError traceback; cli.main turns a missing
module of an extra met later into the same line (extra_of)."""
from __future__ import annotations

import importlib

from reviewbot.errors import MissingExtra

# extra (pyproject.toml [project.optional-dependencies]) -> the top-level modules of it reviewbot imports
MODULES: dict[str, tuple[str, ...]] = {
    'server': ('starlette', 'uvicorn'),
    'publish': ('github', 'gitlab'),
    'cloud': ('httpx',),  # also what a client of an in-house server needs (config `server`)
    'export': ('torch', 'transformers', 'optimum', 'onnx', 'gguf'),
}


def extra_of(module: str | None) -> str | None:
    """The extra that provides `module` (or a submodule of it), None when it is no extra's."""
    top = (module or '').split('.')[0]
    return next((extra for extra, modules in MODULES.items() if top in modules), None)


def require(extra: str, what: str, modules: tuple[str, ...] | None = None) -> None:
    """Import `modules` (default: every module of `extra`); a MissingExtra naming the extra when one
    is not installed. `what`: the command or option that needs it, e.g. '`reviewbot serve`'."""
    for module in modules if modules is not None else MODULES[extra]:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as e:
            if (e.name or '').split('.')[0] != module.split('.')[0]:
                raise  # the extra is there but broken: its own traceback says more
            raise MissingExtra(what, extra, module) from None
