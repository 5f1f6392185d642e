"""`PUT /<index>/_mapping` (indices.put_mapping): merging new fields into an existing index's mapping.

Elasticsearch 9 semantics, from the YAML REST tests under
rest-api-spec/src/yamlRestTest/resources/rest-api-spec/test/indices.put_mapping/ (10_basic.yml,
all_path_options.yml) and the update-mapping API page
(https://www.elastic.co/docs/api/doc/elasticsearch/operation/operation-indices-put-mapping:
"you can add new properties to existing object fields … change the mapping of an existing field is
not allowed" except updateable parameters).
"""

from __future__ import annotations

import pytest
from elasticsearch import Elasticsearch

from tests.test_es_double.helpers import create, error_body, expect_error

pytestmark = pytest.mark.es


def _props(es: Elasticsearch, name: str) -> dict:
    return es.indices.get_mapping(index=name)[name]["mappings"]["properties"]


def test_new_properties_merge_multi_fields_and_dotted_names(es: Elasticsearch, index_prefix: str) -> None:
    """10_basic.yml "Test Create and update mapping": fields added, a dotted name becomes an object,
    a later update adds a multi-field and keeps the earlier fields."""
    name = f"{index_prefix}-pm-basic"
    es.indices.create(index=name)
    body = {
        "text1": {"type": "text", "analyzer": "whitespace"},
        "text2": {"type": "text", "analyzer": "whitespace"},
        "subfield.text3": {"type": "text"},
    }
    assert es.indices.put_mapping(index=name, properties=body)["acknowledged"] is True
    props = _props(es, name)
    assert props["text1"] == {"type": "text", "analyzer": "whitespace"}
    assert props["text2"] == {"type": "text", "analyzer": "whitespace"}
    es.indices.put_mapping(
        index=name,
        properties={"text1": {"type": "text", "analyzer": "whitespace", "fields": {"text_raw": {"type": "keyword"}}}},
    )
    props = _props(es, name)
    assert props["text1"]["fields"]["text_raw"]["type"] == "keyword"
    assert props["subfield"]["properties"]["text3"]["type"] == "text"
    assert props["text2"]["analyzer"] == "whitespace"


def test_nested_object_properties_merge_and_new_fields_accept_documents(es: Elasticsearch, index_prefix: str) -> None:
    """New properties inside an existing object are added beside the old ones; under `dynamic: strict`
    a document with the new field, refused before, is accepted after (update-mapping API page)."""
    name = f"{index_prefix}-pm-object"
    create(es, name, {"counts": {"properties": {"movies": {"type": "long"}}}})
    refused = expect_error(lambda: es.index(index=name, id="1", document={"counts": {"movies": 1, "users": 2}}), 400)
    assert error_body(refused)["type"] == "strict_dynamic_mapping_exception"
    es.indices.put_mapping(index=name, properties={"counts": {"properties": {"users": {"type": "long"}}}})
    assert _props(es, name)["counts"]["properties"] == {"movies": {"type": "long"}, "users": {"type": "long"}}
    es.index(index=name, id="1", document={"counts": {"movies": 1, "users": 2}}, refresh=True)
    assert es.count(index=name, query={"term": {"counts.users": 2}})["count"] == 1


def test_existing_documents_stay_searchable_after_an_update(es: Elasticsearch, index_prefix: str) -> None:
    """Adding a field leaves what was indexed before as it was (no reindex): old documents still match."""
    name = f"{index_prefix}-pm-docs"
    create(es, name, {"a": {"type": "keyword"}})
    es.index(index=name, id="1", document={"a": "x"}, refresh=True)
    es.indices.put_mapping(index=name, properties={"b": {"type": "long"}})
    assert es.count(index=name, query={"term": {"a": "x"}})["count"] == 1
    assert es.count(index=name, query={"exists": {"field": "b"}})["count"] == 0


def test_dynamic_may_change(es: Elasticsearch, index_prefix: str) -> None:
    """all_path_options.yml "post a mapping with default analyzer twice" puts `dynamic: false`; the
    root's `dynamic` is an updateable parameter (mapping-reference/dynamic: "can be updated on existing
    fields")."""
    name = f"{index_prefix}-pm-dynamic"
    create(es, name, {"a": {"type": "keyword"}})
    for _ in range(2):  # the same update twice is accepted
        es.indices.put_mapping(index=name, dynamic="false", properties={"text": {"type": "text", "analyzer": "default"}})
    mapping = es.indices.get_mapping(index=name)[name]["mappings"]
    assert mapping["dynamic"] == "false"
    assert mapping["properties"]["text"]["type"] == "text"
    es.index(index=name, id="1", document={"a": "x", "unknown": 1})
    assert es.get(index=name, id="1")["_source"] == {"a": "x", "unknown": 1}


def test_changing_a_field_type_is_refused(es: Elasticsearch, index_prefix: str) -> None:
    """An existing field's type cannot change: 400 illegal_argument_exception "mapper [f] cannot be changed
    from type [long] to [keyword]" (ES's FieldMapper merge; ParametrizedMapperTests asserts the wording,
    sub-fields named `field.sub`). The mapping is left as it was."""
    name = f"{index_prefix}-pm-conflict"
    create(es, name, {"counts": {"properties": {"movies": {"type": "long"}}}})
    error = expect_error(
        lambda: es.indices.put_mapping(
            index=name, properties={"counts": {"properties": {"movies": {"type": "keyword"}, "users": {"type": "long"}}}}
        ),
        400,
    )
    body = error_body(error)
    assert body["type"] == "illegal_argument_exception"
    assert body["reason"] == "mapper [counts.movies] cannot be changed from type [long] to [keyword]"
    assert _props(es, name)["counts"]["properties"] == {"movies": {"type": "long"}}


def test_changing_a_parameter_that_is_not_updateable_is_refused(es: Elasticsearch, index_prefix: str) -> None:
    """Same type, another analyzer: "Cannot update parameter [analyzer] from [whitespace] to [standard]"."""
    name = f"{index_prefix}-pm-param"
    create(es, name, {"t": {"type": "text", "analyzer": "whitespace"}})
    error = expect_error(
        lambda: es.indices.put_mapping(index=name, properties={"t": {"type": "text", "analyzer": "standard"}}), 400
    )
    assert error_body(error)["type"] == "illegal_argument_exception"
    assert "Cannot update parameter [analyzer] from [whitespace] to [standard]" in error_body(error)["reason"]


def test_field_meta_is_replaced(es: Elasticsearch, index_prefix: str) -> None:
    """10_basic.yml "Update per-field metadata": the new `meta` replaces the old one."""
    name = f"{index_prefix}-pm-meta"
    es.indices.create(index=name, mappings={"properties": {"foo": {"type": "keyword", "meta": {"bar": "baz"}}}})
    es.indices.put_mapping(index=name, properties={"foo": {"type": "keyword", "meta": {"baz": "quux"}}})
    assert _props(es, name)["foo"]["meta"] == {"baz": "quux"}


def test_empty_field_name_and_typed_body_are_refused(es: Elasticsearch, index_prefix: str) -> None:
    """10_basic.yml "Create index with invalid mappings" (empty name: illegal_argument_exception) and
    "Put mappings with explicit _doc type" ("Types cannot be provided in put mapping requests")."""
    name = f"{index_prefix}-pm-invalid"
    es.indices.create(index=name)
    error = expect_error(lambda: es.indices.put_mapping(index=name, properties={"": {"type": "keyword"}}), 400)
    assert error_body(error)["type"] == "illegal_argument_exception"
    error = expect_error(
        lambda: es.perform_request(
            "PUT",
            f"/{name}/_mapping",
            headers={"content-type": "application/json", "accept": "application/json"},
            body={"_doc": {"properties": {"field": {"type": "keyword"}}}},
        ),
        400,
    )
    assert error_body(error)["type"] == "illegal_argument_exception"
    assert error_body(error)["reason"] == "Types cannot be provided in put mapping requests"


def test_wildcard_and_list_targets_and_unknown_index(es: Elasticsearch, index_prefix: str) -> None:
    """all_path_options.yml: a prefix wildcard updates the matching indices only, a list updates each;
    an unknown index is 404 index_not_found_exception."""
    a, b, other = f"{index_prefix}-pmw-a", f"{index_prefix}-pmw-b", f"{index_prefix}-pmx"
    for n in (a, b, other):
        es.indices.create(index=n)
    es.indices.put_mapping(index=f"{index_prefix}-pmw-*", properties={"text": {"type": "text", "analyzer": "whitespace"}})
    assert _props(es, a)["text"]["analyzer"] == "whitespace"
    assert _props(es, b)["text"]["analyzer"] == "whitespace"
    assert es.indices.get_mapping(index=other)[other]["mappings"] == {}
    es.indices.put_mapping(index=[a, other], properties={"k": {"type": "keyword"}})
    assert _props(es, other)["k"] == {"type": "keyword"}
    error = expect_error(lambda: es.indices.put_mapping(index=f"{index_prefix}-missing", properties={}), 404)
    assert error_body(error)["type"] == "index_not_found_exception"
