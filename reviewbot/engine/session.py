"""The onnxruntime session options the local model runs with (reviewbot.engine.runtime)."""
from __future__ import annotations

import os
from typing import Any

ENV_SPIN = 'REVIEWBOT_ORT_SPIN'


def _spin() -> bool:
    """Whether onnxruntime's threads busy-wait between operators. They do on an idle machine
    (a decode step is ~300 small operators); not when the 1-minute load average is over the core
    count: then spinning threads steal time from the ones doing the work (measured at load 6 on
    2 cores: decode 8 -> 14 tok/s, prefill +10-25 %). $REVIEWBOT_ORT_SPIN=1/0 decides instead."""
    forced = os.environ.get(ENV_SPIN, '').strip()
    if forced in ('0', '1'):
        return forced == '1'
    try:
        return os.getloadavg()[0] < (os.cpu_count() or 1)
    except OSError:  # pragma: no cover - no load average on this platform
        return True


def session_options(threads: int) -> Any:
    """Sequential execution on `threads` intra-op threads, every graph optimisation, quiet logs, and
    spinning threads only on an idle machine (_spin)."""
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, int(threads))
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    options.add_session_config_entry('session.intra_op.allow_spinning', '1' if _spin() else '0')
    return options
