"""Start and stop the server: bind checks, the bearer token, the model thread and uvicorn.

Security defaults: loopback bind; any other address needs a bearer token (refused otherwise);
uvicorn's access log names method, path and status only - never a body.
"""
from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from reviewbot import defaults as default
from reviewbot.config import Config
from reviewbot.errors import ConfigError
from reviewbot.server.metrics import Metrics
from reviewbot.server.worker import ModelWorker

TOKEN_ENV = default.SERVER_TOKEN_ENV
MIN_TOKEN_LENGTH = 16


def is_loopback(host: str) -> bool:
    """True when every address `host` names is a loopback address."""
    try:
        return ipaddress.ip_address(host.strip('[]')).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    addresses = {str(info[4][0]) for info in infos}
    return bool(addresses) and all(ipaddress.ip_address(a.split('%')[0]).is_loopback for a in addresses)


def load_token(token_file: str | None, environ: dict[str, str] | None = None) -> str | None:
    """The bearer token from --token-file, else $REVIEWBOT_SERVER_TOKEN, else None."""
    env = os.environ if environ is None else environ
    if token_file:
        try:
            token = Path(token_file).read_text(encoding='utf-8').strip()
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f'cannot read the token file {token_file}: {e.__class__.__name__}') from None
        origin = f'token file {token_file}'
    else:
        token = env.get(TOKEN_ENV, '').strip()
        if not token:
            return None
        origin = f'${TOKEN_ENV}'
    if len(token) < MIN_TOKEN_LENGTH or any(c.isspace() for c in token):
        raise ConfigError(f'{origin}: the token must be at least {MIN_TOKEN_LENGTH} characters '
                          'without spaces (e.g. `python -c "import secrets; print(secrets.token_urlsafe())"`)')
    return token


def check_bind(host: str, token: str | None) -> None:
    if token is None and not is_loopback(host):
        raise ConfigError(f'refusing to listen on {host} without a bearer token: set ${TOKEN_ENV} or '
                          '--token-file, or bind to 127.0.0.1')


def check_reviewers(config: Config) -> None:
    """The server reviews other people's code: a reviewer that sends code elsewhere is refused."""
    import importlib

    from reviewbot.reviewers import REGISTRY
    for name in config.reviewers:
        module = REGISTRY.get(name)
        if module is None:
            raise ConfigError(f'unknown reviewer {name!r} (known: {", ".join(REGISTRY)})')
        if getattr(importlib.import_module(module), 'REMOTE', False):
            raise ConfigError(f'reviewer {name!r} sends code off this machine; the server never runs it '
                              '(remove it from reviewers in the server config)')


class ModelServer:
    """One model thread + one uvicorn server. run() blocks (CLI); start()/stop() use a thread (tests)."""

    def __init__(self, load: Callable[[], Any], config: Config, *, model_name: str,
                 host: str = default.SERVER_HOST, port: int = default.SERVER_PORT, token: str | None = None,
                 queue_size: int = default.SERVER_QUEUE_SIZE,
                 max_request_bytes: int = default.SERVER_MAX_REQUEST_BYTES,
                 request_timeout: float = default.SERVER_REQUEST_TIMEOUT,
                 max_tokens: int = default.SERVER_MAX_TOKENS,
                 graceful_timeout: float = default.SERVER_GRACEFUL_TIMEOUT, log_level: str = 'info',
                 access_log: bool = True) -> None:
        import uvicorn

        from reviewbot.engine import remote as client
        from reviewbot.server.app import Settings, create_app

        check_bind(host, token)
        check_reviewers(config)
        if queue_size < 1:
            raise ConfigError('--queue-size must be >= 1')
        self.metrics = Metrics()
        self.worker = ModelWorker(load, queue_size, self.metrics,
                                  on_thread_start=client.bind_thread_model)
        settings = Settings(model_name=model_name, token=token, max_request_bytes=max_request_bytes,
                            request_timeout=request_timeout, max_tokens=max_tokens)
        self.app = create_app(self.worker, config, settings, self.metrics)
        self.app.router.lifespan_context = self._lifespan
        self.state = self.app.state.server
        uv_config = uvicorn.Config(
            self.app, host=host, port=port, log_level=log_level, access_log=access_log,
            # seconds, any number: uvicorn waits with asyncio (its annotation says int)
            timeout_graceful_shutdown=graceful_timeout,  # type: ignore[arg-type]
            server_header=False,
            # connections beyond what the queue could ever serve are turned away by uvicorn (503)
            limit_concurrency=max(64, queue_size * 4))
        state = self.state

        class _Server(uvicorn.Server):
            def handle_exit(self, sig: int, frame: Any) -> None:
                state.draining = True  # answer 503 to new requests on open connections at once
                super().handle_exit(sig, frame)

        self.uvicorn = _Server(uv_config)
        self._thread: threading.Thread | None = None

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Any) -> AsyncIterator[None]:
        yield
        # uvicorn has waited for in-flight requests; let any job still queued finish, then stop
        self.state.draining = True
        self.worker.close()

    def load_model(self) -> None:
        """Load the model on its thread; raises the engine's ModelError if it cannot."""
        self.worker.start()
        self.state.settings.model_name = str(getattr(self.worker.model, 'name', '') or
                                             self.state.settings.model_name)

    @property
    def port(self) -> int:
        return self.uvicorn.servers[0].sockets[0].getsockname()[1]

    def run(self) -> None:
        self.load_model()
        self.uvicorn.run()
        self.worker.close()

    def start(self, timeout: float = 60.0) -> int:
        """Serve from a background thread; returns the bound port once listening."""
        self.load_model()
        self._thread = threading.Thread(target=self.uvicorn.run, name='reviewbot-uvicorn', daemon=True)
        self._thread.start()
        ready = threading.Event()
        for _ in range(int(timeout * 20)):
            if self.uvicorn.started:
                ready.set()
                break
            if not self._thread.is_alive():
                break
            ready.wait(0.05)
        if not ready.is_set():
            raise RuntimeError('the server did not start')
        return self.port

    def begin_shutdown(self) -> None:
        """What SIGTERM does: stop accepting, answer 503 to new requests, finish in-flight ones."""
        self.state.draining = True
        self.uvicorn.should_exit = True

    def stop(self, timeout: float = 60.0) -> None:
        self.begin_shutdown()
        if self._thread is not None:
            self._thread.join(timeout)
        self.worker.close(timeout)
