"""One BLAS thread while the engine's numeric stages run (numpy and ctypes only, no bpy here).

numpy's matrix products go through the BLAS it bundles (OpenBLAS in the wheels Blender and pip ship), which
starts one thread per core and keeps them spinning for a while after each call. The retarget and the clean-ups
only multiply small matrices ((frames, 4) @ (4, 4)); on a busy machine with few cores those spinning threads
take the cores from the main thread's other numpy work, which made whole stages 3-6x slower from run to run
(numpy 2, Blender 5.x; ``scripts/bench.py retarget``).

:func:`single_threaded` (a context manager and a decorator) limits BLAS to one thread for the duration of a
call and restores the count the process had afterwards, so Blender users' own scripts find numpy as they left
it; nested uses only act at the outermost. It uses threadpoolctl where that is installed; Blender does not ship
it, so otherwise it calls OpenBLAS's own get/set functions in the library numpy loaded (numpy's ``numpy.libs``
or ``.dylibs`` folder); with another BLAS (Accelerate) or none found it does nothing. The limit is process-wide
while it holds: calls come from Blender's main thread, which runs one operator at a time.

This module does not change environment variables and does not load a BLAS numpy has not loaded.
"""

from __future__ import annotations

import contextlib
import ctypes
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

_lock = threading.Lock()
_depth = 0
_api: tuple[Callable[[], int], Callable[[int], None]] | bool | None = False  # False: not looked up yet


def _openblas() -> tuple[Callable[[], int], Callable[[int], None]] | None:
    """(get, set) of the thread count of the OpenBLAS numpy bundles, or None."""
    pkg = Path(np.__file__).resolve().parent
    for folder in (pkg.parent / "numpy.libs", pkg / ".dylibs", pkg.parent / "numpy" / ".libs"):
        if not folder.is_dir():
            continue
        for lib in sorted(folder.iterdir()):
            if "openblas" not in lib.name.lower():
                continue
            try:
                dll = ctypes.CDLL(str(lib))  # already loaded by numpy: the same library, no second copy
            except OSError:
                continue
            for prefix in ("scipy_openblas", "openblas"):
                for suffix in ("64_", ""):
                    get = getattr(dll, f"{prefix}_get_num_threads{suffix}", None)
                    put = getattr(dll, f"{prefix}_set_num_threads{suffix}", None)
                    if get is not None and put is not None:
                        get.restype, get.argtypes = ctypes.c_int, []
                        put.restype, put.argtypes = None, [ctypes.c_int]
                        return (lambda g=get: int(g())), (lambda n, p=put: p(int(n)))
    return None


def _threadpoolctl() -> Any:
    try:
        import threadpoolctl  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    return threadpoolctl


@contextlib.contextmanager
def single_threaded() -> Iterator[None]:
    """BLAS limited to one thread inside the block (see the module docstring)."""
    global _depth, _api
    with _lock:
        _depth += 1
        outer = _depth == 1
    restore: Callable[[], None] | None = None
    try:
        if outer:
            tpc = _threadpoolctl()
            if tpc is not None:
                limits = tpc.threadpool_limits(limits=1, user_api="blas")
                restore = limits.restore_original_limits
            else:
                if _api is False:
                    try:
                        _api = _openblas()
                    except (OSError, AttributeError, ValueError):
                        _api = None
                if isinstance(_api, tuple):
                    get, put = _api
                    before = get()
                    if before > 1:
                        put(1)
                        restore = lambda: put(before)  # noqa: E731
        yield
    finally:
        if restore is not None:
            restore()
        with _lock:
            _depth -= 1


def blas_threads() -> int | None:
    """The BLAS thread count numpy's OpenBLAS uses now (None where it cannot be read): for tests and benchmarks."""
    global _api
    if _api is False:
        _api = _openblas()
    return _api[0]() if isinstance(_api, tuple) else None
