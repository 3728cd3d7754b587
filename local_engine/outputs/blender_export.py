"""Blender-side output writer, run as its own process, either by a Blender binary in background mode
(``blender -b --factory-startup --python-exit-code 1 --python blender_export.py -- motion.npz [more.npz] OUTDIR
--outputs MAIN_FBX ...``, how an installed engine runs it) or by a Python with the PyPI bpy module
(``python -m local_engine.outputs.blender_export motion.npz OUTDIR --outputs ...``, developers).

It builds one armature per actor (Move's bone names with the ``_1:`` namespace, T-pose rest, Z up, metres),
bakes each MoveMotion into an action with bulk key writes (``keyframe_points.add`` + ``foreach_set``), then
calls Blender's own exporters (ALL_BVH: one ROOT per actor in one file). Handles Blender 4.2
(``Action.fcurves``) and 5.0 (slotted actions: layers -> strips -> channelbag). The last stdout line is JSON ``{output type: path}``. Never import this module from
the server process: it imports bpy.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

OUTPUT_FILES = {"MAIN_FBX": "main.fbx", "MAIN_BLEND": "main.blend", "MAIN_GLB": "main.glb",
                "MAIN_USDC": "main.usdc", "MAIN_USDZ": "main.usdz", "ALL_BVH": "all.bvh"}


def _qmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    aw, ax, ay, az = np.moveaxis(a, -1, 0)
    bw, bx, by, bz = np.moveaxis(b, -1, 0)
    return np.stack([aw * bw - ax * bx - ay * by - az * bz, aw * bx + ax * bw + ay * bz - az * by,
                     aw * by - ax * bz + ay * bw + az * bx, aw * bz + ax * by - ay * bx + az * bw], -1)


def _qconj(q: np.ndarray) -> np.ndarray:
    return q * np.array([1.0, -1.0, -1.0, -1.0])


def local_pose(motion, rest_quats: np.ndarray, rest_mats: np.ndarray):
    """Per-bone local (pose-bone) quaternions (F, B, 4) and root location (F, 3).

    With R_b the bone's rest orientation and Q_b its armature-space delta, a pose bone's basis rotation is
    L_b = R_b^-1 Q_p^-1 Q_b R_b (Q_p = identity for the root); the root's location is R^-1 (hips - rest head).
    """
    q = motion.rotations
    parents = motion.parents
    rel = np.empty_like(q)
    for b, p in enumerate(parents):
        rel[:, b] = q[:, b] if p < 0 else _qmul(_qconj(q[:, p]), q[:, b])
    local = _qmul(_qmul(_qconj(rest_quats)[None], rel), rest_quats[None])
    # Keep quaternions continuous in time so interpolation never takes the long way round.
    for f in range(1, len(local)):
        flip = (local[f] * local[f - 1]).sum(-1) < 0
        local[f, flip] *= -1
    root = parents.index(-1)
    loc = (motion.hips_positions - motion.rest_heads[root]) @ rest_mats[root]  # R^T v, row-vector form
    return local, loc


def _fcurve_container(bpy, obj, action):
    """Where F-curves go: the action (4.2) or the channelbag of the object's slot (4.4+/5.0)."""
    if hasattr(action, "layers") and hasattr(action, "slots"):
        slot = action.slots.new(id_type="OBJECT", name=obj.name)
        obj.animation_data.action = action
        obj.animation_data.action_slot = slot
        try:
            from bpy_extras.anim_utils import action_ensure_channelbag_for_slot

            return action_ensure_channelbag_for_slot(action, slot)
        except ImportError:
            layer = action.layers.new("Layer")
            strip = layer.strips.new(type="KEYFRAME")
            return strip.channelbag(slot, ensure=True)
    obj.animation_data.action = action
    return action


def _write_fcurve(container, data_path: str, index: int, group: str, frames: np.ndarray, values: np.ndarray):
    try:  # Action.fcurves (4.2) names the group action_group, a channelbag (4.4+) group_name
        fc = container.fcurves.new(data_path, index=index, action_group=group)
    except TypeError:
        fc = container.fcurves.new(data_path, index=index, group_name=group)
    fc.keyframe_points.add(len(frames))
    co = np.empty(2 * len(frames), dtype=np.float32)
    co[0::2] = frames
    co[1::2] = values
    fc.keyframe_points.foreach_set("co", co)
    fc.keyframe_points.foreach_set("interpolation", np.full(len(frames), 1, dtype=np.int32))  # LINEAR
    fc.update()
    return fc


def build_rest_armature(bpy, name: str, motion=None):
    """An armature object on Move's skeleton in T-pose rest (``_1:`` names; the rest of ``motion`` when
    given, else local_engine.motion's), linked to the scene and made active; returns the object."""
    from local_engine.motion import MOVE_BONES, MoveMotion, bone_name

    if motion is None:
        motion = MoveMotion(fps=1.0, rotations=np.tile([1.0, 0, 0, 0], (1, len(MOVE_BONES), 1)),
                            hips_positions=np.zeros((1, 3)))
    arm = bpy.data.armatures.new(name)
    obj = bpy.data.objects.new(name, arm)
    bpy.context.scene.collection.objects.link(obj)
    bpy.context.view_layer.objects.active = obj
    bpy.ops.object.mode_set(mode="EDIT")
    parents = motion.parents
    edit = []
    for b, bone in enumerate(motion.bones):
        eb = arm.edit_bones.new(bone_name(bone, motion.actor))
        eb.head = motion.rest_heads[b].tolist()
        eb.tail = motion.rest_tails[b].tolist()
        eb.roll = 0.0
        if parents[b] >= 0:
            eb.parent = edit[parents[b]]
        edit.append(eb)
    bpy.ops.object.mode_set(mode="OBJECT")
    return obj


def build_armature(bpy, motion, name: str):
    """An armature object in T-pose rest with the motion baked into a new action; returns the object."""
    from mathutils import Matrix

    from local_engine.motion import bone_name

    obj = build_rest_armature(bpy, name, motion)
    arm = obj.data

    names = [bone_name(b, motion.actor) for b in motion.bones]
    rest_mats = np.array([np.array(arm.bones[n].matrix_local.to_3x3()) for n in names])
    rest_quats = np.array([list(Matrix(m.tolist()).to_quaternion()) for m in rest_mats])
    local, loc = local_pose(motion, rest_quats, rest_mats)

    obj.animation_data_create()
    action = bpy.data.actions.new(f"{name}Action")
    container = _fcurve_container(bpy, obj, action)
    frames = np.arange(motion.frame_count, dtype=np.float64)
    root = motion.parents.index(-1)
    for b, n in enumerate(names):
        pb = obj.pose.bones[n]
        pb.rotation_mode = "QUATERNION"
        path = f'pose.bones["{n}"]'
        for i in range(4):
            _write_fcurve(container, f"{path}.rotation_quaternion", i, n, frames, local[:, b, i])
        if b == root:
            for i in range(3):
                _write_fcurve(container, f"{path}.location", i, n, frames, loc[:, i])
    return obj


def _key_rest_pose(obj, frame: int) -> None:
    """Key every pose channel at its rest value (identity rotation, zero location) at ``frame``."""
    anim = obj.animation_data
    action = anim.action
    if hasattr(anim, "action_slot") and hasattr(action, "layers") and action.layers:
        from bpy_extras.anim_utils import action_get_channelbag_for_slot

        fcurves = action_get_channelbag_for_slot(action, anim.action_slot).fcurves
    else:
        fcurves = action.fcurves
    for fc in fcurves:
        rest = 1.0 if fc.data_path.endswith("rotation_quaternion") and fc.array_index == 0 else 0.0
        fc.keyframe_points.insert(frame, rest, options={"FAST"})
        fc.update()


def _die_with_parent() -> None:
    """Linux: get SIGTERM when the server dies, so a killed server leaves no writer behind."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import os
    import signal

    parent = os.getppid()
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the call
        raise SystemExit(1)


def _own_arguments(argv: list[str]) -> list[str]:
    """The writer's arguments: what follows ``--`` when Blender runs this file (Blender keeps its own
    options in ``sys.argv``), else everything after the program name."""
    return argv[argv.index("--") + 1:] if "--" in argv else argv[1:]


def _export_bvh(bpy: Any, objects: list[Any], path: Path, frame_end: int) -> None:
    """ALL_BVH: Blender's BVH exporter per armature, then every actor's skeleton in one file (one ROOT each:
    local_engine.bvh.merge_roots)."""
    from local_engine.bvh import merge_roots

    texts = []
    for k, obj in enumerate(objects):
        for o in bpy.context.view_layer.objects:
            o.select_set(o is obj)
        bpy.context.view_layer.objects.active = obj
        part = path if len(objects) == 1 else path.with_name(f"{path.stem}.actor{k + 1}.bvh")
        bpy.ops.export_anim.bvh(filepath=str(part), frame_start=0, frame_end=frame_end, rotate_mode="NATIVE",
                                root_transform_only=True)
        if len(objects) > 1:
            texts.append(part.read_text())
            part.unlink()
    if texts:
        path.write_text(merge_roots(texts))


def main(argv: list[str] | None = None) -> int:
    _die_with_parent()
    if argv is None:
        argv = _own_arguments(sys.argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("motions", nargs="+", type=Path)
    parser.add_argument("--outputs", nargs="+", required=True, choices=sorted(OUTPUT_FILES))
    args = parser.parse_args(argv)
    *npz, out_dir = args.motions
    if not npz:
        parser.error("give at least one motion .npz and the output directory")
    out_dir.mkdir(parents=True, exist_ok=True)

    import bpy

    from local_engine.motion import MoveMotion

    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    motions = sorted((MoveMotion.load(p) for p in npz), key=lambda m: m.actor)
    fps = motions[0].fps
    scene.render.fps = max(1, round(fps))
    scene.render.fps_base = scene.render.fps / fps
    scene.frame_start = 0
    scene.frame_end = max(m.frame_count for m in motions) - 1
    scene.unit_settings.system = "METRIC"
    scene.unit_settings.scale_length = 1.0
    objects = [build_armature(bpy, m, f"Armature_{m.actor}" if len(motions) > 1 else "Armature") for m in motions]

    written: dict[str, str] = {}
    # The FBX exporter writes an armature's bone transforms as they are at the current frame (there is no
    # bind pose without a mesh), so FBX goes last, after a rest-pose key one frame before the animation.
    order = sorted(args.outputs, key=lambda k: k == "MAIN_FBX")
    for key in order:
        if key == "MAIN_FBX":
            for o in objects:
                _key_rest_pose(o, scene.frame_start - 1)
            scene.frame_set(scene.frame_start - 1)
        path = out_dir / OUTPUT_FILES[key]
        if key == "MAIN_FBX":
            bpy.ops.export_scene.fbx(filepath=str(path), object_types={"ARMATURE"}, add_leaf_bones=False,
                                     bake_anim=True, bake_anim_use_all_actions=False, bake_anim_use_nla_strips=False,
                                     bake_anim_simplify_factor=0.0, axis_forward="-Y", axis_up="Z",
                                     apply_unit_scale=True, use_armature_deform_only=False)
        elif key == "MAIN_BLEND":
            bpy.ops.wm.save_as_mainfile(filepath=str(path), copy=True)
        elif key == "MAIN_GLB":
            # every actor's action in one glTF animation, so an importer plays all of them together
            bpy.ops.export_scene.gltf(filepath=str(path), export_format="GLB", export_animations=True,
                                      export_force_sampling=True, export_animation_mode="ACTIVE_ACTIONS")
        elif key in ("MAIN_USDC", "MAIN_USDZ"):
            bpy.ops.wm.usd_export(filepath=str(path), export_animation=True, export_armatures=True)
        elif key == "ALL_BVH":
            _export_bvh(bpy, objects, path, scene.frame_end)
        if not path.exists():
            raise SystemExit(f"{key}: Blender wrote no {path.name}")
        written[key] = str(path)
    print(json.dumps(written), flush=True)
    return 0


if __name__ == "__main__":
    if not __package__:  # run as a file by Blender's --python: find local_engine next to this file
        sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # bpy 4.2 can crash while tearing down after the USD exporter ran; the files are complete by now.
    import os

    os._exit(code)
