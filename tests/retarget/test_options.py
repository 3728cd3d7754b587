"""The one retarget-options object (``core.retarget.options``) and the one function each place builds it with:
the Retarget panel's settings, the retarget operator, the import operator (with its JSON of more options)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from move_mocap.core.retarget.mapping import BoneMapping
from move_mocap.core.retarget.options import ROOT_MOTIONS, RetargetOptions, RetargetOptionsError


def test_defaults_are_valid_and_frozen() -> None:
    options = RetargetOptions()
    assert options.root_motion == "HIPS" and options.fingers and options.floor_clamp
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.fingers = False  # type: ignore[misc]
    assert options.but(fingers=False).fingers is False and options.fingers


@pytest.mark.parametrize(("changes", "named"), [
    ({"root_motion": "SIDEWAYS"}, "root_motion"),
    ({"interpolation": "CUBIC"}, "interpolation"),
    ({"translation_scale": -1.0}, "translation_scale"),
    ({"target_fps": float("nan")}, "target_fps"),
    ({"frame_start": 10.0, "frame_end": 5.0}, "frame_end"),
    ({"fingers": "yes"}, "fingers"),
    ({"root_bone": 3}, "root_bone"),
    ({"mapping": ["Hips"]}, "mapping"),
])
def test_a_bad_value_is_refused_by_name(changes: dict, named: str) -> None:
    with pytest.raises(RetargetOptionsError, match=named):
        RetargetOptions(**changes)


def test_from_dict_names_unknown_fields_and_reads_a_mapping() -> None:
    with pytest.raises(RetargetOptionsError, match="unknown retarget options: scale_hips"):
        RetargetOptions.from_dict({"scale_hips": 2})
    with pytest.raises(RetargetOptionsError, match="must be an object"):
        RetargetOptions.from_dict(["fingers"])  # type: ignore[arg-type]
    mapping = BoneMapping(target={"hips": "pelvis"}, target_profile="ue5")
    base = RetargetOptions(root_motion="OBJECT")
    options = RetargetOptions.from_dict({"mapping": mapping.to_dict(), "target_fps": 30}, base=base)
    assert options.root_motion == "OBJECT" and options.target_fps == 30
    assert isinstance(options.mapping, BoneMapping) and options.mapping.target == {"hips": "pelvis"}


def test_the_panel_and_both_operators_build_the_same_options(addon) -> None:
    import bpy

    from move_mocap.importers.ops import options_from_operator as from_import
    from move_mocap.retarget.ops import options_from_operator as from_retarget
    from move_mocap.retarget.settings import SETTING_OPTIONS, options_from_settings

    assert set(SETTING_OPTIONS) <= {f.name for f in dataclasses.fields(RetargetOptions)}
    bpy.ops.wm.read_homefile(use_empty=True)
    settings = bpy.context.scene.move_mocap_retarget
    settings.root_motion, settings.root_rotation, settings.fingers = "BONE", True, False
    settings.floor_clamp, settings.translation_scale = False, 1.5
    from_panel = options_from_settings(settings)
    assert from_panel == RetargetOptions(root_motion="BONE", root_rotation=True, fingers=False, floor_clamp=False,
                                         translation_scale=1.5)
    assert [i.identifier for i in bpy.ops.move_mocap.retarget.get_rna_type().properties["root_motion"].enum_items] \
        == list(ROOT_MOTIONS)

    class Props:  # the operators' properties, as Blender hands them to execute()
        root_motion, root_bone, root_rotation, fingers = "BONE", "", True, False
        use_frame_range, frame_start, frame_end, source_fps, target_fps = True, 3, 2, 0.0, 0.0
        translation_scale, floor_clamp, action_name, use_mapping = 1.5, False, "", False
        foot_lock, smooth, keep_raw, use_panel_settings = False, 0.0, False, False
        retarget_fingers, retarget_root_motion, retarget_root_rotation = False, "OBJECT", True
        retarget_options_json = json.dumps({"floor_clamp": False, "interpolation": "LINEAR"})

    with pytest.raises(RetargetOptionsError, match="frame_end"):
        from_retarget(Props, bpy.context)
    Props.frame_end = 30
    assert from_retarget(Props, bpy.context) == from_panel.but(frame_start=3, frame_end=30)
    # The panel's button: the operator reads the panel's settings itself (its clean-ups too), frames its own.
    settings.foot_lock, settings.smooth, settings.keep_raw = True, 0.4, True
    Props.use_panel_settings, Props.root_motion = True, "HIPS"
    assert from_retarget(Props, bpy.context) == options_from_settings(settings).but(frame_start=3, frame_end=30)
    assert from_retarget(Props, bpy.context).foot_lock and from_retarget(Props, bpy.context).smooth == pytest.approx(0.4)
    assert from_retarget(Props, bpy.context).keep_raw
    with pytest.raises(RetargetOptionsError, match="keep_raw"):
        RetargetOptions(keep_raw=1)
    with pytest.raises(RetargetOptionsError, match="smooth"):
        RetargetOptions(smooth=1.5)
    assert from_import(Props) == RetargetOptions(fingers=False, root_motion="OBJECT", root_rotation=True,
                                                 floor_clamp=False, interpolation="LINEAR")
    Props.retarget_options_json = '{"fingers": true, "hips_only": 1}'
    with pytest.raises(RetargetOptionsError, match="hips_only"):
        from_import(Props)
    Props.retarget_options_json = "{fingers"
    with pytest.raises(ValueError, match="not a JSON object"):
        from_import(Props)


def test_the_import_operator_reports_bad_retarget_options(addon, tmp_path) -> None:
    import bpy

    bpy.ops.wm.read_homefile(use_empty=True)
    with pytest.raises(RuntimeError, match="Retarget options: unknown retarget options: hips_only"):
        bpy.ops.move_mocap.import_output(filepath=str(tmp_path / "none.fbx"), target="Hero",
                                         retarget_options_json='{"hips_only": 1}')
