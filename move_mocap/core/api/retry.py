"""Retry policy: capped exponential backoff with full jitter, honouring Retry-After.

Only the caller decides whether a call is safe to repeat (queries, idempotent mutations, the same upload
PUT, ranged downloads); this module only decides how long to wait and when to give up. No I/O besides
``time.sleep`` (injectable for tests), no bpy.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from .errors import MoveAPIError, RateLimitError

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait between attempts.

    ``attempts`` counts every try including the first. The n-th wait (n = 0, 1, ...) is a random value in
    ``[0, min(max_delay, base_delay * 2**n)]`` (full jitter, so many clients do not retry in lockstep). A
    server's Retry-After is honoured as a lower bound unless it exceeds ``max_retry_after``, in which case
    the error is raised at once (the caller can schedule a later retry itself).
    """

    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = 60.0
    jitter: bool = True
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def backoff(self, retry_index: int) -> float:
        """Seconds to wait before retry number ``retry_index`` (0 = the first retry)."""
        cap = min(self.max_delay, self.base_delay * (2.0 ** min(retry_index, 62)))
        return self.rng.uniform(0.0, cap) if self.jitter else cap

    def delay_for(self, retry_index: int, error: MoveAPIError) -> float | None:
        """Seconds to wait before retrying after ``error``, or None when the error must be raised now."""
        if not error.retryable or retry_index + 1 >= self.attempts:
            return None
        delay = self.backoff(retry_index)
        if isinstance(error, RateLimitError) and error.retry_after is not None:
            wait = error.retry_after
            if not wait <= self.max_retry_after:  # also NaN from a caller that did not parse it safely
                return None
            delay = max(delay, wait)
        return delay


NO_RETRY = RetryPolicy(attempts=1)


def call_with_retries(
    fn: Callable[[], T],
    policy: RetryPolicy,
    *,
    is_safe: Callable[[MoveAPIError], bool] = lambda _e: True,
    sleep: Callable[[float], None] = time.sleep,
    describe: str = "request",
) -> T:
    """Run ``fn`` until it returns, retrying retryable ``MoveAPIError``s for which ``is_safe(error)`` holds."""
    retry_index = 0
    while True:
        try:
            return fn()
        except MoveAPIError as error:
            delay = policy.delay_for(retry_index, error) if is_safe(error) else None
            if delay is None:
                raise
            log.info("%s failed (%s); retry %d in %.2f s", describe, error, retry_index + 1, delay)
            sleep(delay)
            retry_index += 1
