"""The whole run against the ES double: indices, aliases, verification, failures, run records.

Spark trains once per module (`prepared`); each test publishes that model
under its own prefix with `run_pipeline(..., prepared=...)`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading

import numpy as np
import pytest
from elasticsearch import ApiError, TransportError

from pipeline import indices, runs, synthetic, workflow
from pipeline.als import ALSParams
from pipeline.errors import DatasetError, ExportError
from pipeline.export import BulkSettings
from pipeline.similarity import representations
from pipeline.workflow import RunConfig, prepare, run_pipeline

pytestmark = [pytest.mark.spark, pytest.mark.es]

N_USERS, N_MOVIES, N_RATINGS, RANK = 30, 45, 800, 4


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    folder = synthetic.generate(tmp_path_factory.mktemp("wf"), "ml-100k", n_users=N_USERS, n_movies=N_MOVIES, n_ratings=N_RATINGS, seed=2)
    return folder.parent


@pytest.fixture(scope="module")
def prepared(spark, data_dir):
    """An explicit model (vectors [v, b_i] / [u, 1]) trained once for the module."""
    config = RunConfig(dataset="ml-100k", data_dir=data_dir, params=ALSParams(kind="explicit", rank=RANK, max_iter=3), export_partitions=2, sample_size=10)
    result = prepare(spark, config)
    yield result
    result.unpersist()


def _config(data_dir, es_url, prefix, **changes) -> RunConfig:
    base = RunConfig(
        dataset="ml-100k",
        data_dir=data_dir,
        es_url=es_url,
        prefix=prefix,
        params=ALSParams(kind="explicit", rank=RANK, max_iter=3),
        bulk=BulkSettings(chunk_size=100, max_retries=3, initial_backoff=0.01, max_backoff=0.05),
    )
    return dataclasses.replace(base, **changes)


def _publish(prepared, data_dir, es_url, prefix, **changes):
    return run_pipeline(_config(data_dir, es_url, prefix, **changes), prepared=prepared, environ={})


def test_prepare_counts_and_frames(prepared):
    assert prepared.counts == {"movies": N_MOVIES, "users": N_USERS, "ratings": N_RATINGS}
    assert set(prepared.data_files) == {"u.data", "u.item", "u.user"}
    assert prepared.model.vector_size == RANK + 1
    assert len(prepared.samples["movies"]) == 10 and len(prepared.samples["users"]) == 10


def test_run_fills_every_index_behind_the_aliases(prepared, data_dir, es_url, index_prefix, es):
    result = _publish(prepared, data_dir, es_url, index_prefix)
    record = result.record
    run_id = record["run_id"]
    assert record["status"] == "succeeded" and record["active"] is True
    assert record["counts"] == {"movies": N_MOVIES, "users": N_USERS, "ratings": N_RATINGS, "rejected": 0, "refolded_users": 0}
    assert record["indices"] == indices.run_indices(index_prefix, run_id)
    assert record["vector_size"] == RANK + 1 and record["model_kind"] == "explicit"
    assert record["model"]["global_mean"] == prepared.model.meta["global_mean"]
    assert set(record["model"]["biases"]) == {"items", "users"}
    u_data = data_dir / "ml-100k" / "u.data"
    assert record["data_files"]["u.data"] == hashlib.sha256(u_data.read_bytes()).hexdigest()
    assert record["data_hash"] == runs.data_hash(record["data_files"])
    assert {"export_movies", "export_users", "export_ratings", "verify", "fidelity", "swap"} <= set(record["timings"])
    assert record["errors"] == []
    serving = record["model"]["serving_fidelity"]
    # kNN on the test double is exact (a real cluster reports what HNSW loses)
    assert serving["cluster"]["recall_at_k"] == 1.0 and serving["cluster"]["index"] == record["indices"]["movies"]
    assert serving["hnsw_estimate"]["m"] == 16 and serving["hnsw_estimate"]["ef_construction"] == 100

    for kind in indices.RUN_KINDS:
        alias = f"{index_prefix}-{kind}"
        assert list(es.indices.get_alias(name=alias).body) == [f"{index_prefix}-{kind}-{run_id}"]
        assert es.count(index=alias)["count"] == record["counts"][kind]

    movie = es.search(index=f"{index_prefix}-movies", size=1, query={"exists": {"field": "factors"}}, source={"exclude_vectors": False})["hits"]["hits"][0]["_source"]
    assert movie["run_id"] == run_id and len(movie["factors"]) == RANK + 1
    assert np.linalg.norm(movie["factors_unit"]) == pytest.approx(1.0, abs=1e-5)
    unit = np.asarray(movie["factors"][:RANK]) / np.linalg.norm(movie["factors"][:RANK])
    assert movie["factors_unit"] == pytest.approx(unit.tolist(), abs=1e-6)

    # `similar`: the representation of pipeline.similarity over every movie with factors, recomputed from the index
    similarity = record["model"]["similarity"]
    spec = representations.spec_from(similarity["spec"])
    found = es.search(index=f"{index_prefix}-movies", size=N_MOVIES, query={"exists": {"field": "factors"}},
                      source={"exclude_vectors": False})["hits"]["hits"]
    docs = sorted((h["_source"] for h in found), key=lambda d: d["movie_id"])
    want = representations.movie_vectors(np.asarray([d["factors"][:RANK] for d in docs]), [d.get("genres", []) for d in docs],
                                         [d.get("year") for d in docs], spec, None, [d["rating_count"] for d in docs])
    assert similarity["dims"] == want.shape[1]
    assert np.asarray([d["similar"] for d in docs]) == pytest.approx(want, abs=1e-5)

    user = es.get(index=f"{index_prefix}-users", id="1", source_exclude_vectors=False)["_source"]
    assert user["source"] == "training" and user["factors"][-1] == 1.0 and user["run_id"] == run_id
    assert user["age_band"] and user["rated_movie_ids"]

    rating = es.search(index=f"{index_prefix}-ratings", size=1, query={"term": {"user_id": 1}})["hits"]["hits"][0]
    src = rating["_source"]
    assert rating["_id"] == f"{src['user_id']}-{src['movie_id']}"
    rated = es.get(index=f"{index_prefix}-movies", id=str(src["movie_id"]))["_source"]
    assert (src["title"], src["genres"]) == (rated["title"], rated["genres"])
    assert (src["age"], src["gender"], src["occupation"], src["age_band"]) == (user["age"], user["gender"], user["occupation"], user["age_band"])
    assert isinstance(src["rated_at"], int)


def test_recommendation_search_through_the_alias(prepared, data_dir, es_url, index_prefix, es):
    _publish(prepared, data_dir, es_url, index_prefix)
    user = es.get(index=f"{index_prefix}-users", id="2", source_exclude_vectors=False)["_source"]
    resp = es.search(index=f"{index_prefix}-movies", knn={"field": "factors", "query_vector": user["factors"], "k": 5, "num_candidates": 20})
    hits = resp["hits"]["hits"]
    assert len(hits) == 5
    # max_inner_product score of the best hit = transform of u'·v' computed from Spark's factors
    items = {str(k): v for k, v in _collect(prepared.model.item_factors, "movie_id").items()}
    dots = {mid: float(np.dot(np.float32(user["factors"]), np.float32(v))) for mid, v in items.items()}
    best = max(dots, key=dots.get)
    assert hits[0]["_id"] == best
    expected = dots[best] + 1 if dots[best] >= 0 else 1 / (1 - dots[best])
    assert hits[0]["_score"] == pytest.approx(expected, rel=1e-5)


def _collect(frame, id_col):
    return {int(r[0]): list(r[1]) for r in frame.select(id_col, "factors").collect()}


def test_spark_factors_equal_es_vectors_in_float32(prepared, data_dir, es_url, index_prefix, es):
    _publish(prepared, data_dir, es_url, index_prefix)
    for kind, frame, id_col in (("users", prepared.model.user_factors, "user_id"), ("movies", prepared.model.item_factors, "movie_id")):
        spark_vectors = _collect(frame, id_col)
        resp = es.search(index=f"{index_prefix}-{kind}", size=1000, query={"match_all": {}}, source={"includes": ["factors"], "exclude_vectors": False})
        es_vectors = {int(h["_id"]): h["_source"]["factors"] for h in resp["hits"]["hits"] if "factors" in h["_source"]}
        assert set(es_vectors) == set(spark_vectors)
        for key, vector in spark_vectors.items():
            assert np.array_equal(np.asarray(es_vectors[key], dtype=np.float32), np.asarray(vector, dtype=np.float32)), (kind, key)


def test_second_run_swaps_atomically_under_concurrent_reads(prepared, data_dir, es_url, index_prefix, es):
    first = _publish(prepared, data_dir, es_url, index_prefix).record
    seen: list[tuple[str, str]] = []
    problems: list[str] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            try:
                for kind in indices.RUN_KINDS:
                    count = es.count(index=f"{index_prefix}-{kind}")["count"]
                    if count != prepared.counts[kind]:
                        problems.append(f"{kind}: count {count}")
                # One request over both aliases: ES resolves them against one cluster state, and one
                # `POST /_aliases` moves both in one state update, so a request sees one run, never two.
                # (Two separate requests may legitimately straddle the swap.)
                both = f"{index_prefix}-movies,{index_prefix}-users"
                aggs = {"runs": {"terms": {"field": "run_id"}}}
                buckets = es.search(index=both, size=0, aggs=aggs)["aggregations"]["runs"]["buckets"]
                seen.append(tuple(sorted(b["key"] for b in buckets)))
            except (ApiError, TransportError, IndexError, KeyError) as exc:  # a 404, an empty answer…: what this test hunts
                problems.append(repr(exc))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        second = _publish(prepared, data_dir, es_url, index_prefix).record
    finally:
        stop.set()
        thread.join()
    assert problems == []
    # every read saw one whole run; once the new run was seen, never the old one again
    runs_seen = [ids[0] for ids in seen if len(ids) == 1]
    assert len(runs_seen) == len(seen) > 0
    assert set(runs_seen) <= {first["run_id"], second["run_id"]}
    first_new = runs_seen.index(second["run_id"]) if second["run_id"] in runs_seen else len(runs_seen)
    assert all(r == second["run_id"] for r in runs_seen[first_new:])
    assert indices.live_run_id(es, index_prefix) == second["run_id"]
    assert runs.get_run(es, index_prefix, first["run_id"])["active"] is False
    assert runs.get_run(es, index_prefix, second["run_id"])["active"] is True


def test_prune_keeps_the_last_n(prepared, data_dir, es_url, index_prefix, es):
    ids = [_publish(prepared, data_dir, es_url, index_prefix, keep=2).record["run_id"] for _ in range(3)]
    existing = set(es.indices.get(index=f"{index_prefix}-movies-*").body)
    # the two created last survive, whatever order their names sort in (same-second run ids)
    assert existing == {f"{index_prefix}-movies-{r}" for r in ids[1:]}


def test_failed_verification_leaves_the_previous_run_served(prepared, data_dir, es_url, index_prefix, es):
    first = _publish(prepared, data_dir, es_url, index_prefix).record
    some_user = next(iter(prepared.samples["users"]))
    wrong = dataclasses.replace(prepared, samples={"users": {some_user: [9.0] * (RANK + 1)}})
    with pytest.raises(ExportError, match="verification"):
        _publish(wrong, data_dir, es_url, index_prefix)
    assert indices.live_run_id(es, index_prefix) == first["run_id"]
    failed = [r for r in runs.list_runs(es, index_prefix) if r["status"] == "failed"]
    assert len(failed) == 1 and failed[0]["active"] is False
    assert failed[0]["errors"][0]["step"] == "verify"
    assert f"document {some_user}: factors differs" in failed[0]["errors"][0]["message"]
    assert not es.indices.exists(index=failed[0]["indices"]["movies"])  # deleted (no --keep-failed)


def test_keep_failed_keeps_the_failed_indices(prepared, data_dir, es_url, index_prefix, es):
    wrong = dataclasses.replace(prepared, counts={**prepared.counts, "ratings": prepared.counts["ratings"] + 1})
    with pytest.raises(ExportError):
        _publish(wrong, data_dir, es_url, index_prefix, keep_failed=True)
    (failed,) = runs.list_runs(es, index_prefix)
    assert failed["status"] == "failed"
    assert all(es.indices.exists(index=name) for name in failed["indices"].values())
    assert indices.alias_targets(es, index_prefix) == {"movies": [], "users": [], "ratings": []}


def test_unreachable_cluster_fails_before_any_spark_work(data_dir, monkeypatch):
    calls = []
    monkeypatch.setattr(workflow, "prepare", lambda *a, **k: calls.append(a))
    with pytest.raises(ExportError, match=r"Elasticsearch at http://127\.0\.0\.1:9 is unreachable"):
        run_pipeline(_config(data_dir, "http://127.0.0.1:9", "mr"), environ={})
    assert calls == []


def test_items_rejected_once_with_429_are_retried(prepared, data_dir, es_url, index_prefix, es, es_double):
    fault = es_double.reject_bulk_items(times=5, index=f"{index_prefix}-ratings-*")
    record = _publish(prepared, data_dir, es_url, index_prefix).record
    assert fault.hits == 5
    assert record["status"] == "succeeded"
    assert es.count(index=f"{index_prefix}-ratings")["count"] == N_RATINGS


def test_5xx_items_and_whole_requests_are_retried(prepared, data_dir, es_url, index_prefix, es, es_double):
    items = es_double.fail_bulk_items(status=503, index=f"{index_prefix}-users-*", ids={"1", "2"}, times=2)
    requests = es_double.fail_requests(2, status=502, path="/_bulk")
    record = _publish(prepared, data_dir, es_url, index_prefix).record
    assert (items.hits, requests.remaining) == (2, 0)
    assert record["status"] == "succeeded"
    assert es.count(index=f"{index_prefix}-users")["count"] == N_USERS


def test_items_failing_for_good_fail_the_run_and_keep_the_old_one_served(prepared, data_dir, es_url, index_prefix, es, es_double):
    first = _publish(prepared, data_dir, es_url, index_prefix).record
    fault = es_double.fail_bulk_items(status=503, index=f"{index_prefix}-movies-*", ids={"7"})  # forever
    with pytest.raises(ExportError, match=r"1 of 45 documents failed to index into .*-movies-"):
        _publish(prepared, data_dir, es_url, index_prefix)
    assert fault.hits == 4  # the first try and max_retries=3 more
    assert indices.live_run_id(es, index_prefix) == first["run_id"]
    assert es.count(index=f"{index_prefix}-movies")["count"] == N_MOVIES
    failed = next(r for r in runs.list_runs(es, index_prefix) if r["status"] == "failed")
    assert failed["active"] is False and failed["finished_at"]
    (error,) = failed["errors"]
    assert error["step"] == "export_movies" and error["type"] == "ExportError"
    assert error["items"][0]["id"] == "7" and error["items"][0]["status"] == 503
    assert not any(es.indices.exists(index=name) for name in failed["indices"].values())
    assert runs.get_run(es, index_prefix, first["run_id"])["active"] is True


def test_rerun_after_a_failure_succeeds(prepared, data_dir, es_url, index_prefix, es, es_double):
    es_double.fail_bulk_items(status=400, error_type="document_parsing_exception", index=f"{index_prefix}-users-*", ids={"3"})
    with pytest.raises(ExportError):
        _publish(prepared, data_dir, es_url, index_prefix)
    es_double.clear_faults()
    record = _publish(prepared, data_dir, es_url, index_prefix).record
    assert indices.live_run_id(es, index_prefix) == record["run_id"]
    assert sorted(r["status"] for r in runs.list_runs(es, index_prefix)) == ["failed", "succeeded"]


def test_tune_then_evaluate_trains_the_winner(monkeypatch, data_dir):
    from pipeline import evaluate

    calls = []

    def fake_tune(spark, tables, dataset, data_dir_, params):
        calls.append(("tune", params.rank))
        return {"protocol": "msr-100k", "best_params": params.replace(rank=7).to_dict(), "trials": []}

    def fake_evaluate(spark, tables, dataset, data_dir_, params):
        calls.append(("evaluate", params.rank))
        return {"protocol": "msr-100k", "metrics": {"ndcg_at_10": 0.5}}

    monkeypatch.setattr(evaluate, "tune_for_run", fake_tune)
    monkeypatch.setattr(evaluate, "evaluate_for_run", fake_evaluate)
    timings: dict[str, float] = {}
    config = RunConfig(dataset="ml-100k", data_dir=data_dir, params=ALSParams(rank=3), tune=True, evaluate=True)
    params, metrics, report = workflow._evaluate(None, None, config, workflow._Timer(timings))
    assert calls == [("tune", 3), ("evaluate", 7)]
    assert params == ALSParams(rank=7)
    assert metrics == {"ndcg_at_10": 0.5}
    assert report["tuning"]["best_params"]["rank"] == 7 and report["evaluation"]["protocol"] == "msr-100k"
    assert set(timings) == {"tune", "evaluate"}


def test_a_failing_spark_step_is_recorded_as_failed(spark, es_url, index_prefix, es, tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        run_pipeline(_config(tmp_path / "empty", es_url, index_prefix), spark=spark, environ={})
    (record,) = runs.list_runs(es, index_prefix)
    assert record["status"] == "failed" and record["active"] is False
    assert record["errors"][0]["step"] == "hash_inputs" and record["errors"][0]["type"] == "DatasetError"
    assert indices.alias_targets(es, index_prefix) == {"movies": [], "users": [], "ratings": []}
    assert not es.indices.exists(index=f"{index_prefix}-movies-{record['run_id']}")
