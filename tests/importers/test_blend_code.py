"""A .blend output crafted to carry code (a text block registered as a module, objects with driver
expressions, all pulled in through ID properties of the armature, its bones and the action) is imported with
and without ``keep_source``: nothing that can run stays in the user's file, also after saving and reopening."""

from __future__ import annotations

from pathlib import Path

import pytest

bpy = pytest.importorskip("bpy")

EXPRESSION = "__import__('os').getpid() and 0"


def _craft(base: Path, dest: Path) -> None:
    """Move's .blend output (from the local engine's writer) with code hooked onto its armature and action."""
    bpy.ops.wm.open_mainfile(filepath=str(base))
    arm_obj = next(o for o in bpy.data.objects if o.type == "ARMATURE")
    arm = arm_obj.data
    action = arm_obj.animation_data.action
    module = bpy.data.texts.new("evil_module.py")
    module.write("import os\nos.environ['MOVE_MOCAP_PWNED'] = '1'\n")
    module.use_module = True
    bone_text = bpy.data.texts.new("bone_hook.py")
    bone_text.write("print('ran')\n")
    helper = bpy.data.objects.new("Helper", None)  # in no scene: only the ID property keeps it
    drv = helper.driver_add("location", 0)
    drv.driver.type = "SCRIPTED"
    drv.driver.expression = EXPRESSION
    mesh = bpy.data.meshes.new("HookMesh")
    mesh_obj = bpy.data.objects.new("HookMeshObject", mesh)
    drv = mesh_obj.driver_add("scale", 1)
    drv.driver.expression = EXPRESSION
    arm["script"] = module
    arm["helper"] = helper
    arm.bones[0]["hook"] = bone_text
    action["script"] = module
    action["nested"] = {"inner": mesh_obj, "plain": 3}
    action["note"] = "kept: plain data"
    bpy.ops.wm.save_as_mainfile(filepath=str(dest), copy=True)


def _runnable() -> dict[str, list[str]]:
    """Everything in bpy.data that could run code or pull it in."""
    out: dict[str, list[str]] = {"texts": [t.name for t in bpy.data.texts], "drivers": [], "id_props": []}
    for name in dir(bpy.data):
        coll = getattr(bpy.data, name, None)
        if not isinstance(coll, bpy.types.bpy_prop_collection) or name in ("window_managers", "screens",
                                                                            "workspaces"):
            continue
        for idblock in coll:
            if not isinstance(idblock, bpy.types.ID):
                continue
            ad = getattr(idblock, "animation_data", None)
            if ad is not None:
                out["drivers"] += [f"{idblock.name}:{d.data_path}:{d.driver.expression}" for d in ad.drivers]
            owners = [idblock, *getattr(idblock, "bones", ())]
            for owner in owners:
                for key, value in owner.items():
                    if isinstance(value, bpy.types.ID) or (hasattr(value, "to_dict") and any(
                            isinstance(v, bpy.types.ID) for v in value.values())):
                        out["id_props"].append(f"{idblock.name}[{key}]")
    return out


@pytest.fixture
def crafted(addon, move_take, tmp_path: Path) -> Path:
    _, files = move_take
    path = tmp_path / "take.blend"
    _craft(files["MAIN_BLEND"], path)
    bpy.ops.wm.read_homefile(use_empty=True)
    return path


@pytest.mark.parametrize("keep_source", [False, True])
def test_nothing_runnable_comes_in(crafted: Path, move_take, tmp_path: Path, keep_source: bool) -> None:
    from move_mocap.importers.load import import_output

    _, files = move_take
    target = import_output(files["MAIN_FBX"]).armature
    target.name = "Hero"
    objects_before = {o.name for o in bpy.data.objects}
    assert _runnable() == {"texts": [], "drivers": [], "id_props": []}
    result = import_output(crafted, target="Hero", keep_source=keep_source)
    assert result.armature == target
    assert _runnable() == {"texts": [], "drivers": [], "id_props": []}
    new_objects = {o.name for o in bpy.data.objects} - objects_before
    if keep_source:
        assert result.source is not None and new_objects == {result.source.name}
        assert result.source.type == "ARMATURE"
        source_action = result.source.animation_data.action
        assert source_action["note"] == "kept: plain data" and "script" not in source_action
    else:
        assert new_objects == set()
    # saved and reopened (as a user would, with scripts allowed), still nothing to run
    saved = tmp_path / "user.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(saved))
    bpy.ops.wm.open_mainfile(filepath=str(saved))
    assert _runnable() == {"texts": [], "drivers": [], "id_props": []}
    assert not any(o.name in ("Helper", "HookMeshObject") for o in bpy.data.objects)


def test_without_target_only_the_armature_and_its_action(crafted: Path) -> None:
    from move_mocap.importers.load import import_output

    result = import_output(crafted)
    assert _runnable() == {"texts": [], "drivers": [], "id_props": []}
    assert [o.name for o in bpy.data.objects] == [result.armature.name]
    assert {a.name for a in bpy.data.actions} == {result.action.name}
    assert len(bpy.data.meshes) == 0
