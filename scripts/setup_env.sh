#!/usr/bin/env bash
# Creates (or reuses) one test environment per supported Blender, each a venv of the Python that Blender runs:
#   .venv/blender-4.2  Python 3.11  bpy==4.2.*  numpy 1  (Blender 4.2 LTS: Action.fcurves)
#   .venv/blender-5.0  Python 3.11  bpy==5.0.*  numpy 1  (Blender 5.0: slotted actions only)
#   .venv/blender-5.2  Python 3.13  bpy==5.2.*  numpy 2  (Blender 5.2 LTS)
# What each installs is requirements/blender-<version>.txt (with the files it includes), then mediapipe without its
# declared dependencies: requirements/nodeps.txt (0.10.21, legacy solutions) in the Python 3.11 venvs,
# requirements/nodeps-tasks.txt (0.10.35, Tasks API) in the Python 3.13 one. Re-installs only when a requirements
# file changed. Then the pose model bundles for the Tasks API are built once into .cache/models
# (scripts/build_pose_models.py, from the sha256-checked mediapipe 0.10.21 wheel).
# Usage: scripts/setup_env.sh [4.2|5.0|5.2 ...]     scripts/setup_env.sh --list  (prints the tested versions)
# Python is found on PATH (python3.11 / python3.13), then in pyenv; PYTHON311 / PYTHON313 override.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

# The test matrix: Blender version -> the Python its bpy wheel is built for.
declare -A PYTHON_OF=([4.2]=3.11 [5.0]=3.11 [5.2]=3.13)
# Python -> the mediapipe installed without deps (0.10.21 has no cp313 wheel; 0.10.35 has no legacy solutions).
declare -A NODEPS_OF=([3.11]=requirements/nodeps.txt [3.13]=requirements/nodeps-tasks.txt)
ALL_VERSIONS=(4.2 5.0 5.2)

if [ "${1:-}" = "--list" ]; then echo "${ALL_VERSIONS[*]}"; exit 0; fi
versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=("${ALL_VERSIONS[@]}")

# find_python 3.13 -> prints a command that runs exactly that Python version.
find_python() {
  local want="$1" override_var="PYTHON${1/./}" c
  local candidates=("${!override_var:-}" "python$want")
  local pyenv_root="${PYENV_ROOT:-$HOME/.pyenv}"  # pyenv's versions, even when pyenv selects another one
  candidates+=("$pyenv_root"/versions/"$want"*/bin/"python$want")
  candidates+=(python3)
  for c in "${candidates[@]}"; do
    [ -n "$c" ] || continue
    if command -v "$c" >/dev/null 2>&1 &&
       "$c" -c "import sys, venv; sys.exit(sys.version_info[:2] != tuple(map(int, '$want'.split('.'))))" 2>/dev/null; then
      echo "$c"; return 0
    fi
  done
  return 1
}

missing_python() {
  local want="$1" v="$2"
  cat >&2 <<EOF
setup_env: Blender $v needs Python $want (its bpy wheel is cp${want/./} only), and none was found:
  looked for \$PYTHON${want/./}, python$want on PATH, pyenv's $want.*, and python3.
  Install it, then re-run (or set PYTHON${want/./}=/path/to/python$want):
    Debian/Ubuntu:  apt-get install python$want python$want-venv   (where the release has it; else pyenv,
                    or Ubuntu's deadsnakes PPA)
    pyenv:          pyenv install $want
    macOS:          brew install python@$want
    Windows:        py install $want   (or the installer from python.org)
EOF
}

# Requirement files a version reads (its own file plus what it includes with -r), for the stamp.
req_files_of() {
  local file="requirements/blender-$1.txt" inc
  echo "$file"
  while read -r inc; do echo "requirements/$inc"; done < <(sed -n 's/^-r[[:space:]]*\([^[:space:]#]*\).*/\1/p' "$file")
}

for v in "${versions[@]}"; do
  want="${PYTHON_OF[$v]:-}"
  if [ -z "$want" ] || [ ! -f "requirements/blender-$v.txt" ]; then
    echo "setup_env: unknown Blender version '$v' (supported: ${ALL_VERSIONS[*]})" >&2; exit 2
  fi
  nodeps=("${NODEPS_OF[$want]}")
  venv=".venv/blender-$v"
  mapfile -t files < <(req_files_of "$v")
  stamp_want="python$want $(cat "${files[@]}" "${nodeps[@]}" | sha256sum | cut -c1-16)"
  if [ -x "$venv/bin/python" ] && [ "$(cat "$venv/.setup-stamp" 2>/dev/null)" = "$stamp_want" ]; then
    continue
  fi
  py="$(find_python "$want")" || { missing_python "$want" "$v"; exit 2; }
  echo "setup_env: preparing $venv (Python $want: $py)" >&2
  if [ -x "$venv/bin/python" ] && ! "$venv/bin/python" -c "import sys; sys.exit(sys.version_info[:2] != tuple(map(int, '$want'.split('.'))))"; then
    echo "setup_env: $venv is not Python $want: recreating it" >&2
    rm -rf "$venv"
  fi
  [ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "requirements/blender-$v.txt" 2>&1 |
    grep -v "^WARNING: Location" || true
  "$venv/bin/python" -c "import bpy, numpy, pydantic, requests, pytest, av" ||
    { echo "setup_env: $venv is incomplete" >&2; exit 1; }
  "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps -r "${nodeps[0]}" 2>&1 |
    grep -v "^WARNING: Location" || true
  echo "$stamp_want" > "$venv/.setup-stamp"
done

# The Tasks API's model bundles (pose and hands), built from mediapipe 0.10.21's models, shared by every venv.
models=".cache/models"
if [ ! -f "$models/pose_landmarker_full.task" ] || [ ! -f "$models/hand_landmarker_full.task" ] ||
   [ "scripts/build_pose_models.py" -nt "$models/pose_landmarker_full.task" ]; then
  "$venv/bin/python" scripts/build_pose_models.py "$models"
fi
for v in "${versions[@]}"; do
  ".venv/blender-$v/bin/python" -c "
import sys
from local_engine.pose.landmarker import describe
d = describe()
sys.exit(f'setup_env: no BlazePose runtime in .venv/blender-$v: {d[\"problem\"]}' if d['runtime'] is None else 0)"
done
