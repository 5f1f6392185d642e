"""Recommendation resource schemas: by title, from liked movies, cold start."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import fields, validate, validates_schema

from service.schemas import (
    MAX_LIST,
    MAX_TEXT,
    YEAR_RANGE,
    Boolean,
    FiltersMixin,
    Integer,
    MovieSummarySchema,
    MovieVectorArgsMixin,
    RecommendationsSchema,
    ResultsMixin,
    ScoredMovieSchema,
    Text,
    id_field,
    name,
    name_list,
)

MAX_LIKED = 50


class ByTitleArgs(MovieVectorArgsMixin):
    title = Text(
        required=True,
        validate=validate.Length(min=1, max=MAX_TEXT),
        metadata={"description": "A title as typed; a year anywhere in it (`toy story 1995`, `(1995)`) is a hint",
                  "example": "toy story"},
    )
    year = Integer(validate=YEAR_RANGE, metadata={"description": "Only a movie of this year matches", "example": 1995})


class TitleMatchSchema(MovieSummarySchema):
    popularity = fields.Float(allow_none=True, metadata={"description": "Percentile of rating_count, 0..1", "example": 0.98})


class CatalogueYearsSchema(ma.Schema):
    first = fields.Integer(required=True, metadata={"description": "Earliest release year", "example": 1922})
    last = fields.Integer(required=True, metadata={"description": "Latest release year", "example": 1998})


class ByTitleSchema(RecommendationsSchema):
    matched = fields.Nested(TitleMatchSchema, required=True, metadata={"description": "The movie the title resolved to"})
    alternatives = fields.List(fields.Nested(TitleMatchSchema), metadata={"description": "Other close matches"})
    year_hint = fields.Integer(allow_none=True, metadata={"description": "The year read from the title, if any", "example": 1995})
    catalogue_years = fields.Nested(CatalogueYearsSchema, allow_none=True,
                                    metadata={"description": "Release years the served catalogue covers"})


class FromLikedSchema(MovieVectorArgsMixin):
    movie_ids = fields.List(
        id_field("Movie", 1),
        validate=validate.Length(max=MAX_LIKED),
        metadata={"description": f"Liked movie ids (up to {MAX_LIKED})", "example": [1, 50, 181]},
    )
    titles = fields.List(
        Text(validate=validate.Length(min=1, max=MAX_TEXT)),
        validate=validate.Length(max=MAX_LIST),
        metadata={"description": f"Liked titles as typed (up to {MAX_LIST})", "example": ["Star Wars", "Fargo"]},
    )

    @validates_schema
    def _something_liked(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data.get("movie_ids") and not data.get("titles"):
            raise ma.ValidationError("give movie_ids or titles (at least one liked movie)", field_name="movie_ids")


class FromLikedAnswerSchema(RecommendationsSchema):
    liked = fields.List(fields.Nested(MovieSummarySchema), metadata={"description": "The liked movies, resolved"})
    ignored_movie_ids = fields.List(fields.Integer(), metadata={"description": "Liked movies without a vector"})


class ColdStartArgs(FiltersMixin):
    favorite_genre = name_list("Favorite genres: boosted, not required (repeat for several)", ["Sci-Fi"], kind="genres")
    age = Integer(validate=validate.Range(min=1, max=120), metadata={"description": "Age (mapped to its band)", "example": 31})
    age_band = name("Age band", "25-34", kind="age_bands")
    gender = name("Gender", "F", kind="genders")
    occupation = name("Occupation", "engineer", kind="occupations")
    k = Integer(load_default=10, validate=validate.Range(min=1, max=100), metadata={"description": "Number of results"})
    explain = Boolean(load_default=False, metadata={"description": "Add the Elasticsearch requests"})


class ColdStartSchema(ResultsMixin):
    strategy = fields.String(
        required=True,
        metadata={"description": "Signals used, `+`-joined: bayes_rating, popularity, favorite_genres, profile_genres",
                  "example": "bayes_rating+popularity+favorite_genres"},
    )
    profile = fields.Dict(keys=fields.String(), values=fields.String(), metadata={"description": "Demographic profile used"})
    profile_ratings = fields.Integer(allow_none=True, metadata={"description": "Ratings by users of that profile (0: nobody has it)"})
    genre_weights = fields.Dict(keys=fields.String(), values=fields.Float(), metadata={"description": "Boost per genre"})
    items = fields.List(fields.Nested(ScoredMovieSchema), required=True)
