"""Risk features from the real tiny model (fp32 export, hidden-state outputs added in memory)."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from reviewbot.core import ChangeKind, FileChange
from reviewbot.engine import paths
from reviewbot.reviewers import model as M
from reviewbot.risk import features as F

TINY = 'smollm2-135m'

BEFORE = '''import os


def load(path):
    with open(path) as f:
        data = f.read()
    return data


def size(path):
    return os.path.getsize(path)
'''

HUNK = '''@@ -4,4 +4,6 @@
 def load(path):
-    with open(path) as f:
-        data = f.read()
+    f = open(path)
+    data = f.read()
+    if not data:
+        return None
     return data
'''


@pytest.fixture(scope='module')
def tiny():
    folder = paths.onnx_path(TINY, 'fp32')
    if not (folder / paths.MANIFEST).is_file() or importlib.util.find_spec('onnx') is None:
        pytest.skip(f'{TINY} fp32 is not exported here (or onnx is missing)')
    from eval.risk.graph import close, with_hidden_states
    model = with_hidden_states(folder, layers=(12, 18), threads=1)
    yield model
    close(model)


def _prompt(model, view: str):
    from eval.risk.features import parse_hunk
    hunk = parse_hunk('app/io.py', HUNK)
    unit = M.make_units(FileChange('app/io.py', 'app/io.py', ChangeKind.MODIFIED, [hunk]))[0]
    unit.view = view
    prompt = model.chat_prompt(M.review_messages(unit))
    at = prompt.rfind('\n' + view + '\n')
    return prompt[:at + 1], prompt[at + 1:]


def _view():
    from eval.risk.features import new_file, parse_hunk
    hunk = parse_hunk('app/io.py', HUNK)
    unit = M.make_units(FileChange('app/io.py', 'app/io.py', ChangeKind.MODIFIED, [hunk]))[0]
    text = new_file(BEFORE, hunk)
    assert text is not None and 'if not data:' in text
    return M.render_view(unit, text), hunk


def test_states_come_from_the_same_prefill_and_change_no_number(tiny):
    view, _ = _view()
    prefix, text = _prompt(tiny, view)
    plain = tiny.token_surprisals(prefix, text)
    tiny.prefix_cache.clear()
    states: dict = {}
    with_states = tiny.token_surprisals(prefix, text, states=states)
    assert with_states == plain
    n_text = len(tiny.encode(text))
    assert sorted(states) == ['hidden.12', 'hidden.18']
    assert all(rows.shape == (n_text, 576) for rows in states.values())
    assert not np.isnan(states['hidden.12']).any()
    assert not np.allclose(states['hidden.12'], states['hidden.18'])


def test_features_read_only_the_rows_they_pool_over(tiny):
    """The research prefill feeds a view cut at VIEW_TOKEN_CAP tokens: the model is causal, so the
    pooled hidden states and the line surprisals of the rows read are those of the full view."""
    view, _ = _view()
    rows = view.split('\n')
    cut = '\n'.join(rows[:-2])  # the last context rows dropped; the added rows kept
    full = F.read_prefill(tiny, *_prompt(tiny, view), view)
    tiny.prefix_cache.clear()
    short = F.read_prefill(tiny, *_prompt(tiny, cut), cut)
    assert full.hidden and set(full.hidden) == set(short.hidden)
    for name in full.hidden:
        np.testing.assert_allclose(full.hidden[name], short.hidden[name], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(full.added, short.added, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(full.removed, short.removed, rtol=1e-4, atol=1e-4)
    assert full.removed is not None and full.added is not None


def test_answer_only_prefill_gives_the_same_hidden_and_triage(tiny):
    """What the product pays for (naturalness off: only the answer is projected on the vocabulary)
    reads the same hidden states and triage score as the research prefill."""
    view, _ = _view()
    prefix, text = _prompt(tiny, view)
    both = F.read_prefill(tiny, prefix, text, view, naturalness=True)
    tiny.prefix_cache.clear()
    cheap = F.read_prefill(tiny, prefix, text, view, naturalness=False)
    assert cheap.added is None and cheap.removed is None
    assert cheap.triage == pytest.approx(both.triage, abs=1e-4)
    for name in both.hidden:
        np.testing.assert_allclose(cheap.hidden[name], both.hidden[name], rtol=1e-4, atol=1e-4)


def test_change_metrics_count_branches_and_spread():
    _, hunk = _view()
    m = F.change_metrics([hunk], files=2, change_added=10, change_removed=3)
    assert (m.added, m.removed, m.files, m.spread) == (4, 2, 2, 6)
    assert m.complexity_delta == 1 - 1  # `if` added, `with` removed
    assert len(m.vector()) == len(F.METRIC_NAMES)
