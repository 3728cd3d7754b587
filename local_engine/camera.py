"""One camera of a take: its video and, for multi-camera takes, its calibration (numpy-free plain data).

Below the solvers, calibration and triangulation, which all read it; imports nothing of the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Camera:
    """One view of a take: its video file and, for multi-camera takes, its calibration."""

    video: Path
    device_label: str = ""
    # Pinhole calibration (OpenCV conventions) when known: 3x3 intrinsics, distortion, world->camera R|t.
    intrinsics: Any = None
    distortion: Any = None
    rotation: Any = None
    translation: Any = None
    size: tuple[int, int] | None = None
