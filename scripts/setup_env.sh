#!/usr/bin/env bash
# Creates (or reuses) the two Blender test environments, both Python 3.11:
#   .venv/blender-4.2  with bpy==4.2.*  (Blender 4.2 LTS: Action.fcurves)
#   .venv/blender-5.0  with bpy==5.0.*  (Blender 5.0: slotted actions only)
# each with requirements/dev.txt (+ requirements/engine.txt, + requirements/nodeps.txt installed without
# dependencies). Re-installs only when a requirements file changed. Usage: scripts/setup_env.sh [4.2|5.0 ...]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(4.2 5.0)

find_python311() {
  for c in "${PYTHON311:-}" python3.11 python3; do
    [ -n "$c" ] || continue
    if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
      echo "$c"; return 0
    fi
  done
  return 1
}
py311="$(find_python311)" || {
  echo "setup_env: Python 3.11 is required (bpy 4.2 and 5.0 wheels are cp311); set PYTHON311=/path/to/python3.11" >&2
  exit 2
}

req_files=(requirements/dev.txt)
[ -f requirements/engine.txt ] && req_files+=(requirements/engine.txt)
[ -f requirements/nodeps.txt ] && req_files+=(requirements/nodeps.txt)

for v in "${versions[@]}"; do
  venv=".venv/blender-$v"
  stamp_want="bpy==$v.* $(cat "${req_files[@]}" | sha256sum | cut -c1-16)"
  if [ -x "$venv/bin/python" ] && [ "$(cat "$venv/.setup-stamp" 2>/dev/null)" = "$stamp_want" ]; then
    continue
  fi
  echo "setup_env: preparing $venv" >&2
  [ -x "$venv/bin/python" ] || "$py311" -m venv "$venv"
  args=("bpy==$v.*" -r requirements/dev.txt)
  [ -f requirements/engine.txt ] && args+=(-r requirements/engine.txt)
  "$venv/bin/python" -m pip install -q --disable-pip-version-check "${args[@]}" 2>&1 | grep -v "^WARNING: Location" || true
  "$venv/bin/python" -c "import bpy, pydantic, requests, pytest" || { echo "setup_env: $venv is incomplete" >&2; exit 1; }
  if [ -f requirements/nodeps.txt ]; then
    "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps -r requirements/nodeps.txt 2>&1 | grep -v "^WARNING: Location" || true
  fi
  echo "$stamp_want" > "$venv/.setup-stamp"
done
