"""Engine benchmark: 10 s of 60 fps 1080p real footage through the local server with the mediapipe solver,
from job created to FINISHED, against Move's published 25 s for a 10 s 60 fps HD clip.

The footage: Pose2Sim's Demo_SinglePerson cam01 (real 1080x1920 60 fps video of a person walking, 100
frames) played forwards and backwards (so the motion stays continuous) up to 600 frames, re-encoded as
H.264 1080x1920 60 fps (cached in .cache/bench/). The server runs as a real subprocess
(``python -m local_engine serve --solver mediapipe``); the client side uses plain GraphQL over HTTP:
createFile, PUT, createSingleCamTake, createSingleCamJob (Move's default outputs), poll until FINISHED.

Prints one JSON line: ``wall_s`` (job created -> FINISHED), ``ratio_vs_move`` (wall_s / 25), the solver's
share, frames per second per stage as the solver measured them, and ``cold_start_s``: from Start to a healthy
engine, started the way the add-on starts an installed one (``core.engine_process.LocalEngine``, this Python
isolated with ``-I -S`` and an explicit path list; this venv's site-packages stand in for the extension's
wheels), against a 5 s target (``cold_start_ratio``). No bpy here.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import tempfile
import time
from pathlib import Path

from scripts.benchmarks._footage import gql, looped_video

ROOT = Path(__file__).resolve().parents[2]
MOVE_SECONDS = 25.0  # Move's published singlecam time for a 10 s, 60 fps HD clip (recipes README: 25-30 s)
SOURCE = ROOT / ".cache" / "testdata" / "pose2sim" / "Demo_SinglePerson" / "videos" / "cam01.mp4"
FOOTAGE_NOTE = ("pose2sim Demo_SinglePerson cam01 (real 1080x1920 60 fps), ping-pong looped to 600 frames, "
                "H.264 re-encoded")


def prepare_footage(frames: int = 600) -> Path:
    out = ROOT / ".cache" / "bench" / f"engine_pose2sim_cam01_{frames}f_1080x1920_60fps.mp4"
    return looped_video(SOURCE, out, frames)


def run_server(video: Path, timeout: float) -> dict:
    import requests

    sys.path.insert(0, str(ROOT))
    from tests.fixtures.local_server import LocalServer

    with tempfile.TemporaryDirectory(prefix="engine-bench-") as tmp:
        server = LocalServer(Path(tmp) / "data", api_key=f"bench-{secrets.token_hex(6)}", solver="mediapipe",
                             motion=None)
        server.start(timeout=60)
        try:
            f = gql(server, 'mutation { createFile(type: "mp4") { id presignedUrl } }')["createFile"]
            with open(video, "rb") as fh:
                requests.put(f["presignedUrl"], data=fh, timeout=120).raise_for_status()
            take = gql(server, "mutation($s: [SourceInput!]) { createSingleCamTake(sources: $s) { id } }",
                        {"s": [{"deviceLabel": "cam01", "fileId": f["id"], "format": "MP4"}]})["createSingleCamTake"]
            t0 = time.perf_counter()
            job = gql(server, "mutation($t: String!) { createSingleCamJob(takeId: $t) { id } }",
                       {"t": take["id"]})["createSingleCamJob"]
            solver_done = None
            state, pct = "NOT_STARTED", 0
            while time.perf_counter() - t0 < timeout:
                p = gql(server, "query($id: ID!) { getJob(jobId: $id) { progress { state percentageComplete } "
                                 "outputs { key } metadata } }", {"id": job["id"]})["getJob"]
                state, pct = p["progress"]["state"], p["progress"]["percentageComplete"] or 0
                if solver_done is None and pct >= 60:
                    solver_done = time.perf_counter() - t0
                if state in ("FINISHED", "FAILED"):
                    break
                time.sleep(0.1)
            wall = time.perf_counter() - t0
            if state != "FINISHED":
                raise RuntimeError(f"job ended {state} ({pct} %): {p.get('metadata')}\n{server.log()}")
            from local_engine.store import Store

            meta = (Store(server.data_dir).get("job", job["id"]) or {}).get("solverMetadata") or {}
            return {"wall_s": wall, "solver_s": solver_done, "outputs": sorted(o["key"] for o in p["outputs"]),
                    "solver_metadata": meta, "via": "local server job API (python -m local_engine serve)"}
        finally:
            server.stop()


def run_direct(video: Path) -> dict:
    from local_engine.solvers.base import Camera, SolveRequest
    from local_engine.solvers.mediapipe_solver import MediapipeSolver

    with tempfile.TemporaryDirectory(prefix="engine-bench-") as tmp:
        t0 = time.perf_counter()
        result = MediapipeSolver().solve(SolveRequest(cameras=[Camera(video)], work_dir=Path(tmp)))
        wall = time.perf_counter() - t0
    return {"wall_s": wall, "solver_s": wall, "outputs": sorted(result.extra_outputs),
            "solver_metadata": result.metadata, "via": "solver called directly (no server, no writers)"}


COLD_START_TARGET_S = 5.0


def cold_start() -> float:
    """Seconds from LocalEngine.start() to a healthy /_health, as the add-on starts an installed engine."""
    import site
    import socket

    sys.path.insert(0, str(ROOT))
    from move_mocap.core.engine_process import EngineLaunch, LocalEngine

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    launch = EngineLaunch(sys.executable, ROOT, tuple(site.getsitepackages()), isolated=True, blender="")
    with tempfile.TemporaryDirectory(prefix="engine-cold-") as tmp:
        eng = LocalEngine(launch, data_dir=Path(tmp), port=port, api_key=f"bench-{secrets.token_hex(6)}",
                          solver="mediapipe", probe_interval=0.05)
        try:
            eng.start()
            status = eng.wait_ready(timeout=60)
            if not status.running:
                raise RuntimeError(status.message)
            return eng.ready_at - eng.started_at
        finally:
            eng.stop()


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="bench.py engine")
    ap.add_argument("--direct", action="store_true", help="call the solver directly instead of the server")
    ap.add_argument("--timeout", type=float, default=300.0)
    ap.add_argument("--cold-start-only", action="store_true", help="measure only cold_start_s")
    args = ap.parse_args(argv)
    cold = cold_start()
    if args.cold_start_only:
        print(json.dumps({"benchmark": "engine", "cold_start_s": round(cold, 2),
                          "cold_start_ratio": round(cold / COLD_START_TARGET_S, 3),
                          "cold_start_target_s": COLD_START_TARGET_S}))
        return 0
    video = prepare_footage()
    res = run_direct(video) if args.direct else run_server(video, args.timeout)
    meta = res["solver_metadata"]
    lm = (meta.get("stats") or {}).get("landmarks") or {}
    line = {
        "benchmark": "engine",
        "wall_s": round(res["wall_s"], 2),
        "ratio_vs_move": round(res["wall_s"] / MOVE_SECONDS, 3),
        "baseline_s": MOVE_SECONDS,
        "solver_s": round(res["solver_s"], 2) if res["solver_s"] else None,
        "frames": lm.get("frames"),
        "fps": {"decode_1080p_to_640": lm.get("decode_fps"), "pose_inference": lm.get("pose_fps"),
                "overlay_draw_encode": lm.get("overlay_fps"), "landmark_pipeline": lm.get("pipeline_fps"),
                "end_to_end": round(lm["frames"] / res["wall_s"], 2) if lm.get("frames") else None},
        "decode_size": lm.get("decode_size"),
        "cold_start_s": round(cold, 2),
        "cold_start_ratio": round(cold / COLD_START_TARGET_S, 3),
        "cold_start_target_s": COLD_START_TARGET_S,
        "outputs": res["outputs"],
        "via": res["via"],
        "footage": FOOTAGE_NOTE,
    }
    print(json.dumps(line))
    return 0
