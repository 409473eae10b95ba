"""Benchmark the local model engine against PyTorch eager and llama.cpp on the same model.

For each model (the default and the tiny one) and each exported precision, and for PyTorch eager
(transformers generate, fp32) and llama.cpp (llama-cpp-python, the same GGUF the export started
from): session load time, prefill tok/s on a ~600-token prompt, decode tok/s over 128 new tokens,
peak RSS. Every configuration runs in its own subprocess (so peak RSS is its own), with 2 threads,
one after another. Writes benchmarks/results/engine.{json,md,png}.

    nice python benchmarks/bench_engine.py [--models qwen2.5-coder-0.5b smollm2-135m] [--repeats 3]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
RESULTS = REPO / 'benchmarks' / 'results'
PROMPT_TOKENS = 600
NEW_TOKENS = 128
THREADS = 2


def prompt_ids(model_name: str, model_dir: str | None) -> list[int]:
    """A ~600-token chat prompt asking for a review of real code (this repository's runtime)."""
    from tokenizers import Tokenizer

    from reviewbot.engine import paths
    folder = paths.hf_path(model_name, model_dir)
    tokenizer = Tokenizer.from_file(str(folder / 'tokenizer.json'))
    code = (REPO / 'reviewbot' / 'engine' / 'runtime.py').read_text(encoding='utf-8')
    head = '<|im_start|>user\nReview this Python code for bugs:\n```python\n'
    tail = '\n```<|im_end|>\n<|im_start|>assistant\n'
    head_ids = tokenizer.encode(head, add_special_tokens=False).ids
    tail_ids = tokenizer.encode(tail, add_special_tokens=False).ids
    code_ids = tokenizer.encode(code, add_special_tokens=False).ids
    return head_ids + code_ids[:PROMPT_TOKENS - len(head_ids) - len(tail_ids)] + tail_ids


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker_onnx(name: str, precision: str, model_dir: str | None, repeats: int) -> dict:
    import numpy as np
    ids = prompt_ids(name, model_dir)
    t = time.perf_counter()
    from reviewbot.engine import load_model
    model = load_model(name, model_dir=model_dir, threads=THREADS, precision=precision)
    load = time.perf_counter() - t
    model._run(ids[:8], model._empty_past(), keep=1)  # warm-up: first-run allocations
    prefills, decodes = [], []
    for _ in range(repeats):
        t = time.perf_counter()
        logits, past = model._run(ids, model._empty_past(), keep=1)
        t1 = time.perf_counter()
        for _ in range(NEW_TOKENS):
            token = int(np.argmax(logits[-1]))
            logits, past = model._run([token], past, keep=1)
        t2 = time.perf_counter()
        prefills.append(len(ids) / (t1 - t))
        decodes.append(NEW_TOKENS / (t2 - t1))
        del past
    import json as _json
    graph = _json.loads((model.folder / 'reviewbot-model.json').read_text())['graph']
    return {'backend': f'onnxruntime ({graph} graph)', 'precision': precision, 'load_s': load,
            'prefill_tps': statistics.median(prefills), 'decode_tps': statistics.median(decodes),
            'prompt_tokens': len(ids)}


def worker_torch(name: str, precision: str, model_dir: str | None, repeats: int) -> dict:
    import torch
    from transformers import AutoModelForCausalLM

    from reviewbot.engine import paths
    torch.set_num_threads(THREADS)
    ids = prompt_ids(name, model_dir)
    t = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(paths.hf_path(name, model_dir), dtype=torch.float32)
    model.eval()
    load = time.perf_counter() - t
    x = torch.tensor([ids])
    mask = torch.ones_like(x)
    kwargs = {'do_sample': False, 'pad_token_id': 0, 'eos_token_id': None}
    with torch.inference_mode():
        model.generate(x[:, :8], attention_mask=mask[:, :8], max_new_tokens=2, **kwargs)
        prefills, decodes = [], []
        for _ in range(repeats):
            t = time.perf_counter()
            model.generate(x, attention_mask=mask, max_new_tokens=1, min_new_tokens=1, **kwargs)
            t1 = time.perf_counter()
            model.generate(x, attention_mask=mask, max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS, **kwargs)
            t2 = time.perf_counter()
            prefill = t1 - t
            prefills.append(len(ids) / prefill)
            decodes.append((NEW_TOKENS - 1) / (t2 - t1 - prefill))
    return {'backend': 'PyTorch eager (transformers generate)', 'precision': precision, 'load_s': load,
            'prefill_tps': statistics.median(prefills), 'decode_tps': statistics.median(decodes),
            'prompt_tokens': len(ids)}


def worker_llama(name: str, precision: str, model_dir: str | None, repeats: int) -> dict:
    import llama_cpp

    from reviewbot.engine import paths
    ids = prompt_ids(name, model_dir)
    t = time.perf_counter()
    llm = llama_cpp.Llama(model_path=str(paths.gguf_path(name, model_dir)), n_ctx=2048, n_threads=THREADS,
                          n_threads_batch=THREADS, n_batch=1024, n_ubatch=512, verbose=False)
    load = time.perf_counter() - t
    llm.eval(ids[:8])
    prefills, decodes = [], []
    for _ in range(repeats):
        llm.reset()
        llm._ctx.kv_cache_clear() if hasattr(llm._ctx, 'kv_cache_clear') else None
        t = time.perf_counter()
        llm.eval(ids)
        t1 = time.perf_counter()
        for _ in range(NEW_TOKENS):
            token = llm.sample(temp=0.0)
            llm.eval([token])
        t2 = time.perf_counter()
        prefills.append(len(ids) / (t1 - t))
        decodes.append(NEW_TOKENS / (t2 - t1))
    return {'backend': 'llama.cpp (llama-cpp-python)', 'precision': precision, 'load_s': load,
            'prefill_tps': statistics.median(prefills), 'decode_tps': statistics.median(decodes),
            'prompt_tokens': len(ids)}


WORKERS = {'onnx': worker_onnx, 'torch': worker_torch, 'llama': worker_llama}


def run_config(kind: str, name: str, precision: str, model_dir: str | None, repeats: int) -> dict:
    if kind == 'torch':
        repeats = 1  # the slow reference: one run is minutes on 2 cores
    cmd = [sys.executable, __file__, '--worker', kind, name, precision, '--repeats', str(repeats)]
    if model_dir:
        cmd += ['--model-dir', model_dir]
    env = dict(os.environ, OMP_NUM_THREADS=str(THREADS), TOKENIZERS_PARALLELISM='false')
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1200, check=False)
    except subprocess.TimeoutExpired:
        return {'model': name, 'kind': kind, 'precision': precision, 'error': 'timed out after 1200 s'}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith('{')]
    if proc.returncode != 0 or not lines:
        err = (proc.stderr.strip().splitlines() or ['no output'])[-1]
        return {'model': name, 'kind': kind, 'precision': precision, 'error': err[:300]}
    return {'model': name, 'kind': kind, **json.loads(lines[-1])}


def configs(name: str, model_dir: str | None) -> list[tuple[str, str]]:
    from reviewbot.engine import paths
    out = [('onnx', p) for p in paths.exported_precisions(name, model_dir)]
    out.append(('llama', 'gguf ' + gguf_quant(name)))
    out.append(('torch', 'fp32'))
    return out


def gguf_quant(name: str) -> str:
    from reviewbot.engine import registry
    file = registry.get(name).gguf_file.lower()
    for q in ('q4_k_m', 'q4_1', 'q8_0', 'f16'):
        if q in file:
            return q.upper()
    return '?'


def write_reports(results: list[dict], meta: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    for r in results:  # ratios vs llama.cpp of the same model, from this run
        base = next((b for b in results
                     if b['model'] == r['model'] and b['kind'] == 'llama' and 'error' not in b), None)
        if base and 'error' not in r:
            r['prefill_vs_llama_cpp'] = r['prefill_tps'] / base['prefill_tps']
            r['decode_vs_llama_cpp'] = r['decode_tps'] / base['decode_tps']
    (RESULTS / 'engine.json').write_text(json.dumps({'meta': meta, 'results': results}, indent=2) + '\n')
    lines = [(f"Prompt {meta['prompt_tokens']} tokens, {NEW_TOKENS} new tokens (greedy, eos ignored), "
              f"{THREADS} threads, median of {meta['repeats']} runs (PyTorch: 1 run); each configuration in "
              f"its own process. Machine: {meta['cpu']}, {meta['date']}; 5-minute load average "
              f"{meta.get('load_average_5min', '?')} at start/end (a shared machine: other work slows "
              'every runtime, not all alike)'), '',
             ('| model | runtime | precision | prefill tok/s | decode tok/s | prefill ÷ llama.cpp | '
              'decode ÷ llama.cpp | session load s | peak RSS MB |'),
             '|---|---|---|---:|---:|---:|---:|---:|---:|']
    for r in results:
        if 'error' in r:
            lines.append(f"| {r['model']} | {r['kind']} | {r['precision']} | unavailable: {r['error']} | | | | | |")
            continue
        prefill_ratio = f"{r['prefill_vs_llama_cpp']:.2f}×" if 'prefill_vs_llama_cpp' in r else '–'
        decode_ratio = f"{r['decode_vs_llama_cpp']:.2f}×" if 'decode_vs_llama_cpp' in r else '–'
        lines.append(f"| {r['model']} | {r['backend']} | {r['precision']} | {r['prefill_tps']:.0f} | "
                     f"{r['decode_tps']:.1f} | {prefill_ratio} | {decode_ratio} | "
                     f"{r['load_s']:.2f} | {r['peak_rss_mb']:.0f} |")
    (RESULTS / 'engine.md').write_text('\n'.join(lines) + '\n')
    try:
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
    except ImportError:
        return
    ok = [r for r in results if 'error' not in r]
    labels = [f"{r['model']}\n{r['kind']} {r['precision']}" for r in ok]
    fig, axes = plt.subplots(1, 2, figsize=(13, 0.45 * len(ok) + 1.8))
    for ax, key, title in ((axes[0], 'prefill_tps', 'prefill tok/s'), (axes[1], 'decode_tps', 'decode tok/s')):
        colors = ['#d62728' if r['kind'] == 'llama' else '#7f7f7f' if r['kind'] == 'torch' else '#1f77b4' for r in ok]
        ax.barh(range(len(ok)), [r[key] for r in ok], color=colors)
        ax.set_yticks(range(len(ok)), labels if ax is axes[0] else [''] * len(ok), fontsize=7)
        ax.invert_yaxis()
        ax.set_title(title)
        ax.set_xscale('log')
    fig.suptitle(f"reviewbot engine vs llama.cpp vs PyTorch ({meta['prompt_tokens']}-token prompt, "
                 f"{NEW_TOKENS} new tokens, {THREADS} threads)", fontsize=9)
    fig.tight_layout()
    fig.savefig(RESULTS / 'engine.png', dpi=110)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--models', nargs='+', default=['qwen2.5-coder-0.5b', 'smollm2-135m'])
    parser.add_argument('--model-dir', default=None)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--worker', nargs=3, metavar=('KIND', 'MODEL', 'PRECISION'))
    args = parser.parse_args()
    if args.worker:
        kind, name, precision = args.worker
        result = WORKERS[kind](name, precision, args.model_dir, args.repeats)
        result['peak_rss_mb'] = peak_rss_mb()
        print(json.dumps(result))
        return 0
    results = []
    prompt_tokens = 0
    load_before = os.getloadavg()[1]
    for name in args.models:
        prompt_tokens = len(prompt_ids(name, args.model_dir))
        for kind, precision in configs(name, args.model_dir):
            r = run_config(kind, name, precision, args.model_dir, args.repeats)
            print(json.dumps(r), flush=True)
            results.append(r)
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo', encoding='utf-8') as f:
            cpu = next(line.split(':', 1)[1].strip() for line in f if line.startswith('model name'))
    except (OSError, StopIteration):
        pass
    import onnxruntime
    meta = {'date': time.strftime('%Y-%m-%d'), 'cpu': f'{cpu} ({os.cpu_count()} cores)', 'threads': THREADS,
            'prompt_tokens': prompt_tokens, 'new_tokens': NEW_TOKENS, 'repeats': args.repeats,
            'onnxruntime': onnxruntime.__version__,
            'load_average_5min': [round(load_before, 1), round(os.getloadavg()[1], 1)]}
    write_reports(results, meta)
    print(f'wrote {RESULTS}/engine.md, engine.json, engine.png')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
