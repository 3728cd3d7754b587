"""Streaming upload and resumable download against a real local HTTP server (no mocked requests)."""

from __future__ import annotations

import os
import tracemalloc

import pytest

from move_mocap.core.api import (
    NetworkError,
    NotFoundError,
    PresignedUrlExpiredError,
    TransferCancelledError,
    download_file,
    partial_path,
    upload_file,
)

from .conftest import fast_retry

SIZE = 3 * 1024 * 1024 + 17


@pytest.fixture
def payload() -> bytes:
    return os.urandom(SIZE)


def _files(tmp_path):
    return sorted(p.name for p in tmp_path.iterdir())


# --------------------------------------------------------------------------------------------- upload


def test_upload_streams_with_content_length_and_progress(stub, tmp_path, payload):
    src = tmp_path / "clip.mp4"
    src.write_bytes(payload)
    seen: list[tuple[int, int]] = []
    upload_file(stub.url("/files/up-1?X-Amz-Signature=abc"), src, progress=lambda d, t: seen.append((d, t)),
                chunk_size=1024 * 1024)
    assert stub.state.uploads["up-1"] == payload
    put = stub.requests_to("/files/up-1", "PUT")[0]
    assert put.headers["Content-Length"] == str(SIZE)
    assert "Transfer-Encoding" not in put.headers
    assert seen[-1] == (SIZE, SIZE) and len(seen) == 4
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_upload_resends_the_same_put_after_5xx(stub, tmp_path, payload):
    src = tmp_path / "clip.mp4"
    src.write_bytes(payload)
    stub.state.fail_statuses = [503, 500]
    upload_file(stub.url("/files/up-2"), src, retry=fast_retry())
    puts = stub.requests_to("/files/up-2", "PUT")
    assert len(puts) == 3 and all(p.body_length == SIZE for p in puts)
    assert stub.state.uploads["up-2"] == payload


def test_upload_expired_url_is_typed(stub, tmp_path):
    src = tmp_path / "clip.mp4"
    src.write_bytes(b"x" * 10)
    stub.state.fail_statuses = [403]
    with pytest.raises(PresignedUrlExpiredError, match="createFile"):
        upload_file(stub.url("/files/up-3?X-Amz-Signature=SECRETSIG"), src, retry=fast_retry())


def test_upload_memory_stays_constant(stub, tmp_path):
    src = tmp_path / "big.bin"
    with open(src, "wb") as fh:
        fh.truncate(64 * 1024 * 1024)  # sparse 64 MiB file
    stub.state.discard_uploads = True  # the server thread reads 1 MiB at a time and keeps nothing
    tracemalloc.start()
    try:
        upload_file(stub.url("/files/big"), src, chunk_size=4 * 1024 * 1024)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert stub.requests_to("/files/big", "PUT")[0].body_length == 64 * 1024 * 1024
    assert peak < 10 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB for a 64 MiB upload"


def test_upload_cancel(stub, tmp_path, payload):
    src = tmp_path / "clip.mp4"
    src.write_bytes(payload)
    with pytest.raises(TransferCancelledError):
        upload_file(stub.url("/files/up-4"), src, should_cancel=lambda: True)


# ------------------------------------------------------------------------------------------- download


def test_download_complete_and_atomic(stub, tmp_path, payload):
    stub.state.files["out.fbx"] = payload
    progress: list[tuple[int, int]] = []
    dest = download_file(stub.url("/files/out.fbx?sig=1"), tmp_path / "job" / "out.fbx",
                         progress=lambda d, t: progress.append((d, t)))
    assert dest.read_bytes() == payload
    assert progress[-1] == (SIZE, SIZE)
    assert _files(dest.parent) == ["out.fbx"]


def test_download_resumes_with_range_after_a_drop(stub, tmp_path, payload):
    stub.state.files["out.fbx"] = payload
    stub.state.drop_after = [1_000_000, 500_000]
    dest = download_file(stub.url("/files/out.fbx"), tmp_path / "out.fbx", retry=fast_retry())
    assert dest.read_bytes() == payload
    gets = stub.requests_to("/files/out.fbx", "GET")
    assert [g.headers.get("Range") for g in gets] == [None, "bytes=1000000-", "bytes=1500000-"]
    assert gets[1].headers.get("If-Range") == '"v1"'
    assert _files(tmp_path) == ["out.fbx"]


def test_download_restarts_when_server_ignores_range(stub, tmp_path, payload):
    stub.state.files["out.fbx"] = payload
    stub.state.drop_after = [700_000]
    stub.state.ignore_range = True
    dest = download_file(stub.url("/files/out.fbx"), tmp_path / "out.fbx", retry=fast_retry())
    assert dest.read_bytes() == payload


def test_download_resumes_a_part_left_by_an_earlier_run(stub, tmp_path, payload):
    stub.state.files["out.fbx"] = payload
    dest = tmp_path / "out.fbx"
    partial_path(dest).write_bytes(payload[:123_456])
    download_file(stub.url("/files/out.fbx"), dest)
    assert dest.read_bytes() == payload
    assert stub.requests_to("/files/out.fbx")[0].headers["Range"] == "bytes=123456-"


def test_download_of_an_already_complete_part_finishes(stub, tmp_path, payload):
    stub.state.files["out.fbx"] = payload
    dest = tmp_path / "out.fbx"
    partial_path(dest).write_bytes(payload)
    download_file(stub.url("/files/out.fbx"), dest)  # server answers 416 bytes */SIZE
    assert dest.read_bytes() == payload


def test_download_refreshes_an_expired_url(stub, tmp_path, payload):
    """A part was fetched with a URL that has since expired: the refreshed URL resumes it."""
    stub.state.files["out.fbx"] = payload
    stub.state.valid_signature = "fresh"
    refreshed: list[int] = []

    def refresh():
        refreshed.append(1)
        return stub.url("/files/out.fbx?sig=fresh")

    dest = tmp_path / "out.fbx"
    partial_path(dest).write_bytes(payload[:400_000])
    download_file(stub.url("/files/out.fbx?sig=stale"), dest, refresh_url=refresh, retry=fast_retry())
    assert dest.read_bytes() == payload and refreshed == [1]
    gets = stub.requests_to("/files/out.fbx", "GET")
    assert [g.query["sig"] for g in gets] == [["stale"], ["fresh"]]
    assert gets[-1].headers["Range"] == "bytes=400000-"


def test_expired_without_refresh_keeps_the_part_and_hides_the_signature(stub, tmp_path, payload):
    stub.state.files["out.fbx"] = payload
    stub.state.valid_signature = "fresh"
    dest = tmp_path / "out.fbx"
    partial_path(dest).write_bytes(payload[:10])
    with pytest.raises(PresignedUrlExpiredError) as info:
        download_file(stub.url("/files/out.fbx?sig=stale-SECRET"), dest)
    assert "stale-SECRET" not in str(info.value) and "getJob" in str(info.value)
    assert partial_path(dest).exists() and not dest.exists()


def test_refresh_that_yields_nothing_raises(stub, tmp_path, payload):
    stub.state.files["out.fbx"] = payload
    stub.state.valid_signature = "fresh"
    with pytest.raises(PresignedUrlExpiredError, match="no fresh URL"):
        download_file(stub.url("/files/out.fbx?sig=old"), tmp_path / "out.fbx", refresh_url=lambda: "")


def test_not_found_is_permanent_and_leaves_nothing(stub, tmp_path):
    dest = tmp_path / "gone.fbx"
    partial_path(dest).write_bytes(b"stale bytes")
    with pytest.raises(NotFoundError):
        download_file(stub.url("/files/gone.fbx"), dest, retry=fast_retry())
    assert _files(tmp_path) == []
    assert len(stub.requests_to("/files/gone.fbx")) == 1


def test_retries_exhausted_keep_the_resumable_part(stub, tmp_path, payload):
    stub.state.files["out.fbx"] = payload
    stub.state.drop_after = [0, 0, 0, 0, 0, 0]
    stub.state.fail_statuses = []
    dest = tmp_path / "out.fbx"
    partial_path(dest).write_bytes(payload[:1000])
    with pytest.raises(NetworkError):
        download_file(stub.url("/files/out.fbx"), dest, retry=fast_retry(3))
    assert partial_path(dest).read_bytes() == payload[:1000] and not dest.exists()
    stub.state.drop_after = []
    download_file(stub.url("/files/out.fbx"), dest)
    assert dest.read_bytes() == payload


def test_size_mismatch_against_expected_size_deletes_the_part(stub, tmp_path, payload):
    from move_mocap.core.api import TransferError

    stub.state.files["out.fbx"] = payload
    with pytest.raises(TransferError, match="expected"):
        download_file(stub.url("/files/out.fbx"), tmp_path / "out.fbx", expected_size=SIZE + 1)
    assert _files(tmp_path) == []


def test_download_retries_server_errors(stub, tmp_path, payload):
    stub.state.files["out.fbx"] = payload
    stub.state.fail_statuses = [500, 429]
    download_file(stub.url("/files/out.fbx"), tmp_path / "out.fbx", retry=fast_retry())
    assert (tmp_path / "out.fbx").read_bytes() == payload


def test_download_cancel_keeps_part(stub, tmp_path, payload):
    stub.state.files["out.fbx"] = payload
    dest = tmp_path / "out.fbx"
    seen = []

    def cancel():
        seen.append(1)
        return len(seen) > 1

    with pytest.raises(TransferCancelledError):
        download_file(stub.url("/files/out.fbx"), dest, should_cancel=cancel, chunk_size=64 * 1024)
    assert not dest.exists() and partial_path(dest).exists()
