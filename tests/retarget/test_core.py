"""The bpy-free retarget core: quaternion maths against closed forms, forward kinematics, mapping detection
on Move's skeleton (names and geometry alone), presets, and the solver on a T-pose -> A-pose case."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from local_engine.motion import MOVE_BONES, MOVE_PARENTS, bone_name, rest_heads, rest_tails
from move_mocap.core.retarget import quat as Q
from move_mocap.core.retarget.mapping import (
    PROFILE_LABELS,
    SLOTS,
    BoneMapping,
    detect,
    detect_by_geometry,
)
from move_mocap.core.retarget.skeleton import Skeleton, channels_to_quat, forward_kinematics, quat_to_channels
from move_mocap.core.retarget.solver import SolveOptions, SourceTake, hierarchy_model, solve

ROOT = Path(__file__).resolve().parents[2]


def test_core_imports_without_bpy() -> None:
    code = (
        "import sys; sys.modules['bpy'] = None; sys.modules['mathutils'] = None\n"
        "import move_mocap.core.retarget.solver, move_mocap.core.retarget.mapping\n"
        "assert 'bpy' not in [m for m in sys.modules if sys.modules[m] is not None]\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def _rot_x(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _rot_y(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _rot_z(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def test_quaternions_match_rotation_matrices() -> None:
    rng = np.random.default_rng(1)
    ang = rng.uniform(-3, 3, size=(200, 3))
    mats = np.array([_rot_z(z) @ _rot_y(y) @ _rot_x(x) for x, y, z in ang])  # Blender 'XYZ'
    q = Q.from_euler(ang, "XYZ")
    assert np.allclose(Q.to_matrix(q), mats, atol=1e-12)
    assert np.allclose(np.abs(np.sum(Q.from_matrix(mats) * q, -1)), 1.0)
    v = rng.normal(size=(200, 3))
    assert np.allclose(Q.rotate(q, v), np.einsum("nij,nj->ni", mats, v))
    assert np.allclose(Q.to_matrix(Q.mul(q[:-1], q[1:])), mats[:-1] @ mats[1:])
    for order in ("XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX"):
        back = Q.from_euler(Q.to_euler(q, order), order)
        assert np.allclose(np.abs(np.sum(back * q, -1)), 1.0), order
    a, b = rng.normal(size=(50, 3)), rng.normal(size=(50, 3))
    moved = Q.rotate(Q.swing(a, b), a)
    assert np.allclose(moved / np.linalg.norm(moved, axis=1)[:, None], b / np.linalg.norm(b, axis=1)[:, None])


def test_channel_conversions_are_continuous() -> None:
    t = np.linspace(0, 6 * np.pi, 500)
    q = Q.from_axis_angle(np.array([0.3, 1.0, 0.2]), t)
    for mode in ("QUATERNION", "XYZ", "ZYX", "AXIS_ANGLE"):
        ch = quat_to_channels(q, mode)
        assert np.max(np.abs(np.diff(ch, axis=0))) < 1.0, mode  # no 2 pi or branch jumps
        assert np.allclose(np.abs(np.sum(channels_to_quat(ch, mode) * q, -1)), 1.0), mode


def _move_skeleton(names: list[str] | None = None, rest: str = "T") -> Skeleton:
    heads, tails = rest_heads(), rest_tails()
    if rest == "A":  # lower the arms by 40 degrees about the forward axis, around the shoulder joints
        for side, sx in (("Left", 1.0), ("Right", -1.0)):
            pivot = heads[MOVE_BONES.index(f"{side}Arm")]
            r = Q.from_axis_angle(np.array([0.0, 1.0, 0.0]), np.radians(40) * sx)
            for i, n in enumerate(MOVE_BONES):
                if n.startswith(side) and ("Arm" in n or "Hand" in n):
                    heads[i] = pivot + Q.rotate(r, heads[i] - pivot)
                    tails[i] = pivot + Q.rotate(r, tails[i] - pivot)
    names = names or list(MOVE_BONES)
    rename = dict(zip(MOVE_BONES, names))
    rot = []
    rng = np.random.default_rng(4)
    for h, t in zip(heads, tails):  # each bone's Y along head->tail, with an arbitrary roll
        y = (t - h) / np.linalg.norm(t - h)
        r = Q.swing(np.array([0.0, 1.0, 0.0]), y)
        rot.append(Q.mul(r, Q.from_axis_angle(np.array([0.0, 1.0, 0.0]), rng.uniform(-3, 3))))
    mats = np.zeros((len(names), 4, 4))
    mats[:, :3, :3] = Q.to_matrix(np.array(rot))
    mats[:, :3, 3] = heads
    mats[:, 3, 3] = 1
    parents = [rename[MOVE_PARENTS[n]] if MOVE_PARENTS[n] else None for n in MOVE_BONES]
    return Skeleton.from_matrices(names, parents, mats, tails)


def test_forward_kinematics_matches_closed_form() -> None:
    skel = _move_skeleton()
    f = 3
    rng = np.random.default_rng(2)
    basis = Q.normalize(rng.normal(size=(f, len(skel), 4)))
    rot, head = forward_kinematics(skel, basis)
    # Closed form for one chain with 4x4 matrices: pose = pose_parent @ rest_parent^-1 @ rest @ basis.
    def m4(q: np.ndarray, t: np.ndarray) -> np.ndarray:
        m = np.eye(4)
        m[:3, :3] = Q.to_matrix(q)
        m[:3, 3] = t
        return m
    for k in range(f):
        pose: dict[int, np.ndarray] = {}
        for i in range(len(skel)):
            rest = m4(skel.rest_rot[i], skel.rest_head[i])
            local = rest @ m4(basis[k, i], np.zeros(3))
            p = skel.parents[i]
            if p >= 0:
                local = pose[p] @ np.linalg.inv(m4(skel.rest_rot[p], skel.rest_head[p])) @ local
            pose[i] = local
            assert np.allclose(pose[i][:3, :3], Q.to_matrix(rot[k, i]), atol=1e-9)
            assert np.allclose(pose[i][:3, 3], head[k, i], atol=1e-9)


def test_detect_move_names_with_namespace() -> None:
    names = [bone_name(b, 2) for b in MOVE_BONES] + [bone_name(b, 1) for b in MOVE_BONES]
    det = detect(names)
    assert det.profile == "move"
    assert det.namespace == "_1:"
    assert det.slots["hips"] == "_1:Hips"
    assert det.slots["forearm.R"] == "_1:RightForeArm"
    assert det.slots["middle_3.L"] == "_1:LeftHandMiddle3"
    assert [det.slots[s] for s in ("spine_1", "spine_2")] == ["_1:Spine", "_1:Spine1"]
    assert detect(names, namespace="_2:").slots["head"] == "_2:Head"
    body_and_fingers = [s for s in SLOTS if (s not in ("root", "neck_2") and not s.startswith("spine_")) or s in ("spine_1", "spine_2")]
    assert all(s in det.slots for s in body_and_fingers), [s for s in body_and_fingers if s not in det.slots]


def test_detect_tells_generic_humanoid_from_move_and_mixamo() -> None:
    """Mixamo's names without a namespace (Ready Player Me, generic humanoids) are a generic humanoid, not a
    Move or Mixamo rig: those are told by their namespaces (``_1:``, ``mixamorig:``), even one actor of Move's
    or a Mixamo rig whose names would tie otherwise."""
    plain = [*MOVE_BONES, "Spine2", "HeadTop_End", "LeftToe_End", "RightToe_End"]
    generic = detect(plain)
    assert (generic.profile, PROFILE_LABELS[generic.profile]) == ("humanoid", "Humanoid")
    assert [generic.slots[s] for s in ("spine_1", "spine_2", "spine_3", "toe.L")] == \
        ["Spine", "Spine1", "Spine2", "LeftToeBase"]
    assert detect([bone_name(b, 1) for b in MOVE_BONES]).profile == "move"
    assert detect([f"mixamorig:{n}" for n in plain]).profile == "mixamo"
    assert detect([f"mixamorig1:{n}" for n in plain]).profile == "mixamo"
    assert detect(plain, profile="move").profile == "move"  # a profile asked for is used


def _arp_names(controls: bool = True) -> list[str]:
    """Auto-Rig Pro's bone names: controls (with IK controls and metacarpal bases) and deforming bones."""
    deform = ["root.x", "spine_01.x", "spine_02.x", "spine_03.x", "neck.x", "head.x"]
    ctrl = ["c_pos", "c_traj", "c_root_master.x", "c_root.x", "c_spine_01.x", "c_spine_02.x", "c_spine_03.x",
            "c_neck.x", "c_head.x"]
    for x in ("l", "r"):
        deform += [f"{n}.{x}" for n in ("shoulder", "arm_stretch", "arm_twist", "forearm_stretch", "hand",
                                        "thigh_stretch", "leg_stretch", "foot", "toes_01")]
        deform += [f"{f}{i}.{x}" for f in ("thumb", "index", "middle", "ring", "pinky") for i in (1, 2, 3)]
        ctrl += [f"{n}.{x}" for n in ("c_shoulder", "c_arm_fk", "c_forearm_fk", "c_hand_fk", "c_thigh_b",
                                      "c_thigh_fk", "c_leg_fk", "c_foot_fk", "c_toes_fk", "c_hand_ik",
                                      "c_arms_pole", "c_foot_ik", "c_leg_pole")]
        ctrl += [f"c_{f}{i}.{x}" for f in ("thumb", "index", "middle", "ring", "pinky") for i in (1, 2, 3)]
        ctrl += [f"c_{f}1_base.{x}" for f in ("index", "middle", "ring", "pinky")]
    return ctrl + deform if controls else deform


def _cc_names() -> list[str]:
    """Character Creator's bone names as an FBX export has them (twist, share and facial bones included)."""
    names = ["RL_BoneRoot", "CC_Base_BoneRoot", "CC_Base_Hip", "CC_Base_Pelvis", "CC_Base_Waist",
             "CC_Base_Spine01", "CC_Base_Spine02", "CC_Base_NeckTwist01", "CC_Base_NeckTwist02", "CC_Base_Head",
             "CC_Base_FacialBone", "CC_Base_JawRoot", "CC_Base_L_Eye", "CC_Base_R_Eye"]
    for x in ("L", "R"):
        names += [f"CC_Base_{x}_{n}" for n in ("Clavicle", "Upperarm", "Forearm", "Hand", "Thigh", "Calf", "Foot",
                                               "ToeBase", "BigToe1", "ElbowShareBone", "KneeShareBone")]
        names += [f"CC_Base_{x}_{n}Twist0{i}" for n in ("Upperarm", "Forearm", "Thigh", "Calf") for i in (1, 2)]
        names += [f"CC_Base_{x}_{f}{i}" for f in ("Thumb", "Index", "Mid", "Ring", "Pinky") for i in (1, 2, 3)]
    return names


def test_detect_auto_rig_pro_and_character_creator_names() -> None:
    """Names alone find every slot; Auto-Rig Pro's controls win over its deforming bones, chains included
    (a spine of controls is not continued with deforming bones), and a deform-only export maps those."""
    body = [s for s in SLOTS if not s.startswith(("spine_4", "spine_5", "spine_6", "neck_2"))]
    det = detect(_arp_names())
    assert det.profile == "auto_rig_pro"
    assert [s for s in body if s not in det.slots] == []
    assert det.slots["root"] == "c_traj" and det.slots["hips"] == "c_root_master.x"
    assert [det.slots.get(s) for s in ("spine_1", "spine_2", "spine_3", "spine_4")] == [
        "c_spine_01.x", "c_spine_02.x", "c_spine_03.x", None]
    assert (det.slots["neck_1"], det.slots.get("neck_2"), det.slots["head"]) == ("c_neck.x", None, "c_head.x")
    assert (det.slots["upper_arm.L"], det.slots["shin.R"], det.slots["toe.L"]) == ("c_arm_fk.l", "c_leg_fk.r",
                                                                                  "c_toes_fk.l")
    assert det.slots["middle_2.R"] == "c_middle2.r" and det.slots["thumb_1.L"] == "c_thumb1.l"
    deform = detect(_arp_names(controls=False))
    assert deform.profile == "auto_rig_pro"
    assert [deform.slots.get(s) for s in ("hips", "spine_1", "spine_3", "neck_1", "upper_arm.L", "pinky_3.R")] == [
        "root.x", "spine_01.x", "spine_03.x", "neck.x", "arm_stretch.l", "pinky3.r"]
    assert "spine_4" not in deform.slots and "root" not in deform.slots

    det = detect(_cc_names())
    assert det.profile == "character_creator"
    assert [s for s in SLOTS if s not in det.slots and not s.startswith(("spine_4", "spine_5", "spine_6"))] == []
    assert det.slots["root"] == "CC_Base_BoneRoot" and det.slots["hips"] == "CC_Base_Hip"
    assert [det.slots[s] for s in ("spine_1", "spine_2", "spine_3", "neck_1", "neck_2", "head")] == [
        "CC_Base_Waist", "CC_Base_Spine01", "CC_Base_Spine02", "CC_Base_NeckTwist01", "CC_Base_NeckTwist02",
        "CC_Base_Head"]
    assert (det.slots["shoulder.R"], det.slots["forearm.L"], det.slots["shin.R"]) == (
        "CC_Base_R_Clavicle", "CC_Base_L_Forearm", "CC_Base_R_Calf")
    assert det.slots["middle_1.L"] == "CC_Base_L_Mid1" and det.slots["toe.R"] == "CC_Base_R_ToeBase"


@pytest.mark.parametrize("rest", ["T", "A"])
def test_detect_by_geometry_on_unknown_names(rest: str) -> None:
    unknown = [f"bone_{i:03d}" for i in range(len(MOVE_BONES))]
    skel = _move_skeleton(unknown, rest)
    geo = detect_by_geometry(skel.names, list(skel.parents), skel.rest_head, skel.rest_tail)
    truth = detect(list(MOVE_BONES)).slots
    rename = dict(zip(MOVE_BONES, unknown))
    expected = {s: rename[b] for s, b in truth.items()}
    wrong = {s: (geo.get(s), b) for s, b in expected.items() if geo.get(s) != b}
    assert not wrong
    full = detect(skel.names, list(skel.parents), skel.rest_head, skel.rest_tail)
    assert full.slots == expected and full.by_geometry == set(expected)


def test_preset_round_trip(tmp_path: Path) -> None:
    m = BoneMapping(source={"hips": "_1:Hips", "thumb_2.L": "_1:LeftHandThumb2"},
                    target={"hips": "torso", "thumb_2.L": "thumb.02.L", "root": "root"},
                    source_profile="move", target_profile="rigify_fk")
    path = tmp_path / "m.json"
    m.save(path)
    data = json.loads(path.read_text())
    assert data["format"] == "move_mocap.retarget_mapping" and data["slots"]["hips"] == {"source": "_1:Hips", "target": "torso"}
    back = BoneMapping.load(path)
    assert back == m
    data["slots"]["elbow"] = {"source": "x"}
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="unknown slot"):
        BoneMapping.load(path)


def test_solver_t_pose_source_onto_a_pose_target() -> None:
    src = _move_skeleton(rest="T")
    tgt = _move_skeleton([f"t_{n}" for n in MOVE_BONES], rest="A")
    tgt.object_loc = np.array([2.0, 0.0, 0.0])
    frames = 40
    rng = np.random.default_rng(9)
    t = np.linspace(0, 1, frames)[:, None, None]
    axes = rng.normal(size=(1, len(src), 3))
    basis = Q.from_axis_angle(np.broadcast_to(axes, (frames, len(src), 3)), (1.2 * t[..., 0]) * np.ones((1, len(src))))
    loc = np.zeros((frames, len(src), 3))
    loc[:, 0, 1] = np.linspace(0, 2, frames)  # walk 2 m along -Y... in the hips' local Y
    rot, head = forward_kinematics(src, basis, loc)
    src_slots = detect(src.names).slots
    mapping = BoneMapping(source=src_slots, target={s: f"t_{b}" for s, b in src_slots.items()})
    model = hierarchy_model(tgt, list(mapping.target.values()))
    res = solve(SourceTake(src, rot, head), tgt, model, mapping, SolveOptions(floor_clamp=False))
    # Target FK from the solved channels must put every mapped segment along the source's.
    trot = np.tile(Q.IDENTITY, (frames, len(tgt), 1))
    tloc = np.zeros((frames, len(tgt), 3))
    for b, q in res.rotations.items():
        trot[:, tgt.index[b]] = q
    for b, v in res.locations.items():
        tloc[:, tgt.index[b]] = v
    _prot, phead = forward_kinematics(tgt, trot, tloc)
    for slot, nxt in (("upper_arm.L", "forearm.L"), ("forearm.R", "hand.R"), ("thigh.L", "shin.L"),
                      ("index_1.L", "index_2.L"), ("shin.R", "foot.R")):
        s0, s1 = src.index[mapping.source[slot]], src.index[mapping.source[nxt]]
        t0, t1 = tgt.index[mapping.target[slot]], tgt.index[mapping.target[nxt]]
        ang = np.degrees(Q.angle_between(head[:, s1] - head[:, s0], phead[:, t1] - phead[:, t0]))
        assert ang.max() < 1e-4, slot
    # Same proportions: translation scale 1, hips path preserved (offset by the object location).
    assert res.scale == pytest.approx(1.0)
    hips_t = tgt.to_world_points(phead[:, tgt.index[mapping.target["hips"]]])
    hips_s = src.to_world_points(head[:, 0])
    assert np.allclose(hips_t - hips_s, [2.0, 0.0, 0.0], atol=1e-9)


def _gltf_tails(skel: Skeleton, object_scale: float) -> Skeleton:
    """The same skeleton with the tails Blender's glTF importer guesses (its bone-length heuristic 'BLENDER'):
    along each bone's Y axis, the distance to its nearest child divided by the object's scale; a leaf gets
    its parent's length."""
    n = len(skel)
    length = np.zeros(n)
    for i in range(n):
        kids = [np.linalg.norm(skel.rest_head[j] - skel.rest_head[i]) for j in skel.children(i)]
        kids = [d for d in kids if d > 1e-6]
        length[i] = min(kids) if kids else length[skel.parents[i]]
    y = Q.rotate(skel.rest_rot, np.array([0.0, 1.0, 0.0]))
    tails = skel.rest_head + y * (length / object_scale)[:, None]
    return Skeleton(list(skel.names), skel.parents.copy(), skel.rest_rot.copy(), skel.rest_head.copy(), tails,
                    skel.connected, skel.inherit_rotation, skel.object_rot, skel.object_loc, skel.object_scale)


def test_bones_end_at_joints_not_at_guessed_tails() -> None:
    """A rig whose tails are an importer's guess (100 times too long, as Blender's glTF importer makes them at
    object scale 0.01) ends its bones where the rig built with real tails does, and its feet stay on the floor:
    the floor clamp lifted such a rig by metres when its toes were measured at their tails."""
    src = _move_skeleton(rest="T")
    real = _move_skeleton([f"t_{n}" for n in MOVE_BONES], rest="A")
    guessed = _gltf_tails(real, 0.01)
    foot, toe = real.index["t_LeftFoot"], real.index["t_LeftToeBase"]
    ends = guessed.rest_ends()
    assert np.allclose(ends[foot], real.rest_head[toe])  # the joint the foot leads to
    assert np.allclose(real.rest_ends()[toe], real.rest_tail[toe])  # real tails are kept
    # A leaf: its tail's direction, at the length the joints vouch for (the importer gave it its parent's).
    leaf_len = np.linalg.norm(ends[toe] - real.rest_head[toe])
    assert leaf_len == pytest.approx(np.linalg.norm(real.rest_head[toe] - real.rest_head[foot]), rel=1e-6)
    assert not guessed.end_known[toe] and guessed.end_known[foot] and real.end_known.all()
    assert real.height() == pytest.approx(guessed.height(), rel=0.05)
    frames = 30
    rng = np.random.default_rng(3)
    axes = rng.normal(size=(1, len(src), 3))
    t = np.linspace(0, 1, frames)[:, None]
    basis = Q.from_axis_angle(np.broadcast_to(axes, (frames, len(src), 3)), 0.4 * t * np.ones((1, len(src))))
    rot, head = forward_kinematics(src, basis)
    src_slots = detect(src.names).slots
    mapping = BoneMapping(source=src_slots, target={s: f"t_{b}" for s, b in src_slots.items()})
    hips = []
    for tgt in (real, guessed):
        model = hierarchy_model(tgt, list(mapping.target.values()))
        res = solve(SourceTake(src, rot, head), tgt, model, mapping, SolveOptions(floor_clamp=True))
        hips.append(res.pose_head[mapping.target["hips"]])
        assert res.scale == pytest.approx(1.0)
    assert np.abs(hips[1] - hips[0]).max() < 0.03


def _standing_take(src: Skeleton, frames: int, rise: float) -> SourceTake:
    """The source at rest (a standing pose) with its hips swaying 2 cm, ``rise`` metres above its rest."""
    basis = np.tile(Q.IDENTITY, (frames, len(src), 1))
    loc = np.zeros((frames, len(src), 3))
    hips = src.index[detect(src.names).slots["hips"]]
    up = np.zeros((frames, 3))
    up[:, 2] = rise + 0.02 * np.sin(np.linspace(0, np.pi, frames)) ** 2
    loc[:, hips] = Q.rotate(Q.conj(src.rest_rot[hips]), up)  # the hips' own axes
    rot, head = forward_kinematics(src, basis, loc)
    return SourceTake(src, rot, head)


def _lowered(skel: Skeleton, dz: float) -> Skeleton:
    """The same skeleton with its rest moved ``dz`` up in armature space (a BVH's rest hangs from its origin)."""
    return Skeleton(list(skel.names), skel.parents.copy(), skel.rest_rot.copy(), skel.rest_head + np.array([0.0, 0.0, dz]),
                    skel.rest_tail + np.array([0.0, 0.0, dz]), skel.connected, skel.inherit_rotation, skel.object_rot,
                    skel.object_loc, skel.object_scale)


@pytest.mark.parametrize("case", ["joints_above_floor", "object_lifted", "bvh_rest", "on_a_box", "target_rest_hangs"])
def test_feet_stand_on_the_floor_where_the_source_touches_its(case: str) -> None:
    """One rule for every source: the source's floor is where its feet touch it (its world's zero height when its
    feet stand on it, else as its rest says, else touching once); the target's lowest foot point stands on its
    own floor as high as at rest. Move's MOTION_DATA toe joints stand 10 cm above its floor: scaled as the
    floor, they left the target floating (the bug this pins)."""
    src = _move_skeleton(rest="T")
    tgt = _move_skeleton([f"t_{n}" for n in MOVE_BONES], rest="A")
    toe_rest = float(src.rest_head[src.index["LeftToeBase"], 2])  # 0.02: Move's skeleton stands on its origin
    rise, want_floor, want_toes = {  # hips raised by; target floor; its toes' lowest height above it
        "joints_above_floor": (0.08, 0.0, toe_rest),  # the toes 10 cm up, as in Move's sample: floor at z = 0
        "object_lifted": (0.08, 0.0, toe_rest),  # the same take on an object 1 m up: its floor moves with it
        "bvh_rest": (0.0, 0.0, toe_rest),  # rest hanging from the origin (BVH): the feet touch the target's
        "on_a_box": (0.5, 0.5, toe_rest),  # far above the origin, its rest standing on it: a raised floor
        "target_rest_hangs": (0.08, 0.0, None),  # a target not standing on its origin: the source's toe height
    }[case]
    if case == "object_lifted":
        src.object_loc = np.array([0.0, 0.0, 1.0])
    if case == "bvh_rest":
        src = _lowered(src, -0.95)
    if case == "target_rest_hangs":
        tgt = _lowered(tgt, -0.95)
    take = _standing_take(src, 20, rise)
    src_slots = detect(src.names).slots
    mapping = BoneMapping(source=src_slots, target={s: f"t_{b}" for s, b in src_slots.items()})
    model = hierarchy_model(tgt, list(mapping.target.values()))
    res = solve(take, tgt, model, mapping, SolveOptions())
    assert res.scale == pytest.approx(1.0)
    toes = np.stack([tgt.to_world_points(res.pose_head[f"t_{s}ToeBase"])[:, 2] for s in ("Left", "Right")])
    src_toes = src.to_world_points(take.head[:, src.index["LeftToeBase"]])[:, 2]
    assert res.floor == pytest.approx(want_floor, abs=1e-6)
    if want_toes is None:  # as high above the floor as the source's
        want_toes = float(src_toes.min()) - float(src.object_loc[2])
    assert float(toes.min()) == pytest.approx(want_floor + want_toes, abs=1e-6), res.floor_shift
    assert res.feet_lowest is not None and float(res.feet_lowest.min()) == pytest.approx(res.floor + res.sole_height)
    # The hips keep the source's sway; one constant moves the take (the report states it).
    hips_t = tgt.to_world_points(res.pose_head["t_Hips"])[:, 2]
    hips_s = src.to_world_points(take.head[:, src.index["Hips"]])[:, 2]
    assert np.ptp(hips_t - hips_s) < 1e-9
    floor_s = {"object_lifted": 1.0, "bvh_rest": -0.95, "on_a_box": 0.5}.get(case, 0.0)  # where its feet touch
    assert float(np.median(hips_t - hips_s)) == pytest.approx(res.floor - floor_s + res.floor_shift)


@pytest.mark.parametrize("gap, warned", [(0.10, "never touch"), (0.0, None), (-0.10, "below the floor")])
def test_report_line_and_floor_warnings(gap: float, warned: str | None) -> None:
    """The line states scale, floor and hips height; feet that stay above where they touch the floor, or go below
    it, are warned about, measured from the character's own height of its feet above the floor."""
    from move_mocap.core.retarget.report import summary_line
    from move_mocap.core.retarget.solver import SolveResult

    res = SolveResult({}, {}, None, None, {}, {}, scale=1.245, floor=0.5, hips_height=0.93,
                      feet_lowest=np.array([0.3, 0.0]) + 0.5 + 0.017 + gap, floor_shift=-0.111, sole_height=0.017)
    line, warnings = summary_line(res)
    assert line == "scale 1.245, floor at 0.500 m, hips 0.93 m above it (take lowered 11.1 cm so the feet stand " \
                   "on the floor as at rest)"
    assert [w for w in warnings if warned and warned in w] == warnings and len(warnings) == (warned is not None)


def test_a_child_on_the_head_gives_no_end() -> None:
    """A big-toe bone at its toe's ball (Character Creator's) is no joint the toe leads to: through glTF its
    offset is float32 noise, which pointed a right toe's tip 2 cm into the floor and sank the character."""
    real = _move_skeleton([f"t_{n}" for n in MOVE_BONES], rest="A")
    toe = real.index["t_RightToeBase"]
    tail = real.rest_tail[toe] - real.rest_head[toe]
    down = Q.from_axis_angle(np.cross(tail, [0.0, 0.0, -1.0]), np.radians(20))  # 20 degrees into the floor
    noise = Q.rotate(down, tail / np.linalg.norm(tail)) * 2e-4 * real.height()  # below a millimetre
    skel = Skeleton([*real.names, "t_RightBigToe1"], [*real.parents, toe],
                    np.vstack([real.rest_rot, real.rest_rot[toe]]),
                    np.vstack([real.rest_head, real.rest_head[toe] + noise]),
                    np.vstack([real.rest_tail, real.rest_tail[toe] + noise]))
    end = skel.rest_ends()[toe] - real.rest_head[toe]
    assert np.degrees(Q.angle_between(end, tail)) < 1e-6 and np.linalg.norm(end) > 0.5 * np.linalg.norm(tail)
