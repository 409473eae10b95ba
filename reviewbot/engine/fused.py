"""A fused decoder graph for Llama-style models (qwen2, llama), built directly from HF weights.

optimum's export traces PyTorch into ~3,000 small nodes per model (shape arithmetic, unfused
attention): on CPU each decode step pays for every node. For the architectures reviewbot ships,
this builds the same computation from onnxruntime's fused operators, ~12 nodes per layer:
SimplifiedLayerNormalization / SkipSimplifiedLayerNormalization (RMSNorm + residual),
one packed QKV MatMul, GroupQueryAttention (rotary embedding, KV cache append, causal GQA),
one packed gate/up MatMul with SiLU, and a last-positions-only lm_head. Same inputs and outputs
as the optimum graph (input_ids, attention_mask, past_key_values.*, logits_to_keep -> logits,
present.*), so the runtime and the quantizers treat both alike.

Reads the weights with safetensors' numpy API; no torch needed.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from reviewbot.errors import ModelError

SUPPORTED = ('qwen2', 'llama')
MS = 'com.microsoft'


def build(hf_dir: Path):
    from onnx import TensorProto, helper, numpy_helper
    from safetensors.numpy import load_file

    config = json.loads((hf_dir / 'config.json').read_text(encoding='utf-8'))
    if config.get('model_type') not in SUPPORTED:
        raise ModelError(f"the fused graph supports {', '.join(SUPPORTED)}, not {config.get('model_type')}: "
                         'export with --graph optimum')
    if config.get('rope_scaling'):
        raise ModelError('rope_scaling is not supported by the fused graph: export with --graph optimum')
    weights: dict[str, np.ndarray] = {}
    for file in sorted(hf_dir.glob('*.safetensors')):
        weights.update(load_file(str(file)))
    hidden = config['hidden_size']
    n_heads = config['num_attention_heads']
    n_kv = config.get('num_key_value_heads', n_heads)
    head_dim = config.get('head_dim') or hidden // n_heads
    n_layers = config['num_hidden_layers']
    eps = float(config['rms_norm_eps'])
    theta = float(config.get('rope_theta', 10000.0))
    max_pos = int(config.get('max_position_embeddings', 4096))
    vocab = config['vocab_size']

    nodes: list = []
    inits: list = []

    def w(name: str, array: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def f32(key: str) -> np.ndarray:
        return weights[key].astype(np.float32)

    def node(op: str, inputs: list[str], outputs: list[str], name: str, domain: str = '', **attrs) -> None:
        nodes.append(helper.make_node(op, inputs, outputs, name=name, domain=domain or None, **attrs))

    # inputs
    graph_inputs = [
        helper.make_tensor_value_info('input_ids', TensorProto.INT64, ['batch_size', 'sequence_length']),
        helper.make_tensor_value_info('attention_mask', TensorProto.INT64, ['batch_size', 'total_sequence_length']),
    ]
    graph_outputs = [helper.make_tensor_value_info('logits', TensorProto.FLOAT, ['batch_size', 'kept', vocab])]
    for i in range(n_layers):
        for kind in ('key', 'value'):
            graph_inputs.append(helper.make_tensor_value_info(
                f'past_key_values.{i}.{kind}', TensorProto.FLOAT,
                ['batch_size', n_kv, 'past_sequence_length', head_dim]))
            graph_outputs.append(helper.make_tensor_value_info(
                f'present.{i}.{kind}', TensorProto.FLOAT, ['batch_size', n_kv, 'total_sequence_length', head_dim]))
    graph_inputs.append(helper.make_tensor_value_info('logits_to_keep', TensorProto.INT64, [1]))

    # GroupQueryAttention's lengths: seqlens_k = tokens seen - 1 (int32), total length (int32 scalar)
    w('one_i64', np.array([1], dtype=np.int64))
    node('ReduceSum', ['attention_mask', 'one_i64'], ['mask_sum'], 'mask_sum', keepdims=0)
    node('Sub', ['mask_sum', 'one_i64'], ['mask_sum_minus_1'], 'mask_sub')
    node('Cast', ['mask_sum_minus_1'], ['seqlens_k'], 'seqlens_cast', to=TensorProto.INT32)
    node('Shape', ['attention_mask'], ['mask_shape'], 'mask_shape')
    w('index_1', np.array(1, dtype=np.int64))
    node('Gather', ['mask_shape', 'index_1'], ['total_len_i64'], 'total_len', axis=0)
    node('Cast', ['total_len_i64'], ['total_sequence_length'], 'total_cast', to=TensorProto.INT32)

    # rotary tables (non-interleaved halves, as HF's rotate_half)
    inv_freq = 1.0 / (theta ** (np.arange(0, head_dim, 2, dtype=np.float64) / head_dim))
    angles = np.outer(np.arange(max_pos, dtype=np.float64), inv_freq)
    w('cos_cache', np.cos(angles).astype(np.float32))
    w('sin_cache', np.sin(angles).astype(np.float32))

    # embedding kept in fp16 (half the memory of fp32; the quantizers leave Gather alone)
    w('embed_tokens', weights['model.embed_tokens.weight'].astype(np.float16))
    node('Gather', ['embed_tokens', 'input_ids'], ['embeds_fp16'], 'embed', axis=0)
    node('Cast', ['embeds_fp16'], ['embeds'], 'embed_cast', to=TensorProto.FLOAT)

    residual = 'embeds'
    pending: str | None = None  # output of the previous block to add to the residual stream
    for i in range(n_layers):
        p = f'model.layers.{i}.'
        ln_in = w(f'l{i}.input_layernorm', f32(p + 'input_layernorm.weight'))
        if pending is None:
            node('SimplifiedLayerNormalization', [residual, ln_in], [f'l{i}.h'], f'l{i}.norm_in',
                 axis=-1, epsilon=eps, stash_type=1)
        else:
            node('SkipSimplifiedLayerNormalization', [pending, residual, ln_in],
                 [f'l{i}.h', '', '', f'l{i}.resid_in'], f'l{i}.norm_in', domain=MS, epsilon=eps)
            residual = f'l{i}.resid_in'
        a = p + 'self_attn.'
        qkv_w = np.concatenate([f32(a + 'q_proj.weight'), f32(a + 'k_proj.weight'), f32(a + 'v_proj.weight')]).T
        node('MatMul', [f'l{i}.h', w(f'l{i}.qkv.weight', qkv_w)], [f'l{i}.qkv_mm'], f'l{i}.qkv')
        qkv = f'l{i}.qkv_mm'
        if a + 'q_proj.bias' in weights:
            bias = np.concatenate([f32(a + 'q_proj.bias'), f32(a + 'k_proj.bias'), f32(a + 'v_proj.bias')])
            node('Add', [qkv, w(f'l{i}.qkv.bias', bias)], [f'l{i}.qkv_b'], f'l{i}.qkv_bias')
            qkv = f'l{i}.qkv_b'
        node('GroupQueryAttention',
             [qkv, '', '', f'past_key_values.{i}.key', f'past_key_values.{i}.value', 'seqlens_k',
              'total_sequence_length', 'cos_cache', 'sin_cache'],
             [f'l{i}.attn', f'present.{i}.key', f'present.{i}.value'], f'l{i}.gqa', domain=MS,
             num_heads=n_heads, kv_num_heads=n_kv, do_rotary=1, rotary_interleaved=0,
             scale=float(1.0 / np.sqrt(head_dim)))
        node('MatMul', [f'l{i}.attn', w(f'l{i}.o.weight', f32(a + 'o_proj.weight').T)], [f'l{i}.attn_out'],
             f'l{i}.o_proj')
        ln_post = w(f'l{i}.post_attention_layernorm', f32(p + 'post_attention_layernorm.weight'))
        node('SkipSimplifiedLayerNormalization', [f'l{i}.attn_out', residual, ln_post],
             [f'l{i}.h2', '', '', f'l{i}.resid_mid'], f'l{i}.norm_post', domain=MS, epsilon=eps)
        residual = f'l{i}.resid_mid'
        m = p + 'mlp.'
        gate_up = np.concatenate([f32(m + 'gate_proj.weight'), f32(m + 'up_proj.weight')]).T
        inter = gate_up.shape[1] // 2
        node('MatMul', [f'l{i}.h2', w(f'l{i}.gate_up.weight', gate_up)], [f'l{i}.gu'], f'l{i}.gate_up')
        w(f'l{i}.split', np.array([inter, inter], dtype=np.int64))
        node('Split', [f'l{i}.gu', f'l{i}.split'], [f'l{i}.gate', f'l{i}.up'], f'l{i}.split_gu', axis=-1)
        node('Sigmoid', [f'l{i}.gate'], [f'l{i}.gate_sig'], f'l{i}.sigmoid')
        node('Mul', [f'l{i}.gate', f'l{i}.gate_sig'], [f'l{i}.silu'], f'l{i}.silu')
        node('Mul', [f'l{i}.silu', f'l{i}.up'], [f'l{i}.act'], f'l{i}.act')
        node('MatMul', [f'l{i}.act', w(f'l{i}.down.weight', f32(m + 'down_proj.weight').T)], [f'l{i}.mlp_out'],
             f'l{i}.down')
        pending = f'l{i}.mlp_out'
        for key in [k for k in weights if k.startswith(p)]:
            del weights[key]  # keep peak memory near one copy of the weights

    norm = w('final_norm', f32('model.norm.weight'))
    assert pending is not None  # every layer leaves its output here
    node('SkipSimplifiedLayerNormalization', [pending, residual, norm], ['final_h', '', '', 'final_resid'],
         'final_norm', domain=MS, epsilon=eps)
    w('keep_end', np.array([np.iinfo(np.int64).max], dtype=np.int64))
    node('Neg', ['logits_to_keep'], ['keep_start'], 'keep_neg')
    node('Slice', ['final_h', 'keep_start', 'keep_end', 'one_i64'], ['final_kept'], 'keep_slice')
    lm_head = weights.get('lm_head.weight', weights['model.embed_tokens.weight'])
    node('MatMul', ['final_kept', w('lm_head.weight_t', lm_head.astype(np.float32).T)], ['logits'], 'lm_head')

    graph = helper.make_graph(nodes, 'reviewbot_fused_decoder', graph_inputs, graph_outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17), helper.make_opsetid(MS, 1)],
                              producer_name='reviewbot')
    model.ir_version = 8
    return model
