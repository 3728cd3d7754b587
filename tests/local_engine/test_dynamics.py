"""Inverse dynamics on motion with a known answer: a still pose (every joint holds the gravity moment of the
segments below it, summed here independently of the engine's recursion, and the feet carry the body's weight),
a free fall (no reaction, no torque), and plausibility on the CMU walk."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from local_engine.dynamics import SEGMENTS, _point, body_dynamics, body_mass, savgol, subject_height
from local_engine.joint_conventions import CONVENTIONS
from local_engine.kinematics import forward_kinematics
from local_engine.motion import MOVE_PARENTS
from local_engine.outputs.motion_data import joint_angles
from local_engine.rotations import quat_to_matrix
from tests.importers import move_reader

G = 9.81


@pytest.fixture(scope="module")
def walk(cmu_bvh):
    from local_engine.bvh import read_bvh
    from local_engine.solvers.replay import ground_offset, retarget_cmu

    bvh = read_bvh(cmu_bvh)
    return retarget_cmu(bvh, 0, None, 2, lift=ground_offset(bvh))


def _hold(motion, frame: int, frames: int = 90, contacts=(False, False)):
    """``motion``'s pose at ``frame`` held still for ``frames`` frames."""
    still = copy.copy(motion)
    still.rotations = np.repeat(motion.rotations[frame:frame + 1], frames, 0)
    still.hips_positions = np.repeat(motion.hips_positions[frame:frame + 1], frames, 0)
    still.foot_contacts = np.tile(np.array(contacts, bool), (frames, 1))
    return still


def _below(bone: str) -> set[str]:
    out = {bone}
    changed = True
    while changed:
        changed = False
        for b, p in MOVE_PARENTS.items():
            if p in out and b not in out:
                out.add(b)
                changed = True
    return out


def _segment_coms(motion):
    """(name -> (mass kg, (F, 3) centre)) from the segment table: the mass model is the input under test."""
    heads, _ = forward_kinematics(motion)
    rot = quat_to_matrix(motion.rotations)
    mass = body_mass(motion)
    out = {}
    for seg in SEGMENTS:
        b = motion.bones.index(seg.bone)
        p0, p1 = _point(motion, seg.proximal), _point(motion, seg.distal)
        rest = p0 + seg.com * (p1 - p0)
        out[seg] = (seg.mass * mass, heads[:, b] + rot[:, b] @ (rest - motion.rest_heads[b]))
    return out


def _generalised(path, joint, moment_world):
    """A moment (F, 3) as the file's per-angle torques, by finite differences of the independent reader's
    rotations: the axis of angle k is d(R)/d(a_k) R^T in the parent's frame."""
    pos, world, types = move_reader.load(path)
    del pos
    import json

    frames = json.loads(path.read_text())["mocap_data"]
    angles = np.array([f["joint_data"][joint]["rotations"] for f in frames])
    parent = move_reader.PARENT[joint]
    g_parent = world[parent] if parent else np.broadcast_to(np.eye(3), (len(angles), 3, 3))
    rel = move_reader.relative(joint, types[joint], angles)
    out = np.empty_like(angles)
    eps = 1e-6
    for k in range(angles.shape[1]):
        bumped = angles.copy()
        bumped[:, k] += eps
        d = (move_reader.relative(joint, types[joint], bumped) - rel) / eps @ np.swapaxes(rel, -1, -2)
        axis = 0.5 * np.stack([d[:, 2, 1] - d[:, 1, 2], d[:, 0, 2] - d[:, 2, 0], d[:, 1, 0] - d[:, 0, 1]], -1)
        out[:, k] = np.einsum("fi,fi->f", np.einsum("fij,fj->fi", g_parent, axis), moment_world)
    return out


def test_still_pose_torques_are_the_gravity_moments_below_each_joint(walk, tmp_path):
    from local_engine.outputs.motion_data import write_motion_data

    still = _hold(walk, 700)  # mid-stride: every joint bent
    path = write_motion_data([still], tmp_path / "still.json")
    import json

    frames = json.loads(path.read_text())["mocap_data"]
    heads, _ = forward_kinematics(still)
    segs = _segment_coms(still)
    checked = 0
    for joint, conv in CONVENTIONS.items():
        p = heads[:, still.bones.index(conv.bone)]
        below = _below(conv.bone)
        # the parent holds the segments below: its moment cancels their weight's, sum of (c - p) x m g
        moment = -sum(np.cross(c - p, m * np.array([0.0, 0.0, -G])) for s, (m, c) in segs.items() if s.bone in below)
        if isinstance(moment, int):  # nothing below (toes)
            moment = np.zeros_like(p)
        expected = _generalised(path, joint, moment)
        got = np.array([f["joint_data"][joint]["torques"] for f in frames])
        np.testing.assert_allclose(got, expected, atol=1e-3, err_msg=joint)
        checked += np.abs(expected).max() > 1.0
    assert checked >= 12  # the pose loads most joints (hips, knees, shoulders... carry N m, not zeros)
    forces = [f["joint_data"]["Left_toe"]["reaction_forces"] for f in frames]
    assert not any(forces)  # held in the air by the hips: no contact, no reaction


def test_still_standing_feet_carry_the_body_weight(walk):
    frame = int(np.nonzero(walk.foot_contacts.all(1))[0][len(np.nonzero(walk.foot_contacts.all(1))[0]) // 2])
    still = _hold(walk, frame, contacts=(True, True))
    dyn = body_dynamics(still, joint_angles(still))
    weight = dyn.mass * G
    vertical = dyn.reaction_forces["Left_toe"] + dyn.reaction_forces["Right_toe"]
    np.testing.assert_allclose(vertical, weight, rtol=1e-9)
    assert (dyn.reaction_forces["Left_toe"] >= 0).all() and (dyn.reaction_forces["Right_toe"] >= 0).all()
    # the pressure's centre is below the centre of mass: nothing is left for the hips to hold
    cop = (dyn.cop * dyn.reaction[:, :, 2:]).sum(1) / vertical[:, None]
    if np.linalg.norm(cop[0, :2] - dyn.com[0, :2]) < 1e-6:
        assert np.abs(dyn.torques["Root"]).max() < 1e-6 * weight


def test_free_fall_has_no_reaction_and_no_torques(walk):
    """Any pose dropped from rest: every segment accelerates at g, the feet touch nothing."""
    fall = _hold(walk, 700, frames=40)
    t = np.arange(40) / fall.fps
    fall.hips_positions = fall.hips_positions + np.outer(-0.5 * G * t ** 2, [0, 0, 1])
    fall.foot_contacts[:] = [True, True]  # even if the contact decision says otherwise, nothing pushes
    dyn = body_dynamics(fall, joint_angles(fall))
    # the feet are told they touch: the ground pushes only what the motion needs, which is nothing
    assert np.abs(dyn.reaction).max() < 1e-6
    for joint, torque in dyn.torques.items():
        assert np.abs(torque).max() < 1e-6, joint


def test_mass_from_height_or_metadata(walk):
    height = subject_height(walk)
    assert 1.7 < height < 1.9
    assert body_mass(walk) == pytest.approx(22.5 * height ** 2)
    heavy = copy.copy(walk)
    heavy.metadata = {**walk.metadata, "body_mass_kg": 90}
    assert body_mass(heavy) == 90.0
    heavy.metadata["body_mass_kg"] = 3
    with pytest.raises(ValueError, match="body_mass_kg"):
        body_mass(heavy)


def test_savgol_is_exact_for_polynomials():
    t = np.arange(50) / 60.0
    x = np.stack([1 - 0.5 * G * t ** 2, 2 * t ** 3 - t], 1)
    np.testing.assert_allclose(savgol(x, 60.0, 2)[:, 0], -G, atol=1e-9)
    np.testing.assert_allclose(savgol(x, 60.0, 1)[:, 1], 6 * t ** 2 - 1, atol=1e-9)


#: Walking stretches of CMU 01_03 (the rest of the take climbs and hangs on playground equipment), seconds.
WALKS = ((0.5, 2.5), (13.5, 15.5), (28.0, 30.5))


@pytest.mark.parametrize("window", WALKS)
def test_cmu_walk_torques_and_reactions_are_plausible(cmu_bvh, tmp_path, window):
    """Peak sagittal knee and hip moments of normal walking, normalised by body mass: knee about 0.5-1.0 and
    hip about 0.8-1.2 N m/kg (D. A. Winter, Biomechanics and Motor Control of Human Movement, 4th ed., Wiley
    2009, ch. 5; M. P. Kadaba et al., J. Orthop. Res. 7:849-860, 1989); accepted here with margins for a
    replayed capture on another skeleton: knee 0.3-1.5, hip 0.5-2.0. The peak is the 98th percentile of the
    window, so a single frame where the contact decision misses a foot does not decide it."""
    import json

    from local_engine.outputs.motion_data import write_motion_data
    from local_engine.solvers import make_solver
    from local_engine.solvers.base import SolveRequest

    (motion,) = make_solver("replay", motion=cmu_bvh).solve(
        SolveRequest(cameras=[], work_dir=tmp_path, clip_window=window)).motions
    path = write_motion_data([motion], tmp_path / "walk.json")
    frames = json.loads(path.read_text())["mocap_data"]
    mass = body_mass(motion)

    def series(joint: str, key: str) -> np.ndarray:
        return np.array([f["joint_data"][joint][key] for f in frames], dtype=float)

    for side in ("Left", "Right"):
        knee = np.percentile(np.abs(series(f"{side}_knee", "torques")[:, 0]), 98) / mass
        hip = np.percentile(np.abs(series(f"{side}_hip", "torques")[:, 0]), 98) / mass  # flexion angle
        assert 0.3 <= knee <= 1.5, (side, knee)
        assert 0.5 <= hip <= 2.0, (side, hip)
        assert np.abs(series(f"{side}_knee", "torques")).max() / mass < 3.0  # no blow-ups anywhere
    # reactions: never negative, zero without contact, body weight plus M a_z of the centre of mass
    left, right = series("Left_toe", "reaction_forces"), series("Right_toe", "reaction_forces")
    assert (left >= 0).all() and (right >= 0).all()
    contacts = motion.foot_contacts
    assert not left[~contacts[:, 0]].any() and not right[~contacts[:, 1]].any()
    assert (contacts.all(1) & (left > 0) & (right > 0)).any()  # double support shares the load
    segs = _segment_coms(motion)
    com_z = sum(m * c[:, 2] for m, c in segs.values()) / sum(m for m, _ in segs.values())
    # the centre of mass's vertical acceleration over the engine's reaction window (0.25 s): a moving average
    # of that width, then the second difference (CMU's markers jitter frame to frame)
    width = int(round(0.25 * motion.fps)) | 1
    smooth = np.convolve(com_z, np.ones(width) / width, mode="same")
    a_z = np.zeros_like(smooth)
    a_z[1:-1] = (smooth[2:] - 2 * smooth[1:-1] + smooth[:-2]) * motion.fps ** 2
    inner = contacts.any(1)
    inner[:width], inner[-width:] = False, False
    expected = mass * (G + a_z)
    err = (left + right - expected)[inner]
    assert np.sqrt(np.mean(err ** 2)) < 0.1 * mass * G
    assert 0.8 < np.mean((left + right)[inner]) / (mass * G) < 1.2
