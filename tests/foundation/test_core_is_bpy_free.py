"""The core imports on plain CPython with bpy unavailable, and the package obeys the extension rules."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "move_mocap"


def _core_modules() -> list[str]:
    mods = []
    for path in sorted((PACKAGE / "core").rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        mods.append(".".join(parts))
    return mods


def test_every_core_module_imports_without_bpy() -> None:
    modules = _core_modules()
    assert len(modules) >= 3
    code = (
        "import sys\n"
        "sys.modules['bpy'] = None  # any 'import bpy' now raises ImportError\n"
        "import importlib\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "assert 'bpy' not in [m for m, v in sys.modules.items() if v is not None]\n"
        "print('ok', len(sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ok")


def _imports(path: Path) -> list[ast.AST]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]


def test_package_uses_relative_imports_and_no_path_hacks() -> None:
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text()
        for node in _imports(path):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                assert not node.module.startswith("move_mocap"), f"{path}: absolute import of {node.module}"
            if isinstance(node, ast.Import):
                for alias in node.names:
                    assert not alias.name.startswith("move_mocap"), f"{path}: absolute import {alias.name}"
        for forbidden in ("sys.path.append", "sys.path.insert", "sys.modules["):
            assert forbidden not in text, f"{path}: {forbidden} is a policy violation in an extension"


def test_core_never_imports_bpy_statically() -> None:
    for path in (PACKAGE / "core").rglob("*.py"):
        for node in _imports(path):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            assert not any(n == "bpy" or n.startswith(("bpy.", "bpy_", "mathutils")) for n in names), path


def test_init_only_registers() -> None:
    tree = ast.parse((PACKAGE / "__init__.py").read_text())
    top = [n for n in tree.body if not isinstance(n, ast.Expr)]  # docstring aside
    assert sorted(n.name for n in top if isinstance(n, ast.FunctionDef)) == ["register", "unregister"]
    assert all(isinstance(n, ast.FunctionDef) for n in top)


def test_every_module_and_package_has_a_docstring() -> None:
    """Each module of the extension says at its top what it is for (a package without ``__init__.py`` would be
    a namespace package with nothing to say, and Blender's extension builder expects regular packages)."""
    folders = {p.parent for p in PACKAGE.rglob("*.py")} | {PACKAGE}
    missing = [str(f.relative_to(ROOT)) for f in sorted(folders) if not (f / "__init__.py").is_file()]
    assert not missing, f"folders without __init__.py: {missing}"
    for path in PACKAGE.rglob("*.py"):
        assert ast.get_docstring(ast.parse(path.read_text())), f"{path.relative_to(ROOT)}: no module docstring"
