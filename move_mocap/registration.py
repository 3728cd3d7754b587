"""Registers the bpy layer: every module listed here exposes ``CLASSES`` (in registration order) and may
define ``register_extra()`` / ``unregister_extra()`` for properties, handlers and timers."""

from __future__ import annotations

import importlib
from types import ModuleType

import bpy

# Module names, relative to this package, in registration order (preferences first, panels last).
_MODULE_NAMES: tuple[str, ...] = (
    ".preferences",
    ".capture.client",
    ".importers.ops",
    ".capture.props",
    ".capture.thumbnails",
    ".capture.runtime",
    ".capture.ops",
    ".capture.panel",
    ".retarget.settings",
    ".retarget.panel",
    ".retarget.ops",
    ".engine_control.engine",
    ".engine_control.ops",
    ".engine_control.panel",
    ".review",
    ".cli",
)


def _modules() -> list[ModuleType]:
    return [importlib.import_module(name, __package__) for name in _MODULE_NAMES]


def register() -> None:
    for module in _modules():
        for cls in getattr(module, "CLASSES", ()):
            bpy.utils.register_class(cls)
        extra = getattr(module, "register_extra", None)
        if extra:
            extra()


def unregister() -> None:
    for module in reversed(_modules()):
        extra = getattr(module, "unregister_extra", None)
        if extra:
            extra()
        for cls in reversed(getattr(module, "CLASSES", ())):
            bpy.utils.unregister_class(cls)
