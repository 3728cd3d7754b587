"""The retarget engine's Blender side: ``retarget(source, target, options) -> Action`` (bpy layer).

Reads the source armature's action in bulk (:mod:`.action_io`), evaluates its chains in numpy
(:mod:`..core.retarget.skeleton`), solves the target pose (:mod:`..core.retarget.solver`) and writes a new
action for the target in bulk. No ``frame_set`` per frame, no constraints, no baking. The target's rest pose
and rolls are never edited; its previous action is kept in a muted NLA track. Root motion to the object is
keyed from the object's own transform; where the action being replaced animated that transform (an earlier
retarget with root motion to the object), from that action's value at the first frame, and a transform the
new action does not animate is set back to it, so root motion never piles up from run to run. The
options' clean-ups (foot lock, smoothing) run on the new action's channel values before its one write
(:func:`..review.legs.clean_up_values`, the operators' own functions); the take before them is written too
only with ``keep_raw``. Foot contacts stored on the source action (MOTION_DATA's, by the importer) come along
onto the new action at its frames, and foot lock uses them.

Rigs whose controls are driven through constraints (Rigify) are handled by probing: the rig is evaluated by
Blender's depsgraph twice with known random poses to learn which solved bone each control's parent frame
follows, then restored. For Rigify FK controls the new action also keys ``IK_FK = 1`` (FK) on the limbs and
full neck/head follow, for Auto-Rig Pro FK controls ``ik_fk_switch = 1`` on the hand and foot IK controls, so
the deforming bones follow the controls; the rig's own settings are untouched.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import bpy
import numpy as np
from mathutils import Euler, Quaternion, Vector

from ..core.blas_threads import single_threaded
from ..core.cleanup import contacts as C
from ..core.retarget import quat as Q
from ..core.retarget.mapping import SLOTS, BoneMapping, Detection, detect, is_finger
from ..core.retarget.options import RetargetOptions as RetargetOptions  # re-exported: the engine's options
from ..core.retarget.report import summary_line
from ..core.retarget.skeleton import (
    Skeleton,
    bone_major,
    channels_to_quat,
    forward_kinematics,
    quat_to_channels,
)
from ..core.retarget.solver import SolveOptions, SolveResult, SourceTake, TargetModel, hierarchy_model, solve
from . import action_io

if TYPE_CHECKING:
    from ..review.legs import CleanUp


@dataclass
class RetargetReport:
    action: bpy.types.Action
    mapping: BoneMapping
    frames: int
    seconds: float
    scale: float
    probed: bool
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage
    floor: float = 0.0  # world height of the floor the feet were put on
    hips_height: float = 0.0  # median height of the hips above that floor
    floor_shift: float = 0.0  # how far the take was moved up (> 0) or down to put the feet on the floor
    summary: str = ""  # one line for the user: scale, floor, hips height (see :func:`summary_line`)


# -- reading armatures ---------------------------------------------------------------------------------------

def _pbones(obj: bpy.types.Object) -> Any:
    pose = obj.pose
    assert pose is not None, f"{obj.name} has no pose"
    return pose.bones


def _bones(obj: bpy.types.Object) -> Any:
    data: Any = obj.data
    return data.bones


def _view_layer() -> Any:
    view_layer = bpy.context.view_layer
    assert view_layer is not None
    return view_layer


def world_matrix(obj: Any) -> np.ndarray:
    """The object's world matrix from its own transform and its parents' (no scene evaluation needed, so
    valid for objects just created or overridden); Blender's evaluated one where constraints or bone
    parents are involved."""
    if len(obj.constraints) or (obj.parent is not None and obj.parent_type != "OBJECT"):
        _view_layer().update()
        return np.array(obj.matrix_world, dtype=np.float64)
    m = np.array(obj.matrix_basis, dtype=np.float64)
    if obj.parent is not None:
        m = world_matrix(obj.parent) @ np.array(obj.matrix_parent_inverse, dtype=np.float64) @ m
    return m


def _obj_transform(obj: bpy.types.Object) -> tuple[np.ndarray, np.ndarray, float]:
    m = world_matrix(obj)
    lin = m[:3, :3]
    scale = float(np.cbrt(abs(np.linalg.det(lin)))) or 1.0
    return Q.from_matrix(lin / scale), m[:3, 3].copy(), scale


def skeleton_from_object(obj: bpy.types.Object) -> Skeleton:
    """Rest pose of an armature object (bone data, armature space) plus its world transform."""
    bones = _bones(obj)
    n = len(bones)
    flat = np.empty(n * 16, dtype=np.float32)
    bones.foreach_get("matrix_local", flat)
    mats = flat.reshape(n, 4, 4).transpose(0, 2, 1)  # stored column-major
    tails = np.empty(n * 3, dtype=np.float32)
    bones.foreach_get("tail_local", tails)
    conn = np.empty(n, dtype=bool)
    bones.foreach_get("use_connect", conn)
    inh = np.empty(n, dtype=bool)
    bones.foreach_get("use_inherit_rotation", inh)
    names = [b.name for b in bones]
    parents = [b.parent.name if b.parent else None for b in bones]
    rot, loc, scale = _obj_transform(obj)
    return Skeleton.from_matrices(
        names, parents, mats, tails.reshape(n, 3), connected=conn, inherit_rotation=inh,
        object_rot=rot, object_loc=loc, object_scale=scale,
    )


def detect_mapping(obj: bpy.types.Object, profile: str | None = None, namespace: str | None = None) -> Detection:
    """Slots of an armature, from bone names, falling back to hierarchy and world-space rest geometry."""
    skel = skeleton_from_object(obj)
    _, heads, ends = skel.rest_world()
    return detect(skel.names, list(skel.parents), heads, ends, profile=profile, namespace=namespace)


def auto_mapping(source: bpy.types.Object, target: bpy.types.Object, namespace: str | None = None) -> BoneMapping:
    s = detect_mapping(source, namespace=namespace)
    t = detect_mapping(target)
    return BoneMapping(source=s.slots, target=t.slots, source_profile=s.profile, target_profile=t.profile)


def _rot_path(bone: str, mode: str) -> tuple[str, int]:
    prop = {"QUATERNION": "rotation_quaternion", "AXIS_ANGLE": "rotation_axis_angle"}.get(mode, "rotation_euler")
    return f'pose.bones["{bone}"].{prop}', (3 if prop == "rotation_euler" else 4)


def sample_source(
    obj: bpy.types.Object, frames: np.ndarray, skel: Skeleton | None = None, heads_for: set[str] | None = None
) -> SourceTake:
    """Evaluate the source armature's action at ``frames`` (numpy FK, no scene evaluation). With
    ``heads_for`` only those bones' head positions are evaluated (rotations always are)."""
    skel = skel or skeleton_from_object(obj)
    action = action_io.object_action(obj)
    f = len(frames)
    b = len(skel)
    # Only the F-curves this function uses are read (rotation channels of the bones' modes, locations).
    wanted: set[str] = set()
    modes = []
    pbones = _pbones(obj)
    for name in skel.names:
        pb = pbones[name]
        modes.append((pb, pb.rotation_mode))
        wanted.add(_rot_path(name, pb.rotation_mode)[0])
        wanted.add(f'pose.bones["{name}"].location')
    channels = action_io.read_channels(action, obj, wanted) if action else {}
    index = action_io.KeyIndex()
    # Long takes are evaluated in float32 (half the memory traffic; ~1e-5 degree error), short ones in float64.
    dtype = np.float32 if f > 2000 else np.float64
    rot = bone_major((f, b, 4), dtype)
    loc = bone_major((f, b, 3), dtype, zero=True)
    for i, name in enumerate(skel.names):
        pb, mode = modes[i]
        path, size = _rot_path(name, mode)
        current = {"QUATERNION": pb.rotation_quaternion, "AXIS_ANGLE": pb.rotation_axis_angle}.get(
            mode, pb.rotation_euler)
        # Quaternion channels are filled in place and normalised below for all bones at once.
        vals = rot[:, i] if mode == "QUATERNION" else np.empty((f, size))
        for k in range(size):
            keys = channels.get((path, k))
            vals[:, k] = action_io.sample_keys(keys, frames, index) if keys is not None else current[k]
        if mode != "QUATERNION":
            rot[:, i] = channels_to_quat(vals, mode)
        lpath = f'pose.bones["{name}"].location'
        for k in range(3):
            keys = channels.get((lpath, k))
            if keys is not None:
                loc[:, i, k] = action_io.sample_keys(keys, frames, index)
            elif pb.location[k]:
                loc[:, i, k] = pb.location[k]
    del channels
    flat = rot.transpose(1, 0, 2)  # the bone-major storage, contiguous
    norm = np.sqrt(np.einsum("...i,...i->...", flat, flat))[..., None]
    norm[norm == 0] = 1.0
    flat /= norm
    del norm
    ids = None if heads_for is None else {skel.index[b] for b in heads_for if b in skel.index}
    prot, phead = forward_kinematics(skel, rot, loc, ids)
    return SourceTake(skel, prot, phead)


# -- the target's dependency model -------------------------------------------------------------------------

def _needs_probe(obj: bpy.types.Object) -> bool:
    if any(len(pb.constraints) for pb in _pbones(obj)):
        return True
    ad = obj.animation_data
    return bool(ad and len(ad.drivers))


def _pose_mats(obj: bpy.types.Object, bones: list[str]) -> tuple[np.ndarray, np.ndarray]:
    mats = np.array([np.array(_pbones(obj)[b].matrix) for b in bones], dtype=np.float64)
    return Q.from_matrix(mats[:, :3, :3]), mats[:, :3, 3].copy()


class _PoseState:
    """Saves and restores what probing touches: the active action and slot, NLA muting, bone channels and
    custom properties."""

    def __init__(self, obj: bpy.types.Object, bones: list[str], props: dict[tuple[str, str], float]) -> None:
        self.obj = obj
        self.bones = bones
        ad = obj.animation_data
        self.action = ad.action if ad else None
        self.slot = getattr(ad, "action_slot", None) if ad else None
        self.mutes = [(t, t.mute) for t in ad.nla_tracks] if ad else []
        self.channels: dict[str, tuple[tuple[float, ...], ...]] = {}
        for b in bones:
            pb = _pbones(obj)[b]
            self.channels[b] = tuple(tuple(v) for v in (pb.location, pb.rotation_quaternion, pb.rotation_euler,
                                                            pb.rotation_axis_angle, pb.scale))
        self.props = {(b, p): _pbones(obj)[b][p] for (b, p) in props}

    def clear_animation(self) -> None:
        ad = self.obj.animation_data
        if ad:
            if ad.action is not None:
                ad.action = None
            for t, _ in self.mutes:
                t.mute = True

    def restore(self) -> None:
        obj = self.obj
        for b, (loc, q, e, aa, s) in self.channels.items():
            pb = _pbones(obj)[b]
            pb.location, pb.rotation_quaternion, pb.rotation_euler = loc, q, e
            pb.rotation_axis_angle, pb.scale = aa, s
        for (b, p), v in self.props.items():
            _pbones(obj)[b][p] = v
        ad = obj.animation_data
        if ad:
            for t, m in self.mutes:
                t.mute = m
            if ad.action != self.action:
                ad.action = self.action
                if self.slot is not None and getattr(ad, "action_slot", None) != self.slot:
                    ad.action_slot = self.slot  # type: ignore[attr-defined]


def _set_basis(pb: Any, q: np.ndarray, loc: np.ndarray) -> None:
    mode = pb.rotation_mode
    vals = quat_to_channels(q[None], mode)[0]
    if mode == "QUATERNION":
        pb.rotation_quaternion = vals
    elif mode == "AXIS_ANGLE":
        pb.rotation_axis_angle = vals
    else:
        pb.rotation_euler = vals
    pb.location = loc
    pb.scale = (1.0, 1.0, 1.0)


def probe_model(
    obj: bpy.types.Object, skel: Skeleton, bones: list[str], props: dict[tuple[str, str], float] | None = None,
    warnings: list[str] | None = None,
) -> TargetModel:
    """Learn each bone's parent frame and what it follows by evaluating the rig with two random poses."""
    props = props or {}
    state = _PoseState(obj, bones, props)
    view_layer = _view_layer()
    rng = np.random.default_rng(7)
    order = [n for n in skel.names if n in set(bones)]
    n = len(order)
    assert skel.connected is not None
    connected = np.array([bool(skel.connected[skel.index[b]]) for b in order], dtype=bool)
    try:
        state.clear_animation()
        for (b, p), v in props.items():
            _pbones(obj)[b][p] = v
        for b in order:
            _set_basis(_pbones(obj)[b], Q.IDENTITY, np.zeros(3))
        view_layer.update()
        p0_rot, p0_pos = _pose_mats(obj, order)
        trials = []
        for _ in range(2):
            axes = rng.normal(size=(n, 3))
            basis_q = Q.from_axis_angle(axes, rng.uniform(0.3, 0.9, size=n))
            basis_l = rng.normal(scale=0.05 * max(skel_height(skel), 1e-3), size=(n, 3))
            basis_l[connected] = 0.0  # Blender ignores the location of connected bones
            for k, b in enumerate(order):
                _set_basis(_pbones(obj)[b], basis_q[k], basis_l[k])
            view_layer.update()
            w_rot, w_pos = _pose_mats(obj, order)
            trials.append((basis_q, basis_l, w_rot, w_pos))
    finally:
        state.restore()
        view_layer.update()

    # Candidates for each bone: -1 (fixed) or any other solved bone; errors for all at once per trial.
    deltas = [Q.mul(w_rot, Q.conj(p0_rot)) for _, _, w_rot, _ in trials]  # (n, 4) per trial

    def errors(k: int) -> tuple[np.ndarray, np.ndarray]:
        """Rotation and position error of every candidate (index n stands for 'fixed')."""
        e_rot = np.zeros(n + 1)
        e_pos = np.zeros(n + 1)
        for (basis_q, basis_l, w_rot, w_pos), delta in zip(trials, deltas):
            frames = np.vstack((Q.mul(delta, p0_rot[k][None]), p0_rot[k][None]))
            pred = Q.mul(frames, basis_q[k][None])
            e_rot = np.maximum(e_rot, 1.0 - np.abs(pred @ w_rot[k]))
            # The bone's own frame origin: its head minus its translation channel (in its actual frame).
            frame_actual = Q.mul(w_rot[k], Q.conj(basis_q[k]))
            origin = w_pos[k] - Q.rotate(frame_actual, basis_l[k])
            pred_pos = np.vstack((w_pos + Q.rotate(delta, p0_pos[k][None] - p0_pos), p0_pos[k][None]))
            e_pos = np.maximum(e_pos, np.linalg.norm(pred_pos - origin[None], axis=1))
        return e_rot, e_pos

    index = {b: k for k, b in enumerate(order)}
    rot_follow, pos_follow = [], []
    tol_rot, tol_pos = 1e-6, 1e-4 * max(skel_height(skel), 1e-3)
    for k, b in enumerate(order):
        anc = [index[skel.names[a]] for a in skel.ancestors(skel.index[b]) if skel.names[a] in index]
        # Preference on ties: nearest solved ancestor, then fixed, then any other bone.
        cands = [*anc, n, *[j for j in range(n) if j != k and j not in anc]]
        e_rot, e_pos = errors(k)
        e_rot[k] = e_pos[k] = np.inf
        best_r = min(cands, key=lambda a: (e_rot[a] > tol_rot, e_rot[a] if e_rot[a] > tol_rot else 0.0, cands.index(a)))
        best_p = min(cands, key=lambda a: (e_pos[a] > tol_pos, e_pos[a] if e_pos[a] > tol_pos else 0.0, cands.index(a)))
        rot_follow.append(-1 if best_r == n else best_r)
        pos_follow.append(-1 if best_p == n else best_p)
        if e_rot[best_r] > 1e-4 and warnings is not None:
            warnings.append(f"{b}: its rotation does not follow any mapped bone rigidly; result approximate")
    # Dependency order (a followed bone before its follower).
    done: list[int] = []
    state_map = [0] * n

    def visit(k: int) -> None:
        if state_map[k] == 2:
            return
        if state_map[k] == 1:
            raise ValueError(f"cyclic dependency between target bones at {order[k]}")
        state_map[k] = 1
        for a in (rot_follow[k], pos_follow[k]):
            if a >= 0:
                visit(a)
        state_map[k] = 2
        done.append(k)

    for k in range(n):
        visit(k)
    remap = {old: new for new, old in enumerate(done)}
    return TargetModel(
        bones=[order[k] for k in done],
        p0_rot=p0_rot[done],
        p0_pos=p0_pos[done],
        rot_follow=[remap[rot_follow[k]] if rot_follow[k] >= 0 else -1 for k in done],
        pos_follow=[remap[pos_follow[k]] if pos_follow[k] >= 0 else -1 for k in done],
    )


def skel_height(skel: Skeleton) -> float:
    return skel.height()


_ARP_FK = ("c_arm_fk.", "c_forearm_fk.", "c_hand_fk.", "c_thigh_fk.", "c_leg_fk.", "c_foot_fk.")


def fk_switch_overrides(obj: bpy.types.Object, target_bones: set[str]) -> dict[tuple[str, str], float]:
    """Custom properties to key so the rig's deforming bones follow the FK controls being keyed: Rigify's
    ``IK_FK`` (1 = FK) and full neck/head follow; Auto-Rig Pro's ``ik_fk_switch`` on ``c_hand_ik`` and
    ``c_foot_ik`` (1 = FK)."""
    rigify = any(b.endswith(("_fk.L", "_fk.R")) for b in target_bones)
    arp = any(b.startswith(_ARP_FK) for b in target_bones)
    out: dict[tuple[str, str], float] = {}
    if not (rigify or arp):
        return out
    for pb in _pbones(obj):
        keys = set(pb.keys())
        if rigify:
            for p in ("IK_FK", "neck_follow", "head_follow"):
                if p in keys:
                    out[(pb.name, p)] = 1.0
        if arp and "ik_fk_switch" in keys and pb.name.startswith(("c_hand_ik.", "c_foot_ik.")):
            out[(pb.name, "ik_fk_switch")] = 1.0
    return out


# -- the public function ---------------------------------------------------------------------------------

def retarget(source: bpy.types.Object, target: bpy.types.Object, options: RetargetOptions | None = None
             ) -> bpy.types.Action:
    """Retarget ``source``'s active action onto ``target``; returns the new action (assigned to target)."""
    return retarget_with_report(source, target, options).action


@single_threaded()  # its numeric stages multiply small matrices: BLAS threads only cost (core.blas_threads)
def retarget_with_report(
    source: bpy.types.Object, target: bpy.types.Object, options: RetargetOptions | None = None
) -> RetargetReport:
    """Like :func:`retarget`, also returning the mapping used, timings and warnings."""
    t0 = time.perf_counter()
    opts = options or RetargetOptions()
    for obj, what in ((source, "source"), (target, "target")):
        if obj is None or obj.type != "ARMATURE":
            raise ValueError(f"the {what} must be an armature object")
    if source == target:
        raise ValueError("source and target must be different armatures")
    action = action_io.object_action(source)
    if action is None:
        raise ValueError(f"the source armature {source.name!r} has no action")
    scene: Any = bpy.context.scene
    scene_fps = scene.render.fps / scene.render.fps_base
    src_fps = opts.source_fps or scene_fps
    out_fps = opts.target_fps or src_fps
    lo, hi = action_io.frame_range(action, source)
    start = lo if opts.frame_start is None else float(opts.frame_start)
    end = hi if opts.frame_end is None else float(opts.frame_end)
    if end < start:
        raise ValueError(f"frame range is empty ({start} > {end})")
    count = int(np.floor((end - start) * out_fps / src_fps + 1e-6)) + 1
    src_frames = start + np.arange(count) * (src_fps / out_fps)
    offset = start if opts.frame_offset is None else float(opts.frame_offset)
    out_frames = offset + np.arange(count, dtype=np.float64)

    mapping = opts.mapping or auto_mapping(source, target, opts.source_namespace)
    if opts.mapping is not None and not opts.mapping.source:
        # Only the target's bones given (e.g. the panel's mapping applied to a new Move result): the source's
        # side is detected.
        found = auto_mapping(source, target, opts.source_namespace)
        mapping = BoneMapping(found.source, mapping.target, found.source_profile, mapping.target_profile)
    mapping = BoneMapping(dict(mapping.source), dict(mapping.target), mapping.source_profile, mapping.target_profile)
    if opts.root_bone:
        mapping.target["root"] = opts.root_bone
    if opts.root_motion != "BONE":
        mapping.target.pop("root", None)
    for side, obj, bones in (("source", source, mapping.source), ("target", target, mapping.target)):
        bad = [b for b in bones.values() if b not in _bones(obj)]
        if bad:
            raise ValueError(f"{side} bones not found in {obj.name!r}: {', '.join(sorted(bad)[:5])}")
    if not mapping.source.get("hips") or not mapping.target.get("hips"):
        raise ValueError("the hips are not mapped on both armatures (edit the mapping)")

    warnings: list[str] = []
    contacts = _source_contacts(action, lo, hi, src_frames, warnings)
    timings: dict[str, float] = {"prepare": time.perf_counter() - t0}
    t1 = time.perf_counter()
    src_skel = skeleton_from_object(source)
    # The solver needs source head positions only for the hips, hip joints, feet and toes.
    heads = {mapping.source[s] for s in ("hips", "thigh.L", "thigh.R", "foot.L", "foot.R", "toe.L", "toe.R")
             if mapping.source.get(s)}
    take = sample_source(source, src_frames, src_skel, heads)
    timings["read_source"] = time.perf_counter() - t1
    t1 = time.perf_counter()
    tgt_skel = skeleton_from_object(target)
    solved = [b for s, b in mapping.target.items() if s in SLOTS and (opts.fingers or not is_finger(s))]
    solved = list(dict.fromkeys(solved))
    props = fk_switch_overrides(target, set(solved)) if opts.fk_switch else {}
    probed = _needs_probe(target)
    if probed:
        model = probe_model(target, tgt_skel, solved, props, warnings)
    else:
        model = hierarchy_model(tgt_skel, solved)
    timings["target_model"] = time.perf_counter() - t1
    t1 = time.perf_counter()
    result = solve(take, tgt_skel, model, mapping, SolveOptions(
        root_motion=opts.root_motion, fingers=opts.fingers, translation_scale=opts.translation_scale,
        floor_clamp=opts.floor_clamp, root_rotation=opts.root_rotation))
    warnings += result.warnings
    summary, floor_warnings = summary_line(result)
    warnings += floor_warnings
    # Only the channels are written: the take and the solved pose are released before Blender's keys grow.
    del take
    result.pose_rot.clear()
    result.pose_head.clear()
    timings["solve"] = time.perf_counter() - t1
    t1 = time.perf_counter()

    name = opts.action_name or f"{target.name}_{action.name}"
    anim = target.animation_data  # created only when the new action is assigned
    had_animation = anim is not None
    previous = anim.action if anim is not None else None
    base = _object_own_transform(target, previous, float(out_frames[0]))
    channels, groups = _action_channels(target, result, out_frames, props, base)
    settled = _settle_unkeyed(target, previous, set(channels), float(out_frames[0])) if previous is not None else []
    timings["write"] = time.perf_counter() - t1
    keep_raw = opts.keep_raw and (opts.foot_lock or opts.smooth)
    raw_channels, raw_groups = (dict(channels), dict(groups)) if keep_raw else ({}, {})
    # The clean-ups replace channels in ``channels``; a clean-up that fails leaves nothing written (the
    # transforms settled for them, which they evaluate, are put back).
    try:
        cleaned = clean_up(target, channels, groups, out_frames, opts, timings, contacts)
    except Exception:
        for owner, prop, value in reversed(settled):
            setattr(owner, prop, value)
        raise
    t1 = time.perf_counter()
    # The actions are written first, the rig's NLA and action changed last; a failure anywhere here removes
    # what was written and puts the rig's animation back as it was.
    created: list[bpy.types.Action] = []
    tracks = len(anim.nla_tracks) if anim is not None else 0
    try:
        raw = None
        if keep_raw:
            raw = action_io.new_action(f"{name}_raw", target, raw_channels, raw_groups, opts.interpolation)
            created.append(raw)
            raw[RETARGET_TAG] = action.name
            if contacts is not None:
                raw[C.STORED_PROP] = contacts
            timings["write_raw"] = time.perf_counter() - t1
            t1 = time.perf_counter()
        new = action_io.new_action(name, target, channels, groups, opts.interpolation)
        created.append(new)
        new[RETARGET_TAG] = action.name
        if contacts is not None:
            new[C.STORED_PROP] = contacts  # a foot lock's below replaces them with the contacts it locked
        for key, value in cleaned.props.items():
            new[key] = value
        if raw is not None:
            from ..review.legs import CLEANED_FROM

            new[CLEANED_FROM] = raw.name
        if previous is not None and opts.stash_previous:
            action_io.stash_action(target, previous)
        if raw is not None:
            action_io.stash_action(target, raw)
        action_io.assign_action(target, new)
    except Exception:
        _undo_write(target, had_animation, previous, tracks, created, settled)
        raise
    timings["write"] += time.perf_counter() - t1
    notes = [r.message() for r in cleaned.reports(new)]
    if notes:
        summary = "; ".join([summary, *notes]) if summary else "; ".join(notes)
    return RetargetReport(new, mapping, count, time.perf_counter() - t0, result.scale, probed, warnings, timings,
                          result.floor, result.hips_height, result.floor_shift, summary)


def _undo_write(target: bpy.types.Object, had_animation: bool, previous: bpy.types.Action | None, tracks: int,
                created: list[bpy.types.Action], settled: list[tuple[Any, str, Any]]) -> None:
    """Put the rig's animation back as it was before a failed write: its NLA tracks and action, no
    animation data if it had none, no action written, the transforms settled for the write."""
    ad = target.animation_data
    if ad is not None:
        if had_animation:
            while len(ad.nla_tracks) > tracks:
                ad.nla_tracks.remove(ad.nla_tracks[-1])
            if ad.action != previous:
                ad.action = previous
        else:
            target.animation_data_clear()
    for act in reversed(created):
        bpy.data.actions.remove(act)
    for owner, prop, value in reversed(settled):
        setattr(owner, prop, value)


def _source_contacts(action: bpy.types.Action, first_frame: float, last_frame: float, src_frames: np.ndarray,
                     warnings: list[str]) -> list[int] | None:
    """The source action's stored foot contacts (MOTION_DATA's and the local engine's, stored by the importer:
    :data:`..core.cleanup.contacts.STORED_PROP`) at the frames the retarget reads, one per new frame, as the
    new action stores them; None when it has none, when they are malformed (:func:`..core.cleanup.contacts.
    read_stored`) or do not cover the frames read: warned about, and the foot lock detects contacts."""
    tagged: Any = action
    span = int(np.floor(last_frame - first_frame + 1e-6)) + 1
    mask, problem = C.read_stored(tagged.get(C.STORED_PROP), span)
    if problem:
        warnings.append(f"{action.name!r}: {problem}")
    if mask is None:
        return None
    at = C.at_frames(mask, first_frame, src_frames)
    if at is None:
        warnings.append(f"{action.name!r}: the stored foot contacts cover frames {first_frame:g} to "
                        f"{first_frame + len(mask) - 1:g}, not all the frames retargeted; foot contacts will be "
                        "detected from the motion")
        return None
    return C.encode_stored(at)


def clean_up(target: bpy.types.Object, channels: dict[tuple[str, int], tuple[np.ndarray, np.ndarray]],
             groups: dict[str, str], frames: np.ndarray, opts: RetargetOptions, timings: dict[str, float],
             contacts: list[int] | None = None) -> CleanUp:
    """The options' clean-ups (foot lock, then smoothing: :func:`..review.legs.clean_up_values`, the operators'
    own functions) on the retarget's ``channels`` before they are written: the channels they change replace
    the retarget's in ``channels`` (in place) and ``groups``; returns the clean-up (its custom properties for
    the action, its reports once the action is written). The one action written holds the cleaned take; the
    raw one only with ``keep_raw``. ``contacts``: the source's stored foot contacts on ``frames``
    (:func:`_source_contacts`), used where given, else detected from the motion.

    A clean-up that fails raises ValueError naming it and the fix; nothing has been written then."""
    from ..review.legs import CleanUp, CleanUpError, clean_up_values

    if not opts.foot_lock and not opts.smooth:
        return CleanUp()
    n = len(frames)
    values = {ch: v for ch, (f, v) in channels.items() if len(f) == n}
    try:
        cleaned = clean_up_values(target, frames, values, opts.foot_lock, float(opts.smooth),
                                  stored_contacts=contacts)
    except CleanUpError as exc:
        off = " and ".join(name for name, on in (("Foot Lock", opts.foot_lock), ("Smoothing", opts.smooth)) if on)
        raise ValueError(f"{exc}. Nothing was written (the rig keeps its action); retarget with {off} off") from exc
    for ch, v in cleaned.channels.items():
        channels[ch] = (frames, v)
    groups.update(cleaned.groups)
    timings.update(cleaned.timings)
    return cleaned


def _object_rot_path(obj: bpy.types.Object) -> str:
    return {"QUATERNION": "rotation_quaternion", "AXIS_ANGLE": "rotation_axis_angle"}.get(obj.rotation_mode,
                                                                                          "rotation_euler")


def _rotation_values_to_quat(values: np.ndarray, mode: str) -> np.ndarray:
    if mode == "QUATERNION":
        q = Quaternion(values.tolist()).normalized()
    elif mode == "AXIS_ANGLE":
        q = Quaternion(Vector(values[1:4].tolist()), float(values[0]))
    else:
        q = Euler(values.tolist(), mode).to_quaternion()
    return np.array(q, dtype=np.float64)


def _object_own_transform(
    target: bpy.types.Object, previous: bpy.types.Action | None, frame: float
) -> dict[str, np.ndarray]:
    """The object's location and rotation channel values to key root motion from: where the action being
    replaced animates them, that action's value at ``frame`` (what the object shows otherwise is just the
    last frame evaluated), else the properties."""
    rot_path = _object_rot_path(target)
    base = {"location": np.array(target.location, dtype=np.float64),
            rot_path: np.array(getattr(target, rot_path), dtype=np.float64)}
    if previous is not None:
        for fc in action_io.action_fcurves(previous, target):
            values = base.get(fc.data_path)
            if values is not None and fc.array_index < len(values) and len(fc.keyframe_points):
                values[fc.array_index] = fc.evaluate(frame)
    return base


_TRANSFORMS = ("location", "rotation_quaternion", "rotation_euler", "rotation_axis_angle", "scale")


_REST: dict[str, tuple[float, ...]] = {
    "location": (0.0, 0.0, 0.0), "scale": (1.0, 1.0, 1.0), "rotation_euler": (0.0, 0.0, 0.0),
    "rotation_quaternion": (1.0, 0.0, 0.0, 0.0), "rotation_axis_angle": (0.0, 0.0, 1.0, 0.0)}
RETARGET_TAG = "move_mocap_retarget"  # custom property on actions this engine made: the source action's name


def _settle_unkeyed(target: bpy.types.Object, previous: bpy.types.Action, keyed: set[tuple[str, int]],
                    frame: float) -> list[tuple[Any, str, list[float]]]:
    """Transform channels (the object's and its pose bones') the replaced action animated and the new one
    does not would keep whatever frame was last evaluated. The object's go back to the replaced action's
    value at ``frame`` (where root motion started); a bone's go to rest when the replaced action is an
    earlier retarget (a bone since dropped from the mapping), else to that action's value at ``frame``.
    ``keyed``: the (data path, index) channels the new action keys. Returns (owner, property, value before)
    of each transform it set, to put back if what follows fails."""
    tagged: Any = previous
    ours = tagged.get(RETARGET_TAG) is not None
    settle: dict[tuple[str, str], dict[int, float]] = {}
    for fc in action_io.action_fcurves(previous, target):
        owner, _, prop = fc.data_path.rpartition(".")
        if prop in _TRANSFORMS and (owner == "" or owner.startswith("pose.bones[")) and len(fc.keyframe_points) \
                and (fc.data_path, fc.array_index) not in keyed:
            value = _REST[prop][fc.array_index % len(_REST[prop])] if owner and ours else fc.evaluate(frame)
            settle.setdefault((owner, prop), {})[fc.array_index] = value
    obj: Any = target
    done: list[tuple[Any, str, list[float]]] = []
    for (owner_path, prop), values in settle.items():
        try:
            owner = obj.path_resolve(owner_path) if owner_path else obj
        except ValueError:  # a bone the rig no longer has
            continue
        current = list(getattr(owner, prop))
        done.append((owner, prop, list(current)))
        for i, v in values.items():
            if i < len(current):
                current[i] = v
        setattr(owner, prop, current)
    return done


def _object_rotation_channels(
    target: bpy.types.Object, turn: np.ndarray, base: dict[str, np.ndarray]
) -> tuple[str, np.ndarray]:
    """The object's rotation channel (path, (F, C) values) when its world rotation turns by ``turn`` (F, 4)
    about world up from its own rotation ``base``; in its rotation mode, through its delta rotation and
    parent."""
    mode = target.rotation_mode
    path = _object_rot_path(target)
    own = _rotation_values_to_quat(base[path], mode)
    now = _rotation_values_to_quat(np.array(getattr(target, path), dtype=np.float64), mode)
    delta = Q.mul(np.array(target.matrix_basis.to_quaternion(), dtype=np.float64), Q.conj(now))
    space = delta
    if target.parent is not None:
        parent = np.array((target.parent.matrix_world @ target.matrix_parent_inverse).to_quaternion(), dtype=np.float64)
        space = Q.mul(parent, delta)
    local = Q.mul(Q.mul(Q.mul(Q.conj(space)[None], turn), space[None]), own[None])
    values = quat_to_channels(local, mode)
    if path == "rotation_euler":
        # Start from the object's own angles (same rotation, whole turns apart), so nothing jumps.
        values = values + 2 * np.pi * np.round((base[path] - values[0]) / (2 * np.pi))
    return path, values


def _action_channels(
    target: bpy.types.Object, result: SolveResult, frames: np.ndarray, props: dict[tuple[str, str], float],
    base: dict[str, np.ndarray],
) -> tuple[dict[tuple[str, int], tuple[np.ndarray, np.ndarray]], dict[str, str]]:
    """The new action's channels ((path, index) -> (frames, values)) and channel groups (path -> group)."""
    channels: dict[tuple[str, int], tuple[np.ndarray, np.ndarray]] = {}
    groups: dict[str, str] = {}
    for bone, q in result.rotations.items():
        mode = _pbones(target)[bone].rotation_mode
        path, size = _rot_path(bone, mode)
        vals = quat_to_channels(q, mode)
        for k in range(size):
            channels[(path, k)] = (frames, vals[:, k])
        groups[path] = bone
    for bone, loc in result.locations.items():
        path = f'pose.bones["{bone}"].location'
        for k in range(3):
            channels[(path, k)] = (frames, loc[:, k])
        groups[path] = bone
    if result.object_offset is not None:
        delta = result.object_offset
        if target.parent is not None:
            inv = np.linalg.inv(np.array(target.parent.matrix_world @ target.matrix_parent_inverse)[:3, :3])
            delta = delta @ inv.T
        for k in range(3):
            channels[("location", k)] = (frames, base["location"][k] + delta[:, k])
        groups["location"] = "Object Transforms"
    if result.object_turn is not None:
        path, values = _object_rotation_channels(target, result.object_turn, base)
        for k in range(values.shape[1]):
            channels[(path, k)] = (frames, values[:, k])
        groups[path] = "Object Transforms"
    for (bone, prop), value in props.items():
        path = f'pose.bones["{bone}"]["{prop}"]'
        channels[(path, 0)] = (frames[:1], np.array([value]))
        groups[path] = bone
    return channels, groups
