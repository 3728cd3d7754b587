"""The API client package imports on plain CPython with bpy made unimportable."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import move_mocap.core.api as api

ROOT = Path(__file__).resolve().parents[2]


def test_every_module_imports_without_bpy():
    names = [f"move_mocap.core.api.{m.name}" for m in pkgutil.iter_modules(api.__path__)]
    assert {"client", "errors", "models", "operations", "redact", "retry", "transfers"} <= {
        n.rsplit(".", 1)[1] for n in names
    }
    code = (
        "import sys, importlib\n"
        "sys.modules['bpy'] = None  # any 'import bpy' now raises ImportError\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module(name)\n"
        "assert 'bpy' not in [m for m in sys.modules if sys.modules[m] is not None]\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


def test_every_module_says_what_it_is_for_and_must_not_do():
    for info in pkgutil.iter_modules(api.__path__):
        source = (Path(api.__path__[0]) / f"{info.name}.py").read_text()
        assert source.lstrip().startswith('"""'), info.name
        docstring = source.split('"""')[1]
        assert "bpy" in docstring, f"{info.name}: the docstring should say it must not use bpy"
