#!/usr/bin/env bash
# Creates (or reuses) .venv/move-sdk: Python 3.11 with Move's own Python SDK (move-ugc-python, pinned below),
# used by tests/local_engine/test_sdk_conformance.py to drive the local engine as a Move customer would.
# The SDK pins gql and graphql-core 3.2, which clash with the engine's graphql-core 3.3, hence its own venv.
# Re-installs only when the pin changes (stamp file). Usage: scripts/setup_sdk_env.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
SDK_REQUIREMENT="move-ugc-python==4.1.0"
venv=.venv/move-sdk
stamp_want="$SDK_REQUIREMENT"
if [ -x "$venv/bin/python" ] && [ "$(cat "$venv/.setup-stamp" 2>/dev/null)" = "$stamp_want" ]; then
  exit 0
fi
py311=""
for c in "${PYTHON311:-}" python3.11 python3; do
  [ -n "$c" ] || continue
  if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
    py311="$c"; break
  fi
done
[ -n "$py311" ] || { echo "setup_sdk_env: Python 3.11 is required; set PYTHON311=/path/to/python3.11" >&2; exit 2; }
echo "setup_sdk_env: preparing $venv ($SDK_REQUIREMENT)" >&2
[ -x "$venv/bin/python" ] || "$py311" -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check "$SDK_REQUIREMENT" 2>&1 | grep -v "^WARNING: Location" || true
"$venv/bin/python" -c "import move_ugc, gql" || { echo "setup_sdk_env: $venv is incomplete" >&2; exit 1; }
echo "$stamp_want" > "$venv/.setup-stamp"
