"""`EsDouble`: start/stop the double and inject faults (the `es_double` fixture's handle).

Example::

    double = EsDouble().start()
    es = Elasticsearch(double.url)
    double.reject_bulk_items(times=2, index="movierec-movies-*")    # 429 twice, then success
    double.fail_bulk_items(ids={"13"}, status=400,
                           error_type="document_parsing_exception", reason="bad doc")  # forever
    double.fail_requests(3, status=503)                             # whole server, 3 requests
    double.set_delay(0.5, path="/*/_search")                        # slow searches
    with double.outage():                                            # connections refused
        ...
    double.stop()

    EsDouble(scheduled_refresh=True)   # indices refresh every index.refresh_interval; wait_for waits for it
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection, Iterator

from tests.es_double.faults import (
    INJECTED,
    FaultState,
    RequestFault,
    rejected_execution,
)
from tests.es_double.server import EsApp, HttpServer
from tests.es_double.store import BulkItemFault, Cluster, RefreshScheduler

_DEFAULT_ERRORS = {
    429: rejected_execution("indices:data/write/bulk"),
    503: (
        "cluster_block_exception",
        "blocked by: [SERVICE_UNAVAILABLE/1/state not recovered / initialized];" + INJECTED,
    ),
    500: ("exception", "internal server error" + INJECTED),
    400: ("document_parsing_exception", "[1:1] failed to parse" + INJECTED),
}


def _error_for(status: int, error_type: str | None, reason: str | None) -> tuple[str, str]:
    default_type, default_reason = _DEFAULT_ERRORS.get(status, ("exception", f"status {status}" + INJECTED))
    return error_type or default_type, reason or default_reason


class EsDouble:
    """A running Elasticsearch test double on a loopback port."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, scheduled_refresh: bool = False) -> None:
        """`scheduled_refresh`: refresh every index on its `index.refresh_interval` and make
        `refresh=wait_for` wait for that refresh, as Elasticsearch does (off: only explicit refreshes,
        and `wait_for` refreshes at once)."""
        self.cluster = Cluster()
        self.faults = FaultState()
        self.app = EsApp(self.cluster, self.faults)
        self._server = HttpServer(self.app, host, port)
        self._scheduler = RefreshScheduler(self.cluster) if scheduled_refresh else None

    @property
    def url(self) -> str:
        return self._server.url

    @property
    def port(self) -> int:
        return self._server.port

    def start(self) -> EsDouble:
        if self._scheduler is not None:
            self._scheduler.start()
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()
        if self._scheduler is not None:
            self._scheduler.stop()

    def reset(self) -> None:
        """Forget every index, alias and fault (each test starts from an empty cluster)."""
        self.cluster.reset()
        self.faults.reset()
        self.app.reported_version = None
        if not self._server.running:
            self._server.restart()

    # ------------------------------------------------------------------ bulk item faults
    def fail_bulk_items(
        self,
        *,
        status: int = 429,
        error_type: str | None = None,
        reason: str | None = None,
        index: str | None = None,
        ids: Collection[str] | Callable[[str | None], bool] | None = None,
        ops: Collection[str] | None = None,
        times: int | None = None,
    ) -> BulkItemFault:
        """Make matching bulk items fail with `status` (per item, in the bulk response).

        `index` is an fnmatch pattern matched against the name in the action and the
        concrete index behind an alias; `ids` is a set of ids or a predicate; `ops` limits to
        action types ("index", "create", "update", "delete"); `times` caps how many items fail
        (None: every matching item, forever). Returns the rule (its `hits` counts failures).
        """
        kind, text = _error_for(status, error_type, reason)
        predicate: Callable[[str | None], bool] | None
        if ids is None or callable(ids):
            predicate = ids  # type: ignore[assignment]
        else:
            wanted = {str(i) for i in ids}
            predicate = lambda doc_id: doc_id in wanted  # noqa: E731 - a tiny closure over `wanted`
        fault = BulkItemFault(status, kind, text, index, predicate, frozenset(ops) if ops else None, times)
        with self.cluster.lock:
            self.cluster.bulk_faults.append(fault)
        return fault

    def reject_bulk_items(
        self,
        times: int = 1,
        *,
        index: str | None = None,
        ids: Collection[str] | Callable[[str | None], bool] | None = None,
    ) -> BulkItemFault:
        """429 `es_rejected_execution_exception` for the next `times` matching items, then success."""
        return self.fail_bulk_items(status=429, index=index, ids=ids, times=times)

    # ------------------------------------------------------------------ request faults
    def fail_requests(
        self,
        count: int,
        *,
        status: int = 429,
        error_type: str | None = None,
        reason: str | None = None,
        path: str | None = None,
    ) -> RequestFault:
        """Answer the next `count` requests (those whose path matches the fnmatch `path`) with an error."""
        kind, text = _error_for(status, error_type, reason)
        fault = RequestFault(status, kind, text, count, path)
        with self.faults.lock:
            self.faults.request_faults.append(fault)
        return fault

    def set_delay(self, seconds: float, *, path: str | None = None) -> None:
        """Delay every answer (or those whose path matches `path`) by `seconds`."""
        with self.faults.lock:
            self.faults.delay_seconds = seconds
            self.faults.delay_pattern = path

    def report_version(self, number: str | None) -> None:
        """Answer `GET /` with this `version.number` (None: the pinned stack version), to test version checks."""
        self.app.reported_version = number

    def clear_faults(self) -> None:
        with self.cluster.lock:
            self.cluster.bulk_faults.clear()
        self.faults.reset()

    @property
    def requests_seen(self) -> int:
        """How many HTTP requests reached the double since it started."""
        return self.faults.requests_seen

    # ------------------------------------------------------------------ outages
    def go_down(self) -> None:
        """Stop listening and drop open connections: clients get "connection refused"."""
        self._server.stop()

    def come_back(self) -> None:
        """Listen again on the same port, with the same data."""
        self._server.restart()

    @contextlib.contextmanager
    def outage(self) -> Iterator[None]:
        """The double is unreachable inside the block."""
        self.go_down()
        try:
            yield
        finally:
            self.come_back()
