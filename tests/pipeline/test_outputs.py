"""The output registry (``move_mocap.core.outputs``) against Move's schema, and the places that read it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from move_mocap.core import outputs
from move_mocap.core.outputs import pick_applicable
from move_mocap.core.pipeline.model import Footage, SubmissionSpec
from move_mocap.importers import formats
from tests.conftest import require_move_api
from tests.fixtures.fake_video import write_mp4_shell


def _schema_enum(name: str) -> list[str]:
    doc = json.loads(require_move_api("introspection.json").read_text())
    types = doc.get("data", doc)["__schema"]["types"]
    enum = next(t for t in types if t["name"] == name)
    return [v["name"] for v in enum["enumValues"]]


def test_every_move_output_type_is_in_the_registry_once() -> None:
    assert sorted(outputs.KEYS) == sorted(_schema_enum("OutputType"))
    assert len(set(outputs.KEYS)) == len(outputs.KEYS) == 16
    flags = [o.flag for o in outputs.OUTPUTS]
    assert len(set(flags)) == len(flags) and all(f & (f - 1) == 0 for f in flags)  # one bit each


def test_what_is_applicable_has_an_importer_and_usd_has_none() -> None:
    for o in outputs.OUTPUTS:
        assert (o.key in outputs.APPLICABLE) == (o.importer is not None), o.key
        if o.importer is not None:
            assert o.importer in formats.KINDS
            assert outputs.IMPORTER_BY_SUFFIX[o.suffix] == o.importer
    assert outputs.APPLICABLE[:2] == ("MAIN_FBX", "ALL_FBX")
    for key in ("MAIN_USDC", "ALL_USDC", "MAIN_USDZ", "RENDER_VIDEO", "SYNC_DATA", "ALL_C3D"):
        assert outputs.BY_KEY[key].importer is None


def test_pick_applicable() -> None:
    assert pick_applicable({"MOTION_DATA": "/a.json", "MAIN_FBX": "/a.fbx"}) == ("MAIN_FBX", "/a.fbx")
    assert pick_applicable({"render_video": "/v.mp4", "all_bvh": "/a.bvh"}) == ("ALL_BVH", "/a.bvh")
    assert pick_applicable({"RENDER_VIDEO": "/v.mp4"}) is None
    # a job that made only USD has nothing the add-on can apply (Blender's USD importer drops the actor names)
    assert pick_applicable({"MAIN_USDC": "/m/main_usdc.usdc", "ALL_USDC": "/m/all_usdc.usdc"}) is None
    # a share code's file is named by its content
    assert pick_applicable({"SHARED": "/s/shared.json"}) == ("SHARED", "/s/shared.json")
    assert pick_applicable({"SHARED": "/s/shared.usdc"}) is None


@pytest.mark.parametrize(("head", "suffix", "kind"), [
    (b"Kaydara FBX Binary  \x00", ".fbx", "MAIN_FBX"),
    (b"BLENDER-v402", ".blend", "MAIN_BLEND"),
    (b"\x28\xb5\x2f\xfd\x00", ".blend", "MAIN_BLEND"),
    (b"glTF\x02\x00\x00\x00", ".glb", "GLB"),
    (b'{"asset": {"version": "2.0"}}', ".gltf", "GLB"),
    (b"HIERARCHY\nROOT Hips", ".bvh", "BVH"),
    (b'{"mocap_data": []}', ".json", "MOTION_DATA"),
    (b"PK\x03\x04rest", ".zip", "MOTION_DATA"),
    (b"PXR-USDC\x00", ".usdc", None),
    (b"\x00\x00\x00\x20ftypisom", ".mp4", None),
    (b'[{"camera": 1}]', ".json", None),
    (b"\x00\x01garbage", ".bin", None),
])
def test_sniffing_names_and_kinds(head: bytes, suffix: str, kind: str | None) -> None:
    assert outputs.suffix_for(head) == suffix
    assert outputs.sniff(head) == kind


def test_parse_keys_and_the_spec_refuse_unknown_outputs(tmp_path: Path) -> None:
    assert outputs.parse_keys(" motion_data,MAIN_FBX , main_fbx") == ("MAIN_FBX", "MOTION_DATA")
    with pytest.raises(ValueError, match="MAIN_OBJ"):
        outputs.parse_keys("MAIN_FBX,MAIN_OBJ")
    with pytest.raises(ValueError, match="at least one"):
        outputs.parse_keys(" , ")
    video = write_mp4_shell(tmp_path / "clip.mp4")
    spec = SubmissionSpec(footage=(Footage(str(video)),), outputs=("MAIN_FBX", "MAIN_OBJ"))
    assert "Unknown output MAIN_OBJ" in (spec.validate() or "")


def test_the_panel_offers_every_output_from_the_registry() -> None:
    import bpy  # noqa: F401  (the props module needs bpy)

    from move_mocap.capture import props

    assert [i[0] for i in props.OUTPUT_ITEMS] == list(outputs.KEYS)
    assert formats.FILTER_GLOB == outputs.FILTER_GLOB
    assert {"MAIN_FBX": 1, "MOTION_DATA": 2, "ALL_BVH": 4, "MAIN_BLEND": 8, "MAIN_GLB": 16, "MAIN_USDC": 32,
            "RENDER_VIDEO": 64, "RENDER_OVERLAY_VIDEO": 128}.items() <= {i[0]: i[3] for i in props.OUTPUT_ITEMS}.items()
