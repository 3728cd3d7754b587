"""The people a job found, as the add-on shows them: who was captured as which actor, everyone seen, how long
each was visible and the frame where each is best seen.

The source is the job's metadata ``people`` (the local engine writes it; Move's cloud sends none, and then a
multi-camera job's actors are only numbered: :func:`numbered`). The metadata is server JSON, so it is untrusted:
it is validated here with pydantic and bounds (numbers of people, frames, text lengths) before anything reads it;
anything else is refused with :class:`PeopleError`, which callers treat as "no people information" (the outputs
still apply). The pipeline keeps the validated summary beside the downloaded outputs (:func:`save`,
:func:`load`: a file name of ours, never the server's). Plain data: no bpy, no network.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

MAX_PEOPLE = 64  # more than Move's 5 actors and any crowd a take holds; a longer list is refused
MAX_FRAMES = 10_000_000  # about 46 hours at 60 fps
MAX_SECONDS = 1_000_000.0
MAX_VIEWS = 64
MAX_PIXELS = 100_000.0  # a box coordinate further than this from the picture is refused (8K is 7680)
SIDECAR = "people.json"  # beside a job's downloaded outputs
MAX_SIDECAR_BYTES = 256 * 1024


class PeopleError(ValueError):
    """The metadata's ``people`` is not what the add-on can show (the message says what is wrong)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, str_max_length=500)


class _Seen(_Strict):
    """One person in one video (the engine's ``tracking.summarise``)."""

    person: int = Field(ge=1, le=MAX_PEOPLE)
    frames_visible: int = Field(0, ge=0, le=MAX_FRAMES)
    seconds_visible: float | None = Field(None, ge=0, le=MAX_SECONDS)
    fraction_visible: float | None = Field(None, ge=0, le=1)
    first_frame: int | None = Field(None, ge=0, le=MAX_FRAMES)
    last_frame: int | None = Field(None, ge=0, le=MAX_FRAMES)
    best_frame: int | None = Field(None, ge=0, le=MAX_FRAMES)
    best_time_s: float | None = Field(None, ge=0, le=MAX_SECONDS)
    best_box_px: tuple[float, float, float, float] | None = None  # x0, y0, x1, y1 in the video's pixels

    @field_validator("best_box_px")
    @classmethod
    def _box(cls, box: tuple[float, float, float, float] | None) -> tuple[float, float, float, float] | None:
        return _checked_box(box)


def _checked_box(box: tuple[float, float, float, float] | None) -> tuple[float, float, float, float] | None:
    """A box the panel may crop a thumbnail with: finite, within MAX_PIXELS of the picture, not empty."""
    if box is None:
        return None
    x0, y0, x1, y1 = box
    if not all(math.isfinite(v) and -MAX_PIXELS <= v <= MAX_PIXELS for v in box) or x1 <= x0 or y1 <= y0:
        raise ValueError(f"a box is (x0, y0, x1, y1) with x0 < x1 and y0 < y1, each within {MAX_PIXELS} pixels")
    return (float(x0), float(y0), float(x1), float(y1))


class _SingleCamera(_Strict):
    captured: int = Field(ge=1, le=MAX_PEOPLE)
    seen: list[_Seen] = Field(max_length=MAX_PEOPLE)


class _Matched(_Strict):
    """One person matched across the views of a multi-camera job."""

    person: int = Field(ge=1, le=MAX_PEOPLE)
    frames_seen_by_two_views: int = Field(0, ge=0, le=MAX_FRAMES)
    per_view: list[_Seen | None] = Field(default_factory=list, max_length=MAX_VIEWS)


class _MultiCamera(_Strict):
    captured: int = Field(ge=0, le=MAX_PEOPLE)
    seen: list[_Matched] = Field(max_length=MAX_PEOPLE)
    note: str = ""


@dataclass(frozen=True)
class Person:
    """One person found: ``actor`` is their actor number in the outputs (None: seen, not captured)."""

    number: int
    actor: int | None
    frames_visible: int | None = None
    seconds_visible: float | None = None
    best_frame: int | None = None
    best_time_s: float | None = None
    view: int | None = None  # multi-camera: the camera (0-based, in the take's order) that sees them best
    best_box: tuple[float, float, float, float] | None = None  # where in ``best_frame`` (video pixels, checked)

    def summary(self) -> str:
        """One line for the panel: how long they are visible and where they are best seen."""
        parts = []
        if self.seconds_visible is not None:
            parts.append(f"visible {self.seconds_visible:.1f} s")
        elif self.frames_visible is not None:
            parts.append(f"visible {self.frames_visible} frames")
        if self.best_frame is not None:
            where = f" of camera {self.view + 1}" if self.view is not None else ""
            parts.append(f"best seen at frame {self.best_frame}{where}")
        return ", ".join(parts) or "seen (no details from the server)"


@dataclass(frozen=True)
class People:
    """Everyone a job found, captured actors first in actor order."""

    persons: tuple[Person, ...]
    note: str = ""

    @property
    def actors(self) -> tuple[Person, ...]:
        return tuple(p for p in self.persons if p.actor is not None)


def numbered(count: int) -> People:
    """Actors 1..``count`` with no details (a multi-camera job whose server says nothing of the people)."""
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_PEOPLE:
        raise PeopleError(f"the number of actors must be 1 to {MAX_PEOPLE} (got {count!r})")
    return People(tuple(Person(n, n) for n in range(1, count + 1)))


def parse(metadata: Any) -> People | None:
    """The people of a job's metadata (a parsed JSON object), None when it names none; PeopleError when
    ``people`` is there but malformed or out of bounds."""
    if not isinstance(metadata, Mapping) or "people" not in metadata:
        return None
    raw = metadata["people"]
    if not isinstance(raw, Mapping):
        raise PeopleError(f"the job's metadata 'people' is not an object (got {type(raw).__name__})")
    seen = raw.get("seen")
    multi = isinstance(seen, list) and any(isinstance(s, Mapping) and "per_view" in s for s in seen)
    try:
        if multi:
            return _from_multi(_MultiCamera.model_validate(raw))
        return _from_single(_SingleCamera.model_validate(raw))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise PeopleError(f"the job's metadata 'people' is malformed at {where or 'the top'}: "
                          f"{first.get('msg', 'invalid')}") from None


def _person(number: int, actor: int | None, seen: _Seen | None, view: int | None = None) -> Person:
    if seen is None:
        return Person(number, actor, view=view)
    return Person(number, actor, seen.frames_visible, seen.seconds_visible, seen.best_frame, seen.best_time_s, view,
                  seen.best_box_px)


def _from_single(data: _SingleCamera) -> People:
    numbers = [s.person for s in data.seen]
    if len(set(numbers)) != len(numbers):
        raise PeopleError("the job's metadata 'people' lists a person twice")
    if data.seen and data.captured not in numbers:
        raise PeopleError(f"the job's metadata 'people' says person {data.captured} was captured but does not "
                          "list them")
    by_number = {s.person: s for s in data.seen}
    captured = _person(data.captured, 1, by_number.get(data.captured))
    others = [_person(s.person, None, s) for s in sorted(data.seen, key=lambda s: s.person)
              if s.person != data.captured]
    return People((captured, *others))


def _from_multi(data: _MultiCamera) -> People:
    numbers = [m.person for m in data.seen]
    if len(set(numbers)) != len(numbers):
        raise PeopleError("the job's metadata 'people' lists a person twice")
    if data.captured > len(data.seen):
        raise PeopleError(f"the job's metadata 'people' says {data.captured} actors were captured but lists "
                          f"{len(data.seen)} people")
    persons = []
    for k, match in enumerate(data.seen):  # the engine numbers actors in the order it lists them
        views = [(v, s) for v, s in enumerate(match.per_view) if s is not None]
        view, best = max(views, key=lambda vs: vs[1].frames_visible) if views else (None, None)
        frames = match.frames_seen_by_two_views or (best.frames_visible if best is not None else None)
        seconds = None  # the frames seen by two views, at the best view's frame rate
        if best is not None and frames and best.seconds_visible and best.frames_visible:
            seconds = round(frames * best.seconds_visible / best.frames_visible, 3)
        persons.append(Person(match.person, k + 1 if k < data.captured else None, frames, seconds,
                              best.best_frame if best is not None else None,
                              best.best_time_s if best is not None else None, view,
                              best.best_box_px if best is not None else None))
    return People(tuple(persons), data.note[:300])


def save(people: People, folder: str | Path) -> Path:
    """Keep ``people`` beside a job's outputs (``folder`` is the pipeline's own, already checked)."""
    path = Path(folder) / SIDECAR
    tmp = path.with_suffix(".part")
    tmp.write_text(json.dumps({"persons": [asdict(p) for p in people.persons], "note": people.note}),
                   encoding="utf-8")
    tmp.replace(path)
    return path


def load(folder: str | Path) -> People | None:
    """What :func:`save` kept in ``folder`` (None when nothing was kept or it cannot be read as such)."""
    path = Path(folder) / SIDECAR
    try:
        if path.stat().st_size > MAX_SIDECAR_BYTES:
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        persons = tuple(_SavedPerson.model_validate(p).person() for p in data["persons"][:MAX_PEOPLE])
        return People(persons, str(data.get("note", ""))[:300])
    except (OSError, ValueError, KeyError, TypeError):
        return None


class _SavedPerson(_Strict):
    number: int = Field(ge=1, le=MAX_PEOPLE)
    actor: int | None = Field(None, ge=1, le=MAX_PEOPLE)
    frames_visible: int | None = Field(None, ge=0, le=MAX_FRAMES)
    seconds_visible: float | None = Field(None, ge=0, le=MAX_SECONDS)
    best_frame: int | None = Field(None, ge=0, le=MAX_FRAMES)
    best_time_s: float | None = Field(None, ge=0, le=MAX_SECONDS)
    view: int | None = Field(None, ge=0, lt=MAX_VIEWS)
    best_box: tuple[float, float, float, float] | None = None

    @field_validator("best_box")
    @classmethod
    def _box(cls, box: tuple[float, float, float, float] | None) -> tuple[float, float, float, float] | None:
        return _checked_box(box)

    def person(self) -> Person:
        return Person(**self.model_dump())
