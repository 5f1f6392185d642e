"""Column names and the canonical Spark schemas, declared once.

Every loader returns these schemas whatever the MovieLens edition; every later
step (features, splits, ALS, export) refers to columns through these names.
"""

from __future__ import annotations

from pyspark.sql.types import (
    ArrayType,
    FloatType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
)

USER = "user_id"
MOVIE = "movie_id"
RATING = "rating"
TS = "ts"  # seconds since the epoch, as MovieLens ships it
TITLE = "title"
YEAR = "year"
GENRES = "genres"
AGE = "age"
GENDER = "gender"
OCCUPATION = "occupation"
ZIP = "zip"
TAG = "tag"
IMDB_ID = "imdb_id"
TMDB_ID = "tmdb_id"
PREDICTION = "prediction"

RATINGS_SCHEMA = StructType(
    [
        StructField(USER, IntegerType(), False),
        StructField(MOVIE, IntegerType(), False),
        StructField(RATING, FloatType(), False),
        StructField(TS, LongType(), False),
    ]
)

MOVIES_SCHEMA = StructType(
    [
        StructField(MOVIE, IntegerType(), False),
        StructField(TITLE, StringType(), False),
        StructField(YEAR, IntegerType(), True),
        StructField(GENRES, ArrayType(StringType(), False), False),
    ]
)

USERS_SCHEMA = StructType(
    [
        StructField(USER, IntegerType(), False),
        StructField(AGE, IntegerType(), True),
        StructField(GENDER, StringType(), True),
        StructField(OCCUPATION, StringType(), True),
        StructField(ZIP, StringType(), True),
    ]
)

TAGS_SCHEMA = StructType(
    [
        StructField(USER, IntegerType(), False),
        StructField(MOVIE, IntegerType(), False),
        StructField(TAG, StringType(), False),
        StructField(TS, LongType(), False),
    ]
)

LINKS_SCHEMA = StructType(
    [
        StructField(MOVIE, IntegerType(), False),
        StructField(IMDB_ID, StringType(), True),
        StructField(TMDB_ID, StringType(), True),
    ]
)

# Vectors collected from Spark ALS: id plus a float array.
FACTORS = "factors"
FACTORS_SCHEMA = StructType(
    [StructField("id", IntegerType(), False), StructField("features", ArrayType(FloatType(), False), False)]
)

