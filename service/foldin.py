"""Fold-in: a user vector from ratings in one least-squares solve, item factors fixed.

These are the normal equations Spark ALS solves for one user in its last
half-iteration (mllib ALS.scala `computeFactors` + `CholeskySolver`), so folding
in a training user's own ratings reproduces Spark's factor:

* explicit: (VᵀV + λ·n·I) u = Vᵀ t with t the rating residuals, λ scaled by
  the number of ratings n (ALS-WR, "weight lambda by the number of explicit
  ratings");
* implicit (Hu, Koren, Volinsky): (YᵀY + Yᵀ(C−I)Y + λ·n₊·I) u = Yᵀ C p with
  c − 1 = α·|r|, p = [r > 0], n₊ the number of positive entries, and YᵀY the
  item Gramian stored with the run.

The explicit model learns on residuals r − μ − b_u − b_i (DESIGN "biases folded
into vectors"): movies are indexed as [v, b_i], users queried as [u, 1].
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FoldedUser:
    """A folded-in user: `vector` is what the users index stores and kNN queries with."""

    vector: np.ndarray  # explicit: [u, 1]; implicit: u
    latent: np.ndarray  # u alone
    bias: float  # b_u (explicit; 0.0 for implicit)


def user_bias(residuals: np.ndarray, reg: float) -> float:
    """Regularised mean of r − μ − b_i: the baseline user bias Σ(r − μ − b_i) / (reg + n)."""
    return float(residuals.sum() / (reg + residuals.size)) if residuals.size else 0.0


def explicit(
    item_factors: np.ndarray,
    ratings: Sequence[float] | np.ndarray,
    *,
    global_mean: float,
    reg: float,
    bias_mode: str = "baseline",
    bias_reg: float = 0.0,
) -> FoldedUser:
    """Fold in explicit ratings against indexed movie vectors `item_factors` = [v, b_i] (n × (rank+1)).

    bias_mode:
      "baseline": b_u = Σ(r − μ − b_i) / (bias_reg + n) first, then u on r − μ − b_i − b_u;
      "joint":    [u, b_u] solved together (V augmented with a ones column, both regularised by λ·n);
      "none":     b_u = 0 (a few liked titles: the whole signal goes into u).
    """
    x = np.asarray(item_factors, dtype=np.float64)
    r = np.asarray(ratings, dtype=np.float64)
    _check(x, r)
    v, b_i = x[:, :-1], x[:, -1]
    resid = r - global_mean - b_i
    n = r.size
    if bias_mode == "joint":
        aug = np.hstack([v, np.ones((n, 1))])
        sol = _ridge(aug, resid, reg * n)
        u, b_u = sol[:-1], float(sol[-1])
    elif bias_mode == "baseline":
        b_u = user_bias(resid, bias_reg)
        u = _ridge(v, resid - b_u, reg * n)
    elif bias_mode == "none":
        b_u = 0.0
        u = _ridge(v, resid, reg * n)
    else:
        raise ValueError(f"bias_mode must be 'baseline', 'joint' or 'none', got {bias_mode!r}")
    return FoldedUser(vector=np.append(u, 1.0), latent=u, bias=b_u)


def implicit(
    item_factors: np.ndarray,
    ratings: Sequence[float] | np.ndarray,
    *,
    gramian: np.ndarray,
    alpha: float,
    reg: float,
) -> FoldedUser:
    """Fold in implicit feedback (ratings as strengths) against item factors Y, with YᵀY given."""
    y = np.asarray(item_factors, dtype=np.float64)
    r = np.asarray(ratings, dtype=np.float64)
    _check(y, r)
    yty = np.asarray(gramian, dtype=np.float64)
    if yty.shape != (y.shape[1], y.shape[1]):
        raise ValueError(f"gramian must be {y.shape[1]}x{y.shape[1]}, got {yty.shape}")
    c1 = alpha * np.abs(r)
    positive = r > 0
    a = yty + (y.T * c1) @ y
    b = y[positive].T @ (1.0 + c1[positive])
    lam = reg * max(int(positive.sum()), 1)
    u = np.linalg.solve(a + lam * np.eye(y.shape[1]), b)
    return FoldedUser(vector=u, latent=u, bias=0.0)


def gramian(item_factors: np.ndarray) -> np.ndarray:
    """YᵀY of all item factors (what the pipeline stores with an implicit run)."""
    y = np.asarray(item_factors, dtype=np.float64)
    return y.T @ y


def unpack_gramian(packed: Sequence[Sequence[float]] | Sequence[float], rank: int) -> np.ndarray:
    """A rank×rank matrix from a nested list, a flat row-major list, or Spark's packed upper triangle."""
    arr = np.asarray(packed, dtype=np.float64)
    if arr.shape == (rank, rank):
        return arr
    flat = arr.ravel()
    if flat.size == rank * rank:
        return flat.reshape(rank, rank)
    if flat.size == rank * (rank + 1) // 2:
        # Spark's NormalEquation.ata: upper triangle packed column by column (BLAS dspr "U"),
        # element (i, j), i <= j, at i + j(j+1)/2.
        rows = [i for j in range(rank) for i in range(j + 1)]
        cols = [j for j in range(rank) for _ in range(j + 1)]
        out = np.zeros((rank, rank))
        out[rows, cols] = flat
        out[cols, rows] = flat
        return out
    raise ValueError(f"gramian of {flat.size} values does not fit rank {rank}")


def _ridge(x: np.ndarray, t: np.ndarray, lam: float) -> np.ndarray:
    """argmin ‖x·w − t‖² + lam‖w‖², by the normal equations (as Spark's Cholesky solve)."""
    a = x.T @ x
    a[np.diag_indices_from(a)] += lam
    return np.linalg.solve(a, x.T @ t)


def _check(x: np.ndarray, r: np.ndarray) -> None:
    if x.ndim != 2 or r.ndim != 1 or x.shape[0] != r.size:
        raise ValueError(f"need one factor row per rating, got factors {x.shape} and {r.shape} ratings")
    if r.size == 0:
        raise ValueError("at least one rating is needed to fold a user in")
    if not (np.isfinite(x).all() and np.isfinite(r).all()):
        raise ValueError("factors and ratings must be finite")
