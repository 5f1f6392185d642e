"""Index administration: create, exists, delete, names, settings, mappings, refresh."""

from __future__ import annotations

import pytest
from elasticsearch import Elasticsearch

from tests.test_es_double.helpers import create, error_body, expect_error, reasons

pytestmark = pytest.mark.es


def test_missing_index_is_404_index_not_found(es: Elasticsearch, index_prefix: str) -> None:
    """A missing index answers 404 `index_not_found_exception` "no such index [x]".

    https://www.elastic.co/docs/reference/elasticsearch/rest-apis/api-conventions (error responses)
    """
    name = f"{index_prefix}-missing"
    error = expect_error(lambda: es.search(index=name), 404)
    body = error_body(error)
    assert body["type"] == "index_not_found_exception"
    assert body["reason"] == f"no such index [{name}]"
    assert body["index"] == name
    assert body["root_cause"][0]["type"] == "index_not_found_exception"


def test_creating_an_existing_index_is_resource_already_exists(es: Elasticsearch, index_prefix: str) -> None:
    """Creating an index twice: 400 `resource_already_exists_exception` "index [name/uuid] already exists".

    rest-api-spec/src/yamlRestTest/resources/rest-api-spec/test/indices.create/10_basic.yml
    """
    name = f"{index_prefix}-dup"
    create(es, name, {})
    error = expect_error(lambda: es.indices.create(index=name), 400)
    body = error_body(error)
    assert body["type"] == "resource_already_exists_exception"
    assert body["reason"].startswith(f"index [{name}/") and body["reason"].endswith("] already exists")


def test_uppercase_index_name_is_invalid(es: Elasticsearch, index_prefix: str) -> None:
    """Index names must be lowercase: 400 `invalid_index_name_exception`.

    https://www.elastic.co/docs/api/doc/elasticsearch/operation/operation-indices-create (index naming rules)
    """
    name = f"{index_prefix}-Upper"
    error = expect_error(lambda: es.indices.create(index=name), 400)
    assert error_body(error)["type"] == "invalid_index_name_exception"
    assert error_body(error)["reason"] == f"Invalid index name [{name}], must be lowercase"


def test_index_name_must_not_start_with_underscore(es: Elasticsearch) -> None:
    """Index names must not start with `_`, `-` or `+`.

    https://www.elastic.co/docs/api/doc/elasticsearch/operation/operation-indices-create (index naming rules)
    """
    error = expect_error(lambda: es.indices.create(index="-mrtest-bad"), 400)
    assert error_body(error)["reason"] == "Invalid index name [-mrtest-bad], must not start with '_', '-', or '+'"


def test_exists_answers_200_or_404(es: Elasticsearch, index_prefix: str) -> None:
    """`HEAD /index` is true for an existing index, false otherwise.

    https://www.elastic.co/docs/api/doc/elasticsearch/operation/operation-indices-exists
    """
    name = f"{index_prefix}-exists"
    assert not es.indices.exists(index=name)
    create(es, name, {})
    assert es.indices.exists(index=name)


def test_delete_by_comma_list(es: Elasticsearch, index_prefix: str) -> None:
    """Several concrete indices can be deleted with a comma-separated list.

    https://www.elastic.co/docs/api/doc/elasticsearch/operation/operation-indices-delete
    """
    a, b = f"{index_prefix}-a", f"{index_prefix}-b"
    create(es, a, {})
    create(es, b, {})
    assert es.indices.delete(index=f"{a},{b}")["acknowledged"] is True
    assert not es.indices.exists(index=a) and not es.indices.exists(index=b)


def test_wildcard_delete_is_refused(es: Elasticsearch, index_prefix: str) -> None:
    """`action.destructive_requires_name` defaults to true: wildcard deletes are refused.

    https://www.elastic.co/docs/reference/elasticsearch/configuration-reference/index-management-settings
    """
    create(es, f"{index_prefix}-w", {})
    error = expect_error(lambda: es.indices.delete(index=f"{index_prefix}-*"), 400)
    assert error_body(error)["reason"] == "Wildcard expressions or all indices are not allowed"


def test_deleting_through_an_alias_is_refused(es: Elasticsearch, index_prefix: str) -> None:
    """Deleting an index by alias name is refused; concrete names are required.

    https://www.elastic.co/docs/api/doc/elasticsearch/operation/operation-indices-delete
    """
    name, alias = f"{index_prefix}-i", f"{index_prefix}-al"
    create(es, name, {})
    es.indices.put_alias(index=name, name=alias)
    error = expect_error(lambda: es.indices.delete(index=alias), 400)
    assert "matches an alias, specify the corresponding concrete indices instead" in error_body(error)["reason"]


def test_unknown_index_setting_is_rejected(es: Elasticsearch, index_prefix: str) -> None:
    """Unknown index settings are rejected at creation.

    https://www.elastic.co/docs/reference/elasticsearch/index-settings/
    """
    error = expect_error(lambda: es.indices.create(index=f"{index_prefix}-s", settings={"number_of_fancy": 3}), 400)
    assert error_body(error)["reason"].startswith("unknown setting [index.number_of_fancy]")


def test_get_mapping_returns_the_properties(es: Elasticsearch, index_prefix: str) -> None:
    """`GET idx/_mapping` returns the index's mapping.

    https://www.elastic.co/docs/api/doc/elasticsearch/operation/operation-indices-get-mapping
    """
    name = f"{index_prefix}-m"
    create(es, name, {"title": {"type": "text"}, "n": {"type": "integer"}})
    mapping = es.indices.get_mapping(index=name)[name]["mappings"]
    assert mapping["dynamic"] == "strict"
    assert mapping["properties"]["n"] == {"type": "integer"}
    assert mapping["properties"]["title"] == {"type": "text"}


def test_number_of_shards_setting_is_reported(es: Elasticsearch, index_prefix: str) -> None:
    """Settings come back as strings under `index`.

    https://www.elastic.co/docs/api/doc/elasticsearch/operation/operation-indices-get-settings
    """
    name = f"{index_prefix}-set"
    create(es, name, {})
    settings = es.indices.get_settings(index=name)[name]["settings"]["index"]
    assert settings["number_of_shards"] == "1"
    assert settings["number_of_replicas"] == "0"


def test_unknown_mapping_parameter_is_mapper_parsing_exception(es: Elasticsearch, index_prefix: str) -> None:
    """An unknown parameter on a field: "Failed to parse mapping: unknown parameter [x] on mapper [f] of type [t]".

    https://www.elastic.co/docs/reference/elasticsearch/mapping-reference/mapping-parameters
    """
    error = expect_error(
        lambda: es.indices.create(
            index=f"{index_prefix}-bad", mappings={"properties": {"title": {"type": "text", "shiny": True}}}
        ),
        400,
    )
    assert error_body(error)["type"] == "mapper_parsing_exception"
    assert "unknown parameter [shiny] on mapper [title] of type [text]" in reasons(error)[0]


def test_refresh_all_reports_shards(es: Elasticsearch, index_prefix: str) -> None:
    """`POST idx/_refresh` answers with the shard header.

    https://www.elastic.co/docs/api/doc/elasticsearch/operation/operation-indices-refresh
    """
    name = f"{index_prefix}-r"
    create(es, name, {})
    response = es.indices.refresh(index=name)
    assert response["_shards"]["failed"] == 0
    assert response["_shards"]["successful"] == 1


def test_get_mapping_shows_default_vector_index_options(es: Elasticsearch, index_prefix: str) -> None:
    """An indexed float dense_vector without index_options is int8_hnsw (8.14+), bbq_hnsw from 384 dims (9.1+);
    HNSW options show m, ef_construction and early_termination.

    rest-api-spec/src/yamlRestTest/resources/rest-api-spec/test/search.vectors/80_dense_vector_indexed_by_default.yml
    ("Default index options for dense_vector"); dense-vector docs ("indexed as bbq_hnsw if dimensions are greater
    than or equal to 384, otherwise they are indexed as int8_hnsw")
    """
    name = f"{index_prefix}-vecdefaults"
    create(
        es,
        name,
        {
            "small": {"type": "dense_vector", "dims": 5},
            "large": {"type": "dense_vector", "dims": 384},
            "given": {"type": "dense_vector", "dims": 5, "index_options": {"type": "hnsw", "m": 32, "ef_construction": 200}},
            "plain": {"type": "dense_vector", "dims": 5, "index": False},
        },
    )
    props = es.indices.get_mapping(index=name)[name]["mappings"]["properties"]
    assert (props["small"]["index"], props["small"]["similarity"]) == (True, "cosine")
    assert props["small"]["index_options"] == {
        "type": "int8_hnsw", "m": 16, "ef_construction": 100, "early_termination": False
    }
    assert props["large"]["index_options"]["type"] == "bbq_hnsw"
    assert props["large"]["index_options"]["rescore_vector"] == {"oversample": 3.0}
    assert props["given"]["index_options"] == {"type": "hnsw", "m": 32, "ef_construction": 200, "early_termination": False}
    assert "index_options" not in props["plain"]


def test_refused_index_features_say_so(es: Elasticsearch, es_double: object, index_prefix: str) -> None:
    """Date math index names and `allow_unmapped_fields: false` are refused as unsupported, not misread.

    https://www.elastic.co/docs/reference/elasticsearch/rest-apis/api-conventions (date math support in index names);
    https://www.elastic.co/docs/reference/elasticsearch/index-settings/index-modules (index.query.parse.allow_unmapped_fields)
    """
    date_math = expect_error(lambda: es.indices.create(index=f"<{index_prefix}-{{now/d}}>"), 400)
    assert error_body(date_math)["reason"].startswith("unsupported by the test double: date math index name")
    searched = expect_error(lambda: es.search(index=f"<{index_prefix}-{{now/d}}>"), 400)
    assert error_body(searched)["reason"].startswith("unsupported by the test double: date math index name")
    strict = expect_error(
        lambda: es.indices.create(
            index=f"{index_prefix}-strict", settings={"index.query.parse.allow_unmapped_fields": False}
        ),
        400,
    )
    assert error_body(strict)["reason"].startswith(
        "unsupported by the test double: index setting [index.query.parse.allow_unmapped_fields: false]"
    )
