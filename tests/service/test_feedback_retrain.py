"""What users tell the API survives a retrain: accounts, ids, ratings, exclusions, and posts made during the run.

The session's model is served (run 1); users are created and rate through the API; then `run_pipeline`
trains again with Spark on the dataset plus that feedback. While the run exports (after it read the
feedback and trained, before the swap), more posts arrive. Afterwards every account and rating is there:
users the run trained on carry Spark's vector, users whose feedback changed during the run were folded
in against the new model once the aliases moved.
"""

from __future__ import annotations

import numpy as np
import pytest

from es_mappings import ACCOUNT_ID_MIN
from pipeline import indices, workflow
from pipeline.workflow import RunConfig, run_pipeline
from service.model import ActiveModel
from tests.service.conftest import make_app
from tests.service.trained import PARAMS

pytestmark = [pytest.mark.spark, pytest.mark.es]


def ratings_body(ratings: dict[int, float]) -> dict:
    return {"ratings": [{"movie_id": m, "rating": r} for m, r in ratings.items()]}


def post(client, path: str, body: dict, status: int) -> dict:
    resp = client.post(path, json=body)
    assert resp.status_code == status, resp.get_json()
    return resp.get_json()


def folded(es, prefix: str, record: dict, ratings: dict[int, float]) -> np.ndarray:
    """The fold-in of `ratings` against the movie vectors the run `record` serves."""
    index = record["indices"]["movies"]
    ids = sorted(ratings)
    hits = es.search(index=index, query={"ids": {"values": [str(m) for m in ids]}}, size=len(ids),
                     source={"includes": ["movie_id", "factors"], "exclude_vectors": False})["hits"]["hits"]
    vectors = {int(h["_source"]["movie_id"]): h["_source"]["factors"] for h in hits if h["_source"].get("factors")}
    usable = [m for m in ids if m in vectors]
    model = ActiveModel.from_run(record)
    return model.fold_in(np.asarray([vectors[m] for m in usable]), np.asarray([ratings[m] for m in usable])).vector


def test_a_retrain_keeps_every_account_rating_and_exclusion(spark, es, es_url, served, monkeypatch):
    t = served.trained
    client = make_app(es_url, served.prefix).test_client()
    movies = sorted(m for m, r in t.movies.items() if r.get("factors"))
    ml, ml2 = sorted(t.users)[:2]
    unrated = {u: [m for m in movies if m not in t.ratings[u]] for u in (ml, ml2)}

    a = post(client, "/users", {**ratings_body({movies[0]: 5.0, movies[1]: 4.0}), "age": 31, "gender": "F"}, 201)["user_id"]
    b = post(client, "/users", ratings_body({movies[2]: 3.0, movies[3]: 5.0}), 201)["user_id"]
    post(client, f"/users/{a}/ratings", ratings_body({movies[4]: 2.0}), 200)
    post(client, f"/users/{ml}/ratings", ratings_body({unrated[ml][0]: 5.0}), 200)
    post(client, f"/users/{ml2}/ratings", ratings_body({unrated[ml2][0]: 4.0}), 200)
    assert (a, b) == (ACCOUNT_ID_MIN, ACCOUNT_ID_MIN + 1)

    during: dict[str, int] = {}
    export_all = workflow._export_all

    def export_while_users_post(*args, **kwargs):
        if not during:  # the run has read the feedback and trained; the old run is still served
            during["c"] = post(client, "/users", ratings_body({movies[5]: 4.0, movies[6]: 5.0}), 201)["user_id"]
            post(client, f"/users/{a}/ratings", ratings_body({movies[7]: 5.0}), 200)
            post(client, f"/users/{ml}/ratings", ratings_body({unrated[ml][1]: 1.0}), 200)
            during["served"] = client.get(f"/users/{a}").get_json()["run_id"] == served.run_id
        return export_all(*args, **kwargs)

    monkeypatch.setattr(workflow, "_export_all", export_while_users_post)
    config = RunConfig(dataset=t.dataset, data_dir=t.data_dir, es_url=es_url, prefix=served.prefix, params=PARAMS, sample_size=3)
    result = run_pipeline(config, spark=spark, environ={})
    record = result.record
    c = during["c"]
    assert during["served"] and c == ACCOUNT_ID_MIN + 2
    assert record["status"] == "succeeded" and record["run_id"] != served.run_id
    assert indices.live_run_id(es, served.prefix) == record["run_id"]
    # trained on: a (3 ratings), b (2), ml (1), ml2 (1); re-folded after the swap: c, a and ml
    assert (record["counts"]["online_users"], record["counts"]["online_ratings"]) == (4, 7)
    assert record["counts"]["refolded_users"] == 3

    expected = {
        a: {movies[0]: 5.0, movies[1]: 4.0, movies[4]: 2.0, movies[7]: 5.0},
        b: {movies[2]: 3.0, movies[3]: 5.0},
        c: {movies[5]: 4.0, movies[6]: 5.0},
        ml: {**t.ratings[ml], unrated[ml][0]: 5.0, unrated[ml][1]: 1.0},
        ml2: {**t.ratings[ml2], unrated[ml2][0]: 4.0},
    }
    for user_id, ratings in expected.items():
        user = client.get(f"/users/{user_id}").get_json()
        assert user["rated_movie_ids"] == sorted(ratings) and user["rating_count"] == len(ratings), user_id
        assert user["run_id"] == record["run_id"]
        recs = client.get(f"/users/{user_id}/recommendations?k=100").get_json()
        assert recs["items"] and not {i["movie"]["movie_id"] for i in recs["items"]} & set(ratings)
    assert client.get(f"/users/{a}").get_json()["age"] == 31

    users_alias = f"{served.prefix}-users"
    spark_factors = {
        int(r["user_id"]): list(r["factors"])
        for r in result.prepared.model.user_factors.where(f"user_id in ({b}, {ml2})").collect()
    }
    for user_id in (b, ml2):  # their feedback did not change during the run: Spark's vector
        stored = es.get(index=users_alias, id=str(user_id), source_exclude_vectors=False)["_source"]
        assert stored["source"] == "training"
        assert np.array_equal(np.float32(stored["factors"]), np.float32(spark_factors[user_id]))
    for user_id in (a, c, ml):  # changed during the run: folded in against the new model after the swap
        stored = es.get(index=users_alias, id=str(user_id), source_exclude_vectors=False)["_source"]
        assert stored["source"] == "folded_in"
        want = folded(es, served.prefix, record, expected[user_id])
        assert stored["factors"] == pytest.approx(want.tolist(), rel=1e-4, abs=1e-5)

    # ids are never handed out twice, and the system of record kept every rating
    assert post(client, "/users", ratings_body({movies[8]: 4.0}), 201)["user_id"] == ACCOUNT_ID_MIN + 3
    for user_id in (a, b, c, ml, ml2):
        account = es.get(index=f"{served.prefix}-feedback", id=str(user_id))["_source"]
        given = {r["movie_id"]: r["rating"] for r in account["ratings"]}
        assert given.items() <= expected[user_id].items()
    result.prepared.unpersist()
