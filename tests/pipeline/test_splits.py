"""Split protocols: disjoint, per-user proportions, time order, reproducible."""

from __future__ import annotations

from collections import Counter

import pytest

from pipeline import splits
from pipeline.columns import RATINGS_SCHEMA

pytestmark = pytest.mark.spark

# users with 8, 4 and 13 ratings; timestamps run opposite to movie ids for user 3
COUNTS = {1: 8, 2: 4, 3: 13}


@pytest.fixture(scope="module")
def ratings(spark):
    rows = []
    for user, n in COUNTS.items():
        for j in range(n):
            movie = 100 + j
            ts = 1_000 + (n - j if user == 3 else j) * 10
            rows.append((user, movie, float(1 + j % 5), ts))
    return spark.createDataFrame(rows, RATINGS_SCHEMA).cache()


def _pairs(frame) -> set[tuple[int, int]]:
    return {(r[0], r[1]) for r in frame.select("user_id", "movie_id").collect()}


def _per_user(frame) -> Counter:
    return Counter(r[0] for r in frame.select("user_id").collect())


def test_random_split_is_disjoint_complete_and_75_25_per_user(ratings) -> None:
    train, test = splits.random_split(ratings, 0.75, seed=42)
    tr, te = _pairs(train), _pairs(test)
    assert not tr & te
    assert tr | te == _pairs(ratings)
    # round half up: 8 -> 6, 4 -> 3, 13 -> 9.75 -> 10
    assert _per_user(train) == Counter({1: 6, 2: 3, 3: 10})
    assert _per_user(test) == Counter({1: 2, 2: 1, 3: 3})
    assert train.columns == ratings.columns


def test_same_seed_same_split_other_seed_other_split(ratings) -> None:
    a = _pairs(splits.random_split(ratings, 0.75, seed=42)[1])
    b = _pairs(splits.random_split(ratings.repartition(3), 0.75, seed=42)[1])
    c = _pairs(splits.random_split(ratings, 0.75, seed=7)[1])
    assert a == b
    assert a != c


def test_stratified_mask_follows_python_stratified_split_by_hand() -> None:
    # RandomState(42).rand(4) = [0.3745, 0.9507, 0.7320, 0.5987]: ranked 1, 4, 3, 2 for the one user;
    # rank / count = [0.25, 1.0, 0.75, 0.5] <= 0.75 trains rows 0, 2 and 3
    assert splits.stratified_train_mask([5, 5, 5, 5], 0.75, 42).tolist() == [True, False, True, True]
    # per user floor(0.75 n) train: 8 -> 6, 4 -> 3, 13 -> 9
    users = [1] * 8 + [2] * 4 + [3] * 13
    mask = splits.stratified_train_mask(users, 0.75, 7)
    assert Counter(u for u, m in zip(users, mask, strict=True) if m) == Counter({1: 6, 2: 3, 3: 9})
    with pytest.raises(ValueError):
        splits.stratified_train_mask(users, 1.0, 7)


def test_msr_split_is_the_stratified_procedure_per_seed(ratings) -> None:
    split = splits.msr_split(ratings, seed=7)
    assert split.name == "msr-100k/seed-7"
    tr, te = _pairs(split.train), _pairs(split.test)
    assert not tr & te and tr | te == _pairs(ratings)
    ordered = sorted(_pairs(ratings))
    mask = splits.stratified_train_mask([u for u, _ in ordered], 0.75, 7)
    assert tr == {pair for pair, m in zip(ordered, mask, strict=True) if m}
    assert _pairs(splits.msr_split(ratings, seed=42).test) != te
    assert splits.MSR_SEEDS == (42, 7, 123, 1, 2)


def test_liked_only_keeps_the_split_and_only_liked_test_ratings(ratings) -> None:
    split = splits.msr_split(ratings, seed=42)
    liked = splits.liked_only(split)
    assert liked.name == "liked-only/seed-42"
    assert _pairs(liked.train) == _pairs(split.train)
    kept = {(r[0], r[1]) for r in split.test.collect() if r[2] >= 4.0}
    assert _pairs(liked.test) == kept


def test_temporal_split_keeps_the_latest_20_percent(ratings) -> None:
    split = splits.temporal(ratings)
    assert not _pairs(split.train) & _pairs(split.test)
    # round(0.2 n) half up: 8 -> 2, 4 -> 1, 13 -> 3
    assert _per_user(split.test) == Counter({1: 2, 2: 1, 3: 3})
    train_ts = {r[0]: r[1] for r in split.train.groupBy("user_id").max("ts").collect()}
    test_ts = {r[0]: r[1] for r in split.test.groupBy("user_id").min("ts").collect()}
    for user in COUNTS:
        assert train_ts[user] < test_ts[user]
    # user 3's timestamps run backwards in movie id: the test part is the lowest movie ids
    assert {m for u, m in _pairs(split.test) if u == 3} == {100, 101, 102}


def test_bad_ratios_are_refused(ratings) -> None:
    with pytest.raises(ValueError):
        splits.random_split(ratings, 1.0)
    with pytest.raises(ValueError):
        splits.temporal_split(ratings, 0.0)


def test_validation_split_comes_from_the_training_part_only(ratings) -> None:
    outer = splits.msr_split(ratings)
    inner = splits.validation_split(outer)
    assert inner.name == "msr-100k/seed-42/validation"
    inner_pairs = _pairs(inner.train) | _pairs(inner.test)
    assert inner_pairs == _pairs(outer.train)
    assert not inner_pairs & _pairs(outer.test)
    assert not _pairs(inner.train) & _pairs(inner.test)
    # a different seed from the outer split: not the same per-user cut
    assert _pairs(inner.test) != _pairs(splits.random_split(outer.train, 0.75, splits.MSR_SEED)[1])


def test_temporal_validation_is_temporal_again(ratings) -> None:
    outer = splits.temporal(ratings)
    inner = splits.validation_split(outer)
    assert _pairs(inner.train) | _pairs(inner.test) == _pairs(outer.train)
    train_ts = {r[0]: r[1] for r in inner.train.groupBy("user_id").max("ts").collect()}
    test_ts = {r[0]: r[1] for r in inner.test.groupBy("user_id").min("ts").collect()}
    assert all(train_ts[u] < test_ts[u] for u in test_ts)


def test_surprise_folds_read_the_official_files(spark, tmp_path) -> None:
    from pipeline import synthetic

    folder = synthetic.generate(tmp_path, "ml-100k", n_users=30, n_movies=60, n_ratings=900, seed=1, folds=True)
    folds = list(splits.surprise_folds(spark, tmp_path, folds=("u1", "u2")))
    assert [f.name for f in folds] == ["surprise-100k/u1", "surprise-100k/u2"]
    for fold in folds:
        assert fold.train.count() == 720
        assert fold.test.count() == 180
        assert not _pairs(fold.train) & _pairs(fold.test)
    assert _pairs(folds[0].test) != _pairs(folds[1].test)
    assert folder.name == "ml-100k"
