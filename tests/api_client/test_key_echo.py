"""A server that echoes the API key (raw, URL-encoded, JSON-escaped, inside ``Basic`` base64, in a header)
never gets it into ``str(exc)``, ``repr(exc)``, ``exc.args``, a traceback or a log line."""

from __future__ import annotations

import base64
import json
import logging
import traceback
from urllib.parse import quote

import pytest

from move_mocap.core.api import MoveAPIError
from move_mocap.core.api.redact import redact_text, secret_forms

KEY = 'mv-KEY+/=echo&"0123456789abcdef'


def echoes(key: str) -> str:
    basic = base64.b64encode(f"user:{key}".encode()).decode()
    lower = quote(key, safe="").replace("%2B", "%2b").replace("%2F", "%2f")
    return (f"raw={key} url={quote(key, safe='')} lower={lower} json={json.dumps(key)} "
            f"plus={quote(key)} auth=Basic {basic}")


def visible(exc: BaseException) -> str:
    parts = [str(exc), repr(exc), *map(str, exc.args), "".join(traceback.format_exception(exc))]
    parts += [str(v) for v in vars(exc).values()]
    return "\n".join(parts)


def assert_no_key(text: str) -> None:
    for form in secret_forms(KEY):
        assert form not in text, (form, text[:500])
    assert "0123456789abcdef" not in text  # the key's tail, whatever the encoding around it


CASES = {
    "graphql error": lambda: (200, {}, json.dumps({"errors": [{"message": echoes(KEY),
                                                               "errorType": "MoveValidationError"}]}).encode()),
    "html error page": lambda: (400, {"Content-Type": "text/html"}, f"<p>{echoes(KEY)}</p>".encode()),
    "content type header": lambda: (200, {"Content-Type": f"text/plain; echo={quote(KEY, safe='')}"}, b"oops"),
    "unauthorized": lambda: (401, {"WWW-Authenticate": f"Basic realm={KEY}"}, echoes(KEY).encode()),
    "malformed model": lambda: (200, {}, json.dumps({"data": {"getJob": {"id": 5, "name": echoes(KEY)}}}).encode()),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_echoed_key_never_shows(case, stub, make_client, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    stub.state.graphql_handler = lambda payload, headers: CASES[case]()
    client = make_client(api_key=KEY)
    with pytest.raises(MoveAPIError) as info:
        client.get_job("job-1")
    assert_no_key(visible(info.value))
    assert_no_key(caplog.text)
    # the request really carried the key (so the echo was real)
    assert stub.requests_to("/graphql")[0].headers["Authorization"] == KEY


def test_every_encoding_is_redacted_in_free_text() -> None:
    out = redact_text(echoes(KEY), [KEY])
    assert_no_key(out)
    assert out.count("<redacted>") >= 6
