#!/usr/bin/env bash
# The main job, end to end, on a fresh machine:
#  1. installs what it needs (Blender 4.2 as the bpy module, the engine's packages, the real footage),
#  2. builds the extension with Blender's own tools (dist/, four validated platform zips),
#  3. starts the local Move-compatible engine (MediaPipe markerless capture) on a loopback port,
#  4. runs the add-on's own pipeline headless (scripts/mocap.py) on real footage: upload, take, job,
#     processing, download, import, retarget onto a Rigify character,
#  5. saves build/demo/demo.blend and a preview a person can look at: build/demo/preview.png (contact
#     sheet: footage | rig front | rig side) and build/demo/preview.mp4.
# Usage: bash scripts/demo.sh [VIDEO]   (default: the Sports2D demo footage, fetched from PyPI)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bash scripts/setup_env.sh 4.2
bash scripts/fetch_test_data.sh
py=.venv/blender-4.2/bin/python
video="$(realpath "${1:-.cache/testdata/sports2d/demo.mp4}")"
out="$root/build/demo"
rm -rf "$out" && mkdir -p "$out"

echo "demo: building the extension" >&2
$py scripts/build_extension.py >/dev/null

echo "demo: building a Rigify character" >&2
$py scripts/demo_scene.py "$out/character.blend" >/dev/null 2>&1

key="demo-$($py -c 'import secrets; print(secrets.token_hex(12))')"
port="$($py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
echo "demo: starting the local engine on 127.0.0.1:$port (mediapipe solver)" >&2
$py -m local_engine serve --host 127.0.0.1 --port "$port" --data "$out/engine" --api-key "$key" \
  --solver mediapipe --log-level warning > "$out/engine.log" 2>&1 &
engine=$!
trap 'kill $engine 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/_health" >/dev/null 2>&1 && break
  kill -0 $engine 2>/dev/null || { echo "demo: the engine did not start:" >&2; cat "$out/engine.log" >&2; exit 1; }
  sleep 0.2
done

echo "demo: processing $(basename "$video") through the add-on's pipeline" >&2
MOVE_API_KEY="$key" MOVE_MOCAP_USER_DIR="$out/user" $py scripts/mocap.py process "$video" \
  --endpoint "http://127.0.0.1:$port/ugc/graphql" --blend "$out/character.blend" --target Character \
  --outputs MAIN_FBX,MOTION_DATA,RENDER_OVERLAY_VIDEO --floor-plane --download-dir "$out/downloads" \
  --save "$out/demo.blend" --report "$out/report.json"

echo "demo: rendering the preview" >&2
$py scripts/preview.py --blend "$out/demo.blend" --armature Character --video "$video" \
  --out "$out/preview.png" --video-out "$out/preview.mp4" >/dev/null 2>&1
echo "demo: done. Open $out/demo.blend in Blender; look at $out/preview.png and $out/preview.mp4" >&2
