"""The local engine from Blender: where it is, starting it (on demand from Process, or with Start), sharing it
with another Blender, stopping it, and what the panel shows of it (its status line, the outputs it cannot make).
No operators here (:mod:`.ops`), no drawing (:mod:`.panel`).

Where the engine comes from (``launch_for``): the Advanced preferences when set (a developer's Python and
checkout), else the installed ``move_mocap_engine`` extension run with Blender's own Python (``sys.executable``)
and only that extension's folder and wheels on its path, else a checkout next to this add-on (developers, tests).
The Blender binary (``bpy.app.binary_path``, or the Advanced override) is passed to the engine for the FBX and
.blend writers. The engine runs as a child process (``core.engine_process.LocalEngine``); its health is probed
on a worker thread, and a light ``bpy.app.timers`` callback only redraws when the status line changes. Its key
is a fresh random one kept in the add-on's secret store, never in a .blend.
"""

from __future__ import annotations

import atexit
import site
import sys
from pathlib import Path

import bpy

from ..core.engine_process import (
    ENGINE_EXTENSION,
    KEY_NAME,
    EngineError,
    EngineLaunch,
    EngineLock,
    LocalEngine,
    find_engine_root,
    live_engine,
    new_key,
    remove_lock,
    validate,
    wheels_site_packages,
    write_lock,
)
from ..paths import user_dir
from ..preferences import ON_CHANGE, get_preferences, refresh, secret_store

_ENGINE: list[LocalEngine] = []  # at most one, used by this Blender session
_SHOWN: list[str] = [""]
#: Outputs the local engine never makes, and why (the panel greys them out; Process leaves them out).
NEVER_LOCAL = {"RENDER_VIDEO": "The local engine does not render preview videos (Move's cloud does)"}
BLENDER_FORMATS = ("MAIN_FBX", "MAIN_BLEND", "MAIN_GLB", "MAIN_USDC", "ALL_BVH")
#: Said where Blender refuses to enable an installed engine extension on Python 3.12+: a build from before the
#: engine carried its Python 3.13 packages (mediapipe's Tasks runtime, cp313 wheels).
OLD_ENGINE_MESSAGE = ("The installed Move Mocap Local Engine extension has no packages for the Python {py} of this "
                      "Blender: install its current version (Preferences > Get Extensions, or its zip with Install "
                      "from Disk), or use Move's cloud")


def engine() -> LocalEngine | None:
    return _ENGINE[0] if _ENGINE else None


def installed_engine(context: bpy.types.Context | None = None) -> tuple[Path | None, str | None]:
    """(the installed engine extension's folder, None) or (None or the folder, why it cannot be used)."""
    context = context or bpy.context
    assert context.preferences is not None
    for repo in context.preferences.extensions.repos:
        if not repo.enabled or not repo.directory:
            continue
        folder = Path(repo.directory) / ENGINE_EXTENSION
        if (folder / "local_engine" / "__main__.py").is_file():
            if f"bl_ext.{repo.module}.{ENGINE_EXTENSION}" not in context.preferences.addons:
                if sys.version_info >= (3, 12) and not any(folder.glob("wheels/*-cp313-*.whl")):
                    return folder, OLD_ENGINE_MESSAGE.format(py=f"{sys.version_info.major}.{sys.version_info.minor}")
                return folder, ("The Move Mocap Local Engine extension is installed but disabled: enable it in "
                                "Preferences > Add-ons (Blender installs its packages then)")
            return folder, None
    return None, ("Capture on this computer needs the Move Mocap Local Engine extension: install it from "
                  "Preferences > Get Extensions (or its zip with Install from Disk), or use Move's cloud")


def blender_binary(prefs: bpy.types.AddonPreferences) -> str:
    """The Blender binary that writes FBX/.blend/GLB/USD/BVH for the engine ("" with the bpy module)."""
    override = prefs.engine_blender  # type: ignore[attr-defined]
    return bpy.path.abspath(override) if override else (bpy.app.binary_path or "")


def launch_for(context: bpy.types.Context) -> tuple[EngineLaunch | None, str | None]:
    """How to run the engine with the current preferences, or (None, why not)."""
    prefs = get_preferences(context)
    blender = blender_binary(prefs)
    python = bpy.path.abspath(prefs.engine_python) if prefs.engine_python else ""
    root_pref = bpy.path.abspath(prefs.engine_root) if prefs.engine_root else ""
    if python or root_pref:  # the Advanced override (developers)
        root = Path(root_pref) if root_pref else find_engine_root(Path(__file__).resolve().parent)
        return EngineLaunch(python or sys.executable, root or Path(), isolated=False, blender=blender,
                            source="override"), None
    folder, problem = installed_engine(context)
    if folder is not None and problem is None:
        extensions = bpy.utils.user_resource("EXTENSIONS")
        sites = [wheels_site_packages(extensions, tuple(sys.version_info[:2])), *site.getsitepackages()]
        return EngineLaunch(sys.executable, folder, tuple(dict.fromkeys(sites)), isolated=True, blender=blender,
                            source="installed"), None
    checkout = find_engine_root(Path(__file__).resolve().parent)
    if checkout is not None and folder is None:  # running from a checkout: its venv has the engine's packages
        return EngineLaunch(sys.executable, checkout, isolated=False, blender=blender, source="checkout"), None
    return None, problem


_CHECKED: dict[tuple[object, ...], str | None] = {}


def _launch_inputs(context: bpy.types.Context) -> tuple[object, ...]:
    """What :func:`problem`'s answer depends on, read from memory only (preferences, extension repositories,
    enabled add-ons)."""
    prefs = get_preferences(context)
    assert context.preferences is not None
    repos = tuple((r.enabled, r.directory, r.module) for r in context.preferences.extensions.repos)
    return (prefs.engine_python, prefs.engine_root, prefs.engine_solver, prefs.engine_motion, prefs.engine_blender,
            repos, len(context.preferences.addons))


def problem(context: bpy.types.Context, *, fresh: bool = False) -> str | None:
    """Why the local engine cannot be started with the current settings, or None. The files it checks are
    looked at once per change of the preferences (a panel asks on every redraw); ``fresh`` checks them now
    (Start does)."""
    key = _launch_inputs(context)
    if not fresh and key in _CHECKED:
        return _CHECKED[key]
    prefs = get_preferences(context)
    launch, why = launch_for(context)
    if launch is None:
        answer = why
    else:
        motion = bpy.path.abspath(prefs.engine_motion) if prefs.engine_motion else None
        answer = validate(launch.python, launch.root, prefs.engine_solver, motion)
    _CHECKED.clear()
    _CHECKED[key] = answer
    return answer


_problem = problem  # the name the tests and older callers use


def _refresh(context: bpy.types.Context) -> None:
    """A preference changed: check the engine's files now, not in the next redraw."""
    problem(context, fresh=True)


def unavailable_outputs(context: bpy.types.Context) -> dict[str, str]:
    """Output type -> why the local engine will not make it: what the running engine says (``/_health``), else
    what it would say (no Blender binary: only MOTION_DATA and the overlay video)."""
    out = dict(NEVER_LOCAL)
    eng = engine()
    if eng is not None and eng.health.get("unavailable_outputs") is not None:
        out.update({k: str(v) for k, v in eng.health["unavailable_outputs"].items()})
        return out
    if not blender_binary(get_preferences(context)):
        reason = ("No Blender binary to write it with (Blender runs as a Python module): the local engine makes "
                  "MOTION_DATA, which the add-on imports")
        out.update(dict.fromkeys(BLENDER_FORMATS, reason))
    return out


def status_line() -> tuple[str, str]:
    """(text, icon) for the panel."""
    eng = engine()
    if eng is None:
        return "Local engine stopped", "RADIOBUT_OFF"
    st = eng.status
    icon = {"running": "CHECKMARK", "starting": "TIME", "exited": "ERROR"}.get(st.state, "RADIOBUT_OFF")
    return st.message, icon


def _redraw_when_changed() -> float | None:
    text = status_line()[0]
    if text != _SHOWN[0]:
        _SHOWN[0] = text
        wm = bpy.context.window_manager
        for window in wm.windows if wm else ():
            for area in window.screen.areas:
                if area.type in ("VIEW_3D", "PREFERENCES"):
                    area.tag_redraw()
    return 0.5 if engine() is not None else None


def start_engine(context: bpy.types.Context, *, wait: bool) -> str | None:
    """Start the engine (or join the one another Blender started); with ``wait``, block until it answers.
    Returns an error message, or None."""
    eng = engine()
    if eng is not None and eng.status.state in ("running", "starting"):
        status = eng.wait_ready() if wait else eng.status
        return status.message if wait and not status.running else None
    stop_engine(context)
    why = problem(context, fresh=True)
    if why:
        return why
    launch, _ = launch_for(context)
    assert launch is not None
    prefs = get_preferences(context)
    store = secret_store()
    folder = user_dir("engine")
    lock, _stale = live_engine(folder)
    if lock is not None and store.get(lock.key_name):  # another Blender's engine, with the key we share
        eng = LocalEngine(launch, data_dir=folder, port=lock.port, api_key=store.get(lock.key_name),
                          solver=prefs.engine_solver, owned=False)
    else:
        key = new_key()
        motion = Path(bpy.path.abspath(prefs.engine_motion)) if prefs.engine_motion else None
        eng = LocalEngine(launch, data_dir=folder, port=prefs.engine_port, api_key=key, solver=prefs.engine_solver,
                          motion=motion)
        store.set(KEY_NAME, key)
    try:
        eng.start()
    except EngineError as exc:
        return str(exc)
    _ENGINE.append(eng)
    if eng.owned and eng.process is not None:
        write_lock(folder, EngineLock(eng.port, eng.process.pid))
    store.set("local_engine_url", eng.url)
    refresh(context)  # the settings now point at this engine (read here, not in the next redraw)
    if not bpy.app.timers.is_registered(_redraw_when_changed):
        bpy.app.timers.register(_redraw_when_changed, first_interval=0.2, persistent=True)
    if wait:
        status = eng.wait_ready()
        if not status.running:
            stop_engine(context)
            return status.message
    return None


def stop_engine(context: bpy.types.Context | None = None) -> None:
    """Stop the engine this Blender started (or stop watching one another Blender started)."""
    eng = engine()
    if eng is None:
        return
    _ENGINE.clear()
    eng.stop()
    if eng.owned:
        try:
            folder = user_dir("engine")
        except Exception:  # the add-on is being disabled while Blender quits
            folder = eng.data_dir
        remove_lock(folder, eng.process.pid if eng.process is not None else None)
        secret_store().set(KEY_NAME, "")
    secret_store().set("local_engine_url", "")
    try:
        refresh(context)
    except Exception:  # the add-on is being disabled while Blender quits: nothing will read them again
        pass


def unregister_extra() -> None:
    if _refresh in ON_CHANGE:
        ON_CHANGE.remove(_refresh)
    atexit.unregister(stop_engine)
    stop_engine()
    if bpy.app.timers.is_registered(_redraw_when_changed):
        bpy.app.timers.unregister(_redraw_when_changed)


def register_extra() -> None:
    if _refresh not in ON_CHANGE:
        ON_CHANGE.append(_refresh)
    try:  # look at the engine's files once now, not in the first redraw of the panel
        _refresh(bpy.context)
    except (RuntimeError, AttributeError):  # preferences not there yet (enabled by a script): the first poll looks
        pass
    atexit.unregister(stop_engine)
    atexit.register(stop_engine)  # never leave an engine running after Blender quits

