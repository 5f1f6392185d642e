"""Upgrading a cluster bootstrapped by an earlier movierec: the plain indices (runs, feedback, ids) keep
their old, smaller mappings until `movierec bootstrap` or a run brings them up to date with es_mappings'.

The old mappings are built here from the current ones by removing the fields added since, so the test
never holds a second copy of a mapping."""

from __future__ import annotations

import copy
import json
import logging

import pytest
from elasticsearch import ApiError, Elasticsearch

import es_mappings
from pipeline import indices, synthetic, workflow
from pipeline.cli import main

pytestmark = pytest.mark.es

# counts the run record gained after the first releases (issue 12's online counts, the editions' ones)
NEW_COUNTS = ("online_users", "online_ratings", "online_ratings_unknown_movie", "online_ratings_held_back",
              "online_ratings_legacy", "refolded_users")
NEW_FEEDBACK_FIELDS = ("rating_count",)


def _older_body(kind: str, removed: dict[str, tuple[str, ...]]) -> dict:
    """es_mappings' create-index body of `kind` without the named fields ({object path or "": names})."""
    body = copy.deepcopy(es_mappings.index_body(kind))
    for path, names in removed.items():
        props = body["mappings"]["properties"]
        for part in filter(None, path.split(".")):
            props = props[part]["properties"]
        for name in names:
            del props[name]
    return body


def _create_old_indices(es: Elasticsearch, prefix: str) -> None:
    es.indices.create(index=f"{prefix}-runs", **_older_body("runs", {"counts": NEW_COUNTS}))
    es.indices.create(index=f"{prefix}-feedback", **_older_body("feedback", {"": NEW_FEEDBACK_FIELDS}))


def _counts_mapping(es: Elasticsearch, prefix: str) -> dict:
    index = f"{prefix}-runs"
    return es.indices.get_mapping(index=index)[index]["mappings"]["properties"]["counts"]["properties"]


def test_an_old_runs_index_refuses_the_new_counts(es, index_prefix):
    """The defect being fixed: a strict, older runs mapping refuses a record with the new counts."""
    _create_old_indices(es, index_prefix)
    assert not set(NEW_COUNTS) & set(_counts_mapping(es, index_prefix))
    with pytest.raises(ApiError) as caught:
        es.index(index=f"{index_prefix}-runs", id="r", document={"counts": {"online_ratings_held_back": 1}})
    assert caught.value.body["error"]["type"] == "strict_dynamic_mapping_exception"


def test_bootstrap_brings_old_mappings_up_to_date(es_url, index_prefix, es, capsys):
    _create_old_indices(es, index_prefix)
    es.index(index=f"{index_prefix}-runs", id="old", document={"run_id": "old", "counts": {"movies": 3}}, refresh=True)

    assert main(["bootstrap", "--es-url", es_url, "--prefix", index_prefix]) == 0

    out = capsys.readouterr().out.splitlines()
    assert out == [f"{index_prefix}-runs: exists, mapping up to date", f"{index_prefix}-feedback: exists, mapping up to date",
                   f"{index_prefix}-ids: created"]
    for kind in indices.PLAIN_KINDS:
        index = f"{index_prefix}-{kind}"
        mapping = es.indices.get_mapping(index=index)[index]["mappings"]
        assert mapping["dynamic"] == "strict"
        assert set(mapping["properties"]) == set(es_mappings.properties(kind))
    assert {name: _counts_mapping(es, index_prefix)[name] for name in NEW_COUNTS} == {name: {"type": "long"} for name in NEW_COUNTS}
    es.index(index=f"{index_prefix}-runs", id="new", document={"counts": {"online_ratings_held_back": 2}}, refresh=True)
    assert es.get(index=f"{index_prefix}-runs", id="old")["_source"]["counts"] == {"movies": 3}  # kept as it was
    assert es.count(index=f"{index_prefix}-runs", query={"term": {"counts.online_ratings_held_back": 2}})["count"] == 1


def test_a_changed_field_type_is_a_pipeline_error_naming_index_and_field(es_url, index_prefix, es, caplog):
    body = es_mappings.index_body("runs")
    body["mappings"]["properties"]["counts"]["properties"]["movies"] = {"type": "keyword"}
    es.indices.create(index=f"{index_prefix}-runs", **body)

    with pytest.raises(indices.MappingConflict) as caught:
        workflow.bootstrap(es, index_prefix)
    assert caught.value.index == f"{index_prefix}-runs" and caught.value.field == "counts.movies"
    assert f"the mapping of {index_prefix}-runs cannot be brought up to date: field [counts.movies]" in str(caught.value)
    with caplog.at_level(logging.ERROR):
        assert main(["bootstrap", "--es-url", es_url, "--prefix", index_prefix]) == 1
    assert "field [counts.movies]" in caplog.text and f"{index_prefix}-runs" in caplog.text
    index = f"{index_prefix}-runs"
    assert es.indices.get_mapping(index=index)[index]["mappings"]["properties"]["counts"]["properties"]["movies"] == {"type": "keyword"}


@pytest.mark.spark
@pytest.mark.slow
def test_a_run_upgrades_the_old_runs_index_and_records_the_new_counts(spark, es_url, index_prefix, es, tmp_path, capsys):
    _create_old_indices(es, index_prefix)
    folder = synthetic.generate(tmp_path, "ml-100k", n_users=20, n_movies=25, n_ratings=400, seed=7)
    argv = ["run", "--dataset", "ml-100k", "--data-dir", str(folder.parent), "--es-url", es_url, "--prefix", index_prefix,
            "--rank", "3", "--max-iter", "2", "--conf", "spark.sql.shuffle.partitions=4", "--json"]
    assert main(argv) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["status"] == "succeeded"
    stored = es.get(index=f"{index_prefix}-runs", id=printed["run_id"])["_source"]
    assert stored["status"] == "succeeded"
    assert {name: stored["counts"][name] for name in NEW_COUNTS} == {name: 0 for name in NEW_COUNTS}
    assert set(NEW_COUNTS) <= set(_counts_mapping(es, index_prefix))
