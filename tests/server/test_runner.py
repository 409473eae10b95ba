"""Binding, tokens, shutdown and the `reviewbot serve` command."""
from __future__ import annotations

import concurrent.futures
import json
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from reviewbot import config as cfgmod
from reviewbot.errors import ConfigError
from reviewbot.server.runner import ModelServer, check_bind, is_loopback, load_token
from tests.server.conftest import (
    AUTH,
    MODEL,
    TOKEN,
    chat_body,
    make_server,
    model_thread_held,
    wait_until,
)

REPO = Path(__file__).resolve().parents[2]
# after shutdown begins the listener is closed: a new connection is refused or dropped
REFUSED = (httpx.ConnectError, httpx.RemoteProtocolError)


@pytest.mark.parametrize('host,loopback', [('127.0.0.1', True), ('127.3.4.5', True), ('::1', True),
                                           ('[::1]', True), ('localhost', True), ('0.0.0.0', False),
                                           ('::', False), ('10.1.2.3', False), ('192.168.0.10', False)])
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_non_loopback_bind_needs_a_token() -> None:
    with pytest.raises(ConfigError, match='without a bearer token'):
        check_bind('0.0.0.0', None)
    check_bind('0.0.0.0', TOKEN)
    check_bind('127.0.0.1', None)


def test_the_server_refuses_a_non_loopback_bind_before_loading_a_model() -> None:
    loads = []
    with pytest.raises(ConfigError):
        ModelServer(lambda: loads.append(1), cfgmod.defaults(), model_name=MODEL, host='0.0.0.0', port=0)
    assert loads == []


def test_tokens_come_from_a_file_or_the_environment(tmp_path: Path) -> None:
    token_file = tmp_path / 'token'
    token_file.write_text(TOKEN + '\n')
    assert load_token(str(token_file), {}) == TOKEN
    assert load_token(None, {'REVIEWBOT_SERVER_TOKEN': TOKEN}) == TOKEN
    assert load_token(None, {}) is None
    token_file.write_text('short\n')
    with pytest.raises(ConfigError, match='at least 16'):
        load_token(str(token_file), {})
    with pytest.raises(ConfigError, match='cannot read'):
        load_token(str(tmp_path / 'missing'), {})


def test_a_remote_reviewer_is_never_run_by_the_server() -> None:
    from reviewbot.reviewers import REGISTRY

    module = type(sys)('reviewbot_test_remote_reviewer')
    module.REMOTE = True
    sys.modules[module.__name__] = module
    REGISTRY['test-remote'] = module.__name__
    try:
        cfg = cfgmod.defaults().override(reviewers=['secrets', 'test-remote'])
        with pytest.raises(ConfigError, match='sends code off this machine'):
            make_server().__class__(lambda: None, cfg, model_name=MODEL, port=0, token=TOKEN)
    finally:
        del REGISTRY['test-remote']
        del sys.modules[module.__name__]


def test_graceful_shutdown_finishes_accepted_requests_and_refuses_new_ones(tiny_model: str) -> None:
    server = make_server(queue_size=2)
    port = server.start()
    base = f'http://127.0.0.1:{port}'
    try:
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            with model_thread_held(server):
                accepted = pool.submit(_chat, base)
                wait_until(lambda: server.worker.depth == 1, 'the request to be queued')
                server.begin_shutdown()
                wait_until(lambda: not _listening(port), 'the listener to close')
                with pytest.raises(REFUSED):
                    httpx.post(f'{base}/v1/chat/completions', json=chat_body('late'), headers=AUTH,
                               timeout=10, trust_env=False)
            response = accepted.result(120)
        assert response.status_code == 200
        assert response.json()['choices'][0]['message']['content']
    finally:
        server.stop()
    assert not server.worker._thread.is_alive()



def _listening(port: int) -> bool:
    import socket
    try:
        socket.create_connection(('127.0.0.1', port), timeout=5).close()
        return True
    except OSError:
        return False


def _chat(base: str, content: str = 'Say hello.', max_tokens: int = 8) -> httpx.Response:
    with httpx.Client(base_url=base, headers=AUTH, timeout=300, trust_env=False) as c:
        return c.post('/v1/chat/completions', json=chat_body(content, max_tokens=max_tokens))


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != 'REVIEWBOT_SERVER_TOKEN'}
    env['PYTHONPATH'] = str(REPO)
    env.update(extra)
    return env


def test_serve_refuses_a_non_loopback_bind_without_a_token() -> None:
    proc = subprocess.run([sys.executable, '-m', 'reviewbot', 'serve', '--model', MODEL, '--host', '0.0.0.0',
                           '--port', '0'], capture_output=True, text=True, env=_env(), timeout=60, check=False)
    assert proc.returncode == 2
    assert proc.stderr.startswith('reviewbot: refusing to listen on 0.0.0.0 without a bearer token')
    assert len(proc.stderr.strip().splitlines()) == 1


def test_serve_with_an_unknown_model_fails_in_one_line() -> None:
    proc = subprocess.run([sys.executable, '-m', 'reviewbot', 'serve', '--model', 'no-such-model',
                           '--port', '0'], capture_output=True, text=True, env=_env(), timeout=120, check=False)
    assert proc.returncode == 2
    assert proc.stderr.startswith('reviewbot: ') and 'Traceback' not in proc.stderr


def test_serve_end_to_end_no_bodies_in_logs_and_sigterm_finishes_in_flight(tmp_path: Path,
                                                                          tiny_model: str) -> None:
    """The real command: token from a file, a request, then SIGTERM while a request is in flight."""
    token_file = tmp_path / 'token'
    token_file.write_text(TOKEN)
    marker = 'ZEBRA-MARKER-7d1c'
    proc = subprocess.Popen([sys.executable, '-m', 'reviewbot', 'serve', '--model', MODEL, '--port', '0',
                             '--token-file', str(token_file), '--threads', '1'],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    log: list[str] = []
    try:
        port = _wait_for_port(proc, log)
        base = f'http://127.0.0.1:{port}'
        first = _chat(base, f'Repeat this: {marker}')
        assert first.status_code == 200
        review = httpx.post(f'{base}/v1/review', json={'diff': f'--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n'
                                                        f'-a = 1\n+a = "{marker}"\n'},
                            headers=AUTH, timeout=120, trust_env=False)
        assert review.status_code == 200
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            in_flight = pool.submit(_chat, base, 'Write a long story about a lighthouse keeper.', 48)
            wait_until(lambda: in_flight.done() or _metrics(base)['in_flight'] == 1, 'the request to start')
            proc.send_signal(signal.SIGTERM)
            response = in_flight.result(300)
        assert response.status_code == 200
        assert response.json()['usage']['completion_tokens'] >= 1
        proc.wait(120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    output = ''.join(log) + proc.stderr.read() + proc.stdout.read()
    assert proc.returncode in (0, -signal.SIGTERM)
    assert 'Traceback' not in output
    assert 'POST /v1/chat/completions' in output  # the access log is on: it names the path only
    assert marker not in output


def _wait_for_port(proc: subprocess.Popen, log: list[str]) -> int:
    result: list[int] = []

    def read() -> None:
        for line in proc.stderr:
            log.append(line)
            m = re.search(r'running on http://127\.0\.0\.1:(\d+)', line)
            if m:
                result.append(int(m.group(1)))
                return
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(180)
    if not result:
        raise AssertionError('the server did not start: ' + ''.join(log)[-2000:])
    return result[0]


def _metrics(base: str) -> dict[str, Any]:
    r = httpx.get(f'{base}/metrics?format=json', headers=AUTH, timeout=30, trust_env=False)
    return json.loads(r.text)


class EchoModelReviewer:
    """A reviewer that, like the model reviewer, takes a model: the server must hand it its own."""

    name = 'echo-model'

    def __init__(self, config: Any, model: Any = None) -> None:
        self.model = model

    def review(self, files: list, ctx: Any) -> Any:
        from reviewbot.reviewers import ReviewerResult
        prompt = self.model.chat_prompt([{'role': 'user', 'content': f'Summarise {files[0].path}.'}])
        result = self.model.generate(prompt, max_new_tokens=4)
        return ReviewerResult(notes=[f'{len(result.token_ids)} tokens on {threading.current_thread().name}'])


def test_review_reviewers_use_the_servers_model_on_its_thread(tiny_model: str) -> None:
    from reviewbot.reviewers import REGISTRY
    from tests.server.conftest import SECRET_DIFF
    module = type(sys)('reviewbot_test_echo_reviewer')
    module.from_config = lambda config, model=None: EchoModelReviewer(config, model=model)
    sys.modules[module.__name__] = module
    REGISTRY['echo-model'] = module.__name__
    loads: list[int] = []

    def load() -> Any:
        from tests.server.conftest import load_tiny_model
        loads.append(1)
        return load_tiny_model()
    try:
        cfg = cfgmod.defaults().override(reviewers=['secrets', 'echo-model'])
        server = ModelServer(load, cfg, model_name=MODEL, port=0, token=TOKEN, log_level='warning',
                             access_log=False)
        port = server.start()
        try:
            with httpx.Client(base_url=f'http://127.0.0.1:{port}', headers=AUTH, timeout=120,
                              trust_env=False) as c:
                reports = [c.post('/v1/review', json={'diff': SECRET_DIFF}).json() for _ in range(2)]
                snap = c.get('/metrics', params={'format': 'json'}).json()
        finally:
            server.stop()
    finally:
        del REGISTRY['echo-model']
        del sys.modules[module.__name__]
    for report in reports:
        assert report['reviewers'] == ['secrets', 'echo-model']
        assert re.fullmatch(r'[1-4] tokens on reviewbot-model', report['notes'][0])
        assert [f['line'] for f in report['findings']] == [2]
    assert loads == [1]  # one model for the server's life, however many reviews
    assert snap['generations'] == 2 and snap['generated_tokens'] >= 2
