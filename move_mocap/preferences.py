"""The add-on's preferences: where Process runs (Move's cloud or this computer), API key, endpoint, download
folder, network timeout, and the local engine's settings (its paths only as an Advanced override).

The API key is never stored in any .blend (not even userpref.blend): the property reads and writes
``core.secrets.SecretStore`` in the add-on's user folder, and ``MOVE_API_KEY`` in the environment wins.

:func:`settings` is read once and kept in memory: panels and ``poll()`` call it on every redraw, so it must not
touch files. A preference edited in the UI (or by a script) refreshes it at once, through each property's
``update`` (and the hooks in :data:`ON_CHANGE`, e.g. the local engine's own check); a write to the secret store or
a change of the values it depends on (environment, Blender's network timeout) makes the next call read again.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bpy
from bpy.props import BoolProperty, EnumProperty, IntProperty, StringProperty

from .core.endpoints import DEFAULT_ENDPOINT, validate_endpoint
from .core.engine_process import SOLVER_ITEMS
from .core.secrets import ENV_VAR, SecretStore, resolve_api_key
from .paths import ENV_USER_DIR, user_dir

_STORES: dict[str, SecretStore] = {}


def secret_store() -> SecretStore:
    """The add-on's secret store (one per user folder, so what it read is cached across calls; no file access
    to find it once made)."""
    override = os.environ.get(ENV_USER_DIR, "").strip()
    store = _STORES.get(override)
    if store is None:
        store = _STORES[override] = SecretStore(user_dir() / "credentials.json")
    return store


def _get_api_key(self: bpy.types.AddonPreferences) -> str:
    return secret_store().get("api_key")


def _set_api_key(self: bpy.types.AddonPreferences, value: str) -> None:
    secret_store().set("api_key", value)
    _changed(self, bpy.context)


#: Called with the context after any preference changed (after :func:`settings` was read again): other caches
#: of what the preferences decide (e.g. the local engine's launch check) refresh themselves here, outside draw().
ON_CHANGE: list[Callable[[bpy.types.Context], Any]] = []


def _changed(_self: Any, context: bpy.types.Context) -> None:
    """Every preference's ``update``: read the settings again now (not in the next panel redraw)."""
    refresh(context)


def refresh(context: bpy.types.Context | None = None) -> None:
    """Read the settings again now (after a preference or the secret store changed), and run :data:`ON_CHANGE`."""
    context = context or bpy.context
    _CACHE.clear()
    try:
        settings(context)
    except RuntimeError:  # the add-on is being unregistered
        return
    for hook in ON_CHANGE:
        hook(context)


BACKENDS = (
    ("CLOUD", "Move Cloud", "Process on Move AI's servers (needs a Move account and API key)", "WORLD", 0),
    ("LOCAL", "This Computer", "Process on this computer with the local engine (no account; starts on demand)",
     "DESKTOP", 1),
)


class MOVE_MOCAP_AddonPreferences(bpy.types.AddonPreferences):
    bl_idname = __package__  # type: ignore[assignment]

    backend: EnumProperty(  # type: ignore[valid-type]
        name="Process On", description="Where Process sends the footage", items=BACKENDS, default="CLOUD",
        update=_changed,
    )

    api_key: StringProperty(  # type: ignore[valid-type]
        name="API Key",
        description=(
            "Your Move API key (from your Move AI account). Kept in a private file in the add-on's user "
            f"folder, never in a .blend. The {ENV_VAR} environment variable takes precedence"
        ),
        subtype="PASSWORD",
        get=_get_api_key,
        set=_set_api_key,
        options={"SKIP_SAVE"},
    )
    endpoint: StringProperty(  # type: ignore[valid-type]
        name="API Endpoint",
        description="The Move GraphQL endpoint, or a Move-compatible local engine (http://127.0.0.1:8765/ugc/graphql)",
        default=DEFAULT_ENDPOINT,
        update=_changed,
    )
    download_dir: StringProperty(  # type: ignore[valid-type]
        name="Download Folder",
        description="Where job outputs are downloaded. Empty: the add-on's user folder",
        subtype="DIR_PATH",
        default="",
        update=_changed,
    )
    network_timeout: IntProperty(  # type: ignore[valid-type]
        name="Network Timeout",
        description="Seconds to wait for the server. 0: use Preferences > System > Network > Timeout",
        min=0,
        max=600,
        default=0,
        subtype="TIME_ABSOLUTE",
        update=_changed,
    )

    show_engine_advanced: BoolProperty(  # type: ignore[valid-type]
        name="Advanced", description="Developer overrides for the local engine", default=False,
    )
    engine_python: StringProperty(  # type: ignore[valid-type]
        name="Engine Python",
        description=("Advanced: a Python that has the local engine's packages (a developer's venv). Empty: "
                     "Blender's own Python with the installed Move Mocap Local Engine extension"),
        subtype="FILE_PATH",
        default="",
        update=_changed,
    )
    engine_root: StringProperty(  # type: ignore[valid-type]
        name="Engine Folder",
        description=("Advanced: the folder holding local_engine/ (a checkout). Empty: the installed Move Mocap "
                     "Local Engine extension"),
        subtype="DIR_PATH",
        default="",
        update=_changed,
    )
    engine_blender: StringProperty(  # type: ignore[valid-type]
        name="Blender for Outputs",
        description=("Advanced: the Blender binary the engine runs in the background to write FBX, .blend, GLB, "
                     "USD and BVH. Empty: this Blender"),
        subtype="FILE_PATH",
        default="",
        update=_changed,
    )
    engine_port: IntProperty(  # type: ignore[valid-type]
        name="Engine Port", description="Loopback port the local engine listens on", min=1024, max=65535,
        default=8765,
        update=_changed,
    )
    engine_solver: EnumProperty(  # type: ignore[valid-type]
        name="Solver",
        items=SOLVER_ITEMS,
        default="mediapipe",
        update=_changed,
    )
    engine_motion: StringProperty(  # type: ignore[valid-type]
        name="Replay Motion", description="The BVH the replay solver plays back", subtype="FILE_PATH", default="",
        update=_changed,
    )

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        layout.use_property_split = True
        s = settings(context)
        col = layout.column()
        row = col.row(align=True)
        row.prop(self, "api_key")
        row.operator("move_mocap.check_api_key", text="", icon="CHECKMARK")
        if s.api_key_source == "environment":
            col.label(text=f"Using the {ENV_VAR} environment variable", icon="INFO")
        elif not s.api_key:
            col.label(text="No API key: paste yours, or use a local engine", icon="ERROR")
        col.prop(self, "endpoint")
        problem = validate_endpoint(self.endpoint)
        if problem:
            col.label(text=problem, icon="ERROR")
        col.prop(self, "download_dir")
        if not self.download_dir:
            col.label(text=f"Default: {s.download_dir}", icon="FILE_FOLDER")
        col.prop(self, "network_timeout")
        if not self.network_timeout:
            col.label(text=f"Using Blender's network timeout: {s.timeout:g} s", icon="TIME")

        box = layout.box()
        box.label(text="Local Engine (markerless capture on this computer, no Move account needed)")
        col = box.column()
        col.prop(self, "backend")
        col.prop(self, "engine_solver")
        if self.engine_solver == "replay":
            col.prop(self, "engine_motion")
        row = col.row(align=True)
        row.operator("move_mocap.engine_start", icon="PLAY")
        row.operator("move_mocap.engine_stop", icon="PAUSE")
        col.prop(self, "show_engine_advanced", icon="DOWNARROW_HLT" if self.show_engine_advanced else "RIGHTARROW",
                 emboss=False)
        if self.show_engine_advanced:
            sub = col.column()
            sub.prop(self, "engine_python")
            sub.prop(self, "engine_root")
            sub.prop(self, "engine_blender")
            sub.prop(self, "engine_port")


@dataclass(frozen=True)
class Settings:
    """The resolved settings a network operation needs (the key is excluded from repr)."""

    endpoint: str
    api_key: str
    api_key_source: str
    download_dir: Path
    timeout: float

    def __repr__(self) -> str:
        return (f"Settings(endpoint={self.endpoint!r}, api_key={'<set>' if self.api_key else '<missing>'}, "
                f"download_dir={str(self.download_dir)!r}, timeout={self.timeout})")


def get_preferences(context: bpy.types.Context | None = None) -> MOVE_MOCAP_AddonPreferences:
    context = context or bpy.context
    assert context.preferences is not None
    addon = context.preferences.addons.get(__package__ or "")
    if addon is None:
        raise RuntimeError(f"the {__package__} add-on is not enabled")
    return addon.preferences  # type: ignore[return-value]


_CACHE: dict[tuple[Any, ...], Settings] = {}


def settings(context: bpy.types.Context | None = None) -> Settings:
    """The resolved settings, read once and kept in memory (no file access while they stay the same: panels and
    ``poll()`` call this on every redraw). The download folder is not created here: the pipeline's preflight
    creates it before the first download."""
    context = context or bpy.context
    assert context.preferences is not None
    prefs = get_preferences(context)
    store = secret_store()
    key_of = (prefs.backend, prefs.endpoint, prefs.engine_port, prefs.download_dir, prefs.network_timeout,
              context.preferences.system.network_timeout, os.environ.get(ENV_VAR, ""),
              os.environ.get(ENV_USER_DIR, ""), id(store), store.writes)
    cached = _CACHE.get(key_of)
    if cached is not None:
        return cached
    key, source = resolve_api_key(store)
    endpoint = prefs.endpoint.strip()
    if prefs.backend == "LOCAL":  # the engine's own key; Process starts the engine when it is not running
        endpoint = store.get("local_engine_url") or f"http://127.0.0.1:{prefs.engine_port}/ugc/graphql"
        key, source = store.get("local_engine_key"), "local engine"
    folder = Path(bpy.path.abspath(prefs.download_dir)) if prefs.download_dir else user_dir() / "downloads"
    timeout = float(prefs.network_timeout or context.preferences.system.network_timeout or 10)
    _CACHE.clear()
    _CACHE[key_of] = result = Settings(endpoint, key, source, folder, timeout)
    return result


CLASSES = (MOVE_MOCAP_AddonPreferences,)
