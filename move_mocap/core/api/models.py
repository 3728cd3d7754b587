"""pydantic v2 models of the Move UGC API: what the client sends (inputs) and what it receives.

Field names are upstream's (camelCase aliases of snake_case attributes, see ``introspection.json``).
Models ignore extra fields (the server may add some) but refuse unknown enum values and wrong types: the
client turns that refusal into ``MalformedResponseError``. AWSJSON fields (``metadata``) arrive as JSON
strings and are parsed into Python values; AWSDateTime fields become aware datetimes.
Presigned URLs and secrets are kept out of ``repr``. No I/O here, no bpy.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Generic, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from .errors import MalformedResponseError

# --------------------------------------------------------------------------------------------- scalars


def _parse_awsjson(value: Any) -> Any:
    """AWSJSON arrives as a JSON document in a string; a server may also send it already decoded."""
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"AWSJSON field is not valid JSON ({exc.msg})") from None
    return value


_FRACTION_RE = re.compile(r"(\.\d{6})\d+")


def _parse_awsdatetime(value: Any) -> Any:
    """AWSDateTime allows up to 9 fractional digits; Python keeps 6."""
    if isinstance(value, str):
        return _FRACTION_RE.sub(r"\1", value)
    return value


AWSJSON = Annotated[Any, BeforeValidator(_parse_awsjson)]
AWSDateTime = Annotated[datetime, BeforeValidator(_parse_awsdatetime)]


def dump_awsjson(value: Any) -> str | None:
    """Encode a Python value for an AWSJSON argument (None stays None)."""
    if value is None:
        return None
    if isinstance(value, str):
        json.loads(value)  # already encoded: must be valid JSON
        return value
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


# ----------------------------------------------------------------------------------------------- enums


class SourceFormat(StrEnum):
    AVI = "AVI"
    MOV = "MOV"
    MOVE = "MOVE"
    MP4 = "MP4"


class MocapModel(StrEnum):
    """Upstream ``MocapModelOptionsInput``: S1/S2 single camera, M1/M2 multi camera."""

    M1 = "M1"
    M2 = "M2"
    S1 = "S1"
    S2 = "S2"


class OutputType(StrEnum):
    ALL_BLEND = "ALL_BLEND"
    ALL_BVH = "ALL_BVH"
    ALL_C3D = "ALL_C3D"
    ALL_FBX = "ALL_FBX"
    ALL_GLB = "ALL_GLB"
    ALL_USDC = "ALL_USDC"
    ALL_USDZ = "ALL_USDZ"
    MAIN_BLEND = "MAIN_BLEND"
    MAIN_FBX = "MAIN_FBX"
    MAIN_GLB = "MAIN_GLB"
    MAIN_USDC = "MAIN_USDC"
    MAIN_USDZ = "MAIN_USDZ"
    MOTION_DATA = "MOTION_DATA"
    RENDER_OVERLAY_VIDEO = "RENDER_OVERLAY_VIDEO"
    RENDER_VIDEO = "RENDER_VIDEO"
    SYNC_DATA = "SYNC_DATA"


class AreaType(StrEnum):
    LARGE = "LARGE"
    NORMAL = "NORMAL"


class JobState(StrEnum):
    """Upstream ``JobState``, plus STARTED which Move's docs mention for ``progress.state`` (a String)."""

    NOT_STARTED = "NOT_STARTED"
    STARTED = "STARTED"
    RUNNING = "RUNNING"
    FINISHED = "FINISHED"
    FAILED = "FAILED"

    @property
    def is_terminal(self) -> bool:
        return self in (JobState.FINISHED, JobState.FAILED)


class TakeType(StrEnum):
    MULTI_CAM = "MULTI_CAM"
    SINGLE_CAM = "SINGLE_CAM"


class SortDirection(StrEnum):
    ASC = "ASC"
    DESC = "DESC"


# ------------------------------------------------------------------------------------------ base classes


class MoveModel(BaseModel):
    """Response model: camelCase aliases, extra fields ignored, strict about enums and types."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", use_enum_values=False
    )


class MoveInput(BaseModel):
    """Input model: serialises to upstream's argument shape with ``to_variables()``."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    def to_variables(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


M = TypeVar("M", bound=BaseModel)


def parse_model(cls: type[M], data: Any, *, operation: str | None = None) -> M:
    """Validate ``data`` as ``cls``; a validation failure becomes a ``MalformedResponseError``."""
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors()[:5]
        )
        more = f" (+{exc.error_count() - 5} more)" if exc.error_count() > 5 else ""
        where = f" to {operation}" if operation else ""
        raise MalformedResponseError(
            f"The server's answer{where} does not match the Move API ({cls.__name__}): {problems}{more}. "
            "Check that the endpoint really is a Move UGC API (or a compatible local engine) of a supported "
            "version, and update move_mocap if the API has changed.",
            operation=operation,
        ) from None


# ------------------------------------------------------------------------------------------ responses


class Client(MoveModel):
    id: str
    name: str | None = None
    created: AWSDateTime | None = None
    metadata: AWSJSON = None
    portal: str | None = Field(default=None, repr=False)  # the Svix portal link carries a key


class File(MoveModel):
    id: str
    type: str | None = None
    name: str | None = None
    created: AWSDateTime | None = None
    metadata: AWSJSON = None
    presigned_url: str | None = Field(default=None, repr=False)
    thumbnail_url: str | None = Field(default=None, repr=False)
    client: Client | None = None


class AdditionalFile(MoveModel):
    file: File
    format: str | None = None
    key: str | None = None


class ClipWindow(MoveModel):
    start_time: float
    end_time: float


class JobProgress(MoveModel):
    state: JobState | None = None
    percentage_complete: int | None = None


class JobOptions(MoveModel):
    """Upstream ``OptionsInputType`` (the options a job was created with)."""

    floor_plane: bool | None = None
    mocap_model: MocapModel | None = None
    track_ball: bool | None = None
    track_fingers: bool | None = None
    track_jersey_numbers: bool | None = None


class JobInputs(MoveModel):
    clip_window: ClipWindow | None = None
    number_of_actors: int | None = None
    options: JobOptions | None = None


class Rig(MoveModel):
    name: str


class CameraSettings(MoveModel):
    lens: str


class Source(MoveModel):
    device_label: str
    camera_settings: CameraSettings | None = None
    file: File | None = None
    format: SourceFormat | None = None


class ClapWindow(MoveModel):
    start_time: float
    end_time: float


class TimeCodeSync(MoveModel):
    use_timecode: bool


class SyncMethod(MoveModel):
    clap_window: ClapWindow | None = None
    timecode_sync: TimeCodeSync | None = None


class HumanVolume(MoveModel):
    """Upstream ``Volume`` is a union with one member, ``HumanVolume``."""

    id: str
    created: AWSDateTime | None = None
    metadata: AWSJSON = None
    name: str | None = None
    area_type: AreaType | None = None
    human_height: float | None = None
    state: JobState | None = None
    progress: JobProgress | None = None
    clip_window: ClipWindow | None = None
    outputs: list[AdditionalFile] | None = None
    sources: list[Source] | None = None
    client: Client | None = None
    typename: str | None = Field(default=None, alias="__typename")

    @field_validator("typename")
    @classmethod
    def _only_human_volumes(cls, value: str | None) -> str | None:
        if value not in (None, "HumanVolume"):
            raise ValueError(f"unknown Volume type {value!r} (this client knows HumanVolume)")
        return value


Volume = HumanVolume


class Take(MoveModel):
    id: str
    created: AWSDateTime | None = None
    metadata: AWSJSON = None
    name: str | None = None
    take_type: TakeType | None = None
    sources: list[Source | None] | None = None
    sync_method: SyncMethod | None = None
    video_file: File | None = None
    additional_files: list[AdditionalFile | None] | None = None
    client: Client | None = None
    volume: HumanVolume | None = None


class Job(MoveModel):
    id: str
    created: AWSDateTime | None = None
    metadata: AWSJSON = None
    name: str | None = None
    state: str | None = None  # deprecated upstream in favour of progress.state
    progress: JobProgress | None = None
    inputs: JobInputs | None = None
    outputs: list[AdditionalFile | None] | None = None
    rig: Rig | None = None
    take: Take | None = None
    client: Client | None = None

    @property
    def job_state(self) -> JobState | None:
        """``progress.state``, falling back to the deprecated ``state`` field."""
        if self.progress and self.progress.state:
            return self.progress.state
        if self.state:
            try:
                return JobState(self.state)
            except ValueError:
                raise MalformedResponseError(
                    f"Job {self.id} has an unknown state {self.state!r}; update move_mocap.",
                    operation="Job.state",
                ) from None
        return None

    @property
    def percentage_complete(self) -> int | None:
        return self.progress.percentage_complete if self.progress else None

    @property
    def is_finished(self) -> bool:
        return self.job_state is JobState.FINISHED

    @property
    def is_failed(self) -> bool:
        return self.job_state is JobState.FAILED

    def output(self, key: str) -> AdditionalFile | None:
        """The output whose ``key`` (e.g. ``main_fbx``, ``motion_data``) matches, case-insensitively."""
        wanted = key.lower()
        for item in self.outputs or ():
            if item is not None and (item.key or "").lower() == wanted:
                return item
        return None

    def output_url(self, key: str) -> str | None:
        """The presigned download URL of an output, or None while it is not (yet) available."""
        item = self.output(key)
        return (item.file.presigned_url or None) if item else None


class ShareCode(MoveModel):
    code: str = Field(repr=False)
    created: AWSDateTime | None = None
    expires: AWSDateTime | None = None
    url: str | None = Field(default=None, repr=False)
    file: File | None = None


class WebhookEndpoint(MoveModel):
    uid: str
    url: str
    description: str | None = None
    events: list[str] | None = None
    metadata: AWSJSON = None
    secret: SecretStr | None = None
    client: Client | None = None


class ShareCodeDownload(MoveModel):
    """The JSON answer of ``GET <base>/ugc/file/download?code=NNNNNNNN``."""

    url: str = Field(repr=False)


T = TypeVar("T")


class Page(MoveModel, Generic[T]):
    """A page of a connection (JobsPage, TakesPage, VolumePage, RigsPage, CameraSettingsPage).

    ``after`` is the opaque next-page token (AWSJSON, passed back unchanged); None on the last page.
    """

    items: list[T] = Field(default_factory=list)
    first: int | None = None
    after: Any = None

    @field_validator("items", mode="before")
    @classmethod
    def _drop_nulls(cls, value: Any) -> Any:
        if value is None:
            return []
        if isinstance(value, list):
            return [item for item in value if item is not None]
        return value


# --------------------------------------------------------------------------------------------- inputs


class CameraSettingsInput(MoveInput):
    lens: str


class SourceInput(MoveInput):
    device_label: str
    file_id: str
    format: SourceFormat = SourceFormat.MP4
    camera_settings: CameraSettingsInput | None = None


class ClipWindowInput(MoveInput):
    start_time: float = Field(ge=0)
    end_time: float

    @model_validator(mode="after")
    def _ordered(self) -> ClipWindowInput:
        if self.end_time <= self.start_time:
            raise ValueError("clipWindow.endTime must be after startTime")
        return self


class ClapWindowInput(ClipWindowInput):
    pass


class TimeCodeSyncInput(MoveInput):
    use_timecode: bool


class SyncMethodInput(MoveInput):
    clap_window: ClapWindowInput | None = None
    timecode_sync: TimeCodeSyncInput | None = None


class OptionsInput(MoveInput):
    floor_plane: bool | None = None
    mocap_model: MocapModel | None = None
    track_ball: bool | None = None
    track_fingers: bool | None = None
    track_jersey_numbers: bool | None = None
