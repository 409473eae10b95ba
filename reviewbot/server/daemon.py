"""`reviewbot daemon run`: one model kept loaded for this user's hooks, on a private Unix socket.

The protocol and the client are reviewbot.engine.warm. The model is owned by the server's model
thread (reviewbot.server.worker.ModelWorker): requests from any connection run one at a time, so
the numbers are those of a model loaded in the hook itself. Privacy: the socket is created mode
0600 in a 0700 directory of this user, and every connection's peer uid (SO_PEERCRED) must be this
user's, else it is closed unanswered. The daemon exits after `idle` seconds without a request, on
`stop`, SIGTERM or SIGINT.
"""
from __future__ import annotations

import fcntl
import json
import os
import signal
import socketserver
import sys
import threading
import time
from pathlib import Path
from typing import Any

from reviewbot.engine import unixsock, warm
from reviewbot.errors import EXIT_OK, EXIT_USAGE, DeadlinePassed, ModelError
from reviewbot.server.metrics import Metrics
from reviewbot.server.worker import ModelWorker

ENV_DIE_ON = 'REVIEWBOT_DAEMON_TEST_DIE_ON'  # tests: the daemon kills itself (SIGKILL) on this op


def log(message: str) -> None:
    sys.stderr.write(f'{time.strftime("%Y-%m-%dT%H:%M:%S")} reviewbot daemon[{os.getpid()}]: {message}\n')
    sys.stderr.flush()


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        while True:
            line = self.rfile.readline(unixsock.MAX_LINE)
            if not line.endswith(b'\n'):
                return
            try:
                request = json.loads(line)
                op = str(request.pop('op'))
            except (ValueError, KeyError, AttributeError):
                self._send({'error': 'bad request', 'kind': 'bad'})
                return
            self.server.daemon.touch()
            if op == 'stop':
                self._send({'result': 'stopping'})
                threading.Thread(target=self.server.shutdown, daemon=True).start()
                return
            self._send(self.server.daemon.answer(op, request))

    def _send(self, reply: dict[str, Any]) -> None:
        self.wfile.write(json.dumps(reply).encode('utf-8') + b'\n')
        self.wfile.flush()


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    daemon: Daemon

    def verify_request(self, request: Any, client_address: Any) -> bool:
        try:
            uid = unixsock.peer_uid(request)
        except (OSError, AttributeError):  # no peer credentials: nobody is let in
            uid = -1
        if unixsock.peer_allowed(uid):
            return True
        log(f'refused a connection from uid {uid} (only uid {os.getuid()} may connect)')
        return False


class Daemon:
    def __init__(self, folder: Path, threads: int, idle_seconds: float) -> None:
        self.folder = folder.resolve()
        self.threads = threads
        self.idle_seconds = idle_seconds
        self.identity = warm.identity(self.folder, threads)
        self.path = unixsock.socket_path(self.folder, threads)
        self.last = time.monotonic()
        self.started = time.time()
        self.requests = 0
        self.worker: ModelWorker | None = None
        self.server: _Server | None = None

    def touch(self) -> None:
        self.last = time.monotonic()
        self.requests += 1

    def info(self) -> dict[str, Any]:
        model = self.worker.model if self.worker else None
        return {'identity': self.identity, 'pid': os.getpid(), 'name': getattr(model, 'name', ''),
                'precision': getattr(model, 'precision', ''),
                'context_length': getattr(model, 'context_length', 0),
                'started': self.started, 'requests': self.requests,
                'idle_seconds': round(time.monotonic() - self.last, 1),
                'idle_exit_seconds': self.idle_seconds}

    def answer(self, op: str, args: dict[str, Any]) -> dict[str, Any]:
        if op == 'hello':
            return {'result': self.info()}
        job = JOBS.get(op)
        if job is None:
            return {'error': f'unknown op {op[:40]!r}', 'kind': 'bad'}
        if os.environ.get(ENV_DIE_ON) == op:
            os.kill(os.getpid(), signal.SIGKILL)
        assert self.worker is not None
        try:
            return {'result': self.worker.submit(lambda m: job(m, args)).result()}
        except ModelError as e:
            return {'error': str(e), 'kind': 'model'}
        except DeadlinePassed as e:
            return {'error': str(e), 'kind': 'deadline'}
        except Exception as e:  # one line to the client, which then loads the model itself
            log(f'{op} failed: {e.__class__.__name__}')
            return {'error': f'{op} failed ({e.__class__.__name__})', 'kind': 'internal'}

    def run(self) -> int:
        where = self.path.parent
        if not unixsock.supported():
            log('needs Unix sockets with SO_PEERCRED (Linux): not starting')
            return EXIT_USAGE
        if not unixsock.secure_dir(where, create=True):
            log(f'{where} is not a private directory of this user: not starting')
            return EXIT_USAGE
        lock = os.open(self.path.with_suffix('.lock'), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            log(f'a daemon for {self.folder} is already running')
            return EXIT_OK
        from reviewbot.engine import load_model
        # one job at most per connection; the queue only bounds how many hooks wait at once
        self.worker = ModelWorker(lambda: load_model(str(self.folder), threads=self.threads), 64, Metrics())
        try:
            self.worker.start()
        except ModelError as e:
            log(str(e))
            return EXIT_USAGE
        try:
            self.path.unlink()  # a socket left by a daemon that was killed (we hold the lock)
        except FileNotFoundError:
            pass
        server = _Server(str(self.path), _Handler, bind_and_activate=False)
        server.daemon = self
        old = os.umask(0o177)
        try:
            server.server_bind()
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)
        server.server_activate()
        self.server = server
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
        threading.Thread(target=self._watch_idle, daemon=True).start()
        log(f'serving {self.folder} on {self.path} (idle exit after {self.idle_seconds:.0f} s)')
        try:
            server.serve_forever(poll_interval=0.2)
        finally:
            try:
                self.path.unlink()
            except FileNotFoundError:
                pass
            server.server_close()
            self.worker.close(5.0)
            os.close(lock)
            log('stopped')
        return EXIT_OK

    def _watch_idle(self) -> None:
        while True:
            time.sleep(min(5.0, max(0.1, self.idle_seconds / 4)))
            busy = self.worker is not None and (self.worker.in_flight or self.worker.depth)
            if not busy and time.monotonic() - self.last >= self.idle_seconds:
                log('idle: exiting')
                if self.server is not None:
                    self.server.shutdown()
                return


def _generate(m: Any, a: dict[str, Any]) -> dict[str, Any]:
    left = a.get('time_left')
    deadline = None if left is None else time.monotonic() + float(left)
    g = m.generate(str(a['prompt']), max_new_tokens=int(a['max_new_tokens']), stop=list(a['stop']),
                   temperature=float(a['temperature']), seed=int(a['seed']), deadline=deadline)
    return {'text': g.text, 'token_ids': [int(i) for i in g.token_ids], 'stop_reason': g.stop_reason,
            'prompt_tokens': g.prompt_tokens, 'prefill_seconds': g.prefill_seconds,
            'decode_seconds': g.decode_seconds}


def _tokenize(m: Any, a: dict[str, Any]) -> dict[str, Any]:
    enc = m.tokenizer.encode(str(a['text']), add_special_tokens=False)
    return {'ids': list(enc.ids), 'offsets': [list(o) for o in enc.offsets]}


def _deadline(a: dict[str, Any]) -> float | None:
    """The caller's deadline on this process's clock (it sends the seconds it has left)."""
    return None if a.get('time_left') is None else time.monotonic() + float(a['time_left'])


def _last(a: dict[str, Any]) -> int | None:
    return None if a.get('last') is None else int(a['last'])


JOBS = {
    'tokenize': _tokenize,
    'decode': lambda m, a: m.decode([int(i) for i in a['ids']]),
    'chat_prompt': lambda m, a: m.chat_prompt(list(a['messages'])),
    'generate': _generate,
    'next_token_logprobs': lambda m, a: m.next_token_logprobs(str(a['prompt']), list(a['candidates'])),
    'token_surprisals': lambda m, a: m.token_surprisals(str(a['prefix']), str(a['text']), last=_last(a),
                                                        deadline=_deadline(a)),
    'keep_prefix': lambda m, a: m.keep_prefix(str(a['text']), Path(a['folder'])),
}
