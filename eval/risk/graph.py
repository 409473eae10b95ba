"""An exported model with hidden-state outputs, made in memory (research; needs `onnx`).

Exports before version 5 have no `hidden.<layer>` outputs. For the risk research the exported graph
(already optimized; the fused graph's tensor names survive) gets them appended with
reviewbot.engine.surgery.add_hidden_states, is written to a temporary folder beside a hard link to
the original weights file, and loaded by the ordinary runtime (reviewbot.engine.runtime.OnnxModel),
so research and product read the same numbers from the same code path.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

RESEARCH_LAYERS = (6, 12, 18, 23)  # the product exports 12 and 18 (surgery.HIDDEN_LAYERS); the others: ablation


def with_hidden_states(folder: Path, layers: tuple[int, ...] = RESEARCH_LAYERS, threads: int = 1):
    """OnnxModel of the export at `folder` with `hidden.<layer>` outputs added (a temp copy of the graph)."""
    import onnx

    from reviewbot.engine import surgery
    from reviewbot.engine.runtime import OnnxModel

    folder = Path(folder)
    info = json.loads((folder / 'reviewbot-model.json').read_text(encoding='utf-8'))
    model = onnx.load(str(folder / info.get('onnx', 'model.onnx')), load_external_data=False)
    added = surgery.add_hidden_states(model, layers)
    present = {o.name for o in model.graph.output}
    if not all(f'{surgery.HIDDEN_PREFIX}{layer}' in present for layer in layers):
        raise SystemExit(f'{folder}: no fused-graph tensors l<layer>.h to expose')
    if not added:  # a version-5 export already has them: use it as it is
        return OnnxModel(folder, info, threads)
    tmp = Path(tempfile.mkdtemp(prefix='reviewbot-risk-graph-'))
    for item in folder.iterdir():
        if item.name == info.get('onnx', 'model.onnx'):
            continue
        try:  # a hard link: onnxruntime refuses external data reached through a symbolic link
            os.link(item, tmp / item.name)
        except OSError:
            shutil.copyfile(item, tmp / item.name)
    onnx.save_model(model, str(tmp / info.get('onnx', 'model.onnx')))
    loaded = OnnxModel(tmp, info, threads)
    loaded._risk_tmp = tmp  # type: ignore[attr-defined]  # removed by close()
    return loaded


def close(model) -> None:
    tmp = getattr(model, '_risk_tmp', None)
    if tmp is not None:
        shutil.rmtree(tmp, ignore_errors=True)


def default_folder() -> Path:
    from reviewbot.engine import paths
    return paths.model_path('qwen2.5-coder-0.5b', os.environ.get('REVIEWBOT_MODEL_DIR') or None)
