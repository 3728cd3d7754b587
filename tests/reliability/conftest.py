"""Fixtures of the reliability tests: the add-on wired to a local server (shared with tests/workflow), and a
recorder of every presigned-URL signature the server hands this process."""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests

from tests.workflow.conftest import wired  # noqa: F401  (re-exported fixture)

SIGNATURE_RE = re.compile(r"X-Move-Signature=([0-9a-f]{64})")


class SignatureRecorder:
    """Every ``X-Move-Signature`` seen on the wire (GraphQL answers and the URLs requested), independently
    of the client's code: it wraps ``requests.Session.send``."""

    def __init__(self) -> None:
        self.signatures: set[str] = set()

    def scan(self, text: str) -> None:
        self.signatures.update(SIGNATURE_RE.findall(text))


@pytest.fixture
def signature_recorder(monkeypatch) -> SignatureRecorder:
    recorder = SignatureRecorder()
    original = requests.Session.send

    def send(self: requests.Session, request: Any, **kw: Any) -> requests.Response:
        recorder.scan(str(request.url))
        response = original(self, request, **kw)
        if not kw.get("stream") and "json" in response.headers.get("content-type", ""):
            recorder.scan(response.text)
        return response

    monkeypatch.setattr(requests.Session, "send", send)
    return recorder
