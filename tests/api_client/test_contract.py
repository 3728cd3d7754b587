"""Contract tests: every GraphQL document the client can send validates against upstream's schema, every
client method's variables are accepted by a server executing that schema, and the models read upstream's
real response shapes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from graphql import parse, validate

from move_mocap.core.api import (
    HumanVolume,
    Job,
    JobState,
    MalformedResponseError,
    MoveValidationError,
    NotFoundError,
    OutputType,
    SourceInput,
    graphql_error_from,
)
from move_mocap.core.api import models as m
from move_mocap.core.api import operations as ops

from .conftest import SchemaExecutor, deep

REQUIRED = {
    "client", "createFile", "getFile", "createSingleCamTake", "createMultiCamTake", "getTake", "listTakes",
    "createSingleCamJob", "createMultiCamJob", "getJob", "listJobs", "updateJob", "listRigs",
    "listCameraSettings", "createVolumeWithHuman", "getVolume", "listVolumes", "generateShareCode",
    "upsertWebhookEndpoint",
}


@pytest.mark.parametrize("operation", ops.ALL, ids=lambda op: op.name)
def test_document_validates_against_upstream_schema(schema, operation):
    document = parse(operation.document)
    assert validate(schema, document) == []
    definition = document.definitions[0]
    assert definition.name.value == operation.name
    root = schema.mutation_type if operation.is_mutation else schema.query_type
    assert operation.root in root.fields


def test_all_required_operations_exist_and_creates_are_not_idempotent():
    assert set(ops.BY_NAME) >= REQUIRED
    for op in ops.ALL:
        if op.name.startswith("create"):
            assert not op.idempotent, op.name
        if not op.is_mutation:
            assert op.idempotent, op.name


def test_a_broken_document_is_caught(schema):
    # negative control: the validation above really checks field and argument names
    bad = ops.GET_JOB.document.replace("percentageComplete", "percentComplete")
    assert validate(schema, parse(bad))
    bad_arg = ops.GET_JOB.document.replace("jobId: $jobId", "id: $jobId")
    assert validate(schema, parse(bad_arg))


# --------------------------------------------------------------------------- real responses and models


def test_models_read_real_responses(responses):
    job = m.parse_model(Job, responses["job_fake_job"])
    assert job.id.startswith("job-") and job.job_state is JobState.RUNNING and job.percentage_complete == 50
    assert job.inputs.clip_window.end_time == 10 and job.inputs.options.track_ball is True
    assert job.metadata == {}
    take = m.parse_model(m.Take, responses["take_fake_take"])
    assert take.created.year == 2023
    file = m.parse_model(m.File, responses["file_fake_file"])
    assert file.type == ".mp4" and file.presigned_url.startswith("https://")
    volume = m.parse_model(HumanVolume, responses["volume_fake_volume"])
    assert volume.area_type is m.AreaType.NORMAL and volume.state is JobState.RUNNING
    assert volume.human_height == 1.5 and volume.clip_window.start_time == 0
    assert m.parse_model(m.Rig, responses["rig_fake_rig"]).name == "move_mo"
    assert m.parse_model(m.CameraSettings, responses["camera_settings_fake_camera_settings"]).lens
    account = m.parse_model(m.Client, responses["client_fake_client_type"])
    assert account.metadata == {"foo": "bar"} and account.created.tzinfo is not None
    hook = m.parse_model(m.WebhookEndpoint, responses["webhooks_fake_webhook_endpoint"])
    assert hook.secret.get_secret_value() == "PYTEST_INVALID_SECRET"
    assert "PYTEST_INVALID_SECRET" not in repr(hook) and "PYTEST_INVALID_SECRET" not in str(hook)


@pytest.mark.parametrize("name, root", [("job_job_not_found", "getJob"), ("file_file_not_found", "getFile")])
def test_real_not_found_errors_map_to_not_found(responses, name, root):
    error = graphql_error_from(responses[name][0], operation=root)
    assert isinstance(error, NotFoundError)
    assert "Resource not found" in str(error) and root in str(error)


def test_presigned_urls_stay_out_of_model_repr(responses):
    file = m.parse_model(m.File, responses["file_fake_file"])
    assert "PYTEST_INVALID_PRESIGNED_URL" not in repr(file)
    account = m.parse_model(m.Client, responses["client_fake_client_type"])
    assert "#key" not in repr(account)


# ------------------------------------------------------------- every client method against the schema


@pytest.fixture
def executor(schema, responses):
    file = deep(responses["file_fake_file"])
    account = deep(responses["client_fake_client_type"])
    source = {"deviceLabel": "cam01", "format": "MP4", "cameraSettings": {"lens": "iphone-wide"}, "file": file}
    take = {**deep(responses["take_fake_take"]), "takeType": "SINGLE_CAM", "sources": [source], "client": account,
            "videoFile": file, "additionalFiles": [], "syncMethod": None, "volume": None}
    output = {"key": "main_fbx", "format": "fbx", "file": file}
    job = {**deep(responses["job_fake_job"]), "client": account, "outputs": [output], "take": take,
           "rig": deep(responses["rig_fake_rig"])}
    volume = {**deep(responses["volume_fake_volume"]), "client": account, "sources": [source, source],
              "outputs": [output]}
    hook = deep(responses["webhooks_fake_webhook_endpoint"])
    seen: dict[str, dict[str, Any]] = {}

    def rec(name: str, value: Any):
        def resolve(_info, **args):
            seen[name] = args
            return value
        return resolve

    def page(items):
        return {"items": items, "first": len(items), "after": None}

    root = {
        "client": rec("client", account),
        "createFile": rec("createFile", file), "getFile": rec("getFile", file),
        "createSingleCamTake": rec("createSingleCamTake", take),
        "createMultiCamTake": rec("createMultiCamTake", {**take, "takeType": "MULTI_CAM"}),
        "getTake": rec("getTake", take), "listTakes": rec("listTakes", page([take])),
        "createSingleCamJob": rec("createSingleCamJob", job), "createMultiCamJob": rec("createMultiCamJob", job),
        "getJob": rec("getJob", job), "listJobs": rec("listJobs", page([job])), "updateJob": rec("updateJob", job),
        "listRigs": rec("listRigs", page([deep(responses["rig_fake_rig"])])),
        "listCameraSettings": rec("listCameraSettings",
                                  page([deep(responses["camera_settings_fake_camera_settings"])])),
        "createVolumeWithHuman": rec("createVolumeWithHuman", volume), "getVolume": rec("getVolume", volume),
        "listVolumes": rec("listVolumes", page([volume])),
        "generateShareCode": rec("generateShareCode", {"code": "12345678", "created": "2024-01-01T00:00:00Z",
                                                       "expires": "2024-01-02T00:00:00Z",
                                                       "url": "https://x.example/f?sig=1", "file": file}),
        "upsertWebhookEndpoint": rec("upsertWebhookEndpoint", hook),
    }
    ex = SchemaExecutor(schema, root)
    ex.seen = seen  # type: ignore[attr-defined]
    return ex


def test_every_client_method_is_accepted_by_the_schema(stub, make_client, executor):
    stub.state.graphql_handler = executor
    client = make_client()
    seen = executor.seen
    src = SourceInput(device_label="cam01", file_id="file-1")

    assert client.get_client().name == "PYTEST_INVALID_CLIENT_NAME"
    assert client.create_file(".MP4", name="clip.mp4", metadata={"app": "move_mocap"}).id.startswith("file-")
    assert seen["createFile"]["type"] == "mp4" and json.loads(seen["createFile"]["metadata"]) == {"app": "move_mocap"}
    assert client.get_file("file-1").type == ".mp4"
    take = client.create_single_cam_take(src, name="t", metadata={"tag": "x"})
    assert take.sources[0].format is m.SourceFormat.MP4
    assert seen["createSingleCamTake"]["sources"] == [{"deviceLabel": "cam01", "fileId": "file-1", "format": "MP4"}]
    client.create_multi_cam_take("volume-1", [src, client.source("file-2", "cam02", "b.mov", lens="l")],
                                 sync_method={"clap_window": {"start_time": 1, "end_time": 2}})
    assert seen["createMultiCamTake"]["syncMethod"] == {"clapWindow": {"startTime": 1.0, "endTime": 2.0}}
    assert seen["createMultiCamTake"]["sources"][1]["format"] == "MOV"
    assert client.get_take("take-1").take_type is m.TakeType.SINGLE_CAM
    assert len(client.list_takes(first=5, sort_direction="desc").items) == 1
    assert seen["listTakes"] == {"first": 5, "sortDirection": "DESC"}

    job = client.create_single_cam_job(
        "take-1", options={"mocap_model": "S2", "track_fingers": True, "track_ball": False, "floor_plane": True},
        outputs=[OutputType.MAIN_FBX, "motion_data"], clip_window=(0, 5.5), name="j", metadata={"run": "r1"},
    )
    assert job.output_url("MAIN_FBX")
    args = seen["createSingleCamJob"]
    assert args["options"] == {"mocapModel": "S2", "trackFingers": True, "trackBall": False, "floorPlane": True}
    assert args["outputs"] == ["MAIN_FBX", "MOTION_DATA"]
    assert args["clipWindow"] == {"startTime": 0.0, "endTime": 5.5}
    client.create_multi_cam_job("take-2", number_of_actors=2, rig="move_mo", options={"mocapModel": "M2"})
    assert seen["createMultiCamJob"]["numberOfActors"] == 2 and seen["createMultiCamJob"]["rig"] == "move_mo"
    assert client.get_job("job-1").progress.percentage_complete == 50
    page = client.list_jobs(first=10, take_id="take-1")
    assert page.items[0].id.startswith("job-") and seen["listJobs"]["takeId"] == "take-1"
    assert client.update_job("job-1", metadata={"k": 1}).id
    assert seen["updateJob"] == {"id": "job-1", "metadata": '{"k":1}'}
    assert client.list_rigs().items[0].name == "move_mo"
    assert client.list_camera_settings().items[0].lens == "blackmagic-ursa-4k-24mm"
    volume = client.create_volume_with_human([src, src], human_height=1.8, area_type="large", clip_window=(0, 3))
    assert seen["createVolumeWithHuman"]["areaType"] == "LARGE" and volume.id.startswith("volume-")
    assert client.get_volume("volume-1").area_type is m.AreaType.NORMAL
    assert client.list_volumes(first=1).items[0].typename == "HumanVolume"
    assert client.generate_share_code("file-1").code == "12345678"
    hook = client.upsert_webhook_endpoint("uid-1", "https://example.org/hook",
                                          events=["ugc.job.state.completed"], secret="whsec_abc")
    assert hook.uid == "PYTEST_INVALID_UID"

    assert {c[0] for c in executor.calls} == REQUIRED
    assert all(not c[2] for c in executor.calls), [c for c in executor.calls if c[2]]


def test_schema_rejections_reach_the_caller_as_validation_errors(stub, make_client, executor):
    stub.state.graphql_handler = executor
    client = make_client()
    with pytest.raises(MoveValidationError) as info:
        client.execute(ops.CREATE_SINGLE_CAM_JOB, {"takeId": "t", "outputs": ["MAIN_FBXX"]})
    assert "MAIN_FBXX" in info.value.server_message


def test_client_side_validation_happens_before_sending(stub, make_client, executor):
    stub.state.graphql_handler = executor
    client = make_client()
    with pytest.raises(MoveValidationError, match="mocapModel M1 is not a single-camera"):
        client.create_single_cam_job("t", options={"mocap_model": "M1"})
    with pytest.raises(MoveValidationError, match="Unknown output type"):
        client.create_single_cam_job("t", outputs=["fbx_please"])
    with pytest.raises(MoveValidationError, match="endTime must be after"):
        client.create_single_cam_job("t", clip_window=(5, 1))
    with pytest.raises(MoveValidationError, match="at least two cameras"):
        client.create_volume_with_human([SourceInput(device_label="a", file_id="f")], human_height=1.7)
    assert executor.calls == []


def test_unknown_enum_and_wrong_types_are_malformed(responses):
    job = deep(responses["job_fake_job"])
    job["progress"]["state"] = "EXPLODED"
    with pytest.raises(MalformedResponseError, match=r"progress\.state"):
        m.parse_model(Job, job, operation="getJob")
    job = deep(responses["job_fake_job"])
    job["progress"]["percentageComplete"] = "half"
    with pytest.raises(MalformedResponseError, match=r"percentage_?[cC]omplete"):
        m.parse_model(Job, job)
    volume = deep(responses["volume_fake_volume"])
    volume["areaType"] = "HUGE"
    with pytest.raises(MalformedResponseError):
        m.parse_model(HumanVolume, volume)
    bad_json = deep(responses["take_fake_take"])
    bad_json["metadata"] = "{not json"
    with pytest.raises(MalformedResponseError, match="AWSJSON"):
        m.parse_model(m.Take, bad_json)


def test_models_tolerate_extra_fields_and_nanoseconds(responses):
    job = {**deep(responses["job_fake_job"]), "brandNewField": {"x": 1}, "created": "2024-05-01T10:00:00.123456789Z"}
    parsed = m.parse_model(Job, job)
    assert parsed.created.microsecond == 123456
