"""Server counters: what /metrics reports. Updated from the event loop and the model thread."""
from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.started = time.time()
        self.served: Counter[tuple[str, int]] = Counter()  # (endpoint, status) -> count
        self.rejected: Counter[str] = Counter()  # reason -> count
        self.generated_tokens = 0
        self.prompt_tokens = 0
        self.generations = 0
        self.prefill_seconds = 0.0
        self.decode_seconds = 0.0
        self.job_seconds = 0.0  # time the model thread spent on jobs (any kind)
        self.jobs = 0

    def count_response(self, endpoint: str, status: int) -> None:
        with self._lock:
            self.served[(endpoint, status)] += 1

    def count_rejection(self, reason: str) -> None:
        with self._lock:
            self.rejected[reason] += 1

    def count_generation(self, prompt_tokens: int, new_tokens: int, prefill: float,
                         decode: float) -> None:
        with self._lock:
            self.generations += 1
            self.prompt_tokens += prompt_tokens
            self.generated_tokens += new_tokens
            self.prefill_seconds += prefill
            self.decode_seconds += decode

    def count_job(self, seconds: float) -> None:
        with self._lock:
            self.jobs += 1
            self.job_seconds += seconds

    def mean_job_seconds(self) -> float:
        with self._lock:
            return self.job_seconds / self.jobs if self.jobs else 1.0

    def snapshot(self, queue_depth: int, queue_capacity: int, in_flight: int,
                 model: str, draining: bool) -> dict[str, Any]:
        with self._lock:
            served = [{'endpoint': e, 'status': s, 'count': n} for (e, s), n in sorted(self.served.items())]
            ok = sum(n for (_, s), n in self.served.items() if s < 400)
            return {
                'model': model,
                'uptime_seconds': round(time.time() - self.started, 3),
                'draining': draining,
                'queue_depth': queue_depth,
                'queue_capacity': queue_capacity,
                'in_flight': in_flight,
                'requests_served': ok,
                'requests_rejected': sum(self.rejected.values()),
                'responses': served,
                'rejected': dict(sorted(self.rejected.items())),
                'generations': self.generations,
                'prompt_tokens': self.prompt_tokens,
                'generated_tokens': self.generated_tokens,
                'prefill_seconds': round(self.prefill_seconds, 6),
                'decode_seconds': round(self.decode_seconds, 6),
                # decode speed of the model thread, and prompt tokens processed per prefill second
                'decode_tokens_per_second': _rate(self.generated_tokens, self.decode_seconds),
                'prefill_tokens_per_second': _rate(self.prompt_tokens, self.prefill_seconds),
                'jobs': self.jobs,
                'job_seconds': round(self.job_seconds, 6),
            }


def _rate(n: float, seconds: float) -> float:
    return round(n / seconds, 3) if seconds > 0 else 0.0


def prometheus_text(snap: dict[str, Any]) -> str:
    """The snapshot in the Prometheus text exposition format (version 0.0.4)."""
    out: list[str] = []

    def metric(name: str, kind: str, help_: str, samples: list[tuple[str, Any]]) -> None:
        out.append(f'# HELP reviewbot_{name} {help_}')
        out.append(f'# TYPE reviewbot_{name} {kind}')
        for labels, value in samples:
            out.append(f'reviewbot_{name}{labels} {float(value):g}' if isinstance(value, float)
                       else f'reviewbot_{name}{labels} {int(value)}')

    metric('queue_depth', 'gauge', 'Jobs waiting for the model thread.', [('', snap['queue_depth'])])
    metric('queue_capacity', 'gauge', 'Most jobs that may wait.', [('', snap['queue_capacity'])])
    metric('in_flight', 'gauge', 'Jobs the model thread is running (0 or 1).', [('', snap['in_flight'])])
    metric('draining', 'gauge', '1 while shutting down.', [('', int(snap['draining']))])
    metric('responses_total', 'counter', 'Responses by endpoint and status.',
           [(f'{{endpoint="{r["endpoint"]}",status="{r["status"]}"}}', r['count'])
            for r in snap['responses']])
    metric('requests_served_total', 'counter', 'Requests answered with a success status.',
           [('', snap['requests_served'])])
    metric('requests_rejected_total', 'counter', 'Requests rejected, by reason.',
           [(f'{{reason="{k}"}}', v) for k, v in snap['rejected'].items()] or [('', 0)])
    metric('generated_tokens_total', 'counter', 'Tokens generated.', [('', snap['generated_tokens'])])
    metric('prompt_tokens_total', 'counter', 'Prompt tokens prefilled.', [('', snap['prompt_tokens'])])
    metric('decode_seconds_total', 'counter', 'Seconds spent decoding.', [('', float(snap['decode_seconds']))])
    metric('prefill_seconds_total', 'counter', 'Seconds spent prefilling.',
           [('', float(snap['prefill_seconds']))])
    metric('decode_tokens_per_second', 'gauge', 'Generated tokens per decode second since start.',
           [('', float(snap['decode_tokens_per_second']))])
    return '\n'.join(out) + '\n'
