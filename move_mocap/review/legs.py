"""Foot locking and smoothing on the user's rig, whole take at once (bpy layer around the numpy maths).

One place for each clean-up, in two uses:

- :func:`lock_take` and :func:`smooth_take` compute a clean-up on a :class:`~.rig_io.RigTake` (the maths in
  :mod:`..core.cleanup`) and return the channels it changes, writing nothing.
- :func:`foot_lock` and :func:`smooth` (the operators' work, :mod:`.ops`) read the rig's action
  (:func:`.rig_io.load`), compute, and write a NEW action (Blender's copy of the old one with only the changed
  channels overwritten, :func:`.rig_io.copy_with`), assign it and stash the one it came from.
- :func:`clean_up_values` runs them at retarget time on the retarget's own channel values before its one
  write (:mod:`..retarget.apply`): no action read back, no copy; what the operators give on the written
  action, to float precision.

Each returns a report with the measured figures.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

import bpy
import numpy as np

from ..core.blas_threads import single_threaded
from ..core.cleanup import contacts as C
from ..core.cleanup import footlock as FL
from ..core.cleanup import smoothing as SM
from ..core.cleanup.rig_pose import Pose, basis_rotation, dependents, evaluate, parent_frame, parent_position
from ..core.retarget import quat as Q
from . import rig_io
from .rig_io import CONTACTS_PROP, RigTake

__all__ = ["CLEANED_FROM", "CONTACTS_PROP", "CleanUpError", "clean_up_values", "foot_lock", "smooth"]

CLEANED_FROM = "move_mocap_cleaned_from"  # on a cleaned action: the action it was made from
#: What foot locking reads and evaluates of a rig (:func:`.rig_io.setup`): the legs' chains and the IK controls.
LOCK_NEEDS = (*(f"{p}.{s}" for p in ("thigh", "shin", "foot", "toe") for s in "LR"), "ik")


@dataclass
class LockReport:
    action: bpy.types.Action
    contacts_from: str  # "stored" or "detected"
    contact_frames: dict[str, int]
    slide_before_mm: float  # mean over both feet, per frame, during contacts
    slide_after_mm: float
    knee_change_deg: float  # largest change of the knee angle
    max_step_deg: float  # largest per-frame orientation change of a leg bone the blends added
    short_frames: int
    seconds: float
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def message(self) -> str:
        return (f"Foot lock: {self.action.name} ({self.contacts_from} contacts, "
                f"{sum(self.contact_frames.values())} foot-frames); slide {self.slide_before_mm:.1f} -> "
                f"{self.slide_after_mm:.2f} mm/frame, knee angle changed up to {self.knee_change_deg:.1f} deg")


@dataclass
class _Leg:
    side: str
    thigh: str
    shin: str
    foot: str
    toe: str | None


def _legs(take: RigTake) -> list[_Leg]:
    return [_Leg(s, take.slots[f"thigh.{s}"], take.slots[f"shin.{s}"], take.slots[f"foot.{s}"],
                 take.slots.get(f"toe.{s}")) for s in ("L", "R")]


def _leg_length(take: RigTake, leg: _Leg) -> float:
    m = take.model
    h, k, a = (m.p0_pos[m.index(b)] for b in (leg.thigh, leg.shin, leg.foot))
    return float(np.linalg.norm(k - h) + np.linalg.norm(a - k)) * take.obj_scale


def foot_points(take: RigTake, pose: Pose, leg: _Leg) -> np.ndarray:
    """(F, P, 3) world positions of the foot's low points: the ankle and (if mapped) the ball."""
    pts = [take.to_world(pose.head[leg.foot])]
    if leg.toe and leg.toe in pose.head:
        pts.append(take.to_world(pose.head[leg.toe]))
    return np.stack(pts, axis=1)


def contacts_for(take: RigTake, pose: Pose, source: str = "AUTO") -> tuple[np.ndarray, str]:
    """(F, 2) contacts (left, right) and where they came from: the action's stored MOTION_DATA contacts
    (``STORED``; ``AUTO`` when present) or detection from the motion (``DETECT``)."""
    n = len(take.frames)
    stored = take.stored_contacts
    if source in ("AUTO", "STORED") and stored is not None and len(stored):
        return C.resample(C.decode_stored(list(stored)), n), "stored"
    if source == "STORED":
        name = take.action.name if take.action is not None else "the new capture"
        raise ValueError(f"{name!r} has no stored foot contacts (only MOTION_DATA imports carry "
                         "them); detect them from the motion instead")
    legs = _legs(take)
    pts = [foot_points(take, pose, leg) for leg in legs]
    floor = float(np.percentile(np.concatenate([p[..., 2].min(axis=1) for p in pts]), 2.0))
    masks = [C.detect(p, take.fps, _leg_length(take, leg), floor) for p, leg in zip(pts, legs)]
    return np.stack(masks, axis=1), "detected"


def _knee_angle(pose: Pose, leg: _Leg) -> np.ndarray:
    u = pose.head[leg.shin] - pose.head[leg.thigh]
    v = pose.head[leg.foot] - pose.head[leg.shin]
    c = np.sum(u * v, axis=-1) / np.maximum(np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1), 1e-12)
    return np.degrees(np.arccos(np.clip(c, -1.0, 1.0)))


def lock_pose(take: RigTake, pose: Pose, mask: np.ndarray, blend_seconds: float, max_drift: float = 0.03,
              ankle_goal: dict[str, np.ndarray] | None = None) -> tuple[dict[str, np.ndarray], int, np.ndarray]:
    """New basis rotations for the legs' bones so planted feet stay put (``mask`` (F, 2)); ``ankle_goal``
    (side -> (F, 3) world) replaces the planted positions (smoothing keeps the feet where they were).
    ``max_drift`` (fraction of the leg's length): a foot drifting further within a contact is re-planted
    (``mask`` is updated in place).
    Returns (bone -> basis (F, 4), frames out of reach, changed frames (F,) any leg)."""
    n = len(take.frames)
    blend = max(1, int(round(blend_seconds * take.fps)))
    new_rot = dict(pose.rot)
    out: dict[str, np.ndarray] = {}
    short = 0
    changed_any = np.zeros(n, dtype=bool)
    for k, leg in enumerate(_legs(take)):
        ankle_w = take.to_world(pose.head[leg.foot])
        if ankle_goal is None:
            mask[:, k] = FL.split_drifting(ankle_w, mask[:, k], max_drift * _leg_length(take, leg), blend)
        corr, weight = FL.plant(ankle_w, mask[:, k], blend)
        if ankle_goal is not None:  # planted where the goal says, not at this take's median
            corr = weight[:, None] * (ankle_goal[leg.side] - ankle_w)
        target_arm = take.from_world(ankle_w + corr)
        hip, knee, ankle = pose.head[leg.thigh], pose.head[leg.shin], pose.head[leg.foot]
        m = take.model
        rest_hinge = np.cross(m.p0_pos[m.index(leg.shin)] - m.p0_pos[m.index(leg.thigh)],
                              m.p0_pos[m.index(leg.foot)] - m.p0_pos[m.index(leg.shin)])
        if np.linalg.norm(rest_hinge) < 1e-9:
            rest_hinge = Q.rotate(m.p0_rot[m.index(leg.thigh)], np.array([1.0, 0.0, 0.0]))
        hinge = FL.hinge_axis(hip, knee, ankle, pose.rot[leg.thigh],
                              Q.rotate(Q.conj(m.p0_rot[m.index(leg.thigh)]), rest_hinge))
        changed = np.linalg.norm(corr, axis=-1) > 1e-7
        res = FL.two_bone_ik(hip, knee, ankle, target_arm, pose.rot[leg.thigh], pose.rot[leg.shin], hinge,
                             changed)
        short += res.short
        changed_any |= changed
        new_rot[leg.thigh] = res.thigh
        new_rot[leg.shin] = res.shin
        new_rot[leg.foot] = pose.rot[leg.foot]  # the foot keeps its orientation
        for bone in (leg.thigh, leg.shin, leg.foot):
            basis = basis_rotation(m, bone, new_rot[bone], new_rot)
            old = take.basis_rot[bone]
            out[bone] = np.where(changed[:, None], basis, old)
    return out, short, changed_any


def _ik_channels(take: RigTake, pose: Pose, groups: dict[str, str]) -> dict[tuple[str, int], np.ndarray]:
    """Channels keying the rig's leg IK controls onto the (locked) FK legs, so switching to IK keeps them."""
    out: dict[tuple[str, int], np.ndarray] = {}
    m = take.model
    n = len(take.frames)
    for leg in _legs(take):
        pair = take.ik.get(leg.side)
        if not pair:
            continue
        foot_ik, pole = pair
        kf, ki = m.index(leg.foot), m.index(foot_ik)
        rel = Q.mul(Q.conj(m.p0_rot[kf]), m.p0_rot[ki])
        off = Q.rotate(Q.conj(m.p0_rot[kf]), m.p0_pos[ki] - m.p0_pos[kf])
        want_rot = Q.mul(pose.rot[leg.foot], rel[None])
        want_pos = pose.head[leg.foot] + Q.rotate(pose.rot[leg.foot], off[None])
        frame = parent_frame(m, foot_ik, pose.rot, n)
        base = parent_position(m, foot_ik, pose, n)
        vals = rig_io.to_channels(take, foot_ik, Q.normalize(Q.mul(Q.conj(frame), want_rot)))
        path, size = rig_io.rot_path(foot_ik, take.obj.pose.bones[foot_ik].rotation_mode)  # type: ignore[union-attr]
        for i in range(size):
            out[(path, i)] = vals[:, i]
        loc = Q.rotate(Q.conj(frame), want_pos - base)
        lpath = f'pose.bones["{foot_ik}"].location'
        for i in range(3):
            out[(lpath, i)] = loc[:, i]
        groups[path] = groups[lpath] = foot_ik
        if pole:
            hip, knee, ankle = pose.head[leg.thigh], pose.head[leg.shin], pose.head[leg.foot]
            out_dir = knee - 0.5 * (hip + ankle)
            length = np.linalg.norm(knee - hip, axis=-1, keepdims=True)
            fallback = Q.rotate(pose.rot[leg.thigh], np.array([0.0, 0.0, 1.0]))
            nrm = np.linalg.norm(out_dir, axis=-1, keepdims=True)
            out_dir = np.where(nrm > 1e-4 * length, out_dir / np.maximum(nrm, 1e-12), fallback)
            want = knee + out_dir * length
            pframe = parent_frame(m, pole, pose.rot, n)
            pbase = parent_position(m, pole, pose, n)
            ploc = Q.rotate(Q.conj(pframe), want - pbase)
            ppath = f'pose.bones["{pole}"].location'
            for i in range(3):
                out[(ppath, i)] = ploc[:, i]
            groups[ppath] = pole
    return out


def _rot_channels(take: RigTake, rots: dict[str, np.ndarray], groups: dict[str, str],
                  channels: dict[tuple[str, int], np.ndarray]) -> None:
    """Add the channel values of bones' basis rotations (F, 4) (in their rotation modes) to ``channels``."""
    pbones = take.obj.pose.bones  # type: ignore[union-attr]
    for bone, q in rots.items():
        vals = rig_io.to_channels(take, bone, q)
        path, size = rig_io.rot_path(bone, pbones[bone].rotation_mode)
        for i in range(size):
            channels[(path, i)] = vals[:, i]
        groups[path] = bone


@dataclass
class Locked:
    """Foot locking computed on a take (:func:`lock_take`): the channels it changes, nothing written."""

    channels: dict[tuple[str, int], np.ndarray]  # (path, index) -> (F,) values on take.frames
    groups: dict[str, str]  # path -> channel group (bone)
    mask: np.ndarray  # (F, 2) contacts locked (left, right), re-planted runs split
    contacts_from: str
    short: int
    changed: np.ndarray  # (F,) frames any leg changed
    pose: Pose  # before
    after: Pose  # the locked pose (bones following a changed one re-evaluated)

    def stored_contacts(self) -> list[int]:
        """The mask as the action stores it (:data:`CONTACTS_PROP`)."""
        return C.encode_stored(self.mask)


def lock_take(take: RigTake, contacts: str = "AUTO", blend_seconds: float = 0.15, key_ik: bool = True,
              pose: Pose | None = None) -> Locked:
    """Foot locking on ``take`` (``pose``: its pose if already evaluated)."""
    pose = pose if pose is not None else take.pose()
    mask, origin = contacts_for(take, pose, contacts)
    basis, short, changed = lock_pose(take, pose, mask, blend_seconds)
    new_basis = dict(take.basis_rot)
    new_basis.update(basis)
    redo = dependents(take.model, basis) & (take.used if take.used is not None else set(take.model.bones))
    after = evaluate(take.model, new_basis, take.basis_loc, len(take.frames), redo, pose, take.heads)
    groups: dict[str, str] = {}
    channels: dict[tuple[str, int], np.ndarray] = {}
    _rot_channels(take, basis, groups, channels)
    if key_ik and take.ik:
        channels.update(_ik_channels(take, after, groups))
    return Locked(channels, groups, mask, origin, short, changed, pose, after)


def lock_report(take: RigTake, locked: Locked, action: bpy.types.Action, seconds: float,
                timings: dict[str, float]) -> LockReport:
    """The figures of a foot lock: slide before/after, knee angle change, pops added at the blends."""
    legs = _legs(take)
    mask, pose, after = locked.mask, locked.pose, locked.after
    slide_b, slide_a, knee, steps = [], [], 0.0, 0.0
    blend_frames = np.nonzero(locked.changed & ~(mask.any(axis=1)))[0]
    for k, leg in enumerate(legs):
        slide_b.append(FL.slide(take.to_world(pose.head[leg.foot]), mask[:, k]))
        slide_a.append(FL.slide(take.to_world(after.head[leg.foot]), mask[:, k]))
        knee = max(knee, float(np.abs(_knee_angle(after, leg) - _knee_angle(pose, leg)).max()))
        for b in (leg.thigh, leg.shin, leg.foot):
            steps = max(steps, FL.added_step(pose.rot[b], after.rot[b], blend_frames))
    warnings = list(take.warnings)
    if locked.short:
        warnings.append(f"{locked.short} frames: a planted foot was out of the leg's reach (the hips are not moved)")
    return LockReport(action, locked.contacts_from, {leg.side: int(mask[:, k].sum()) for k, leg in enumerate(legs)},
                      1000.0 * float(np.mean(slide_b)), 1000.0 * float(np.mean(slide_a)), knee, steps, locked.short,
                      seconds, warnings, timings)


@single_threaded()  # small matrix products: BLAS threads only cost (core.blas_threads)
def foot_lock(obj: bpy.types.Object, contacts: str = "AUTO", blend_seconds: float = 0.15, key_ik: bool = True,
              name: str = "") -> LockReport:
    """Lock the planted feet of ``obj``'s active action into a new action (assigned; the old one stashed)."""
    t0 = time.perf_counter()
    take = rig_io.load(obj, needed=LOCK_NEEDS)
    assert take.action is not None
    timings = {"read": time.perf_counter() - t0}
    t1 = time.perf_counter()
    locked = lock_take(take, contacts, blend_seconds, key_ik)
    timings["solve"] = time.perf_counter() - t1
    t1 = time.perf_counter()
    new = rig_io.copy_with(take, name or f"{take.action.name}_footlock", locked.channels, locked.groups)
    new[CLEANED_FROM] = take.action.name
    new[CONTACTS_PROP] = locked.stored_contacts()
    rig_io.replace_action(obj, take.action, new)
    timings["write"] = time.perf_counter() - t1
    return lock_report(take, locked, new, time.perf_counter() - t0, timings)


@dataclass
class SmoothReport:
    action: bpy.types.Action
    strength: float
    jitter_before: float  # mean angular acceleration of the bones, deg/frame^2
    jitter_after: float
    bones: int
    contacts_kept: int  # foot-frames re-planted where they were
    seconds: float
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def message(self) -> str:
        return (f"Smooth: {self.action.name} (strength {self.strength:.2f}, {self.bones} bones); jitter "
                f"{self.jitter_before:.3f} -> {self.jitter_after:.3f} deg/frame^2, "
                f"{self.contacts_kept} planted foot-frames kept")


@dataclass
class Smoothed:
    """Smoothing computed on a take (:func:`smooth_take`): the channels it changes, nothing written."""

    channels: dict[tuple[str, int], np.ndarray]
    groups: dict[str, str]
    kept: int  # foot-frames re-planted where they were
    jitter_before: float
    jitter_after: float
    bones: int


def smooth_take(take: RigTake, strength: float = 0.5, keep_contacts: bool = True,
                pose: Pose | None = None) -> Smoothed:
    """Smoothing on ``take`` (``pose``: its pose if already evaluated): every mapped body bone's rotations and
    locations (:func:`..core.cleanup.smoothing.smooth_rotations`), then the planted feet put back where they
    were (the same leg IK as foot locking), so smoothing never makes a foot slide."""
    pose = pose if pose is not None else take.pose()
    # One bone at a time: its (F, 4) arrays are small enough for the allocator to reuse, where a whole take's
    # frames x bones arrays (tens of MiB for ten minutes) would be fresh memory to fault in on every step.
    new_rot = {b: SM.smooth_rotations(q, strength, take.fps) for b, q in take.basis_rot.items()}
    new_loc = {b: SM.smooth_positions(p, strength, take.fps, take.obj_scale) for b, p in take.basis_loc.items()}
    kept = 0
    basis_legs: dict[str, np.ndarray] = {}
    smoothed = replace(take, basis_rot=new_rot, basis_loc=new_loc)
    spose = smoothed.pose()
    if keep_contacts:
        mask, _ = contacts_for(take, pose)
        goal = {leg.side: take.to_world(pose.head[leg.foot]) for leg in _legs(take)}
        basis_legs, _, _ = lock_pose(smoothed, spose, mask.copy(), 0.1, ankle_goal=goal)
        new_rot.update(basis_legs)
        kept = int(mask.sum())
    after = evaluate(take.model, new_rot, new_loc, len(take.frames), dependents(take.model, basis_legs), spose,
                     take.heads) if keep_contacts else spose
    groups: dict[str, str] = {}
    channels: dict[tuple[str, int], np.ndarray] = {}
    _rot_channels(take, new_rot, groups, channels)
    for bone, loc in new_loc.items():
        path = f'pose.bones["{bone}"].location'
        for i in range(3):
            channels[(path, i)] = loc[:, i]
        groups[path] = bone
    bones = list(take.basis_rot)
    return Smoothed(channels, groups, kept, SM.jitter([pose.rot[b] for b in bones]),
                    SM.jitter([after.rot[b] for b in bones]), len(bones))


def smooth_report(take: RigTake, smoothed: Smoothed, strength: float, action: bpy.types.Action, seconds: float,
                  timings: dict[str, float]) -> SmoothReport:
    return SmoothReport(action, strength, smoothed.jitter_before, smoothed.jitter_after, smoothed.bones,
                        smoothed.kept, seconds, list(take.warnings), timings)


@single_threaded()
def smooth(obj: bpy.types.Object, strength: float = 0.5, keep_contacts: bool = True, name: str = "") -> SmoothReport:
    """Smooth ``obj``'s active action into a new action (assigned; the old one stashed): :func:`smooth_take`."""
    t0 = time.perf_counter()
    take = rig_io.load(obj)
    assert take.action is not None
    timings = {"read": time.perf_counter() - t0}
    t1 = time.perf_counter()
    smoothed = smooth_take(take, strength, keep_contacts)
    timings["solve"] = time.perf_counter() - t1
    t1 = time.perf_counter()
    new = rig_io.copy_with(take, name or f"{take.action.name}_smooth", smoothed.channels, smoothed.groups)
    new[CLEANED_FROM] = take.action.name
    rig_io.replace_action(obj, take.action, new)
    timings["write"] = time.perf_counter() - t1
    return smooth_report(take, smoothed, strength, new, time.perf_counter() - t0, timings)


@dataclass
class CleanUp:
    """Clean-ups computed at retarget time (:func:`clean_up_values`): the channels to write over the
    retarget's, the custom properties for the action, and the reports once it is written (:meth:`reports`)."""

    channels: dict[tuple[str, int], np.ndarray] = field(default_factory=dict)
    groups: dict[str, str] = field(default_factory=dict)
    props: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    _reports: list[Any] = field(default_factory=list)  # (make report, take, result, seconds) per clean-up

    def reports(self, action: bpy.types.Action) -> list[LockReport | SmoothReport]:
        return [make(action) for make in self._reports]


class CleanUpError(ValueError):
    """A clean-up at retarget time failed (:func:`clean_up_values`); ``stage`` names it."""

    def __init__(self, stage: str, problem: Exception) -> None:
        super().__init__(f"{stage} at retarget time: {problem}")
        self.stage = stage


def clean_up_values(obj: bpy.types.Object, frames: np.ndarray, values: Any, foot_lock: bool = False,
                    smooth: float = 0.0, contacts: str = "AUTO", stored_contacts: list[int] | None = None
                    ) -> CleanUp:
    """Foot locking (``foot_lock``, then smoothing with strength ``smooth``) on channel values not written
    yet: ``values`` maps (data path, index) to (F,) values on ``frames`` for ``obj`` (the retarget's own);
    ``stored_contacts``: the take's stored foot contacts on ``frames`` (MOTION_DATA's, carried by the
    retarget), used as the operators use an action's (``contacts="AUTO"``: detected when there are none).
    The same functions as the operators (:func:`lock_take`, :func:`smooth_take`), with the same defaults,
    each on the take the one before it gives (:func:`.rig_io.with_channels`), so the result is what
    :func:`foot_lock` then :func:`smooth` give on the written action, without reading or copying any.
    Bones evaluated once are not evaluated again (smoothing starts from the locked pose).
    Raises :class:`CleanUpError` naming the clean-up that failed (a rig whose legs are not found fails both)."""
    out = CleanUp()
    if not foot_lock and not smooth:
        return out
    stage = "Foot lock and smoothing" if foot_lock and smooth else "Foot lock" if foot_lock else "Smoothing"
    try:
        t0 = time.perf_counter()
        # Foot lock alone reads and evaluates only the legs' chains (as its operator does); smoothing, every bone.
        rig = rig_io.setup(obj, needed=None if smooth else LOCK_NEEDS)
        take = rig_io.from_values(rig, frames, values, stored_contacts)
        out.timings["cleanup_read"] = time.perf_counter() - t0
        pose = None
        if foot_lock:
            stage = "Foot lock"
            t1 = time.perf_counter()
            locked = lock_take(take, contacts, pose=take.pose())
            out.channels.update(locked.channels)
            out.groups.update(locked.groups)
            out.props[CONTACTS_PROP] = locked.stored_contacts()
            lock_input = take
            take = rig_io.with_channels(take, locked.channels, out.props[CONTACTS_PROP])
            # The locked pose (the legs already evaluated from their new rotations), with the bones keyed
            # besides them (the IK controls) and those following them evaluated from their channels.
            legs = {b for leg in _legs(lock_input) for b in (leg.thigh, leg.shin, leg.foot)}
            keyed = {p.split('"')[1] for p, _ in locked.channels} - legs
            pose = evaluate(take.model, take.basis_rot, take.basis_loc, len(take.frames),
                            dependents(take.model, keyed), locked.after, take.heads) if keyed else locked.after
            seconds = time.perf_counter() - t1
            out.timings["foot_lock"] = seconds
            out._reports.append(lambda action, t=lock_input, r=locked, s=seconds: lock_report(
                t, r, action, s, {"solve": s}))
        if smooth:
            stage = "Smoothing"
            t1 = time.perf_counter()
            smoothed = smooth_take(take, float(smooth), pose=pose)
            out.channels.update(smoothed.channels)
            out.groups.update(smoothed.groups)
            seconds = time.perf_counter() - t1
            out.timings["smooth"] = seconds
            out._reports.append(lambda action, t=take, r=smoothed, s=seconds, k=float(smooth): smooth_report(
                t, r, k, action, s, {"solve": s}))
    except ValueError as exc:
        raise CleanUpError(stage, exc) from exc
    return out
