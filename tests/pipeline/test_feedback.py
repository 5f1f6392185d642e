"""Online feedback in the pipeline: read from Elasticsearch into Spark, merged with the dataset, the snapshot."""

from __future__ import annotations

import pytest

from es_mappings import ACCOUNT_ID_MIN
from pipeline import columns as C
from pipeline.data import feedback as data
from pipeline.es import client_options
from pipeline.loaders import Tables
from pipeline.publish.refold import changed_since, current_versions
from service import feedback

pytestmark = pytest.mark.spark

ACCOUNT = ACCOUNT_ID_MIN


def _tables(spark, with_users: bool = True) -> Tables:
    movies = spark.createDataFrame([(1, "A", 1990, ["Drama"]), (2, "B", 1991, ["Comedy"]), (3, "C", None, [])], C.MOVIES_SCHEMA)
    ratings = spark.createDataFrame([(1, 1, 4.0, 100), (1, 2, 3.0, 300), (2, 3, 5.0, 100)], C.RATINGS_SCHEMA)
    users = spark.createDataFrame([(1, 24, "M", "writer", "1"), (2, 30, "F", "other", "2")], C.USERS_SCHEMA) if with_users else None
    return Tables(ratings=ratings, movies=movies, users=users)


def _online(spark) -> data.OnlineFeedback:
    accounts = spark.createDataFrame([(ACCOUNT, 33, "F", "artist", "94110")], C.USERS_SCHEMA)
    ratings = spark.createDataFrame(
        [
            (1, 1, 2.0, 200),  # newer than the dataset's (1, 1): wins
            (1, 2, 5.0, 300),  # as new as the dataset's (1, 2): the online one wins
            (1, 3, 1.0, 50),  # a movie user 1 had not rated
            (ACCOUNT, 1, 4.5, 500),
            (ACCOUNT, 99, 3.0, 500),  # a movie this dataset lacks
        ],
        C.RATINGS_SCHEMA,
    )
    return data.OnlineFeedback(accounts=accounts, ratings=ratings, snapshot={1: (4, 1), ACCOUNT: (7, 1)})


def test_merge_keeps_the_latest_rating_and_counts_what_it_took(spark):
    tables = _tables(spark)
    merged, counts = data.merge(tables, _online(spark))
    rows = sorted(tuple(r) for r in merged.ratings.collect())
    assert rows == [(1, 1, 2.0, 200), (1, 2, 5.0, 300), (1, 3, 1.0, 50), (2, 3, 5.0, 100), (ACCOUNT, 1, 4.5, 500)]
    assert merged.ratings.schema == C.RATINGS_SCHEMA
    assert counts == {"online_users": 2, "online_ratings": 4, "online_ratings_unknown_movie": 1}
    assert sorted((r.user_id, r.age, r.occupation) for r in merged.users.collect()) == [
        (1, 24, "writer"), (2, 30, "other"), (ACCOUNT, 33, "artist")
    ]
    data.release(merged, tables)


def test_merge_without_a_users_table_keeps_the_accounts_demographics(spark):
    merged, _ = data.merge(_tables(spark, with_users=False), _online(spark))
    assert [(r.user_id, r.gender) for r in merged.users.collect()] == [(ACCOUNT, "F")]


def test_merge_without_feedback_is_the_dataset_itself(spark):
    tables = _tables(spark)
    empty = data.OnlineFeedback(spark.createDataFrame([], C.USERS_SCHEMA), spark.createDataFrame([], C.RATINGS_SCHEMA))
    merged, counts = data.merge(tables, empty)
    assert merged is tables
    assert counts == {"online_users": 0, "online_ratings": 0, "online_ratings_unknown_movie": 0}


def test_read_streams_the_feedback_index_into_spark_with_its_snapshot(spark, es, es_url, index_prefix):
    feedback.ensure_indices(es, index_prefix)
    account = feedback.create_account(es, index_prefix, ACCOUNT, {"age": 40, "gender": "M"}, {1: 4.0, 2: 2.5}, 1_000)
    feedback.add_ratings(es, index_prefix, 7, {3: 5.0}, 2_000)  # a dataset user rating more
    latest = feedback.add_ratings(es, index_prefix, 7, {1: 1.0}, 3_000)
    online = data.read(spark, es, client_options(es_url, {}), index_prefix)
    assert online.snapshot == {ACCOUNT: (account.seq_no, account.primary_term), 7: (latest.seq_no, latest.primary_term)}
    assert sorted(tuple(r) for r in online.ratings.collect()) == [
        (7, 1, 1.0, 3_000), (7, 3, 5.0, 2_000), (ACCOUNT, 1, 4.0, 1_000), (ACCOUNT, 2, 2.5, 1_000)
    ]
    assert [(r.user_id, r.age, r.gender, r.occupation) for r in online.accounts.collect()] == [(ACCOUNT, 40, "M", None)]
    # a change after the snapshot, and a new user, are what the publish stage re-folds
    feedback.add_ratings(es, index_prefix, ACCOUNT, {3: 3.0}, 4_000)
    feedback.create_account(es, index_prefix, ACCOUNT + 1, {}, {1: 5.0}, 4_000)
    assert changed_since(online.snapshot, current_versions(es, index_prefix)) == [ACCOUNT, ACCOUNT + 1]
    online.unpersist()


def test_read_before_any_feedback_is_empty(spark, es, es_url, index_prefix):
    online = data.read(spark, es, client_options(es_url, {}), index_prefix)
    assert online.snapshot == {} and online.ratings.count() == 0 and online.accounts.count() == 0
