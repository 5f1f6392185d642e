"""Evaluation protocols end to end: the splits of a protocol, tuning, the model and baselines scored, the report.

    protocol ─► split(s) (seeds / folds, materialised) ─► [tune on a validation carve: `pipeline.tuning`]
             ─► train on each training part ─► score its test part (`pipeline.scoring`) ─► report dict
                                                                    (mean ± sd over seeds; per fold)

Also what `movierec run` records about its model (`tune_for_run`, `evaluate_for_run`).
The report is written by `pipeline.report`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pyspark.sql import DataFrame

from pipeline import als, fidelity, scoring, splits, tuning
from pipeline.scoring import DEFAULT_KS

log = logging.getLogger(__name__)


# Published figures on the same protocols, for the report's comparison table.
PUBLISHED: dict[str, dict[str, dict[str, float]]] = {
    "msr-100k": {
        # recommenders-team/recommenders README, "Algorithm comparison" (MovieLens 100k, 75/25 per user)
        "BiVAE (recommenders)": {"ndcg_at_10": 0.475, "precision_at_10": 0.412, "recall_at_10": 0.219},
        "BPR (recommenders)": {"ndcg_at_10": 0.442, "precision_at_10": 0.388, "recall_at_10": 0.213},
        "SAR (recommenders)": {"ndcg_at_10": 0.382},
        "Spark ALS explicit (recommenders)": {"ndcg_at_10": 0.044},
    },
    "surprise-100k": {
        # Surprise README, benchmark on ml-100k (5-fold u1..u5)
        "SVD++ (Surprise)": {"rmse": 0.919},
        "SVD (Surprise)": {"rmse": 0.934},
        "BaselineOnly (Surprise)": {"rmse": 0.944},
    },
    "temporal": {
        "comparable project (DESIGN.md)": {"precision_at_5": 0.133, "ndcg_at_5": 0.146},
    },
}


# ---- protocols ---------------------------------------------------------------------------------


def default_params(task: str, solver: str = "numpy") -> als.ALSParams:
    """Tune-free defaults per task and solver: explicit for rating prediction, implicit for ranking."""
    return als.ALSParams.for_kind("explicit" if task == "rating" else "implicit", solver)


def protocol_splits(
    spark: Any,
    protocol: str,
    ratings: DataFrame,
    data_dir: str | Path | None = None,
    seeds: Sequence[int] = splits.MSR_SEEDS,
) -> list[splits.Split]:
    """The materialised split(s) of a protocol (cached and lineage cut, since every model reads them).

    msr-100k and liked-only: one split per seed of `seeds`; surprise-100k: the five folds.
    """
    if protocol == "msr-100k":
        parts = [splits.msr_split(ratings, seed) for seed in seeds]
    elif protocol == "liked-only":
        parts = [splits.liked_only(splits.msr_split(ratings, seed)) for seed in seeds]
    elif protocol == "temporal":
        parts = [splits.temporal(ratings)]
    elif protocol == "surprise-100k":
        if data_dir is None:
            raise ValueError("surprise-100k reads the official u1..u5 files: data_dir is required")
        parts = list(splits.surprise_folds(spark, data_dir))
    else:
        raise ValueError(f"unknown protocol {protocol!r}; expected one of {splits.PROTOCOLS}")
    return [splits.materialise(s) for s in parts]


def run_protocol(
    spark: Any,
    protocol: str,
    ratings: DataFrame,
    movies: DataFrame | None = None,
    data_dir: str | Path | None = None,
    params: als.ALSParams | None = None,
    *,
    tune: bool = False,
    space: Mapping[str, Sequence[Any]] | None = None,
    n_points: int | None = None,
    search_seed: int = 0,
    ks: Sequence[int] = DEFAULT_KS,
    with_baselines: bool = True,
    max_users: int | None = None,
    objective: str | None = None,
    seeds: Sequence[int] = splits.MSR_SEEDS,
) -> dict[str, Any]:
    """Evaluate one protocol end to end; returns the report dict (see `pipeline.report`).

    With `tune`, every hyperparameter is chosen on a validation split carved
    from a training part only: for surprise-100k inside each fold, on a carve
    of that fold's own base (u1.base holds u2..u5's test ratings); otherwise
    on the first split's training part. The test parts are scored once, with
    the winner retrained on the whole training part. Ranking protocols with
    several splits (msr-100k, liked-only: one per seed) report each split and
    the mean ± sd over them.
    """
    task = splits.PROTOCOL_TASK.get(protocol)
    if task is None:
        raise ValueError(f"unknown protocol {protocol!r}; expected one of {splits.PROTOCOLS}")
    params = params if params is not None else default_params(task)
    if task == "rating" and params.kind != "explicit":
        raise ValueError(f"{protocol} predicts ratings: it needs an explicit model, got kind={params.kind!r}")
    timings: dict[str, float] = {}
    started = time.perf_counter()
    parts = protocol_splits(spark, protocol, ratings, data_dir, seeds)
    timings["split"] = time.perf_counter() - started
    log.info("%s: %d split(s) ready in %.1fs", protocol, len(parts), timings["split"])
    report: dict[str, Any] = {"protocol": protocol, "task": task, "ks": list(ks), "tuning": None}
    per_split = [params] * len(parts)
    if tune:
        started = time.perf_counter()
        # explicit models are tuned for RMSE, implicit ones for nDCG@10, whatever the protocol
        objective_task = "rating" if params.kind == "explicit" else "ranking"
        searched = parts if protocol == "surprise-100k" else parts[:1]
        results = [tuning.tune_on(part, params, objective_task, space, n_points, search_seed, ks, objective) for part in searched]
        per_split = [r.best_params for r in results] if protocol == "surprise-100k" else [results[0].best_params] * len(parts)
        params = per_split[0]
        report["tuning"] = results[0].to_dict() if len(results) == 1 else {"per_fold": [r.to_dict() for r in results]}
        timings["tune"] = time.perf_counter() - started
    report["params"] = params.to_dict()
    if task == "ranking":
        reports = [_ranking_report(part, params, movies, ks, with_baselines, timings, max_users) for part in parts]
        report.update(reports[0] if len(reports) == 1 else combine_splits(reports))
    else:
        report.update(_rating_report(parts, per_split, timings))
    report["published"] = PUBLISHED.get(protocol, {})
    report["timings"] = {k: round(v, 3) for k, v in timings.items()}
    return report


def _ranking_report(
    split: splits.Split,
    params: als.ALSParams,
    movies: DataFrame | None,
    ks: Sequence[int],
    with_baselines: bool,
    timings: dict[str, float],
    max_users: int | None = None,
) -> dict[str, Any]:
    started = time.perf_counter()
    data = scoring.RankingData.from_split(split, max_users)
    timings["collect"] = time.perf_counter() - started
    started = time.perf_counter()
    model = als.train(split.train, params)
    timings["train"] = time.perf_counter() - started
    started = time.perf_counter()
    als_scorer = scoring.FactorScorer.from_model(model, data.user_ids, data.item_ids)
    models = {"als": scoring.evaluate_ranking(als_scorer, data, ks)}
    if model.kind == "explicit":
        models["als"].update(
            scoring.evaluate_rating(scoring.RatingPredictor.from_model(model, *scoring.rating_scale(split.train)), scoring.collect_rows(split.test))
        )
    timings["evaluate"] = time.perf_counter() - started
    log.info(
        "als on %s: ndcg@10 %.4f precision@10 %.4f (%d users)",
        split.name,
        models["als"].get("ndcg_at_10", float("nan")),
        models["als"].get("precision_at_10", float("nan")),
        models["als"]["n_users"],
    )
    if with_baselines:
        started = time.perf_counter()
        for scorer in scoring.baseline_scorers(data, scoring.genres_of(movies)):
            models[scorer.name] = scoring.evaluate_ranking(scorer, data, ks)
        timings["baselines"] = time.perf_counter() - started
    meta = {k: v for k, v in model.meta.items() if k != "item_gramian"}
    model.unpersist()
    return {
        "split": {
            "name": split.name,
            "train_ratings": data.train_ratings_total,
            "test_ratings": int(sum(len(t) for t in data.test_items)),
            "users_evaluated": len(data.user_ids),
            "test_users_without_training": data.dropped_test_users,
            "users_sampled_from": data.sampled_from,
            "catalog": len(data.item_ids),
        },
        "model": meta,
        "models": models,
        "serving_fidelity": {"hnsw_estimate": hnsw_estimate(als_scorer)},
    }


def hnsw_estimate(scorer: scoring.FactorScorer) -> dict[str, Any]:
    """The HNSW recall@10 curve (`pipeline.fidelity`) for this model's movie vectors and a sample of its users."""
    rows = fidelity.sample_rows(len(scorer.user_matrix), fidelity.SAMPLE_USERS)
    return fidelity.hnsw_curve(scorer.item_matrix[scorer.item_known], scorer.user_matrix[rows], **fidelity.hnsw_options())


def combine_splits(reports: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One report from several splits' reports: every model's metrics as the mean over splits,
    their sample sd (ddof = 1) under `<model>` in `sd`, and each split's own figures in `splits`."""
    names = list(reports[0]["models"])
    models: dict[str, dict[str, float]] = {}
    spread: dict[str, dict[str, float]] = {}
    for name in names:
        keys = [k for k, v in reports[0]["models"][name].items() if isinstance(v, (int, float))]
        values = {k: np.array([float(r["models"][name][k]) for r in reports]) for k in keys}
        models[name] = {k: float(v.mean()) for k, v in values.items()}
        spread[name] = {k: float(v.std(ddof=1)) if len(v) > 1 else 0.0 for k, v in values.items()}
    return {
        "split": {**reports[0]["split"], "name": reports[0]["split"]["name"].rsplit("/", 1)[0], "count": len(reports)},
        "model": reports[0]["model"],
        "models": models,
        "sd": spread,
        "serving_fidelity": reports[0].get("serving_fidelity"),
        "splits": [{"split": r["split"], "models": r["models"]} for r in reports],
    }


def _rating_report(parts: list[splits.Split], params: Sequence[als.ALSParams], timings: dict[str, float]) -> dict[str, Any]:
    folds = []
    train_s = 0.0
    for split, fold_params in zip(parts, params, strict=True):
        started = time.perf_counter()
        result, model = scoring.score_rating_split(split, fold_params)
        train_s += time.perf_counter() - started
        result["fold"] = split.name
        result["params"] = fold_params.to_dict()
        result["train_seconds"] = model.meta["train_seconds"]
        folds.append(result)
        log.info("%s: rmse %.4f mae %.4f", split.name, result["rmse"], result["mae"])
        model.unpersist()
    timings["train_and_evaluate"] = train_s
    mean = {
        key: float(np.mean([f[key] for f in folds]))
        for key in ("rmse", "mae", "baseline_rmse", "baseline_mae", "global_mean_rmse")
    }
    return {
        "folds": folds,
        "models": {
            "als": {"rmse": mean["rmse"], "mae": mean["mae"]},
            "biases_only": {"rmse": mean["baseline_rmse"], "mae": mean["baseline_mae"]},
            "global_mean": {"rmse": mean["global_mean_rmse"]},
        },
    }


# ---- what `movierec run` records ---------------------------------------------------------------

# `movierec run --tune/--evaluate` bounds: a random search of this many points for ranking (the
# rating grid is small), and a fixed hash sample of test users on big editions (ml-10m and up).
RUN_SEARCH_POINTS = {"ranking": 20, "rating": None}
RUN_MAX_USERS = 20_000

RUN_METRICS = ("precision_at_10", "recall_at_10", "ndcg_at_10", "map_at_10", "mrr", "coverage", "rmse", "mae")


def protocol_for(dataset: str, kind: str, data_dir: str | Path | None = None) -> str:
    """The protocol a dataset/model pair is measured on by default.

    ml-100k: msr-100k for implicit, surprise-100k for explicit (msr-100k, which
    also reports RMSE for explicit models, when the official u1..u5 files are
    not in `data_dir`); any other edition: temporal.
    """
    if dataset != "ml-100k":
        return "temporal"
    if kind == "implicit":
        return "msr-100k"
    if data_dir is not None and not _has_folds(data_dir):
        return "msr-100k"
    return "surprise-100k"


def _has_folds(data_dir: str | Path) -> bool:
    from pipeline.datasets import get
    from pipeline.errors import DatasetError
    from pipeline.loaders import resolve_folder

    try:
        folder = resolve_folder(get("ml-100k"), data_dir)
    except DatasetError:
        return False
    return all((folder / f"{fold}.{part}").is_file() for fold in splits.SURPRISE_FOLDS for part in ("base", "test"))


def run_metrics(report: Mapping[str, Any]) -> dict[str, float]:
    """The `metrics` object of a run record (es_mappings/runs.json) from a protocol report."""
    als_metrics = report["models"]["als"]
    out = {name: als_metrics[name] for name in RUN_METRICS if als_metrics.get(name) is not None}
    if als_metrics.get("coverage_at_10") is not None:
        out["coverage"] = als_metrics["coverage_at_10"]
    return {k: float(v) for k, v in out.items()}


def tune_for_run(
    spark: Any,
    tables: Any,
    dataset: str,
    data_dir: str | Path | None,
    params: als.ALSParams,
    n_points: int | None = None,
) -> dict[str, Any]:
    """Tune `params` on the dataset's protocol (validation carve only); the TuningResult as a dict.

    `n_points` None: RUN_SEARCH_POINTS for the task (random search), or the full grid.
    """
    protocol = protocol_for(dataset, params.kind, data_dir)
    task = "rating" if params.kind == "explicit" else "ranking"
    parts = protocol_splits(spark, protocol, tables.ratings, data_dir, seeds=(splits.MSR_SEED,))
    result = tuning.tune_on(parts[0], params, task, n_points=n_points if n_points is not None else RUN_SEARCH_POINTS[task])
    return {"protocol": protocol, **result.to_dict()}


def evaluate_for_run(
    spark: Any,
    tables: Any,
    dataset: str,
    data_dir: str | Path | None,
    params: als.ALSParams,
    max_users: int | None = RUN_MAX_USERS,
) -> dict[str, Any]:
    """Measure `params` on the dataset's protocol; the report plus `metrics` shaped for the run record.

    At most `max_users` test users are scored (a fixed hash sample; None scores all).
    """
    protocol = protocol_for(dataset, params.kind, data_dir)
    report = run_protocol(
        spark, protocol, tables.ratings, tables.movies, data_dir, params, with_baselines=False, max_users=max_users,
        seeds=(splits.MSR_SEED,),
    )
    report["dataset"] = dataset
    report["metrics"] = run_metrics(report)
    return report
