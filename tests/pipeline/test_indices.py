"""Versioned indices, verification, the atomic alias swap and pruning."""

from __future__ import annotations

import pytest

from pipeline import indices
from pipeline.indices import (
    alias_actions,
    compare_vectors,
    prune_plan,
    vector_sample_query,
)


def test_run_indices_and_dims():
    assert indices.run_indices("mr", "20260101-000000-abcdef") == {
        "movies": "mr-movies-20260101-000000-abcdef",
        "users": "mr-users-20260101-000000-abcdef",
        "ratings": "mr-ratings-20260101-000000-abcdef",
    }
    assert indices.index_dims(9, 8) == {"movies": {"factors": 9, "factors_unit": 8, "similar": 8}, "users": {"factors": 9}, "ratings": {}}
    assert indices.index_dims(9, 8, 30)["movies"] == {"factors": 9, "factors_unit": 8, "similar": 30}
    assert indices.runs_index("mr") == "mr-runs"


def test_alias_actions_remove_old_and_add_new_for_every_kind():
    current = {"movies": ["mr-movies-a"], "users": ["mr-users-a"], "ratings": []}
    new = {"movies": "mr-movies-b", "users": "mr-users-b", "ratings": "mr-ratings-b"}
    assert alias_actions("mr", current, new) == [
        {"remove": {"index": "mr-movies-a", "alias": "mr-movies"}},
        {"add": {"index": "mr-movies-b", "alias": "mr-movies"}},
        {"remove": {"index": "mr-users-a", "alias": "mr-users"}},
        {"add": {"index": "mr-users-b", "alias": "mr-users"}},
        {"add": {"index": "mr-ratings-b", "alias": "mr-ratings"}},
    ]


def test_prune_plan_keeps_newest_per_kind_and_the_live_run():
    day = 86_400_000  # creation dates in ms, one day apart, in the same order as the names
    existing = {
        "mr-movies-20260101-000000-aaaaaa": 1 * day,
        "mr-movies-20260102-000000-bbbbbb": 2 * day,
        "mr-movies-20260103-000000-cccccc": 3 * day,
        "mr-movies-20260104-000000-dddddd": 4 * day,
        "mr-users-20260101-000000-aaaaaa": 1 * day,
        "mr-users-20260104-000000-dddddd": 4 * day,
        "mr-runs": 0,
        "other-movies-20250101-000000-eeeeee": 0,
    }
    live = ["mr-movies-20260101-000000-aaaaaa"]  # e.g. rolled back by hand: never deleted
    assert prune_plan(existing, "mr", keep=2, protect=live) == ["mr-movies-20260102-000000-bbbbbb"]
    assert prune_plan(existing, "mr", keep=1) == [
        "mr-movies-20260103-000000-cccccc",
        "mr-movies-20260102-000000-bbbbbb",
        "mr-movies-20260101-000000-aaaaaa",
        "mr-users-20260101-000000-aaaaaa",
    ]
    with pytest.raises(ValueError):
        prune_plan(existing, "mr", keep=0)


def test_prune_plan_orders_runs_of_the_same_second_by_creation_date():
    # Same start second: the random suffix sorts "ffffff" after "000001", but it was created first.
    existing = {
        "mr-movies-20260101-000000-ffffff": 1_000,
        "mr-movies-20260101-000000-000001": 1_005,
        "mr-movies-20260101-000000-800000": 1_009,
    }
    assert prune_plan(existing, "mr", keep=2) == ["mr-movies-20260101-000000-ffffff"]


def test_prune_plan_never_keeps_failed_abandoned_or_unrecorded_runs_in_place_of_good_ones():
    """The bug: an orphan of a killed run, created last, took a kept place and the served run's predecessor went."""
    existing = {}
    for n, run in enumerate(["aaaaaa", "bbbbbb", "cccccc", "dddddd", "eeeeee", "ffffff"]):
        for kind in ("movies", "users", "ratings"):
            existing[f"mr-{kind}-20260101-00000{n}-{run}"] = n * 1_000
    run = {r: f"20260101-00000{n}-{r}" for n, r in enumerate(["aaaaaa", "bbbbbb", "cccccc", "dddddd", "eeeeee", "ffffff"])}
    statuses = {run["aaaaaa"]: "succeeded", run["bbbbbb"]: "succeeded", run["cccccc"]: "running",
                run["dddddd"]: "failed", run["eeeeee"]: "abandoned"}  # ffffff: no record at all
    served = [f"mr-{k}-{run['bbbbbb']}" for k in ("movies", "users", "ratings")]
    doomed = prune_plan(existing, "mr", keep=2, protect=served, statuses=statuses)
    gone = {name.split("-", 2)[2] for name in doomed}
    assert gone == {run["dddddd"], run["eeeeee"], run["ffffff"]}
    assert len(doomed) == 9
    # keep=1: the served run stays, the older succeeded one goes, the one still running stays
    gone = {name.split("-", 2)[2] for name in prune_plan(existing, "mr", keep=1, protect=served, statuses=statuses)}
    assert gone == {run["aaaaaa"], run["dddddd"], run["eeeeee"], run["ffffff"]}


def test_vector_sample_query_asks_for_vectors_in_source():
    assert vector_sample_query(["1", "2"]) == {
        "query": {"ids": {"values": ["1", "2"]}},
        "size": 2,
        "_source": {"includes": ["factors"], "exclude_vectors": False},
    }


def test_compare_vectors_at_float32_precision():
    expected = {"1": [0.1, 0.2], "2": [1.0, 2.0], "3": [1.0]}
    hits = [
        {"_id": "1", "_source": {"factors": [0.10000000149011612, 0.20000000298023224]}},  # float32 of 0.1, 0.2
        {"_id": "2", "_source": {"factors": [1.0, 2.0001]}},
    ]
    assert compare_vectors(expected, hits) == [
        "document 2: factors differs from the Spark vector",
        "document 3: factors missing",
    ]


def _make_run(es, prefix: str, run_id: str, n_movies: int = 2) -> dict[str, str]:
    names = indices.create_run_indices(es, prefix, run_id, vector_size=2, rank=2)
    for i in range(n_movies):
        es.index(index=names["movies"], id=str(i), document={"movie_id": i, "title": "t", "factors": [1.0, float(i)]})
    es.indices.refresh(index=names["movies"])
    return names


@pytest.mark.es
def test_create_swap_and_prune_against_the_cluster(es, index_prefix):
    assert indices.ensure_runs_index(es, index_prefix) is True
    assert indices.ensure_runs_index(es, index_prefix) is False  # idempotent
    first = _make_run(es, index_prefix, "20260101-000000-aaaaaa", 2)
    assert indices.swap_aliases(es, index_prefix, first) == {"movies": [], "users": [], "ratings": []}
    assert indices.live_run_id(es, index_prefix) == "20260101-000000-aaaaaa"
    second = _make_run(es, index_prefix, "20260102-000000-bbbbbb", 3)
    before = indices.swap_aliases(es, index_prefix, second)
    assert before["movies"] == [first["movies"]]
    assert indices.alias_targets(es, index_prefix) == {k: [v] for k, v in second.items()}
    assert es.count(index=f"{index_prefix}-movies")["count"] == 3
    third = _make_run(es, index_prefix, "20260103-000000-cccccc", 1)  # newer but not live
    orphan = _make_run(es, index_prefix, "20260104-000000-dddddd", 1)  # newest, but no run record: not a run of ours
    for run_id in ("20260101-000000-aaaaaa", "20260102-000000-bbbbbb", "20260103-000000-cccccc"):
        es.index(index=indices.runs_index(index_prefix), id=run_id, document={"run_id": run_id, "status": "succeeded"},
                 refresh=True)
    deleted = indices.prune(es, index_prefix, keep=1)
    assert sorted(deleted) == sorted([*first.values(), *orphan.values()])
    assert es.indices.exists(index=second["movies"])  # live, though not the newest
    assert es.indices.exists(index=third["movies"])  # the newest succeeded run
    assert es.indices.exists(index=indices.runs_index(index_prefix))


@pytest.mark.es
def test_verify_finds_count_and_vector_mismatches(es, index_prefix):
    names = _make_run(es, index_prefix, "20260101-000000-aaaaaa", 2)
    good = indices.verify(es, names, {"movies": 2, "users": 0, "ratings": 0}, {"movies": {"1": [1.0, 1.0]}})
    assert good == []
    bad = indices.verify(es, names, {"movies": 3, "users": 0, "ratings": 0}, {"movies": {"1": [1.0, 1.5]}})
    assert bad == [
        f"{names['movies']}: 2 documents, expected 3",
        f"{names['movies']}: document 1: factors differs from the Spark vector",
    ]
