"""kNN search: similarity scores, defaults, validation, filters, combination with queries."""

from __future__ import annotations

import pytest
from elasticsearch import Elasticsearch

from tests.test_es_double.helpers import (
    create,
    error_body,
    expect_error,
    ids,
    index_docs,
    reasons,
)

pytestmark = pytest.mark.es

QUERY = [-0.5, 90.0, -10, 14.8, -156.0]
YAML_DOCS = {
    "1": {"name": "cow.jpg", "vector": [230.0, 300.33, -34.8988, 15.555, -200.0]},
    "2": {"name": "moose.jpg", "vector": [-0.5, 100.0, -13, 14.8, -156.0]},
    "3": {"name": "rabbit.jpg", "vector": [0.5, 111.3, -13.0, 14.8, -156.0]},
}


def _vector_index(es: Elasticsearch, name: str, similarity: str, dims: int) -> None:
    create(
        es,
        name,
        {
            "name": {"type": "keyword"},
            "vector": {
                "type": "dense_vector",
                "dims": dims,
                "index": True,
                "similarity": similarity,
                "index_options": {"type": "hnsw", "m": 16, "ef_construction": 100},
            },
        },
    )


@pytest.fixture
def l2(es: Elasticsearch, index_prefix: str) -> str:
    name = f"{index_prefix}-l2"
    _vector_index(es, name, "l2_norm", 5)
    index_docs(es, name, YAML_DOCS)
    return name


def scores(response: dict) -> dict[str, float]:
    return {hit["_id"]: hit["_score"] for hit in response["hits"]["hits"]}


def test_max_inner_product_scores(es: Elasticsearch, index_prefix: str) -> None:
    """max_inner_product: dot < 0 ? 1 / (1 - dot) : dot + 1.

    rest-api-spec/src/yamlRestTest/resources/rest-api-spec/test/search.vectors/40_knn_search.yml ("Knn search with mip")
    """
    name = f"{index_prefix}-mip"
    _vector_index(es, name, "max_inner_product", 5)
    index_docs(es, name, YAML_DOCS)
    response = es.search(index=name, knn={"field": "vector", "query_vector": QUERY, "k": 3, "num_candidates": 3})
    assert ids(response) == ["1", "3", "2"]
    assert scores(response)["1"] == pytest.approx(58694.902, abs=0.01)
    assert scores(response)["3"] == pytest.approx(34702.79, abs=0.01)
    assert scores(response)["2"] == pytest.approx(33686.29, abs=0.01)


def test_max_inner_product_negative_dot(es: Elasticsearch, index_prefix: str) -> None:
    """A negative inner product maps to 1 / (1 - dot): dot = -3 gives 0.25.

    https://www.elastic.co/docs/reference/elasticsearch/mapping-reference/dense-vector#dense-vector-similarity
    """
    name = f"{index_prefix}-mipneg"
    _vector_index(es, name, "max_inner_product", 2)
    index_docs(es, name, {"neg": {"vector": [-1.0, -1.0]}})
    response = es.search(index=name, knn={"field": "vector", "query_vector": [1.0, 2.0], "k": 1})
    assert scores(response) == {"neg": pytest.approx(0.25)}


def test_l2_norm_scores(es: Elasticsearch, l2: str) -> None:
    """l2_norm: 1 / (1 + d²); doc 2 is at d² = 109, doc 3 at d² = 463.69.

    https://www.elastic.co/docs/reference/elasticsearch/mapping-reference/dense-vector#dense-vector-similarity
    """
    response = es.search(index=l2, knn={"field": "vector", "query_vector": QUERY, "k": 2, "num_candidates": 3})
    assert ids(response) == ["2", "3"]
    assert scores(response)["2"] == pytest.approx(1 / 110, rel=1e-5)
    assert scores(response)["3"] == pytest.approx(1 / 464.69, rel=1e-4)


def test_cosine_scores(es: Elasticsearch, index_prefix: str) -> None:
    """cosine: (1 + cos) / 2; vectors need not be unit length.

    https://www.elastic.co/docs/reference/elasticsearch/mapping-reference/dense-vector#dense-vector-similarity
    """
    name = f"{index_prefix}-cos"
    _vector_index(es, name, "cosine", 2)
    index_docs(
        es, name, {"same": {"vector": [3.0, 0.0]}, "diag": {"vector": [2.0, 2.0]}, "opp": {"vector": [-1.0, 0.0]}}
    )
    response = es.search(index=name, knn={"field": "vector", "query_vector": [5.0, 0.0], "k": 3})
    assert scores(response) == {
        "same": pytest.approx(1.0),
        "diag": pytest.approx(0.8535534, rel=1e-6),
        "opp": pytest.approx(0.0, abs=1e-7),
    }


def test_dot_product_scores(es: Elasticsearch, index_prefix: str) -> None:
    """dot_product (unit vectors): (1 + dot) / 2.

    https://www.elastic.co/docs/reference/elasticsearch/mapping-reference/dense-vector#dense-vector-similarity
    """
    name = f"{index_prefix}-dot"
    _vector_index(es, name, "dot_product", 2)
    index_docs(es, name, {"a": {"vector": [0.6, 0.8]}, "b": {"vector": [1.0, 0.0]}})
    response = es.search(index=name, knn={"field": "vector", "query_vector": [1.0, 0.0], "k": 2})
    assert scores(response) == {"b": pytest.approx(1.0), "a": pytest.approx(0.8)}


def test_k_defaults_to_size(es: Elasticsearch, l2: str) -> None:
    """Without `k`, k = size (and num_candidates = 1.5 * k).

    rest-api-spec/src/yamlRestTest/resources/rest-api-spec/test/search.vectors/150_knn_search_missing_params.yml
    """
    response = es.search(index=l2, size=2, knn={"field": "vector", "query_vector": QUERY})
    assert response["hits"]["total"]["value"] == 2
    response = es.search(index=l2, knn={"field": "vector", "query_vector": QUERY})
    assert response["hits"]["total"]["value"] == 3


def test_num_candidates_default_is_capped_at_10000(es: Elasticsearch, l2: str) -> None:
    """num_candidates defaults to min(1.5 * k, 10000): with k = 10001 it falls below k and is refused.

    https://www.elastic.co/docs/reference/elasticsearch/rest-apis/search-api (knn.num_candidates)
    """
    error = expect_error(lambda: es.search(index=l2, knn={"field": "vector", "query_vector": QUERY, "k": 10001}), 400)
    assert "[num_candidates] cannot be less than [k]" in reasons(error)


def test_num_candidates_less_than_k(es: Elasticsearch, l2: str) -> None:
    """num_candidates < k: 400 "[num_candidates] cannot be less than [k]".

    rest-api-spec/src/yamlRestTest/resources/rest-api-spec/test/search.vectors/150_knn_search_missing_params.yml
    """
    error = expect_error(
        lambda: es.search(index=l2, knn={"field": "vector", "query_vector": QUERY, "k": 3, "num_candidates": 2}), 400
    )
    assert error_body(error)["type"] == "illegal_argument_exception"
    assert error_body(error)["reason"] == "[num_candidates] cannot be less than [k]"


def test_k_must_be_positive(es: Elasticsearch, l2: str) -> None:
    """k <= 0: 400 "[k] must be greater than 0".

    https://www.elastic.co/docs/reference/elasticsearch/rest-apis/search-api (knn.k)
    """
    error = expect_error(
        lambda: es.search(index=l2, knn={"field": "vector", "query_vector": QUERY, "k": 0, "num_candidates": 5}), 400
    )
    assert error_body(error)["reason"] == "[k] must be greater than 0"


def test_num_candidates_limit(es: Elasticsearch, l2: str) -> None:
    """num_candidates > 10000: 400 "[num_candidates] cannot exceed [10000]".

    https://www.elastic.co/docs/reference/elasticsearch/rest-apis/search-api (knn.num_candidates)
    """
    error = expect_error(
        lambda: es.search(index=l2, knn={"field": "vector", "query_vector": QUERY, "k": 5, "num_candidates": 10001}),
        400,
    )
    assert error_body(error)["reason"] == "[num_candidates] cannot exceed [10000]"


def test_knn_query_validation_message(es: Elasticsearch, l2: str) -> None:
    """The knn query validates k and num_candidates with the same messages.

    https://www.elastic.co/docs/reference/query-languages/query-dsl/query-dsl-knn-query
    """
    error = expect_error(
        lambda: es.search(
            index=l2, query={"knn": {"field": "vector", "query_vector": QUERY, "k": 5, "num_candidates": 3}}
        ),
        400,
    )
    assert "[num_candidates] cannot be less than [k]" in reasons(error)


def test_query_vector_dimension_mismatch(es: Elasticsearch, l2: str) -> None:
    """A query vector of the wrong length fails with the dimensions of both.

    https://www.elastic.co/docs/reference/elasticsearch/mapping-reference/dense-vector
    """
    error = expect_error(lambda: es.search(index=l2, knn={"field": "vector", "query_vector": [1.0, 2.0], "k": 1}), 400)
    assert error_body(error)["type"] == "search_phase_execution_exception"
    assert any(
        "The query vector has a different number of dimensions [2] than the document vectors [5]." in r
        for r in reasons(error)
    )


@pytest.mark.parametrize(
    ("similarity", "query_vector", "message"),
    [
        ("dot_product", [2.0, 0.0], "The [dot_product] similarity can only be used with unit-length vectors."),
        ("cosine", [0.0, 0.0], "The [cosine] similarity does not support vectors with zero magnitude."),
    ],
)
def test_query_vector_refused_by_similarity(
    es: Elasticsearch, index_prefix: str, similarity: str, query_vector: list[float], message: str
) -> None:
    """The similarity's rule for indexed vectors holds for the query vector too: dot_product needs
    unit length, cosine refuses a zero vector.

    https://www.elastic.co/docs/reference/elasticsearch/mapping-reference/dense-vector#dense-vector-similarity
    """
    name = f"{index_prefix}-{similarity}-query"
    _vector_index(es, name, similarity, 2)
    index_docs(es, name, {"a": {"vector": [1.0, 0.0]}})
    error = expect_error(
        lambda: es.search(index=name, knn={"field": "vector", "query_vector": query_vector, "k": 1}), 400
    )
    assert any(message in r for r in reasons(error))


def test_filter_is_a_pre_filter(es: Elasticsearch, l2: str) -> None:
    """`filter` restricts candidates before the top k: k=1 still returns the best matching document.

    https://www.elastic.co/docs/solutions/search/vector/knn/filtered-knn-search
    """
    response = es.search(
        index=l2,
        knn={
            "field": "vector",
            "query_vector": QUERY,
            "k": 1,
            "num_candidates": 3,
            "filter": {"term": {"name": "cow.jpg"}},
        },
    )
    assert ids(response) == ["1"]


def test_filter_list_is_anded(es: Elasticsearch, l2: str) -> None:
    """A list of filters must all match.

    rest-api-spec/src/yamlRestTest/resources/rest-api-spec/test/search.vectors/40_knn_search.yml ("kNN search with filter")
    """
    response = es.search(
        index=l2,
        knn={
            "field": "vector",
            "query_vector": QUERY,
            "k": 2,
            "num_candidates": 3,
            "filter": [{"term": {"name": "rabbit.jpg"}}, {"term": {"_id": "2"}}],
        },
    )
    assert response["hits"]["total"]["value"] == 0


def test_similarity_threshold(es: Elasticsearch, l2: str) -> None:
    """`similarity` is a threshold on the raw similarity (the l2 distance here).

    rest-api-spec/src/yamlRestTest/resources/rest-api-spec/test/search.vectors/40_knn_search.yml
    ("KNN Vector similarity search only")
    """
    response = es.search(
        index=l2, knn={"field": "vector", "query_vector": QUERY, "k": 3, "num_candidates": 3, "similarity": 11}
    )
    assert ids(response) == ["2"]


def test_knn_plus_query_sums_scores(es: Elasticsearch, l2: str) -> None:
    """Top-level knn with a query: the union of both, scores added.

    rest-api-spec/src/yamlRestTest/resources/rest-api-spec/test/search.vectors/40_knn_search.yml ("kNN search plus query")
    """
    response = es.search(
        index=l2,
        knn={"field": "vector", "query_vector": QUERY, "k": 2, "num_candidates": 3},
        query={"term": {"name": "cow.jpg"}},
    )
    only_knn = scores(es.search(index=l2, knn={"field": "vector", "query_vector": QUERY, "k": 2, "num_candidates": 3}))
    only_query = scores(es.search(index=l2, query={"term": {"name": "cow.jpg"}}))
    assert ids(response) == ["1", "2", "3"]
    assert scores(response)["1"] == pytest.approx(only_query["1"])
    assert scores(response)["2"] == pytest.approx(only_knn["2"])


def test_multiple_knn_clauses_are_summed(es: Elasticsearch, l2: str) -> None:
    """Several knn clauses: each contributes its top k; scores of a document add up.

    rest-api-spec/src/yamlRestTest/resources/rest-api-spec/test/search.vectors/40_knn_search.yml
    ("kNN multi-field search only")
    """
    clause = {"field": "vector", "query_vector": QUERY, "k": 2, "num_candidates": 3}
    single = scores(es.search(index=l2, knn=clause))
    double = scores(es.search(index=l2, knn=[clause, {**clause, "boost": 2.0}]))
    assert double["2"] == pytest.approx(3 * single["2"], rel=1e-6)


def test_boost_multiplies_the_score(es: Elasticsearch, l2: str) -> None:
    """`boost` multiplies the kNN score.

    https://www.elastic.co/docs/reference/elasticsearch/rest-apis/search-api (knn.boost)
    """
    plain = scores(es.search(index=l2, knn={"field": "vector", "query_vector": QUERY, "k": 1}))
    boosted = scores(es.search(index=l2, knn={"field": "vector", "query_vector": QUERY, "k": 1, "boost": 4.0}))
    assert boosted["2"] == pytest.approx(4 * plain["2"], rel=1e-6)


def test_knn_query_inside_bool(es: Elasticsearch, index_prefix: str) -> None:
    """The knn query in a bool: its top k (k=1 here) intersected with the other clauses.

    rest-api-spec/src/yamlRestTest/resources/rest-api-spec/test/search.vectors/160_knn_query_missing_params.yml
    ("kNN query in a bool clause - missing num_candidates")
    """
    name = f"{index_prefix}-kq"
    create(
        es,
        name,
        {
            "category": {"type": "keyword"},
            "vector": {"type": "dense_vector", "dims": 3, "index": True, "similarity": "l2_norm"},
        },
    )
    index_docs(
        es,
        name,
        {
            "1": {"vector": [1.0, 1.0, 0.0], "category": "A"},
            "2": {"vector": [1.0, 0.5, 1.0], "category": "A"},
            "3": {"vector": [-1, -1, -1], "category": "B"},
        },
    )
    response = es.search(
        index=name,
        size=1,
        query={
            "bool": {
                "must": [{"term": {"category": "A"}}, {"knn": {"field": "vector", "query_vector": [1, 1, 0], "k": 1}}]
            }
        },
    )
    assert response["hits"]["total"]["value"] == 1
    assert ids(response) == ["1"]


def test_knn_on_unmapped_field_matches_nothing(es: Elasticsearch, l2: str) -> None:
    """kNN on a field the index does not map returns no hits.

    rest-api-spec/src/yamlRestTest/resources/rest-api-spec/test/search.vectors/40_knn_search.yml
    ("Test nonexistent field is match none")
    """
    response = es.search(index=l2, knn={"field": "nonexistent", "query_vector": QUERY, "k": 2, "num_candidates": 3})
    assert ids(response) == []


def test_knn_name_shows_in_matched_queries(es: Elasticsearch, l2: str) -> None:
    """`_name` on a knn clause is reported in `matched_queries`.

    rest-api-spec/src/yamlRestTest/resources/rest-api-spec/test/search.vectors/40_knn_search.yml ("Knn search with _name")
    """
    response = es.search(index=l2, knn={"field": "vector", "query_vector": QUERY, "k": 1, "_name": "my_knn"})
    assert response["hits"]["hits"][0]["matched_queries"] == ["my_knn"]


def test_knn_on_empty_index(es: Elasticsearch, index_prefix: str) -> None:
    """kNN on an index without documents returns 0 hits, not an error.

    rest-api-spec/src/yamlRestTest/resources/rest-api-spec/test/search.vectors/40_knn_search.yml
    ("kNN search on empty index should return 0 results and not an error")
    """
    name = f"{index_prefix}-empty"
    _vector_index(es, name, "l2_norm", 5)
    response = es.search(index=name, knn={"field": "vector", "query_vector": QUERY, "k": 2, "num_candidates": 3})
    assert response["hits"]["total"]["value"] == 0


def test_terms_lookup_inside_knn_filter(es: Elasticsearch, l2: str, index_prefix: str) -> None:
    """A terms lookup in a kNN pre-filter's must_not excludes the looked-up ids before the top k.

    https://www.elastic.co/docs/reference/query-languages/query-dsl/query-dsl-terms-query#query-dsl-terms-lookup
    """
    seen = f"{index_prefix}-seen"
    create(es, seen, {"ids": {"type": "keyword"}})
    es.index(index=seen, id="u", document={"ids": ["2"]})
    response = es.search(
        index=l2,
        knn={
            "field": "vector",
            "query_vector": QUERY,
            "k": 1,
            "filter": {"bool": {"must_not": [{"terms": {"_id": {"index": seen, "id": "u", "path": "ids"}}}]}},
        },
    )
    assert ids(response) == ["3"]


@pytest.fixture
def ten_vectors(es: Elasticsearch, index_prefix: str) -> str:
    """The index of search.vectors/140_knn_query_with_other_queries.yml: [1,1,1,i], names v1/v2 alternating."""
    name = f"{index_prefix}-ten"
    create(
        es,
        name,
        {
            "my_vector": {"type": "dense_vector", "dims": 4, "index": True, "similarity": "l2_norm"},
            "my_name": {"type": "keyword"},
        },
    )
    index_docs(
        es, name, {str(i): {"my_vector": [1, 1, 1, i], "my_name": "v1" if i % 2 else "v2"} for i in range(1, 11)}
    )
    return name


def test_knn_query_without_k_collects_size_capped_by_num_candidates(es: Elasticsearch, ten_vectors: str) -> None:
    """Without `k`, the knn query collects the request size per shard, at most num_candidates.

    elastic/elasticsearch KnnVectorQueryBuilder.doToQuery (`k = requestSize; if (numCands != null) k =
    Math.min(k, numCands)`); rest-api-spec/.../search.vectors/140_knn_query_with_other_queries.yml (its
    function_score section needs `k: 5` to collect 5 hits with `size: 3`)
    """
    query = {"knn": {"field": "my_vector", "query_vector": [1, 1, 1, 1], "num_candidates": 5}}
    capped = es.search(index=ten_vectors, size=10, query=query)
    assert capped["hits"]["total"]["value"] == 5
    assert ids(capped) == ["1", "2", "3", "4", "5"]
    by_size = es.search(index=ten_vectors, size=3, query=query)
    assert by_size["hits"]["total"]["value"] == 3


def test_knn_query_in_dis_max_unions_its_candidates_with_the_match(es: Elasticsearch, ten_vectors: str) -> None:
    """dis_max of a knn query (num_candidates 5) and a match on v2: the 5 nearest plus the other v2 docs.

    rest-api-spec/src/yamlRestTest/resources/rest-api-spec/test/search.vectors/140_knn_query_with_other_queries.yml
    ("dis_max query with knn query")
    """
    response = es.search(
        index=ten_vectors,
        size=10,
        query={
            "dis_max": {
                "queries": [
                    {"knn": {"field": "my_vector", "query_vector": [1, 1, 1, 1], "num_candidates": 5}},
                    {"match": {"my_name": "v2"}},
                ],
                "tie_breaker": 0.8,
            }
        },
    )
    assert response["hits"]["total"]["value"] == 8
    assert ids(response) == ["2", "1", "4", "6", "8", "10", "3", "5"]
