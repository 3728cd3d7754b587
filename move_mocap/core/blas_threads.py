"""One BLAS thread while the add-on's numeric stages run (threadpoolctl; no bpy here).

numpy's matrix products go through the BLAS it bundles (OpenBLAS in the wheels Blender and pip ship), which
starts one thread per core and keeps them spinning for a while after each call. The retarget and the clean-ups
only multiply small matrices ((frames, 4) @ (4, 4)); on a busy machine with few cores those spinning threads
take the cores from the main thread's other numpy work, which made whole stages 3-6x slower from run to run
(numpy 2, Blender 5.x; ``scripts/bench.py retarget``).

:func:`single_threaded` (a context manager and a decorator) limits BLAS to one thread for the duration of a
call and restores the counts the process had afterwards, so Blender users' own scripts find numpy as they left
it; nested uses only act at the outermost. threadpoolctl (bundled with the extension:
requirements/extension-wheels.txt) finds the BLAS numpy loaded, whatever the platform; where it cannot be
imported the limit does nothing (it is a speed-up, never a condition). The limit is process-wide while it
holds: calls come from Blender's main thread, which runs one operator at a time.

This module does not change environment variables and does not load a BLAS numpy has not loaded.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

_lock = threading.Lock()
_depth = 0


def _threadpoolctl() -> Any:
    try:
        import threadpoolctl  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    return threadpoolctl


@contextlib.contextmanager
def single_threaded() -> Iterator[None]:
    """BLAS limited to one thread inside the block (see the module docstring)."""
    global _depth
    with _lock:
        _depth += 1
        outer = _depth == 1
    limits = None
    try:
        tpc = _threadpoolctl() if outer else None
        if tpc is not None:
            limits = tpc.threadpool_limits(limits=1, user_api="blas")
        yield
    finally:
        if limits is not None:
            limits.restore_original_limits()
        with _lock:
            _depth -= 1


def blas_threads() -> int | None:
    """The largest thread count of the BLAS libraries numpy loaded (None where threadpoolctl is missing or
    finds none): for tests and benchmarks."""
    tpc = _threadpoolctl()
    counts = [int(i["num_threads"]) for i in tpc.threadpool_info() if i.get("user_api") == "blas"] if tpc else []
    return max(counts) if counts else None
