"""Move's MOTION_DATA output (per-frame joint JSON, possibly zipped): parse it and solve a pose on Move's
skeleton from it (numpy only, no bpy here; the bpy layer builds the armature and writes the keys).

File shape (see Move's sample)::

    {"mocap_data": [{"timestamp": "0.0", "joint_data": {"Root": {"position": [x, y, z], "type": "euler_xyz",
      "rotations": [rx, ry, rz], "torques": [...], "reaction_forces": 0.0}, ...}}, ...],
     "mocap_data_actor_2": [...]}                                  (further actors, if any)

What the data says, checked on Move's real sample: positions are joint centres in metres, Z up. A joint of
type ``euler_<axes>`` rotates relative to its parent joint (the root's relative to the world), all from a
T-pose whose frames are aligned with the world (character facing -Y, left +X); the root and spine as named,
``R(a0) @ R(a1) @ ...``, but Move composes limb joints in other orders and about other signed axes (e.g. its
elbows bend about +Z on the left and -Z on the right), so each joint is read the way its child joints stay
rigid (:func:`joint_rotations`), from the type string and the data alone. The hips and spine follow from the rotations exactly; the limbs do
not (Move hides a clavicle and solves limbs with its own offsets), so every bone that has a data joint at
its tail takes its direction from the positions and only its twist from the rotations. Joint positions of
the solved pose therefore match the file; :func:`joint_errors` measures by how much.
"""

from __future__ import annotations

import io
import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .archive import MAX_MEMBER_BYTES, ArchiveError, iter_members
from .move_skeleton import BY_NAME, MOTION_DATA_JOINTS, MOTION_DATA_PARENTS, MOVE_BONE_NAMES, MOVE_PARENTS
from .retarget.quat import from_matrix as quat_from_matrix

JOINTS: tuple[str, ...] = tuple(MOTION_DATA_JOINTS)
#: Newtons above which a toe's reaction force counts as a foot contact.
CONTACT_FORCE = 1.0
_ACTOR_KEY = re.compile(r"^mocap_data(?:_actor)?_(\d+)$")


class MotionDataError(ValueError):
    """The file is not usable MOTION_DATA; the message names the problem and what to do."""


@dataclass
class ActorTake:
    """One actor's frames as read from the file."""

    actor: int
    timestamps: np.ndarray  # (F,) seconds
    positions: np.ndarray  # (F, J, 3) metres, J in JOINTS order
    types: dict[str, str]  # joint -> "euler_xyz", ...
    rotations: dict[str, np.ndarray]  # joint -> (F, k) radians
    contacts: np.ndarray | None  # (F, 2) bool, left and right foot; None: no frame has reaction forces

    @property
    def frame_count(self) -> int:
        return len(self.timestamps)

    @property
    def fps(self) -> float:
        if self.frame_count < 2:
            return 60.0
        step = float(np.median(np.diff(self.timestamps)))
        return 1.0 / step if step > 0 else 60.0

    def frames(self) -> np.ndarray:
        """Frame numbers of the samples (timestamp x fps, rounded), starting where the file starts."""
        return np.rint(self.timestamps * self.fps).astype(np.int64)


@dataclass
class MotionData:
    actors: dict[int, ActorTake]

    def take(self, actor: int | None = None) -> ActorTake:
        if actor is None:
            actor = min(self.actors)
        if actor not in self.actors:
            have = ", ".join(str(a) for a in sorted(self.actors))
            raise MotionDataError(f"Actor {actor} is not in this MOTION_DATA file (actors present: {have}); "
                                  "choose one of those")
        return self.actors[actor]


# -- reading -----------------------------------------------------------------------------------------------

def _json_members(names: list[str]) -> list[str]:
    """The zip members that may be MOTION_DATA, the likeliest first (read one at a time, as needed)."""
    found = [m for m in names if m.lower().endswith(".json") and not m.startswith("__MACOSX")]
    return sorted(found, key=lambda m: "motion" not in m.lower())


def _read_zip(source: Any, name: str) -> MotionData:
    tried = 0
    first: MotionDataError | None = None
    try:
        for member, data in iter_members(source, _json_members, name):
            tried += 1
            try:
                return parse_motion_data(_load_json(data, f"{name}/{member}"), f"{name}/{member}")
            except MotionDataError as exc:
                first = first or exc
    except ArchiveError as exc:
        raise MotionDataError(str(exc)) from exc
    if tried == 0:
        raise MotionDataError(f"{name}: the zip holds no .json file; download MOTION_DATA again")
    if tried == 1 and first is not None:
        raise first
    raise MotionDataError(f"{name}: none of the zip's .json files is MOTION_DATA")


def read_motion_data_bytes(raw: bytes, name: str = "MOTION_DATA") -> MotionData:
    """Parse MOTION_DATA from the bytes of a .json file or of a .zip holding one (read within bounds)."""
    if raw[:4] == b"PK\x03\x04":
        return _read_zip(io.BytesIO(raw), name)
    return parse_motion_data(_load_json(raw, name), name)


def read_motion_data(path: str | Path) -> MotionData:
    """Parse a MOTION_DATA .json or .zip file; a zip is read member by member, never whole."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
            size = path.stat().st_size
            if head == b"PK\x03\x04":
                return _read_zip(fh, path.name)
            if size > MAX_MEMBER_BYTES:
                raise MotionDataError(f"{path.name}: {size >> 20} MiB is over the {MAX_MEMBER_BYTES >> 20} MiB "
                                      "limit for MOTION_DATA; this is not a Move output: check the file")
            fh.seek(0)
            raw = fh.read()
    except OSError as exc:
        raise MotionDataError(f"{path.name}: cannot be read ({exc.strerror}); check the path") from exc
    return parse_motion_data(_load_json(raw, path.name), path.name)


def _load_json(raw: bytes, name: str) -> Any:
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MotionDataError(f"{name}: not valid JSON ({exc}); the download may be incomplete") from exc


def parse_motion_data(doc: Any, name: str = "MOTION_DATA") -> MotionData:
    if not isinstance(doc, dict):
        raise MotionDataError(f"{name}: expected a JSON object with 'mocap_data'; this is not MOTION_DATA")
    actors: dict[int, ActorTake] = {}
    for key, frames in doc.items():
        if key == "mocap_data":
            actor = 1
        else:
            m = _ACTOR_KEY.match(key)
            if not m:
                continue
            actor = int(m.group(1))
        actors[actor] = _parse_actor(frames, actor, f"{name}: {key}")
    if not actors:
        raise MotionDataError(f"{name}: no 'mocap_data' in the file; this is not Move's MOTION_DATA output")
    return MotionData(actors)


def _parse_actor(frames: Any, actor: int, where: str) -> ActorTake:
    if not isinstance(frames, list) or not frames:
        raise MotionDataError(f"{where} holds no frames; the capture has no animation")
    n = len(frames)
    times = np.empty(n)
    pos = np.empty((n, len(JOINTS), 3))
    contacts = np.zeros((n, 2), dtype=bool)
    forces_seen = False  # no reaction forces at all: contacts unknown (detected), not "never planted"
    types: dict[str, str] = {}
    rots: dict[str, list[list[float]]] = {j: [] for j in JOINTS}
    for f, frame in enumerate(frames):
        try:
            times[f] = float(frame["timestamp"])
            jd = frame["joint_data"]
        except (KeyError, TypeError, ValueError) as exc:
            raise MotionDataError(f"{where}, frame {f}: no timestamp/joint_data ({exc})") from exc
        missing = [j for j in JOINTS if j not in jd]
        if missing:
            raise MotionDataError(f"{where}, frame {f}: joints missing: {', '.join(missing)}")
        for j, joint in enumerate(JOINTS):
            rec = jd[joint]
            try:
                pos[f, j] = [float(v) for v in rec["position"]]
                typ = str(rec.get("type", "euler_xyz"))
                rot = [float(v) for v in rec.get("rotations", [])]
            except (KeyError, TypeError, ValueError) as exc:
                raise MotionDataError(f"{where}, frame {f}, joint {joint}: bad position or rotations") from exc
            axes = _axes(typ, joint, where)
            if len(rot) != len(axes):
                raise MotionDataError(f"{where}, frame {f}, joint {joint}: {typ} needs {len(axes)} angles")
            if types.setdefault(joint, typ) != typ:
                raise MotionDataError(f"{where}: joint {joint} changes rotation type at frame {f}")
            rots[joint].append(rot)
        for side, toe in enumerate(("Left_toe", "Right_toe")):
            force = jd[toe].get("reaction_forces")
            forces_seen = forces_seen or force is not None
            total = float(np.sum(np.abs(np.asarray(force, dtype=float)))) if force is not None else 0.0
            contacts[f, side] = total > CONTACT_FORCE
    if not (np.isfinite(pos).all() and np.isfinite(times).all()):
        raise MotionDataError(f"{where}: positions or timestamps are not finite numbers")
    order = np.argsort(times, kind="stable")
    return ActorTake(actor, times[order], pos[order], types,
                     {j: np.asarray(r, dtype=np.float64)[order] for j, r in rots.items()},
                     contacts[order] if forces_seen else None)


def _axes(typ: str, joint: str, where: str) -> str:
    m = re.fullmatch(r"euler_([xyz]{1,3})", typ)
    if not m:
        raise MotionDataError(f"{where}: joint {joint} has rotation type {typ!r}, which this add-on cannot read")
    return m.group(1)


# -- rotations ---------------------------------------------------------------------------------------------

def axis_rotation(axis: str, angle: np.ndarray) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    one, zero = np.ones_like(angle), np.zeros_like(angle)
    rows = {
        "x": [[one, zero, zero], [zero, c, -s], [zero, s, c]],
        "y": [[c, zero, s], [zero, one, zero], [-s, zero, c]],
        "z": [[c, -s, zero], [s, c, zero], [zero, zero, one]],
    }[axis]
    return np.moveaxis(np.array(rows, dtype=np.float64), (0, 1), (-2, -1))


def euler_matrices(typ: str, angles: np.ndarray, reverse: bool = False) -> np.ndarray:
    """(F, 3, 3) rotations of a joint of type ``euler_<axes>``: ``R(a0) @ R(a1) @ ...`` (the type string read
    as named), or with ``reverse`` ``... @ R(a1) @ R(a0)`` (Blender's convention, which some writers use)."""
    axes = typ.split("_", 1)[1]
    factors = tuple((axis, 1, k) for k, axis in enumerate(axes))
    return _compose(tuple(reversed(factors)) if reverse else factors, angles)


Factors = tuple[tuple[str, int, int], ...]  # (axis x/y/z, sign, listed angle index), in product order


def _compose(factors: Factors, angles: np.ndarray) -> np.ndarray:
    out = np.broadcast_to(np.eye(3), (len(angles), 3, 3)).copy()
    for axis, sign, k in factors:
        out = out @ axis_rotation(axis, sign * angles[:, k])
    return out


def _readings(typ: str) -> list[Factors]:
    """Ways to read a joint of type ``euler_<axes>``: as named first, then every assignment of the listed
    angles to signed axes, composed in the listed or the reversed order (writers differ: Move's own files
    compose limbs in other orders and about other axes than the type string names)."""
    axes = typ.split("_", 1)[1]
    n = len(axes)
    out: list[Factors] = [tuple((a, 1, k) for k, a in enumerate(axes))]
    for perm in itertools.permutations("xyz", n):
        for signs in itertools.product((1, -1), repeat=n):
            f = tuple((perm[k], signs[k], k) for k in range(n))
            out += [f, tuple(reversed(f))]
    return list(dict.fromkeys(out))


def joint_rotations(take: ActorTake) -> dict[str, np.ndarray]:
    """(F, 3, 3) each joint's rotation relative to its parent joint, each joint read the way its data says:
    among the readings of its type (:func:`_readings`), the one under which its child joints keep a constant
    offset in its frame (they are rigid in a skeleton); ties keep the type string's plain reading. Joints with
    no child joint are read plainly."""
    P = {j: take.positions[:, k] for k, j in enumerate(JOINTS)}
    sample = np.unique(np.linspace(0, take.frame_count - 1, min(take.frame_count, 240)).astype(int))
    children: dict[str, list[str]] = {j: [] for j in JOINTS}
    for j, parent in MOTION_DATA_PARENTS.items():
        if parent is not None:
            children[parent].append(j)
    world: dict[str, np.ndarray] = {}
    out: dict[str, np.ndarray] = {}
    for j in JOINTS:  # parents come first
        parent = MOTION_DATA_PARENTS[j]
        g_parent = world[parent][sample] if parent else np.eye(3)
        readings = _readings(take.types[j]) if children[j] else _readings(take.types[j])[:1]
        best, best_score = readings[0], np.inf
        for k, reading in enumerate(readings):
            g = g_parent @ _compose(reading, take.rotations[j][sample])
            score = min(_spread(g, P[c][sample] - P[j][sample]) for c in children[j]) if children[j] else 0.0
            if k == 0 or score < best_score - 1e-6:
                best, best_score = reading, score
        out[j] = _compose(best, take.rotations[j])
        world[j] = out[j] if parent is None else world[parent] @ out[j]
    return out


def _spread(frame: np.ndarray, offset: np.ndarray) -> float:
    """How much ``offset`` (F, 3) moves in ``frame`` (F, 3, 3), metres."""
    local = np.einsum("fji,fj->fi", frame, offset)
    return float(np.abs(local - np.median(local, axis=0)).max())


def rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(F, 3, 3) shortest rotations turning directions ``a`` onto ``b`` (both (F, 3))."""
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    v = np.cross(a, b)
    c = np.einsum("fi,fi->f", a, b)
    k = np.zeros((*a.shape[:-1], 3, 3))
    k[..., 0, 1], k[..., 0, 2], k[..., 1, 2] = -v[..., 2], v[..., 1], -v[..., 0]
    k = k - np.swapaxes(k, -1, -2)
    opposite = c < -1.0 + 1e-9
    denom = np.where(opposite, 1.0, 1.0 + c)
    r = np.eye(3) + k + (k @ k) / denom[..., None, None]
    if np.any(opposite):  # half turn about any axis perpendicular to a
        perp = np.cross(a[opposite], np.array([1.0, 0.0, 0.0]))
        small = np.linalg.norm(perp, axis=-1) < 1e-6
        perp[small] = np.cross(a[opposite][small], np.array([0.0, 1.0, 0.0]))
        perp /= np.linalg.norm(perp, axis=-1, keepdims=True)
        r[opposite] = 2.0 * np.einsum("fi,fj->fij", perp, perp) - np.eye(3)
    return r


# -- solving a pose on Move's skeleton ---------------------------------------------------------------------

@dataclass
class MovePose:
    """A take on Move's skeleton in the local engine's convention: ``rotations[f, b]`` is bone b's rotation
    in armature space relative to its rest; the posed orientation is ``rotations[f, b] @ rest``."""

    bones: list[str]  # Move names, no namespace, parents first
    parents: list[int]
    rest_heads: np.ndarray  # (B, 3)
    rest_tails: np.ndarray  # (B, 3)
    rotations: np.ndarray  # (F, B, 3, 3)
    hips_positions: np.ndarray  # (F, 3)
    frames: np.ndarray  # (F,) int
    fps: float
    contacts: np.ndarray | None  # (F, 2) bool; None when the file has no reaction forces
    joint_positions: np.ndarray  # (F, J, 3) the file's positions, JOINTS order
    actor: int = 1
    notes: list[str] = field(default_factory=list)

    def keyed(self) -> np.ndarray:
        """Indices of the samples an importer keys: the first of those rounding to one frame (a frame holds one
        key), so ``frames[keyed()]`` increase strictly; frames no sample rounds to (a dropped sample) are gaps."""
        return np.unique(self.frames, return_index=True)[1]

    def heads(self) -> np.ndarray:
        """(F, B, 3) posed bone heads (forward kinematics)."""
        f = len(self.rotations)
        heads = np.zeros((f, len(self.bones), 3))
        for b, p in enumerate(self.parents):
            if p < 0:
                heads[:, b] = self.hips_positions
            else:
                heads[:, b] = heads[:, p] + self.rotations[:, p] @ (self.rest_heads[b] - self.rest_heads[p])
        return heads


def _median_vec(v: np.ndarray) -> np.ndarray:
    return np.median(v, axis=0)


def solve_pose(take: ActorTake) -> MovePose:
    """Move's skeleton, its rest scaled to the actor, posed to follow ``take`` (see the module docstring)."""
    P = {j: take.positions[:, k] for k, j in enumerate(JOINTS)}
    E = joint_rotations(take)
    F = take.frame_count
    names = list(MOVE_BONE_NAMES)
    idx = {n: i for i, n in enumerate(names)}
    parents = [idx[p] if (p := MOVE_PARENTS[n]) else -1 for n in names]
    move_heads = np.array([BY_NAME[n].head for n in names])
    move_tails = np.array([BY_NAME[n].tail for n in names])

    def dist(a: str, b: str) -> float:
        return float(np.median(np.linalg.norm(P[b] - P[a], axis=-1)))

    def local(frame: np.ndarray, a: str, b: str) -> np.ndarray:  # median offset a->b in a (F,3,3) frame
        return _median_vec(np.einsum("fji,fj->fi", frame, P[b] - P[a]))

    # Reliable frames (hips and spine follow from the rotations exactly).
    g_root = E["Root"]
    g_sp1 = g_root @ E["Spine1"]
    g_sp2_pred = g_sp1 @ E["Spine2"]

    move_leg = float(np.linalg.norm(move_heads[idx["LeftUpLeg"]] - move_heads[idx["LeftFoot"]]))
    scale = 0.5 * (dist("Left_hip", "Left_knee") + dist("Left_knee", "Left_ankle")
                   + dist("Right_hip", "Right_knee") + dist("Right_knee", "Right_ankle")) / move_leg

    heads = np.zeros((len(names), 3))
    tails = np.zeros((len(names), 3))
    heads[idx["Hips"]] = [0.0, 0.0, float(np.median(P["Root"][:, 2]))]

    def unit(v: np.ndarray) -> np.ndarray:
        return v / np.linalg.norm(v)

    def move_dir(n: str) -> np.ndarray:
        return unit(move_tails[idx[n]] - move_heads[idx[n]])

    def place(n: str, head: np.ndarray, length: float, direction: np.ndarray | None = None) -> None:
        heads[idx[n]] = head
        tails[idx[n]] = head + (move_dir(n) if direction is None else direction) * length

    hips = heads[idx["Hips"]]
    spine_head = hips + local(g_root, "Root", "Spine1")
    place("Hips", hips, float(np.linalg.norm(spine_head - hips)), unit(spine_head - hips))
    sp1_head = spine_head + local(g_sp1, "Spine1", "Spine2")
    place("Spine", spine_head, float(np.linalg.norm(sp1_head - spine_head)), unit(sp1_head - spine_head))
    neck_head = sp1_head + local(g_sp2_pred, "Spine2", "Neck")
    place("Spine1", sp1_head, float(np.linalg.norm(neck_head - sp1_head)), unit(neck_head - sp1_head))
    place("Neck", neck_head, 0.13 * scale)
    place("Head", tails[idx["Neck"]], 0.20 * scale)
    for side in ("Left", "Right"):
        s = side[0] + side[1:].lower()
        hip, knee, ankle, toe = f"{s}_hip", f"{s}_knee", f"{s}_ankle", f"{s}_toe"
        up_head = hips + local(g_root, "Root", hip)
        place(f"{side}UpLeg", up_head, dist(hip, knee))
        place(f"{side}Leg", tails[idx[f"{side}UpLeg"]], dist(knee, ankle))
        place(f"{side}Foot", tails[idx[f"{side}Leg"]], dist(ankle, toe))
        place(f"{side}ToeBase", tails[idx[f"{side}Foot"]], 0.07 * scale)
        sh, el, wr = f"{s}_shoulder_rotation", f"{s}_elbow", f"{s}_wrist"
        arm_off = local(g_sp2_pred, "Spine2", sh)
        # the hidden clavicle: the sphere the shoulder moves on in the chest frame (its centre held near
        # Move's clavicle root where the motion does not pin it down)
        centre, radius = _sphere(np.einsum("fji,fj->fi", g_sp2_pred, P[sh] - P["Spine2"]),
                                 np.array([np.sign(arm_off[0]) * 0.03 * scale, 0.0, arm_off[2]]))
        clav_head = sp1_head + centre
        arm_head = clav_head + unit(arm_off - centre) * radius
        place(f"{side}Shoulder", clav_head, float(np.linalg.norm(arm_head - clav_head)), unit(arm_head - clav_head))
        place(f"{side}Arm", arm_head, dist(sh, el))
        place(f"{side}ForeArm", tails[idx[f"{side}Arm"]], dist(el, wr))
        hand = idx[f"{side}Hand"]
        place(f"{side}Hand", tails[idx[f"{side}ForeArm"]], 0.09 * scale)
        for n in names:  # fingers: Move's hand scaled about the wrist
            if n.startswith(f"{side}Hand") and n[-1].isdigit():
                i = idx[n]
                heads[i] = heads[hand] + (move_heads[i] - move_heads[hand]) * scale
                tails[i] = heads[hand] + (move_tails[i] - move_heads[hand]) * scale

    # The rest stands on the file's floor (z = 0) as the data's feet do: its toe joints as high as the lowest
    # the file's reach (Move's stand about 10 cm up), not wherever straight legs under the median hips end.
    toes = [idx["LeftToeBase"], idx["RightToeBase"]]
    rise = min(float(P["Left_toe"][:, 2].min()), float(P["Right_toe"][:, 2].min())) - float(heads[toes, 2].mean())
    heads[:, 2] += rise
    tails[:, 2] += rise

    # Posed rotations: predicted by the rotation chain, swung so that each bone points at its data child.
    Q = np.zeros((F, len(names), 3, 3))

    def aim(n: str, pred: np.ndarray, target: np.ndarray | None) -> np.ndarray:
        r = Q[:, idx[n]] = pred if target is None else (
            rotation_between(pred @ (tails[idx[n]] - heads[idx[n]]), target) @ pred)
        return r

    aim("Hips", g_root, None)
    q_sp = aim("Spine", g_root @ E["Spine1"], P["Spine2"] - P["Spine1"])
    q_chest = aim("Spine1", q_sp @ E["Spine2"], P["Neck"] - P["Spine2"])
    q_neck = aim("Neck", q_chest @ E["Neck"], None)
    aim("Head", q_neck, None)
    for side in ("Left", "Right"):
        s = side
        q = aim(f"{side}UpLeg", g_root @ E[f"{s}_hip"], P[f"{s}_knee"] - P[f"{s}_hip"])
        q = aim(f"{side}Leg", q @ E[f"{s}_knee"], P[f"{s}_ankle"] - P[f"{s}_knee"])
        q = aim(f"{side}Foot", q @ E[f"{s}_ankle"], P[f"{s}_toe"] - P[f"{s}_ankle"])
        aim(f"{side}ToeBase", q @ E[f"{s}_toe"], None)
        i = idx[f"{side}Shoulder"]
        clav_posed = P["Spine2"] + q_chest @ (heads[i] - heads[idx["Spine1"]])
        aim(f"{side}Shoulder", q_chest, P[f"{s}_shoulder_rotation"] - clav_posed)
        q = aim(f"{side}Arm", q_chest @ E[f"{s}_shoulder_rotation"], P[f"{s}_elbow"] - P[f"{s}_shoulder_rotation"])
        q = aim(f"{side}ForeArm", q @ E[f"{s}_elbow"], P[f"{s}_wrist"] - P[f"{s}_elbow"])
        q_hand = aim(f"{side}Hand", q @ E[f"{s}_wrist"], None)
        for n in names:
            if n.startswith(f"{side}Hand") and n[-1].isdigit():
                Q[:, idx[n]] = q_hand

    pose = MovePose(names, parents, heads, tails, Q, P["Root"].copy(), take.frames(), take.fps,
                    None if take.contacts is None else take.contacts.copy(), take.positions.copy(), take.actor)
    root_type = take.types["Root"]
    if not np.allclose(E["Root"], euler_matrices(root_type, take.rotations["Root"]), atol=1e-9):
        pose.notes.append(f"The root's {root_type} angles are not composed in the order named; read the way "
                          "the positions fit")
    err = joint_errors(pose)
    if err.size and float(err.max()) > 0.02:
        pose.notes.append(f"joint positions differ from the file by up to {float(err.max()) * 100:.1f} cm")
    return pose


def _sphere(points: np.ndarray, guess: np.ndarray) -> tuple[np.ndarray, float]:
    """Centre and radius of the sphere through ``points`` (F, 3) (linear least squares; the centre is held
    weakly at ``guess``, which is kept with the median distance when the fit is implausible)."""
    weight = 1e-3
    a = np.vstack([np.hstack([2.0 * points, np.ones((len(points), 1))]), np.hstack([weight * np.eye(3),
                                                                                      np.zeros((3, 1))])])
    b = np.concatenate([np.einsum("fi,fi->f", points, points), weight * guess])
    sol = np.linalg.lstsq(a, b, rcond=None)[0]
    centre = sol[:3]
    radius = float(np.sqrt(max(sol[3] + centre @ centre, 0.0)))
    if not 0.02 < radius < 0.35 or np.linalg.norm(centre - guess) > 0.15:
        return guess, float(np.median(np.linalg.norm(points - guess, axis=-1)))
    return centre, radius


def joint_errors(pose: MovePose) -> np.ndarray:
    """(F, J) distance between each MOTION_DATA joint and the head of its bone in the solved pose."""
    heads = pose.heads()
    cols = [pose.bones.index(MOTION_DATA_JOINTS[j]) for j in JOINTS]
    return np.linalg.norm(heads[:, cols] - pose.joint_positions, axis=-1)


def local_channels(pose: MovePose, rest_mats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pose-bone channels for Blender: (F, B, 4) local quaternions and (F, 3) location of the root bone.

    ``rest_mats`` are the bones' (B, 3, 3) armature-space rest orientations (``Bone.matrix_local``). With R
    the rest and Q the armature-space delta, a bone's basis is ``R^-1 Q_parent^-1 Q R``; the root's location
    is ``R^-1 (hips - rest head)``.
    """
    Q = pose.rotations
    rel = np.empty_like(Q)
    for b, p in enumerate(pose.parents):
        rel[:, b] = Q[:, b] if p < 0 else np.swapaxes(Q[:, p], -1, -2) @ Q[:, b]
    rt = np.swapaxes(rest_mats, -1, -2)
    loc_m = rt[None] @ rel @ rest_mats[None]
    quats = quat_from_matrix(loc_m, orthonormalize=False)
    for f in range(1, len(quats)):  # continuous in time: no long way round between keys
        flip = np.einsum("bi,bi->b", quats[f], quats[f - 1]) < 0
        quats[f, flip] *= -1
    root = pose.parents.index(-1)
    loc = (pose.hips_positions - pose.rest_heads[root]) @ rest_mats[root]
    return quats, loc
