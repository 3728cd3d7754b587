"""Retarget onto characters as users bring them in: every test rig (Rigify, Mixamo, UE5, Auto-Rig Pro,
Character Creator, the Move skeleton, a VRM model, a Ready Player Me / generic humanoid) built in Blender,
exported to FBX and imported back, exported to glTF and imported back (Blender's importer guesses bone tails,
rolls and lengths: glTF stores none), and appended from a .blend; real motion from CMU captures (BVH) and
MOTION_DATA (Move's own sample and the local engine's writer).

What the user sees, checked with Blender's depsgraph (``frame_set``), independent of the engine's kinematics:
limb directions follow the source's; the feet stand on the floor: the lowest toe over the clip within 2 cm
(above or below: a floating character fails) of where the source's feet touch its floor, scaled, plus the
character's own height of that point above its floor (its lowest foot point at rest: each character's
proportions below the ankles are its own; Move's MOTION_DATA toe joints stand 10 cm above its floor, a Rigify
rig's toes 2 cm); the hips (the point between the hip joints) stay at the source's height above its floor scaled
by the leg-length ratio, within 2 cm, once moved by the one constant for the whole take that the report states
(what those proportions need); feet slide no more than the source's do. Where the source's feet touch
its floor comes from the data, not from the engine: the ground of a capture is its world's zero height (Move's
MOTION_DATA, CMU's captures, the local engine's writer), which every importer here keeps at the object's
origin. The toe tip is a point fixed to the toe bone where the rig as built ends its toe (what a skinned mesh's
toe does), not the imported bone's tail, which an importer guesses.

Everything is built once per module; each case uses a short slice of its clip and removes its action after.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import require_move_api

bpy = pytest.importorskip("bpy")

import mathutils  # noqa: E402

from move_mocap.importers import import_output  # noqa: E402
from move_mocap.retarget.apply import RetargetOptions, detect_mapping, retarget_with_report  # noqa: E402

from . import rigs  # noqa: E402

RIGS = {  # rig -> profile its mapping is detected as
    "rigify": ("rigify_fk",), "mixamo": ("mixamo",), "ue5": ("unreal",), "arp": ("auto_rig_pro",),
    "cc": ("character_creator",), "move": ("move",), "vrm": ("vrm",), "generic": ("humanoid",),
}
PATHS = ("built", "fbx", "gltf", "blend")
# source -> (first frame, last frame) of the slice retargeted (None: the whole clip), step between checks
SOURCES = {"cmu_01_03": ((120, 300), 2), "cmu_01_01": ((400, 580), 2), "move_sample": (None, 1),
           "engine_md": (None, 1)}
FBX_SOURCES = ("cmu_01_03", "move_sample")  # also brought in as FBX (onto the characters as built)
SOURCES.update({f"{name}@fbx": SOURCES[name] for name in FBX_SOURCES})
CASES = [(s, r, p) for s in SOURCES for r in RIGS for p in PATHS if "@" not in s or p == "built"]
LIMBS = {f"{p}.{s}": f"{q}.{s}" for s in ("L", "R") for p, q in (
    ("upper_arm", "forearm"), ("forearm", "hand"), ("thigh", "shin"), ("shin", "foot"), ("foot", "toe"))}


def _select_only(obj: bpy.types.Object) -> None:
    for o in bpy.context.view_layer.objects:
        o.select_set(False)
    obj.select_set(True)
    bpy.context.view_layer.objects.active = obj


def _new_armature(before: set) -> bpy.types.Object:
    made = [o for o in bpy.data.objects if o not in before]
    arms = [o for o in made if o.type == "ARMATURE"]
    assert len(arms) == 1, [o.name for o in made]
    return arms[0]


@dataclass
class Matrix:
    names: dict[tuple[str, str], str]  # (rig, path) -> object name
    tips: dict[str, dict[str, np.ndarray]]  # rig -> side -> world rest toe tip (as built)
    soles: dict[str, float]  # rig -> height of its lowest foot point above its origin at rest (as built)
    legs: dict[str, float]  # rig -> leg length (world, as built)
    cache: dict


def _leg_length(obj: bpy.types.Object, slots: dict[str, str]) -> float:
    mw = obj.matrix_world
    out = []
    for s in ("L", "R"):
        a, b, c = (mw @ obj.data.bones[slots[f"{p}.{s}"]].head_local for p in ("thigh", "shin", "foot"))
        out.append((b - a).length + (c - b).length)
    return float(np.mean(out))


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory, cmu_bvh: Path, cmu_bvh_01: Path) -> Matrix:
    from local_engine.bvh import read_bvh
    from local_engine.outputs.motion_data import write_motion_data
    from local_engine.solvers.replay import ground_offset, retarget_cmu

    tmp = tmp_path_factory.mktemp("import_paths")
    sample = require_move_api("motion_data_excerpt.json")
    move_sample = tmp / "move_sample.json"
    move_sample.write_text(sample.read_text())
    bvh = read_bvh(cmu_bvh)  # as the engine's replay solver writes it: its feet on z = 0
    engine_md = write_motion_data([retarget_cmu(bvh, 0, 480, 4, lift=ground_offset(bvh))], tmp / "engine_md.json")

    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.context.scene.render.fps = 120
    built: dict[str, bpy.types.Object] = {"rigify": rigs.build_rigify()}
    bpy.ops.object.mode_set(mode="OBJECT")
    for rig in ("mixamo", "ue5", "vrm", "generic"):
        built[rig] = rigs.build_named_rig(rig, rig)
    built["arp"] = rigs.build_arp_rig("arp")
    built["cc"] = rigs.build_cc_rig("cc")
    move = import_output(move_sample).armature  # the Move skeleton as the MOTION_DATA importer builds it
    move.animation_data_clear()
    for pb in move.pose.bones:  # a character at rest: the take's last pose would be exported as its rest
        pb.matrix_basis = mathutils.Matrix()  # identity
    built["move"] = move
    names: dict[tuple[str, str], str] = {}
    for rig, obj in built.items():
        obj.name = f"{rig}@built"
        names[(rig, "built")] = obj.name
    tips: dict[str, dict[str, np.ndarray]] = {}
    legs: dict[str, float] = {}
    soles: dict[str, float] = {}
    for rig, obj in built.items():
        slots = detect_mapping(obj).slots
        mw = obj.matrix_world
        tips[rig] = {s: np.array(mw @ obj.data.bones[slots[f"toe.{s}"]].tail_local) for s in ("L", "R")}
        legs[rig] = _leg_length(obj, slots)
        rest = [(mw @ obj.data.bones[slots[f"{p}.{s}"]].head_local).z for p in ("foot", "toe") for s in ("L", "R")]
        soles[rig] = min(*rest, *(t[2] for t in tips[rig].values())) - mw.translation.z
    library = tmp / "characters.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(library), copy=True)

    for rig, obj in built.items():
        _select_only(obj)
        fbx, glb = tmp / f"{rig}.fbx", tmp / f"{rig}.glb"
        bpy.ops.export_scene.fbx(filepath=str(fbx), use_selection=True, object_types={"ARMATURE"}, bake_anim=False)
        bpy.ops.export_scene.gltf(filepath=str(glb), use_selection=True, export_animations=False)
        imports = {"fbx": (bpy.ops.import_scene.fbx, {"filepath": str(fbx)}),
                   "gltf": (bpy.ops.import_scene.gltf, {"filepath": str(glb)}),
                   "blend": (bpy.ops.wm.append, {"directory": f"{library}/Object/", "filename": f"{rig}@built"})}
        for path, (op, kwargs) in imports.items():
            before = set(bpy.data.objects)
            bpy.ops.object.select_all(action="DESELECT")
            op(**kwargs)
            new = _new_armature(before)
            new.name = f"{rig}@{path}"
            if new.animation_data:
                new.animation_data_clear()
            names[(rig, path)] = new.name

    rigs.import_bvh(str(cmu_bvh), "cmu_01_03")
    rigs.import_bvh(str(cmu_bvh_01), "cmu_01_01")
    import_output(move_sample).armature.name = "move_sample"
    import_output(engine_md).armature.name = "engine_md"
    for name in FBX_SOURCES:  # motion as FBX brings it (Move's main_fbx, a Mixamo download): baked, re-imported
        original = bpy.data.objects[name]
        span = SOURCES[name][0] or tuple(round(v) for v in original.animation_data.action.frame_range)
        # The exporter's bind pose (the imported rest) is the pose at the current frame: a copy keyed at rest one
        # frame before the span keeps the rest a rest, as Move's and Mixamo's files have it.
        source = original.copy()
        source.animation_data.action = original.animation_data.action.copy()
        bpy.context.scene.collection.objects.link(source)
        for pb in source.pose.bones:
            pb.matrix_basis = mathutils.Matrix()
            rot = {"QUATERNION": "rotation_quaternion", "AXIS_ANGLE": "rotation_axis_angle"}.get(pb.rotation_mode,
                                                                                              "rotation_euler")
            for path in ("location", rot):
                pb.keyframe_insert(path, frame=span[0] - 1)
        scene = bpy.context.scene
        scene.frame_start, scene.frame_end = span
        scene.frame_set(span[0] - 1)
        _select_only(source)
        fbx = tmp / f"{name}.fbx"
        bpy.ops.export_scene.fbx(filepath=str(fbx), use_selection=True, object_types={"ARMATURE"}, bake_anim=True,
                                 bake_anim_use_nla_strips=False, bake_anim_use_all_actions=False,
                                 bake_anim_simplify_factor=0.0)
        before = set(bpy.data.objects)
        bpy.ops.object.select_all(action="DESELECT")
        bpy.ops.import_scene.fbx(filepath=str(fbx))
        _new_armature(before).name = f"{name}@fbx"
        action = source.animation_data.action
        bpy.data.objects.remove(source)
        bpy.data.actions.remove(action)
    bpy.ops.object.select_all(action="DESELECT")
    return Matrix(names, tips, soles, legs, {})


def _pose_points(obj: bpy.types.Object, slots: dict[str, str], tips: dict[str, np.ndarray]
                 ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """World heads of the slots' bones and the toe tips (points fixed to the toe bones) at the current frame."""
    mw = np.array(obj.matrix_world)
    pbones = obj.pose.bones
    heads = {s: mw[:3, :3] @ np.array(pbones[b].head) + mw[:3, 3] for s, b in slots.items()}
    out_tips = {}
    for side, rest_world in tips.items():
        b = slots[f"toe.{side}"]
        rest = np.array(obj.data.bones[b].matrix_local)
        local = np.linalg.inv(mw @ rest) @ np.append(rest_world, 1.0)
        out_tips[side] = (mw @ np.array(pbones[b].matrix) @ local)[:3]
    return heads, out_tips


def _measure(obj: bpy.types.Object, slots: dict[str, str], tips: dict[str, np.ndarray], frames: list[int]) -> dict:
    wanted = {s: slots[s] for s in {*LIMBS, *LIMBS.values(), "toe.L", "toe.R"}}
    heads: dict[str, list] = {s: [] for s in wanted}
    tip: dict[str, list] = {s: [] for s in tips}
    scene = bpy.context.scene
    for f in frames:
        scene.frame_set(f)
        h, t = _pose_points(obj, wanted, tips)
        for s in wanted:
            heads[s].append(h[s])
        for s in tips:
            tip[s].append(t[s])
    out = {s: np.array(v) for s, v in heads.items()}
    feet = {s: np.stack([out[f"foot.{s}"], out[f"toe.{s}"], np.array(tip[s])], 1) for s in ("L", "R")}  # (F, 3, 3)
    return {"heads": out, "feet": feet, "lowest": np.minimum(feet["L"][..., 2].min(1), feet["R"][..., 2].min(1)),
            "pelvis": 0.5 * (out["thigh.L"] + out["thigh.R"])}


def _source(matrix: Matrix, name: str) -> tuple[bpy.types.Object, list[int], dict]:
    obj = bpy.data.objects[name]
    span, step = SOURCES[name]
    if span is None:
        span = tuple(round(v) for v in obj.animation_data.action.frame_range)
    frames = list(range(span[0], span[1] + 1, step))
    if name not in matrix.cache:
        slots = detect_mapping(obj).slots
        mw = obj.matrix_world
        tips = {s: np.array(mw @ obj.data.bones[slots[f"toe.{s}"]].tail_local) for s in ("L", "R")}
        matrix.cache[name] = (slots, _measure(obj, slots, tips, frames), _leg_length(obj, slots))
    return obj, frames, matrix.cache[name]


def _sliding(feet: dict[str, np.ndarray], contact: dict[str, np.ndarray]) -> float:
    """Mean horizontal travel per checked frame of the ball of each foot over the source's contact frames."""
    moves = []
    for s in ("L", "R"):
        ball = feet[s][:, 1, :2]
        both = contact[s][1:] & contact[s][:-1]
        if both.any():
            moves.append(np.linalg.norm(np.diff(ball, axis=0), axis=1)[both])
    return float(np.concatenate(moves).mean()) if moves else 0.0


@pytest.mark.parametrize(("source_name", "rig", "path"), CASES)
def test_retarget_onto_imported_character(matrix: Matrix, source_name: str, rig: str, path: str,
                                         ) -> None:
    source, frames, (_, src, legs_s) = _source(matrix, source_name)
    target = bpy.data.objects[matrix.names[(rig, path)]]
    # The character rests where it was built (an importer that moved it would be a different test).
    tgt_slots = detect_mapping(target).slots
    mw = target.matrix_world
    for s in ("L", "R"):
        toe = np.array(mw @ target.data.bones[tgt_slots[f"toe.{s}"]].head_local)
        built_obj = bpy.data.objects[matrix.names[(rig, "built")]]
        built_toe = built_obj.matrix_world @ built_obj.data.bones[detect_mapping(built_obj).slots[f"toe.{s}"]].head_local
        assert np.allclose(toe, built_toe, atol=1e-3), f"{rig}@{path} rests elsewhere than built: {toe} {built_toe}"
    report = retarget_with_report(source, target, RetargetOptions(frame_start=frames[0], frame_end=frames[-1]))
    try:
        assert report.mapping.target_profile in RIGS[rig]
        tgt = _measure(target, report.mapping.target, matrix.tips[rig], frames)
    finally:
        action = report.action
        target.animation_data.action = None
        bpy.data.actions.remove(action)
    ratio = matrix.legs[rig] / legs_s
    # Limb directions.
    angles = []
    for a, b in LIMBS.items():
        ds, dt = src["heads"][b] - src["heads"][a], tgt["heads"][b] - tgt["heads"][a]
        cos = np.sum(ds * dt, 1) / (np.linalg.norm(ds, axis=1) * np.linalg.norm(dt, axis=1))
        angles.append(np.degrees(np.arccos(np.clip(cos, -1, 1))))
    mean_angle = float(np.mean(angles))
    # Floors: the source's is where its feet touch it, its world's zero height (the module docstring); the
    # target's is that floor scaled about each object's origin, and the target's lowest foot point touches it
    # as high above it as at rest.
    floor_s = 0.0
    origin_s, origin_t = float(source.matrix_world[2][3]), float(target.matrix_world[2][3])
    floor_t = origin_t + (floor_s - origin_s) * ratio
    contact_t = floor_t + matrix.soles[rig]
    lowest_s, lowest = float(src["lowest"].min()), float(tgt["lowest"].min())
    # The hips: the source's height above its floor, scaled by the legs, moved by one constant for the whole take
    # (stated in the report): what the feet need, as each character's proportions below the ankles are its own.
    # That constant is the difference in heights of the lowest foot points above the floor (the target's at rest,
    # the source's when its feet touch), give or take what the feet's own pitch at rest changes over their length.
    hips_err = (tgt["pelvis"][:, 2] - floor_t) - ratio * (src["pelvis"][:, 2] - floor_s) - report.floor_shift
    shift = matrix.soles[rig] - ratio * (lowest_s - floor_s)
    contact = {s: src["feet"][s][..., 2].min(1) < lowest_s + 0.03 for s in ("L", "R")}
    slide_s, slide_t = ratio * _sliding(src["feet"], contact), _sliding(tgt["feet"], contact)
    print(f"\n{source_name} -> {rig}@{path}: scale {report.scale:.4f} (legs {ratio:.4f}), limbs {mean_angle:.4f} deg, "
          f"shift {report.floor_shift:+.4f} (expected {shift:+.4f}), "
          f"hips err median {np.median(np.abs(hips_err)):.4f} max {np.abs(hips_err).max():.4f}, "
          f"lowest toe {lowest - contact_t:+.4f} from {contact_t:.4f} (floor {floor_t:.4f}, source's toes "
          f"{lowest_s - floor_s:.4f} above theirs), slide {slide_t:.5f} vs {slide_s:.5f}")
    assert report.scale == pytest.approx(ratio, rel=0.01)
    assert mean_angle <= 1.0
    assert np.median(np.abs(hips_err)) <= 0.02
    assert abs(lowest - contact_t) <= 0.02, "the feet do not stand on the floor (they float or sink)"
    assert report.floor == pytest.approx(floor_t, abs=0.02)
    assert report.floor_shift == pytest.approx(shift, abs=0.05)
    assert slide_t <= slide_s * 1.25 + 0.001


@pytest.mark.parametrize("case", ["floats", "sinks", "on_floor"])
@pytest.mark.parametrize("source_name", ["cmu_01_03", "move_sample"])
def test_report_states_floor_and_warns_when_feet_miss_it(matrix: Matrix, source_name: str, case: str) -> None:
    """The report line states the scale, the floor and the hips height, each what the scene shows; a take made to
    float (translation scaled up, floor clamp off) or to sink (scaled down) is reported with a warning; a normal
    one is not."""
    source, frames, (_, _, legs_s) = _source(matrix, source_name)
    rig = "mixamo"
    target = bpy.data.objects[matrix.names[(rig, "gltf")]]
    opts = {"floats": {"translation_scale": 1.5, "floor_clamp": False},
            "sinks": {"translation_scale": 0.6, "floor_clamp": False}, "on_floor": {}}[case]
    report = retarget_with_report(source, target, RetargetOptions(frame_start=frames[0], frame_end=frames[-1],
                                                                  **opts))
    try:
        slots = report.mapping.target
        lowest = float(_measure(target, slots, matrix.tips[rig], frames)["lowest"].min())
        hips = []
        for f in frames:
            bpy.context.scene.frame_set(f)
            hips.append((target.matrix_world @ target.pose.bones[slots["hips"]].head).z)
    finally:
        target.animation_data.action = None
        bpy.data.actions.remove(report.action)
    assert report.summary.startswith(f"scale {report.scale:.3f}, floor at {report.floor:.3f} m, "
                                     f"hips {report.hips_height:.2f} m above it"), report.summary
    # The figures are what the scene shows: the floor where the source's is (its world's zero height), scaled
    # about the objects' origins, and the hips bone's median height above it.
    origin_s, origin_t = float(source.matrix_world[2][3]), float(target.matrix_world[2][3])
    ratio = matrix.legs[rig] / legs_s if case == "on_floor" else opts["translation_scale"]
    assert report.scale == pytest.approx(ratio, rel=0.01)
    assert report.floor == pytest.approx(origin_t + (0.0 - origin_s) * ratio, abs=0.02)
    assert report.hips_height == pytest.approx(float(np.median(hips)) - report.floor, abs=0.01)
    gap = lowest - (report.floor + matrix.soles[rig])  # the feet over where they touch the floor
    floating = [w for w in report.warnings if "never touch the floor" in w]
    sinking = [w for w in report.warnings if "below the floor" in w]
    print(f"\n{source_name} {case}: {report.summary}; feet {gap:+.3f} m; {report.warnings}")
    assert (bool(floating), bool(sinking)) == {"floats": (True, False), "sinks": (False, True),
                                               "on_floor": (False, False)}[case], report.warnings
    assert {"floats": gap > 0.03, "sinks": gap < -0.03, "on_floor": abs(gap) <= 0.02}[case]
    if case == "on_floor":
        assert 0.7 < report.hips_height < 1.0  # a 1.62 m character's hips, not metres up


def test_import_result_carries_the_report_line(matrix: Matrix, tmp_path: Path) -> None:
    """Importing a Move output onto a character returns the retarget's report line with the result."""
    sample = tmp_path / "sample.json"
    sample.write_text(require_move_api("motion_data_excerpt.json").read_text())
    target = bpy.data.objects[matrix.names[("generic", "gltf")]]
    result = import_output(sample, target=target)
    try:
        assert result.retarget_summary.startswith("scale ") and " m above it" in result.retarget_summary
        assert json.dumps(result.retarget_summary)  # plain text for the CLI's log
    finally:
        target.animation_data.action = None
        bpy.data.actions.remove(result.action)
