"""The block ALS solver on Spark: frequency-scaled regularisation, numpy solves per partition.

    ratings ─► signal (user, movie, s) ─► user blocks ┐ cached, built once: one CSR per partition
                                      └─► item blocks ┘ (rows of its side, columns of the other)
    loop max_iter:  broadcast user factors + Gramian ─► every item block solves its rows ─► collect
                    broadcast item factors + Gramian ─► every user block solves its rows ─► collect

The fixed side (factors and its Gramian) is small next to the ratings (ml-25m
at rank 64: 62k items ≈ 32 MB, 162k users ≈ 83 MB) and is broadcast each
half-iteration; the ratings never move after the blocks are built, so no
shuffle runs inside the loop and lineage stays one stage deep (no
checkpoints). The equations are `pipeline.model.equations`. The same code
runs on `local[*]` and a cluster; the blocks can also be plain lists (tests).

Blocks are sized to the work (`block_count`): every half-step above is a
Spark job, ~0.1 s of scheduling, task launch, broadcast and collect however
little it computes, while a sweep's numpy costs ~0.1 s per 100k ratings at
rank 64 on one core. So a problem worth less than one block (ml-100k) is
not split at all: one Spark task builds both sides' CSR and runs every
sweep (`spark_fit_one_task`), two Spark jobs in all instead of two per sweep.

Determinism: ids are sorted, each block's entries are sorted by (row,
column), the initial user factors come from numpy's generator seeded by `seed`,
and each row is solved from its own entries only, so the factors are the
same for a seed whatever the partitioning (one task or many blocks alike).

Mean-user prior (implicit, `prior_weight` λ₀ > 0): every user's objective
gains λ₀|x_u − ū|², ū the mean of the users of the previous sweep, so a user
whose ratings are all negative evidence (x = 0 without it: no positive
right-hand side) gets "the average taste, pushed away from what they
disliked". The ū of the last user half-step is kept for fold-in.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pipeline.model import equations

log = logging.getLogger(__name__)

IMPLICIT, EXPLICIT = "implicit", "explicit"
# Ratings per block at most, so one partition's CSR stays small in a Python worker.
BLOCK_RATINGS = 2_000_000
# Work worth a block of its own, in entries × rank²: a half-step's numpy time grows with it, and
# below ~BLOCK_WORK it is shorter than the Spark job that would run a second block in parallel
# (docs/benchmarks.md, "Training time on ml-100k"). 400k ratings at rank 64.
BLOCK_WORK = 400_000 * 64**2


def block_count(entries: int, rank: int, parallelism: int, requested: int | None = None) -> int:
    """Blocks per side: `requested`, else one per BLOCK_WORK of entries × rank² up to `parallelism`;
    never fewer than keep each block within BLOCK_RATINGS entries."""
    by_memory = math.ceil(entries / BLOCK_RATINGS)
    if requested is not None:
        return max(requested, by_memory, 1)
    by_work = min(max(parallelism, 1), math.ceil(entries * rank**2 / BLOCK_WORK))
    return max(by_work, by_memory, 1)


@dataclass(frozen=True)
class SolverConfig:
    """What every half-step needs: the model kind and its constants."""

    kind: str
    rank: int
    reg: float
    exponent: float
    alpha: float = 1.0
    prior_weight: float = 0.0  # λ₀: users shrink toward the mean user ū (λ₀|x − ū|²)


@dataclass
class Block:
    """One partition's rows: `rows` global row indices; CSR `indptr` / `cols` (global) / `values`."""

    rows: np.ndarray
    indptr: np.ndarray
    cols: np.ndarray
    values: np.ndarray


def make_block(row_idx: np.ndarray, col_idx: np.ndarray, values: np.ndarray) -> Block:
    """CSR of the entries, rows ascending and each row's columns ascending."""
    order = np.lexsort((col_idx, row_idx))
    r, c, v = row_idx[order], col_idx[order], values[order]
    rows, starts = np.unique(r, return_index=True)
    indptr = np.append(starts, len(r)).astype(np.int64)
    return Block(rows.astype(np.int64), indptr, c.astype(np.int32), v.astype(np.float64))


@dataclass
class Fixed:
    """The broadcast side of a half-step: its factors, their Gramian (implicit), the prior terms."""

    factors: np.ndarray
    gram: np.ndarray | None
    offset: np.ndarray | None = None  # λ₀·ū of a mean-user prior (user half-step)
    extra_reg: float = 0.0  # λ₀, added to every row's λ·n^ν


def solve_block(block: Block, fixed: Fixed, cfg: SolverConfig) -> tuple[np.ndarray, np.ndarray]:
    """(global rows, solved factors) of one block against the fixed side."""
    if cfg.kind == IMPLICIT:
        weight, target = equations.confidence_terms(block.values, cfg.alpha)
        counts = np.add.reduceat((block.values > 0).astype(np.int64), block.indptr[:-1])  # rows are never empty
    else:
        weight, target = np.ones(len(block.values)), block.values
        counts = np.diff(block.indptr)
    reg = equations.regularisation(counts, cfg.reg, cfg.exponent) + fixed.extra_reg
    x = equations.solve_rows(block.indptr, block.cols, weight, target, fixed.factors, reg, fixed.gram, fixed.offset)
    return block.rows, x


# A runner maps `solve_block` over one side's blocks with the fixed side shipped once, and
# returns the (rows, factors) pairs: Spark (broadcast + map + collect) or a local loop.
Runner = Callable[[Any, Fixed, SolverConfig], list[tuple[np.ndarray, np.ndarray]]]


def local_runner(blocks: Sequence[Block], fixed: Fixed, cfg: SolverConfig) -> list[tuple[np.ndarray, np.ndarray]]:
    return [solve_block(b, fixed, cfg) for b in blocks]


def spark_runner(blocks: Any, fixed: Fixed, cfg: SolverConfig) -> list[tuple[np.ndarray, np.ndarray]]:
    """Broadcast the fixed side, solve every cached block where it lives, collect the factors."""
    shipped = blocks.context.broadcast(fixed)
    try:
        return blocks.map(lambda b: solve_block(b, shipped.value, cfg)).collect()
    finally:
        shipped.destroy()


def _assemble(parts: Iterable[tuple[np.ndarray, np.ndarray]], n: int, d: int) -> np.ndarray:
    out = np.zeros((n, d))
    for rows, x in parts:
        out[rows] = x
    return out


def init_factors(n: int, rank: int, seed: int) -> np.ndarray:
    """Random unit-length rows (Spark ML's initialisation: normal entries, each row normalised)."""
    x = np.random.default_rng(seed).standard_normal((n, rank))
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


@dataclass
class Factors:
    """A solved model: user and item factors aligned with the sorted ids, per-sweep seconds."""

    user_ids: np.ndarray
    item_ids: np.ndarray
    users: np.ndarray  # n_users × rank
    items: np.ndarray  # n_items × rank
    mean_user: np.ndarray | None = None  # ū the last user half-step shrank toward (prior_weight > 0)
    sweep_seconds: list[float] = field(default_factory=list)


def fit(
    user_blocks: Any,
    item_blocks: Any,
    user_ids: np.ndarray,
    item_ids: np.ndarray,
    cfg: SolverConfig,
    max_iter: int,
    seed: int,
    runner: Runner = local_runner,
) -> Factors:
    """`max_iter` sweeps from seeded user factors: items against users, then users against items.

    As Spark ML, each sweep ends with the users, so the final user factors are
    exactly the fold-in of their own ratings against the final item factors.
    """
    n_u, n_i, k = len(user_ids), len(item_ids), cfg.rank
    users = init_factors(n_u, k, seed)
    items = np.zeros((n_i, k))
    mean_user = None
    seconds = []
    for sweep in range(max_iter):
        started = time.perf_counter()
        fixed = Fixed(users, equations.gramian(users) if cfg.kind == IMPLICIT else None)
        items = _assemble(runner(item_blocks, fixed, cfg), n_i, k)
        fixed = Fixed(items, equations.gramian(items) if cfg.kind == IMPLICIT else None)
        if cfg.prior_weight > 0:
            mean_user = users.mean(axis=0)
            fixed.offset, fixed.extra_reg = cfg.prior_weight * mean_user, cfg.prior_weight
        users = _assemble(runner(user_blocks, fixed, cfg), n_u, k)
        seconds.append(time.perf_counter() - started)
        log.debug("sweep %d/%d: %.2fs", sweep + 1, max_iter, seconds[-1])
    return Factors(user_ids, item_ids, users, items, mean_user, seconds)


def local_blocks(
    rows: np.ndarray, cols: np.ndarray, values: np.ndarray, n_blocks: int
) -> tuple[list[Block], list[Block], np.ndarray, np.ndarray]:
    """(user blocks, item blocks, user ids, item ids) from raw id triples, in memory (tests, benchmarks)."""
    user_ids, u = np.unique(rows, return_inverse=True)
    item_ids, i = np.unique(cols, return_inverse=True)
    values = np.asarray(values, dtype=np.float64)
    user_blocks = [make_block(u[u % n_blocks == b], i[u % n_blocks == b], values[u % n_blocks == b]) for b in range(n_blocks)]
    item_blocks = [make_block(i[i % n_blocks == b], u[i % n_blocks == b], values[i % n_blocks == b]) for b in range(n_blocks)]
    return [b for b in user_blocks if len(b.rows)], [b for b in item_blocks if len(b.rows)], user_ids, item_ids


# --------------------------------------------------------------------------- Spark blocks


def _gather(rows: Iterator[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(key, other, value) arrays, one entry per rating, from rows of (key, [other…], [value…])."""
    keys, others, values = [], [], []
    for key, other, value in rows:
        keys.append(np.full(len(other), key, dtype=np.int64))
        others.append(np.asarray(other, dtype=np.int64))
        values.append(np.asarray(value, dtype=np.float64))
    if not keys:
        return None
    return np.concatenate(keys), np.concatenate(others), np.concatenate(values)


def _partition_block(key_ids: Any, other_ids: Any, rows: Iterator[Any]) -> Iterator[Block]:
    """One partition's (key, [other…], [value…]) rows as one Block, ids mapped to sorted positions."""
    got = _gather(rows)
    if got is None:
        return iter(())
    keys, others, values = got
    return iter((make_block(np.searchsorted(key_ids.value, keys), np.searchsorted(other_ids.value, others), values),))


def _fit_partition(rows: Iterator[Any], cfg: SolverConfig, max_iter: int, seed: int) -> Iterator[Factors]:
    """Every sweep of a whole problem held by one partition of (user, [item…], [value…]) rows."""
    got = _gather(rows)
    if got is None:
        return iter(())
    user_blocks, item_blocks, user_ids, item_ids = local_blocks(*got, 1)
    return iter((fit(user_blocks, item_blocks, user_ids, item_ids, cfg, max_iter, seed),))


def _typed(frame: Any, user_col: str, item_col: str, value_col: str) -> Any:
    from pyspark.sql import functions as F

    return frame.select(F.col(user_col).cast("long"), F.col(item_col).cast("long"), F.col(value_col).cast("double"))


def _grouped(data: Any, partitions: int, key: str, other: str, value_col: str) -> Any:
    """One row per key with its entries as two aligned arrays: Python converts a few lists per row
    instead of one Row object per rating (collect_list keeps both in the same row order)."""
    from pyspark.sql import functions as F

    part = data.repartition(partitions, key).groupBy(key).agg(F.collect_list(other).alias("o"), F.collect_list(value_col).alias("v"))
    return part.select(key, "o", "v")


def spark_fit_one_task(frame: Any, user_col: str, item_col: str, value_col: str, cfg: SolverConfig, max_iter: int, seed: int) -> Factors:
    """Every sweep in one Spark task (a problem of one block per side, `block_count`): one job, and the
    factors come back once. ValueError when the frame has no entry."""
    grouped = _grouped(_typed(frame, user_col, item_col, value_col), 1, user_col, item_col, value_col)
    found = grouped.rdd.mapPartitions(lambda rows: _fit_partition(rows, cfg, max_iter, seed)).collect()
    if not found:
        raise ValueError("no entries to train on")
    return found[0]


def spark_blocks(frame: Any, user_col: str, item_col: str, value_col: str, n_blocks: int | None = None) -> tuple[Any, Any, np.ndarray, np.ndarray, int]:
    """(user block RDD, item block RDD, user ids, item ids, entries), both RDDs cached and counted.

    `n_blocks` partitions per side at least (default: Spark's parallelism), more
    when a block would hold over BLOCK_RATINGS entries.
    """
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    sc = frame.sparkSession.sparkContext
    data = _typed(frame, user_col, item_col, value_col)
    # both id lists and the count in one pass (partial aggregation: no shuffle of the entries)
    found = data.agg(F.sort_array(F.collect_set(user_col)), F.sort_array(F.collect_set(item_col)), F.count(F.lit(1))).first()
    user_ids, item_ids = np.asarray(found[0], dtype=np.int64), np.asarray(found[1], dtype=np.int64)
    n_entries = int(found[2])
    wanted = max(n_blocks or sc.defaultParallelism, math.ceil(n_entries / BLOCK_RATINGS), 1)
    users_bc, items_bc = sc.broadcast(user_ids), sc.broadcast(item_ids)

    def by(key: str, key_bc: Any, other_bc: Any, other: str) -> Any:
        part = _grouped(data, wanted, key, other, value_col)
        blocks = part.rdd.mapPartitions(lambda it: _partition_block(key_bc, other_bc, it))
        blocks.persist(StorageLevel.MEMORY_AND_DISK)
        blocks.count()
        return blocks

    user_blocks = by(user_col, users_bc, items_bc, item_col)
    item_blocks = by(item_col, items_bc, users_bc, user_col)
    users_bc.unpersist()
    items_bc.unpersist()
    return user_blocks, item_blocks, user_ids, item_ids, n_entries
