"""Fault injection for tests: deterministic, per server instance, counted per route. No HTTP here.

A rule is a dict (JSON over ``POST /_faults`` or ``--faults``)::

    {"route": "graphql" | "upload" | "download" | "sharecode" | "*",
     "kind": "status" | "rate_limit" | "slow" | "reset" | "truncate" | "expire_url" | "graphql_error" | "fail_job"
             | "hang_job" | "malformed",
     "count": 2,          # how many matching requests it hits (default 1); -1 means every one
     "skip": 0,           # let this many matching requests through first
     "operation": "getJob",   # graphql only: hit only this operation (root field or operationName)
     "status": 503, "retry_after": 1, "delay": 0.5, "after_bytes": 65536, "message": "...",
     "variant": "bad_json" | "wrong_type" | "unknown_enum"}

Kinds: ``status`` answers that HTTP status (5xx bursts); ``rate_limit`` answers 429 with Retry-After;
``slow`` sleeps ``delay`` seconds then serves normally; ``reset`` aborts the connection after
``after_bytes`` of the body (mid-upload: after reading them; mid-download: after sending them);
``truncate`` serves a complete response whose body is cut to ``after_bytes`` (default: half);
``expire_url`` makes presigned URLs issued while it is active already expired (route "graphql"),
or refuses a valid URL as expired (routes "upload"/"download"); ``graphql_error`` answers a GraphQL error
(``error_type``, ``message``) for the operation; ``fail_job`` makes the next job fail with ``message``; ``hang_job`` makes the next job's solver hang for
``delay`` seconds without reporting progress (the job timeout's test);
``malformed`` (graphql) answers 200 with what a broken or newer server might send: ``variant`` ``bad_json``
(an HTML page), ``wrong_type`` (the operation's object with a number for its ``id``) or ``unknown_enum``
(every ``state``/``takeType``/``areaType`` value replaced by one the schema does not know).
The counters (``hits`` per rule, ``requests`` per route) are reported by ``GET /_faults``.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

ROUTES = ("graphql", "upload", "download", "sharecode", "job", "*")
KINDS = ("status", "rate_limit", "slow", "reset", "truncate", "expire_url", "graphql_error", "fail_job", "hang_job",
         "malformed")
VARIANTS = ("bad_json", "wrong_type", "unknown_enum")


@dataclass
class Fault:
    kind: str
    route: str = "*"
    count: int = 1
    skip: int = 0
    operation: str | None = None
    status: int = 503
    retry_after: float = 1.0
    delay: float = 1.0
    after_bytes: int | None = None
    message: str = "Injected fault"
    error_type: str = "InternalFailure"
    variant: str = "bad_json"
    hits: int = 0
    seen: int = field(default=0)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; one of {KINDS}")
        if self.kind in ("fail_job", "hang_job"):
            self.route = "job"
        if self.kind == "malformed" and self.variant not in VARIANTS:
            raise ValueError(f"unknown malformed variant {self.variant!r}; one of {VARIANTS}")
        if self.route not in ROUTES:
            raise ValueError(f"unknown fault route {self.route!r}; one of {ROUTES}")

    @property
    def exhausted(self) -> bool:
        return self.count >= 0 and self.hits >= self.count


class FaultInjector:
    def __init__(self, rules: list[dict[str, Any]] | None = None) -> None:
        self._lock = threading.Lock()
        self._rules: list[Fault] = []
        self.requests: Counter[str] = Counter()
        if rules:
            self.set(rules)

    def set(self, rules: list[dict[str, Any]], replace: bool = True) -> None:
        parsed = [Fault(**{k: v for k, v in r.items() if k not in ("hits", "seen")}) for r in rules]
        with self._lock:
            if replace:
                self._rules = []
                self.requests.clear()
            self._rules.extend(parsed)

    def clear(self) -> None:
        self.set([])

    def count_request(self, route: str) -> None:
        with self._lock:
            self.requests[route] += 1

    def take(self, route: str, kinds: tuple[str, ...], operation: str | None = None) -> Fault | None:
        """The first active rule for this route among ``kinds``, consuming one of its hits."""
        with self._lock:
            for rule in self._rules:
                if rule.kind not in kinds or rule.exhausted:
                    continue
                if rule.route not in (route, "*"):
                    continue
                if rule.operation and operation and rule.operation != operation:
                    continue
                if rule.operation and not operation:
                    continue
                rule.seen += 1
                if rule.seen <= rule.skip:
                    continue
                rule.hits += 1
                return rule
        return None

    def report(self) -> dict[str, Any]:
        with self._lock:
            return {"faults": [asdict(r) for r in self._rules], "requests": dict(self.requests)}
