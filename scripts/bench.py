"""Benchmarks: ``python scripts/bench.py <name> [options]`` prints one JSON line with the figure and its
ratio to a baseline measured in the same run. Each benchmark lives in scripts/benchmarks/<name>.py and
defines ``main(argv: list[str]) -> int``. Run with a Blender venv's python (e.g. .venv/blender-4.2/bin/python).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _available() -> list[str]:
    return sorted(p.stem for p in (HERE / "benchmarks").glob("*.py") if not p.stem.startswith("_"))


def main(argv: list[str]) -> int:
    names = _available()
    if not argv or argv[0] in ("-h", "--help"):
        print(f"usage: bench.py <name> [options]; names: {', '.join(names)}", file=sys.stderr)
        return 0 if argv else 2
    name = argv[0]
    if name not in names:
        print(f"bench.py: unknown benchmark {name!r}; choose one of: {', '.join(names)}", file=sys.stderr)
        return 2
    root = str(HERE.parent)
    if root not in sys.path:
        sys.path.insert(0, root)  # the benchmarks import move_mocap / local_engine from the repository
    spec = importlib.util.spec_from_file_location(f"bench_{name}", HERE / "benchmarks" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return int(module.main(argv[1:]) or 0)


if __name__ == "__main__":
    code = main(sys.argv[1:])
    if "bpy" in sys.modules:
        # The bpy 4.2 module can crash while the interpreter shuts down, after the figure is printed;
        # leave with the benchmark's own status instead.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
