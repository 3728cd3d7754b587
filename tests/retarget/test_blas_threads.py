"""BLAS is limited to one thread while the retarget and its clean-ups run, and given back afterwards
(``move_mocap.core.blas_threads``): numpy's bundled OpenBLAS as threadpoolctl finds it in this process (the
extension bundles threadpoolctl; the test venvs install it), a real retarget."""

from __future__ import annotations

import pytest

bpy = pytest.importorskip("bpy")

from move_mocap.core import blas_threads as B  # noqa: E402
from move_mocap.core.retarget.options import RetargetOptions  # noqa: E402


@pytest.fixture
def two_threads():
    """numpy's BLAS set to two threads for the test (whatever the machine's cores), then as it was."""
    import numpy  # noqa: F401  # loads the BLAS threadpoolctl looks for
    import threadpoolctl

    limits = threadpoolctl.threadpool_limits(limits=2, user_api="blas")
    assert B.blas_threads() == 2, "numpy's BLAS was not found: the limit would do nothing"
    yield
    limits.restore_original_limits()


def test_single_threaded_restores(two_threads) -> None:
    with B.single_threaded():
        assert B.blas_threads() == 1
        with B.single_threaded():
            assert B.blas_threads() == 1
        assert B.blas_threads() == 1  # only the outermost restores
    assert B.blas_threads() == 2
    with pytest.raises(KeyError), B.single_threaded():
        raise KeyError("x")
    assert B.blas_threads() == 2


def test_retarget_and_clean_ups_run_single_threaded(world, two_threads, monkeypatch) -> None:
    from move_mocap.retarget.apply import retarget_with_report
    from move_mocap.review import legs

    seen: list[int | None] = []
    real = legs.clean_up_values

    def recording(*args, **kwargs):
        seen.append(B.blas_threads())
        return real(*args, **kwargs)

    monkeypatch.setattr(legs, "clean_up_values", recording)
    source, target = world.obj("cmu_01_01"), world.targets["mixamo"]
    retarget_with_report(source, target, RetargetOptions(foot_lock=True, frame_start=1, frame_end=60))
    assert seen == [1]
    assert B.blas_threads() == 2  # the user's scripts find numpy as they left it
    bpy.context.view_layer.objects.active = target
    legs.smooth(target, 0.3)
    assert B.blas_threads() == 2


def test_a_failing_threadpoolctl_limits_nothing(two_threads, monkeypatch) -> None:
    """threadpoolctl raising while it inspects the libraries, or a library refusing after another was set
    (failures a real process cannot be made to show on demand, hence the stand-ins): the block runs, without
    the limit, and what was set before the failure is put back."""
    import threadpoolctl

    real = threadpoolctl.ThreadpoolController

    def broken():
        raise RuntimeError("unexpected library")

    with monkeypatch.context() as m:
        m.setattr(threadpoolctl, "ThreadpoolController", broken)
        with B.single_threaded():
            ran = True
    assert ran and B.blas_threads() == 2

    class Refusing:
        num_threads = 4

        def set_num_threads(self, n: int) -> None:
            raise OSError("refused")

    class PartWay:
        def select(self, **kwargs):
            found = real().select(**kwargs)
            found.lib_controllers = [*found.lib_controllers, Refusing()]
            return found

    seen = []
    with monkeypatch.context() as m:
        m.setattr(threadpoolctl, "ThreadpoolController", PartWay)
        with B.single_threaded():
            m.undo()
            seen.append(B.blas_threads())  # the first library was set to 1, then put back when the second refused
            m.setattr(threadpoolctl, "ThreadpoolController", PartWay)
    assert seen == [2] and B.blas_threads() == 2
