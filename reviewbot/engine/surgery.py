"""Step 3 of the export (reviewbot.engine.export): edits to the decoder graph, each a few nodes.

- keep_last_logits (optimum graph): logits only for the last `logits_to_keep` positions, and a tied
  lm_head's Transpose folded into a constant (so the quantizers see a plain MatMul);
- add_scoring (both graphs): `target_ids` -> `target_logprobs`, the log-probability of a given token at
  each kept position, so scoring reads N floats instead of N x vocabulary logits;
- add_hidden_states (fused graph): outputs `hidden.<layer>` for the risk read-out (reviewbot.risk).
Needs the `export` extra (onnx, numpy); never imported at review time.
"""
from __future__ import annotations

from pathlib import Path

from reviewbot.errors import ModelError

LOGITS_TO_KEEP = 'logits_to_keep'
TARGET_IDS = 'target_ids'
TARGET_LOGPROBS = 'target_logprobs'
HIDDEN_PREFIX = 'hidden.'
# Layers whose input (the RMS-normalised residual stream after layer-1 blocks, tensor `l<layer>.h`
# of the fused graph) becomes an output: the middle and three quarters of Qwen2.5-0.5B's 24 layers.
HIDDEN_LAYERS = (12, 18)


def keep_last_logits(model) -> None:
    """Step 3: compute logits only for the last `logits_to_keep` positions.

    optimum's graph multiplies every prompt position by the vocabulary-sized lm_head (352 MB of
    logits for a 600-token Qwen prompt); generation needs one position, surprisal scoring a few.
    A tied lm_head (MatMul over Transpose(embedding)) gets the transposed weight as a constant, so
    the quantizers see a plain MatMul with a constant B."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = model.graph
    producer = {out: node for node in graph.node for out in node.output}
    lm_head = producer.get('logits')
    if lm_head is None or lm_head.op_type != 'MatMul':
        raise ModelError('unexpected ONNX graph: logits are not produced by a MatMul (lm_head)')
    inits = {t.name: t for t in graph.initializer}
    weight = lm_head.input[1]
    transpose = producer.get(weight)
    if transpose is not None and transpose.op_type == 'Transpose' and transpose.input[0] in inits:
        folded = numpy_helper.to_array(inits[transpose.input[0]], base_dir='').T.copy()
        name = 'lm_head.weight_folded'
        graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(folded), name))
        lm_head.input[1] = name
        if not any(weight in n.input for n in graph.node if n is not lm_head):
            graph.node.remove(transpose)

    graph.input.append(helper.make_tensor_value_info(LOGITS_TO_KEEP, TensorProto.INT64, [1]))
    hidden = lm_head.input[0]
    graph.initializer.extend([
        numpy_helper.from_array(np.array([np.iinfo(np.int64).max], dtype=np.int64), 'logits_keep_end'),
        numpy_helper.from_array(np.array([1], dtype=np.int64), 'logits_keep_axis'),
    ])
    neg = helper.make_node('Neg', [LOGITS_TO_KEEP], ['logits_keep_start'], name='logits_keep_neg')
    sliced = helper.make_node('Slice', [hidden, 'logits_keep_start', 'logits_keep_end', 'logits_keep_axis'],
                              ['lm_head_input_kept'], name='logits_keep_slice')
    lm_head.input[0] = 'lm_head_input_kept'
    index = list(graph.node).index(lm_head)
    graph.node.insert(index, sliced)
    graph.node.insert(index, neg)
    onnx.checker.check_model(model, full_check=False) if model.ByteSize() < 2_000_000_000 else None


def add_scoring(model) -> None:
    """Step 3b: a scoring output next to the logits.

    Input `target_ids` [batch, kept] (int64), output `target_logprobs` [batch, kept]: the
    log-probability of target_ids[b, i] at the i-th kept position, i.e. logits[target] minus the
    log-sum-exp over the vocabulary, computed in the graph. Surprisal scoring then reads N floats
    instead of N x vocabulary logits (151,936 per position for Qwen) and log-softmaxing them in
    numpy. Generation feeds a dummy target and reads only `logits`."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    graph = model.graph
    if any(o.name == TARGET_LOGPROBS for o in graph.output):
        return
    if not any(o.name == 'logits' for o in graph.output):
        raise ModelError('unexpected ONNX graph: no logits output')
    opset = next((o.version for o in model.opset_import if o.domain in ('', 'ai.onnx')), 0)
    if opset < 13:
        raise ModelError(f'unexpected ONNX graph: opset {opset} (the scoring output needs 13 or later)')
    graph.input.append(helper.make_tensor_value_info(TARGET_IDS, TensorProto.INT64, ['batch_size', 'kept']))
    graph.output.append(helper.make_tensor_value_info(TARGET_LOGPROBS, TensorProto.FLOAT,
                                                      ['batch_size', 'kept']))
    graph.initializer.append(numpy_helper.from_array(np.array([2], dtype=np.int64), 'score_axis'))
    # LogSoftmax then a gather: onnxruntime's LogSoftmax is vectorised and max-shifted (4e-5 from
    # float64 over 152k logits); its ReduceLogSumExp was 16x less accurate and slower.
    nodes = [
        helper.make_node('LogSoftmax', ['logits'], ['score_logsoftmax'], name='score_logsoftmax', axis=-1),
        helper.make_node('Unsqueeze', [TARGET_IDS, 'score_axis'], ['score_targets'], name='score_unsqueeze'),
        helper.make_node('GatherElements', ['score_logsoftmax', 'score_targets'], ['score_logprob'],
                         name='score_gather', axis=2),
        helper.make_node('Squeeze', ['score_logprob', 'score_axis'], [TARGET_LOGPROBS], name='score_squeeze'),
    ]
    graph.node.extend(nodes)


def add_hidden_states(model, layers: tuple[int, ...] = HIDDEN_LAYERS) -> list[str]:
    """Step 3c (fused graph): outputs `hidden.<layer>` [batch, sequence, hidden] = the fused graph's
    tensor `l<layer>.h` (RMSNorm of the residual stream entering block <layer>), through an
    Identity so the name is stable. Works on the built graph and on an exported (optimized) one,
    whose tensor names are the same. Returns the names added (none when the graph has no such
    tensor, e.g. an optimum graph: such exports get no risk score)."""
    from onnx import TensorProto, helper

    graph = model.graph
    have = {out for node in graph.node for out in node.output}
    existing = {o.name for o in graph.output}
    added = []
    for layer in layers:
        source, name = f'l{layer}.h', f'{HIDDEN_PREFIX}{layer}'
        if source not in have or name in existing:
            continue
        graph.node.append(helper.make_node('Identity', [source], [name], name=f'hidden_{layer}'))
        graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT,
                                                          ['batch_size', 'sequence_length', 'hidden']))
        added.append(name)
    return added


def save(model, path: Path) -> None:
    import onnx
    big = sum(t.ByteSize() for t in model.graph.initializer) > 1_800_000_000
    onnx.save_model(model, str(path), save_as_external_data=big, all_tensors_to_one_file=True,
                    location=path.name + '.data', size_threshold=1024)
