"""The local model reviewer: a small code model (ONNX, CPU) reviews the added lines of each hunk.

A 0.5B model is weak, so most of this module is about not letting its weakness reach the user:

* Work is split into units: one hunk, or nearby hunks of one file, at most MAX_UNIT_LINES changed
  lines. The prompt shows the unit's new-file lines with explicit line numbers, added lines marked
  `+`, removed lines shown unnumbered as `-`, a few lines of surrounding code from the new revision,
  the path, the language and the team's guidelines (config `guidelines`).
* Triage: every unit gets a risk score from ONE prefill of the review prompt followed by "NONE"
  (scan_unit): the probability that the model's answer is NONE, and the surprisal of every code
  token, i.e. how unnatural each added line is to the model (Ray et al., "On the Naturalness of
  Buggy Code", ICSE 2016). Units under the threshold (config `triage_threshold`, calibrated on the
  eval set: eval/results/model.md) are cleared without generation; the others are generated
  riskiest first while the budget lasts. Every unit not reviewed is reported as Skipped with its
  reason, never silently.
* Generation does not choose the line: a 0.5B model names wrong line numbers (L1, L2, ... or the
  example's). The answer is started at the least natural added line (`L<n>:`), and the model
  says what is wrong there, or its message fails validation and nothing is reported.
* Output is one line per finding, `L<n>: <category>: <reason>`, or `NONE`; the parser is strict and
  every finding is validated: an added line of this unit, a known category, a message that is not
  boilerplate, a restatement of the code or an echo of the prompt's own example, no duplicates.
* Results (triage scores and generations) are cached on disk by model, precision, prompt version
  and the exact prompt, so re-reviewing unchanged hunks costs no inference and no model load.

The package, one module per job: units (hunks -> units, the numbered view), prompt, triage (the
scan and the risk score), validate (parsing and checking answers), cache (the result cache) and
reviewer (ModelReviewer and from_config, the registry's factory). The model itself is an
engine.Backend (reviewbot.engine.backend): local, warm daemon or in-house server. The eval's
naive single-prompt baseline is eval/baselines.py.
"""
from __future__ import annotations

from reviewbot.reviewers.model.cache import (
    ENV_CACHE_DIR,
    ResultCache,
    cache_key,
    default_cache_dir,
)
from reviewbot.reviewers.model.prompt import (
    PROMPT_VERSION,
    review_messages,
    unit_header,
)
from reviewbot.reviewers.model.reviewer import (
    DEFAULT_TRIAGE_THRESHOLD,
    ModelReviewer,
    from_config,
)
from reviewbot.reviewers.model.triage import Scan, pick_line, scan_unit, unit_risk
from reviewbot.reviewers.model.units import (
    MAX_UNIT_LINES,
    Unit,
    language,
    make_units,
    render_view,
)
from reviewbot.reviewers.model.validate import (
    NAME,
    RawFinding,
    Validation,
    parse_output,
    validate,
)

__all__ = [
    'DEFAULT_TRIAGE_THRESHOLD', 'ENV_CACHE_DIR', 'MAX_UNIT_LINES', 'NAME', 'PROMPT_VERSION', 'ModelReviewer',
    'RawFinding', 'ResultCache', 'Scan', 'Unit', 'Validation', 'cache_key', 'default_cache_dir', 'from_config',
    'language', 'make_units', 'parse_output', 'pick_line', 'render_view', 'review_messages', 'scan_unit',
    'unit_header', 'unit_risk', 'validate',
]
