"""The Unix socket between the hook and the warm daemon (reviewbot.engine.warm): where it lives, who
may use it, and one connection's framing (one JSON object per line each way).

The socket is <daemon dir>/<key>.sock, <daemon dir> being ($XDG_CACHE_HOME or ~/.cache)/reviewbot/daemon
($REVIEWBOT_DAEMON_DIR instead), mode 0700 and owned by this user, else it is not used; the socket is
mode 0600 and owned by this user; the daemon refuses a peer (SO_PEERCRED) that is another user.
"""
from __future__ import annotations

import hashlib
import json
import os
import socket
import stat
import struct
from pathlib import Path
from typing import Any

from reviewbot.engine.paths import cache_home
from reviewbot.errors import DeadlinePassed, ModelError

ENV_DIR = 'REVIEWBOT_DAEMON_DIR'
MAX_LINE = 64 << 20


class DaemonGone(Exception):
    """The daemon closed the connection, refused it or is not there."""


def daemon_dir(environ: dict[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get(ENV_DIR):
        return Path(env[ENV_DIR]).expanduser()
    return cache_home(env) / 'daemon'


def secure_dir(folder: Path, create: bool) -> bool:
    """True when `folder` is a directory owned by this user with no access for anyone else
    (created so when `create`). A folder others can enter is never used."""
    if create:
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError:
            return False
    try:
        st = folder.lstat()
    except OSError:
        return False
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
        return False
    if st.st_mode & 0o077:
        if not create:
            return False
        try:
            os.chmod(folder, 0o700)
        except OSError:
            return False
    return True


def supported() -> bool:
    """The daemon needs Unix sockets and SO_PEERCRED (Linux); elsewhere the model loads in-process."""
    return hasattr(socket, 'AF_UNIX') and hasattr(socket, 'SO_PEERCRED')


def peer_uid(sock: socket.socket) -> int:
    """The uid of the process at the other end of a connected Unix socket (Linux SO_PEERCRED)."""
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize('3i'))
    _pid, uid, _gid = struct.unpack('3i', creds)
    return uid


def peer_allowed(uid: int, own_uid: int | None = None) -> bool:
    """Only this user's own processes may use the daemon (not even root, unless it runs as root)."""
    return uid == (os.getuid() if own_uid is None else own_uid)


def socket_path(folder: Path, threads: int, environ: dict[str, str] | None = None) -> Path:
    key = hashlib.sha256(f'{folder}|{int(threads)}'.encode()).hexdigest()[:16]
    return daemon_dir(environ) / f'{key}.sock'


class Connection:
    """One connection to a daemon: a JSON line out, a JSON line back."""

    def __init__(self, path: Path, timeout: float | None = None) -> None:
        try:
            st = path.lstat()
        except OSError:
            raise DaemonGone('no daemon is running') from None
        if not stat.S_ISSOCK(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
            raise DaemonGone(f'{path} is not a socket of this user with mode 0600: not used')
        if not secure_dir(path.parent, create=False):
            raise DaemonGone(f'{path.parent} is open to other users: not used')
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(str(path))
        except OSError as e:
            self.sock.close()
            raise DaemonGone(f'cannot connect ({e.__class__.__name__})') from None
        self._file = self.sock.makefile('rb')

    def call(self, op: str, **args: Any) -> Any:
        try:
            self.sock.sendall(json.dumps({'op': op, **args}).encode('utf-8') + b'\n')
            line = self._file.readline(MAX_LINE)
        except OSError as e:
            raise DaemonGone(f'the connection broke ({e.__class__.__name__})') from None
        if not line.endswith(b'\n'):
            raise DaemonGone('the daemon closed the connection')
        try:
            reply = json.loads(line)
        except ValueError:
            raise DaemonGone('the daemon sent something that is not JSON') from None
        if not isinstance(reply, dict):
            raise DaemonGone('the daemon sent something unexpected')
        if 'error' in reply:
            if reply.get('kind') == 'model':
                raise ModelError(str(reply['error']))  # what the model itself would have raised here
            if reply.get('kind') == 'deadline':
                raise DeadlinePassed(str(reply['error']))
            raise DaemonGone(f'the daemon failed: {str(reply["error"])[:200]}')
        return reply.get('result')

    def close(self) -> None:
        try:
            self._file.close()
            self.sock.close()
        except OSError:
            pass
