"""The Qualisys calibration parser, checked against the geometry the footage shows: cameras above the floor
looking at the person, and each view predicting where the others see the same landmarks."""

from __future__ import annotations

import numpy as np
import pytest

from local_engine.calibration import (
    CalibrationError,
    camera_centre,
    project,
    projection_matrix,
    read_qca,
    undistort_points,
)


def test_four_cameras_with_their_videos(p2s_cameras):
    assert [c.device_label for c in p2s_cameras] == ["cam01", "cam02", "cam03", "cam04"]
    for cam in p2s_cameras:
        assert cam.video.name == f"{cam.device_label}.mp4" and cam.video.exists()
        assert cam.size == (1088, 1920)  # portrait HD, as the videos are
        R = np.asarray(cam.rotation)
        assert np.allclose(R @ R.T, np.eye(3), atol=1e-6) and np.linalg.det(R) == pytest.approx(1.0, abs=1e-6)
        K = np.asarray(cam.intrinsics)
        # principal point near the image centre, square pixels
        assert abs(K[0, 2] - 544) < 40 and abs(K[1, 2] - 960) < 40 and K[0, 0] == pytest.approx(K[1, 1], rel=0.01)


def test_cameras_stand_around_the_person_and_look_at_them(p2s_cameras, p2s_triangulated):
    X, _ = p2s_triangulated
    person = np.nanmedian(X.reshape(-1, 3), axis=0)
    for cam in p2s_cameras:
        c = camera_centre(cam)
        assert 1.4 < c[2] < 2.5, "cameras on tripods, above a floor at Z = 0"
        axis = np.asarray(cam.rotation)[2]  # optical axis in the world
        to_person = (person - c) / np.linalg.norm(person - c)
        assert np.degrees(np.arccos(axis @ to_person)) < 25
        # image "down" points down in the world
        assert np.asarray(cam.rotation)[1][2] < -0.5


def test_each_view_predicts_the_others(p2s_cameras, p2s_tracks):
    """Leave one view out: landmarks triangulated from three views land where the fourth saw them; with the
    rotation read the wrong way round (no flip / transposed) they miss by hundreds of pixels."""
    from local_engine.pose.triangulate import triangulate_points

    def mids(uv):  # points a left/right label swap cannot move: mid-shoulders, mid-hips, nose
        return np.stack([0.5 * (uv[11] + uv[12]), 0.5 * (uv[23] + uv[24]), uv[0]])

    def loo_error(cams):
        errs = []
        for v in range(4):
            others = [u for u in range(4) if u != v]
            for f in range(0, 100, 5):
                pix = np.stack([mids(p2s_tracks[u].image[f]) for u in others])
                w = np.ones(pix.shape[:2])
                X = triangulate_points([cams[u] for u in others], pix, w, max_error_px=1e9)
                errs.append(np.linalg.norm(project(cams[v], X) - mids(p2s_tracks[v].image[f]), axis=1))
        return float(np.nanmedian(np.concatenate(errs)))

    good = loo_error(p2s_cameras)
    assert good < 25.0, good  # pixels, in 1088x1920 frames (BlazePose's 2D noise is ~1 % of the body)
    from dataclasses import replace

    wrong = [replace(c, rotation=np.asarray(c.rotation).T, translation=-np.asarray(c.rotation).T @ camera_centre(c))
             for c in p2s_cameras]
    assert loo_error(wrong) > 8 * good


def test_undistort_inverts_distortion(p2s_cameras):
    cam = p2s_cameras[0]
    rng = np.random.default_rng(1)
    X = rng.normal(size=(50, 3)) * 0.5 + np.array([-1.0, 0.0, 1.0])
    ideal = project(cam, X, distort=False)
    assert np.abs(undistort_points(cam, project(cam, X)) - ideal).max() < 0.05
    P = projection_matrix(cam)
    h = np.c_[X, np.ones(len(X))] @ P.T
    assert np.allclose(h[:, :2] / h[:, 2:], ideal, atol=1e-6)


def test_bad_file_is_a_user_error(tmp_path):
    bad = tmp_path / "x.qca.txt"
    bad.write_text("<calibration><cameras/></calibration>")
    with pytest.raises(CalibrationError, match="no cameras"):
        read_qca(bad)
    with pytest.raises(CalibrationError):
        read_qca(tmp_path / "missing.qca.txt")


def test_pose2sims_own_toml_reads_as_its_qualisys_file(pose2sim_single):
    """Pose2Sim's converter wrote Calib_qualisys.toml from the same Qualisys calibration: both parsers must
    give the same cameras (a wrong axis flip, unit or principal-point offset in either would show here)."""
    from local_engine.calibration import read_calibration

    toml = read_calibration(pose2sim_single / "calibration" / "Calib_qualisys.toml")
    qca = read_calibration(pose2sim_single / "calibration" / "Calib.qca.txt")
    assert [c.device_label for c in toml] == ["cam_01", "cam_02", "cam_03", "cam_04"]
    for a, b in zip(toml, qca):
        assert a.size == b.size == (1088, 1920)
        assert np.allclose(a.intrinsics, b.intrinsics, atol=1e-6) and np.allclose(a.rotation, b.rotation, atol=1e-9)
        assert np.allclose(camera_centre(a), camera_centre(b), atol=1e-6)
        assert np.allclose(a.distortion, b.distortion, atol=1e-9)


GOOD_TOML = """[cam_a]
name = "cam_a"
size = [ 1088.0, 1920.0]
matrix = [ [ 1681.2, 0.0, 533.0], [ 0.0, 1681.1, 948.1], [ 0.0, 0.0, 1.0]]
distortions = [ -0.0007, 0.0022, 0.0, 0.0]
rotation = [ 1.688, 1.048, -0.420]
translation = [ 0.321, 0.956, 2.891]
fisheye = false
"""


@pytest.mark.parametrize("text, message", [
    (GOOD_TOML.replace("1681.2", "nan"), "not finite"),
    (GOOD_TOML.replace("1681.2", "-5.0"), "focal length -5 px is implausible"),
    (GOOD_TOML.replace("[ 0.0, 0.0, 1.0]]", "[ 0.0, 0.0]]"), r"camera \[cam_a\]"),
    (GOOD_TOML.replace("rotation = [ 1.688, 1.048, -0.420]", "rotation = [ 100.0, 0.0, 0.0]"), "more than a full turn"),
    (GOOD_TOML.replace("translation = [ 0.321, 0.956, 2.891]", ""), "has no translation"),
    (GOOD_TOML.replace("[ 0.321, 0.956, 2.891]", "[ 321.0, 956.0, 2891e3]"), "units are not metres"),
    (GOOD_TOML.replace("533.0", "9000.0"), "principal point"),
    (GOOD_TOML.replace("fisheye = false", "fisheye = true"), "fisheye"),
    (GOOD_TOML.replace("matrix = [", "matrix = \"x\" #"), "not an array of numbers|expected 3x3"),
    (GOOD_TOML + GOOD_TOML.replace("[cam_a]", "[cam_b]"), "several cameras 'cam_a'"),
    (GOOD_TOML.replace("size = [", "size = [ ["), "not a readable Pose2Sim calibration"),
    ("<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol 'lol'><!ENTITY lol2 '&lol;&lol;&lol;'>]>"
     "<calibration><cameras>&lol2;</cameras></calibration>", "declares a DOCTYPE"),
    ("<calibration><cameras><camera serial='c1'><fov_video left='0' top='0' right='1087' bottom='1919'/>"
     "<intrinsic focalLengthU='abc'/><transform/></camera></cameras></calibration>", "'abc' is not a number"),
    ("hello, world", "neither a Pose2Sim calibration"),
    ("[cam_a]\nmatrix = " + "[" * 100_000, "nests tables too deeply"),
    *[("<calibration><cameras><camera serial='c1' video_resolution='" + res + "'><fov_video left='0' top='0' "
       "right='1087' bottom='1919'/><intrinsic focalLengthU='1'/><transform/></camera></cameras></calibration>",
       "video_resolution .* is not a picture height such as 1080p") for res in ("\u00b2p", "9" * 400 + "p", "0p")],
])
def test_broken_or_hostile_calibration_files(tmp_path, text, message):
    from local_engine.calibration import read_calibration

    f = tmp_path / "calib.toml"
    f.write_text(text)
    with pytest.raises(CalibrationError, match=message):
        read_calibration(f)


def test_qualisys_rotation_must_be_a_rotation(pose2sim_single, tmp_path):
    import re

    from local_engine.calibration import read_calibration

    text = (pose2sim_single / "calibration" / "Calib.qca.txt").read_text()
    f = tmp_path / "skewed.qca.txt"
    f.write_text(re.sub(r'r11="[^"]*"', 'r11="3.0"', text, count=1))
    with pytest.raises(CalibrationError, match="is not a rotation matrix"):
        read_calibration(f)
    big = tmp_path / "big.toml"
    big.write_bytes(GOOD_TOML.encode() + b"#" * (2 << 20))
    with pytest.raises(CalibrationError, match="too large to be a calibration file"):
        read_calibration(big)
