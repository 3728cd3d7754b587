"""The fault soak (scripts/benchmarks/soak.py) at a small N: randomized submissions with faults at every stage,
each ending applied (possibly after Retry) or with a stage-aware failure; no duplicate on the server, no
stray or partial file, no corrupted import. ``MOVE_MOCAP_SLOW=1`` runs the full 300."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _soak_module():
    spec = importlib.util.spec_from_file_location("bench_soak", ROOT / "scripts" / "benchmarks" / "soak.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _check(result: dict, runs: int) -> None:
    assert result["runs"] == runs
    zero = {k: result[k] for k in ("duplicates", "corrupted", "partial_files", "unreported_failures", "unapplied")}
    assert zero == dict.fromkeys(zero, 0), result
    assert result["applied_first_try"] + result["failed_then_recovered"] == runs
    assert result["fault_hits"] > 0  # faults really were hit


def test_soak_small(addon, demo_video) -> None:
    result = _soak_module().soak(runs=8, seed=1, clip=1.0, video=demo_video)
    _check(result, 8)
    assert result["failed_then_recovered"] > 0  # the seed makes some runs fail and recover


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("MOVE_MOCAP_SLOW") != "1", reason="set MOVE_MOCAP_SLOW=1 (several minutes)")
def test_soak_300(addon, demo_video) -> None:
    _check(_soak_module().soak(runs=300, seed=1, clip=1.0, video=demo_video), 300)
