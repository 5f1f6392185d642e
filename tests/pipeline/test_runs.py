"""Run ids, input hashes and run records."""

from __future__ import annotations

import datetime as dt
import hashlib
import re

import pytest

import es_mappings
from pipeline import indices, runs


def test_new_run_id_format_and_order():
    t = dt.datetime(2026, 11, 22, 10, 19, 0, tzinfo=dt.timezone.utc)
    assert runs.new_run_id(t, "ab12cd") == "20261122-101900-ab12cd"
    generated = runs.new_run_id()
    assert re.fullmatch(r"\d{8}-\d{6}-[0-9a-f]{6}", generated)
    later = runs.new_run_id(t + dt.timedelta(seconds=1), "000000")
    assert later > runs.new_run_id(t, "ffffff")


def test_file_hashes_and_data_hash(tmp_path):
    (tmp_path / "u.data").write_bytes(b"1\t2\t3\t4\n")
    (tmp_path / "u.item").write_bytes(b"")
    hashes = runs.file_hashes([tmp_path / "u.item", tmp_path / "u.data"], root=tmp_path)
    assert hashes == {
        "u.data": hashlib.sha256(b"1\t2\t3\t4\n").hexdigest(),
        "u.item": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",  # sha256 of nothing
    }
    expected = hashlib.sha256(f"u.data:{hashes['u.data']}\nu.item:{hashes['u.item']}\n".encode()).hexdigest()
    assert runs.data_hash(hashes) == expected
    assert runs.data_hash(dict(reversed(list(hashes.items())))) == expected


def test_run_record_fields_are_all_mapped():
    started = dt.datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=dt.timezone.utc)
    record = runs.run_record("r1", dataset="ml-100k", started_at=started, data_files={"u.data": "ab"}, params={"rank": 8}, indices={"movies": "m"})
    assert record["started_at"] == "2026-01-02T03:04:05.678Z"
    assert record["status"] == "running" and record["active"] is False
    assert set(record) <= set(es_mappings.properties("runs"))


def test_finish_fields_keep_only_mapped_counts_and_metrics():
    started = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    fields = runs.finish_fields(
        "succeeded",
        started,
        started + dt.timedelta(seconds=12.5),
        timings={"export": 1.23456},
        counts={"movies": 3, "users": 2, "ratings": 9, "rejected": 0},
        metrics={"precision_at_10": 0.25, "hit_rate": 0.9},
    )
    assert fields == {
        "status": "succeeded",
        "finished_at": "2026-01-01T00:00:12.500Z",
        "duration_s": 12.5,
        "timings": {"export": 1.235},
        "errors": [],
        "counts": {"movies": 3, "users": 2, "ratings": 9, "rejected": 0},
        "metrics": {"precision_at_10": 0.25},
    }


def test_model_fields():
    meta = {"kind": "implicit", "rank": 4, "vector_size": 4, "item_gramian": [[1.0]]}
    assert runs.model_fields(meta, {"rank": 4}) == {"model_kind": "implicit", "vector_size": 4, "params": {"rank": 4}, "model": meta}


@pytest.mark.es
def test_records_round_trip_and_active_follows_the_alias(es, index_prefix):
    indices.ensure_runs_index(es, index_prefix)
    started = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    for run_id in ("20260101-000000-aaaaaa", "20260102-000000-bbbbbb"):
        runs.put_run(es, index_prefix, runs.run_record(run_id, dataset="ml-100k", started_at=started))
    runs.update_run(es, index_prefix, "20260101-000000-aaaaaa", {"active": True, "status": "succeeded"})
    names = indices.create_run_indices(es, index_prefix, "20260102-000000-bbbbbb", vector_size=2, rank=2)
    indices.swap_aliases(es, index_prefix, names)
    assert runs.sync_active(es, index_prefix) == "20260102-000000-bbbbbb"
    listed = runs.list_runs(es, index_prefix)
    assert [(r["run_id"], r["active"]) for r in listed] == [("20260102-000000-bbbbbb", True), ("20260101-000000-aaaaaa", False)]
    assert runs.get_run(es, index_prefix, "20260101-000000-aaaaaa")["status"] == "succeeded"
