"""Bounded retries for API calls: 5xx, 429, rate-limited 403 and timeouts, honouring Retry-After and
rate-limit reset headers. The sleep and clock are injectable so tests never wait for real."""
from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

T = TypeVar('T')


@dataclasses.dataclass
class RetryPolicy:
    attempts: int = 5  # tries per call, the first included
    base_delay: float = 2.0  # backoff: base * 2**retry, capped by max_delay
    max_delay: float = 120.0  # longest single wait; a server asking for more makes the call fail
    secondary_limit_delay: float = 60.0  # GitHub's advice when a rate limit gives no header
    timeout: float = 30.0  # seconds per HTTP request
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time


@dataclasses.dataclass(frozen=True)
class Transient:
    """A retryable failure: `wait` is what the server asked for (None: use backoff)."""
    why: str
    wait: float | None = None


class GaveUp(Exception):
    """A call still failed after the bounded retries; str() says why."""


def header(headers: Mapping[str, Any] | None, name: str) -> str | None:
    for k, v in (headers or {}).items():
        if k.lower() == name.lower():
            return str(v)
    return None


def rate_limit_wait(headers: Mapping[str, Any] | None, clock: Callable[[], float]) -> float | None:
    """Seconds the server asks us to wait: Retry-After, else the reset time of an exhausted limit."""
    retry_after = header(headers, 'retry-after')
    if retry_after is not None:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            return None
    for remaining_name, reset_name in (('x-ratelimit-remaining', 'x-ratelimit-reset'),
                                       ('ratelimit-remaining', 'ratelimit-reset')):
        if header(headers, remaining_name) == '0' and (reset := header(headers, reset_name)):
            try:
                return max(0.0, float(reset) - clock())
            except ValueError:
                return None
    return None


def call(fn: Callable[[], T], policy: RetryPolicy, classify: Callable[[BaseException], Transient | None],
         what: str, before_retry: Callable[[], T | None] | None = None) -> T:
    """fn() with bounded retries on transient failures.

    before_retry runs before each retry of a non-idempotent call: if the earlier attempt took effect
    on the server after all (a timeout after the write), it returns that result and nothing is re-sent.
    Raises GaveUp after the last attempt, or the original exception when it is not transient.
    """
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
                break
            wait = t.wait if t.wait is not None else policy.base_delay * 2 ** attempt
            if wait > policy.max_delay:
                raise GaveUp(f'{what}: {t.why}; the server asks to wait {wait:.0f}s, '
                             f'more than the {policy.max_delay:.0f}s allowed') from e
            policy.sleep(wait)
    raise GaveUp(f'{what}: still failing after {policy.attempts} attempts ({last})')
