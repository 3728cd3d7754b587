"""Every GraphQL document the Move API client can send, in one place.

The contract tests validate each document here against upstream's schema (``introspection.json``), so
operation names, argument names and types, and selected fields must be upstream's exactly. Documents use
plain selections (no named fragments) built from the shared field lists below. Nothing here performs I/O;
no bpy.
"""

from __future__ import annotations

from dataclasses import dataclass

CLIENT_FIELDS = "id name created metadata portal"
FILE_FIELDS = "id type name created metadata presignedUrl thumbnailUrl"
OUTPUT_FIELDS = f"key format file {{ {FILE_FIELDS} }}"
PROGRESS_FIELDS = "progress { state percentageComplete }"
CLIP_WINDOW_FIELDS = "clipWindow { startTime endTime }"
SOURCE_FIELDS = "deviceLabel format cameraSettings { lens } file { id type name created metadata }"
JOB_INPUT_FIELDS = (
    f"inputs {{ numberOfActors {CLIP_WINDOW_FIELDS} "
    "options { floorPlane mocapModel trackBall trackFingers trackJerseyNumbers } }"
)
JOB_SUMMARY_FIELDS = f"id name created metadata state {PROGRESS_FIELDS} take {{ id }}"
JOB_FIELDS = f"{JOB_SUMMARY_FIELDS} {JOB_INPUT_FIELDS} rig {{ name }} outputs {{ {OUTPUT_FIELDS} }}"
TAKE_FIELDS = (
    f"id name created metadata takeType sources {{ {SOURCE_FIELDS} }} "
    "syncMethod { clapWindow { startTime endTime } timecodeSync { useTimecode } } "
    f"videoFile {{ {FILE_FIELDS} }} additionalFiles {{ {OUTPUT_FIELDS} }} "
    "volume { ... on HumanVolume { __typename id } }"
)
HUMAN_VOLUME_FIELDS = (
    f"__typename id name created metadata areaType humanHeight state {PROGRESS_FIELDS} "
    f"{CLIP_WINDOW_FIELDS} outputs {{ {OUTPUT_FIELDS} }} sources {{ {SOURCE_FIELDS} }}"
)
VOLUME_FIELDS = f"... on HumanVolume {{ {HUMAN_VOLUME_FIELDS} }}"
PAGE = "first after items {{ {} }}"


@dataclass(frozen=True)
class Operation:
    """One GraphQL operation. ``root`` is the field of ``data`` holding the answer.

    ``idempotent`` says whether re-sending the same document after a lost answer is safe; a create
    mutation is not (a second send may create a second resource), so it is never re-sent blindly.
    """

    name: str
    document: str
    idempotent: bool

    @property
    def root(self) -> str:
        return self.name

    @property
    def is_mutation(self) -> bool:
        return self.document.lstrip().startswith("mutation")


def _op(kind: str, name: str, params: str, args: str, selection: str, *, idempotent: bool) -> Operation:
    header = f"{kind} {name}({params})" if params else f"{kind} {name}"
    call = f"{name}({args})" if args else name
    return Operation(name, f"{header} {{\n  {call} {{ {selection} }}\n}}\n", idempotent)


CLIENT = _op("query", "client", "", "", CLIENT_FIELDS, idempotent=True)

CREATE_FILE = _op(
    "mutation", "createFile", "$type: String!, $name: String, $metadata: AWSJSON",
    "type: $type, name: $name, metadata: $metadata", FILE_FIELDS, idempotent=False,
)
GET_FILE = _op("query", "getFile", "$fileId: ID!", "fileId: $fileId", FILE_FIELDS, idempotent=True)

CREATE_SINGLE_CAM_TAKE = _op(
    "mutation", "createSingleCamTake", "$sources: [SourceInput!], $name: String, $metadata: AWSJSON",
    "sources: $sources, name: $name, metadata: $metadata", TAKE_FIELDS, idempotent=False,
)
CREATE_MULTI_CAM_TAKE = _op(
    "mutation", "createMultiCamTake",
    "$volumeId: String!, $sources: [SourceInput!], $syncMethod: SyncMethodInput, $name: String, "
    "$metadata: AWSJSON",
    "volumeId: $volumeId, sources: $sources, syncMethod: $syncMethod, name: $name, metadata: $metadata",
    TAKE_FIELDS, idempotent=False,
)
GET_TAKE = _op("query", "getTake", "$takeId: ID!", "takeId: $takeId", TAKE_FIELDS, idempotent=True)
LIST_TAKES = _op(
    "query", "listTakes", "$first: Int, $after: AWSJSON, $sortDirection: SortDirection",
    "first: $first, after: $after, sortDirection: $sortDirection",
    PAGE.format(TAKE_FIELDS), idempotent=True,
)

CREATE_SINGLE_CAM_JOB = _op(
    "mutation", "createSingleCamJob",
    "$takeId: String!, $options: OptionsInput, $outputs: [OutputType], $clipWindow: ClipWindowInput, "
    "$name: String, $metadata: AWSJSON",
    "takeId: $takeId, options: $options, outputs: $outputs, clipWindow: $clipWindow, name: $name, "
    "metadata: $metadata",
    JOB_FIELDS, idempotent=False,
)
CREATE_MULTI_CAM_JOB = _op(
    "mutation", "createMultiCamJob",
    "$takeId: String!, $numberOfActors: Int, $rig: String, $options: OptionsInput, $outputs: [OutputType], "
    "$clipWindow: ClipWindowInput, $name: String, $metadata: AWSJSON",
    "takeId: $takeId, numberOfActors: $numberOfActors, rig: $rig, options: $options, outputs: $outputs, "
    "clipWindow: $clipWindow, name: $name, metadata: $metadata",
    JOB_FIELDS, idempotent=False,
)
GET_JOB = _op("query", "getJob", "$jobId: ID!", "jobId: $jobId", JOB_FIELDS, idempotent=True)
LIST_JOBS = _op(
    "query", "listJobs", "$first: Int, $after: AWSJSON, $sortDirection: SortDirection, $takeId: String",
    "first: $first, after: $after, sortDirection: $sortDirection, takeId: $takeId",
    PAGE.format(JOB_SUMMARY_FIELDS), idempotent=True,
)
# Updating a job sets fields to given values: sending it twice leaves the same state.
UPDATE_JOB = _op(
    "mutation", "updateJob", "$id: String!, $name: String, $metadata: AWSJSON",
    "id: $id, name: $name, metadata: $metadata", JOB_FIELDS, idempotent=True,
)

LIST_RIGS = _op("query", "listRigs", "", "", PAGE.format("name"), idempotent=True)
LIST_CAMERA_SETTINGS = _op("query", "listCameraSettings", "", "", PAGE.format("lens"), idempotent=True)

CREATE_VOLUME_WITH_HUMAN = _op(
    "mutation", "createVolumeWithHuman",
    "$sources: [SourceInput!], $humanHeight: Float!, $areaType: AreaType!, $clipWindow: ClipWindowInput, "
    "$syncMethod: SyncMethodInput, $name: String, $metadata: AWSJSON",
    "sources: $sources, humanHeight: $humanHeight, areaType: $areaType, clipWindow: $clipWindow, "
    "syncMethod: $syncMethod, name: $name, metadata: $metadata",
    HUMAN_VOLUME_FIELDS, idempotent=False,
)
GET_VOLUME = _op("query", "getVolume", "$id: ID!", "id: $id", VOLUME_FIELDS, idempotent=True)
LIST_VOLUMES = _op(
    "query", "listVolumes", "$first: Int, $after: AWSJSON, $sortDirection: SortDirection",
    "first: $first, after: $after, sortDirection: $sortDirection",
    PAGE.format(VOLUME_FIELDS), idempotent=True,
)

# A second share code for the same file is harmless (each code is one-time), so a lost answer is re-sent.
GENERATE_SHARE_CODE = _op(
    "mutation", "generateShareCode", "$fileId: String!", "fileId: $fileId",
    f"code created expires url file {{ {FILE_FIELDS} }}", idempotent=True,
)
# An upsert keyed by uid: repeating it converges on the same endpoint.
UPSERT_WEBHOOK_ENDPOINT = _op(
    "mutation", "upsertWebhookEndpoint",
    "$uid: String!, $url: String!, $events: [String!], $secret: String, $description: String, "
    "$metadata: AWSJSON",
    "uid: $uid, url: $url, events: $events, secret: $secret, description: $description, metadata: $metadata",
    "uid url events secret description metadata client { id }", idempotent=True,
)

ALL: tuple[Operation, ...] = (
    CLIENT, CREATE_FILE, GET_FILE, CREATE_SINGLE_CAM_TAKE, CREATE_MULTI_CAM_TAKE, GET_TAKE, LIST_TAKES,
    CREATE_SINGLE_CAM_JOB, CREATE_MULTI_CAM_JOB, GET_JOB, LIST_JOBS, UPDATE_JOB, LIST_RIGS,
    LIST_CAMERA_SETTINGS, CREATE_VOLUME_WITH_HUMAN, GET_VOLUME, LIST_VOLUMES, GENERATE_SHARE_CODE,
    UPSERT_WEBHOOK_ENDPOINT,
)
BY_NAME: dict[str, Operation] = {op.name: op for op in ALL}
