"""Per-movie and per-user features, computed once and exported as they are.

Output column names are the Elasticsearch field names (`es_mappings/movies.json`,
`es_mappings/users.json`), so export copies rows without renaming.

Bayesian rating: a movie's mean pulled toward the global mean `mu` by a prior
worth `m` ratings, ``bayes_rating = (n * mean + m * mu) / (n + m)``. A movie
with few ratings sits near `mu`; one with many keeps its own mean. A movie
nobody rated gets `mu`.

Popularity: the percentile rank of `rating_count` among all movies, in 0..1
(Spark's `percent_rank`: ties share a rank; the least-rated movie is 0, the
most-rated 1).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, IntegerType, StringType

from pipeline.columns import (
    AGE,
    GENDER,
    GENRES,
    IMDB_ID,
    MOVIE,
    OCCUPATION,
    RATING,
    TAG,
    TITLE,
    TMDB_ID,
    TS,
    USER,
    YEAR,
    ZIP,
)
from pipeline.splits import LIKED_THRESHOLD  # "liked" as the liked-only protocol and item-to-item seeds read it

# Feature columns (the ES field names).
RATING_COUNT = "rating_count"
RATING_MEAN = "rating_mean"
BAYES_RATING = "bayes_rating"
POPULARITY = "popularity"
TAGS = "tags"
MERGED_IDS = "merged_ids"
FIRST_RATING_AT = "first_rating_at"
LAST_RATING_AT = "last_rating_at"
TOP_GENRES = "top_genres"
RATED_MOVIE_IDS = "rated_movie_ids"
AGE_BAND = "age_band"

DEFAULT_PRIOR_STRENGTH = 10.0
TOP_GENRES_COUNT = 3
DEFAULT_MAX_TAGS = 20

# Age bands follow MovieLens 1M's age groups, so its coded ages (1, 18, 25, …) land in the right band.
AGE_BANDS: tuple[tuple[int, str], ...] = (
    (18, "under 18"),
    (25, "18-24"),
    (35, "25-34"),
    (45, "35-44"),
    (50, "45-49"),
    (56, "50-55"),
)
OLDEST_BAND = "56+"

MOVIE_FEATURE_COLUMNS = (MOVIE, TITLE, YEAR, GENRES, RATING_COUNT, RATING_MEAN, BAYES_RATING, POPULARITY)
USER_FEATURE_COLUMNS = (
    USER,
    RATING_COUNT,
    RATING_MEAN,
    FIRST_RATING_AT,
    LAST_RATING_AT,
    TOP_GENRES,
    RATED_MOVIE_IDS,
)
DEMOGRAPHIC_COLUMNS = (AGE, AGE_BAND, GENDER, OCCUPATION, ZIP)


def age_band(age: int | None) -> str | None:
    """The band label of one age (None stays None); the Spark column below uses the same table."""
    if age is None:
        return None
    for upper, label in AGE_BANDS:
        if age < upper:
            return label
    return OLDEST_BAND


def age_band_column(age: Column) -> Column:
    """`age_band` as a Spark expression over an integer age column."""
    expr = F.when(age.isNull(), F.lit(None).cast(StringType()))
    for upper, label in AGE_BANDS:
        expr = expr.when(age < upper, F.lit(label))
    return expr.otherwise(F.lit(OLDEST_BAND))


def global_mean(ratings: DataFrame) -> float:
    """Mean of all ratings (0.0 for an empty table, so priors stay finite)."""
    value = ratings.agg(F.avg(RATING)).first()[0]
    return float(value) if value is not None else 0.0


def movie_features(
    ratings: DataFrame,
    movies: DataFrame,
    links: DataFrame | None = None,
    tags: DataFrame | None = None,
    prior_strength: float = DEFAULT_PRIOR_STRENGTH,
    max_tags: int = DEFAULT_MAX_TAGS,
    merged: Mapping[int, Sequence[int]] | None = None,
) -> DataFrame:
    """One row per movie of `movies`: metadata plus rating statistics.

    Columns: movie_id, title, year, genres, rating_count, rating_mean (null when
    unrated), bayes_rating, popularity; plus imdb_id, tmdb_id when `links` is
    given, tags (the `max_tags` most used, lower-cased, ties by name) when
    `tags` is given, and merged_ids (the ids cleaning merged into this movie,
    null for the others) when `merged` (canonical id -> merged ids) is given.
    """
    if prior_strength < 0:
        raise ValueError(f"prior_strength must be >= 0, got {prior_strength}")
    if max_tags < 1:
        raise ValueError(f"max_tags must be >= 1, got {max_tags}")
    mu = global_mean(ratings)
    stats = ratings.groupBy(MOVIE).agg(
        F.count(F.lit(1)).cast(IntegerType()).alias(RATING_COUNT),
        F.avg(RATING).alias(RATING_MEAN),
    )
    n = F.col(RATING_COUNT)
    out = (
        movies.select(MOVIE, TITLE, YEAR, GENRES)
        .join(stats, MOVIE, "left")
        .withColumn(RATING_COUNT, F.coalesce(n, F.lit(0)).cast(IntegerType()))
    )
    mean_or_mu = F.coalesce(F.col(RATING_MEAN), F.lit(mu))
    denominator = n + F.lit(float(prior_strength))
    bayes = F.when(denominator > 0, (n * mean_or_mu + F.lit(prior_strength * mu)) / denominator).otherwise(
        F.lit(mu)
    )
    out = out.withColumn(BAYES_RATING, bayes.cast("float")).withColumn(
        RATING_MEAN, F.col(RATING_MEAN).cast("float")
    )
    # One global ordering over the movie table: fine up to MovieLens 32M's ~87k movies.
    out = out.withColumn(POPULARITY, F.percent_rank().over(Window.orderBy(RATING_COUNT)).cast("float"))
    columns = list(MOVIE_FEATURE_COLUMNS)
    if links is not None:
        out = out.join(links.select(MOVIE, IMDB_ID, TMDB_ID), MOVIE, "left")
        columns += [IMDB_ID, TMDB_ID]
    if tags is not None:
        out = out.join(_top_tags(tags, max_tags), MOVIE, "left").withColumn(
            TAGS, F.coalesce(F.col(TAGS), F.array().cast(ArrayType(StringType())))
        )
        columns.append(TAGS)
    if merged is not None:
        spark = movies.sparkSession
        rows = [(int(c), [int(m) for m in olds]) for c, olds in sorted(merged.items())]
        extra = spark.createDataFrame(rows, f"{MOVIE} int, {MERGED_IDS} array<int>")
        out = out.join(F.broadcast(extra), MOVIE, "left")
        columns.append(MERGED_IDS)
    return out.select(*columns)


def _top_tags(tags: DataFrame, max_tags: int) -> DataFrame:
    """Per movie, the most used tags (lower-cased, trimmed), most used first, ties by name."""
    cleaned = tags.select(MOVIE, F.lower(F.trim(F.col(TAG))).alias(TAG)).where(F.length(TAG) > 0)
    counts = cleaned.groupBy(MOVIE, TAG).agg(F.count(F.lit(1)).alias("n"))
    ranked = counts.withColumn(
        "pos", F.row_number().over(Window.partitionBy(MOVIE).orderBy(F.desc("n"), F.asc(TAG)))
    ).where(F.col("pos") <= max_tags)
    return ranked.groupBy(MOVIE).agg(
        F.transform(F.array_sort(F.collect_list(F.struct("pos", TAG))), lambda s: s[TAG]).alias(TAGS)
    )


def user_features(ratings: DataFrame, movies: DataFrame, users: DataFrame | None = None) -> DataFrame:
    """One row per user who rated something.

    Columns: user_id, rating_count, rating_mean, first_rating_at and
    last_rating_at (epoch seconds), top_genres (the user's 3 most liked genres:
    most ratings >= LIKED_THRESHOLD, ties by name; empty when none is liked, so
    five horror films rated 1 star never make "Horror" a favourite), rated_movie_ids (ascending); plus age, age_band, gender,
    occupation, zip when `users` is given (left join: users without a
    demographic row keep nulls).
    """
    stats = ratings.groupBy(USER).agg(
        F.count(F.lit(1)).cast(IntegerType()).alias(RATING_COUNT),
        F.avg(RATING).cast("float").alias(RATING_MEAN),
        F.min(TS).alias(FIRST_RATING_AT),
        F.max(TS).alias(LAST_RATING_AT),
        F.array_sort(F.collect_set(F.col(MOVIE).cast(IntegerType()))).alias(RATED_MOVIE_IDS),
    )
    out = stats.join(_top_genres(ratings, movies), USER, "left").withColumn(
        TOP_GENRES, F.coalesce(F.col(TOP_GENRES), F.array().cast(ArrayType(StringType())))
    )
    columns = list(USER_FEATURE_COLUMNS)
    if users is not None:
        demo = users.select(USER, AGE, GENDER, OCCUPATION, ZIP).withColumn(AGE_BAND, age_band_column(F.col(AGE)))
        out = out.join(demo, USER, "left")
        columns += list(DEMOGRAPHIC_COLUMNS)
    return out.select(*columns)


def _top_genres(ratings: DataFrame, movies: DataFrame) -> DataFrame:
    """Per user, the TOP_GENRES_COUNT genres they liked most (ratings >= LIKED_THRESHOLD), ties by genre name."""
    exploded = ratings.where(F.col(RATING) >= F.lit(LIKED_THRESHOLD)).select(USER, MOVIE).join(
        movies.select(MOVIE, F.explode(GENRES).alias("genre")), MOVIE, "inner"
    )
    counts = exploded.groupBy(USER, "genre").agg(F.count(F.lit(1)).alias("n"))
    ranked = counts.withColumn(
        "pos", F.row_number().over(Window.partitionBy(USER).orderBy(F.desc("n"), F.asc("genre")))
    ).where(F.col("pos") <= TOP_GENRES_COUNT)
    return ranked.groupBy(USER).agg(
        F.transform(F.array_sort(F.collect_list(F.struct("pos", "genre"))), lambda s: s["genre"]).alias(
            TOP_GENRES
        )
    )
