"""Fault injection of the double (double-only: these tests skip with --es-url).

The behaviours injected are the ones a real cluster shows under load or outage:
429 `es_rejected_execution_exception` per bulk item, 429/503 answers, slow answers,
refused connections.
"""

from __future__ import annotations

import pytest
from elasticsearch import (
    ApiError,
    ConnectionError,
    ConnectionTimeout,
    Elasticsearch,
    helpers,
)

from tests.es_double import EsDouble
from tests.test_es_double.helpers import create

pytestmark = pytest.mark.es


def _docs(name: str, n: int) -> list[dict]:
    return [{"_index": name, "_id": str(i), "n": i} for i in range(n)]


def test_rejected_items_succeed_on_retry(es: Elasticsearch, es_double: EsDouble, index_prefix: str) -> None:
    """Items rejected with 429 twice are retried by streaming_bulk and finally indexed.

    (The helper retries per-item 429s only with raise_on_error=False; with the default it raises
    BulkIndexError for the chunk, as with a real cluster.)
    https://www.elastic.co/docs/reference/elasticsearch/clients/python/client-helpers (max_retries on 429)
    """
    name = f"{index_prefix}-retry"
    create(es, name, {"n": {"type": "integer"}})
    rule = es_double.reject_bulk_items(times=2, ids={"3", "7"})
    results = list(
        helpers.streaming_bulk(
            es, _docs(name, 10), max_retries=3, initial_backoff=0.01, max_backoff=0.02, raise_on_error=False
        )
    )
    es.indices.refresh(index=name)
    assert all(ok for ok, _ in results)
    assert rule.hits == 2
    assert es.count(index=name)["count"] == 10


def test_rejection_reports_es_rejected_execution(es: Elasticsearch, es_double: EsDouble, index_prefix: str) -> None:
    """A rejected item carries status 429 and `es_rejected_execution_exception`.

    https://www.elastic.co/docs/troubleshoot/elasticsearch/rejected-requests
    """
    name = f"{index_prefix}-429"
    create(es, name, {"n": {"type": "integer"}})
    es_double.reject_bulk_items(times=1)
    item = es.bulk(operations=[{"index": {"_index": name, "_id": "1"}}, {"n": 1}])["items"][0]["index"]
    assert item["status"] == 429
    assert item["error"]["type"] == "es_rejected_execution_exception"


def test_permanent_item_failure(es: Elasticsearch, es_double: EsDouble, index_prefix: str) -> None:
    """A permanently failing id makes helpers.bulk raise BulkIndexError naming it.

    https://www.elastic.co/docs/reference/elasticsearch/clients/python/client-helpers#bulk-helpers
    """
    name = f"{index_prefix}-perm"
    create(es, name, {"n": {"type": "integer"}})
    es_double.fail_bulk_items(ids={"5"}, status=400, error_type="document_parsing_exception", reason="bad document")
    with pytest.raises(helpers.BulkIndexError) as info:
        helpers.bulk(es, _docs(name, 8))
    assert [e["index"]["_id"] for e in info.value.errors] == ["5"]


def test_failures_by_index_pattern(es: Elasticsearch, es_double: EsDouble, index_prefix: str) -> None:
    """Faults can target indices by pattern; other indices are unaffected.

    https://www.elastic.co/docs/api/doc/elasticsearch/operation/operation-bulk
    """
    a, b = f"{index_prefix}-a", f"{index_prefix}-b"
    create(es, a, {"n": {"type": "integer"}})
    create(es, b, {"n": {"type": "integer"}})
    es_double.fail_bulk_items(index=f"{index_prefix}-a", status=500)
    response = es.bulk(
        operations=[{"index": {"_index": a, "_id": "1"}}, {"n": 1}, {"index": {"_index": b, "_id": "1"}}, {"n": 1}]
    )
    assert [next(iter(i.values()))["status"] for i in response["items"]] == [500, 201]


def test_whole_server_answers_503(es_url: str, es_double: EsDouble) -> None:
    """The next N requests get 503; a client without retries sees the error, then recovery.

    https://www.elastic.co/docs/reference/elasticsearch/clients/python/config (retry_on_status)
    """
    client = Elasticsearch(es_url, max_retries=0)
    es_double.fail_requests(1, status=503)
    with pytest.raises(ApiError) as info:
        client.info()
    assert info.value.meta.status == 503
    assert client.info()["tagline"] == "You Know, for Search"


def test_client_retries_through_transient_503(es_url: str, es_double: EsDouble) -> None:
    """The default client retries 503s, so two injected failures are absorbed.

    https://www.elastic.co/docs/reference/elasticsearch/clients/python/config (retry_on_status)
    """
    client = Elasticsearch(es_url, retry_on_status=(503,), max_retries=3)
    es_double.fail_requests(2, status=503)
    assert client.info()["tagline"] == "You Know, for Search"
    assert es_double.requests_seen >= 3


def test_slow_answers_time_out(es_url: str, es_double: EsDouble) -> None:
    """A delayed double makes a short client timeout fire.

    https://www.elastic.co/docs/reference/elasticsearch/clients/python/config (request_timeout)
    """
    client = Elasticsearch(es_url, request_timeout=0.1, max_retries=0)
    es_double.set_delay(0.5)
    with pytest.raises(ConnectionTimeout):
        client.info()
    es_double.set_delay(0)


def test_outage_refuses_connections_and_recovers(es_url: str, es_double: EsDouble) -> None:
    """While down the double refuses connections; it comes back on the same port with its data.

    https://www.elastic.co/docs/reference/elasticsearch/clients/python/config (connection errors)
    """
    client = Elasticsearch(es_url, max_retries=0)
    client.indices.create(index="mrtest-outage")
    with es_double.outage():
        with pytest.raises(ConnectionError):
            client.info()
    assert client.indices.exists(index="mrtest-outage")
