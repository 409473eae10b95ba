"""Benchmark the local model engine against native llama.cpp on the same model, like with like.

Rows for each model (default: the registry's default model):
* reviewbot's engine (onnxruntime), each exported precision (int4, int8, fp32: whatever is exported);
* native `llama-bench` on the GGUF the export started from (e.g. Q4_K_M), built by
  benchmarks/build_llama_peer.sh (the llama.cpp vendored in the llama-cpp-python sdist, GGML_NATIVE=ON);
* the equal-bits row: `llama-bench` on a Q4_0 requantisation of that GGUF (`llama-quantize --pure`), so the
  comparison is also fair on the bytes streamed per token (Q4_K_M is mostly 5/6/8-bit);
* llama-cpp-python (the sdist's own binding on the same build; n_batch 1024, its default FA off);
* optionally (--torch) PyTorch eager fp32 (transformers generate), the slow reference.

Measured alike: a 600-token prompt (prefill tok/s) and 128 new tokens decoded after it, i.e. at KV
depth 600 (`llama-bench -p 600 -n 0` and `-p 0 -n 128 -d 600`), 2 threads, a full-size warm-up run first
(llama-bench's own). llama-bench runs with flash attention off and on; each metric keeps its better
setting. Rounds are interleaved (peer, engine, peer, engine, ...) so load from other users of the machine
falls on all rows alike; every run is its own process (peak RSS is its own) and records the load average
at its start and end. Reported: medians over all samples, their spread (min-max), and ratios against the
llama-bench rows of this same run. Writes benchmarks/results/engine.{json,md,png}.

    benchmarks/build_llama_peer.sh DIR      # once: llama-bench, llama-quantize, the binding
    nice python benchmarks/bench_engine.py --llama-peer DIR [--models qwen2.5-coder-0.5b] [--rounds 3]
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
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
RESULTS = REPO / 'benchmarks' / 'results'
PROMPT_TOKENS = 600
NEW_TOKENS = 128
THREADS = 2
LLAMA_SDIST = 'llama-cpp-python 0.3.36'
DEFAULT_PEER = Path(os.environ.get('LLAMA_PEER_DIR', '~/.cache/reviewbot/llama-peer')).expanduser()


def prompt_ids(model_name: str, model_dir: str | None) -> list[int]:
    """A 600-token chat prompt asking for a review of real code (this repository's runtime)."""
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


# --- workers: each runs in its own process and prints one JSON line --------------------------------------

def worker_onnx(name: str, precision: str, model_dir: str | None, repeats: int) -> dict:
    import numpy as np
    ids = prompt_ids(name, model_dir)
    t = time.perf_counter()
    from reviewbot.engine import load_model
    from reviewbot.engine.session import _spin
    model = load_model(name, model_dir=model_dir, threads=THREADS, precision=precision)
    load = time.perf_counter() - t
    spin = _spin()  # what the session was created with (the engine decides by the load average)

    def once() -> tuple[float, float]:
        t = time.perf_counter()
        logits, past = model._run(ids, model._empty_past(), keep=1)
        t1 = time.perf_counter()
        for _ in range(NEW_TOKENS):
            token = int(np.argmax(logits[-1]))
            logits, past = model._run([token], past, keep=1)
        return len(ids) / (t1 - t), NEW_TOKENS / (time.perf_counter() - t1)

    model._run(ids, model._empty_past(), keep=1)  # warm-up, full size (as llama-bench does)
    samples = [once() for _ in range(repeats)]
    graph = json.loads((model.folder / 'reviewbot-model.json').read_text())['graph']
    return {'runtime': f'reviewbot engine (onnxruntime, {graph} graph)', 'load_s': load, 'ort_spin': spin,
            'prefill_tps': [p for p, _ in samples], 'decode_tps': [d for _, d in samples],
            'prompt_tokens': len(ids)}


def worker_llama_python(name: str, precision: str, model_dir: str | None, repeats: int) -> dict:
    import llama_cpp

    from reviewbot.engine import paths
    ids = prompt_ids(name, model_dir)
    t = time.perf_counter()
    llm = llama_cpp.Llama(model_path=str(paths.gguf_path(name, model_dir)), n_ctx=2048, n_threads=THREADS,
                          n_threads_batch=THREADS, n_batch=1024, n_ubatch=512, verbose=False)
    load = time.perf_counter() - t

    def once() -> tuple[float, float]:
        llm.reset()
        t = time.perf_counter()
        llm.eval(ids)
        t1 = time.perf_counter()
        for _ in range(NEW_TOKENS):
            llm.eval([llm.sample(temp=0.0)])
        return len(ids) / (t1 - t), NEW_TOKENS / (time.perf_counter() - t1)

    llm.eval(ids)  # warm-up, full size
    samples = [once() for _ in range(repeats)]
    where = Path(llama_cpp.__file__).resolve().parent
    return {'runtime': 'llama-cpp-python (same build, FA off)', 'load_s': load,
            'prefill_tps': [p for p, _ in samples], 'decode_tps': [d for _, d in samples],
            'prompt_tokens': len(ids), 'binding': f'{llama_cpp.__version__} at {where}'}


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
    prefills, decodes = [], []
    with torch.inference_mode():
        model.generate(x[:, :8], attention_mask=mask[:, :8], max_new_tokens=2, **kwargs)
        for _ in range(repeats):
            t = time.perf_counter()
            model.generate(x, attention_mask=mask, max_new_tokens=1, min_new_tokens=1, **kwargs)
            t1 = time.perf_counter()
            model.generate(x, attention_mask=mask, max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS, **kwargs)
            t2 = time.perf_counter()
            prefill = t1 - t
            prefills.append(len(ids) / prefill)
            decodes.append((NEW_TOKENS - 1) / (t2 - t1 - prefill))
    return {'runtime': 'PyTorch eager (transformers generate)', 'load_s': load,
            'prefill_tps': prefills, 'decode_tps': decodes, 'prompt_tokens': len(ids)}


WORKERS = {'onnx': worker_onnx, 'llama-python': worker_llama_python, 'torch': worker_torch}


# --- the native peer ----------------------------------------------------------------------------------------

class Peer:
    """The build made by benchmarks/build_llama_peer.sh in `root`."""

    def __init__(self, root: Path):
        self.root = root
        builds = sorted(p for p in root.glob('build-native*') if (p / 'bin' / 'llama-bench').is_file())
        self.build = builds[0] if builds else None
        self.src = next(iter(sorted(root.glob('src/llama_cpp_python-*'))), None)

    @property
    def ok(self) -> bool:
        return self.build is not None

    def tool(self, name: str) -> Path:
        assert self.build is not None
        return self.build / 'bin' / name

    @property
    def amx(self) -> str:
        flag = self.build / 'reviewbot-amx' if self.build else None
        return flag.read_text().strip() if flag and flag.is_file() else '?'

    def python_path(self) -> list[str]:
        """PYTHONPATH entries for the sdist's binding (llama_cpp/lib links to this build)."""
        if not self.src or not (self.src / 'llama_cpp' / 'lib').exists():
            return []
        return [str(self.src)] + ([str(self.root / 'pydeps')] if (self.root / 'pydeps').is_dir() else [])

    def pure_q4_0(self, gguf: Path) -> Path:
        """The equal-bits GGUF: every tensor Q4_0 (`llama-quantize --pure`), made once from `gguf`."""
        out = self.root / 'gguf' / f'{gguf.stem}-q4_0-pure.gguf'
        if not out.is_file():
            out.parent.mkdir(parents=True, exist_ok=True)
            tmp = out.with_suffix('.tmp')
            subprocess.run(['nice', str(self.tool('llama-quantize')), '--allow-requantize', '--pure', str(gguf),
                            str(tmp), 'Q4_0', str(THREADS)], check=True, capture_output=True)
            tmp.rename(out)
        return out


def run_measured(cmd: list[str], env: dict[str, str], timeout: float = 1800) -> tuple[int, str, str, float]:
    """Run cmd; return (exit code, stdout, stderr, its peak RSS in MB) from wait4."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return (proc.returncode, out.read().decode(errors='replace'), err.read().decode(errors='replace'),
                usage.ru_maxrss / 1024)


def run_llama_bench(peer: Peer, gguf: Path, repeats: int) -> dict:
    """One round of native llama-bench on `gguf`: prefill (-p 600) and decode at depth 600 (-n 128 -d 600),
    flash attention off and on; samples per FA setting."""
    env = dict(os.environ)
    samples: dict[str, dict[str, list[float]]] = {}
    rss = 0.0
    commit = ''
    for metric, args in (('prefill_tps', ['-p', str(PROMPT_TOKENS), '-n', '0']),
                         ('decode_tps', ['-p', '0', '-n', str(NEW_TOKENS), '-d', str(PROMPT_TOKENS)])):
        cmd = [str(peer.tool('llama-bench')), '-m', str(gguf), '-t', str(THREADS), '-fa', '0,1',
               '-r', str(repeats), '-o', 'json', *args]
        code, out, err, peak = run_measured(cmd, env)
        if code != 0:
            raise RuntimeError(f'llama-bench exited {code}: {(err.strip().splitlines() or ["no output"])[-1][:200]}')
        rss = max(rss, peak)
        for test in json.loads(out):
            fa = 'on' if str(test['flash_attn']).lower() in ('1', 'true', 'on', 'enabled') else 'off'
            ts = test.get('samples_ts') or [1e9 / ns * (test['n_prompt'] or test['n_gen'])
                                            for ns in test['samples_ns']]
            samples.setdefault(fa, {}).setdefault(metric, []).extend(float(x) for x in ts)
            commit = str(test.get('build_commit', ''))
    return {'runtime': 'llama.cpp llama-bench (native)', 'by_fa': samples, 'peak_rss_mb': rss,
            'build_commit': commit}


# --- rows, rounds, reports ----------------------------------------------------------------------------------

def gguf_quant(name: str) -> str:
    from reviewbot.engine import registry
    file = registry.get(name).gguf_file.lower()
    for q in ('q4_k_m', 'q4_1', 'q4_0', 'q8_0', 'f16'):
        if q in file:
            return q.upper()
    return '?'


def rows_for(name: str, model_dir: str | None, peer: Peer, precisions: list[str] | None, torch: bool) -> list[dict]:
    """The configurations to measure for one model, interleaved peer / engine."""
    from reviewbot.engine import paths
    gguf = paths.gguf_path(name, model_dir)
    engine = [{'model': name, 'kind': 'onnx', 'precision': p}
              for p in paths.exported_precisions(name, model_dir) if not precisions or p in precisions]
    peers: list[dict] = []
    if peer.ok and gguf.is_file():
        peers.append({'model': name, 'kind': 'llama-bench', 'precision': f'GGUF {gguf_quant(name)}',
                      'gguf': str(gguf), 'baseline': 'native'})
        peers.append({'model': name, 'kind': 'llama-bench', 'precision': 'GGUF Q4_0 --pure (equal bits)',
                      'gguf': str(peer.pure_q4_0(gguf)), 'baseline': 'equal_bits'})
    rows: list[dict] = []
    for i in range(max(len(engine), len(peers))):
        rows += peers[i:i + 1] + engine[i:i + 1]
    if gguf.is_file():
        rows.append({'model': name, 'kind': 'llama-python', 'precision': f'GGUF {gguf_quant(name)}'})
    if torch:
        rows.append({'model': name, 'kind': 'torch', 'precision': 'fp32'})
    return rows


def run_row(row: dict, model_dir: str | None, peer: Peer, repeats: int) -> dict:
    """One round of one row, in its own process; the load average at its start and end."""
    start = os.getloadavg()
    try:
        if row['kind'] == 'llama-bench':
            result = run_llama_bench(peer, Path(row['gguf']), repeats)
        else:
            cmd = [sys.executable, __file__, '--worker', row['kind'], row['model'], row['precision'],
                   '--repeats', str(1 if row['kind'] == 'torch' else repeats)]
            if model_dir:
                cmd += ['--model-dir', model_dir]
            env = dict(os.environ, OMP_NUM_THREADS=str(THREADS), TOKENIZERS_PARALLELISM='false')
            if row['kind'] == 'llama-python' and peer.python_path():
                env['PYTHONPATH'] = os.pathsep.join([*peer.python_path(), str(REPO)])
            code, out, err, _ = run_measured(cmd, env)
            lines = [line for line in out.splitlines() if line.startswith('{')]
            if code != 0 or not lines:
                raise RuntimeError((err.strip().splitlines() or [f'exit {code}, no output'])[-1][:300])
            result = json.loads(lines[-1])
    except (RuntimeError, subprocess.CalledProcessError, OSError, ValueError, KeyError) as e:
        result = {'error': str(e)[:300]}
    end = os.getloadavg()
    return {**result, 'load_start': [round(x, 2) for x in start], 'load_end': [round(x, 2) for x in end]}


def spread(values: list[float]) -> dict:
    return {'median': statistics.median(values), 'min': min(values), 'max': max(values), 'n': len(values)}


def summarise(row: dict, runs: list[dict]) -> dict:
    ok = [r for r in runs if 'error' not in r]
    out = {**row, 'runs': runs, 'load1': [[r['load_start'][0], r['load_end'][0]] for r in runs]}
    if not ok:
        out['error'] = runs[-1].get('error', 'no runs') if runs else 'no runs'
        return out
    out['runtime'] = ok[-1]['runtime']
    if row['kind'] == 'llama-bench':
        by_fa: dict[str, dict[str, list[float]]] = {}
        for r in ok:
            for fa, metrics in r['by_fa'].items():
                for metric, values in metrics.items():
                    by_fa.setdefault(fa, {}).setdefault(metric, []).extend(values)
        out['by_fa'] = {fa: {m: spread(v) for m, v in metrics.items()} for fa, metrics in by_fa.items()}
        for metric in ('prefill_tps', 'decode_tps'):
            fa = max(out['by_fa'], key=lambda f: out['by_fa'][f].get(metric, {}).get('median', 0.0))
            out[metric] = out['by_fa'][fa][metric]
            out[metric.replace('_tps', '_fa')] = fa
        out['build_commit'] = ok[-1].get('build_commit', '')
    else:
        for metric in ('prefill_tps', 'decode_tps'):
            out[metric] = spread([v for r in ok for v in r[metric]])
        out['load_s'] = spread([r['load_s'] for r in ok])
        for key in ('ort_spin', 'binding'):
            if key in ok[-1]:
                out[key] = [r.get(key) for r in ok] if key == 'ort_spin' else ok[-1][key]
    out['peak_rss_mb'] = max(r['peak_rss_mb'] for r in ok)
    return out


def add_ratios(results: list[dict]) -> None:
    """Ratios against this run's llama-bench rows of the same model (native GGUF and equal bits)."""
    for r in results:
        if 'error' in r:
            continue
        for base_name in ('native', 'equal_bits'):
            base = next((b for b in results if b['model'] == r['model'] and b.get('baseline') == base_name
                         and 'error' not in b), None)
            if base is None:
                continue
            for metric in ('prefill', 'decode'):
                r[f'{metric}_vs_{base_name}'] = r[f'{metric}_tps']['median'] / base[f'{metric}_tps']['median']


def fmt_load(pairs: list[list[float]]) -> str:
    return ', '.join(f'{a:.1f}→{b:.1f}' for a, b in pairs)


def write_reports(results: list[dict], meta: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    add_ratios(results)
    (RESULTS / 'engine.json').write_text(json.dumps({'meta': meta, 'results': results}, indent=2) + '\n')
    lines = ['# Model engine against native llama.cpp', '',
             (f"{meta['prompt_tokens']}-token prompt (prefill), {NEW_TOKENS} new tokens decoded after it (KV depth "
              f"{PROMPT_TOKENS}), {THREADS} threads, greedy, eos ignored; {meta['rounds']} interleaved round(s) × "
              f"{meta['repeats']} sample(s) per row and round (PyTorch: 1; each row's runs are listed in the last "
              "column); medians with min–max. Each run its own process. "
              f"Machine: {meta['cpu']}; {meta['date']}; onnxruntime {meta['onnxruntime']}; llama.cpp from the "
              f"{meta['llama_sdist']} sdist, GGML_NATIVE=ON, AMX {meta['llama_amx']} (kernel enables AMX tile "
              f"data: {meta['kernel_amx']}). Shared machine: the 1-minute load average at the start→end of "
              'each run is in the last column; other work slows every runtime, not all alike.'), '',
             ('| model | runtime | weights | prefill tok/s | decode tok/s | prefill ÷ llama-bench | '
              'decode ÷ llama-bench | prefill ÷ Q4_0 | decode ÷ Q4_0 | session load s | peak RSS MB | '
              'load (1 min) per run |'),
             '|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|']

    def cell(s: dict, digits: int) -> str:
        return f"{s['median']:.{digits}f} ({s['min']:.{digits}f}–{s['max']:.{digits}f})"

    for r in results:
        if 'error' in r:
            lines.append(f"| {r['model']} | {r['kind']} | {r['precision']} | unavailable: {r['error']} "
                         f"| | | | | | | | {fmt_load(r['load1'])} |")
            continue
        ratio = {k: f'{r[k]:.2f}×' if k in r else '–' for k in
                 ('prefill_vs_native', 'decode_vs_native', 'prefill_vs_equal_bits', 'decode_vs_equal_bits')}
        runtime = r['runtime']
        if r['kind'] == 'llama-bench':
            runtime += f" (best FA: prefill {r['prefill_fa']}, decode {r['decode_fa']})"
        weights = r['precision'] if r['kind'] != 'onnx' else f"ONNX {r['precision']}"
        load = cell(r['load_s'], 2) if 'load_s' in r else '–'
        lines.append(f"| {r['model']} | {runtime} | {weights} | {cell(r['prefill_tps'], 0)} | "
                     f"{cell(r['decode_tps'], 1)} | {ratio['prefill_vs_native']} | {ratio['decode_vs_native']} | "
                     f"{ratio['prefill_vs_equal_bits']} | {ratio['decode_vs_equal_bits']} | {load} | "
                     f"{r['peak_rss_mb']:.0f} | {fmt_load(r['load1'])} |")
    bench_rows = [r for r in results if r['kind'] == 'llama-bench' and 'by_fa' in r]
    if bench_rows:
        lines += ['', 'llama-bench by flash-attention setting (medians, min–max):', '',
                  '| model | weights | FA | prefill tok/s | decode tok/s |', '|---|---|---|---:|---:|']
        for r in bench_rows:
            for fa, m in sorted(r['by_fa'].items()):
                pre = cell(m['prefill_tps'], 0) if 'prefill_tps' in m else '–'
                dec = cell(m['decode_tps'], 1) if 'decode_tps' in m else '–'
                lines.append(f"| {r['model']} | {r['precision']} | {fa} | {pre} | {dec} |")
    notes = [f"- {g['path']}: {g['size']:,} bytes, sha256 {g['sha256']}" for g in meta.get('gguf', [])]
    if notes:
        lines += ['', 'GGUF files:', *notes]
    spins = {str(x) for r in results for x in r.get('ort_spin', [])}
    if spins:
        lines += ['', (f"onnxruntime thread spinning (the engine's default: on only while the 1-minute load "
                       f"average is below the core count) was {', '.join(sorted(spins))} in these runs.")]
    loads = [x for r in results for pair in r['load1'] for x in pair]
    if loads and max(loads) > (os.cpu_count() or 1):
        lines += ['', (f"The load average exceeded the core count ({min(loads):.1f}–{max(loads):.1f} on "
                       f"{os.cpu_count()} cores). Under such load these are not the quiet-machine ratios the "
                       "engine's targets are about: llama.cpp's threads wait for each other at every operator "
                       "(busy-waiting by default), so a preempted thread stalls the step and its decode falls "
                       "far more than onnxruntime's, which the engine runs without spinning at this load. "
                       'Re-run on a quiet machine before quoting a ratio.')]
    (RESULTS / 'engine.md').write_text('\n'.join(lines) + '\n')
    plot(results, meta)


def plot(results: list[dict], meta: dict) -> None:
    try:
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
    except ImportError:
        return
    ok = [r for r in results if 'error' not in r]
    if not ok:
        return
    labels = [f"{r['model']}\n{r['kind']} {r['precision']}" for r in ok]
    fig, axes = plt.subplots(1, 2, figsize=(13, 0.5 * len(ok) + 1.8))
    colors = {'llama-bench': '#d62728', 'llama-python': '#ff9896', 'torch': '#7f7f7f', 'onnx': '#1f77b4'}
    for ax, key, title in ((axes[0], 'prefill_tps', 'prefill tok/s'), (axes[1], 'decode_tps', 'decode tok/s')):
        med = [r[key]['median'] for r in ok]
        err = [[m - r[key]['min'] for m, r in zip(med, ok)], [r[key]['max'] - m for m, r in zip(med, ok)]]
        ax.barh(range(len(ok)), med, xerr=err, color=[colors.get(r['kind'], '#1f77b4') for r in ok], capsize=3)
        ax.set_yticks(range(len(ok)), labels if ax is axes[0] else [''] * len(ok), fontsize=7)
        ax.invert_yaxis()
        ax.set_title(title)
    fig.suptitle(f"reviewbot engine vs native llama.cpp ({meta['prompt_tokens']}-token prompt, {NEW_TOKENS} new "
                 f"tokens at depth {PROMPT_TOKENS}, {THREADS} threads; medians, bars min–max)", fontsize=9)
    fig.tight_layout()
    fig.savefig(RESULTS / 'engine.png', dpi=110)


def kernel_amx() -> str:
    import ctypes
    if platform.machine() != 'x86_64' or not sys.platform.startswith('linux'):
        return 'n/a'
    libc = ctypes.CDLL(None, use_errno=True)
    mask = ctypes.c_uint64(0)
    if libc.syscall(158, 0x1021, ctypes.byref(mask)) != 0:  # arch_prctl(ARCH_GET_XCOMP_SUPP)
        return 'unknown'
    return 'yes' if mask.value & (1 << 18) else 'no'  # XFEATURE_XTILEDATA


def gguf_facts(path: str) -> dict:
    import hashlib
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return {'path': Path(path).name, 'size': os.path.getsize(path), 'sha256': digest.hexdigest()}


ROW_KEYS = ('model', 'kind', 'precision', 'gguf', 'baseline')


def read_log(log: Path) -> tuple[list[dict], list[list[dict]], int]:
    """Rows, their runs and the last round from the JSON lines a run printed (rows in first-seen order)."""
    rows: list[dict] = []
    runs: list[list[dict]] = []
    last = 0
    for line in log.read_text(encoding='utf-8').splitlines():
        if not line.startswith('{"round"'):
            continue
        entry = json.loads(line)
        last = max(last, entry.pop('round'))
        row = {k: entry.pop(k) for k in ROW_KEYS if k in entry}
        if row not in rows:
            rows.append(row)
            runs.append([])
        runs[rows.index(row)].append(entry)
    if not rows:
        raise SystemExit(f'bench_engine: no run lines in {log}')
    return rows, runs, last


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--models', nargs='+', default=None, help='default: the registry default model')
    parser.add_argument('--model-dir', default=None)
    parser.add_argument('--llama-peer', type=Path, default=DEFAULT_PEER,
                        help='the directory benchmarks/build_llama_peer.sh built into')
    parser.add_argument('--precisions', nargs='+', default=None, help='engine precisions (default: all exported)')
    parser.add_argument('--torch', action='store_true', help='add PyTorch eager fp32 (slow: minutes per round)')
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--repeats', type=int, default=2, help='samples per row per round')
    parser.add_argument('--report-from', type=Path, default=None, metavar='LOG',
                        help="write the reports from the per-run JSON lines a run printed (e.g. one stopped early)")
    parser.add_argument('--worker', nargs=3, metavar=('KIND', 'MODEL', 'PRECISION'))
    args = parser.parse_args()
    if args.worker:
        kind, name, precision = args.worker
        result = WORKERS[kind](name, precision, args.model_dir, args.repeats)
        result['peak_rss_mb'] = peak_rss_mb()
        print(json.dumps(result))
        return 0
    from reviewbot.engine import registry
    models = args.models or [registry.default_name()]
    peer = Peer(args.llama_peer.expanduser())
    if not peer.ok:
        print(f'bench_engine: no llama.cpp build in {peer.root}: run benchmarks/build_llama_peer.sh '
              f'{peer.root} (the llama-bench rows are left out)', file=sys.stderr)
    if args.report_from:
        rows, runs, rounds = read_log(args.report_from)
        load_before = tuple(runs[0][0]['load_start'])
    else:
        rows = [row for name in models for row in rows_for(name, args.model_dir, peer, args.precisions, args.torch)]
        runs = [[] for _ in rows]
        load_before = os.getloadavg()
        rounds = args.rounds
        for round_ in range(args.rounds):
            for row, row_runs in zip(rows, runs):
                result = run_row(row, args.model_dir, peer, args.repeats)
                row_runs.append(result)
                print(json.dumps({'round': round_ + 1, **row, **result}), flush=True)
    results = [summarise(row, row_runs) for row, row_runs in zip(rows, runs)]
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo', encoding='utf-8') as f:
            cpu = next(line.split(':', 1)[1].strip() for line in f if line.startswith('model name'))
    except (OSError, StopIteration):
        pass
    import onnxruntime
    meta = {'date': time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()), 'cpu': f'{cpu} ({os.cpu_count()} cores)',
            'threads': THREADS, 'prompt_tokens': PROMPT_TOKENS, 'new_tokens': NEW_TOKENS, 'rounds': rounds,
            'repeats': args.repeats, 'onnxruntime': onnxruntime.__version__, 'llama_sdist': LLAMA_SDIST,
            'llama_build': str(peer.build) if peer.build else None, 'llama_amx': peer.amx,
            'kernel_amx': kernel_amx(), 'load_average_start': [round(x, 2) for x in load_before],
            'load_average_end': (runs[-1][-1]['load_end'] if args.report_from
                                 else [round(x, 2) for x in os.getloadavg()]),
            'gguf': [gguf_facts(r['gguf']) for r in rows if r.get('gguf')]}
    write_reports(results, meta)
    print(f'wrote {RESULTS}/engine.md, engine.json, engine.png')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
