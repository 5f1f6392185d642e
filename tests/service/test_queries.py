"""The query builders, compared as dicts with the bodies DESIGN.md prescribes."""

from __future__ import annotations

import pytest

from service import queries
from service.queries import Filters, SeenLookup, VectorSearch

FIELDS = list(queries.MOVIE_FIELDS)


def test_movie_filter_all_clauses():
    f = Filters(genres=("Comedy", "Drama"), exclude_genres=("Horror",), min_rating=3.5, min_ratings=20,
                min_popularity=0.5, year_from=1990, year_to=1999)
    got = queries.movie_filter(f, seen=SeenLookup("movierec-users", 7), exclude_ids=[5, 3, 5])
    assert got == {
        "bool": {
            "filter": [
                {"terms": {"genres": ["Comedy", "Drama"]}},
                {"range": {"bayes_rating": {"gte": 3.5}}},
                {"range": {"rating_count": {"gte": 20}}},
                {"range": {"popularity": {"gte": 0.5}}},
                {"range": {"year": {"gte": 1990, "lte": 1999}}},
            ],
            "must_not": [
                {"terms": {"genres": ["Horror"]}},
                {"terms": {"movie_id": {"index": "movierec-users", "id": "7", "path": "rated_movie_ids"}}},
                {"terms": {"movie_id": [3, 5]}},
            ],
        }
    }


def test_movie_filter_empty_is_none_and_open_year_range():
    assert queries.movie_filter(Filters()) is None
    assert queries.movie_filter(Filters(year_to=1980)) == {"bool": {"filter": [{"range": {"year": {"lte": 1980}}}]}}


def test_filters_from_api_args():
    f = Filters.from_args({"genre": ["A"], "exclude_genre": None, "min_rating": 4.0, "k": 10})
    assert f == Filters(genres=("A",), min_rating=4.0)


def test_knn_body_with_prefilter():
    filt = {"bool": {"filter": [{"terms": {"genres": ["Comedy"]}}]}}
    body = queries.vector_search(VectorSearch(field="factors", vector=[1, 0.5], k=5, filter=filt))
    assert body == {
        "knn": {"field": "factors", "query_vector": [1.0, 0.5], "k": 5, "num_candidates": 100, "filter": filt},
        "size": 5,
        "_source": FIELDS,
    }


def test_default_num_candidates():
    assert [queries.default_num_candidates(k) for k in (1, 10, 11, 100, 5000)] == [100, 100, 110, 1000, 10000]


def test_exact_body_maps_dot_through_max_inner_product_transform():
    body = queries.vector_search(VectorSearch(field="factors", vector=[1, 2], k=3, mode="exact"))
    assert body == {
        "size": 3,
        "query": {
            "script_score": {
                "query": {"bool": {"filter": [{"exists": {"field": "factors"}}, {"match_all": {}}]}},
                "script": {
                    "source": "double d = dotProduct(params.query_vector, 'factors'); "
                    "double s = d < 0 ? 1 / (1 - d) : d + 1; return s;",
                    "params": {"query_vector": [1.0, 2.0]},
                },
            }
        },
        "_source": FIELDS,
    }


def test_exact_on_unit_vectors_uses_dot_product_score():
    body = queries.vector_search(
        VectorSearch(field="factors_unit", vector=[0.6, 0.8], similarity="dot_product", mode="exact", k=2)
    )
    script = body["query"]["script_score"]["script"]["source"]
    assert script == "double s = (1 + dotProduct(params.query_vector, 'factors_unit')) / 2; return s;"


def test_blend_wraps_knn_query_in_script_score_with_params():
    filt = {"bool": {"must_not": [{"terms": {"movie_id": [1]}}]}}
    body = queries.vector_search(VectorSearch(field="factors", vector=[1.0], k=4, blend=0.25, filter=filt))
    assert body == {
        "size": 4,
        "query": {
            "script_score": {
                "query": {"knn": {"field": "factors", "query_vector": [1.0], "k": 20, "num_candidates": 100,
                                  "filter": filt}},
                "script": {"source": queries.BLEND_SCRIPT, "params": {"blend": 0.25, "rating_scale": 5.0}},
            }
        },
        "_source": FIELDS,
    }


def test_exact_blend_params_and_script():
    body = queries.vector_search(VectorSearch(field="factors", vector=[1.0], k=4, blend=0.5, mode="exact"))
    script = body["query"]["script_score"]["script"]
    assert script["params"] == {"query_vector": [1.0], "blend": 0.5, "rating_scale": 5.0}
    assert script["source"].endswith(
        "return s * ((1.0 - params.blend) + params.blend * Math.min(b, params.rating_scale) / params.rating_scale);"
    )


@pytest.mark.parametrize(
    "kwargs",
    [{"k": 0}, {"mode": "fast"}, {"similarity": "cosine"}, {"blend": 1.5}, {"k": 10, "num_candidates": 5},
     {"num_candidates": 10001}],
)
def test_vector_search_rejects_bad_options(kwargs):
    with pytest.raises(ValueError):
        VectorSearch(field="factors", vector=[1.0], **kwargs)


def test_scripts_never_contain_caller_values():
    nasty = "x'); return 1e9; //"
    q = VectorSearch(field="factors", vector=[1.0], k=2, blend=0.3, mode="exact",
                     filter=queries.movie_filter(Filters(genres=(nasty,))))
    body = queries.vector_search(q)
    assert nasty not in body["query"]["script_score"]["script"]["source"]
    assert body["query"]["script_score"]["query"]["bool"]["filter"][1] == {"bool": {"filter": [{"terms": {"genres": [nasty]}}]}}


def test_knn_score_formulas():
    assert queries.knn_score("max_inner_product", 2.0) == 3.0
    assert queries.knn_score("max_inner_product", -1.0) == 0.5
    assert queries.knn_score("dot_product", 0.5) == 0.75
    assert queries.blend_factor(4.0, 0.5) == pytest.approx(0.9)
    assert queries.blend_factor(None, 1.0) == 0.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [("Heat (1995)", ("Heat", 1995)), ("  Heat ( 1995 ) ", ("Heat", 1995)), ("Heat", ("Heat", None)),
     ("toy story 1995", ("toy story", 1995)), ("1995 toy story", ("toy story", 1995)),
     ("Star Wars 1977 ", ("Star Wars", 1977)), ("(1995)", ("(1995)", None)), ("1984", ("1984", None)),
     ("2001: A Space Odyssey", ("A Space Odyssey", 2001)), ("2001 a space odyssey 1968", ("2001 a space odyssey", 1968)),
     ("Apollo 13", ("Apollo 13", None)), ("Blade Runner 2049", ("Blade Runner", 2049)), ("R2D2 1977", ("R2D2", 1977))],
)
def test_split_year_hint(text, expected):
    assert queries.split_year_hint(text) == expected


TITLE_SOURCE = [*FIELDS, "popularity"]
SCRIPT = {"source": queries.TITLE_SCORE_SCRIPT, "params": {"popularity_weight": 0.9}}


CLOSE = {"fuzziness": "AUTO:4,8", "prefix_length": 1}  # strict matching and the quality tiers
LOOSE = {"fuzziness": "AUTO"}  # search as you type: ES's default AUTO (3,6), any first letter


def _reading(words: str, operator: str, year: int | None = None) -> dict:
    def every(op: str, fuzzy: dict) -> dict:
        return {"bool": {"should": [
            {"match": {"title": {"query": words, **fuzzy, "operator": op}}},
            {"match_bool_prefix": {"title": {"query": words, "operator": op}}},
        ], "minimum_should_match": 1}}

    tiers = [
        {"constant_score": {"filter": {"match": {"title.exact": {"query": words}}}, "boost": 16.0}},
        {"constant_score": {"filter": {"match_phrase": {"title": {"query": words}}}, "boost": 8.0}},
        {"constant_score": {"filter": {"match": {"title": {"query": words, "operator": "and"}}}, "boost": 4.0}},
        {"constant_score": {"filter": every("and", CLOSE), "boost": 2.0}},
        {"constant_score": {"filter": {"match": {"title": {"query": words, **CLOSE,
                                                           "minimum_should_match": "50%"}}}, "boost": 1.0}},
    ]
    if year is not None:
        tiers.append({"constant_score": {"filter": {"term": {"year": year}}, "boost": 32.0}})
    required = every(operator, CLOSE if operator == "and" else LOOSE)
    return {"bool": {"must": [{"constant_score": {"filter": required, "boost": 1.0}}], "should": tiers}}


def test_title_search_strict_reads_the_text_with_and_without_its_year():
    body = queries.title_search("Heat  (1995)", strict=True, size=6)
    assert body == {
        "size": 6,
        "query": {"script_score": {
            "query": {"dis_max": {"queries": [_reading("Heat (1995)", "and"), _reading("Heat", "and", 1995)]}},
            "script": SCRIPT,
        }},
        "_source": TITLE_SOURCE,
    }


def test_title_search_loose_with_filters():
    body = queries.title_search("toy sto", strict=False, genres=["Animation"], year=1995)
    assert body == {
        "size": 10,
        "query": {"script_score": {
            "query": {"bool": {"must": [_reading("toy sto", "or")],
                               "filter": [{"terms": {"genres": ["Animation"]}}, {"term": {"year": 1995}}]}},
            "script": SCRIPT,
        }},
        "_source": TITLE_SOURCE,
    }


@pytest.mark.parametrize(
    ("scores", "confident"),
    [
        ([], False),
        ([2.3], True),  # one hit matching half the words
        ([1.9], False),  # any word only: popularity alone is no confidence
        ([32.4, 16.9], True),  # the whole title against a phrase
        ([16.2, 16.8], False),  # two phrases apart only by popularity
        ([4.1, 2.89], True),
    ],
)
def test_confident_title(scores, confident):
    assert queries.confident_title([{"_score": s} for s in scores]) is confident


def test_browse_and_lookups():
    assert queries.browse_movies(size=3, offset=6, genres=["Drama"]) == {
        "size": 3,
        "from": 6,
        "query": {"bool": {"filter": [{"terms": {"genres": ["Drama"]}}]}},
        "sort": [{"rating_count": {"order": "desc"}}, {"movie_id": {"order": "asc"}}],
        "_source": FIELDS,
    }
    assert queries.movies_by_ids([3, 1, 3], vectors=["factors"], fields=("movie_id",)) == {
        "size": 2,
        "query": {"terms": {"movie_id": [1, 3]}},
        "_source": {"includes": ["movie_id", "factors"], "exclude_vectors": False},
    }
    assert queries.user_ratings(9, size=2, after=40) == {
        "size": 2,
        "query": {"term": {"user_id": 9}},
        "sort": [{"movie_id": {"order": "asc"}}],
        "_source": ["movie_id", "rating", "rated_at"],
        "search_after": [40],
    }


def test_user_filter():
    assert queries.user_filter() is None
    assert queries.user_filter(gender="F", occupation="writer", not_rated=12) == {
        "bool": {
            "filter": [{"term": {"gender": "F"}}, {"term": {"occupation": "writer"}}],
            "must_not": [{"term": {"rated_movie_ids": 12}}],
        }
    }


def test_genre_counts_overall_and_for_a_profile():
    assert queries.genre_counts(size=5) == {"size": 0, "aggs": {"genres": {"terms": {"field": "genres", "size": 5}}}}
    assert queries.genre_counts({"gender": "F", "age_band": "18-24"}) == {
        "size": 0,
        "aggs": {"genres": {"terms": {"field": "genres", "size": 50}}},
        "query": {"bool": {"filter": [{"term": {"age_band": "18-24"}}, {"term": {"gender": "F"}}]}},
        "track_total_hits": True,
    }


def test_genre_list_counts_movies_per_genre_most_common_first():
    order = [{"_count": "desc"}, {"_key": "asc"}]
    assert queries.genre_list() == {
        "size": 0,
        "aggs": {"genres": {"terms": {"field": "genres", "size": 100, "order": order}}},
    }
    assert queries.genre_list(size=7)["aggs"]["genres"]["terms"]["size"] == 7


def test_cold_start_genre_boosts_as_constant_score_clauses():
    body = queries.cold_start(k=3, genre_weights={"Sci-Fi": 1.0, "Drama": 0.5, "Horror": 0.0},
                              filters=Filters(min_ratings=10))
    assert body == {
        "size": 3,
        "query": {
            "script_score": {
                "query": {"bool": {
                    "filter": [{"bool": {"filter": [{"range": {"rating_count": {"gte": 10}}}]}}],
                    "should": [
                        {"constant_score": {"filter": {"term": {"genres": "Drama"}}, "boost": 0.5}},
                        {"constant_score": {"filter": {"term": {"genres": "Sci-Fi"}}, "boost": 1.0}},
                    ],
                }},
                "script": {"source": queries.COLD_START_SCRIPT,
                           "params": {"rating_scale": 5.0, "popularity_floor": 0.1}},
            }
        },
        "_source": FIELDS,
    }


def test_cold_start_without_genres_scores_everything():
    body = queries.cold_start(k=2)
    assert body["query"]["script_score"]["query"] == {"bool": {"filter": [{"match_all": {}}]}}


def test_vocabulary_is_one_terms_aggregation_per_field_in_name_order():
    assert queries.vocabulary(["gender", "occupation"], size=50) == {
        "size": 0,
        "aggs": {
            "gender": {"terms": {"field": "gender", "size": 50, "order": {"_key": "asc"}}},
            "occupation": {"terms": {"field": "occupation", "size": 50, "order": {"_key": "asc"}}},
        },
    }
