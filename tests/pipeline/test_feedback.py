"""Online feedback in the pipeline: read from Elasticsearch into Spark, merged with the dataset, the snapshot."""

from __future__ import annotations

import datetime as dt

import pytest

from es_mappings import ACCOUNT_ID_MIN
from pipeline import columns as C
from pipeline import runs
from pipeline.data import feedback as data
from pipeline.es import client_options
from pipeline.indices import ensure_runs_index
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
    return data.OnlineFeedback(accounts=accounts, ratings=ratings, snapshot={1: (4, 1), ACCOUNT: (7, 1)}, held_back=3, legacy=1)


def test_merge_keeps_the_latest_rating_and_counts_what_it_took(spark):
    tables = _tables(spark)
    merged, counts = data.merge(tables, _online(spark))
    rows = sorted(tuple(r) for r in merged.ratings.collect())
    assert rows == [(1, 1, 2.0, 200), (1, 2, 5.0, 300), (1, 3, 1.0, 50), (2, 3, 5.0, 100), (ACCOUNT, 1, 4.5, 500)]
    assert merged.ratings.schema == C.RATINGS_SCHEMA
    assert counts == {"online_users": 2, "online_ratings": 4, "online_ratings_unknown_movie": 1,
                      "online_ratings_held_back": 3, "online_ratings_legacy": 1}
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
    assert counts == {"online_users": 0, "online_ratings": 0, "online_ratings_unknown_movie": 0,
                      "online_ratings_held_back": 0, "online_ratings_legacy": 0}


def test_read_streams_the_feedback_index_into_spark_with_its_snapshot(spark, es, es_url, index_prefix):
    feedback.ensure_indices(es, index_prefix)
    account = feedback.create_account(es, index_prefix, ACCOUNT, {"age": 40, "gender": "M"}, {1: 4.0, 2: 2.5}, 1_000, "ml-100k")
    feedback.add_ratings(es, index_prefix, 7, {3: 5.0}, 2_000, "ml-100k")  # a dataset user rating more
    latest = feedback.add_ratings(es, index_prefix, 7, {1: 1.0}, 3_000, "ml-100k")
    online = data.read(spark, es, client_options(es_url, {}), index_prefix, "ml-100k")
    assert online.snapshot == {ACCOUNT: (account.seq_no, account.primary_term), 7: (latest.seq_no, latest.primary_term)}
    assert sorted(tuple(r) for r in online.ratings.collect()) == [
        (7, 1, 1.0, 3_000), (7, 3, 5.0, 2_000), (ACCOUNT, 1, 4.0, 1_000), (ACCOUNT, 2, 2.5, 1_000)
    ]
    assert (online.held_back, online.legacy) == (0, 0)
    assert [(r.user_id, r.age, r.gender, r.occupation) for r in online.accounts.collect()] == [(ACCOUNT, 40, "M", None)]
    # a change after the snapshot, and a new user, are what the publish stage re-folds
    feedback.add_ratings(es, index_prefix, ACCOUNT, {3: 3.0}, 4_000, "ml-100k")
    feedback.create_account(es, index_prefix, ACCOUNT + 1, {}, {1: 5.0}, 4_000, "ml-100k")
    assert changed_since(online.snapshot, current_versions(es, index_prefix, "ml-100k")) == [ACCOUNT, ACCOUNT + 1]
    online.unpersist()


def test_read_takes_only_the_runs_edition_and_holds_the_others_back(spark, es, es_url, index_prefix):
    feedback.ensure_indices(es, index_prefix)
    account = feedback.create_account(es, index_prefix, ACCOUNT, {"age": 40}, {1: 4.0, 50: 5.0}, 1_000, "ml-100k")
    feedback.add_ratings(es, index_prefix, ACCOUNT, {50: 2.0}, 2_000, "other-edition")  # same id, another film
    feedback.add_ratings(es, index_prefix, 42, {50: 1.0, 7: 3.0}, 1_500, "ml-100k")  # ml-100k's user 42
    other = feedback.add_ratings(es, index_prefix, 43, {9: 4.5}, 1_600, "other-edition")  # that edition's user 43
    stored = feedback.get_account(es, index_prefix, ACCOUNT)
    assert stored.entries() == {("ml-100k", 1): (4.0, 1_000), ("ml-100k", 50): (5.0, 1_000),
                                ("other-edition", 50): (2.0, 2_000)}  # nothing replaced across editions
    online = data.read(spark, es, client_options(es_url, {}), index_prefix, "other-edition")
    assert sorted(tuple(r) for r in online.ratings.collect()) == [(43, 9, 4.5, 1_600), (ACCOUNT, 50, 2.0, 2_000)]
    assert online.held_back == 4  # the account's two ml-100k ratings and user 42's two
    assert online.snapshot == {ACCOUNT: (stored.seq_no, stored.primary_term), 43: (other.seq_no, other.primary_term)}
    assert [r.user_id for r in online.accounts.collect()] == [ACCOUNT]  # an account exists in every edition
    assert 42 not in current_versions(es, index_prefix, "other-edition")  # ml-100k's user 42 is not re-folded there
    online.unpersist()
    back = data.read(spark, es, client_options(es_url, {}), index_prefix, "ml-100k")
    assert sorted(tuple(r) for r in back.ratings.collect()) == [
        (42, 7, 3.0, 1_500), (42, 50, 1.0, 1_500), (ACCOUNT, 1, 4.0, 1_000), (ACCOUNT, 50, 5.0, 1_000)
    ]
    assert back.held_back == 2 and set(back.snapshot) == {42, ACCOUNT}
    assert account.user_id == ACCOUNT
    back.unpersist()


def test_ratings_stored_before_editions_are_attributed_to_the_run_served_when_given(spark, es, es_url, index_prefix):
    feedback.ensure_indices(es, index_prefix)
    ensure_runs_index(es, index_prefix)
    for run_id, dataset, finished in (("r1", "ml-100k", 1_000), ("r2", "other-edition", 2_000)):  # as run records store them
        es.index(index=f"{index_prefix}-runs", id=run_id, refresh=True, document={
            "run_id": run_id, "status": runs.SUCCEEDED, "dataset": dataset,
            "finished_at": runs.iso(dt.datetime.fromtimestamp(finished, dt.timezone.utc))})
    legacy = {"user_id": ACCOUNT, "origin": "account", "rating_count": 3, "created_at": 500, "updated_at": 2_500,
              "ratings": [{"movie_id": 1, "rating": 4.0, "rated_at": 500},  # before any run: unknown, held back
                          {"movie_id": 2, "rating": 3.0, "rated_at": 1_500},  # r1 (ml-100k) was served
                          {"movie_id": 3, "rating": 5.0, "rated_at": 2_500}]}  # r2 (other-edition) was served
    es.index(index=f"{index_prefix}-feedback", id=str(ACCOUNT), document=legacy, refresh=True)
    timeline = feedback.served_editions(es, index_prefix)
    assert timeline == [(1_000, "ml-100k"), (2_000, "other-edition")]
    account = feedback.get_account(es, index_prefix, ACCOUNT)
    assert account.legacy
    assert account.entries(timeline) == {(feedback.UNKNOWN_EDITION, 1): (4.0, 500), ("ml-100k", 2): (3.0, 1_500),
                                         ("other-edition", 3): (5.0, 2_500)}
    online = data.read(spark, es, client_options(es_url, {}), index_prefix, "ml-100k")
    assert [tuple(r) for r in online.ratings.collect()] == [(ACCOUNT, 2, 3.0, 1_500)]
    assert (online.held_back, online.legacy) == (2, 3)
    online.unpersist()
    # the next write stores the attributed editions; the unattributable one stays as it was
    feedback.add_ratings(es, index_prefix, ACCOUNT, {4: 2.0}, 3_000, "other-edition")
    stored = feedback.get_account(es, index_prefix, ACCOUNT).source["ratings"]
    assert [(r["movie_id"], r.get("edition")) for r in stored] == [
        (2, "ml-100k"), (3, "other-edition"), (4, "other-edition"), (1, None)
    ]


def test_read_before_any_feedback_is_empty(spark, es, es_url, index_prefix):
    online = data.read(spark, es, client_options(es_url, {}), index_prefix, "ml-100k")
    assert online.snapshot == {} and online.ratings.count() == 0 and online.accounts.count() == 0
