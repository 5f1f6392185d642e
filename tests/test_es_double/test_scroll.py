"""Scroll: a kept search paged with `_search/scroll`, cleared with clear scroll; what `helpers.scan` sends.

Each test mirrors Elastic's YAML REST tests `rest-api-spec/.../test/scroll/10_basic.yml` and
`11_clear.yml` (the names are given per test) and runs against a real cluster too.
"""

from __future__ import annotations

import pytest
from elasticsearch import Elasticsearch, helpers

from tests.test_es_double.helpers import create, error_body, expect_error, reasons

pytestmark = pytest.mark.es


def _two_docs(es: Elasticsearch, name: str) -> None:
    create(es, name, {"foo": {"type": "integer"}})
    es.index(index=name, id="42", document={"foo": 1})
    es.index(index=name, id="43", document={"foo": 2})
    es.indices.refresh(index=name)


def test_basic_scroll_never_sees_later_writes(es: Elasticsearch, index_prefix: str) -> None:
    """10_basic.yml "Basic scroll" and "Scroll max_score is null": pages of `size`, the first total, then empty."""
    name = f"{index_prefix}-scroll"
    _two_docs(es, name)
    first = es.search(index=name, size=1, scroll="1m", sort="foo", rest_total_hits_as_int=True, query={"match_all": {}})
    scroll_id = first["_scroll_id"]
    assert first["hits"]["total"] == 2 and [h["_id"] for h in first["hits"]["hits"]] == ["42"]
    assert first["hits"]["max_score"] is None
    es.index(index=name, id="44", document={"foo": 3})
    es.indices.refresh(index=name)
    second = es.scroll(scroll_id=scroll_id, scroll="1m", rest_total_hits_as_int=True)
    assert second["hits"]["total"] == 2 and [h["_id"] for h in second["hits"]["hits"]] == ["43"]
    third = es.scroll(scroll_id=scroll_id, scroll="1m", rest_total_hits_as_int=True)
    assert third["hits"]["total"] == 2 and third["hits"]["hits"] == []
    es.clear_scroll(scroll_id=scroll_id)


def test_new_response_format_without_rest_total_hits_as_int(es: Elasticsearch, index_prefix: str) -> None:
    """10_basic.yml "Scroll with new response format": `hits.total` is {value, relation} on every page."""
    name = f"{index_prefix}-scroll"
    _two_docs(es, name)
    first = es.search(index=name, size=1, scroll="1m", sort="foo")
    assert first["hits"]["total"] == {"value": 2, "relation": "eq"}
    second = es.scroll(scroll_id=first["_scroll_id"], scroll="1m")
    assert second["hits"]["total"] == {"value": 2, "relation": "eq"}
    assert [h["_id"] for h in second["hits"]["hits"]] == ["43"]
    es.clear_scroll(scroll_id=first["_scroll_id"])


def test_cleared_scroll_is_missing_for_scroll_and_clear(es: Elasticsearch, index_prefix: str) -> None:
    """11_clear.yml "Clear scroll": after clear scroll both scroll and clear scroll answer 404 (missing)."""
    name = f"{index_prefix}-scroll"
    _two_docs(es, name)
    scroll_id = es.search(index=name, scroll="1m", query={"match_all": {}})["_scroll_id"]
    freed = es.clear_scroll(scroll_id=[scroll_id])
    assert freed["succeeded"] is True and freed["num_freed"] == 1
    exc = expect_error(lambda: es.scroll(scroll_id=scroll_id, scroll="1m"), 404)
    assert error_body(exc)["type"] == "search_context_missing_exception"
    again = es.options(ignore_status=404).clear_scroll(scroll_id=scroll_id)
    assert again.meta.status == 404 and again["num_freed"] == 0


def test_size_zero_is_refused_in_a_scroll(es: Elasticsearch, index_prefix: str) -> None:
    """10_basic.yml "Scroll with size 0": `[size] cannot be [0] in a scroll context`."""
    name = f"{index_prefix}-scroll"
    _two_docs(es, name)
    exc = expect_error(lambda: es.search(index=name, scroll="1m", size=0), 400)
    assert any("[size] cannot be [0] in a scroll context" in r for r in reasons(exc))


def test_request_cache_is_refused_in_a_scroll(es: Elasticsearch, index_prefix: str) -> None:
    """10_basic.yml "Scroll cannot used the request cache": `[request_cache] cannot be used in a scroll context`."""
    name = f"{index_prefix}-scroll"
    _two_docs(es, name)
    exc = expect_error(lambda: es.search(index=name, scroll="1m", request_cache=True), 400)
    assert any("[request_cache] cannot be used in a scroll context" in r for r in reasons(exc))


def test_scan_helper_reads_every_document_with_seq_no(es: Elasticsearch, index_prefix: str) -> None:
    """What `elasticsearch.helpers.scan` sends (`sort: _doc`, scroll pages, clear scroll) returns each document once.

    https://www.elastic.co/docs/reference/elasticsearch/rest-apis/paginate-search-results#scroll-search-results
    """
    name = f"{index_prefix}-scan"
    create(es, name, {"foo": {"type": "integer"}})
    for i in range(23):
        es.index(index=name, id=str(i), document={"foo": i})
    es.indices.refresh(index=name)
    hits = list(helpers.scan(es, index=name, size=5, seq_no_primary_term=True, query={"query": {"range": {"foo": {"gte": 3}}}}))
    assert sorted(int(h["_id"]) for h in hits) == list(range(3, 23))
    assert all(isinstance(h["_seq_no"], int) and h["_primary_term"] >= 1 for h in hits)
