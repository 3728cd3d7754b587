#!/usr/bin/env bash
# Sets everything up and runs every test: lint, types, the extension build, and the whole pytest suite
# inside real Blender 4.2 LTS and 5.0 (the bpy module). Exits non-zero on any failure.
# Extra arguments go to pytest (e.g. scripts/test.sh -k retarget).
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
set -e
bash scripts/setup_env.sh
bash scripts/setup_sdk_env.sh
bash scripts/fetch_test_data.sh
set +e

status=0
py42=.venv/blender-4.2/bin/python
echo "== ruff" >&2
$py42 -m ruff check . || status=1
echo "== mypy (bpy layer against fake-bpy-module 4.2)" >&2
$py42 -m mypy || status=1
echo "== build extension" >&2
$py42 scripts/build_extension.py || status=1

for v in 4.2 5.0; do
  echo "== pytest in Blender $v" >&2
  MOVE_MOCAP_BLENDER="$v" ".venv/blender-$v/bin/python" -m pytest -p no:cacheprovider "$@" || status=1
done
if [ $status -ne 0 ]; then echo "scripts/test.sh: FAILED" >&2; else echo "scripts/test.sh: all passed" >&2; fi
exit $status
