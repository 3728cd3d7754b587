"""Test rigs for the retarget tests, built in real Blender: a Rigify rig generated from Blender's human
metarig, and Mixamo- and UE5-mannequin-named rigs with an A-pose rest, their own bone rolls, extra bones
(end bones, twist bones, IK helpers, metacarpals) and, for Mixamo, the object transform an FBX import gives
(rotated 90 degrees about X, scaled 0.01, bone data in centimetres, Y up)."""

from __future__ import annotations

import math

import bpy
import numpy as np
from mathutils import Matrix, Vector

FINGERS = ("thumb", "index", "middle", "ring", "pinky")


def _a_pose_joints(height: float) -> dict[str, tuple[Vector, Vector]]:
    """World-space (head, tail) of a generic A-pose humanoid facing -Y, left side +X (``.L`` names)."""
    s = height / 1.8
    j: dict[str, tuple[Vector, Vector]] = {}

    def v(x: float, y: float, z: float) -> Vector:
        return Vector((x * s, y * s, z * s))

    j["hips"] = (v(0, 0.01, 1.0), v(0, 0.0, 1.1))
    j["head"] = (v(0, -0.01, 1.62), v(0, -0.01, 1.8))
    for side, sx in (("L", 1.0), ("R", -1.0)):
        sh = v(0.02 * sx, -0.01, 1.47)
        arm = v(0.17 * sx, 0.0, 1.46)
        down = Vector((math.cos(math.radians(42)) * sx, 0.03, -math.sin(math.radians(42)))).normalized()
        elbow = arm + down * 0.28 * s
        fdown = Vector((math.cos(math.radians(48)) * sx, -0.06, -math.sin(math.radians(48)))).normalized()
        wrist = elbow + fdown * 0.25 * s
        hand_tip = wrist + fdown * 0.09 * s
        j[f"shoulder.{side}"] = (sh, arm)
        j[f"upper_arm.{side}"] = (arm, elbow)
        j[f"forearm.{side}"] = (elbow, wrist)
        j[f"hand.{side}"] = (wrist, hand_tip)
        # Fingers spread front (thumb, -Y) to back (pinky, +Y), pointing down the arm.
        side_axis = Vector((0, 1, 0))
        for k, f in enumerate(FINGERS):
            base = hand_tip + side_axis * (-0.03 + 0.015 * k) * s
            if f == "thumb":
                base = wrist + fdown * 0.025 * s + Vector((0, -0.03, 0)) * s
            d = (fdown + Vector((0, -0.4 if f == "thumb" else 0.0, 0))).normalized()
            seg = (0.035 if f != "pinky" else 0.025) * s
            p = base
            for i in (1, 2, 3):
                q = p + d * seg * (1.0 - 0.15 * (i - 1))
                j[f"{f}_{i}.{side}"] = (p, q)
                p = q
        hip = v(0.1 * sx, 0.0, 0.95)
        knee = v(0.1 * sx, -0.01, 0.52)
        ankle = v(0.1 * sx, 0.02, 0.09)
        ball = v(0.1 * sx, -0.1, 0.02)
        j[f"thigh.{side}"] = (hip, knee)
        j[f"shin.{side}"] = (knee, ankle)
        j[f"foot.{side}"] = (ankle, ball)
        j[f"toe.{side}"] = (ball, v(0.1 * sx, -0.17, 0.02))
    return j


MIXAMO = {
    "hips": "Hips", "head": "Head",
    **{f"{p}.{s}": f"{w}{n}" for s, w in (("L", "Left"), ("R", "Right")) for p, n in (
        ("shoulder", "Shoulder"), ("upper_arm", "Arm"), ("forearm", "ForeArm"), ("hand", "Hand"),
        ("thigh", "UpLeg"), ("shin", "Leg"), ("foot", "Foot"), ("toe", "ToeBase"))},
    **{f"{f}_{i}.{s}": f"{w}Hand{f.title()}{i}" for s, w in (("L", "Left"), ("R", "Right"))
       for f in FINGERS for i in (1, 2, 3)},
}
UE5 = {
    "hips": "pelvis", "head": "head",
    **{f"{p}.{s}": f"{n}_{s.lower()}" for s in ("L", "R") for p, n in (
        ("shoulder", "clavicle"), ("upper_arm", "upperarm"), ("forearm", "lowerarm"), ("hand", "hand"),
        ("thigh", "thigh"), ("shin", "calf"), ("foot", "foot"), ("toe", "ball"))},
    **{f"{f}_{i}.{s}": f"{f}_0{i}_{s.lower()}" for s in ("L", "R") for f in FINGERS for i in (1, 2, 3)},
}


def build_named_rig(kind: str, name: str) -> bpy.types.Object:
    """A Mixamo- ('mixamo') or UE5-mannequin-named ('ue5') armature with an A-pose rest."""
    height = 1.62 if kind == "mixamo" else 1.85
    j = _a_pose_joints(height)
    names = MIXAMO if kind == "mixamo" else UE5
    prefix = "mixamorig:" if kind == "mixamo" else ""
    arm = bpy.data.armatures.new(name)
    obj = bpy.data.objects.new(name, arm)
    bpy.context.scene.collection.objects.link(obj)
    if kind == "mixamo":
        obj.rotation_euler = (math.radians(90), 0, 0)
        obj.scale = (0.01, 0.01, 0.01)
    else:
        obj.location = (1.5, 0.0, 0.0)
    bpy.context.view_layer.objects.active = obj
    obj.select_set(True)
    bpy.context.view_layer.update()
    to_data = obj.matrix_world.inverted()
    rng = np.random.default_rng(3 if kind == "mixamo" else 5)
    bpy.ops.object.mode_set(mode="EDIT")
    eb = arm.edit_bones

    def bone(n: str, head: Vector, tail: Vector, parent: bpy.types.EditBone | None, connect: bool = False):
        b = eb.new(prefix + n)
        b.head = to_data @ head
        b.tail = to_data @ tail
        b.roll = float(rng.uniform(-math.pi, math.pi))
        if parent is not None:
            b.parent = parent
            b.use_connect = connect and (parent.tail - b.head).length < 1e-6
        return b

    root = bone("root", Vector((0, 0, 0)), Vector((0, 0.2 * height, 0)), None) if kind == "ue5" else None
    hips = bone(names["hips"], *j["hips"], root)
    _hips_h, hips_t = j["hips"]
    neck_base = Vector((0, 0.0, 1.5 * height / 1.8))
    if kind == "mixamo":
        spine_names = ["Spine", "Spine1", "Spine2"]
        neck_names = ["Neck"]
    else:
        spine_names = [f"spine_0{i}" for i in range(1, 6)]
        neck_names = ["neck_01", "neck_02"]
    pts = [hips_t.lerp(neck_base, k / len(spine_names)) for k in range(len(spine_names) + 1)]
    parent = hips
    for k, n in enumerate(spine_names):
        parent = bone(n, pts[k], pts[k + 1], parent, connect=True)
    chest = parent
    head_h = j["head"][0]
    npts = [neck_base.lerp(head_h, k / len(neck_names)) for k in range(len(neck_names) + 1)]
    for k, n in enumerate(neck_names):
        parent = bone(n, npts[k], npts[k + 1], parent, connect=True)
    head = bone(names["head"], *j["head"], parent, connect=True)
    if kind == "mixamo":
        bone("HeadTop_End", j["head"][1], j["head"][1] + Vector((0, 0, 0.05)), head, connect=True)
    for side in ("L", "R"):
        sh = bone(names[f"shoulder.{side}"], *j[f"shoulder.{side}"], chest)
        ua = bone(names[f"upper_arm.{side}"], *j[f"upper_arm.{side}"], sh, connect=True)
        fa = bone(names[f"forearm.{side}"], *j[f"forearm.{side}"], ua, connect=True)
        hand = bone(names[f"hand.{side}"], *j[f"hand.{side}"], fa, connect=True)
        for f in FINGERS:
            p = hand
            if kind == "ue5" and f != "thumb":
                h1 = j[f"{f}_1.{side}"][0]
                p = bone(f"{f}_metacarpal_{side.lower()}", j[f"hand.{side}"][0], h1, hand)
            for i in (1, 2, 3):
                p = bone(names[f"{f}_{i}.{side}"], *j[f"{f}_{i}.{side}"], p, connect=i > 1)
            if kind == "mixamo":
                t = j[f"{f}_3.{side}"][1]
                bone(f"{'Left' if side == 'L' else 'Right'}Hand{f.title()}4", t, t + (t - j[f"{f}_3.{side}"][0]) * 0.5, p,
                     connect=True)
        th = bone(names[f"thigh.{side}"], *j[f"thigh.{side}"], hips)
        sn = bone(names[f"shin.{side}"], *j[f"shin.{side}"], th, connect=True)
        ft = bone(names[f"foot.{side}"], *j[f"foot.{side}"], sn, connect=True)
        toe = bone(names[f"toe.{side}"], *j[f"toe.{side}"], ft, connect=True)
        if kind == "mixamo":
            t = j[f"toe.{side}"][1]
            bone(f"{'Left' if side == 'L' else 'Right'}Toe_End", t, t + Vector((0, -0.03, 0)), toe, connect=True)
        if kind == "ue5":
            bone(f"upperarm_twist_01_{side.lower()}", *j[f"upper_arm.{side}"], ua)
            bone(f"calf_twist_01_{side.lower()}", *j[f"shin.{side}"], sn)
    if kind == "ue5":
        ikf = bone("ik_foot_root", Vector((0, 0, 0)), Vector((0, 0.1, 0)), root)
        for side in ("L", "R"):
            a = j[f"foot.{side}"][0]
            bone(f"ik_foot_{side.lower()}", a, a + Vector((0, 0.1, 0)), ikf)
    bpy.ops.object.mode_set(mode="OBJECT")
    # Rotation modes as found in the wild: quaternions on the spine, Euler on limbs.
    for pb in obj.pose.bones:
        pb.rotation_mode = "QUATERNION" if kind == "ue5" or "Spine" in pb.name else "XYZ"
    return obj


def build_rigify() -> bpy.types.Object:
    """Blender's human metarig generated by Rigify (A-pose rest). Returns the generated rig."""
    bpy.ops.preferences.addon_enable(module="rigify")
    bpy.ops.object.armature_human_metarig_add()
    meta = bpy.context.object
    meta.location = (-1.5, 0.0, 0.0)
    bpy.ops.pose.rigify_generate()
    rig = bpy.context.object
    rig.name = "rigify_rig"
    meta.hide_set(True)
    return rig


def import_bvh(path: str, name: str) -> bpy.types.Object:
    bpy.ops.object.select_all(action="DESELECT")
    bpy.ops.import_anim.bvh(filepath=path, update_scene_fps=False, update_scene_duration=False, global_scale=0.056444)
    obj = bpy.context.object
    obj.name = name
    return obj


def world_matrix_np(m: Matrix) -> np.ndarray:
    return np.array(m, dtype=np.float64)
