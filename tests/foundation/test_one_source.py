"""Knowledge kept in one place: lists the add-on and the engine must agree on (the add-on cannot import the
engine, so a test holds them equal), the maths each side keeps once, and the engine's import order."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from move_mocap.core.engine_process import SOLVERS as ADDON_SOLVERS
from move_mocap.core.retarget import quat as Q
from move_mocap.core.retarget.mapping import PROFILE_LABELS, PROFILES


def _random_rotations(n: int, seed: int = 7) -> np.ndarray:
    q = np.random.default_rng(seed).normal(size=(n, 4))
    return Q.to_matrix(q / np.linalg.norm(q, axis=-1, keepdims=True))


def test_the_engine_solvers_are_the_ones_the_preferences_offer() -> None:
    from local_engine.solvers import SOLVERS

    assert sorted(ADDON_SOLVERS) == sorted(SOLVERS)


def test_every_naming_profile_has_a_label() -> None:
    assert set(PROFILES) <= set(PROFILE_LABELS)


def test_matrix_to_quaternion_agrees_across_the_add_on_and_the_engine() -> None:
    from local_engine.rotations import matrix_to_quat

    m = _random_rotations(500)
    q = Q.from_matrix(m)
    assert np.allclose(Q.from_matrix(m, orthonormalize=False), q, atol=1e-12)
    assert np.allclose(matrix_to_quat(m), q, atol=1e-12)
    assert np.allclose(Q.to_matrix(q), m, atol=1e-12)


def test_the_skeleton_fit_uses_the_engines_one_forward_kinematics() -> None:
    from local_engine.kinematics import forward_kinematics
    from local_engine.motion import MoveMotion
    from local_engine.pose.skeleton_fit import forward_kinematics as fit_fk

    rng = np.random.default_rng(3)
    motion = MoveMotion(fps=30.0, rotations=_quats(rng, 4), hips_positions=rng.normal(size=(4, 3)))
    heads, tails = forward_kinematics(motion)
    fit_heads, fit_tails = fit_fk(motion.rotations, motion.hips_positions, motion.rest_heads, motion.rest_tails)
    assert np.allclose(heads, fit_heads) and np.allclose(tails, fit_tails)
    lengths = np.linalg.norm(tails - heads, axis=-1)
    assert np.allclose(lengths, np.linalg.norm(motion.rest_tails - motion.rest_heads, axis=-1))


def _quats(rng: np.random.Generator, frames: int) -> np.ndarray:
    from local_engine.motion import MOVE_BONES

    q = rng.normal(size=(frames, len(MOVE_BONES), 4))
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def test_the_engine_modules_import_downwards_only() -> None:
    """reprojection needs no skeleton fit, calibration no solver: each imported alone pulls in neither."""
    code = ("import sys; import local_engine.pose.reproject, local_engine.calibration; "
            "print(sorted(m for m in sys.modules if m in ('local_engine.pose.skeleton_fit', "
            "'local_engine.solvers', 'local_engine.solvers.base')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=str(Path(__file__).resolve().parents[2]))
    assert out.stdout.strip() == "[]"
    from local_engine.camera import Camera
    from local_engine.solvers.base import Camera as SolverCamera

    assert SolverCamera is Camera
