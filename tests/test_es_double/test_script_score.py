"""script_score: vector functions, params, min_score, invalid scores, script errors."""

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
    types,
)

pytestmark = pytest.mark.es

MIP_SCRIPT = "double d = dotProduct(params.query_vector, 'factors'); return d < 0 ? 1 / (1 - d) : d + 1;"


@pytest.fixture
def movies(es: Elasticsearch, index_prefix: str) -> str:
    name = f"{index_prefix}-ss"
    create(
        es,
        name,
        {
            "bayes_rating": {"type": "float"},
            "factors": {"type": "dense_vector", "dims": 3, "index": True, "similarity": "max_inner_product"},
        },
    )
    index_docs(
        es,
        name,
        {
            "a": {"bayes_rating": 4.0, "factors": [1.0, 0.5, -0.5]},
            "b": {"bayes_rating": 2.0, "factors": [-2.0, 0.0, 1.0]},
            "c": {"bayes_rating": 3.0, "factors": [0.5, 0.5, 0.5]},
        },
    )
    return name


def scores(response: dict) -> dict[str, float]:
    return {hit["_id"]: hit["_score"] for hit in response["hits"]["hits"]}


def test_mip_transform_script_matches_knn_scores(es: Elasticsearch, movies: str) -> None:
    """dotProduct mapped through the max_inner_product transform gives the kNN `_score` (exact mode).

    https://www.elastic.co/docs/reference/query-languages/query-dsl/query-dsl-script-score-query#vector-functions
    """
    vector = [1.0, 2.0, 3.0]
    exact = es.search(
        index=movies,
        query={
            "script_score": {
                "query": {"match_all": {}},
                "script": {"source": MIP_SCRIPT, "params": {"query_vector": vector}},
            }
        },
    )
    knn = es.search(index=movies, knn={"field": "factors", "query_vector": vector, "k": 3})
    assert ids(exact) == ids(knn)
    for doc_id, score in scores(knn).items():
        assert scores(exact)[doc_id] == pytest.approx(score, rel=1e-6)


def test_params_and_doc_values(es: Elasticsearch, movies: str) -> None:
    """Scripts read `params` and doc values; the score is the script's value (times boost).

    https://www.elastic.co/docs/reference/query-languages/query-dsl/query-dsl-script-score-query
    """
    response = es.search(
        index=movies,
        query={
            "script_score": {
                "query": {"match_all": {}},
                "boost": 2.0,
                "script": {"source": "doc['bayes_rating'].value * params.w", "params": {"w": 0.5}},
            }
        },
    )
    assert scores(response) == {"a": pytest.approx(4.0), "c": pytest.approx(3.0), "b": pytest.approx(2.0)}


def test_min_score_excludes_low_scores(es: Elasticsearch, movies: str) -> None:
    """`min_score` drops documents whose script score is lower.

    https://www.elastic.co/docs/reference/query-languages/query-dsl/query-dsl-script-score-query#script-score-top-level-params
    """
    response = es.search(
        index=movies,
        query={
            "script_score": {
                "query": {"match_all": {}},
                "min_score": 2.5,
                "script": {"source": "doc['bayes_rating'].value"},
            }
        },
    )
    assert sorted(ids(response)) == ["a", "c"]


def test_inner_query_selects_documents(es: Elasticsearch, movies: str) -> None:
    """Only documents matching the inner `query` are scored and returned.

    https://www.elastic.co/docs/reference/query-languages/query-dsl/query-dsl-script-score-query
    """
    response = es.search(
        index=movies,
        query={"script_score": {"query": {"range": {"bayes_rating": {"gte": 3}}}, "script": {"source": "_score * 2"}}},
    )
    assert scores(response) == {"a": pytest.approx(2.0), "c": pytest.approx(2.0)}


def test_negative_score_is_rejected(es: Elasticsearch, index_prefix: str) -> None:
    """A negative script score fails the search with Elasticsearch's exact message.

    https://www.elastic.co/docs/reference/query-languages/query-dsl/query-dsl-script-score-query
    (scores cannot be negative)
    """
    name = f"{index_prefix}-neg"
    create(es, name, {"n": {"type": "integer"}})
    index_docs(es, name, {"only": {"n": 1}})
    error = expect_error(
        lambda: es.search(index=name, query={"script_score": {"query": {"match_all": {}}, "script": {"source": "-1"}}}),
        400,
    )
    assert error_body(error)["type"] == "search_phase_execution_exception"
    assert (
        error_body(error)["root_cause"][0]["reason"]
        == "script_score script returned an invalid score [-1.0] for doc [0]. Must be a non-negative score!"
    )


def test_nan_score_is_rejected(es: Elasticsearch, index_prefix: str) -> None:
    """A NaN script score is rejected like a negative one.

    https://www.elastic.co/docs/reference/query-languages/query-dsl/query-dsl-script-score-query
    """
    name = f"{index_prefix}-nan"
    create(es, name, {"n": {"type": "integer"}})
    index_docs(es, name, {"only": {"n": 1}})
    error = expect_error(
        lambda: es.search(
            index=name, query={"script_score": {"query": {"match_all": {}}, "script": {"source": "Math.sqrt(-1)"}}}
        ),
        400,
    )
    assert "script_score script returned an invalid score [NaN] for doc [0]. Must be a non-negative score!" in reasons(
        error
    )


def test_compile_error_is_a_script_exception(es: Elasticsearch, movies: str) -> None:
    """A script that does not compile fails the search with a `script_exception` root cause.

    https://www.elastic.co/docs/explore-analyze/scripting/modules-scripting-using
    """
    error = expect_error(
        lambda: es.search(
            index=movies, query={"script_score": {"query": {"match_all": {}}, "script": {"source": "return (1 +"}}}
        ),
        400,
    )
    assert error_body(error)["root_cause"][0]["type"] == "script_exception"
    assert "compile error" in reasons(error)
    assert "search_phase_execution_exception" in types(error)


def test_script_score_wrapping_knn_query(es: Elasticsearch, movies: str) -> None:
    """script_score over a knn query: `_score` is the kNN score, blended in the script.

    https://www.elastic.co/docs/reference/query-languages/query-dsl/query-dsl-script-score-query
    """
    knn = {"knn": {"field": "factors", "query_vector": [1.0, 0.0, 0.0], "k": 2}}
    plain = scores(es.search(index=movies, query=knn))
    blended = scores(
        es.search(
            index=movies,
            query={"script_score": {"query": knn, "script": {"source": "_score * doc['bayes_rating'].value"}}},
        )
    )
    assert set(blended) == set(plain) == {"a", "c"}
    assert blended["a"] == pytest.approx(plain["a"] * 4.0, rel=1e-6)
