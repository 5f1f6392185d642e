"""Baseline scorers against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline import baselines


def test_item_stats_and_bayes_rating() -> None:
    counts, sums = baselines.item_stats(np.array([0, 0, 2]), np.array([4.0, 5.0, 2.0]), 3)
    assert counts.tolist() == [2, 0, 1]
    assert sums.tolist() == [9.0, 0.0, 2.0]
    mu = 11 / 3
    got = baselines.bayes_scores(counts, sums, prior_strength=2.0)
    assert got.tolist() == pytest.approx([(9 + 2 * mu) / 4, mu, (2 + 2 * mu) / 3])
    # no prior: plain means, and an unrated item falls back to the global mean
    assert baselines.bayes_scores(counts, sums, prior_strength=0.0).tolist() == pytest.approx([4.5, mu, 2.0])


def test_bayes_needs_ratings() -> None:
    with pytest.raises(ValueError):
        baselines.bayes_scores(np.zeros(2), np.zeros(2))


def test_genre_matrix() -> None:
    g, names = baselines.genre_matrix([10, 20, 30], {10: ["Drama"], 20: ["Comedy", "Drama"]})
    assert names == ["Comedy", "Drama"]
    assert g.tolist() == [[0, 1], [1, 1], [0, 0]]


GENRES = np.array(
    [
        [1, 0, 0],  # item 0: A
        [0, 1, 0],  # item 1: B
        [1, 1, 0],  # item 2: A, B
        [0, 0, 1],  # item 3: C
    ],
    dtype=float,
)


def test_genre_profile_scores() -> None:
    # the user rated item 0 (A) 5 stars and item 1 (B) 1 star
    got = baselines.genre_profile_scores([np.array([0, 1])], [np.array([5.0, 1.0])], GENRES)
    # A=5, B=1; item 2 = mean(5, 1); item 3 (C never rated) = the user's mean 3
    assert got.tolist() == [[5.0, 1.0, 3.0, 3.0]]


def test_hybrid_normalises_both_then_blends() -> None:
    popularity = np.array([4.0, 0.0, 2.0, 1.0])
    genre = np.array([[5.0, 1.0, 3.0, 3.0]])
    got = baselines.hybrid_scores(popularity, genre)
    # minmax(pop) = [1, 0, .5, .25]; minmax(genre row) = [1, 0, .5, .5]
    assert got.tolist() == [pytest.approx([1.0, 0.0, 0.5, 0.6 * 0.25 + 0.4 * 0.5])]


def test_min_max_of_a_constant_is_zero() -> None:
    assert baselines.min_max(np.array([2.0, 2.0])).tolist() == [0.0, 0.0]
    assert baselines.min_max(np.array([[1.0, 3.0], [2.0, 2.0]]), axis=1).tolist() == [[0.0, 1.0], [0.0, 0.0]]


def test_scorers() -> None:
    static = baselines.StaticScorer("most_popular", np.array([3.0, 1.0, 2.0]))
    assert static.scores(np.array([0, 1])).tolist() == [[3.0, 1.0, 2.0]] * 2
    genre = baselines.GenreScorer("genre_profile", [np.array([0, 1])], [np.array([5.0, 1.0])], GENRES)
    assert genre.scores(np.array([0])).tolist() == [[5.0, 1.0, 3.0, 3.0]]
    hybrid = baselines.GenreScorer(
        "hybrid", [np.array([0, 1])], [np.array([5.0, 1.0])], GENRES, np.array([4.0, 0.0, 2.0, 1.0])
    )
    assert hybrid.scores(np.array([0]))[0, 3] == pytest.approx(0.35)


def test_ease_weights_hand_case() -> None:
    # X = [[1, 1], [1, 0]]: XtX = [[2, 1], [1, 1]]; + lambda 1 -> G = [[3, 1], [1, 2]], P = G^-1 = [[2, -1], [-1, 3]] / 5
    # B_ij = -P_ij / P_jj: B_01 = -(-1/5) / (3/5) = 1/3, B_10 = -(-1/5) / (2/5) = 1/2, diagonal 0
    from pipeline.baselines import ease_weights

    b = ease_weights(np.array([[1.0, 1.0], [1.0, 0.0]]), 1.0)
    assert b.ravel().tolist() == pytest.approx([0.0, 1 / 3, 1 / 2, 0.0])
    with pytest.raises(ValueError):
        ease_weights(np.ones((1, 1)), 0.0)


def test_item_knn_keeps_the_nearest_neighbours() -> None:
    from pipeline.baselines import ItemItemScorer, interaction_matrix, item_knn_weights

    x = interaction_matrix([np.array([0, 1]), np.array([0, 1, 2]), np.array([2])], 3)
    assert x.tolist() == [[1, 1, 0], [1, 1, 1], [0, 0, 1]]
    # cosines: (0,1) = 2/2 = 1; (0,2) = 1/(sqrt2 sqrt2) = 0.5; (1,2) = 0.5
    w = item_knn_weights(x, neighbours=1)
    assert w[:, 0].tolist() == pytest.approx([0.0, 1.0, 0.0])  # item 0 keeps item 1 only
    assert w[:, 2].tolist() == pytest.approx([0.5, 0.5, 0.0])  # a tie keeps both
    scorer = ItemItemScorer("item_knn", x, w)
    # user 0 rated items 0 and 1: score_j = W[0, j] + W[1, j] = [0 + 1, 1 + 0, 0.5 + 0.5]
    assert scorer.scores(np.array([0]))[0].tolist() == pytest.approx([1.0, 1.0, 1.0])
