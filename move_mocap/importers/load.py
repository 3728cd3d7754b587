"""``import_output``: bring one Move output file into the scene as an armature with a new action, or onto the
user's armature through the retarget engine (bpy layer).

Every call creates a new, uniquely named action (nothing existing is overwritten) and either succeeds or
leaves the file's data out of the blend file (on error everything it created is removed again). It never runs
scripts from the files it reads, and appends nothing from a .blend but an armature and its action.
Must not touch the network or import ``local_engine``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bpy

from ..core.cleanup import contacts as C
from ..core.move_skeleton import actors_in
from ..core.retarget.options import RetargetOptions
from ..retarget import action_io
from . import blend_safety, formats

# bpy's stubs type Object.data as a union of every data kind; these aliases keep annotations readable.
ArmatureObject = Any  # a ArmatureObject whose data is a bpy.types.Armature
Action = Any  # Action

#: bpy.data collections watched for what an import creates (and cleaned up on error).
_WATCHED = ("objects", "armatures", "actions", "meshes", "materials", "images", "textures", "collections",
            "node_groups", "cameras", "lights", "curves", "worlds", "texts", "scenes", "libraries")


class ImportOutputError(RuntimeError):
    """An output cannot be imported; the message names the problem and the fix."""


@dataclass
class ImportResult:
    armature: ArmatureObject  # the armature the motion is now on (the target, or the imported one)
    action: Action  # the new action, assigned to ``armature``
    frame_start: float
    frame_end: float
    kind: str  # formats.MAIN_FBX, ...
    source: ArmatureObject | None = None  # the imported armature when kept beside a target
    fps: float = 0.0
    foot_contacts: list[tuple[bool, bool]] | None = None  # MOTION_DATA: per frame, left and right
    warnings: list[str] = field(default_factory=list)
    retarget_summary: str = ""  # after a retarget: scale, floor and hips height (the engine's report line)


@dataclass
class _Loaded:
    armature: ArmatureObject
    action: Action
    fps: float = 0.0
    contacts: list[tuple[bool, bool]] | None = None
    warnings: list[str] = field(default_factory=list)


# -- bookkeeping -------------------------------------------------------------------------------------------

def _snapshot_ptr() -> dict[str, set[int]]:
    return {name: {x.as_pointer() for x in getattr(bpy.data, name)} for name in _WATCHED}


def _new_ids(before: dict[str, set[int]], name: str) -> list[Any]:
    return [x for x in getattr(bpy.data, name) if x.as_pointer() not in before[name]]


def _remove_ids(ids: list[Any], collection: str) -> None:
    coll = getattr(bpy.data, collection)
    for x in ids:
        try:
            coll.remove(x)
        except (ReferenceError, RuntimeError):
            pass


def _purge_created(before: dict[str, set[int]], keep: set[int], only_orphans: bool) -> None:
    """Remove what the import created, except the pointers in ``keep``: objects first, then their data.
    ``only_orphans`` removes data only when nothing uses it any more."""
    if not only_orphans:
        _remove_ids([o for o in _new_ids(before, "objects") if o.as_pointer() not in keep], "objects")
    for _ in range(3):  # data freed by one pass may free more (materials -> images ...)
        for name in _WATCHED:
            if name in ("objects", "scenes", "libraries"):
                continue
            dead = [x for x in _new_ids(before, name) if x.as_pointer() not in keep
                    and (not only_orphans or x.users == 0 or (x.use_fake_user and x.users == 1))]
            _remove_ids(dead, name)
    for lib in _new_ids(before, "libraries"):
        _remove_ids([lib], "libraries")


def _scene() -> Any:
    return bpy.context.scene


def _scene_layer() -> Any:
    return bpy.context.view_layer


# -- finding armatures and actions -------------------------------------------------------------------------

def _pick_armature(objs: list[ArmatureObject], actor: int | None, filename: str) -> ArmatureObject:
    arms = [o for o in objs if o.type == "ARMATURE"]
    if not arms:
        raise ImportOutputError(f"{filename} holds no armature; it is not a motion output (choose the FBX, "
                                ".blend, GLB, BVH or MOTION_DATA output of the job)")
    if actor is None:
        with_anim = [a for a in arms if a.animation_data and a.animation_data.action]
        return sorted(with_anim or arms, key=_actor_key)[0]
    for a in arms:
        if actor in actors_in([b.name for b in a.data.bones]):
            return a
    present = sorted({n for a in arms for n in actors_in([b.name for b in a.data.bones])})
    if not present and actor == 1 and len(arms) == 1:
        return arms[0]  # a file without Move namespaces holds one actor
    have = ", ".join(map(str, present)) or "one, without actor namespaces"
    raise ImportOutputError(f"Actor {actor} is not in {filename} (actors present: {have}); choose one of those")


def _actor_key(obj: ArmatureObject) -> tuple[int, str]:
    actors = actors_in([b.name for b in obj.data.bones])
    return (actors[0] if actors else 0, obj.name)


def _action_bones(action: Action, obj: ArmatureObject | None) -> set[str]:
    bones = set()
    for fc in action_io.action_fcurves(action, obj):
        path = fc.data_path
        if path.startswith('pose.bones["'):
            bones.add(path[len('pose.bones["'):].split('"]', 1)[0])
    return bones


def _require_animation(obj: ArmatureObject, filename: str) -> Action:
    action = action_io.object_action(obj)
    if action is None or not action_io.action_fcurves(action, obj):
        raise ImportOutputError(f"{filename} has an armature but no animation; export the job's output again "
                                "with animation (or choose another output)")
    return action


# -- the formats -------------------------------------------------------------------------------------------

def _run_importer(op: Any, **kwargs: Any) -> list[ArmatureObject]:
    before = {o.as_pointer() for o in bpy.data.objects}
    try:
        result = op(**kwargs)
    except RuntimeError as exc:
        raise ImportOutputError(f"{Path(kwargs['filepath']).name}: Blender's importer failed ({exc}); the file "
                                "may be damaged: download it again") from exc
    if "FINISHED" not in result:
        raise ImportOutputError(f"{Path(kwargs['filepath']).name}: Blender's importer did not finish; the file "
                                "may be damaged: download it again")
    return [o for o in bpy.data.objects if o.as_pointer() not in before]


def _load_fbx(path: Path, actor: int | None) -> _Loaded:
    # Move's FBX: forward -Y, up Z, metres. Bones keep the file's orientation (no automatic re-orientation),
    # so the rest pose is the file's T-pose and the keys need no correction.
    objs = _run_importer(bpy.ops.import_scene.fbx, filepath=str(path), use_manual_orientation=True,
                         axis_forward="-Y", axis_up="Z", global_scale=1.0, use_anim=True, anim_offset=0.0,
                         automatic_bone_orientation=False, ignore_leaf_bones=False, use_custom_props=False,
                         use_image_search=False)
    arm = _pick_armature(objs, actor, path.name)
    return _Loaded(arm, _require_animation(arm, path.name))


def _load_glb(path: Path, actor: int | None) -> _Loaded:
    objs = _run_importer(bpy.ops.import_scene.gltf, filepath=str(path))
    arm = _pick_armature(objs, actor, path.name)
    return _Loaded(arm, _require_animation(arm, path.name))


def _load_bvh(path: Path, actor: int | None) -> _Loaded:
    objs = _run_importer(bpy.ops.import_anim.bvh, filepath=str(path), global_scale=1.0, frame_start=0,
                         use_fps_scale=False, update_scene_fps=False, update_scene_duration=False,
                         rotate_mode="NATIVE", axis_forward="-Z", axis_up="Y")
    arm = _pick_armature(objs, actor, path.name)
    return _Loaded(arm, _require_animation(arm, path.name))


def _libraries() -> Any:
    return bpy.data.libraries


def _load_blend(path: Path, actor: int | None) -> _Loaded:
    """Append armature data and actions only, strip everything they pulled in (``blend_safety``), then pair
    them by bone names."""
    try:
        with _libraries().load(str(path), link=False) as (src, _dst):
            arm_names, act_names = list(src.armatures), list(src.actions)
    except OSError as exc:
        raise ImportOutputError(f"{path.name}: not a readable .blend file ({exc}); download it again") from exc
    if not arm_names:
        raise ImportOutputError(f"{path.name} holds no armature; it is not a motion output")
    if not act_names:
        raise ImportOutputError(f"{path.name} has an armature but no animation (no action in the file)")
    before = blend_safety.snapshot()
    with _libraries().load(str(path), link=False) as (_src, dst):
        dst.armatures = arm_names
        dst.actions = act_names
    arms = [a for a in dst.armatures if a is not None]
    acts = [a for a in dst.actions if a is not None]
    # what the armatures and actions pulled in (texts, objects with drivers, ...) goes; they lose drivers
    blend_safety.strip_appended(before, arms + acts)
    objs = []
    for data in arms:
        obj = bpy.data.objects.new(data.name, data)
        _scene().collection.objects.link(obj)
        objs.append(obj)
    arm = _pick_armature(objs, actor, path.name)
    bones = {b.name for b in arm.data.bones}
    best, score = None, 0
    for act in acts:
        s = len(_action_bones(act, None) & bones)
        if s > score:
            best, score = act, s
    if best is None:
        raise ImportOutputError(f"{path.name}: no action in the file animates the armature {arm.data.name!r}")
    action_io.assign_action(arm, best)
    # Blender 5.0 crashes when an appended action is assigned again before the view layer is evaluated.
    _scene_layer().update()
    return _Loaded(arm, best)


def _load_motion_data(path: Path, actor: int | None) -> _Loaded:
    from ..core.motion_data import MotionDataError, read_motion_data, solve_pose
    from .motion_data_build import build_armature

    try:
        take = read_motion_data(path).take(actor)
        pose = solve_pose(take)
    except MotionDataError as exc:
        raise ImportOutputError(str(exc)) from exc
    arm, action = build_armature(pose, path.stem)
    notes = list(pose.notes)
    contacts = None
    if pose.contacts is None:
        notes.append("the file has no reaction forces: foot contacts will be detected from the motion")
    else:
        keyed = pose.keyed()  # the samples keyed, each at its own frame; one row per frame of the keyed span
        try:
            grid = C.on_frame_grid(pose.frames[keyed], pose.contacts[keyed])
        except ValueError as exc:
            notes.append(f"foot contacts left out ({exc}); they will be detected from the motion")
        else:
            contacts = [(bool(a), bool(b)) for a, b in grid]
    return _Loaded(arm, action, pose.fps, contacts, notes)


_LOADERS = {formats.MAIN_FBX: _load_fbx, formats.GLB: _load_glb, formats.BVH: _load_bvh,
            formats.MAIN_BLEND: _load_blend, formats.MOTION_DATA: _load_motion_data}


# -- retargeting -------------------------------------------------------------------------------------------

def _retarget(source: ArmatureObject, target: ArmatureObject, action_name: str,
              options: RetargetOptions | None, actor: int | None) -> tuple[Action, list[str], str]:
    """The one call into the retarget engine (``move_mocap.retarget``)."""
    from ..retarget import apply as engine

    options = options or RetargetOptions()
    if not options.action_name:
        options = options.but(action_name=action_name)
    bones = [b.name for b in source.data.bones]
    if options.source_namespace is None and (actor is not None or actors_in(bones)):
        options = options.but(source_namespace=f"_{actor or actors_in(bones)[0]}:")
    try:
        report = engine.retarget_with_report(source, target, options)
    except ValueError as exc:
        raise ImportOutputError(f"Retargeting onto {target.name!r} failed: {exc}") from exc
    return report.action, list(report.warnings), report.summary


# -- the public function -----------------------------------------------------------------------------------

def _resolve_target(target: ArmatureObject | str | None) -> ArmatureObject | None:
    if target is None or target == "":
        return None
    obj = bpy.data.objects.get(target) if isinstance(target, str) else target
    if obj is None:
        raise ImportOutputError(f"Target armature {target!r} does not exist; pick an armature object")
    if obj.type != "ARMATURE":
        raise ImportOutputError(f"Target {obj.name!r} is a {obj.type.lower()}, not an armature; pick an armature")
    problem = linked_problem(obj)
    if problem:
        raise ImportOutputError(problem)
    return obj


def linked_problem(obj: ArmatureObject) -> str | None:
    """Why ``obj`` (linked from another .blend, not overridden) cannot be animated in this file, or None."""
    lib = obj.library
    if lib is None:
        return None
    return (f"Armature {obj.name!r} is linked from {lib.filepath or lib.name} and cannot be animated in this file; "
            "make a library override (Object > Library Override > Make > Selected & Content) and use the "
            "override as the target")


def _unique_name(base: str, collection: Any, owner: Any = None) -> str:
    existing = collection.get(base)
    if existing is None or (owner is not None and existing == owner):
        return base
    n = 1
    while f"{base}.{n:03d}" in collection:
        n += 1
    return f"{base}.{n:03d}"


def import_output(
    path: str | Path,
    *,
    target: ArmatureObject | str | None = None,
    kind: str | None = None,
    actor: int | None = None,
    action_name: str | None = None,
    keep_source: bool = False,
    retarget_options: RetargetOptions | None = None,
    set_scene_range: bool = False,
    context: Any = None,
) -> ImportResult:
    """Import a Move output (``kind`` detected from extension and content unless given).

    Without ``target`` the file's armature stays, named after the file, with a new action. With ``target``
    (an armature object or its name) the motion goes onto it through the retarget engine as a new action; the
    imported armature is then removed unless ``keep_source``. Other objects a file brings (meshes) are
    removed unless ``keep_source``. ``actor`` picks one actor of a multi-actor file (1, 2, ...).
    Raises :class:`ImportOutputError` with the problem and its fix; on error nothing stays behind.
    """
    path = Path(path)
    if not path.is_file():
        raise ImportOutputError(f"{path} does not exist or is not a file; check the path")
    try:
        kind = formats.detect(path, kind)
    except formats.FormatError as exc:
        raise ImportOutputError(str(exc)) from exc
    if actor is not None and actor < 1:
        raise ImportOutputError(f"Actor numbers start at 1 (got {actor})")
    tgt = _resolve_target(target)
    ctx: Any = context or bpy.context
    if ctx.mode != "OBJECT" and ctx.active_object is not None:
        bpy.ops.object.mode_set(mode="OBJECT")
    before = _snapshot_ptr()
    prev_target_action = action_io.object_action(tgt) if tgt is not None else None
    prev_slot = getattr(tgt.animation_data, "action_slot", None) if tgt is not None and tgt.animation_data else None
    prev_tracks = len(tgt.animation_data.nla_tracks) if tgt is not None and tgt.animation_data else 0
    stem = path.stem
    try:
        loaded = _LOADERS[kind](path, actor)
        source = loaded.armature
        if loaded.contacts is not None:  # on the take itself, so a retarget carries them (and its foot lock uses them)
            loaded.action[C.STORED_PROP] = C.encode_stored(loaded.contacts)
        warnings = list(loaded.warnings)
        summary = ""
        name = action_name or (f"{tgt.name}_{stem}" if tgt is not None else stem)
        if tgt is None:
            source.name = _unique_name(stem, bpy.data.objects, source)
            source.data.name = _unique_name(source.name, bpy.data.armatures, source.data)
            loaded.action.name = _unique_name(name, bpy.data.actions, loaded.action)
            if action_io.object_action(source) != loaded.action:
                action_io.assign_action(source, loaded.action)
            result_obj, action = source, loaded.action
        else:
            loaded.action.name = _unique_name(f"{stem}_source", bpy.data.actions, loaded.action)
            action, more, summary = _retarget(source, tgt, _unique_name(name, bpy.data.actions), retarget_options,
                                              actor)
            warnings += more
            if action.name != name and name not in bpy.data.actions:
                action.name = name
            result_obj = tgt
        keep = {result_obj.as_pointer(), action.as_pointer(), result_obj.data.as_pointer()}
        if tgt is not None and result_obj.animation_data is not None:  # the retarget's take before its clean-ups (Keep Raw Take)
            keep |= {st.action.as_pointer() for tr in result_obj.animation_data.nla_tracks for st in tr.strips
                     if st.action is not None}
        if keep_source:
            keep |= {o.as_pointer() for o in _new_ids(before, "objects")}
            keep |= {source.data.as_pointer(), loaded.action.as_pointer()}
            _purge_created(before, keep, only_orphans=True)
        else:
            _purge_created(before, keep, only_orphans=False)
        fps = loaded.fps or ctx.scene.render.fps / ctx.scene.render.fps_base
        lo, hi = action_io.frame_range(action, result_obj)
        if set_scene_range:
            ctx.scene.frame_start, ctx.scene.frame_end = round(lo), round(hi)
        kept_source = source if keep_source and tgt is not None else None
        result = ImportResult(result_obj, action, lo, hi, kind, kept_source, fps, loaded.contacts, warnings,
                              summary if tgt is not None else "")
        if result_obj is not tgt:
            ctx.view_layer.update()
            for o in ctx.view_layer.objects:
                if o is not None and o != result_obj:
                    o.select_set(False)
            if result_obj.name in ctx.view_layer.objects:
                result_obj.select_set(True)
                ctx.view_layer.objects.active = result_obj
        return result
    except BaseException as exc:
        _rollback(before, tgt, prev_target_action, prev_slot, prev_tracks)
        if isinstance(exc, ImportOutputError):
            raise
        if isinstance(exc, Exception):
            raise ImportOutputError(f"{path.name}: import failed ({type(exc).__name__}: {exc})") from exc
        raise


def _rollback(before: dict[str, set[int]], tgt: ArmatureObject | None, prev_action: Any, prev_slot: Any,
              prev_tracks: int) -> None:
    """Undo a failed import: the target's animation as it was, and nothing the import created."""
    if tgt is not None and tgt.animation_data is not None:
        ad = tgt.animation_data
        while len(ad.nla_tracks) > prev_tracks:
            ad.nla_tracks.remove(ad.nla_tracks[-1])
        ad.action = prev_action
        if prev_slot is not None and hasattr(ad, "action_slot"):
            try:
                ad.action_slot = prev_slot
            except (TypeError, RuntimeError):
                pass
    _purge_created(before, set(), only_orphans=False)
