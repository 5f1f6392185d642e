"""Movie→movie similarity: the representations and the item-to-item protocol, on hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pipeline.similarity import protocol, representations
from pipeline.similarity.representations import SimilaritySpec

# ---------------------------------------------------------------------- protocol

# (user, movie, rating, ts). A's seed is movie 1 (5 stars); B rated 2 and 1 with 5 stars, 1 later: seed 1.
# C has no liked training rating and is not evaluated. Movie 4 was never rated in training: not in the catalogue.
TRAIN = [("A", 1, 5, 10), ("A", 2, 3, 11), ("B", 2, 5, 10), ("B", 1, 5, 20), ("C", 3, 3, 5)]
TEST = [("A", 3, 4, 30), ("A", 4, 2, 30), ("B", 4, 5, 30), ("C", 1, 5, 30)]
GENRES = {1: ["Comedy"], 2: ["Comedy", "Drama"], 3: ["Drama"], 4: ["Horror"]}
VECTORS = np.array([[1.0, 0.0], [0.8, 0.6], [0.6, 0.8]])  # catalogue 1, 2, 3


def _data() -> protocol.ItemToItemData:
    users = {"A": 1, "B": 2, "C": 3}
    train = [(users[u], m, r, t) for u, m, r, t in TRAIN]
    test = [(users[u], m, r, t) for u, m, r, t in TEST]
    return protocol.ItemToItemData.from_rows(train, test, GENRES)


def test_seeds_and_catalogue():
    data = _data()
    assert data.item_ids.tolist() == [1, 2, 3]
    assert data.item_counts.tolist() == [2, 2, 1]
    assert data.seed_cols.tolist() == [0, 0]  # A and B, both seeded with movie 1
    assert [t.tolist() for t in data.liked_test] == [[3], [4]]


def test_similar_lists_exclude_the_seed_and_movies_without_vectors():
    lists = protocol.similar_lists(np.array([[1.0, 0.0], [0.0, 0.0], [0.6, 0.8], [1.0, 0.0]]), np.array([0]), k=3)
    assert lists.tolist() == [[3, 2, -1]]


def test_protocol_figures_by_hand():
    """Seed 1's list (k=2): movies 2 (dot 0.8) and 3 (0.6). A's liked test movie 3 is at position 2:
    nDCG = (1/log2(3)) / 1 = 0.630930; B's liked movie 4 is outside the catalogue: a miss.
    Coherence over seed 1 (2 training ratings): (J({C,D},{C}) + J({D},{C})) / 2 = (1/2 + 0) / 2 = 0.25.
    Lift: mean(ln 3, ln 2) - ln 3 = -0.202733."""
    out = protocol.evaluate(_data(), VECTORS, k=2, min_seed_ratings=2)
    assert out["hit_rate_at_2"] == pytest.approx(0.5)
    assert out["ndcg_at_2"] == pytest.approx(0.630930 / 2, abs=1e-6)
    assert out["genre_coherence"] == pytest.approx(0.25)
    assert out["popularity_lift"] == pytest.approx((math.log(3) + math.log(2)) / 2 - math.log(3))
    assert (out["users"], out["seeds"], out["coherence_seeds"]) == (2, 1, 1)


def test_seeds_below_the_rating_floor_leave_coherence_out():
    out = protocol.evaluate(_data(), VECTORS, k=2, min_seed_ratings=3)
    assert out["coherence_seeds"] == 0 and math.isnan(out["genre_coherence"])


def test_jaccard():
    assert protocol.jaccard(frozenset("ab"), frozenset("bc")) == pytest.approx(1 / 3)
    assert protocol.jaccard(frozenset(), frozenset()) == 0.0


# ---------------------------------------------------------------------- representations


def test_unit_rows_keep_zero_rows():
    out = representations.unit_rows(np.array([[3.0, 4.0], [0.0, 0.0]]))
    assert out.tolist() == [[0.6, 0.8], [0.0, 0.0]]


def test_whitening_equalises_the_latent_directions():
    """G = VᵀV/2 = diag(2, 0.5), G^(-1/2) = diag(1/√2, √2): both rows become (√2, 0) and (0, √2), unit (1,0), (0,1)."""
    v = np.array([[2.0, 0.0], [0.0, 1.0]])
    out = representations.collaborative_part(v, SimilaritySpec(whitening=1.0))
    assert out == pytest.approx(np.eye(2))
    # rows (±2, ±1): G = diag(4, 1); half strength G^(-1/4) = diag(1/√2, 1) turns (2, 1) into (√2, 1) -> (√2, 1)/√3
    rows = np.array([[2.0, 1.0], [-2.0, -1.0], [2.0, -1.0], [-2.0, 1.0]])
    half = representations.collaborative_part(rows, SimilaritySpec(whitening=0.5))
    assert half[0] == pytest.approx([math.sqrt(2 / 3), math.sqrt(1 / 3)])
    full = representations.collaborative_part(rows, SimilaritySpec(whitening=1.0))
    assert full[0] == pytest.approx([1 / math.sqrt(2), 1 / math.sqrt(2)])


def test_centering_removes_the_dominant_direction():
    """Rows (c ± (2, 0)) and (c ± (0, 1)): the mean is c, the first principal direction is x; without it
    the first two rows are zero and the others (0, ±1)."""
    c = np.array([5.0, 5.0])
    v = np.array([[-2.0, 0.0], [2.0, 0.0], [0.0, 1.0], [0.0, -1.0]]) + c
    out = representations.collaborative_part(v, SimilaritySpec(center=True, drop_components=1))
    assert out == pytest.approx(np.array([[0.0, 0.0], [0.0, 0.0], [0.0, 1.0], [0.0, -1.0]]))
    plain = representations.collaborative_part(v, SimilaritySpec())
    assert plain[0] @ plain[1] > 0.7  # without centering every row points along c


def test_year_buckets_overlap_for_close_years():
    y = representations.year_features([1990, 1995, 2000, None])
    assert y[0] @ y[1] == pytest.approx(1 / math.sqrt(2))
    assert y[0] @ y[2] == pytest.approx(0.0)
    assert not y[3].any()


def test_hybrid_dot_product_mixes_the_two_cosines():
    """Two movies: factor cosine 0.6, genre cosine ({A} vs {A, B}, equal idf) 1/√2; with w = 0.25 the
    dot product is 0.75·0.6 + 0.25·0.707107 = 0.626777."""
    factors = np.array([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]])
    genres = [["A"], ["A", "B"], ["B"]]
    vecs = representations.movie_vectors(factors, genres, [None] * 3, SimilaritySpec(content_weight=0.25))
    assert np.linalg.norm(vecs, axis=1) == pytest.approx([1.0, 1.0, 1.0])
    assert vecs[0] @ vecs[1] == pytest.approx(0.75 * 0.6 + 0.25 / math.sqrt(2))


def test_ppmi_svd_puts_co_rated_movies_together():
    # users 0-2 rate movies 0 and 1 together, users 3-5 movies 2 and 3
    pairs = np.array([(u, m) for u in range(3) for m in (0, 1)] + [(u, m) for u in range(3, 6) for m in (2, 3)])
    vecs = representations.ppmi_svd(pairs, 4, rank=2)
    sims = vecs @ vecs.T
    assert sims[0, 1] == pytest.approx(1.0) and sims[2, 3] == pytest.approx(1.0)
    assert abs(sims[0, 2]) < 1e-9


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"center": "yes"}, "center"),
        ({"content_weight": 1.5}, "content_weight"),
        ({"whitening": -0.1}, "whitening"),
        ({"drop_components": 1}, "center=True"),
        ({"content_weight": 0.5, "year_weight": 0.6, "tag_weight": 0.6}, "at most 1"),
    ],
)
def test_bad_specs_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SimilaritySpec(**kwargs)


def test_spec_round_trip_and_label():
    spec = SimilaritySpec(center=True, drop_components=1, whitening=0.1, content_weight=0.4, year_weight=0.2)
    assert representations.spec_from(spec.to_dict()) == spec
    assert spec.label == "centred -1 PC, whitened 0.1 + content 0.4 (year 0.2)"
    assert SimilaritySpec().label == "cosine"
    with pytest.raises(ValueError, match="unknown"):
        representations.spec_from({"weight": 1})


def test_standing_buckets_follow_the_log_rating_count():
    """ln(1 + c): 0 for c = 0, 0.25 for c = e^0.25 - 1, 1.0 for c = e - 1; buckets 0.5 wide:
    (1, 0, 0), (0.5, 0.5, 0) -> unit, (0, 0, 1): dots 1/√2 and 0."""
    s = representations.standing_features([0, math.exp(0.25) - 1, math.e - 1])
    assert s[0] @ s[1] == pytest.approx(1 / math.sqrt(2))
    assert s[0] @ s[2] == pytest.approx(0.0)


def test_the_standing_part_needs_counts():
    spec = SimilaritySpec(content_weight=0.5, popularity_weight=0.5)
    with pytest.raises(ValueError, match="rating counts"):
        representations.movie_vectors(np.eye(2), [["A"], ["B"]], [None, None], spec)
    vecs = representations.movie_vectors(np.eye(3), [["A"], ["A"], ["B"]], [None] * 3, spec, counts=[10, 10, 400])
    # movies 0 and 1: orthogonal factors, the same genre and standing (content cosine 1): 0.5·0 + 0.5·1
    assert vecs[0] @ vecs[1] == pytest.approx(0.5)
    # movies 0 and 2: no genre in common, ln 11 = 2.40 and ln 401 = 6.00 far apart: nothing in common
    assert vecs[0] @ vecs[2] == pytest.approx(0.0)
