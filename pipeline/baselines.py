"""Non-personalised and content baselines, scored on the same split as ALS.

All are pure numpy over the training part in array form (catalog columns and
ratings), so they rank exactly like the ALS scorer does (same exclusion of
training items, same tie-break by catalog index).

- most-popular: number of training ratings of the movie.
- top Bayesian rating: (n·mean + m·μ)/(n + m) from the training ratings
  (the same formula as `features.movie_features`).
- genre profile: a user's mean rating per genre (genres they rated in
  training); a movie scores the mean of those user means over its genres; a
  movie none of whose genres the user rated scores the user's overall mean.
- hybrid: 0.6·popularity + 0.4·genre profile, each min-max normalised to 0..1
  first (popularity over the catalog; the genre score per user, over that
  user's row), so neither dominates by its scale.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from pipeline.features import DEFAULT_PRIOR_STRENGTH

HYBRID_POPULARITY_WEIGHT = 0.6
HYBRID_GENRE_WEIGHT = 0.4


def item_stats(item_cols: np.ndarray, ratings: np.ndarray, n_items: int) -> tuple[np.ndarray, np.ndarray]:
    """(rating count, rating sum) per catalog column from training rows."""
    cols = np.asarray(item_cols, dtype=np.int64)
    counts = np.bincount(cols, minlength=n_items).astype(np.float64)
    sums = np.bincount(cols, weights=np.asarray(ratings, dtype=np.float64), minlength=n_items)
    return counts, sums


def bayes_scores(counts: np.ndarray, sums: np.ndarray, prior_strength: float = DEFAULT_PRIOR_STRENGTH) -> np.ndarray:
    """Bayesian average rating per catalog column, prior toward the global training mean."""
    counts = np.asarray(counts, dtype=np.float64)
    sums = np.asarray(sums, dtype=np.float64)
    total = counts.sum()
    if total <= 0:
        raise ValueError("no training ratings")
    mu = float(sums.sum() / total)
    denom = counts + prior_strength
    safe = np.where(denom > 0, denom, 1.0)
    return np.where(denom > 0, (sums + prior_strength * mu) / safe, mu)


def genre_matrix(item_ids: Sequence[int], genres_by_item: Mapping[int, Sequence[str]]) -> tuple[np.ndarray, list[str]]:
    """(G, names): G[i, g] = 1.0 when catalog item i has genre names[g]; names sorted."""
    names = sorted({g for i in item_ids for g in genres_by_item.get(int(i), ())})
    index = {g: n for n, g in enumerate(names)}
    matrix = np.zeros((len(item_ids), len(names)), dtype=np.float64)
    for row, item in enumerate(item_ids):
        for g in genres_by_item.get(int(item), ()):
            matrix[row, index[g]] = 1.0
    return matrix, names


def min_max(values: np.ndarray, axis: int | None = None) -> np.ndarray:
    """Scale to 0..1 along `axis`; a constant slice becomes all zeros."""
    values = np.asarray(values, dtype=np.float64)
    low = values.min(axis=axis, keepdims=True)
    span = values.max(axis=axis, keepdims=True) - low
    return np.where(span > 0, (values - low) / np.where(span > 0, span, 1.0), 0.0)


def genre_profile_scores(
    user_cols: Sequence[np.ndarray], user_ratings: Sequence[np.ndarray], genres: np.ndarray
) -> np.ndarray:
    """Scores (users × catalog) from each user's mean rating per genre."""
    n_users, n_items = len(user_cols), genres.shape[0]
    rated = np.zeros((n_users, n_items))
    weight = np.zeros((n_users, n_items))
    fallback = np.zeros(n_users)
    for u, (cols, ratings) in enumerate(zip(user_cols, user_ratings, strict=True)):
        cols = np.asarray(cols, dtype=np.int64)
        ratings = np.asarray(ratings, dtype=np.float64)
        rated[u, cols] = ratings
        weight[u, cols] = 1.0
        fallback[u] = ratings.mean() if len(ratings) else 0.0
    totals = rated @ genres
    counts = weight @ genres
    known = counts > 0
    means = np.where(known, totals / np.where(known, counts, 1.0), 0.0)
    numerator = means @ genres.T
    denominator = known.astype(np.float64) @ genres.T
    return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1.0), fallback[:, None])


def hybrid_scores(
    popularity: np.ndarray,
    genre: np.ndarray,
    popularity_weight: float = HYBRID_POPULARITY_WEIGHT,
    genre_weight: float = HYBRID_GENRE_WEIGHT,
) -> np.ndarray:
    """popularity_weight·minmax(popularity) + genre_weight·rowwise minmax(genre)."""
    return popularity_weight * min_max(popularity)[None, :] + genre_weight * min_max(genre, axis=1)


@dataclass
class StaticScorer:
    """Same item scores for every user (most-popular, top Bayesian rating)."""

    name: str
    item_scores: np.ndarray

    def scores(self, rows: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.item_scores, (len(rows), len(self.item_scores)))


@dataclass
class GenreScorer:
    """Genre profile, optionally blended with popularity (the hybrid)."""

    name: str
    user_cols: Sequence[np.ndarray]
    user_ratings: Sequence[np.ndarray]
    genres: np.ndarray
    popularity: np.ndarray | None = None

    def scores(self, rows: np.ndarray) -> np.ndarray:
        genre = genre_profile_scores(
            [self.user_cols[r] for r in rows], [self.user_ratings[r] for r in rows], self.genres
        )
        if self.popularity is None:
            return genre
        return hybrid_scores(self.popularity, genre)


def interaction_matrix(user_cols: Sequence[np.ndarray], n_items: int) -> np.ndarray:
    """Binary X (users × catalog): 1 where the user rated the item in training."""
    x = np.zeros((len(user_cols), n_items))
    for u, cols in enumerate(user_cols):
        x[u, np.asarray(cols, dtype=np.int64)] = 1.0
    return x


def ease_weights(x: np.ndarray, reg: float) -> np.ndarray:
    """EASE's item-item matrix B (zero diagonal) for X, λ = reg > 0."""
    if reg <= 0:
        raise ValueError(f"reg must be > 0, got {reg}")
    gram = x.T @ x
    gram[np.diag_indices_from(gram)] += reg
    p = np.linalg.inv(gram)
    b = -p / np.diag(p)[None, :]
    b[np.diag_indices_from(b)] = 0.0
    return b


def item_knn_weights(x: np.ndarray, neighbours: int) -> np.ndarray:
    """Cosine item-item similarities of X's columns, each column keeping its `neighbours` largest (diagonal 0)."""
    if neighbours < 1:
        raise ValueError(f"neighbours must be >= 1, got {neighbours}")
    norms = np.sqrt((x * x).sum(axis=0))
    sim = (x.T @ x) / np.maximum(np.outer(norms, norms), 1e-12)
    np.fill_diagonal(sim, 0.0)
    keep = min(neighbours, sim.shape[0])
    cut = np.partition(sim, sim.shape[0] - keep, axis=0)[sim.shape[0] - keep]
    return np.where(sim >= cut[None, :], sim, 0.0)


@dataclass
class ItemItemScorer:
    """scores = X[rows]·W for an item-item weight matrix W (EASE's B, item-kNN similarities)."""

    name: str
    x: np.ndarray
    weights: np.ndarray

    def scores(self, rows: np.ndarray) -> np.ndarray:
        return self.x[rows] @ self.weights
