"""Train/test splits as named protocols, reproducible from a seed.

- `msr-100k`: the procedure of recommenders' `python_stratified_split`
  (filter_by="user", ratio 0.75; recommenders/datasets/python_splitters.py):
  one uniform draw per rating from numpy's legacy `RandomState(seed).rand`,
  each user's ratings ranked by their draw, and a rating trains when
  rank / count ≤ 0.75 (so ⌊0.75·n⌋ train). The draws are assigned in
  (user, movie) order (recommenders assigns them in file order, so the rows
  differ; the procedure is the same). Figures are reported over MSR_SEEDS.
- `liked-only`: the msr-100k split; relevant = test ratings ≥ LIKED_THRESHOLD.
- `surprise-100k`: the official ml-100k folds u1..u5 (`uN.base` / `uN.test`).
- `temporal`: per user, ratings ordered by time (ties by movie id); the last
  round(0.2·n) go to test.

The stratified split runs on the driver (the protocols are ml-100k sized).
Validation carves (`random_split`) run in Spark at any size: each row's sort
key is a 64-bit hash of (seed, user_id, movie_id), not Spark's `rand()` (whose
stream depends on partitioning), so the same seed gives the same carve on
any cluster layout. Ratings are assumed unique per (user, movie), as cleaning
guarantees.

Validation splits for tuning are carved from a training part only, with the
same kind of method and a different seed (`validation_split`), so the test
part is never seen until the final evaluation.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from pipeline.columns import MOVIE, RATING, TS, USER

log = logging.getLogger(__name__)

PROTOCOLS = ("msr-100k", "liked-only", "surprise-100k", "temporal")
MSR_TRAIN_RATIO = 0.75
MSR_SEED = 42
MSR_SEEDS = (42, 7, 123, 1, 2)
LIKED_THRESHOLD = 4.0
TEMPORAL_TEST_RATIO = 0.2
VALIDATION_SEED_OFFSET = 1
SURPRISE_FOLDS = ("u1", "u2", "u3", "u4", "u5")
# What each protocol ranks or predicts, used to pick the tuning objective.
PROTOCOL_TASK = {"msr-100k": "ranking", "liked-only": "ranking", "surprise-100k": "rating", "temporal": "ranking"}

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


def stratified_train_mask(users: np.ndarray, ratio: float, seed: int) -> np.ndarray:
    """python_stratified_split's rule for rows in a fixed order: True where the row trains.

    draws = RandomState(seed).rand(n) in row order; per user, rows ranked by draw
    (1-based); train when rank / count <= ratio.
    """
    if not 0.0 < ratio < 1.0:
        raise ValueError(f"ratio must be in (0, 1), got {ratio}")
    users = np.asarray(users)
    draws = np.random.RandomState(seed).rand(len(users))
    order = np.lexsort((draws, users))
    sorted_users = users[order]
    starts = np.flatnonzero(np.r_[True, sorted_users[1:] != sorted_users[:-1]])
    counts = np.diff(np.r_[starts, len(users)])
    rank = np.arange(len(users)) - np.repeat(starts, counts) + 1
    mask = np.zeros(len(users), dtype=bool)
    mask[order] = rank / np.repeat(counts, counts) <= ratio
    return mask


def stratified_split(
    ratings: DataFrame, train_ratio: float = MSR_TRAIN_RATIO, seed: int = MSR_SEED
) -> tuple[DataFrame, DataFrame]:
    """recommenders' `python_stratified_split` procedure on the driver (rows in (user, movie) order)."""
    rows = ratings.orderBy(USER, MOVIE).collect()
    users = np.fromiter((r[USER] for r in rows), dtype=np.int64, count=len(rows))
    mask = stratified_train_mask(users, train_ratio, seed)
    spark = ratings.sparkSession
    train = spark.createDataFrame([r for r, t in zip(rows, mask.tolist(), strict=True) if t], ratings.schema)
    test = spark.createDataFrame([r for r, t in zip(rows, mask.tolist(), strict=True) if not t], ratings.schema)
    return train, test


def msr_split(ratings: DataFrame, seed: int = MSR_SEED) -> Split:
    train, test = stratified_split(ratings, MSR_TRAIN_RATIO, seed)
    return Split(f"msr-100k/seed-{seed}", train, test)


def liked_only(split: Split, threshold: float = LIKED_THRESHOLD) -> Split:
    """The same split; only test ratings >= threshold are relevant (liked-only protocol)."""
    name = split.name.replace("msr-100k", "liked-only", 1)
    return Split(name, split.train, split.test.where(F.col(RATING) >= F.lit(float(threshold))))


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
        ratio = MSR_TRAIN_RATIO if protocol in ("msr-100k", "liked-only") else 0.8
        train, valid = random_split(split.train, ratio, seed)
        if protocol == "liked-only":
            valid = valid.where(F.col(RATING) >= F.lit(LIKED_THRESHOLD))
    return Split(f"{split.name}/validation", train, valid)


def materialise(split: Split) -> Split:
    """Cache both parts and cut their lineage (window plans re-run on every ALS pass otherwise)."""
    return Split(split.name, split.train.localCheckpoint(), split.test.localCheckpoint())
