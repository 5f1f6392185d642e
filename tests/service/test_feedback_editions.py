"""Feedback belongs to the edition it was given against: switching datasets reattaches nothing, and comes back.

The session's ml-100k-shaped model is served; an account and a MovieLens user rate through the API. Then
`run_pipeline` trains on another hand-made edition (ml-latest-small-shaped, the same movie and user ids
meaning other films and other people), then on ml-100k again. The other edition's run must neither train on
nor show that feedback (it is held back, counted in the run record, kept in the feedback index); the account
still exists there; switching back serves it again.
"""

from __future__ import annotations

import csv

import pytest

from pipeline import indices
from pipeline.synthetic import generate
from pipeline.workflow import RunConfig, run_pipeline
from tests.service.conftest import make_app
from tests.service.test_feedback_retrain import post, ratings_body
from tests.service.trained import N_MOVIES, N_RATINGS, N_USERS, PARAMS

pytestmark = [pytest.mark.spark, pytest.mark.es]

OTHER = "ml-latest-small"


def edition_ratings(folder) -> dict[int, set[int]]:
    """user id -> movie ids rated, from a hand-made ml-latest-small ratings.csv."""
    out: dict[int, set[int]] = {}
    with open(folder / "ratings.csv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            out.setdefault(int(row["userId"]), set()).add(int(row["movieId"]))
    return out


def test_switching_editions_reattaches_nothing_and_switching_back_restores(spark, es, es_url, served, tmp_path):
    t = served.trained
    other_root = tmp_path / "other"
    folder = generate(other_root, OTHER, n_users=N_USERS, n_movies=N_MOVIES, n_ratings=N_RATINGS, seed=12, quirks=False)
    other = edition_ratings(folder)
    other_movies = set().union(*other.values())
    client = make_app(es_url, served.prefix).test_client()

    # ml-100k feedback on ids the other edition also has (another film, another person there)
    both = sorted(m for m, r in t.movies.items() if r.get("factors") and m in other_movies)
    u = next(u for u in sorted(t.users) if u in other and [m for m in both if m not in t.ratings[u] and m not in other[u]])
    m_u = next(m for m in both if m not in t.ratings[u] and m not in other[u])
    a = post(client, "/users", ratings_body({both[0]: 5.0, both[1]: 4.0}), 201)["user_id"]
    post(client, f"/users/{u}/ratings", ratings_body({m_u: 5.0}), 200)

    config = RunConfig(dataset=OTHER, data_dir=other_root, es_url=es_url, prefix=served.prefix, params=PARAMS, sample_size=3)
    second = run_pipeline(config, spark=spark, environ={})
    record = second.record
    second.prepared.unpersist()
    assert record["status"] == "succeeded" and indices.live_run_id(es, served.prefix) == record["run_id"]
    counts = record["counts"]
    assert (counts["online_users"], counts["online_ratings"], counts["online_ratings_held_back"]) == (0, 0, 3)
    assert counts["users"] == len(other)  # the account is no trained user of this edition
    account = client.get(f"/users/{a}").get_json()  # the account still exists, with none of its ml-100k ratings
    assert account["run_id"] == record["run_id"] and account["rated_movie_ids"] == [] and account["rating_count"] == 0
    person = client.get(f"/users/{u}").get_json()  # this edition's user u: only their own ratings
    assert person["rated_movie_ids"] == sorted(other[u]) and m_u not in person["rated_movie_ids"]
    stored = es.get(index=f"{served.prefix}-feedback", id=str(a))["_source"]["ratings"]
    assert sorted((r["movie_id"], r["edition"]) for r in stored) == [(both[0], t.dataset), (both[1], t.dataset)]

    # feedback given against this edition is its own
    m_other = next(m for m in sorted(other_movies) if m not in both[:2])
    given = post(client, f"/users/{a}/ratings", ratings_body({m_other: 3.0}), 200)
    assert given["rated_movie_ids"] == [m_other]

    back = RunConfig(dataset=t.dataset, data_dir=t.data_dir, es_url=es_url, prefix=served.prefix, params=PARAMS, sample_size=3)
    third = run_pipeline(back, spark=spark, environ={})
    record = third.record
    third.prepared.unpersist()
    counts = record["counts"]
    assert (counts["online_users"], counts["online_ratings"], counts["online_ratings_held_back"]) == (2, 3, 1)
    restored = client.get(f"/users/{a}").get_json()
    assert restored["run_id"] == record["run_id"] and restored["rated_movie_ids"] == sorted(both[:2])
    assert client.get(f"/users/{u}").get_json()["rated_movie_ids"] == sorted({*t.ratings[u], m_u})
    recs = client.get(f"/users/{a}/recommendations?k=100").get_json()
    assert recs["items"] and not {i["movie"]["movie_id"] for i in recs["items"]} & set(both[:2])
