"""Fault injection behaviours, through real HTTP: deterministic counts per route, then normal service."""

from __future__ import annotations

import json
import time

import pytest
import requests

from .flows import FILE, ok, upload

Q = "{ client { id } }"
BROKEN = (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError)


def _post(server, query=Q):
    return requests.post(server.url, json={"query": query}, headers=server.headers(), timeout=30)


def test_5xx_burst_then_recovery_with_exact_counts(local_server):
    local_server.set_faults([{"route": "graphql", "kind": "status", "status": 503, "count": 2}])
    assert [_post(local_server).status_code for _ in range(3)] == [503, 503, 200]
    report = local_server.fault_report()
    assert report["faults"][0]["hits"] == 2 and report["requests"]["graphql"] == 3


def test_skip_and_operation_filters(local_server):
    local_server.set_faults([{"route": "graphql", "kind": "status", "status": 500, "skip": 1, "count": 1,
                              "operation": "getFile"}])
    assert _post(local_server).status_code == 200  # another operation
    get = '{ getFile(fileId: "file-x") { id } }'
    assert [_post(local_server, get).status_code for _ in range(3)] == [200, 500, 200]


def test_rate_limit_has_retry_after(local_server):
    local_server.set_faults([{"route": "graphql", "kind": "rate_limit", "retry_after": 2}])
    r = _post(local_server)
    assert r.status_code == 429 and r.headers["Retry-After"] == "2"
    assert _post(local_server).status_code == 200


def test_slow_response(local_server):
    local_server.set_faults([{"route": "graphql", "kind": "slow", "delay": 0.6}])
    t = time.monotonic()
    assert _post(local_server).status_code == 200
    assert time.monotonic() - t >= 0.6
    t = time.monotonic()
    _post(local_server)
    assert time.monotonic() - t < 0.5


def test_graphql_error_and_truncated_body(local_server):
    local_server.set_faults([{"route": "graphql", "kind": "graphql_error", "error_type": "MoveThrottledError",
                              "message": "try later"},
                             {"route": "graphql", "kind": "truncate", "count": 1}])
    body = _post(local_server).json()
    assert body["data"] is None and body["errors"][0]["errorType"] == "MoveThrottledError"
    assert body["errors"][0]["path"] == ["client"]
    r = _post(local_server)
    assert r.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.content)
    assert "client" in _post(local_server).json()["data"]


def test_graphql_connection_reset(local_server):
    local_server.set_faults([{"route": "graphql", "kind": "reset", "after_bytes": 5}])
    with pytest.raises(BROKEN):
        _post(local_server)
    assert _post(local_server).status_code == 200


def test_reset_mid_upload_keeps_nothing_and_retry_works(local_server):
    created = ok(local_server.graphql(f'mutation {{ createFile(type: "mp4") {{ {FILE} }} }}'))["createFile"]
    local_server.set_faults([{"route": "upload", "kind": "reset", "after_bytes": 1 << 20}])
    data = b"v" * (8 << 20)
    with pytest.raises(BROKEN):
        requests.put(created["presignedUrl"], data=data, timeout=30)
    got = ok(local_server.graphql(f'{{ getFile(fileId: "{created["id"]}") {{ presignedUrl }} }}'))["getFile"]
    assert requests.get(got["presignedUrl"], timeout=10).status_code == 404  # not uploaded
    assert not list((local_server.data_dir / "files").iterdir())
    assert requests.put(created["presignedUrl"], data=data, timeout=30).status_code == 200
    assert local_server.fault_report()["requests"]["upload"] == 2


@pytest.mark.parametrize("kind", ["reset", "truncate"])
def test_cut_download_then_resume_with_range(local_server, kind):
    data = bytes(range(256)) * 4096  # 1 MiB
    fid = upload(local_server, data)
    url = ok(local_server.graphql(f'{{ getFile(fileId: "{fid}") {{ presignedUrl }} }}'))["getFile"]["presignedUrl"]
    local_server.set_faults([{"route": "download", "kind": kind, "after_bytes": 300_000}])
    received = bytearray()
    with pytest.raises(BROKEN), requests.get(url, stream=True, timeout=30) as r:
        assert r.status_code == 200 and r.headers["Content-Length"] == str(len(data))
        for chunk in r.iter_content(65536):  # reading the body is what fails
            received += chunk
    assert 0 < len(received) <= 300_000
    rest = requests.get(url, headers={"Range": f"bytes={len(received)}-"}, timeout=30)
    assert rest.status_code == 206
    assert bytes(received) + rest.content == data


def test_expired_urls_on_demand(local_server):
    fid = upload(local_server, b"abc")
    q = f'{{ getFile(fileId: "{fid}") {{ presignedUrl }} }}'
    local_server.set_faults([{"route": "graphql", "kind": "expire_url", "operation": "getFile"}])
    stale = ok(local_server.graphql(q))["getFile"]["presignedUrl"]
    r = requests.get(stale, timeout=10)
    assert r.status_code == 403 and "expired" in r.text
    assert requests.get(ok(local_server.graphql(q))["getFile"]["presignedUrl"], timeout=10).content == b"abc"
    # Refusing a valid URL as expired, at the storage route.
    local_server.set_faults([{"route": "download", "kind": "expire_url"}])
    url = ok(local_server.graphql(q))["getFile"]["presignedUrl"]
    assert requests.get(url, timeout=10).status_code == 403
    assert requests.get(url, timeout=10).status_code == 200


def test_faults_endpoint_needs_the_key_and_validates(local_server):
    assert requests.get(f"{local_server.base_url}/_faults", timeout=10).status_code == 401
    r = requests.post(f"{local_server.base_url}/_faults", json={"faults": [{"kind": "explode"}]},
                      headers=local_server.headers(), timeout=10)
    assert r.status_code == 400
    local_server.set_faults([{"route": "graphql", "kind": "status"}])
    local_server.set_faults([{"route": "upload", "kind": "status"}], append=True)
    assert len(local_server.fault_report()["faults"]) == 2
    assert local_server.clear_faults()["faults"] == []


def test_faults_from_the_command_line(local_server_factory):
    server = local_server_factory(faults=[{"route": "graphql", "kind": "status", "status": 502, "count": 1}])
    assert [_post(server).status_code for _ in range(2)] == [502, 200]
