"""A real server on 127.0.0.1 backed by the real tiny model (smollm2-135m through onnxruntime)."""
from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from reviewbot import config as cfgmod

MODEL = 'smollm2-135m'
TOKEN = 'test-token-0123456789abcdef'
AUTH = {'Authorization': f'Bearer {TOKEN}'}
MAX_REQUEST_BYTES = 64 * 1024
QUEUE_SIZE = 2

SECRET_DIFF = '''\
diff --git a/app.py b/app.py
new file mode 100644
--- /dev/null
+++ b/app.py
@@ -0,0 +1,3 @@
+import os
+AWS_SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
+print(os.getcwd())
'''


@pytest.fixture(scope='session')
def tiny_model() -> str:
    """The tiny real model, fetched and exported once per machine (reused from the model cache)."""
    import importlib.util

    from reviewbot.engine import paths
    if not paths.exported_precisions(MODEL):
        if not all(importlib.util.find_spec(m) for m in ('torch', 'transformers', 'optimum', 'onnx')):
            pytest.skip(f'{MODEL} is not exported and the export extra is not installed')
        from reviewbot.engine import export, fetch
        fetch.fetch(MODEL, quiet=True)
        export.export(MODEL, quiet=True)
    return MODEL


def load_tiny_model() -> Any:
    from reviewbot.engine import load_model
    return load_model(MODEL, threads=1)


def make_server(**kwargs: Any) -> Any:
    from reviewbot.server.runner import ModelServer
    options: dict[str, Any] = {'model_name': MODEL, 'port': 0, 'token': TOKEN, 'queue_size': QUEUE_SIZE,
                               'max_request_bytes': MAX_REQUEST_BYTES, 'request_timeout': 120,
                               'max_tokens': 256, 'log_level': 'warning', 'access_log': False}
    options.update(kwargs)
    return ModelServer(load_tiny_model, cfgmod.defaults(), **options)


@pytest.fixture(scope='session')
def served(tiny_model: str) -> Iterator[tuple[Any, str]]:
    """(ModelServer, base URL): token required, queue of 2, 64 KiB body limit."""
    pytest.importorskip('starlette')
    pytest.importorskip('uvicorn')
    server = make_server()
    port = server.start()
    yield server, f'http://127.0.0.1:{port}'
    server.stop()


def wait_until(condition: Any, what: str, limit: float = 60.0) -> None:
    """Wait for a state change of the server (not a timing measurement)."""
    end = time.monotonic() + limit
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f'gave up waiting for {what}')
        time.sleep(0.01)


@contextlib.contextmanager
def model_thread_held(server: Any) -> Iterator[None]:
    """Keep the model thread busy with a job of our own until the block ends (fills no queue slot)."""
    release = threading.Event()
    running = threading.Event()

    def hold(model: Any) -> None:
        running.set()
        release.wait(120)

    future = server.worker.submit(hold)
    wait_until(running.is_set, 'the model thread to take the holding job')
    try:
        yield
    finally:
        release.set()
        future.result(120)


def chat_body(content: str, max_tokens: int = 12, **extra: Any) -> dict[str, Any]:
    return {'model': MODEL, 'messages': [{'role': 'user', 'content': content}],
            'max_tokens': max_tokens, 'temperature': 0, **extra}
