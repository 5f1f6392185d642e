"""Schemas shared by several resources: movies in results, filters, vector options, explain; strict input fields.

Every input has a length or range limit; every field has a description (and an
example where it helps) for the OpenAPI document. Input types are strict: a JSON
body must carry the JSON type itself (no "10" for 10, no 10.5 or 10.0 for an
integer, no 0 or "yes" for a boolean); a query string or path carries the same
values as text, numbers in JSON's grammar with ASCII digits only (no "1_0", no
Arabic-Indic "١", no "+1") and booleans as `true` / `false`. Which of the two
a schema is loading is set by `service.views.blueprint` (`text_input`).
"""

from __future__ import annotations

import re
from typing import Any

import marshmallow as ma
from marshmallow import fields, validate, validates_schema

from es_mappings import INTEGER_MAX
from pipeline.splits import LIKED_THRESHOLD
from service import scale, vocabulary
from service.queries import MAX_K, MAX_NUM_CANDIDATES

MAX_TEXT = 200
MAX_NAME = 50
MAX_LIST = 20
# Filter values (genres, demographics) in a query string: printable ASCII, as every MovieLens vocabulary is, and at
# most MAX_FILTER_NAME characters, so that the longest valid request line stays under gunicorn's 8,190 bytes
# (tests/service/test_openapi.py computes it for every operation).
MAX_FILTER_NAME = 30
FILTER_NAME = validate.Regexp(r"^[ -~]+$", error="Must be printable ASCII.")
# What phones and word processors type for ' " and -: a filter value is read with the ASCII character
# ("Children’s" -> "Children's") before it is checked against the vocabulary.
TYPOGRAPHIC = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "\u02bc": "'", "\u00b4": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2212": "-",
})
MAX_ID = INTEGER_MAX  # ES `integer`
TOP_GENRES_DESCRIPTION = (
    f"The 3 genres the user liked most: most ratings of {LIKED_THRESHOLD:g} stars or more (the like threshold of the "
    "liked-only protocol), ties by name; empty when nothing is liked yet. Not the most rated: five horror films rated "
    "1 star do not make Horror a top genre"
)
YEAR_RANGE = validate.Range(min=1800, max=2200)


# JSON's number grammar (RFC 8259 §6) in ASCII, with bounded digit counts (no 10,000-digit integers to convert).
_INTEGER_TEXT = re.compile(r"-?(?:0|[1-9][0-9]{0,17})")
_NUMBER_TEXT = re.compile(r"-?(?:0|[1-9][0-9]{0,17})(?:\.[0-9]{1,17})?(?:[eE][-+]?[0-9]{1,3})?")
BOOLEAN_TEXT = {"true": True, "false": False}


def _text_input(field: fields.Field) -> bool:
    """Whether `field` is loading a query string or path (text) rather than a JSON body (typed values)."""
    return bool(getattr(field.root, "text_input", False))


class Integer(fields.Integer):
    """An integer: a JSON integer in a body; in a query string or path, an integer in JSON's grammar, ASCII digits."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, str) and _text_input(self):
            if not _INTEGER_TEXT.fullmatch(value):
                raise self.make_error("invalid")
            value = int(value)
        elif isinstance(value, bool) or not isinstance(value, int):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class Float(fields.Float):
    """A finite number: a JSON number in a body; in a query string, a number in JSON's grammar, ASCII digits."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(allow_nan=False, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> float:
        if isinstance(value, str) and _text_input(self):
            if not _NUMBER_TEXT.fullmatch(value):
                raise self.make_error("invalid")
            value = float(value)
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class Boolean(fields.Boolean):
    """`true` or `false`: the JSON literals in a body, the words in a query string (nothing else: no 1, "yes", "on")."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and _text_input(self) and value in BOOLEAN_TEXT:
            return BOOLEAN_TEXT[value]
        raise self.make_error("invalid")


class Text(fields.String):
    """A string that is not blank (whitespace only is refused like an empty string)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not text.strip():
            raise ma.ValidationError("Must not be blank.")
        return text


class FilterName(Text):
    """A filter value with typographic apostrophes, quotes and dashes read as their ASCII characters (TYPOGRAPHIC)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        return super()._deserialize(value, attr, data, **kwargs).translate(TYPOGRAPHIC)


def _desc(text: str, example: Any = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"description": text}
    if example is not None:
        meta["example"] = example
    return meta


def id_field(what: str, example: int = 1, **kwargs: Any) -> Integer:
    """A positive integer id (as the ES `integer` fields hold them)."""
    return Integer(validate=validate.Range(min=1, max=MAX_ID), metadata=_desc(f"{what} id", example), **kwargs)


def _vocabulary_desc(text: str, kind: str, example: Any) -> dict[str, Any]:
    meta = _desc(f"{text}. {vocabulary.describe(kind)} Typographic apostrophes, quotes and dashes (as phones type "
                 "them: ’ “ ” –) are read as their ASCII characters.", example)
    meta["vocabulary"] = kind  # checked against the served run by service.vocabulary (the strict parser)
    return meta


def name_list(text: str, example: list[str] | None = None, *, kind: str, **kwargs: Any) -> fields.List:
    """A bounded list of filter values, checked against the served run's vocabulary of `kind` (e.g. "genres")."""
    item = FilterName(validate=[validate.Length(min=1, max=MAX_FILTER_NAME), FILTER_NAME])
    return fields.List(item, validate=validate.Length(max=MAX_LIST), metadata=_vocabulary_desc(text, kind, example), **kwargs)


def name(text: str, example: str | None = None, *, kind: str, **kwargs: Any) -> Text:
    """One filter value, checked against the served run's vocabulary of `kind` (e.g. "occupations")."""
    return FilterName(validate=[validate.Length(min=1, max=MAX_FILTER_NAME), FILTER_NAME],
                      metadata=_vocabulary_desc(text, kind, example), **kwargs)


class MovieIdPath(ma.Schema):
    movie_id = id_field("Movie", 1, required=True)


class UserIdPath(ma.Schema):
    user_id = id_field("User", 1, required=True)


class FiltersMixin(ma.Schema):
    """Movie pre-filters (applied inside the kNN search, so k results come back when k exist)."""

    genre = name_list("Only movies with any of these genres (repeat the parameter for several)", ["Comedy"], kind="genres")
    exclude_genre = name_list("Leave out movies with any of these genres", ["Horror"], kind="genres")
    min_rating = Float(
        validate=validate.Range(min=0, max=10),
        metadata={**_desc("Minimum Bayesian average rating, at most the served edition's top rating (5 on every "
                          "MovieLens edition; more is a 422)", 3.5), scale.ON_SCALE: True},
    )
    min_ratings = Integer(
        validate=validate.Range(min=0, max=MAX_ID), metadata=_desc("Minimum number of ratings", 20)
    )
    min_popularity = Float(
        validate=validate.Range(min=0, max=1),
        metadata=_desc("Minimum popularity: percentile of the rating count, 0 (least rated) to 1 (most)", 0.5),
    )
    year_from = Integer(validate=YEAR_RANGE, metadata=_desc("Released in or after this year", 1990))
    year_to = Integer(validate=YEAR_RANGE, metadata=_desc("Released in or before this year", 1999))

    @validates_schema
    def _years_ordered(self, data: dict[str, Any], **kwargs: Any) -> None:
        low, high = data.get("year_from"), data.get("year_to")
        if low is not None and high is not None and low > high:
            raise ma.ValidationError("must not be before year_from", field_name="year_to")


class ResultArgsMixin(ma.Schema):
    k = Integer(
        load_default=10, validate=validate.Range(min=1, max=MAX_K), metadata=_desc("Number of results", 10)
    )
    explain = Boolean(
        load_default=False, metadata=_desc("Add the exact Elasticsearch request (index and body) to the answer")
    )


class VectorArgsMixin(ResultArgsMixin):
    mode = Text(
        load_default="knn",
        validate=validate.OneOf(["knn", "exact"]),
        metadata=_desc("`knn`: approximate HNSW search; `exact`: script_score over every match, same scores"),
    )
    num_candidates = Integer(
        validate=validate.Range(min=1, max=MAX_NUM_CANDIDATES),
        metadata=_desc("kNN candidates per shard (>= k; default max(100, 10k))", 200),
    )

    @validates_schema
    def _candidates_cover_k(self, data: dict[str, Any], **kwargs: Any) -> None:
        nc = data.get("num_candidates")
        if nc is not None and nc < data.get("k", 10):
            raise ma.ValidationError("must be at least k", field_name="num_candidates")


class MovieVectorArgsMixin(VectorArgsMixin, FiltersMixin):
    blend = Float(
        load_default=0.0,
        validate=validate.Range(min=0, max=1),
        metadata=_desc("Weight of the Bayesian rating in the score: score x ((1-blend) + blend x bayes/5)", 0.3),
    )


class MovieSummarySchema(ma.Schema):
    movie_id = fields.Integer(required=True, metadata=_desc("Movie id", 1))
    title = fields.String(metadata=_desc("Title (without the year)", "Toy Story"))
    year = fields.Integer(allow_none=True, metadata=_desc("Release year", 1995))
    genres = fields.List(fields.String(), metadata=_desc("Genres", ["Animation", "Children's", "Comedy"]))
    rating_mean = fields.Float(allow_none=True, metadata=_desc("Mean rating", 3.88))
    bayes_rating = fields.Float(allow_none=True, metadata=_desc("Bayesian average rating (shrunk to the global mean)", 3.85))
    rating_count = fields.Integer(allow_none=True, metadata=_desc("Number of ratings", 452))


class MovieDetailSchema(MovieSummarySchema):
    popularity = fields.Float(allow_none=True, metadata=_desc("Percentile of rating_count, 0..1", 0.98))
    imdb_id = fields.String(allow_none=True, metadata=_desc("IMDb id", "0114709"))
    tmdb_id = fields.String(allow_none=True, metadata=_desc("TMDb id", "862"))
    tags = fields.List(fields.String(), metadata=_desc("Most used tags"))
    run_id = fields.String(allow_none=True, metadata=_desc("Run that wrote this document"))


class ScoredMovieSchema(ma.Schema):
    movie = fields.Nested(MovieSummarySchema, required=True)
    score = fields.Float(required=True, allow_none=True, metadata=_desc("Elasticsearch _score (higher is better; null when sorted)", 4.2))


class ExplainSchema(ma.Schema):
    index = fields.String(metadata=_desc("Index or alias searched", "movierec-movies"))
    body = fields.Dict(metadata=_desc("The request body sent to `GET <index>/_search`"))


class ResultsMixin(ma.Schema):
    took_ms = fields.Integer(metadata=_desc("Time Elasticsearch reported (`took`) for the main search", 3))
    explain = fields.List(fields.Nested(ExplainSchema), metadata=_desc("Requests sent, when explain=true"))


class RecommendationsSchema(ResultsMixin):
    mode = fields.String(metadata=_desc("knn or exact", "knn"))
    items = fields.List(fields.Nested(ScoredMovieSchema), required=True)
