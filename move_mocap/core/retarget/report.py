"""What a user reads after a retarget: one line stating the scale, the floor and the hips height, and warnings
when the result's feet miss the floor (no bpy here; the bpy layer shows them and the CLI logs them)."""

from __future__ import annotations

from .solver import SolveResult

#: How far (metres) the lowest foot point over a whole take may stay above, or go below, the height at which it
#: touches the floor (``floor + sole_height``) before the result is reported as floating or sinking.
FLOOR_TOLERANCE = 0.03


def summary_line(result: SolveResult) -> tuple[str, list[str]]:
    """The line a user reads after a retarget (scale, floor, hips height) and warnings when the result's feet
    never touch the floor or go far below it."""
    line = f"scale {result.scale:.3f}, floor at {result.floor:.3f} m, hips {result.hips_height:.2f} m above it"
    if abs(result.floor_shift) >= 0.0005:
        way = "lowered" if result.floor_shift < 0 else "raised"
        line += f" (take {way} {100 * abs(result.floor_shift):.1f} cm so the feet stand on the floor as at rest)"
    warnings = []
    if result.feet_lowest is not None and len(result.feet_lowest):
        gap = float(result.feet_lowest.min()) - (result.floor + result.sole_height)
        if gap > FLOOR_TOLERANCE:
            warnings.append(f"the feet never touch the floor: the lowest foot point over the take stays "
                            f"{100 * gap:.0f} cm above where it touches it (check the translation scale and "
                            "Floor Clamp)")
        elif gap < -FLOOR_TOLERANCE:
            warnings.append(f"the feet go {-100 * gap:.0f} cm below the floor (check the translation scale and "
                            "enable Floor Clamp)")
    return line, warnings
