"""Evaluate ALS and the baselines on a protocol's split; exact top-k in numpy.

Spark trains; the split and the factors are then collected to the driver and
scored as plain arrays: scores = U·Vᵀ per batch of users, the user's training
items masked, exact top-k (`metrics.top_k`). Everything here is small for
MovieLens 100k / latest-small (943 × 1682 scores).

Who is evaluated: users with at least one test rating AND at least one
training rating (a model cannot rank for a user it never saw). The catalog is
every movie in the training part; a relevant movie outside it can never be
recommended and so counts as a miss (as in recommenders' evaluation).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from pipeline import als, baselines, fidelity, metrics, splits, tuning
from pipeline.columns import GENRES, MOVIE, RATING, USER

log = logging.getLogger(__name__)

DEFAULT_KS = (1, 3, 5, 10, 20)
BATCH_USERS = 1024

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


class Scorer(Protocol):
    """Anything that scores the catalog for a batch of evaluated users."""

    name: str

    def scores(self, rows: np.ndarray) -> np.ndarray: ...


@dataclass
class RankingData:
    """A train/test split in array form.

    user_ids: evaluated users (ascending). item_ids: the catalog (ascending).
    train_cols / train_ratings: per evaluated user, catalog columns rated in
    training and those ratings (the columns are excluded from their top-k).
    test_items: per evaluated user, relevant movie ids (every test rating).
    test_cols: the catalog columns among them.
    item_counts / item_sums: training rating count and sum per catalog item
    (over ALL training users, sampled or not: popularity baselines).
    """

    user_ids: np.ndarray
    item_ids: np.ndarray
    train_cols: list[np.ndarray]
    train_ratings: list[np.ndarray]
    test_items: list[np.ndarray]
    test_cols: list[np.ndarray]
    item_counts: np.ndarray
    item_sums: np.ndarray
    train_ratings_total: int
    dropped_test_users: int
    sampled_from: int | None = None

    @classmethod
    def from_rows(
        cls,
        train: Iterable[tuple[int, int, float]],
        test: Iterable[tuple[int, int, float]],
        item_stats: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
        candidate_users: int | None = None,
    ) -> RankingData:
        """Build from (user_id, movie_id, rating) rows of each part.

        `item_stats` = (item_ids, counts, sums) of the whole training part when
        `train` holds only a sample of its users; by default they come from `train`.
        """
        tr = np.asarray(list(train), dtype=np.float64).reshape(-1, 3)
        te = np.asarray(list(test), dtype=np.float64).reshape(-1, 3)
        if len(tr) == 0:
            raise ValueError("empty training part")
        tr_users, tr_items = tr[:, 0].astype(np.int64), tr[:, 1].astype(np.int64)
        te_users, te_items = te[:, 0].astype(np.int64), te[:, 1].astype(np.int64)
        if item_stats is None:
            item_ids = np.unique(tr_items)
            counts, sums = baselines.item_stats(np.searchsorted(item_ids, tr_items), tr[:, 2], len(item_ids))
        else:
            item_ids, counts, sums = (np.asarray(a) for a in item_stats)
        cols = np.searchsorted(item_ids, tr_items)
        test_users = np.unique(te_users)
        user_ids = np.intersect1d(test_users, np.unique(tr_users))
        if len(user_ids) == 0:
            raise ValueError("no user has both training and test ratings")
        train_by_user = _group(tr_users, np.column_stack([cols, tr[:, 2]]))
        test_by_user = _group(te_users, te_items[:, None])
        train_cols, train_ratings, test_items, test_cols = [], [], [], []
        for u in user_ids.tolist():
            rows = train_by_user[u]
            train_cols.append(rows[:, 0].astype(np.int64))
            train_ratings.append(rows[:, 1])
            items = test_by_user[u][:, 0].astype(np.int64)
            test_items.append(items)
            pos = np.clip(np.searchsorted(item_ids, items), 0, len(item_ids) - 1)
            test_cols.append(pos[item_ids[pos] == items].astype(np.int64))
        return cls(
            user_ids=user_ids,
            item_ids=item_ids.astype(np.int64),
            train_cols=train_cols,
            train_ratings=train_ratings,
            test_items=test_items,
            test_cols=test_cols,
            item_counts=counts.astype(np.float64),
            item_sums=sums.astype(np.float64),
            train_ratings_total=int(counts.sum()),
            dropped_test_users=int(len(test_users) - len(user_ids)),
            sampled_from=candidate_users,
        )

    @classmethod
    def from_split(cls, split: splits.Split, max_users: int | None = None, seed: int = 0) -> RankingData:
        """Collect a split; with `max_users`, evaluate a deterministic sample of its test users.

        The sample is the `max_users` users with the smallest hash of (seed,
        user_id): reproducible, and independent of how the split was drawn.
        """
        if max_users is None:
            return cls.from_rows(_collect(split.train), _collect(split.test))
        if max_users < 1:
            raise ValueError(f"max_users must be >= 1, got {max_users}")
        users = split.test.select(USER).distinct().join(split.train.select(USER).distinct(), USER)
        total = users.count()
        chosen = users.orderBy(F.xxhash64(F.lit(int(seed)), F.col(USER)), USER).limit(max_users)
        chosen = F.broadcast(chosen.localCheckpoint())
        stats = split.train.groupBy(MOVIE).agg(F.count(F.lit(1)).alias("n"), F.sum(RATING).alias("s"))
        rows = stats.orderBy(MOVIE).collect()
        item_stats = (
            np.asarray([r[0] for r in rows], dtype=np.int64),
            np.asarray([r[1] for r in rows], dtype=np.float64),
            np.asarray([r[2] for r in rows], dtype=np.float64),
        )
        return cls.from_rows(
            _collect(split.train.join(chosen, USER)),
            _collect(split.test.join(chosen, USER)),
            item_stats,
            candidate_users=total,
        )


def _group(keys: np.ndarray, values: np.ndarray) -> dict[int, np.ndarray]:
    order = np.argsort(keys, kind="stable")
    keys, values = keys[order], values[order]
    bounds = np.flatnonzero(np.diff(keys)) + 1
    starts = np.concatenate([[0], bounds])
    ends = np.concatenate([bounds, [len(keys)]])
    return {int(keys[s]): values[s:e] for s, e in zip(starts, ends, strict=True)}


def _collect(frame: DataFrame) -> list[tuple[int, int, float]]:
    return [(int(r[0]), int(r[1]), float(r[2])) for r in frame.select(USER, MOVIE, RATING).collect()]


@dataclass
class FactorScorer:
    """Inner products of collected factor vectors (exactly what ES ranks by)."""

    name: str
    user_matrix: np.ndarray  # aligned with RankingData.user_ids (zeros for users without factors)
    item_matrix: np.ndarray  # aligned with RankingData.item_ids
    item_known: np.ndarray  # False for catalog items the model has no vector for (never recommended)

    def scores(self, rows: np.ndarray) -> np.ndarray:
        s = self.user_matrix[rows] @ self.item_matrix.T
        s[:, ~self.item_known] = -np.inf
        return s

    @classmethod
    def from_model(cls, model: als.TrainedModel, user_ids: np.ndarray, item_ids: np.ndarray, name: str = "als") -> FactorScorer:
        u_ids, u_mat = als.factor_matrix(model.user_factors, USER)
        i_ids, i_mat = als.factor_matrix(model.item_factors, MOVIE)
        users, _ = _align(u_ids, u_mat, user_ids, model.vector_size)
        items, known = _align(i_ids, i_mat, item_ids, model.vector_size)
        return cls(name, users, items, known)


def _align(ids: np.ndarray, matrix: np.ndarray, wanted: np.ndarray, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of `matrix` reordered to `wanted` ids; missing ids get zero rows and known=False."""
    out = np.zeros((len(wanted), dim))
    known = np.zeros(len(wanted), dtype=bool)
    if len(ids):
        pos = np.searchsorted(ids, wanted)
        pos = np.clip(pos, 0, len(ids) - 1)
        hit = ids[pos] == wanted
        out[hit] = matrix[pos[hit]]
        known = hit
    return out, known


def evaluate_ranking(
    scorer: Scorer, data: RankingData, ks: Sequence[int] = DEFAULT_KS, batch_users: int = BATCH_USERS
) -> dict[str, float]:
    """Cut-off metrics at every k, uncut MRR and coverage for one scorer."""
    kmax = max(ks)
    recommended: list[np.ndarray] = []
    rr: list[np.ndarray] = []
    for start in range(0, len(data.user_ids), batch_users):
        rows = np.arange(start, min(start + batch_users, len(data.user_ids)))
        s = np.array(scorer.scores(rows), dtype=np.float64)
        exclude = [data.train_cols[r] for r in rows]
        top = metrics.top_k(s, kmax, exclude)
        recommended.append(np.where(top >= 0, data.item_ids[np.maximum(top, 0)], metrics.PAD))
        rr.append(metrics.reciprocal_ranks(s, [data.test_cols[r] for r in rows], exclude))
    rec = np.concatenate(recommended)
    out = metrics.ranking_metrics(rec, data.test_items, ks, catalog_size=len(data.item_ids))
    out["mrr"] = float(np.mean(np.concatenate(rr)))
    return out


def baseline_scorers(data: RankingData, genres_by_item: Mapping[int, Sequence[str]] | None) -> list[Scorer]:
    pop = data.item_counts
    out: list[Scorer] = [
        baselines.StaticScorer("most_popular", pop),
        baselines.StaticScorer("top_bayes_rating", baselines.bayes_scores(data.item_counts, data.item_sums)),
    ]
    if genres_by_item:
        g, _ = baselines.genre_matrix(data.item_ids, genres_by_item)
        out.append(baselines.GenreScorer("genre_profile", data.train_cols, data.train_ratings, g))
        out.append(baselines.GenreScorer("hybrid_pop_genre", data.train_cols, data.train_ratings, g, pop))
    return out


def genres_of(movies: DataFrame | None) -> dict[int, list[str]]:
    if movies is None:
        return {}
    return {int(r[0]): list(r[1] or []) for r in movies.select(MOVIE, GENRES).collect()}


# ---- rating prediction -------------------------------------------------------------------------


@dataclass
class RatingPredictor:
    """Full explicit prediction μ + b_u + b_i + u·v, clipped to the rating scale.

    Unknown users or movies contribute 0 for their bias and vector (so a cold
    pair is predicted from what is known, down to μ), as Surprise does.
    """

    global_mean: float
    user_ids: np.ndarray
    user_vectors: np.ndarray  # latent u without the folded 1
    user_bias: np.ndarray
    item_ids: np.ndarray
    item_vectors: np.ndarray  # latent v without the folded b_i
    item_bias: np.ndarray
    low: float
    high: float

    @classmethod
    def from_model(cls, model: als.TrainedModel, low: float, high: float) -> RatingPredictor:
        if model.kind != "explicit":
            raise ValueError("rating prediction needs an explicit model")
        u_ids, u_mat = als.factor_matrix(model.user_factors, USER)
        i_ids, i_mat = als.factor_matrix(model.item_factors, MOVIE)
        return cls(
            global_mean=float(model.meta["global_mean"]),
            user_ids=u_ids,
            user_vectors=u_mat[:, :-1],
            user_bias=als.bias_vector(model.user_bias, USER, u_ids),
            item_ids=i_ids,
            item_vectors=i_mat[:, :-1],
            item_bias=i_mat[:, -1],
            low=low,
            high=high,
        )

    def predict(self, users: np.ndarray, items: np.ndarray, use_factors: bool = True) -> np.ndarray:
        u_vec, u_known = _align(self.user_ids, self.user_vectors, np.asarray(users), self.user_vectors.shape[1])
        i_vec, i_known = _align(self.item_ids, self.item_vectors, np.asarray(items), self.item_vectors.shape[1])
        b_u = np.where(u_known, self.user_bias[_positions(self.user_ids, users)], 0.0)
        b_i = np.where(i_known, self.item_bias[_positions(self.item_ids, items)], 0.0)
        pred = self.global_mean + b_u + b_i
        if use_factors:
            pred = pred + np.einsum("ij,ij->i", u_vec, i_vec)
        return np.clip(pred, self.low, self.high)


def _positions(ids: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    if len(ids) == 0:
        return np.zeros(len(wanted), dtype=np.int64)
    return np.clip(np.searchsorted(ids, np.asarray(wanted)), 0, len(ids) - 1)


def evaluate_rating(predictor: RatingPredictor, test_rows: Sequence[tuple[int, int, float]]) -> dict[str, Any]:
    """RMSE / MAE of the full model and of its biases alone (Surprise's BaselineOnly analogue)."""
    arr = np.asarray(test_rows, dtype=np.float64).reshape(-1, 3)
    users, items, truth = arr[:, 0].astype(np.int64), arr[:, 1].astype(np.int64), arr[:, 2]
    full = predictor.predict(users, items)
    biases = predictor.predict(users, items, use_factors=False)
    cold = int(np.sum(~np.isin(users, predictor.user_ids) | ~np.isin(items, predictor.item_ids)))
    return {
        "rmse": metrics.rmse(truth, full),
        "mae": metrics.mae(truth, full),
        "baseline_rmse": metrics.rmse(truth, biases),
        "baseline_mae": metrics.mae(truth, biases),
        "global_mean_rmse": metrics.rmse(truth, np.full_like(truth, predictor.global_mean)),
        "n_predictions": len(truth),
        "n_cold_pairs": cold,
    }


# ---- one split, one model ----------------------------------------------------------------------


def score_ranking_split(
    split: splits.Split,
    params: als.ALSParams,
    ks: Sequence[int] = DEFAULT_KS,
    data: RankingData | None = None,
) -> tuple[dict[str, float], als.TrainedModel, RankingData]:
    """Train on split.train, rank for split.test users; returns (metrics, model, data)."""
    data = data if data is not None else RankingData.from_split(split)
    model = als.train(split.train, params)
    scorer = FactorScorer.from_model(model, data.user_ids, data.item_ids)
    result = evaluate_ranking(scorer, data, ks)
    return result, model, data


def score_rating_split(
    split: splits.Split, params: als.ALSParams, scale: tuple[float, float] | None = None
) -> tuple[dict[str, Any], als.TrainedModel]:
    """Train explicit ALS on split.train; RMSE / MAE on split.test."""
    if scale is None:
        scale = _scale(split.train)
    model = als.train(split.train, params)
    predictor = RatingPredictor.from_model(model, *scale)
    result = evaluate_rating(predictor, _collect(split.test))
    return result, model


def ranking_objective(
    validation: splits.Split, ks: Sequence[int] = DEFAULT_KS
) -> Callable[[als.ALSParams], dict[str, float]]:
    """A tuning objective: train on the validation carve's train part, score its held-out part."""
    data = RankingData.from_split(validation)

    def run(params: als.ALSParams) -> dict[str, float]:
        result, model, _ = score_ranking_split(validation, params, ks, data)
        model.unpersist()
        return result

    return run


def rating_objective(validation: splits.Split, scale: tuple[float, float]) -> Callable[[als.ALSParams], dict[str, float]]:
    test_rows = _collect(validation.test)

    def run(params: als.ALSParams) -> dict[str, float]:
        model = als.train(validation.train, params)
        predictor = RatingPredictor.from_model(model, *scale)
        model.unpersist()
        return evaluate_rating(predictor, test_rows)

    return run


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
    return [materialise(s) for s in parts]


def materialise(split: splits.Split) -> splits.Split:
    """Cache both parts and cut their lineage (window plans re-run on every ALS pass otherwise)."""
    return splits.Split(split.name, split.train.localCheckpoint(), split.test.localCheckpoint())


def _scale(frame: DataFrame) -> tuple[float, float]:
    row = frame.agg(F.min(RATING), F.max(RATING)).first()
    return float(row[0]), float(row[1])


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
        results = [tune_on(part, params, objective_task, space, n_points, search_seed, ks, objective) for part in searched]
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


def tune_on(
    split: splits.Split,
    base: als.ALSParams,
    task: str,
    space: Mapping[str, Sequence[Any]] | None = None,
    n_points: int | None = None,
    seed: int = 0,
    ks: Sequence[int] = DEFAULT_KS,
    objective: str | None = None,
) -> tuning.TuningResult:
    """Search on a validation carve of `split.train` (never `split.test`).

    `objective` overrides the task's metric (e.g. "ndcg_at_5"); error metrics
    (rmse, mae) are minimised, everything else maximised.
    """
    validation = materialise(splits.validation_split(split))
    metric, maximize = tuning.OBJECTIVES[task]
    if objective is not None:
        metric, maximize = objective, objective not in tuning.MINIMISED
    space = space if space is not None else tuning.default_space(task, base.solver)
    if task == "ranking":
        objective = ranking_objective(validation, ks)
    else:
        objective = rating_objective(validation, _scale(split.train))
    if n_points is None:
        points, search = tuning.grid_points(space), "grid"
    else:
        points, search = tuning.random_points(space, n_points, seed), f"random({n_points}, seed={seed})"
    log.info("tuning on %s: %d points (%s), objective %s", validation.name, len(points), search, metric)
    return tuning.tune(base, points, objective, metric, maximize, search, validation.name)


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
    data = RankingData.from_split(split, max_users)
    timings["collect"] = time.perf_counter() - started
    started = time.perf_counter()
    model = als.train(split.train, params)
    timings["train"] = time.perf_counter() - started
    started = time.perf_counter()
    als_scorer = FactorScorer.from_model(model, data.user_ids, data.item_ids)
    models = {"als": evaluate_ranking(als_scorer, data, ks)}
    if model.kind == "explicit":
        models["als"].update(evaluate_rating(RatingPredictor.from_model(model, *_scale(split.train)), _collect(split.test)))
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
        for scorer in baseline_scorers(data, genres_of(movies)):
            models[scorer.name] = evaluate_ranking(scorer, data, ks)
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


def hnsw_estimate(scorer: FactorScorer) -> dict[str, Any]:
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
        result, model = score_rating_split(split, fold_params)
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
    result = tune_on(parts[0], params, task, n_points=n_points if n_points is not None else RUN_SEARCH_POINTS[task])
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
