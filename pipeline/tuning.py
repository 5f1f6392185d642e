"""Hyperparameter search on a validation split carved from the training part only.

The search is generic: it takes a base `ALSParams`, a space (parameter name →
candidate values) and an `objective(params) -> metrics` callable (which trains
on the validation carve's train part and scores its held-out part; see
`ranking_objective` below). Every point tried is kept — params,
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

from pipeline import als, scoring, splits
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


# ---- objectives on a validation carve ------------------------------------------------------------


def ranking_objective(
    validation: splits.Split, ks: Sequence[int] = scoring.DEFAULT_KS
) -> Callable[[als.ALSParams], dict[str, float]]:
    """A tuning objective: train on the validation carve's train part, score its held-out part."""
    data = scoring.RankingData.from_split(validation)

    def run(params: als.ALSParams) -> dict[str, float]:
        result, model, _ = scoring.score_ranking_split(validation, params, ks, data)
        model.unpersist()
        return result

    return run


def rating_objective(validation: splits.Split, scale: tuple[float, float]) -> Callable[[als.ALSParams], dict[str, float]]:
    test_rows = scoring.collect_rows(validation.test)

    def run(params: als.ALSParams) -> dict[str, float]:
        model = als.train(validation.train, params)
        predictor = scoring.RatingPredictor.from_model(model, *scale)
        model.unpersist()
        return scoring.evaluate_rating(predictor, test_rows)

    return run


def tune_on(
    split: splits.Split,
    base: als.ALSParams,
    task: str,
    space: Mapping[str, Sequence[Any]] | None = None,
    n_points: int | None = None,
    seed: int = 0,
    ks: Sequence[int] = scoring.DEFAULT_KS,
    objective: str | None = None,
) -> TuningResult:
    """Search on a validation carve of `split.train` (never `split.test`).

    `objective` overrides the task's metric (e.g. "ndcg_at_5"); error metrics
    (rmse, mae) are minimised, everything else maximised.
    """
    validation = splits.materialise(splits.validation_split(split))
    metric, maximize = OBJECTIVES[task]
    if objective is not None:
        metric, maximize = objective, objective not in MINIMISED
    space = space if space is not None else default_space(task, base.solver)
    if task == "ranking":
        objective = ranking_objective(validation, ks)
    else:
        objective = rating_objective(validation, scoring.rating_scale(split.train))
    if n_points is None:
        points, search = grid_points(space), "grid"
    else:
        points, search = random_points(space, n_points, seed), f"random({n_points}, seed={seed})"
    log.info("tuning on %s: %d points (%s), objective %s", validation.name, len(points), search, metric)
    return tune(base, points, objective, metric, maximize, search, validation.name)
