"""An independent reader of Move's MOTION_DATA convention, written for the tests from the file format and
Move's own sample alone (it imports nothing from the engine or the add-on).

Move's convention, as its sample shows it (tests/importers/test_motion_data_round_trip.py checks this reading
against Move's file): each joint rotates relative to its parent joint, from a T-pose whose frames are the
world's (Z up, facing -Y, left +X). Root and spine compose their ``euler_xyz`` angles as named; Move's limbs
compose Rz Ry Rx. The shoulders' angles are about the axes of a frame turned a quarter turn about Y (its Z
along the arm, towards the body); the left ankle's first angle and the right elbow turn about -Z.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

PARENT = {
    "Root": None, "Left_hip": "Root", "Left_knee": "Left_hip", "Left_ankle": "Left_knee", "Left_toe": "Left_ankle",
    "Right_hip": "Root", "Right_knee": "Right_hip", "Right_ankle": "Right_knee", "Right_toe": "Right_ankle",
    "Spine1": "Root", "Spine2": "Spine1", "Neck": "Spine2",
    "Left_shoulder_rotation": "Spine2", "Left_elbow": "Left_shoulder_rotation", "Left_wrist": "Left_elbow",
    "Right_shoulder_rotation": "Spine2", "Right_elbow": "Right_shoulder_rotation", "Right_wrist": "Right_elbow",
}
#: The shoulders hang from a clavicle that MOTION_DATA does not carry: their position is read, not derived.
FREE = ("Root", "Left_shoulder_rotation", "Right_shoulder_rotation")


def rx(a: np.ndarray) -> np.ndarray:
    c, s, o, z = np.cos(a), np.sin(a), np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([o, z, z], -1), np.stack([z, c, -s], -1), np.stack([z, s, c], -1)], -2)


def ry(a: np.ndarray) -> np.ndarray:
    c, s, o, z = np.cos(a), np.sin(a), np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, z, s], -1), np.stack([z, o, z], -1), np.stack([-s, z, c], -1)], -2)


def rz(a: np.ndarray) -> np.ndarray:
    c, s, o, z = np.cos(a), np.sin(a), np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, -s, z], -1), np.stack([s, c, z], -1), np.stack([z, z, o], -1)], -2)


QUARTER = {"Left": ry(np.array(-np.pi / 2)), "Right": ry(np.array(np.pi / 2))}


def relative(joint: str, typ: str, a: np.ndarray) -> np.ndarray:
    """(F, 3, 3) the joint's rotation relative to its parent from its angles a (F, n), Move's convention."""
    side = joint.split("_")[0]
    if joint in ("Root", "Spine1", "Spine2"):
        assert typ == "euler_xyz"
        return rx(a[:, 0]) @ ry(a[:, 1]) @ rz(a[:, 2])
    if joint.endswith("hip") or joint.endswith("shoulder_rotation"):
        assert typ == "euler_xyz"
        m = rz(a[:, 2]) @ ry(a[:, 1]) @ rx(a[:, 0])
        if joint.endswith("shoulder_rotation"):
            m = QUARTER[side] @ m @ QUARTER[side].T
        return m
    if joint.endswith(("knee", "toe")):
        assert typ == "euler_x"
        return rx(a[:, 0])
    if joint.endswith("elbow"):
        assert typ == "euler_z"
        return rz(a[:, 0] if side == "Left" else -a[:, 0])
    assert typ == "euler_zyx", (joint, typ)  # ankles, wrists, neck
    first = -a[:, 0] if joint == "Left_ankle" else a[:, 0]
    return rz(first) @ ry(a[:, 1]) @ rx(a[:, 2])


def load(path: str | Path, key: str = "mocap_data") -> tuple[dict, dict, dict]:
    """(positions, world rotations, types) per joint: (F, 3), (F, 3, 3), str."""
    frames = json.loads(Path(path).read_text())[key]
    pos, world, types = {}, {}, {}
    for joint, parent in PARENT.items():  # parents come first
        pos[joint] = np.array([f["joint_data"][joint]["position"] for f in frames], dtype=float)
        angles = np.array([f["joint_data"][joint]["rotations"] for f in frames], dtype=float)
        types[joint] = frames[0]["joint_data"][joint]["type"]
        rel = relative(joint, types[joint], angles)
        world[joint] = rel if parent is None else world[parent] @ rel
    return pos, world, types


def offsets(pos: dict, world: dict) -> dict[str, np.ndarray]:
    """(F, 3) each joint's offset from its parent in the parent's frame (constant in a rigid skeleton)."""
    return {j: np.einsum("fji,fj->fi", world[p], pos[j] - pos[p]) for j, p in PARENT.items() if p}


def reconstruct(pos: dict, world: dict) -> dict[str, np.ndarray]:
    """Joint positions rebuilt from the root's (and the clavicle-borne shoulders') positions, the rotations
    and each bone's offset as the first frame gives it."""
    off = offsets(pos, world)
    out: dict[str, np.ndarray] = {}
    for joint, parent in PARENT.items():
        if joint in FREE:
            out[joint] = pos[joint]
        else:
            out[joint] = out[parent] + np.einsum("fij,j->fi", world[parent], off[joint][0])
    return out
