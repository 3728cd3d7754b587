"""Secrets stay secret: the API key never appears in logs, reprs or exceptions; presigned signatures are
redacted in logs and exception messages (checked on real traffic to a local server at DEBUG level)."""

from __future__ import annotations

import logging
import traceback

import pytest

from move_mocap.core.api import (
    MoveAPIError,
    MoveClient,
    NetworkError,
    NotFoundError,
    PresignedUrlExpiredError,
    download_file,
    upload_file,
)
from move_mocap.core.api.redact import REDACTED, redact_text, redact_url

from .conftest import API_KEY, fast_retry, json_answer

SIG = "Zm9vYmFyU0lHTkFUVVJF0123456789"
S3_URL = (
    "https://bucket.s3.amazonaws.com/ugc/file-1.mp4?X-Amz-Algorithm=AWS4-HMAC-SHA256"
    f"&X-Amz-Credential=AKIAEXAMPLE%2F20240101&X-Amz-Expires=3600&X-Amz-Signature={SIG}"
)


def test_redact_url_keeps_names_and_drops_values():
    out = redact_url(S3_URL)
    assert SIG not in out and "AKIAEXAMPLE" not in out
    assert out.startswith("https://bucket.s3.amazonaws.com/ugc/file-1.mp4?X-Amz-Algorithm=")
    assert f"X-Amz-Signature={REDACTED}" in out
    assert redact_url("https://user:pw@h/x#key=abc") == f"https://{REDACTED}@h/x#{REDACTED}"
    assert redact_url("https://api.move.ai/ugc/graphql") == "https://api.move.ai/ugc/graphql"


def test_redact_text_finds_urls_paths_and_secrets():
    text = f'GET {S3_URL} failed; urllib3 said "PUT /ugc/file-1.mp4?X-Amz-Signature={SIG} HTTP/1.1" 403; key {API_KEY}'
    out = redact_text(text, [API_KEY])
    assert SIG not in out and API_KEY not in out and "AKIAEXAMPLE" not in out
    assert "/ugc/file-1.mp4?" in out


def _all_text(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() for r in caplog.records) + caplog.text


def test_no_secret_in_logs_reprs_or_exceptions(stub, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    for name in ("urllib3", "move_mocap"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    stub.state.files["out.fbx"] = b"x" * 5000
    stub.state.valid_signature = SIG
    up_url = stub.url(f"/files/up?X-Amz-Signature={SIG}")
    down_url = stub.url(f"/files/out.fbx?sig={SIG}")
    answer = {"data": {"getJob": {"id": "job-1", "progress": {"state": "FINISHED", "percentageComplete": 100},
                                  "outputs": [{"key": "main_fbx", "file": {"id": "f", "presignedUrl": down_url}}]}}}
    stub.state.graphql_handler = lambda payload, headers: json_answer(answer)
    client = MoveClient(API_KEY, endpoint=stub.url("/graphql"), retry=fast_retry())
    errors: list[BaseException] = []

    src = tmp_path / "clip.mp4"
    src.write_bytes(b"y" * 1000)
    upload_file(up_url, src)
    job = client.get_job("job-1")
    client.download_output("job-1", "main_fbx", tmp_path / "out.fbx")
    assert (tmp_path / "out.fbx").read_bytes() == b"x" * 5000

    # failures whose natural messages would carry the URL or the key
    stub.state.fail_statuses = [500] * 10
    for call in (
        lambda: download_file(down_url, tmp_path / "again.fbx", retry=fast_retry(2)),
        lambda: client.get_job("job-1"),
    ):
        with pytest.raises(MoveAPIError) as info:
            call()
        errors.append(info.value)
    stub.state.fail_statuses = []
    with pytest.raises(PresignedUrlExpiredError) as expired:
        download_file(stub.url("/files/out.fbx?sig=WRONG-" + SIG[::-1]), tmp_path / "x.fbx")
    errors.append(expired.value)
    with pytest.raises(NotFoundError) as missing:
        download_file(stub.url(f"/files/missing?sig={SIG}"), tmp_path / "m.fbx", retry=fast_retry(1))
    errors.append(missing.value)
    dead = MoveClient(API_KEY, endpoint=f"http://127.0.0.1:9/graphql?token={SIG}", retry=fast_retry(1))
    with pytest.raises(NetworkError) as net:
        dead.get_client()
    errors.append(net.value)
    with pytest.raises(NetworkError) as net_dl:
        download_file(f"http://127.0.0.1:9/files/x?X-Amz-Signature={SIG}", tmp_path / "n.fbx", retry=fast_retry(1))
    errors.append(net_dl.value)

    texts = [_all_text(caplog), repr(client), str(client), repr(dead), repr(job), str(job)]
    for err in errors:
        texts += [str(err), repr(err), "".join(traceback.format_exception(err))]
    blob = "\n".join(texts)
    assert "X-Amz-Signature" in blob or "sig=" in blob  # the logs did mention the URLs...
    assert SIG not in blob and SIG[::-1] not in blob  # ...but never their signatures
    assert API_KEY not in blob
    assert any("urllib3" in r.name for r in caplog.records)  # the library's own request lines were checked
