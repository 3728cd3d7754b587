"""The Check API Key operator against the real local server: accepted, rejected, and disabled offline."""

from __future__ import annotations

import bpy
import pytest


@pytest.fixture
def prefs(addon, monkeypatch):
    from move_mocap.preferences import get_preferences

    monkeypatch.delenv("MOVE_API_KEY", raising=False)
    p = get_preferences()
    saved = p.endpoint
    yield p
    p.endpoint = saved
    p.api_key = ""


def test_good_key_is_accepted(prefs, local_server) -> None:
    prefs.endpoint = local_server.url
    prefs.api_key = local_server.api_key
    assert bpy.ops.move_mocap.check_api_key.poll()
    assert bpy.ops.move_mocap.check_api_key() == {"FINISHED"}


def test_wrong_key_is_reported_without_leaking_it(prefs, local_server, capfd) -> None:
    from move_mocap.capture.client import _check
    from move_mocap.preferences import settings

    prefs.endpoint = local_server.url
    wrong = "wrong-key-5f3a9c1e7b"
    prefs.api_key = wrong
    level, message = _check(settings())
    assert level == "ERROR"
    assert "key" in message.lower()
    assert wrong not in message
    with pytest.raises(RuntimeError):  # bpy turns a CANCELLED-with-ERROR report into an exception
        bpy.ops.move_mocap.check_api_key()
    out, err = capfd.readouterr()
    assert wrong not in out + err


def test_endpoint_down_says_so(prefs) -> None:
    from move_mocap.capture.client import _check
    from move_mocap.preferences import settings

    prefs.endpoint = "http://127.0.0.1:9/ugc/graphql"  # nothing listens on the discard port
    prefs.api_key = "k"
    level, message = _check(settings())
    assert level == "ERROR" and "127.0.0.1:9" in message


def test_disabled_offline_for_remote_endpoint(prefs) -> None:
    prefs.endpoint = "https://api.move.ai/ugc/graphql"
    prefs.api_key = "k"
    assert not bpy.ops.move_mocap.check_api_key.poll()
