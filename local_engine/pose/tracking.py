"""Keeping people's identities in one video: regions of interest from detections and landmarks, frame-to-frame
assignment (Hungarian, on box overlap), linking of broken tracklets into one identity (re-entry, occlusion),
re-identification of someone back after a long absence (their own body proportions, their colours, the side
they left and came back by), the presence summary of each person and the deterministic choice of the main
subject.

Pure numpy/scipy on pixel coordinates: it must not run models, decode video or know about cameras. No bpy here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: BlazePose's own region-of-interest rules (mediapipe's pose_detection_to_roi / pose_landmarks_to_roi
#: graphs): the box is centred on the hips, twice the hips-to-alignment-point distance, scaled by 1.25.
ROI_SCALE = 1.25


@dataclass(frozen=True)
class Roi:
    """A square region in pixels: centre, side and rotation (radians, counter-clockwise as mediapipe's)."""

    cx: float
    cy: float
    size: float
    rotation: float

    def box(self) -> np.ndarray:
        """Axis-aligned (x0, y0, x1, y1) of the upright square (what overlaps are measured on)."""
        h = 0.5 * self.size
        return np.array([self.cx - h, self.cy - h, self.cx + h, self.cy + h])


def roi_from_points(centre: np.ndarray, align: np.ndarray) -> Roi | None:
    """The ROI BlazePose derives from its two alignment points (hip centre, and the point above the head
    that gives scale and rotation), both in pixels; None when they are degenerate."""
    d = np.asarray(align, float) - np.asarray(centre, float)
    dist = float(np.hypot(*d))
    if not np.isfinite(dist) or dist < 1.0:
        return None
    rot = np.pi / 2 - np.arctan2(-d[1], d[0])
    rot = rot - 2 * np.pi * np.floor((rot + np.pi) / (2 * np.pi))
    return Roi(float(centre[0]), float(centre[1]), 2.0 * dist * ROI_SCALE, float(rot))


def landmark_box(uv: np.ndarray, vis: np.ndarray | None = None, min_vis: float = 0.3) -> np.ndarray:
    """Axis-aligned (x0, y0, x1, y1) of the landmarks (33, 2) seen well enough (all when too few are)."""
    ok = np.isfinite(uv).all(-1)
    if vis is not None and (ok & (vis >= min_vis)).sum() >= 4:
        ok &= vis >= min_vis
    if not ok.any():
        return np.full(4, np.nan)
    p = uv[ok]
    return np.array([p[:, 0].min(), p[:, 1].min(), p[:, 0].max(), p[:, 1].max()])


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes (0 for empty or NaN boxes)."""
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        return 0.0
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def assign(cost: np.ndarray, max_cost: float) -> list[tuple[int, int]]:
    """Rows matched to columns minimising the total cost (Hungarian), pairs above ``max_cost`` dropped."""
    if cost.size == 0:
        return []
    from scipy.optimize import linear_sum_assignment

    big = max_cost * 10 + 1.0
    c = np.where(np.isfinite(cost), np.minimum(cost, big), big)
    rows, cols = linear_sum_assignment(c)
    return [(int(r), int(k)) for r, k in zip(rows, cols) if c[r, k] <= max_cost]


def match_detections(track_boxes: list[np.ndarray], det_boxes: list[np.ndarray],
                     min_iou: float = 0.3) -> tuple[list[tuple[int, int]], list[int]]:
    """Detections matched to tracked people by box overlap; the unmatched detections that overlap nobody
    (new people). Returns (pairs (track, detection), new detection indices)."""
    cost = np.array([[1.0 - iou(t, d) for d in det_boxes] for t in track_boxes]).reshape(len(track_boxes),
                                                                                          len(det_boxes))
    pairs = assign(cost, 1.0 - min_iou)
    matched = {d for _, d in pairs}
    fresh = [d for d in range(len(det_boxes))
             if d not in matched and all(iou(t, det_boxes[d]) < min_iou for t in track_boxes)]
    return pairs, fresh


def duplicates(boxes: list[np.ndarray], ages: list[int], max_iou: float = 0.5) -> set[int]:
    """Indices of tracks that follow the same person as an older track (their landmark boxes overlap more
    than ``max_iou``): the younger one is the duplicate."""
    drop: set[int] = set()
    order = sorted(range(len(boxes)), key=lambda i: (-ages[i], i))
    for a_pos, i in enumerate(order):
        if i in drop:
            continue
        for j in order[a_pos + 1:]:
            if j not in drop and iou(boxes[i], boxes[j]) > max_iou:
                drop.add(j)
    return drop


def colour_signature(image: np.ndarray, uv: np.ndarray, vis: np.ndarray) -> np.ndarray | None:
    """A small appearance descriptor of a person: hue-saturation histogram (8 x 4) of the torso and of the
    thighs, each normalised; None when the torso is not seen."""
    sides = []
    for quad in ((11, 12, 24, 23), (23, 24, 26, 25)):
        if (vis[list(quad)] < 0.5).any() or not np.isfinite(uv[list(quad)]).all():
            return None
        p = uv[list(quad)]
        x0, y0 = np.floor(p.min(0)).astype(int)
        x1, y1 = np.ceil(p.max(0)).astype(int)
        h, w = image.shape[:2]
        x0, x1 = max(0, x0), min(w, x1)
        y0, y1 = max(0, y0), min(h, y1)
        if x1 - x0 < 2 or y1 - y0 < 2:
            return None
        patch = image[y0:y1, x0:x1].reshape(-1, 3).astype(np.float32) / 255.0
        mx, mn = patch.max(1), patch.min(1)
        sat = np.where(mx > 0, (mx - mn) / np.maximum(mx, 1e-6), 0.0)
        r, g, b = patch.T
        delta = np.maximum(mx - mn, 1e-6)
        hue = np.where(mx == r, ((g - b) / delta) % 6, np.where(mx == g, (b - r) / delta + 2, (r - g) / delta + 4))
        hist = np.histogram2d(hue / 6.0, sat, bins=(8, 4), range=((0, 1), (0, 1)))[0].ravel()
        sides.append(hist / max(hist.sum(), 1.0))
    return np.concatenate(sides)


def signature_distance(a: np.ndarray | None, b: np.ndarray | None) -> float:
    """Bhattacharyya distance (0 = same colours, 1 = disjoint) averaged over torso and thighs; 0.3 unknown."""
    if a is None or b is None:
        return 0.3
    n = len(a) // 2
    d = [1.0 - float(np.sum(np.sqrt(a[k * n:(k + 1) * n] * b[k * n:(k + 1) * n]))) for k in (0, 1)]
    return float(np.clip(np.mean(d), 0.0, 1.0))


class AlignmentFilter:
    """One Euro filter of a person's two alignment points between frames, as mediapipe's own pose graph
    smooths them before deriving the next region (min cutoff 0.01 Hz, beta 10, derivative cutoff 1 Hz, values
    in units of the person's size): a steady region while the person holds still, no lag when they move."""

    def __init__(self, fps: float, min_cutoff: float = 0.01, beta: float = 10.0, d_cutoff: float = 1.0) -> None:
        self.fps, self.min_cutoff, self.beta, self.d_cutoff = fps, min_cutoff, beta, d_cutoff
        self.x: np.ndarray | None = None
        self.dx = np.zeros((2, 2))

    def _alpha(self, cutoff: np.ndarray | float) -> np.ndarray | float:
        tau = 1.0 / (2 * np.pi * cutoff)
        return 1.0 / (1.0 + tau * self.fps)

    def reset(self) -> None:
        self.x = None

    def __call__(self, points: np.ndarray, scale: float) -> np.ndarray:
        """Filtered (2, 2) points (pixels); ``scale`` is the person's size in pixels."""
        p = np.asarray(points, float) / max(scale, 1e-6)
        if self.x is None or not np.isfinite(p).all():
            self.x = p
            self.dx = np.zeros((2, 2))
            return np.asarray(points, float)
        dx = (p - self.x) * self.fps
        self.dx = self.dx + self._alpha(self.d_cutoff) * (dx - self.dx)
        a = self._alpha(self.min_cutoff + self.beta * np.abs(self.dx))
        self.x = self.x + a * (p - self.x)
        return self.x * scale


@dataclass
class Tracklet:
    """One person followed without a break: per-frame landmarks (frame positions in the clip)."""

    id: int
    frames: list[int] = field(default_factory=list)
    image: list[np.ndarray] = field(default_factory=list)  # (33, 2) pixels of the original size
    world: list[np.ndarray] = field(default_factory=list)  # (33, 3) metres, camera axes
    visibility: list[np.ndarray] = field(default_factory=list)  # (33,)
    signatures: list[np.ndarray] = field(default_factory=list)
    roi: Roi | None = None  # where to look in the next frame (decoded pixels)
    smoother: AlignmentFilter | None = None  # of the alignment points the next region comes from

    def box(self, k: int = -1) -> np.ndarray:
        return landmark_box(self.image[k], self.visibility[k])

    def signature(self) -> np.ndarray | None:
        return np.mean(self.signatures, axis=0) if self.signatures else None


def torso_length(uv: np.ndarray) -> float:
    """Shoulder centre to hip centre in pixels: a body scale that crouching, jumping or turning change little."""
    d = 0.5 * (uv[11] + uv[12]) - 0.5 * (uv[23] + uv[24])
    return float(np.hypot(*d))


def _scale(tr: Tracklet, first: bool) -> tuple[np.ndarray, float]:
    """Hip centre and torso length at one end of a tracklet (median over up to 5 frames at that end)."""
    idx = range(min(5, len(tr.frames))) if first else range(len(tr.frames) - 1, max(-1, len(tr.frames) - 6), -1)
    k = 0 if first else -1
    torso = float(np.nanmedian([torso_length(tr.image[i]) for i in idx]))
    return 0.5 * (tr.image[k][23] + tr.image[k][24]), max(torso, 1.0)


def link_tracklets(tracklets: list[Tracklet], fps: float, max_gap_s: float = 4.0,
                   max_cost: float = 1.2, frame_size: tuple[int, int] | None = None) -> list[list[Tracklet]]:
    """Chains of tracklets that are the same person (a person lost, then found again: occlusion, leaving and
    re-entering the frame). A link from the end of A to the start of B (B starting after A ends) costs the
    distance between A's last and B's first hip centre in A's body heights (3.3 torso lengths), less what
    the time between them allows (1.5 body heights per second), plus the change of torso length and the
    difference of colours; links are taken cheapest first, each tracklet having at most one successor and
    predecessor. Deterministic: ties go to the earlier tracklet. People apart for longer than ``max_gap_s``
    are then re-identified by :func:`relink` (``frame_size``: the picture's width and height in pixels, for the
    side they left and came back by)."""
    n = len(tracklets)
    cands: list[tuple[float, int, int]] = []
    for i, a in enumerate(tracklets):
        ca, ta = _scale(a, first=False)
        for j, b in enumerate(tracklets):
            if i == j or b.frames[0] <= a.frames[-1]:
                continue
            gap = (b.frames[0] - a.frames[-1]) / fps
            if gap > max_gap_s:
                continue
            cb, tb = _scale(b, first=True)
            move = max(0.0, float(np.linalg.norm(cb - ca)) / (3.3 * ta) - 1.5 * gap - 0.2)
            size = abs(np.log(tb / ta))
            cost = move + size + signature_distance(a.signature(), b.signature())
            if cost <= max_cost:
                cands.append((cost, i, j))
    cands.sort()
    nxt: dict[int, int] = {}
    prv: dict[int, int] = {}
    for _, i, j in cands:
        if i in nxt or j in prv:
            continue
        nxt[i] = j
        prv[j] = i
    chains = []
    for i in range(n):
        if i in prv:
            continue
        chain = [tracklets[i]]
        while i in nxt:
            i = nxt[i]
            chain.append(tracklets[i])
        chains.append(chain)
    return relink(chains, fps, max_gap_s, frame_size)


# ---------------------------------------------------------------------------------------- re-identification

#: Bones whose lengths, in torso lengths, make a person's body signature (left and right pooled): shoulder
#: width, hip width, upper arm, forearm, thigh, shin (BlazePose's landmark numbers).
BODY_BONES = (((11, 12),), ((23, 24),), ((11, 13), (12, 14)), ((13, 15), (14, 16)), ((23, 25), (24, 26)),
              ((25, 27), (26, 28)))
#: Someone back after a long absence is the person who left only if their proportions (mean |log ratio|) and
#: their colours (Bhattacharyya distance) both agree this well: on the Sports2D demo the same person seen at
#: different times differs by <= 0.025 / 0.17, the two people by >= 0.05 / 0.36.
REID_MAX_BODY = 0.04
REID_MAX_COLOUR = 0.3
#: ... and no other pairing is within this much of the same cost (an ambiguous return stays a new person).
REID_MARGIN = 0.05
#: Extra cost when they come back by another side of the picture than the one they left by.
REID_OTHER_SIDE = 0.05
EDGE_MARGIN = 0.08  # of the picture's size: a hip centre this near an edge left (or came in) by that edge


def body_signature(world: np.ndarray, vis: np.ndarray, min_frames: int = 10,
                   min_vis: float = 0.8) -> np.ndarray | None:
    """A person's proportions: the median length of each of BODY_BONES in torso lengths (shoulder centre to
    hip centre) over the frames where the torso and that bone are seen well. BlazePose's world landmarks are
    metric and centred on the hips, so the ratios are the person's own whatever their distance to the camera.
    ``world`` (F, 33, 3), ``vis`` (F, 33); None when the torso is seen well in fewer than ``min_frames``."""
    world = np.asarray(world, float)
    vis = np.asarray(vis, float)
    torso = np.linalg.norm(0.5 * (world[:, 11] + world[:, 12]) - 0.5 * (world[:, 23] + world[:, 24]), axis=-1)
    ok_torso = (vis[:, [11, 12, 23, 24]] >= min_vis).all(axis=1) & np.isfinite(torso) & (torso > 1e-3)
    if ok_torso.sum() < min_frames:
        return None
    out = np.full(len(BODY_BONES), np.nan)
    for k, pairs in enumerate(BODY_BONES):
        ratios = [np.linalg.norm(world[ok, a] - world[ok, b], axis=-1) / torso[ok]
                  for a, b in pairs for ok in [ok_torso & (vis[:, a] >= min_vis) & (vis[:, b] >= min_vis)]]
        values = np.concatenate(ratios)
        values = values[np.isfinite(values) & (values > 0)]
        if len(values) >= min_frames:
            out[k] = float(np.median(values))
    return out if np.isfinite(out).sum() >= 3 else None


def body_distance(a: np.ndarray | None, b: np.ndarray | None) -> float:
    """Mean |log ratio| of two body signatures over the bones both have; inf when either is unknown."""
    if a is None or b is None:
        return float("inf")
    both = np.isfinite(a) & np.isfinite(b)
    if both.sum() < 3:
        return float("inf")
    return float(np.mean(np.abs(np.log(a[both] / b[both]))))


def picture_side(point: np.ndarray, frame_size: tuple[int, int] | None) -> str:
    """The edge of the picture ``point`` (pixels) is at ("left", "right", "top", "bottom"), else "inside"."""
    if frame_size is None or not np.isfinite(point).all():
        return "inside"
    w, h = frame_size
    x, y = float(point[0]) / w, float(point[1]) / h
    near = {"left": x, "right": 1.0 - x, "top": y, "bottom": 1.0 - y}
    side, dist = min(near.items(), key=lambda kv: kv[1])
    return side if dist <= EDGE_MARGIN else "inside"


@dataclass
class _Seen:
    """One identity so far (a chain of tracklets) as re-identification sees it."""

    chain: list[Tracklet]
    first: int
    last: int
    colour: np.ndarray | None
    body: np.ndarray | None
    came_in: str
    left_by: str


def _seen(chain: list[Tracklet], frame_size: tuple[int, int] | None) -> _Seen:
    world = np.concatenate([np.stack(t.world) for t in chain])
    vis = np.concatenate([np.stack(t.visibility) for t in chain])
    sigs = [s for t in chain for s in t.signatures]
    first, last = chain[0], chain[-1]
    return _Seen(chain, first.frames[0], last.frames[-1], np.mean(sigs, axis=0) if sigs else None,
                 body_signature(world, vis), picture_side(0.5 * (first.image[0][23] + first.image[0][24]), frame_size),
                 picture_side(0.5 * (last.image[-1][23] + last.image[-1][24]), frame_size))


def relink(chains: list[list[Tracklet]], fps: float, max_gap_s: float,
           frame_size: tuple[int, int] | None = None) -> list[list[Tracklet]]:
    """Identities joined when one person comes back after more than ``max_gap_s`` away (out of the picture,
    or hidden): the identity that ends before another starts, whose body proportions (:func:`body_signature`)
    and colours agree within REID_MAX_BODY and REID_MAX_COLOUR, the cheapest pairing first (their sum, plus
    REID_OTHER_SIDE when they come back by another side of the picture than they left by), each identity
    joined once each way, and only when no other pairing of either is within REID_MARGIN (an ambiguous
    return stays a new person: two identities are better than one made of two people). Deterministic.
    Returns the chains in the order of their first frames."""
    if len(chains) < 2:
        return chains
    seen = [_seen(c, frame_size) for c in chains]
    cands: list[tuple[float, int, int]] = []
    for i, a in enumerate(seen):
        for j, b in enumerate(seen):
            if i == j or (b.first - a.last) / fps <= max_gap_s:
                continue
            body = body_distance(a.body, b.body)
            colour = signature_distance(a.colour, b.colour) if a.colour is not None and b.colour is not None else 1.0
            if body > REID_MAX_BODY or colour > REID_MAX_COLOUR:
                continue
            side = 0.0 if a.left_by == b.came_in else REID_OTHER_SIDE
            cands.append((body / REID_MAX_BODY * REID_MAX_COLOUR + colour + side, i, j))
    cands.sort()
    # the two cheapest pairings of each identity, each way: a pairing's rivals are the others sharing one end
    # (linear in the candidates, however many identities a long, crowded clip has)
    by_end: dict[tuple[str, int], list[tuple[float, int]]] = {}
    for cost, i, j in cands:
        for end, other in ((("from", i), j), (("to", j), i)):
            cheapest = by_end.setdefault(end, [])
            if len(cheapest) < 2:
                cheapest.append((cost, other))

    def rival(end: tuple[str, int], other: int) -> float:
        return next((c for c, o in by_end[end] if o != other), np.inf)

    nxt: dict[int, int] = {}
    prv: dict[int, int] = {}
    for cost, i, j in cands:
        if i in nxt or j in prv:
            continue
        if min(rival(("from", i), j), rival(("to", j), i)) - cost < REID_MARGIN:
            continue
        nxt[i], prv[j] = j, i
    out = []
    for i in range(len(seen)):
        if i in prv:
            continue
        chain = list(seen[i].chain)
        while i in nxt:
            i = nxt[i]
            chain += seen[i].chain
        out.append(chain)
    out.sort(key=lambda c: (c[0].frames[0], c[0].id))
    return out


def summarise(present: np.ndarray, size: np.ndarray, frames: np.ndarray, times: np.ndarray) -> dict[str, Any]:
    """What the add-on shows of one person: how long they are seen and the frame where they are seen best
    (the largest body among the frames where the whole body is in view, else the largest)."""
    seen = np.nonzero(present)[0]
    if not len(seen):
        return {"frames_visible": 0}
    best = int(seen[np.argmax(np.where(np.isfinite(size[seen]), size[seen], -1.0))])
    fps_dt = float(np.median(np.diff(times))) if len(times) > 1 else 0.0
    return {
        "frames_visible": int(len(seen)),
        "seconds_visible": round(len(seen) * fps_dt, 3),
        "fraction_visible": round(len(seen) / len(present), 3),
        "first_frame": int(frames[seen[0]]),
        "last_frame": int(frames[seen[-1]]),
        "best_frame": int(frames[best]),
        "best_time_s": round(float(times[best]), 3),
    }


def presence_order(present: np.ndarray, size: np.ndarray) -> list[int]:
    """People (rows of ``present`` (P, F)) ordered main subject first: most frames seen, then the larger
    median body, then who appeared first. The same footage always gives the same order."""
    keys = []
    for p in range(present.shape[0]):
        seen = np.nonzero(present[p])[0]
        med = float(np.nanmedian(size[p, seen])) if len(seen) else 0.0
        keys.append((-len(seen), -round(med, 1), int(seen[0]) if len(seen) else 1 << 30, p))
    return [k[-1] for k in sorted(keys)]
