"""Check API Key against a server that echoes the key (in its error, or as the account's name): the status
bar report never shows it, in any encoding."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import bpy
import pytest

from tests.api_client.httpstub import StubServer
from tests.api_client.test_key_echo import KEY, assert_no_key, echoes


@pytest.fixture
def echo_server(addon, monkeypatch) -> Iterator[tuple[Any, StubServer]]:
    from move_mocap.preferences import get_preferences

    monkeypatch.delenv("MOVE_API_KEY", raising=False)
    p = get_preferences()
    saved = p.endpoint
    with StubServer() as stub:
        p.endpoint, p.api_key = stub.url("/graphql"), KEY
        yield p, stub
    p.endpoint, p.api_key = saved, ""


def _answer(body: dict[str, Any]):
    return lambda payload, headers: (200, {}, json.dumps(body).encode())


def test_error_echoing_the_key(echo_server) -> None:
    from move_mocap.capture.client import _check
    from move_mocap.preferences import settings

    _, stub = echo_server
    stub.state.graphql_handler = _answer({"errors": [{"message": echoes(KEY), "errorType": "Unauthorized"}]})
    level, message = _check(settings())
    assert level == "ERROR" and "API key check failed" in message
    assert_no_key(message)
    with pytest.raises(RuntimeError) as info:
        bpy.ops.move_mocap.check_api_key()
    assert_no_key(str(info.value))
    assert stub.requests_to("/graphql")[0].headers["Authorization"] == KEY


def test_account_named_after_the_key(echo_server) -> None:
    from move_mocap.capture.client import _check
    from move_mocap.preferences import settings

    _, stub = echo_server
    stub.state.graphql_handler = _answer({"data": {"client": {"id": "c-1", "name": echoes(KEY)}}})
    level, message = _check(settings())
    assert level == "INFO" and "API key accepted" in message
    assert_no_key(message)
