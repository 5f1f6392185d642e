"""Fault injection for the double: failing bulk items, failing/slow requests, outages.

Used through `EsDouble` (the `es_double` fixture); everything here is double-only behaviour
made to look like what a real cluster does under load: 429
`es_rejected_execution_exception` per bulk item or per request, 503s, slow answers,
refused connections.
"""

from __future__ import annotations

import fnmatch
import threading
from dataclasses import dataclass, field

from tests.es_double.errors import EsError

INJECTED = " (fault injected by the ES test double)"


def rejected_execution(what: str = "indices:data/write/bulk[s]") -> tuple[str, str]:
    """The type and reason a real node gives when its write thread pool queue is full."""
    return (
        "es_rejected_execution_exception",
        f"rejected execution of {what} on EsThreadPoolExecutor[name = write, queue capacity = 10000]" + INJECTED,
    )


@dataclass
class RequestFault:
    """Answer the next `remaining` requests (optionally only those whose path matches) with an error."""

    status: int
    error_type: str
    reason: str
    remaining: int
    path_pattern: str | None = None

    def take(self, method: str, path: str) -> EsError | None:
        if self.remaining <= 0:
            return None
        if self.path_pattern is not None and not fnmatch.fnmatchcase(path, self.path_pattern):
            return None
        self.remaining -= 1
        return EsError(self.status, self.error_type, self.reason)


@dataclass
class FaultState:
    """Request-level faults of a running double (bulk-item faults live in the cluster)."""

    request_faults: list[RequestFault] = field(default_factory=list)
    delay_seconds: float = 0.0
    delay_pattern: str | None = None
    requests_seen: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self.lock:
            self.request_faults.clear()
            self.delay_seconds = 0.0
            self.delay_pattern = None

    def next_error(self, method: str, path: str) -> EsError | None:
        with self.lock:
            self.requests_seen += 1
            for fault in self.request_faults:
                error = fault.take(method, path)
                if error is not None:
                    return error
            return None

    def delay_for(self, path: str) -> float:
        with self.lock:
            if self.delay_seconds <= 0:
                return 0.0
            if self.delay_pattern is not None and not fnmatch.fnmatchcase(path, self.delay_pattern):
                return 0.0
            return self.delay_seconds
