"""ALS training: parameter validation, factor tables, folded biases, meta, and it learns."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pipeline import als
from pipeline.columns import RATINGS_SCHEMA


@pytest.mark.parametrize(
    "bad",
    [
        {"kind": "svd"},
        {"rank": 0},
        {"rank": 2.5},
        {"max_iter": 0},
        {"reg_param": -0.1},
        {"alpha": math.nan},
        {"alpha": True},
        {"checkpoint_interval": 0},
        {"seed": -3},
        {"bias_iters": 0},
        {"positive_threshold": "4"},
        {"implicit_signal": "counts"},
        {"nonnegative": "yes"},
        {"num_blocks": 0},
    ],
)
def test_bad_params_raise_at_construction(bad: dict) -> None:
    with pytest.raises(ValueError):
        als.ALSParams(**bad)


def test_params_round_trip_and_unknown_keys() -> None:
    p = als.ALSParams(kind="explicit", rank=12, positive_threshold=None)
    assert als.ALSParams.from_mapping(p.to_dict()) == p
    assert p.vector_size == 13
    assert als.ALSParams(rank=12).vector_size == 12
    with pytest.raises(ValueError, match="unknown ALS parameters"):
        als.ALSParams.from_mapping({"rank": 8, "lambda": 0.1})
    assert als.coerce_params({"rank": 4}).rank == 4
    assert als.coerce_params(None) == als.ALSParams()


@pytest.fixture(scope="module")
def ratings(spark, tmp_path_factory):
    """A small synthetic ml-100k with planted structure."""
    from pipeline import loaders, synthetic

    out = tmp_path_factory.mktemp("als")
    synthetic.generate(out, "ml-100k", n_users=60, n_movies=80, n_ratings=1800, seed=5, n_clusters=4)
    return loaders.load(spark, "ml-100k", out).ratings.cache()


FAST = {"rank": 4, "max_iter": 5, "num_blocks": 2}


@pytest.mark.spark
def test_implicit_model_tables_and_gramian(ratings) -> None:
    model = als.train(ratings, als.ALSParams(kind="implicit", alpha=2.0, reg_param=0.1, positive_threshold=4.0, negative_weight=0.0, **FAST))
    assert model.kind == "implicit"
    assert model.rank == 4 and model.vector_size == 4
    assert model.user_bias is None and model.item_bias is None
    assert model.user_factors.columns == ["user_id", "factors"]
    assert model.item_factors.columns == ["movie_id", "factors"]
    assert dict(model.item_factors.dtypes)["factors"] == "array<float>"
    ids, items = als.factor_matrix(model.item_factors, "movie_id")
    assert items.shape == (len(ids), 4)
    gramian = np.asarray(model.meta["item_gramian"])
    assert gramian.shape == (4, 4)
    assert np.allclose(gramian, items.T @ items)
    assert model.meta["n_ratings"] == ratings.where("rating >= 4").count()
    assert model.meta["alpha"] == 2.0 and model.meta["reg_param"] == 0.1
    assert model.meta["positive_threshold"] == 4.0
    assert model.params["kind"] == "implicit"
    assert model.meta["solver"] == "numpy" and model.meta["reg_exponent"] == 0.5


@pytest.mark.spark
@pytest.mark.slow
def test_explicit_model_folds_biases_into_vectors(ratings) -> None:
    model = als.train(ratings, als.ALSParams(kind="explicit", reg_param=0.1, bias_reg=3.0, **FAST))
    assert model.vector_size == 5
    u_ids, users = als.factor_matrix(model.user_factors, "user_id")
    i_ids, items = als.factor_matrix(model.item_factors, "movie_id")
    assert users.shape[1] == 5 and items.shape[1] == 5
    assert np.all(users[:, -1] == 1.0)  # u' = [u, 1]
    b_i = als.bias_vector(model.item_bias, "movie_id", i_ids)
    assert np.allclose(items[:, -1], b_i, atol=1e-6)  # v' = [v, b_i]
    b_u = als.bias_vector(model.user_bias, "user_id", u_ids)
    mu = model.meta["global_mean"]
    assert mu == pytest.approx(ratings.groupBy().avg("rating").first()[0])
    assert model.meta["bias_reg"] == 3.0

    folded = users @ items.T  # what Elasticsearch ranks by: u·v + b_i
    full = mu + b_u[:, None] + b_i[None, :] + users[:, :-1] @ items[:, :-1].T  # the predicted rating
    assert np.allclose(full - folded, (mu + b_u)[:, None])  # a per-user constant
    for row in range(len(u_ids)):
        assert np.array_equal(np.argsort(-folded[row], kind="stable"), np.argsort(-full[row], kind="stable"))


@pytest.mark.spark
def test_fit_biases_closed_form(spark) -> None:
    # u1: m1=5, m2=3; u2: m1=4; mu = 4, lambda_b = 1, one pass
    frame = spark.createDataFrame([(1, 1, 5.0, 0), (1, 2, 3.0, 0), (2, 1, 4.0, 0)], RATINGS_SCHEMA)
    user_bias, item_bias = als.fit_biases(frame, 4.0, 1.0, 1)
    b_i = {r[0]: r[1] for r in item_bias.collect()}
    b_u = {r[0]: r[1] for r in user_bias.collect()}
    assert b_i[1] == pytest.approx((1 + 0) / (2 + 1))
    assert b_i[2] == pytest.approx(-1 / (1 + 1))
    assert b_u[1] == pytest.approx(((5 - 4 - 1 / 3) + (3 - 4 + 0.5)) / (2 + 1))
    assert b_u[2] == pytest.approx((4 - 4 - 1 / 3) / (1 + 1))


@pytest.mark.spark
def test_no_positive_ratings_is_an_error(ratings) -> None:
    with pytest.raises(ValueError, match="no positive ratings"):
        als.train(ratings, als.ALSParams(positive_threshold=99.0, **FAST))


@pytest.mark.spark
def test_blas_info_names_the_implementation(spark) -> None:
    info = als.blas_info(spark)
    assert info["blas"].startswith("dev.ludovic.netlib.blas.")
    assert info["lapack"].startswith("dev.ludovic.netlib.lapack.")


def test_defaults_per_kind() -> None:
    implicit, explicit = als.ALSParams.for_kind("implicit"), als.ALSParams.for_kind("explicit")
    assert implicit == als.ALSParams()
    assert explicit.kind == "explicit"
    assert explicit.vector_size == explicit.rank + 1
    with pytest.raises(ValueError):
        als.ALSParams.for_kind("svd")
    reference = als.ALSParams.for_kind("implicit", "spark-ml")
    assert (reference.solver, reference.reg_exponent, reference.positive_threshold, reference.prior_weight) == ("spark-ml", 1.0, None, 0.0)


@pytest.mark.parametrize(
    "bad",
    [{"solver": "svd"}, {"reg_exponent": -0.5}, {"negative_weight": -1.0}, {"prior_weight": math.inf},
     {"solver": "spark-ml", "reg_exponent": 0.5}, {"solver": "spark-ml", "reg_exponent": 1.0, "prior_weight": 1.0},
     {"nonnegative": True}],
)
def test_bad_solver_params_raise(bad: dict) -> None:
    with pytest.raises(ValueError):
        als.ALSParams(**bad)


@pytest.mark.spark
def test_spark_ml_solver_stays_available_as_reference(ratings) -> None:
    p = als.ALSParams.for_kind("implicit", "spark-ml").replace(**FAST)
    model = als.train(ratings, p)
    assert model.meta["solver"] == "spark-ml" and model.meta["reg_exponent"] == 1.0
    assert model.meta["n_ratings"] == ratings.count()  # every rating a positive, as before
    ids, items = als.factor_matrix(model.item_factors, "movie_id")
    assert items.shape == (len(ids), 4)
    assert "blas" in model.meta["blas"] or "error" in model.meta["blas"]


@pytest.mark.spark
def test_same_seed_trains_the_same_factors(ratings) -> None:
    p = als.ALSParams(**FAST)
    first, second = als.train(ratings, p), als.train(ratings, p)
    assert np.array_equal(als.factor_matrix(first.user_factors, "user_id")[1], als.factor_matrix(second.user_factors, "user_id")[1])
    assert np.array_equal(als.factor_matrix(first.item_factors, "movie_id")[1], als.factor_matrix(second.item_factors, "movie_id")[1])


@pytest.mark.spark
def test_fold_in_of_a_training_user_reproduces_its_trained_factor(ratings) -> None:
    """What the service computes from the run record and the indexed (float32) movie vectors."""
    from service.model import ActiveModel

    model = als.train(ratings, als.ALSParams(rank=6, max_iter=8))
    active = ActiveModel.from_run({"run_id": "r", "model": model.meta, "params": model.params})
    i_ids, items = als.factor_matrix(model.item_factors, "movie_id")
    u_ids, users = als.factor_matrix(model.user_factors, "user_id")
    rows = ratings.select("user_id", "movie_id", "rating").collect()
    worst = 1.0
    for user in u_ids[:25].tolist():
        mine = sorted((r[1], r[2]) for r in rows if r[0] == user)
        movies = np.searchsorted(i_ids, [m for m, _ in mine])
        folded = active.fold_in(items[movies], np.array([v for _, v in mine]))
        trained = users[np.searchsorted(u_ids, user)]
        worst = min(worst, float(folded.vector @ trained / np.linalg.norm(folded.vector) / np.linalg.norm(trained)))
    assert worst > 0.999


def _genre_world(spark):
    """30 horror films (ids 1-30) and 60 others; horror fans and the rest, who rate horror 1-2★."""
    from pipeline.columns import RATINGS_SCHEMA

    rng = np.random.default_rng(4)
    horror, other = np.arange(1, 31), np.arange(31, 91)
    rows = []
    for user in range(1, 201):
        fan = user <= 60
        liked = rng.choice(horror if fan else other, 12, replace=False)
        disliked = rng.choice(other if fan else horror, 4, replace=False)
        rows += [(user, int(m), float(rng.integers(4, 6)), 0) for m in liked]
        rows += [(user, int(m), float(rng.integers(1, 3)), 0) for m in disliked]
    return spark.createDataFrame(rows, RATINGS_SCHEMA), set(horror.tolist())


@pytest.mark.spark
def test_ratings_mean_what_they_say(spark) -> None:
    """Five horror films rated 1★ keep horror out of the top 10; the same five at 5★ bring mostly horror."""
    from service.model import ActiveModel

    frame, horror = _genre_world(spark)
    model = als.train(frame, als.ALSParams(rank=8, max_iter=10))  # the default signal rule and prior
    active = ActiveModel.from_run({"run_id": "r", "model": model.meta, "params": model.params})
    i_ids, items = als.factor_matrix(model.item_factors, "movie_id")
    counts = {r[0]: r[1] for r in frame.groupBy("movie_id").count().collect()}
    rated = sorted(horror, key=lambda m: (-counts[m], m))[:5]
    pos = np.searchsorted(i_ids, rated)

    def top10(stars: float) -> list[int]:
        vector = active.fold_in(items[pos], np.full(5, stars)).vector
        scores = items @ vector  # what the kNN / exact query ranks by
        scores[pos] = -np.inf  # seen movies are excluded
        return i_ids[np.argsort(-scores, kind="stable")[:10]].tolist()

    assert not set(top10(1.0)) & horror
    assert len(set(top10(5.0)) & horror) >= 6


@pytest.mark.spark
def test_one_task_and_block_paths_train_the_same_model(ratings) -> None:
    """Blocks sized to the data: the test set is one task's work; forced blocks give the same factors."""
    p = als.ALSParams(**{**FAST, "num_blocks": None})
    one, three = als.train(ratings, p), als.train(ratings, p.replace(num_blocks=3))
    assert one.meta["solver_timings"]["blocks"] == 1 and "one_task_seconds" in one.meta["solver_timings"]
    assert three.meta["solver_timings"]["blocks"] == 3 and "blocks_seconds" in three.meta["solver_timings"]
    for frame, key in (("user_factors", "user_id"), ("item_factors", "movie_id")):
        a, b = als.factor_matrix(getattr(one, frame), key), als.factor_matrix(getattr(three, frame), key)
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert one.meta["item_gramian"] == three.meta["item_gramian"]
