"""Test rigs for the retarget tests, built in real Blender: a Rigify rig generated from Blender's human
metarig, and Mixamo- and UE5-mannequin-named rigs with an A-pose rest, their own bone rolls, extra bones
(end bones, twist bones, IK helpers, metacarpals) and, for Mixamo, the object transform an FBX import gives
(rotated 90 degrees about X, scaled 0.01, bone data in centimetres, Y up).

Two more rigs follow the published bone naming and hierarchy conventions of Auto-Rig Pro and of Character
Creator (CC3/CC4) exports; they are built here to those conventions, not the vendors' own files:

- ``build_arp_rig``: Auto-Rig Pro's controls (``c_traj``, ``c_root_master.x`` > ``c_root.x``, FK limbs, IK
  controls and poles, finger controls with metacarpal bases) and its deforming bones (``root.x``,
  ``arm_stretch.l``, ``hand.l``, ...) driven by the controls through Copy Transforms constraints, so the
  retarget has to probe the rig. The fingers hang from the deforming hand, as they follow it in FK and IK.
- ``build_cc_rig``: a Character Creator skeleton as Blender's FBX importer gives it (``CC_Base_`` names,
  pelvis between the hip and the thighs, two-bone neck, twist and share bones, facial bones; object rotated
  90 degrees about X and scaled 0.01, bone data in centimetres, quaternion rotations)."""

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
#: Ready Player Me and other generic humanoids: Mixamo's names without its namespace, in metres.
GENERIC = MIXAMO
#: VRM models (VRoid Studio's ``J_Bip_`` names; glTF based).
VRM = {
    "hips": "J_Bip_C_Hips", "head": "J_Bip_C_Head",
    **{f"{p}.{s}": f"J_Bip_{s}_{n}" for s in ("L", "R") for p, n in (
        ("shoulder", "Shoulder"), ("upper_arm", "UpperArm"), ("forearm", "LowerArm"), ("hand", "Hand"),
        ("thigh", "UpperLeg"), ("shin", "LowerLeg"), ("foot", "Foot"), ("toe", "ToeBase"))},
    **{f"{f}_{i}.{s}": f"J_Bip_{s}_{'Little' if f == 'pinky' else f.title()}{i}" for s in ("L", "R")
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
    """An armature with an A-pose rest named as a Mixamo character ('mixamo': with the object transform an FBX
    import gives), a UE5 mannequin ('ue5'), a Ready Player Me / generic humanoid ('generic': Mixamo's names
    without namespace, end bones, metres) or a VRM model ('vrm': VRoid's ``J_Bip_`` names, leaf toes, no end
    bones, as glTF-based avatars come)."""
    height = {"mixamo": 1.62, "ue5": 1.85, "generic": 1.75, "vrm": 1.55}[kind]
    j = _a_pose_joints(height)
    names = {"mixamo": MIXAMO, "ue5": UE5, "generic": GENERIC, "vrm": VRM}[kind]
    prefix = "mixamorig:" if kind == "mixamo" else ""
    ends = kind in ("mixamo", "generic")  # HeadTop_End, finger 4 and Toe_End bones
    arm = bpy.data.armatures.new(name)
    obj = bpy.data.objects.new(name, arm)
    bpy.context.scene.collection.objects.link(obj)
    if kind == "mixamo":
        obj.rotation_euler = (math.radians(90), 0, 0)
        obj.scale = (0.01, 0.01, 0.01)
    else:
        obj.location = {"ue5": (1.5, 0.0, 0.0), "generic": (0.0, 1.5, 0.0), "vrm": (0.0, -1.5, 0.0)}[kind]
    bpy.context.view_layer.objects.active = obj
    obj.select_set(True)
    bpy.context.view_layer.update()
    to_data = obj.matrix_world.inverted()
    rng = np.random.default_rng({"mixamo": 3, "ue5": 5, "generic": 17, "vrm": 19}[kind])
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
    if kind in ("mixamo", "generic"):
        spine_names = ["Spine", "Spine1", "Spine2"]
        neck_names = ["Neck"]
    elif kind == "vrm":
        spine_names = ["J_Bip_C_Spine", "J_Bip_C_Chest", "J_Bip_C_UpperChest"]
        neck_names = ["J_Bip_C_Neck"]
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
    if ends:
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
            if ends:
                t = j[f"{f}_3.{side}"][1]
                bone(f"{'Left' if side == 'L' else 'Right'}Hand{f.title()}4", t, t + (t - j[f"{f}_3.{side}"][0]) * 0.5, p,
                     connect=True)
        th = bone(names[f"thigh.{side}"], *j[f"thigh.{side}"], hips)
        sn = bone(names[f"shin.{side}"], *j[f"shin.{side}"], th, connect=True)
        ft = bone(names[f"foot.{side}"], *j[f"foot.{side}"], sn, connect=True)
        toe = bone(names[f"toe.{side}"], *j[f"toe.{side}"], ft, connect=True)
        if ends:
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


class _Bones:
    """Makes the edit bones of a new armature object from world-space points (undoing the object's
    transform, as an importer's bone data would), each with a random roll."""

    def __init__(self, obj: bpy.types.Object, seed: int) -> None:
        self.edit = obj.data.edit_bones
        self.to_data = obj.matrix_world.inverted()
        self.rng = np.random.default_rng(seed)

    def __call__(self, n: str, head: Vector, tail: Vector, parent: bpy.types.EditBone | None = None,
                 connect: bool = False) -> bpy.types.EditBone:
        b = self.edit.new(n)
        b.head = self.to_data @ head
        b.tail = self.to_data @ tail
        b.roll = float(self.rng.uniform(-math.pi, math.pi))
        if parent is not None:
            b.parent = parent
            b.use_connect = connect and (parent.tail - b.head).length < 1e-6
        return b

    def copy(self, n: str, of: bpy.types.EditBone, parent: bpy.types.EditBone | None) -> bpy.types.EditBone:
        """A bone at another bone's rest (same head, tail and roll)."""
        b = self.edit.new(n)
        b.head, b.tail, b.roll = of.head, of.tail, of.roll
        b.parent = parent
        return b


def _new_armature(name: str) -> bpy.types.Object:
    obj = bpy.data.objects.new(name, bpy.data.armatures.new(name))
    bpy.context.scene.collection.objects.link(obj)
    bpy.context.view_layer.objects.active = obj
    obj.select_set(True)
    return obj


def _chain_points(a: Vector, b: Vector, n: int) -> list[Vector]:
    return [a.lerp(b, k / n) for k in range(n + 1)]


def build_arp_rig(name: str) -> bpy.types.Object:
    """An armature named and built to Auto-Rig Pro's conventions (A-pose rest): the controls an animator
    keys, IK controls that FK does not use, and deforming bones that copy the controls' transforms."""
    height = 1.75
    s = height / 1.8
    at = Vector((-3.0, 0.0, 0.0))  # where the object stands
    j = {k: (h + at, t + at) for k, (h, t) in _a_pose_joints(height).items()}
    obj = _new_armature(name)
    obj.location = at
    bpy.context.view_layer.update()
    bone = _Bones(obj, seed=11)
    bpy.ops.object.mode_set(mode="EDIT")
    c_pos = bone("c_pos", at, at + Vector((0, 0.3 * s, 0)))
    c_traj = bone("c_traj", at, at + Vector((0, 0.2 * s, 0)), c_pos)
    hips_h, hips_t = j["hips"]
    # c_root_master.x moves the whole upper body (spine and pelvis); c_root.x, its child, turns the pelvis
    # and carries the legs (here pointing down at the pelvis).
    ctl: dict[str, bpy.types.EditBone] = {}
    master = ctl["c_root_master.x"] = bone("c_root_master.x", hips_h, hips_t, c_traj)
    c_root = ctl["c_root.x"] = bone("c_root.x", hips_t, hips_h, master)
    neck_base = Vector((0, 0.0, 1.5 * s)) + at
    pts = _chain_points(hips_t, neck_base, 3)
    parent = master
    for k in range(3):
        n = f"c_spine_0{k + 1}.x"
        parent = ctl[n] = bone(n, pts[k], pts[k + 1], parent, connect=k > 0)
    chest = parent
    ctl["c_neck.x"] = bone("c_neck.x", neck_base, j["head"][0], chest, connect=True)
    ctl["c_head.x"] = bone("c_head.x", *j["head"], ctl["c_neck.x"], connect=True)
    for side in ("L", "R"):
        x = side.lower()
        parent = ctl[f"c_shoulder.{x}"] = bone(f"c_shoulder.{x}", *j[f"shoulder.{side}"], chest)
        for part, n in (("upper_arm", "c_arm_fk"), ("forearm", "c_forearm_fk"), ("hand", "c_hand_fk")):
            parent = ctl[f"{n}.{x}"] = bone(f"{n}.{x}", *j[f"{part}.{side}"], parent, connect=part != "upper_arm")
        # A thigh helper between the pelvis control and the FK thigh, then the FK leg.
        th_h, th_t = j[f"thigh.{side}"]
        parent = bone(f"c_thigh_b.{x}", th_h + (th_h - th_t) * 0.15, th_h, c_root)
        for part, n in (("thigh", "c_thigh_fk"), ("shin", "c_leg_fk"), ("foot", "c_foot_fk"), ("toe", "c_toes_fk")):
            parent = ctl[f"{n}.{x}"] = bone(f"{n}.{x}", *j[f"{part}.{side}"], parent, connect=part != "thigh")
        # IK controls and poles (unused in FK), under the trajectory bone.
        wrist, ankle = j[f"hand.{side}"][0], j[f"foot.{side}"][0]
        elbow, knee = j[f"forearm.{side}"][0], j[f"shin.{side}"][0]
        bone(f"c_hand_ik.{x}", wrist, j[f"hand.{side}"][1], c_traj)
        bone(f"c_arms_pole.{x}", elbow + Vector((0, 0.3 * s, 0)), elbow + Vector((0, 0.35 * s, 0)), c_traj)
        bone(f"c_foot_ik.{x}", ankle, j[f"toe.{side}"][1], c_traj)
        bone(f"c_leg_pole.{x}", knee + Vector((0, -0.4 * s, 0)), knee + Vector((0, -0.45 * s, 0)), c_traj)
    # Deforming bones (name -> control, deforming parent) at the controls' rest.
    deform = {"root.x": ("c_root.x", None), "spine_01.x": ("c_spine_01.x", "root.x"),
              "spine_02.x": ("c_spine_02.x", "spine_01.x"), "spine_03.x": ("c_spine_03.x", "spine_02.x"),
              "neck.x": ("c_neck.x", "spine_03.x"), "head.x": ("c_head.x", "neck.x")}
    for x in ("l", "r"):
        deform.update({
            f"shoulder.{x}": (f"c_shoulder.{x}", "spine_03.x"),
            f"arm_stretch.{x}": (f"c_arm_fk.{x}", f"shoulder.{x}"),
            f"forearm_stretch.{x}": (f"c_forearm_fk.{x}", f"arm_stretch.{x}"),
            f"hand.{x}": (f"c_hand_fk.{x}", f"forearm_stretch.{x}"),
            f"thigh_stretch.{x}": (f"c_thigh_fk.{x}", "root.x"),
            f"leg_stretch.{x}": (f"c_leg_fk.{x}", f"thigh_stretch.{x}"),
            f"foot.{x}": (f"c_foot_fk.{x}", f"leg_stretch.{x}"),
            f"toes_01.{x}": (f"c_toes_fk.{x}", f"foot.{x}"),
        })
    made: dict[str, bpy.types.EditBone] = {}
    for n, (c, par) in deform.items():
        made[n] = bone.copy(n, ctl[c], made[par] if par else c_traj)
    for side in ("L", "R"):
        x = side.lower()
        bone(f"arm_twist.{x}", *j[f"upper_arm.{side}"], made[f"arm_stretch.{x}"])
        bone(f"forearm_twist.{x}", *j[f"forearm.{side}"], made[f"forearm_stretch.{x}"])
        for f in FINGERS:
            # Finger controls hang from the deforming hand, through a metacarpal base except the thumb's.
            parent = made[f"hand.{x}"]
            if f != "thumb":
                parent = bone(f"c_{f}1_base.{x}", j[f"hand.{side}"][0], j[f"{f}_1.{side}"][0], parent)
            d_parent = made[f"hand.{x}"]
            for i in (1, 2, 3):
                n = f"c_{f}{i}.{x}"
                parent = ctl[n] = bone(n, *j[f"{f}_{i}.{side}"], parent, connect=i > 1)
                d_parent = made[f"{f}{i}.{x}"] = bone.copy(f"{f}{i}.{x}", parent, d_parent)
                deform[f"{f}{i}.{x}"] = (n, None)
    # The IK chain the limbs follow in IK mode (left at rest here: no solver needed to tell the modes apart).
    ik_chain = {}
    for x in ("l", "r"):
        for fk, ik in (("c_arm_fk", "arm_ik"), ("c_forearm_fk", "forearm_ik"), ("c_hand_fk", "c_hand_ik"),
                       ("c_thigh_fk", "thigh_ik"), ("c_leg_fk", "leg_ik"), ("c_foot_fk", "c_foot_ik")):
            ik_chain[f"{fk}.{x}"] = f"{ik}.{x}"
            if not ik.startswith("c_"):
                bone.copy(f"{ik}.{x}", ctl[f"{fk}.{x}"], c_traj)
    bpy.ops.object.mode_set(mode="OBJECT")
    for n, (c, _) in deform.items():
        con = obj.pose.bones[n].constraints.new("COPY_TRANSFORMS")
        con.target = obj
        con.subtarget = c
        if c in ik_chain:
            # As in Auto-Rig Pro: the limb follows FK with influence ik_fk_switch and IK with 1 - ik_fk_switch,
            # the switch being a custom property of the hand/foot IK control (0 = IK, the default here).
            switch = obj.pose.bones[f"c_{'hand' if c.startswith(('c_arm', 'c_forearm', 'c_hand')) else 'foot'}_ik."
                                    f"{c[-1]}"]
            switch["ik_fk_switch"] = 0.0
            ik = obj.pose.bones[n].constraints.new("COPY_TRANSFORMS")
            ik.target, ik.subtarget = obj, ik_chain[c]
            for constraint, expression in ((con, "var"), (ik, "1 - var")):
                fc = constraint.driver_add("influence")
                var = fc.driver.variables.new()
                var.name = "var"
                var.targets[0].id = obj
                var.targets[0].data_path = f'pose.bones["{switch.name}"]["ik_fk_switch"]'
                fc.driver.expression = expression
    # Rotation modes mixed: quaternions on the trunk, Euler on limbs and fingers.
    for pb in obj.pose.bones:
        pb.rotation_mode = "XYZ" if pb.name.endswith((".l", ".r")) else "QUATERNION"
    return obj


CC_FINGERS = {"thumb": "Thumb", "index": "Index", "middle": "Mid", "ring": "Ring", "pinky": "Pinky"}


def build_cc_rig(name: str) -> bpy.types.Object:
    """An armature named and built to Character Creator's conventions as Blender's FBX importer gives it
    (A-pose rest, no connected bones, quaternion rotations)."""
    height = 1.7
    s = height / 1.8
    at = Vector((3.0, 0.0, 0.0))
    j = {k: (h + at, t + at) for k, (h, t) in _a_pose_joints(height).items()}
    obj = _new_armature(name)
    obj.location = at
    obj.rotation_euler = (math.radians(90), 0, 0)
    obj.scale = (0.01, 0.01, 0.01)
    bpy.context.view_layer.update()
    bone = _Bones(obj, seed=13)
    bpy.ops.object.mode_set(mode="EDIT")

    def cc(n: str, head: Vector, tail: Vector, parent: bpy.types.EditBone | None) -> bpy.types.EditBone:
        return bone(f"CC_Base_{n}", head, tail, parent)

    root = cc("BoneRoot", at, at + Vector((0, 0, 0.1 * s)), None)
    hips_h, hips_t = j["hips"]
    hip = cc("Hip", hips_h, hips_t, root)
    pelvis = cc("Pelvis", hips_h, hips_h + Vector((0, 0.02 * s, -0.08 * s)), hip)
    neck_base = Vector((0, 0.0, 1.5 * s)) + at
    pts = _chain_points(hips_t, neck_base, 3)
    parent = hip
    for k, n in enumerate(("Waist", "Spine01", "Spine02")):
        parent = cc(n, pts[k], pts[k + 1], parent)
    chest = parent
    npts = _chain_points(neck_base, j["head"][0], 2)
    for k, n in enumerate(("NeckTwist01", "NeckTwist02")):
        parent = cc(n, npts[k], npts[k + 1], parent)
    head = cc("Head", *j["head"], parent)
    # Facial bones under the head (jaw and eyes in front of it).
    face = cc("FacialBone", j["head"][0], j["head"][0] + Vector((0, -0.05 * s, 0)), head)
    eye_z = j["head"][0].z + 0.08 * s
    cc("JawRoot", j["head"][0] + Vector((0, -0.02 * s, 0.01 * s)), Vector((at.x, -0.08 * s, eye_z - 0.1 * s)), face)
    for side, sx in (("L", 1.0), ("R", -1.0)):
        cc(f"{side}_Eye", Vector((at.x + 0.03 * sx * s, -0.07 * s, eye_z)),
           Vector((at.x + 0.03 * sx * s, -0.1 * s, eye_z)), face)
    for side in ("L", "R"):
        p = f"{side}_"
        parent = cc(p + "Clavicle", *j[f"shoulder.{side}"], chest)
        limb = {}
        for part, n in (("upper_arm", "Upperarm"), ("forearm", "Forearm"), ("hand", "Hand")):
            parent = limb[n] = cc(p + n, *j[f"{part}.{side}"], parent)
        for f, n in CC_FINGERS.items():
            parent = limb["Hand"]
            for i in (1, 2, 3):
                parent = cc(f"{p}{n}{i}", *j[f"{f}_{i}.{side}"], parent)
        parent = pelvis
        for part, n in (("thigh", "Thigh"), ("shin", "Calf"), ("foot", "Foot"), ("toe", "ToeBase")):
            parent = limb[n] = cc(p + n, *j[f"{part}.{side}"], parent)
        # Twist bones along the long bones, share bones at the elbow and knee, a big toe on the toe base.
        for n, part in (("Upperarm", "upper_arm"), ("Forearm", "forearm"), ("Thigh", "thigh"), ("Calf", "shin")):
            a, b = j[f"{part}.{side}"]
            cc(f"{p}{n}Twist01", a, a.lerp(b, 0.5), limb[n])
            cc(f"{p}{n}Twist02", a.lerp(b, 0.5), b, limb[n])
        cc(p + "ElbowShareBone", j[f"forearm.{side}"][0], j[f"forearm.{side}"][0] + Vector((0, 0.03 * s, 0)),
           limb["Forearm"])
        cc(p + "KneeShareBone", j[f"shin.{side}"][0], j[f"shin.{side}"][0] + Vector((0, -0.03 * s, 0)), limb["Calf"])
        toe_h, toe_t = j[f"toe.{side}"]
        cc(p + "BigToe1", toe_h, toe_t, limb["ToeBase"])
    bpy.ops.object.mode_set(mode="OBJECT")
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
