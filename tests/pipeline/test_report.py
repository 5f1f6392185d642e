"""Report files: JSON, Markdown and PNG plots from a report dict."""

from __future__ import annotations

import json

import pytest

from pipeline import report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _ranking_report() -> dict:
    def model(scale: float) -> dict:
        out = {"n_users": 3, "mrr": 0.5 * scale}
        for k in (5, 10):
            for name in report.CURVE_METRICS:
                out[f"{name}_at_{k}"] = scale * k / 20
            out[f"map_rel_at_{k}"] = scale * k / 40
            out[f"coverage_at_{k}"] = 0.1
        return out

    return {
        "dataset": "ml-100k",
        "protocol": "msr-100k",
        "task": "ranking",
        "ks": [5, 10],
        "params": {"kind": "implicit", "rank": 8},
        "split": {
            "name": "msr-100k",
            "train_ratings": 75,
            "test_ratings": 25,
            "users_evaluated": 3,
            "test_users_without_training": 0,
            "catalog": 40,
        },
        "models": {"als": model(1.0), "most_popular": model(0.5)},
        "published": {"BiVAE (recommenders)": {"ndcg_at_10": 0.475}},
        "tuning": {
            "objective": "ndcg_at_10",
            "maximize": True,
            "search": "grid",
            "validation": "msr-100k/validation",
            "best_params": {"kind": "implicit", "rank": 8, "alpha": 1.0},
            "best_value": 0.3,
            "trials": [
                {"params": {"kind": "implicit", "rank": 4, "alpha": 1.0}, "metrics": {"ndcg_at_10": 0.2, "precision_at_10": 0.1}, "seconds": 1.5, "error": None},
                {"params": {"kind": "implicit", "rank": 8, "alpha": 1.0}, "metrics": {"ndcg_at_10": 0.3, "precision_at_10": 0.2}, "seconds": 2.0, "error": None},
            ],
        },
        "timings": {"train": 1.25, "evaluate": 0.5},
    }


def test_write_report_makes_json_markdown_and_pngs(tmp_path) -> None:
    data = _ranking_report()
    paths = report.write_report(data, tmp_path / "out")
    assert set(paths) == {"json", "markdown", "metrics_at_k", "model_comparison", "tuning"}
    for name in ("metrics_at_k", "model_comparison", "tuning"):
        assert paths[name].read_bytes()[:8] == PNG_MAGIC
    saved = json.loads(paths["json"].read_text())
    assert saved["models"]["als"]["ndcg_at_10"] == pytest.approx(0.5)
    assert saved["plots"]["tuning"].endswith("tuning.png")
    md = paths["markdown"].read_text()
    assert md.startswith("# Evaluation: ml-100k / msr-100k")
    assert "| als | 0.5000 | 0.5000 | 0.5000 | 0.5000 | 0.2500 | 0.5000 | 0.1000 |" in md
    assert "| most_popular | 0.2500 |" in md
    assert "| BiVAE (recommenders) | 0.4750 |" in md
    assert "| **this run: als** | 0.5000 |" in md
    # every tried point is listed, with only the parameters that varied
    assert "| rank | ndcg_at_10 | precision_at_10 | seconds | error |" in md
    assert "| 4 | 0.2000 | 0.1000 | 1.5000 |  |" in md
    assert "Winner: ndcg_at_10 = 0.3000 with rank=8" in md
    assert "![metrics_at_k](metrics_at_k.png)" in md


def test_rating_report_markdown_and_plot(tmp_path) -> None:
    data = {
        "dataset": "ml-100k",
        "protocol": "surprise-100k",
        "task": "rating",
        "ks": [10],
        "params": {"kind": "explicit"},
        "models": {"als": {"rmse": 0.9, "mae": 0.7}, "biases_only": {"rmse": 0.94, "mae": 0.74}, "global_mean": {"rmse": 1.12}},
        "folds": [{"fold": "surprise-100k/u1", "rmse": 0.9, "mae": 0.7, "baseline_rmse": 0.94, "train_seconds": 3.0}],
        "published": {"SVD (Surprise)": {"rmse": 0.934}},
        "tuning": None,
    }
    paths = report.write_report(data, tmp_path)
    assert "metrics_at_k" not in paths
    assert paths["model_comparison"].read_bytes()[:8] == PNG_MAGIC
    md = paths["markdown"].read_text()
    assert "| model | rmse | mae |" in md
    assert "| global_mean | 1.1200 |  |" in md
    assert "| surprise-100k/u1 | 0.9000 | 0.7000 | 0.9400 | 3.0000 |" in md


def test_headline_columns() -> None:
    assert report.headline_columns({"task": "rating"}) == ["rmse", "mae"]
    assert report.headline_columns({"task": "ranking", "ks": [1, 5]}) == [
        "precision_at_5", "recall_at_5", "ndcg_at_5", "map_at_5", "map_rel_at_5", "mrr", "coverage_at_5"
    ]


def test_several_splits_show_mean_and_sd_and_the_map_labels() -> None:
    r = _ranking_report()
    r["sd"] = {"als": {"ndcg_at_10": 0.003, "map_rel_at_10": 0.001}}
    r["splits"] = [{"split": {"name": "msr-100k/seed-42"}}, {"split": {"name": "msr-100k/seed-7"}}]
    r["serving_fidelity"] = {"hnsw_estimate": {"m": 16, "ef_construction": 100, "queries": 9, "k": 10, "recall_at_k": {"10": 0.9, "100": 1.0}}}
    md = report.to_markdown(r)
    assert "Mean ± sd over 2 splits: `msr-100k/seed-42`, `msr-100k/seed-7`" in md
    assert "| 0.5000 ± 0.0030 |" in md  # ndcg_at_10 of als: 1.0 * 10 / 20
    assert "| 0.2500 ± 0.0010 |" in md
    assert report.MAP_NOTE in md
    assert "| recall@10 | 0.9000 | 1.0000 |" in md


def test_per_fold_tuning_is_reported_fold_by_fold() -> None:
    r = _ranking_report()
    one = r["tuning"]
    r["tuning"] = {"per_fold": [dict(one, validation="surprise-100k/u1/validation"), dict(one, validation="surprise-100k/u2/validation")]}
    md = report.to_markdown(r)
    assert "on `surprise-100k/u1/validation`" in md and "on `surprise-100k/u2/validation`" in md
