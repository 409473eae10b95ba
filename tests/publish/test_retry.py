"""Bounded retries: waits come from the server's headers, else exponential backoff; never unbounded."""
from __future__ import annotations

import pytest

from reviewbot.publish.retry import (
    GaveUp,
    RetryPolicy,
    Transient,
    call,
    server_wait,
)


def wait_seconds(headers: dict[str, str], clock) -> float | None:
    found = server_wait(headers, clock)
    return None if found is None else found[0]


def test_wait_comes_from_retry_after_then_the_reset_header() -> None:
    assert wait_seconds({'Retry-After': '7'}, lambda: 0) == 7
    assert wait_seconds({'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '1000'}, lambda: 990) == 10
    assert wait_seconds({'RateLimit-Remaining': '0', 'RateLimit-Reset': '1000'}, lambda: 1005) == 0
    assert wait_seconds({'x-ratelimit-remaining': '12', 'x-ratelimit-reset': '1000'}, lambda: 0) is None
    assert server_wait({'Retry-After': '7'}, lambda: 0) == (7, 'Retry-After: 7')


class Flaky:
    def __init__(self, failures: list[Transient | None]) -> None:
        self.failures = failures
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            t = self.failures.pop(0)
            if t is None:
                raise RuntimeError('fatal')
            raise _TransientError(t)
        return 'done'


class _TransientError(Exception):
    def __init__(self, t: Transient) -> None:
        super().__init__(t.why)
        self.t = t


def classify(e: BaseException) -> Transient | None:
    return e.t if isinstance(e, _TransientError) else None


def test_backoff_then_success() -> None:
    sleeps: list[float] = []
    fn = Flaky([Transient('HTTP 502'), Transient('HTTP 429', 3.0), Transient('timeout')])
    assert call(fn, RetryPolicy(attempts=5, base_delay=1, sleep=sleeps.append), classify, 'x') == 'done'
    assert sleeps == [1, 3.0, 4]  # backoff 1, the server's 3 s, backoff 4


def test_gives_up_after_the_last_attempt_and_says_why() -> None:
    sleeps: list[float] = []
    fn = Flaky([Transient('HTTP 503')] * 10)
    with pytest.raises(GaveUp, match=r'^post it: HTTP 503 on all 3 attempts; waited 1s, 2s between them .backoff.$'):
        call(fn, RetryPolicy(attempts=3, base_delay=1, sleep=sleeps.append), classify, 'post it')
    assert fn.calls == 3 and sleeps == [1, 2]


def test_backoff_is_capped_at_max_wait_and_a_longer_server_wait_is_refused_by_name() -> None:
    sleeps: list[float] = []
    fn = Flaky([Transient('HTTP 503')] * 10)
    with pytest.raises(GaveUp, match=r'waited 1s, 2s, 3s, 3s between them .backoff; backoff, capped at --max-wait 3s.'):
        call(fn, RetryPolicy(attempts=5, base_delay=1, max_delay=3, sleep=sleeps.append), classify, 'x')
    assert sleeps == [1, 2, 3, 3]
    fn = Flaky([Transient('HTTP 429 rate limited', 60.0, 'Retry-After: 60')])
    with pytest.raises(GaveUp, match=r'asks to wait 60s .Retry-After: 60., more than the 3s allowed'):
        call(fn, RetryPolicy(max_delay=3, sleep=sleeps.append), classify, 'x')


def test_non_transient_errors_are_not_retried() -> None:
    fn = Flaky([None])
    with pytest.raises(RuntimeError):
        call(fn, RetryPolicy(sleep=lambda s: None), classify, 'x')
    assert fn.calls == 1


def test_a_write_that_landed_is_not_sent_again() -> None:
    fn = Flaky([Transient('ReadTimeout')])
    result = call(fn, RetryPolicy(sleep=lambda s: None), classify, 'x', before_retry=lambda: 'already there')
    assert result == 'already there' and fn.calls == 1
