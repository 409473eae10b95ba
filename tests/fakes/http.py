"""The one loopback HTTP server base for the fakes: a threaded server on 127.0.0.1 (port 0) that routes
requests to a fake REST API, records every request, and injects seeded faults.

Faults model what real forges do under load: 5xx before or after the write took effect, 429 with
Retry-After, 403 with an exhausted rate limit, and slow responses that outlive the client's timeout
(the write is done first, as when a gateway gives up on a request the backend completed).
"""
from __future__ import annotations

import dataclasses
import json
import random
import re
import threading
import time
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FAULT_KINDS = ('500', '502-after-write', '503', '429', '403-rate-limit', 'slow')


@dataclasses.dataclass
class Request:
    method: str
    target: str  # the request target exactly as sent (prefix, percent-encoding and query included)
    path: str  # what routes match: without the server's prefix and query
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes  # the exact bytes sent
    user: str | None = None  # who the token belongs to, set by the fake's authenticate()

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def data(self) -> Any:
        """The body as JSON, or as a form; None when empty."""
        if not self.body:
            return None
        try:
            return json.loads(self.body)
        except ValueError:
            return dict(urllib.parse.parse_qsl(self.body.decode()))


@dataclasses.dataclass
class Response:
    status: int = 200
    body: Any = None  # JSON-able, or bytes sent as they are
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    hang: bool = False  # send nothing and hold the connection until the server stops (client times out)


class HttpError(Exception):
    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.response = Response(status, body, headers or {})


@dataclasses.dataclass
class Faults:
    rate: float
    seed: int = 0
    kinds: tuple[str, ...] = FAULT_KINDS
    slow_seconds: float = 1.3  # longer than the client timeout the tests use
    only_methods: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.injected: list[tuple[str, str, str]] = []  # (kind, method, path)

    def pick(self, method: str) -> str | None:
        if self.only_methods is not None and method not in self.only_methods:
            return None
        if self.rng.random() >= self.rate:
            return None
        return self.rng.choice(self.kinds)


Route = tuple[str, re.Pattern[str], Callable[..., Any]]


class FakeServer:
    """Subclasses register routes with `route(method, pattern, handler)`; handler(req, *groups).

    A test can take over answers: `script` answers the next requests in order, whatever they ask;
    `canned[method, path]` answers every request for that path (after authentication) in place of
    its route, e.g. a 500, a redirect, a hang or a malformed body.
    """

    prefix = ''
    unquote_path = True  # False: route on the raw path (GitLab ids like group%2Fname stay one segment)

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.routes: list[Route] = []
        self.faults: Faults | None = None
        self.requests: list[Request] = []  # every request, in order, recorded as it arrives
        self.log: list[tuple[str, str, int]] = []  # (method, path, status) of every answered request
        self.script: list[Response] = []
        self.canned: dict[tuple[str, str], Response] = {}
        self.queued: dict[tuple[str, str], list[Response]] = {}  # see fail_next
        self.max_per_page = 100
        self._release = threading.Event()  # lets hanging responses go when the server stops
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> FakeServer:
        handler = self._handler_class()
        self._server = ThreadingHTTPServer(('127.0.0.1', 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={'poll_interval': 0.02},
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def origin(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f'http://{host}:{port}'

    @property
    def base_url(self) -> str:
        return self.origin + self.prefix

    def url(self, path: str) -> str:
        return self.base_url + path

    # -- routing --------------------------------------------------------------------------------
    def route(self, method: str, pattern: str, handler: Callable[..., Any]) -> None:
        self.routes.append((method, re.compile(pattern + r'/?'), handler))

    def paginate(self, req: Request, items: list[Any], default_per_page: int = 30) -> Response:
        """One page of `items` with a Link header whose URLs use this server's own host and port."""
        per_page = min(int(req.query.get('per_page', default_per_page)), self.max_per_page)
        page = max(1, int(req.query.get('page', 1)))
        last = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page: page * per_page]
        links = []

        def link(p: int, rel: str) -> str:
            q = dict(req.query, per_page=str(per_page), page=str(p))
            return f'<{self.url(req.path)}?{urllib.parse.urlencode(q)}>; rel="{rel}"'
        if page < last:
            links += [link(page + 1, 'next'), link(last, 'last')]
        if page > 1:
            links += [link(1, 'first'), link(page - 1, 'prev')]
        headers = {'X-Page': str(page), 'X-Per-Page': str(per_page), 'X-Total': str(len(items)),
                   'X-Total-Pages': str(last)}
        if page < last:
            headers['X-Next-Page'] = str(page + 1)
        if links:
            headers['Link'] = ', '.join(links)
        return Response(200, chunk, headers)

    def fault_response(self, kind: str) -> Response:
        """The error a fault of `kind` produces (subclasses word it the way their forge does)."""
        if kind == '429':
            return Response(429, {'message': 'Too Many Requests'}, {'Retry-After': '1'})
        if kind == '403-rate-limit':
            return Response(403, {'message': 'API rate limit exceeded'},
                            {'X-RateLimit-Remaining': '0', 'X-RateLimit-Reset': str(int(time.time()) + 1)})
        if kind == '403-forbidden':
            return Response(403, {'message': 'Resource not accessible by integration'})
        status = int(kind[:3])
        return Response(status, {'message': 'Server Error'})

    def authenticate(self, req: Request) -> None:
        """Raise HttpError(401) for a bad token; subclasses decide."""

    def fail_next(self, method: str, path: str, *responses: Response) -> None:
        """Answer the next requests for (method, path) with `responses`, one each, before anything else."""
        with self.lock:
            self.queued.setdefault((method, path), []).extend(responses)

    def requests_to(self, method: str, path: str) -> int:
        return sum(r.method == method and r.path == path for r in self.requests)

    def dispatch(self, req: Request) -> tuple[Response, float]:
        """(response, seconds to delay it)."""
        with self.lock:
            queued = self.queued.get((req.method, req.path))
            if queued:
                return queued.pop(0), 0.0
        kind = self.faults.pick(req.method) if self.faults is not None else None
        if kind is not None:
            self.faults.injected.append((kind, req.method, req.path))  # type: ignore[union-attr]
            if kind in ('500', '503', '429', '403-rate-limit', '403-forbidden'):
                return self.fault_response(kind), 0.0
        try:
            with self.lock:
                resp = self._answer(req)
        except HttpError as e:
            resp = e.response
        if kind == '502-after-write':
            return self.fault_response('502'), 0.0
        if kind == 'slow':
            assert self.faults is not None
            return resp, self.faults.slow_seconds
        return resp, 0.0

    def _answer(self, req: Request) -> Response:
        if self.script:
            return self.script.pop(0)
        self.authenticate(req)
        canned = self.canned.get((req.method, req.path))
        if canned is not None:
            return canned
        for method, pattern, handler in self.routes:
            m = pattern.fullmatch(req.path)
            if m and method == req.method:
                out = handler(req, *m.groups())
                return out if isinstance(out, Response) else Response(200, out)
        return self.not_found(req)

    def not_found(self, req: Request) -> Response:
        return Response(404, {'message': 'Not Found'})

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def _serve(self) -> None:
                parsed = urllib.parse.urlsplit(self.path)
                path = urllib.parse.unquote(parsed.path) if fake.unquote_path else parsed.path
                if fake.prefix and path.startswith(fake.prefix):
                    path = path[len(fake.prefix):]
                length = int(self.headers.get('Content-Length') or 0)
                body = self.rfile.read(length) if length else b''
                query = dict(urllib.parse.parse_qsl(parsed.query))
                req = Request(self.command, self.path, path, query,
                              {k.lower(): v for k, v in self.headers.items()}, body)
                with fake.lock:
                    fake.requests.append(req)
                resp, delay = fake.dispatch(req)
                if resp.hang:
                    fake._release.wait(30)
                    return
                fake.log.append((req.method, req.path, resp.status))
                if delay:
                    time.sleep(delay)
                if resp.status == 204:
                    data = b''
                elif isinstance(resp.body, bytes):
                    data = resp.body
                else:
                    data = json.dumps(resp.body).encode()
                try:
                    self.send_response(resp.status)
                    self.send_header('Content-Type', 'application/json; charset=utf-8')
                    self.send_header('Content-Length', str(len(data)))
                    for k, v in resp.headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client timed out and left
                    pass

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

        return Handler


def patch_lines(patch: str) -> list[tuple[int, int | None, int | None, str]]:
    """(hunk index, old line, new line, 'added'|'removed'|'context') of every line `patch` shows; a line
    has no old number when added and no new number when removed.

    Written independently of reviewbot's diff parser, so the fakes judge positions the way a forge does.
    """
    out: list[tuple[int, int | None, int | None, str]] = []
    old = new = 0
    index = -1
    for text in patch.split('\n'):
        m = re.match(r'@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@', text)
        if m:
            old, new = int(m.group(1)), int(m.group(2))
            index += 1
            continue
        if index < 0 or text.startswith('\\'):
            continue
        if text.startswith('+'):
            out.append((index, None, new, 'added'))
            new += 1
        elif text.startswith('-'):
            out.append((index, old, None, 'removed'))
            old += 1
        elif text.startswith(' '):
            out.append((index, old, new, 'context'))
            new += 1
            old += 1
    return out


def hunk_kind(patch: str, side: str, line: int) -> tuple[int, str] | None:
    """(hunk index, kind) of `line` on `side` ('new'|'old') of `patch`, or None (GitHub's view)."""
    for index, old, new, kind in patch_lines(patch):
        if (new if side == 'new' else old) == line:
            return index, kind
    return None
