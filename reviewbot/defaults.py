"""Every default of reviewbot in one place. The config schema (config.py), the reviewers, the engine, the
commands and the server take theirs from here, so that a default is changed once and read the same
everywhere. Plain constants only: importing this module costs nothing."""
from __future__ import annotations

# --- the review (config.py top-level keys) ---------------------------------------------------------
MODEL = 'qwen2.5-coder-0.5b'  # the local model; reviewbot/data/registry.toml's `default` says the same
REVIEWERS = ('secrets', 'ruff', 'patterns', 'model')  # in the order they run
FAIL_LEVEL = 'error'  # exit 1 at or above this severity
THREADS = 2  # CPU threads for the local model
BUDGET = 60  # seconds the reviewers (run at once) may use (0: no limit)
CI_BUDGET = 600  # the same in CI
# model reviewer: its own free-form findings are not shown by default: their measured precision is under
# 50 % (eval/results/model-precision.md: 5 of 14 within 3 lines of the defect, 0 of 14 naming it on
# reading) and on merged commits of mature projects they gave 1.2 warnings per commit, all wrong
MODEL_FINDINGS = 'off'
TRIAGE_THRESHOLD = 0.87  # model reviewer: hunks scored below are cleared (calibrated: eval/results/model.md)
MAX_FILE_CHANGED_LINES = 5000  # a file with more changed lines is skipped
MAX_DIFF_CHANGED_LINES = 50_000  # files past this many changed lines in all are skipped
UNANCHORED = 'file-note'  # a finding off the diff: reported at file level
# paths never reviewed unless default_exclude = false: lock, generated, vendored, minified files
EXCLUDE = (
    '**/*.lock', '**/package-lock.json', '**/yarn.lock', '**/pnpm-lock.yaml', '**/poetry.lock',
    '**/Cargo.lock', '**/go.sum', '**/*.min.js', '**/*.min.css', '**/*.map',
    '**/vendor/**', '**/node_modules/**', '**/dist/**', '**/*_pb2.py', '**/*.pb.go',
)
SERVER_TOKEN_ENV = 'REVIEWBOT_SERVER_TOKEN'  # the bearer token of an in-house server (client and server)

# --- the hook ([hook]) and the warm model daemon ([daemon]) ----------------------------------------
HOOK_BUDGET = 20  # a hook must answer in seconds
HOOK_ON_MISSING_MODEL = 'fail-open'
DAEMON_MODE = 'use'
DAEMON_IDLE_MINUTES = 15

# --- fixes ([fix]) ----------------------------------------------------------------------------------
# the model fixer is off: of 7 model fixes that passed the verifier on the eval set, 2 were judged
# correct (benchmarks/results/fixes-hand-review.md)
FIX_MODEL = 'off'
FIX_MODEL_MIN_SECONDS = 3.0  # no model fix is started (nor the model loaded for one) with less time left

# --- `reviewbot serve` ------------------------------------------------------------------------------
SERVER_HOST = '127.0.0.1'  # loopback; any other address needs a bearer token
SERVER_PORT = 8000
SERVER_QUEUE_SIZE = 8  # requests that may wait for the model; more get 429
SERVER_MAX_REQUEST_BYTES = 2 * 1024 * 1024  # larger bodies get 413
SERVER_REQUEST_TIMEOUT = 120.0  # seconds from arrival to answer, queue wait included
SERVER_MAX_TOKENS = 1024  # most new tokens one request may ask for
SERVER_GRACEFUL_TIMEOUT = 300.0  # on SIGTERM, how long in-flight requests may take to finish
