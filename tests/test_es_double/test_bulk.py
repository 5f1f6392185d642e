"""`_bulk`: order, per-item results and errors, request-level errors, refresh."""

from __future__ import annotations

import pytest
from elasticsearch import Elasticsearch

from tests.test_es_double.helpers import create, error_body, expect_error

pytestmark = pytest.mark.es


def test_items_come_back_in_request_order_with_errors_flag(es: Elasticsearch, index_prefix: str) -> None:
    """Items are answered in request order; `errors` is true when any item failed.

    rest-api-spec/src/yamlRestTest/resources/rest-api-spec/test/bulk/10_basic.yml
    """
    name = f"{index_prefix}-bulk"
    create(es, name, {"n": {"type": "integer"}})
    response = es.bulk(
        operations=[
            {"index": {"_index": name, "_id": "1"}},
            {"n": 1},
            {"create": {"_index": name, "_id": "2"}},
            {"n": "not a number"},
            {"index": {"_index": name, "_id": "3"}},
            {"n": 3},
            {"delete": {"_index": name, "_id": "4"}},
        ]
    )
    kinds = [next(iter(item)) for item in response["items"]]
    statuses = [next(iter(item.values()))["status"] for item in response["items"]]
    assert kinds == ["index", "create", "index", "delete"]
    assert statuses == [201, 400, 201, 404]
    assert response["errors"] is True
    assert response["items"][1]["create"]["error"]["type"] == "document_parsing_exception"
    assert response["items"][3]["delete"]["result"] == "not_found"


def test_no_errors_flag_when_all_succeed(es: Elasticsearch, index_prefix: str) -> None:
    """A delete of a missing document is `not_found`, not an error.

    https://www.elastic.co/docs/api/doc/elasticsearch/operation/operation-bulk
    """
    name = f"{index_prefix}-ok"
    create(es, name, {"n": {"type": "integer"}})
    response = es.bulk(
        operations=[{"index": {"_index": name, "_id": "1"}}, {"n": 1}, {"delete": {"_index": name, "_id": "2"}}]
    )
    assert response["errors"] is False
    assert isinstance(response["took"], int)


def test_index_in_url_is_the_default(es: Elasticsearch, index_prefix: str) -> None:
    """`POST /idx/_bulk` uses idx for actions without `_index`.

    https://www.elastic.co/docs/api/doc/elasticsearch/operation/operation-bulk
    """
    name = f"{index_prefix}-url"
    create(es, name, {"n": {"type": "integer"}})
    response = es.bulk(index=name, operations=[{"index": {"_id": "1"}}, {"n": 1}], refresh=True)
    assert response["items"][0]["index"]["_index"] == name
    assert es.count(index=name)["count"] == 1


def test_create_conflict_is_an_item_error(es: Elasticsearch, index_prefix: str) -> None:
    """`create` of an existing id fails that item with 409.

    https://www.elastic.co/docs/api/doc/elasticsearch/operation/operation-bulk
    """
    name = f"{index_prefix}-conflict"
    create(es, name, {"n": {"type": "integer"}})
    es.index(index=name, id="1", document={"n": 1})
    response = es.bulk(operations=[{"create": {"_index": name, "_id": "1"}}, {"n": 2}])
    item = response["items"][0]["create"]
    assert item["status"] == 409
    assert item["error"]["type"] == "version_conflict_engine_exception"


def test_update_items_with_doc_and_doc_as_upsert(es: Elasticsearch, index_prefix: str) -> None:
    """Bulk `update` merges `doc`; with `doc_as_upsert` it creates missing documents.

    https://www.elastic.co/docs/api/doc/elasticsearch/operation/operation-bulk (update action)
    """
    name = f"{index_prefix}-upd"
    create(es, name, {"a": {"type": "integer"}, "b": {"type": "integer"}})
    es.index(index=name, id="1", document={"a": 1})
    response = es.bulk(
        operations=[
            {"update": {"_index": name, "_id": "1"}},
            {"doc": {"b": 2}},
            {"update": {"_index": name, "_id": "2"}},
            {"doc": {"a": 5}, "doc_as_upsert": True},
            {"update": {"_index": name, "_id": "3"}},
            {"doc": {"a": 5}},
        ]
    )
    results = [item["update"].get("result") for item in response["items"]]
    assert results[:2] == ["updated", "created"]
    assert response["items"][2]["update"]["error"]["type"] == "document_missing_exception"
    assert es.get(index=name, id="1")["_source"] == {"a": 1, "b": 2}


def test_malformed_action_line_fails_the_whole_request(es: Elasticsearch, index_prefix: str) -> None:
    """An unknown action fails the request as a whole, before any item runs.

    https://www.elastic.co/docs/api/doc/elasticsearch/operation/operation-bulk
    """
    name = f"{index_prefix}-bad"
    create(es, name, {"n": {"type": "integer"}}, settings={"refresh_interval": "-1"})
    error = expect_error(
        lambda: es.bulk(
            operations=[
                {"index": {"_index": name, "_id": "1"}},
                {"n": 1},
                {"upsert": {"_index": name, "_id": "2"}},
                {"n": 2},
            ]
        ),
        400,
    )
    assert error_body(error)["type"] == "illegal_argument_exception"
    assert error_body(error)["reason"] == (
        "Malformed action/metadata line [3], expected field [create], [delete], [index] or [update] but found [upsert]"
    )
    assert es.options(ignore_status=404).get(index=name, id="1")["found"] is False


def test_bulk_refresh_makes_items_searchable(es: Elasticsearch, index_prefix: str) -> None:
    """`refresh=wait_for` on bulk makes all its items visible to search.

    https://www.elastic.co/docs/reference/elasticsearch/rest-apis/refresh-parameter
    """
    name = f"{index_prefix}-refresh"
    create(es, name, {"n": {"type": "integer"}}, settings={"refresh_interval": "-1"})
    es.bulk(
        operations=[
            {"index": {"_index": name, "_id": str(i)}} if j == 0 else {"n": i} for i in range(5) for j in range(2)
        ],
        refresh="wait_for",
    )
    assert es.count(index=name)["count"] == 5


def test_strict_mapping_error_per_item(es: Elasticsearch, index_prefix: str) -> None:
    """A strict-mapping rejection fails only that item.

    https://www.elastic.co/docs/reference/elasticsearch/mapping-reference/dynamic
    """
    name = f"{index_prefix}-strict"
    create(es, name, {"n": {"type": "integer"}})
    response = es.bulk(
        operations=[
            {"index": {"_index": name, "_id": "1"}},
            {"n": 1, "extra": True},
            {"index": {"_index": name, "_id": "2"}},
            {"n": 2},
        ]
    )
    assert response["items"][0]["index"]["error"]["type"] == "strict_dynamic_mapping_exception"
    assert response["items"][1]["index"]["status"] == 201


def test_empty_id_is_an_item_error(es: Elasticsearch, index_prefix: str) -> None:
    """An empty `_id` fails that item with "if _id is specified it must not be empty".

    rest-api-spec/src/yamlRestTest/resources/rest-api-spec/test/bulk/10_basic.yml ("Empty _id")
    """
    name = f"{index_prefix}-empty"
    create(es, name, {"f": {"type": "integer"}})
    response = es.bulk(
        operations=[
            {"index": {"_index": name, "_id": ""}},
            {"f": 1},
            {"index": {"_index": name, "_id": "id"}},
            {"f": 2},
        ]
    )
    assert response["items"][0]["index"]["status"] == 400
    assert response["items"][0]["index"]["error"]["reason"] == "if _id is specified it must not be empty"
    assert response["items"][1]["index"]["result"] == "created"


def test_require_alias_rejects_plain_index_names(es: Elasticsearch, index_prefix: str) -> None:
    """`require_alias` fails items whose target is not an alias, without creating the index.

    rest-api-spec/src/yamlRestTest/resources/rest-api-spec/test/bulk/10_basic.yml ("When setting require_alias flag")
    """
    missing = f"{index_prefix}-not-created"
    response = es.bulk(require_alias=True, operations=[{"index": {"_index": missing}}, {"f": 1}])
    item = response["items"][0]["index"]
    assert item["status"] == 404
    assert item["error"]["reason"] == (
        f"no such index [{missing}] and [require_alias] request flag is [true] and [{missing}] is not an alias"
    )
    assert not es.indices.exists(index=missing)


def test_alias_without_write_index_is_an_item_error(es: Elasticsearch, index_prefix: str) -> None:
    """Writing to an alias over two indices without a write index fails the item.

    rest-api-spec/src/yamlRestTest/resources/rest-api-spec/test/bulk/10_basic.yml
    ("Return item-level error when no write index defined for an alias")
    """
    a, b, alias = f"{index_prefix}-1", f"{index_prefix}-2", f"{index_prefix}-alias"
    create(es, a, {"field": {"type": "keyword"}})
    create(es, b, {"field": {"type": "keyword"}})
    es.indices.put_alias(index=a, name=alias)
    es.indices.put_alias(index=b, name=alias)
    response = es.bulk(operations=[{"index": {"_index": alias}}, {"field": "test"}])
    assert response["items"][0]["index"]["error"]["reason"] == (
        f"no write index is defined for alias [{alias}]. The write index may be explicitly disabled using "
        f"is_write_index=false or the alias points to multiple indices without one being designated as a write index"
    )


def test_index_action_with_op_type_create_is_reported_as_create(es: Elasticsearch, index_prefix: str) -> None:
    """An `index` action with `op_type: create` comes back under `create`; auto ids stay under `index`.

    rest-api-spec/src/yamlRestTest/resources/rest-api-spec/test/bulk/10_basic.yml ("Empty _id with op_type create")
    """
    name = f"{index_prefix}-optype"
    create(es, name, {"f": {"type": "integer"}})
    response = es.bulk(
        refresh=True,
        operations=[
            {"index": {"_index": name}},
            {"f": 3},
            {"create": {"_index": name}},
            {"f": 4},
            {"index": {"_index": name, "op_type": "create"}},
            {"f": 5},
            {"index": {"_index": name, "_id": "x", "op_type": "create"}},
            {"f": 6},
            {"index": {"_index": name, "_id": "x", "op_type": "create"}},
            {"f": 7},
        ],
    )
    assert [next(iter(item)) for item in response["items"]] == ["index", "create", "create", "create", "create"]
    assert [item[next(iter(item))]["status"] for item in response["items"]] == [201, 201, 201, 201, 409]
    assert es.count(index=name)["count"] == 4
