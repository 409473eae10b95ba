#!/usr/bin/env bash
# Set reviewbot up on a fresh machine and run a real review.
#   scripts/setup.sh            venv + all extras + semgrep's own environment, fetch and export the
#                               default model, review a real diff
#   scripts/setup.sh --deps     venv + all extras + semgrep's own environment only (what CI needs)
# Re-running is cheap: pip and the model cache skip what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${REVIEWBOT_VENV:-.venv}
PY=${PYTHON:-python3}

if [ ! -x "$VENV/bin/python" ]; then
  echo "==> creating virtualenv $VENV"
  "$PY" -m venv "$VENV"
fi
# semgrep pins old libraries (click, ...): in this venv it broke `pip check`. It now lives in an
# environment of its own (below); a venv made before that still has it, and loses it here.
if "$VENV/bin/python" -m pip show --quiet semgrep >/dev/null 2>&1; then
  echo "==> removing semgrep from $VENV (it now has an environment of its own)"
  "$VENV/bin/python" -m pip uninstall --quiet --yes semgrep
fi
echo "==> installing reviewbot with its extras (torch is pinned to the CPU wheel)"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet -e ".[export,publish,cloud,server,test]"
echo "==> semgrep (the patterns reviewer) in its own environment under the user cache; once"
"$VENV/bin/reviewbot" tools install semgrep
echo "==> pip check"
"$VENV/bin/python" -m pip check

if [ "${1:-}" = "--deps" ]; then
  exit 0
fi

MODEL=${REVIEWBOT_SETUP_MODEL:-qwen2.5-coder-0.5b}
echo "==> fetching and exporting the default model ($MODEL); cached after the first run"
"$VENV/bin/reviewbot" model fetch "$MODEL"
# a second run re-exports nothing: an export whose files still match their sha256 and whose layout
# is the current one (export_version; older ones load but score slower) is kept
current_export() {
    "$VENV/bin/python" - "$MODEL" <<'PY'
import json, sys
from reviewbot.engine import export, paths
data = json.loads((paths.onnx_path(sys.argv[1], 'int4') / paths.MANIFEST).read_text(encoding='utf-8'))
sys.exit(0 if data.get('export_version') == export.EXPORT_VERSION else 1)
PY
}
if "$VENV/bin/reviewbot" model verify "$MODEL" 2>/dev/null | grep -q 'onnx-int4' && current_export; then
    echo "==> $MODEL is already exported (int4, sha256 verified)"
else
    "$VENV/bin/reviewbot" model export "$MODEL"
fi
echo "==> reviewing a real diff: examples/sql-injection.diff applied as a commit in a temp repository"
REVIEWBOT="$(cd "$VENV" && pwd)/bin/reviewbot"
demo=$(mktemp -d)
trap 'rm -rf "$demo"' EXIT
cp -r examples/demo-base/. "$demo/"
git -C "$demo" init -q
git -C "$demo" add -A
git -C "$demo" -c user.name=demo -c user.email=demo@example.invalid commit -qm base
git -C "$demo" apply "$PWD/examples/sql-injection.diff"
git -C "$demo" add -A
git -C "$demo" -c user.name=demo -c user.email=demo@example.invalid commit -qm change
set +e
# examples/demo-model.toml asks the model for its own findings too (as info): the defaults ask it nothing
DEMO_CONFIG="$PWD/examples/demo-model.toml"
(cd "$demo" && "$REVIEWBOT" review --range HEAD~1..HEAD --model "$MODEL" --config "$DEMO_CONFIG" --fail-level none)
status=$?
set -e
echo "==> done (review exit code $status). Run the tests with: $VENV/bin/python -m pytest"
exit $status
