"""Benchmark ``ui``: how long the add-on holds Blender's main thread while a whole workflow runs.

Starts the local server, enables the add-on inside the bpy module, submits a 1 GiB video and drives the
add-on's timer callback (``runtime.tick``) the way Blender's timer loop would (call, then wait the interval it
returns) until the result is applied. Prints ONE JSON line: ``max_slice_ms`` and ``p99_slice_ms`` of the tick
(target: max <= 10 ms), the same for idle ticks measured first in this run (the baseline) and their ratio,
and, separately, the one-off apply step (an import: its own undo step, run from its own timer).
Run: ``.venv/blender-4.2/bin/python scripts/bench.py ui [--size-mib N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import struct
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="bench.py ui")
    ap.add_argument("--size-mib", type=int, default=1024, help="size of the uploaded video (default 1 GiB)")
    args = ap.parse_args(argv)

    import importlib

    import bpy

    addon_utils = importlib.import_module("addon_utils")  # importable once bpy is (Blender's own modules)

    from tests.fixtures.local_server import DEFAULT_MOTION, LocalServer

    with tempfile.TemporaryDirectory(prefix="move_ui_bench_") as tmp_name:
        tmp = Path(tmp_name)
        os.environ["MOVE_MOCAP_USER_DIR"] = str(tmp / "user")
        server = LocalServer(tmp / "server", motion=DEFAULT_MOTION).start()
        try:
            os.environ["MOVE_API_KEY"] = server.api_key
            video = tmp / "big.mp4"
            with open(video, "wb") as fh:  # real bytes on disk (the replay solver does not decode them)
                block = os.urandom(1 << 20)
                # MP4 atoms (ftyp, moov, a 64-bit mdat) around the bytes: the add-on's pre-upload check passes
                fh.write(struct.pack(">I4s4sI4s", 20, b"ftyp", b"isom", 0x200, b"isom") + struct.pack(">I4s", 8, b"moov"))
                fh.write(struct.pack(">I4sQ", 1, b"mdat", 16 + args.size_mib * len(block)))
                for _ in range(args.size_mib):
                    fh.write(block)
            size = video.stat().st_size

            addon_utils.enable("move_mocap", default_set=True, handle_error=lambda exc: (_ for _ in ()).throw(exc))
            from move_mocap.capture import runtime
            from move_mocap.capture.ops import build_spec
            from move_mocap.preferences import get_preferences

            prefs = get_preferences(bpy.context)
            prefs.endpoint = server.url
            prefs.download_dir = str(tmp / "downloads")
            props = bpy.context.scene.move_mocap
            bpy.ops.move_mocap.footage_add(filepath=str(video))
            props.outputs = {"MOTION_DATA"}
            props.use_clip_window = True
            props.clip_start, props.clip_end = 0.0, 2.0
            rt = runtime.RUNTIME
            pipeline = rt.get_pipeline(bpy.context)

            # baseline: the same tick with nothing to do
            idle = []
            for _ in range(200):
                t0 = time.perf_counter()
                rt.tick()
                idle.append((time.perf_counter() - t0) * 1000)

            slices: list[float] = []
            apply_ms = 0.0
            started = time.perf_counter()
            sid = pipeline.submit(build_spec(bpy.context))
            rt.ensure_timer()
            upload_done = None
            while True:
                t0 = time.perf_counter()
                interval = rt.tick()
                slices.append((time.perf_counter() - t0) * 1000)
                view = rt.views.get(sid)
                if upload_done is None and view is not None and view.stage not in ("new", "files"):
                    upload_done = time.perf_counter() - started
                if rt.pending_apply:
                    t1 = time.perf_counter()
                    runtime._apply_timer()
                    apply_ms = (time.perf_counter() - t1) * 1000
                if view is not None and view.state in ("done", "failed", "cancelled"):
                    break
                if time.perf_counter() - started > 1800:
                    raise SystemExit("benchmark timed out")
                time.sleep(interval if interval is not None else 0.1)
            total = time.perf_counter() - started
            row = rt.journal().require(sid)
            rt.shutdown()
            result = {
                "benchmark": "ui",
                "state": row.state.value,
                "upload_bytes": size,
                "max_slice_ms": round(max(slices), 3),
                "p99_slice_ms": round(_p99(slices), 3),
                "median_slice_ms": round(statistics.median(slices), 3),
                "ticks": len(slices),
                "target_max_ms": 10.0,
                "ratio_max_to_target": round(max(slices) / 10.0, 3),
                "baseline_idle_max_ms": round(max(idle), 3),
                "baseline_idle_p99_ms": round(_p99(idle), 3),
                "ratio_p99_to_idle_p99": round(_p99(slices) / max(_p99(idle), 1e-6), 2),
                "upload_s": round(upload_done or 0.0, 2),
                "upload_mb_per_s": round(size / 1e6 / upload_done, 1) if upload_done else None,
                "total_s": round(total, 2),
                "apply_ms": round(apply_ms, 1),
                "python": sys.version.split()[0],
                "blender": ".".join(map(str, bpy.app.version)),
            }
            print(json.dumps(result))
            return 0 if row.state.value == "done" else 1
        finally:
            server.stop()
