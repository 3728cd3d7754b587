"""The BVH reader and the replay solver, checked against the real CMU file and Blender's own BVH importer."""

from __future__ import annotations

import numpy as np
import pytest

from local_engine.bvh import read_bvh
from local_engine.kinematics import forward_kinematics
from local_engine.motion import MOVE_BONES
from local_engine.solvers import SolverError, make_solver
from local_engine.solvers.base import Camera, SolveRequest
from local_engine.solvers.replay import AXES, CMU_MAP, retarget_cmu


@pytest.fixture(scope="module")
def bvh(cmu_bvh):
    return read_bvh(cmu_bvh)


def test_reader_agrees_with_the_file_text(bvh, cmu_bvh):
    text = cmu_bvh.read_text().split("MOTION", 1)[1].strip().splitlines()
    assert text[0].split()[-1] == str(bvh.frame_count) == "4511"
    first = [float(v) for v in text[2].split()]
    last = [float(v) for v in text[-1].split()]
    assert np.allclose(bvh.motion[0], first) and np.allclose(bvh.motion[-1], last)
    assert len(bvh.names) == 31 and bvh.fps == 120.0
    assert bvh.names[0] == "Hips" and bvh.parents[bvh.index("LeftForeArm")] == bvh.index("LeftArm")


@pytest.fixture(scope="module")
def blender_bvh(cmu_bvh):
    """Joint heads (F, J, 3) from Blender's BVH importer at a few frames (Z up, like Move)."""
    import bpy

    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.ops.import_anim.bvh(filepath=str(cmu_bvh), frame_start=1, use_fps_scale=False, update_scene_duration=True)
    obj = next(o for o in bpy.data.objects if o.type == "ARMATURE")
    frames = [0, 700, 2222, 4510]
    out = {}
    for f in frames:
        bpy.context.scene.frame_set(f + 1)  # the importer keys the file's first frame at frame 1
        out[f] = {pb.name: np.array(obj.matrix_world @ pb.head) for pb in obj.pose.bones}
    return out


def test_forward_kinematics_matches_blenders_importer(bvh, blender_bvh):
    for f, heads in blender_bvh.items():
        pos, _ = bvh.world(np.array([f]))
        for name, p in heads.items():
            ours = AXES @ pos[0, bvh.index(name)]
            assert np.allclose(ours, p, atol=1e-3), (f, name, ours, p)


def test_retargeted_bones_point_like_the_capture(bvh, blender_bvh):
    """Each Move bone's posed direction equals the CMU segment's, measured on Blender's import."""
    motion = retarget_cmu(bvh)
    heads, tails = forward_kinematics(motion)
    for f, cmu in blender_bvh.items():
        for bone, (_, seg_a, seg_b) in CMU_MAP.items():
            if not seg_a or seg_b == "end":
                continue
            want = cmu[seg_b] - cmu[seg_a]
            b = MOVE_BONES.index(bone)
            got = tails[f, b] - heads[f, b]
            cos = want @ got / np.linalg.norm(want) / np.linalg.norm(got)
            assert cos > 0.9999, (f, bone, np.degrees(np.arccos(min(cos, 1))))


def test_replay_solver_clip_window_fps_and_pose(cmu_bvh, tmp_path):
    solver = make_solver("replay", motion=cmu_bvh, unused_option=1)
    video = tmp_path / "v.mp4"
    video.write_bytes(b"x")
    progress: list[float] = []
    req = SolveRequest(cameras=[Camera(video)], work_dir=tmp_path, clip_window=(1.0, 3.0), progress=progress.append)
    (motion,) = solver.solve(req).motions
    assert motion.fps == 60.0 and motion.frame_count == 120
    assert progress[-1] == 1.0 and progress == sorted(progress)
    heads, _ = forward_kinematics(motion)
    z = {n: heads[:, MOVE_BONES.index(n), 2] for n in ("Head", "Hips", "LeftToeBase", "RightToeBase")}
    assert (z["Head"] > z["Hips"] + 0.4).all() and (z["Hips"] > z["LeftToeBase"] + 0.6).all()
    assert 0.5 < motion.hips_positions[:, 2].mean() < 1.2  # metres, Z up
    # The clip starts one second in: its first frame is frame 120 of the file.
    full = retarget_cmu(read_bvh(cmu_bvh), 120, 121)
    assert np.allclose(motion.rotations[0], full.rotations[0], atol=1e-9)
    assert motion.foot_contacts is not None and motion.foot_contacts.any()


def test_whole_file_is_grounded(cmu_bvh, tmp_path):
    (motion,) = make_solver("replay", motion=cmu_bvh).solve(SolveRequest(cameras=[], work_dir=tmp_path)).motions
    heads, tails = forward_kinematics(motion)
    feet = [MOVE_BONES.index(n) for n in ("LeftFoot", "LeftToeBase", "RightFoot", "RightToeBase")]
    lowest = np.minimum(heads[:, feet, 2].min(1), tails[:, feet, 2].min(1))
    assert abs(np.percentile(lowest, 2) - 0.02) < 0.005 and lowest.min() > -0.05
    assert motion.frame_count == 4511 // 2 + 1


def test_clip_outside_the_footage_is_a_solver_error(cmu_bvh, tmp_path):
    solver = make_solver("replay", motion=cmu_bvh)
    with pytest.raises(SolverError, match="clip window"):
        solver.solve(SolveRequest(cameras=[], work_dir=tmp_path, clip_window=(100.0, 101.0)))


def test_unknown_solver_name():
    with pytest.raises(ValueError, match="available"):
        make_solver("nope")
