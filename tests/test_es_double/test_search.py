"""Search: queries, pagination, sorting, totals, _source and fields, errors."""

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

PROPS = {
    "movie_id": {"type": "integer"},
    "title": {"type": "text", "fields": {"keyword": {"type": "keyword"}}},
    "genres": {"type": "keyword"},
    "rating": {"type": "float"},
    "year": {"type": "short"},
    "released": {"type": "date"},
    "obj": {"properties": {"a": {"type": "keyword"}, "b": {"type": "keyword"}}},
}
DOCS = {
    "1": {
        "movie_id": 1,
        "title": "Toy Story",
        "genres": ["Animation", "Comedy"],
        "rating": 4.5,
        "year": 1995,
        "released": "1995-11-22",
        "obj": {"a": "x", "b": "y"},
    },
    "2": {
        "movie_id": 2,
        "title": "Heat",
        "genres": ["Action", "Crime"],
        "rating": 4.0,
        "year": 1995,
        "released": "1995-12-15",
    },
    "3": {"movie_id": 3, "title": "Jumanji", "genres": ["Adventure"], "rating": 3.5, "year": 1995},
    "4": {"movie_id": 4, "title": "Se7en", "genres": ["Crime"], "year": 1995, "released": "1995-09-22"},
    "5": {
        "movie_id": 5,
        "title": "Toy Soldiers",
        "genres": ["Action"],
        "rating": 2.5,
        "year": 1991,
        "released": "1991-04-26",
    },
}


@pytest.fixture
def movies(es: Elasticsearch, index_prefix: str) -> str:
    name = f"{index_prefix}-movies"
    create(es, name, PROPS)
    index_docs(es, name, DOCS)
    return name


def test_match_all_scores_one_and_counts_all(es: Elasticsearch, movies: str) -> None:
    """match_all gives every document `_score` 1.0; the total is exact below 10,000.

    https://www.elastic.co/docs/reference/query-languages/query-dsl/query-dsl-match-all-query
    """
    response = es.search(index=movies, query={"match_all": {}})
    assert response["hits"]["total"] == {"value": 5, "relation": "eq"}
    assert {hit["_score"] for hit in response["hits"]["hits"]} == {1.0}
    assert response["hits"]["max_score"] == 1.0
    assert response["_shards"]["failed"] == 0 and response["timed_out"] is False


def test_default_size_is_ten_and_from_paginates(es: Elasticsearch, movies: str) -> None:
    """`from`/`size` page through hits (size defaults to 10).

    https://www.elastic.co/docs/reference/elasticsearch/rest-apis/paginate-search-results
    """
    page1 = es.search(index=movies, sort=[{"movie_id": "asc"}], size=2)
    page2 = es.search(index=movies, sort=[{"movie_id": "asc"}], size=2, from_=2)
    assert ids(page1) == ["1", "2"]
    assert ids(page2) == ["3", "4"]


def test_result_window_limit(es: Elasticsearch, movies: str) -> None:
    """from + size above `index.max_result_window` (10,000) is refused.

    https://www.elastic.co/docs/reference/elasticsearch/index-settings/index-modules#index-max-result-window
    """
    error = expect_error(lambda: es.search(index=movies, from_=9995, size=10), 400)
    assert error_body(error)["type"] == "search_phase_execution_exception"
    assert any(
        r.startswith("Result window is too large, from + size must be less than or equal to: [10000] but was [10005].")
        for r in reasons(error)
    )


def test_sort_by_field_with_missing_last(es: Elasticsearch, movies: str) -> None:
    """Field sort: missing values go last; hits carry `sort` values and a null `_score`.

    https://www.elastic.co/docs/reference/elasticsearch/rest-apis/sort-search-results
    """
    response = es.search(index=movies, sort=[{"rating": "desc"}])
    assert ids(response) == ["1", "2", "3", "5", "4"]
    assert response["hits"]["hits"][0]["sort"] == [4.5]
    assert response["hits"]["hits"][0]["_score"] is None
    assert response["hits"]["max_score"] is None


def test_sort_by_keyword_then_id_tie_break(es: Elasticsearch, movies: str) -> None:
    """Keyword sort is lexicographic; multi-valued fields use min for asc.

    https://www.elastic.co/docs/reference/elasticsearch/rest-apis/sort-search-results#_sort_mode_option
    """
    response = es.search(index=movies, sort=[{"genres": "asc"}, {"movie_id": "asc"}])
    assert ids(response) == ["2", "5", "3", "1", "4"]
    assert response["hits"]["hits"][0]["sort"] == ["Action", 2]


def test_sort_on_text_field_is_refused(es: Elasticsearch, movies: str) -> None:
    """Sorting on a text field fails: fielddata is disabled on text fields.

    https://www.elastic.co/docs/reference/elasticsearch/mapping-reference/text#fielddata-mapping-param
    """
    error = expect_error(lambda: es.search(index=movies, sort=["title"]), 400)
    assert any(
        r.startswith("Text fields are not optimised for operations that require per-document field data")
        for r in reasons(error)
    )


def test_track_total_hits_false_omits_total(es: Elasticsearch, movies: str) -> None:
    """`track_total_hits: false` leaves `hits.total` out.

    https://www.elastic.co/docs/reference/elasticsearch/rest-apis/search-api#track-total-hits
    """
    response = es.search(index=movies, track_total_hits=False)
    assert "total" not in response["hits"]


def test_track_total_hits_cap(es: Elasticsearch, movies: str) -> None:
    """An integer `track_total_hits` caps the count with relation `gte`.

    https://www.elastic.co/docs/reference/elasticsearch/rest-apis/search-api#track-total-hits
    """
    response = es.search(index=movies, track_total_hits=3)
    assert response["hits"]["total"] == {"value": 3, "relation": "gte"}


def test_bool_filter_and_must_not(es: Elasticsearch, movies: str) -> None:
    """bool filter/must_not select without scoring (score 0.0).

    https://www.elastic.co/docs/reference/query-languages/query-dsl/query-dsl-bool-query
    """
    response = es.search(
        index=movies,
        query={"bool": {"filter": [{"term": {"year": 1995}}], "must_not": [{"term": {"genres": "Crime"}}]}},
    )
    assert sorted(ids(response)) == ["1", "3"]
    assert {hit["_score"] for hit in response["hits"]["hits"]} == {0.0}


def test_bool_should_default_minimum_should_match(es: Elasticsearch, movies: str) -> None:
    """With a filter present, should clauses are optional (minimum_should_match defaults to 0).

    https://www.elastic.co/docs/reference/query-languages/query-dsl/query-dsl-bool-query#bool-min-should-match
    """
    response = es.search(
        index=movies, query={"bool": {"filter": [{"term": {"year": 1995}}], "should": [{"term": {"genres": "Comedy"}}]}}
    )
    assert len(ids(response)) == 4
    assert ids(response)[0] == "1"


def test_bool_only_should_requires_one(es: Elasticsearch, movies: str) -> None:
    """Without must/filter, at least one should clause must match.

    https://www.elastic.co/docs/reference/query-languages/query-dsl/query-dsl-bool-query#bool-min-should-match
    """
    response = es.search(
        index=movies, query={"bool": {"should": [{"term": {"genres": "Comedy"}}, {"term": {"genres": "Adventure"}}]}}
    )
    assert sorted(ids(response)) == ["1", "3"]


def test_minimum_should_match_percentage(es: Elasticsearch, movies: str) -> None:
    """`minimum_should_match: "75%"` of 3 clauses rounds down to 2.

    https://www.elastic.co/docs/reference/query-languages/query-dsl/query-dsl-minimum-should-match
    """
    response = es.search(
        index=movies,
        query={
            "bool": {
                "minimum_should_match": "75%",
                "should": [
                    {"term": {"genres": "Action"}},
                    {"term": {"genres": "Crime"}},
                    {"term": {"genres": "Comedy"}},
                ],
            }
        },
    )
    assert ids(response) == ["2"]


def test_terms_query_is_constant_score(es: Elasticsearch, movies: str) -> None:
    """terms matches any of the values, with a constant score of 1.0.

    https://www.elastic.co/docs/reference/query-languages/query-dsl/query-dsl-terms-query
    """
    response = es.search(index=movies, query={"terms": {"movie_id": [1, 3, 99]}})
    assert sorted(ids(response)) == ["1", "3"]
    assert {hit["_score"] for hit in response["hits"]["hits"]} == {1.0}


def test_terms_lookup_fetches_values_from_a_document(es: Elasticsearch, movies: str, index_prefix: str) -> None:
    """Terms lookup takes the values at `path` of the document `id` in `index`.

    https://www.elastic.co/docs/reference/query-languages/query-dsl/query-dsl-terms-query#query-dsl-terms-lookup
    """
    users = f"{index_prefix}-users"
    create(es, users, {"rated_movie_ids": {"type": "integer"}})
    es.index(index=users, id="u1", document={"rated_movie_ids": [2, 4]})
    query = {"bool": {"must_not": [{"terms": {"movie_id": {"index": users, "id": "u1", "path": "rated_movie_ids"}}}]}}
    assert sorted(ids(es.search(index=movies, query=query))) == ["1", "3", "5"]


def test_terms_lookup_of_missing_document_matches_nothing(es: Elasticsearch, movies: str, index_prefix: str) -> None:
    """A terms lookup whose document does not exist matches no document.

    https://www.elastic.co/docs/reference/query-languages/query-dsl/query-dsl-terms-query#query-dsl-terms-lookup
    """
    users = f"{index_prefix}-users2"
    create(es, users, {"rated_movie_ids": {"type": "integer"}})
    query = {"terms": {"movie_id": {"index": users, "id": "nobody", "path": "rated_movie_ids"}}}
    assert es.search(index=movies, query=query)["hits"]["total"]["value"] == 0


def test_range_on_numbers_and_dates(es: Elasticsearch, movies: str) -> None:
    """range with gt/gte/lt/lte on numbers and dates (date strings in the field's format).

    https://www.elastic.co/docs/reference/query-languages/query-dsl/query-dsl-range-query
    """
    numeric = es.search(index=movies, query={"range": {"rating": {"gt": 3.5, "lte": 4.5}}})
    dates = es.search(index=movies, query={"range": {"released": {"gte": "1995-10-01", "lt": "1996-01-01"}}})
    assert sorted(ids(numeric)) == ["1", "2"]
    assert sorted(ids(dates)) == ["1", "2"]


def test_range_on_float_field_uses_float_precision(es: Elasticsearch, movies: str, index_prefix: str) -> None:
    """Bounds are converted to the field's type: lte 0.1 matches a float field holding 0.1.

    https://www.elastic.co/docs/reference/elasticsearch/mapping-reference/number
    """
    name = f"{index_prefix}-floats"
    create(es, name, {"p": {"type": "float"}})
    index_docs(es, name, {"a": {"p": 0.1}})
    assert es.count(index=name, query={"range": {"p": {"lte": 0.1}}})["count"] == 1


def test_date_math_in_range(es: Elasticsearch, movies: str) -> None:
    """Date math (`||+1M/M`) in range bounds; `lte` rounds up to the end of the unit.

    https://www.elastic.co/docs/reference/elasticsearch/rest-apis/common-options#date-math
    """
    response = es.search(index=movies, query={"range": {"released": {"gte": "1995-11-01", "lte": "1995-11-01||/M"}}})
    assert ids(response) == ["1"]


def test_exists_query(es: Elasticsearch, movies: str) -> None:
    """exists matches documents with an indexed value for the field (objects: any sub-field).

    https://www.elastic.co/docs/reference/query-languages/query-dsl/query-dsl-exists-query
    """
    assert sorted(ids(es.search(index=movies, query={"exists": {"field": "rating"}}))) == ["1", "2", "3", "5"]
    assert ids(es.search(index=movies, query={"exists": {"field": "obj"}})) == ["1"]


def test_ids_query(es: Elasticsearch, movies: str) -> None:
    """ids matches by document id.

    https://www.elastic.co/docs/reference/query-languages/query-dsl/query-dsl-ids-query
    """
    assert sorted(ids(es.search(index=movies, query={"ids": {"values": ["4", "2", "nope"]}}))) == ["2", "4"]


def test_term_on_keyword_subfield(es: Elasticsearch, movies: str) -> None:
    """term on `title.keyword` matches the exact title, not a token.

    https://www.elastic.co/docs/reference/query-languages/query-dsl/query-dsl-term-query
    """
    assert ids(es.search(index=movies, query={"term": {"title.keyword": "Toy Story"}})) == ["1"]
    assert ids(es.search(index=movies, query={"term": {"title.keyword": "toy story"}})) == []


def test_term_on_text_is_not_analyzed(es: Elasticsearch, movies: str) -> None:
    """term on a text field looks for the exact token: "Heat" finds nothing, "heat" finds the doc.

    https://www.elastic.co/docs/reference/query-languages/query-dsl/query-dsl-term-query#avoid-term-query-text-fields
    """
    assert ids(es.search(index=movies, query={"term": {"title": "Heat"}})) == []
    assert ids(es.search(index=movies, query={"term": {"title": "heat"}})) == ["2"]


def test_source_filtering_in_search(es: Elasticsearch, movies: str) -> None:
    """`_source` accepts false, a list of patterns, or includes/excludes with wildcards.

    https://www.elastic.co/docs/reference/elasticsearch/rest-apis/retrieve-selected-fields#source-filtering
    """
    query = {"ids": {"values": ["1"]}}
    assert "_source" not in es.search(index=movies, query=query, source=False)["hits"]["hits"][0]
    assert es.search(index=movies, query=query, source=["title", "obj.a"])["hits"]["hits"][0]["_source"] == {
        "title": "Toy Story",
        "obj": {"a": "x"},
    }
    assert es.search(index=movies, query=query, source={"includes": ["obj.*"], "excludes": ["*.b"]})["hits"]["hits"][0][
        "_source"
    ] == {"obj": {"a": "x"}}


def test_fields_option_returns_arrays(es: Elasticsearch, movies: str) -> None:
    """`fields` returns arrays of typed values; dates in the field's format.

    https://www.elastic.co/docs/reference/elasticsearch/rest-apis/retrieve-selected-fields#search-fields-param
    """
    hit = es.search(index=movies, query={"ids": {"values": ["1"]}}, fields=["genres", "year", "released"])["hits"][
        "hits"
    ][0]
    assert hit["fields"]["genres"] == ["Animation", "Comedy"]
    assert hit["fields"]["year"] == [1995]
    assert hit["fields"]["released"] == ["1995-11-22T00:00:00.000Z"]


def test_min_score_filters_hits(es: Elasticsearch, movies: str) -> None:
    """`min_score` drops hits scoring below it (and from the total).

    https://www.elastic.co/docs/reference/elasticsearch/rest-apis/search-api#search-api-min-score
    """
    response = es.search(
        index=movies,
        min_score=1.5,
        query={
            "bool": {
                "should": [
                    {"constant_score": {"filter": {"term": {"genres": "Action"}}, "boost": 2.0}},
                    {"constant_score": {"filter": {"term": {"genres": "Crime"}}, "boost": 1.0}},
                ]
            }
        },
    )
    assert sorted(ids(response)) == ["2", "5"]
    assert response["hits"]["total"]["value"] == 2


def test_count_api(es: Elasticsearch, movies: str) -> None:
    """`_count` returns the number of matching documents.

    https://www.elastic.co/docs/api/doc/elasticsearch/operation/operation-count
    """
    assert es.count(index=movies, query={"term": {"genres": "Crime"}})["count"] == 2


def test_unknown_query_is_a_parsing_exception(es: Elasticsearch, movies: str) -> None:
    """An unknown query name: 400 `parsing_exception` "unknown query [x]".

    https://www.elastic.co/docs/reference/query-languages/querydsl
    """
    error = expect_error(lambda: es.search(index=movies, query={"fancy_match": {"title": "toy"}}), 400)
    assert error_body(error)["type"] == "parsing_exception"
    assert error_body(error)["reason"] == "unknown query [fancy_match]"


def test_unknown_parameter_in_query_is_a_parsing_exception(es: Elasticsearch, movies: str) -> None:
    """An unknown parameter inside a known query: `parsing_exception` "[term] query does not support [x]".

    https://www.elastic.co/docs/reference/query-languages/query-dsl/query-dsl-term-query
    """
    error = expect_error(lambda: es.search(index=movies, query={"term": {"genres": {"value": "x", "fuzz": 1}}}), 400)
    assert error_body(error)["type"] == "parsing_exception"
    assert error_body(error)["reason"] == "[term] query does not support [fuzz]"


def test_unknown_top_level_key_is_rejected(es: Elasticsearch, movies: str) -> None:
    """An unknown search body key is a `parsing_exception`.

    https://www.elastic.co/docs/api/doc/elasticsearch/operation/operation-search
    """
    error = expect_error(lambda: es.search(index=movies, body={"qeury": {"match_all": {}}}), 400)
    assert error_body(error)["type"] == "parsing_exception"
    assert "qeury" in error_body(error)["reason"]


def test_search_over_missing_index_and_wildcards(es: Elasticsearch, movies: str, index_prefix: str) -> None:
    """A missing concrete index is 404; a wildcard matching nothing is an empty result.

    https://www.elastic.co/docs/reference/elasticsearch/rest-apis/api-conventions#api-multi-index
    """
    expect_error(lambda: es.search(index=f"{index_prefix}-nothing"), 404)
    assert es.search(index=f"{index_prefix}-nothing*")["hits"]["total"]["value"] == 0
    assert es.search(index=f"{index_prefix}-mov*")["hits"]["total"]["value"] == 5


def test_malformed_date_in_range_is_a_shard_failure(es: Elasticsearch, movies: str) -> None:
    """A bound that cannot be parsed fails the shard: `search_phase_execution_exception` 400.

    https://www.elastic.co/docs/reference/query-languages/query-dsl/query-dsl-range-query
    """
    error = expect_error(lambda: es.search(index=movies, query={"range": {"released": {"gte": "soon"}}}), 400)
    assert error_body(error)["type"] == "search_phase_execution_exception"
    assert any(
        r.startswith("failed to parse date field [soon] with format [strict_date_optional_time||epoch_millis]")
        for r in reasons(error)
    )
    assert "elasticsearch_parse_exception" in types(error)


def test_total_hits_are_counted_up_to_10000_by_default(es: Elasticsearch, index_prefix: str) -> None:
    """By default the total is exact up to 10,000, then reported as `gte` 10000.

    https://www.elastic.co/docs/reference/elasticsearch/rest-apis/search-api#track-total-hits
    """
    from elasticsearch import helpers

    name = f"{index_prefix}-many"
    create(es, name, {"n": {"type": "integer"}})
    helpers.bulk(
        es, ({"_index": name, "_id": str(i), "n": i} for i in range(10_001)), chunk_size=2000, refresh="wait_for"
    )
    assert es.search(index=name, size=0)["hits"]["total"] == {"value": 10000, "relation": "gte"}
    assert es.search(index=name, size=0, track_total_hits=True)["hits"]["total"] == {"value": 10001, "relation": "eq"}


def test_term_query_long_form_accepts_term_as_value(es: Elasticsearch, movies: str) -> None:
    """`{"term": {"f": {"term": v}}}` is the same query as `{"value": v}`.

    elastic/elasticsearch server/src/main/java/org/elasticsearch/index/query/TermQueryBuilder.java
    (fromXContent reads TERM_FIELD "term" and VALUE_FIELD "value" alike)
    """
    assert ids(es.search(index=movies, query={"term": {"genres": {"term": "Crime", "boost": 2.0}}})) == ["2", "4"]


def test_range_bounds_beyond_float_range_are_clamped(es: Elasticsearch, index_prefix: str) -> None:
    """A bound beyond a float/half_float field's range matches up to the field's limit (8.14+).

    rest-api-spec/src/yamlRestTest/resources/rest-api-spec/test/search/510_range_query_out_of_bounds.yml
    """
    name = f"{index_prefix}-bounds"
    create(es, name, {"half_float_field": {"type": "half_float"}, "float_field": {"type": "float"}})
    index_docs(
        es,
        name,
        {
            "min_boundary_doc": {"half_float_field": -65504, "float_field": -3.4028235e38},
            "max_boundary_doc": {"half_float_field": 65504, "float_field": 3.4028235e38},
            "1": {"half_float_field": -1, "float_field": -1},
            "2": {"half_float_field": 1, "float_field": 1},
        },
    )
    for field in ("half_float_field", "float_field"):
        upper = es.search(index=name, query={"range": {field: {"lte": 1e300, "gt": 0}}}, sort=[field])
        lower = es.search(index=name, query={"range": {field: {"gte": -1e300, "lt": 0}}}, sort=[field])
        assert ids(upper) == ["2", "max_boundary_doc"], field
        assert ids(lower) == ["min_boundary_doc", "1"], field
    below_max = es.search(index=name, query={"range": {"half_float_field": {"lt": 65504, "gt": 0}}})
    assert ids(below_max) == ["2"]


def test_rest_total_hits_as_int_needs_accurate_tracking(es: Elasticsearch, movies: str) -> None:
    """An integer total needs exact counting: a numeric track_total_hits is a 400, `false` gives -1.

    rest-api-spec/src/yamlRestTest/resources/rest-api-spec/test/search/220_total_hits_object.yml
    ("hits.total as an object", "track_total_hits with rest_total_hits_as_int")
    """
    error = expect_error(
        lambda: es.search(index=movies, rest_total_hits_as_int=True, track_total_hits=100, query={"match_all": {}}),
        400,
    )
    assert error_body(error)["type"] == "illegal_argument_exception"
    assert error_body(error)["reason"] == (
        "[rest_total_hits_as_int] cannot be used if the tracking of total hits is not accurate, got 100"
    )
    untracked = es.search(index=movies, rest_total_hits_as_int=True, track_total_hits=False)
    assert untracked["hits"]["total"] == -1
    assert es.search(index=movies, rest_total_hits_as_int=True)["hits"]["total"] == 5


@pytest.fixture
def ages(es: Elasticsearch, index_prefix: str) -> str:
    """The documents of search/90_search_after.yml ("search with search_after parameter")."""
    name = f"{index_prefix}-ages"
    create(es, name, {"id": {"type": "long"}, "foo": {"type": "keyword"}, "age": {"type": "long"}})
    index_docs(
        es,
        name,
        {"1": {"id": 1, "foo": "bar", "age": 18}, "42": {"id": 42, "foo": "bar", "age": 18},
         "172": {"id": 172, "foo": "bar", "age": 24}},
    )
    return name


def test_search_after_pages_with_a_tiebreaker(es: Elasticsearch, ages: str) -> None:
    """Each page starts strictly after the previous page's last sort values; totals count every match.

    rest-api-spec/src/yamlRestTest/resources/rest-api-spec/test/search/90_search_after.yml
    ("search with search_after parameter")
    """
    sort = [{"age": "desc"}, {"id": "desc"}]
    pages, after = [], None
    while True:
        extra = {} if after is None else {"search_after": after}
        response = es.search(index=ages, size=1, query={"term": {"foo": "bar"}}, sort=sort, **extra)
        assert response["hits"]["total"]["value"] == 3
        if not response["hits"]["hits"]:
            break
        hit = response["hits"]["hits"][0]
        pages.append((hit["_id"], hit["sort"]))
        after = hit["sort"]
    assert pages == [("172", [24, 172]), ("42", [18, 42]), ("1", [18, 1])]


def test_search_after_skips_hits_tied_on_every_sort_value(es: Elasticsearch, ages: str) -> None:
    """Without a tiebreaker, hits equal to `search_after` on all sort values are skipped (Lucene's paging
    collector; Elasticsearch builds `after` with doc Integer.MAX_VALUE), which is why sorts need a tiebreaker.

    https://www.elastic.co/docs/reference/elasticsearch/rest-apis/paginate-search-results#search-after
    """
    response = es.search(index=ages, sort=[{"age": "desc"}], search_after=[24])
    assert sorted(ids(response)) == ["1", "42"]
    assert ids(es.search(index=ages, sort=[{"age": "desc"}], search_after=[18])) == []


def test_search_after_validation(es: Elasticsearch, ages: str) -> None:
    """`from` > 0 is refused by request validation; a value count unlike the sort's fails on the shards.

    elastic/elasticsearch SearchRequest.validate ("[from] parameter must be set to 0 when [search_after] is
    used"); SearchAfterBuilder.buildFieldDoc ("search_after has 1 value(s) but sort has 2.")
    """
    sort = [{"age": "desc"}, {"id": "desc"}]
    error = expect_error(lambda: es.search(index=ages, sort=sort, search_after=[24, 172], from_=1), 400)
    assert error_body(error)["type"] == "action_request_validation_exception"
    assert error_body(error)["reason"] == (
        "Validation Failed: 1: [from] parameter must be set to 0 when [search_after] is used;"
    )
    error = expect_error(lambda: es.search(index=ages, sort=sort, search_after=[24]), 400)
    assert error_body(error)["type"] == "search_phase_execution_exception"
    assert "search_after has 1 value(s) but sort has 2." in reasons(error)
