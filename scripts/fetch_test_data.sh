#!/usr/bin/env bash
# Fetches the real data the tests and the demo use, with package managers only, into .cache/testdata/:
#   bvh/01_01.bvh, bvh/01_03.bvh      CMU motion capture (Debian assimp-testmodels)
#   sports2d/demo.mp4                  real footage, one camera, 30 fps (PyPI sports2d)
#   pose2sim/Demo_SinglePerson/...     four synchronised 60 fps views + calibration (PyPI pose2sim)
#   pose2sim/Demo_MultiPerson/...      the same four cameras filming two people (same wheel)
#   pose2sim/Demo_SinglePerson/calibration/Calib_qualisys.toml
#                                      Pose2Sim's own .toml of the same four cameras (its converter's output,
#                                      shipped in pose2sim 0.4.15's Demo; the same Qualisys calibration)
#   audio/HandClap.wav                 a recorded hand clap (Debian hydrogen-data, GMRockKit)
# Idempotent: what is already there is kept.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/.cache/testdata"
mkdir -p "$dest"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
PY="${PYTHON:-python3}"

if [ ! -s "$dest/bvh/01_03.bvh" ]; then
  echo "fetch_test_data: CMU BVH from Debian assimp-testmodels" >&2
  ( cd "$tmp" && { apt-get download assimp-testmodels >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get download assimp-testmodels >/dev/null; }; } )
  dpkg -x "$tmp"/assimp-testmodels_*.deb "$tmp/assimp"
  mkdir -p "$dest/bvh"
  cp "$tmp/assimp/usr/share/assimp/models/BVH/01_01.bvh" "$tmp/assimp/usr/share/assimp/models/BVH/01_03.bvh" "$dest/bvh/"
fi

if [ ! -s "$dest/sports2d/demo.mp4" ]; then
  echo "fetch_test_data: real footage from PyPI sports2d" >&2
  "$PY" -m pip download -q --no-deps -d "$tmp/s2d" sports2d >/dev/null
  mkdir -p "$dest/sports2d"
  "$PY" - "$tmp/s2d" "$dest/sports2d" <<'PY'
import sys, zipfile, pathlib
whl = next(pathlib.Path(sys.argv[1]).glob("*.whl"))
with zipfile.ZipFile(whl) as z:
    name = next(n for n in z.namelist() if n.endswith("Demo/demo.mp4"))
    pathlib.Path(sys.argv[2], "demo.mp4").write_bytes(z.read(name))
PY
fi

if [ ! -d "$dest/pose2sim/Demo_SinglePerson/videos" ] || [ ! -d "$dest/pose2sim/Demo_MultiPerson/videos" ]; then
  echo "fetch_test_data: multi-camera footage and calibration from PyPI pose2sim" >&2
  "$PY" -m pip download -q --no-deps -d "$tmp/p2s" pose2sim >/dev/null
  mkdir -p "$dest/pose2sim"
  "$PY" - "$tmp/p2s" "$dest/pose2sim" <<'PY'
import sys, zipfile, pathlib
whl = next(pathlib.Path(sys.argv[1]).glob("*.whl"))
out = pathlib.Path(sys.argv[2])
with zipfile.ZipFile(whl) as z:
    for demo in ("Demo_SinglePerson", "Demo_MultiPerson"):
        if (out / demo / "videos").is_dir():
            continue  # kept as it is (landmark caches are keyed by the files' times)
        marker = f"Pose2Sim/{demo}/"
        for n in z.namelist():
            if marker in n and ("/videos/" in n or "/calibration/" in n) and not n.endswith("/"):
                target = out / demo / n.split(marker, 1)[1]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(z.read(n))
PY
fi
toml="$dest/pose2sim/Demo_SinglePerson/calibration/Calib_qualisys.toml"
if [ ! -s "$toml" ]; then
  echo "fetch_test_data: Pose2Sim's own .toml calibration from PyPI pose2sim 0.4.15" >&2
  "$PY" -m pip download -q --no-deps -d "$tmp/p2s04" pose2sim==0.4.15 >/dev/null
  "$PY" - "$tmp/p2s04" "$toml" <<'PY'
import sys, zipfile, pathlib
whl = next(pathlib.Path(sys.argv[1]).glob("*.whl"))
with zipfile.ZipFile(whl) as z:
    out = pathlib.Path(sys.argv[2])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(z.read("Pose2Sim/Demo/calibration/Calib_qualisys.toml"))
PY
fi

if [ ! -s "$dest/audio/HandClap.wav" ]; then
  echo "fetch_test_data: a recorded hand clap from Debian hydrogen-data" >&2
  ( cd "$tmp" && { apt-get download hydrogen-data >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get download hydrogen-data >/dev/null; }; } )
  dpkg -x "$tmp"/hydrogen-data_*.deb "$tmp/hydrogen"
  mkdir -p "$dest/audio"
  cp "$tmp/hydrogen/usr/share/hydrogen/data/drumkits/GMRockKit/HandClap.wav" "$dest/audio/"
fi
echo "fetch_test_data: ready in $dest" >&2
