"""The people of a job's metadata (core.people): the local engine's shapes (single camera: who was captured and
everyone seen; several cameras: actors matched across views) read into the panel's actor list, and hostile or
malformed server JSON refused with a message naming where, within bounds; the summary kept beside the outputs
and read back; the runner keeps it at download without ever failing the job for it."""

from __future__ import annotations

import json

import pytest

from move_mocap.core import people
from move_mocap.core.people import PeopleError


def _seen(person: int, frames: int, fps: float = 30.0, best: int = 10, total: int = 300) -> dict:
    # the engine's tracking.summarise + best_box_px (local_engine/pose/people.describe)
    return {"person": person, "frames_visible": frames, "seconds_visible": round(frames / fps, 3),
            "fraction_visible": round(frames / total, 3), "first_frame": 0, "last_frame": frames - 1,
            "best_frame": best, "best_time_s": round(best / fps, 3), "best_box_px": [1.0, 2.0, 30.0, 90.0]}


def test_single_camera_captured_and_others_seen() -> None:
    meta = {"solver": "mediapipe", "people": {
        "captured": 2, "asked": 2, "rule": "most frames seen, then larger, then first seen",
        "seen": [_seen(1, 240, best=100), _seen(2, 90, best=45), {"person": 3, "frames_visible": 0}]}}
    found = people.parse(meta)
    assert found is not None
    assert [(p.number, p.actor) for p in found.persons] == [(2, 1), (1, None), (3, None)]
    assert [p.number for p in found.actors] == [2]
    assert found.persons[0].summary() == "visible 3.0 s, best seen at frame 45"
    assert found.persons[2].summary() == "visible 0 frames"
    assert found.persons[0].best_box == (1.0, 2.0, 30.0, 90.0) and found.persons[2].best_box is None


def test_multi_camera_actors_matched_across_views() -> None:
    meta = {"people": {
        "asked": 3, "captured": 2, "rule": "people seen by two cameras or more, most frames seen first",
        "seen": [{"person": 1, "frames_seen_by_two_views": 120, "epipolar_px": 3.2,
                  "per_view": [_seen(1, 150, 60, best=80), None, _seen(2, 170, 60, best=33)]},
                 {"person": 2, "frames_seen_by_two_views": 60, "epipolar_px": 4.0,
                  "per_view": [_seen(2, 100, 60), _seen(1, 90, 60), None]},
                 {"person": 3, "frames_seen_by_two_views": 10, "per_view": [None, None, _seen(3, 12, 60)]}],
        "note": "3 actors were asked for; 2 people were seen by two cameras or more"}}
    found = people.parse(meta)
    assert found is not None and "2 people" in found.note
    assert [(p.number, p.actor) for p in found.persons] == [(1, 1), (2, 2), (3, None)]
    first = found.persons[0]
    assert (first.view, first.best_frame, first.frames_visible, first.seconds_visible) == (2, 33, 120, 2.0)
    assert "of camera 3" in first.summary()


@pytest.mark.parametrize("bad,where", [
    ({"people": []}, "not an object"),
    ({"people": {"captured": 1, "seen": [{"person": 0}]}}, "seen.0.person"),
    ({"people": {"captured": 1, "seen": [_seen(1, 10)] * 2}}, "twice"),
    ({"people": {"captured": 4, "seen": [_seen(1, 10)]}}, "does not list"),
    ({"people": {"captured": 1, "seen": [{**_seen(1, 10), "best_frame": -5}]}}, "best_frame"),
    ({"people": {"captured": 1, "seen": [{**_seen(1, 10), "seconds_visible": float("inf")}]}}, "seconds_visible"),
    ({"people": {"captured": 1, "seen": [{**_seen(1, 10), "frames_visible": "many"}]}}, "frames_visible"),
    ({"people": {"captured": 1, "seen": [_seen(k % 64 + 1, 5) for k in range(65)]}}, "seen"),
    ({"people": {"captured": 3, "seen": [{"person": 1, "per_view": []}]}}, "lists 1 people"),
    ({"people": {"captured": 1, "seen": [{"person": 1, "per_view": [None] * 65}]}}, "per_view"),
    ({"people": {"captured": 1, "note": "x" * 10_000, "seen": [{"person": 1, "per_view": []}]}}, "note"),
    # the box a thumbnail is cropped with: four finite numbers, not inverted, near the picture
    ({"people": {"captured": 1, "seen": [{**_seen(1, 10), "best_box_px": [1, 2, 3]}]}}, "best_box_px"),
    ({"people": {"captured": 1, "seen": [{**_seen(1, 10), "best_box_px": [50, 2, 10, 90]}]}}, "best_box_px"),
    ({"people": {"captured": 1, "seen": [{**_seen(1, 10), "best_box_px": [0, 0, 1e12, 9]}]}}, "best_box_px"),
    ({"people": {"captured": 1, "seen": [{**_seen(1, 10), "best_box_px": [0, 0, float("nan"), 9]}]}},
     "best_box_px"),
    ({"people": {"captured": 1, "seen": [{**_seen(1, 10), "best_box_px": "../../x.png"}]}}, "best_box_px"),
])
def test_hostile_metadata_is_refused_naming_where(bad, where) -> None:
    with pytest.raises(PeopleError, match="people") as info:
        people.parse(bad)
    assert where in str(info.value), str(info.value)


def test_nothing_said_and_numbered_actors() -> None:
    assert people.parse({"solver": "x"}) is None and people.parse(None) is None and people.parse("[]") is None
    assert [p.actor for p in people.numbered(3).actors] == [1, 2, 3]
    assert people.numbered(2).persons[1].summary() == "seen (no details from the server)"
    for bad in (0, 65, True, 2.0):
        with pytest.raises(PeopleError):
            people.numbered(bad)  # type: ignore[arg-type]


def test_kept_beside_the_outputs_and_read_back(tmp_path) -> None:
    found = people.parse({"people": {"captured": 1, "seen": [_seen(1, 30), _seen(2, 20)]}})
    assert found is not None
    path = people.save(found, tmp_path)
    assert path.parent == tmp_path and path.name == people.SIDECAR
    assert people.load(tmp_path) == found
    # A file changed behind our back is refused as a whole, never half read.
    path.write_text(json.dumps({"persons": [{"number": 1, "actor": 99}]}))
    assert people.load(tmp_path) is None
    path.write_text("{" * 10)
    assert people.load(tmp_path) is None
    path.write_bytes(b" " * (people.MAX_SIDECAR_BYTES + 1))
    assert people.load(tmp_path) is None
    assert people.load(tmp_path / "missing") is None


def test_thumbnail_square_stays_inside_the_picture() -> None:
    """The box a thumbnail is cut with comes from the server: whatever its numbers (validated, bounded), the
    square is inside the picture, and a box beside the picture gives no thumbnail."""
    import numpy as np

    from move_mocap.core.thumbnail import SIDE, crop_square, thumbnail

    w, h = 640, 360
    # a 40 x 100 box: a square of its longer side and 15 % on each side, centred on it
    assert crop_square((100, 100, 140, 200), w, h) == (55, 85, 185, 215)
    for box in [(-5e4, -5e4, 5e4, 5e4), (600, 300, 700, 900), (-50, -50, 10, 10), (0, 0, 640, 360)]:
        x0, y0, x1, y1 = crop_square(box, w, h)
        assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h and x1 - x0 == y1 - y0, (box, (x0, y0, x1, y1))
    # a box at the picture's very edge: the rounded square still ends inside it
    assert crop_square((1919.6, 10, 1919.7, 10.1), 1920, 1080) == (1919, 10, 1920, 11)
    for box in [(700, 10, 800, 20), (-90, -90, -10, -10), (10, 400, 20, 500)]:
        assert crop_square(box, w, h) is None and thumbnail(np.zeros((h, w, 4), np.float32), box) is None
    # rows: the box is measured from the top, Blender's pixels go bottom-up: a red top-left corner shows
    pixels = np.zeros((h, w, 4), np.float32)
    pixels[h - 60:, :60, 0] = 1.0  # the top 60 rows, left 60 columns, in Blender's bottom-up order
    icon = thumbnail(pixels, (0, 0, 40, 40))
    assert icon is not None and icon.shape == (SIDE, SIDE, 4) and np.all(icon[..., 3] == 1)
    assert icon[..., 0].mean() > 0.99
    assert thumbnail(pixels, (300, 200, 340, 240))[..., 0].max() == 0.0
