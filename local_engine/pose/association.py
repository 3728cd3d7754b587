"""Who is who across calibrated views: each view's people (local_engine.pose.people) matched to the same
person in the other views by epipolar consistency (the symmetric distance of body points to each other's
epipolar lines, over the frames both see), then grouped into people seen by several views.

Takes pixels and Camera calibrations; it must not run models, decode video or triangulate. No bpy here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..calibration import projection_matrix, undistort_points
from ..camera import Camera

#: Body points used for matching, each the middle of a left/right pair (so label swaps do not matter):
#: shoulders, hips, knees, ankles; and the nose.
_PAIRS = [(11, 12), (23, 24), (25, 26), (27, 28), (0, 0)]


@dataclass
class Person:
    """One person across views: ``tracks[v]`` is the index of that person in view v's list, or None."""

    tracks: list[int | None]
    cost_px: float  # median epipolar distance of the matches that made it
    frames_seen: int  # frames where at least two views see this person


def fundamental(a: Camera, b: Camera) -> np.ndarray:
    """F with x_b^T F x_a = 0 for undistorted pixels of views a and b."""
    Pa, Pb = projection_matrix(a), projection_matrix(b)
    centre = np.linalg.svd(Pa)[2][-1]
    e = Pb @ centre
    ex = np.array([[0, -e[2], e[1]], [e[2], 0, -e[0]], [-e[1], e[0], 0]])
    F = ex @ Pb @ np.linalg.pinv(Pa)
    return F / np.linalg.norm(F)


def body_points(pixels: np.ndarray, visibility: np.ndarray, min_vis: float = 0.5) -> np.ndarray:
    """(F, 5, 2) middle points of the matching pairs (NaN where either side is unsure)."""
    out = np.full((*pixels.shape[:1], len(_PAIRS), 2), np.nan)
    for k, (i, j) in enumerate(_PAIRS):
        ok = (visibility[:, i] >= min_vis) & (visibility[:, j] >= min_vis)
        mid = 0.5 * (pixels[:, i] + pixels[:, j])
        out[ok, k] = mid[ok]
    return out


def epipolar_cost(F: np.ndarray, pa: np.ndarray, pb: np.ndarray, min_frames: int = 5) -> tuple[float, int]:
    """Median symmetric epipolar distance (pixels) between two people's body points (F, K, 2) in two views,
    and how many frames it was measured on; inf when fewer than ``min_frames`` frames are shared."""
    ok = np.isfinite(pa).all(-1) & np.isfinite(pb).all(-1)
    frames = int(ok.any(1).sum())
    if frames < min_frames:
        return float("inf"), frames
    xa = np.concatenate([pa[ok], np.ones((int(ok.sum()), 1))], 1)
    xb = np.concatenate([pb[ok], np.ones((int(ok.sum()), 1))], 1)
    lb = xa @ F.T  # lines in b
    la = xb @ F  # lines in a
    db = np.abs(np.sum(lb * xb, 1)) / np.maximum(np.hypot(lb[:, 0], lb[:, 1]), 1e-12)
    da = np.abs(np.sum(la * xa, 1)) / np.maximum(np.hypot(la[:, 0], la[:, 1]), 1e-12)
    return float(np.median(0.5 * (da + db))), frames


def associate(cameras: list[Camera], pixels: list[list[np.ndarray]], visibility: list[list[np.ndarray]],
              max_px: float | None = None) -> list[Person]:
    """Group the people of every view (``pixels[v][p]`` (F, 33, 2) raw pixels of person p in view v) into
    people seen by several views, most seen first.

    Pairs of (view, person) are joined cheapest first while their epipolar distance is below ``max_px``
    (default: 4 % of the larger image side) and the group has nobody yet in either view; a group is kept
    when it spans two views or more. Deterministic for the same input.
    """
    V = len(cameras)
    pts = [[body_points(undistort_points(cameras[v], p), w) for p, w in zip(pixels[v], visibility[v])]
           for v in range(V)]
    if max_px is None:
        sizes = [max(c.size) if c.size else 2.0 * float(np.asarray(c.intrinsics)[0, 2]) for c in cameras]
        max_px = 0.04 * float(max(sizes))
    edges: list[tuple[float, int, int, int, int]] = []
    for a in range(V):
        for b in range(a + 1, V):
            F = fundamental(cameras[a], cameras[b])
            for i, pa in enumerate(pts[a]):
                for j, pb in enumerate(pts[b]):
                    cost, _ = epipolar_cost(F, pa, pb)
                    if cost <= max_px:
                        edges.append((cost, a, i, b, j))
    edges.sort()
    group_of: dict[tuple[int, int], int] = {}
    groups: list[dict[int, int]] = []
    costs: list[list[float]] = []
    for cost, a, i, b, j in edges:
        ga, gb = group_of.get((a, i)), group_of.get((b, j))
        if ga is None and gb is None:
            groups.append({a: i, b: j})
            costs.append([cost])
            group_of[(a, i)] = group_of[(b, j)] = len(groups) - 1
        elif ga is not None and gb is None and b not in groups[ga]:
            groups[ga][b] = j
            group_of[(b, j)] = ga
            costs[ga].append(cost)
        elif gb is not None and ga is None and a not in groups[gb]:
            groups[gb][a] = i
            group_of[(a, i)] = gb
            costs[gb].append(cost)
        elif ga is not None and gb is not None and ga != gb and not (set(groups[ga]) & set(groups[gb])):
            groups[ga].update(groups[gb])
            costs[ga].extend(costs[gb])
            for key in [k for k, g in group_of.items() if g == gb]:
                group_of[key] = ga
            groups[gb] = {}
    people = []
    for g, members in enumerate(groups):
        if len(members) < 2:
            continue
        seen = sum(np.isfinite(pts[v][p]).all(-1).any(-1) for v, p in members.items())
        people.append(Person([members.get(v) for v in range(V)], float(np.median(costs[g])),
                             int(np.sum(np.asarray(seen) >= 2))))
    people.sort(key=lambda p: (-p.frames_seen, p.cost_px))
    return people
