"""Evaluation protocols end to end: splits over seeds and folds, tuning on carves, the run record's figures."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline import evaluate
from pipeline.als import ALSParams


def test_protocol_for_and_run_metrics() -> None:
    assert evaluate.protocol_for("ml-100k", "implicit") == "msr-100k"
    assert evaluate.protocol_for("ml-100k", "explicit") == "surprise-100k"
    assert evaluate.protocol_for("ml-latest-small", "implicit") == "temporal"
    # explicit on an ml-100k folder without the official folds: the random split (which reports RMSE too)
    assert evaluate.protocol_for("ml-100k", "explicit", "/nonexistent") == "msr-100k"
    report = {"models": {"als": {"ndcg_at_10": 0.5, "precision_at_10": 0.4, "coverage_at_10": 0.2, "mrr": 0.7}}}
    assert evaluate.run_metrics(report) == {"ndcg_at_10": 0.5, "precision_at_10": 0.4, "coverage": 0.2, "mrr": 0.7}


def test_unknown_protocol_is_refused(spark) -> None:
    with pytest.raises(ValueError, match="unknown protocol"):
        evaluate.run_protocol(spark, "leave-one-out", None)


@pytest.fixture(scope="module")
def planted(spark, tmp_path_factory):
    """Synthetic ml-100k with 4 planted taste clusters (and the official folds)."""
    from pipeline import loaders, synthetic

    out = tmp_path_factory.mktemp("planted")
    synthetic.generate(out, "ml-100k", n_users=120, n_movies=150, n_ratings=6000, seed=3, n_clusters=4, folds=True)
    tables = loaders.load(spark, "ml-100k", out)
    return out, tables.ratings.cache(), tables.movies.cache()


@pytest.mark.spark
@pytest.mark.slow
def test_als_beats_popularity_by_a_wide_margin_on_planted_structure(spark, planted) -> None:
    _, ratings, movies = planted
    params = ALSParams(rank=4, reg_param=0.1, alpha=3.0, max_iter=10, num_blocks=2)
    report = evaluate.run_protocol(spark, "msr-100k", ratings, movies, params=params, ks=(5, 10), seeds=(42, 7))
    als, pop = report["models"]["als"], report["models"]["most_popular"]
    # two seeds: the model table is their mean, `sd` their spread, each split kept
    per_split = [s["models"]["als"]["ndcg_at_10"] for s in report["splits"]]
    assert [s["split"]["name"] for s in report["splits"]] == ["msr-100k/seed-42", "msr-100k/seed-7"]
    assert als["ndcg_at_10"] == pytest.approx(np.mean(per_split))
    assert report["sd"]["als"]["ndcg_at_10"] == pytest.approx(np.std(per_split, ddof=1))
    assert report["serving_fidelity"]["hnsw_estimate"]["m"] == 16
    assert als["ndcg_at_10"] > pop["ndcg_at_10"] + 0.08
    assert als["precision_at_10"] > pop["precision_at_10"] + 0.05
    assert set(report["models"]) == {"als", "most_popular", "top_bayes_rating", "genre_profile", "hybrid_pop_genre"}
    assert report["split"]["users_evaluated"] == 120
    assert report["tuning"] is None
    assert "item_gramian" not in report["model"]


@pytest.mark.spark
@pytest.mark.slow
def test_tuning_uses_the_validation_carve_and_reports_every_point(spark, planted) -> None:
    _, ratings, _ = planted
    space = {"rank": [2, 4], "alpha": [3.0]}
    base = ALSParams(reg_param=0.1, max_iter=5, num_blocks=2)
    report = evaluate.run_protocol(
        spark, "msr-100k", ratings, params=base, tune=True, space=space, with_baselines=False, ks=(10,), seeds=(42,)
    )
    tuning = report["tuning"]
    assert tuning["validation"] == "msr-100k/seed-42/validation"
    assert len(tuning["trials"]) == 2
    assert {t["params"]["rank"] for t in tuning["trials"]} == {2, 4}
    best = max(tuning["trials"], key=lambda t: t["metrics"]["ndcg_at_10"])
    assert report["params"]["rank"] == best["params"]["rank"]
    assert set(report["models"]) == {"als"}


@pytest.mark.spark
@pytest.mark.slow
def test_surprise_protocol_reports_rmse_over_folds(spark, planted) -> None:
    folder, ratings, _ = planted
    params = ALSParams(kind="explicit", rank=4, reg_param=0.1, max_iter=5, num_blocks=2)
    report = evaluate.run_protocol(spark, "surprise-100k", ratings, data_dir=folder, params=params)
    assert [f["fold"] for f in report["folds"]] == [f"surprise-100k/u{i}" for i in range(1, 6)]
    als = report["models"]["als"]
    assert als["rmse"] == pytest.approx(np.mean([f["rmse"] for f in report["folds"]]))
    # biases beat the global mean, and the factors do not hurt on planted structure
    assert report["models"]["biases_only"]["rmse"] < report["models"]["global_mean"]["rmse"]
    assert als["rmse"] < report["models"]["global_mean"]["rmse"]


@pytest.mark.spark
@pytest.mark.slow
def test_surprise_tuning_happens_inside_each_fold(spark, planted) -> None:
    """u1.base is u2..u5's test data: each fold is tuned on a carve of its own base."""
    folder, ratings, _ = planted
    params = ALSParams(kind="explicit", rank=2, reg_param=1.0, max_iter=3, num_blocks=2)
    report = evaluate.run_protocol(
        spark, "surprise-100k", ratings, data_dir=folder, params=params, tune=True, space={"reg_param": [0.5, 2.0]}
    )
    searches = report["tuning"]["per_fold"]
    assert [t["validation"] for t in searches] == [f"surprise-100k/u{i}/validation" for i in range(1, 6)]
    for search, fold in zip(searches, report["folds"], strict=True):
        assert fold["params"]["reg_param"] == search["best_params"]["reg_param"]  # each fold trains its own winner


@pytest.mark.spark
def test_liked_only_protocol_scores_liked_test_ratings(spark, planted) -> None:
    _, ratings, _ = planted
    params = ALSParams(rank=3, max_iter=4, num_blocks=2)
    liked = evaluate.run_protocol(spark, "liked-only", ratings, params=params, with_baselines=False, ks=(10,), seeds=(42,))
    every = evaluate.run_protocol(spark, "msr-100k", ratings, params=params, with_baselines=False, ks=(10,), seeds=(42,))
    assert liked["split"]["name"] == "liked-only/seed-42"
    assert liked["split"]["train_ratings"] == every["split"]["train_ratings"]
    assert liked["split"]["test_ratings"] < every["split"]["test_ratings"]


@pytest.mark.spark
def test_rating_protocol_needs_an_explicit_model(spark, planted) -> None:
    folder, ratings, _ = planted
    with pytest.raises(ValueError, match="explicit"):
        evaluate.run_protocol(spark, "surprise-100k", ratings, data_dir=folder, params=ALSParams(kind="implicit"))


@pytest.mark.spark
@pytest.mark.slow
def test_run_level_helpers(spark, planted) -> None:
    from pipeline.loaders import Tables

    folder, ratings, movies = planted
    tables = Tables(ratings=ratings, movies=movies)
    params = ALSParams(rank=3, reg_param=0.1, alpha=3.0, max_iter=4, num_blocks=2)
    measured = evaluate.evaluate_for_run(spark, tables, "ml-100k", folder, params, max_users=50)
    assert measured["protocol"] == "msr-100k"
    assert measured["split"]["users_evaluated"] == 50
    assert measured["split"]["users_sampled_from"] == 120
    assert set(measured["metrics"]) == {"precision_at_10", "recall_at_10", "ndcg_at_10", "map_at_10", "mrr", "coverage"}
    assert measured["metrics"]["ndcg_at_10"] == measured["models"]["als"]["ndcg_at_10"]
    tuned = evaluate.tune_for_run(spark, tables, "ml-100k", folder, params, n_points=2)
    assert tuned["protocol"] == "msr-100k"
    assert len(tuned["trials"]) == 2
    assert tuned["validation"] == "msr-100k/seed-42/validation"
