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
