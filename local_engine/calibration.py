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


#: A calibration file is a few kilobytes; anything larger is not one (and is not parsed).
MAX_BYTES = 1 << 20
MAX_CAMERAS = 64
MAX_SIDE = 16384  # pixels: the largest picture side a calibration may describe


def _safe_label(name: str) -> str:
    """A camera name from a file, kept to printable characters and 64 of them (it goes into messages)."""
    clean = "".join(c for c in str(name) if c.isprintable())[:64].strip()
    return clean or "camera"


def validate_camera(cam: Camera) -> Camera:
    """``cam`` when it is a usable pinhole camera, else CalibrationError naming what is wrong: finite numbers,
    a positive focal length of 0.05-50 times the picture's long side, the principal point within the picture
    (or near it), a proper rotation, the camera within 10 km of the origin, distortion coefficients under 10."""
    name = cam.device_label
    K = np.asarray(cam.intrinsics, np.float64)
    R = np.asarray(cam.rotation, np.float64)
    t = np.asarray(cam.translation, np.float64).ravel()
    d = np.asarray(cam.distortion if cam.distortion is not None else np.zeros(4), np.float64).ravel()
    if K.shape != (3, 3) or R.shape != (3, 3) or t.shape != (3,):
        raise CalibrationError(f"camera {name}: the intrinsic matrix and rotation must be 3x3, the translation 3 numbers")
    if not all(np.isfinite(a).all() for a in (K, R, t, d)):
        raise CalibrationError(f"camera {name} has numbers that are not finite (NaN or infinite)")
    if cam.size is not None:
        w, h = cam.size
        if not (0 < w <= MAX_SIDE and 0 < h <= MAX_SIDE):
            raise CalibrationError(f"camera {name}'s picture size {w} x {h} is implausible")
        side = float(max(w, h))
    else:
        side = 2.0 * max(abs(K[0, 2]), abs(K[1, 2]), 1.0)
    if not np.allclose(K[2], [0, 0, 1], atol=1e-9) or K[1, 0] != 0:
        raise CalibrationError(f"camera {name}'s intrinsic matrix does not end with the row 0 0 1")
    for f in (K[0, 0], K[1, 1]):
        if not 0.05 * side <= f <= 50 * side:
            raise CalibrationError(f"camera {name}'s focal length {f:g} px is implausible for a {side:g}-pixel picture")
    if cam.size is not None and not (-0.5 * cam.size[0] <= K[0, 2] <= 1.5 * cam.size[0]
                                     and -0.5 * cam.size[1] <= K[1, 2] <= 1.5 * cam.size[1]):
        raise CalibrationError(f"camera {name}'s principal point ({K[0, 2]:g}, {K[1, 2]:g}) lies far outside its "
                               f"{cam.size[0]} x {cam.size[1]} picture")
    if not np.allclose(R @ R.T, np.eye(3), atol=1e-4) or abs(np.linalg.det(R) - 1.0) > 1e-4:
        raise CalibrationError(f"camera {name}'s rotation is not a rotation")
    if np.linalg.norm(t) > 10_000:
        raise CalibrationError(f"camera {name} stands {np.linalg.norm(t):g} m from the origin: the units are not metres")
    if len(d) and np.abs(d).max() > 10:
        raise CalibrationError(f"camera {name}'s distortion coefficients are implausible")
    return cam


def _f(tag: ET.Element, key: str) -> float:
    value = tag.get(key)
    if value is None:
        raise CalibrationError(f"<{tag.tag}> has no {key!r}")
    try:
        x = float(value)
    except ValueError:
        raise CalibrationError(f"<{tag.tag}> {key}={value[:40]!r} is not a number") from None
    if not np.isfinite(x):
        raise CalibrationError(f"<{tag.tag}> {key} is {value[:40]!r}, not a finite number")
    return x


def _read_bytes(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise CalibrationError(f"{path.name} is {size} bytes: too large to be a calibration file "
                                   f"(at most {MAX_BYTES // 1024} KiB)")
        return path.read_bytes()
    except OSError as exc:
        raise CalibrationError(f"cannot read calibration {path.name}: {exc.strerror or exc}") from exc


def sniff(data: bytes) -> str | None:
    """What a file's first bytes say it is: ``"qca"`` (Qualisys XML), ``"toml"`` (Pose2Sim) or None."""
    head = data[:4096]
    if b"\0" in head:
        return None  # binary: a video or anything else, never a calibration
    text = head.decode("utf-8", "replace").lstrip("\ufeff \t\r\n")
    if text.startswith("<") and ("<calibration" in text or "<cameras" in text):
        return "qca"
    if "[" in text and "matrix" in text and "=" in text:
        return "toml"
    return None


def read_qca(path: str | Path, binning_factor: float = 1.0, video_dir: str | Path | None = None) -> list[Camera]:
    """Cameras of a Qualisys calibration, in the file's order. With ``video_dir``, each camera's video is
    the file there whose stem is the camera's serial (``cam01`` -> ``cam01.mp4``)."""
    path = Path(path)
    data = _read_bytes(path)
    if b"<!DOCTYPE" in data.upper() or b"<!ENTITY" in data.upper():
        raise CalibrationError(f"{path.name} declares a DOCTYPE or entities, which a Qualisys calibration never "
                               "does; export the calibration again")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise CalibrationError(f"{path.name} is not a readable Qualisys calibration (XML: {exc})") from exc
    cams = root.findall("cameras/camera")
    if not cams:
        raise CalibrationError(f"calibration {path.name} lists no cameras")
    if len(cams) > MAX_CAMERAS:
        raise CalibrationError(f"calibration {path.name} lists {len(cams)} cameras; at most {MAX_CAMERAS} are read")
    try:
        return [_qca_camera(cam, k, binning_factor, video_dir) for k, cam in enumerate(cams)]
    except CalibrationError as exc:
        raise CalibrationError(f"calibration {path.name}: {exc}") from None


def _qca_camera(cam: ET.Element, k: int, binning_factor: float, video_dir: str | Path | None) -> Camera:
    """One <camera> of a Qualisys calibration, checked (see validate_camera)."""
    flip = np.diag([1.0, -1.0, -1.0])
    serial = _safe_label(cam.get("serial") or f"cam{k + 1:02d}")
    fov = cam.find("fov_video")
    intr = cam.find("intrinsic")
    tr = cam.find("transform")
    if fov is None or intr is None or tr is None:
        raise CalibrationError(f"camera {serial} lacks fov_video/intrinsic/transform")
    res = cam.get("video_resolution") or ""
    lines = res[:-1]  # "1080p": the picture's height the calibration was made at
    if res and res != "N/A" and not (lines.isascii() and lines.isdigit() and len(lines) <= 5
                                     and 0 < int(lines) <= MAX_SIDE):
        raise CalibrationError(f"camera {serial}'s video_resolution {_safe_label(res[:16])!r} is not a picture "
                               f"height such as 1080p (1 to {MAX_SIDE} lines)")
    scale = 1080.0 / float(lines) if res and res != "N/A" else 1.0
    if not 0.01 <= binning_factor <= 64:
        raise CalibrationError(f"binning factor {binning_factor} is implausible")
    left, top = _f(fov, "left"), _f(fov, "top")
    width = (_f(fov, "right") - left + 1) / binning_factor / scale
    height = (_f(fov, "bottom") - top + 1) / binning_factor / scale
    sub = 64.0 * binning_factor
    fu, fv = _f(intr, "focalLengthU") / sub / scale, _f(intr, "focalLengthV") / sub / scale
    cu = (_f(intr, "centerPointU") / sub - left) / scale
    cv = (_f(intr, "centerPointV") / sub - top) / scale
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        raise CalibrationError(f"camera {serial}'s field of view (fov_video) is {width:g} x {height:g} pixels")
    K = np.array([[fu, 0.0, cu], [0.0, fv, cv], [0.0, 0.0, 1.0]])
    dist = np.array([_f(intr, key) for key in ("radialDistortion1", "radialDistortion2", "tangentalDistortion1",
                                            "tangentalDistortion2")]) / sub
    M = np.array([[_f(tr, f"r{i}{j}") for j in (1, 2, 3)] for i in (1, 2, 3)])
    centre = np.array([_f(tr, "x"), _f(tr, "y"), _f(tr, "z")]) / 1000.0
    R = flip @ M
    t = -R @ centre
    if not np.allclose(M @ M.T, np.eye(3), atol=1e-3) or abs(np.linalg.det(M) - 1.0) > 1e-3:
        raise CalibrationError(f"camera {serial}'s rotation (r11..r33) is not a rotation matrix")
    video = Path()
    if video_dir is not None:
        matches = sorted(Path(video_dir).glob(f"{serial}.*"))
        if matches:
            video = matches[0]
    return validate_camera(Camera(video=video, device_label=serial, intrinsics=K, distortion=dist, rotation=R,
                                  translation=t, size=(round(width), round(height))))


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
    data = _read_bytes(path)
    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise CalibrationError(f"{path.name} is not text (UTF-8): not a Pose2Sim calibration") from None
    except RecursionError:
        raise CalibrationError(f"{path.name} nests tables too deeply: not a Pose2Sim calibration") from None
    except tomllib.TOMLDecodeError as exc:
        raise CalibrationError(f"{path.name} is not a readable Pose2Sim calibration (TOML: {exc})") from None
    tables = [(k, v) for k, v in doc.items() if isinstance(v, dict) and k != "metadata"]
    if len(tables) > MAX_CAMERAS:
        raise CalibrationError(f"calibration {path.name} lists {len(tables)} cameras; at most {MAX_CAMERAS} are read")
    out = []
    for key, table in tables:
        label = _safe_label(str(table.get("name", key)))
        where = f"calibration {path.name}: camera [{_safe_label(key)}]"
        missing = [f for f in ("matrix", "rotation", "translation") if f not in table]
        if missing:
            raise CalibrationError(f"{where} has no {', '.join(missing)}")
        try:
            K = _numbers(table["matrix"], (3, 3))
            rvec = _numbers(table["rotation"], (3,))
            t = _numbers(table["translation"], (3,))
            dist = _numbers(table.get("distortions", [0, 0, 0, 0]), None).ravel()[:4]
            size = table.get("size")
            wh = None
            if size is not None:
                sz = _numbers(size, (2,))
                wh = (round(float(sz[0])), round(float(sz[1])))
        except CalibrationError as exc:
            raise CalibrationError(f"{where}: {exc}") from None
        if table.get("fisheye"):
            raise CalibrationError(f"{where} is a fisheye model, which this engine does not read; calibrate it "
                                   "with the pinhole model")
        if float(np.linalg.norm(rvec)) > 2 * np.pi + 1e-6:
            raise CalibrationError(f"{where}: the rotation vector turns by more than a full turn")
        try:
            out.append(validate_camera(Camera(video=Path(), device_label=label, intrinsics=K, distortion=dist,
                                              rotation=rotvec_to_matrix(rvec), translation=t, size=wh)))
        except CalibrationError as exc:
            raise CalibrationError(f"calibration {path.name}: {exc}") from None
    if not out:
        raise CalibrationError(f"calibration {path.name} lists no cameras")
    return out


def _numbers(value: Any, shape: tuple[int, ...] | None) -> np.ndarray:
    """``value`` (a TOML array) as finite float64 numbers of ``shape``; CalibrationError otherwise."""
    try:
        a = np.asarray(value, np.float64)
    except (TypeError, ValueError):
        raise CalibrationError(f"{str(value)[:60]!r} is not an array of numbers") from None
    if a.size > 64 or (shape is not None and a.shape != shape):
        raise CalibrationError(f"expected {'x'.join(map(str, shape or ()))} numbers, got shape {a.shape}")
    if not np.isfinite(a).all():
        raise CalibrationError("holds numbers that are not finite")
    return a


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
    """A calibration file by its content (Pose2Sim ``.toml`` or Qualisys ``.qca.txt``), every camera checked
    (validate_camera), the names unique. CalibrationError says what is wrong."""
    path = Path(path)
    kind = sniff(_read_bytes(path))
    if kind is None:
        raise CalibrationError(f"{path.name} is neither a Pose2Sim calibration (.toml) nor a Qualisys one "
                               "(.qca.txt)")
    cams = read_toml(path) if kind == "toml" else read_qca(path)
    names = [c.device_label.lower() for c in cams]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise CalibrationError(f"calibration {path.name} names several cameras {dup[0]!r}")
    return cams


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
