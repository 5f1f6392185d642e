"""Opt-in scheduled refresh: indices refresh on `index.refresh_interval`; `refresh=wait_for` waits for it.

https://www.elastic.co/docs/reference/elasticsearch/rest-apis/refresh-parameter ("wait_for: wait for the
changes made by the request to be made visible by a refresh before replying ... the index's
index.refresh_interval"); https://www.elastic.co/docs/reference/elasticsearch/index-settings/index-modules
(index.refresh_interval, 1s by default, -1 disables).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from elasticsearch import Elasticsearch, helpers

from tests.es_double.double import EsDouble
from tests.es_double.store import Cluster, IndexState, RefreshScheduler


@pytest.fixture
def double() -> Iterator[EsDouble]:
    running = EsDouble(scheduled_refresh=True).start()
    yield running
    running.stop()


@pytest.fixture
def scheduled(double: EsDouble) -> Iterator[Elasticsearch]:
    es = Elasticsearch(double.url)
    yield es
    es.close()


def _count(es: Elasticsearch, index: str) -> int:
    return int(es.count(index=index)["count"])


def test_wait_for_returns_once_the_write_is_searchable(scheduled: Elasticsearch) -> None:
    """Each wait_for write (document, bulk) is visible to search as soon as it returns; no explicit refresh."""
    es = scheduled
    es.indices.create(index="fast", settings={"refresh_interval": "50ms"})
    for n in range(3):
        es.index(index="fast", id=str(n), document={"n": n}, refresh="wait_for")
        assert _count(es, "fast") == n + 1
    helpers.bulk(es, ({"_index": "fast", "_id": f"b{n}", "n": n} for n in range(5)), refresh="wait_for")
    assert _count(es, "fast") == 8


def test_plain_writes_become_visible_on_the_schedule(scheduled: Elasticsearch) -> None:
    """Without any refresh parameter the next scheduled refresh makes a write searchable."""
    es = scheduled
    es.indices.create(index="sched", settings={"refresh_interval": "20ms"})
    es.index(index="sched", id="1", document={"n": 1})
    deadline = time.monotonic() + 30
    while _count(es, "sched") == 0:
        assert time.monotonic() < deadline, "the scheduled refresh never ran"
        time.sleep(0.01)
    assert _count(es, "sched") == 1


def test_refresh_interval_minus_one_waits_for_an_explicit_refresh(scheduled: Elasticsearch, double: EsDouble) -> None:
    """With refresh disabled, wait_for blocks until a refresh the caller asks for."""
    es = scheduled
    es.indices.create(index="manual", settings={"refresh_interval": "-1"})
    done = threading.Event()

    def write() -> None:
        with Elasticsearch(double.url) as writer_client:
            writer_client.index(index="manual", id="1", document={"n": 1}, refresh="wait_for")
        done.set()

    writer = threading.Thread(target=write)
    writer.start()
    assert not done.wait(0.5)
    assert _count(es, "manual") == 0
    es.indices.refresh(index="manual")
    writer.join(timeout=30)
    assert done.is_set()
    assert _count(es, "manual") == 1


def test_scheduler_refreshes_only_due_dirty_indices() -> None:
    """run_due: an index refreshes when its interval has passed and it has unrefreshed writes."""
    from tests.es_double.mapping import Mapping

    cluster = Cluster()
    due = IndexState("due", {"index.refresh_interval": "1s"}, Mapping(None))
    off = IndexState("off", {"index.refresh_interval": "-1"}, Mapping(None))
    cluster.indices.update({"due": due, "off": off})
    due.dirty = off.dirty = True
    scheduler = RefreshScheduler(cluster)
    assert scheduler.run_due(100.0) == 0  # first sight: scheduled one interval ahead
    assert scheduler.run_due(100.5) == 0
    assert scheduler.run_due(101.0) == 1
    assert (due.dirty, due.refresh_generation, off.dirty, off.refresh_generation) == (False, 1, True, 0)
    assert due.next_scheduled_refresh == 102.0
