"""Hyperparameter search on a validation split carved from the training part only.

The search is generic: it takes a base `ALSParams`, a space (parameter name →
candidate values) and an `objective(params) -> metrics` callable (which trains
on the validation carve's train part and scores its held-out part; see
`pipeline.evaluate.ranking_objective`). Every point tried is kept — params,
all metrics, seconds — so the report shows the whole search, not just the
winner. The test part of the protocol is never passed in here.
"""

from __future__ import annotations

import itertools
import logging
import math
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pipeline.als import ALSParams

log = logging.getLogger(__name__)

# Modest default spaces (2 shared cores), per task and solver. Ranking: random search over them
# (`--search-points`); rating: a small grid. Spark ML's ALS takes ν = 1 only.
RANKING_SPACE: dict[str, list[Any]] = {
    "rank": [32, 64, 128],
    "reg_param": [1.0, 3.0, 10.0],
    "alpha": [1.0, 2.0, 4.0],
    "reg_exponent": [0.5, 1.0],
}
RATING_SPACE: dict[str, list[Any]] = {
    "rank": [32, 64, 128],
    "reg_param": [1.0, 1.4, 2.0],
    "bias_reg": [3.0, 8.0],
}
SPARK_ML_RANKING_SPACE: dict[str, list[Any]] = {
    "rank": [32, 64, 128],
    "reg_param": [0.15, 0.3, 0.5],
    "alpha": [0.5, 1.0, 2.0],
    "positive_threshold": [None, 3.0],
}
SPARK_ML_RATING_SPACE: dict[str, list[Any]] = {
    "rank": [32, 64, 128],
    "reg_param": [0.08, 0.1, 0.15],
    "bias_reg": [3.0, 8.0],
}


def default_space(task: str, solver: str) -> dict[str, list[Any]]:
    """The search space `movierec evaluate --tune` uses for a task ("ranking" / "rating") and solver."""
    if solver == "spark-ml":
        return SPARK_ML_RATING_SPACE if task == "rating" else SPARK_ML_RANKING_SPACE
    return RATING_SPACE if task == "rating" else RANKING_SPACE


# The objective each task maximises (rating: minimise RMSE).
OBJECTIVES = {"ranking": ("ndcg_at_10", True), "rating": ("rmse", False)}
MINIMISED = frozenset({"rmse", "mae"})


@dataclass
class Trial:
    params: dict[str, Any]
    metrics: dict[str, Any]
    seconds: float
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"params": self.params, "metrics": self.metrics, "seconds": round(self.seconds, 3), "error": self.error}


@dataclass
class TuningResult:
    objective: str
    maximize: bool
    best_params: ALSParams
    best_value: float
    trials: list[Trial] = field(default_factory=list)
    search: str = "grid"
    validation: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "objective": self.objective,
            "maximize": self.maximize,
            "search": self.search,
            "validation": self.validation,
            "best_params": self.best_params.to_dict(),
            "best_value": self.best_value,
            "trials": [t.to_dict() for t in self.trials],
        }


def grid_points(space: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination, in a stable order (keys sorted)."""
    _check_space(space)
    keys = sorted(space)
    return [dict(zip(keys, values, strict=True)) for values in itertools.product(*(space[k] for k in keys))]


def random_points(space: Mapping[str, Sequence[Any]], n: int, seed: int = 0) -> list[dict[str, Any]]:
    """`n` distinct combinations drawn without replacement (all of them if the grid is smaller)."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    points = grid_points(space)
    if n >= len(points):
        return points
    return random.Random(seed).sample(points, n)


def _check_space(space: Mapping[str, Sequence[Any]]) -> None:
    if not space:
        raise ValueError("empty search space")
    for key, values in space.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or len(values) == 0:
            raise ValueError(f"search space entry {key!r} must be a non-empty list of values")


def _better(value: float, best: float | None, maximize: bool) -> bool:
    if best is None:
        return True
    return value > best if maximize else value < best


def tune(
    base: ALSParams,
    points: Sequence[Mapping[str, Any]],
    objective: Callable[[ALSParams], Mapping[str, Any]],
    metric: str,
    maximize: bool = True,
    search: str = "grid",
    validation: str = "",
) -> TuningResult:
    """Score every point (base params overridden by the point); the best by `metric` wins.

    Ties keep the earlier point. A point whose params are invalid or whose
    training fails is recorded with its error and skipped; if all fail,
    ValueError.
    """
    if not points:
        raise ValueError("no points to try")
    trials: list[Trial] = []
    best: tuple[float, ALSParams] | None = None
    for n, point in enumerate(points, 1):
        started = time.perf_counter()
        try:
            params = base.replace(**dict(point))
            result = dict(objective(params))
        except (ValueError, ArithmeticError) as exc:
            trials.append(Trial(dict(point), {}, time.perf_counter() - started, f"{type(exc).__name__}: {exc}"))
            log.warning("tuning point %d/%d %s failed: %s", n, len(points), dict(point), exc)
            continue
        seconds = time.perf_counter() - started
        if metric not in result:
            raise ValueError(f"objective {metric!r} is not among the measured metrics {sorted(result)}")
        value = float(result[metric])
        trials.append(Trial(params.to_dict(), result, seconds))
        log.info("tuning %d/%d %s -> %s=%.4f (%.1fs)", n, len(points), dict(point), metric, value, seconds)
        if math.isfinite(value) and _better(value, None if best is None else best[0], maximize):
            best = (value, params)
    if best is None:
        raise ValueError(f"every tuning point failed ({len(points)} tried)")
    log.info("tuning winner %s=%.4f: %s", metric, best[0], best[1].to_dict())
    return TuningResult(metric, maximize, best[1], best[0], trials, search, validation)
