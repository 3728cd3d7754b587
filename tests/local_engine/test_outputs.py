"""Output writers: every file is re-imported with Blender (bpy) and checked against the MoveMotion's forward
kinematics; MOTION_DATA is checked against Move's own sample and the same kinematics."""

from __future__ import annotations

import json

import numpy as np
import pytest

from local_engine.dynamics import body_mass
from local_engine.kinematics import forward_kinematics
from local_engine.motion import MOVE_BONES, bone_name
from local_engine.outputs import SUPPORTED_OUTPUTS, OutputError, write_outputs
from local_engine.outputs.motion_data import JOINTS
from local_engine.solvers import make_solver
from local_engine.solvers.base import SolveRequest
from tests.conftest import require_move_api
from tests.fixtures.blender_standin import make_blender_standin

FRAMES = (0, 31, 89)


@pytest.fixture(scope="module")
def written(cmu_bvh, tmp_path_factory):
    out = tmp_path_factory.mktemp("outputs")
    solver = make_solver("replay", motion=cmu_bvh)
    (motion,) = solver.solve(SolveRequest(cameras=[], work_dir=out, clip_window=(2.0, 3.5))).motions
    # Written as an installed engine writes them: by "the Blender binary" in background mode (a stand-in that
    # runs this Python with bpy: the bpy module has no binary).
    blender = make_blender_standin(out / "bin")
    files = write_outputs([motion], out / "files", list(SUPPORTED_OUTPUTS), blender=str(blender))
    heads, _ = forward_kinematics(motion)
    return motion, files, heads


def _fresh_scene(fps: int):
    import bpy

    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.context.scene.render.fps = fps
    return bpy


def _armature(bpy):
    arms = [o for o in bpy.data.objects if o.type == "ARMATURE"]
    assert len(arms) == 1, [o.name for o in bpy.data.objects]
    return arms[0]


def _check_heads(bpy, obj, heads, frame_offset=0, rename=lambda n: n, tol=1e-3):
    for f in FRAMES:
        bpy.context.scene.frame_set(f + frame_offset)
        bpy.context.view_layer.update()
        for b, bone in enumerate(MOVE_BONES):
            p = np.array(obj.matrix_world @ obj.pose.bones[rename(bone_name(bone))].head)
            assert np.linalg.norm(p - heads[f, b]) < tol, (f, bone, p, heads[f, b])


def _frame_count(obj) -> int:
    start, end = obj.animation_data.action.frame_range
    return round(end - start) + 1


def test_every_supported_output_was_written(written):
    motion, files, _ = written
    assert set(files) == set(SUPPORTED_OUTPUTS)
    assert all(p.stat().st_size > 0 for p in files.values())
    assert motion.frame_count == 90


def test_fbx_reimports_with_move_names_and_motion(written):
    motion, files, heads = written
    bpy = _fresh_scene(60)
    bpy.ops.import_scene.fbx(filepath=str(files["MAIN_FBX"]), anim_offset=0, axis_forward="-Y", axis_up="Z")
    obj = _armature(bpy)
    assert sorted(b.name for b in obj.data.bones) == sorted(bone_name(b) for b in MOVE_BONES)
    assert _frame_count(obj) == motion.frame_count
    # T-pose rest: the left arm lies along +X at shoulder height.
    arm = obj.data.bones["_1:LeftArm"]
    rest_dir = (obj.matrix_world @ arm.tail_local) - (obj.matrix_world @ arm.head_local)
    assert rest_dir.normalized().x > 0.99
    _check_heads(bpy, obj, heads)


def test_blend_holds_the_baked_action(written):
    motion, files, heads = written
    bpy = _fresh_scene(60)
    bpy.ops.wm.open_mainfile(filepath=str(files["MAIN_BLEND"]))
    obj = _armature(bpy)
    assert bpy.context.scene.render.fps == 60
    action = obj.animation_data.action
    if bpy.app.version >= (4, 4, 0):
        assert obj.animation_data.action_slot is not None
    assert _frame_count(obj) == motion.frame_count
    assert "_1:Hips" in obj.pose.bones and obj.pose.bones["_1:Hips"].rotation_mode == "QUATERNION"
    assert action is not None
    _check_heads(bpy, obj, heads, tol=1e-5)


def test_glb_reimports(written):
    motion, files, heads = written
    bpy = _fresh_scene(60)
    bpy.ops.import_scene.gltf(filepath=str(files["MAIN_GLB"]))
    obj = _armature(bpy)
    assert {b.name for b in obj.data.bones} == {bone_name(b) for b in MOVE_BONES}
    assert _frame_count(obj) == motion.frame_count
    _check_heads(bpy, obj, heads)


def test_usdc_reimports(written):
    _, files, heads = written
    bpy = _fresh_scene(60)
    bpy.ops.wm.usd_import(filepath=str(files["MAIN_USDC"]))
    obj = _armature(bpy)
    # USD prim names cannot hold ':'; Blender writes '_1_Hips'.
    _check_heads(bpy, obj, heads, rename=lambda n: n.replace(":", "_"))
    assert files["MAIN_USDZ"].read_bytes()[:2] == b"PK"


def test_bvh_reimports(written):
    motion, files, heads = written
    bpy = _fresh_scene(60)
    bpy.ops.import_anim.bvh(filepath=str(files["ALL_BVH"]), axis_forward="Y", axis_up="Z", use_fps_scale=False,
                            update_scene_fps=False)
    obj = _armature(bpy)
    assert len(obj.data.bones) == len(MOVE_BONES) and _frame_count(obj) == motion.frame_count
    _check_heads(bpy, obj, heads, frame_offset=1)  # Blender's BVH importer keys the first frame at 1


def test_motion_data_matches_moves_shape_and_the_motion(written):
    motion, files, heads = written
    doc = json.loads(files["MOTION_DATA"].read_text())
    frames = doc["mocap_data"]
    assert len(frames) == motion.frame_count
    ref = json.loads(require_move_api("motion_data_excerpt.json").read_text())["mocap_data"][0]
    assert set(frames[0]["joint_data"]) == set(ref["joint_data"])
    for joint, data in frames[0]["joint_data"].items():
        assert set(data) == set(ref["joint_data"][joint]), joint
        # each joint in Move's own convention: the same type (and so as many angles) as in Move's file
        assert data["type"] == ref["joint_data"][joint]["type"], joint
        assert len(data["rotations"]) == len(data["torques"]) == len(ref["joint_data"][joint]["rotations"])
    assert isinstance(ref["timestamp"], str) and isinstance(frames[0]["timestamp"], str)
    for f in FRAMES:
        for joint, (bone, _) in JOINTS.items():
            pos = frames[f]["joint_data"][joint]["position"]
            assert np.allclose(pos, heads[f, MOVE_BONES.index(bone)], atol=1e-9)
    assert float(frames[30]["timestamp"]) == pytest.approx(0.5)
    forces = np.array([[fr["joint_data"][j]["reaction_forces"] for j in ("Left_toe", "Right_toe")] for fr in frames])
    others = [fr["joint_data"]["Left_knee"]["reaction_forces"] for fr in frames]
    assert not any(others)
    assert not (forces > 0)[~motion.foot_contacts].any()  # no reaction without contact
    weight = body_mass(motion) * 9.81  # (dynamics checked in test_dynamics.py)
    planted = motion.foot_contacts.any(1)
    assert (forces.sum(1) > 0)[planted].mean() > 0.95
    assert planted.any() and 0.8 < forces.sum(1)[planted].mean() / weight < 1.2


def test_root_rotation_in_motion_data_is_the_hips_rotation(written):
    from local_engine.rotations import quat_to_matrix

    motion, files, _ = written
    frames = json.loads(files["MOTION_DATA"].read_text())["mocap_data"]
    for f in FRAMES:
        x, y, z = frames[f]["joint_data"]["Root"]["rotations"]
        # Move's euler_xyz, composed independently of the engine's code: Rx(x) @ Ry(y) @ Rz(z).
        cx, sx, cy, sy, cz, sz = np.cos(x), np.sin(x), np.cos(y), np.sin(y), np.cos(z), np.sin(z)
        rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
        ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
        rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
        m = rx @ ry @ rz
        assert np.allclose(m, quat_to_matrix(motion.rotations[f, 0]), atol=1e-9)


def test_unknown_output_is_an_error(written, tmp_path):
    motion, _, _ = written
    with pytest.raises(OutputError):
        write_outputs([motion], tmp_path, ["RENDER_VIDEO"])
