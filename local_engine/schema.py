"""The GraphQL side of the server: the SDL file, the resolvers and AppSync-style error shapes.

Resolvers read and write the Store and enqueue jobs; they never run a solver or touch bpy. Errors meant
for the client are MoveError subclasses and come out as upstream's AppSync error objects
(``errorType``, ``message``, ``path``, ``locations``, ``data``, ``errorInfo``).
"""

from __future__ import annotations

import json
import re
import secrets
import time
from pathlib import Path
from typing import Any

from ariadne import MutationType, ObjectType, QueryType, ScalarType, UnionType, make_executable_schema
from graphql import DirectiveDefinitionNode, GraphQLError, parse

from .messages import public_message
from .signing import presign

SCHEMA_PATH = Path(__file__).with_name("schema.graphql")
NOT_FOUND_MESSAGE = "Resource not found in move-ugc-api."
DEFAULT_PAGE = 50
MAX_PAGE = 100
SHARE_CODE_TTL = 600.0
# Upstream's defaults when a job names no outputs (Move's docs), restricted to what the engine makes.
UPSTREAM_DEFAULT_OUTPUTS = ("RENDER_VIDEO", "MAIN_FBX", "MAIN_USDC", "MAIN_USDZ", "MAIN_BLEND", "MOTION_DATA",
                            "RENDER_OVERLAY_VIDEO")
RIGS = ("move_mo", "move_ve")
CAMERA_LENSES = ("iphone-main-wide", "blackmagic-ursa-4k-24mm")
_SAFE_NAME = re.compile(r"^[^/\\\x00-\x1f\x7f]{0,255}$")  # empty is allowed, as upstream (the SDK sends "")
_EXT = re.compile(r"^\.?([A-Za-z0-9]{1,10})$")


class MoveError(Exception):
    error_type = "MoveError"

    def __init__(self, message: str, error_type: str | None = None) -> None:
        super().__init__(message)
        if error_type:
            self.error_type = error_type


class MoveNotFoundError(MoveError):
    error_type = "MoveNotFoundError"

    def __init__(self, message: str = NOT_FOUND_MESSAGE) -> None:
        super().__init__(message)


class MoveValidationError(MoveError):
    error_type = "MoveValidationError"


def format_error(error: GraphQLError, debug: bool = False) -> dict[str, Any]:
    """An AppSync-shaped error object (compare responses/*_not_found.json)."""
    original = error.original_error
    if isinstance(original, MoveError):
        error_type, message = original.error_type, str(original)
    elif original is None:
        error_type, message = "ValidationError", error.message  # parse/validation errors, as AppSync names them
    else:
        error_type, message = "InternalFailure", public_message(f"Internal error: {original}")
    return {
        "path": list(error.path) if error.path else None,
        "data": None,
        "errorType": error_type,
        "errorInfo": None,
        "locations": [{"line": loc.line, "column": loc.column, "sourceName": None} for loc in error.locations or []],
        "message": message,
    }


def safe_name(name: str | None, what: str = "name") -> str | None:
    """Refuse names that could act as paths (separators, '..', NUL), whatever they are used for. ``""`` is fine."""
    if name is None:
        return None
    if not _SAFE_NAME.match(name) or name in (".", "..") or ".." in re.split(r"[/\\]", name) or name.startswith(".."):
        raise MoveValidationError(f"Invalid {what} {name!r}: names must not contain path separators or '..'")
    return name


def file_extension(type_: str) -> str:
    match = _EXT.match(type_ or "")
    if not match:
        raise MoveValidationError(f"Invalid file type {type_!r}: expected an extension such as 'mp4'")
    return match.group(1).lower()


# -- scalars -------------------------------------------------------------------------------------------------
aws_json = ScalarType("AWSJSON")


@aws_json.serializer
def _serialize_json(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


@aws_json.value_parser
def _parse_json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"Invalid AWSJSON: {exc}") from None
    return value


# -- helpers -------------------------------------------------------------------------------------------------
def _state(info: Any) -> Any:
    return info.context["state"]


def _paging(first: int | None, after: Any) -> tuple[int, int | None]:
    if first is not None and (first < 1 or first > MAX_PAGE):
        raise MoveValidationError(f"first must be between 1 and {MAX_PAGE}")
    cursor = None
    if after is not None:
        if not isinstance(after, dict) or not isinstance(after.get("seq"), int):
            raise MoveValidationError("Invalid after token: pass back the 'after' of the previous page")
        cursor = after["seq"]
    return first or DEFAULT_PAGE, cursor


def _page(state: Any, kind: str, first: int | None, after: Any, sort: str | None, parent: str | None = None):
    n, cursor = _paging(first, after)
    items, nxt = state.store.page(kind, n, cursor, descending=(sort or "DESC") == "DESC", parent=parent)
    return {"items": items, "first": n, "after": {"seq": nxt} if nxt is not None else None}


def _get(state: Any, kind: str, obj_id: str) -> dict[str, Any]:
    obj = state.store.get(kind, obj_id) if obj_id else None
    if obj is None:
        raise MoveNotFoundError()
    return obj


def _sources(state: Any, sources: list[dict[str, Any]] | None, need: int) -> list[dict[str, Any]]:
    sources = sources or []
    if len(sources) < need:
        raise MoveValidationError(f"At least {need} source(s) required, got {len(sources)}")
    out = []
    for s in sources:
        f = state.store.get("file", s["fileId"])
        if f is None:
            raise MoveValidationError(f"File {s['fileId']} does not exist")
        if not f.get("uploaded"):
            raise MoveValidationError(f"File {s['fileId']} has not been uploaded yet")
        safe_name(s["deviceLabel"], "deviceLabel")
        out.append({"deviceLabel": s["deviceLabel"], "fileId": s["fileId"], "format": s["format"],
                    "cameraSettings": s.get("cameraSettings")})
    labels = [s["deviceLabel"] for s in out]
    if len(set(labels)) != len(labels):
        raise MoveValidationError("deviceLabel must be unique within a take")
    return out


def _clip(clip: dict[str, Any] | None) -> dict[str, float] | None:
    if clip is None:
        return None
    if not (0 <= clip["startTime"] < clip["endTime"]):
        raise MoveValidationError("clipWindow: startTime must be >= 0 and before endTime")
    return {"startTime": float(clip["startTime"]), "endTime": float(clip["endTime"])}


# -- queries -------------------------------------------------------------------------------------------------
query = QueryType()
mutation = MutationType()


@query.field("client")
def r_client(_, info):
    return _state(info).client(info.context["base_url"])


@query.field("getFile")
def r_get_file(_, info, fileId):
    return _get(_state(info), "file", fileId)


@query.field("getTake")
def r_get_take(_, info, takeId):
    return _get(_state(info), "take", takeId)


@query.field("getJob")
def r_get_job(_, info, jobId):
    return _get(_state(info), "job", jobId)


@query.field("getVolume")
def r_get_volume(_, info, id):
    return _get(_state(info), "volume", id)


@query.field("listTakes")
def r_list_takes(_, info, first=None, after=None, sortDirection=None):
    return _page(_state(info), "take", first, after, sortDirection)


@query.field("listJobs")
def r_list_jobs(_, info, first=None, after=None, sortDirection=None, takeId=None):
    return _page(_state(info), "job", first, after, sortDirection, parent=takeId)


@query.field("listVolumes")
def r_list_volumes(_, info, first=None, after=None, sortDirection=None):
    return _page(_state(info), "volume", first, after, sortDirection)


@query.field("listRigs")
def r_list_rigs(_, info):
    return {"items": [{"name": n} for n in RIGS], "first": len(RIGS), "after": None}


@query.field("listCameraSettings")
def r_list_camera_settings(_, info):
    return {"items": [{"lens": n} for n in CAMERA_LENSES], "first": len(CAMERA_LENSES), "after": None}


# -- mutations -----------------------------------------------------------------------------------------------
@mutation.field("createFile")
def r_create_file(_, info, type, metadata=None, name=None):
    ext = file_extension(type)
    doc = _state(info).store.insert(
        "file", {"type": f".{ext}", "name": safe_name(name), "metadata": metadata, "uploaded": False, "size": None}
    )
    return {**doc, "_upload": True}


@mutation.field("createSingleCamTake")
def r_create_single_take(_, info, sources=None, metadata=None, name=None):
    state = _state(info)
    srcs = _sources(state, sources, 1)
    if len(srcs) != 1:
        raise MoveValidationError("A single-camera take needs exactly one source")
    return state.store.insert("take", {"takeType": "SINGLE_CAM", "sources": srcs, "metadata": metadata,
                                       "name": safe_name(name), "syncMethod": None, "volumeId": None})


@mutation.field("createMultiCamTake")
def r_create_multi_take(_, info, volumeId, sources=None, syncMethod=None, metadata=None, name=None):
    state = _state(info)
    _get(state, "volume", volumeId)
    srcs = _sources(state, sources, 2)
    return state.store.insert("take", {"takeType": "MULTI_CAM", "sources": srcs, "metadata": metadata,
                                       "name": safe_name(name), "syncMethod": syncMethod, "volumeId": volumeId})


def _create_job(info, takeId, clipWindow, metadata, name, options, outputs, actors, rig, take_type):
    state = _state(info)
    take = state.store.get("take", takeId)
    if take is None:
        raise MoveNotFoundError()
    if take["takeType"] != take_type:
        raise MoveValidationError(f"Take {takeId} is a {take['takeType']} take")
    supported = state.supported_outputs()
    if outputs:
        unsupported = [o for o in outputs if o not in supported]
        if unsupported:
            why = sorted({reason for o in unsupported if (reason := state.unavailable_outputs().get(o))})
            raise MoveValidationError(
                f"Outputs not produced by this server: {', '.join(unsupported)} (available: {', '.join(sorted(supported))})"
                + (f": {'; '.join(why)}" if why else "")
            )
        wanted = list(dict.fromkeys(outputs))
    else:
        wanted = [o for o in UPSTREAM_DEFAULT_OUTPUTS if o in supported]
    if actors is not None and not 1 <= actors <= 10:
        raise MoveValidationError("numberOfActors must be between 1 and 10")
    if rig is not None and rig not in RIGS:
        raise MoveValidationError(f"Unknown rig {rig!r}; listRigs names the available ones")
    doc = state.store.insert(
        "job",
        {
            "takeId": takeId,
            "name": safe_name(name),
            "metadata": metadata,
            "inputs": {"clipWindow": _clip(clipWindow), "numberOfActors": actors or 1, "options": options or {}},
            "requestedOutputs": wanted,
            "rig": {"name": rig or RIGS[0]},
            "state": "NOT_STARTED",
            "percentageComplete": 0,
            "outputs": [],
            "error": None,
        },
        parent=takeId,
    )
    state.enqueue_job(doc["id"])
    return doc


@mutation.field("createSingleCamJob")
def r_create_single_job(_, info, takeId, clipWindow=None, metadata=None, name=None, options=None, outputs=None):
    return _create_job(info, takeId, clipWindow, metadata, name, options, outputs, None, None, "SINGLE_CAM")


@mutation.field("createMultiCamJob")
def r_create_multi_job(_, info, takeId, clipWindow=None, metadata=None, name=None, numberOfActors=None,
                       options=None, outputs=None, rig=None):
    return _create_job(info, takeId, clipWindow, metadata, name, options, outputs, numberOfActors, rig, "MULTI_CAM")


@mutation.field("updateJob")
def r_update_job(_, info, id, metadata=None, name=None):
    return _update_named(info, "job", id, metadata, name)


def _update_named(info, kind: str, obj_id: str, metadata: Any, name: str | None) -> dict[str, Any]:
    state = _state(info)
    obj = _get(state, kind, obj_id)
    changes: dict[str, Any] = {}
    if metadata is not None:
        changes["metadata"] = metadata
    if name is not None:
        changes["name"] = safe_name(name)
    return state.store.update(kind, obj["id"], **changes) if changes else obj


@mutation.field("updateFile")
def r_update_file(_, info, id, metadata=None, name=None):
    return _update_named(info, "file", id, metadata, name)


@mutation.field("updateTake")
def r_update_take(_, info, id, metadata=None, name=None):
    return _update_named(info, "take", id, metadata, name)


@mutation.field("updateClient")
def r_update_client(_, info, metadata):
    state = _state(info)
    state.set_client_metadata(metadata)
    return state.client(info.context["base_url"])


@mutation.field("createVolumeWithHuman")
def r_create_volume(_, info, humanHeight, areaType, clipWindow=None, sources=None, syncMethod=None,
                    metadata=None, name=None):
    state = _state(info)
    srcs = _sources(state, sources, 2)
    if not 0.5 <= humanHeight <= 2.6:
        raise MoveValidationError("humanHeight must be in metres, between 0.5 and 2.6")
    from .volumes import needs_processing

    # Calibrated in the background (local_engine.volumes) from the person or a calibration file among the
    # sources; with a solver that does not see people and no file, usable at once (uncalibrated).
    background = needs_processing(state.store, srcs, state.solver)
    doc = state.store.insert("volume", {"humanHeight": humanHeight, "areaType": areaType, "clipWindow": _clip(clipWindow),
                                        "sources": srcs, "syncMethod": syncMethod, "metadata": metadata,
                                        "name": safe_name(name), "state": "RUNNING" if background else "FINISHED",
                                        "percentageComplete": 0 if background else 100, "outputs": []})
    if background:
        state.enqueue_volume(doc["id"])
    return doc


@mutation.field("generateShareCode")
def r_generate_share_code(_, info, fileId):
    state = _state(info)
    f = _get(state, "file", fileId)
    if not f.get("uploaded"):
        raise MoveValidationError(f"File {fileId} has no content yet")
    code = f"{secrets.randbelow(10**8):08d}"
    while state.store.share_code_exists(code):
        code = f"{secrets.randbelow(10**8):08d}"
    expires = time.time() + SHARE_CODE_TTL
    state.store.add_share_code(code, fileId, expires)
    return {"code": code, "created": _iso(time.time()), "expires": _iso(expires), "file": f,
            "url": f"{info.context['base_url']}/ugc/file/download?code={code}"}


@mutation.field("upsertWebhookEndpoint")
def r_upsert_webhook(_, info, uid, url, description=None, events=None, metadata=None, secret=None):
    safe_name(uid, "uid")
    if not re.match(r"^https?://", url):
        raise MoveValidationError("url must be an http(s) URL")
    store = _state(info).store
    existing = next((w for w in store.webhooks() if w["uid"] == uid), None)
    data = {"uid": uid, "url": url, "description": description, "events": events or [], "metadata": metadata,
            "secret": secret or (existing or {}).get("secret") or f"whsec_{secrets.token_urlsafe(24)}"}
    return store.upsert_webhook(uid, data)


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1e6):06d}Z"


# -- object types --------------------------------------------------------------------------------------------
file_type = ObjectType("File")
job_type = ObjectType("Job")
take_type = ObjectType("Take")
volume_type = ObjectType("HumanVolume")
source_type = ObjectType("Source")
additional_file_type = ObjectType("AdditionalFile")
webhook_type = ObjectType("WebhookEndpoint")
volume_union = UnionType("Volume")


@volume_union.type_resolver
def _resolve_volume_type(obj, *_):
    return "HumanVolume"


@file_type.field("presignedUrl")
def r_file_url(f, info):
    """PUT URL in createFile's answer; otherwise a GET URL, which answers 404 NoSuchKey until the bytes are
    there (as an S3 URL does). Never null: Move's SDK requires a URL in every File."""
    state = _state(info)
    ctx = info.context
    expires_in = -60.0 if ctx.get("expire_urls") else state.config.url_ttl
    method = "PUT" if f.get("_upload") else "GET"
    return presign(state.signing_key, ctx["base_url"], method, f["id"], expires_in)


@file_type.field("thumbnailUrl")
def r_file_thumbnail(f, info):
    return None


for _t in (file_type, job_type, take_type, webhook_type, volume_type):
    _t.set_field("client", lambda obj, info: _state(info).client(info.context["base_url"]))

# Answers shaped as Move's SDK models require (they are what Move returns): a name is a string ("" when none
# was given), metadata a JSON string ("{}" when none was given), a webhook's description a string.
for _t in (file_type, take_type, volume_type):
    _t.set_field("name", lambda obj, info: obj.get("name") or "")
for _t in (file_type, take_type):
    _t.set_field("metadata", lambda obj, info: {} if obj.get("metadata") is None else obj["metadata"])
job_type.set_field("name", lambda obj, info: obj.get("name") or "")
webhook_type.set_field("description", lambda obj, info: obj.get("description") or "")
webhook_type.set_field("metadata", lambda obj, info: {} if obj.get("metadata") is None else obj["metadata"])


@job_type.field("progress")
def r_job_progress(job, info):
    return {"state": job["state"], "percentageComplete": job["percentageComplete"]}


@job_type.field("take")
def r_job_take(job, info):
    return _state(info).store.get("take", job["takeId"])


@job_type.field("metadata")
def r_job_metadata(job, info):
    """The client's metadata; a failed job adds ``error`` (the user-facing reason) to it, a finished
    multi-camera job ``sync`` (how its views were synchronised, the offsets found), a finished job ``people``
    (who was captured as which actor, and everyone seen: how long, the frame where each is best seen)."""
    meta = job.get("metadata")
    solved = job.get("solverMetadata") or {}
    extra = {k: v for k, v in (("error", job.get("error")), ("sync", solved.get("sync")),
                               ("people", solved.get("people"))) if v}
    if extra:
        base = meta if isinstance(meta, dict) else ({} if meta is None else {"value": meta})
        return {**base, **extra}
    return {} if meta is None else meta


@job_type.field("outputs")
def r_job_outputs(job, info):
    store = _state(info).store
    out = []
    for o in job.get("outputs") or []:
        f = store.get("file", o["fileId"])
        if f is not None:
            out.append({"key": o["key"], "format": o["format"], "file": f})
    return out


@take_type.field("videoFile")
def r_take_video(take, info):
    srcs = take.get("sources") or []
    return _state(info).store.get("file", srcs[0]["fileId"]) if srcs else None


@take_type.field("volume")
def r_take_volume(take, info):
    return _state(info).store.get("volume", take["volumeId"]) if take.get("volumeId") else None


@take_type.field("additionalFiles")
def r_take_additional(take, info):
    return []


@source_type.field("file")
def r_source_file(src, info):
    return _state(info).store.get("file", src["fileId"])


@volume_type.field("progress")
def r_volume_progress(vol, info):
    done = 100 if vol["state"] == "FINISHED" else 0
    return {"state": vol["state"], "percentageComplete": vol.get("percentageComplete", done)}


@volume_type.field("metadata")
def r_volume_metadata(vol, info):
    """The client's metadata; the engine adds ``calibration`` (how the cameras were found, sync offsets,
    quality figures: not the cameras themselves) once FINISHED, and ``error`` (what to film again) if FAILED."""
    meta = vol.get("metadata")
    base = meta if isinstance(meta, dict) else ({} if meta is None else {"value": meta})
    extra: dict[str, Any] = {}
    cal = vol.get("calibration")
    if cal:
        extra["calibration"] = {k: v for k, v in cal.items() if k != "cameras"}
        extra["calibration"]["cameras"] = [c["label"] for c in cal.get("cameras") or []]
    if vol.get("error"):
        extra["error"] = vol["error"]
    return {**base, **extra} if extra or meta is not None else {}


def build_schema():
    """The executable schema. Its directives are exactly those the SDL declares (upstream's AppSync set):
    graphql-core adds @specifiedBy and @oneOf by itself, which upstream does not have."""
    schema = make_executable_schema(
        SCHEMA_PATH.read_text(),
        aws_json,
        query,
        mutation,
        file_type,
        job_type,
        take_type,
        volume_type,
        source_type,
        additional_file_type,
        webhook_type,
        volume_union,
    )
    declared = {d.name.value for d in parse(SCHEMA_PATH.read_text()).definitions if isinstance(d, DirectiveDefinitionNode)}
    schema.directives = tuple(d for d in schema.directives if d.name in declared)
    return schema
