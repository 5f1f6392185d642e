"""Scoring one model on one split: exact top-k ranking metrics and rating errors, in numpy.

Spark trains; the split and the factors are then collected to the driver and
scored as plain arrays: scores = U·Vᵀ per batch of users, the user's training
items masked, exact top-k (`metrics.top_k`). Everything here is small for
MovieLens 100k / latest-small (943 × 1682 scores).

Who is evaluated: users with at least one test rating AND at least one
training rating (a model cannot rank for a user it never saw). The catalog is
every movie in the training part; a relevant movie outside it can never be
recommended and so counts as a miss (as in recommenders' evaluation).

The protocols that call these (splits, seeds, folds, the report) are
`pipeline.evaluate`; the validation-carve objectives are `pipeline.tuning`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from pipeline import als, baselines, metrics, splits
from pipeline.columns import GENRES, MOVIE, RATING, USER

DEFAULT_KS = (1, 3, 5, 10, 20)
BATCH_USERS = 1024


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
            return cls.from_rows(collect_rows(split.train), collect_rows(split.test))
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
            collect_rows(split.train.join(chosen, USER)),
            collect_rows(split.test.join(chosen, USER)),
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


def collect_rows(frame: DataFrame) -> list[tuple[int, int, float]]:
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
        users, _ = align(u_ids, u_mat, user_ids, model.vector_size)
        items, known = align(i_ids, i_mat, item_ids, model.vector_size)
        return cls(name, users, items, known)


def align(ids: np.ndarray, matrix: np.ndarray, wanted: np.ndarray, dim: int) -> tuple[np.ndarray, np.ndarray]:
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
        u_vec, u_known = align(self.user_ids, self.user_vectors, np.asarray(users), self.user_vectors.shape[1])
        i_vec, i_known = align(self.item_ids, self.item_vectors, np.asarray(items), self.item_vectors.shape[1])
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
        scale = rating_scale(split.train)
    model = als.train(split.train, params)
    predictor = RatingPredictor.from_model(model, *scale)
    result = evaluate_rating(predictor, collect_rows(split.test))
    return result, model


def rating_scale(frame: DataFrame) -> tuple[float, float]:
    """(lowest, highest) rating of a frame: the scale predictions are clipped to."""
    row = frame.agg(F.min(RATING), F.max(RATING)).first()
    return float(row[0]), float(row[1])
