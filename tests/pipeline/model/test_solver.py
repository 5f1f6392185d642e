"""The block solver: deterministic for a seed, blind to partitioning, and its users are their own fold-in."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.model import equations, solver
from service import foldin


def _triples(seed: int = 0, n_users: int = 40, n_items: int = 25, n: int = 400) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    pairs = {(int(u), int(i)) for u, i in zip(rng.integers(1, n_users + 1, n), rng.integers(100, 100 + n_items, n), strict=True)}
    rows = np.array(sorted(pairs))
    ratings = rng.integers(1, 6, len(rows)).astype(np.float64)
    return rows[:, 0], rows[:, 1], ratings


IMPLICIT = solver.SolverConfig(kind="implicit", rank=3, reg=2.0, exponent=0.5, alpha=2.0, prior_weight=1.0)


def _fit(cfg: solver.SolverConfig, n_blocks: int, seed: int = 7, values: np.ndarray | None = None) -> solver.Factors:
    u, i, r = _triples()
    s = equations.SignalRule(positive_threshold=3.0, negative_weight=1.0).signal(r)[1] if values is None else values
    ub, ib, uids, iids = solver.local_blocks(u, i, s, n_blocks)
    return solver.fit(ub, ib, uids, iids, cfg, max_iter=6, seed=seed)


def test_same_seed_same_factors_whatever_the_blocks() -> None:
    one, three = _fit(IMPLICIT, 1), _fit(IMPLICIT, 3)
    assert np.array_equal(one.users, three.users) and np.array_equal(one.items, three.items)
    assert np.array_equal(one.mean_user, three.mean_user)
    other_seed = _fit(IMPLICIT, 1, seed=8)
    assert not np.allclose(one.users, other_seed.users)


def test_ids_come_back_sorted_and_aligned() -> None:
    u, i, _ = _triples()
    got = _fit(IMPLICIT, 2)
    assert got.user_ids.tolist() == sorted(set(u.tolist()))
    assert got.item_ids.tolist() == sorted(set(i.tolist()))
    assert got.users.shape == (len(got.user_ids), 3) and got.items.shape == (len(got.item_ids), 3)
    assert len(got.sweep_seconds) == 6


def test_folding_a_training_user_in_reproduces_its_factor() -> None:
    """The last half-step of every sweep solves the users against the final items: fold-in is that solve."""
    u, i, r = _triples()
    rule = equations.SignalRule(positive_threshold=3.0, negative_weight=1.0)
    got = _fit(IMPLICIT, 2)
    gram = got.items.T @ got.items
    for user in (got.user_ids[0], got.user_ids[17]):
        mine = u == user
        kept, s = rule.signal(r[mine])
        rows = np.searchsorted(got.item_ids, i[mine][kept])
        folded = foldin.implicit(got.items[rows], s, gramian=gram, alpha=2.0, reg=2.0, exponent=0.5,
                                 prior_weight=1.0, mean_user=got.mean_user)
        trained = got.users[np.searchsorted(got.user_ids, user)]
        assert folded.vector == pytest.approx(trained, rel=1e-9, abs=1e-12)


def test_explicit_users_are_their_own_fold_in() -> None:
    cfg = solver.SolverConfig(kind="explicit", rank=2, reg=0.3, exponent=0.5)
    u, i, r = _triples()
    got = _fit(cfg, 2, values=r - 3.0)
    user = got.user_ids[5]
    mine = u == user
    rows = np.searchsorted(got.item_ids, i[mine])
    folded = equations.fold_in_explicit(got.items[rows], r[mine] - 3.0, reg=0.3, exponent=0.5)
    assert folded == pytest.approx(got.users[5])


def test_frequency_scaling_exponent_changes_the_solution() -> None:
    als_wr = _fit(solver.SolverConfig(kind="implicit", rank=3, reg=2.0, exponent=1.0, alpha=2.0), 1)
    scaled = _fit(solver.SolverConfig(kind="implicit", rank=3, reg=2.0, exponent=0.5, alpha=2.0), 1)
    # heavier users are regularised less with nu = 0.5, so their factors are larger
    assert np.linalg.norm(scaled.users) > np.linalg.norm(als_wr.users)


@pytest.mark.spark
def test_spark_blocks_solve_exactly_like_the_local_loop(spark) -> None:
    u, i, r = _triples()
    s = equations.SignalRule(positive_threshold=3.0, negative_weight=1.0).signal(r)[1]
    frame = spark.createDataFrame([(int(a), int(b), float(c)) for a, b, c in zip(u, i, s, strict=True)], ["user_id", "movie_id", "signal"])
    user_blocks, item_blocks, uids, iids, n = solver.spark_blocks(frame, "user_id", "movie_id", "signal", 3)
    assert n == len(u) and user_blocks.getNumPartitions() == 3
    on_spark = solver.fit(user_blocks, item_blocks, uids, iids, IMPLICIT, 6, 7, solver.spark_runner)
    local = _fit(IMPLICIT, 1)
    assert np.array_equal(on_spark.user_ids, local.user_ids)
    assert np.allclose(on_spark.users, local.users, rtol=1e-10, atol=1e-12)
    assert np.allclose(on_spark.items, local.items, rtol=1e-10, atol=1e-12)


def test_block_count_is_sized_to_the_work() -> None:
    work = solver.BLOCK_WORK // 64**2  # entries worth one block at rank 64
    assert solver.block_count(100_000, 64, parallelism=2) == 1  # ml-100k: one block, one task
    assert solver.block_count(work, 64, parallelism=8) == 1
    assert solver.block_count(work + 1, 64, parallelism=8) == 2
    assert solver.block_count(work + 1, 32, parallelism=8) == 1  # a quarter of the work per entry at rank 32
    assert solver.block_count(10 * work, 64, parallelism=4) == 4  # no more blocks than cores for work alone
    assert solver.block_count(25_000_000, 64, parallelism=2) == 13  # memory: at most BLOCK_RATINGS entries a block
    assert solver.block_count(100, 64, parallelism=2, requested=3) == 3
    assert solver.block_count(25_000_000, 64, parallelism=2, requested=3) == 13
    assert solver.block_count(0, 64, parallelism=2) == 1


@pytest.mark.spark
def test_one_task_fit_is_the_multi_block_fit(spark) -> None:
    """A problem of one block runs every sweep in one Spark task; the factors are those of the blocks."""
    u, i, r = _triples()
    s = equations.SignalRule(positive_threshold=3.0, negative_weight=1.0).signal(r)[1]
    frame = spark.createDataFrame([(int(a), int(b), float(c)) for a, b, c in zip(u, i, s, strict=True)], ["user_id", "movie_id", "signal"])
    one = solver.spark_fit_one_task(frame, "user_id", "movie_id", "signal", IMPLICIT, 6, 7)
    blocks = _fit(IMPLICIT, 3)
    assert np.array_equal(one.user_ids, blocks.user_ids) and np.array_equal(one.item_ids, blocks.item_ids)
    assert np.array_equal(one.users, blocks.users) and np.array_equal(one.items, blocks.items)
    assert np.array_equal(one.mean_user, blocks.mean_user)
    assert len(one.sweep_seconds) == 6  # timed inside the task
    with pytest.raises(ValueError, match="no entries"):
        solver.spark_fit_one_task(frame.where("user_id < 0"), "user_id", "movie_id", "signal", IMPLICIT, 6, 7)
