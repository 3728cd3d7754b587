#!/usr/bin/env bash
# The main job, end to end, on a fresh machine: set up Blender 4.2 (bpy module), build the extension with
# Blender's own tools, install the zip into a throw-away Blender user folder and enable it there.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bash scripts/setup_env.sh 4.2
py=.venv/blender-4.2/bin/python
$py scripts/build_extension.py
out="$root/build/demo"
rm -rf "$out" && mkdir -p "$out"
BLENDER_USER_RESOURCES="$out/blender-user" $py tests/foundation/install_check.py \
  "dist/move_mocap-$(sed -n 's/^version = "\(.*\)"/\1/p' blender_manifest.toml)-linux-x64.zip" | grep '^INSTALL_CHECK' \
  | sed 's/^INSTALL_CHECK //' > "$out/install_check.json"
echo "demo: installed and enabled in Blender 4.2; report in $out/install_check.json" >&2
