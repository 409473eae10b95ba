"""Load test of `reviewbot serve` from a second process on loopback, bounded in count and time.

1. load:      N requests (review diffs and chat completions) from C concurrent clients that honour
              429 + Retry-After as a real client does. Every request must end in a correct answer:
              each diff plants one fake credential at its own path and line, and the report must
              name exactly that finding (a mixed-up answer would name another request's).
2. overload:  a burst of B simultaneous reviews with no retry against a small queue: every
              request must get an HTTP answer, 200 (correct) or 429/503 - no crash, no lost
              request - and the server must stay healthy.
3. shutdown:  SIGTERM while requests are in flight: those accepted finish with 200; later ones
              are refused (503 or connection refused); the server exits.

    python benchmarks/load_server.py [--model smollm2-135m] [--requests 24] [--clients 6]
Writes benchmarks/results/load_server.json and .md; exits 1 if any check fails.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import json
import platform
import random
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from server_proc import ServerProcess

RESULTS = Path(__file__).resolve().parent / 'results'
FAKE_KEY = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'  # the AWS documentation's example key


def review_diff(i: int) -> tuple[str, str, int]:
    """A new file whose planted credential sits at a line that depends on i."""
    path = f'svc/module_{i}.py'
    before = [f'# module {i}', 'import os', ''] + [f'VALUE_{k} = {i * 10 + k}' for k in range(i % 5)]
    lines = [*before, f'AWS_SECRET_ACCESS_KEY = "{FAKE_KEY}"', '', 'def handler(event):',
             f'    return os.environ.get("REGION", "eu-{i}")']
    body = ''.join(f'+{line}\n' for line in lines)
    diff = (f'diff --git a/{path} b/{path}\nnew file mode 100644\n--- /dev/null\n+++ b/{path}\n'
            f'@@ -0,0 +1,{len(lines)} @@\n{body}')
    return diff, path, len(before) + 1


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


class Runner:
    def __init__(self, server: ServerProcess, deadline: float, max_tokens: int) -> None:
        self.server = server
        self.deadline = deadline
        self.max_tokens = max_tokens
        self.local = threading.local()

    def client(self) -> httpx.Client:
        if not hasattr(self.local, 'client'):
            self.local.client = self.server.client(timeout=300)
        return self.local.client

    def send(self, kind: str, i: int) -> httpx.Response:
        c = self.client()
        if kind == 'review':
            return c.post('/v1/review', json={'diff': review_diff(i)[0]})
        return c.post('/v1/chat/completions', json={
            'messages': [{'role': 'user', 'content': f'Give one tip for naming variable number {i}.'}],
            'max_tokens': self.max_tokens, 'temperature': 0})

    @staticmethod
    def check(kind: str, i: int, r: httpx.Response) -> str | None:
        """None when the answer is right for request i, else what is wrong."""
        if r.status_code != 200:
            return f'status {r.status_code}'
        out = r.json()
        if kind == 'chat':
            ok = out['choices'][0]['finish_reason'] in ('stop', 'length') and out['usage']['completion_tokens'] >= 1
            return None if ok else 'empty completion'
        _, path, line = review_diff(i)
        secrets_found = [(f['path'], f['line']) for f in out['findings'] if f['category'].startswith('secret')]
        if secrets_found != [(path, line)]:
            return f'expected a secret at {path}:{line}, got {secrets_found}'
        if out['coverage']['files_reviewed'] != 1 or FAKE_KEY in r.text:
            return 'bad coverage or unredacted secret'
        return None

    def with_retries(self, kind: str, i: int) -> dict[str, Any]:
        t0 = time.perf_counter()
        attempts: list[int] = []
        while True:
            try:
                r = self.send(kind, i)
            except httpx.HTTPError as e:
                return {'kind': kind, 'i': i, 'attempts': attempts, 'error': e.__class__.__name__,
                        'seconds': time.perf_counter() - t0}
            attempts.append(r.status_code)
            if r.status_code in (429, 503) and time.monotonic() < self.deadline:
                wait = float(r.headers.get('retry-after', '1'))
                time.sleep(min(wait, 5.0) * (0.5 + random.random()))  # jitter: clients do not stampede
                continue
            return {'kind': kind, 'i': i, 'attempts': attempts, 'seconds': time.perf_counter() - t0,
                    'problem': self.check(kind, i, r), 'tokens': r.json().get('usage', {}).get(
                        'completion_tokens', 0) if r.status_code == 200 and kind == 'chat' else 0}

    def once(self, kind: str, i: int) -> dict[str, Any]:
        t0 = time.perf_counter()
        try:
            r = self.send(kind, i)
        except httpx.HTTPError as e:
            return {'kind': kind, 'i': i, 'status': None, 'error': e.__class__.__name__,
                    'seconds': time.perf_counter() - t0}
        return {'kind': kind, 'i': i, 'status': r.status_code, 'seconds': time.perf_counter() - t0,
                'problem': self.check(kind, i, r) if r.status_code == 200 else None,
                'retry_after': r.headers.get('retry-after')}


def load_phase(runner: Runner, requests: int, clients: int) -> dict[str, Any]:
    jobs = [('chat' if n % 3 == 2 else 'review', n) for n in range(requests)]
    before = runner.server.metrics()
    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(lambda job: runner.with_retries(*job), jobs))
    wall = time.perf_counter() - t0
    after = runner.server.metrics()
    latencies = [r['seconds'] for r in results]
    answered = [r for r in results if r.get('attempts') and r['attempts'][-1] == 200]
    problems = [f"{r['kind']} {r['i']}: {r.get('problem') or r.get('error') or r['attempts']}"
                for r in results if r.get('problem') or r.get('error') or r not in answered]
    generated = after['generated_tokens'] - before['generated_tokens']
    decode = after['decode_seconds'] - before['decode_seconds']
    by_kind = {k: sorted(r['seconds'] for r in results if r['kind'] == k) for k in ('review', 'chat')}
    return {
        'requests': requests, 'clients': clients, 'wall_seconds': round(wall, 3),
        'answered_correctly': len(answered) - sum(1 for r in answered if r.get('problem')),
        'lost': requests - len(answered), 'problems': problems,
        'retried_after_429_or_503': sum(1 for r in results if len(r.get('attempts', [])) > 1),
        'status_counts': _count(s for r in results for s in r.get('attempts', [])),
        'latency_p50': round(statistics.median(latencies), 3), 'latency_p95': round(percentile(latencies, 0.95), 3),
        'latency_by_kind': {k: {'n': len(v), 'p50': round(percentile(v, 0.5), 3), 'p95': round(percentile(v, 0.95), 3)}
                            for k, v in by_kind.items() if v},
        'generated_tokens': generated, 'tokens_per_second_wall': round(generated / wall, 2),
        'decode_tokens_per_second': round(generated / decode, 2) if decode else 0.0,
        'requests_per_second': round(requests / wall, 3)}


def _count(statuses: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for s in statuses:
        out[str(s)] = out.get(str(s), 0) + 1
    return dict(sorted(out.items()))


def overload_phase(runner: Runner, burst: int, offset: int) -> dict[str, Any]:
    start = threading.Barrier(burst)

    def fire(i: int) -> dict[str, Any]:
        runner.client()  # connect first, then all send together
        start.wait(60)
        return runner.once('review', i)

    with concurrent.futures.ThreadPoolExecutor(burst) as pool:
        results = list(pool.map(fire, range(offset, offset + burst)))
    statuses = _count(r['status'] for r in results)
    with runner.server.client(30) as c:
        healthy = c.get('/healthz').status_code == 200
    bad = [r for r in results if r['status'] not in (200, 429, 503) or r.get('problem') or r.get('error')]
    return {'burst': burst, 'status_counts': statuses, 'all_answered': all(r['status'] for r in results),
            'rejected_with_retry_after': sum(1 for r in results if r['status'] in (429, 503) and r['retry_after']),
            'ok_answers_correct': all(not r.get('problem') for r in results if r['status'] == 200),
            'unexpected': [f"{r['i']}: {r.get('status')} {r.get('problem') or r.get('error') or ''}" for r in bad],
            'healthy_after': healthy}


def shutdown_phase(runner: Runner, in_flight: int, offset: int) -> dict[str, Any]:
    server = runner.server
    with concurrent.futures.ThreadPoolExecutor(in_flight + 4) as pool:
        accepted = [pool.submit(runner.once, 'chat', offset + n) for n in range(in_flight)]
        limit = time.monotonic() + 120
        while time.monotonic() < limit:  # all of them accepted: one running, the rest queued
            snap = server.metrics()
            if snap['in_flight'] + snap['queue_depth'] == in_flight or all(f.done() for f in accepted):
                break
            time.sleep(0.02)
        server.proc.send_signal(__import__('signal').SIGTERM)
        time.sleep(0.5)  # the server is now draining
        late = [pool.submit(runner.once, 'review', offset + in_flight + n) for n in range(4)]
        accepted_results = [f.result() for f in accepted]
        late_results = [f.result() for f in late]
    code = server.proc.wait(120)
    return {'in_flight_at_sigterm': in_flight,
            'accepted_status_counts': _count(r['status'] or r.get('error') for r in accepted_results),
            'late_outcomes': _count(r['status'] or r.get('error') for r in late_results),
            'late_refused': all(r['status'] == 503 or r.get('error') for r in late_results),
            'exit_code': code}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--model', default='smollm2-135m')
    ap.add_argument('--requests', type=int, default=24, help='requests in the load phase (bounded)')
    ap.add_argument('--clients', type=int, default=6, help='concurrent clients in the load phase')
    ap.add_argument('--queue-size', type=int, default=4)
    ap.add_argument('--burst', type=int, default=20, help='simultaneous requests in the overload phase')
    ap.add_argument('--max-tokens', type=int, default=32)
    ap.add_argument('--reviewers', default='secrets', help='reviewers the server runs for /v1/review')
    ap.add_argument('--max-seconds', type=float, default=900, help='stop retrying after this long')
    args = ap.parse_args()
    if not (1 <= args.requests <= 500 and 1 <= args.clients <= 64 and 1 <= args.burst <= 200):
        ap.error('keep the load bounded: requests <= 500, clients <= 64, burst <= 200')

    t_start = time.monotonic()
    server = ServerProcess(args.model, '--queue-size', str(args.queue_size), '--reviewers', args.reviewers,
                           '--request-timeout', '300')
    runner = Runner(server, t_start + args.max_seconds, args.max_tokens)
    try:
        precision = server.model_info().get('precision')
        runner.with_retries('chat', 0)  # warm-up
        load = load_phase(runner, args.requests, args.clients)
        overload = overload_phase(runner, args.burst, args.requests)
        shutdown = shutdown_phase(runner, 3, args.requests + args.burst)
        metrics_note = 'from /metrics deltas'
    finally:
        if server.proc.poll() is None:
            server.stop()
    log = ''.join(server.log)
    checks = {
        'load: every request answered correctly': load['answered_correctly'] == args.requests and not load['problems'],
        'load: no request lost': load['lost'] == 0,
        'overload: every request got an HTTP answer': overload['all_answered'],
        'overload: only 200/429/503': not overload['unexpected'],
        'overload: some requests turned away': overload['status_counts'].get('429', 0)
        + overload['status_counts'].get('503', 0) > 0,
        'overload: 200 answers correct': overload['ok_answers_correct'],
        'overload: server healthy afterwards': overload['healthy_after'],
        'shutdown: in-flight requests finished with 200': shutdown['accepted_status_counts'] == {'200': 3},
        'shutdown: later requests refused': shutdown['late_refused'],
        'server log: no traceback': 'Traceback' not in log,
        'server log: no request body': FAKE_KEY not in log and 'naming variable' not in log,
    }
    result = {'model': args.model, 'precision': precision, 'reviewers': args.reviewers, 'queue_size': args.queue_size,
              'machine': f'{platform.machine()}, Python {platform.python_version()}',
              'total_seconds': round(time.monotonic() - t_start, 1), 'load': load, 'overload': overload,
              'shutdown': shutdown, 'tokens_source': metrics_note, 'checks': checks,
              'passed': all(checks.values())}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / 'load_server.json').write_text(json.dumps(result, indent=2) + '\n')
    md = [f'# Load test: `reviewbot serve` ({args.model} {precision}, reviewers: {args.reviewers})', '',
          (f'Client: a second process on 127.0.0.1; server queue size {args.queue_size}; '
          f'{result["machine"]}; total {result["total_seconds"]} s on a 2-core machine shared with other jobs.'), '',
          (f'## Load: {args.requests} requests (2/3 `/v1/review`, 1/3 chat, max_tokens {args.max_tokens}), '
          f'{args.clients} concurrent clients retrying on 429'), '',
          '| answered correctly | lost | retried | p50 s | p95 s | tokens/s (wall) | decode tokens/s | req/s |',
          '|---|---|---|---|---|---|---|---|',
          (f"| {load['answered_correctly']}/{args.requests} | {load['lost']} | {load['retried_after_429_or_503']} | "
          f"{load['latency_p50']} | {load['latency_p95']} | {load['tokens_per_second_wall']} | "
          f"{load['decode_tokens_per_second']} | {load['requests_per_second']} |"), '',
          f"Statuses seen (all attempts): {load['status_counts']}; latency by kind: {load['latency_by_kind']}.", '',
          f'## Overload: {args.burst} simultaneous reviews, no retry', '',
          (f"Statuses: {overload['status_counts']}; rejections carrying Retry-After: "
          f"{overload['rejected_with_retry_after']}; healthy afterwards: {overload['healthy_after']}."), '',
          '## Shutdown: SIGTERM with 3 chat requests accepted', '',
          (f"Accepted requests: {shutdown['accepted_status_counts']}; requests sent while draining: "
          f"{shutdown['late_outcomes']}; server exit code {shutdown['exit_code']}."), '',
          '## Checks', ''] + [f"- [{'x' if ok else ' '}] {name}" for name, ok in checks.items()]
    (RESULTS / 'load_server.md').write_text('\n'.join(md) + '\n')
    print('\n'.join(md))
    return 0 if result['passed'] else 1


if __name__ == '__main__':
    raise SystemExit(main())
