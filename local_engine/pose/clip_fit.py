"""Whole-clip optimisation of a single camera's 3D landmarks (camera space, metres, y down, z away).

The per-frame lift (local_engine.pose.monocular.lift) puts BlazePose's metric landmarks on the rays of its 2D
landmarks, but their depths are the model's guess frame by frame, and its limbs change length from frame to
frame. :func:`optimise` solves, over the whole clip at once, for the limb and foot landmarks' camera-space
positions (a few damped Gauss-Newton steps with an analytic sparse Jacobian; the frame-ordered normal equations
are banded, so a 10 s 60 fps clip takes a few seconds on one core) minimising

    sum  visibility * |project(X) - pixel|^2 / pixel_sigma^2            (2D reprojection)
  + sum  (|X_a - X_b| - L_ab)^2 / bone_sigma^2                          (the person's bone lengths, constant)
  + sum  |(X_j - X_hips) - (W_j - W_hips)|^2 / prior_sigma^2           (BlazePose's own 3D: depth order)
  + sum  |X[f-1] - 2 X[f] + X[f+1]|^2 / accel_sigma^2                  (smooth motion)
  + sum  |X_foot[f+1] - X_foot[f]|^2 / still_sigma^2                   (a planted foot stays put)
  + sum  ((X_toe - X_heel) . up)^2 / flat_sigma^2                       (a planted sole lies flat)
  + sum  max(0, -(thigh x shin) . hips_line / lengths)^2 / knee_sigma^2 (knees bend one way: a joint limit)
  + sum  max(0, (shin x foot) . hips_line / lengths)^2 / foot_sigma^2  (toes in front of the shin)
  + sum  max(0, -elbow_bend)^2 / elbow_sigma^2                          (no elbow bent backwards)
  + sum  ((X_left - X_right)_z - T_line)^2 / torso_sigma^2              (the torso's turn: hips, shoulders)

where L_ab are the person's segment lengths (left and right averaged): what each segment spans across the image
at its depth near the top of the take (:func:`image_segment_lengths`; every limb lies across the view at some
time, and BlazePose's metric lengths shorten the limbs it sees foreshortened, which took away their depth), or
the medians of BlazePose's metric lengths, raised where a segment is shorter than its neighbours allow
(:func:`proportioned`: a forearm pointing at the camera all take). The elbow's bend is :func:`limb_bends`'s
(the forearm against the direction an untwisted humerus flexes it). The planted feet and the floor's up
direction are the caller's (local_engine.pose.monocular.planted_feet, decided over the whole clip from the
image). (scipy's least_squares 'trf' with lsmr on the same sparse problem took 13 s for 600 frames without
converging.)

With the bone lengths fixed, the 2D terms decide how far each limb leans towards or away from the camera, not
which way: each segment has two branches, mirror images along the ray. Which one is decided before the solve,
over the whole clip (:func:`decide_depth_signs`, the limb-flip ambiguity of monocular lifting): a segment can
change branch only while it lies near the image plane, so between such frames one sign holds, chosen by
BlazePose's depth offsets over that interval unless the elbow's or ankle's limit prefers the other; the start
and the prior are put on the chosen branch, and the limit terms keep the solve there. The prior holds joints the
model did not see.

The torso's turn (about the vertical) is held where BlazePose puts it: T_line is the model's depth offset between
the left and right hip, and between the left and right shoulder, low-passed (:func:`torso_turn`). Left to the other
terms the fit turned the hips 5-14 degrees further from the four views' turn than the model had them, and put the
nearer hip behind on up to half of a camera's frames. Other single-view evidence was measured against the four
views and does not beat the model's own turn on this footage: the foreshortened image width of the hips and
shoulders gives |offset| 3-8 cm off (the model: 2-7 cm); which way the face points (nose against the ears) gets the
hips' depth order right where the model does not on the side view (cam02: 4 % wrong against 15 %), but one sign per
interval between the frames where the line lies across the view, by that vote or by the model's, scored no better
(landmarks seen along the optical axis: 64.8-65.3 mm against 64.9); and even the four views' own torso offsets,
given to the fit, scored worse on the skeleton (66.6 mm against 64.7): with upper arms and thighs on the wrong
branch for whole intervals, a torso that agrees with them fits better than the true one. The upper arms are still
not decided over the clip: BlazePose's vote per interval (relative to a torso held at the model's turn, it is the
same vote) measured 65.2 mm against 63.4.

What it gains (pose2sim Demo_SinglePerson, ``scripts/bench.py accuracy``, PA-MPJPE of one uncalibrated camera
against the engine's four-view result, mean of cams 1-4): 71.9 -> 65.0 mm on the legacy runtime, 70.7 -> 64.3 on the
Tasks runtime (raw BlazePose 97) with the depth signs decided over the clip; with the torso's turn held and the
model's landmarks seen along the ray through the hips (local_engine.pose.monocular.seen_along_rays, which the solver
applies first) 65.2 -> 63.4 and 64.3 -> 62.8 (the torso term alone 64.7 and 64.4, the ray alone 66.8 on the legacy
runtime: the two work together); 62.5 and 62.1 with the skeleton fit's floor pulling planted feet only as far as
their contacts agree (local_engine.pose.skeleton_fit.floor_targets). What is left is mostly along the ray and not
decidable from one view: upper arms and thighs near the body's frontal plane, where both branches are within the
joint limits and BlazePose's sign is wrong for whole intervals (cam04's upper arms on half the frames), and depth
offsets whose size is off by 2-10 cm (lengths, 2D error, the pelvis' turn: still 9-20 degrees off on the hips). With
the four views' signs and sizes of every limb segment's depth offset the fit's landmarks would be at 38 mm, with
their signs alone at 56 (measured on the fit before the decision, at 70 mm; the bench measures the skeleton fitted
to them).

Pure numpy/scipy on arrays: no skeletons, no cameras beyond the pinhole ``K``, no models and no bpy here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .blazepose import LM

#: The landmarks optimised (limbs and feet); the face follows the shoulders' motion, the fingers the wrists'.
BODY = [LM[f"{s}_{j}"] for j in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle", "heel", "foot_index")
        for s in ("left", "right")]
_B = {i: k for k, i in enumerate(BODY)}
#: Which of a segment's image spans (at its depth) over the take is its length: near the top, as each limb lies
#: across the view at some time, but not the top, which a 2D landmark's error makes too long.
IMAGE_LENGTHS_PERCENTILE = 90.0
LEFT_HAND = [LM[f"left_{n}"] for n in ("pinky", "index", "thumb")]
RIGHT_HAND = [LM[f"right_{n}"] for n in ("pinky", "index", "thumb")]
FACE = list(range(LM["left_shoulder"]))
#: Segments held at the person's length: (left landmark pair, right landmark pair).
_SEGMENTS = [(("left_shoulder", "left_elbow"), ("right_shoulder", "right_elbow")),
             (("left_elbow", "left_wrist"), ("right_elbow", "right_wrist")),
             (("left_hip", "left_knee"), ("right_hip", "right_knee")),
             (("left_knee", "left_ankle"), ("right_knee", "right_ankle")),
             (("left_ankle", "left_heel"), ("right_ankle", "right_heel")),
             (("left_heel", "left_foot_index"), ("right_heel", "right_foot_index")),
             (("left_ankle", "left_foot_index"), ("right_ankle", "right_foot_index")),
             (("left_shoulder", "left_hip"), ("right_shoulder", "right_hip")),
             (("left_shoulder", "right_shoulder"),), (("left_hip", "right_hip"),),
             (("left_shoulder", "right_hip"), ("right_shoulder", "left_hip")),
             ]


def segment_lengths(world: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(pairs (S, 2) of BODY indices, lengths (S,)): the median length over the clip of each segment in
    BlazePose's metric landmarks ``world`` (F, 33, 3), left and right averaged."""
    pairs, lengths = [], []
    for group in _SEGMENTS:
        med = [np.nanmedian(np.linalg.norm(world[:, LM[a]] - world[:, LM[b]], axis=-1)) for a, b in group]
        length = float(np.nanmean(med))
        for a, b in group:
            pairs.append((_B[LM[a]], _B[LM[b]]))
            lengths.append(length)
    return np.array(pairs, int), np.array(lengths)


def image_segment_lengths(points: np.ndarray, pixels: np.ndarray, visibility: np.ndarray, K: np.ndarray,
                          pairs: np.ndarray, fallback: np.ndarray, percentile: float) -> np.ndarray:
    """(S,) segment lengths from the image: a segment's length is at least what it spans across the image at
    its depth, and it spans all of it when it lies across the view, which each limb does at some time of a
    take. So the ``percentile`` (near the top, against outliers) over the frames where both ends are seen of
    |pixel_a - pixel_b| / f * depth, with ``points`` (F, J, 3) giving the depths; segments that share a length
    in ``fallback`` (left and right) share it here, and a segment never seen keeps its ``fallback`` length."""
    fx, fy = K[0, 0], K[1, 1]
    depth = 0.5 * (points[:, pairs[:, 0], 2] + points[:, pairs[:, 1], 2])
    d = pixels[:, pairs[:, 0]] - pixels[:, pairs[:, 1]]
    span = np.hypot(d[..., 0] / fx, d[..., 1] / fy) * depth
    seen = (visibility[:, pairs[:, 0]] > 0.5) & (visibility[:, pairs[:, 1]] > 0.5) & np.isfinite(span)
    out = np.asarray(fallback, np.float64).copy()
    for length in np.unique(fallback):
        group = fallback == length
        spans = span[:, group][seen[:, group]]
        if len(spans) >= 10:
            out[group] = float(np.percentile(spans, percentile))
    return out


#: The limb segments whose depth sign (child nearer or farther than parent along the ray) is decided over the
#: clip, parent first: (parent, child, landmarks carried with the child). Not the upper arms: nothing but
#: BlazePose's vote judges them (both branches of an arm held out sideways are within the shoulder's range),
#: and its vote over whole intervals measured worse than its frame-by-frame sign kept as the fit's prior.
FLIPPED = [(f"{s}_{a}", f"{s}_{b}", [f"{s}_{n}" for n in rest]) for s in ("left", "right")
           for a, b, rest in (("elbow", "wrist", ()),
                              ("hip", "knee", ("ankle", "heel", "foot_index")),
                              ("knee", "ankle", ("heel", "foot_index")), ("ankle", "foot_index", ("heel",)))]
#: A segment can turn its depth sign only while it lies within this angle (degrees) of the image plane.
CROSSING_DEG = 20.0


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def limb_bends(X: np.ndarray) -> np.ndarray:
    """(F, 4) how plausibly the elbows (left, right) and feet (left, right) bend, camera-space BODY landmarks
    ``X`` (F, J, 3); negative is past a joint limit.

    Elbow: the forearm's part across the upper arm (sine of the elbow's bend, over the forearm's length) along
    the direction the elbow flexes when the humerus is not twisted: the trunk's forward turned by the shortest
    rotation from hanging down to the upper arm's direction (swing without twist). Only a humerus twisted by
    more than 90 degrees bends the forearm against it (a forearm bent backwards at the elbow, as a flipped depth
    gives), so the figure is about sin(bend) cos(twist); it fades to 0 as the arm points straight up, where that
    direction is undefined. Foot: the sine of the foot's bend from the shin about the hips' left-right line,
    positive when the toes point forward (no ankle bends them behind the shin's line)."""
    out = np.zeros((len(X), 4))
    out[:, :2] = _elbow_bends(X)
    hp = X[:, [_B[LM["left_hip"]], _B[LM["right_hip"]]]]
    left = _unit(hp[:, 0] - hp[:, 1])
    for k, sd in enumerate(("left", "right")):
        kn, an, toe = (X[:, _B[LM[f"{sd}_{n}"]]] for n in ("knee", "ankle", "foot_index"))
        out[:, 2 + k] = -np.einsum("fi,fi->f", np.cross(_unit(an - kn), _unit(toe - an)), left)
    return out


#: The landmarks an elbow's bend (:func:`_elbow_bends`) depends on.
ELBOW_INPUTS = [_B[LM[f"{s}_{n}"]] for n in ("shoulder", "hip", "elbow", "wrist") for s in ("left", "right")]


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cross product of (N, 3) arrays (np.cross costs more than the arithmetic on short arrays)."""
    return np.stack([a[:, 1] * b[:, 2] - a[:, 2] * b[:, 1], a[:, 2] * b[:, 0] - a[:, 0] * b[:, 2],
                     a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]], axis=1)


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(-1)


def _elbow_bends(X: np.ndarray, columns: list[int] | None = None) -> np.ndarray:
    """(F, 2) the elbows' column of :func:`limb_bends` (left, right); ``X`` holds the BODY landmarks, or only
    those of ``columns`` (BODY indices) in that order."""
    at = {j: k for k, j in enumerate(columns)} if columns is not None else {j: j for j in range(len(BODY))}

    def p(name: str) -> np.ndarray:
        return X[:, at[_B[LM[name]]]]

    up = _unit(p("left_shoulder") + p("right_shoulder") - p("left_hip") - p("right_hip"))
    left = (p("left_shoulder") - p("right_shoulder")) + (p("left_hip") - p("right_hip"))
    left = _unit(left - up * _dot(left, up)[:, None])
    fwd = _cross(left, up)
    out = np.zeros((len(X), 2))
    for k, sd in enumerate(("left", "right")):
        u = _unit(p(f"{sd}_elbow") - p(f"{sd}_shoulder"))
        fo = _unit(p(f"{sd}_wrist") - p(f"{sd}_elbow"))
        across = fo - u * _dot(u, fo)[:, None]
        c = -_dot(up, u)
        ax = _cross(-up, u)
        neutral = fwd + _cross(ax, fwd) + _cross(ax, _cross(ax, fwd)) / np.maximum(1 + c, 0.05)[:, None]
        out[:, k] = _dot(across, _unit(neutral)) * np.clip((1 + c) / 0.3, 0.0, 1.0)
    return out


def decide_depth_signs(X: np.ndarray, prior: np.ndarray, px: np.ndarray, K: np.ndarray, pairs: np.ndarray,
                       lengths: np.ndarray, seen: np.ndarray | None = None
                       ) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """(X, prior, frames flipped per segment): the start of the fit and BlazePose's prior put on the branch
    (which end of each limb segment of :data:`FLIPPED` is nearer the camera) decided over the whole clip, not
    frame by frame.

    One camera sees a segment's depth offset only up to its sign. The sign can change only while the segment
    lies near the image plane (its image span, at its depth, within :data:`CROSSING_DEG` of its length), so
    between such frames it holds one value, chosen for the whole interval: by BlazePose's depth offsets (a vote
    weighted by their size over the length) unless a joint limit (:func:`limb_bends`: the elbow for the
    forearm, the ankle for the foot) prefers the other branch on most of the interval's frames where the two
    branches differ in plausibility. Segments are decided parent first (thigh, shin, foot); a flip mirrors the
    child's depth offset along its ray (its pixel kept) and carries what hangs on it; the prior's offset takes
    the decided sign too. ``X`` (F, J, 3) BODY landmarks in camera space, ``prior`` BlazePose's hip-centred
    BODY landmarks (camera axes), ``px`` their pixels, ``pairs`` and ``lengths`` the segments'
    (:func:`segment_lengths`). ``seen`` (F,) marks the frames with a person: a gap (gap-filled values are no
    evidence) ends an interval, so a person who comes back is decided afresh, and the gap's frames stay free."""
    X, prior = X.copy(), prior.copy()
    seen = np.ones(len(X), bool) if seen is None else np.asarray(seen, bool)
    fx, fy = K[0, 0], K[1, 1]
    flipped: dict[str, int] = {}
    judge = {"wrist": 0, "foot_index": 2}  # the limb_bends column (left; right is the next) judging a child
    for parent, child, carried in FLIPPED:
        p, c = _B[LM[parent]], _B[LM[child]]
        rest = [_B[LM[n]] for n in carried]
        L = float(lengths[np.nonzero((pairs[:, 0] == p) & (pairs[:, 1] == c))[0][0]])
        d = X[:, c, 2] - X[:, p, 2]
        dpx = px[:, c] - px[:, p]
        span = np.hypot(dpx[:, 0] / fx, dpx[:, 1] / fy) * 0.5 * (X[:, c, 2] + X[:, p, 2])
        joint = child.split("_", 1)[1]
        col = judge[joint] + (0 if parent.startswith("left") else 1) if joint in judge else None
        target = np.zeros(len(X))  # the decided sign of the child's depth offset (0: free to change)
        for seg in _runs((span < L * np.cos(np.radians(CROSSING_DEG))) & seen):  # the sign holds on each run
            want = np.sign(np.sum(d[seg])) or 1.0
            if col is not None:
                alt = _mirrored(X[seg], p, c, rest)
                far = np.minimum(np.where(d[seg] >= 0, limb_bends(X[seg])[:, col], limb_bends(alt)[:, col]), 0)
                near = np.minimum(np.where(d[seg] >= 0, limb_bends(alt)[:, col], limb_bends(X[seg])[:, col]), 0)
                differ = np.abs(far - near) > 0.05
                if differ.sum() >= 3:
                    want = 1.0 if np.mean(far[differ] > near[differ]) > 0.5 else -1.0
            target[seg] = want
        turn = np.sign(d) == -target
        if turn.any():
            X[turn] = _mirrored(X[turn], p, c, rest)
            flipped[f"{parent}-{child}"] = int(turn.sum())
        turn = np.sign(prior[:, c, 2] - prior[:, p, 2]) == -target
        prior[turn] = _mirrored_prior(prior[turn], p, c, rest)
    return X, prior, flipped


#: The torso's left-right lines whose depth offsets (left minus right along the ray) the fit holds.
TORSO_LINES = [("left_hip", "right_hip"), ("left_shoulder", "right_shoulder")]


def torso_turn(world: np.ndarray, fps: float, cutoff_hz: float) -> np.ndarray:
    """(F, 2) BlazePose's depth offsets of :data:`TORSO_LINES` (left minus right along the ray, metres),
    low-passed at ``cutoff_hz``; ``world`` (F, J, 3) holds the BODY landmarks in camera axes, gaps filled."""
    from .filters import butterworth_zero_phase

    dz = np.stack([world[:, _B[LM[a]], 2] - world[:, _B[LM[b]], 2] for a, b in TORSO_LINES], 1)
    return butterworth_zero_phase(dz, fps, cutoff_hz)


def _runs(mask: np.ndarray) -> list[slice]:
    """The maximal runs of True in ``mask`` (F,), as slices."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return [slice(int(a), int(b)) for a, b in zip(np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0])]


def _mirrored(X: np.ndarray, p: int, c: int, rest: list[int]) -> np.ndarray:
    """``X`` with the child ``c``'s depth offset from ``p`` mirrored, ``c`` kept on its ray, and the landmarks
    ``rest`` carried by the child's move along the ray (each kept at its depth offset from the child)."""
    out = X.copy()
    z = np.maximum(X[:, p, 2] - (X[:, c, 2] - X[:, p, 2]), 0.05)
    out[:, c] = X[:, c] * (z / X[:, c, 2])[:, None]
    for r in rest:
        zr = X[:, r, 2] + (z - X[:, c, 2])
        out[:, r] = X[:, r] * (np.maximum(zr, 0.05) / X[:, r, 2])[:, None]
    return out


def _mirrored_prior(W: np.ndarray, p: int, c: int, rest: list[int]) -> np.ndarray:
    """BlazePose's relative landmarks with the child's depth offset mirrored (its across-the-ray offsets kept)."""
    out = W.copy()
    dz = -2.0 * (W[:, c, 2] - W[:, p, 2])
    out[:, c, 2] += dz
    for r in rest:
        out[:, r, 2] += dz
    return out


#: Typical length ratios of neighbouring segments between joint centres (de Leva 1996, the lower of the male
#: and female figures: forearm 0.96 of the upper arm, upper arm 1.04 of the forearm, thigh 0.85 and shank 1.03
#: of each other, ankle to toe tip about 0.78 of the foot's 0.53 of the shank): (segment, neighbour, ratio).
PROPORTIONS = [(("elbow", "wrist"), ("shoulder", "elbow"), 0.96), (("shoulder", "elbow"), ("elbow", "wrist"), 1.04),
               (("hip", "knee"), ("knee", "ankle"), 0.85), (("knee", "ankle"), ("hip", "knee"), 1.03),
               (("ankle", "foot_index"), ("knee", "ankle"), 0.41)]
#: How far below its typical ratio to a neighbour a segment's length may be before it is raised to it.
PROPORTION_TOLERANCE = 0.1


def proportioned(pairs: np.ndarray, lengths: np.ndarray, tolerance: float = PROPORTION_TOLERANCE) -> np.ndarray:
    """(S,) ``lengths`` with each segment of :data:`PROPORTIONS` raised to at least (1 - ``tolerance``) times
    its typical ratio to its neighbour. Image lengths (:func:`image_segment_lengths`) are lower bounds: a limb
    that never lies across the view (a forearm pointing at the camera all take, a foot seen from behind) comes
    out short, which takes its depth offset away; its neighbours, seen across, say how long it must be."""
    out = np.asarray(lengths, np.float64).copy()

    def index(a: str, b: str) -> np.ndarray:
        return np.array([k for k, (i, j) in enumerate(pairs) for s in ("left", "right")
                         if (i, j) == (_B[LM[f"{s}_{a}"]], _B[LM[f"{s}_{b}"]])])

    for seg, other, ratio in PROPORTIONS:
        i, j = index(*seg), index(*other)
        out[i] = np.maximum(out[i], (1.0 - tolerance) * ratio * out[j])
    return out


def optimise(points: np.ndarray, world: np.ndarray, image: np.ndarray, visibility: np.ndarray, K: np.ndarray,
             fps: float, *, pixel_sigma: float | None = None, bone_sigma_m: float = 0.01,
             prior_sigma_m: tuple[float, float, float] = (0.15, 0.15, 0.15), accel_ms2: float = 20.0,
             min_visibility: float = 0.2, iterations: int = 4, init_cutoff_hz: float = 6.0,
             image_lengths_pct: float | None = IMAGE_LENGTHS_PERCENTILE, contacts: np.ndarray | None = None,
             up: np.ndarray | None = None, still_sigma_m: float = 0.003, flat_sigma_m: float = 0.01,
             knee_sigma: float | None = 0.05, foot_sigma: float | None = 0.05,
             elbow_sigma: float | None = 0.05, decide_signs: bool = True,
             torso_sigma_m: float | None = 0.02, torso_cutoff_hz: float = 3.0) -> tuple[np.ndarray, dict[str, Any]]:
    """Camera-space landmarks (F, 33, 3) refined over the whole clip, and statistics.

    ``points``: the per-frame lift (NaN where nobody was seen); ``world``: BlazePose's hip-centred metric
    landmarks in camera axes; ``image``: pixels (F, 33, 2); ``visibility`` (F, 33); ``K`` the pinhole
    intrinsics. ``pixel_sigma`` defaults to 0.4 % of the frame's extent as seen by ``K`` (about 8 px in 1080p).
    The solve starts from the lift low-passed at ``init_cutoff_hz``, put on the depth branches
    :func:`decide_depth_signs` chooses (``decide_signs``). ``knee_sigma``, ``foot_sigma`` and ``elbow_sigma``
    weigh the joint limits (None: off); ``torso_sigma_m`` the torso's turn held at BlazePose's, low-passed at
    ``torso_cutoff_hz`` (None: off). Frames without a person stay NaN; face landmarks move with the
    shoulders. The statistics say on how many frames each segment's branch was turned
    (``depth_signs_flipped``)."""
    from .filters import butterworth_zero_phase, fill_gaps

    pts = np.asarray(points, np.float64)
    seen = np.isfinite(pts[:, BODY]).all(axis=(1, 2))
    F, J = len(pts), len(BODY)
    if seen.sum() < 4:
        return pts.copy(), {"skipped": "too few frames with a person"}
    X0 = butterworth_zero_phase(fill_gaps(pts[:, BODY])[0], fps, init_cutoff_hz)
    W, _ = fill_gaps(np.asarray(world, np.float64)[:, BODY])
    px, _ = fill_gaps(np.asarray(image, np.float64)[:, BODY])
    vis = np.nan_to_num(np.asarray(visibility, np.float64)[:, BODY])
    vis = np.where(seen[:, None] & np.isfinite(np.asarray(image)[:, BODY]).all(-1) & (vis >= min_visibility),
                   vis, 0.0)
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    if pixel_sigma is None:
        pixel_sigma = 0.004 * 2.0 * max(cx, cy)
    pairs, lengths = segment_lengths(np.asarray(world, np.float64))
    if image_lengths_pct is not None:
        lengths = proportioned(pairs, image_segment_lengths(X0, px, vis, K, pairs, lengths, image_lengths_pct))
    ih = [_B[LM["left_hip"]], _B[LM["right_hip"]]]
    prior = W - W[:, ih].mean(1, keepdims=True)
    flipped: dict[str, int] = {}
    X_start = X0  # the low-passed lift: what the face and hands move with (a decided flip included)
    if decide_signs:
        X0, prior, flipped = decide_depth_signs(X0, prior, px, K, pairs, lengths, seen)
    acc_sigma = accel_ms2 / fps ** 2
    # the torso's turn: the hips' and shoulders' left-minus-right depth offsets held at BlazePose's, low-passed
    tl, tr = (np.array([_B[LM[line[k]]] for line in TORSO_LINES]) for k in (0, 1))
    tf, tk = (np.zeros(0, int) for _ in range(2))
    tt = np.zeros(0)
    if torso_sigma_m is not None:
        turn = torso_turn(W, fps, torso_cutoff_hz)
        tf, tk = np.nonzero(seen[:, None] & np.isfinite(turn))
        tt = turn[tf, tk]
    tsig = torso_sigma_m or 1.0
    sw = np.sqrt(vis) / pixel_sigma  # (F, J)
    psig = np.asarray(prior_sigma_m, np.float64)
    S = len(pairs)
    n = F * J * 3
    # planted feet: (frame, landmark) pairs held still from f to f + 1, and frames whose sole lies flat
    still_f, still_j, flat_f, flat_h, flat_t = (np.zeros(0, int) for _ in range(5))
    upv = np.zeros(3)
    if contacts is not None:
        sf, sj, ff, fh, ft = [], [], [], [], []
        for c, side in enumerate(("left", "right")):
            planted = np.asarray(contacts[:, c], bool) & seen
            both = np.nonzero(planted[:-1] & planted[1:])[0]
            for name in ("ankle", "heel", "foot_index"):
                sf.append(both)
                sj.append(np.full(len(both), _B[LM[f"{side}_{name}"]]))
            if up is not None:
                fr = np.nonzero(planted)[0]
                ff.append(fr)
                fh.append(np.full(len(fr), _B[LM[f"{side}_heel"]]))
                ft.append(np.full(len(fr), _B[LM[f"{side}_foot_index"]]))
        still_f, still_j = np.concatenate(sf), np.concatenate(sj)
        if up is not None:
            flat_f, flat_h, flat_t = np.concatenate(ff), np.concatenate(fh), np.concatenate(ft)
            upv = np.asarray(up, np.float64) / np.linalg.norm(up)

    def var(f: np.ndarray, j: np.ndarray | int, c: np.ndarray | int) -> np.ndarray:
        return (f * J + j) * 3 + c

    def length(a: str, b: str) -> float:
        return float(lengths[np.nonzero((pairs[:, 0] == _B[LM[a]]) & (pairs[:, 1] == _B[LM[b]]))[0][0]])

    # one-way hinges about the hips' left-right line: (first, middle, last landmark, weight with the sense the
    # joint must not bend): knees bend back (the shin turns backwards from the thigh), the foot points forward
    hinges: list[tuple[int, int, int, float]] = []
    hip_w = length("left_hip", "right_hip")
    for sd in ("left", "right"):
        if knee_sigma is not None:
            hinges.append((_B[LM[f"{sd}_hip"]], _B[LM[f"{sd}_knee"]], _B[LM[f"{sd}_ankle"]],
                           -1.0 / (length("left_hip", "left_knee") * length("left_knee", "left_ankle") * hip_w
                                   * knee_sigma)))
        if foot_sigma is not None:
            hinges.append((_B[LM[f"{sd}_knee"]], _B[LM[f"{sd}_ankle"]], _B[LM[f"{sd}_foot_index"]],
                           1.0 / (length("left_knee", "left_ankle") * length("left_ankle", "left_foot_index")
                                  * hip_w * foot_sigma)))
    H = len(hinges)

    def _hinge_terms(X: np.ndarray) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
        """Joints that bend one way about the hips' left-right line a: for each hinge (p, q, r, w),
        w * ((q - p) x (r - q)) . a (a sine over the segment lengths, signed so that the forbidden sense is
        positive) must not be positive; (F * H,) residuals (zero where it is not) and their gradients per
        joint."""
        a = X[:, ih[0]] - X[:, ih[1]]  # (F, 3)
        res: list[np.ndarray] = []
        gr: list[list[tuple[int, np.ndarray]]] = []
        for p, q, r_, w in hinges:
            t, sh = X[:, q] - X[:, p], X[:, r_] - X[:, q]
            v = np.einsum("fi,fi->f", np.cross(t, sh), a) * w
            on = (v > 0)[:, None]
            res.append(np.where(on[:, 0], v, 0.0))
            dt, ds, da = (w * np.cross(sh, a) * on, w * np.cross(a, t) * on, w * np.cross(t, sh) * on)
            gr.append([(p, -dt), (q, dt - ds), (r_, ds), (ih[0], da), (ih[1], -da)])
        out = np.stack(res, 1).ravel() if H else np.zeros(0)  # frame-major: (f, hinge)
        grads: list[tuple[np.ndarray, np.ndarray]] = []
        for k in range(H):
            for j, g in gr[k]:
                gg = np.zeros((F, H, 3))
                gg[:, k] = g
                grads.append((np.full(F * H, j), gg.reshape(F * H, 3)))
        return out, grads

    def _elbow_terms(X: np.ndarray) -> tuple[np.ndarray, list[tuple[int, np.ndarray]]]:
        """Elbows do not bend backwards: (F * 2,) residuals max(0, -bend) / elbow_sigma (:func:`limb_bends`)
        and their gradients (F * 2, 3) per landmark of :data:`ELBOW_INPUTS`, by central differences."""
        if elbow_sigma is None:
            return np.zeros(0), []
        bend = _elbow_bends(X)
        on = bend < 0  # (F, 2)
        res = np.where(on, -bend, 0.0).ravel() / elbow_sigma
        grads = []
        frames = np.nonzero(on.any(1))[0]  # only where a limit holds (few frames): differences there
        sub = X[frames][:, ELBOW_INPUTS]
        h = 1e-4
        for k, j in enumerate(ELBOW_INPUTS):
            g = np.zeros((F, 2, 3))
            for c in range(3):
                Xp, Xm = sub.copy(), sub.copy()
                Xp[:, k, c] += h
                Xm[:, k, c] -= h
                g[frames, :, c] = -(_elbow_bends(Xp, ELBOW_INPUTS) - _elbow_bends(Xm, ELBOW_INPUTS)) / (2 * h * elbow_sigma)
            grads.append((j, (g * on[..., None]).reshape(F * 2, 3)))
        return res, grads

    fj_f, fj_j = (a.ravel() for a in np.meshgrid(np.arange(F), np.arange(J), indexing="ij"))
    fs_f, fs_s = (a.ravel() for a in np.meshgrid(np.arange(F), np.arange(S), indexing="ij"))
    af, aj, ac = (a.ravel() for a in np.meshgrid(np.arange(1, F - 1), np.arange(J), np.arange(3), indexing="ij"))

    def residuals(x: np.ndarray) -> np.ndarray:
        X = x.reshape(F, J, 3)
        z = np.maximum(X[..., 2], 0.05)
        ru = (fx * X[..., 0] / z + cx - px[..., 0]) * sw
        rv = (fy * X[..., 1] / z + cy - px[..., 1]) * sw
        d = X[:, pairs[:, 0]] - X[:, pairs[:, 1]]
        rb = (np.linalg.norm(d, axis=-1) - lengths) / bone_sigma_m
        rp = ((X - X[:, ih].mean(1, keepdims=True)) - prior) / psig
        ra = (X[:-2] - 2 * X[1:-1] + X[2:]) / acc_sigma
        rs = (X[still_f + 1, still_j] - X[still_f, still_j]) / still_sigma_m
        rf = (X[flat_f, flat_t] - X[flat_f, flat_h]) @ upv / flat_sigma_m
        rk = _hinge_terms(X)[0]
        re = _elbow_terms(X)[0]
        rt = (X[tf, tl[tk], 2] - X[tf, tr[tk], 2] - tt) / tsig
        return np.concatenate([ru.ravel(), rv.ravel(), rb.ravel(), rp.ravel(), ra.ravel(), rs.ravel(), rf, rk, re, rt])

    def jacobian(x: np.ndarray) -> Any:
        from scipy.sparse import coo_matrix

        X = x.reshape(F, J, 3)
        z = np.maximum(X[..., 2], 0.05)
        rows, cols, vals = [], [], []
        r0 = 0
        for c, f_ in ((0, fx), (1, fy)):  # reprojection u then v: each on x (or y) and z of its landmark
            r = r0 + np.arange(F * J)
            rows += [r, r]
            cols += [var(fj_f, fj_j, c), var(fj_f, fj_j, 2)]
            vals += [(f_ / z * sw).ravel(), (-f_ * X[..., c] / z ** 2 * sw).ravel()]
            r0 += F * J
        d = X[:, pairs[:, 0]] - X[:, pairs[:, 1]]
        u = d / np.maximum(np.linalg.norm(d, axis=-1, keepdims=True), 1e-9) / bone_sigma_m  # (F, S, 3)
        r = r0 + np.arange(F * S)
        for c in range(3):
            rows += [r, r]
            cols += [var(fs_f, pairs[fs_s, 0], c), var(fs_f, pairs[fs_s, 1], c)]
            vals += [u[..., c].ravel(), -u[..., c].ravel()]
        r0 += F * S
        for c in range(3):  # prior: X_j - (X_lhip + X_rhip) / 2
            r = r0 + np.arange(F * J) * 3 + c
            rows += [r, r, r]
            cols += [var(fj_f, fj_j, c), var(fj_f, ih[0], c), var(fj_f, ih[1], c)]
            vals += [np.full(F * J, 1.0 / psig[c]), np.full(F * J, -0.5 / psig[c]), np.full(F * J, -0.5 / psig[c])]
        r0 += F * J * 3
        r = r0 + np.arange(len(af))
        for df, w in ((-1, 1.0), (0, -2.0), (1, 1.0)):
            rows.append(r)
            cols.append(var(af + df, aj, ac))
            vals.append(np.full(len(af), w / acc_sigma))
        r0 += len(af)
        for c in range(3):  # planted foot still: X[f + 1] - X[f]
            r = r0 + np.arange(len(still_f)) * 3 + c
            rows += [r, r]
            cols += [var(still_f + 1, still_j, c), var(still_f, still_j, c)]
            vals += [np.full(len(r), 1.0 / still_sigma_m), np.full(len(r), -1.0 / still_sigma_m)]
        r0 += len(still_f) * 3
        r = r0 + np.arange(len(flat_f))
        for c in range(3):  # planted sole flat: (toe - heel) . up
            rows += [r, r]
            cols += [var(flat_f, flat_t, c), var(flat_f, flat_h, c)]
            vals += [np.full(len(r), upv[c] / flat_sigma_m), np.full(len(r), -upv[c] / flat_sigma_m)]
        r0 += len(flat_f)
        rk, grads = _hinge_terms(X)
        r = r0 + np.arange(F * H)
        for jj, g in grads:  # (joint index (F*H,), gradient (F*H, 3))
            for c in range(3):
                rows.append(r)
                cols.append(var(np.repeat(np.arange(F), H), jj, c))
                vals.append(g[:, c])
        r0 += len(rk)
        re, egrads = _elbow_terms(X)
        r = r0 + np.arange(len(re))
        for ej, g in egrads:
            for c in range(3):
                rows.append(r)
                cols.append(var(np.repeat(np.arange(F), 2), ej, c))
                vals.append(g[:, c])
        r0 += len(re)
        r = r0 + np.arange(len(tf))  # the torso's turn: z of the left minus z of the right landmark
        rows += [r, r]
        cols += [var(tf, tl[tk], 2), var(tf, tr[tk], 2)]
        vals += [np.full(len(r), 1.0 / tsig), np.full(len(r), -1.0 / tsig)]
        r0 += len(tf)
        return coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(r0, n))

    x0 = X0.ravel()
    before = residuals(x0)
    x, nfev = _levenberg_marquardt(residuals, jacobian, x0, iterations)
    after = residuals(x)
    X = x.reshape(F, J, 3)
    shift = X - X_start
    posed = shift - shift[:, ih].mean(1, keepdims=True)
    out = pts.copy()
    out[:, BODY] = X
    for rest, follow in ((FACE, ["left_shoulder", "right_shoulder"]), (LEFT_HAND, ["left_wrist"]),
                         (RIGHT_HAND, ["right_wrist"])):
        out[:, rest] = pts[:, rest] + shift[:, [_B[LM[n]] for n in follow]].mean(1)[:, None]
    out[~seen] = np.nan
    stats = {"cost_before": round(float(0.5 * before @ before), 1), "cost_after": round(float(0.5 * after @ after), 1),
             "evaluations": nfev, "depth_signs_flipped": flipped,
             # how far the joints moved about the hips (the 90th percentile), and the hips along the ray
             "shift_m_p90": round(float(np.percentile(np.linalg.norm(posed[seen], axis=-1), 90)), 4),
             "hips_depth_shift_m": round(float(np.median(shift[seen][:, ih, 2].mean(1))), 4)}
    return out, stats


def _levenberg_marquardt(residuals: Any, jacobian: Any, x0: np.ndarray, iterations: int) -> tuple[np.ndarray, int]:
    """Minimise |residuals(x)|^2 from ``x0``: Gauss-Newton steps on the sparse normal equations (a direct
    sparse solve: the clip's frames couple only to their neighbours, so the system is banded), damped as
    Levenberg-Marquardt when a step does not lower the cost. The variables are ordered frame by frame, so the
    normal equations are banded and a sparse LU in that order solves them in time linear in the frames.
    Returns (x, residual evaluations)."""
    from scipy.sparse import diags
    from scipy.sparse.linalg import spsolve

    x = x0.copy()
    r = residuals(x)
    cost = float(r @ r)
    lam = 1e-3
    nfev = 1
    for _ in range(iterations):
        Jm = jacobian(x)
        A = (Jm.T @ Jm).tocsc()
        g = Jm.T @ r
        d = A.diagonal()
        while True:
            # SuperLU in the variables' own (frame) order keeps the band; it runs on one thread, where LAPACK's
            # banded Cholesky (solveh_banded) starts OpenBLAS threads that stall on a busy machine
            step = spsolve((A + diags(lam * np.maximum(d, 1e-9))).tocsc(), -g, permc_spec="NATURAL")
            trial = residuals(x + step)
            nfev += 1
            tc = float(trial @ trial)
            if tc < cost:
                x, r, lam = x + step, trial, max(lam / 10.0, 1e-7)
                break
            lam *= 10.0
            if lam > 1e4:
                return x, nfev
        done = cost - tc < 1e-6 * cost
        cost = tc
        if done:
            break
    return x, nfev
