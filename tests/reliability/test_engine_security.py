"""The local engine's security rules, filling what tests/local_engine leaves open: it listens on loopback
unless told otherwise, every GraphQL and fault route wants the key, storage wants a signature for that very
method and object (and refuses it after expiry), names cannot smuggle paths or header breaks anywhere, and a
malformed-answer fault rule is validated. Checked from outside, against the running server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from tests.fixtures.local_server import DEFAULT_MOTION
from tests.local_engine.flows import make_take, ok, upload

ROOT = Path(__file__).resolve().parents[2]


def _listening(port: int) -> set[str]:
    """Local addresses with a TCP socket listening on ``port`` (from /proc/net/tcp and tcp6)."""
    found: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            addr, hexport = local.split(":")
            if state == "0A" and int(hexport, 16) == port:
                found.add(addr)
    return found


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs /proc/net/tcp")
def test_default_bind_is_loopback_only(tmp_path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "local_engine", "serve", "--port", str(port), "--data",
                             str(tmp_path / "d"), "--api-key", "k" * 16, "--motion", str(DEFAULT_MOTION),
                             "--log-level", "warning"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not _listening(port):
            time.sleep(0.1)
        assert _listening(port) == {"0100007F"}  # 127.0.0.1, and nothing else (no 0.0.0.0, no ::)
    finally:
        proc.terminate()
        proc.wait(10)


def test_every_keyed_route_refuses_without_the_key(local_server) -> None:
    base = local_server.base_url
    for headers in ({}, {"Authorization": "wrong"}, {"Authorization": f"Bearer {local_server.api_key}"}):
        r = requests.post(f"{base}/ugc/graphql", json={"query": "{ client { id } }"}, headers=headers, timeout=10)
        assert r.status_code == 401 and r.json()["errors"][0]["errorType"] == "UnauthorizedException"
        for method in ("GET", "POST", "DELETE"):
            assert requests.request(method, f"{base}/_faults", json={"faults": []}, headers=headers,
                                    timeout=10).status_code == 401
    assert local_server.api_key not in local_server.log()


def test_storage_needs_a_signature_for_that_method_and_object(local_server) -> None:
    file_id = upload(local_server)
    url = ok(local_server.graphql(f'{{ getFile(fileId: "{file_id}") {{ presignedUrl }} }}'))["getFile"]["presignedUrl"]
    bare = local_server.base_url + urlsplit(url).path
    for method in ("GET", "PUT", "HEAD"):
        r = requests.request(method, bare, data=b"x" if method == "PUT" else None, timeout=10)
        assert r.status_code == 403, (method, r.status_code)
    assert requests.get(url, timeout=10).status_code == 200
    # the key is not a substitute for a signature
    assert requests.get(bare, headers=local_server.headers(), timeout=10).status_code == 403
    query = dict(p.split("=", 1) for p in urlsplit(url).query.split("&"))
    assert int(query["X-Move-Expires"]) > time.time()  # URLs carry an expiry


@pytest.mark.parametrize("name", ["../../etc/passwd", "a/b", "x\\y", "a\r\nX-Injected: 1", ".."])
def test_path_like_names_are_refused_in_every_named_input(local_server, name) -> None:
    file_id = upload(local_server)
    take_id = make_take(local_server, upload(local_server))
    cases = {
        "take name": ('mutation($f: String!, $n: String) { createSingleCamTake(sources: [{deviceLabel: "cam0", '
                      'fileId: $f, format: MP4}], name: $n) { id } }', {"f": file_id, "n": name}),
        "deviceLabel": ('mutation($f: String!, $n: String!) { createSingleCamTake(sources: [{deviceLabel: $n, '
                        'fileId: $f, format: MP4}]) { id } }', {"f": file_id, "n": name}),
        "job name": ('mutation($t: String!, $n: String) { createSingleCamJob(takeId: $t, name: $n) { id } }',
                     {"t": take_id, "n": name}),
        "webhook uid": ('mutation($u: String!) { upsertWebhookEndpoint(uid: $u, url: "https://example.com/h") '
                        '{ uid } }', {"u": name}),
    }
    for what, (query, variables) in cases.items():
        body = local_server.graphql(query, variables)
        assert body.get("errors"), (what, body)
        assert body["errors"][0]["errorType"] in ("MoveValidationError", "ValidationError"), (what, body)
    # nothing was written outside the data folder's id-named files
    names = {p.name for p in (local_server.data_dir / "files").iterdir()}
    assert all(n.startswith(("file-", ".file-")) for n in names)


def test_malformed_fault_rules_are_validated(local_server) -> None:
    r = requests.post(f"{local_server.base_url}/_faults", headers=local_server.headers(), timeout=10,
                      json={"faults": [{"kind": "malformed", "variant": "nonsense"}]})
    assert r.status_code == 400 and "variant" in r.json()["message"]


# -- issue 12: a hostile request costs the engine little, and never a 500 ------------------------------------------
def _limit_error(body: dict) -> str:
    assert body["data"] is None, body
    (err,) = body["errors"]
    assert err["errorType"] == "ValidationError", err
    return err["message"]


def _post_query(server, query: str, timeout: float = 60) -> requests.Response:
    return requests.post(server.url, json={"query": query}, headers=server.headers(), timeout=timeout)


HUGE_FIELDS = "{ client { " + "id " * 150_000 + "} }"
HUGE_ALIASES = "{ " + " ".join(f"a{i}: client {{ id }}" for i in range(10_000)) + " }"


@pytest.mark.parametrize("query, words", [
    (HUGE_FIELDS, "100000 characters"),
    (HUGE_ALIASES, "100000 characters"),
    ("{ client { " + "id " * 12_000 + "} }", "more than 10000 tokens"),
    ("{ client { " + "id " * 2_500 + "} }", "many fields"),
    ("{ " + " ".join(f"a{i}: client {{ id }}" for i in range(150)) + " }", "many aliases"),
    ("{ " + "a { " * 20 + "b" + " }" * 20 + " }", "deep"),
    # a fragment bomb: each fragment spreads the one below twice (2^20 fields once expanded)
    ("query { client { ...F0 } } " + " ".join(f"fragment F{i} on Client {{ ...F{i + 1} ...F{i + 1} }}"
                                              for i in range(20)) + " fragment F20 on Client { id }", "many fields"),
])
def test_costly_queries_get_a_graphql_error_naming_the_limit(local_server, query, words) -> None:
    r = _post_query(local_server, query)
    assert r.status_code == 200
    assert words in _limit_error(r.json())
    assert ok(local_server.graphql("{ client { id } }"))["client"]["id"]  # and the server is fine


def test_other_routes_answer_while_big_queries_arrive(local_server) -> None:
    """Parsing happens off the event loop: /_health answers while large documents are being dealt with (before,
    a 150k-field query held every route for seconds)."""
    import threading

    answers: list[int] = []

    def hammer() -> None:
        for q in (HUGE_FIELDS, HUGE_ALIASES, HUGE_FIELDS):
            answers.append(_post_query(local_server, q).status_code)

    workers = [threading.Thread(target=hammer) for _ in range(4)]
    for w in workers:
        w.start()
    health = []
    while any(w.is_alive() for w in workers):
        health.append(requests.get(f"{local_server.base_url}/_health", timeout=5).status_code)
    for w in workers:
        w.join()
    assert answers == [200] * 12
    assert health and set(health) == {200}


def test_the_limits_leave_room_for_real_clients() -> None:
    """The standard introspection query (what gql and Move's SDK send first) and the add-on's largest queries
    pass the limits."""
    import json

    from graphql import DocumentNode, get_introspection_query

    from local_engine.graphql_limits import prepare
    from local_engine.schema import build_schema

    schema = build_schema()
    for query in (get_introspection_query(descriptions=True),
                  get_introspection_query(descriptions=True, input_value_deprecation=True)):
        _, document = prepare(schema, json.dumps({"query": query}).encode())
        assert isinstance(document, DocumentNode), document


@pytest.mark.parametrize("body", [b"[" * 200_000, b'{"query": ' + b"[" * 200_000 + b"]" * 200_000 + b"}",
                                  b'{"query": "{ client { id } }", "variables": ' + b'{"a":' * 100_000 + b"1"
                                  + b"}" * 100_001])
def test_deeply_nested_json_is_a_400_not_a_500(local_server, body) -> None:
    r = requests.post(local_server.url, data=body, headers={**local_server.headers(),
                                                              "Content-Type": "application/json"}, timeout=30)
    assert r.status_code == 400, r.text[:200]
    assert "nested too deeply" in r.json()["errors"][0]["message"]
    faults = requests.post(f"{local_server.base_url}/_faults", data=b"[" * 200_000, headers=local_server.headers(),
                           timeout=30)
    assert faults.status_code == 400


def test_oversized_graphql_body_is_refused_unread(local_server) -> None:
    r = requests.post(local_server.url, data=b" " * (2 * 1024 * 1024), headers=local_server.headers(), timeout=30)
    assert r.status_code == 413 and r.json()["errors"][0]["errorType"] == "PayloadTooLarge"


@pytest.mark.parametrize("field, value", [("X-Move-Signature", "é" * 64), ("X-Move-Signature", "签名"),
                                          ("X-Move-Method", "GÉT")])
def test_non_ascii_signature_is_a_403(local_server, field, value) -> None:
    file_id = upload(local_server)
    url = ok(local_server.graphql(f'{{ getFile(fileId: "{file_id}") {{ presignedUrl }} }}'))["getFile"]["presignedUrl"]
    parts = urlsplit(url)
    query = dict(p.split("=", 1) for p in parts.query.split("&"))
    query[field] = value
    r = requests.get(f"{local_server.base_url}{parts.path}", params=query, timeout=10)
    assert r.status_code == 403 and b"AccessDenied" in r.content


def test_hung_solver_fails_its_job_and_the_worker_goes_on(local_server_factory) -> None:
    from tests.local_engine.flows import make_job, wait_job

    server = local_server_factory(extra_args=["--job-timeout", "3"])
    server.set_faults([{"kind": "hang_job", "delay": 3600}])
    take = make_take(server)
    hung = make_job(server, take, outputs=["MOTION_DATA"])
    after = make_job(server, take, outputs=["MOTION_DATA"])
    failed = wait_job(server, hung["id"], timeout=60)
    assert failed["progress"]["state"] == "FAILED"
    import json as _json

    reason = _json.loads(failed["metadata"])["error"]
    assert "job timeout of 3 s" in reason and "--job-timeout" in reason
    assert wait_job(server, after["id"], timeout=120)["progress"]["state"] == "FINISHED"
    assert server.fault_report()["faults"][0]["hits"] == 1


def test_idle_upload_is_dropped_with_408_and_leaves_nothing(local_server_factory) -> None:
    server = local_server_factory(extra_args=["--upload-idle-timeout", "1"])
    created = ok(server.graphql('mutation { createFile(type: "mp4") { id presignedUrl } }'))["createFile"]
    parts = urlsplit(created["presignedUrl"])
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as s:
        s.sendall(f"PUT {parts.path}?{parts.query} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n"
                  .encode() + b"x" * 10)
        answer = b""  # nothing more is sent: the server must give up on its own
        while b"</Error>" not in answer:
            chunk = s.recv(4096)
            if not chunk:
                break
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b"RequestTimeout" in answer
    assert not [p for p in (server.data_dir / "files").iterdir() if p.name.endswith(".part")]
    assert requests.put(created["presignedUrl"], data=b"y" * 1000, timeout=30).status_code == 200


def test_failure_messages_do_not_show_the_engines_paths(local_server_factory, tmp_path) -> None:
    from tests.local_engine.flows import make_job, wait_job

    motion = tmp_path / "motion-dir" / "replayed.bvh"
    motion.parent.mkdir()
    motion.write_bytes(DEFAULT_MOTION.read_bytes())
    server = local_server_factory(motion=motion)
    motion.unlink()
    motion.mkdir()  # the motion file is now a directory: reading it fails with an OSError that names its path
    job = wait_job(server, make_job(server, make_take(server), outputs=["MOTION_DATA"])["id"], timeout=60)
    assert job["progress"]["state"] == "FAILED"
    import json as _json

    reason = _json.loads(job["metadata"])["error"]
    assert "replayed.bvh" in reason  # the file is still named, so the message is useful
    for secret in (str(tmp_path), str(server.data_dir), str(ROOT)):
        assert secret not in reason
    assert "/" not in reason.replace("--", "")
