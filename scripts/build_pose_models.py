"""Build the MediaPipe Tasks model bundles (``.task``) the local engine runs with mediapipe >= 0.10.30 (Blender
5.1+, Python 3.13) from the BlazePose models inside the PyPI wheel of mediapipe 0.10.21.

mediapipe 0.10.30+ and 1.x drop the legacy ``solutions.pose`` and ship no model; their ``PoseLandmarker`` and
``HandLandmarker`` read a ``.task`` bundle (a zip of two ``.tflite`` files). The 0.10.21 wheel carries the same
networks the legacy solutions run (pose detection + pose landmark *full*, palm detection + hand landmark *full*,
Apache-2.0). The Tasks graphs refuse a float model without TFLite metadata saying how to normalise the image;
three of the four models carry it and are bundled byte for byte, ``pose_landmark_full.tflite`` does not and gets
a metadata buffer (RGB input scaled to 0..1, i.e. mean 0, std 255, what the legacy pose graph feeds it) written
with the flatbuffers schema code shipped in the same wheel; its network and weights are unchanged.

The wheel is fetched with pip (``pip download``, or taken from the cache) and checked against its sha256
before anything is read from it. Writes ``pose_landmarker_full.task``, ``hand_landmarker_full.task``, mediapipe's
``LICENSE`` (verbatim) and a ``NOTICE`` saying what was changed (Apache-2.0 section 4) into OUT_DIR.

Usage: python scripts/build_pose_models.py OUT_DIR [--wheel-cache DIR] [--offline]
Used by scripts/setup_env.sh (into .cache/models) and scripts/build_extension.py (into the engine extension).
Runs on Python 3.11 or 3.13; needs only ``flatbuffers`` (and pip to fetch the wheel). No local_engine import.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
#: The one wheel the models come from (the .tflite files are byte-identical in every platform's 0.10.21 wheel).
WHEEL = "mediapipe-0.10.21-cp311-cp311-manylinux_2_28_x86_64.whl"
WHEEL_SHA256 = "05dc4a9e593655a79558d05d6227d31018c2537a4bd3362b51e230cf22aecfe3"
PIP_ARGS = ["--platform", "manylinux_2_28_x86_64", "--python-version", "3.11", "--implementation", "cp",
            "mediapipe==0.10.21"]
#: bundle -> ((name inside the bundle, model path inside the wheel), ...): the names the Tasks graphs look up.
BUNDLES: dict[str, tuple[tuple[str, str], ...]] = {
    "pose_landmarker_full.task": (
        ("pose_detector.tflite", "mediapipe/modules/pose_detection/pose_detection.tflite"),
        ("pose_landmarks_detector.tflite", "mediapipe/modules/pose_landmark/pose_landmark_full.tflite"),
    ),
    "hand_landmarker_full.task": (
        ("hand_detector.tflite", "mediapipe/modules/palm_detection/palm_detection_full.tflite"),
        ("hand_landmarks_detector.tflite", "mediapipe/modules/hand_landmark/hand_landmark_full.tflite"),
    ),
}
SCHEMAS = ("mediapipe/tasks/metadata/schema_py_generated.py",
           "mediapipe/tasks/metadata/metadata_schema_py_generated.py")
LICENSE = "mediapipe-0.10.21.dist-info/LICENSE"
NOTICE = """\
The files pose_landmarker_full.task and hand_landmarker_full.task in this folder are MediaPipe models
(Copyright The MediaPipe Authors, licensed under the Apache License 2.0, see LICENSE in this folder), taken
from the PyPI wheel {wheel} (sha256 {sha}):

  pose_landmarker_full.task: mediapipe/modules/pose_detection/pose_detection.tflite (as pose_detector.tflite)
    and mediapipe/modules/pose_landmark/pose_landmark_full.tflite (as pose_landmarks_detector.tflite)
  hand_landmarker_full.task: mediapipe/modules/palm_detection/palm_detection_full.tflite (as hand_detector.tflite)
    and mediapipe/modules/hand_landmark/hand_landmark_full.tflite (as hand_landmarks_detector.tflite)

Changes made by the move_mocap developers (scripts/build_pose_models.py): the models were renamed as above and
each pair stored in one zip file; pose_landmark_full.tflite, which has no TFLite metadata in the wheel, was given
a metadata buffer describing its input image (RGB, normalised with mean 0 and std 255). The other three models
are unmodified, and no network or weight was changed.
"""


class ModelBuildError(Exception):
    pass


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch_wheel(cache: Path, offline: bool = False) -> Path:
    """The pinned 0.10.21 wheel, downloaded into ``cache`` by pip if absent, checked against its sha256."""
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / WHEEL
    if not path.exists():
        cmd = [sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check", "--no-deps",
               "--only-binary=:all:", "-d", str(cache), *PIP_ARGS]
        if offline:
            cmd[4:4] = ["--no-index", f"--find-links={cache}"]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0 or not path.exists():
            raise ModelBuildError(f"pip could not download {WHEEL} (needed for the pose models): "
                                  f"{result.stderr.strip()[-800:]}")
    digest = _sha256(path.read_bytes())
    if digest != WHEEL_SHA256:
        raise ModelBuildError(f"{path} has sha256 {digest}, expected {WHEEL_SHA256}: delete it and run again "
                              "(a corrupt or substituted download)")
    return path


def _load_schema(source: str, name: str) -> ModuleType:
    spec = importlib.util.spec_from_loader(name, loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    exec(compile(source, name, "exec"), module.__dict__)  # generated flatbuffers code from the verified wheel
    return module


def with_metadata(model: bytes, name: str, tfl: ModuleType, md: ModuleType) -> bytes:
    """The TFLite ``model`` with a ``TFLITE_METADATA`` buffer (one RGB image input normalised to 0..1), or
    ``model`` itself when it already has one."""
    import flatbuffers

    root = tfl.ModelT.InitFromObj(tfl.Model.GetRootAsModel(model, 0))
    if any(m.name in (b"TFLITE_METADATA", "TFLITE_METADATA") for m in (root.metadata or [])):
        return model
    norm = md.NormalizationOptionsT()
    norm.mean, norm.std = [0.0], [255.0]
    unit = md.ProcessUnitT()
    unit.optionsType, unit.options = md.ProcessUnitOptions.NormalizationOptions, norm
    image = md.ImagePropertiesT()
    image.colorSpace = md.ColorSpaceType.RGB
    content = md.ContentT()
    content.contentPropertiesType, content.contentProperties = md.ContentProperties.ImageProperties, image
    stats = md.StatsT()
    stats.max, stats.min = [1.0], [0.0]
    tensor = md.TensorMetadataT()
    tensor.name, tensor.content, tensor.processUnits, tensor.stats = "image", content, [unit], stats
    graph = md.SubGraphMetadataT()
    graph.inputTensorMetadata = [tensor]
    graph.outputTensorMetadata = [md.TensorMetadataT() for _ in root.subgraphs[0].outputs]
    meta = md.ModelMetadataT()
    meta.name, meta.subgraphMetadata, meta.minParserVersion = name, [graph], "1.0.0"
    builder = flatbuffers.Builder(0)
    builder.Finish(meta.Pack(builder), b"M001")
    buffer = tfl.BufferT()
    buffer.data = bytes(builder.Output())
    root.buffers.append(buffer)
    entry = tfl.MetadataT()
    entry.name, entry.buffer = "TFLITE_METADATA", len(root.buffers) - 1
    root.metadata = [*(root.metadata or []), entry]
    builder = flatbuffers.Builder(len(model) + 4096)
    builder.Finish(root.Pack(builder), b"TFL3")
    return bytes(builder.Output())


def build(out_dir: Path, wheel: Path) -> list[Path]:
    """Write the bundles, LICENSE and NOTICE into ``out_dir`` (atomically per file); returns the bundles."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as z:
        tfl = _load_schema(z.read(SCHEMAS[0]).decode(), "tflite_schema_py_generated")
        md = _load_schema(z.read(SCHEMAS[1]).decode(), "tflite_metadata_schema_py_generated")
        written = []
        for bundle, members in BUNDLES.items():
            tmp = Path(tempfile.mkstemp(dir=out_dir, suffix=".part")[1])
            try:
                with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as task:
                    for inner, member in members:
                        data = z.read(member)
                        info = zipfile.ZipInfo(inner, date_time=(2025, 1, 31, 0, 0, 0))
                        task.writestr(info, with_metadata(data, inner.removesuffix(".tflite"), tfl, md))
                tmp.chmod(0o644)
                tmp.replace(out_dir / bundle)
            finally:
                tmp.unlink(missing_ok=True)
            written.append(out_dir / bundle)
        (out_dir / "LICENSE").write_bytes(z.read(LICENSE))
    (out_dir / "NOTICE").write_text(NOTICE.format(wheel=WHEEL, sha=WHEEL_SHA256))
    return written


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--wheel-cache", type=Path, default=ROOT / ".cache" / "wheels-engine")
    parser.add_argument("--offline", action="store_true", help="use only a wheel already in --wheel-cache")
    args = parser.parse_args(argv)
    try:
        for path in build(args.out_dir, fetch_wheel(args.wheel_cache, args.offline)):
            print(f"build_pose_models: wrote {path} ({path.stat().st_size // 1024} KiB)")
    except (ModelBuildError, ImportError, zipfile.BadZipFile) as exc:
        print(f"build_pose_models: FAILED: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
