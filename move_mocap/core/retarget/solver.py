"""The retarget maths: source motion + target rest pose + mapping -> target pose channels (no bpy here).

Method (all in world space, whole take at once):

1. Each source bone's motion is its world-space rotation change from its own rest orientation,
   ``D(f) = R_src(f) R_src_rest^-1`` - independent of bone rolls and axis conventions.
2. The two rest poses are aligned per slot: ``C`` is the shortest rotation taking the target's rest segment
   (its joint to the next mapped joint, e.g. shoulder -> elbow) onto the source's. This absorbs T-pose vs
   A-pose and different proportions without touching twist.
3. The target bone's world orientation is ``D(f) C R_tgt_rest``: its segment points where the source's points.
   Spine and neck chains of different lengths are matched by length along the chain (slerp between bones).
4. Hips translation is scaled by the leg-length ratio; heights are scaled about the ground plane each object
   stands on (its origin's height), so the floor the source's feet touch becomes the target's floor, scaled
   like the hips above it. That floor is where the soles touch, not the lowest foot joint (:func:`_floors`: a
   capture's ground is its world's zero height, which importers keep at the object's origin), and the
   target's feet stand on it as high as they do at rest: the proportions below the ankles are each
   character's own (Move's MOTION_DATA toe joints are 10 cm above its floor, a Rigify rig's 2 cm above its),
   which moves the whole take up or down by a constant (``floor_shift``). Root
   motion goes to the hips, the armature object, a root bone, or is removed (in place). The object or the
   root bone can also carry the turn about the up axis (the hips' heading: the twist about world Z of their
   rotation change, relative to the first frame); the bones below are counter-turned, so the pose in the
   world is the same either way. Optionally (floor clamp) the feet are put on the floor: the hips are lifted
   on frames where the feet would sink below it, or, when they never reach it (proportions below the ankle
   differ), the whole take is lowered until they touch it once, as the source's do. Foot geometry comes from
   the joints (``Skeleton.rest_ends``), never from tails an importer guessed: a toe tip is the toe's end
   where it leads to a joint or the head of a bone hanging from the toe; a leaf toe whose length an importer
   guessed (glTF stores none) is given the source's toe length, scaled, along its tail.
5. World orientations become local channels through a :class:`TargetModel`: for each solved bone, its
   parent frame at rest (pose with identity channels) and which solved bone its rotation and its position
   follow (or none). For plain hierarchies :func:`hierarchy_model` derives it; rigs driven by constraints
   (Rigify) get it by probing Blender (the bpy layer).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import quat as Q
from .mapping import FINGER_SLOTS, NECK_SLOTS, SPINE_SLOTS, BoneMapping, is_finger
from .skeleton import Skeleton

ROOT_MOTION_MODES = ("HIPS", "OBJECT", "BONE", "IN_PLACE")


@dataclass
class SolveOptions:
    root_motion: str = "HIPS"  # one of ROOT_MOTION_MODES
    fingers: bool = True
    translation_scale: float = 0.0  # 0: automatic, target leg length / source leg length
    floor_clamp: bool = True
    root_rotation: bool = False  # OBJECT / BONE root motion also carries the hips' heading (turn about up)


@dataclass
class TargetModel:
    """How the solved target bones depend on each other (see the module docstring, step 5)."""

    bones: list[str]  # dependency order: a bone's followed bones come before it
    p0_rot: np.ndarray  # (N, 4) armature-space orientation with identity channels (everything at rest)
    p0_pos: np.ndarray  # (N, 3) armature-space head position with identity channels
    rot_follow: list[int]  # index into bones, -1: fixed in armature space
    pos_follow: list[int]

    def index(self, bone: str) -> int:
        return self.bones.index(bone)


@dataclass
class SourceTake:
    """A source armature's motion, already evaluated: armature-space pose orientations and heads. Any
    layout works; stored bone-major (``skeleton.bone_major``, as ``forward_kinematics`` returns them) each
    bone's frames are contiguous, which is what :func:`solve` reads."""

    skeleton: Skeleton
    rot: np.ndarray  # (F, B, 4)
    head: np.ndarray  # (F, B, 3)


@dataclass
class SolveResult:
    rotations: dict[str, np.ndarray]  # target bone -> (F, 4) basis quaternions (sign continuity is applied by
    # skeleton.quat_to_channels when they become channel values)
    locations: dict[str, np.ndarray]  # target bone -> (F, 3) basis locations
    object_offset: np.ndarray | None  # (F, 3) world translation to add to the object (root motion OBJECT)
    object_turn: np.ndarray | None  # (F, 4) world rotation about up (Z) to apply before the object's own
    # rotation, about its origin (root motion OBJECT with root_rotation)
    pose_rot: dict[str, np.ndarray]  # target bone -> (F, 4) armature-space orientation it will have
    pose_head: dict[str, np.ndarray]  # target bone -> (F, 3) armature-space head it will have
    scale: float
    floor: float  # world height of the floor the target's feet are put on
    slots: dict[str, str] = field(default_factory=dict)  # slot -> target bone solved
    hips_height: float = 0.0  # median height of the target's hips bone above the floor over the take
    feet_lowest: np.ndarray | None = None  # (F,) world height of the target's lowest foot point per frame
    # (it touches the floor at ``floor + sole_height``)
    floor_shift: float = 0.0  # how far the whole take was moved up (> 0) or down beyond the scaled source's so
    # the feet stand on the floor at the target's own height above it (its proportions below the ankles)
    sole_height: float = 0.0  # height of the target's lowest foot point above the floor when it touches it
    warnings: list[str] = field(default_factory=list)


def hierarchy_model(skel: Skeleton, bones: list[str]) -> TargetModel:
    """Dependency model of a rig without constraints: each bone follows its nearest solved ancestor (bones in
    between stay at rest) and bones that do not inherit rotation keep their armature-space rest rotation."""
    wanted = set(bones)
    ordered = [n for n in skel.names if n in wanted]
    pos = {n: k for k, n in enumerate(ordered)}
    rot_follow, pos_follow = [], []
    assert skel.inherit_rotation is not None
    for name in ordered:
        i = skel.index[name]
        anc = next((a for a in skel.ancestors(i) if skel.names[a] in pos), None)
        a = pos[skel.names[anc]] if anc is not None else -1
        pos_follow.append(a)
        # Rotation follows the ancestor only if every bone on the way inherits rotation.
        inherits = True
        j = i
        while j >= 0 and (anc is None or j != anc):
            if not skel.inherit_rotation[j]:
                inherits = False
                break
            j = int(skel.parents[j])
        rot_follow.append(a if inherits else -1)
    idx = [skel.index[n] for n in ordered]
    return TargetModel(ordered, skel.rest_rot[idx].copy(), skel.rest_head[idx].copy(), rot_follow, pos_follow)


# -- drivers: which source motion drives which target bone --------------------------------------------------

@dataclass
class _Driver:
    slot: str
    target: int  # index in the target skeleton
    src: tuple[int, int, float]  # source bones i0, i1 and slerp weight
    align: np.ndarray  # (4,) world-space rest alignment C


_AIM: dict[str, tuple[str, ...]] = {
    "shoulder": ("upper_arm",), "upper_arm": ("forearm",), "forearm": ("hand",),
    "hand": ("middle_1", "index_1", "ring_1"), "thigh": ("shin",), "shin": ("foot",), "foot": ("toe",),
    **{f"{f}_{i}": (f"{f}_{i + 1}",) for f in ("thumb", "index", "middle", "ring", "pinky") for i in (1, 2)},
}


def _aim_slots(slot: str) -> tuple[str, ...]:
    if "." in slot:
        part, side = slot.split(".")
        return tuple(f"{p}.{side}" for p in _AIM.get(part, ()))
    return ()


class _Rig:
    """World-space rest data of one side (source or target) and its slot -> bone map. Bones end where
    :meth:`Skeleton.rest_ends` says (at the joint they lead to), not at their tails."""

    def __init__(self, skel: Skeleton, slots: dict[str, str]) -> None:
        self.skel = skel
        self.rot, self.head, self.end = skel.rest_world()
        self.slots = {s: b for s, b in slots.items() if b in skel.index}
        self.height = float(np.ptp(np.concatenate((self.head[:, 2], self.end[:, 2])))) or 1.0

    def idx(self, slot: str) -> int | None:
        b = self.slots.get(slot)
        return self.skel.index[b] if b else None

    def own_dir(self, i: int) -> np.ndarray:
        return self.end[i] - self.head[i]

    def chain(self, slots: tuple[str, ...]) -> list[int]:
        return [i for i in (self.idx(s) for s in slots) if i is not None]

    def chain_end(self, after: tuple[str, ...], last: int) -> np.ndarray:
        for s in after:
            i = self.idx(s)
            if i is not None:
                return self.head[i]
        return self.end[last]


def _chain_segments(rig: _Rig, bones: list[int], end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Segment vectors and centre positions (0..1 along the chain) of a chain of bones."""
    joints = np.vstack([rig.head[bones], end[None]])
    seg = np.diff(joints, axis=0)
    lengths = np.linalg.norm(seg, axis=1)
    for k in np.nonzero(lengths < 1e-6 * rig.height)[0]:
        seg[k] = rig.own_dir(bones[k])
        lengths[k] = 0.0
    total = lengths.sum()
    if total <= 0:
        centres = (np.arange(len(bones)) + 0.5) / len(bones)
    else:
        cum = np.concatenate(([0.0], np.cumsum(lengths))) / total
        centres = 0.5 * (cum[:-1] + cum[1:])
    return seg, centres


def _align(seg_t: np.ndarray, seg_s: np.ndarray) -> np.ndarray:
    if np.linalg.norm(seg_t) < 1e-9 or np.linalg.norm(seg_s) < 1e-9:
        return Q.IDENTITY.copy()
    return Q.swing(seg_t, seg_s)


def _drivers(src: _Rig, tgt: _Rig, mapping: BoneMapping, fingers: bool) -> list[_Driver]:
    out: list[_Driver] = []
    # Single slots.
    for slot, _, _ in mapping.pairs(fingers=True):
        if slot == "hips" or (not fingers and is_finger(slot)):
            continue
        i, t = src.idx(slot), tgt.idx(slot)
        if i is None or t is None:
            continue
        seg_s, seg_t = src.own_dir(i), tgt.own_dir(t)
        for aim in _aim_slots(slot):
            ai, at = src.idx(aim), tgt.idx(aim)
            if ai is not None and at is not None:
                a_s, a_t = src.head[ai] - src.head[i], tgt.head[at] - tgt.head[t]
                if np.linalg.norm(a_s) > 1e-4 * src.height and np.linalg.norm(a_t) > 1e-4 * tgt.height:
                    seg_s, seg_t = a_s, a_t
                break
        out.append(_Driver(slot, t, (i, i, 0.0), _align(seg_t, seg_s)))
    # Hips: aim at the first joint up the spine that is not on top of the hips.
    hs, ht = src.idx("hips"), tgt.idx("hips")
    if hs is not None and ht is not None:
        up = (*SPINE_SLOTS, *NECK_SLOTS, "head")

        def hips_seg(rig: _Rig, h: int) -> np.ndarray:
            for b in rig.chain(up):
                v = rig.head[b] - rig.head[h]
                if np.linalg.norm(v) > 0.02 * rig.height:
                    return v
            return rig.own_dir(h)

        out.append(_Driver("hips", ht, (hs, hs, 0.0), _align(hips_seg(tgt, ht), hips_seg(src, hs))))
    # Chains matched by length.
    for slots, after in ((SPINE_SLOTS, (*NECK_SLOTS, "head")), (NECK_SLOTS, ("head",))):
        sb, tb = src.chain(slots), tgt.chain(slots)
        if not sb or not tb:
            continue
        seg_s, c_s = _chain_segments(src, sb, src.chain_end(after, sb[-1]))
        seg_t, c_t = _chain_segments(tgt, tb, tgt.chain_end(after, tb[-1]))
        tslots = [s for s in slots if tgt.idx(s) is not None]
        for j, t in enumerate(tb):
            k = int(np.searchsorted(c_s, c_t[j]))
            if k <= 0:
                i0 = i1 = 0
                w = 0.0
            elif k >= len(sb):
                i0 = i1 = len(sb) - 1
                w = 0.0
            else:
                i0, i1 = k - 1, k
                w = float((c_t[j] - c_s[i0]) / max(c_s[i1] - c_s[i0], 1e-12))
            d0 = seg_s[i0] / max(np.linalg.norm(seg_s[i0]), 1e-12)
            d1 = seg_s[i1] / max(np.linalg.norm(seg_s[i1]), 1e-12)
            out.append(_Driver(tslots[j], t, (sb[i0], sb[i1], w), _align(seg_t[j], (1 - w) * d0 + w * d1)))
    return out


# -- solving -----------------------------------------------------------------------------------------------

@dataclass
class _Contact:
    """A rig's foot contact points over a take (world space, (F, 3) each): the joints (ankles and balls,
    heads of the mapped feet and toes, and a foot's end where the joints vouch for it) and the toe tips.
    ``tips`` says whether both feet have one."""

    joints: list[np.ndarray]
    tip_points: list[np.ndarray]
    tips: bool

    def lowest(self, with_tips: bool) -> np.ndarray | None:
        """(F,) height of the lowest contact point per frame (None without points)."""
        pts = self.joints + (self.tip_points if with_tips else [])
        return np.min(np.stack([p[:, 2] for p in pts]), axis=0) if pts else None


def _toe_tips(rig: _Rig, side: str) -> np.ndarray:
    """World rest points of a toe beyond its ball (K, 3) that the joints vouch for: the toe's end where known,
    and the heads of bones hanging from the toe (an FBX importer's end bones, a big-toe bone), whatever their
    tails; only those at least a quarter of the foot's length from the ball (an importer's zero-length toe
    is no tip)."""
    toe, foot = rig.idx(f"toe.{side}"), rig.idx(f"foot.{side}")
    if toe is None or foot is None:
        return np.zeros((0, 3))
    skel = rig.skel
    pts = [rig.end[toe]] if skel.end_known[toe] else []
    stack = skel.children(toe)
    while stack:
        j = stack.pop()
        pts.append(rig.head[j])
        stack.extend(skel.children(j))
    arr = np.array(pts).reshape(-1, 3)
    ball = rig.head[toe]
    reach = np.linalg.norm(arr - ball, axis=1)
    return arr[reach >= 0.25 * float(np.linalg.norm(ball - rig.head[foot]))]


def _toe_length(rig: _Rig) -> float | None:
    """The toes' length (ball to farthest tip, mean of both feet), None unless both have a tip."""
    out = []
    for side in ("L", "R"):
        tips, toe = _toe_tips(rig, side), rig.idx(f"toe.{side}")
        if not len(tips) or toe is None:
            return None
        out.append(float(np.linalg.norm(tips - rig.head[toe], axis=1).max()))
    return float(np.mean(out))


def _contact(rig: _Rig, rot: dict[int, np.ndarray], head: dict[int, np.ndarray],
             toe_length: float | None = None) -> _Contact:
    """The rig's foot contact points, given world rotations and heads (F, ...) of its feet and toes. A toe
    with no tip the joints vouch for (a leaf whose length an importer guessed) gets one ``toe_length`` along
    its tail, when given: its tail is a direction only."""
    joints: list[np.ndarray] = []
    tips: list[np.ndarray] = []
    sides_with_tip = 0
    for side in ("L", "R"):
        foot, toe = rig.idx(f"foot.{side}"), rig.idx(f"toe.{side}")
        if foot is not None and foot in rot:
            joints.append(head[foot])
            if rig.skel.end_known[foot]:
                offset = Q.rotate(Q.conj(rig.rot[foot]), rig.end[foot] - rig.head[foot])
                joints.append(head[foot] + Q.rotate(rot[foot], offset))
        if toe is None or toe not in rot:
            continue
        joints.append(head[toe])
        rest = _toe_tips(rig, side)
        if not len(rest) and toe_length:
            d = rig.end[toe] - rig.head[toe]
            if np.linalg.norm(d) > 1e-6 * rig.height:
                rest = (rig.head[toe] + d * (toe_length / np.linalg.norm(d)))[None]
        sides_with_tip += bool(len(rest))
        inv = Q.conj(rig.rot[toe])
        for p in rest:  # points fixed to the toe bone
            tips.append(head[toe] + Q.rotate(rot[toe], Q.rotate(inv, p - rig.head[toe])))
    return _Contact(joints, tips, sides_with_tip == 2)


def _leg_length(rig: _Rig) -> float:
    total, n = 0.0, 0
    for side in ("L", "R"):
        ids = [rig.idx(f"{p}.{side}") for p in ("thigh", "shin", "foot")]
        if all(i is not None for i in ids):
            a, b, c = (rig.head[i] for i in ids if i is not None)
            total += float(np.linalg.norm(b - a) + np.linalg.norm(c - b))
            n += 1
    return total / n if n else 0.0


#: How far (times the leg length, hip to ankle) the lowest foot point of a rig standing on its floor may be
#: above it (Move's MOTION_DATA toe joints stand 10 cm up on a 0.8 m leg: 0.13) or below it (a capture's feet
#: going a little through its floor).
SOLE_ABOVE, SOLE_BELOW = 0.25, 0.1


def _sole(height: float, leg: float) -> float | None:
    """``height`` (of a lowest foot point above a floor) when it is one a standing foot can have, else None."""
    return height if leg > 0 and -SOLE_BELOW * leg <= height <= SOLE_ABOVE * leg else None


@dataclass
class _Floors:
    """Where the source's feet touch its floor and how the target's must stand on its own (world heights)."""

    floor_s: float  # the source's floor: where its soles touch
    sole_t: float  # height of the target's lowest foot point above its floor when it touches it
    offset: float  # constant height added to the target's hips beyond the scaled source's (the difference in
    # proportions below the ankles: target sole height less the source's, scaled)
    with_tips: bool  # lowest foot points compared with the toe tips (both rigs have them) or joints only
    src_lowest: np.ndarray | None  # (F,) the source's lowest foot point per frame
    known: bool = True  # the source's floor is known relative to its origin (else the target's is its origin)


def _rest_lowest(rig: _Rig, toe_length: float | None, with_tips: bool) -> tuple[float | None, bool]:
    """World height of the rig's lowest foot point at rest, and whether both its feet have toe tips."""
    feet = [i for i in (rig.idx(f"{p}.{x}") for p in ("foot", "toe") for x in ("L", "R")) if i is not None]
    rest = _contact(rig, {i: rig.rot[i][None] for i in feet}, {i: rig.head[i][None] for i in feet}, toe_length)
    low = rest.lowest(with_tips and rest.tips)
    return (float(low[0]) if low is not None else None), rest.tips


def _floors(src: _Rig, tgt: _Rig, src_contact: _Contact, toe_t: float | None, scale: float, ls: float,
            lt: float) -> _Floors:
    """The floors of a take, the same rule for every source (BVH, MOTION_DATA, FBX, a rig in the scene).

    The source's floor is where its feet touch it, not its lowest foot point: joints sit above the soles (Move's
    MOTION_DATA toe joints 10 cm up, CMU's toe ends 0-3 cm). A capture's ground is its world's zero height, which
    importers keep at the object's origin: when the source's lowest foot point over the take stands on that plane
    (:func:`_sole`), that is its floor. Otherwise its rest pose tells, when it stands on its origin (the lowest
    foot point over the take is that high above the floor: it stands on a raised floor); else the feet touch it
    once, as high as the target's do, scaled, and nothing tells where it is relative to the source's origin
    (a BVH whose rest hangs from it): the target's floor is its origin. The target stands on its own floor as
    at rest (a character is built standing on its origin): its lowest foot point over the take is as high above
    the floor as at rest, unless its rest does not stand on its origin (then as high as the source's, scaled)."""
    _, tgt_tips = _rest_lowest(tgt, toe_t, True)
    with_tips = src_contact.tips and tgt_tips
    origin_s, origin_t = float(src.skel.object_loc[2]), float(tgt.skel.object_loc[2])
    rest_t, _ = _rest_lowest(tgt, toe_t, with_tips)
    sole_t = _sole(rest_t - origin_t, lt) if rest_t is not None else None
    low = src_contact.lowest(with_tips)
    if low is None:
        return _Floors(0.0, sole_t or 0.0, 0.0, with_tips, None)
    low_min = float(low.min())
    known = True
    if _sole(low_min - origin_s, ls) is not None:
        floor_s = origin_s
    else:
        rest_s, _ = _rest_lowest(src, None, with_tips)
        sole_s = _sole(rest_s - origin_s, ls) if rest_s is not None else None
        if sole_s is None:
            sole_s = sole_t / scale if sole_t is not None and scale > 0 else 0.0
            known = False
        floor_s = low_min - sole_s
    src_sole = scale * (low_min - floor_s)
    if sole_t is None:
        sole_t = src_sole
    return _Floors(floor_s, sole_t, sole_t - src_sole, with_tips, low, known)


def _position_followers(model: TargetModel, k: int) -> list[str]:
    """Bones whose position follows bone k (directly or through others), k included."""
    out = {k}
    for j in range(len(model.bones)):
        a = model.pos_follow[j]
        if a in out:
            out.add(j)
    return [model.bones[j] for j in sorted(out)]


def heading_turn(rot: np.ndarray) -> np.ndarray:
    """Rotations about world Z (F, 4) following the heading of world rotations ``rot`` (F, 4): the twist
    about Z of each (swing-twist decomposition), unwrapped, relative to the first frame."""
    twist = np.unwrap(2.0 * np.arctan2(rot[:, 3], rot[:, 0]))
    half = 0.5 * (twist - twist[0])
    out = np.zeros((len(rot), 4))
    out[:, 0], out[:, 3] = np.cos(half), np.sin(half)
    return out


def solve(
    source: SourceTake,
    target: Skeleton,
    model: TargetModel,
    mapping: BoneMapping,
    options: SolveOptions | None = None,
) -> SolveResult:
    """Retarget a whole take. Returns the target's basis channels per bone (see :class:`SolveResult`)."""
    opts = options or SolveOptions()
    if opts.root_motion not in ROOT_MOTION_MODES:
        raise ValueError(f"root_motion must be one of {ROOT_MOTION_MODES}, got {opts.root_motion!r}")
    warnings: list[str] = []
    src = _Rig(source.skeleton, mapping.source)
    tgt = _Rig(target, mapping.target)
    frames = source.rot.shape[0]
    sk = source.skeleton
    # Source bones are read one at a time ((F, 4) per bone; contiguous when the take is stored bone-major),
    # and constant rotations on either side are folded into one 4x4 matrix per bone.
    obj_left = None if sk._plain_object() else Q.left_matrix(sk.object_rot)

    def s_rot(i: int) -> np.ndarray:
        q = source.rot[:, i]
        return q if obj_left is None else Q.mul_matrix(q, obj_left)

    def s_head(i: int) -> np.ndarray:
        return sk.to_world_points(source.head[:, i])

    def world_delta(i: int, after: np.ndarray | None = None) -> np.ndarray:
        """World rotation change of source bone i from its rest, then ``after`` (a constant) applied first."""
        m = Q.right_matrix(Q.conj(src.rot[i]))
        if obj_left is not None:
            m = obj_left @ m
        if after is not None:
            m = m @ Q.right_matrix(after)
        return Q.mul_matrix(source.rot[:, i], m)

    drivers = _drivers(src, tgt, mapping, opts.fingers)
    if not any(d.slot == "hips" for d in drivers):
        raise ValueError("the hips must be mapped on both armatures")
    want_rot: dict[int, np.ndarray] = {}  # target bone -> (F, 4) world orientation
    for d in drivers:
        i0, i1, w = d.src
        after = Q.mul(d.align, tgt.rot[d.target])
        if i0 == i1 or w <= 0:
            want_rot[d.target] = world_delta(i0, after)
        else:
            delta = Q.slerp(world_delta(i0), world_delta(i1), w)
            want_rot[d.target] = Q.mul(delta, after)

    # Hips translation: scaled about the floor the source stands on, with the feet at the target's own height
    # above its floor (see :func:`_floors`).
    hs, ht = src.idx("hips"), tgt.idx("hips")
    assert hs is not None and ht is not None
    scale = opts.translation_scale
    ls, lt = _leg_length(src), _leg_length(tgt)
    if scale <= 0:
        if ls > 0 and lt > 0:
            scale = lt / ls
        else:
            hs_h = src.head[hs, 2] - src.end[:, 2].min()
            ht_h = tgt.head[ht, 2] - tgt.end[:, 2].min()
            scale = float(ht_h / hs_h) if hs_h > 0 else 1.0
            warnings.append("legs not mapped on both armatures: translation scaled by hips height")
    feet_idx = [i for i in (src.idx(f"{p}.{x}") for p in ("foot", "toe") for x in ("L", "R")) if i is not None]
    src_contact = _contact(src, {i: s_rot(i) for i in feet_idx}, {i: s_head(i) for i in feet_idx})
    src_toe = _toe_length(src)
    toe_t = scale * src_toe if src_toe else None  # a guessed target toe gets the source's length, scaled
    floors = _floors(src, tgt, src_contact, toe_t, scale, ls, lt)
    if floors.src_lowest is None:
        warnings.append("no feet mapped on the source: its floor is its lowest joint")
        floors.floor_s = float(min(s_head(i)[:, 2].min() for i in range(len(sk))))
    floor_s = floors.floor_s
    origin_s, origin_t = float(sk.object_loc[2]), float(target.object_loc[2])
    floor_t = origin_t + scale * (floor_s - origin_s) if floors.known else origin_t
    contact_t = floor_t + floors.sole_t  # where the target's lowest foot point is when it touches the floor
    # The pelvis point (between the hip joints) is what the legs carry: place it, then hang the hips bone
    # from it with the target's own offset, turned with the target's hips.
    legs_s = [src.idx(f"thigh.{x}") for x in ("L", "R")]
    legs_t = [tgt.idx(f"thigh.{x}") for x in ("L", "R")]
    if all(i is not None for i in legs_s + legs_t):
        pel_s = 0.5 * (s_head(legs_s[0]) + s_head(legs_s[1]))  # type: ignore[arg-type]
        pel_s0 = 0.5 * (src.head[legs_s[0]] + src.head[legs_s[1]])  # type: ignore[index]
        pel_t0 = 0.5 * (tgt.head[legs_t[0]] + tgt.head[legs_t[1]])  # type: ignore[index]
    else:
        pel_s, pel_s0, pel_t0 = s_head(hs), src.head[hs], tgt.head[ht]
    pel_t = np.empty((frames, 3))
    pel_t[:, :2] = pel_t0[:2] + scale * (pel_s[:, :2] - pel_s0[:2])
    pel_t[:, 2] = floor_t + scale * (pel_s[:, 2] - floor_s) + floors.offset
    hips_delta = Q.mul(want_rot[ht], Q.conj(tgt.rot[ht])[None])
    hips_w = pel_t + Q.rotate(hips_delta, (tgt.head[ht] - pel_t0)[None])
    offset = np.zeros((frames, 3))
    offset[:, :2] = hips_w[:, :2] - hips_w[:1, :2]
    root_bone = None
    mode = opts.root_motion
    if mode == "BONE":
        r = tgt.idx("root")
        if r is None:
            warnings.append("root motion to a bone needs a target root bone: kept on the hips")
            mode = "HIPS"
        else:
            root_bone = target.names[r]
    if mode == "IN_PLACE":
        hips_w[:, :2] = hips_w[:1, :2]
    turn = heading_turn(hips_delta) if opts.root_rotation and mode in ("OBJECT", "BONE") else None
    if opts.root_rotation and turn is None:
        warnings.append("root rotation needs root motion on the object or a root bone: not applied")

    # Solve in dependency order; the model's bones are the target's mapped bones.
    rot_keyed = {target.names[t] for t in want_rot}
    loc_keyed = {target.names[ht]} | ({root_bone} if root_bone else set())
    model_index = {b: k for k, b in enumerate(model.bones)}
    missing = [b for b in rot_keyed | loc_keyed if b not in model_index]
    if missing:
        raise ValueError(f"target model lacks bones {sorted(missing)}")
    inv_obj = Q.conj(target.object_rot)

    def to_arm_points(p: np.ndarray) -> np.ndarray:
        return Q.rotate(inv_obj, p - target.object_loc) / target.object_scale

    plain = target._plain_object()
    obj_turn = turn if mode == "OBJECT" else None
    if obj_turn is not None:
        # The object turns about its origin: what the bones must do is seen from the turned object.
        unturn = Q.conj(obj_turn)
        want_rot_arm = {t: Q.mul(inv_obj[None], Q.mul(unturn, q)) for t, q in want_rot.items()}
    else:
        want_rot_arm = {t: (q if plain else Q.mul(inv_obj[None], q)) for t, q in want_rot.items()}
    # A root bone's turn, in armature space: the world turn seen through the object's rotation.
    bone_turn = Q.mul(Q.mul(inv_obj[None], turn), target.object_rot[None]) if turn is not None and root_bone \
        else None

    def run(hips_world: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict, dict]:
        w_rot: list[np.ndarray] = []
        w_pos: list[np.ndarray] = []
        rots: dict[str, np.ndarray] = {}
        locs: dict[str, np.ndarray] = {}
        if mode == "OBJECT":
            rel = hips_world - offset - target.object_loc
            if obj_turn is not None:
                rel = Q.rotate(unturn, rel)
            hips_arm = to_arm_points(rel + target.object_loc)
        else:
            hips_arm = to_arm_points(hips_world)
        for k, bone in enumerate(model.bones):
            a = model.rot_follow[k]
            if a >= 0:  # parent frame turns with bone a: w_rot[a] (p0_a^-1 p0_k), the bracket is constant
                p_rot = Q.mul(w_rot[a], Q.mul(Q.conj(model.p0_rot[a]), model.p0_rot[k])[None])
            else:
                p_rot = np.broadcast_to(model.p0_rot[k], (frames, 4))
            a = model.pos_follow[k]
            if a >= 0:
                local = Q.rotate(Q.conj(model.p0_rot[a]), model.p0_pos[k] - model.p0_pos[a])
                p_pos = w_pos[a] + Q.rotate(w_rot[a], local[None])
            else:
                p_pos = np.broadcast_to(model.p0_pos[k], (frames, 3))
            t = target.index[bone]
            if t in want_rot:
                r = want_rot_arm[t]
                rots[bone] = Q.mul(Q.conj(p_rot), r)
            elif bone == root_bone and bone_turn is not None:
                r = Q.mul(bone_turn, p_rot)
                rots[bone] = Q.mul(Q.conj(p_rot), r)
            else:
                r = p_rot
            pos = p_pos
            if bone == root_bone:
                pos = p_pos + Q.rotate(inv_obj, offset) / target.object_scale
            elif t == ht:
                pos = hips_arm
            if bone in loc_keyed:
                locs[bone] = Q.rotate(Q.conj(p_rot), pos - p_pos)
            w_rot.append(np.asarray(r))
            w_pos.append(np.asarray(pos))
        pose_rot = {b: w_rot[k] for k, b in enumerate(model.bones)}
        pose_head = {b: w_pos[k] for k, b in enumerate(model.bones)}
        return rots, locs, pose_rot, pose_head

    rots, locs, pose_rot, pose_head = run(hips_w)
    feet_bones = {tgt.slots[s] for s in ("foot.L", "foot.R", "toe.L", "toe.R") if s in tgt.slots}
    rot_w = {target.index[b]: target.to_world_rot(r) for b, r in pose_rot.items() if b in feet_bones}
    pos_w = {target.index[b]: target.to_world_points(p) + (offset if mode == "OBJECT" else 0.0)
             for b, p in pose_head.items() if b in feet_bones}
    tgt_contact = _contact(tgt, rot_w, pos_w, toe_t)
    lowest = tgt_contact.lowest(floors.with_tips)
    shift = 0.0
    if opts.floor_clamp and lowest is not None:
        # Feet on the floor as the source's are: never below it, and down on it at least once (as the source's
        # touch theirs). Feet that would sink lift the hips on those frames; feet that never reach it (other
        # proportions in the legs' poses) lower the whole take.
        if lowest.min() < contact_t:
            lift = np.maximum(contact_t - lowest, 0.0)
        else:
            shift = contact_t - float(lowest.min())
            lift = np.full(frames, shift)
        if np.any(lift != 0):
            # Moving the hips moves everything hanging from them rigidly: rotations are unchanged,
            # the hips' location channel and every head move by the same armature-space offset.
            up = np.zeros((frames, 3))
            up[:, 2] = lift
            up_arm = Q.rotate(inv_obj, up) / target.object_scale
            hips_name = target.names[ht]
            hips_frame = Q.mul(pose_rot[hips_name], Q.conj(rots[hips_name])) if hips_name in rots else \
                pose_rot[hips_name]
            locs[hips_name] = locs[hips_name] + Q.rotate(Q.conj(hips_frame), up_arm)
            followers = _position_followers(model, model.bones.index(hips_name))
            for b in followers:
                pose_head[b] = pose_head[b] + up_arm
            lowest = lowest + lift
    hips_z = target.to_world_points(pose_head[target.names[ht]])[:, 2]
    solved_slots = {d.slot: target.names[d.target] for d in drivers}
    if root_bone:
        solved_slots["root"] = root_bone
    unused = [s for s in FINGER_SLOTS if opts.fingers and s in mapping.target and s not in solved_slots]
    if unused and len(unused) < len(FINGER_SLOTS):
        warnings.append(f"{len(unused)} target finger slots have no source finger")
    return SolveResult(
        rotations=rots,
        locations=locs,
        object_offset=offset if mode == "OBJECT" else None,
        object_turn=obj_turn,
        pose_rot=pose_rot,
        pose_head=pose_head,
        scale=float(scale),
        floor=floor_t,
        slots=solved_slots,
        hips_height=float(np.median(hips_z)) - floor_t,
        feet_lowest=lowest,
        floor_shift=floors.offset + shift,
        sole_height=floors.sole_t,
        warnings=warnings,
    )
