"""``scripts/mocap.py``: the move_mocap command line (``move_mocap/cli``) for a checkout, in the two forms that
have no ``blender -c move_mocap``:

    blender -b scene.blend --online-mode --python-exit-code 1 --python scripts/mocap.py -- process take.mp4
    python scripts/mocap.py process take.mp4 --blend scene.blend        (a Python with the bpy module)

With the extension installed, ``blender -c move_mocap process take.mp4`` is the same command without this file.
This wrapper only finds and enables the add-on (the installed extension, or this repository's ``move_mocap``:
``--addon``; the repository root goes on ``sys.path`` here, never inside the add-on) and hands the arguments to
the add-on's ``cli.app.run``; every command, its options and its exit codes live there.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
ADDON_ID = "move_mocap"
EXIT_FAILURE, EXIT_USAGE = 1, 2  # as move_mocap/cli/errors.py (this file runs before the add-on is found)


class AddonNotFound(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def script_argv(argv: list[str]) -> list[str]:
    """The script's own arguments: after ``--`` inside Blender; after the script path as plain Python."""
    if "--" in argv:
        return argv[argv.index("--") + 1:]
    if argv and Path(argv[0]).name == Path(__file__).name:
        return argv[1:]
    return []


def find_addon(mode: str) -> tuple[str, str]:
    """Enable the add-on (installed extension or this repository); its package and where it came from."""
    import bpy  # noqa: F401  (first: it puts Blender's own modules such as addon_utils on the path)

    addon_utils = importlib.import_module("addon_utils")
    installed = sorted(m.__name__ for m in addon_utils.modules()
                       if m.__name__.startswith("bl_ext.") and m.__name__.endswith(f".{ADDON_ID}"))
    errors: list[str] = []

    def enable(name: str) -> None:
        loaded, enabled = addon_utils.check(name)
        if enabled and loaded:
            return
        if addon_utils.enable(name, default_set=True, handle_error=lambda exc: errors.append(repr(exc))) is None:
            raise AddonNotFound(f"could not enable the add-on {name}: {'; '.join(errors) or 'unknown error'}",
                                EXIT_FAILURE)

    if mode == "installed" and not installed:
        raise AddonNotFound("--addon installed: no move_mocap extension is installed in this Blender", EXIT_USAGE)
    if installed and mode in ("auto", "installed"):
        enable(installed[0])
        return installed[0], "installed"
    for name in installed:  # --addon repo: the installed copy must not register the same classes
        if addon_utils.check(name)[1]:
            addon_utils.disable(name, default_set=False)
    if not (REPO_ROOT / ADDON_ID / "__init__.py").is_file():
        raise AddonNotFound(f"no {ADDON_ID} package beside this script ({REPO_ROOT}) and no installed extension",
                            EXIT_FAILURE)
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    enable(ADDON_ID)
    return ADDON_ID, "repo"


def run(argv: list[str]) -> int:
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--addon", choices=("auto", "installed", "repo"), default="auto")
    try:
        mode = pre.parse_known_args(argv)[0].addon
    except SystemExit:  # a bad --addon: the add-on's own parser says so (any add-on will do for that)
        mode = "auto"
    try:
        import bpy  # noqa: F401
    except ImportError:
        print("error: bpy is not importable: run inside Blender (blender -b ... --python scripts/mocap.py -- ...), "
              "with a Python that has the bpy module, or as `blender -c move_mocap ...` with the extension "
              "installed", file=sys.stderr)
        return EXIT_FAILURE
    try:
        package, source = find_addon(mode)
    except AddonNotFound as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.code
    app = importlib.import_module(f"{package}.cli.app")
    return int(app.run(argv, prog="mocap.py", script=True, source=source))


def main() -> None:
    code = run(script_argv(sys.argv))
    sys.stdout.flush()
    sys.stderr.flush()
    bpy = sys.modules.get("bpy")
    if bpy is not None and not getattr(bpy.app, "binary_path", ""):
        # The bpy module (4.2 notably) can crash while the interpreter shuts down, e.g. with an abandoned HTTP
        # helper thread still blocked in a read: everything is written by now, so leave with our own status.
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    main()
