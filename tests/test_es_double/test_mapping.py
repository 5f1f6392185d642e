"""Mappings: dynamic rules, value coercion and validation, dense_vector parameters."""

from __future__ import annotations

import re

import pytest
from elasticsearch import Elasticsearch

from tests.test_es_double.helpers import create, error_body, expect_error, reasons

pytestmark = pytest.mark.es

LOCATION = r"\[\d+:\d+\] "


def test_strict_dynamic_rejects_unknown_fields(es: Elasticsearch, index_prefix: str) -> None:
    """`dynamic: strict` rejects a document with an unmapped field.

    https://www.elastic.co/docs/reference/elasticsearch/mapping-reference/dynamic
    """
    name = f"{index_prefix}-strict"
    create(es, name, {"a": {"type": "integer"}})
    error = expect_error(lambda: es.index(index=name, id="1", document={"a": 1, "b": 2}), 400)
    body = error_body(error)
    assert body["type"] == "strict_dynamic_mapping_exception"
    assert re.fullmatch(
        LOCATION + r"mapping set to strict, dynamic introduction of \[b\] within \[_doc\] is not allowed",
        body["reason"],
    )


def test_strict_dynamic_names_the_parent_object(es: Elasticsearch, index_prefix: str) -> None:
    """Inside an object the message names the object's path.

    https://www.elastic.co/docs/reference/elasticsearch/mapping-reference/dynamic
    """
    name = f"{index_prefix}-strict-obj"
    create(es, name, {"counts": {"properties": {"movies": {"type": "long"}}}})
    error = expect_error(lambda: es.index(index=name, id="1", document={"counts": {"movies": 1, "users": 2}}), 400)
    assert "dynamic introduction of [users] within [counts] is not allowed" in error_body(error)["reason"]


def test_dynamic_false_keeps_unmapped_fields_in_source_only(es: Elasticsearch, index_prefix: str) -> None:
    """`dynamic: false` accepts unknown fields, keeps them in _source, does not index them.

    https://www.elastic.co/docs/reference/elasticsearch/mapping-reference/dynamic
    """
    name = f"{index_prefix}-false"
    create(es, name, {"a": {"type": "integer"}}, dynamic="false")
    es.index(index=name, id="1", document={"a": 1, "b": "hello"}, refresh=True)
    assert es.get(index=name, id="1")["_source"] == {"a": 1, "b": "hello"}
    assert es.count(index=name, query={"match": {"b": "hello"}})["count"] == 0
    assert "b" not in es.indices.get_mapping(index=name)[name]["mappings"]["properties"]


def test_dynamic_true_maps_strings_as_text_with_keyword(es: Elasticsearch, index_prefix: str) -> None:
    """Default dynamic mapping: strings become `text` with a `keyword` sub-field (ignore_above 256), integers `long`.

    https://www.elastic.co/docs/manage-data/data-store/mapping/dynamic-field-mapping
    """
    name = f"{index_prefix}-dyn"
    es.indices.create(index=name)
    es.index(index=name, id="1", document={"s": "Hello World", "n": 3, "f": 1.5, "b": True}, refresh=True)
    props = es.indices.get_mapping(index=name)[name]["mappings"]["properties"]
    assert props["s"] == {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}}
    assert props["n"] == {"type": "long"}
    assert props["f"] == {"type": "float"}
    assert props["b"] == {"type": "boolean"}
    assert es.count(index=name, query={"term": {"s.keyword": "Hello World"}})["count"] == 1


def test_dynamic_date_detection(es: Elasticsearch, index_prefix: str) -> None:
    """Strings that look like dates are mapped as `date` (date_detection is on by default).

    https://www.elastic.co/docs/manage-data/data-store/mapping/dynamic-field-mapping#date-detection
    """
    name = f"{index_prefix}-dyndate"
    es.indices.create(index=name)
    es.index(index=name, id="1", document={"when": "2015-01-01T12:10:30Z"})
    assert es.indices.get_mapping(index=name)[name]["mappings"]["properties"]["when"]["type"] == "date"


def test_numeric_strings_are_coerced(es: Elasticsearch, index_prefix: str) -> None:
    """`coerce` (default true) turns "5" into 5 for an integer field; _source keeps the original.

    https://www.elastic.co/docs/reference/elasticsearch/mapping-reference/coerce
    """
    name = f"{index_prefix}-coerce"
    create(es, name, {"n": {"type": "integer"}})
    es.index(index=name, id="1", document={"n": "5"}, refresh=True)
    assert es.count(index=name, query={"term": {"n": 5}})["count"] == 1
    assert es.get(index=name, id="1")["_source"] == {"n": "5"}


def test_floats_are_truncated_into_integer_fields(es: Elasticsearch, index_prefix: str) -> None:
    """With coerce, 5.7 in an integer field is indexed as 5.

    https://www.elastic.co/docs/reference/elasticsearch/mapping-reference/coerce
    """
    name = f"{index_prefix}-trunc"
    create(es, name, {"n": {"type": "integer"}})
    es.index(index=name, id="1", document={"n": 5.7}, refresh=True)
    assert es.count(index=name, query={"term": {"n": 5}})["count"] == 1


def test_non_numeric_string_is_a_document_parsing_exception(es: Elasticsearch, index_prefix: str) -> None:
    """ "abc" in an integer field: `document_parsing_exception` naming field, type, id and value.

    https://www.elastic.co/docs/reference/elasticsearch/mapping-reference/ignore-malformed
    """
    name = f"{index_prefix}-bad"
    create(es, name, {"n": {"type": "integer"}})
    error = expect_error(lambda: es.index(index=name, id="7", document={"n": "abc"}), 400)
    body = error_body(error)
    assert body["type"] == "document_parsing_exception"
    assert re.fullmatch(
        LOCATION + r"failed to parse field \[n\] of type \[integer\] in document with id '7'\. "
        r"Preview of field's value: 'abc'",
        body["reason"],
    )
    assert body["caused_by"]["reason"] == 'For input string: "abc"'


def test_out_of_range_integer_is_rejected(es: Elasticsearch, index_prefix: str) -> None:
    """Values outside the type's range are rejected.

    https://www.elastic.co/docs/reference/elasticsearch/mapping-reference/number
    """
    name = f"{index_prefix}-range"
    create(es, name, {"n": {"type": "short"}})
    error = expect_error(lambda: es.index(index=name, id="1", document={"n": 40000}), 400)
    assert error_body(error)["caused_by"]["reason"] == "Value [40000] is out of range for a short"


def test_disabled_object_keeps_any_json(es: Elasticsearch, index_prefix: str) -> None:
    """`enabled: false` objects are not parsed: anything goes into _source, nothing is indexed.

    https://www.elastic.co/docs/reference/elasticsearch/mapping-reference/enabled
    """
    name = f"{index_prefix}-disabled"
    create(es, name, {"params": {"type": "object", "enabled": False}})
    doc = {"params": {"rank": 10, "nested": {"list": [1, "x", None]}, "weird.key": True}}
    es.index(index=name, id="1", document=doc)
    assert es.get(index=name, id="1")["_source"] == doc


def test_concrete_value_for_object_is_rejected(es: Elasticsearch, index_prefix: str) -> None:
    """A scalar where an object is mapped is rejected.

    https://www.elastic.co/docs/reference/elasticsearch/mapping-reference/object
    """
    name = f"{index_prefix}-objval"
    create(es, name, {"counts": {"properties": {"movies": {"type": "long"}}}})
    error = expect_error(lambda: es.index(index=name, id="1", document={"counts": 3}), 400)
    assert (
        "object mapping for [counts] tried to parse field [counts] as object, but found a concrete value"
        in error_body(error)["reason"]
    )


def test_date_formats_with_alternatives(es: Elasticsearch, index_prefix: str) -> None:
    """`format: strict_date_optional_time||epoch_second` accepts ISO strings and epoch seconds.

    https://www.elastic.co/docs/reference/elasticsearch/mapping-reference/mapping-date-format
    """
    name = f"{index_prefix}-dates"
    create(es, name, {"at": {"type": "date", "format": "strict_date_optional_time||epoch_second"}})
    es.index(index=name, id="iso", document={"at": "2020-01-02T03:04:05Z"})
    es.index(index=name, id="epoch", document={"at": 1577934245})
    es.indices.refresh(index=name)
    response = es.search(index=name, query={"term": {"at": "2020-01-02T03:04:05Z"}})
    assert sorted(hit["_id"] for hit in response["hits"]["hits"]) == ["epoch", "iso"]


def test_unparseable_date_is_rejected(es: Elasticsearch, index_prefix: str) -> None:
    """A date not matching any format is rejected with the format list in the cause.

    https://www.elastic.co/docs/reference/elasticsearch/mapping-reference/mapping-date-format
    """
    name = f"{index_prefix}-baddate"
    create(es, name, {"at": {"type": "date"}})
    error = expect_error(lambda: es.index(index=name, id="1", document={"at": "yesterday"}), 400)
    assert (
        error_body(error)["caused_by"]["reason"]
        == "failed to parse date field [yesterday] with format [strict_date_optional_time||epoch_millis]"
    )


def test_dense_vector_dims_out_of_range(es: Elasticsearch, index_prefix: str) -> None:
    """`dims` must be within [1, 4096].

    https://www.elastic.co/docs/reference/elasticsearch/mapping-reference/dense-vector#dense-vector-params
    """
    error = expect_error(
        lambda: es.indices.create(
            index=f"{index_prefix}-v", mappings={"properties": {"v": {"type": "dense_vector", "dims": 5000}}}
        ),
        400,
    )
    assert "The number of dimensions should be in the range [1, 4096] but was [5000]" in reasons(error)[0]


def test_dense_vector_unknown_similarity(es: Elasticsearch, index_prefix: str) -> None:
    """An unknown `similarity` lists the accepted values.

    https://www.elastic.co/docs/reference/elasticsearch/mapping-reference/dense-vector#dense-vector-similarity
    """
    error = expect_error(
        lambda: es.indices.create(
            index=f"{index_prefix}-v",
            mappings={"properties": {"v": {"type": "dense_vector", "dims": 3, "similarity": "manhattan"}}},
        ),
        400,
    )
    assert (
        "Unknown value [manhattan] for field [similarity] - accepted values are "
        "[l2_norm, dot_product, cosine, max_inner_product]" in reasons(error)[0]
    )


def test_dense_vector_unknown_index_options_type(es: Elasticsearch, index_prefix: str) -> None:
    """An unknown `index_options.type` is rejected.

    https://www.elastic.co/docs/reference/elasticsearch/mapping-reference/dense-vector#dense-vector-index-options
    """
    error = expect_error(
        lambda: es.indices.create(
            index=f"{index_prefix}-v",
            mappings={"properties": {"v": {"type": "dense_vector", "dims": 3, "index_options": {"type": "annoy"}}}},
        ),
        400,
    )
    assert "Unknown vector index options type [annoy] for field [v]" in reasons(error)[0]


def test_dense_vector_similarity_requires_index(es: Elasticsearch, index_prefix: str) -> None:
    """`similarity` is only allowed when the vector is indexed.

    https://www.elastic.co/docs/reference/elasticsearch/mapping-reference/dense-vector#dense-vector-params
    """
    error = expect_error(
        lambda: es.indices.create(
            index=f"{index_prefix}-v",
            mappings={"properties": {"v": {"type": "dense_vector", "dims": 3, "index": False, "similarity": "cosine"}}},
        ),
        400,
    )
    assert any(
        "Field [similarity] can only be specified for a field of type [dense_vector] when it is indexed" in r
        for r in reasons(error)
    )


def test_vector_with_wrong_dims_is_rejected(es: Elasticsearch, index_prefix: str) -> None:
    """Indexing a vector with a different number of dimensions than the mapping fails.

    https://www.elastic.co/docs/reference/elasticsearch/mapping-reference/dense-vector
    """
    name = f"{index_prefix}-dims"
    create(es, name, {"v": {"type": "dense_vector", "dims": 3, "similarity": "l2_norm"}})
    error = expect_error(lambda: es.index(index=name, id="1", document={"v": [1.0, 2.0]}), 400)
    assert error_body(error)["type"] == "document_parsing_exception"
    assert (
        "The [dense_vector] field [v] in doc [document with id '1'] has a different number of dimensions [2] "
        "than defined in the mapping [3]" in error_body(error)["reason"]
    )


def test_vector_with_too_many_dims_is_rejected(es: Elasticsearch, index_prefix: str) -> None:
    """More dimensions than mapped are rejected as soon as they appear.

    https://www.elastic.co/docs/reference/elasticsearch/mapping-reference/dense-vector
    """
    name = f"{index_prefix}-dims2"
    create(es, name, {"v": {"type": "dense_vector", "dims": 2, "similarity": "l2_norm"}})
    error = expect_error(lambda: es.index(index=name, id="1", document={"v": [1.0, 2.0, 3.0]}), 400)
    assert "has more dimensions than defined in the mapping [2]" in error_body(error)["reason"]


def test_dot_product_requires_unit_vectors(es: Elasticsearch, index_prefix: str) -> None:
    """`dot_product` accepts only unit-length vectors (squared magnitude within 1e-3 of 1).

    https://www.elastic.co/docs/reference/elasticsearch/mapping-reference/dense-vector#dense-vector-similarity
    """
    name = f"{index_prefix}-dot"
    create(es, name, {"v": {"type": "dense_vector", "dims": 2, "similarity": "dot_product"}})
    es.index(index=name, id="ok", document={"v": [0.6, 0.8]})
    error = expect_error(lambda: es.index(index=name, id="bad", document={"v": [1.0, 1.0]}), 400)
    assert (
        "The [dot_product] similarity can only be used with unit-length vectors. "
        "Preview of invalid vector: [1.0, 1.0]" in error_body(error)["reason"]
    )


def test_cosine_rejects_zero_vectors(es: Elasticsearch, index_prefix: str) -> None:
    """`cosine` rejects zero-magnitude vectors.

    https://www.elastic.co/docs/reference/elasticsearch/mapping-reference/dense-vector#dense-vector-similarity
    """
    name = f"{index_prefix}-cos"
    create(es, name, {"v": {"type": "dense_vector", "dims": 3, "similarity": "cosine"}})
    error = expect_error(lambda: es.index(index=name, id="z", document={"v": [0, 0, 0]}), 400)
    assert (
        "The [cosine] similarity does not support vectors with zero magnitude. "
        "Preview of invalid vector: [0.0, 0.0, 0.0]" in error_body(error)["reason"]
    )


def test_index_options_hnsw_parameters_are_accepted(es: Elasticsearch, index_prefix: str) -> None:
    """The project's vector mapping (hnsw, m, ef_construction, max_inner_product) is valid.

    https://www.elastic.co/docs/reference/elasticsearch/mapping-reference/dense-vector#dense-vector-index-options
    """
    name = f"{index_prefix}-hnsw"
    create(
        es,
        name,
        {
            "v": {
                "type": "dense_vector",
                "dims": 4,
                "index": True,
                "similarity": "max_inner_product",
                "index_options": {"type": "hnsw", "m": 16, "ef_construction": 100},
            }
        },
    )
    mapping = es.indices.get_mapping(index=name)[name]["mappings"]["properties"]["v"]
    assert mapping["similarity"] == "max_inner_product"
    assert mapping["dims"] == 4
