"""docs/queries.md: the raw Elasticsearch requests behind every kind of recommendation.

Rendered from the very builders the API calls (service.queries), so the page
cannot drift from what the service sends; scripts/gen_query_docs.py writes it
and a test compares the file with `render()`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from es_mappings import DEFAULT_PREFIX, alias_name
from service import queries
from service.queries import Filters, SeenLookup, VectorSearch

# Short illustrative vectors: real ones have the model's vector size (rank, +1 for explicit).
USER_VECTOR = [0.12, -0.05, 0.31, 1.0]
MOVIE_VECTOR = [0.08, 0.22, -0.14, 0.35]
UNIT_VECTOR = [0.2747, 0.7555, -0.4808]
FOLDED_VECTOR = [0.21, 0.04, 0.17, 1.0]


def pretty(value: Any, indent: int = 0, width: int = 96) -> str:
    """JSON indented like Dev Tools, but any part that fits in `width` columns stays on one line."""
    flat = json.dumps(value, ensure_ascii=False)
    if indent + len(flat) <= width or not isinstance(value, (dict, list)) or not value:
        return flat
    pad, inner = " " * indent, " " * (indent + 2)
    if isinstance(value, dict):
        items = [f"{inner}{json.dumps(k)}: {pretty(v, indent + 2, width)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    items = [f"{inner}{pretty(v, indent + 2, width)}" for v in value]
    return "[\n" + ",\n".join(items) + f"\n{pad}]"


def _request(title: str, index: str, body: Mapping[str, Any], note: str) -> str:
    return f"### {title}\n\n{note}\n\n```\nGET {index}/_search\n{pretty(dict(body))}\n```\n"


def _get(title: str, path: str, note: str) -> str:
    return f"### {title}\n\n{note}\n\n```\nGET {path}\n```\n"


def render(prefix: str = DEFAULT_PREFIX) -> str:
    """The whole page, for indices under `prefix`."""
    movies, users, ratings = (alias_name(prefix, k) for k in ("movies", "users", "ratings"))
    filters = Filters(genres=("Comedy", "Drama"), exclude_genres=("Horror",), min_rating=3.5, min_ratings=20,
                      year_from=1990, year_to=1999)
    seen = SeenLookup(index=users, user_id=42)
    user_filter = queries.movie_filter(filters, seen=seen)
    user_q = VectorSearch(field="factors", vector=USER_VECTOR, k=10, filter=user_filter)
    similar_filter = queries.movie_filter(Filters(min_ratings=20), exclude_ids=[1])
    similar_q = VectorSearch(field="similar", vector=UNIT_VECTOR, similarity="dot_product", k=10,
                             filter=similar_filter)
    liked = [1, 50, 181]
    sections = [
        "# Elasticsearch queries behind the API\n",
        (
            "Every request the API sends, as Kibana Dev Tools text, generated from `service/queries.py` by "
            "`python scripts/gen_query_docs.py` (a test fails when this page and the builders disagree). "
            "Paste one into Dev Tools and adapt it. Vectors are shortened to a few numbers here; real ones have "
            "the model's vector size. Any API call with `explain=true` returns its exact bodies, full vectors "
            "included.\n"
        ),
        (
            "Scores: kNN on `factors` (`max_inner_product`) scores `dot < 0 ? 1/(1-dot) : dot+1`; on `similar` and "
            "`factors_unit` (`dot_product`, unit vectors) `(1+dot)/2`. The exact mode computes the same numbers with `script_score`, "
            "so both modes agree. User text only ever appears as query values or script `params`.\n"
        ),
        "## Vectors\n",
        _get("A user's vector", f"{users}/_doc/42?_source_exclude_vectors=false",
             "Elasticsearch 9.2+ leaves vectors out of `_source` unless asked; `factors` is the query vector "
             "for that user's recommendations."),
        _get("A movie's vectors", f"{movies}/_doc/1?_source_exclude_vectors=false",
             "`factors` (for the audience of the movie), `similar` (for similar movies: collaborative and content "
             "parts, see `pipeline/similarity`) and `factors_unit` (the plain factor cosine, kept to compare)."),
        "## Recommendations for a user (`GET /users/42/recommendations`)\n",
        _request("kNN with pre-filters and seen movies excluded", movies, queries.vector_search(user_q),
                 "Filters run inside the kNN search (`knn.filter`), so k results come back when k exist. "
                 "The `terms` lookup reads the user's `rated_movie_ids` inside Elasticsearch: no id list travels."),
        _request("Exact mode (`mode=exact`)", movies, queries.vector_search(VectorSearch(
            field="factors", vector=USER_VECTOR, k=10, mode="exact", filter=user_filter)),
                 "Brute force over every movie that passes the same filter, with kNN's own score."),
        _request("Rating-aware blend (`blend=0.3`)", movies, queries.vector_search(VectorSearch(
            field="factors", vector=USER_VECTOR, k=10, blend=0.3, filter=user_filter)),
                 "The kNN query gathers 5k neighbours; `script_score` multiplies each vector score by "
                 "`(1 - blend) + blend * bayes_rating / 5` and the top k are kept."),
        "## Similar movies (`GET /movies/1/similar`) and by title (`GET /recommendations/by-title`)\n",
        _request("Resolving a typed title to one movie", movies, queries.title_search("toy story 1995", strict=True, size=6),
                 "Every word must match (fuzzily, or the last one as a prefix). Constant-score tiers add up: "
                 "the whole title (`title.exact`) 16, the words as a phrase 8, every word 4, every word fuzzily 2, "
                 "half the words 1; a year anywhere in the text is a hint worth 32, so the text is read as typed "
                 "and without the year, and `dis_max` keeps the better reading. `script_score` adds "
                 "0.9 x popularity last, which orders equally good matches. The first hit is the match, the "
                 "others are listed as alternatives. The analyzers (articles, numbers as digits or words, "
                 "punctuation inside words) are in `es_mappings/movies.json`."),
        _request("Suggestions when nothing matches", movies, queries.title_search("toy strory", strict=False, size=5),
                 "Any word may match: the 404 answer lists these, and flags the first `confident` when it "
                 "matches at least half the words and ranks a whole tier above the next."),
        _request("Movies like movie 1", movies, queries.vector_search(similar_q),
                 "kNN on the `similar` unit vectors (dot product), the movie itself excluded."),
        "## From liked movies, no account (`POST /recommendations/from-liked`)\n",
        _request("The liked movies' vectors", movies, queries.movies_by_ids(liked, vectors=["factors"]),
                 "The service folds these into a user vector with numpy (one least-squares solve), then:"),
        _request("kNN with the folded-in vector", movies, queries.vector_search(VectorSearch(
            field="factors", vector=FOLDED_VECTOR, k=10, filter=queries.movie_filter(Filters(), exclude_ids=liked))),
                 "The liked movies themselves are excluded."),
        "## Audience of a movie (`GET /movies/1/audience`)\n",
        _request("Users whose vectors score movie 1 highest", users, queries.vector_search(VectorSearch(
            field="factors", vector=MOVIE_VECTOR, k=10, source=queries.USER_FIELDS,
            filter=queries.user_filter(gender="F", not_rated=1))),
                 "Users who already rated the movie are left out (`exclude_rated=true`)."),
        "## Cold start (`GET /recommendations/cold-start`)\n",
        _request("Ratings per genre of a demographic profile", ratings,
                 queries.genre_counts({"age_band": "25-34", "gender": "F"}),
                 "Sent only when demographics are given. Against everyone's genre counts (the same request "
                 "without `query`, kept per served run) each genre gets a lift = its share among the profile's "
                 "ratings / its share among all ratings; genres with lift > 1 get a boost of min(1, lift - 1)."),
        _request("Bayesian rating x popularity x genres", movies, queries.cold_start(
            k=10, genre_weights={"Sci-Fi": 1.0, "Thriller": 0.35}, filters=Filters(min_ratings=20)),
                 "Each boosted genre is a `constant_score` clause, so `_score` in the script is the summed "
                 "weight of the movie's boosted genres."),
        "## Catalogue\n",
        _request("Search as you type (`GET /movies?q=toy sto`)", movies, queries.title_search("toy sto", strict=False),
                 "Any word, fuzzy or as a prefix, ranked by the same tiers and popularity."),
        _request("The catalogue's first and last year", movies, queries.year_range(),
                 "Kept per served run; a by-title answer says when the typed year is past the last."),
        _request("Browse (`GET /movies?genre=Drama`)", movies, queries.browse_movies(genres=["Drama"]),
                 "Most rated first, ties by id."),
        _request("Genres and their movie counts (`GET /movies/genres`)", movies, queries.genre_list(),
                 "One `terms` aggregation, no hits; the service keeps the answer until another run is served."),
        _request("The values the filters accept (`GET /vocabulary`): genres", movies, queries.vocabulary(["genres"]),
                 "Kept RUN_CACHE_TTL_S seconds; `genre`, `exclude_genre` and `favorite_genre` are checked against it."),
        _request("The values the filters accept: demographics", users,
                 queries.vocabulary(["age_band", "gender", "occupation"]),
                 "`age_band`, `gender` and `occupation` filters are checked against these."),
        "## Writes behind new users and ratings\n",
        _request("A user's ratings in the served run (before folding in again)", ratings, queries.user_ratings(42),
                 "Paged with `search_after` on movie id. The ratings given through the API are stored first in "
                 "`movierec-feedback` (one document per user, written with `if_seq_no`/`if_primary_term`); they are "
                 "read back with a real-time GET and merged with these, the latest rating per movie winning. The "
                 "user is then indexed into the served run's users index with `if_seq_no`/`if_primary_term` "
                 "(retried on 409) and `refresh=wait_for`, the new ratings with `_bulk?refresh=wait_for`. New "
                 "account ids come from the allocator document `movierec-ids/_doc/user_id`, advanced the same way."),
    ]
    return "\n".join(sections)
