"""Someone who leaves the picture for longer than the tracker's link window (4 s) and comes back is the same
person, re-identified by their own body proportions (BlazePose's metric world landmarks), their colours and the
side they come back by (local_engine.pose.tracking.relink), without taking anyone else's identity.

No clip we have shows a person leaving for that long and coming back, so one is made from real footage by
cutting and reordering the Sports2D demo's own frames (each frame is the camera's, none is edited): the woman
walks from the middle of the picture out by its left edge (demo frames 120-200), 5.8 s follow in which she is
not in the picture (demo frames 201-229, where only the man walks on the grass, played forward and back three
times), then she comes back by the right edge and walks to the middle again (demo frames 40-119: other frames
than the ones she left in). Meanwhile the man is on his box, jumps off and walks; at the cut back to demo frame
40 he is on his box again (a jump the tracker is free to treat as a new person: no one is asked of him).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

LEAVES = range(120, 201)  # demo frames: she walks out by the left edge
AWAY = range(201, 230)  # demo frames without her, played forward and back
BACK = range(40, 120)  # demo frames: she comes in by the right edge
SIZE = (960, 540)


@pytest.fixture(scope="module")
def reentry_clip(demo_video: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    import av

    with av.open(str(demo_video)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    away = list(AWAY)
    order = [*LEAVES, *(away + away[::-1]) * 3, *BACK]
    path = tmp_path_factory.mktemp("reentry") / "leaves_and_comes_back.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = *SIZE, "yuv420p"
        stream.options = {"crf": "18", "preset": "veryfast"}
        for k in order:
            frame = av.VideoFrame.from_ndarray(frames[k], format="rgb24").reformat(width=SIZE[0], height=SIZE[1])
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


AWAY_FROM, AWAY_TO = len(LEAVES), len(LEAVES) + 6 * len(AWAY)  # clip frames she is away: [FROM, TO)


@pytest.fixture(scope="module")
def reentry_people(requires_mediapipe, reentry_clip: Path):
    from local_engine.pose import people

    return people.extract_people(reentry_clip)


def _on_grass(found, frame: int) -> list[int]:
    """The people whose hips are on the grass (the lower part of the picture) in ``frame``: the woman (the man
    is on his box there)."""
    out = []
    for k, t in enumerate(found.tracks):
        if t.present[frame]:
            hips = 0.5 * (t.image[frame, 23] + t.image[frame, 24])
            if hips[1] > 0.6 * SIZE[1]:
                out.append(k)
    return out


def test_a_person_back_after_a_long_absence_keeps_her_identity(reentry_people) -> None:
    gone, back = AWAY_FROM, AWAY_TO
    assert (back - gone) / 30.0 > 4.0 + 1.0  # longer than the tracker's own link window, by a margin
    found = reentry_people
    w = SIZE[0]

    before, after = _on_grass(found, 40), _on_grass(found, back + 45)
    assert len(before) == 1 and len(after) == 1, (before, after, found.summary)
    assert before == after, f"she came back as person {after[0] + 1}, not as person {before[0] + 1}"
    woman = found.tracks[before[0]]
    # she is that identity only while she is in the picture: nobody else is given her identity meanwhile
    assert not woman.present[gone + 5:back].any()
    assert woman.present[:gone].mean() > 0.8 and woman.present[back:].mean() > 0.8
    hips = 0.5 * (woman.image[:, 23] + woman.image[:, 24])
    last, first = np.nonzero(woman.present[:gone])[0][-1], back + np.nonzero(woman.present[back:])[0][0]
    # last seen at the left edge, first seen again at the right edge
    assert hips[last, 0] < 0.15 * w and hips[first, 0] > 0.75 * w, (last, first, hips[last], hips[first])
    # the people found: the woman, the man (possibly split at the cut where he jumps back onto his box)
    assert 2 <= len(found.tracks) <= 3, found.summary


def test_a_return_that_two_could_claim_is_left_apart(reentry_people) -> None:
    """The rule on her real landmarks: her two appearances are joined; with a second person of exactly her
    proportions and colours back at the same time, neither is (an ambiguous return stays a new person); someone
    with her colours but the man's proportions is not her."""
    from local_engine.pose import tracking

    (k,) = _on_grass(reentry_people, 40)
    woman = reentry_people.tracks[k]
    man = max((t for j, t in enumerate(reentry_people.tracks) if j != k), key=lambda t: int(t.present.sum()))
    colours = np.full(64, 1 / 32)  # the same clothes for everyone here: only the proportions tell them apart

    def piece(ident: int, track, frames) -> tracking.Tracklet:
        frames = [f for f in frames if track.present[f]]
        return tracking.Tracklet(ident, list(frames), [track.image[f] for f in frames],
                                 [track.world[f] for f in frames], [track.visibility[f] for f in frames],
                                 [colours])

    first, back = piece(0, woman, range(AWAY_FROM)), piece(1, woman, range(AWAY_TO, len(woman)))
    joined = tracking.relink([[first], [back]], 30.0, 4.0, SIZE)
    assert [[t.id for t in c] for c in joined] == [[0, 1]]
    twin = piece(2, woman, range(AWAY_TO, len(woman)))
    assert len(tracking.relink([[first], [back], [twin]], 30.0, 4.0, SIZE)) == 3
    other = tracking.Tracklet(3, back.frames, back.image, [man.world[f] for f in np.nonzero(man.present)[0][
        :len(back.frames)]], [man.visibility[f] for f in np.nonzero(man.present)[0][:len(back.frames)]], [colours])
    assert len(other.world) == len(back.frames)
    assert len(tracking.relink([[first], [other]], 30.0, 4.0, SIZE)) == 2
