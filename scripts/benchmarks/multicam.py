"""Multi-camera benchmark: pose2sim's Demo_SinglePerson four views through the local server (mediapipe solver).

1. Volume from the person: the four original videos (100 frames, 60 fps) as the volume's footage,
   createVolumeWithHuman -> FINISHED (``volume_wall_s``); its cameras compared with pose2sim's calibration file
   after one similarity (``rot_err_deg``, ``centre_err_pct``: worst camera) and the BlazePose landmarks of the
   same frames triangulated with both (``joints_pa_mm``: PA-MPJPE of the body landmarks, every view used).
2. The take: each view ping-pong looped to ``--seconds`` (10 s = 600 frames, H.264 re-encoded, cached in
   .cache/bench/), a multi-camera job (MOTION_DATA) from created to FINISHED (``job_wall_s``), once on the
   person-calibrated volume and once on a volume given the calibration file (the baseline of the same run:
   ``job_ratio_vs_file_volume``); ``ratio_vs_move`` = job_wall_s / 150 s (Move's quote for 10 s of 4 views).

Prints one JSON line. No bpy here.
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
DEMO = ROOT / ".cache" / "testdata" / "pose2sim" / "Demo_SinglePerson"
MOVE_SECONDS = 150.0  # Move: 2.5 min for 10 s of 60 fps HD from 4 cameras


def looped(src_path: Path, frames: int) -> Path:
    return looped_video(src_path, ROOT / ".cache" / "bench" / f"multicam_{src_path.stem}_{frames}f.mp4", frames)


def _upload(server, path: Path, ext: str = "mp4") -> str:
    import requests

    f = gql(server, f'mutation {{ createFile(type: "{ext}") {{ id presignedUrl }} }}')["createFile"]
    with open(path, "rb") as fh:
        requests.put(f["presignedUrl"], data=fh, timeout=300).raise_for_status()
    return f["id"]


def _wait(server, kind: str, obj_id: str, timeout: float) -> tuple[str, float]:
    t0 = time.perf_counter()
    q = ('query($id: ID!) { getVolume(id: $id) { ... on HumanVolume { state metadata } } }' if kind == "volume"
         else 'query($id: ID!) { getJob(jobId: $id) { progress { state } metadata } }')
    while time.perf_counter() - t0 < timeout:
        d = gql(server, q, {"id": obj_id})
        doc = d.get("getVolume") or d.get("getJob")
        state = doc["state"] if kind == "volume" else doc["progress"]["state"]
        if state in ("FINISHED", "FAILED"):
            if state == "FAILED":
                raise RuntimeError(f"{kind} failed: {doc['metadata']}")
            return state, time.perf_counter() - t0
        time.sleep(0.2)
    raise RuntimeError(f"{kind} {obj_id} did not finish in {timeout} s")


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="bench.py multicam")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--timeout", type=float, default=900.0)
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    import numpy as np

    from local_engine.calibration import cameras_from_json, read_qca, write_toml
    from local_engine.pose import self_calibration as sc
    from local_engine.pose.blazepose import MIRROR
    from local_engine.pose.calibration_metrics import compare_cameras, pa_mpjpe
    from local_engine.pose.triangulate import fix_left_right, triangulate_sequence
    from local_engine.solvers.mediapipe_solver import MediapipeSolver
    from local_engine.store import Store
    from tests.fixtures.local_server import LocalServer

    videos = sorted((DEMO / "videos").glob("cam0*.mp4"))
    ref = read_qca(DEMO / "calibration" / "Calib.qca.txt", video_dir=DEMO / "videos")
    takes = [looped(v, round(args.seconds * 60)) for v in videos]
    with tempfile.TemporaryDirectory(prefix="multicam-bench-") as tmp:
        server = LocalServer(Path(tmp) / "data", api_key=f"bench-{secrets.token_hex(6)}", solver="mediapipe",
                             motion=None)
        server.start(timeout=60)
        try:
            vol_src = [{"deviceLabel": v.stem, "fileId": _upload(server, v), "format": "MP4"} for v in videos]
            toml = write_toml(ref, Path(tmp) / "Calib.toml")
            file_src = [*vol_src, {"deviceLabel": "calibration", "fileId": _upload(server, toml, "toml"),
                                   "format": "MOVE"}]
            take_src = [{"deviceLabel": v.stem, "fileId": _upload(server, t), "format": "MP4"}
                        for v, t in zip(videos, takes)]
            q = ("mutation($s: [SourceInput!]) { createVolumeWithHuman(humanHeight: 1.70, areaType: NORMAL, "
                 "sources: $s) { id } }")
            vol = gql(server, q, {"s": vol_src})["createVolumeWithHuman"]["id"]
            _, volume_wall = _wait(server, "volume", vol, args.timeout)
            vol_file = gql(server, q, {"s": file_src})["createVolumeWithHuman"]["id"]
            _wait(server, "volume", vol_file, args.timeout)
            walls = {}
            for name, v in (("person", vol), ("file", vol_file)):
                take = gql(server, "mutation($v: String!, $s: [SourceInput!]) { createMultiCamTake(volumeId: $v, "
                                    "sources: $s) { id } }", {"v": v, "s": take_src})["createMultiCamTake"]["id"]
                job = gql(server, "mutation($t: String!) { createMultiCamJob(takeId: $t, outputs: [MOTION_DATA]) "
                                   "{ id } }", {"t": take})["createMultiCamJob"]["id"]
                walls[name] = _wait(server, "job", job, args.timeout)[1]
                walls[name + "_job"] = job
            store = Store(server.data_dir)
            cal = store.get("volume", vol)["calibration"]
            job_meta = store.get("job", walls["person_job"]).get("solverMetadata") or {}
            store.close()
        finally:
            server.stop()
    mine = cameras_from_json(cal["cameras"])
    solver = MediapipeSolver(cache_dir=ROOT / ".cache" / "bench" / "landmarks")
    tracks = [solver.landmarks(c) for c in ref]
    pix = np.stack([t.image for t in tracks]).astype(float)
    w = np.stack([t.visibility for t in tracks]).astype(float)

    def joints(cams):
        p, q2, _ = fix_left_right(cams, pix, w, MIRROR)
        return triangulate_sequence(cams, p, q2, max_error_px=1e9)

    X_ref, X_mine = joints(ref), joints(mine)
    m = compare_cameras(mine, ref, np.nanmedian(X_ref.reshape(-1, 3), axis=0))
    line = {
        "benchmark": "multicam",
        "job_wall_s": round(walls["person"], 2),
        "ratio_vs_move": round(walls["person"] / MOVE_SECONDS, 3),
        "baseline_move_s": MOVE_SECONDS,
        "job_wall_file_volume_s": round(walls["file"], 2),
        "job_ratio_vs_file_volume": round(walls["person"] / walls["file"], 3),
        "volume_wall_s": round(volume_wall, 2),
        "rot_err_deg": round(max(m["rot_err_deg"]), 2),
        "centre_err_pct": round(max(m["centre_err_pct"]), 2),
        "joints_pa_mm": round(1000 * pa_mpjpe(X_mine[:, sc.BODY], X_ref[:, sc.BODY]), 1),
        "reprojection_px_rms": cal["report"]["reprojection_px_rms"],
        "focal_px": cal["report"]["focal_px"],
        "volume_sync_offsets": cal["sync"]["offsets_frames"],
        "take_sync": job_meta.get("sync"),
        "take_frames": job_meta.get("frames"),
        "footage": f"pose2sim Demo_SinglePerson, 4 views 1080x1920 60 fps; take ping-pong looped to {args.seconds:g} s",
    }
    print(json.dumps(line))
    return 0
