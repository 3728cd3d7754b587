"""Run in a fresh bpy process with BLENDER_USER_RESOURCES pointing at an empty folder: installs the built
extension zip with Blender's own operator, enables it, and prints one JSON object describing what it saw.

Usage: python install_check.py ZIP
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import json
import os
import sys

BUNDLED = {"pydantic", "pydantic_core", "annotated_types", "typing_inspection", "typing_extensions"}


class HideOtherCopies(importlib.abc.MetaPathFinder):
    """A real Blender has no pydantic of its own; this venv does. Hide the venv's copies of the bundled
    packages so that only the wheels Blender installed from the zip can be imported."""

    def __init__(self, root: str):
        self.root = os.path.realpath(root)

    def find_spec(self, name, path, target=None):  # type: ignore[no-untyped-def]
        if name not in BUNDLED:
            return None
        search = [p for p in sys.path if os.path.realpath(p or ".").startswith(self.root)]
        spec = importlib.machinery.PathFinder.find_spec(name, search)
        if spec is None:
            raise ModuleNotFoundError(f"{name} is not among the extension's installed wheels", name=name)
        return spec


def class_names() -> set[str]:
    import bpy

    names = set()
    for base in (bpy.types.Operator, bpy.types.Panel, bpy.types.AddonPreferences, bpy.types.PropertyGroup,
                 bpy.types.UIList, bpy.types.Menu):
        for cls in base.__subclasses__():
            if getattr(cls, "is_registered", False) and cls.__module__.startswith("bl_ext."):
                names.add(f"{cls.__module__}.{cls.__name__}")
    return names


def main(zip_path: str) -> None:
    sys.meta_path.insert(0, HideOtherCopies(os.environ["BLENDER_USER_RESOURCES"]))
    import bpy  # first: it puts Blender's modules (addon_utils) on the path

    addon_utils = importlib.import_module("addon_utils")

    out: dict = {"version": bpy.app.version_string}
    before_modules = set(sys.modules)
    result = bpy.ops.extensions.package_install_files(
        filepath=zip_path, repo="user_default", enable_on_install=True, overwrite=True
    )
    out["install_result"] = sorted(result)
    pkg = "bl_ext.user_default.move_mocap"
    out["enabled"] = pkg in bpy.context.preferences.addons
    mod = sys.modules.get(pkg)
    out["module_file"] = getattr(mod, "__file__", None)
    out["classes"] = sorted(class_names())
    registration = sys.modules[pkg + ".registration"]
    out["expected_classes"] = sorted(
        f"{c.__module__}.{c.__name__}" for m in registration._modules() for c in getattr(m, "CLASSES", ())
    )
    prefs = bpy.context.preferences.addons[pkg].preferences if out["enabled"] else None
    out["prefs"] = sorted(p for p in prefs.bl_rna.properties.keys() if p not in ("rna_type", "bl_idname")) if prefs else []  # noqa: SIM118 (an RNA collection)
    out["prefs_defaults"] = {"endpoint": prefs.endpoint, "network_timeout": prefs.network_timeout} if prefs else {}

    import pydantic
    import pydantic_core

    out["pydantic_file"] = pydantic.__file__
    out["pydantic_core_file"] = pydantic_core.__file__
    out["pydantic_version"] = pydantic.VERSION

    class Probe(pydantic.BaseModel):
        n: int

    out["pydantic_validates"] = Probe.model_validate({"n": "3"}).n == 3
    # The bundled core imports on its own and uses pydantic.
    core = __import__(pkg + ".core.secrets", fromlist=["x"])
    out["core_ok"] = hasattr(core, "SecretStore")
    warnings = addon_utils._extensions_warnings_get()
    out["warnings"] = {k: list(v) for k, v in warnings.items() if "move_mocap" in k}

    addon_utils.disable(pkg, default_set=True)
    out["after_disable_classes"] = sorted(class_names())
    out["after_disable_enabled"] = pkg in bpy.context.preferences.addons
    addon_utils.enable(pkg, default_set=True)
    out["reenabled_classes"] = sorted(class_names())
    addon_utils.disable(pkg, default_set=True)
    out["final_classes"] = sorted(class_names())
    out["new_modules_with_bpy_state"] = sorted(m for m in set(sys.modules) - before_modules if m.startswith(pkg))
    print("INSTALL_CHECK " + json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
