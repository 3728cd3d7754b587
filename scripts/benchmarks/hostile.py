"""Benchmark ``hostile``: the whole hostile-server case table (tests/hostile/cases.py) against the add-on.

Each case runs as the test suite runs it (tests/hostile/harness.py: the add-on's Pipeline against a hostile
local server, or scripts/mocap.py for crafted outputs). Prints ONE JSON line: ``cases``, ``handled_badly``
(target 0), ``files_outside_download_dir`` (0), ``max_main_thread_stall_ms`` (<= 10: the longest
``Pipeline.drain`` slice), ``duplicate_creates`` (0), ``max_cancel_latency_s`` (<= 1), the same stall for
the plain (no-fault) case measured in this run as the baseline with their ratio, and the names of the cases
handled badly (``needs`` says which depend on the path-validation / redaction / archive work).
Run: ``.venv/blender-4.2/bin/python scripts/bench.py hostile [--only NAME,...] [--pipeline-only]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench.py hostile")
    parser.add_argument("--only", help="comma-separated case names")
    parser.add_argument("--pipeline-only", action="store_true", help="skip the cases run through mocap.py")
    args = parser.parse_args(argv)
    import bpy  # noqa: F401  (first: the mocap.py cases need Blender's modules; the same Python runs them)

    from tests.hostile.cases import CASES
    from tests.hostile.harness import run_case

    cases = [c for c in CASES if not args.only or c.name in args.only.split(",")]
    started = time.monotonic()
    results = []
    with tempfile.TemporaryDirectory(prefix="move_mocap-hostile-") as tmp:
        for i, case in enumerate(cases):
            for via in case.via:
                if via == "mocap" and args.pipeline_only:
                    continue
                results.append((case, run_case(case, Path(tmp) / f"{i}-{via}", via=via)))
    bad = [(c, r) for c, r in results if not r.handled_well]
    plain = [r for c, r in results if c.name == "plain"]
    stall = max((r.max_stall_ms for _, r in results), default=0.0)
    base = plain[0].max_stall_ms if plain else None
    latencies = [r.cancel_latency_s for _, r in results if r.cancel_latency_s is not None]
    print(json.dumps({
        "cases": len(results),
        "handled_badly": len(bad),
        "files_outside_download_dir": sum(len(r.files_outside) for _, r in results),
        "max_main_thread_stall_ms": round(stall, 3),
        "max_main_loop_gap_ms": round(max((r.max_gap_ms for _, r in results), default=0.0), 1),
        "baseline_plain_gap_ms": round(plain[0].max_gap_ms, 1) if plain else None,
        "duplicate_creates": sum(max(0, r.jobs - 1) + max(0, r.takes - 1) for _, r in results),
        "max_cancel_latency_s": round(max(latencies), 3) if latencies else None,
        "baseline_plain_stall_ms": round(base, 3) if base is not None else None,
        "ratio_stall_to_plain": round(stall / max(base, 1e-3), 2) if base is not None else None,
        "badly": [{"case": c.name, "needs": c.needs or None, "problems": r.problems[:2]} for c, r in bad],
        "seconds": round(time.monotonic() - started, 1),
        "python": sys.version.split()[0],
    }))
    return 0
