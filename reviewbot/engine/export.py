"""Export a fetched GGUF to a fast ONNX model folder. Needs the `export` extra (torch, transformers,
optimum-onnx, onnx); never imported at review time.

Steps, each written under a temporary name and renamed into place:
  1. GGUF -> Hugging Face folder (transformers dequantizes to fp32), with the special tokens that
     come out of GGUF wrong fixed from the registry (eos, stop ids, add_bos_token).
  2. HF folder -> ONNX decoder with past key/values: the fused graph (reviewbot.engine.fused) for
     qwen2/llama, else optimum (fp32), the general path for any Hugging Face causal LM.
  3. (optimum graph) surgery: logits only for the last `logits_to_keep` positions (not the whole prompt),
     a tied lm_head's Transpose folded into a constant (so the quantizers see a plain MatMul).
     (both graphs) a scoring output: the log-probability of a given token at each kept position,
     so scoring reads N floats instead of N x vocabulary logits.
     (fused graph) hidden-state outputs `hidden.<layer>` for the risk read-out (reviewbot.risk).
  4. Quantization: int8 dynamic (MatMul weights) or int4 MatMulNBits (block 128, accuracy_level 4).
  5. onnxruntime graph optimization saved offline (fused norms etc.), so the session loads fast.
  6. Tokenizer, chat template and a manifest (sha256 of every file) beside the ONNX file.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from reviewbot.engine import manifest, paths, registry
from reviewbot.engine.progress import Progress
from reviewbot.engine.surgery import add_hidden_states, add_scoring, keep_last_logits, save
from reviewbot.errors import ModelError

# Bump when the exported layout changes: older exports are redone by tests. 4: the scoring output
# (target_ids -> target_logprobs); version-3 exports still load and score in numpy.
# 5: hidden-state outputs `hidden.<layer>` (fused graph; the risk read-out pools them over the added
# lines of the same prefill); version-4 exports still load and review, and simply get no risk score.
EXPORT_VERSION = 5
HF_VERSION = 3  # the Hugging Face folder (step 1) only changes when this is bumped
INT4_BLOCK_SIZE = 128
INT4_ACCURACY_LEVEL = 4  # int8 compute for MatMulNBits: uses VNNI on CPUs that have it


def _require_export_stack() -> None:
    missing = []
    for module in ('torch', 'transformers', 'optimum.exporters.onnx', 'onnx', 'gguf'):
        try:
            __import__(module)
        except ImportError:
            missing.append(module.split('.')[0])
    if missing:
        raise ModelError(f"exporting needs {', '.join(missing)}: run `pip install 'reviewbot[export]'`")


def _quiet_libraries() -> None:
    os.environ.setdefault('TOKENIZERS_PARALLELISM', 'false')
    import transformers
    transformers.logging.set_verbosity_error()


def _staging(final: Path) -> Path:
    final.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f'.{final.name}-', dir=final.parent))


def _publish(staging: Path, final: Path) -> None:
    """Rename a finished staging folder into place (replacing an older one)."""
    os.chmod(staging, 0o755)  # mkdtemp made it private
    if final.exists():
        old = final.with_name(f'.{final.name}-old-{os.getpid()}')
        os.replace(final, old)
        os.replace(staging, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, final)


def fix_tokenizer(tokenizer, spec: registry.ModelSpec):
    """Special tokens read from GGUF are wrong (e.g. eos = <|im_start|>): set them from the registry.

    SmolLM2's GGUF also loses its pre-tokenizer (digits split one by one before byte-level BPE):
    without it, whitespace before a digit tokenizes differently from the original and llama.cpp."""
    if spec.pre_tokenizer == 'digits+bytelevel':
        from tokenizers import pre_tokenizers
        tokenizer.backend_tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True),
        ])
    elif spec.pre_tokenizer:
        raise ModelError(f'registry entry {spec.name!r} has unknown pre_tokenizer {spec.pre_tokenizer!r}')
    tokenizer.eos_token = spec.eos_token
    if tokenizer.pad_token is None:
        tokenizer.pad_token = spec.eos_token
    if hasattr(tokenizer, 'add_bos_token') and tokenizer.add_bos_token != spec.add_bos_token:
        tokenizer.add_bos_token = spec.add_bos_token  # LlamaTokenizerFast rebuilds its post-processor
    probe = tokenizer('x').input_ids
    if not spec.add_bos_token and tokenizer.bos_token_id is not None and probe[:1] == [tokenizer.bos_token_id]:
        raise ModelError(f'{spec.name}: could not turn off the BOS token of the converted tokenizer')
    return tokenizer


def gguf_to_hf(name: str, model_dir: str | os.PathLike[str] | None = None) -> Path:
    """Step 1: <model_dir>/<name>/hf, converted from the fetched GGUF (reused when present)."""
    spec = registry.get(name)
    final = paths.hf_path(name, model_dir)
    marker = final / 'reviewbot-hf.json'
    if marker.is_file() and json.loads(marker.read_text(encoding='utf-8')).get('export_version') == HF_VERSION:
        return final
    gguf = paths.gguf_path(name, model_dir)
    if not gguf.is_file():
        raise ModelError(f"model {name!r} is not fetched: run `reviewbot model fetch {name}`")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = fix_tokenizer(AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name), spec)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    eos_id = tokenizer.convert_tokens_to_ids(spec.eos_token)
    model.config.eos_token_id = eos_id
    model.config.pad_token_id = tokenizer.pad_token_id
    assert model.generation_config is not None  # a causal LM read from a GGUF has one
    model.generation_config.eos_token_id = list(spec.stop_token_ids)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    if not spec.add_bos_token:
        model.generation_config.bos_token_id = None
    staging = _staging(final)
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        (staging / marker.name).write_text(json.dumps({'export_version': HF_VERSION, 'gguf_sha256':
                                                       spec.gguf_sha256}) + '\n', encoding='utf-8')
        _publish(staging, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final


def hf_to_onnx(hf_dir: Path, out_dir: Path) -> Path:
    """Step 2: optimum's decoder-with-past export, fp32. Returns the .onnx path."""
    from optimum.exporters.onnx import main_export
    main_export(str(hf_dir), str(out_dir), task='text-generation-with-past', do_validation=False,
                device='cpu')
    onnx_file = out_dir / 'model.onnx'
    if not onnx_file.is_file():
        raise ModelError(f'optimum wrote no model.onnx into {out_dir}')
    return onnx_file


def quantize(src: Path, dst: Path, precision: str) -> None:
    """Step 4: fp32 is copied; int8 = dynamic MatMul weights; int4 = MatMulNBits block 128."""
    import onnx
    if precision == 'fp32':
        save(onnx.load(str(src)), dst)
    elif precision == 'int8':
        import logging

        from onnxruntime.quantization import QuantType, quantize_dynamic
        logging.getLogger().setLevel(logging.ERROR)  # its "consider pre-processing" advice is for CNNs
        quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, op_types_to_quantize=['MatMul'],
                         per_channel=False,
                         extra_options={'MatMulConstBOnly': True, 'DefaultTensorType': onnx.TensorProto.FLOAT})
    elif precision == 'int4':
        import logging

        from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer
        # it logs every node at INFO (and configures the root logger on import): keep the bar readable
        logging.getLogger('onnxruntime.quantization.matmul_nbits_quantizer').setLevel(logging.WARNING)
        model = onnx.load(str(src))
        quantizer = MatMulNBitsQuantizer(model, block_size=INT4_BLOCK_SIZE, is_symmetric=True,
                                         accuracy_level=INT4_ACCURACY_LEVEL)
        quantizer.process()
        save(quantizer.model.model, dst)
    else:
        raise ModelError(f'unknown precision {precision!r}: use int4, int8 or fp32')


def optimize_offline(src: Path, dst: Path) -> None:
    """Step 5: let onnxruntime fuse what it can once, and save it, so loading does not redo it.

    The weights go to an external file beside the graph: onnxruntime memory-maps it, so a session
    loads in ~0.4 s instead of ~1.5 s for the same model with weights inside the protobuf."""
    import onnxruntime as ort
    options = ort.SessionOptions()
    # EXTENDED (not ALL): the saved graph stays portable to other x86/ARM CPUs.
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = str(dst)
    options.add_session_config_entry('session.optimized_model_external_initializers_file_name',
                                     dst.name + '.data')
    options.add_session_config_entry('session.optimized_model_external_initializers_min_size_in_bytes',
                                     '1024')
    ort.InferenceSession(str(src), options, providers=['CPUExecutionProvider'])
    for file in (dst, dst.with_name(dst.name + '.data')):
        if file.exists():
            os.chmod(file, 0o644)


RUNTIME_FILES = ('tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'config.json',
                 'generation_config.json', 'chat_template.jinja')


def _chat_template(hf_dir: Path) -> str:
    file = hf_dir / 'chat_template.jinja'
    if file.is_file():
        return file.read_text(encoding='utf-8')
    config = json.loads((hf_dir / 'tokenizer_config.json').read_text(encoding='utf-8'))
    template = config.get('chat_template')
    if not isinstance(template, str):
        raise ModelError(f'{hf_dir} has no chat template')
    return template


def choose_graph(spec: registry.ModelSpec, graph: str) -> str:
    from reviewbot.engine import fused
    if graph == 'auto':
        return 'fused' if spec.architecture in fused.SUPPORTED else 'optimum'
    if graph not in ('fused', 'optimum'):
        raise ModelError(f'unknown graph {graph!r}: use auto, fused or optimum')
    return graph


def export(name: str, precision: str | None = None, model_dir: str | os.PathLike[str] | None = None,
           graph: str = 'auto', quiet: bool = False, keep_intermediate: bool = True) -> Path:
    """Export <name> at <precision> (default: the registry's) into <model_dir>/<name>/onnx-<precision>."""
    _require_export_stack()
    _quiet_libraries()
    spec = registry.get(name)
    precision = precision or spec.precision
    if precision not in registry.PRECISIONS:
        raise ModelError(f'unknown precision {precision!r}: use int4, int8 or fp32')
    if not paths.gguf_path(name, model_dir).is_file():
        raise ModelError(f"model {name!r} is not fetched: run `reviewbot model fetch {name}`")
    final = paths.onnx_path(name, precision, model_dir)
    timings: dict[str, float] = {}
    graph = choose_graph(spec, graph)
    steps = ['GGUF -> Hugging Face', f'Hugging Face -> ONNX ({graph} graph)', f'quantize {precision}',
             'onnxruntime graph optimization', 'manifest']
    with Progress(f'export {name} ({precision})', total=len(steps), quiet=quiet) as bar:
        def step(i: int) -> float:
            bar.describe(f'export {name} ({precision}) [{i + 1}/{len(steps)}] {steps[i]}')
            return time.monotonic()

        t = step(0)
        hf_dir = gguf_to_hf(name, model_dir)
        timings['gguf_to_hf'] = time.monotonic() - t
        bar.advance()
        staging = _staging(final)
        try:
            work = Path(tempfile.mkdtemp(prefix='.work-', dir=final.parent))
            try:
                t = step(1)
                sliced = work / 'sliced' / 'model.onnx'
                sliced.parent.mkdir()
                if graph == 'fused':
                    from reviewbot.engine import fused
                    model = fused.build(hf_dir)
                else:
                    import onnx
                    raw = hf_to_onnx(hf_dir, work / 'raw')
                    model = onnx.load(str(raw))
                    keep_last_logits(model)
                    shutil.rmtree(work / 'raw')
                add_scoring(model)
                if graph == 'fused':
                    add_hidden_states(model)
                save(model, sliced)
                del model
                timings['onnx_graph'] = time.monotonic() - t
                bar.advance()
                t = step(2)
                quantized = work / 'quantized' / 'model.onnx'
                quantized.parent.mkdir()
                quantize(sliced, quantized, precision)
                shutil.rmtree(sliced.parent)
                timings['quantize'] = time.monotonic() - t
                bar.advance()
                t = step(3)
                optimize_offline(quantized, staging / 'model.onnx')
                timings['optimize'] = time.monotonic() - t
                bar.advance()
            finally:
                shutil.rmtree(work, ignore_errors=True)
            t = step(4)
            for file in RUNTIME_FILES:
                if (hf_dir / file).is_file():
                    shutil.copyfile(hf_dir / file, staging / file)
            (staging / 'chat_template.jinja').write_text(_chat_template(hf_dir), encoding='utf-8')
            config = json.loads((hf_dir / 'config.json').read_text(encoding='utf-8'))
            manifest.write(staging, {
                'name': name,
                'precision': precision,
                'graph': graph,
                'export_version': EXPORT_VERSION,
                'architecture': spec.architecture,
                'context_length': spec.context_length,
                'eos_token': spec.eos_token,
                'stop_token_ids': list(spec.stop_token_ids),
                'add_bos_token': spec.add_bos_token,
                'num_layers': config['num_hidden_layers'],
                'num_kv_heads': config.get('num_key_value_heads', config['num_attention_heads']),
                'head_dim': config.get('head_dim') or config['hidden_size'] // config['num_attention_heads'],
                'vocab_size': config['vocab_size'],
                'onnx': 'model.onnx',
                'source_gguf_sha256': spec.gguf_sha256,
                'export_seconds': {k: round(v, 1) for k, v in timings.items()},
            })
            bar.advance()
            _publish(staging, final)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    if not keep_intermediate:
        shutil.rmtree(hf_dir, ignore_errors=True)
    return final
