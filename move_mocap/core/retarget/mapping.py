"""The canonical humanoid, rig naming profiles, automatic bone mapping and JSON presets (no bpy here).

A mapping assigns bones to canonical *slots*: ``hips``, a spine chain ``spine_1..spine_6`` (of any length up
to six, bottom to top; the last filled one is the chest), ``neck_1..neck_2``, ``head``, an optional ``root``
(target only: where root motion may go) and per side (``.L``/``.R``) ``shoulder, upper_arm, forearm, hand,
thigh, shin, foot, toe`` and 15 finger slots ``thumb_1..pinky_3``.

Detection (:func:`detect`) strips namespaces (``_1:``, ``mixamorig:``), scores every profile on exact names,
then on loose names (case, separators and ``DEF-``/``ORG-``/``CC_Base_`` prefixes ignored), and fills what is
still missing from the hierarchy and rest geometry (:func:`detect_by_geometry`): legs end at the lowest leaves,
the head at the highest, arms at the most lateral, left is +X in world space, the arm's two long consecutive
bones are the upper arm and forearm, fingers are sorted front (thumb) to back (pinky).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

SIDES = ("L", "R")
SPINE_SLOTS = tuple(f"spine_{i}" for i in range(1, 7))
NECK_SLOTS = ("neck_1", "neck_2")
FINGERS = ("thumb", "index", "middle", "ring", "pinky")
LIMB_PARTS = ("shoulder", "upper_arm", "forearm", "hand", "thigh", "shin", "foot", "toe")
FINGER_PARTS = tuple(f"{f}_{i}" for f in FINGERS for i in (1, 2, 3))

BODY_SLOTS: tuple[str, ...] = (
    ("root", "hips", *SPINE_SLOTS, *NECK_SLOTS, "head", *tuple(f"{p}.{s}" for s in SIDES for p in LIMB_PARTS))
)
FINGER_SLOTS: tuple[str, ...] = tuple(f"{p}.{s}" for s in SIDES for p in FINGER_PARTS)
SLOTS: tuple[str, ...] = BODY_SLOTS + FINGER_SLOTS

#: Slots whose segment directions the accuracy checks compare (limbs, neck and head).
LIMB_SLOTS: tuple[str, ...] = tuple(
    f"{p}.{s}" for s in SIDES for p in ("upper_arm", "forearm", "hand", "thigh", "shin", "foot")
)


def is_finger(slot: str) -> bool:
    return slot in FINGER_SLOTS


def _sided(template: dict[str, list[str]], tokens: dict[str, dict[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for slot, names in template.items():
        if "{" in "".join(names) or slot in LIMB_PARTS or slot in FINGER_PARTS:
            for side in SIDES:
                out[f"{slot}.{side}"] = [n.format(**tokens[side]) for n in names]
        else:
            out[slot] = names
    return out


_MIXAMO_SIDED = {
    "shoulder": ["{S}Shoulder"], "upper_arm": ["{S}Arm"], "forearm": ["{S}ForeArm"], "hand": ["{S}Hand"],
    "thigh": ["{S}UpLeg"], "shin": ["{S}Leg"], "foot": ["{S}Foot"], "toe": ["{S}ToeBase", "{S}Toe"],
    **{f"{f}_{i}": [f"{{S}}Hand{f.title()}{i}"] for f in FINGERS for i in (1, 2, 3)},
}
_LR_WORD = {"L": {"S": "Left", "s": "L"}, "R": {"S": "Right", "s": "R"}}

#: profile name -> slot -> candidate bone names (namespace stripped, compared case-insensitively).
#: "spine" and "neck" list chain candidates bottom to top (the names found fill spine_1.., neck_1..); "|"
#: separates alternative chains (e.g. controls, then deforming bones): the first one found is used whole.
_HUMANOID = {"hips": ["Hips"], "spine": ["Spine", "Spine1", "Spine2", "Spine3"], "neck": ["Neck", "Neck1"],
             "head": ["Head"], **_sided(_MIXAMO_SIDED, _LR_WORD)}
PROFILES: dict[str, dict[str, list[str]]] = {
    # Mixamo's names without a namespace (Ready Player Me, many game and web characters, Move files of one
    # actor): the Move and Mixamo profiles share these names and are told apart by their namespaces only.
    "humanoid": _HUMANOID,
    "move": _HUMANOID,
    "mixamo": {"hips": ["Hips"], "spine": ["Spine", "Spine1", "Spine2"], "neck": ["Neck", "Neck1"],
               "head": ["Head"], **_sided(_MIXAMO_SIDED, _LR_WORD)},
    "cmu_bvh": {"hips": ["Hips"], "spine": ["LowerBack", "Spine", "Spine1"], "neck": ["Neck", "Neck1"],
                "head": ["Head"],
                **_sided({**_MIXAMO_SIDED, "thumb_1": ["{s}Thumb"], "index_1": ["{S}HandIndex1", "{s}Fingers"]},
                         _LR_WORD)},
    "rigify_fk": {
        "root": ["root"], "hips": ["torso"], "spine": ["chest"], "neck": ["neck"], "head": ["head"],
        **_sided({
            "shoulder": ["shoulder{s}"], "upper_arm": ["upper_arm_fk{s}"], "forearm": ["forearm_fk{s}"],
            "hand": ["hand_fk{s}"], "thigh": ["thigh_fk{s}"], "shin": ["shin_fk{s}"], "foot": ["foot_fk{s}"],
            "toe": ["toe_fk{s}"],
            **{f"{f}_{i}": [f"{'thumb' if f == 'thumb' else 'f_' + f}.0{i}{{s}}"] for f in FINGERS for i in (1, 2, 3)},
        }, {"L": {"s": ".L"}, "R": {"s": ".R"}}),
    },
    "rigify_metarig": {
        "hips": ["spine"], "spine": ["spine.001", "spine.002", "spine.003"], "neck": ["spine.004", "spine.005"],
        "head": ["spine.006"],
        **_sided({
            "shoulder": ["shoulder{s}"], "upper_arm": ["upper_arm{s}"], "forearm": ["forearm{s}"], "hand": ["hand{s}"],
            "thigh": ["thigh{s}"], "shin": ["shin{s}"], "foot": ["foot{s}"], "toe": ["toe{s}"],
            **{f"{f}_{i}": [f"{'thumb' if f == 'thumb' else 'f_' + f}.0{i}{{s}}"] for f in FINGERS for i in (1, 2, 3)},
        }, {"L": {"s": ".L"}, "R": {"s": ".R"}}),
    },
    "rigify_def": {
        "hips": ["DEF-spine"], "spine": ["DEF-spine.001", "DEF-spine.002", "DEF-spine.003"],
        "neck": ["DEF-spine.004", "DEF-spine.005"], "head": ["DEF-spine.006"],
        **_sided({
            "shoulder": ["DEF-shoulder{s}"], "upper_arm": ["DEF-upper_arm{s}"], "forearm": ["DEF-forearm{s}"],
            "hand": ["DEF-hand{s}"], "thigh": ["DEF-thigh{s}"], "shin": ["DEF-shin{s}"], "foot": ["DEF-foot{s}"],
            "toe": ["DEF-toe{s}"],
            **{f"{f}_{i}": [f"DEF-{'thumb' if f == 'thumb' else 'f_' + f}.0{i}{{s}}"] for f in FINGERS for i in (1, 2, 3)},
        }, {"L": {"s": ".L"}, "R": {"s": ".R"}}),
    },
    "unreal": {
        "root": ["root"], "hips": ["pelvis"], "spine": [f"spine_0{i}" for i in range(1, 6)],
        "neck": ["neck_01", "neck_02"], "head": ["head"],
        **_sided({
            "shoulder": ["clavicle_{s}"], "upper_arm": ["upperarm_{s}"], "forearm": ["lowerarm_{s}"],
            "hand": ["hand_{s}"], "thigh": ["thigh_{s}"], "shin": ["calf_{s}"], "foot": ["foot_{s}"],
            "toe": ["ball_{s}"],
            **{f"{f}_{i}": [f"{f}_0{i}_{{s}}"] for f in FINGERS for i in (1, 2, 3)},
        }, {"L": {"s": "l"}, "R": {"s": "r"}}),
    },
    "auto_rig_pro": {
        "root": ["c_traj"], "hips": ["c_root_master.x", "root.x"],
        "spine": ["c_spine_01.x", "c_spine_02.x", "c_spine_03.x", "|", "spine_01.x", "spine_02.x", "spine_03.x"],
        "neck": ["c_neck.x", "|", "neck.x"], "head": ["c_head.x", "head.x"],
        **_sided({
            "shoulder": ["c_shoulder.{s}", "shoulder.{s}"], "upper_arm": ["c_arm_fk.{s}", "arm_stretch.{s}"],
            "forearm": ["c_forearm_fk.{s}", "forearm_stretch.{s}"], "hand": ["c_hand_fk.{s}", "hand.{s}"],
            "thigh": ["c_thigh_fk.{s}", "thigh_stretch.{s}"], "shin": ["c_leg_fk.{s}", "leg_stretch.{s}"],
            "foot": ["c_foot_fk.{s}", "foot.{s}"], "toe": ["c_toes_fk.{s}", "toes_01.{s}"],
            **{f"{f}_{i}": [f"c_{f}{i}.{{s}}", f"{f}{i}.{{s}}"] for f in FINGERS for i in (1, 2, 3)},
        }, {"L": {"s": "l"}, "R": {"s": "r"}}),
    },
    "character_creator": {
        "root": ["CC_Base_BoneRoot", "RL_BoneRoot"], "hips": ["CC_Base_Hip"],
        "spine": ["CC_Base_Waist", "CC_Base_Spine01", "CC_Base_Spine02"],
        "neck": ["CC_Base_NeckTwist01", "CC_Base_NeckTwist02"], "head": ["CC_Base_Head"],
        **_sided({
            "shoulder": ["CC_Base_{s}_Clavicle"], "upper_arm": ["CC_Base_{s}_Upperarm"],
            "forearm": ["CC_Base_{s}_Forearm"], "hand": ["CC_Base_{s}_Hand"], "thigh": ["CC_Base_{s}_Thigh"],
            "shin": ["CC_Base_{s}_Calf"], "foot": ["CC_Base_{s}_Foot"], "toe": ["CC_Base_{s}_ToeBase"],
            **{f"{f}_{i}": [f"CC_Base_{{s}}_{ {'middle': 'Mid'}.get(f, f.title()) }{i}".replace(" ", "")]
               for f in FINGERS for i in (1, 2, 3)},
        }, {"L": {"s": "L"}, "R": {"s": "R"}}),
    },
    "vrm": {
        "hips": ["J_Bip_C_Hips"], "spine": ["J_Bip_C_Spine", "J_Bip_C_Chest", "J_Bip_C_UpperChest"],
        "neck": ["J_Bip_C_Neck"], "head": ["J_Bip_C_Head"],
        **_sided({
            "shoulder": ["J_Bip_{s}_Shoulder"], "upper_arm": ["J_Bip_{s}_UpperArm"], "forearm": ["J_Bip_{s}_LowerArm"],
            "hand": ["J_Bip_{s}_Hand"], "thigh": ["J_Bip_{s}_UpperLeg"], "shin": ["J_Bip_{s}_LowerLeg"],
            "foot": ["J_Bip_{s}_Foot"], "toe": ["J_Bip_{s}_ToeBase"],
            **{f"{f}_{i}": [f"J_Bip_{{s}}_{'Little' if f == 'pinky' else f.title()}{i}"] for f in FINGERS
               for i in (1, 2, 3)},
        }, {"L": {"s": "L"}, "R": {"s": "R"}}),
    },
}

PROFILE_LABELS = {
    "humanoid": "Humanoid", "move": "Move AI", "mixamo": "Mixamo", "cmu_bvh": "CMU BVH",
    "rigify_fk": "Rigify (FK controls)",
    "rigify_metarig": "Rigify metarig", "rigify_def": "Rigify DEF bones", "unreal": "UE4/UE5 mannequin",
    "auto_rig_pro": "Auto-Rig Pro", "character_creator": "Character Creator", "vrm": "VRM (VRoid)",
}

_NAMESPACE = re.compile(r"^(.*)[:|]")
_MOVE_NS = re.compile(r"^_(\d+):")
_LOOSE_PREFIX = re.compile(r"^(def|org|ccbase|mixamorig\d*|bip\d*)")


def strip_namespace(name: str) -> str:
    return _NAMESPACE.sub("", name)


def namespace_of(name: str) -> str:
    m = _NAMESPACE.match(name)
    return m.group(0) if m else ""


def exact_key(name: str) -> str:
    return strip_namespace(name).lower()


def loose_key(name: str) -> str:
    k = re.sub(r"[^a-z0-9]", "", exact_key(name))
    return _LOOSE_PREFIX.sub("", k)


# -- detection ---------------------------------------------------------------------------------------------

@dataclass
class Detection:
    """Slot -> bone name for one armature, with how each slot was found."""

    slots: dict[str, str]
    profile: str
    by_geometry: set[str] = field(default_factory=set)
    namespace: str = ""


def _lookup(names: Sequence[str], loose: bool) -> dict[str, str]:
    keyf = loose_key if loose else exact_key
    lookup: dict[str, str] = {}
    for n in names:
        lookup.setdefault(keyf(n), n)
    return lookup


def _alternatives(candidates: Sequence[str]) -> list[list[str]]:
    """A chain's candidate names split at "|" into alternative chains."""
    out: list[list[str]] = [[]]
    for c in candidates:
        if c == "|":
            out.append([])
        else:
            out[-1].append(c)
    return out


def _match_profile(
    names: Sequence[str], profile: dict[str, list[str]], loose: bool, lookup: dict[str, str] | None = None
) -> dict[str, str]:
    keyf = loose_key if loose else exact_key
    if lookup is None:
        lookup = _lookup(names, loose)
    out: dict[str, str] = {}
    used: set[str] = set()
    for slot, candidates in profile.items():
        if slot in ("spine", "neck"):
            chain: list[str] = []
            for alternative in _alternatives(candidates):
                chain = [lookup[keyf(c)] for c in alternative if keyf(c) in lookup]
                chain = [c for c in chain if c not in used]
                if chain:
                    break
            slot_names = SPINE_SLOTS if slot == "spine" else NECK_SLOTS
            for s, bone in zip(slot_names, chain):
                out[s] = bone
                used.add(bone)
            continue
        for c in candidates:
            found = lookup.get(keyf(c))
            if found is not None and found not in used:
                out[slot] = found
                used.add(found)
                break
    return out


def detect(
    names: Sequence[str],
    parents: Sequence[int] | None = None,
    heads: np.ndarray | None = None,
    tails: np.ndarray | None = None,
    profile: str | None = None,
    namespace: str | None = None,
    use_geometry: bool = True,
) -> Detection:
    """Map an armature's bones onto the canonical slots.

    ``names``/``parents`` (parent index, -1 for roots) and world-space rest ``heads``/``tails`` describe the
    armature; without geometry only names are used. ``profile`` forces a naming profile (else the best
    scoring one); ``namespace`` picks one actor (e.g. ``"_2:"``) when several share the armature."""
    names = list(names)
    namespaces = sorted({namespace_of(n) for n in names if _MOVE_NS.match(n)})
    if namespace is None and namespaces:
        namespace = str(namespaces[0])
    keep = [i for i, n in enumerate(names) if not namespace or n.startswith(namespace) or not _MOVE_NS.match(n)]
    cand_names = [names[i] for i in keep]

    best_profile, best = "", {}  # type: tuple[str, dict[str, str]]
    score_best = -1.0
    lookup_exact, lookup_loose = _lookup(cand_names, False), _lookup(cand_names, True)
    mixamo_named = any("mixamorig" in n.lower() for n in cand_names)
    for pname, pdef in PROFILES.items():
        if profile and pname != profile:
            continue
        exact = _match_profile(cand_names, pdef, False, lookup_exact)
        loose = _match_profile(cand_names, pdef, True, lookup_loose)
        merged = {**loose, **exact}
        # Exact matches count most; Move's namespace favours the Move profile, "mixamorig" the Mixamo one.
        # Without either, the names are a generic humanoid's: that profile comes first, so it wins the tie.
        score = len(exact) + 0.5 * len(loose) + 0.01 * len(merged)
        if pname == "move" and namespaces:
            score += 5
        if pname == "mixamo" and mixamo_named:
            score += 5
        if score > score_best:
            score_best, best_profile, best = score, pname, merged
    # A generated Rigify rig also holds DEF/ORG bones: animators use its FK controls.
    if profile is None and best_profile in ("rigify_def", "rigify_metarig"):
        fk = _match_profile(cand_names, PROFILES["rigify_fk"], False, lookup_exact)
        if len(fk) >= 20 and "hips" in fk and "upper_arm.L" in fk:
            best_profile, best = "rigify_fk", fk
    slots = dict(best)
    by_geometry: set[str] = set()
    if use_geometry and parents is not None and heads is not None and tails is not None:
        sub_index = {i: k for k, i in enumerate(keep)}
        sub_parents = [sub_index.get(int(parents[i]), -1) if int(parents[i]) >= 0 else -1 for i in keep]
        geo = detect_by_geometry(cand_names, sub_parents, np.asarray(heads)[keep], np.asarray(tails)[keep])
        used = set(slots.values())
        # Geometry fills slots the names did not, or replaces everything when names found almost nothing.
        if len([s for s in slots if s in BODY_SLOTS]) < 6:
            slots, used = {}, set()
        named = dict(slots)
        for slot, bone in geo.items():
            if slot not in slots and bone not in used and not _chain_conflict(slot, named):
                slots[slot] = bone
                used.add(bone)
                by_geometry.add(slot)
    return Detection(slots=slots, profile=best_profile if best else "", by_geometry=by_geometry,
                     namespace=namespace or "")


def _chain_conflict(slot: str, slots: dict[str, str]) -> bool:
    """Do not mix a geometric spine/neck chain into one found by names."""
    if slot in SPINE_SLOTS:
        return any(s in slots for s in SPINE_SLOTS)
    if slot in NECK_SLOTS:
        return any(s in slots for s in NECK_SLOTS)
    return False


def detect_by_geometry(
    names: Sequence[str], parents: Sequence[int], heads: np.ndarray, tails: np.ndarray
) -> dict[str, str]:
    """Find the canonical slots from the hierarchy and rest geometry alone (world space, Z up, left = +X)."""
    n = len(names)
    heads = np.asarray(heads, dtype=np.float64)
    tails = np.asarray(tails, dtype=np.float64)
    if n < 5:
        return {}
    children: list[list[int]] = [[] for _ in range(n)]
    for i, p in enumerate(parents):
        if p >= 0:
            children[p].append(i)
    depth = np.zeros(n, dtype=int)
    for i in _order(parents):
        depth[i] = depth[parents[i]] + 1 if parents[i] >= 0 else 0

    def path(i: int) -> list[int]:
        out = [i]
        while parents[out[-1]] >= 0:
            out.append(parents[out[-1]])
        return out[::-1]

    def common(a: int, b: int) -> int:
        pa = path(a)
        pb = set(path(b))
        last = -1
        for x in pa:
            if x in pb:
                last = x
        return last

    length = np.linalg.norm(tails - heads, axis=1)
    zs = np.concatenate((heads[:, 2], tails[:, 2]))
    z_lo, z_hi = float(zs.min()), float(zs.max())
    height = max(z_hi - z_lo, 1e-9)
    cx = float(np.median(heads[:, 0]))
    leaves = [i for i in range(n) if not children[i]]
    low = [i for i in leaves if min(heads[i, 2], tails[i, 2]) < z_lo + 0.15 * height]
    out: dict[str, str] = {}
    feet: dict[str, int] = {}
    for side, sign in (("L", 1.0), ("R", -1.0)):
        cands = [i for i in low if sign * (tails[i, 0] - cx) > 0.02 * height]
        if cands:
            feet[side] = max(cands, key=lambda i: (depth[i], -tails[i, 2]))
    if len(feet) < 2:
        return {}
    pelvis = common(feet["L"], feet["R"])
    top_leaf = max(leaves, key=lambda i: (max(heads[i, 2], tails[i, 2]), depth[i]))
    hips = common(pelvis, top_leaf) if pelvis >= 0 else -1
    if hips < 0:
        return {}
    out["hips"] = names[hips]
    for side, leaf in feet.items():
        chain = path(leaf)
        chain = chain[chain.index(pelvis) + 1:]
        start = next((k for k, b in enumerate(chain) if length[b] >= 0.15 * height), None)
        if start is None:
            continue
        for part, b in zip(("thigh", "shin", "foot", "toe"), chain[start:]):
            out[f"{part}.{side}"] = names[b]

    # Arms: the most lateral leaves outside legs and head path.
    spine_path = path(top_leaf)
    leg_bones = {b for leaf in feet.values() for b in path(leaf)} - set(spine_path)
    upper_leaves = [i for i in leaves if i not in leg_bones and i != top_leaf]
    hands_leaf: dict[str, int] = {}
    for side, sign in (("L", 1.0), ("R", -1.0)):
        cands = [i for i in upper_leaves if sign * (tails[i, 0] - cx) > 0.1 * height]
        if cands:
            hands_leaf[side] = max(cands, key=lambda i: (sign * tails[i, 0], depth[i]))
    chest = -1
    if len(hands_leaf) == 2:
        chest = common(common(hands_leaf["L"], hands_leaf["R"]), top_leaf)
    if chest < 0 or chest not in spine_path:
        chest = -1
    for side, leaf in hands_leaf.items():
        if chest < 0:
            break
        chain = path(leaf)
        chain = chain[chain.index(chest) + 1:]
        if len(chain) < 2:
            continue
        # The upper arm is the first bone starting well away from the midline (a clavicle starts near it);
        # failing that, the consecutive pair of long bones near the body.
        lateral = [k for k in range(len(chain) - 1) if abs(heads[chain[k], 0] - cx) >= 0.06 * height]
        if lateral:
            k = lateral[0]
        else:
            pairs = [(min(length[chain[k]], length[chain[k + 1]]), -k) for k in range(min(len(chain) - 1, 4))]
            k = -max(pairs)[1]
        if k >= 1:
            out[f"shoulder.{side}"] = names[chain[k - 1]]
        out[f"upper_arm.{side}"] = names[chain[k]]
        out[f"forearm.{side}"] = names[chain[k + 1]]
        if k + 2 < len(chain):
            hand = chain[k + 2]
            out[f"hand.{side}"] = names[hand]
            out.update(_fingers(hand, side, names, children, heads, tails, length))

    # Spine, neck and head along the path to the top leaf.
    above = spine_path[spine_path.index(hips) + 1:]
    if chest >= 0 and chest in above:
        spine = above[: above.index(chest) + 1]
        rest = above[above.index(chest) + 1:]
    else:
        spine, rest = above[:-1], above[-1:]
    hips_z = heads[hips, 2]
    head_cands = [b for b in rest if heads[b, 2] < hips_z + 0.9 * (z_hi - hips_z)]
    if head_cands:
        head = head_cands[-1]
        out["head"] = names[head]
        for s, b in zip(NECK_SLOTS, rest[: rest.index(head)][-len(NECK_SLOTS):]):
            out[s] = names[b]
    for s, b in zip(SPINE_SLOTS, spine[-len(SPINE_SLOTS):]):
        out[s] = names[b]
    return out


def _order(parents: Sequence[int]) -> list[int]:
    n = len(parents)
    done: list[int] = []
    seen = [False] * n

    def visit(i: int) -> None:
        if seen[i]:
            return
        if parents[i] >= 0:
            visit(parents[i])
        seen[i] = True
        done.append(i)

    for i in range(n):
        visit(i)
    return done


def _fingers(
    hand: int, side: str, names: Sequence[str], children: list[list[int]], heads: np.ndarray,
    tails: np.ndarray, length: np.ndarray,
) -> dict[str, str]:
    chains: list[list[int]] = []
    for c in children[hand]:
        chain = [c]
        while children[chain[-1]]:
            chain.append(max(children[chain[-1]], key=lambda k: _count(k, children)))
        chains.append(chain)
    if len(chains) != 5:
        return {}
    # Front (-Y) to back: thumb, index, middle, ring, pinky.
    chains.sort(key=lambda ch: float(np.mean([tails[b, 1] for b in ch[:2]])))
    out: dict[str, str] = {}
    reach = max(float(np.linalg.norm(tails[ch[-1]] - heads[hand])) for ch in chains)
    for finger, chain in zip(FINGERS, chains):
        if finger != "thumb" and len(chain) >= 4 and np.linalg.norm(heads[chain[0]] - heads[hand]) < 0.3 * reach:
            chain = chain[1:]  # a metacarpal
        for i, b in enumerate(chain[:3], start=1):
            out[f"{finger}_{i}.{side}"] = names[b]
    return out


def _count(i: int, children: list[list[int]]) -> int:
    return 1 + sum(_count(c, children) for c in children[i])


# -- source/target pairs and presets -------------------------------------------------------------------------

@dataclass
class BoneMapping:
    """What drives what: canonical slot -> source bone and slot -> target bone."""

    source: dict[str, str] = field(default_factory=dict)
    target: dict[str, str] = field(default_factory=dict)
    source_profile: str = ""
    target_profile: str = ""

    def pairs(self, fingers: bool = True) -> list[tuple[str, str, str]]:
        """(slot, source bone, target bone) for slots mapped on both sides, in canonical order (chains are
        paired by :func:`chain_pairs`, not here)."""
        out = []
        for slot in SLOTS:
            if slot in SPINE_SLOTS or slot in NECK_SLOTS or slot == "root":
                continue
            if not fingers and is_finger(slot):
                continue
            s, t = self.source.get(slot), self.target.get(slot)
            if s and t:
                out.append((slot, s, t))
        return out

    def chain(self, side: str, slots: Sequence[str]) -> list[str]:
        bones = self.source if side == "source" else self.target
        return [bones[s] for s in slots if bones.get(s)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "move_mocap.retarget_mapping",
            "version": 1,
            "source_profile": self.source_profile,
            "target_profile": self.target_profile,
            "slots": {
                slot: {"source": self.source.get(slot, ""), "target": self.target.get(slot, "")}
                for slot in SLOTS
                if self.source.get(slot) or self.target.get(slot)
            },
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BoneMapping:
        if data.get("format") != "move_mocap.retarget_mapping":
            raise ValueError("not a move_mocap retarget mapping preset")
        if int(data.get("version", 0)) > 1:
            raise ValueError(f"mapping preset version {data.get('version')} is newer than this add-on")
        mapping = cls(source_profile=str(data.get("source_profile", "")),
                      target_profile=str(data.get("target_profile", "")))
        for slot, pair in dict(data.get("slots", {})).items():
            if slot not in SLOTS:
                raise ValueError(f"unknown slot {slot!r} in mapping preset")
            if pair.get("source"):
                mapping.source[slot] = str(pair["source"])
            if pair.get("target"):
                mapping.target[slot] = str(pair["target"])
        return mapping

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> BoneMapping:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
