"""Evaluation metrics as pure functions on arrays (numpy and plain Python).

Conventions, chosen to match recommenders-team/recommenders'
`python_evaluation` so our msr-100k figures compare with their published ones:

- `recommended` is one row of item ids per user, best first (a 2-D array or a
  list of lists; -1 pads a row that has fewer than k candidates).
- `relevant` is, per user, the collection of relevant item ids (every test
  rating is relevant in the ranking protocols). Users whose collection is
  empty are EXCLUDED from every average: they have nothing to find, and
  counting them as zeros would reward splits that leave users without tests.
- Precision@K = hits in the top K / K (K even when fewer items were ranked).
- Recall@K = hits in the top K / |relevant|.
- nDCG@K, binary gain: DCG = Σ_{hit at position j (1-based)} 1/log2(j+1);
  IDCG = Σ_{j=1..min(|relevant|, K)} 1/log2(j+1).
- MAP@K = Σ_{hit at position j} (hits in the top j / j) / min(|relevant|, K),
  the denominator of recommenders' `map_at_k` (their `map` divides by
  |relevant|; `map_at_k(..., denominator="relevant")` gives that one).
- MRR@K = 1 / position of the first hit in the top K (0 without a hit);
  `mean_reciprocal_rank` is the uncut version over the whole catalog.
- Catalog coverage@K = distinct items recommended in anyone's top K / catalog size.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np

PAD = -1


def _as_matrix(recommended: np.ndarray | Sequence[Sequence[int]], k: int) -> np.ndarray:
    """Rows of item ids cut or padded to exactly k columns."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if isinstance(recommended, np.ndarray) and recommended.ndim == 2:
        rows = recommended[:, :k]
        if rows.shape[1] == k:
            return rows.astype(np.int64, copy=False)
        out = np.full((len(rows), k), PAD, dtype=np.int64)
        out[:, : rows.shape[1]] = rows
        return out
    out = np.full((len(recommended), k), PAD, dtype=np.int64)
    for u, row in enumerate(recommended):
        row = list(row)[:k]
        out[u, : len(row)] = row
    return out


def hit_matrix(
    recommended: np.ndarray | Sequence[Sequence[int]],
    relevant: Sequence[Collection[int]],
    k: int,
) -> tuple[np.ndarray, np.ndarray]:
    """(hits, n_relevant) for the users that have relevant items.

    hits[u, j] is True when the j-th recommendation of user u is relevant;
    users with an empty `relevant` collection are dropped here, once.
    """
    rec = _as_matrix(recommended, k)
    if len(rec) != len(relevant):
        raise ValueError(f"{len(rec)} recommendation rows for {len(relevant)} relevant sets")
    n_rel = np.fromiter((len(r) for r in relevant), dtype=np.int64, count=len(relevant))
    keep = np.flatnonzero(n_rel > 0)
    if len(keep) == 0:
        raise ValueError("no user has relevant items: nothing to evaluate")
    hits = np.zeros((len(keep), k), dtype=bool)
    for out_row, u in enumerate(keep):
        rel = np.fromiter((int(x) for x in relevant[u]), dtype=np.int64)
        row = rec[u]
        hits[out_row] = np.isin(row, rel) & (row != PAD)
    return hits, n_rel[keep]


def _discounts(k: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(2, k + 2))


def precision_at_k(recommended, relevant, k: int) -> float:
    hits, _ = hit_matrix(recommended, relevant, k)
    return float(np.mean(hits.sum(axis=1) / k))


def recall_at_k(recommended, relevant, k: int) -> float:
    hits, n_rel = hit_matrix(recommended, relevant, k)
    return float(np.mean(hits.sum(axis=1) / n_rel))


def ndcg_at_k(recommended, relevant, k: int) -> float:
    hits, n_rel = hit_matrix(recommended, relevant, k)
    return float(np.mean(_ndcg_rows(hits, n_rel, k)))


def _ndcg_rows(hits: np.ndarray, n_rel: np.ndarray, k: int) -> np.ndarray:
    disc = _discounts(k)
    dcg = hits @ disc
    ideal = np.cumsum(disc)[np.minimum(n_rel, k) - 1]
    return dcg / ideal


def map_at_k(recommended, relevant, k: int, denominator: str = "min") -> float:
    """MAP@K; denominator "min" = min(|relevant|, K) (recommenders' map_at_k), "relevant" = |relevant|."""
    if denominator not in ("min", "relevant"):
        raise ValueError(f"denominator must be 'min' or 'relevant', got {denominator!r}")
    hits, n_rel = hit_matrix(recommended, relevant, k)
    return float(np.mean(_ap_rows(hits, n_rel, k, denominator)))


def _ap_rows(hits: np.ndarray, n_rel: np.ndarray, k: int, denominator: str) -> np.ndarray:
    positions = np.arange(1, k + 1)
    precision_at_hits = np.where(hits, np.cumsum(hits, axis=1) / positions, 0.0)
    denom = np.minimum(n_rel, k) if denominator == "min" else n_rel
    return precision_at_hits.sum(axis=1) / denom


def mrr_at_k(recommended, relevant, k: int) -> float:
    hits, _ = hit_matrix(recommended, relevant, k)
    return float(np.mean(_rr_rows(hits)))


def _rr_rows(hits: np.ndarray) -> np.ndarray:
    first = np.argmax(hits, axis=1)
    return np.where(hits.any(axis=1), 1.0 / (first + 1), 0.0)


def catalog_coverage(recommended, catalog_size: int, k: int) -> float:
    """Share of the catalog that appears in at least one user's top K."""
    if catalog_size < 1:
        raise ValueError("catalog_size must be >= 1")
    rec = _as_matrix(recommended, k)
    distinct = np.unique(rec[rec != PAD])
    return float(len(distinct) / catalog_size)


def ranking_metrics(
    recommended: np.ndarray | Sequence[Sequence[int]],
    relevant: Sequence[Collection[int]],
    ks: Sequence[int],
    catalog_size: int | None = None,
) -> dict[str, float]:
    """Every cut-off metric at every k in `ks` (`recommended` must hold max(ks) columns or fewer)."""
    kmax = max(ks)
    hits_max, n_rel = hit_matrix(recommended, relevant, kmax)
    out: dict[str, float] = {"n_users": len(n_rel)}
    for k in sorted(set(ks)):
        hits = hits_max[:, :k]
        out[f"precision_at_{k}"] = float(np.mean(hits.sum(axis=1) / k))
        out[f"recall_at_{k}"] = float(np.mean(hits.sum(axis=1) / n_rel))
        out[f"ndcg_at_{k}"] = float(np.mean(_ndcg_rows(hits, n_rel, k)))
        out[f"map_at_{k}"] = float(np.mean(_ap_rows(hits, n_rel, k, "min")))
        out[f"map_rel_at_{k}"] = float(np.mean(_ap_rows(hits, n_rel, k, "relevant")))
        out[f"mrr_at_{k}"] = float(np.mean(_rr_rows(hits)))
        if catalog_size is not None:
            out[f"coverage_at_{k}"] = catalog_coverage(recommended, catalog_size, k)
    return out


def top_k(scores: np.ndarray, k: int, exclude: Sequence[np.ndarray] | None = None) -> np.ndarray:
    """Indices of the k best columns per row, best first; exact, deterministic.

    `exclude[u]` lists column indices never to return for row u (the user's
    training items). Ties are broken by the lower column index. NaN scores
    count as -inf. Rows with fewer than k eligible columns are padded with -1.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    s = np.array(scores, dtype=np.float64, copy=True)
    if s.ndim != 2:
        raise ValueError("scores must be a 2-D array (users x items)")
    s[np.isnan(s)] = -np.inf
    n_rows, n_cols = s.shape
    if exclude is not None:
        if len(exclude) != n_rows:
            raise ValueError(f"{len(exclude)} exclusion lists for {n_rows} rows")
        for u, cols in enumerate(exclude):
            if len(cols):
                s[u, np.asarray(cols, dtype=np.int64)] = -np.inf
    out = np.full((n_rows, k), PAD, dtype=np.int64)
    kk = min(k, n_cols)
    if kk == 0:
        return out
    kth = np.partition(s, n_cols - kk, axis=1)[:, n_cols - kk]
    for u in range(n_rows):
        row = s[u]
        cand = np.flatnonzero((row >= kth[u]) & np.isfinite(row))
        order = np.lexsort((cand, -row[cand]))[:kk]
        out[u, : len(order)] = cand[order]
    return out


def reciprocal_ranks(
    scores: np.ndarray, relevant_cols: Sequence[np.ndarray], exclude: Sequence[np.ndarray] | None = None
) -> np.ndarray:
    """Per row, 1 / rank of the best-ranked relevant column over the whole row (0 if none).

    Same ordering as `top_k`: score descending, ties by lower index, excluded
    columns removed. Rows with no relevant column get 0 (the caller drops
    users without test items before averaging).
    """
    s = np.array(scores, dtype=np.float64, copy=True)
    s[np.isnan(s)] = -np.inf
    if exclude is not None:
        for u, cols in enumerate(exclude):
            if len(cols):
                s[u, np.asarray(cols, dtype=np.int64)] = -np.inf
    out = np.zeros(len(s), dtype=np.float64)
    for u, cols in enumerate(relevant_cols):
        cols = np.asarray(cols, dtype=np.int64)
        if len(cols) == 0:
            continue
        row = s[u]
        rel_scores = row[cols]
        finite = np.isfinite(rel_scores)
        if not finite.any():
            continue
        cols, rel_scores = cols[finite], rel_scores[finite]
        best = np.lexsort((cols, -rel_scores))[0]
        c, v = cols[best], rel_scores[best]
        rank = int(np.count_nonzero(row > v) + np.count_nonzero(row[:c] == v)) + 1
        out[u] = 1.0 / rank
    return out


def mean_reciprocal_rank(
    scores: np.ndarray,
    relevant_cols: Sequence[np.ndarray],
    exclude: Sequence[np.ndarray] | None = None,
    n_relevant: Sequence[int] | None = None,
) -> float:
    """Uncut MRR over users with relevant items.

    `n_relevant[u]` counts user u's relevant items including those outside the
    catalog (which can never be ranked, so they add a 0); by default it is
    len(relevant_cols[u]).
    """
    counts = [len(c) for c in relevant_cols] if n_relevant is None else list(n_relevant)
    keep = [u for u, n in enumerate(counts) if n > 0]
    if not keep:
        raise ValueError("no user has relevant items: nothing to evaluate")
    rr = reciprocal_ranks(scores, relevant_cols, exclude)
    return float(np.mean(rr[keep]))


def rmse(y_true: Sequence[float] | np.ndarray, y_pred: Sequence[float] | np.ndarray) -> float:
    t, p = _pair(y_true, y_pred)
    return float(np.sqrt(np.mean((t - p) ** 2)))


def mae(y_true: Sequence[float] | np.ndarray, y_pred: Sequence[float] | np.ndarray) -> float:
    t, p = _pair(y_true, y_pred)
    return float(np.mean(np.abs(t - p)))


def _pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    if t.shape != p.shape:
        raise ValueError(f"shape mismatch: {t.shape} vs {p.shape}")
    if t.size == 0:
        raise ValueError("no predictions to score")
    return t, p
