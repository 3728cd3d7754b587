"""Rest-pose description of an armature and forward kinematics in numpy (no bpy here).

A :class:`Skeleton` holds what the retarget maths needs from an armature: bone names, parents, rest
orientations and positions in armature space (Blender's ``Bone.matrix_local``), and the object's world
transform. :func:`forward_kinematics` evaluates a whole take at once with Blender's pose convention::

    pose[b] = pose[parent] @ rest[parent]^-1 @ rest[b] @ basis[b]      (basis = T(location) R(rotation))

including bones that do not inherit rotation and connected bones (whose location channel is ignored).
Scale channels are not evaluated (mocap does not scale bones).

Geometry (lengths, foot points, heights) comes from the joints, not from bone tails: formats without tails
(glTF, FBX, BVH) leave them to the importer's guess, and Blender's glTF importer, for one, makes them the
distance to the nearest child divided by the object's scale (a Mixamo character at scale 0.01 gets bones 100
times too long) and gives leaves their parent's length. :meth:`Skeleton.rest_ends` says where each bone
really ends.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import quat as Q


@dataclass
class Skeleton:
    names: list[str]
    parents: np.ndarray  # (B,) int, -1 for a root; parents come before children
    rest_rot: np.ndarray  # (B, 4) armature-space rest orientation (w x y z)
    rest_head: np.ndarray  # (B, 3) armature space
    rest_tail: np.ndarray  # (B, 3) armature space
    connected: np.ndarray | None = None  # (B,) bool
    inherit_rotation: np.ndarray | None = None  # (B,) bool
    object_rot: np.ndarray = field(default_factory=lambda: Q.IDENTITY.copy())  # world rotation of the object
    object_loc: np.ndarray = field(default_factory=lambda: np.zeros(3))
    object_scale: float = 1.0

    def __post_init__(self) -> None:
        n = len(self.names)
        self.parents = np.asarray(self.parents, dtype=np.int64)
        self.rest_rot = Q.normalize(np.asarray(self.rest_rot, dtype=np.float64).reshape(n, 4))
        self.rest_head = np.asarray(self.rest_head, dtype=np.float64).reshape(n, 3)
        self.rest_tail = np.asarray(self.rest_tail, dtype=np.float64).reshape(n, 3)
        if self.connected is None:
            self.connected = np.zeros(n, dtype=bool)
        if self.inherit_rotation is None:
            self.inherit_rotation = np.ones(n, dtype=bool)
        for i, p in enumerate(self.parents):
            if p >= i:
                raise ValueError(f"bone {self.names[i]!r}: parents must come before children")
        self.index = {name: i for i, name in enumerate(self.names)}
        self._ends: np.ndarray | None = None
        self.end_known = np.ones(n, dtype=bool)

    @classmethod
    def from_matrices(
        cls,
        names: list[str],
        parent_names: list[str | None],
        matrix_local: np.ndarray,
        tails: np.ndarray,
        **kwargs: object,
    ) -> Skeleton:
        """Build from Blender-style data: 4x4 ``matrix_local`` per bone and tail positions. Bones are sorted so
        that parents precede children."""
        order = _topological(names, parent_names)
        names_sorted = [names[i] for i in order]
        index = {n: i for i, n in enumerate(names_sorted)}
        parents = [index[str(parent_names[i])] if parent_names[i] is not None else -1 for i in order]
        m = np.asarray(matrix_local, dtype=np.float64)[order]
        extra = {}
        for key in ("connected", "inherit_rotation"):
            if kwargs.get(key) is not None:
                extra[key] = np.asarray(kwargs.pop(key))[order]
            else:
                kwargs.pop(key, None)
        return cls(
            names=names_sorted,
            parents=np.array(parents),
            rest_rot=Q.from_matrix(m[:, :3, :3]),
            rest_head=m[:, :3, 3],
            rest_tail=np.asarray(tails, dtype=np.float64)[order],
            **extra,  # type: ignore[arg-type]
            **kwargs,  # type: ignore[arg-type]
        )

    def rest_ends(self) -> np.ndarray:
        """(B, 3) armature-space point where each bone ends, from the joints: the head of the child its tail
        points at (within 30 degrees; the joint it leads to), else, for a bone leading to no joint, along its
        tail at the length the rig's other bones vouch for: the tails' length over the joints' (median over
        the bones that lead to a joint) when it is off by more than half, so tails in other units than the
        joints (an importer's guess) do not make feet or heights metres out. :attr:`end_known` says which
        ends are a joint or a tail the joints vouch for (a leaf's rescaled guess is a direction only)."""
        if self._ends is not None:
            return self._ends
        n = len(self.names)
        d = self.rest_tail - self.rest_head
        length = np.linalg.norm(d, axis=1)
        extent = float(np.ptp(self.rest_head, axis=0).max()) if n else 0.0
        eps = 1e-6 * max(extent, 1e-9)
        # A child on the bone's head (a big-toe bone at its ball: Character Creator's) gives no direction; at
        # float32 precision (glTF) its offset is noise that can point anywhere.
        near = 1e-3 * max(extent, 1e-9)
        ends = self.rest_tail.copy()
        led = np.zeros(n, dtype=bool)
        ratios = []
        kids: list[list[int]] = [[] for _ in range(n)]
        for j, p in enumerate(self.parents):
            if p >= 0:
                kids[int(p)].append(j)
        for i in range(n):
            if length[i] <= eps:
                continue
            best, best_cos = -1, np.cos(np.radians(30.0))
            for j in kids[i]:
                v = self.rest_head[j] - self.rest_head[i]
                dist = float(np.linalg.norm(v))
                if dist <= near:
                    continue
                c = float(v @ d[i]) / (dist * length[i])
                if c > best_cos:
                    best, best_cos = j, c
            if best >= 0:
                ends[i] = self.rest_head[best]
                led[i] = True
                ratios.append(length[i] / np.linalg.norm(self.rest_head[best] - self.rest_head[i]))
        k = float(np.median(ratios)) if ratios else 1.0
        self.end_known = led.copy()
        leaves = ~led
        if not 1 / 1.5 < k < 1.5:
            ends[leaves] = self.rest_head[leaves] + d[leaves] / k
        else:
            # A leaf exactly as long as its parent is an importer's copy (glTF's importer gives leaves their
            # parent's length), not data: its end is a direction only.
            for i in np.nonzero(leaves)[0].tolist():
                p = int(self.parents[i])
                self.end_known[i] = p < 0 or abs(length[i] - length[p]) > 1e-4 * max(length[p], 1e-9)
        self._ends = ends
        return ends

    def __len__(self) -> int:
        return len(self.names)

    def children(self, i: int) -> list[int]:
        return [j for j, p in enumerate(self.parents) if p == i]

    def ancestors(self, i: int) -> list[int]:
        out = []
        p = int(self.parents[i])
        while p >= 0:
            out.append(p)
            p = int(self.parents[p])
        return out

    # -- world space -----------------------------------------------------------------------------------

    def _plain_object(self) -> bool:
        return bool(np.allclose(self.object_rot, Q.IDENTITY, atol=1e-12) and self.object_scale == 1.0)

    def to_world_points(self, p: np.ndarray) -> np.ndarray:
        if self._plain_object():
            return np.asarray(p) + self.object_loc
        return self.object_loc + self.object_scale * Q.rotate(self.object_rot, p)

    def to_world_rot(self, q: np.ndarray) -> np.ndarray:
        if self._plain_object():
            return np.asarray(q)
        return Q.mul(self.object_rot, q)

    def from_world_points(self, p: np.ndarray) -> np.ndarray:
        return Q.rotate(Q.conj(self.object_rot), (np.asarray(p) - self.object_loc) / self.object_scale)

    def from_world_rot(self, q: np.ndarray) -> np.ndarray:
        return Q.mul(Q.conj(self.object_rot), q)

    def rest_world(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rotations, heads, ends) of the rest pose in world space (ends: :meth:`rest_ends`)."""
        return (
            self.to_world_rot(self.rest_rot),
            self.to_world_points(self.rest_head),
            self.to_world_points(self.rest_ends()),
        )

    def height(self) -> float:
        """Vertical extent of the rest pose in armature space (heads and ends)."""
        return float(np.ptp(np.concatenate((self.rest_head[:, 2], self.rest_ends()[:, 2])))) or 1.0


def _topological(names: list[str], parent_names: list[str | None]) -> list[int]:
    index = {n: i for i, n in enumerate(names)}
    depth: dict[int, int] = {}

    def d(i: int) -> int:
        if i not in depth:
            p = parent_names[i]
            depth[i] = 0 if p is None or p not in index else d(index[p]) + 1
        return depth[i]

    return sorted(range(len(names)), key=lambda i: (d(i), i))


def bone_major(shape: tuple[int, ...], dtype: np.dtype | type = np.float64, zero: bool = False) -> np.ndarray:
    """An (F, B, ...) array stored bone by bone, so ``a[:, b]`` (one bone's whole take) is contiguous."""
    f, b, *rest = shape
    order = (1, 0, *range(2, 2 + len(rest)))
    return (np.zeros if zero else np.empty)((b, f, *rest), dtype=dtype).transpose(order)


def forward_kinematics(
    skel: Skeleton, basis_rot: np.ndarray, basis_loc: np.ndarray | None = None,
    heads_for: set[int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Armature-space pose orientations (F, B, 4) and head positions (F, B, 3) from basis rotations
    (F, B, 4) and locations (F, B, 3) (Blender's pose-bone channels). With ``heads_for`` only those bones'
    heads (and their ancestors') are computed; the others are left zero. The results are stored bone-major
    (see :func:`bone_major`); inputs stored that way are read fastest."""
    basis_rot = np.asarray(basis_rot)
    if basis_rot.dtype.kind != "f":
        basis_rot = basis_rot.astype(np.float64)
    f, b = basis_rot.shape[:2]
    dtype = basis_rot.dtype
    rot = bone_major((f, b, 4), dtype)
    head = bone_major((f, b, 3), dtype, zero=True)
    assert skel.connected is not None and skel.inherit_rotation is not None
    need = np.ones(b, dtype=bool)
    if heads_for is not None:
        need[:] = False
        for i in heads_for:
            need[i] = True
            need[skel.ancestors(i)] = True
    for i in range(b):
        p = int(skel.parents[i])
        loc = None
        if basis_loc is not None and not skel.connected[i] and need[i]:
            loc = basis_loc[:, i]
            if not loc.any():
                loc = None
        if p < 0:
            rel_rot = skel.rest_rot[i]
            rot[:, i] = Q.mul(rel_rot, basis_rot[:, i])
            head[:, i] = skel.rest_head[i]
            if loc is not None:
                head[:, i] += Q.rotate(rel_rot, loc)
            continue
        inv_parent_rest = Q.conj(skel.rest_rot[p])
        rel_rot = Q.mul(inv_parent_rest, skel.rest_rot[i])
        rel_pos = Q.rotate(inv_parent_rest, skel.rest_head[i] - skel.rest_head[p])
        if skel.inherit_rotation[i]:
            # pose[p] rel basis: the constant in the middle joins the basis rotation first.
            rot[:, i] = Q.mul(rot[:, p], Q.mul(rel_rot, basis_rot[:, i]))
        else:
            rot[:, i] = Q.mul(skel.rest_rot[i], basis_rot[:, i])
        if need[i]:
            head[:, i] = head[:, p] + Q.rotate(rot[:, p], rel_pos.astype(dtype))
            if loc is not None:
                frame_rot = Q.mul(rot[:, p], rel_rot) if skel.inherit_rotation[i] else skel.rest_rot[i]
                head[:, i] += Q.rotate(frame_rot, loc)
    return rot, head


def channels_to_quat(values: np.ndarray, mode: str) -> np.ndarray:
    """Basis rotations as quaternions from rotation channel values ``[..., 3 or 4]`` in Blender's
    ``rotation_mode`` ('QUATERNION', 'AXIS_ANGLE' or an Euler order)."""
    values = np.asarray(values, dtype=np.float64)
    if mode == "QUATERNION":
        return Q.normalize(values)
    if mode == "AXIS_ANGLE":
        axis = values[..., 1:]
        norm = np.linalg.norm(axis, axis=-1, keepdims=True)
        axis = np.where(norm < 1e-12, np.array([0.0, 1.0, 0.0]), axis / np.where(norm < 1e-12, 1.0, norm))
        return Q.from_axis_angle(axis, values[..., 0])
    return Q.from_euler(values, mode)


def quat_to_channels(q: np.ndarray, mode: str) -> np.ndarray:
    """Channel values for ``rotation_mode`` from quaternions ``(F, 4)`` (continuous over frames)."""
    q = Q.make_continuous(Q.normalize(q))
    if mode == "QUATERNION":
        return q
    if mode == "AXIS_ANGLE":
        w = np.clip(q[..., 0], -1.0, 1.0)
        angle = 2.0 * np.arccos(w)
        s = np.sqrt(np.maximum(1.0 - w * w, 0.0))
        valid = s > 1e-6
        axis = q[..., 1:] / np.maximum(s, 1e-8)[..., None]
        if valid.any() and not valid.all() and q.ndim == 2:
            # Undefined axis at zero angle: hold the nearest defined one so the curves stay smooth.
            idx = np.where(valid, np.arange(len(q)), -1)
            idx = np.maximum.accumulate(idx)
            idx = np.where(idx < 0, int(np.argmax(valid)), idx)
            axis = axis[idx]
        elif not valid.any():
            axis = np.broadcast_to(np.array([0.0, 1.0, 0.0]), axis.shape)
        if q.ndim == 2 and len(q) > 1:
            # (angle, axis) and (-angle, -axis) are the same rotation: keep the axis from flipping.
            flips = np.sum(axis[1:] * axis[:-1], axis=-1) < 0
            sign = np.concatenate(([1.0], np.cumprod(np.where(flips, -1.0, 1.0))))
            axis = axis * sign[:, None]
            angle = np.unwrap(angle * sign)
        return np.concatenate((angle[..., None], axis), axis=-1)
    return Q.euler_continuous(Q.to_euler(q, mode), mode)
