"""Serving fidelity: how much of the exact top 10 the approximate kNN returns.

Two measures, kept apart from model quality (DESIGN "Evaluation is pure"):

- on the cluster the run publishes to: for a sample of users, the `knn`
  query against the exact `script_score` query (both built by
  `service.queries.vector_search`, as the API sends them) on the run's
  movies index; recall@k = |kNN ids ∩ exact ids| / |exact ids|. On the ES
  test double kNN is exact, so 1.0 by construction; on Elasticsearch it is
  what HNSW loses.
- an estimate of Elasticsearch's HNSW with these vectors: a faiss HNSW graph
  (`IndexHNSWFlat`, inner product) built with the mapping's own `m` and
  `ef_construction` (es_mappings/movies.json), searched with ef = each
  `num_candidates` (Lucene explores num_candidates per shard, then keeps k),
  recall@k against the exact inner-product top k of the same users. No
  filters: it measures the graph, not the pre-filter.

faiss is a base dependency because every `movierec run` records this curve
(wheels for Linux/macOS, numpy its only numerical dependency). The service's
default num_candidates is chosen from this curve (docs/benchmarks.md).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

import es_mappings

log = logging.getLogger(__name__)

NUM_CANDIDATES = (10, 20, 50, 100, 200, 500)
SAMPLE_USERS = 200
K = 10
FIELD = "factors"


def hnsw_options(kind: str = "movies", field: str = FIELD) -> dict[str, int]:
    """The `m` and `ef_construction` the mapping gives the vector field."""
    options = es_mappings.properties(kind)[field]["index_options"]
    return {"m": int(options["m"]), "ef_construction": int(options["ef_construction"])}


def exact_top_k(items: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Row indices of the k largest inner products per query, best first (ties by lower index)."""
    scores = queries @ items.T
    k = min(k, items.shape[0])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.lexsort((part, -np.take_along_axis(scores, part, axis=1)), axis=1)
    return np.take_along_axis(part, order, axis=1)


def recall_at_k(found: np.ndarray, exact: np.ndarray) -> float:
    """Mean over rows of |found ∩ exact| / |exact| (-1 in `found` is an empty slot)."""
    hits = [len(set(f[f >= 0].tolist()) & set(e.tolist())) / len(e) for f, e in zip(found, exact, strict=True)]
    return float(np.mean(hits)) if hits else float("nan")


def hnsw_curve(
    items: np.ndarray,
    queries: np.ndarray,
    *,
    m: int,
    ef_construction: int,
    num_candidates: Sequence[int] = NUM_CANDIDATES,
    k: int = K,
) -> dict[str, Any]:
    """recall@k of an HNSW graph (faiss, inner product) per num_candidates; shapes: items n × d, queries q × d."""
    import faiss

    x = np.ascontiguousarray(items, dtype=np.float32)
    q = np.ascontiguousarray(queries, dtype=np.float32)
    exact = exact_top_k(x.astype(np.float64), q.astype(np.float64), k)
    index = faiss.IndexHNSWFlat(x.shape[1], m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = ef_construction
    index.add(x)
    curve = {}
    for nc in num_candidates:
        index.hnsw.efSearch = max(int(nc), k)
        _, found = index.search(q, k)
        curve[str(int(nc))] = round(recall_at_k(found, exact), 4)
    return {"m": m, "ef_construction": ef_construction, "k": k, "queries": len(q), "items": len(x), "recall_at_k": curve}


def sample_rows(n: int, size: int, seed: int = 0) -> np.ndarray:
    """A reproducible sample of row positions (all of them when n <= size)."""
    if n <= size:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size, replace=False))


def cluster_recall(
    es: Any, index: str, users: np.ndarray, *, num_candidates: int, k: int = K, field: str = FIELD
) -> float:
    """recall@k of the service's kNN body against its exact body, on `index`, for user vectors `users`."""
    from service.queries import VectorSearch, vector_search

    found, exact = [], []
    for vector in users:
        ids = []
        for mode in ("knn", "exact"):
            q = VectorSearch(
                field=field, vector=[float(v) for v in vector], k=k, mode=mode, num_candidates=num_candidates, source=("movie_id",)
            )
            hits = es.search(index=index, body=vector_search(q))["hits"]["hits"]
            ids.append([h["_id"] for h in hits])
        found.append(ids[0])
        exact.append(ids[1])
    hits = [len(set(f) & set(e)) / len(e) for f, e in zip(found, exact, strict=True) if e]
    return float(np.mean(hits)) if hits else float("nan")


def measure(
    es: Any,
    index: str,
    items: np.ndarray,
    users: np.ndarray,
    *,
    num_candidates: int,
    cluster_sample: int = 50,
    hnsw_sample: int = SAMPLE_USERS,
    seed: int = 0,
) -> dict[str, Any]:
    """Both measures for one run: `cluster` (on `index`, with the service's num_candidates) and `hnsw_estimate`."""
    options = hnsw_options()
    out: dict[str, Any] = {"num_candidates": num_candidates, "k": K}
    out["hnsw_estimate"] = hnsw_curve(items, users[sample_rows(len(users), hnsw_sample, seed)], **options)
    sample = users[sample_rows(len(users), cluster_sample, seed)]
    out["cluster"] = {
        "index": index,
        "queries": len(sample),
        "recall_at_k": round(cluster_recall(es, index, sample, num_candidates=num_candidates), 4),
    }
    log.info(
        "serving fidelity: cluster recall@%d %.4f at num_candidates %d; HNSW estimate %s",
        K, out["cluster"]["recall_at_k"], num_candidates, out["hnsw_estimate"]["recall_at_k"],
    )
    return out
