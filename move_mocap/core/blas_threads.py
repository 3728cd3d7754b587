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
imported, or fails while inspecting or setting the libraries, the limit does nothing (it is a speed-up,
never a condition; what was set before the failure is put back). The limit is process-wide while it
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


def _limit_to_one(tpc: Any) -> list[tuple[Any, int]]:
    """Set every BLAS threadpoolctl finds to one thread; the (library, count it had) pairs changed. Any
    failure (threadpoolctl inspecting an unexpected library, a library refusing) puts back what was set so far
    and limits nothing: the limit is a speed-up, never a condition."""
    changed: list[tuple[Any, int]] = []
    try:
        for lib in tpc.ThreadpoolController().select(user_api="blas").lib_controllers:
            count = int(lib.num_threads)
            lib.set_num_threads(1)
            changed.append((lib, count))
    except Exception:
        _restore(changed)
        return []
    return changed


def _restore(changed: list[tuple[Any, int]]) -> None:
    for lib, count in reversed(changed):
        with contextlib.suppress(Exception):
            lib.set_num_threads(count)


@contextlib.contextmanager
def single_threaded() -> Iterator[None]:
    """BLAS limited to one thread inside the block (see the module docstring)."""
    global _depth
    with _lock:
        _depth += 1
        outer = _depth == 1
    changed: list[tuple[Any, int]] = []
    try:
        tpc = _threadpoolctl() if outer else None
        if tpc is not None:
            changed = _limit_to_one(tpc)
        yield
    finally:
        _restore(changed)
        with _lock:
            _depth -= 1


def blas_threads() -> int | None:
    """The largest thread count of the BLAS libraries numpy loaded (None where threadpoolctl is missing or
    finds none): for tests and benchmarks."""
    tpc = _threadpoolctl()
    counts = [int(i["num_threads"]) for i in tpc.threadpool_info() if i.get("user_api") == "blas"] if tpc else []
    return max(counts) if counts else None
