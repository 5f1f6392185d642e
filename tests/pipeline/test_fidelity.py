"""Serving fidelity: exact top k, recall, the HNSW estimate, and kNN vs exact on the cluster."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline import fidelity, indices


def test_exact_top_k_by_inner_product_ties_to_lower_index() -> None:
    items = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [1.0, 0.0]])
    got = fidelity.exact_top_k(items, np.array([[1.0, 0.0], [0.0, 2.0]]), 2)
    # query 1: scores [1, 0, 1, 1] -> rows 0, 2 (ties by index); query 2: [0, 2, 2, 0] -> 1, 2
    assert got.tolist() == [[0, 2], [1, 2]]


def test_recall_at_k_counts_found_exact_ids() -> None:
    exact = np.array([[1, 2, 3, 4], [5, 6, 7, 8]])
    found = np.array([[4, 3, 9, -1], [5, 6, 7, 8]])
    assert fidelity.recall_at_k(found, exact) == pytest.approx((2 / 4 + 1.0) / 2)


def test_the_mapping_gives_m_and_ef_construction() -> None:
    assert fidelity.hnsw_options() == {"m": 16, "ef_construction": 100}


def test_hnsw_curve_reaches_exact_with_enough_candidates() -> None:
    rng = np.random.default_rng(1)
    items, users = rng.standard_normal((400, 8)), rng.standard_normal((30, 8))
    sparse = fidelity.hnsw_curve(items, users, m=2, ef_construction=4, num_candidates=(10,))
    got = fidelity.hnsw_curve(items, users, m=16, ef_construction=100, num_candidates=(10, 400))
    assert (got["m"], got["ef_construction"], got["queries"], got["items"]) == (16, 100, 30, 400)
    assert set(got["recall_at_k"]) == {"10", "400"}
    # an inner-product graph may leave a node unreachable, so "all candidates" is near, not exactly, 1
    assert got["recall_at_k"]["400"] >= 0.99
    assert sparse["recall_at_k"]["10"] < got["recall_at_k"]["400"]


def test_sample_rows_is_reproducible_and_bounded() -> None:
    assert fidelity.sample_rows(5, 10).tolist() == [0, 1, 2, 3, 4]
    a, b = fidelity.sample_rows(1000, 20, seed=3), fidelity.sample_rows(1000, 20, seed=3)
    assert a.tolist() == b.tolist() and len(set(a.tolist())) == 20


@pytest.mark.es
def test_cluster_recall_of_knn_against_exact(es, index_prefix) -> None:
    """On the test double kNN is exact, so the measure must read 1.0; a real cluster reports HNSW's loss."""
    names = indices.create_run_indices(es, index_prefix, "20260101-000000-fidel1", vector_size=3, rank=3)
    rng = np.random.default_rng(2)
    items = rng.standard_normal((40, 3))
    for i, v in enumerate(items):
        unit = (v / np.linalg.norm(v)).tolist()
        es.index(index=names["movies"], id=str(i), document={"movie_id": i, "title": f"m{i}", "factors": v.tolist(), "factors_unit": unit})
    es.indices.refresh(index=names["movies"])
    users = rng.standard_normal((5, 3))
    assert fidelity.cluster_recall(es, names["movies"], users, num_candidates=20) == 1.0
    got = fidelity.measure(es, names["movies"], items, users, num_candidates=20)
    assert got["cluster"]["recall_at_k"] == 1.0 and got["cluster"]["queries"] == 5
    assert got["hnsw_estimate"]["m"] == 16 and "20" in got["hnsw_estimate"]["recall_at_k"]
