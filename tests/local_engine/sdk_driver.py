"""Drives every service method of Move's own Python SDK (move-ugc-python) against an engine, as a customer would.

Runs in the SDK's own environment (``.venv/move-sdk/bin/python``: gql and graphql-core 3.2), never in the
Blender venvs, and imports nothing from this project. Usage::

    MOVE_UGC_ENDPOINT_URL=http://127.0.0.1:PORT/ugc/graphql python sdk_driver.py API_KEY VIDEO OUT_DIR

The endpoint comes from ``MOVE_UGC_ENDPOINT_URL`` for the main client and from ``endpoint_url=`` for a second
one. Prints one JSON object: ``results`` (each method's answer as the SDK's pydantic model dumps it),
``called`` (``service.method`` names exercised), ``methods`` (every public method the SDK's services define),
and ``downloads`` (each job output fetched from its presigned URL: key, format, size, first bytes in hex).
Checking is the pytest side's job (tests/local_engine/test_sdk_conformance.py); this only records.
"""

from __future__ import annotations

import inspect
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import requests
from gql import gql
from move_ugc import MoveUgc
from move_ugc.schemas.commons import ListBase, ListBaseItems, SortDirection
from move_ugc.schemas.job import ClipWindow, JobOptions
from move_ugc.schemas.sources import CameraSettings, SourceIn
from move_ugc.schemas.sync_method import ClapWindowInput, SyncMethodInput
from move_ugc.schemas.volume import AreaType
from move_ugc.services.base import BaseService

SINGLE_OUTPUTS = ["MAIN_FBX", "MAIN_BLEND", "MAIN_GLB", "MAIN_USDC", "MAIN_USDZ", "ALL_BVH", "MOTION_DATA"]
MULTI_OUTPUTS = ["ALL_BVH", "MOTION_DATA"]
JOB_TIMEOUT_S = 600.0


def dump(model: Any) -> Any:
    if isinstance(model, list):
        return [dump(m) for m in model]
    return model.model_dump(mode="json")


def sdk_methods(ugc: MoveUgc) -> list[str]:
    names = []
    for service in ("client", "files", "takes", "jobs", "volumes", "rigs", "camera_settings", "webhooks"):
        cls = type(getattr(ugc, service))
        for name, _ in inspect.getmembers(cls, inspect.isfunction):
            if not name.startswith("_") and not hasattr(BaseService, name):
                names.append(f"{service}.{name}")
    return sorted(names)


def main() -> None:
    api_key, video, out_dir = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    out_dir.mkdir(parents=True, exist_ok=True)
    endpoint = os.environ["MOVE_UGC_ENDPOINT_URL"]
    ugc = MoveUgc(api_key=api_key)  # endpoint from MOVE_UGC_ENDPOINT_URL
    explicit = MoveUgc(api_key=api_key, endpoint_url=endpoint)
    called: set[str] = set()
    results: dict[str, Any] = {"endpoint_from_env": str(ugc.endpoint_url)}

    def call(label: str, method: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        called.add(method)
        got = fn(*args, **kwargs)
        if isinstance(got, ListBase):
            results[label] = {"items": dump(got.items), "limit": got.limit, "next_token": got.next_token}
        elif isinstance(got, ListBaseItems):
            results[label] = {"items": dump(got.items)}
        else:
            results[label] = dump(got)
        return got

    # client
    call("client.retrieve", "client.retrieve", explicit.client.retrieve)
    call("client.update", "client.update", ugc.client.update, metadata={"team": "conformance"})

    # files: the SDK's defaults (name "", metadata {}), then a named one; upload with a plain PUT
    content = video.read_bytes()
    files = []
    for i in range(3):
        f = call(f"files.create.{i}", "files.create", ugc.files.create, file_type="mp4",
                 **({} if i == 0 else {"name": f"cam{i}.mp4", "metadata": {"n": i}, "expand": ["client"]}))
        put = requests.put(str(f.presigned_url), data=content, timeout=120)
        results[f"upload.{i}"] = put.status_code
        files.append(f)
    call("files.retrieve", "files.retrieve", ugc.files.retrieve, id=files[0].id, expand=["client"])
    call("files.update", "files.update", ugc.files.update, id=files[0].id, name="renamed.mp4",
         metadata={"edited": True})
    share = call("files.generate_share_code", "files.generate_share_code", ugc.files.generate_share_code,
                 file_id=files[0].id)
    exchanged = requests.get(str(share.url), timeout=30)
    fetched = requests.get(exchanged.json()["url"], timeout=120) if exchanged.ok else None
    results["share_code.exchange"] = {"status": exchanged.status_code,
                                      "same_bytes": fetched is not None and fetched.content == content}

    # takes: single camera (three, for pagination), retrieve, update, list in two pages
    src = SourceIn(device_label="cam0", file_id=files[0].id, format="MP4")
    takes = [call(f"takes.create_singlecam.{i}", "takes.create_singlecam", ugc.takes.create_singlecam,
                  sources=[src], **({} if i == 0 else {"name": f"take {i}", "metadata": {"i": i},
                                                        "expand": ["sources", "client"]}))
             for i in range(3)]
    call("takes.retrieve", "takes.retrieve", ugc.takes.retrieve, id=takes[0].id, expand=["sources", "client"])
    call("takes.update", "takes.update", ugc.takes.update, id=takes[0].id, name="take renamed",
         metadata={"edited": True})
    page1 = call("takes.list.page1", "takes.list", ugc.takes.list, limit=2)
    call("takes.list.page2", "takes.list", ugc.takes.list, limit=2, next_token=page1.next_token)
    call("takes.list.asc", "takes.list", ugc.takes.list, limit=10, sort_by=SortDirection.ASC)

    # volumes: with a human, two cameras with lenses, a clap window
    lens = CameraSettings(lens="iphone-main-wide")
    multi_sources = [SourceIn(device_label=f"cam{i}", file_id=files[i].id, format="MP4", camera_settings=lens)
                     for i in (1, 2)]
    sync = SyncMethodInput(clap_window=ClapWindowInput(start_time=0.0, end_time=1.0))
    volume = call("volumes.create_human_volume", "volumes.create_human_volume", ugc.volumes.create_human_volume,
                  sources=multi_sources, human_height=1.75, area_type=AreaType.NORMAL, sync_method=sync,
                  metadata={"room": "studio"}, clip_window=ClipWindow(start_time=0.0, end_time=2.0),
                  expand=["client", "sources", "clipWindow"])
    call("volumes.retrieve_human_volume", "volumes.retrieve_human_volume", ugc.volumes.retrieve_human_volume,
         id=volume.id, expand=["client", "sources", "outputs"])
    call("volumes.list", "volumes.list", ugc.volumes.list, limit=5)

    multi_take = call("takes.create_multicam", "takes.create_multicam", ugc.takes.create_multicam,
                      sources=multi_sources, volume_id=volume.id, name="multi", sync_method=sync,
                      metadata={"kind": "multi"}, expand=["sources", "client"])
    # Not expand=["volume"]: the SDK's volume fragment does not ask for `progress`, which its own HumanVolumeType
    # requires, so that expansion fails whatever the server answers (against Move's cloud too).

    # The SDK's Source model drops cameraSettings (it reads the Python name); ask through its own gql client.
    raw = ugc.ugc_api.execute(gql("query($id: ID!) { getTake(takeId: $id) { sources { deviceLabel cameraSettings "
                                  "{ lens } } } }"), variable_values={"id": multi_take.id})
    results["gql.multicam_sources"] = raw["getTake"]["sources"]

    # rigs and camera settings
    call("rigs.list", "rigs.list", ugc.rigs.list)
    call("camera_settings.list", "camera_settings.list", ugc.camera_settings.list)

    # jobs: single and multi camera, run to the end, retrieve with expand, list, update
    single = call("jobs.create_singlecam", "jobs.create_singlecam", ugc.jobs.create_singlecam,
                  take_id=takes[0].id, outputs=SINGLE_OUTPUTS, metadata={"run": "single"},
                  options=JobOptions(trackFingers=True), clip_window=ClipWindow(start_time=0.0, end_time=1.0),
                  expand=["client", "take", "outputs", "inputs"])
    multi = call("jobs.create_multicam", "jobs.create_multicam", ugc.jobs.create_multicam,
                 take_id=multi_take.id, number_of_actors=1, outputs=MULTI_OUTPUTS, rig="move_mo",
                 metadata={"run": "multi"}, expand=["client", "take", "outputs", "rig"])
    polls = 0
    for job in (single, multi):
        deadline = time.monotonic() + JOB_TIMEOUT_S
        while True:
            got = ugc.jobs.retrieve(id=job.id)
            polls += 1
            if got.progress.state in ("FINISHED", "FAILED") or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    results["polls"] = polls
    downloads = []
    for label, job in (("single", single), ("multi", multi)):
        done = call(f"jobs.retrieve.{label}", "jobs.retrieve", ugc.jobs.retrieve, id=job.id,
                    expand=["outputs", "take", "client", "rig", "inputs"])
        for output in done.outputs or []:
            r = requests.get(str(output.file.presigned_url), timeout=300)
            path = out_dir / f"{label}-{output.file.id}.{output.format}"
            path.write_bytes(r.content)
            downloads.append({"job": label, "format": output.format, "file_type": output.file.type,
                              "status": r.status_code, "size": len(r.content), "head": r.content[:32].hex()})
    results["downloads"] = downloads
    jobs_page1 = call("jobs.list.page1", "jobs.list", ugc.jobs.list, limit=1)
    call("jobs.list.page2", "jobs.list", ugc.jobs.list, limit=1, next_token=jobs_page1.next_token)
    call("jobs.list.by_take", "jobs.list", ugc.jobs.list, take_id=takes[0].id)
    call("jobs.update", "jobs.update", ugc.jobs.update, id=single.id, name="renamed job", metadata={"edited": True})

    # webhooks: create, then update the same uid (the SDK has upsert only)
    hook = call("webhooks.upsert.create", "webhooks.upsert", ugc.webhooks.upsert,
                events=["ugc.job.state.completed"], uid="conformance-hook", url="https://example.com/hook",
                description="first", secret="whsec_conformance")
    again = call("webhooks.upsert.update", "webhooks.upsert", ugc.webhooks.upsert,
                 events=["ugc.job.state.completed", "ugc.job.state.failed"], uid="conformance-hook",
                 url="https://example.com/hook2")
    results["webhooks.secrets"] = [h.secret.get_secret_value() if h.secret else None for h in (hook, again)]

    print(json.dumps({"results": results, "called": sorted(called), "methods": sdk_methods(ugc)}))


if __name__ == "__main__":
    main()
