"""A new user's first capture, run in a fresh bpy process from a folder outside the repository, with the
repository on neither sys.path nor PYTHONPATH (copied to that folder and run with ``python -I``):

install the add-on zip and the engine zip with Blender's own operator into an empty BLENDER_USER_RESOURCES,
switch Process to "This Computer", add the footage, build a Rigify rig, press Process (its blocking path), and
print one JSON line: what the operators returned, the rig's animation, and what the engine's /_health says
about where it loaded local_engine, mediapipe and its other packages from, plus the files it has mapped.

Usage: python -I user_path_check.py ADDON_ZIP ENGINE_ZIP VIDEO PORT [BLENDER_STANDIN]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(addon_zip: str, engine_zip: str, video: str, port: int, blender: str) -> dict:
    import bpy

    out: dict = {"version": bpy.app.version_string, "python": sys.version_info[:2]}
    out["install_addon"] = sorted(bpy.ops.extensions.package_install_files(
        filepath=addon_zip, repo="user_default", enable_on_install=True, overwrite=True))
    try:
        out["install_engine"] = sorted(bpy.ops.extensions.package_install_files(
            filepath=engine_zip, repo="user_default", enable_on_install=True, overwrite=True))
    except RuntimeError as exc:  # Blender refuses it (e.g. no wheels for this Python): the message is the point
        out["install_engine"], out["install_engine_error"] = ["REFUSED"], str(exc)
    pkg = "bl_ext.user_default.move_mocap"
    prefs = bpy.context.preferences.addons[pkg].preferences
    engine_ops = sys.modules[pkg + ".engine_control.engine"]
    prefs.backend = "LOCAL"  # the switch at the top of the panel
    prefs.engine_port = port
    if blender:
        prefs.engine_blender = blender  # the bpy module has no Blender binary: a stand-in runs the writers
    out["engine_problem"] = engine_ops.problem(bpy.context)
    launch, _ = engine_ops.launch_for(bpy.context)
    out["launch"] = None if launch is None else {"python": launch.python, "root": str(launch.root),
                                                 "site_dirs": list(launch.site_dirs), "source": launch.source}

    import importlib.util

    spec = importlib.util.spec_from_file_location("rigs", Path(__file__).with_name("rigs.py"))
    assert spec is not None and spec.loader is not None
    rigs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(rigs)
    rig = rigs.build_rigify()
    bpy.context.view_layer.objects.active = rig
    rig.select_set(True)
    scene = bpy.context.scene
    out["footage_add"] = sorted(bpy.ops.move_mocap.footage_add(filepath=video))
    props = scene.move_mocap
    props.use_clip_window, props.clip_start, props.clip_end = True, 0.0, 3.0
    try:
        out["process"] = sorted(bpy.ops.move_mocap.process())
    except RuntimeError as exc:
        out["process"], out["process_error"] = ["ERROR"], str(exc)
    eng = engine_ops.engine()
    out["health"] = dict(eng.health) if eng is not None else None
    if eng is not None and eng.process is not None:
        out["engine_cmdline"] = Path(f"/proc/{eng.process.pid}/cmdline").read_bytes().decode().split("\0")
        out["engine_maps"] = sorted({ln.split(None, 5)[5] for ln in
                                     Path(f"/proc/{eng.process.pid}/maps").read_text().splitlines()
                                     if len(ln.split(None, 5)) == 6 and ln.split(None, 5)[5].startswith("/")})
    action = rig.animation_data.action if rig.animation_data else None
    out["action"] = action.name if action else None
    out["frame_range"] = list(action.frame_range) if action else None
    scene.frame_set(int(action.frame_range[0]) + 10 if action else 0)
    out["hips_z"] = (rig.matrix_world @ rig.pose.bones["DEF-spine"].head)[2]  # the deforming hips bone
    out["rest_hips_z"] = (rig.matrix_world @ rig.data.bones["DEF-spine"].head_local)[2]
    out["feet_z"] = [(rig.matrix_world @ rig.pose.bones[b].tail)[2] for b in ("DEF-foot.L", "DEF-foot.R")]
    out["sys_path"] = list(sys.path)
    engine_ops.stop_engine()
    return out


if __name__ == "__main__":
    args = sys.argv[1:]
    result = main(args[0], args[1], args[2], int(args[3]), args[4] if len(args) > 4 else "")
    print("USER_PATH " + json.dumps(result, default=str), flush=True)
