"""The official client talks to the double unmodified (no transport patching)."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest
from elasticsearch import Elasticsearch, helpers

from tests.test_es_double.helpers import create, ids

pytestmark = pytest.mark.es


def test_info_reports_version_and_tagline(es: Elasticsearch) -> None:
    """`GET /` answers the node's version info.

    https://www.elastic.co/docs/api/doc/elasticsearch/operation/operation-info
    """
    info = es.info()
    assert info["tagline"] == "You Know, for Search"
    assert info["version"]["number"].startswith("9.")
    assert info["version"]["build_flavor"] == "default"


def _http(url: str, method: str = "GET", headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_responses_carry_the_product_header(es_url: str) -> None:
    """Every response carries `X-Elastic-Product: Elasticsearch` (the client checks it on 2xx).

    https://www.elastic.co/docs/reference/elasticsearch/clients/python (product check)
    """
    _, ok_headers, _ = _http(es_url)
    status, missing_headers, _ = _http(f"{es_url}/no-such-index-xyz")
    assert status == 404
    assert ok_headers["X-Elastic-Product"] == "Elasticsearch"
    assert missing_headers["X-Elastic-Product"] == "Elasticsearch"


def test_compatible_media_type_is_echoed(es_url: str) -> None:
    """A request accepting `compatible-with=9` gets that media type back.

    https://www.elastic.co/docs/reference/elasticsearch/rest-apis/compatibility
    """
    _, headers, _ = _http(es_url, headers={"Accept": "application/vnd.elasticsearch+json; compatible-with=9"})
    content_type = {k.lower(): v for k, v in headers.items()}["content-type"]
    assert content_type.replace(" ", "") == "application/vnd.elasticsearch+json;compatible-with=9"


def test_head_request_has_no_body(es_url: str) -> None:
    """HEAD answers with a status only.

    https://www.elastic.co/docs/api/doc/elasticsearch/operation/operation-indices-exists
    """
    status, _, body = _http(f"{es_url}/no-such-index-xyz", method="HEAD")
    assert status == 404
    assert body == b""


def test_helpers_bulk_indexes_everything(es: Elasticsearch, index_prefix: str) -> None:
    """`helpers.bulk` returns (successes, errors) and the documents become searchable after refresh.

    https://www.elastic.co/docs/reference/elasticsearch/clients/python/client-helpers#bulk-helpers
    """
    name = f"{index_prefix}-bulk"
    create(es, name, {"n": {"type": "integer"}})
    ok, errors = helpers.bulk(es, ({"_index": name, "_id": str(i), "n": i} for i in range(250)), chunk_size=100)
    es.indices.refresh(index=name)
    assert (ok, errors) == (250, [])
    assert es.count(index=name)["count"] == 250


def test_streaming_bulk_yields_one_result_per_action(es: Elasticsearch, index_prefix: str) -> None:
    """`helpers.streaming_bulk` yields (ok, item) per action, in order.

    https://www.elastic.co/docs/reference/elasticsearch/clients/python/client-helpers#bulk-helpers
    """
    name = f"{index_prefix}-stream"
    create(es, name, {"n": {"type": "integer"}})
    results = list(
        helpers.streaming_bulk(es, ({"_index": name, "_id": str(i), "n": i} for i in range(30)), chunk_size=7)
    )
    assert [item["index"]["_id"] for ok, item in results] == [str(i) for i in range(30)]
    assert all(ok for ok, _ in results)


def test_search_with_knn_and_query(es: Elasticsearch, index_prefix: str) -> None:
    """`es.search(knn=..., query=...)` returns the union of both, scores summed.

    https://www.elastic.co/docs/solutions/search/vector/knn (combine approximate kNN with other features)
    """
    name = f"{index_prefix}-knn"
    create(
        es,
        name,
        {"name": {"type": "keyword"}, "v": {"type": "dense_vector", "dims": 2, "index": True, "similarity": "l2_norm"}},
    )
    for i, (name_value, v) in enumerate([("a", [0, 0]), ("b", [1, 0]), ("c", [5, 5])]):
        es.index(index=name, id=str(i), document={"name": name_value, "v": v})
    es.indices.refresh(index=name)
    response = es.search(
        index=name,
        knn={"field": "v", "query_vector": [0, 0], "k": 1, "num_candidates": 3},
        query={"term": {"name": "c"}},
    )
    assert sorted(ids(response)) == ["0", "2"]


def test_update_aliases_through_the_client(es: Elasticsearch, index_prefix: str) -> None:
    """`es.indices.update_aliases(actions=[...])` moves an alias atomically.

    https://www.elastic.co/docs/api/doc/elasticsearch/operation/operation-indices-update-aliases
    """
    old, new, alias = f"{index_prefix}-a", f"{index_prefix}-b", f"{index_prefix}-alias"
    create(es, old, {})
    create(es, new, {})
    es.indices.update_aliases(actions=[{"add": {"index": old, "alias": alias}}])
    response = es.indices.update_aliases(
        actions=[{"remove": {"index": old, "alias": alias}}, {"add": {"index": new, "alias": alias}}]
    )
    assert response["acknowledged"] is True
    assert list(es.indices.get_alias(name=alias).body) == [new]
