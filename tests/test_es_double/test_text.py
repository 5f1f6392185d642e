"""Full text: standard analyzer, BM25 scores, fuzziness AUTO, match_bool_prefix, multi_match."""

from __future__ import annotations

import pytest
from elasticsearch import Elasticsearch

from tests.test_es_double.helpers import create, expect_error, ids, index_docs, reasons

pytestmark = pytest.mark.es


@pytest.fixture
def texts(es: Elasticsearch, index_prefix: str) -> str:
    name = f"{index_prefix}-text"
    create(es, name, {"title": {"type": "text", "fields": {"keyword": {"type": "keyword"}}}})
    index_docs(es, name, {"1": {"title": "quick brown fox"}, "2": {"title": "lazy dog"}, "3": {"title": "quick dog"}})
    return name


def scores(response: dict) -> dict[str, float]:
    return {hit["_id"]: hit["_score"] for hit in response["hits"]["hits"]}


def test_bm25_single_term_score(es: Elasticsearch, texts: str) -> None:
    """BM25 score of "fox" in doc 1 (N=3, n=1, dl=3, avgdl=7/3), computed by hand:
    idf = ln(1 + (3 - 1 + 0.5) / (1 + 0.5)) = 0.980829;
    tf = 1 / (1 + 1.2 * (0.25 + 0.75 * 3 / (7/3))) = 0.406977;
    score = 2.2 * idf * tf = 0.878184.

    https://www.elastic.co/docs/reference/elasticsearch/index-settings/similarity (BM25, k1=1.2, b=0.75)
    """
    response = es.search(index=texts, query={"match": {"title": "fox"}})
    assert scores(response) == {"1": pytest.approx(0.878184, rel=1e-5)}


def test_bm25_sums_matching_terms_and_ranks(es: Elasticsearch, texts: str) -> None:
    """ "quick dog" (operator or) sums term scores: doc 3 has both (2 x 0.499176), doc 2 has
    "dog" in 2 tokens (0.499176), doc 1 has "quick" in 3 tokens (0.420817).

    https://www.elastic.co/docs/reference/query-languages/query-dsl/query-dsl-match-query
    """
    response = es.search(index=texts, query={"match": {"title": "quick dog"}})
    assert ids(response) == ["3", "2", "1"]
    assert scores(response)["3"] == pytest.approx(0.998353, rel=1e-5)
    assert scores(response)["2"] == pytest.approx(0.499176, rel=1e-5)
    assert scores(response)["1"] == pytest.approx(0.420817, rel=1e-5)


def test_operator_and_requires_all_terms(es: Elasticsearch, texts: str) -> None:
    """`operator: and` requires every analysed term.

    https://www.elastic.co/docs/reference/query-languages/query-dsl/query-dsl-match-query#match-field-params
    """
    response = es.search(index=texts, query={"match": {"title": {"query": "quick dog", "operator": "and"}}})
    assert ids(response) == ["3"]


def test_match_is_case_insensitive_through_analysis(es: Elasticsearch, texts: str) -> None:
    """The standard analyzer lowercases both documents and query text.

    https://www.elastic.co/docs/reference/text-analysis/analysis-standard-analyzer
    """
    assert ids(es.search(index=texts, query={"match": {"title": "FOX"}})) == ["1"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("fix", ["1"]),  # 3 chars: 1 edit allowed (fix -> fox)
        ("do", []),  # 2 chars: exact only (do != dog)
        ("quikc", ["3", "1"]),  # 5 chars: 1 edit; a transposition counts as one edit
        ("qvikc", []),  # 5 chars: 2 edits needed, only 1 allowed
    ],
)
def test_fuzziness_auto_edit_distances(es: Elasticsearch, texts: str, query: str, expected: list[str]) -> None:
    """`fuzziness: AUTO` allows 0 edits below 3 characters, 1 for 3..5, 2 from 6 on (transpositions on).

    https://www.elastic.co/docs/reference/elasticsearch/rest-apis/common-options#fuzziness
    """
    response = es.search(index=texts, query={"match": {"title": {"query": query, "fuzziness": "AUTO"}}})
    assert ids(response) == expected


def test_fuzziness_auto_two_edits_for_long_terms(es: Elasticsearch, index_prefix: str) -> None:
    """Terms of 6+ characters allow 2 edits with AUTO, not 3.

    https://www.elastic.co/docs/reference/elasticsearch/rest-apis/common-options#fuzziness
    """
    name = f"{index_prefix}-long"
    create(es, name, {"title": {"type": "text"}})
    index_docs(es, name, {"1": {"title": "computer"}})
    two = es.search(index=name, query={"match": {"title": {"query": "komputor", "fuzziness": "AUTO"}}})
    three = es.search(index=name, query={"match": {"title": {"query": "kompotor", "fuzziness": "AUTO"}}})
    assert ids(two) == ["1"]
    assert ids(three) == []


def test_exact_term_outranks_fuzzy_neighbour(es: Elasticsearch, index_prefix: str) -> None:
    """Fuzzy expansions are boosted by similarity, so the exact spelling scores highest.

    https://www.elastic.co/docs/reference/query-languages/query-dsl/query-dsl-fuzzy-query
    """
    name = f"{index_prefix}-fuzzrank"
    create(es, name, {"title": {"type": "text"}})
    index_docs(es, name, {"exact": {"title": "heat"}, "near": {"title": "heap"}})
    response = es.search(index=name, query={"match": {"title": {"query": "heat", "fuzziness": "AUTO"}}})
    assert ids(response) == ["exact", "near"]


def test_match_bool_prefix_treats_last_term_as_prefix(es: Elasticsearch, texts: str) -> None:
    """match_bool_prefix: every term but the last is a term query, the last a prefix query.

    https://www.elastic.co/docs/reference/query-languages/query-dsl/query-dsl-match-bool-prefix-query
    """
    response = es.search(index=texts, query={"match_bool_prefix": {"title": {"query": "quick br", "operator": "and"}}})
    assert ids(response) == ["1"]


def test_multi_match_best_fields_takes_the_best_field(es: Elasticsearch, index_prefix: str) -> None:
    """multi_match best_fields scores a document by its best field (dis_max, tie_breaker 0).

    https://www.elastic.co/docs/reference/query-languages/query-dsl/query-dsl-multi-match-query#type-best-fields
    """
    name = f"{index_prefix}-mm"
    create(es, name, {"a": {"type": "text"}, "b": {"type": "text"}})
    index_docs(es, name, {"1": {"a": "fox", "b": "fox"}, "2": {"a": "fox", "b": "dog"}})
    both = es.search(index=name, query={"multi_match": {"query": "fox", "fields": ["a", "b"]}})
    on_a = scores(es.search(index=name, query={"match": {"a": "fox"}}))
    on_b = scores(es.search(index=name, query={"match": {"b": "fox"}}))
    assert scores(both)["1"] == pytest.approx(max(on_a["1"], on_b["1"]))
    assert scores(both)["2"] == pytest.approx(on_a["2"])


def test_title_search_combination_ranks_exact_title_first(es: Elasticsearch, index_prefix: str) -> None:
    """The API's title search (fuzzy match + bool_prefix + exact keyword term, in should) ranks the exact title first.

    https://www.elastic.co/docs/reference/query-languages/query-dsl/query-dsl-bool-query
    """
    name = f"{index_prefix}-titles"
    create(es, name, {"title": {"type": "text", "fields": {"keyword": {"type": "keyword"}}}})
    index_docs(
        es,
        name,
        {
            "1": {"title": "Toy Story"},
            "2": {"title": "Toy Story 2"},
            "3": {"title": "Story of Toys"},
            "4": {"title": "Heat"},
        },
    )
    response = es.search(
        index=name,
        query={
            "bool": {
                "should": [
                    {"match": {"title": {"query": "Toy Story", "fuzziness": "AUTO"}}},
                    {"match_bool_prefix": {"title": "Toy Story"}},
                    {"term": {"title.keyword": {"value": "Toy Story", "boost": 5}}},
                ]
            }
        },
    )
    assert ids(response)[:2] == ["1", "2"]
    assert "4" not in ids(response)


@pytest.mark.parametrize(
    ("text", "token"),
    [
        ("can't stop", "can't"),  # apostrophe between letters does not split
        ("U.S.A. report", "u.s.a"),  # dots between letters do not split; the trailing dot does
        ("foo_bar baz", "foo_bar"),  # underscore joins (ExtendNumLet)
        ("pi is 3.14", "3.14"),  # dot between digits does not split
        ("spider-man", "man"),  # hyphen splits
    ],
)
def test_standard_tokenizer_word_boundaries(es: Elasticsearch, index_prefix: str, text: str, token: str) -> None:
    """The standard tokenizer follows Unicode word boundaries (UAX #29).

    https://www.elastic.co/docs/reference/text-analysis/analysis-standard-tokenizer
    """
    name = f"{index_prefix}-tok"
    create(es, name, {"t": {"type": "text"}})
    index_docs(es, name, {"1": {"t": text}})
    assert ids(es.search(index=name, query={"term": {"t": token}})) == ["1"]


def test_multi_match_bool_prefix(es: Elasticsearch, index_prefix: str) -> None:
    """multi_match `bool_prefix` runs match_bool_prefix on each field (search-as-you-type over several fields).

    https://www.elastic.co/docs/reference/query-languages/query-dsl/query-dsl-multi-match-query#type-bool-prefix
    """
    name = f"{index_prefix}-mmbp"
    create(es, name, {"title": {"type": "text"}, "tags": {"type": "text"}})
    index_docs(es, name, {"1": {"title": "Jurassic Park", "tags": "dinosaurs"}, "2": {"title": "Heat", "tags": "jury"}})
    response = es.search(
        index=name, query={"multi_match": {"query": "jur", "type": "bool_prefix", "fields": ["title", "tags"]}}
    )
    assert sorted(ids(response)) == ["1", "2"]


def test_multi_match_bool_prefix_refuses_slop(es: Elasticsearch, texts: str) -> None:
    """`slop` has no meaning for bool_prefix: a 400 naming it (slop 0, the default, is accepted).

    rest-api-spec/src/yamlRestTest/resources/rest-api-spec/test/search/310_match_bool_prefix.yml
    ("multi_match multiple fields with slop throws exception")
    """
    query = {"multi_match": {"query": "brown", "type": "bool_prefix", "fields": ["title"], "slop": 1}}
    error = expect_error(lambda: es.search(index=texts, query=query), 400)
    assert "[slop] not allowed for type [bool_prefix]" in reasons(error)
    query["multi_match"]["slop"] = 0
    assert ids(es.search(index=texts, query=query)) == ["1"]
