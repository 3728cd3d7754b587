"""Plain-requests helpers for the local engine tests: upload a file, make a take, run a job and wait."""

from __future__ import annotations

import time
from typing import Any

import requests

FILE = "id type presignedUrl name metadata created"
JOB = "id state metadata created progress { state percentageComplete } outputs { key format file { id type presignedUrl } }"


def ok(response: dict[str, Any]) -> dict[str, Any]:
    assert "errors" not in response or not response["errors"], response
    return response["data"]


def upload(server, content: bytes = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 4096, ext: str = "mp4") -> str:
    created = ok(server.graphql(f'mutation {{ createFile(type: "{ext}") {{ {FILE} }} }}'))["createFile"]
    r = requests.put(created["presignedUrl"], data=content, timeout=30)
    assert r.status_code == 200, r.text
    return created["id"]


def make_take(server, file_id: str | None = None) -> str:
    file_id = file_id or upload(server)
    q = 'mutation($f: String!) { createSingleCamTake(sources: [{deviceLabel: "cam0", fileId: $f, format: MP4}]) { id } }'
    return ok(server.graphql(q, {"f": file_id}))["createSingleCamTake"]["id"]


def make_job(server, take_id: str, outputs: list[str] | None = None, clip: tuple[float, float] | None = (0.0, 1.0),
             metadata: str | None = None) -> dict[str, Any]:
    q = ("mutation($t: String!, $o: [OutputType], $c: ClipWindowInput, $m: AWSJSON) { createSingleCamJob(takeId: $t, "
         f"outputs: $o, clipWindow: $c, metadata: $m) {{ {JOB} }} }}")
    variables = {"t": take_id, "o": outputs, "m": metadata,
                 "c": {"startTime": clip[0], "endTime": clip[1]} if clip else None}
    return ok(server.graphql(q, variables))["createSingleCamJob"]


def get_job(server, job_id: str) -> dict[str, Any]:
    return ok(server.graphql(f"query($j: ID!) {{ getJob(jobId: $j) {{ {JOB} }} }}", {"j": job_id}))["getJob"]


def wait_job(server, job_id: str, timeout: float = 120.0, seen: list | None = None) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = get_job(server, job_id)
        if seen is not None:
            seen.append((job["progress"]["state"], job["progress"]["percentageComplete"]))
        if job["progress"]["state"] in ("FINISHED", "FAILED"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish in {timeout} s; server log:\n{server.log()}")
