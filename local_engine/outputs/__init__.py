"""Output writers: MoveMotion -> the files a job delivers (MAIN_FBX, MAIN_BLEND, MAIN_GLB, MAIN_USDC,
MAIN_USDZ, ALL_BVH, MOTION_DATA).

Entry point: :func:`write_outputs`. MOTION_DATA is written here in-process (numpy + json); the formats that
need Blender are written by ``python -m local_engine.outputs.blender_export`` run as a SUBPROCESS with an
interpreter that has the bpy module. Never import bpy in this module or in the server process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from ..motion import MoveMotion
from .motion_data import write_motion_data

#: Output type -> file extension, for the formats Blender writes.
BLENDER_OUTPUTS = {"MAIN_FBX": "fbx", "MAIN_BLEND": "blend", "MAIN_GLB": "glb", "MAIN_USDC": "usdc",
                   "MAIN_USDZ": "usdz", "ALL_BVH": "bvh"}
SUPPORTED_OUTPUTS = (*BLENDER_OUTPUTS, "MOTION_DATA")


class OutputError(Exception):
    """An output could not be written; the message says which and why."""


def write_outputs(
    motions: list[MoveMotion],
    out_dir: str | Path,
    outputs: list[str],
    progress: Callable[[float], None] | None = None,
    python: str | None = None,
    timeout: float = 900.0,
) -> dict[str, Path]:
    """Write ``outputs`` for the actors' ``motions`` into ``out_dir``; returns output type -> path.

    ``python`` is the interpreter with bpy used for the Blender formats (default: this one).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    unknown = [o for o in outputs if o not in SUPPORTED_OUTPUTS]
    if unknown:
        raise OutputError(f"unsupported outputs: {unknown}")
    report = progress or (lambda f: None)
    result: dict[str, Path] = {}
    if "MOTION_DATA" in outputs:
        result["MOTION_DATA"] = write_motion_data(motions, out_dir / "motion_data.json")
    report(0.1)
    wanted = [o for o in outputs if o in BLENDER_OUTPUTS]
    if wanted:
        with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
            npz = []
            for m in motions:
                path = Path(tmp) / f"actor{m.actor}.npz"
                m.save(path)
                npz.append(str(path))
            cmd = [python or sys.executable, "-m", "local_engine.outputs.blender_export", *npz, str(out_dir),
                   "--outputs", *wanted]
            root = Path(__file__).resolve().parents[2]
            try:
                env = {**os.environ, "PYTHONPATH": os.pathsep.join(
                    [str(root), *filter(None, [os.environ.get("PYTHONPATH")])])}
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=root, env=env)
            except subprocess.TimeoutExpired as exc:
                raise OutputError(f"Blender export timed out after {timeout:g} s") from exc
            if proc.returncode != 0:
                tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
                raise OutputError("Blender export failed: " + " | ".join(tail))
            lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
            if not lines:
                raise OutputError("Blender export reported nothing")
            written = json.loads(lines[-1])
        for key in wanted:
            if key not in written:
                raise OutputError(f"Blender export did not write {key}")
            result[key] = Path(written[key])
    report(1.0)
    return result
