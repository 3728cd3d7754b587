"""Preferences and the online-access poll rules, inside real Blender with the add-on enabled."""

from __future__ import annotations

import bpy
import pytest


@pytest.fixture
def prefs(addon):
    from move_mocap.preferences import get_preferences

    p = get_preferences()
    saved = (p.endpoint, p.network_timeout, p.download_dir)
    yield p
    p.endpoint, p.network_timeout, p.download_dir = saved
    p.api_key = ""


def test_api_key_lives_outside_blend_files(prefs, tmp_path, monkeypatch) -> None:
    from move_mocap.preferences import secret_store, settings

    monkeypatch.delenv("MOVE_API_KEY", raising=False)
    secret = "sk-test-0123456789abcdef"
    prefs.api_key = secret
    assert prefs.api_key == secret
    assert secret_store().get("api_key") == secret
    assert settings().api_key == secret and settings().api_key_source == "preferences"
    assert secret not in repr(settings())
    # Neither a saved scene nor the saved preferences contain it.
    blend = tmp_path / "scene.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend), compress=False)
    assert secret.encode() not in blend.read_bytes()


USERPREF_SCRIPT = r"""
import sys, bpy, addon_utils
sys.path.insert(0, sys.argv[1])
addon_utils.enable("move_mocap", default_set=True)
prefs = bpy.context.preferences.addons["move_mocap"].preferences
prefs.api_key = sys.argv[2]
prefs.endpoint = "http://127.0.0.1:9/ugc/graphql"
bpy.context.preferences.filepaths.use_file_compression = False
bpy.ops.wm.save_userpref()
print("SAVED", bpy.utils.resource_path("USER"))
"""


def test_saved_userpref_holds_the_endpoint_but_not_the_key(tmp_path) -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    secret = "sk-userpref-check-987654321"
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(tmp_path / "user"), MOVE_MOCAP_USER_DIR=str(tmp_path / "mm"))
    root = str(Path(__file__).resolve().parents[2])
    proc = subprocess.run([sys.executable, "-c", USERPREF_SCRIPT, root, secret], env=env,
                          capture_output=True, text=True, timeout=120)
    assert "SAVED" in proc.stdout, proc.stderr
    saved = list((tmp_path / "user").rglob("userpref.blend"))
    assert saved, "no userpref.blend written"
    data = saved[0].read_bytes()
    assert b"127.0.0.1:9/ugc/graphql" in data  # the preferences really were saved, uncompressed
    assert secret.encode() not in data
    assert (tmp_path / "mm" / "credentials.json").read_text().count(secret) == 1


def test_env_var_wins(prefs, monkeypatch) -> None:
    from move_mocap.preferences import settings

    prefs.api_key = "stored-key"
    monkeypatch.setenv("MOVE_API_KEY", "env-key")
    s = settings()
    assert (s.api_key, s.api_key_source) == ("env-key", "environment")


def test_timeout_defaults_to_blenders(prefs) -> None:
    from move_mocap.preferences import settings

    prefs.network_timeout = 0
    assert settings().timeout == bpy.context.preferences.system.network_timeout
    prefs.network_timeout = 42
    assert settings().timeout == 42


def test_download_dir_default_is_in_user_folder(prefs) -> None:
    import os

    from move_mocap.core.pipeline.preflight import folder_problem
    from move_mocap.preferences import settings

    prefs.download_dir = ""
    folder = settings().download_dir
    assert str(folder).startswith(os.environ["MOVE_MOCAP_USER_DIR"])
    # Settings are read on every redraw: they make no folder; the pipeline's preflight does, before a download.
    assert folder_problem(folder) is None and folder.is_dir()


def test_network_poll_offline_rules(prefs, monkeypatch) -> None:
    from move_mocap.capture.network import network_problem

    monkeypatch.setenv("MOVE_API_KEY", "k")
    assert bpy.app.online_access is False  # the bpy module starts offline
    prefs.endpoint = "https://api.move.ai/ugc/graphql"
    problem = network_problem(bpy.context)
    assert problem and "Allow Online Access" in problem
    prefs.endpoint = "http://127.0.0.1:8765/ugc/graphql"
    assert network_problem(bpy.context) is None  # a local engine is allowed offline
    monkeypatch.delenv("MOVE_API_KEY")
    prefs.api_key = ""
    assert "No API key" in (network_problem(bpy.context) or "")
    assert network_problem(bpy.context, needs_key=False) is None
    prefs.endpoint = "ftp://nowhere"
    assert "not an http" in (network_problem(bpy.context) or "")
