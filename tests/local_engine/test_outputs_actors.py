"""Output writers with two actors: every Blender format holds one skeleton per actor with Move's namespaces
(``_1:Hips``, ``_2:Hips``), each moving as its own motion; MOTION_DATA has one key per actor, as Move's files.

Actor 1 is real motion capture (CMU 01_03), actor 2 the same capture played backwards two metres to the side, so
an actor written with the other's keys, or both with one's, is caught.
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from local_engine.kinematics import forward_kinematics
from local_engine.motion import MOVE_BONES, bone_name
from local_engine.outputs import SUPPORTED_OUTPUTS, write_outputs
from local_engine.outputs.motion_data import JOINTS
from local_engine.solvers import make_solver
from local_engine.solvers.base import SolveRequest
from tests.fixtures.blender_standin import make_blender_standin

FRAMES = (0, 31, 89)


@pytest.fixture(scope="module")
def two_actors(cmu_bvh, tmp_path_factory):
    out = tmp_path_factory.mktemp("actors")
    solver = make_solver("replay", motion=cmu_bvh)
    (first,) = solver.solve(SolveRequest(cameras=[], work_dir=out, clip_window=(2.0, 3.5))).motions
    second = replace(first, actor=2, rotations=first.rotations[::-1].copy(),
                     hips_positions=first.hips_positions[::-1] + np.array([2.0, 0.0, 0.0]),
                     foot_contacts=None if first.foot_contacts is None else first.foot_contacts[::-1].copy(),
                     metadata=dict(first.metadata))
    blender = make_blender_standin(out / "bin")
    files = write_outputs([second, first], out / "files", list(SUPPORTED_OUTPUTS), blender=str(blender))
    return [first, second], files, [forward_kinematics(m)[0] for m in (first, second)]


def _scene():
    import bpy

    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.context.scene.render.fps = 60
    return bpy


def _owner(bpy, name):
    """The armature object holding the bone ``name``."""
    arms = [o for o in bpy.data.objects if o.type == "ARMATURE" and name in o.data.bones]
    assert len(arms) == 1, (name, [o.name for o in bpy.data.objects])
    return arms[0]


def _check(bpy, heads, frame_offset=0, rename=lambda n: n, tol=1e-3):
    for actor, h in enumerate(heads, start=1):
        obj = _owner(bpy, rename(bone_name("Hips", actor)))
        for f in FRAMES:
            bpy.context.scene.frame_set(f + frame_offset)
            bpy.context.view_layer.update()
            for b, bone in enumerate(MOVE_BONES):
                p = np.array(obj.matrix_world @ obj.pose.bones[rename(bone_name(bone, actor))].head)
                assert np.linalg.norm(p - h[f, b]) < tol, (actor, f, bone, p, h[f, b])


def _armatures(bpy):
    return [o for o in bpy.data.objects if o.type == "ARMATURE"]


def test_fbx_has_one_armature_per_actor(two_actors):
    _, files, heads = two_actors
    bpy = _scene()
    bpy.ops.import_scene.fbx(filepath=str(files["MAIN_FBX"]), anim_offset=0, axis_forward="-Y", axis_up="Z")
    assert len(_armatures(bpy)) == 2
    for actor in (1, 2):
        names = {b.name for b in _owner(bpy, bone_name("Hips", actor)).data.bones}
        assert names == {bone_name(b, actor) for b in MOVE_BONES}
    _check(bpy, heads)


def test_blend_glb_usdc_have_one_armature_per_actor(two_actors):
    _, files, heads = two_actors
    bpy = _scene()
    bpy.ops.wm.open_mainfile(filepath=str(files["MAIN_BLEND"]))
    assert len(_armatures(bpy)) == 2
    _check(bpy, heads, tol=1e-5)
    bpy = _scene()
    bpy.ops.import_scene.gltf(filepath=str(files["MAIN_GLB"]))
    assert len(_armatures(bpy)) == 2
    _check(bpy, heads)
    bpy = _scene()
    bpy.ops.wm.usd_import(filepath=str(files["MAIN_USDC"]))
    assert len(_armatures(bpy)) == 2
    _check(bpy, heads, rename=lambda n: n.replace(":", "_"))  # USD prim names cannot hold ':'


def test_bvh_holds_every_actor(two_actors):
    from local_engine.bvh import read_bvh

    motions, files, heads = two_actors
    bvh = read_bvh(files["ALL_BVH"])
    assert bvh.names.count(bone_name("Hips", 1)) == 1 and bvh.names.count(bone_name("Hips", 2)) == 1
    assert len(bvh.motion) == motions[0].frame_count
    bpy = _scene()
    bpy.ops.import_anim.bvh(filepath=str(files["ALL_BVH"]), axis_forward="Y", axis_up="Z", use_fps_scale=False,
                            update_scene_fps=False)
    _check(bpy, heads, frame_offset=1)  # Blender's BVH importer keys the first frame at 1


def test_motion_data_has_one_key_per_actor(two_actors):
    motions, files, heads = two_actors
    doc = json.loads(files["MOTION_DATA"].read_text())
    assert sorted(doc) == ["mocap_data", "mocap_data_actor_2"]
    for key, h in zip(("mocap_data", "mocap_data_actor_2"), heads):
        frames = doc[key]
        assert len(frames) == motions[0].frame_count
        for f in FRAMES:
            for joint, (bone, _) in JOINTS.items():
                assert np.allclose(frames[f]["joint_data"][joint]["position"], h[f, MOVE_BONES.index(bone)],
                                   atol=1e-9)
    # the two actors really differ (two metres apart)
    gap = np.subtract(doc["mocap_data_actor_2"][0]["joint_data"]["Root"]["position"],
                      doc["mocap_data"][0]["joint_data"]["Root"]["position"])
    assert np.linalg.norm(gap) > 1.0
