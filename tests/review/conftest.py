"""The review tests reuse the retarget tests' scene (Rigify, Mixamo-named and other rigs, CMU BVH takes)."""

from tests.retarget.conftest import World, world, world_blend  # noqa: F401
