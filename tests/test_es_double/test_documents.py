"""Document APIs: index, create, get, delete, update, mget; versions; refresh; vectors in _source."""

from __future__ import annotations

import pytest
from elasticsearch import Elasticsearch, NotFoundError

from tests.test_es_double.helpers import create, error_body, expect_error

pytestmark = pytest.mark.es

VECTOR_MAPPING = {
    "name": {"type": "keyword"},
    "v": {"type": "dense_vector", "dims": 3, "index": True, "similarity": "l2_norm"},
}


def test_index_then_update_results_and_versions(es: Elasticsearch, index_prefix: str) -> None:
    """First write is `created` (201, version 1), the next `updated` (200, version 2); seq_no grows.

    https://www.elastic.co/docs/api/doc/elasticsearch/operation/operation-index
    """
    name = f"{index_prefix}-docs"
    create(es, name, {"n": {"type": "integer"}})
    first = es.index(index=name, id="1", document={"n": 1})
    second = es.index(index=name, id="1", document={"n": 2})
    assert (first.meta.status, first["result"], first["_version"]) == (201, "created", 1)
    assert (second.meta.status, second["result"], second["_version"]) == (200, "updated", 2)
    assert second["_seq_no"] > first["_seq_no"]
    assert second["_primary_term"] == 1


def test_auto_generated_id(es: Elasticsearch, index_prefix: str) -> None:
    """`POST idx/_doc` generates a 20-character id.

    https://www.elastic.co/docs/api/doc/elasticsearch/operation/operation-index
    """
    name = f"{index_prefix}-auto"
    create(es, name, {"n": {"type": "integer"}})
    response = es.index(index=name, document={"n": 1})
    assert response["result"] == "created"
    assert len(response["_id"]) == 20
    assert es.get(index=name, id=response["_id"])["_source"] == {"n": 1}


def test_create_on_existing_id_is_a_version_conflict(es: Elasticsearch, index_prefix: str) -> None:
    """`_create` on an existing id: 409 `version_conflict_engine_exception`.

    https://www.elastic.co/docs/api/doc/elasticsearch/operation/operation-create
    """
    name = f"{index_prefix}-create"
    create(es, name, {"n": {"type": "integer"}})
    es.create(index=name, id="1", document={"n": 1})
    error = expect_error(lambda: es.create(index=name, id="1", document={"n": 2}), 409)
    body = error_body(error)
    assert body["type"] == "version_conflict_engine_exception"
    assert body["reason"] == "[1]: version conflict, document already exists (current version [1])"


def test_get_missing_document_is_found_false(es: Elasticsearch, index_prefix: str) -> None:
    """GET of a missing id: 404 with `found: false`.

    https://www.elastic.co/docs/api/doc/elasticsearch/operation/operation-get
    """
    name = f"{index_prefix}-get"
    create(es, name, {})
    with pytest.raises(NotFoundError) as info:
        es.get(index=name, id="nope")
    assert info.value.body == {"_index": name, "_id": "nope", "found": False}


def test_get_source_filtering(es: Elasticsearch, index_prefix: str) -> None:
    """`_source_includes` / `_source_excludes` filter the returned _source.

    https://www.elastic.co/docs/api/doc/elasticsearch/operation/operation-get
    """
    name = f"{index_prefix}-filter"
    create(
        es,
        name,
        {
            "a": {"type": "integer"},
            "b": {"type": "integer"},
            "o": {"properties": {"x": {"type": "integer"}, "y": {"type": "integer"}}},
        },
    )
    es.index(index=name, id="1", document={"a": 1, "b": 2, "o": {"x": 3, "y": 4}})
    assert es.get(index=name, id="1", source_includes=["a", "o.x"])["_source"] == {"a": 1, "o": {"x": 3}}
    assert es.get(index=name, id="1", source_excludes=["o"])["_source"] == {"a": 1, "b": 2}


def test_delete_results(es: Elasticsearch, index_prefix: str) -> None:
    """DELETE answers `deleted` (200), then `not_found` (404).

    https://www.elastic.co/docs/api/doc/elasticsearch/operation/operation-delete
    """
    name = f"{index_prefix}-del"
    create(es, name, {})
    es.index(index=name, id="1", document={})
    assert es.delete(index=name, id="1")["result"] == "deleted"
    with pytest.raises(NotFoundError) as info:
        es.delete(index=name, id="1")
    assert info.value.body["result"] == "not_found"


def test_search_sees_only_refreshed_documents(es: Elasticsearch, index_prefix: str) -> None:
    """Search is near real-time: a document is invisible to search until a refresh (get is real-time).

    https://www.elastic.co/docs/manage-data/data-store/near-real-time-search
    """
    name = f"{index_prefix}-nrt"
    create(es, name, {"n": {"type": "integer"}}, settings={"refresh_interval": "-1"})
    es.index(index=name, id="1", document={"n": 1})
    assert es.count(index=name)["count"] == 0
    assert es.get(index=name, id="1")["found"] is True
    es.indices.refresh(index=name)
    assert es.count(index=name)["count"] == 1


def test_refresh_wait_for_makes_the_write_visible(es: Elasticsearch, index_prefix: str) -> None:
    """`refresh=wait_for` returns once the write is visible to search.

    https://www.elastic.co/docs/reference/elasticsearch/rest-apis/refresh-parameter
    """
    name = f"{index_prefix}-wait"
    create(es, name, {"n": {"type": "integer"}}, settings={"refresh_interval": "-1"})
    es.index(index=name, id="1", document={"n": 1}, refresh="wait_for")
    assert es.count(index=name)["count"] == 1


def test_refresh_true_reports_forced_refresh(es: Elasticsearch, index_prefix: str) -> None:
    """`refresh=true` refreshes immediately and says so with `forced_refresh`.

    https://www.elastic.co/docs/reference/elasticsearch/rest-apis/refresh-parameter
    """
    name = f"{index_prefix}-forced"
    create(es, name, {"n": {"type": "integer"}}, settings={"refresh_interval": "-1"})
    response = es.index(index=name, id="1", document={"n": 1}, refresh=True)
    assert response["forced_refresh"] is True
    assert es.count(index=name)["count"] == 1


def test_mget_with_docs_and_ids(es: Elasticsearch, index_prefix: str) -> None:
    """`_mget` takes `docs` (with `_index`) or `ids` (index in the URL); missing ids are `found: false`.

    https://www.elastic.co/docs/api/doc/elasticsearch/operation/operation-mget
    """
    name = f"{index_prefix}-mget"
    create(es, name, {"n": {"type": "integer"}})
    es.index(index=name, id="1", document={"n": 1})
    by_docs = es.mget(docs=[{"_index": name, "_id": "1"}, {"_index": name, "_id": "2"}])["docs"]
    by_ids = es.mget(index=name, ids=["2", "1"])["docs"]
    assert [d["found"] for d in by_docs] == [True, False]
    assert [d["_id"] for d in by_ids] == ["2", "1"]
    assert by_ids[1]["_source"] == {"n": 1}


def test_mget_reports_missing_index_per_document(es: Elasticsearch, index_prefix: str) -> None:
    """A missing index in `_mget` is an error on that document, not on the request.

    https://www.elastic.co/docs/api/doc/elasticsearch/operation/operation-mget
    """
    name = f"{index_prefix}-mget2"
    create(es, name, {})
    docs = es.mget(docs=[{"_index": f"{index_prefix}-nope", "_id": "1"}])["docs"]
    assert docs[0]["error"]["type"] == "index_not_found_exception"


def test_update_merges_partial_document(es: Elasticsearch, index_prefix: str) -> None:
    """`_update` with `doc` merges objects recursively and bumps the version.

    https://www.elastic.co/docs/api/doc/elasticsearch/operation/operation-update
    """
    name = f"{index_prefix}-upd"
    create(
        es, name, {"a": {"type": "integer"}, "o": {"properties": {"x": {"type": "integer"}, "y": {"type": "integer"}}}}
    )
    es.index(index=name, id="1", document={"a": 1, "o": {"x": 1, "y": 2}})
    response = es.update(index=name, id="1", doc={"o": {"y": 5}})
    assert (response["result"], response["_version"]) == ("updated", 2)
    assert es.get(index=name, id="1")["_source"] == {"a": 1, "o": {"x": 1, "y": 5}}


def test_update_without_change_is_noop(es: Elasticsearch, index_prefix: str) -> None:
    """An update that changes nothing is `noop` (detect_noop defaults to true).

    https://www.elastic.co/docs/api/doc/elasticsearch/operation/operation-update
    """
    name = f"{index_prefix}-noop"
    create(es, name, {"a": {"type": "integer"}})
    es.index(index=name, id="1", document={"a": 1})
    response = es.update(index=name, id="1", doc={"a": 1})
    assert (response["result"], response["_version"]) == ("noop", 1)


def test_update_missing_document(es: Elasticsearch, index_prefix: str) -> None:
    """Updating a missing document: 404 `document_missing_exception` unless `doc_as_upsert`.

    https://www.elastic.co/docs/api/doc/elasticsearch/operation/operation-update
    """
    name = f"{index_prefix}-upsert"
    create(es, name, {"a": {"type": "integer"}})
    error = expect_error(lambda: es.update(index=name, id="9", doc={"a": 1}), 404)
    assert error_body(error)["type"] == "document_missing_exception"
    assert error_body(error)["reason"] == "[9]: document missing"
    response = es.update(index=name, id="9", doc={"a": 1}, doc_as_upsert=True)
    assert response["result"] == "created"


def test_vectors_are_left_out_of_get_by_default(es: Elasticsearch, index_prefix: str) -> None:
    """Since 9.2 dense_vector values are excluded from _source in get responses by default.

    https://www.elastic.co/docs/reference/elasticsearch/mapping-reference/dense-vector (accessing dense_vector fields)
    """
    name = f"{index_prefix}-vec"
    create(es, name, VECTOR_MAPPING)
    es.index(index=name, id="1", document={"name": "a", "v": [1.0, 2.0, 3.0]})
    assert es.get(index=name, id="1")["_source"] == {"name": "a"}


def test_get_with_source_exclude_vectors_false_returns_vectors(es: Elasticsearch, index_prefix: str) -> None:
    """`_source_exclude_vectors=false` brings the vectors back in get.

    https://www.elastic.co/docs/api/doc/elasticsearch/operation/operation-get (_source_exclude_vectors)
    """
    name = f"{index_prefix}-vec2"
    create(es, name, VECTOR_MAPPING)
    es.index(index=name, id="1", document={"name": "a", "v": [1.0, 2.0, 3.0]})
    assert es.get(index=name, id="1", source_exclude_vectors=False)["_source"] == {"name": "a", "v": [1.0, 2.0, 3.0]}


def test_search_with_exclude_vectors_false_returns_vectors(es: Elasticsearch, index_prefix: str) -> None:
    """`"_source": {"exclude_vectors": false}` returns vectors in search hits.

    rest-api-spec/src/yamlRestTest/resources/rest-api-spec/test/search.vectors/230_source_exclude_vectors.yml
    """
    name = f"{index_prefix}-vec3"
    create(es, name, VECTOR_MAPPING)
    es.index(index=name, id="1", document={"name": "a", "v": [1.0, 2.0, 3.0]}, refresh=True)
    default = es.search(index=name)["hits"]["hits"][0]["_source"]
    included = es.search(index=name, source={"exclude_vectors": False})["hits"]["hits"][0]["_source"]
    assert default == {"name": "a"}
    assert included == {"name": "a", "v": [1.0, 2.0, 3.0]}


def test_index_setting_keeps_vectors_in_source(es: Elasticsearch, index_prefix: str) -> None:
    """`index.mapping.exclude_source_vectors: false` keeps vectors in _source as before 9.2.

    https://www.elastic.co/docs/reference/elasticsearch/mapping-reference/dense-vector (storage behavior and _source)
    """
    name = f"{index_prefix}-vec4"
    create(es, name, VECTOR_MAPPING, settings={"index.mapping.exclude_source_vectors": False})
    es.index(index=name, id="1", document={"name": "a", "v": [0.5, 1.5, 2.5]}, refresh=True)
    assert es.get(index=name, id="1")["_source"] == {"name": "a", "v": [0.5, 1.5, 2.5]}


def test_vector_requested_in_fields_is_returned_there(es: Elasticsearch, index_prefix: str) -> None:
    """A vector asked for with `fields` appears in `fields`, not in _source.

    rest-api-spec/src/yamlRestTest/resources/rest-api-spec/test/search.vectors/230_source_exclude_vectors.yml
    """
    name = f"{index_prefix}-vec5"
    create(es, name, VECTOR_MAPPING)
    es.index(index=name, id="1", document={"name": "a", "v": [1.0, 2.0, 3.0]}, refresh=True)
    hit = es.search(index=name, fields=["v"])["hits"]["hits"][0]
    assert hit["fields"]["v"] == [1.0, 2.0, 3.0]
    assert "v" not in hit["_source"]


def test_mget_realtime_false_sees_only_refreshed_documents(es: Elasticsearch, index_prefix: str) -> None:
    """`realtime=false` reads the last refresh's view; `refresh=true` refreshes first.

    rest-api-spec/src/yamlRestTest/resources/rest-api-spec/test/mget/60_realtime_refresh.yml
    """
    name = f"{index_prefix}-rt"
    create(es, name, {"foo": {"type": "keyword"}}, settings={"refresh_interval": -1})
    es.index(index=name, id="1", document={"foo": "bar"})
    assert es.mget(index=name, ids=["1"], realtime=False)["docs"][0]["found"] is False
    assert es.mget(index=name, ids=["1"], realtime=True)["docs"][0]["found"] is True
    assert es.mget(index=name, ids=["1"], realtime=False, refresh=True)["docs"][0]["found"] is True


def test_mget_refuses_top_level_keys_other_than_docs_and_ids(es: Elasticsearch, index_prefix: str) -> None:
    """Only the arrays `docs` and `ids` may sit at the top of an `_mget` body: `_source` there is a 400.

    elastic/elasticsearch server/src/main/java/org/elasticsearch/action/get/MultiGetRequest.java (add: "unknown key
    [%s] for a %s, expected [docs] or [ids]", "unexpected token [%s], expected [FIELD_NAME] or [START_ARRAY]")
    """
    name = f"{index_prefix}-mgetsrc"
    create(es, name, {"n": {"type": "integer"}})
    es.index(index=name, id="1", document={"n": 1})
    headers = {"accept": "application/json", "content-type": "application/json"}
    for body, reason in (
        ({"ids": ["1"], "_source": ["n"]}, "unknown key [_source] for a START_ARRAY, expected [docs] or [ids]"),
        ({"ids": ["1"], "_source": False}, "unexpected token [VALUE_BOOLEAN], expected [FIELD_NAME] or [START_ARRAY]"),
    ):
        error = expect_error(lambda b=body: es.perform_request("POST", f"/{name}/_mget", headers=headers, body=b), 400)
        assert (error_body(error)["type"], error_body(error)["reason"]) == ("parsing_exception", reason)
