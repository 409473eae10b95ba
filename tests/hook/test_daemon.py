"""The warm model daemon (`reviewbot daemon`, reviewbot.engine.warm): private, version-checked,
and invisible in the results: the hook says the same with it, without it, and when it dies.

Real parts: the tiny real model (smollm2-135m) in a real daemon process on a real Unix socket,
real git repos, the hook run as pre-commit runs it."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from reviewbot.engine import paths, unixsock, warm
from tests.conftest import GitRepo
from tests.hook.conftest import hook_env, run_hook, snapshot

TINY = 'smollm2-135m'

pytestmark = pytest.mark.skipif(not (paths.model_path(TINY) / paths.MANIFEST).is_file(),
                                reason=f'{TINY} is not exported (see tests/engine/conftest.py)')

BEFORE = 'def total(prices, tax):\n    result = 0\n    for p in prices:\n        result += p\n    return result\n'
AFTER = ('def total(prices, tax):\n    result = 0\n    for p in prices:\n        result += p\n'
         '    if tax > 0:\n        result = result * tax / 100\n    eval(str(result))\n'
         '    password = "hunter2"\n    return result\n')
# threshold 1: every unit is reported as skipped with its triage score, so the reports compare numbers
# model_findings = "info": the model triages every unit (the default, "off", asks it for nothing)
CONFIG = (f'reviewers = ["model"]\nmodel = "{TINY}"\ncache = false\ntriage_threshold = 1.0\nmodel_findings = "info"\n'
          '[hook]\nbudget = 0\n')
SECOND = 'import os\n\n\ndef run(cmd):\n    return os.system(cmd)\n'
SECOND_AFTER = ('import os\nimport subprocess\n\n\ndef run(cmd):\n'
                '    return subprocess.call(cmd, shell=True)\n')


@pytest.fixture
def ddir(monkeypatch: pytest.MonkeyPatch):
    """A private daemon dir (short: socket paths are limited to ~100 bytes); daemons stopped after."""
    base = Path(tempfile.mkdtemp(prefix='rbd', dir='/tmp'))
    where = base / 'd'
    monkeypatch.setenv(unixsock.ENV_DIR, str(where))
    monkeypatch.delenv(warm.ENV_MODE, raising=False)
    yield where
    for sock in where.glob('*.sock') if where.is_dir() else []:
        warm.stop(sock)
    time.sleep(0.2)
    shutil.rmtree(base, ignore_errors=True)


def daemon_cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-m', 'reviewbot', 'daemon', *args], capture_output=True,
                          check=False, env=hook_env(**env), timeout=300, cwd='/')


def start(ddir: Path, *extra: str, **env: str) -> tuple[Path, dict]:
    proc = daemon_cli('start', '--model', TINY, *extra, REVIEWBOT_DAEMON_DIR=str(ddir), **env)
    assert proc.returncode == 0, proc.stderr.decode()
    folder = warm.model_folder(TINY, None)
    path = unixsock.socket_path(folder, 2)
    conn, info = warm.hello(path, None)
    conn.close()
    return path, info


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is not alive; the daemon is in its own session, so it is reaped by init
    try:
        return Path(f'/proc/{pid}/stat').read_text().split(')')[-1].split()[0] != 'Z'
    except OSError:
        return False


def dies(pid: int, timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


def staged_repo(tmp_path: Path) -> GitRepo:
    repo = GitRepo(tmp_path / 'repo')
    repo.write('.reviewbot.toml', CONFIG)
    repo.write('billing.py', BEFORE)
    repo.write('shell.py', SECOND)
    repo.commit('initial')
    repo.write('billing.py', AFTER)
    repo.write('shell.py', SECOND_AFTER)
    repo.git('add', 'billing.py', 'shell.py')
    return repo


# -- privacy -----------------------------------------------------------------------------------

def test_socket_is_owner_only_in_a_private_dir(ddir: Path):
    path, info = start(ddir)
    assert stat.S_IMODE(path.lstat().st_mode) == 0o600
    assert stat.S_IMODE(ddir.lstat().st_mode) == 0o700
    assert path.lstat().st_uid == os.getuid()
    assert info['identity'] == warm.identity(warm.model_folder(TINY, None), 2)
    status = daemon_cli('status', '--model', TINY, REVIEWBOT_DAEMON_DIR=str(ddir))
    assert status.returncode == 0 and b'current' in status.stdout
    assert daemon_cli('stop', '--model', TINY, REVIEWBOT_DAEMON_DIR=str(ddir)).returncode == 0
    assert dies(info['pid'])
    assert not path.exists()
    assert daemon_cli('status', '--model', TINY, REVIEWBOT_DAEMON_DIR=str(ddir)).returncode == 5


def test_peer_uid_check():
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with a, b:
        assert unixsock.peer_uid(a) == os.getuid()
    assert unixsock.peer_allowed(os.getuid())
    assert not unixsock.peer_allowed(os.getuid() + 1)
    assert not unixsock.peer_allowed(0, own_uid=1000)  # not even root gets into another user's daemon
    assert not unixsock.peer_allowed(-1)


def connect_as(uid: int, path: Path) -> bytes:
    """Connect to `path` from a child process running as `uid`; what the daemon answered to hello."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 1
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(20)
            s.connect(str(path))
            s.sendall(b'{"op": "hello"}\n')
            os.write(write, b'answer:' + s.recv(100))
            code = 0
        except BaseException as e:  # reported to the parent
            os.write(write, f'error:{e!r}'.encode())
        finally:
            os._exit(code)
    os.close(write)
    with os.fdopen(read, 'rb') as f:
        out = f.read()
    os.waitpid(pid, 0)
    return out


@pytest.mark.skipif(os.getuid() != 0, reason='needs root to connect as another uid '
                    '(the uid check itself is test_peer_uid_check)')
def test_a_connection_from_another_uid_is_refused(ddir: Path):
    """Even with the directory and socket opened up by mistake, another user gets no answer."""
    path, info = start(ddir)
    os.chmod(ddir.parent, 0o711)  # the test's temp dir (mkdtemp makes it 0700)
    os.chmod(ddir, 0o711)
    os.chmod(path, 0o666)
    try:
        answer = connect_as(65534, path)
    finally:
        os.chmod(path, 0o600)
        os.chmod(ddir, 0o700)
    # it could connect (the socket was opened up) and was closed unanswered
    assert answer in (b'answer:', b'error:' + repr(BrokenPipeError(32, 'Broken pipe')).encode(),
                      b'error:' + repr(ConnectionResetError(104, 'Connection reset by peer')).encode())
    log = path.with_suffix('.log').read_text()
    assert 'refused a connection from uid 65534' in log
    conn, again = warm.hello(path, None)  # this user still gets in
    conn.close()
    assert again['pid'] == info['pid']


def test_the_client_refuses_a_socket_or_dir_others_can_open(ddir: Path):
    path, _info = start(ddir)
    os.chmod(path, 0o666)
    with pytest.raises(unixsock.DaemonGone, match='mode 0600'):
        unixsock.Connection(path)
    os.chmod(path, 0o600)
    os.chmod(ddir, 0o755)
    with pytest.raises(unixsock.DaemonGone, match='open to other users'):
        unixsock.Connection(path)
    os.chmod(ddir, 0o700)
    unixsock.Connection(path).close()


# -- version check -------------------------------------------------------------------------------

def _copy_model(dest: Path) -> Path:
    """The exported tiny model as another folder (big files hard-linked, the manifest copied)."""
    src = paths.model_path(TINY)
    dest.mkdir(parents=True)
    for f in src.iterdir():
        if f.name == paths.MANIFEST:
            shutil.copy2(f, dest / f.name)
        else:
            os.link(f, dest / f.name)
    return dest


def test_a_daemon_that_cannot_start_is_a_one_line_error(tmp_path: Path):
    """`daemon start` where the daemon dir cannot be made (a file is in the way): exit 2, one line
    saying why, no traceback (warm.reach reports what spawn met)."""
    blocker = tmp_path / 'a-file'
    blocker.write_text('')
    proc = daemon_cli('start', '--model', TINY, REVIEWBOT_DAEMON_DIR=str(blocker / 'daemon'))
    err = proc.stderr.decode()
    assert proc.returncode == 2 and 'Traceback' not in err, err
    assert err.count('\n') == 1 and 'did not start' in err and 'cannot be made private' in err
    assert not proc.stdout


def test_a_model_upgrade_replaces_the_daemon(ddir: Path, tmp_path: Path):
    folder = _copy_model(tmp_path / 'model')
    proc = daemon_cli('start', '--model', str(folder), REVIEWBOT_DAEMON_DIR=str(ddir))
    assert proc.returncode == 0, proc.stderr.decode()
    path = unixsock.socket_path(folder.resolve(), 2)
    conn, old = warm.hello(path, None)
    conn.close()
    # the model is exported again: same files, another manifest
    manifest = folder / paths.MANIFEST
    data = json.loads(manifest.read_text())
    data['export_seconds'] = {'again': 1.0}
    manifest.write_text(json.dumps(data))
    status = daemon_cli('status', '--model', str(folder), REVIEWBOT_DAEMON_DIR=str(ddir))
    assert b'STALE' in status.stdout

    loaded: list[bool] = []
    # mode "use": the stale daemon is refused and stopped; the model loads in this process
    model, notes = warm.connect(str(folder), None, 2, mode='use', fallback=lambda: loaded.append(True))
    assert model is None
    assert any('another model export or reviewbot version' in n for n in notes)
    assert dies(old['pid'])

    # mode "start": a daemon of the new export is started and used
    model, notes = warm.connect(str(folder), None, 2, mode='start', fallback=lambda: loaded.append(True))
    assert model is not None and model.warm
    assert model.pid != old['pid']
    assert model.name == TINY
    model.close()
    conn, new = warm.hello(path, None)
    conn.close()
    assert new['identity'] == warm.identity(folder.resolve(), 2) != old['identity']
    assert not loaded


def test_another_reviewbot_version_is_refused(ddir: Path, monkeypatch: pytest.MonkeyPatch):
    _path, info = start(ddir)
    import reviewbot
    monkeypatch.setattr(reviewbot, '__version__', reviewbot.__version__ + '.post1')
    model, notes = warm.connect(TINY, None, 2, mode='use', fallback=lambda: None)
    assert model is None and notes
    assert dies(info['pid'])


def test_idle_daemon_exits(ddir: Path):
    path, info = start(ddir, '--idle-minutes', '0.01')
    assert dies(info['pid'])
    assert not path.exists()


# -- the same review, warm or not ------------------------------------------------------------------

def _findings(proc: subprocess.CompletedProcess) -> str:
    out = proc.stdout.decode()
    assert 'low risk score' in out  # the triage scores are in what is compared
    return out


def test_the_daemon_computes_the_same_numbers(ddir: Path):
    """Everything the model reviewer asks, asked of the daemon and of a model in this process."""
    from reviewbot.engine import load_model
    from reviewbot.reviewers.model import (
        make_units,
        render_view,
        review_messages,
        scan_unit,
    )
    start(ddir)
    local = load_model(TINY)
    model, notes = warm.connect(TINY, None, 2, mode='use', fallback=lambda: pytest.fail('fell back'))
    assert model is not None and not notes
    prompt = local.chat_prompt([{'role': 'user', 'content': AFTER}])
    assert model.chat_prompt([{'role': 'user', 'content': AFTER}]) == prompt
    assert model.token_surprisals(prompt, AFTER) == local.token_surprisals(prompt, AFTER)
    assert model.token_surprisals(prompt, AFTER, last=3) == local.token_surprisals(prompt, AFTER, last=3)
    assert model.next_token_logprobs(prompt, [' yes', 'no']) == local.next_token_logprobs(prompt, [' yes', 'no'])
    for temperature in (0.0, 0.7):
        a = model.generate(prompt, max_new_tokens=24, stop=('\n\n',), temperature=temperature, seed=3)
        b = local.generate(prompt, max_new_tokens=24, stop=('\n\n',), temperature=temperature, seed=3)
        assert (a.text, a.token_ids, a.stop_reason, a.prompt_tokens) == \
            (b.text, b.token_ids, b.stop_reason, b.prompt_tokens)
    assert model.decode(a.token_ids) == local.decode(b.token_ids)
    enc = model.tokenizer.encode(AFTER, add_special_tokens=False)
    ref = local.tokenizer.encode(AFTER, add_special_tokens=False)
    assert (enc.ids, [tuple(o) for o in enc.offsets]) == (ref.ids, [tuple(o) for o in ref.offsets])
    from reviewbot.diffparse import parse_diff
    diff = ('--- a/billing.py\n+++ b/billing.py\n@@ -4,2 +4,5 @@\n         result += p\n'
            '+    if tax > 0:\n+        result = result * tax / 100\n+    eval(str(result))\n'
            '     return result\n')
    fc = parse_diff(diff.encode()).files[0]
    for u in make_units(fc):
        u.view = render_view(u, AFTER)
        assert scan_unit(model, u) == scan_unit(local, u)
        assert model.chat_prompt(review_messages(u)) == local.chat_prompt(review_messages(u))
    # the review's deadline reaches the daemon as the seconds left; passed, it stops there and says so
    import time as time_mod

    from reviewbot.errors import DeadlinePassed
    assert model.token_surprisals(prompt, AFTER, last=3, deadline=time_mod.monotonic() + 600) == \
        local.token_surprisals(prompt, AFTER, last=3)
    with pytest.raises(DeadlinePassed):
        model.token_surprisals(prompt, AFTER, last=3, deadline=time_mod.monotonic() - 1)
    assert model.warm and not model.take_notes()  # still the daemon's: no fallback to a local model
    model.close()


def test_hook_says_the_same_with_and_without_the_daemon(ddir: Path, tmp_path: Path):
    repo = staged_repo(tmp_path)
    before = snapshot(repo.path)
    cold = run_hook(repo.path, REVIEWBOT_DAEMON='off', REVIEWBOT_DAEMON_DIR=str(ddir))
    assert cold.returncode in (0, 1), cold.stderr.decode()
    assert 'model:' in cold.stdout.decode() or 'reviewed' in cold.stdout.decode()

    path, info = start(ddir)
    warm_run = run_hook(repo.path, REVIEWBOT_DAEMON_DIR=str(ddir))  # default mode: "use"
    assert warm_run.returncode == cold.returncode, warm_run.stderr.decode()
    assert _findings(warm_run) == _findings(cold)
    conn, after = warm.hello(path, None)
    conn.close()
    assert after['requests'] > info['requests'] + 2  # it was asked, not bypassed
    assert snapshot(repo.path) == before  # nothing written to the work tree or the index

    # `review` too, compared as JSON (findings, skipped units with their triage scores)
    def review(mode: str) -> dict:
        proc = subprocess.run([sys.executable, '-m', 'reviewbot', 'review', '--staged', '--format', 'json'],
                              cwd=repo.path, capture_output=True, check=False, timeout=300,
                              env=hook_env(REVIEWBOT_DAEMON=mode, REVIEWBOT_DAEMON_DIR=str(ddir)))
        assert proc.returncode in (0, 1), proc.stderr.decode()
        data = json.loads(proc.stdout)
        return {k: data[k] for k in ('findings', 'skipped') if k in data}
    assert review('use') == review('off')


def test_mode_start_starts_it_on_demand(ddir: Path, tmp_path: Path):
    repo = staged_repo(tmp_path)
    cold = run_hook(repo.path, REVIEWBOT_DAEMON='off', REVIEWBOT_DAEMON_DIR=str(ddir))
    before = snapshot(repo.path)
    started = run_hook(repo.path, REVIEWBOT_DAEMON='start', REVIEWBOT_DAEMON_DIR=str(ddir))
    assert _findings(started) == _findings(cold)
    assert snapshot(repo.path) == before  # the daemon started from the hook wrote nothing there
    folder = warm.model_folder(TINY, None)
    conn, info = warm.hello(unixsock.socket_path(folder, 2), None)
    conn.close()
    assert info['requests'] > 2


def test_killed_mid_review_falls_back_with_a_note(ddir: Path, tmp_path: Path):
    repo = staged_repo(tmp_path)
    cold = run_hook(repo.path, REVIEWBOT_DAEMON='off', REVIEWBOT_DAEMON_DIR=str(ddir))
    # this daemon dies (SIGKILL) when the review first asks it to score: after it has answered
    # the prompt and tokenizer requests of the same review
    _path, info = start(ddir, REVIEWBOT_DAEMON_TEST_DIE_ON='token_surprisals')
    killed = run_hook(repo.path, REVIEWBOT_DAEMON_DIR=str(ddir))
    assert killed.returncode == cold.returncode, killed.stderr.decode()
    out = killed.stdout.decode()
    assert 'note: model: the warm daemon went away mid-review' in out
    assert 'Traceback' not in killed.stderr.decode()
    without_note = '\n'.join(line for line in out.splitlines() if 'warm daemon went away' not in line)
    assert without_note + '\n' == _findings(cold)
    assert dies(info['pid'])


def test_bad_mode_env_is_one_line(ddir: Path, tmp_path: Path):
    repo = staged_repo(tmp_path)
    proc = run_hook(repo.path, REVIEWBOT_DAEMON='sometimes', REVIEWBOT_DAEMON_DIR=str(ddir))
    err = proc.stderr.decode()
    assert proc.returncode == 2, err
    assert 'REVIEWBOT_DAEMON' in err and 'Traceback' not in err and len(err.strip().splitlines()) == 1


def test_signal_stops_it(ddir: Path):
    path, info = start(ddir)
    os.kill(info['pid'], signal.SIGTERM)
    assert dies(info['pid'])
    assert not path.exists()
