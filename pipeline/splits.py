"""Train/test splits as named protocols, reproducible from a seed.

- `msr-100k`: per-user stratified random split (like recommenders'
  `python_stratified_split` / `spark_stratified_split` with filter_by="user"):
  each user's ratings are shuffled and the first round(0.75·n) go to training,
  the rest to test. Seed 42.
- `surprise-100k`: the official ml-100k folds u1..u5 (`uN.base` / `uN.test`).
- `temporal`: per user, ratings ordered by time (ties by movie id); the last
  round(0.2·n) go to test.

The shuffle is not Spark's `rand()` (whose stream depends on partitioning):
each row's sort key is a 64-bit hash of (seed, user_id, movie_id), so the same
seed gives the same split on any cluster layout. Ratings are assumed unique
per (user, movie), as cleaning guarantees.

Validation splits for tuning are carved from a training part only, with the
same method and a different seed (`validation_split`), so the test part is
never seen until the final evaluation.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from pipeline.columns import MOVIE, TS, USER

log = logging.getLogger(__name__)

PROTOCOLS = ("msr-100k", "surprise-100k", "temporal")
MSR_TRAIN_RATIO = 0.75
MSR_SEED = 42
TEMPORAL_TEST_RATIO = 0.2
VALIDATION_SEED_OFFSET = 1
SURPRISE_FOLDS = ("u1", "u2", "u3", "u4", "u5")
# What each protocol ranks or predicts, used to pick the tuning objective.
PROTOCOL_TASK = {"msr-100k": "ranking", "surprise-100k": "rating", "temporal": "ranking"}

_POS = "_pos"
_N = "_n"


@dataclass(frozen=True)
class Split:
    """One train/test pair; `name` says which protocol (and fold) made it."""

    name: str
    train: DataFrame
    test: DataFrame


def _positions(ratings: DataFrame, order: list) -> DataFrame:
    w = Window.partitionBy(USER).orderBy(*order)
    return ratings.withColumn(_POS, F.row_number().over(w)).withColumn(
        _N, F.count(F.lit(1)).over(Window.partitionBy(USER))
    )


def _cut(ranked: DataFrame, train_count) -> tuple[DataFrame, DataFrame]:
    cols = [c for c in ranked.columns if c not in (_POS, _N)]
    in_train = F.col(_POS) <= train_count
    return ranked.where(in_train).select(*cols), ranked.where(~in_train).select(*cols)


def random_split(
    ratings: DataFrame, train_ratio: float = MSR_TRAIN_RATIO, seed: int = MSR_SEED
) -> tuple[DataFrame, DataFrame]:
    """Per-user stratified random split: round(train_ratio·n) of each user's ratings train.

    A user with one rating keeps it in training (round(0.75) = 1), so no user is
    test-only.
    """
    if not 0.0 < train_ratio < 1.0:
        raise ValueError(f"train_ratio must be in (0, 1), got {train_ratio}")
    key = F.xxhash64(F.lit(int(seed)), F.col(USER), F.col(MOVIE))
    ranked = _positions(ratings, [key, F.col(MOVIE)])
    # Spark's round is half-up: a user with 2 ratings keeps both in training (1.5 -> 2).
    return _cut(ranked, F.greatest(F.round(F.col(_N) * F.lit(train_ratio)), F.lit(1)))


def temporal_split(ratings: DataFrame, test_ratio: float = TEMPORAL_TEST_RATIO) -> tuple[DataFrame, DataFrame]:
    """Per user, the latest round(test_ratio·n) ratings (by time, ties by movie id) are test."""
    if not 0.0 < test_ratio < 1.0:
        raise ValueError(f"test_ratio must be in (0, 1), got {test_ratio}")
    ranked = _positions(ratings, [F.col(TS), F.col(MOVIE)])
    return _cut(ranked, F.greatest(F.col(_N) - F.round(F.col(_N) * F.lit(test_ratio)), F.lit(1)))


def msr_split(ratings: DataFrame, seed: int = MSR_SEED) -> Split:
    train, test = random_split(ratings, MSR_TRAIN_RATIO, seed)
    return Split("msr-100k", train, test)


def temporal(ratings: DataFrame, test_ratio: float = TEMPORAL_TEST_RATIO) -> Split:
    train, test = temporal_split(ratings, test_ratio)
    return Split("temporal", train, test)


def surprise_folds(
    spark: SparkSession, dataset_dir: str | Path, folds: tuple[str, ...] = SURPRISE_FOLDS
) -> Iterator[Split]:
    """The official ml-100k folds, read with the data loader's own ml-100k reader.

    `dataset_dir` is the ml-100k folder or its parent (as for `loaders.load`).
    """
    from pipeline.datasets import get
    from pipeline.loaders import read_ratings, resolve_folder

    root = resolve_folder(get("ml-100k"), dataset_dir)
    for fold in folds:
        train = read_ratings(spark, root / f"{fold}.base", "ml-100k")
        test = read_ratings(spark, root / f"{fold}.test", "ml-100k")
        yield Split(f"surprise-100k/{fold}", train, test)


def validation_split(split: Split, seed: int | None = None) -> Split:
    """Carve a validation split out of `split.train` only, by the protocol's own method.

    Random protocols (msr-100k, surprise-100k folds) use the msr ratio with a
    different seed; temporal uses the temporal cut again on the training part.
    """
    protocol = split.name.split("/")[0]
    if protocol == "temporal":
        train, valid = temporal_split(split.train)
    else:
        seed = MSR_SEED + VALIDATION_SEED_OFFSET if seed is None else seed
        ratio = MSR_TRAIN_RATIO if protocol == "msr-100k" else 0.8
        train, valid = random_split(split.train, ratio, seed)
    return Split(f"{split.name}/validation", train, valid)
