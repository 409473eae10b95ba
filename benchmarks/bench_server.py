"""Throughput of `reviewbot serve`: the same chat requests sent one after another vs all at once.

The server runs one model thread that serves its queue in order, so concurrency cannot add compute;
what it must not do is lose throughput (or mix answers). Greedy decoding makes every answer
deterministic, so each concurrent answer is checked against its sequential twin.

    python benchmarks/bench_server.py [--model smollm2-135m] [--requests 8] [--max-tokens 48]
Writes benchmarks/results/server_bench.json and .md.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import json
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from server_proc import ServerProcess

RESULTS = Path(__file__).resolve().parent / 'results'
TOPICS = ['a lighthouse', 'a river', 'a compiler', 'a garden', 'a library', 'a bicycle', 'a storm',
          'a market', 'a bridge', 'a violin', 'a glacier', 'a bakery', 'a telescope', 'a ferry', 'a forest',
          'a clock']


def body(i: int, max_tokens: int) -> dict:
    return {'messages': [{'role': 'user', 'content': f'Write three sentences about {TOPICS[i % len(TOPICS)]}.'}],
            'max_tokens': max_tokens, 'temperature': 0}


def one(server: ServerProcess, i: int, max_tokens: int) -> dict:
    t0 = time.perf_counter()
    with server.client() as c:
        r = c.post('/v1/chat/completions', json=body(i, max_tokens))
    seconds = time.perf_counter() - t0
    r.raise_for_status()
    out = r.json()
    return {'i': i, 'seconds': seconds, 'tokens': out['usage']['completion_tokens'],
            'token_ids': out['reviewbot']['token_ids']}


def phase(name: str, results: list[dict], wall: float, before: dict, after: dict) -> dict:
    tokens = sum(r['tokens'] for r in results)
    decode = after['decode_seconds'] - before['decode_seconds']
    latencies = sorted(r['seconds'] for r in results)
    return {'mode': name, 'requests': len(results), 'wall_seconds': round(wall, 3),
            'completion_tokens': tokens, 'requests_per_second': round(len(results) / wall, 3),
            'tokens_per_second_wall': round(tokens / wall, 2),
            'decode_tokens_per_second': round((after['generated_tokens'] - before['generated_tokens']) / decode, 2)
            if decode else 0.0,
            'latency_p50': round(statistics.median(latencies), 3),
            'latency_max': round(latencies[-1], 3)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--model', default='smollm2-135m')
    ap.add_argument('--requests', type=int, default=8)
    ap.add_argument('--max-tokens', type=int, default=48)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--rounds', type=int, default=2, help='sequential/concurrent pairs, interleaved')
    args = ap.parse_args()

    server = ServerProcess(args.model, '--queue-size', str(args.requests), threads=args.threads)
    try:
        precision = server.model_info().get('precision')
        one(server, 0, 4)  # warm-up: first-run allocations do not count
        rounds = []
        for _ in range(args.rounds):
            before = server.metrics()
            t0 = time.perf_counter()
            seq = [one(server, i, args.max_tokens) for i in range(args.requests)]
            seq_phase = phase('sequential', seq, time.perf_counter() - t0, before, server.metrics())

            before = server.metrics()
            t0 = time.perf_counter()
            with concurrent.futures.ThreadPoolExecutor(args.requests) as pool:
                conc = list(pool.map(lambda i: one(server, i, args.max_tokens), range(args.requests)))
            conc_phase = phase('concurrent', conc, time.perf_counter() - t0, before, server.metrics())
            same = [a['token_ids'] == b['token_ids'] for a, b in zip(seq, conc)]
            rounds.append({'sequential': seq_phase, 'concurrent': conc_phase,
                           'answers_identical': all(same)})
        final = server.metrics()
    finally:
        server.stop()

    ratios = [round(r['concurrent']['tokens_per_second_wall'] / r['sequential']['tokens_per_second_wall'], 3)
              for r in rounds]
    ratio = statistics.median(ratios)
    result = {'model': args.model, 'precision': precision, 'requests': args.requests, 'max_tokens': args.max_tokens,
              'threads': args.threads, 'machine': f'{platform.machine()}, {platform.python_version()}',
              'rounds': rounds, 'concurrent_over_sequential_tokens_per_second': round(ratio, 3),
              'ratio_per_round': ratios,
              'all_answers_identical': all(r['answers_identical'] for r in rounds),
              'server_rejections': final['rejected']}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / 'server_bench.json').write_text(json.dumps(result, indent=2) + '\n')
    lines = [f'# Server throughput: sequential vs concurrent ({args.model}, {precision})', '',
             (f'{args.requests} chat completions (max_tokens {args.max_tokens}, greedy), `--threads {args.threads}`, '
             f'{args.rounds} interleaved rounds; server and client on one 2-core machine shared with other jobs.'), '',
             '| round | mode | wall s | completion tokens | tokens/s (wall) | decode tokens/s | req/s '
             '| p50 s | max s |',
             '|---|---|---|---|---|---|---|---|---|']
    for n, r in enumerate(rounds, 1):
        for p in (r['sequential'], r['concurrent']):
            lines.append(f"| {n} | {p['mode']} | {p['wall_seconds']} | {p['completion_tokens']} | "
                         f"{p['tokens_per_second_wall']} | {p['decode_tokens_per_second']} | "
                         f"{p['requests_per_second']} | {p['latency_p50']} | {p['latency_max']} |")
    ratio = result['concurrent_over_sequential_tokens_per_second']
    lines += ['', (f"Concurrent / sequential throughput (median of rounds): **{ratio}**. "
              f"Concurrent answers identical to sequential ones: **{result['all_answers_identical']}**. "
               f"Per round: {ratios} - the spread is the noise of a machine shared with other jobs."), '',
              ('One model thread serves the queue in order (no batching), so under concurrency the model '
              'is never idle between requests: HTTP and JSON work of the next request overlaps the current '
              'generation. Latency of an individual request grows with its place in the queue.')]
    (RESULTS / 'server_bench.md').write_text('\n'.join(lines) + '\n')
    print('\n'.join(lines))
    return 0 if result['all_answers_identical'] else 1


if __name__ == '__main__':
    raise SystemExit(main())
