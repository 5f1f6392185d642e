"""`movierec train` / `movierec evaluate` end to end on synthetic data."""

from __future__ import annotations

import json

import pytest

from pipeline import cli
from pipeline.als import ALSParams
from pipeline.commands import model as model_cmd


def test_parser_knows_train_and_evaluate(tmp_path) -> None:
    parser = cli.build_parser()
    args = parser.parse_args(
        ["evaluate", "--dataset", "ml-100k", "--data-dir", str(tmp_path), "--protocol", "msr-100k", "--tune",
         "--rank", "8", "--ks", "10,5", "--search-points", "4"]
    )
    assert args.func is model_cmd.evaluate_command
    assert args.tune and args.rank == 8 and args.ks == (5, 10) and args.search_points == 4
    args = parser.parse_args(["train", "--dataset", "ml-100k", "--data-dir", str(tmp_path), "--kind", "explicit"])
    assert args.func is model_cmd.train_command
    with pytest.raises(SystemExit):
        parser.parse_args(["evaluate", "--dataset", "ml-100k", "--data-dir", str(tmp_path), "--protocol", "loo"])
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "--dataset", "ml-100k", "--data-dir", str(tmp_path), "--rank", "0"])


def test_params_from_args_keeps_defaults_for_flags_not_given(tmp_path) -> None:
    args = cli.build_parser().parse_args(
        ["train", "--dataset", "ml-100k", "--data-dir", str(tmp_path), "--alpha", "7", "--positive-threshold", "4",
         "--reg-exponent", "0.25", "--negative-weight", "2", "--prior-weight", "0.5"]
    )
    got = model_cmd.params_from_args(args, "ranking")
    assert (got.alpha, got.positive_threshold, got.reg_exponent, got.negative_weight, got.prior_weight) == (7.0, 4.0, 0.25, 2.0, 0.5)
    d = ALSParams()
    given = ("alpha", "positive_threshold", "reg_exponent", "negative_weight", "prior_weight")
    assert got.replace(**{name: getattr(d, name) for name in given}) == d


def test_solver_flag_picks_that_solvers_defaults(tmp_path) -> None:
    parser = cli.build_parser()
    args = parser.parse_args(["train", "--dataset", "ml-100k", "--data-dir", str(tmp_path), "--solver", "spark-ml"])
    got = model_cmd.params_from_args(args, "ranking")
    assert got == ALSParams.for_kind("implicit", "spark-ml")
    assert (got.solver, got.reg_exponent, got.prior_weight) == ("spark-ml", 1.0, 0.0)
    args = parser.parse_args(["evaluate", "--dataset", "ml-100k", "--data-dir", str(tmp_path), "--kind", "explicit"])
    assert model_cmd.params_from_args(args, "ranking") == ALSParams.for_kind("explicit")
    args = parser.parse_args(
        ["train", "--dataset", "ml-100k", "--data-dir", str(tmp_path), "--solver", "spark-ml", "--reg-exponent", "0.5"]
    )
    with pytest.raises(model_cmd.PipelineError, match="reg_exponent must be 1"):
        model_cmd.params_from_args(args, "ranking")


def test_bad_param_value_is_a_clean_error(tmp_path, capsys) -> None:
    code = cli.main(["train", "--dataset", "ml-100k", "--data-dir", str(tmp_path), "--reg-param", "-1"])
    assert code == 1


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    from pipeline import synthetic

    out = tmp_path_factory.mktemp("cli-data")
    synthetic.generate(out, "ml-100k", n_users=50, n_movies=70, n_ratings=1500, seed=11, n_clusters=4)
    return out


@pytest.mark.spark
@pytest.mark.slow
def test_evaluate_writes_a_report(spark, data_dir, tmp_path, capsys) -> None:
    out = tmp_path / "report"
    code = cli.main(
        ["evaluate", "--dataset", "ml-100k", "--data-dir", str(data_dir), "--protocol", "msr-100k", "--output", str(out),
         "--rank", "4", "--max-iter", "5", "--num-blocks", "2", "--ks", "5,10"]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["protocol"] == "msr-100k"
    assert set(summary["models"]) >= {"als", "most_popular", "hybrid_pop_genre"}
    assert {"jvm_start", "load", "train", "evaluate", "total"} <= set(summary["timings"])
    for name in ("report.json", "report.md", "metrics_at_k.png", "model_comparison.png"):
        assert (out / name).is_file()
    saved = json.loads((out / "report.json").read_text())
    assert saved["params"]["rank"] == 4
    assert saved["machine"]["cpus"] >= 1


@pytest.mark.spark
@pytest.mark.slow
def test_train_writes_factors_and_meta(spark, data_dir, tmp_path, capsys) -> None:
    out = tmp_path / "model"
    code = cli.main(
        ["train", "--dataset", "ml-100k", "--data-dir", str(data_dir), "--kind", "explicit", "--rank", "3",
         "--max-iter", "4", "--num-blocks", "2", "--output", str(out)]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["model"]["kind"] == "explicit"
    assert summary["model"]["vector_size"] == 4
    meta = json.loads((out / "model.json").read_text())
    assert meta["params"]["rank"] == 3 and meta["meta"]["global_mean"] > 0
    items = spark.read.parquet(str(out / "item_factors"))
    assert items.columns == ["movie_id", "factors"]
    assert len(items.first()["factors"]) == 4
    assert (out / "user_bias").is_dir()
