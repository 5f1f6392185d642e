"""`movierec run`, `movierec bootstrap`, `movierec runs list`."""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline import synthetic
from pipeline.cli import QUIET_LOGGERS, build_parser, main
from pipeline.commands.run import config_from_args
from pipeline.errors import PipelineError
from pipeline.evaluate import default_params
from pipeline.export import BulkSettings
from pipeline.indices import run_indices


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens there once the socket is closed


def test_run_arguments_become_a_run_config(tmp_path):
    args = build_parser().parse_args(
        ["run", "--dataset", "ml-100k", "--data-dir", str(tmp_path), "--es-url", "http://es:9200", "--prefix", "p",
         "--master", "spark://m:7077", "--kind", "explicit", "--rank", "16", "--tune", "--keep", "3", "--keep-failed",
         "--conf", "spark.executor.memory=2g", "--chunk-size", "250"]
    )
    config = config_from_args(args)
    assert config.dataset == "ml-100k" and config.data_dir == tmp_path
    assert (config.es_url, config.prefix, config.master) == ("http://es:9200", "p", "spark://m:7077")
    assert config.params == default_params("rating").replace(rank=16)  # the explicit defaults, rank overridden
    assert config.tune and config.evaluate  # --tune implies --evaluate
    assert (config.keep, config.keep_failed) == (3, True)
    assert dict(config.spark_conf) == {"spark.executor.memory": "2g"}
    assert config.bulk == BulkSettings(chunk_size=250)


def test_run_defaults():
    args = build_parser().parse_args(["run", "--dataset", "ml-latest-small", "--data-dir", "d"])
    config = config_from_args(args)
    assert (config.prefix, config.keep, config.keep_failed, config.evaluate, config.tune) == ("movierec", 2, False, False, False)
    assert config.es_url is None and config.master is None
    assert config.params == default_params("ranking")


def test_bad_arguments_are_refused(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", "--dataset", "ml-9k", "--data-dir", "d"])
    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", "--dataset", "ml-100k", "--data-dir", "d", "--keep", "0"])
    assert "invalid" in capsys.readouterr().err


def test_invalid_als_values_are_a_pipeline_error():
    args = build_parser().parse_args(["run", "--dataset", "ml-100k", "--data-dir", "d", "--reg-param", "-1"])
    with pytest.raises(PipelineError, match="reg_param"):
        config_from_args(args)


def test_help_names_the_credential_variables(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", "--help"])
    out = capsys.readouterr().out
    for name in ("ES_API_KEY", "ES_USERNAME", "ES_PASSWORD", "ES_CA_CERTS", "ES_VERIFY_CERTS"):
        assert name in out


def test_unreachable_cluster_fails_fast_naming_the_url(tmp_path, caplog):
    url = _closed_port_url()
    with caplog.at_level(logging.ERROR):
        code = main(["run", "--dataset", "ml-100k", "--data-dir", str(tmp_path), "--es-url", url])
    assert code == 1
    assert f"Elasticsearch at {url} is unreachable" in caplog.text


@pytest.mark.es
def test_bootstrap_is_idempotent(es_url, index_prefix, es, capsys):
    assert main(["bootstrap", "--es-url", es_url, "--prefix", index_prefix]) == 0
    kinds = ("runs", "feedback", "ids")
    assert capsys.readouterr().out == "".join(f"{index_prefix}-{k}: created\n" for k in kinds)
    assert main(["bootstrap", "--es-url", es_url, "--prefix", index_prefix]) == 0
    assert capsys.readouterr().out == "".join(f"{index_prefix}-{k}: exists, mapping up to date\n" for k in kinds)
    assert all(es.indices.exists(index=f"{index_prefix}-{k}") for k in kinds)


@pytest.mark.es
def test_per_request_client_lines_only_with_verbose(es_url, index_prefix, caplog):
    """elastic_transport logs every HTTP request at INFO: debugging detail, shown with -v only."""
    def transport_lines() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name.startswith("elastic_transport")]

    try:
        with caplog.at_level(logging.DEBUG):
            assert main(["bootstrap", "--es-url", es_url, "--prefix", index_prefix]) == 0
            assert transport_lines() == []
            assert main(["bootstrap", "-v", "--es-url", es_url, "--prefix", index_prefix]) == 0
            assert any(line.startswith(("GET ", "HEAD ", "PUT ")) for line in transport_lines())
    finally:
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.NOTSET)


@pytest.mark.es
@pytest.mark.spark
@pytest.mark.slow
def test_run_then_runs_list(spark, es_url, index_prefix, es, tmp_path, capsys):
    folder = synthetic.generate(tmp_path, "ml-100k", n_users=30, n_movies=40, n_ratings=700, seed=5)
    argv = ["run", "--dataset", "ml-100k", "--data-dir", str(folder.parent), "--es-url", es_url, "--prefix", index_prefix,
            "--rank", "3", "--max-iter", "2", "--evaluate", "--conf", "spark.sql.shuffle.partitions=4", "--json"]
    assert main(argv) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["status"] == "succeeded" and record["active"] is True
    assert record["counts"] == {"movies": 40, "users": 30, "ratings": 700, "rejected": 0, "online_users": 0,
                                "online_ratings": 0, "online_ratings_unknown_movie": 0, "online_ratings_held_back": 0,
                                "online_ratings_legacy": 0, "refolded_users": 0}
    assert record["model_kind"] == "implicit" and record["vector_size"] == 3
    assert len(record["model"]["item_gramian"]) == 3  # implicit fold-in needs YᵀY
    assert record["model"]["evaluation"]["protocol"] == "msr-100k"
    assert set(record["metrics"]) >= {"precision_at_10", "recall_at_10", "ndcg_at_10", "map_at_10"}
    assert all(0.0 <= v <= 1.0 for v in record["metrics"].values())
    assert es.count(index=f"{index_prefix}-ratings")["count"] == 700

    assert main(["runs", "list", "--es-url", es_url, "--prefix", index_prefix]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["run_id", "status", "dataset", "kind", "movies", "users", "ratings", "online", "seconds",
                                "indices"]
    row = lines[1].split()
    assert row[:9] == ["*", record["run_id"], "succeeded", "ml-100k", "implicit", "40", "30", "700", "0/0"]
    assert row[-1] == "kept"
    es.indices.delete(index=run_indices(index_prefix, record["run_id"])["ratings"])
    assert main(["runs", "list", "--es-url", es_url, "--prefix", index_prefix]) == 0
    assert capsys.readouterr().out.splitlines()[1].split()[-3:] == ["2", "of", "3"]

    assert main(["runs", "list", "--es-url", es_url, "--prefix", index_prefix, "--json"]) == 0
    assert [r["run_id"] for r in json.loads(capsys.readouterr().out)] == [record["run_id"]]


@pytest.mark.es
def test_runs_list_before_any_run(es_url, index_prefix, capsys):
    assert main(["runs", "list", "--es-url", es_url, "--prefix", index_prefix]) == 0
    assert "no runs yet" in capsys.readouterr().out


def test_bootstrap_script_fails_fast_on_an_unreachable_cluster():
    script = Path(__file__).resolve().parents[2] / "scripts" / "bootstrap_es.py"
    url = _closed_port_url()
    done = subprocess.run([sys.executable, str(script), "--es-url", url], check=False, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert f"Elasticsearch at {url} is unreachable" in done.stderr


def test_verbose_is_taken_before_or_after_the_command():
    parser = build_parser()
    assert parser.parse_args(["runs", "list", "-v"]).verbose is True
    assert parser.parse_args(["-v", "runs", "list"]).verbose is True
    assert parser.parse_args(["runs", "list"]).verbose is False
    assert parser.parse_args(["data", "fetch", "ml-100k", "--verbose"]).verbose is True


def test_run_train_and_evaluate_default_to_the_folder_data_fetch_fills():
    parser = build_parser()
    for argv in (["run", "--dataset", "ml-100k"], ["train", "--dataset", "ml-100k"], ["evaluate", "--dataset", "ml-100k"]):
        assert parser.parse_args(argv).data_dir == Path("data"), argv
    assert parser.parse_args(["data", "fetch", "ml-100k"]).data_dir == "data"


def test_prefix_defaults_to_movierec_index_prefix(monkeypatch):
    monkeypatch.delenv("MOVIEREC_INDEX_PREFIX", raising=False)
    assert build_parser().parse_args(["bootstrap"]).prefix == "movierec"
    monkeypatch.setenv("MOVIEREC_INDEX_PREFIX", "shop")
    for argv in (["bootstrap"], ["runs", "list"], ["run", "--dataset", "ml-100k"]):
        assert build_parser().parse_args(argv).prefix == "shop", argv
    assert build_parser().parse_args(["bootstrap", "--prefix", "other"]).prefix == "other"
