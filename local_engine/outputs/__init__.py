"""Output writers: MoveMotion -> the files a job delivers (MAIN_FBX, MAIN_BLEND, MAIN_GLB, MAIN_USDC,
MAIN_USDZ, ALL_BVH, MOTION_DATA).

Entry point: :func:`write_outputs`. MOTION_DATA is written here in-process (numpy + json); the formats that
need Blender are written by ``blender_export.py`` run as a SUBPROCESS: by a Blender binary in background mode
(:func:`blender_command`, what the add-on passes with ``serve --blender``), or, for developers, by a Python
that has the PyPI bpy module (:func:`python_command`). With neither, those formats are not offered
(:func:`exporter_problem` says why). Never import bpy in this module or in the server process.
"""

from __future__ import annotations

import importlib.util
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


EXPORT_SCRIPT = Path(__file__).resolve().with_name("blender_export.py")
ENGINE_ROOT = Path(__file__).resolve().parents[2]  # the folder holding local_engine/


class OutputError(Exception):
    """An output could not be written; the message says which and why."""


def blender_command(blender: str, script: str | Path, args: list[str]) -> list[str]:
    """How a Blender binary runs the writer: background, factory settings (no user add-ons or preferences),
    a failing script makes a failing exit status, the writer's own arguments after ``--``."""
    return [str(blender), "-b", "--factory-startup", "--python-exit-code", "1", "--python", str(script), "--",
            *args]


def python_command(python: str, args: list[str]) -> list[str]:
    """How a Python with the PyPI bpy module runs the writer (developers and tests)."""
    return [str(python), "-m", "local_engine.outputs.blender_export", *args]


def default_export_python() -> str | None:
    """This Python, when it can import bpy (a developer's venv); None for Blender's own Python."""
    return sys.executable if importlib.util.find_spec("bpy") is not None else None


def exporter_problem(blender: str | None, python: str | None) -> str | None:
    """Why the Blender formats cannot be written by this engine, or None when they can."""
    if blender:
        if not (os.path.isfile(blender) and os.access(blender, os.X_OK)):
            return f"the Blender binary given to the engine ({Path(blender).name}) is not an executable file"
        return None
    if python:
        return None
    return ("this engine was started without a Blender binary to write them with (the add-on passes "
            "bpy.app.binary_path, which is empty when Blender runs as a Python module): ask for MOTION_DATA")


def write_outputs(
    motions: list[MoveMotion],
    out_dir: str | Path,
    outputs: list[str],
    progress: Callable[[float], None] | None = None,
    python: str | None = None,
    timeout: float = 900.0,
    blender: str | None = None,
) -> dict[str, Path]:
    """Write ``outputs`` for the actors' ``motions`` into ``out_dir``; returns output type -> path.

    The Blender formats are written by ``blender`` (a Blender binary, run in background mode) when given, else
    by ``python`` (an interpreter with the bpy module; None: this one if it has bpy; "": none).
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
    if wanted and not blender and python is None:
        python = default_export_python()
    problem = exporter_problem(blender, python) if wanted else None
    if problem:
        raise OutputError(f"{', '.join(wanted)} cannot be made: {problem}")
    if wanted:
        with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
            npz = []
            for m in motions:
                path = Path(tmp) / f"actor{m.actor}.npz"
                m.save(path)
                npz.append(str(path))
            args = [*npz, str(out_dir), "--outputs", *wanted]
            cmd = blender_command(blender, EXPORT_SCRIPT, args) if blender else python_command(str(python), args)
            root = ENGINE_ROOT
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
