"""Adaptive polling interval: quick at first, backing off while nothing changes, honouring Retry-After.

Pure arithmetic; the caller sleeps. No I/O, no bpy.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class PollSchedule:
    """``next_delay()`` gives the wait before the next poll.

    Starts at ``initial`` and multiplies by ``factor`` per poll up to ``maximum``. ``progressed()`` (the job
    moved) brings the interval back down to ``after_progress`` so an active job is followed closely;
    ``retry_after(seconds)`` makes the next wait at least what the server asked for, up to ``maximum``.
    """

    initial: float = 1.0
    factor: float = 1.5
    maximum: float = 15.0
    after_progress: float = 2.0
    _current: float = 0.0
    _floor: float = 0.0

    def next_delay(self) -> float:
        if self._current <= 0:
            self._current = self.initial
        else:
            self._current = min(self.maximum, self._current * self.factor)
        delay = max(self._current, self._floor)
        self._floor = 0.0
        return delay

    def progressed(self) -> None:
        if self._current > self.after_progress:
            self._current = self.after_progress / self.factor

    def retry_after(self, seconds: float | None) -> None:
        if seconds is not None and seconds > 0:  # (NaN fails the test) capped: a server cannot park the poller
            self._floor = max(self._floor, min(float(seconds), self.maximum))

    def reset(self) -> None:
        self._current = 0.0
        self._floor = 0.0
