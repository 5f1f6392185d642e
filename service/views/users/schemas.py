"""User resource schemas: profile, creation with ratings, added ratings."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from es_mappings import ACCOUNT_ID_MIN, INTEGER_MAX
from pipeline.datasets import HALF_STARS, INTEGER_STARS
from service.schemas import (
    TOP_GENRES_DESCRIPTION,
    Float,
    Integer,
    MovieVectorArgsMixin,
    RecommendationsSchema,
    Text,
    id_field,
    name,
)

MAX_RATINGS = 500


# Every MovieLens edition's ratings (pipeline.datasets): the whole stars, valid on every edition, first (they are
# what the OpenAPI enum offers first), then the half stars of 10M and the CSV editions. The served edition's own
# scale is checked on top (service.scale).
RATING_VALUES = INTEGER_STARS + tuple(v for v in HALF_STARS if v not in INTEGER_STARS)


class RatingSchema(ma.Schema):
    movie_id = id_field("Movie", 1, required=True)
    rating = Float(
        required=True,
        validate=validate.OneOf(RATING_VALUES, error="Must be a MovieLens rating: whole stars 1 to 5 (every edition) "
                                "or half stars 0.5 to 4.5 (10M and the CSV editions); the served edition's scale decides."),
        metadata={"description": "Rating on the served edition's scale (a 422 lists it otherwise): whole stars 1 to 5 "
                                 "on MovieLens 100K and 1M, half stars 0.5 to 5 on 10M and the CSV editions "
                                 "(latest-small, 20M, 25M, 32M)", "example": 4.0},
    )


class RatingsBodySchema(ma.Schema):
    ratings = fields.List(
        fields.Nested(RatingSchema),
        required=True,
        validate=validate.Length(min=1, max=MAX_RATINGS),
        metadata={"description": f"1 to {MAX_RATINGS} ratings; a movie rated again keeps the newest rating",
                  "example": [{"movie_id": 1, "rating": 5.0}, {"movie_id": 50, "rating": 4.0}]},
    )


class UserCreateSchema(RatingsBodySchema):
    user_id = Integer(
        validate=validate.Range(min=ACCOUNT_ID_MIN, max=INTEGER_MAX),
        metadata={"description": f"New user's id, {ACCOUNT_ID_MIN} to {INTEGER_MAX} (the range accounts get; "
                                 "dataset users are below it). Default: the next id the allocator hands out",
                  "example": ACCOUNT_ID_MIN + 4242},
    )
    age = Integer(validate=validate.Range(min=1, max=120), metadata={"description": "Age", "example": 31})
    gender = name("Gender, as the served run spells it (matched like the filters)", "F", kind="genders")
    occupation = name("Occupation, as the served run spells it (matched like the filters)", "engineer", kind="occupations")
    zip = Text(validate=validate.Length(min=1, max=20), metadata={"description": "Postal code", "example": "94110"})


class UserSchema(ma.Schema):
    user_id = fields.Integer(required=True, metadata={"description": "User id", "example": 42})
    source = fields.String(metadata={"description": "`training` (learnt by ALS) or `folded_in` (by this API)"})
    age = fields.Integer(allow_none=True, metadata={"description": "Age"})
    age_band = fields.String(allow_none=True, metadata={"description": "Age band", "example": "25-34"})
    gender = fields.String(allow_none=True)
    occupation = fields.String(allow_none=True)
    zip = fields.String(allow_none=True)
    rating_count = fields.Integer(metadata={"description": "Ratings given"})
    rating_mean = fields.Float(allow_none=True, metadata={"description": "Mean rating given"})
    first_rating_at = fields.Integer(allow_none=True, metadata={"description": "First rating (epoch seconds)"})
    last_rating_at = fields.Integer(allow_none=True, metadata={"description": "Last rating (epoch seconds)"})
    top_genres = fields.List(fields.String(), metadata={"description": TOP_GENRES_DESCRIPTION})
    rated_movie_ids = fields.List(fields.Integer(), metadata={"description": "Movies rated (never recommended back)"})
    run_id = fields.String(allow_none=True, metadata={"description": "Run whose model the vector belongs to"})
    ignored_movie_ids = fields.List(
        fields.Integer(), metadata={"description": "Rated movies the model has no vector for (kept, not folded in)"}
    )


class UserAcceptedSchema(ma.Schema):
    """202: the feedback is stored durably; writing the served user did not finish within this request."""

    user_id = fields.Integer(required=True, metadata={"description": "The user's id (a new account's: keep it)",
                                                      "example": 1000000046})
    stored = fields.Boolean(required=True, metadata={"description": "Always true: the account and ratings are stored"})
    served = fields.Boolean(required=True, metadata={"description": "Always false: the served vector follows"})
    stored_movie_ids = fields.List(fields.Integer(), required=True,
                                   metadata={"description": "Movies whose ratings this request stored"})
    edition = fields.String(required=True, metadata={"description": "Dataset the ratings were given against",
                                                     "example": "ml-100k"})
    message = fields.String(required=True, metadata={"description": "What happened and what follows"})


class UserRecommendationArgs(MovieVectorArgsMixin):
    """Recommendation options: k, mode, filters, blend."""


class UserRecommendationsSchema(RecommendationsSchema):
    user_id = fields.Integer(required=True)
