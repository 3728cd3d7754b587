"""Body dynamics of a MoveMotion: segment masses, ground reaction forces and joint torques by inverse dynamics
(numpy only, vectorised over frames; no bpy, no file formats: the MOTION_DATA writer reports what this
computes).

Body model. Mass from the subject's height with a BMI of 22.5 kg/m^2 (the middle of the WHO normal range,
18.5-25) unless ``motion.metadata["body_mass_kg"]`` says otherwise; height is the skeleton's rest height
(top of the head to the sole, 2 cm below the toe joints). Segment mass fractions, centre-of-mass positions
along the segment and radii of gyration (sagittal, transverse, longitudinal; fractions of the segment length)
are de Leva's adjustments of Zatsiorsky-Seluyanov's data for men (P. de Leva, "Adjustments to
Zatsiorsky-Seluyanov's segment inertia parameters", J. Biomech. 29(9):1223-1230, 1996, table 4), on Move's
bones: lower trunk (hip-joint centres to navel) on Hips, middle trunk on Spine, upper trunk on Spine1 (so the
clavicles are massless), head and neck on Head, and each limb segment on its bone. The foot runs from the heel
to the toe tip in de Leva; Move's skeleton has no heel, so the foot's centre of mass is put 31 % of the way
from the ankle to the toe tip (44 % from a heel 5 cm behind the ankle). Toes and fingers carry no mass.

Ground reaction. While a foot is in contact (``motion.foot_contacts``, the engine's decision), the feet
together push with the whole body's Newton equation, ``M (a_com - g)``: vertically body weight plus M times
the centre of mass's vertical acceleration (never negative; zero in flight), horizontally what accelerates
the centre of mass (no slipping). It acts at the zero-moment point, the point of the floor where it also
makes the change of the body's angular momentum about its centre of mass (so the hips need no help from
outside). Each foot's centre of pressure is the point of its sole line (on the floor, from a heel 5 cm behind
the ankle to the toe tip) nearest that point; with both feet down the force is split by where the zero-moment point falls between the two
centres of pressure (all on the nearer foot when it is beyond it).

Inverse dynamics. Accelerations and angular velocities come from Savitzky-Golay derivatives (cubic over 0.15 s;
the centre of mass's acceleration behind the reaction over 0.25 s), exact for polynomial motion such as a
free fall. The recursive Newton-Euler backward pass runs from the toes and hands to the hips: each bone's
force and moment (about its head, world frame) sum its segment's ``m (a - g)`` and ``I alpha + w x I w``, its
children's, and minus the ground reactions on it. A joint's torque is the moment its parent exerts on
everything below it, reported per angle of its Move convention (local_engine.joint_conventions): the moment's
component about that angle's rotation axis (the generalised force of that angle), N m. The root's torques are
the residual moment the ground reactions do not explain (zero for a body in free fall or held still by its
feet right under its centre of mass).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .joint_conventions import CONVENTIONS, angle_axes
from .kinematics import forward_kinematics
from .motion import MOVE_PARENTS, MoveMotion
from .rotations import quat_to_matrix

GRAVITY = np.array([0.0, 0.0, -9.81])
DEFAULT_BMI = 22.5  # kg / m^2
SOLE_BELOW_TOE_JOINT = 0.02  # metres
HEEL_BEHIND_ANKLE = 0.05  # metres
KINEMATICS_WINDOW = 0.15  # seconds of the Savitzky-Golay derivatives of the segments' motion
REACTION_WINDOW = 0.25  # seconds of the centre of mass's acceleration behind the ground reaction


@dataclass(frozen=True)
class Segment:
    """A body segment on one bone: its centre of mass lies ``com`` of the way from ``proximal`` to ``distal``
    (points on Move's rest skeleton, see :func:`_point`), its length is their distance."""

    bone: str
    mass: float  # fraction of body mass
    proximal: str
    distal: str
    com: float
    radii: tuple[float, float, float]  # sagittal, transverse, longitudinal; fractions of the length


def _limb(side: str) -> list[Segment]:
    return [
        Segment(f"{side}Arm", 0.0271, f"{side}Arm", f"{side}ForeArm", 0.5772, (0.285, 0.269, 0.158)),
        Segment(f"{side}ForeArm", 0.0162, f"{side}ForeArm", f"{side}Hand", 0.4574, (0.276, 0.265, 0.121)),
        Segment(f"{side}Hand", 0.0061, f"{side}Hand", f"{side}Hand.tail", 0.7900, (0.628, 0.513, 0.401)),
        Segment(f"{side}UpLeg", 0.1416, f"{side}UpLeg", f"{side}Leg", 0.4095, (0.329, 0.329, 0.149)),
        Segment(f"{side}Leg", 0.0433, f"{side}Leg", f"{side}Foot", 0.4459, (0.255, 0.249, 0.103)),
        Segment(f"{side}Foot", 0.0137, f"{side}Foot", f"{side}ToeBase.tail", 0.31, (0.257, 0.245, 0.124)),
    ]


#: de Leva (1996), men: fraction of body mass, centre of mass from the proximal end, radii of gyration.
SEGMENTS: tuple[Segment, ...] = (
    Segment("Hips", 0.1117, "Spine", "hip_centres", 0.6115, (0.615, 0.551, 0.587)),  # lower trunk
    Segment("Spine", 0.1633, "Spine1", "Spine", 0.4502, (0.482, 0.383, 0.468)),  # middle trunk
    Segment("Spine1", 0.1596, "Neck", "Spine1", 0.5066, (0.505, 0.320, 0.465)),  # upper trunk
    Segment("Head", 0.0694, "Head.tail", "Neck", 0.5002, (0.303, 0.315, 0.261)),  # head and neck
    *_limb("Left"), *_limb("Right"),
)


@dataclass
class Dynamics:
    mass: float  # kg
    com: np.ndarray  # (F, 3) whole-body centre of mass, m
    reaction: np.ndarray  # (F, 2, 3) ground reaction force on the left and right foot, N
    cop: np.ndarray  # (F, 2, 3) where each acts
    moments: dict[str, np.ndarray]  # joint -> (F, 3) moment of the parent on the child, world axes, N m
    torques: dict[str, np.ndarray]  # joint -> (F, n) per angle of its Move convention, N m
    reaction_forces: dict[str, np.ndarray]  # "Left_toe"/"Right_toe" -> (F,) vertical reaction, N


def subject_height(motion: MoveMotion) -> float:
    """Standing height of the skeleton's rest pose, metres."""
    head = motion.bones.index("Head")
    lowest = min(motion.rest_heads[:, 2].min(), motion.rest_tails[:, 2].min())
    return float(motion.rest_tails[head, 2] - lowest + SOLE_BELOW_TOE_JOINT)


def body_mass(motion: MoveMotion) -> float:
    """kg: the job's ``body_mass_kg`` if given, else height^2 x 22.5 kg/m^2."""
    given = motion.metadata.get("body_mass_kg")
    if given is not None:
        try:
            mass = float(given)
        except (TypeError, ValueError):
            mass = float("nan")
        if not 20.0 <= mass <= 300.0:
            raise ValueError(f"body_mass_kg {given!r} is not a plausible body mass (20-300 kg); fix the job's "
                             "metadata")
        return mass
    return DEFAULT_BMI * subject_height(motion) ** 2


def _point(motion: MoveMotion, name: str) -> np.ndarray:
    """A rest point: a bone's head (``"Spine"``), its tail (``"Hand.tail"``) or the hip-joint centres' middle."""
    i = motion.bones.index
    if name == "hip_centres":
        return 0.5 * (motion.rest_heads[i("LeftUpLeg")] + motion.rest_heads[i("RightUpLeg")])
    if name.endswith(".tail"):
        return motion.rest_tails[i(name[:-5])]
    return motion.rest_heads[i(name)]


def savgol(values: np.ndarray, fps: float, deriv: int, seconds: float = KINEMATICS_WINDOW, order: int = 3) -> np.ndarray:
    """Savitzky-Golay derivative ``deriv`` (0, 1, 2) along axis 0 over a window of ``seconds``; the first and
    last half windows use the end windows' polynomials, so polynomial motion up to ``order`` is exact."""
    n = len(values)
    half = max(1, int(round(seconds * fps / 2)))
    half = min(half, (n - 1) // 2)
    if half < 1 or 2 * half + 1 <= min(order, 2):
        return np.zeros_like(values) if deriv else values.copy()
    order = min(order, 2 * half)
    t = np.arange(-half, half + 1) / fps
    fit = np.linalg.pinv(np.vander(t, order + 1, increasing=True))  # (order+1, window): poly coefficients

    def weights(tau: np.ndarray) -> np.ndarray:  # (len(tau), window): derivative at tau of the fitted poly
        k = np.arange(order + 1)
        fact = np.ones(order + 1)
        for d in range(deriv):
            fact = fact * np.maximum(k - d, 0)
        powers = np.where(k >= deriv, tau[:, None] ** np.maximum(k - deriv, 0), 0.0) * fact
        return powers @ fit

    flat = values.reshape(n, -1)
    out = np.empty_like(flat)
    windows = np.lib.stride_tricks.sliding_window_view(flat, 2 * half + 1, axis=0)  # (n-2h, C, window)
    out[half:n - half] = windows @ weights(np.zeros(1))[0]
    edge = t[:half]
    out[:half] = weights(edge) @ flat[:2 * half + 1]
    out[n - half:] = weights(-edge[::-1]) @ flat[n - 2 * half - 1:]
    return out.reshape(values.shape)


def _vee(m: np.ndarray) -> np.ndarray:
    return 0.5 * np.stack([m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1]], -1)


def _sole_point(heel: np.ndarray, tip: np.ndarray, target: np.ndarray, floor: np.ndarray) -> np.ndarray:
    """The point of the heel->toe tip line (horizontal projection) nearest ``target``'s, at ``floor``."""
    a, b, p = heel[:, :2], tip[:, :2], target[:, :2]
    d = b - a
    s = np.clip(np.einsum("fi,fi->f", p - a, d) / np.maximum(np.einsum("fi,fi->f", d, d), 1e-12), 0.0, 1.0)
    xy = a + s[:, None] * d
    return np.concatenate([xy, floor[:, None]], 1)


def zero_moment_point(com: np.ndarray, force: np.ndarray, spin: np.ndarray, floor: np.ndarray) -> np.ndarray:
    """(F, 3) the point of the floor (height ``floor``) where ``force`` (F, 3), the ground's push, also makes
    the moment ``spin`` (F, 3) about ``com`` (its horizontal components); below the centre of mass where the
    push has no vertical part."""
    h = floor - com[:, 2]
    fz = force[:, 2]
    ok = fz > 1e-6
    safe = np.where(ok, fz, 1.0)
    x = np.where(ok, com[:, 0] + (h * force[:, 0] - spin[:, 1]) / safe, com[:, 0])
    y = np.where(ok, com[:, 1] + (spin[:, 0] + h * force[:, 1]) / safe, com[:, 1])
    return np.stack([x, y, floor], 1)


def body_dynamics(motion: MoveMotion, angles: dict[str, np.ndarray],
                  pose: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> Dynamics:
    """Ground reactions and joint torques of ``motion`` (see the module docstring); ``angles`` are the
    joints' Move angles (local_engine.outputs.motion_data.joint_angles), used for the torque axes; ``pose``
    the bones' (rotation matrices, heads, tails) when already known."""
    fps, n_frames = motion.fps, motion.frame_count
    index = {n: i for i, n in enumerate(motion.bones)}
    mass = body_mass(motion)
    if pose is None:
        rot = quat_to_matrix(motion.rotations)
        heads, tails = forward_kinematics(motion, rot)
    else:
        rot, heads, tails = pose

    # Segments: world centres of mass, their accelerations, angular velocity and acceleration of the bones.
    seg_com, seg_force, seg_moment = [], [], []
    for seg in SEGMENTS:
        b = index[seg.bone]
        p0, p1 = _point(motion, seg.proximal), _point(motion, seg.distal)
        rest_com = p0 + seg.com * (p1 - p0)
        length = float(np.linalg.norm(p1 - p0))
        m = seg.mass * mass
        com = heads[:, b] + rot[:, b] @ (rest_com - motion.rest_heads[b])
        acc = savgol(com, fps, 2)
        # principal inertia in the rest frame: the long axis is the bone's dominant rest direction
        long_axis = int(np.argmax(np.abs(p1 - p0)))
        sag, trans, lon = seg.radii
        radii = {0: trans, 1: sag, 2: lon} if long_axis == 2 else {0: lon, 1: sag, 2: trans} if long_axis == 0 \
            else {0: trans, 1: lon, 2: sag}
        inertia = np.diag([m * (radii[k] * length) ** 2 for k in range(3)])
        world_inertia = rot[:, b] @ inertia @ np.swapaxes(rot[:, b], -1, -2)
        r_dot = savgol(rot[:, b], fps, 1)
        r_ddot = savgol(rot[:, b], fps, 2)
        rt = np.swapaxes(rot[:, b], -1, -2)
        omega = _vee(r_dot @ rt)
        alpha = _vee(r_ddot @ rt)
        seg_com.append(com)
        seg_force.append(m * (acc - GRAVITY))
        seg_moment.append(np.einsum("fij,fj->fi", world_inertia, alpha)
                          + np.cross(omega, np.einsum("fij,fj->fi", world_inertia, omega)))
    coms = np.stack(seg_com, 1)  # (F, S, 3)
    masses = np.array([s.mass for s in SEGMENTS]) * mass
    com = np.einsum("fsi,s->fi", coms, masses) / masses.sum()
    total_mass = float(masses.sum())

    # Ground reaction: the total from the centre of mass's motion, acting at the zero-moment point (where it
    # also balances the change of angular momentum), shared by the feet on the ground.
    contacts = motion.foot_contacts if motion.foot_contacts is not None else np.zeros((n_frames, 2), bool)
    total = total_mass * (savgol(com, fps, 2, seconds=REACTION_WINDOW) - GRAVITY)
    total[:, 2] = np.maximum(total[:, 2], 0.0)
    forces = np.stack(seg_force, 1)
    spin = np.cross(coms - com[:, None], forces).sum(1) + np.stack(seg_moment, 1).sum(1)  # about the com
    floors = np.stack([np.minimum(heads[:, index[f"{s}ToeBase"], 2], tails[:, index[f"{s}ToeBase"], 2])
                       for s in ("Left", "Right")], 1) - SOLE_BELOW_TOE_JOINT
    down = np.where(contacts.any(1), (floors * contacts).sum(1) / np.maximum(contacts.sum(1), 1), floors.min(1))
    zmp = zero_moment_point(com, total, spin, down)
    cop = np.zeros((n_frames, 2, 3))
    for k, side in enumerate(("Left", "Right")):
        ankle, tip = heads[:, index[f"{side}Foot"]], tails[:, index[f"{side}ToeBase"]]
        along = tip[:, :2] - ankle[:, :2]
        heel = ankle.copy()
        heel[:, :2] -= HEEL_BEHIND_ANKLE * along / np.maximum(np.linalg.norm(along, axis=1, keepdims=True), 1e-9)
        cop[:, k] = _sole_point(heel, tip, zmp, floors[:, k])
    share = np.where(contacts, 1.0, 0.0)
    both = contacts.all(1)
    span = cop[:, 1, :2] - cop[:, 0, :2]
    t = np.clip(np.einsum("fi,fi->f", zmp[:, :2] - cop[:, 0, :2], span)
                / np.maximum(np.einsum("fi,fi->f", span, span), 1e-12), 0.0, 1.0)
    share[both, 0], share[both, 1] = 1.0 - t[both], t[both]
    reaction = share[:, :, None] * total[:, None, :]

    # Recursive Newton-Euler, backward pass (children before parents).
    body = [n for n in motion.bones if "Hand" not in n or n.endswith("Hand")]
    force = {n: np.zeros((n_frames, 3)) for n in body}
    moment = {n: np.zeros((n_frames, 3)) for n in body}
    for s, seg in enumerate(SEGMENTS):
        p = heads[:, index[seg.bone]]
        force[seg.bone] += seg_force[s]
        moment[seg.bone] += seg_moment[s] + np.cross(coms[:, s] - p, seg_force[s])
    for k, side in enumerate(("Left", "Right")):
        bone = f"{side}Foot"
        force[bone] -= reaction[:, k]
        moment[bone] -= np.cross(cop[:, k] - heads[:, index[bone]], reaction[:, k])
    for name in reversed(body):
        parent = MOVE_PARENTS.get(name)
        if parent is None or parent not in force:
            continue
        lever = heads[:, index[name]] - heads[:, index[parent]]
        force[parent] += force[name]
        moment[parent] += moment[name] + np.cross(lever, force[name])

    moments, torques = {}, {}
    for joint, conv in CONVENTIONS.items():
        moments[joint] = moment[conv.bone]
        axes = angle_axes(conv, angles[joint])  # (F, n, 3) in the parent bone's T-pose frame
        if conv.parent is not None:
            axes = np.einsum("fij,fnj->fni", rot[:, index[conv.parent]], axes)
        torques[joint] = np.einsum("fni,fi->fn", axes, moments[joint])
    forces = {"Left_toe": reaction[:, 0, 2], "Right_toe": reaction[:, 1, 2]}
    return Dynamics(total_mass, com, reaction, cop, moments, torques, forces)
