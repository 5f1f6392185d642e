"""Online feedback into Spark: accounts and ratings given through the API, trained on with the dataset.

    <prefix>-feedback ──(one Spark task: elasticsearch.helpers.scan, a scroll = one consistent view)──►
      rows (user, _seq_no, _primary_term, origin, demographics, ratings[]) ──► accounts, ratings frames
      + the snapshot on the driver: user id -> (_seq_no, _primary_term) of the version read

Only the ratings given against the run's edition (its dataset; service.feedback says how a rating's
edition is known, also for ratings stored before editions were) are read into the frames: movie ids and
a MovieLens user's id mean another film and another person in another edition. The other editions'
ratings are counted as held back and stay in the feedback index for a run of their edition. Accounts are
read whatever the edition (they exist in every edition); a MovieLens user's feedback only counts in an
edition it has ratings of.

`merge` adds them to the cleaned dataset tables: ratings of movies the dataset knows join the dataset's,
the latest rating per (user, movie) winning (equal times: the online one, as service.sync merges), and
accounts join the users table. The snapshot tells the publish stage, after the alias swap, which users
changed while the run trained (pipeline.publish.refold). The feedback index itself is never written by a
run: it is the system of record (service.feedback).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from elasticsearch import Elasticsearch, helpers
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import (
    ArrayType,
    BooleanType,
    FloatType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
)

from pipeline import columns as C
from pipeline.loaders import Tables, conform
from service.feedback import ACCOUNT, Timeline, edition_at, entries_of, served_editions

log = logging.getLogger(__name__)

SCAN_SIZE = 1_000
ONLINE = "_online"
Snapshot = dict[int, tuple[int, int]]  # user id -> (_seq_no, _primary_term) of the feedback version read

FEEDBACK_SCHEMA = StructType(
    [
        StructField(C.USER, IntegerType(), False),
        StructField("seq_no", LongType(), False),
        StructField("primary_term", LongType(), False),
        StructField("origin", StringType(), False),
        StructField(C.AGE, IntegerType(), True),
        StructField(C.GENDER, StringType(), True),
        StructField(C.OCCUPATION, StringType(), True),
        StructField(C.ZIP, StringType(), True),
        StructField(
            "ratings",
            ArrayType(
                StructType(
                    [
                        StructField(C.MOVIE, IntegerType(), False),
                        StructField(C.RATING, FloatType(), False),
                        StructField(C.TS, LongType(), False),
                        StructField("edition", StringType(), False),
                        StructField("legacy", BooleanType(), False),  # stored without an edition (attributed)
                    ]
                ),
                False,
            ),
            False,
        ),
    ]
)


@dataclass
class OnlineFeedback:
    """What a run read of the feedback index."""

    accounts: DataFrame  # USERS_SCHEMA: users created through the API
    ratings: DataFrame  # RATINGS_SCHEMA: every rating given through the API against the run's edition
    snapshot: Snapshot = field(default_factory=dict)  # the users who exist in the run's edition
    held_back: int = 0  # ratings given against other editions (kept, not trained on)
    legacy: int = 0  # ratings stored before editions were recorded, attributed by service.feedback.edition_at

    def unpersist(self) -> None:
        for frame in (self.accounts, self.ratings):
            frame.unpersist()


def feedback_index(prefix: str) -> str:
    from service.feedback import feedback_index as name

    return name(prefix)


def to_row(hit: Mapping[str, Any], timeline: Timeline = ()) -> tuple:
    """One scanned feedback document as a FEEDBACK_SCHEMA row, each rating with its edition."""
    src = hit["_source"]
    stored = src.get("ratings", [])
    legacy = {(str(r.get("edition") or edition_at(timeline, int(r["rated_at"]))), int(r["movie_id"]))
              for r in stored if "edition" not in r}
    ratings = [(m, r, t, e, (e, m) in legacy) for (e, m), (r, t) in sorted(entries_of(stored, timeline).items())]
    age = src.get("age")
    return (
        int(src["user_id"]),
        int(hit["_seq_no"]),
        int(hit["_primary_term"]),
        str(src.get("origin", "dataset")),
        None if age is None else int(age),
        src.get("gender"),
        src.get("occupation"),
        src.get("zip"),
        ratings,
    )


def scan_partition(
    _: int, __: Iterator[Any], *, client_options: Mapping[str, Any], index: str, timeline: Timeline = ()
) -> Iterator[tuple]:
    """Runs on an executor: its own client, one scroll over the feedback index, a row per document."""
    client = Elasticsearch(**dict(client_options))
    try:
        for hit in helpers.scan(client, index=index, size=SCAN_SIZE, seq_no_primary_term=True, query={"query": {"match_all": {}}}):
            yield to_row(hit, timeline)
    finally:
        client.close()


def read(spark: SparkSession, es: Elasticsearch, client_options: Mapping[str, Any], prefix: str, edition: str) -> OnlineFeedback:
    """Stream the feedback index into Spark (cached): the ratings given against `edition` (the run's dataset),
    the accounts, the snapshot of the versions read of the users who exist in `edition`, and what was held back."""
    index = feedback_index(prefix)
    if es.indices.exists(index=index):
        es.indices.refresh(index=index)  # every acknowledged write becomes visible to the scroll
        timeline = served_editions(es, prefix)
        scan = functools.partial(scan_partition, client_options=dict(client_options), index=index, timeline=timeline)
        rows = spark.sparkContext.parallelize([0], 1).mapPartitionsWithIndex(scan)
        docs = spark.createDataFrame(rows, FEEDBACK_SCHEMA).cache()
    else:
        docs = spark.createDataFrame([], FEEDBACK_SCHEMA).cache()
    accounts = conform(docs.where(F.col("origin") == ACCOUNT), C.USERS_SCHEMA).cache()
    exploded = docs.select(C.USER, F.explode("ratings").alias("r")).select(C.USER, "r.*").cache()
    ours = exploded.where(F.col("edition") == edition)
    ratings = conform(ours, C.RATINGS_SCHEMA).cache()
    n_ratings = ratings.count()
    held_back = exploded.where(F.col("edition") != edition).count()
    legacy = exploded.where(F.col("legacy")).count()
    rated = {int(r[0]) for r in ours.select(C.USER).distinct().collect()}
    snapshot = {
        int(r[0]): (int(r[1]), int(r[2]))
        for r in docs.select(C.USER, "seq_no", "primary_term", "origin").collect()
        if r[3] == ACCOUNT or int(r[0]) in rated
    }
    log.info("online feedback of %s: %d users (%d accounts), %d ratings from %s; %d ratings of other editions held back, "
             "%d stored before editions were recorded", edition, len(snapshot), accounts.count(), n_ratings, index, held_back, legacy)
    exploded.unpersist()
    docs.unpersist()
    return OnlineFeedback(accounts=accounts, ratings=ratings, snapshot=snapshot, held_back=held_back, legacy=legacy)


def merge(
    tables: Tables, online: OnlineFeedback, merged_movies: Mapping[int, list[int]] | None = None
) -> tuple[Tables, dict[str, int]]:
    """The dataset tables plus the online feedback, and what was taken (counts for the run record).

    `merged_movies` (canonical id -> ids cleaning merged into it, `clean.merged_by_canonical`): an online
    rating of a merged id counts for its film, as the dataset's do. Ratings of movies the dataset lacks are
    left out (counted as `online_ratings_unknown_movie`); they stay in the feedback index and count again in
    a run whose dataset has the movie. The merged ratings are persisted (features, ALS and export read them
    several times): `release(merged, tables)` frees them.
    """
    kept = {"online_ratings_held_back": online.held_back, "online_ratings_legacy": online.legacy}
    if not online.snapshot:
        return tables, {"online_users": 0, "online_ratings": 0, "online_ratings_unknown_movie": 0, **kept}
    given = online.ratings
    if merged_movies:
        spark = given.sparkSession
        pairs = spark.createDataFrame([(old, new) for new, olds in merged_movies.items() for old in olds], "_old int, _new int")
        given = (given.join(F.broadcast(pairs), given[C.MOVIE] == pairs["_old"], "left")
                 .withColumn(C.MOVIE, F.coalesce("_new", C.MOVIE)).select(*C.RATINGS_SCHEMA.fieldNames()))
    known = given.join(tables.movies.select(C.MOVIE), C.MOVIE, "left_semi")
    both = tables.ratings.withColumn(ONLINE, F.lit(0)).unionByName(known.withColumn(ONLINE, F.lit(1)))
    latest = both.groupBy(C.USER, C.MOVIE).agg(F.max(F.struct(C.TS, ONLINE, C.RATING)).alias("_latest"))
    merged = latest.select(C.USER, C.MOVIE, f"_latest.{C.RATING}", f"_latest.{C.TS}", f"_latest.{ONLINE}")
    merged = merged.persist(StorageLevel.MEMORY_AND_DISK)
    taken = merged.where(F.col(ONLINE) == 1)
    counts = {
        "online_users": taken.select(C.USER).distinct().count(),
        "online_ratings": taken.count(),
        "online_ratings_unknown_movie": online.ratings.count() - known.count(),
        **kept,
    }
    users = tables.users
    if users is not None:
        users = users.unionByName(online.accounts)
    elif online.accounts.take(1):
        users = online.accounts  # an edition without demographics: the accounts keep theirs
    ratings = conform(merged, C.RATINGS_SCHEMA).persist(StorageLevel.MEMORY_AND_DISK)
    ratings.count()
    merged.unpersist()
    log.info("training on the dataset plus %s", counts)
    return Tables(ratings=ratings, movies=tables.movies, users=users, tags=tables.tags, links=tables.links), counts


def release(merged: Tables, dataset: Tables) -> None:
    """Free what `merge` persisted (nothing when it returned the dataset tables themselves)."""
    if merged.ratings is not dataset.ratings:
        merged.ratings.unpersist()
