"""Fixtures for the retarget tests: one .blend per session holding the five targets (Rigify rig from
Blender's human metarig, Mixamo-named and UE5-named rigs, rigs built to Auto-Rig Pro's and Character
Creator's conventions, all A-pose) and the two CMU takes imported with Blender's BVH importer. Each test reopens it, so tests do not see each other's changes."""

from __future__ import annotations

from pathlib import Path

import pytest

bpy = pytest.importorskip("bpy")

from . import rigs  # noqa: E402


@pytest.fixture(scope="session")
def world_blend(tmp_path_factory: pytest.TempPathFactory, cmu_bvh: Path, cmu_bvh_01: Path) -> Path:
    path = tmp_path_factory.mktemp("retarget") / "world.blend"
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.context.scene.render.fps = 120
    rigs.build_rigify()
    bpy.ops.object.mode_set(mode="OBJECT")
    rigs.build_named_rig("mixamo", "mixamo_rig")
    rigs.build_named_rig("ue5", "ue5_rig")
    rigs.build_arp_rig("arp_rig")
    rigs.build_cc_rig("cc_rig")
    rigs.import_bvh(str(cmu_bvh), "cmu_01_03")
    rigs.import_bvh(str(cmu_bvh_01), "cmu_01_01")
    bpy.ops.object.select_all(action="DESELECT")
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    return path


class World:
    """The reopened test scene."""

    def __init__(self, path: Path) -> None:
        bpy.ops.wm.open_mainfile(filepath=str(path))
        self.path = path

    def obj(self, name: str) -> bpy.types.Object:
        return bpy.data.objects[name]

    @property
    def targets(self) -> dict[str, bpy.types.Object]:
        names = {"rigify": "rigify_rig", "mixamo": "mixamo_rig", "ue5": "ue5_rig", "arp": "arp_rig", "cc": "cc_rig"}
        return {k: self.obj(n) for k, n in names.items()}

    def keep_only(self, *objs: bpy.types.Object) -> None:
        """Remove the other armatures (the metarig and Rigify's widgets stay, hidden)."""
        keep = set(objs)
        for o in list(bpy.data.objects):
            if o.type == "ARMATURE" and o not in keep and o.name != "metarig":
                bpy.data.objects.remove(o)

    def select_pair(self, source: bpy.types.Object, target: bpy.types.Object) -> None:
        for o in bpy.context.view_layer.objects:
            o.select_set(False)
        source.select_set(True)
        target.select_set(True)
        bpy.context.view_layer.objects.active = target


@pytest.fixture
def world(world_blend: Path, addon) -> World:
    """The scene reopened, with the whole add-on enabled (its retarget operator and panel included)."""
    return World(world_blend)
