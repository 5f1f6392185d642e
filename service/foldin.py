"""Fold-in: a user vector from ratings in one least-squares solve, item factors fixed.

These are the normal equations the trainer solves for one user in its last
half-iteration (`pipeline.model.equations`, which both the numpy block solver
and this module call; Spark ML's `computeFactors` solves the same ones with
ν = 1), so folding in a training user's own ratings reproduces its factor:

* explicit: (VᵀV + λ·n^ν·I) u = Vᵀ t with t the rating residuals, n the
  number of ratings (ν = 1 is ALS-WR, "weight lambda by the number of
  explicit ratings");
* implicit (Hu, Koren, Volinsky): (YᵀY + Yᵀ(C−I)Y + λ·n₊^ν·I + λ₀·I) u =
  Yᵀ C p + λ₀·ū with c − 1 = α·|s|, p = [s > 0] for signals s (a low rating
  is s < 0: negative evidence), n₊ the number of positive entries, YᵀY the
  item Gramian and ū the mean user stored with the run (λ₀ = 0: no prior).

The explicit model learns on residuals r − μ − b_u − b_i (DESIGN "biases folded
into vectors"): movies are indexed as [v, b_i], users queried as [u, 1].
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pipeline.model import equations


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
    exponent: float = 1.0,
) -> FoldedUser:
    """Fold in explicit ratings against indexed movie vectors `item_factors` = [v, b_i] (n × (rank+1)).

    bias_mode:
      "baseline": b_u = Σ(r − μ − b_i) / (bias_reg + n) first, then u on r − μ − b_i − b_u;
      "joint":    [u, b_u] solved together (V augmented with a ones column, both regularised by λ·n^ν);
      "none":     b_u = 0 (a few liked titles: the whole signal goes into u).
    exponent: ν of λ·n^ν (the run's reg_exponent; 1 for Spark ML's ALS-WR).
    """
    x = np.asarray(item_factors, dtype=np.float64)
    r = np.asarray(ratings, dtype=np.float64)
    _check(x, r)
    v, b_i = x[:, :-1], x[:, -1]
    resid = r - global_mean - b_i
    if bias_mode == "joint":
        aug = np.hstack([v, np.ones((r.size, 1))])
        sol = equations.fold_in_explicit(aug, resid, reg=reg, exponent=exponent)
        u, b_u = sol[:-1], float(sol[-1])
    elif bias_mode == "baseline":
        b_u = user_bias(resid, bias_reg)
        u = equations.fold_in_explicit(v, resid - b_u, reg=reg, exponent=exponent)
    elif bias_mode == "none":
        b_u = 0.0
        u = equations.fold_in_explicit(v, resid, reg=reg, exponent=exponent)
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
    exponent: float = 1.0,
    prior_weight: float = 0.0,
    mean_user: Sequence[float] | np.ndarray | None = None,
) -> FoldedUser:
    """Fold in implicit signals s (one per row of Y = `item_factors`; s < 0 is negative evidence), YᵀY given.

    exponent: ν of λ·n₊^ν. prior_weight λ₀ > 0 shrinks toward `mean_user` ū (both from the run).
    """
    y = np.asarray(item_factors, dtype=np.float64)
    s = np.asarray(ratings, dtype=np.float64)
    _check(y, s)
    yty = np.asarray(gramian, dtype=np.float64)
    if yty.shape != (y.shape[1], y.shape[1]):
        raise ValueError(f"gramian must be {y.shape[1]}x{y.shape[1]}, got {yty.shape}")
    offset = None
    if prior_weight > 0:
        if mean_user is None or np.shape(mean_user) != (y.shape[1],):
            raise ValueError(f"a prior weight needs the mean user vector of {y.shape[1]} values")
        offset = prior_weight * np.asarray(mean_user, dtype=np.float64)
    u = equations.fold_in_implicit(y, s, gram=yty, alpha=alpha, reg=reg, exponent=exponent, offset=offset, extra_reg=prior_weight)
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


def _check(x: np.ndarray, r: np.ndarray) -> None:
    if x.ndim != 2 or r.ndim != 1 or x.shape[0] != r.size:
        raise ValueError(f"need one factor row per rating, got factors {x.shape} and {r.shape} ratings")
    if r.size == 0:
        raise ValueError("at least one rating is needed to fold a user in")
    if not (np.isfinite(x).all() and np.isfinite(r).all()):
        raise ValueError("factors and ratings must be finite")
