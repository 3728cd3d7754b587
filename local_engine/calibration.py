"""Camera calibration for multi-camera takes: the Qualisys ``.qca.txt`` format (what Pose2Sim's demos ship)
and Pose2Sim's ``.toml`` (read and written) into :class:`local_engine.solvers.base.Camera` objects (OpenCV pinhole conventions: intrinsics K in
pixels, distortion k1 k2 p1 p2, world->camera rotation R and translation t in metres), plus projection
helpers.

Conventions of the Qualisys file (as written and read by Pose2Sim's converters): focal lengths and principal
point in 1/64 pixel of the sensor, the principal point measured from the sensor corner (subtract the video
window's left/top); distortion coefficients also scaled by 64; ``transform`` holds the camera's position in
millimetres (x, y, z) and a rotation whose rows map world axes into a camera frame that looks down its -z
with y up, so OpenCV's frame (looking down +z, y down) is that frame turned by 180 degrees about x.
The world is Z up with the floor at Z = 0.

Reads files only; no video, no models, no bpy here.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np

from .camera import Camera
from .rotations import matrix_to_rotvec, rotvec_to_matrix


class CalibrationError(ValueError):
    """The calibration file cannot be read; the message is meant for the user."""


def _f(tag: ET.Element, key: str) -> float:
    value = tag.get(key)
    if value is None:
        raise CalibrationError(f"calibration: <{tag.tag}> has no {key!r}")
    return float(value)


def read_qca(path: str | Path, binning_factor: float = 1.0, video_dir: str | Path | None = None) -> list[Camera]:
    """Cameras of a Qualisys calibration, in the file's order. With ``video_dir``, each camera's video is
    the file there whose stem is the camera's serial (``cam01`` -> ``cam01.mp4``)."""
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as exc:
        raise CalibrationError(f"cannot read calibration {path.name}: {exc}") from exc
    cams = root.findall("cameras/camera")
    if not cams:
        raise CalibrationError(f"calibration {path.name} lists no cameras")
    out = []
    flip = np.diag([1.0, -1.0, -1.0])
    for cam in cams:
        serial = cam.get("serial") or f"cam{len(out) + 1:02d}"
        fov = cam.find("fov_video")
        intr = cam.find("intrinsic")
        tr = cam.find("transform")
        if fov is None or intr is None or tr is None:
            raise CalibrationError(f"calibration {path.name}: camera {serial} lacks fov_video/intrinsic/transform")
        res = cam.get("video_resolution")
        scale = 1080.0 / float(res[:-1]) if res and res not in ("N/A",) and res[:-1].isdigit() else 1.0
        left, top = _f(fov, "left"), _f(fov, "top")
        width = (_f(fov, "right") - left + 1) / binning_factor / scale
        height = (_f(fov, "bottom") - top + 1) / binning_factor / scale
        sub = 64.0 * binning_factor
        fu, fv = _f(intr, "focalLengthU") / sub / scale, _f(intr, "focalLengthV") / sub / scale
        cu = (_f(intr, "centerPointU") / sub - left) / scale
        cv = (_f(intr, "centerPointV") / sub - top) / scale
        K = np.array([[fu, 0.0, cu], [0.0, fv, cv], [0.0, 0.0, 1.0]])
        dist = np.array([_f(intr, k) for k in ("radialDistortion1", "radialDistortion2", "tangentalDistortion1",
                                                "tangentalDistortion2")]) / sub
        M = np.array([[_f(tr, f"r{i}{j}") for j in (1, 2, 3)] for i in (1, 2, 3)])
        centre = np.array([_f(tr, "x"), _f(tr, "y"), _f(tr, "z")]) / 1000.0
        R = flip @ M
        t = -R @ centre
        video = Path()
        if video_dir is not None:
            matches = sorted(Path(video_dir).glob(f"{serial}.*"))
            if matches:
                video = matches[0]
        out.append(Camera(video=video, device_label=serial, intrinsics=K, distortion=dist, rotation=R,
                          translation=t, size=(round(width), round(height))))
    return out


def camera_centre(camera: Camera) -> np.ndarray:
    """The camera's optical centre in world coordinates (metres)."""
    R = np.asarray(camera.rotation, dtype=np.float64)
    return -R.T @ np.asarray(camera.translation, dtype=np.float64)


def projection_matrix(camera: Camera) -> np.ndarray:
    """3x4 P = K [R | t] (no distortion: use undistort_points on the pixels first)."""
    K = np.asarray(camera.intrinsics, dtype=np.float64)
    Rt = np.hstack([np.asarray(camera.rotation, np.float64), np.asarray(camera.translation, np.float64)[:, None]])
    return K @ Rt


def _distort_normalized(xy: np.ndarray, d: np.ndarray) -> np.ndarray:
    k1, k2, p1, p2 = (list(d) + [0.0] * 4)[:4]
    x, y = xy[..., 0], xy[..., 1]
    r2 = x * x + y * y
    radial = 1 + k1 * r2 + k2 * r2 * r2
    xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
    yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
    return np.stack([xd, yd], axis=-1)


def project(camera: Camera, points: np.ndarray, distort: bool = True) -> np.ndarray:
    """Pixels (..., 2) of world points (..., 3), with the lens distortion applied."""
    R = np.asarray(camera.rotation, np.float64)
    t = np.asarray(camera.translation, np.float64)
    K = np.asarray(camera.intrinsics, np.float64)
    pc = points @ R.T + t
    xy = pc[..., :2] / pc[..., 2:3]
    if distort and camera.distortion is not None:
        xy = _distort_normalized(xy, np.asarray(camera.distortion, np.float64))
    return np.stack([K[0, 0] * xy[..., 0] + K[0, 1] * xy[..., 1] + K[0, 2], K[1, 1] * xy[..., 1] + K[1, 2]], -1)


def undistort_points(camera: Camera, pixels: np.ndarray, iterations: int = 8) -> np.ndarray:
    """Pixels (..., 2) of the ideal (distortion-free) pinhole camera with the same K."""
    K = np.asarray(camera.intrinsics, np.float64)
    uv = np.asarray(pixels, np.float64)
    if camera.distortion is None or not np.any(camera.distortion):
        return uv.copy()
    d = np.asarray(camera.distortion, np.float64)
    yd = (uv[..., 1] - K[1, 2]) / K[1, 1]
    xd = (uv[..., 0] - K[0, 2] - K[0, 1] * yd) / K[0, 0]
    target = np.stack([xd, yd], -1)
    xy = target.copy()
    for _ in range(iterations):  # fixed point: xy <- xy + (target - distort(xy))
        xy = xy + (target - _distort_normalized(xy, d))
    return np.stack([K[0, 0] * xy[..., 0] + K[0, 1] * xy[..., 1] + K[0, 2], K[1, 1] * xy[..., 1] + K[1, 2]], -1)


def read_toml(path: str | Path) -> list[Camera]:
    """Cameras of a Pose2Sim calibration (``Calib*.toml``: one table per camera with ``name``, ``size``,
    ``matrix``, ``distortions``, ``rotation`` (Rodrigues vector, world->camera) and ``translation`` in metres;
    other tables such as ``metadata`` are ignored), in the file's order."""
    import tomllib

    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CalibrationError(f"cannot read calibration {path.name}: {exc}") from exc
    out = []
    for key, table in data.items():
        if not isinstance(table, dict) or "matrix" not in table:
            continue
        try:
            K = np.asarray(table["matrix"], np.float64).reshape(3, 3)
            rvec = np.asarray(table["rotation"], np.float64).reshape(3)
            t = np.asarray(table["translation"], np.float64).reshape(3)
            dist = np.asarray(table.get("distortions", [0, 0, 0, 0]), np.float64).ravel()[:4]
            size = table.get("size")
            wh = (round(float(size[0])), round(float(size[1]))) if size is not None else None
        except (KeyError, TypeError, ValueError) as exc:
            raise CalibrationError(f"calibration {path.name}: camera [{key}] is incomplete ({exc})") from exc
        if table.get("fisheye"):
            raise CalibrationError(f"calibration {path.name}: camera [{key}] is a fisheye model, which this engine "
                                   "does not read; calibrate it with the pinhole model")
        out.append(Camera(video=Path(), device_label=str(table.get("name", key)), intrinsics=K, distortion=dist,
                          rotation=rotvec_to_matrix(rvec), translation=t, size=wh))
    if not out:
        raise CalibrationError(f"calibration {path.name} lists no cameras")
    return out


def write_toml(cameras: list[Camera], path: str | Path) -> Path:
    """A Pose2Sim-style calibration file of ``cameras`` (what read_toml reads back)."""
    def vec(a: Any) -> str:
        return "[ " + ", ".join(f"{float(x):.9g}" for x in np.ravel(a)) + ",]"

    lines = []
    for cam in cameras:
        K = np.asarray(cam.intrinsics, np.float64)
        lines += [f"[{_toml_key(cam.device_label)}]", f'name = "{_toml_key(cam.device_label)}"',
                  f"size = {vec(cam.size or (0, 0))}",
                  "matrix = [ " + " ".join(vec(row) + "," for row in K) + "]",
                  f"distortions = {vec(cam.distortion if cam.distortion is not None else np.zeros(4))}",
                  f"rotation = {vec(matrix_to_rotvec(np.asarray(cam.rotation, np.float64)))}",
                  f"translation = {vec(cam.translation)}", "fisheye = false", ""]
    path = Path(path)
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def read_calibration(path: str | Path) -> list[Camera]:
    """A calibration file by its kind: Pose2Sim ``.toml`` or Qualisys ``.qca.txt``."""
    name = Path(path).name.lower()
    if name.endswith(".toml"):
        return read_toml(path)
    return read_qca(path)


def _toml_key(label: str) -> str:
    return "".join(c if c.isalnum() or c in "_-" else "_" for c in label) or "camera"


def cameras_to_json(cameras: list[Camera]) -> list[dict[str, Any]]:
    """A JSON-able form of calibrated cameras (what a volume stores)."""
    return [{"label": c.device_label, "size": list(c.size) if c.size else None,
             "K": np.asarray(c.intrinsics, float).tolist(),
             "dist": np.asarray(c.distortion if c.distortion is not None else np.zeros(4), float).tolist(),
             "R": np.asarray(c.rotation, float).tolist(), "t": np.asarray(c.translation, float).ravel().tolist()}
            for c in cameras]


def cameras_from_json(items: list[dict[str, Any]]) -> list[Camera]:
    return [Camera(video=Path(), device_label=str(d["label"]), intrinsics=np.asarray(d["K"], float),
                   distortion=np.asarray(d["dist"], float), rotation=np.asarray(d["R"], float),
                   translation=np.asarray(d["t"], float), size=tuple(d["size"]) if d.get("size") else None)
            for d in items]
