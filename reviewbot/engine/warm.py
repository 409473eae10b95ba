"""The warm model: a model another local process (`reviewbot daemon`) keeps loaded, used through a
Unix socket, so a hook does not pay the session load and the prefill of the shared prompt head.

The daemon (reviewbot.server.daemon) listens on <daemon dir>/<key>.sock, one per exported model
folder and thread count:
- <daemon dir> is ($XDG_CACHE_HOME or ~/.cache)/reviewbot/daemon ($REVIEWBOT_DAEMON_DIR instead),
  mode 0700 and owned by this user, else it is not used; the socket is mode 0600;
- the daemon refuses a connection whose peer (SO_PEERCRED) is another user; this side refuses a
  socket owned by another user;
- the first exchange is `hello`: the daemon's identity (protocol, reviewbot version, engine source
  hash, model folder, manifest hash, threads) must equal this side's, else the daemon is told to
  stop (it serves a model that was re-exported or a reviewbot that was upgraded) and the model is
  loaded here.

Framing: one JSON object per line each way. WarmModel is an engine.Backend (reviewbot.engine.backend:
name, precision, context_length, tokenizer.encode, encode, decode, chat_prompt, generate,
next_token_logprobs, token_surprisals; and keep_prefix). When the daemon goes
away mid-review, the call is repeated on a model loaded in this process and a note says so.

Nothing here imports numpy, onnxruntime or tokenizers: the hook process stays small.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from reviewbot import defaults
from reviewbot.engine.backend import GenerationResult
from reviewbot.engine.unixsock import (
    Connection,
    DaemonGone,
    daemon_dir,
    secure_dir,
    socket_path,
    supported,
)
from reviewbot.errors import ModelError

PROTOCOL = 1
MODES = ('off', 'use', 'start')  # never use it; use one that runs (default); also start one
ENV_MODE = 'REVIEWBOT_DAEMON'
START_TIMEOUT = 60.0  # seconds `start` waits for a new daemon's model to load
CALL_TIMEOUT = 300.0  # seconds one model call may take before the model is loaded here instead
ENGINE_SOURCES = ('runtime.py', 'session.py', 'chat.py', 'prefix.py', 'backend.py')


def mode_from(config_mode: str, environ: dict[str, str] | None = None) -> str:
    """$REVIEWBOT_DAEMON (off|use|start) overrides [daemon] mode."""
    env = (os.environ if environ is None else environ).get(ENV_MODE, '').strip().lower()
    if env:
        if env not in MODES:
            from reviewbot.errors import ConfigError
            raise ConfigError(f'${ENV_MODE} must be one of {", ".join(MODES)} (got {env[:20]!r})')
        return env
    return config_mode or 'use'


def model_folder(name_or_path: str | None, model_dir: str | None) -> Path:
    """The exported folder load_model would use (resolved), without loading anything."""
    from reviewbot.engine import manifest
    return manifest.folder(name_or_path, model_dir).resolve()


def identity(folder: Path, threads: int) -> dict[str, Any]:
    """What must match between the hook and a daemon for their numbers to be the same."""
    from reviewbot import __version__
    from reviewbot.engine import paths
    try:
        manifest = hashlib.sha256((folder / paths.MANIFEST).read_bytes()).hexdigest()
    except OSError:
        manifest = ''
    engine = hashlib.sha256()
    for source in ENGINE_SOURCES:  # the code that computes the numbers
        engine.update(Path(__file__).with_name(source).read_bytes())
    return {'protocol': PROTOCOL, 'reviewbot': __version__,
            'engine': engine.hexdigest()[:16],
            'folder': str(folder), 'manifest_sha256': manifest, 'threads': int(threads)}


@dataclasses.dataclass(frozen=True)
class Encoding:
    ids: list[int]
    offsets: list[tuple[int, int]]


class WarmTokenizer:
    def __init__(self, model: WarmModel) -> None:
        self._model = model

    def encode(self, text: str, add_special_tokens: bool = False) -> Any:
        if add_special_tokens:  # pragma: no cover - the reviewer never asks for them
            raise ValueError('add_special_tokens is not served')
        return self._model._do('tokenize', lambda m: m.tokenizer.encode(text, add_special_tokens=False),
                               lambda r: Encoding([int(i) for i in r['ids']],
                                                  [(int(a), int(b)) for a, b in r['offsets']]),
                               text=text)


class WarmModel:
    """The model in a daemon; falls back to `fallback()` (a model in this process) if it goes away."""

    def __init__(self, conn: Connection, info: dict[str, Any], fallback: Callable[[], Any]) -> None:
        self._conn: Connection | None = conn
        self._fallback = fallback
        self._local: Any = None
        self.pid = int(info.get('pid', 0))
        self.name = str(info['name'])
        self.precision = str(info['precision'])
        self.context_length = int(info['context_length'])
        self.tokenizer = WarmTokenizer(self)
        self.notes: list[str] = []

    @property
    def warm(self) -> bool:
        return self._conn is not None

    def take_notes(self) -> list[str]:
        taken, self.notes = self.notes, []
        return taken

    def _do(self, op: str, local: Callable[[Any], Any], convert: Callable[[Any], Any], **args: Any) -> Any:
        if self._conn is not None:
            try:
                return convert(self._conn.call(op, **args))
            except DaemonGone as e:
                self._conn.close()
                self._conn = None
                self.notes.append(f'model: the warm daemon went away mid-review ({e}); the review '
                                  'continued with the model loaded in this process')
        if self._local is None:
            self._local = self._fallback()
        return local(self._local)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- the engine model's surface -----------------------------------------------------------
    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False).ids

    def decode(self, ids: Sequence[int]) -> str:
        return self._do('decode', lambda m: m.decode(ids), str, ids=list(ids))

    def chat_prompt(self, messages: Sequence[dict[str, str]]) -> str:
        return self._do('chat_prompt', lambda m: m.chat_prompt(list(messages)), str, messages=list(messages))

    def generate(self, prompt: str, max_new_tokens: int = 128, stop: Sequence[str] = (),
                 temperature: float = 0.0, seed: int = 0, deadline: float | None = None) -> GenerationResult:
        left = None if deadline is None else deadline - time.monotonic()
        return self._do('generate',
                        lambda m: m.generate(prompt, max_new_tokens=max_new_tokens, stop=stop,
                                             temperature=temperature, seed=seed, deadline=deadline),
                        lambda r: GenerationResult(str(r['text']), [int(i) for i in r['token_ids']],
                                                   str(r['stop_reason']), int(r['prompt_tokens']),
                                                   float(r['prefill_seconds']), float(r['decode_seconds'])),
                        prompt=prompt, max_new_tokens=max_new_tokens, stop=list(stop),
                        temperature=temperature, seed=seed, time_left=left)

    def next_token_logprobs(self, prompt: str, candidates: Sequence[str]) -> dict[str, float]:
        return self._do('next_token_logprobs', lambda m: m.next_token_logprobs(prompt, list(candidates)),
                        lambda r: {str(k): float(v) for k, v in r.items()},
                        prompt=prompt, candidates=list(candidates))

    def token_surprisals(self, prefix: str, text: str, last: int | None = None,
                         deadline: float | None = None) -> list[float]:
        left = None if deadline is None else deadline - time.monotonic()  # the daemon has its own clock
        return self._do('token_surprisals',
                        lambda m: m.token_surprisals(prefix, text, last=last, deadline=deadline),
                        lambda r: [float(x) for x in r], prefix=prefix, text=text, last=last, time_left=left)

    def keep_prefix(self, text: str, folder: Path) -> int:
        return self._do('keep_prefix', lambda m: m.keep_prefix(text, Path(folder)), int,
                        text=text, folder=str(folder))


def hello(path: Path, want: dict[str, Any] | None, timeout: float | None = 10.0
          ) -> tuple[Connection, dict[str, Any]]:
    """Connect and exchange identities; raises DaemonGone."""
    conn = Connection(path, timeout)
    try:
        info = conn.call('hello', identity=want)
        if not isinstance(info, dict) or not isinstance(info.get('identity'), dict):
            raise DaemonGone('the daemon did not say who it is')
    except BaseException:
        conn.close()
        raise
    conn.sock.settimeout(CALL_TIMEOUT)  # a stopped (SIGSTOP) daemon must not hang the hook forever
    return conn, info


def stop(path: Path) -> bool:
    """Ask the daemon at `path` to exit; True if one answered."""
    try:
        conn = Connection(path, 10.0)
    except DaemonGone:
        return False
    try:
        conn.call('stop')
        return True
    except DaemonGone:
        return False
    finally:
        conn.close()


def spawn(folder: Path, threads: int, idle_minutes: float) -> None:
    """Start a daemon for `folder` in the background (its own session, cwd the daemon dir, output
    to a 0600 log there); returns at once."""
    where = daemon_dir()
    if not secure_dir(where, create=True):
        raise DaemonGone(f'{where} cannot be made private to this user')
    log = socket_path(folder, threads).with_suffix('.log')
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        subprocess.Popen(
            [sys.executable, '-m', 'reviewbot', 'daemon', 'run', '--model', str(folder),
             '--threads', str(int(threads)), '--idle-minutes', str(idle_minutes)],
            stdin=subprocess.DEVNULL, stdout=fd, stderr=fd, cwd=where, start_new_session=True,
            close_fds=True)
    finally:
        os.close(fd)


def wait_ready(path: Path, want: dict[str, Any], timeout: float) -> tuple[Connection, dict[str, Any]] | None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            conn, info = hello(path, want)
        except DaemonGone:
            time.sleep(0.05)
            continue
        if info['identity'] == want:
            return conn, info
        conn.close()
        return None
    return None


@dataclasses.dataclass
class Reached:
    """What reach() found: a connection to a current daemon (or None), and what it did on the way."""
    conn: Connection | None
    info: dict[str, Any] | None
    stale: bool = False  # a daemon serving another export or version answered and was stopped
    started: bool = False  # this call started the daemon (reach(start=True))
    failed: str = ''  # why a daemon could not be started


def reach(folder: Path, threads: int, *, start: bool, idle_minutes: float) -> Reached:
    """The daemon for an exported `folder` and thread count: the running one when it is current;
    a stale one is stopped; with `start`, one is started when none is current (spawn and
    wait_ready; `failed` says why when it cannot be)."""
    want = identity(folder, threads)
    path = socket_path(folder, threads)
    found = None
    try:
        found = hello(path, want)
    except DaemonGone:
        pass
    stale = False
    if found is not None and found[1]['identity'] != want:
        found[0].close()
        found = None
        stop(path)
        stale = True
    if found is None and start:
        try:
            spawn(folder, threads, idle_minutes)
            found = wait_ready(path, want, START_TIMEOUT)
        except (DaemonGone, OSError) as e:
            return Reached(None, None, stale=stale, failed=str(e) or e.__class__.__name__)
        if found is None:
            return Reached(None, None, stale=stale,
                           failed=f'no current daemon answered within {START_TIMEOUT:.0f} s')
        return Reached(found[0], found[1], stale=stale, started=True)
    if found is None:
        return Reached(None, None, stale=stale)
    return Reached(found[0], found[1], stale=stale)


def connect(name_or_path: str | None, model_dir: str | None, threads: int, *, mode: str,
            fallback: Callable[[], Any],
            idle_minutes: float = defaults.DAEMON_IDLE_MINUTES) -> tuple[WarmModel | None, list[str]]:
    """(the daemon's model, notes) when a daemon for this model runs (or, mode 'start', was
    started); (None, notes) to load the model in this process."""
    if mode == 'off' or not supported():
        return None, []
    try:
        folder = model_folder(name_or_path, model_dir)
    except ModelError:
        return None, []  # load_model says what is wrong
    if not (folder / 'reviewbot-model.json').is_file():
        return None, []
    reached = reach(folder, threads, start=mode == 'start', idle_minutes=idle_minutes)
    notes: list[str] = []
    if reached.stale:
        notes.append('model: the warm daemon served another model export or reviewbot version; '
                     'it was stopped' + (' and started again' if mode == 'start' else
                                         ' and the model was loaded in this process'))
    if reached.conn is None or reached.info is None:
        return None, notes
    return WarmModel(reached.conn, reached.info, fallback), notes
