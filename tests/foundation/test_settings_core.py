"""Plain-Python tests of the secret store and endpoint rules (no bpy)."""

from __future__ import annotations

import os
import stat

from move_mocap.core.endpoints import base_url, is_loopback, validate_endpoint
from move_mocap.core.secrets import ENV_VAR, SecretStore, resolve_api_key


def test_secret_store_is_private_and_round_trips(tmp_path) -> None:
    store = SecretStore(tmp_path / "sub" / "credentials.json")
    assert store.get("api_key") == ""
    store.set("api_key", "  sk-123  ")
    assert store.get("api_key") == "sk-123"
    mode = stat.S_IMODE(os.stat(store.path).st_mode)
    assert mode == 0o600, oct(mode)
    assert "sk-123" not in repr(store)
    store.set("api_key", "")
    assert store.get("api_key") == ""
    assert list(store.path.parent.iterdir()) == [store.path]  # no temp files left


def test_corrupt_store_reads_as_empty(tmp_path) -> None:
    path = tmp_path / "credentials.json"
    path.write_text("{not json")
    assert SecretStore(path).get("api_key") == ""


def test_environment_wins(tmp_path) -> None:
    store = SecretStore(tmp_path / "c.json")
    store.set("api_key", "from-prefs")
    assert resolve_api_key(store, {}) == ("from-prefs", "preferences")
    assert resolve_api_key(store, {ENV_VAR: "from-env"}) == ("from-env", "environment")
    assert resolve_api_key(None, {}) == ("", "")


def test_loopback_detection() -> None:
    for url in ("http://127.0.0.1:8765/ugc/graphql", "http://localhost/x", "http://[::1]:9/ugc/graphql",
                "http://127.8.9.1/"):
        assert is_loopback(url), url
    for url in ("https://api.move.ai/ugc/graphql", "http://10.0.0.1/", "http://localhost.evil.com/"):
        assert not is_loopback(url), url


def test_endpoint_validation() -> None:
    assert validate_endpoint("https://api.move.ai/ugc/graphql") is None
    assert validate_endpoint("http://127.0.0.1:8765/ugc/graphql") is None
    assert "empty" in (validate_endpoint("  ") or "")
    assert "https" in (validate_endpoint("http://example.com/ugc/graphql") or "")
    assert "not an http" in (validate_endpoint("ftp://x/y") or "")
    assert base_url("https://api.move.ai/ugc/graphql") == "https://api.move.ai"
    assert base_url("http://127.0.0.1:8765/ugc/graphql") == "http://127.0.0.1:8765"
