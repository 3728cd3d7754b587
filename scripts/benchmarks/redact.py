"""Benchmark ``redact``: how long redaction of hostile server messages takes.

Redacts an ordinary 80 KB message (words and one presigned URL: the baseline), the pathological 80 KB shapes
that made the old patterns quadratic, and a 20 MB message, best of ``--repeat`` runs each. Prints ONE JSON
line: seconds per case, ``worst_pathological_s``, ``huge_20mb_s``, ``baseline_s`` and
``ratio_to_baseline`` (worst pathological / baseline; near 1 means linear and bounded).
Run: ``.venv/blender-4.2/bin/python scripts/bench.py redact [--repeat 5]``.
"""

from __future__ import annotations

import argparse
import json
import time

from move_mocap.core.api.redact import redact_text

SIG = "c2lnbmF0dXJlLXNlY3JldA0123"


def _best(text: str, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        redact_text(text, ["a-secret-key-value"])
        best = min(best, time.perf_counter() - start)
    return best


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench.py redact")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    baseline = ("the server said something went wrong " * 2200)[:80_000 - 60] + f" https://h/p?sig={SIG}"
    pathological = {
        "scheme_run": "a" * 80_000,
        "slash_run": "/" * 80_000,
        "slash_words": "x /a" * 20_000,
        "question_run": "/?" * 40_000,
    }
    figures = {name: _best(text, args.repeat) for name, text in pathological.items()}
    base = _best(baseline, args.repeat)
    huge = _best("y" * (20 << 20), max(1, args.repeat // 2))
    worst = max(figures.values())
    print(json.dumps({"cases_s": {k: round(v, 6) for k, v in figures.items()},
                      "worst_pathological_s": round(worst, 6), "huge_20mb_s": round(huge, 6),
                      "baseline_s": round(base, 6), "ratio_to_baseline": round(worst / base, 3) if base else None}))
    return 0
