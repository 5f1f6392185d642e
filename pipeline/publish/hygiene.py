"""Run hygiene: a run that stops for any reason leaves nothing behind, and pruning keeps what matters.

* A running run refreshes `heartbeat_at` in its record every few seconds (`Heartbeat`).
* SIGTERM and SIGINT during a run raise `Interrupted` in the main thread (`interruptible`), so the run
  takes the same failure path as any other error: Spark jobs cancelled, new indices deleted, record
  `failed`.
* A process killed outright (SIGKILL, a lost machine) leaves its record `running`; once its heartbeat is
  older than `stale_after` seconds the next run marks it `abandoned` and deletes its indices
  (`abandon_stale`).
* Pruning (`indices.prune`) keeps the served run, the newest succeeded runs and runs still in progress;
  a failed or abandoned run's indices never take a kept place.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import signal
import threading
from collections.abc import Iterator
from typing import Any

from elastic_transport import TransportError
from elasticsearch import ApiError, Elasticsearch

from pipeline import indices, runs

log = logging.getLogger(__name__)

DEFAULT_STALE_AFTER_S = 120.0


class Interrupted(KeyboardInterrupt):
    """The run was stopped by a signal (SIGTERM or SIGINT)."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.signum = signum


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """SIGTERM and SIGINT raise Interrupted in the main thread; a second one is ignored while cleaning up.

    Outside the main thread (where Python cannot install handlers) this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    wanted = (signal.SIGTERM, signal.SIGINT)

    def stop(signum: int, _frame: Any) -> None:
        for s in wanted:
            signal.signal(s, signal.SIG_IGN)  # let the cleanup finish
        raise Interrupted(signum)

    previous = {s: signal.signal(s, stop) for s in wanted}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


class Heartbeat:
    """Refreshes a running run's `heartbeat_at` every `interval` seconds from a daemon thread."""

    def __init__(self, es: Elasticsearch, prefix: str, run_id: str, interval: float) -> None:
        self.es, self.prefix, self.run_id, self.interval = es, prefix, run_id, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{run_id}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval + 5)

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                runs.update_run(self.es, self.prefix, self.run_id, {"heartbeat_at": runs.iso(dt.datetime.now(dt.timezone.utc))})
            except (ApiError, TransportError) as exc:  # a missed beat is not a failure; many missed ones are
                log.warning("heartbeat of run %s not recorded: %s", self.run_id, exc)


def _last_sign_of_life(record: dict[str, Any]) -> dt.datetime | None:
    value = record.get("heartbeat_at") or record.get("started_at")
    return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None  # noqa: FURB162


def stale_runs(records: list[dict[str, Any]], now: dt.datetime, stale_after_s: float) -> list[str]:
    """Run ids of `running` records whose last heartbeat (or start) is older than `stale_after_s`."""
    out = []
    for record in records:
        last = _last_sign_of_life(record)
        if record.get("status") == runs.RUNNING and last is not None and (now - last).total_seconds() > stale_after_s:
            out.append(str(record["run_id"]))
    return out


def abandon_stale(es: Elasticsearch, prefix: str, stale_after_s: float, now: dt.datetime | None = None) -> list[str]:
    """Mark runs whose process died `abandoned` and delete what they left behind; their run ids."""
    now = now or dt.datetime.now(dt.timezone.utc)
    resp = es.search(index=indices.runs_index(prefix), size=1000, query={"term": {"status": runs.RUNNING}})
    records = [dict(hit["_source"]) for hit in resp["hits"]["hits"]]
    by_id = {str(r["run_id"]): r for r in records}
    live = indices.live_run_id(es, prefix)
    abandoned = []
    for run_id in stale_runs(records, now, stale_after_s):
        if run_id == live:  # served: its process died after the swap; the run stands
            runs.update_run(es, prefix, run_id, {"status": runs.SUCCEEDED})
            continue
        left = set(indices.run_indices(prefix, run_id).values()) | set((by_id[run_id].get("indices") or {}).values())
        deleted = indices.delete_indices(es, sorted(left))
        last = _last_sign_of_life(by_id[run_id])
        runs.update_run(es, prefix, run_id, {
            "status": runs.ABANDONED,
            "finished_at": runs.iso(now),
            "errors": list(by_id[run_id].get("errors") or []) + [{
                "step": "abandoned",
                "type": "Abandoned",
                "message": f"no heartbeat since {runs.iso(last) if last else '?'}: the process running it died; "
                           f"deleted {deleted}",
            }],
        })
        log.warning("run %s was abandoned (no heartbeat for %.0fs); deleted %s", run_id, stale_after_s, deleted)
        abandoned.append(run_id)
    return abandoned
