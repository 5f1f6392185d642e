"""Fold-in against hand-solved normal equations (rank 1 and 2)."""

from __future__ import annotations

import numpy as np
import pytest

from service import foldin


def test_explicit_without_user_bias_rank_one():
    # V = [1, 2], b_i = 0, mu = 0, r = [1, 2], lambda = 0.5, n = 2:
    # (1 + 4 + 0.5*2) u = 1*1 + 2*2  ->  u = 5/6
    got = foldin.explicit(np.array([[1.0, 0.0], [2.0, 0.0]]), [1.0, 2.0], global_mean=0.0, reg=0.5, bias_mode="none")
    assert got.latent == pytest.approx([5 / 6])
    assert got.vector == pytest.approx([5 / 6, 1.0])
    assert got.bias == 0.0


def test_explicit_baseline_bias_then_latent():
    # mu = 3, b_i = [0.5, -0.5], r = [4, 3]  ->  residuals r - mu - b_i = [0.5, 0.5]
    # b_u = (0.5 + 0.5) / (bias_reg 2 + n 2) = 0.25 ; targets = [0.25, 0.25]
    # V = [1, 1], lambda 0.5 -> (1 + 1 + 1) u = 0.5  ->  u = 1/6
    items = np.array([[1.0, 0.5], [1.0, -0.5]])
    got = foldin.explicit(items, [4.0, 3.0], global_mean=3.0, reg=0.5, bias_mode="baseline", bias_reg=2.0)
    assert got.bias == pytest.approx(0.25)
    assert got.latent == pytest.approx([1 / 6])


def test_explicit_joint_solves_augmented_system():
    # X = [[1, 1], [2, 1]], t = [1, 1] (mu 0, b_i 0), lambda*n = 0.1*2 = 0.2
    # XtX + 0.2 I = [[5.2, 3], [3, 2.2]], Xt t = [3, 2]
    items = np.array([[1.0, 0.0], [2.0, 0.0]])
    got = foldin.explicit(items, [1.0, 1.0], global_mean=0.0, reg=0.1, bias_mode="joint")
    det = 5.2 * 2.2 - 9
    assert got.latent == pytest.approx([(3 * 2.2 - 3 * 2) / det])
    assert got.bias == pytest.approx((5.2 * 2 - 3 * 3) / det)


def test_implicit_rank_one():
    # YtY = 5 (all items), rated item y = 1 with r = 1, alpha = 1 -> c1 = 1
    # A = 5 + 1*1 + lambda(1)*n+(1) = 7 ; b = (1 + 1) * 1 = 2  ->  u = 2/7
    got = foldin.implicit(np.array([[1.0]]), [1.0], gramian=np.array([[5.0]]), alpha=1.0, reg=1.0)
    assert got.vector == pytest.approx([2 / 7])


def test_implicit_rank_two_against_hand_solution():
    y = np.array([[1.0, 0.0], [0.0, 2.0]])
    gram = np.array([[2.0, 0.0], [0.0, 5.0]])
    # c1 = [2, 4] (alpha 2, r = [1, 2]); A = gram + diag(2*1, 4*4) + 0.5*2 I = diag(5, 22)
    # b = [(1+2)*1, (1+4)*2] = [3, 10]
    got = foldin.implicit(y, [1.0, 2.0], gramian=gram, alpha=2.0, reg=0.5)
    assert got.vector == pytest.approx([3 / 5, 10 / 22])


def test_gramian_and_unpacking():
    y = np.array([[1.0, 2.0], [3.0, 4.0]])
    full = foldin.gramian(y)
    assert full.tolist() == [[10.0, 14.0], [14.0, 20.0]]
    assert foldin.unpack_gramian(full.tolist(), 2).tolist() == full.tolist()
    assert foldin.unpack_gramian([10.0, 14.0, 14.0, 20.0], 2).tolist() == full.tolist()
    # packed upper triangle, column by column: (0,0), (0,1), (1,1)
    assert foldin.unpack_gramian([10.0, 14.0, 20.0], 2).tolist() == full.tolist()
    with pytest.raises(ValueError):
        foldin.unpack_gramian([1.0, 2.0], 2)


@pytest.mark.parametrize(
    ("items", "ratings"),
    [(np.ones((2, 3)), [1.0]), (np.ones((0, 3)), []), (np.array([[np.nan, 1.0]]), [1.0])],
)
def test_bad_inputs_raise(items, ratings):
    with pytest.raises(ValueError):
        foldin.explicit(items, ratings, global_mean=0.0, reg=0.1)


def test_unknown_bias_mode():
    with pytest.raises(ValueError):
        foldin.explicit(np.ones((1, 2)), [1.0], global_mean=0.0, reg=0.1, bias_mode="both")


# --------------------------------------------------------------------------- against Spark's own factors


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def _reproduce(model, item_factors: dict[int, list[float]], user_vectors: dict[int, list[float]], ratings) -> list[tuple[float, float]]:
    """(cosine, relative error) of folding in each training user against Spark's vector for them."""
    out = []
    for user_id, rated in sorted(ratings.items()):
        ids = sorted(rated)
        x = np.asarray([item_factors[m] for m in ids], dtype=np.float64)
        folded = model.fold_in(x, np.asarray([rated[m] for m in ids]))
        spark_vec = np.asarray(user_vectors[user_id], dtype=np.float64)
        out.append((_cosine(folded.vector, spark_vec), float(np.linalg.norm(folded.vector - spark_vec) / np.linalg.norm(spark_vec))))
    return out


@pytest.mark.spark
def test_implicit_fold_in_reproduces_spark_user_factors(trained):
    from service.model import ActiveModel

    model = ActiveModel.from_run({"run_id": "r", "model": trained.meta, "params": trained.params})
    items = {m: r["factors"] for m, r in trained.movies.items() if r.get("factors")}
    users = {u: r["factors"] for u, r in trained.users.items()}
    results = _reproduce(model, items, users, trained.ratings)
    assert len(results) == len(trained.users)
    assert min(c for c, _ in results) > 0.999
    assert max(e for _, e in results) < 1e-2


@pytest.mark.spark
def test_explicit_fold_in_reproduces_spark_user_factors(spark, trained):
    from pipeline import als
    from pipeline.columns import RATINGS_SCHEMA
    from service.model import ActiveModel

    rows = [(r["user_id"], r["movie_id"], float(r["rating"]), int(r["rated_at"])) for r in trained.docs["ratings"]]
    model = als.train(spark.createDataFrame(rows, RATINGS_SCHEMA), {"kind": "explicit", "rank": 4, "max_iter": 6,
                                                                     "reg_param": 0.1, "num_blocks": 2})
    items = {int(r[0]): list(r[1]) for r in model.item_factors.collect()}
    users = {int(r[0]): list(r[1]) for r in model.user_factors.collect()}
    active = ActiveModel.from_run({"run_id": "r", "model": model.meta, "params": model.params})
    results = _reproduce(active, items, users, trained.ratings)
    model.unpersist()
    assert len(results) == len(users)
    assert min(c for c, _ in results) > 0.999
    assert max(e for _, e in results) < 1e-2


def test_implicit_frequency_scaled_regularisation():
    # two rated items y = 1, s = [1, 1], alpha 1 -> c1 = [1, 1]; gram 4; lambda 2 * n+^0.5 = 2*sqrt(2)
    # A = 4 + 1 + 1 + 2 sqrt(2); b = 2 + 2 = 4
    got = foldin.implicit(np.array([[1.0], [1.0]]), [1.0, 1.0], gramian=np.array([[4.0]]), alpha=1.0, reg=2.0, exponent=0.5)
    assert got.vector == pytest.approx([4 / (6 + 2 * np.sqrt(2))])


def test_implicit_negative_only_user_with_mean_user_prior():
    # s = [-1] (a low rating), alpha 1 -> c1 = 1, p = 0; n+ = 0 so lambda n^nu = 0
    # prior lambda0 = 2 toward u_bar = 3: A = gram 5 + 1 + 2 = 8; b = 0 + 2*3 = 6
    got = foldin.implicit(np.array([[1.0]]), [-1.0], gramian=np.array([[5.0]]), alpha=1.0, reg=3.0, exponent=0.5,
                          prior_weight=2.0, mean_user=[3.0])
    assert got.vector == pytest.approx([0.75])
    without_prior = foldin.implicit(np.array([[1.0]]), [-1.0], gramian=np.array([[5.0]]), alpha=1.0, reg=3.0, exponent=0.5)
    assert without_prior.vector == pytest.approx([0.0])  # nothing positive to go on
    with pytest.raises(ValueError, match="mean user"):
        foldin.implicit(np.array([[1.0]]), [1.0], gramian=np.array([[5.0]]), alpha=1.0, reg=1.0, prior_weight=1.0)


def test_explicit_frequency_scaled_regularisation():
    # V = [1, 2], r = [1, 2], mu 0, b_i 0, lambda 0.5, n = 2, nu = 0.5: (5 + 0.5 sqrt 2) u = 5
    got = foldin.explicit(np.array([[1.0, 0.0], [2.0, 0.0]]), [1.0, 2.0], global_mean=0.0, reg=0.5, bias_mode="none", exponent=0.5)
    assert got.latent == pytest.approx([5 / (5 + 0.5 * np.sqrt(2))])
