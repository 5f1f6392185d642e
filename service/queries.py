"""Pure builders of every Elasticsearch request body the service sends.

Inputs in, a body dict out: no client, no Flask. The API sends exactly these
bodies, docs/queries.md prints them (scripts/gen_query_docs.py), and the unit
tests compare them as dicts. User text only ever lands in query values or in
script `params`, never in script source.

Scores follow DESIGN.md: kNN on `factors` (max_inner_product) scores
dot < 0 ? 1/(1-dot) : dot+1, and the exact mode reproduces that number with
`script_score`, so both modes rank and score alike.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

MOVIE_FIELDS = ("movie_id", "title", "year", "genres", "rating_mean", "bayes_rating", "rating_count")
MOVIE_DETAIL_FIELDS = MOVIE_FIELDS + ("popularity", "imdb_id", "tmdb_id", "tags", "run_id")
USER_FIELDS = ("user_id", "source", "age", "age_band", "gender", "occupation", "rating_count", "rating_mean", "top_genres")

MAX_K = 100
MAX_NUM_CANDIDATES = 10_000  # ES refuses more
MAX_RESULT_WINDOW = 10_000  # index.max_result_window default
MAX_GENRES = 100  # more than any MovieLens release has (20)
MAX_VOCABULARY = 1_000  # values of one filter field listed (MovieLens: 21 occupations at most)

# Painless, constant text only: everything a caller chooses travels in `params`.
_MIP = "double d = dotProduct(params.query_vector, '{field}'); double s = d < 0 ? 1 / (1 - d) : d + 1;"
_DOT = "double s = (1 + dotProduct(params.query_vector, '{field}')) / 2;"
SIMILARITY_SCRIPTS = {"max_inner_product": _MIP, "dot_product": _DOT}
_BAYES = "double b = doc['bayes_rating'].size() == 0 ? 0.0 : doc['bayes_rating'].value;"
_BLEND = "(1.0 - params.blend) + params.blend * Math.min(b, params.rating_scale) / params.rating_scale"
BLEND_SCRIPT = _BAYES + " return _score * (" + _BLEND + ");"
COLD_START_SCRIPT = (
    _BAYES
    + " double p = doc['popularity'].size() == 0 ? 0.0 : doc['popularity'].value;"
    + " return (1.0 + _score) * Math.min(b, params.rating_scale) / params.rating_scale"
    + " * (params.popularity_floor + p);"
)

# A year as people type it anywhere in a title: "toy story 1995", "Heat (1995)" (the last one wins).
_YEAR_HINT = re.compile(r"(?<![\w.])\(?\s*(?P<year>1[89]\d\d|20\d\d)\s*\)?(?![\w.])")
TITLE_FIELDS = MOVIE_FIELDS + ("popularity",)
# Title match quality tiers (constant scores that add up), highest first: see `title_search`.
TITLE_TIERS = {"exact": 16.0, "phrase": 8.0, "all_words": 4.0, "all_words_fuzzy": 2.0, "most_words": 1.0}
TITLE_BASE = 1.0  # every match scores at least this
# Fuzziness of a title word (ES `fuzziness: AUTO:low,high`: 0 edits below `low` letters, 1 below
# `high`, else 2; a transposition is one edit; `prefix_length` letters must match exactly). ES's
# AUTO (3,6) lets a 6-letter word take 2 edits ("matrix" ~ "martin", "memento" ~ "cement"): fine
# for search as you type, not for answering with one film. A close match allows 1 edit from 4
# letters and 2 from 8 (AUTO:4,7 still has "memento" ~ "moment"), never in the first letter
# ("pulp fictoin", "toy stroy", "casablanka" stay close); strict resolution and the quality
# tiers (hence `confident_title`) count close matches only.
# https://www.elastic.co/docs/reference/elasticsearch/rest-apis/common-options#fuzziness
LOOSE_FUZZINESS: Mapping[str, Any] = {"fuzziness": "AUTO"}
CLOSE_FUZZINESS: Mapping[str, Any] = {"fuzziness": "AUTO:4,8", "prefix_length": 1}
YEAR_HINT_BOOST = 32.0
POPULARITY_TIEBREAK = 0.9  # < 1: popularity orders movies within a tier and never lifts one above another
TITLE_SCORE_SCRIPT = (
    "double p = doc['popularity'].size() == 0 ? 0.0 : doc['popularity'].value;"
    " return _score + params.popularity_weight * p;"
)


@dataclass(frozen=True)
class Filters:
    """Movie pre-filters shared by every movie recommendation (all optional)."""

    genres: tuple[str, ...] = ()  # any of these
    exclude_genres: tuple[str, ...] = ()  # none of these
    min_rating: float | None = None  # on bayes_rating
    min_ratings: int | None = None  # on rating_count
    min_popularity: float | None = None  # on popularity (percentile of rating_count, 0..1)
    year_from: int | None = None
    year_to: int | None = None

    @classmethod
    def from_args(cls, args: Mapping[str, Any]) -> Filters:
        """From validated API arguments (names as in the API: genre, exclude_genre, ...)."""
        return cls(
            genres=tuple(args.get("genre") or ()),
            exclude_genres=tuple(args.get("exclude_genre") or ()),
            min_rating=args.get("min_rating"),
            min_ratings=args.get("min_ratings"),
            min_popularity=args.get("min_popularity"),
            year_from=args.get("year_from"),
            year_to=args.get("year_to"),
        )


@dataclass(frozen=True)
class SeenLookup:
    """Where a user's rated movie ids live, for a terms lookup inside Elasticsearch."""

    index: str
    user_id: int
    path: str = "rated_movie_ids"


@dataclass(frozen=True)
class VectorSearch:
    """One vector query: kNN (approximate) or exact script_score, optionally blended with ratings."""

    field: str
    vector: Sequence[float]
    k: int = 10
    similarity: str = "max_inner_product"
    mode: str = "knn"  # "knn" | "exact"
    num_candidates: int | None = None
    blend: float = 0.0  # 0: vector score only; 1: vector score x bayes_rating / rating_scale
    rating_scale: float = 5.0
    source: tuple[str, ...] = MOVIE_FIELDS
    filter: dict[str, Any] | None = field(default=None)

    def __post_init__(self) -> None:
        if not 1 <= self.k <= MAX_NUM_CANDIDATES:
            raise ValueError(f"k must be in 1..{MAX_NUM_CANDIDATES}, got {self.k}")
        if self.mode not in ("knn", "exact"):
            raise ValueError(f"mode must be 'knn' or 'exact', got {self.mode!r}")
        if self.similarity not in SIMILARITY_SCRIPTS:
            raise ValueError(f"similarity must be one of {sorted(SIMILARITY_SCRIPTS)}, got {self.similarity!r}")
        if not 0.0 <= self.blend <= 1.0:
            raise ValueError(f"blend must be in 0..1, got {self.blend}")
        if self.num_candidates is not None and not self.k <= self.num_candidates <= MAX_NUM_CANDIDATES:
            raise ValueError(f"num_candidates must be in k..{MAX_NUM_CANDIDATES}, got {self.num_candidates}")


def default_num_candidates(k: int) -> int:
    """Candidates per shard when the caller gives none: 10x k, at least 100, at most ES's limit.

    Chosen from the measured HNSW curve (docs/benchmarks.md, "Serving fidelity"; m 16, ef_construction
    100, the default model's vectors): at k = 10, recall@10 is 0.998 at 100 candidates on ml-latest-small
    (its plateau: 500 gives the same) against 0.965 at ES's own default 1.5x k = 15, and 0.9999 on ml-100k.
    """
    return min(MAX_NUM_CANDIDATES, max(100, 10 * k))


def blend_pool(k: int, num_candidates: int) -> int:
    """How many kNN neighbours a blended query re-scores before keeping the top k."""
    return min(num_candidates, max(k, 5 * k))


def split_year_hint(text: str) -> tuple[str, int | None]:
    """'Heat (1995)' or 'toy story 1995' -> (the other words, 1995); text without a year comes back as is.

    The last 4-digit year (1800..2099) anywhere in the text is the hint; a text that is
    only a year ("1984") has no hint, it is a title.
    """
    matches = list(_YEAR_HINT.finditer(text))
    if not matches:
        return text.strip(), None
    m = matches[-1]
    rest = " ".join((text[: m.start()] + " " + text[m.end() :]).split()).strip(" :;,-")
    if not re.search(r"\w", rest):
        return text.strip(), None
    return rest, int(m.group("year"))


def movie_filter(
    filters: Filters = Filters(),
    *,
    seen: SeenLookup | None = None,
    exclude_ids: Sequence[int] = (),
) -> dict[str, Any] | None:
    """The bool pre-filter over movies, or None when nothing restricts the search."""
    must: list[dict[str, Any]] = []
    must_not: list[dict[str, Any]] = []
    if filters.genres:
        must.append({"terms": {"genres": list(filters.genres)}})
    if filters.exclude_genres:
        must_not.append({"terms": {"genres": list(filters.exclude_genres)}})
    if filters.min_rating is not None:
        must.append({"range": {"bayes_rating": {"gte": filters.min_rating}}})
    if filters.min_ratings is not None:
        must.append({"range": {"rating_count": {"gte": filters.min_ratings}}})
    if filters.min_popularity is not None:
        must.append({"range": {"popularity": {"gte": filters.min_popularity}}})
    years = {k: v for k, v in (("gte", filters.year_from), ("lte", filters.year_to)) if v is not None}
    if years:
        must.append({"range": {"year": years}})
    if seen is not None:
        lookup = {"index": seen.index, "id": str(seen.user_id), "path": seen.path}
        must_not.append({"terms": {"movie_id": lookup}})
    if exclude_ids:
        must_not.append({"terms": {"movie_id": sorted({int(i) for i in exclude_ids})}})
    return _bool(filter=must, must_not=must_not)


def user_filter(
    *,
    gender: str | None = None,
    age_band: str | None = None,
    occupation: str | None = None,
    not_rated: int | None = None,
) -> dict[str, Any] | None:
    """The bool pre-filter over users: demographics, and users who have not rated a movie yet."""
    must = [{"term": {name: value}} for name, value in
            (("gender", gender), ("age_band", age_band), ("occupation", occupation)) if value is not None]
    must_not = [{"term": {"rated_movie_ids": int(not_rated)}}] if not_rated is not None else []
    return _bool(filter=must, must_not=must_not)


def vector_search(q: VectorSearch) -> dict[str, Any]:
    """The search body for one vector query (kNN, exact, either blended)."""
    if q.mode == "exact":
        return _exact(q)
    nc = q.num_candidates or default_num_candidates(q.k)
    if q.blend > 0:
        pool = blend_pool(q.k, nc)
        knn = _knn(q, k=pool, num_candidates=max(nc, pool))
        script = {"source": BLEND_SCRIPT, "params": {"blend": q.blend, "rating_scale": q.rating_scale}}
        return _with_source({"size": q.k, "query": {"script_score": {"query": {"knn": knn}, "script": script}}}, q.source)
    return _with_source({"knn": _knn(q, k=q.k, num_candidates=nc), "size": q.k}, q.source)


def exact_script(similarity: str, field_name: str, blend: bool) -> str:
    """Painless source for exact scoring on `field_name`, equal to that similarity's kNN `_score`."""
    head = SIMILARITY_SCRIPTS[similarity].format(field=field_name)
    if not blend:
        return head + " return s;"
    return head + " " + _BAYES + " return s * (" + _BLEND + ");"


def _exact(q: VectorSearch) -> dict[str, Any]:
    params: dict[str, Any] = {"query_vector": [float(x) for x in q.vector]}
    if q.blend > 0:
        params.update(blend=q.blend, rating_scale=q.rating_scale)
    script = {"source": exact_script(q.similarity, q.field, q.blend > 0), "params": params}
    inner = q.filter if q.filter is not None else {"match_all": {}}
    # script_score needs the field present in every scored doc; exists keeps docs without vectors out.
    scored = {"bool": {"filter": [{"exists": {"field": q.field}}, inner]}}
    body = {"size": q.k, "query": {"script_score": {"query": scored, "script": script}}}
    return _with_source(body, q.source)


def _knn(q: VectorSearch, *, k: int, num_candidates: int) -> dict[str, Any]:
    knn: dict[str, Any] = {
        "field": q.field,
        "query_vector": [float(x) for x in q.vector],
        "k": k,
        "num_candidates": num_candidates,
    }
    if q.filter is not None:
        knn["filter"] = q.filter
    return knn


def _constant(query: dict[str, Any], boost: float) -> dict[str, Any]:
    return {"constant_score": {"filter": query, "boost": boost}}


def _title_words(words: str, operator: str, fuzzy: Mapping[str, Any]) -> dict[str, Any]:
    """Every (`and`) or any (`or`) word, each fuzzily or the last as a prefix (search as you type)."""
    return {
        "bool": {
            "should": [
                {"match": {"title": {"query": words, **fuzzy, "operator": operator}}},
                {"match_bool_prefix": {"title": {"query": words, "operator": operator}}},
            ],
            "minimum_should_match": 1,
        }
    }


def _title_clause(words: str, strict: bool, year: int | None = None) -> dict[str, Any]:
    """One reading of the typed text: what must match, and the tiers that say how well it does."""
    tiers = [
        _constant({"match": {"title.exact": {"query": words}}}, TITLE_TIERS["exact"]),
        _constant({"match_phrase": {"title": {"query": words}}}, TITLE_TIERS["phrase"]),
        _constant({"match": {"title": {"query": words, "operator": "and"}}}, TITLE_TIERS["all_words"]),
        _constant(_title_words(words, "and", CLOSE_FUZZINESS), TITLE_TIERS["all_words_fuzzy"]),
        _constant({"match": {"title": {"query": words, **CLOSE_FUZZINESS, "minimum_should_match": "50%"}}},
                  TITLE_TIERS["most_words"]),
    ]
    if year is not None:
        tiers.append(_constant({"term": {"year": year}}, YEAR_HINT_BOOST))
    if strict:
        required = _constant(_title_words(words, "and", CLOSE_FUZZINESS), TITLE_BASE)
    else:
        required = _constant(_title_words(words, "or", LOOSE_FUZZINESS), TITLE_BASE)
    return {"bool": {"must": [required], "should": tiers}}


def title_search(
    text: str,
    *,
    strict: bool,
    size: int = 10,
    genres: Sequence[str] = (),
    year: int | None = None,
) -> dict[str, Any]:
    """Find movies by title as typed, ranked by match quality, then popularity.

    Matching: `strict` (resolving a title to one movie) needs every word (a close fuzzy
    match, CLOSE_FUZZINESS, or the last as a prefix); otherwise (search as you type,
    suggestions) any word will do, fuzzily under ES's AUTO (LOOSE_FUZZINESS).
    Quality tiers add constant scores (TITLE_TIERS): the whole title (`title.exact`, whose
    analyzer ignores case, punctuation, articles and word order and reads numbers as
    digits), the words as a phrase, every word, every word closely, half the words closely. A year
    anywhere in the text is a hint (YEAR_HINT_BOOST, above every tier): the text is read
    twice, as typed and without the year, and the better reading counts (`dis_max`).
    Popularity (the percentile of rating_count, 0..1) times POPULARITY_TIEBREAK is added
    last, so it orders movies that match equally well and never beats a better match:
    a bare franchise name finds its best-known film, a remake with more ratings wins.
    `year` and `genres` filter. Analysis lives in es_mappings/movies.json.
    """
    typed = " ".join(text.split())
    words, hint = split_year_hint(typed)
    readings = [_title_clause(typed, strict)]
    if hint is not None:
        readings.append(_title_clause(words, strict, hint))
    matching = readings[0] if len(readings) == 1 else {"dis_max": {"queries": readings}}
    filters: list[dict[str, Any]] = []
    if genres:
        filters.append({"terms": {"genres": list(genres)}})
    if year is not None:
        filters.append({"term": {"year": year}})
    query = {"bool": {"must": [matching], "filter": filters}} if filters else matching
    script = {"source": TITLE_SCORE_SCRIPT, "params": {"popularity_weight": POPULARITY_TIEBREAK}}
    return {"size": size, "query": {"script_score": {"query": query, "script": script}}, "_source": list(TITLE_FIELDS)}


def title_tier(score: float) -> int:
    """The summed quality tiers of a `title_search` hit (its score without the popularity tie-break)."""
    return int(math.floor(score + 1e-6))


def confident_title(hits: Sequence[Mapping[str, Any]]) -> bool:
    """Whether the first of loose `title_search` hits is a match to offer in one click.

    It must match at least half the words (TITLE_BASE + most_words) and rank a whole
    tier above the next hit, so popularity alone never makes a suggestion confident.
    """
    if not hits:
        return False
    top = title_tier(float(hits[0]["_score"]))
    if top < TITLE_BASE + TITLE_TIERS["most_words"]:
        return False
    return len(hits) == 1 or top > title_tier(float(hits[1]["_score"]))


def browse_movies(*, size: int = 10, offset: int = 0, genres: Sequence[str] = (), year: int | None = None) -> dict[str, Any]:
    """Movies without a text query: filtered, most rated first (ties by id, so pages are stable)."""
    filters: list[dict[str, Any]] = []
    if genres:
        filters.append({"terms": {"genres": list(genres)}})
    if year is not None:
        filters.append({"term": {"year": year}})
    query = {"bool": {"filter": filters}} if filters else {"match_all": {}}
    return {
        "size": size,
        "from": offset,
        "query": query,
        "sort": [{"rating_count": {"order": "desc"}}, {"movie_id": {"order": "asc"}}],
        "_source": list(MOVIE_FIELDS),
    }


def movies_by_ids(ids: Sequence[int], *, vectors: Sequence[str] = (), fields: Sequence[str] = MOVIE_FIELDS) -> dict[str, Any]:
    """Given movies (at most 10,000 ids), with the named vector fields when asked."""
    unique = sorted({int(i) for i in ids})
    if len(unique) > MAX_RESULT_WINDOW:
        raise ValueError(f"at most {MAX_RESULT_WINDOW} ids per request, got {len(unique)}")
    source: dict[str, Any] = {"includes": list(fields) + list(vectors)}
    if vectors:
        source["exclude_vectors"] = False
    return {"size": len(unique), "query": {"terms": {"movie_id": unique}}, "_source": source}


def movies_merged_into(ids: Sequence[int]) -> dict[str, Any]:
    """The movies that cleaning merged any of `ids` into (an old id of a film listed twice)."""
    unique = sorted({int(i) for i in ids})
    if len(unique) > MAX_RESULT_WINDOW:
        raise ValueError(f"at most {MAX_RESULT_WINDOW} ids per request, got {len(unique)}")
    return {"size": len(unique), "query": {"terms": {"merged_ids": unique}}, "_source": ["movie_id", "merged_ids"]}


def user_ratings(user_id: int, *, size: int = 5_000, after: int | None = None) -> dict[str, Any]:
    """One page of a user's ratings (movie_id, rating, rated_at), in movie order, for search_after paging."""
    body: dict[str, Any] = {
        "size": size,
        "query": {"term": {"user_id": int(user_id)}},
        "sort": [{"movie_id": {"order": "asc"}}],
        "_source": ["movie_id", "rating", "rated_at"],
    }
    if after is not None:
        body["search_after"] = [int(after)]
    return body


def served_runs(*, size: int = 10_000) -> dict[str, Any]:
    """Every run that was served (status "succeeded"), oldest first: dataset and finished_at (service.feedback's
    edition timeline)."""
    return {
        "size": size,
        "query": {"term": {"status": "succeeded"}},
        "sort": [{"finished_at": {"order": "asc"}}],
        "_source": ["dataset", "finished_at"],
    }


def genre_counts(profile: Mapping[str, str] | None = None, *, size: int = 50) -> dict[str, Any]:
    """Ratings per genre, over everyone or over the users of one demographic profile.

    Comparing a profile's genre shares with everyone's tells which genres that
    profile over-rates (lift); the cold-start query then boosts those genres.
    """
    body: dict[str, Any] = {"size": 0, "aggs": {"genres": {"terms": {"field": "genres", "size": size}}}}
    if profile:
        body["query"] = {"bool": {"filter": [{"term": {name: value}} for name, value in sorted(profile.items())]}}
        body["track_total_hits"] = True  # the profile's exact rating count
    return body


def year_range() -> dict[str, Any]:
    """The first and last release year of the catalogue."""
    return {"size": 0, "aggs": {"first": {"min": {"field": "year"}}, "last": {"max": {"field": "year"}}}}


def genre_list(*, size: int = MAX_GENRES) -> dict[str, Any]:
    """Every genre of the catalogue with its number of movies, most common first (ties by name)."""
    order = [{"_count": "desc"}, {"_key": "asc"}]  # Elasticsearch's default, spelled out: the API promises it
    return {"size": 0, "aggs": {"genres": {"terms": {"field": "genres", "size": size, "order": order}}}}


def vocabulary(fields: Sequence[str], *, size: int = MAX_VOCABULARY) -> dict[str, Any]:
    """Every value of each keyword field (one terms aggregation per field, named after it), in name order."""
    aggs = {f: {"terms": {"field": f, "size": size, "order": {"_key": "asc"}}} for f in fields}
    return {"size": 0, "aggs": aggs}


def cold_start(
    *,
    k: int = 10,
    genre_weights: Mapping[str, float] | None = None,
    filters: Filters = Filters(),
    rating_scale: float = 5.0,
    popularity_floor: float = 0.1,
    source: Sequence[str] = MOVIE_FIELDS,
) -> dict[str, Any]:
    """Recommendations without history: Bayesian rating x popularity x (1 + genre match).

    Each wanted genre is a `constant_score` should clause whose boost is its
    weight, so `_score` inside the script is the summed weight of the genres
    a movie has (0 when none): the script multiplies by (1 + _score).
    """
    weights = {g: float(w) for g, w in sorted((genre_weights or {}).items()) if w > 0}
    should = [{"constant_score": {"filter": {"term": {"genres": g}}, "boost": w}} for g, w in weights.items()]
    base = movie_filter(filters) or {"match_all": {}}
    inner: dict[str, Any] = {"bool": {"filter": [base]}}
    if should:
        inner["bool"]["should"] = should
    script = {"source": COLD_START_SCRIPT, "params": {"rating_scale": rating_scale, "popularity_floor": popularity_floor}}
    body = {"size": k, "query": {"script_score": {"query": inner, "script": script}}}
    return _with_source(body, tuple(source))


def knn_score(similarity: str, dot: float) -> float:
    """The `_score` Elasticsearch gives a kNN hit with raw dot product `dot` (DESIGN.md semantics)."""
    if similarity == "max_inner_product":
        return 1 / (1 - dot) if dot < 0 else dot + 1
    if similarity == "dot_product":
        return (1 + dot) / 2
    raise ValueError(f"unknown similarity {similarity!r}")


def blend_factor(bayes_rating: float | None, blend: float, rating_scale: float = 5.0) -> float:
    """The multiplier the blend script applies (mirrors BLEND_SCRIPT, for tests and docs)."""
    b = 0.0 if bayes_rating is None or math.isnan(bayes_rating) else min(bayes_rating, rating_scale)
    return (1.0 - blend) + blend * b / rating_scale


def _bool(**clauses: list[dict[str, Any]]) -> dict[str, Any] | None:
    kept = {name: items for name, items in clauses.items() if items}
    return {"bool": kept} if kept else None


def _with_source(body: dict[str, Any], source: Sequence[str]) -> dict[str, Any]:
    body["_source"] = list(source)
    return body
