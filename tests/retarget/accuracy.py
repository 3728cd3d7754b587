"""Independent accuracy check for the retarget tests: evaluates both armatures with Blender's depsgraph
(``scene.frame_set``) and compares world-space segment directions, joint to next joint, per mapped slot."""

from __future__ import annotations

import bpy
import numpy as np

SEGMENTS = {  # slot -> slot whose head ends the segment (None: the bone's own tail)
    **{f"{p}.{s}": (f"{q}.{s}" if q else None) for s in ("L", "R") for p, q in (
        ("upper_arm", "forearm"), ("forearm", "hand"), ("thigh", "shin"), ("shin", "foot"), ("foot", "toe"))},
}


def _world_heads(obj: bpy.types.Object, bones: list[str]) -> np.ndarray:
    mw = np.array(obj.matrix_world)
    out = []
    for b in bones:
        p = np.array(obj.pose.bones[b].head)
        out.append(mw[:3, :3] @ p + mw[:3, 3])
    return np.array(out)


def segment_errors(
    source: bpy.types.Object, target: bpy.types.Object, src_slots: dict[str, str], tgt_slots: dict[str, str],
    frames_src: list[float], frames_tgt: list[float], segments: dict[str, str | None] | None = None,
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Per slot: angle (degrees) between source and target segment directions at each frame; and the
    lowest world-space foot point of the target and of the source per frame."""
    segments = segments or SEGMENTS
    slots = [s for s, e in segments.items() if s in src_slots and s in tgt_slots and e in src_slots and e in tgt_slots]
    scene = bpy.context.scene
    errs = {s: [] for s in slots}
    feet_t, feet_s = [], []
    s_a = [src_slots[s] for s in slots]
    s_b = [src_slots[segments[s]] for s in slots]
    t_a = [tgt_slots[s] for s in slots]
    t_b = [tgt_slots[segments[s]] for s in slots]
    foot_slots = [f"{p}.{s}" for p in ("foot", "toe") for s in ("L", "R")]
    for fs, ft in zip(frames_src, frames_tgt):
        scene.frame_set(int(fs), subframe=fs - int(fs))
        ds = _world_heads(source, s_b) - _world_heads(source, s_a)
        fsrc = _lowest(source, [src_slots[s] for s in foot_slots if s in src_slots])
        scene.frame_set(int(ft), subframe=ft - int(ft))
        dt = _world_heads(target, t_b) - _world_heads(target, t_a)
        ftgt = _lowest(target, [tgt_slots[s] for s in foot_slots if s in tgt_slots])
        cos = np.sum(ds * dt, 1) / (np.linalg.norm(ds, axis=1) * np.linalg.norm(dt, axis=1))
        ang = np.degrees(np.arccos(np.clip(cos, -1, 1)))
        for k, s in enumerate(slots):
            errs[s].append(ang[k])
        feet_s.append(fsrc)
        feet_t.append(ftgt)
    return {s: np.array(v) for s, v in errs.items()}, np.array(feet_t), np.array(feet_s)


def _lowest(obj: bpy.types.Object, bones: list[str]) -> float:
    mw = np.array(obj.matrix_world)
    zs = []
    for b in bones:
        pb = obj.pose.bones[b]
        for p in (pb.head, pb.tail):
            zs.append((mw[:3, :3] @ np.array(p) + mw[:3, 3])[2])
    return float(min(zs))
