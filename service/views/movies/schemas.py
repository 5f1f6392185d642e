"""Movie resource schemas: search arguments and answers, genres, similar movies, audience."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import fields, validate, validates_schema

from service.queries import MAX_K, MAX_RESULT_WINDOW
from service.schemas import (
    MAX_TEXT,
    TOP_GENRES_DESCRIPTION,
    YEAR_RANGE,
    Boolean,
    Integer,
    MovieSummarySchema,
    MovieVectorArgsMixin,
    RecommendationsSchema,
    ResultsMixin,
    ScoredMovieSchema,
    Text,
    VectorArgsMixin,
    name,
    name_list,
)


class MovieSearchArgs(ma.Schema):
    q = Text(
        validate=validate.Length(min=1, max=MAX_TEXT),
        metadata={"description": "Title as typed: fuzzy words, last word as a prefix; `(1995)` hints the year",
                  "example": "toy sto"},
    )
    genre = name_list("Only movies with any of these genres", ["Animation"], kind="genres")
    year = Integer(validate=YEAR_RANGE, metadata={"description": "Release year", "example": 1995})
    k = Integer(load_default=10, validate=validate.Range(min=1, max=MAX_K),
                       metadata={"description": "Results per page", "example": 10})
    offset = Integer(load_default=0, validate=validate.Range(min=0, max=MAX_RESULT_WINDOW - 1),
                            metadata={"description": "Results to skip (browsing without q)", "example": 0})
    explain = Boolean(load_default=False, metadata={"description": "Add the Elasticsearch request"})

    @validates_schema
    def _window(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("offset", 0) + data.get("k", 10) > MAX_RESULT_WINDOW:
            raise ma.ValidationError(f"offset + k must be at most {MAX_RESULT_WINDOW}", field_name="offset")


class MovieSearchSchema(ResultsMixin):
    total = fields.Integer(allow_none=True, metadata={"description": "Matching movies (may be a lower bound)"})
    items = fields.List(fields.Nested(ScoredMovieSchema), required=True)


class GenreCountSchema(ma.Schema):
    name = fields.String(required=True, metadata={"description": "Genre", "example": "Drama"})
    count = fields.Integer(required=True, metadata={"description": "Movies with this genre", "example": 725})


class GenreListSchema(ma.Schema):
    genres = fields.List(
        fields.Nested(GenreCountSchema),
        required=True,
        metadata={"description": "Every genre of the served catalogue, most movies first, ties by name"},
    )


class SimilarArgs(MovieVectorArgsMixin):
    """Similar-movie options: k, mode, filters, blend."""


class SimilarSchema(RecommendationsSchema):
    movie = fields.Nested(MovieSummarySchema, required=True, metadata={"description": "The movie asked about"})


class AudienceArgs(VectorArgsMixin):
    gender = name("Only this gender", "F", kind="genders")
    age_band = name("Only this age band", "25-34", kind="age_bands")
    occupation = name("Only this occupation", "engineer", kind="occupations")
    exclude_rated = Boolean(load_default=True, metadata={"description": "Leave out users who rated the movie already"})


class UserSummarySchema(ma.Schema):
    user_id = fields.Integer(required=True, metadata={"description": "User id", "example": 42})
    source = fields.String(metadata={"description": "`training` or `folded_in`"})
    age = fields.Integer(allow_none=True)
    age_band = fields.String(allow_none=True)
    gender = fields.String(allow_none=True)
    occupation = fields.String(allow_none=True)
    rating_count = fields.Integer(allow_none=True)
    rating_mean = fields.Float(allow_none=True)
    top_genres = fields.List(fields.String(), metadata={"description": TOP_GENRES_DESCRIPTION})


class ScoredUserSchema(ma.Schema):
    user = fields.Nested(UserSummarySchema, required=True)
    score = fields.Float(required=True, metadata={"description": "Elasticsearch _score"})


class AudienceSchema(ResultsMixin):
    movie = fields.Nested(MovieSummarySchema, required=True)
    mode = fields.String()
    users = fields.List(fields.Nested(ScoredUserSchema), required=True)
