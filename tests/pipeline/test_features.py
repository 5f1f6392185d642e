"""Movie and user features on hand-built tables."""

from __future__ import annotations

import pytest

import es_mappings
from pipeline import features
from pipeline.columns import (
    LINKS_SCHEMA,
    MOVIES_SCHEMA,
    RATINGS_SCHEMA,
    TAGS_SCHEMA,
    USERS_SCHEMA,
)


@pytest.mark.parametrize(
    ("age", "band"),
    [(None, None), (1, "under 18"), (17, "under 18"), (18, "18-24"), (24, "18-24"), (25, "25-34"),
     (44, "35-44"), (45, "45-49"), (50, "50-55"), (55, "50-55"), (56, "56+"), (80, "56+")],
)
def test_age_band(age: int | None, band: str | None) -> None:
    assert features.age_band(age) == band


@pytest.fixture(scope="module")
def tables(spark):
    movies = spark.createDataFrame(
        [
            (1, "Alpha", 1995, ["Drama", "Comedy"]),
            (2, "Beta", 1997, ["Drama"]),
            (3, "Gamma", None, ["Action"]),
            (4, "Unrated", 2001, []),
        ],
        MOVIES_SCHEMA,
    )
    ratings = spark.createDataFrame(
        [
            (10, 1, 5.0, 100),
            (10, 2, 3.0, 200),
            (10, 3, 4.0, 50),
            (11, 1, 4.0, 300),
            (11, 2, 2.0, 400),
            (12, 1, 3.0, 500),
        ],
        RATINGS_SCHEMA,
    )
    users = spark.createDataFrame(
        [(10, 23, "F", "writer", "12345"), (11, 56, "M", "doctor", "A1B2C"), (12, None, None, None, None)],
        USERS_SCHEMA,
    )
    links = spark.createDataFrame([(1, "0113497", "8844"), (2, "0114709", None)], LINKS_SCHEMA)
    tags = spark.createDataFrame(
        [(10, 1, "Funny", 1), (11, 1, "funny ", 2), (12, 1, "dark", 3), (10, 1, "acting", 4), (10, 2, "slow", 5)],
        TAGS_SCHEMA,
    )
    return movies, ratings, users, links, tags


@pytest.mark.spark
def test_movie_features(tables) -> None:
    movies, ratings, _, _, _ = tables
    rows = {r["movie_id"]: r for r in features.movie_features(ratings, movies, prior_strength=2.0).collect()}
    mu = 21.0 / 6  # global mean 3.5
    assert rows[1]["rating_count"] == 3
    assert rows[1]["rating_mean"] == pytest.approx(4.0)
    assert rows[1]["bayes_rating"] == pytest.approx((3 * 4.0 + 2 * mu) / 5, rel=1e-6)
    assert rows[2]["bayes_rating"] == pytest.approx((2 * 2.5 + 2 * mu) / 4, rel=1e-6)
    assert rows[4]["rating_count"] == 0
    assert rows[4]["rating_mean"] is None
    assert rows[4]["bayes_rating"] == pytest.approx(mu)
    # percent_rank over counts [0, 1, 2, 3]
    assert [rows[m]["popularity"] for m in (4, 3, 2, 1)] == pytest.approx([0.0, 1 / 3, 2 / 3, 1.0])
    assert rows[3]["year"] is None
    assert rows[1]["genres"] == ["Drama", "Comedy"]


@pytest.mark.spark
def test_movie_feature_columns_are_es_fields(tables) -> None:
    movies, ratings, _, links, tags = tables
    frame = features.movie_features(ratings, movies, links=links, tags=tags)
    fields = es_mappings.properties("movies")
    assert set(frame.columns) <= set(fields)
    assert frame.columns == [*features.MOVIE_FEATURE_COLUMNS, "imdb_id", "tmdb_id", "tags"]


@pytest.mark.spark
def test_movie_links_and_tags(tables) -> None:
    movies, ratings, _, links, tags = tables
    rows = {r["movie_id"]: r for r in features.movie_features(ratings, movies, links, tags, max_tags=2).collect()}
    assert rows[1]["imdb_id"] == "0113497"
    assert rows[2]["tmdb_id"] is None
    assert rows[3]["imdb_id"] is None
    # "funny" twice (case and spaces folded) first, then "acting" (ties by name: acting < dark), cut at 2
    assert rows[1]["tags"] == ["funny", "acting"]
    assert rows[2]["tags"] == ["slow"]
    assert rows[4]["tags"] == []


@pytest.mark.spark
def test_bad_prior_is_refused(tables) -> None:
    movies, ratings, _, _, _ = tables
    with pytest.raises(ValueError):
        features.movie_features(ratings, movies, prior_strength=-1)


@pytest.mark.spark
def test_user_features(tables) -> None:
    movies, ratings, users, _, _ = tables
    frame = features.user_features(ratings, movies, users)
    assert set(frame.columns) <= set(es_mappings.properties("users"))
    rows = {r["user_id"]: r for r in frame.collect()}
    u10 = rows[10]
    assert u10["rating_count"] == 3
    assert u10["rating_mean"] == pytest.approx(4.0)
    assert (u10["first_rating_at"], u10["last_rating_at"]) == (50, 200)
    assert u10["rated_movie_ids"] == [1, 2, 3]
    # liked (>= 4): movie 1 (Drama, Comedy) and 3 (Action), not movie 2 (Drama, 3 stars): one each, ties by name
    assert u10["top_genres"] == ["Action", "Comedy", "Drama"]
    assert (u10["age"], u10["age_band"], u10["gender"], u10["occupation"], u10["zip"]) == (23, "18-24", "F", "writer", "12345")
    assert rows[11]["age_band"] == "56+"
    assert rows[12]["age_band"] is None
    assert rows[11]["top_genres"] == ["Comedy", "Drama"]  # movie 1 at 4 stars; movie 2 at 2 is not liked
    assert rows[12]["top_genres"] == []  # rated, liked nothing


@pytest.mark.spark
def test_top_genres_are_liked_genres_not_the_most_rated(spark) -> None:
    movies = spark.createDataFrame(
        [(m, f"Fright {m}", 1990, ["Horror"]) for m in range(1, 6)] + [(6, "Laughs", 1991, ["Comedy", "Romance"])],
        MOVIES_SCHEMA,
    )
    ratings = spark.createDataFrame(
        [(7, m, 1.0, m) for m in range(1, 6)] + [(7, 6, 4.0, 6), (8, 1, 3.5, 1), (8, 6, 5.0, 2), (8, 2, 4.5, 3)],
        RATINGS_SCHEMA,
    )
    rows = {r["user_id"]: r["top_genres"] for r in features.user_features(ratings, movies).collect()}
    assert rows == {7: ["Comedy", "Romance"], 8: ["Comedy", "Horror", "Romance"]}


@pytest.mark.spark
def test_user_features_without_demographics(tables) -> None:
    movies, ratings, _, _, _ = tables
    frame = features.user_features(ratings, movies)
    assert frame.columns == list(features.USER_FEATURE_COLUMNS)
    assert frame.count() == 3
