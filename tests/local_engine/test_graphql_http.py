"""GraphQL operations through real HTTP against the server subprocess (requests only)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import requests

from .flows import FILE, get_job, make_job, make_take, ok, upload

RESPONSES = Path(__file__).resolve().parents[3] / "shared" / "move_api" / "responses"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"


def test_missing_and_wrong_key_are_refused_like_appsync(local_server):
    for headers in ({}, {"Authorization": "wrong"}, {"Authorization": f"Bearer {local_server.api_key}"}):
        r = requests.post(local_server.url, json={"query": "{ client { id } }"}, headers=headers, timeout=10)
        assert r.status_code == 401
        err = r.json()["errors"][0]
        assert err["errorType"] == "UnauthorizedException" and err["message"]
    assert "errors" not in local_server.graphql("{ client { id } }")


def test_client_and_ids_are_shaped_like_upstream(local_server):
    client = ok(local_server.graphql("{ client { id name created metadata portal } }"))["client"]
    assert re.fullmatch(f"client-{UUID}", client["id"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", client["created"])
    f = ok(local_server.graphql(f'mutation {{ createFile(type: "mp4", name: "clip.mp4", metadata: "{{\\"a\\": 1}}") {{ {FILE} }} }}'))
    f = f["createFile"]
    assert re.fullmatch(f"file-{UUID}", f["id"])
    assert f["type"] == ".mp4"  # as upstream's file response writes it
    assert json.loads(f["metadata"]) == {"a": 1}
    assert "X-Move-Method=PUT" in f["presignedUrl"]
    # Before the bytes arrive the file's URL is a download URL (never null: Move's SDK requires one) that answers
    # 404 NoSuchKey, as an S3 URL does.
    url = ok(local_server.graphql(f'{{ getFile(fileId: "{f["id"]}") {{ presignedUrl }} }}'))["getFile"]["presignedUrl"]
    assert "X-Move-Method=GET" in url
    early = requests.get(url, timeout=10)
    assert early.status_code == 404 and b"NoSuchKey" in early.content


@pytest.mark.parametrize("op, field", [("getFile(fileId: \"file-00000000-0000-4000-8000-000000000000\")", "getFile"),
                                       ("getJob(jobId: \"job-nope\")", "getJob"),
                                       ("getTake(takeId: \"take-nope\")", "getTake")])
def test_not_found_matches_upstream_error_shape(local_server, op, field):
    body = local_server.graphql(f"query {{ {op} {{ id }} }}")
    assert body["data"] is None
    (err,) = body["errors"]
    upstream = RESPONSES / "job_job_not_found.json"
    if upstream.exists():
        (ref,) = json.loads(upstream.read_text())
        assert set(err) == set(ref)
        assert err["errorType"] == ref["errorType"] and err["message"] == ref["message"]
        assert set(err["locations"][0]) == set(ref["locations"][0])
    assert err["path"] == [field]


def test_invalid_query_and_invalid_json_are_errors(local_server):
    body = local_server.graphql("{ getJob { id } }")  # missing required argument
    assert body["errors"][0]["errorType"] == "ValidationError"
    body = local_server.graphql('mutation { createFile(type: "mp4", metadata: "{not json") { id } }')
    assert body["errors"]
    r = requests.post(local_server.url, data=b"{", headers=local_server.headers(), timeout=10)
    assert r.status_code == 400


def test_take_needs_an_uploaded_file(local_server):
    f = ok(local_server.graphql('mutation { createFile(type: "mp4") { id } }'))["createFile"]["id"]
    q = 'mutation($f: String!) { createSingleCamTake(sources: [{deviceLabel: "cam", fileId: $f, format: MP4}]) { id } }'
    err = local_server.graphql(q, {"f": f})["errors"][0]
    assert err["errorType"] == "MoveValidationError" and "not been uploaded" in err["message"]
    take_id = make_take(local_server)
    take = ok(local_server.graphql(
        f'{{ getTake(takeId: "{take_id}") {{ id takeType client {{ id }} videoFile {{ id type presignedUrl }} '
        'sources { deviceLabel format file { id } } } }'))["getTake"]
    assert take["takeType"] == "SINGLE_CAM" and take["sources"][0]["format"] == "MP4"
    assert "X-Move-Method=GET" in take["videoFile"]["presignedUrl"]


def test_list_jobs_pages_and_filters_by_take(local_server):
    take_a, take_b = make_take(local_server), make_take(local_server)
    ids_a = [make_job(local_server, take_a, ["MOTION_DATA"])["id"] for _ in range(3)]
    id_b = make_job(local_server, take_b, ["MOTION_DATA"])["id"]
    q = ("query($f: Int, $a: AWSJSON, $t: String, $s: SortDirection) { listJobs(first: $f, after: $a, takeId: $t, "
         "sortDirection: $s) { first after items { id take { id } } } }")
    seen, after = [], None
    while True:
        page = ok(local_server.graphql(q, {"f": 2, "a": after, "t": take_a, "s": "ASC"}))["listJobs"]
        assert page["first"] == 2 and len(page["items"]) <= 2
        seen += [j["id"] for j in page["items"]]
        after = page["after"]
        if after is None:
            break
    assert seen == ids_a
    everything = ok(local_server.graphql(q, {"f": 10}))["listJobs"]
    assert [j["id"] for j in everything["items"]] == [id_b, *reversed(ids_a)]  # newest first by default
    takes = ok(local_server.graphql("{ listTakes(first: 1) { after items { id } } }"))["listTakes"]
    assert takes["items"][0]["id"] == take_b and takes["after"]


def test_update_job_metadata_and_name(local_server):
    job = make_job(local_server, make_take(local_server), ["MOTION_DATA"], metadata='{"x": 1}')
    assert json.loads(job["metadata"]) == {"x": 1}
    q = 'mutation($i: String!) { updateJob(id: $i, metadata: "{\\"y\\": 2}", name: "walk") { id name metadata } }'
    updated = ok(local_server.graphql(q, {"i": job["id"]}))["updateJob"]
    assert updated["name"] == "walk" and json.loads(updated["metadata"]) == {"y": 2}
    assert json.loads(get_job(local_server, job["id"])["metadata"]) == {"y": 2}


def test_rigs_camera_settings_volumes(local_server):
    rigs = ok(local_server.graphql("{ listRigs { items { name } } }"))["listRigs"]["items"]
    assert {"name": "move_mo"} in rigs  # the rig name of upstream's rig response
    lenses = ok(local_server.graphql("{ listCameraSettings { items { lens } } }"))["listCameraSettings"]["items"]
    assert lenses and all(item["lens"] for item in lenses)
    a, b = upload(local_server), upload(local_server)
    q = ('mutation($a: String!, $b: String!) { createVolumeWithHuman(humanHeight: 1.75, areaType: NORMAL, '
         'sources: [{deviceLabel: "a", fileId: $a, format: MP4}, {deviceLabel: "b", fileId: $b, format: MP4}], '
         'clipWindow: {startTime: 0, endTime: 5}) { id state humanHeight areaType progress { state } } }')
    vol = ok(local_server.graphql(q, {"a": a, "b": b}))["createVolumeWithHuman"]
    assert vol["id"].startswith("volume-") and vol["areaType"] == "NORMAL"
    got = ok(local_server.graphql(f'{{ getVolume(id: "{vol["id"]}") {{ ... on HumanVolume {{ id humanHeight }} }} }}'))
    assert got["getVolume"] == {"id": vol["id"], "humanHeight": 1.75}
    listed = ok(local_server.graphql("{ listVolumes { items { ... on HumanVolume { id } } } }"))["listVolumes"]
    assert listed["items"] == [{"id": vol["id"]}]
    q = ('mutation($v: String!, $a: String!, $b: String!) { createMultiCamTake(volumeId: $v, sources: '
         '[{deviceLabel: "a", fileId: $a, format: MP4}, {deviceLabel: "b", fileId: $b, format: MP4}]) '
         '{ id takeType volume { ... on HumanVolume { id } } } }')
    take = ok(local_server.graphql(q, {"v": vol["id"], "a": a, "b": b}))["createMultiCamTake"]
    assert take["takeType"] == "MULTI_CAM" and take["volume"]["id"] == vol["id"]


def test_share_code_is_exchanged_once_for_a_download_url(local_server):
    fid = upload(local_server, b"fbx bytes")
    code = ok(local_server.graphql(f'mutation {{ generateShareCode(fileId: "{fid}") {{ code url expires file {{ id }} }} }}'))
    code = code["generateShareCode"]
    assert re.fullmatch(r"\d{8}", code["code"]) and code["file"]["id"] == fid
    r = requests.get(f"{local_server.base_url}/ugc/file/download", params={"code": code["code"]}, timeout=10)
    assert r.status_code == 200
    assert requests.get(r.json()["url"], timeout=10).content == b"fbx bytes"
    again = requests.get(f"{local_server.base_url}/ugc/file/download", params={"code": code["code"]}, timeout=10)
    assert again.status_code == 404


def test_webhook_endpoint_upsert(local_server):
    q = ('mutation { upsertWebhookEndpoint(uid: "hook1", url: "http://127.0.0.1:9/hook", '
         'events: ["ugc.job.state.completed"]) { uid url events secret client { id } } }')
    first = ok(local_server.graphql(q))["upsertWebhookEndpoint"]
    assert first["secret"].startswith("whsec_") and first["events"] == ["ugc.job.state.completed"]
    again = ok(local_server.graphql(q.replace("hook\"", "hook2\"")))["upsertWebhookEndpoint"]
    assert again["secret"] == first["secret"] and again["url"].endswith("/hook2")


@pytest.mark.parametrize("name", ["../../etc/passwd", "a/b.mp4", "..", "x\\\\y", "a\r\nSet-Cookie: x"])
def test_path_like_names_are_refused(local_server, name):
    body = local_server.graphql("mutation($n: String) { createFile(type: \"mp4\", name: $n) { id } }", {"n": name})
    assert body["errors"][0]["errorType"] == "MoveValidationError"
    body = local_server.graphql("mutation { createFile(type: \"../mp4\") { id } }")
    assert body["errors"][0]["errorType"] == "MoveValidationError"


def test_unsupported_output_is_refused_clearly(local_server):
    take = make_take(local_server)
    q = 'mutation($t: String!) { createSingleCamJob(takeId: $t, outputs: [ALL_C3D]) { id } }'
    err = local_server.graphql(q, {"t": take})["errors"][0]
    assert err["errorType"] == "MoveValidationError" and "ALL_C3D" in err["message"]


def test_empty_and_missing_names_and_metadata_come_back_as_move_sends_them(local_server):
    """Move's SDK sends ``name: ""`` by default and its models require a string name and a JSON-string
    metadata: "" is accepted (path-like names are still refused, see test_engine_security), and a missing name
    or metadata is answered as "" and "{}"."""
    named = ok(local_server.graphql(f'mutation {{ createFile(type: "mp4", name: "") {{ {FILE} }} }}'))["createFile"]
    assert named["name"] == "" and named["metadata"] == "{}"
    bare = ok(local_server.graphql(f'mutation {{ createFile(type: "mp4") {{ {FILE} }} }}'))["createFile"]
    assert bare["name"] == "" and bare["metadata"] == "{}"
    take_id = make_take(local_server)
    take = ok(local_server.graphql('query($t: ID!) { getTake(takeId: $t) { name metadata } }', {"t": take_id}))
    assert take["getTake"] == {"name": "", "metadata": "{}"}
    refused = local_server.graphql('mutation { createFile(type: "mp4", name: "..") { id } }')
    assert refused["errors"][0]["errorType"] == "MoveValidationError"
