"""Type aliases for the bpy layer, matching the fake-bpy-module stubs mypy checks against, and the property
options that differ between the Blender versions we support."""

from __future__ import annotations

from typing import Literal

import bpy

OperatorReturn = set[Literal["RUNNING_MODAL", "CANCELLED", "FINISHED", "PASS_THROUGH", "INTERFACE"]]
ReportLevel = Literal["DEBUG", "INFO", "OPERATOR", "PROPERTY", "WARNING", "ERROR"]


# Blender 4.5+ warns when a path property that was not declared PATH_SUPPORTS_BLEND_RELATIVE is given a "//" path
# (relative to the .blend); 4.2 refuses that option at registration. Feature-detected, not version-compared.
BLEND_RELATIVE_PATH: set[str] = (
    {"PATH_SUPPORTS_BLEND_RELATIVE"} if "is_path_supports_blend_relative" in bpy.types.Property.bl_rna.properties
    else set()
)
