"""Bulk actions from rows (pure) and the retrying bulk writer (against the ES double)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from elastic_transport import ConnectionError as TransportConnectionError

import es_mappings
from pipeline import export
from pipeline.export import (
    BulkSettings,
    PartitionStats,
    bulk_write,
    to_actions,
    unit_vector,
)


def test_movie_action_has_id_fields_vectors_and_run_id():
    row = {
        "movie_id": 7,
        "title": "Toy Story (1995)",
        "year": 1995,
        "genres": ["Animation", "Comedy"],
        "rating_count": 3,
        "rating_mean": 4.0,
        "bayes_rating": 3.8,
        "popularity": 0.5,
        "imdb_id": None,
        "factors": [3.0, 4.0, 0.25],  # explicit layout [v, b_i] with rank 2
    }
    (action,) = to_actions([row], "mr-movies-r1", "movies", run_id="r1", rank=2)
    assert action["_op_type"] == "index"
    assert action["_index"] == "mr-movies-r1"
    assert action["_id"] == "7"
    src = action["_source"]
    assert src["factors"] == [3.0, 4.0, 0.25]
    # unit copy of the latent part only: (3, 4) / 5, bias entry left out
    assert src["factors_unit"] == pytest.approx([0.6, 0.8], abs=1e-7)
    assert len(src["factors_unit"]) == 2
    assert src["run_id"] == "r1"
    assert "imdb_id" not in src  # nulls are left out
    assert src["title"] == "Toy Story (1995)" and src["genres"] == ["Animation", "Comedy"]


def test_movie_without_vector_or_with_zero_vector_has_no_unit_copy():
    rows = [
        {"movie_id": 1, "title": "a", "genres": [], "factors": None},
        {"movie_id": 2, "title": "b", "genres": [], "factors": [0.0, 0.0]},
    ]
    first, second = (a["_source"] for a in to_actions(rows, "i", "movies", run_id="r", rank=2))
    assert "factors" not in first and "factors_unit" not in first
    assert second["factors"] == [0.0, 0.0] and "factors_unit" not in second


def test_movie_similar_vector_is_exported_as_float32():
    row = {"movie_id": 3, "title": "c", "genres": [], "factors": [1.0, 0.0], "similar": [0.1, 0.3, 0.9486832980505138]}
    (src,) = (a["_source"] for a in to_actions([row], "i", "movies", run_id="r", rank=2))
    assert src["similar"] == [float(np.float32(x)) for x in row["similar"]]


def test_user_action_is_training_source_and_drops_unmapped_columns():
    row = {"user_id": 42, "age": 30, "age_band": "25-34", "factors": [0.5, 1.0], "not_a_field": 1, "rated_movie_ids": [1, 2]}
    (action,) = to_actions([row], "mr-users-r", "users", run_id="r")
    assert action["_id"] == "42"
    assert action["_source"] == {
        "user_id": 42,
        "age": 30,
        "age_band": "25-34",
        "factors": [0.5, 1.0],
        "rated_movie_ids": [1, 2],
        "source": "training",
        "run_id": "r",
    }


def test_rating_action_id_and_fields():
    row = {"user_id": 3, "movie_id": 9, "rating": 4.5, "rated_at": 881250949, "title": "X", "year": None, "genres": ["Drama"], "gender": "F"}
    (action,) = to_actions([row], "mr-ratings-r", "ratings")
    assert action["_id"] == "3-9"
    assert action["_source"] == {"user_id": 3, "movie_id": 9, "rating": 4.5, "rated_at": 881250949, "title": "X", "genres": ["Drama"], "gender": "F"}


def test_every_document_field_is_in_the_mapping():
    rows = {
        "movies": {"movie_id": 1, "title": "t", "genres": ["g"], "factors": [1.0, 2.0]},
        "users": {"user_id": 1, "factors": [1.0, 2.0]},
        "ratings": {"user_id": 1, "movie_id": 2, "rating": 1.0, "rated_at": 1},
    }
    for kind, row in rows.items():
        (action,) = to_actions([row], "i", kind, run_id="r", rank=2)
        assert set(action["_source"]) <= set(es_mappings.properties(kind)), kind


def test_vectors_are_float32_values():
    value = 0.1  # not representable in float32: stored as float32(0.1)
    (action,) = to_actions([{"user_id": 1, "factors": [value, 1 / 3]}], "i", "users")
    got = action["_source"]["factors"]
    assert got == [float(np.float32(0.1)), float(np.float32(1 / 3))]
    assert np.array_equal(np.asarray(got, dtype=np.float32), np.asarray([value, 1 / 3], dtype=np.float32))


def test_unit_vector_hand_computed():
    assert unit_vector([0.0, -2.0]) == [0.0, -1.0]
    assert unit_vector([1.0, 1.0]) == pytest.approx([math.sqrt(0.5)] * 2)
    assert unit_vector([0.0, 0.0]) is None
    assert unit_vector([]) is None


def test_unknown_kind_and_missing_rank_are_rejected():
    with pytest.raises(ValueError, match="unknown document kind"):
        list(to_actions([{"x": 1}], "i", "runs"))
    with pytest.raises(ValueError, match="rank"):
        list(to_actions([{"movie_id": 1, "factors": [1.0]}], "i", "movies"))


def test_bulk_settings_validation_and_backoff():
    settings = BulkSettings(initial_backoff=0.5, max_backoff=3.0)
    assert [settings.backoff(n) for n in (1, 2, 3, 4, 5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    with pytest.raises(ValueError):
        BulkSettings(chunk_size=0)
    with pytest.raises(ValueError):
        BulkSettings(initial_backoff=5, max_backoff=1)


def test_partition_stats_add_caps_error_samples():
    total = PartitionStats()
    total.add(PartitionStats(ok=3, failed=2, errors=[{"id": "a"}, {"id": "b"}]), max_errors=3)
    total.add(PartitionStats(ok=1, failed=2, retries=1, errors=[{"id": "c"}, {"id": "d"}]), max_errors=3)
    assert (total.ok, total.failed, total.retries) == (4, 4, 1)
    assert [e["id"] for e in total.errors] == ["a", "b", "c"]


class _FlakyClient:
    """Stands in for a client whose connection drops on the first bulk request.

    Only `options()`, `transport.serializers` and `bulk()` are used by streaming_bulk.
    """

    def __init__(self, real, failures: int) -> None:
        self._real = real
        self.failures = failures
        self.transport = real.transport
        self._otel = real._otel
        self.calls = 0

    def options(self, **kwargs):
        return self

    def bulk(self, *args, **kwargs):
        self.calls += 1
        if self.failures > 0:
            self.failures -= 1
            raise TransportConnectionError("connection refused")
        return self._real.bulk(*args, **kwargs)


def _movie_rows(n: int) -> list[dict]:
    return [{"movie_id": i, "title": f"m{i}", "genres": ["Drama"], "factors": [float(i), 1.0]} for i in range(1, n + 1)]


def _create(es, index: str, kind: str = "movies") -> None:
    dims = {"movies": {"factors": 2, "factors_unit": 2, "similar": 2}, "users": {"factors": 2}, "ratings": {}}[kind]
    es.indices.create(index=index, **es_mappings.index_body(kind, dims))


@pytest.mark.es
def test_bulk_write_retries_connection_errors_with_backoff(es, index_prefix):
    index = f"{index_prefix}-movies-r"
    _create(es, index)
    waits: list[float] = []
    client = _FlakyClient(es, failures=2)
    stats = bulk_write(
        client,
        to_actions(_movie_rows(7), index, "movies", run_id="r", rank=2),
        BulkSettings(chunk_size=3, initial_backoff=0.5, max_backoff=4),
        sleep=waits.append,
    )
    assert (stats.ok, stats.failed, stats.retries) == (7, 0, 2)
    assert waits == [0.5, 1.0]
    es.indices.refresh(index=index)
    assert es.count(index=index)["count"] == 7


@pytest.mark.es
def test_bulk_write_gives_up_after_max_retries_and_reports(es, index_prefix):
    index = f"{index_prefix}-movies-r"
    _create(es, index)
    client = _FlakyClient(es, failures=100)
    stats = bulk_write(
        client, to_actions(_movie_rows(4), index, "movies", run_id="r", rank=2), BulkSettings(chunk_size=10, max_retries=2, max_error_samples=3), sleep=lambda s: None
    )
    assert (stats.ok, stats.failed) == (0, 4)
    assert len(stats.errors) == 3
    assert stats.errors[0]["id"] == "1" and "connection refused" in stats.errors[0]["error"]


@pytest.mark.es
def test_bulk_write_reports_mapping_errors_without_raising(es, index_prefix):
    index = f"{index_prefix}-users-r"
    _create(es, index, "users")
    actions = [
        {"_op_type": "index", "_index": index, "_id": "1", "_source": {"user_id": 1, "factors": [1.0, 2.0]}},
        {"_op_type": "index", "_index": index, "_id": "2", "_source": {"user_id": 2, "factors": [1.0, 2.0, 3.0]}},
    ]
    stats = bulk_write(es, actions, BulkSettings(max_retries=1, initial_backoff=0.01, max_backoff=0.01))
    assert (stats.ok, stats.failed) == (1, 1)
    assert stats.errors[0]["id"] == "2" and stats.errors[0]["status"] == 400


@pytest.mark.es
def test_bulk_write_through_a_deleted_writer_alias_fails_and_creates_nothing(es, index_prefix):
    """What a stopped run's late bulk request meets: its index (and so its writer alias) is gone."""
    from pipeline.indices import writer_alias

    index = f"{index_prefix}-movies-r"
    es.indices.create(index=index, aliases={writer_alias(index): {}}, **es_mappings.index_body("movies", {"factors": 2, "factors_unit": 2, "similar": 2}))
    ok = bulk_write(es, to_actions(_movie_rows(2), writer_alias(index), "movies", run_id="r", rank=2), BulkSettings(), require_alias=True)
    assert (ok.ok, ok.failed) == (2, 0)
    es.indices.delete(index=index)
    late = bulk_write(es, to_actions(_movie_rows(3), writer_alias(index), "movies", run_id="r", rank=2), BulkSettings(max_retries=0),
                      require_alias=True)
    assert (late.ok, late.failed) == (0, 3)
    assert not es.indices.exists(index=index) and not es.indices.exists(index=writer_alias(index))


def test_write_partition_returns_one_stats_dict(monkeypatch):
    seen: list[list[str]] = []
    aliased: list[bool] = []

    def fake_bulk_write(client, actions, settings, sleep=None, *, require_alias=False):
        ids = [a["_id"] for a in actions]
        seen.append(ids)
        aliased.append(require_alias)
        return PartitionStats(ok=len(ids) - 1, failed=1, errors=[{"id": "3"}])

    monkeypatch.setattr(export, "bulk_write", fake_bulk_write)
    rows = [{"user_id": i, "factors": [1.0, 0.0]} for i in range(1, 6)]
    (stats,) = list(
        export.write_partition(
            2, iter(rows), client_options={"hosts": ["http://127.0.0.1:9"]}, index="i", kind="users", run_id="r", rank=None,
            settings=BulkSettings(), require_alias=True,
        )
    )
    assert seen == [["1", "2", "3", "4", "5"]] and aliased == [True]
    assert (stats["partition"], stats["ok"], stats["failed"], stats["errors"]) == (2, 4, 1, [{"id": "3"}])
