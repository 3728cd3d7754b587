"""Reading a rig's action as a whole-take pose and writing cleaned channels into a copy (bpy layer).

- :func:`setup` then :func:`from_values` - the same take from channel values not written yet (the retarget's
  own, for clean-ups at apply time), :func:`with_channels` - a take as it reads once a clean-up's channels
  are keyed over it (what reading the written action again would give).
- :func:`load` - the rig's mapped bones (the retarget's own detection), its dependency model (probed for
  rigs driven by constraints, like the retarget; the probe is remembered per rig while the rig, its
  constraints, drivers, custom properties and the unprobed bones' pose stay the same, see
  :func:`rig_fingerprint`), the action's channels sampled on every frame of its range (:mod:`..retarget.action_io`;
  only the F-curves of the bones asked for and those they follow), and the object's world transform per
  frame (root motion on the object).
- :func:`copy_with` - a copy of the action (never the original) with some bones' channels replaced: one
  copy of the whole action in Blender's own code, then the replaced curves' keys overwritten in place with
  ``foreach_set`` (no per-key Python, no new key arrays); works on Blender 4.2 (``Action.fcurves``) and 4.4+
  (the slot's channelbag).

No clean-up maths here (that is :mod:`..core.cleanup`); no operators (those are :mod:`.ops`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import bpy
import numpy as np

from ..core.cleanup.contacts import STORED_PROP as CONTACTS_PROP  # an action's stored foot contacts
from ..core.cleanup.contacts import encode_stored, read_stored
from ..core.cleanup.rig_pose import Pose, closure, evaluate, head_closure
from ..core.retarget import quat as Q
from ..core.retarget.mapping import FINGER_SLOTS, SLOTS
from ..core.retarget.skeleton import channels_to_quat, quat_to_channels
from ..core.retarget.solver import TargetModel, hierarchy_model
from ..retarget import action_io

#: IK controls per naming profile: (foot IK control, knee pole), ``{s}`` the side suffix.
IK_CONTROLS = {"rigify_fk": ("foot_ik{s}", "thigh_ik_target{s}", {"L": ".L", "R": ".R"}),
               "auto_rig_pro": ("c_foot_ik.{s}", "c_leg_pole.{s}", {"L": "l", "R": "r"})}


def rot_path(bone: str, mode: str) -> tuple[str, int]:
    prop = {"QUATERNION": "rotation_quaternion", "AXIS_ANGLE": "rotation_axis_angle"}.get(mode, "rotation_euler")
    return f'pose.bones["{bone}"].{prop}', (3 if prop == "rotation_euler" else 4)


@dataclass
class RigTake:
    obj: bpy.types.Object
    action: bpy.types.Action | None  # the action read (None: channel values not written yet, see from_values)
    frames: np.ndarray  # (F,) scene frames sampled (the action's whole range, one per frame)
    fps: float
    slots: dict[str, str]  # slot -> bone
    profile: str
    model: TargetModel
    basis_rot: dict[str, np.ndarray]  # bone -> (F, 4)
    basis_loc: dict[str, np.ndarray]  # bone -> (F, 3)
    channel_values: dict[str, np.ndarray]  # bone -> (F, C) its rotation channel values as keyed
    obj_rot: np.ndarray  # (F, 4) the object's world orientation per frame
    obj_loc: np.ndarray  # (F, 3)
    obj_scale: float
    ik: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # side -> (foot IK, pole)
    warnings: list[str] = field(default_factory=list)
    used: set[str] | None = None  # the bones read and evaluated (None: all the model's)
    dense: set[tuple[str, int]] = field(default_factory=set)  # channels read whose keys are one per frame
    stored_contacts: list[int] | None = None  # the action's stored foot contacts (CONTACTS_PROP), if any
    heads: set[str] | None = None  # the bones whose heads a pose evaluates (the legs', the IK controls'; None: all)

    def pose(self, basis_rot: dict[str, np.ndarray] | None = None,
             basis_loc: dict[str, np.ndarray] | None = None) -> Pose:
        return evaluate(self.model, basis_rot or self.basis_rot, self.basis_loc if basis_loc is None else basis_loc,
                        len(self.frames), self.used, heads=self.heads)

    def to_world(self, p: np.ndarray) -> np.ndarray:
        return self.obj_loc + self.obj_scale * Q.rotate(self.obj_rot, p)

    def to_world_rot(self, q: np.ndarray) -> np.ndarray:
        return Q.mul(self.obj_rot, q)

    def from_world(self, p: np.ndarray) -> np.ndarray:
        return Q.rotate(Q.conj(self.obj_rot), (p - self.obj_loc) / self.obj_scale)

    def from_world_rot(self, q: np.ndarray) -> np.ndarray:
        return Q.mul(Q.conj(self.obj_rot), q)


def _object_track(obj: bpy.types.Object, values: Mapping[tuple[str, int], np.ndarray], frames: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, float]:
    """World orientation, location per frame and uniform scale of the object under channel ``values`` ((path,
    index) -> (F,) on ``frames``; the object's own transform channels are those with an empty owner)."""
    f = len(frames)
    from ..retarget.apply import world_matrix

    mw = world_matrix(obj)  # from its own transform (set, not yet evaluated, when a retarget settles it)
    scale = float(np.cbrt(abs(np.linalg.det(mw[:3, :3])))) or 1.0
    rot_prop = rot_path("", obj.rotation_mode)[0].rpartition(".")[2]
    keyed = [k for k in values if k[0] in ("location", rot_prop)]
    if not keyed:
        return (np.broadcast_to(Q.from_matrix(mw[:3, :3] / scale), (f, 4)).copy(),
                np.broadcast_to(mw[:3, 3], (f, 3)).copy(), scale)
    loc = np.tile(np.array(obj.location, dtype=np.float64), (f, 1))
    cur = np.array(getattr(obj, rot_prop), dtype=np.float64)
    rv = np.tile(cur, (f, 1))
    for path, i in keyed:
        (loc if path == "location" else rv)[:, i] = values[(path, i)]
    own_rot = channels_to_quat(rv, obj.rotation_mode)
    parent = np.eye(4)
    if obj.parent is not None:
        parent = np.array(obj.parent.matrix_world @ obj.matrix_parent_inverse, dtype=np.float64)
    ps = float(np.cbrt(abs(np.linalg.det(parent[:3, :3])))) or 1.0
    pq = Q.from_matrix(parent[:3, :3] / ps)
    own_scale = float(np.cbrt(abs(np.prod(np.array(obj.scale))))) or 1.0
    return Q.mul(pq[None], own_rot), parent[:3, 3] + ps * Q.rotate(pq, loc), ps * own_scale


#: Dependency models learnt by probing, per rig: (bones, fingerprint, model, warnings). A probe evaluates the
#: rig twice with its action detached, which makes Blender copy the whole action again for evaluation when it
#: is put back; a second clean-up of the same rig (smoothing after foot locking) reuses the model instead.
_PROBED: dict[int, tuple[tuple[str, ...], bytes, TargetModel, list[str]]] = {}


def rig_fingerprint(obj: bpy.types.Object, probed: Collection[str], props: Collection[tuple[str, str]]) -> bytes:
    """What a probed model depends on besides the probed bones' own channels: the rest pose, every
    constraint and driver, the pose bones' custom properties (but the probe's own switches ``props``) and the
    unprobed bones' current pose."""
    data: Any = obj.data
    bones = data.bones
    pbones: Any = obj.pose.bones  # type: ignore[union-attr]
    h = hashlib.sha1(str(data.pose_position).encode())
    n = len(bones)
    mats = np.empty(n * 16, dtype=np.float32)
    bones.foreach_get("matrix_local", mats)
    h.update(mats.tobytes())
    for prop, size in (("location", 3), ("rotation_quaternion", 4), ("rotation_euler", 3), ("scale", 3)):
        flat = np.empty(len(pbones) * size, dtype=np.float32)
        pbones.foreach_get(prop, flat)
        rows = flat.reshape(-1, size)
        rows[[k for k, pb in enumerate(pbones) if pb.name in probed]] = 0.0
        h.update(rows.tobytes())
    parts: list[object] = []
    for pb in pbones:
        for c in pb.constraints:
            target = getattr(c, "target", None)
            parts.append((pb.name, c.type, c.name, c.mute, round(c.influence, 6), getattr(target, "name", ""),
                          getattr(c, "subtarget", "")))
        for key in pb.keys():  # noqa: SIM118 (an ID property group: iterating it directly is not the keys)
            if (pb.name, key) not in props:
                value = pb[key]
                parts.append((pb.name, key, value if isinstance(value, (int, float, str)) else repr(value)))
    ad = obj.animation_data
    for d in ad.drivers if ad else ():
        drv: Any = d.driver
        parts.append((d.data_path, d.array_index, d.mute, drv.type, drv.expression))
    h.update(repr(parts).encode())
    return h.digest()


def _model(obj: bpy.types.Object, wanted: list[str], warnings: list[str]) -> TargetModel:
    """The retarget's dependency model of ``obj`` for ``wanted`` bones (probed where the rig needs it)."""
    from ..retarget.apply import _needs_probe, fk_switch_overrides, probe_model, skeleton_from_object

    skel = skeleton_from_object(obj)
    if not _needs_probe(obj):
        return hierarchy_model(skel, wanted)
    props = fk_switch_overrides(obj, set(wanted))
    key = obj.as_pointer()
    stamp = rig_fingerprint(obj, set(wanted), set(props))
    known = _PROBED.get(key)
    if known is not None and known[0] == tuple(wanted) and known[1] == stamp:
        warnings += known[3]
        return known[2]
    ad = obj.animation_data
    active = ad.action if ad else None
    found: list[str] = []
    model = probe_model(obj, skel, wanted, props, found)
    if ad is not None and active is not None and ad.action != active:  # the probe restores it; be sure
        action_io.assign_action(obj, active)
    if len(_PROBED) > 8:
        _PROBED.clear()
    _PROBED[key] = (tuple(wanted), rig_fingerprint(obj, set(wanted), set(props)), model, found)
    warnings += found
    return model


@dataclass
class RigSetup:
    """What reading a take of a rig needs besides the action: its mapped body bones, IK controls and
    dependency model (:func:`setup`)."""

    obj: bpy.types.Object
    slots: dict[str, str]  # slot -> bone
    profile: str
    model: TargetModel
    ik: dict[str, tuple[str, str | None]]
    warnings: list[str]
    used: set[str] | None  # the bones to read and evaluate (None: all the model's)
    heads: set[str] | None = None  # the bones whose heads are evaluated (None: all)

    def paths(self) -> set[str]:
        """The data paths a take of this rig reads: the used bones' rotation (in their modes) and location,
        and the object's own transform."""
        out = {"location", "rotation_quaternion", "rotation_euler", "rotation_axis_angle"}
        pbones = self.obj.pose.bones  # type: ignore[union-attr]
        for b in self.model.bones:
            if self.used is None or b in self.used:
                out.add(rot_path(b, pbones[b].rotation_mode)[0])
                out.add(f'pose.bones["{b}"].location')
        return out


def setup(obj: bpy.types.Object, extra_bones: tuple[str, ...] = (), needed: Iterable[str] | None = None) -> RigSetup:
    """The rig's mapped body bones (the retarget's own detection), IK controls and dependency model (probed
    for rigs driven by constraints, remembered per rig: :func:`_model`).

    ``needed``: slots (``thigh.L``...) or bone names whose pose the caller uses, plus ``"ik"`` for the IK
    controls; only they and the bones they follow are read and evaluated (default: every body bone)."""
    from ..retarget.apply import detect_mapping

    det = detect_mapping(obj)
    slots = {s: b for s, b in det.slots.items() if s in SLOTS and s not in FINGER_SLOTS}
    for side in ("L", "R"):
        missing = [p for p in ("thigh", "shin", "foot") if f"{p}.{side}" not in slots]
        if missing or "hips" not in slots:
            raise ValueError(f"{obj.name!r}: the {'hips' if 'hips' not in slots else side + ' leg'} "
                             "could not be found by the mapping detection (the Retarget panel's Detect shows what it finds)")
    data: Any = obj.data
    bone_names = {b.name for b in data.bones}
    ik: dict[str, tuple[str, str | None]] = {}
    spec = IK_CONTROLS.get(det.profile or "")
    if spec:
        for side in ("L", "R"):
            foot = spec[0].format(s=spec[2][side])
            pole = spec[1].format(s=spec[2][side])
            if foot in bone_names:
                ik[side] = (foot, pole if pole in bone_names else None)
    ik_bones = [b for pair in ik.values() for b in pair if b]
    wanted = list(dict.fromkeys([*slots.values(), *ik_bones, *(b for b in extra_bones if b in bone_names)]))
    warnings: list[str] = []
    model = _model(obj, wanted, warnings)
    used: set[str] | None = None
    if needed is not None:
        names = set()
        for name in needed:
            names.update(ik_bones if name == "ik" else [slots.get(name, name)])
        used = closure(model, names)
    # Clean-ups use the positions of the legs and the IK controls only; every bone's orientation.
    legs = [slots[f"{p}.{side}"] for p in ("thigh", "shin", "foot", "toe") for side in "LR" if f"{p}.{side}" in slots]
    heads = head_closure(model, [*legs, *ik_bones])
    return RigSetup(obj, slots, det.profile or "", model, ik, warnings, used, heads)


def load(obj: bpy.types.Object, action: bpy.types.Action | None = None, extra_bones: tuple[str, ...] = (),
         needed: Iterable[str] | None = None) -> RigTake:
    """The rig's action (default: its active one) as a whole-take pose of its mapped body bones, sampled on
    every frame of the action's range (``needed``: see :func:`setup`)."""
    action = action or action_io.object_action(obj)
    if action is None:
        raise ValueError(f"{obj.name!r} has no action")
    rig = setup(obj, extra_bones, needed)
    lo, hi = action_io.frame_range(action, obj)
    frames = np.arange(np.floor(lo + 1e-6), np.floor(hi + 1e-6) + 1.0)
    channels = action_io.read_channels(action, obj, rig.paths())
    dense = {ch for ch, keys in channels.items()
             if len(keys.co) == len(frames) and np.all(np.abs(keys.co[:, 0] - frames) < 1e-4)}
    index = action_io.KeyIndex()
    values = {ch: action_io.sample_keys(keys, frames, index) for ch, keys in channels.items()}
    del channels
    tagged: Any = action
    mask, problem = read_stored(tagged.get(CONTACTS_PROP), len(frames))  # a .blend's property may hold anything
    take = from_values(rig, frames, values, encode_stored(mask) if mask is not None else None, action)
    if problem:
        take.warnings.append(f"{action.name!r}: {problem}")
    take.dense = dense
    return take


def from_values(rig: RigSetup, frames: np.ndarray, values: Mapping[tuple[str, int], np.ndarray],
                stored_contacts: list[int] | None = None, action: bpy.types.Action | None = None) -> RigTake:
    """A take of ``rig`` from channel values ((data path, index) -> (F,) on ``frames``): an action's, sampled
    (:func:`load`), or the retarget's own before it writes them (clean-ups at apply time). A channel not
    given holds the pose bone's current value."""
    obj = rig.obj
    scene: Any = bpy.context.scene
    fps = scene.render.fps / scene.render.fps_base
    pbones = obj.pose.bones  # type: ignore[union-attr]
    basis_rot: dict[str, np.ndarray] = {}
    basis_loc: dict[str, np.ndarray] = {}
    channel_values: dict[str, np.ndarray] = {}
    n = len(frames)
    for b in rig.model.bones:
        if rig.used is not None and b not in rig.used:
            continue
        pb = pbones[b]
        mode = pb.rotation_mode
        path, size = rot_path(b, mode)
        current: Any = {"QUATERNION": pb.rotation_quaternion, "AXIS_ANGLE": pb.rotation_axis_angle}.get(
            mode, pb.rotation_euler)
        vals = np.empty((n, size))
        for k in range(size):
            v = values.get((path, k))
            vals[:, k] = v if v is not None else current[k]
        channel_values[b] = vals
        basis_rot[b] = channels_to_quat(vals, mode)
        lpath = f'pose.bones["{b}"].location'
        if any((lpath, k) in values for k in range(3)) or bool(np.any(np.array(pb.location))):
            loc = np.tile(np.array(pb.location, dtype=np.float64), (n, 1))
            for k in range(3):
                v = values.get((lpath, k))
                if v is not None:
                    loc[:, k] = v
            basis_loc[b] = loc
    obj_rot, obj_loc, obj_scale = _object_track(obj, values, frames)
    return RigTake(obj, action, np.asarray(frames, dtype=np.float64), fps, rig.slots, rig.profile, rig.model,
                   basis_rot, basis_loc, channel_values, obj_rot, obj_loc, obj_scale, rig.ik, list(rig.warnings),
                   rig.used, set(), stored_contacts, rig.heads)


def with_channels(take: RigTake, channels: Mapping[tuple[str, int], np.ndarray],
                  stored_contacts: list[int] | None = None) -> RigTake:
    """The take as it reads once ``channels`` ((path, index) -> (F,) on ``take.frames``: a clean-up's
    output) are keyed over it: what :func:`load` would give for the written action, without writing or
    reading one (the bones' rotations from their channel values, locations as given). ``stored_contacts``
    replace the take's when given."""
    pbones = take.obj.pose.bones  # type: ignore[union-attr]
    basis_rot = dict(take.basis_rot)
    basis_loc = dict(take.basis_loc)
    values = dict(take.channel_values)
    for b in take.basis_rot:
        mode = pbones[b].rotation_mode
        path, size = rot_path(b, mode)
        if any((path, k) in channels for k in range(size)):
            vals = values[b].copy()
            for k in range(size):
                if (path, k) in channels:
                    vals[:, k] = channels[(path, k)]
            values[b] = vals
            basis_rot[b] = channels_to_quat(vals, mode)
        lpath = f'pose.bones["{b}"].location'
        if any((lpath, k) in channels for k in range(3)):
            loc = basis_loc[b].copy() if b in basis_loc else np.tile(np.array(pbones[b].location, dtype=np.float64),
                                                                      (len(take.frames), 1))
            for k in range(3):
                if (lpath, k) in channels:
                    loc[:, k] = channels[(lpath, k)]
            basis_loc[b] = loc
    stored = take.stored_contacts if stored_contacts is None else stored_contacts
    return replace(take, basis_rot=basis_rot, basis_loc=basis_loc, channel_values=values, stored_contacts=stored)


def to_channels(take: RigTake, bone: str, q: np.ndarray) -> np.ndarray:
    """Channel values (F, C) for ``bone``'s rotation mode, signs/angles continuous with what was keyed."""
    mode = take.obj.pose.bones[bone].rotation_mode  # type: ignore[union-attr]
    old = take.channel_values.get(bone)
    if old is not None and mode == "QUATERNION":  # each frame's sign from the keyed one's (continuous already)
        vals = Q.normalize(q)
        vals *= np.where(np.einsum("...i,...i->...", vals, old) < 0, -1.0, 1.0)[:, None]
        return vals
    vals = quat_to_channels(q, mode)
    if old is not None and mode != "AXIS_ANGLE":
        vals = vals + 2 * np.pi * np.round((old[:1] - vals[:1]) / (2 * np.pi))
    return vals


def _fcurves_collection(action: Any, obj: bpy.types.Object) -> Any:
    if not action_io.is_slotted():
        return action.fcurves
    slot = action_io.action_slot(action, obj)
    for layer in action.layers:
        for strip in layer.strips:
            bag = strip.channelbag(slot, ensure=True)
            if bag is not None:
                return bag.fcurves
    raise ValueError(f"action {action.name!r} has no keyframe strip")


def copy_with(take: RigTake, name: str, channels: dict[tuple[str, int], np.ndarray],
              groups: dict[str, str]) -> bpy.types.Action:
    """A copy of the take's action named ``name`` with ``channels`` ((path, index) -> (F,) values on
    ``take.frames``) replaced or added. Custom properties (contacts, retarget tag) come along.

    The copy is Blender's own (one pass in C over every curve); a replaced curve whose keys already sit on
    ``take.frames`` (any capture) has its keys and handles overwritten in place, in batches sharing one handle
    computation (:func:`..retarget.action_io.key_arrays`), and keeps its keys' interpolation (the take's own:
    Bezier or linear as the retarget wrote it; not rewriting it saves a third of the write); other curves are
    refilled with keys of that interpolation too."""
    if take.action is None:
        raise ValueError("copy_with needs a take read from an action (rig_io.load)")
    new = take.action.copy()
    new.name = name
    existing = {(fc.data_path, fc.array_index): fc for fc in action_io.action_fcurves(new, take.obj)}
    frames = np.asarray(take.frames, dtype=np.float64)
    n = len(frames)
    in_place: list[tuple[bpy.types.FCurve, np.ndarray]] = []
    coll = None
    # new curves (IK controls' keys) take the take's interpolation, as the retarget-time clean-ups write them
    dense = next((fc for key, fc in existing.items() if key in take.dense and len(fc.keyframe_points)), None)
    ipo = action_io.IPO["BEZIER"]
    if dense is not None:
        ipo = action_io.IPO.get(dense.keyframe_points[0].interpolation, ipo)
    for (path, index), vals in channels.items():
        fc = existing.get((path, index))
        if fc is not None and (path, index) in take.dense and len(fc.keyframe_points) == n:
            in_place.append((fc, vals))
            continue
        if fc is None:
            coll = coll if coll is not None else _fcurves_collection(new, take.obj)
            group = groups.get(path, "")
            if action_io.is_slotted():
                fc = coll.new(path, index=index, group_name=group) if group else coll.new(path, index=index)
            else:
                fc = coll.new(path, index=index, action_group=group) if group else coll.new(path, index=index)
        else:
            fc.keyframe_points.clear()
        action_io.write_keys(fc, frames, vals, ipo)
    for start in range(0, len(in_place), 32):
        batch = in_place[start:start + 32]
        co, left, right = action_io.key_arrays(frames, np.stack([v for _, v in batch]))
        for k, (fc, _) in enumerate(batch):
            kp = fc.keyframe_points
            kp.foreach_set("co", co[k])
            kp.foreach_set("handle_left", left[k])
            kp.foreach_set("handle_right", right[k])
    return new


def replace_action(obj: bpy.types.Object, old: bpy.types.Action, new: bpy.types.Action) -> None:
    """Make ``new`` the active action, ``old`` kept in the NLA stash (never lost)."""
    action_io.stash_action(obj, old)
    action_io.assign_action(obj, new)
