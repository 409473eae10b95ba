"""The HTTP endpoints of reviewbot.server.app against a real server and the real tiny model."""
from __future__ import annotations

import concurrent.futures
import socket
import time
from typing import Any

import httpx
import pytest

from reviewbot.core import Report
from tests.server.conftest import (
    AUTH,
    MAX_REQUEST_BYTES,
    SECRET_DIFF,
    chat_body,
    model_thread_held,
    wait_until,
)


def client(base: str, **headers: str) -> httpx.Client:
    return httpx.Client(base_url=base, headers=headers, timeout=120, trust_env=False)


def test_chat_completion_has_the_openai_shape(served: tuple[Any, str]) -> None:
    _, base = served
    with client(base, **AUTH) as c:
        r = c.post('/v1/chat/completions', json=chat_body('Say hello to Bob.', max_tokens=8))
    assert r.status_code == 200, r.text
    out = r.json()
    assert out['object'] == 'chat.completion'
    choice = out['choices'][0]
    assert choice['message']['role'] == 'assistant'
    assert isinstance(choice['message']['content'], str) and choice['message']['content'].strip()
    assert choice['finish_reason'] in ('stop', 'length')
    usage = out['usage']
    assert 1 <= usage['completion_tokens'] <= 8
    assert usage['total_tokens'] == usage['prompt_tokens'] + usage['completion_tokens']
    assert usage['completion_tokens'] == len(out['reviewbot']['token_ids'])


def test_completion_honours_a_stop_string(served: tuple[Any, str]) -> None:
    _, base = served
    with client(base, **AUTH) as c:
        free = c.post('/v1/completions', json={'prompt': 'def add(a, b):\n', 'max_tokens': 24})
        assert free.status_code == 200, free.text
        text = free.json()['choices'][0]['text']
        assert len(text) > 2
        stop = text[1:3]  # a string the model is known to produce at that point
        stopped = c.post('/v1/completions', json={'prompt': 'def add(a, b):\n', 'max_tokens': 24,
                                                  'stop': stop})
    assert stopped.status_code == 200, stopped.text
    assert stopped.json()['choices'][0]['finish_reason'] == 'stop'
    assert stop not in stopped.json()['choices'][0]['text'][3:]
    assert len(stopped.json()['choices'][0]['text']) < len(text)


def test_queued_concurrent_requests_get_their_own_answers(served: tuple[Any, str]) -> None:
    """Requests waiting together are served one by one; each answer equals its sequential answer."""
    server, base = served
    prompts = ['Name a colour.', 'Write one word about the sea.']
    with client(base, **AUTH) as c:
        alone = [c.post('/v1/chat/completions', json=chat_body(p)).json()['reviewbot']['token_ids']
                 for p in prompts]
    assert alone[0] != alone[1]
    with concurrent.futures.ThreadPoolExecutor(2) as pool, model_thread_held(server):
        futures = [pool.submit(_post_chat, base, p) for p in prompts]
        wait_until(lambda: server.worker.depth == 2, 'both requests to be queued')
    together = [f.result() for f in futures]
    assert [r.status_code for r in together] == [200, 200]
    assert [r.json()['reviewbot']['token_ids'] for r in together] == alone


def _post_chat(base: str, content: str, **extra: Any) -> httpx.Response:
    with client(base, **AUTH) as c:
        return c.post('/v1/chat/completions', json=chat_body(content, **extra))


def test_a_full_queue_answers_429_with_retry_after(served: tuple[Any, str]) -> None:
    server, base = served
    with concurrent.futures.ThreadPoolExecutor(server.worker.capacity) as pool, model_thread_held(server):
        queued = [pool.submit(_post_chat, base, f'Count to {i + 2}.') for i in range(server.worker.capacity)]
        wait_until(lambda: server.worker.depth == server.worker.capacity, 'the queue to fill')
        with client(base, **AUTH) as c:
            overflow = c.post('/v1/chat/completions', json=chat_body('One more.'))
            review_overflow = c.post('/v1/review', json={'diff': SECRET_DIFF})
            metrics = c.get('/metrics', params={'format': 'json'}).json()
    assert overflow.status_code == 429
    assert int(overflow.headers['retry-after']) >= 1
    assert overflow.json()['error']['type'] == 'rate_limit_error'
    assert review_overflow.status_code == 429
    assert metrics['queue_depth'] == server.worker.capacity
    assert metrics['in_flight'] == 1
    assert metrics['rejected']['queue_full'] >= 2
    assert [f.result().status_code for f in queued] == [200] * server.worker.capacity  # none lost


def test_a_request_whose_deadline_passes_in_the_queue_gets_504(served: tuple[Any, str]) -> None:
    server, base = served
    with concurrent.futures.ThreadPoolExecutor(1) as pool, model_thread_held(server):
        late = pool.submit(_post_chat, base, 'Too late.', timeout=0.05)
        wait_until(lambda: server.worker.depth == 1, 'the request to be queued')
        time.sleep(0.1)  # the request's 0.05 s run out while the model thread is held
    response = late.result()
    assert response.status_code == 504
    assert 'timed out' in response.json()['error']['message']


def test_review_returns_a_report_for_a_json_diff(served: tuple[Any, str]) -> None:
    _, base = served
    with client(base, **AUTH) as c:
        r = c.post('/v1/review', json={'diff': SECRET_DIFF})
    assert r.status_code == 200, r.text
    report = Report.from_dict(r.json())
    assert report.coverage.files_reviewed == 1
    assert report.coverage.lines_reviewed == 3
    assert [(f.path, f.line, f.category.split('/')[0]) for f in report.findings] == [('app.py', 2, 'secret')]
    assert 'wJalrXUtnFEMI' not in r.text  # the pipeline's redaction holds over HTTP too


def test_review_accepts_a_raw_diff_body(served: tuple[Any, str]) -> None:
    _, base = served
    with client(base, **AUTH) as c:
        r = c.post('/v1/review', content=SECRET_DIFF.encode(), headers={'Content-Type': 'text/x-diff'})
    assert r.status_code == 200, r.text
    assert [f['line'] for f in r.json()['findings']] == [2]


@pytest.mark.parametrize('headers', [{}, {'Authorization': 'Bearer wrong-token-0123456789'},
                                     {'Authorization': 'Basic dGVzdDp0ZXN0'}])
@pytest.mark.parametrize('method,path', [('POST', '/v1/chat/completions'), ('POST', '/v1/review'),
                                         ('POST', '/v1/completions'), ('GET', '/metrics'),
                                         ('GET', '/v1/models')])
def test_requests_without_the_right_token_get_401(served: tuple[Any, str], headers: dict[str, str],
                                                  method: str, path: str) -> None:
    server, base = served
    before = server.metrics.generations
    with client(base, **headers) as c:
        r = c.request(method, path, json=chat_body('hi') if method == 'POST' else None)
    assert r.status_code == 401
    assert r.headers['www-authenticate'] == 'Bearer'
    assert server.metrics.generations == before


def test_healthz_needs_no_token(served: tuple[Any, str]) -> None:
    _, base = served
    with client(base) as c:
        r = c.get('/healthz')
    assert r.status_code == 200
    assert r.json() == {'status': 'ok', 'model': 'smollm2-135m'}


@pytest.mark.parametrize('body,content_type,needle', [
    (b'{"messages": [', 'application/json', 'malformed JSON'),
    (b'\xff\xfe', 'application/json', 'malformed JSON'),
    (b'[1, 2]', 'application/json', 'must be an object'),
    (b'{"messages": []}', 'application/json', 'messages'),
    (b'{"messages": [{"role": "robot", "content": "x"}]}', 'application/json', 'role'),
    (b'{"messages": [{"role": "user", "content": 3}]}', 'application/json', 'content'),
    (b'{"messages": [{"role": "user", "content": "x"}], "max_tokens": 0}', 'application/json', 'max_tokens'),
    (b'{"messages": [{"role": "user", "content": "x"}], "max_tokens": 100000}', 'application/json',
     'max_tokens'),
    (b'{"messages": [{"role": "user", "content": "x"}], "temperature": "hot"}', 'application/json',
     'temperature'),
    (b'{"messages": [{"role": "user", "content": "x"}], "stop": [1]}', 'application/json', 'stop'),
    (b'{"messages": [{"role": "user", "content": "x"}], "stream": true}', 'application/json', 'stream'),
])
def test_malformed_chat_requests_get_400(served: tuple[Any, str], body: bytes, content_type: str,
                                         needle: str) -> None:
    _, base = served
    with client(base, **AUTH) as c:
        r = c.post('/v1/chat/completions', content=body, headers={'Content-Type': content_type})
    assert r.status_code == 400
    assert r.json()['error']['type'] == 'invalid_request_error'
    assert needle in r.json()['error']['message']


_CHAT = b'{"messages": [{"role": "user", "content": "x"}], '


@pytest.mark.parametrize('path,body,needle', [
    ('/v1/chat/completions', _CHAT + b'"seed": ' + b'9' * 5000 + b'}', 'integer longer than'),
    ('/v1/chat/completions', _CHAT + b'"max_tokens": -' + b'1' * 5000 + b'}', 'integer longer than'),
    ('/v1/chat/completions', b'{"x": ' + b'[' * 100_000 + b']' * 100_000 + b'}', 'nested deeper'),
    ('/v1/chat/completions', _CHAT + b'"stop": ' + b'[' * 40 + b']' * 40 + b'}', 'nested deeper'),
    ('/v1/review', b'{"diff": "' + b'[' * 10 + b'", "x": ' + b'{"a":' * 100_000 + b'1' + b'}' * 100_000
     + b'}', 'nested deeper'),
    ('/v1/review', b'{"diff": "diff \\ud800 x"}', 'valid Unicode'),
    ('/v1/review', b'{"diff": "d", "timeout": 1' + b'0' * 5000 + b'}', 'integer longer than'),
])
def test_hostile_json_bodies_get_the_documented_400(served: tuple[Any, str], path: str, body: bytes,
                                                    needle: str, caplog: pytest.LogCaptureFixture) -> None:
    """A 5,000-digit integer or 100k-deep JSON was a plain-text 500 and a traceback in the log."""
    server, base = served
    settings = server.state.settings
    settings.max_request_bytes, limit = 1 << 20, settings.max_request_bytes
    try:
        with caplog.at_level('DEBUG'), client(base, **AUTH) as c:
            r = c.post(path, content=body, headers={'Content-Type': 'application/json'})
    finally:
        settings.max_request_bytes = limit
    assert r.status_code == 400, r.text[:200]
    assert r.json()['error']['type'] == 'invalid_request_error'
    assert needle in r.json()['error']['message']
    server_log = '\n'.join(f'{r.getMessage()} {r.exc_text or ""}' for r in caplog.records
                           if r.name.startswith(('reviewbot', 'uvicorn', 'starlette')))
    assert 'Traceback' not in server_log and '.py' not in server_log


@pytest.mark.parametrize('kwargs,status', [
    ({'json': {'patch': SECRET_DIFF}}, 400),
    ({'json': {'diff': '   '}}, 400),
    ({'json': {'diff': SECRET_DIFF, 'stage': 'prod'}}, 400),
    ({'content': b'{"diff": ', 'headers': {'Content-Type': 'application/json'}}, 400),
    ({'content': SECRET_DIFF.encode(), 'headers': {'Content-Type': 'application/octet-stream'}}, 415),
])
def test_malformed_review_requests_are_rejected(served: tuple[Any, str], kwargs: dict[str, Any],
                                                status: int) -> None:
    _, base = served
    with client(base, **AUTH) as c:
        r = c.post('/v1/review', **kwargs)
    assert r.status_code == status
    assert r.json()['error']['code'] == status


def _raw_exchange(port: int, head: bytes, body: bytes) -> bytes:
    with socket.create_connection(('127.0.0.1', port), timeout=60) as s:
        s.sendall(head + body)
        s.shutdown(socket.SHUT_WR)
        data = b''
        while chunk := s.recv(65536):
            data += chunk
    return data


def _head(path: str, extra: str) -> bytes:
    return (f'POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {AUTH["Authorization"]}\r\n'
            f'Content-Type: application/json\r\n{extra}\r\n').encode()


def test_a_declared_oversized_body_gets_413_before_it_is_sent(served: tuple[Any, str]) -> None:
    server, _ = served
    # Content-Length says 100 MB, and only 10 bytes ever follow: the answer cannot come from reading it
    answer = _raw_exchange(server.port, _head('/v1/review', 'Content-Length: 100000000\r\n'), b'{"diff": "')
    assert answer.startswith(b'HTTP/1.1 413 '), answer[:80]
    assert b'request body over' in answer


def test_an_oversized_chunked_body_gets_413(served: tuple[Any, str]) -> None:
    server, _ = served
    chunk = b'x' * 16384
    body = b''.join(b'%x\r\n%s\r\n' % (len(chunk), chunk) for _ in range(MAX_REQUEST_BYTES // len(chunk) + 2))
    answer = _raw_exchange(server.port, _head('/v1/chat/completions', 'Transfer-Encoding: chunked\r\n'),
                           body + b'0\r\n\r\n')
    assert answer.startswith(b'HTTP/1.1 413 '), answer[:80]


def test_metrics_report_queue_requests_and_tokens(served: tuple[Any, str]) -> None:
    _, base = served
    with client(base, **AUTH) as c:
        assert c.post('/v1/chat/completions', json=chat_body('Say yes.', max_tokens=4)).status_code == 200
        assert client(base).get('/metrics').status_code == 401
        snap = c.get('/metrics', params={'format': 'json'}).json()
        text = c.get('/metrics')
    assert snap['queue_depth'] == 0 and snap['in_flight'] == 0
    assert snap['queue_capacity'] == 2
    assert snap['requests_served'] >= 1
    assert snap['requests_rejected'] >= 1 and snap['rejected']['unauthorized'] >= 1
    assert snap['generated_tokens'] >= 1 and snap['decode_tokens_per_second'] > 0
    assert text.headers['content-type'].startswith('text/plain')
    lines = text.text.splitlines()
    assert 'reviewbot_queue_depth 0' in lines
    assert any(line.startswith('reviewbot_requests_served_total ') for line in lines)
    assert any(line.startswith('reviewbot_decode_tokens_per_second ') for line in lines)


def test_a_prompt_longer_than_the_context_is_a_400_not_a_model_failure(served: tuple[Any, str]) -> None:
    server, base = served
    before = server.metrics.generations
    with client(base, **AUTH) as c:
        r = c.post('/v1/completions', json={'prompt': ' word' * 9000, 'max_tokens': 4})
    assert r.status_code == 400
    assert 'model context is' in r.json()['error']['message']
    assert server.metrics.generations == before
