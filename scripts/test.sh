#!/usr/bin/env bash
# Sets everything up and runs every test: lint, types (against the bpy stubs of the oldest and the newest
# supported Blender), the extension build, and the whole pytest suite inside every Blender of the test matrix
# (scripts/setup_env.sh --list: 4.2 LTS and 5.0 on Python 3.11, 5.2 LTS on Python 3.13). Exits non-zero on any
# failure. Extra arguments go to pytest (e.g. scripts/test.sh -k retarget).
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
set -e
bash scripts/setup_env.sh
bash scripts/setup_sdk_env.sh
bash scripts/fetch_test_data.sh
read -r -a versions <<< "$(bash scripts/setup_env.sh --list)"
set +e

status=0
py42=.venv/blender-4.2/bin/python
echo "== ruff" >&2
$py42 -m ruff check . || status=1
# Each run in the venv holding that Blender's stubs. fake-bpy-module-5-2 types every callback argument as
# optional (Operator.execute(context: Context | None), ...), which Blender never passes: the 5.2 run leaves
# signature overrides to the 4.2 run (whose stubs type them as Blender calls them) and checks everything else.
for v in 4.2 5.2; do
  echo "== mypy (bpy layer against fake-bpy-module-${v/./-})" >&2
  py=".venv/blender-$v/bin/python"
  extra=()
  [ "$v" = 5.2 ] && extra=(--disable-error-code override)
  $py -m mypy --python-executable "$py" --cache-dir ".mypy_cache/blender-$v" "${extra[@]}" || status=1
done
echo "== build extension" >&2
$py42 scripts/build_extension.py || status=1

for v in "${versions[@]}"; do
  echo "== pytest in Blender $v" >&2
  MOVE_MOCAP_BLENDER="$v" ".venv/blender-$v/bin/python" -m pytest -p no:cacheprovider "$@" || status=1
done
if [ $status -ne 0 ]; then echo "scripts/test.sh: FAILED" >&2; else echo "scripts/test.sh: all passed" >&2; fi
exit $status
