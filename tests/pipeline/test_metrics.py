"""Metric functions against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pipeline import metrics

LOG2_3 = math.log2(3)
LOG2_5 = math.log2(5)


def test_one_user_all_cutoff_metrics() -> None:
    # hits at positions 2 and 4; 3 relevant items, one (9) never recommended
    rec, rel = [[1, 2, 3, 4]], [{2, 4, 9}]
    assert metrics.precision_at_k(rec, rel, 4) == pytest.approx(0.5)
    assert metrics.recall_at_k(rec, rel, 4) == pytest.approx(2 / 3)
    dcg = 1 / LOG2_3 + 1 / LOG2_5
    idcg = 1 + 1 / LOG2_3 + 1 / 2  # min(|rel|=3, K=4) = 3 ideal positions
    assert metrics.ndcg_at_k(rec, rel, 4) == pytest.approx(dcg / idcg)
    assert metrics.map_at_k(rec, rel, 4) == pytest.approx((1 / 2 + 2 / 4) / 3)
    assert metrics.mrr_at_k(rec, rel, 4) == pytest.approx(0.5)


def test_fewer_relevant_items_than_k() -> None:
    rec, rel = [[5, 6, 7]], [[7]]
    assert metrics.precision_at_k(rec, rel, 3) == pytest.approx(1 / 3)
    assert metrics.recall_at_k(rec, rel, 3) == pytest.approx(1.0)
    # IDCG has one term (min(1, 3) = 1): 1/log2(2) = 1; DCG = 1/log2(4) = 0.5
    assert metrics.ndcg_at_k(rec, rel, 3) == pytest.approx(0.5)
    assert metrics.map_at_k(rec, rel, 3) == pytest.approx(1 / 3)
    assert metrics.mrr_at_k(rec, rel, 3) == pytest.approx(1 / 3)


def test_map_denominators_differ_when_more_relevant_than_k() -> None:
    rec = [list(range(1, 11))]
    rel = [set(range(1, 13))]  # 12 relevant, all 10 recommended are hits
    assert metrics.map_at_k(rec, rel, 10) == pytest.approx(1.0)  # / min(12, 10)
    assert metrics.map_at_k(rec, rel, 10, denominator="relevant") == pytest.approx(10 / 12)
    with pytest.raises(ValueError):
        metrics.map_at_k(rec, rel, 10, denominator="k")


def test_users_without_test_items_are_left_out_of_averages() -> None:
    rec = [[1, 2], [3, 4], [5, 6]]
    rel = [{1}, set(), {9}]
    # user 2 is dropped: mean over users 1 and 3 only
    assert metrics.precision_at_k(rec, rel, 2) == pytest.approx((0.5 + 0.0) / 2)
    assert metrics.recall_at_k(rec, rel, 2) == pytest.approx((1.0 + 0.0) / 2)
    assert metrics.ndcg_at_k(rec, rel, 2) == pytest.approx(0.5)
    out = metrics.ranking_metrics(rec, rel, [1, 2])
    assert out["n_users"] == 2


def test_all_users_without_test_items_is_an_error() -> None:
    with pytest.raises(ValueError, match="no user has relevant items"):
        metrics.precision_at_k([[1, 2]], [set()], 2)


def test_padding_is_never_a_hit_and_precision_keeps_k() -> None:
    rec = np.array([[3, metrics.PAD, metrics.PAD]])
    assert metrics.precision_at_k(rec, [{3, metrics.PAD}], 3) == pytest.approx(1 / 3)
    # a short row is padded up to k
    assert metrics.precision_at_k([[3]], [{3}], 5) == pytest.approx(1 / 5)


def test_ranking_metrics_agree_with_single_functions() -> None:
    rec = [[1, 2, 3, 4], [4, 3, 2, 1]]
    rel = [{2, 4, 9}, {1}]
    out = metrics.ranking_metrics(rec, rel, [2, 4], catalog_size=8)
    for k in (2, 4):
        assert out[f"precision_at_{k}"] == pytest.approx(metrics.precision_at_k(rec, rel, k))
        assert out[f"recall_at_{k}"] == pytest.approx(metrics.recall_at_k(rec, rel, k))
        assert out[f"ndcg_at_{k}"] == pytest.approx(metrics.ndcg_at_k(rec, rel, k))
        assert out[f"map_at_{k}"] == pytest.approx(metrics.map_at_k(rec, rel, k))
        assert out[f"mrr_at_{k}"] == pytest.approx(metrics.mrr_at_k(rec, rel, k))
    assert out["coverage_at_2"] == pytest.approx(4 / 8)  # {1, 2, 4, 3}
    assert out["mrr_at_4"] == pytest.approx((1 / 2 + 1 / 4) / 2)


def test_catalog_coverage() -> None:
    rec = [[1, 2], [2, 3]]
    assert metrics.catalog_coverage(rec, 10, 2) == pytest.approx(0.3)
    assert metrics.catalog_coverage(rec, 10, 1) == pytest.approx(0.2)


def test_top_k_breaks_ties_by_lower_index_and_excludes() -> None:
    scores = np.array([[1.0, 3.0, 3.0, 2.0], [0.0, 0.0, 0.0, 0.0]])
    assert metrics.top_k(scores, 2).tolist() == [[1, 2], [0, 1]]
    assert metrics.top_k(scores, 2, exclude=[np.array([1]), np.array([0, 1])]).tolist() == [[2, 3], [2, 3]]


def test_top_k_pads_when_fewer_candidates_and_ignores_nan() -> None:
    scores = np.array([[np.nan, 5.0, -np.inf]])
    assert metrics.top_k(scores, 3).tolist() == [[1, -1, -1]]
    assert metrics.top_k(scores, 2, exclude=[np.array([1])]).tolist() == [[-1, -1]]


def test_top_k_matches_full_sort_on_random_scores() -> None:
    rng = np.random.default_rng(3)
    scores = rng.integers(0, 5, size=(20, 30)).astype(float)  # many ties
    got = metrics.top_k(scores, 7)
    for u in range(20):
        expected = sorted(range(30), key=lambda c: (-scores[u, c], c))[:7]
        assert got[u].tolist() == expected


def test_reciprocal_ranks() -> None:
    scores = np.array([[0.9, 0.5, 0.7, 0.1]])
    assert metrics.reciprocal_ranks(scores, [np.array([2])]).tolist() == [0.5]
    assert metrics.reciprocal_ranks(scores, [np.array([2])], exclude=[np.array([0])]).tolist() == [1.0]
    # the best-ranked of several relevant items counts
    assert metrics.reciprocal_ranks(scores, [np.array([3, 1])]).tolist() == [pytest.approx(1 / 3)]
    # ties: equal scores rank by column index
    assert metrics.reciprocal_ranks(np.ones((1, 3)), [np.array([2])]).tolist() == [pytest.approx(1 / 3)]
    assert metrics.reciprocal_ranks(scores, [np.array([], dtype=int)]).tolist() == [0.0]


def test_mean_reciprocal_rank_counts_users_with_unrankable_items() -> None:
    scores = np.array([[0.9, 0.5], [0.1, 0.2]])
    cols = [np.array([0]), np.array([], dtype=int)]
    # user 2's relevant item is outside the catalog: counted as 0 when n_relevant says so
    assert metrics.mean_reciprocal_rank(scores, cols) == pytest.approx(1.0)
    assert metrics.mean_reciprocal_rank(scores, cols, n_relevant=[1, 1]) == pytest.approx(0.5)


def test_rmse_and_mae() -> None:
    assert metrics.rmse([1, 2, 3], [2, 2, 5]) == pytest.approx(math.sqrt(5 / 3))
    assert metrics.mae([1, 2, 3], [2, 2, 5]) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        metrics.rmse([], [])
    with pytest.raises(ValueError):
        metrics.mae([1, 2], [1])


def test_k_must_be_positive() -> None:
    with pytest.raises(ValueError):
        metrics.precision_at_k([[1]], [{1}], 0)
    with pytest.raises(ValueError):
        metrics.top_k(np.zeros((1, 2)), 0)
