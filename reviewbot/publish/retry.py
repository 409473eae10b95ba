"""One bounded retry policy for every API request of both forges.

Attempts are counted per HTTP request: `RetryAdapter` (mounted on the requests session of PyGithub and
of python-gitlab) retries each idempotent request on its own (GET, PUT, PATCH, DELETE), so two faults
on each of two URLs cost two retries each, not four of one shared budget. A POST is never re-sent by
the adapter: whether it took effect is for the publishing run to find out (`call` with `before_retry`),
which counts the attempts of that one request the same way.

A wait is the server's when it names one (Retry-After, or the reset time of an exhausted rate limit),
else exponential backoff capped at `max_delay` (`--max-wait`); a server asking for more than that ends
the request. Every give-up message says how many requests were made and what each wait came from.
The sleep and clock are injectable so tests never wait for real.
"""
from __future__ import annotations

import dataclasses
import json
import re
import time
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

T = TypeVar('T')

IDEMPOTENT = frozenset({'GET', 'HEAD', 'OPTIONS', 'PUT', 'PATCH', 'DELETE'})


@dataclasses.dataclass
class RetryPolicy:
    attempts: int = 5  # requests per call, the first included
    base_delay: float = 2.0  # backoff: base * 2**retry, capped by max_delay
    max_delay: float = 120.0  # longest single wait (--max-wait); a server asking for more ends the call
    secondary_limit_delay: float = 60.0  # GitHub's advice when a rate limit names no wait
    timeout: float = 30.0  # seconds per HTTP request
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time

    def wait(self, t: Transient, retry: int) -> tuple[float, str]:
        """(seconds, where that number comes from) before retry number `retry` (0-based).
        Raises GaveUp when the server asks for more than max_delay."""
        if t.wait is not None:
            if t.wait > self.max_delay:
                raise GaveUp(f'{t.why}; the server asks to wait {t.wait:.0f}s ({t.source}), '
                             f'more than the {self.max_delay:g}s allowed (--max-wait)')
            return t.wait, t.source
        backoff = self.base_delay * 2 ** retry
        if backoff > self.max_delay:
            return self.max_delay, f'backoff, capped at --max-wait {self.max_delay:g}s'
        return backoff, 'backoff'


@dataclasses.dataclass(frozen=True)
class Transient:
    """A retryable failure. `wait` is what the server asked for (None: use backoff), `source` says
    which header (or rule) that wait came from."""
    why: str
    wait: float | None = None
    source: str = 'backoff'


class GaveUp(Exception):
    """A request still failed after the bounded retries; str() says why, in words."""


def header(headers: Mapping[str, Any] | None, name: str) -> str | None:
    for k, v in (headers or {}).items():
        if k.lower() == name.lower():
            return str(v)
    return None


def server_wait(headers: Mapping[str, Any] | None, clock: Callable[[], float]) -> tuple[float, str] | None:
    """(seconds, which header) the server asks us to wait: Retry-After, else the reset time of an
    exhausted rate limit (GitHub x-ratelimit-*, GitLab RateLimit-*)."""
    retry_after = header(headers, 'retry-after')
    if retry_after is not None:
        try:
            return max(0.0, float(retry_after)), f'Retry-After: {retry_after.strip()}'
        except ValueError:
            pass
    for remaining_name, reset_name in (('x-ratelimit-remaining', 'x-ratelimit-reset'),
                                       ('ratelimit-remaining', 'ratelimit-reset')):
        if header(headers, remaining_name) == '0' and (reset := header(headers, reset_name)):
            try:
                return max(0.0, float(reset) - clock()), f'{reset_name} (rate limit exhausted)'
            except ValueError:
                return None
    return None


def error_text(e: BaseException, api_error: Callable[[BaseException], str | None]) -> str:
    """An API error in words on one line, e.g. 'bad credentials (HTTP 401)'; never the raw JSON.
    `api_error` words the client library's own error (PyGithub's, python-gitlab's), None for another."""
    import requests
    if isinstance(e, GaveUp):
        return str(e)
    if (text := api_error(e)) is not None:
        return text
    if isinstance(e, requests.exceptions.RequestException):
        return f'no answer ({type(e).__name__})'
    return f'{type(e).__name__}: {e}'


def classify_status(status: int, headers: Mapping[str, Any] | None, message: str,
                    policy: RetryPolicy) -> Transient | None:
    """Is an HTTP answer worth retrying, and after how long? The one rule of both forges:
    5xx and 429 always; 403 only when it is a rate limit (a header, or GitHub's message says so)."""
    found = server_wait(headers, policy.clock)
    if status >= 500:
        return Transient(f'HTTP {status}', *(found or (None, 'backoff')))
    limited = (header(headers, 'retry-after') is not None
               or header(headers, 'x-ratelimit-remaining') == '0'
               or header(headers, 'ratelimit-remaining') == '0'
               or 'rate limit' in message.lower())
    if status == 429 or (status == 403 and limited):
        if found is None:
            found = (policy.secondary_limit_delay,
                     f'a rate limit without a reset time: the documented {policy.secondary_limit_delay:g}s')
        return Transient(f'HTTP {status} rate limited', *found)
    return None


def _message(body: bytes) -> str:
    try:
        data = json.loads(body or b'null')
    except ValueError:
        return ''
    if isinstance(data, dict):
        msg = data.get('message', data.get('error', ''))
        return msg if isinstance(msg, str) else json.dumps(msg)
    return ''


def words(msg: str) -> str:
    """A forge's error message as words in a sentence, on one line: 'Bad credentials' -> 'bad credentials'."""
    msg = ' '.join(msg.split())[:300]
    return msg.lower() if re.fullmatch(r"[A-Za-z][A-Za-z ,.'-]*", msg) else msg


def _gave_up(what: str, attempts: int, last: str, waits: list[tuple[float, str]]) -> GaveUp:
    if waits:
        sources = sorted({s for _, s in waits})
        detail = (f'; waited {", ".join(f"{w:g}s" for w, _ in waits)} between them '
                  f'({"; ".join(sources)})')
    else:
        detail = ''
    return GaveUp(f'{what}: {last} on all {attempts} attempt{"s" if attempts != 1 else ""}{detail}')


def _pause(policy: RetryPolicy, t: Transient, attempt: int, what: str,
           waits: list[tuple[float, str]]) -> None:
    """Sleep before retry number `attempt` of `what`, noting the wait; GaveUp when the server asks
    for more than the policy allows."""
    try:
        wait = policy.wait(t, attempt)
    except GaveUp as g:
        raise GaveUp(f'{what}: {g}') from None
    waits.append(wait)
    policy.sleep(wait[0])


def call(fn: Callable[[], T], policy: RetryPolicy, classify: Callable[[BaseException], Transient | None],
         what: str, before_retry: Callable[[], T | None] | None = None) -> T:
    """fn() — one request — with bounded retries on transient failures.

    before_retry runs before each retry of a non-idempotent request: if the earlier attempt took effect
    on the server after all (a timeout after the write), it returns that result and nothing is re-sent.
    Raises GaveUp after the last attempt, or the original exception when it is not transient.
    """
    waits: list[tuple[float, str]] = []
    last = ''
    for attempt in range(policy.attempts):
        if attempt and before_retry is not None:
            done = before_retry()
            if done is not None:
                return done
        try:
            return fn()
        except Exception as e:
            t = classify(e)
            if t is None:
                raise
            last = t.why
            if attempt + 1 >= policy.attempts:
                raise _gave_up(what, policy.attempts, last, waits) from e
            _pause(policy, t, attempt, what, waits)
    raise _gave_up(what, policy.attempts, last, waits)  # attempts < 1


def make_adapter(policy: RetryPolicy) -> Any:
    """A requests HTTPAdapter that retries every idempotent request under `policy`, counted per request."""
    import requests
    from requests.adapters import HTTPAdapter

    class RetryAdapter(HTTPAdapter):
        def send(self, request: Any, **kwargs: Any) -> Any:  # type: ignore[override]
            method = (request.method or 'GET').upper()
            path = urllib.parse.urlsplit(request.url or '').path
            what = f'{method} {path}'
            if method not in IDEMPOTENT:
                return super().send(request, **kwargs)  # a write: the publishing run decides
            waits: list[tuple[float, str]] = []
            for attempt in range(policy.attempts):
                try:
                    resp = super().send(request, **kwargs)
                except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as e:
                    t = Transient(type(e).__name__)
                    if attempt + 1 >= policy.attempts:
                        raise _gave_up(what, policy.attempts, t.why, waits) from e
                else:
                    # only a 403 needs its body read (a rate limit or a refusal?)
                    message = _message(resp.content) if resp.status_code == 403 else ''
                    found = classify_status(resp.status_code, resp.headers, message, policy)
                    if found is None:
                        return resp
                    t = found
                    if attempt + 1 >= policy.attempts:
                        raise _gave_up(what, policy.attempts, t.why, waits)
                    resp.close()
                _pause(policy, t, attempt, what, waits)
            raise _gave_up(what, policy.attempts, 'no attempt', waits)

    return RetryAdapter()


def mount(session: Any, policy: RetryPolicy) -> None:
    adapter = make_adapter(policy)
    session.mount('http://', adapter)
    session.mount('https://', adapter)
