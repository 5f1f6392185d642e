"""Scoring one model on one split: array form of a split, exclusion of training items, rating errors."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline import scoring

# user 1: trained on movies 10, 20; tests 30 and 99 (99 never seen in training)
# user 2: trained on 20; tests 10
# user 3: only in test (no training row): left out
TRAIN = [(1, 10, 4.0), (1, 20, 2.0), (2, 20, 5.0), (4, 30, 3.0)]
TEST = [(1, 30, 5.0), (1, 99, 1.0), (2, 10, 3.0), (3, 10, 4.0)]


def test_ranking_data_from_rows() -> None:
    data = scoring.RankingData.from_rows(TRAIN, TEST)
    assert data.user_ids.tolist() == [1, 2]
    assert data.item_ids.tolist() == [10, 20, 30]
    assert [c.tolist() for c in data.train_cols] == [[0, 1], [1]]
    assert [sorted(t.tolist()) for t in data.test_items] == [[30, 99], [10]]
    assert [c.tolist() for c in data.test_cols] == [[2], [0]]  # 99 is outside the catalog
    assert data.item_counts.tolist() == [1, 2, 1]
    assert data.item_sums.tolist() == [4.0, 7.0, 3.0]
    assert data.dropped_test_users == 1
    assert data.train_ratings_total == 4


class _Fixed:
    name = "fixed"

    def __init__(self, scores: np.ndarray) -> None:
        self._scores = scores

    def scores(self, rows: np.ndarray) -> np.ndarray:
        return self._scores[rows]


def test_evaluate_ranking_excludes_training_items_and_counts_unreachable_relevant() -> None:
    data = scoring.RankingData.from_rows(TRAIN, TEST)
    # both users like movie 10 most; user 1 trained on it, so it is masked for them
    scores = np.array([[9.0, 8.0, 1.0], [9.0, 8.0, 1.0]])
    out = scoring.evaluate_ranking(_Fixed(scores), data, ks=(1, 2))
    # user 1: top-1 = 30 (hit, 1 of 2 relevant); user 2: top-1 = 10 (hit)
    assert out["precision_at_1"] == pytest.approx(1.0)
    assert out["recall_at_1"] == pytest.approx((0.5 + 1.0) / 2)
    # at K=2 user 1 has only one candidate left (padding), user 2 gets 10 then 30
    assert out["precision_at_2"] == pytest.approx((0.5 + 0.5) / 2)
    assert out["mrr"] == pytest.approx(1.0)
    assert out["coverage_at_1"] == pytest.approx(2 / 3)
    assert out["n_users"] == 2


def test_baseline_scorers_rank_like_the_model_does() -> None:
    data = scoring.RankingData.from_rows(TRAIN, TEST)
    genres = {10: ["Drama"], 20: ["Comedy"], 30: ["Drama"]}
    scorers = {s.name: s for s in scoring.baseline_scorers(data, genres)}
    assert set(scorers) == {"most_popular", "top_bayes_rating", "genre_profile", "hybrid_pop_genre"}
    assert scorers["most_popular"].scores(np.array([0]))[0].tolist() == [1, 2, 1]
    # user 1 rated Drama 4 and Comedy 2: Drama movies score 4
    assert scorers["genre_profile"].scores(np.array([0]))[0].tolist() == [4.0, 2.0, 4.0]
    without_genres = scoring.baseline_scorers(data, {})
    assert [s.name for s in without_genres] == ["most_popular", "top_bayes_rating"]


def test_rating_predictor_handles_cold_pairs_and_clips() -> None:
    predictor = scoring.RatingPredictor(
        global_mean=3.0,
        user_ids=np.array([1, 2]),
        user_vectors=np.array([[1.0, 0.0], [0.0, 2.0]]),
        user_bias=np.array([0.5, -0.5]),
        item_ids=np.array([10, 20]),
        item_vectors=np.array([[1.0, 1.0], [0.0, 1.0]]),
        item_bias=np.array([0.25, 0.0]),
        low=1.0,
        high=5.0,
    )
    got = predictor.predict(np.array([1, 2, 1, 9, 9]), np.array([10, 20, 77, 10, 77]))
    # (1,10): 3+.5+.25+1 = 4.75; (2,20): 3-.5+0+2 = 4.5; (1,77): 3+.5; (9,10): 3+.25; (9,77): 3
    assert got.tolist() == pytest.approx([4.75, 4.5, 3.5, 3.25, 3.0])
    assert predictor.predict(np.array([1]), np.array([10]), use_factors=False).tolist() == pytest.approx([3.75])
    result = scoring.evaluate_rating(predictor, [(1, 10, 5.0), (9, 77, 3.0)])
    assert result["rmse"] == pytest.approx(np.sqrt((0.25**2 + 0) / 2))
    assert result["n_cold_pairs"] == 1
    assert result["global_mean_rmse"] == pytest.approx(np.sqrt((4 + 0) / 2))


def test_rating_predictor_clips_to_scale() -> None:
    predictor = scoring.RatingPredictor(
        3.0, np.array([1]), np.array([[3.0]]), np.array([0.0]), np.array([10]), np.array([[1.0]]), np.array([0.0]), 1.0, 5.0
    )
    assert predictor.predict(np.array([1]), np.array([10])).tolist() == [5.0]
