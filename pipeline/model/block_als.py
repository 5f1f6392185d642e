"""The numpy block solver (`pipeline.model.solver`) as an `als.train` backend.

Spark prepares the signal (implicit) or residuals (explicit); a problem worth
one block (`solver.block_count`) is fitted whole in one Spark task, a bigger
one has its blocks built and cached once and its sweeps run as broadcast +
map over the blocks; the factors come back as the same (id, factors
array<float>) tables the Spark ML backend produces.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
from pyspark.sql import DataFrame

from pipeline import als
from pipeline.columns import MOVIE, USER
from pipeline.model import solver

log = logging.getLogger(__name__)


def _fit(data: DataFrame, p: als.ALSParams, kind: str, n_entries: int) -> tuple[solver.Factors, dict[str, Any]]:
    timings: dict[str, Any] = {}
    cfg = solver.SolverConfig(
        kind=kind,
        rank=p.rank,
        reg=float(p.reg_param),
        exponent=float(p.reg_exponent),
        alpha=float(p.alpha),
        prior_weight=float(p.prior_weight) if kind == solver.IMPLICIT else 0.0,
    )
    blocks = solver.block_count(n_entries, p.rank, data.sparkSession.sparkContext.defaultParallelism, p.num_blocks)
    timings["blocks"] = blocks
    if blocks == 1:
        started = time.perf_counter()
        factors = solver.spark_fit_one_task(data, USER, MOVIE, als.SIGNAL, cfg, p.max_iter, p.seed)
        timings["one_task_seconds"] = round(time.perf_counter() - started, 3)
        timings["sweeps_seconds"] = round(sum(factors.sweep_seconds), 3)  # measured inside the task
        return factors, timings
    started = time.perf_counter()
    user_blocks, item_blocks, user_ids, item_ids, _ = solver.spark_blocks(data, USER, MOVIE, als.SIGNAL, blocks)
    timings["blocks_seconds"] = round(time.perf_counter() - started, 3)
    started = time.perf_counter()
    try:
        factors = solver.fit(user_blocks, item_blocks, user_ids, item_ids, cfg, p.max_iter, p.seed, solver.spark_runner)
    finally:
        user_blocks.unpersist()
        item_blocks.unpersist()
    timings["sweeps_seconds"] = round(time.perf_counter() - started, 3)
    return factors, timings


def train_implicit(ratings: DataFrame, p: als.ALSParams) -> als.TrainedModel:
    data, n_ratings = als.signal_frame(ratings, p)
    try:
        factors, timings = _fit(data, p, solver.IMPLICIT, n_ratings)
    finally:
        data.unpersist()
    spark = ratings.sparkSession
    started = time.perf_counter()
    users = als.factor_frame(spark, factors.user_ids, factors.users, USER)
    items = als.factor_frame(spark, factors.item_ids, factors.items, MOVIE)
    timings["frames_seconds"] = round(time.perf_counter() - started, 3)
    meta = als.implicit_meta(p, n_ratings, len(factors.user_ids), len(factors.item_ids), factors.items.astype(np.float32).astype(np.float64))
    if p.prior_weight > 0:
        meta["mean_user"] = factors.mean_user.tolist()
    meta["solver_timings"] = timings
    return als.TrainedModel("implicit", p.to_dict(), users, items, p.rank, meta)


def train_explicit(ratings: DataFrame, p: als.ALSParams) -> als.TrainedModel:
    residual, mu, user_bias, item_bias, n_ratings = als.explicit_data(ratings, p)
    try:
        factors, timings = _fit(residual, p, solver.EXPLICIT, n_ratings)
    finally:
        residual.unpersist()
    spark = ratings.sparkSession
    users = als.factor_frame(spark, factors.user_ids, factors.users, USER)
    items = als.factor_frame(spark, factors.item_ids, factors.items, MOVIE)
    model = als.explicit_model(p, users, items, user_bias, item_bias, mu, n_ratings)
    users.unpersist()
    items.unpersist()
    model.meta["solver_timings"] = timings
    return model
