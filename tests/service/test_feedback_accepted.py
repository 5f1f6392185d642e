"""Once the feedback is stored durably, the answer says so, even when Elasticsearch is too slow afterwards.

Fault injection: the double delays the served user's write (PUT <prefix>-users-<run>/_doc/<id>) past the
client's timeout. The account or ratings are in the feedback index by then: the answer is 202 with the user
id, the stored movie ids and a Location, and a client that follows it ends with one account, not two.
When the feedback write itself is delayed past the deadline, the 504 names the user id it may have stored.
"""

from __future__ import annotations

import time

import pytest

from es_mappings import ACCOUNT_ID_MIN
from tests.service.conftest import check_error, make_app
from tests.service.test_feedback_retrain import post, ratings_body

pytestmark = pytest.mark.es

SLOW_S, TIMEOUT_S = 1.0, 0.2


def feedback_of(es, prefix: str, user_id: int) -> dict[int, float]:
    es.indices.refresh(index=f"{prefix}-feedback")
    return {r["movie_id"]: r["rating"] for r in es.get(index=f"{prefix}-feedback", id=str(user_id))["_source"]["ratings"]}


def applied(es, prefix: str, user_id: int, tries: int = 100) -> bool:
    """Whether the user's feedback document exists once the double's delayed request thread is done (bounded wait)."""
    for _ in range(tries):
        if es.exists(index=f"{prefix}-feedback", id=str(user_id)):
            return True
        time.sleep(SLOW_S / 10)
    return False


def test_a_slow_served_write_after_the_account_is_stored_answers_202_with_the_id(es, es_url, served, es_double):
    t = served.trained
    movies = sorted(m for m, r in t.movies.items() if r.get("factors"))
    client = make_app(es_url, served.prefix, ES_REQUEST_TIMEOUT=TIMEOUT_S).test_client()
    es_double.set_delay(SLOW_S, path=f"/{served.prefix}-users-*/_doc/*")
    try:
        resp = client.post("/users", json=ratings_body({movies[0]: 5.0, movies[1]: 4.0}))
    finally:
        es_double.clear_faults()
    assert resp.status_code == 202, resp.get_json()
    body = resp.get_json()
    assert body["user_id"] == ACCOUNT_ID_MIN and body["stored"] is True and body["served"] is False
    assert body["stored_movie_ids"] == [movies[0], movies[1]] and body["edition"] == t.dataset
    assert resp.headers["Location"].endswith(f"/users/{ACCOUNT_ID_MIN}")
    assert feedback_of(es, served.prefix, ACCOUNT_ID_MIN) == {movies[0]: 5.0, movies[1]: 4.0}
    # following the Location serves the account; no second account was needed
    user = client.get(resp.headers["Location"]).get_json()
    assert user["user_id"] == ACCOUNT_ID_MIN and user["rated_movie_ids"] == [movies[0], movies[1]]
    assert post(client, "/users", ratings_body({movies[2]: 3.0}), 201)["user_id"] == ACCOUNT_ID_MIN + 1


def test_a_slow_served_write_after_ratings_are_stored_answers_202_naming_them(es, es_url, served, es_double):
    t = served.trained
    u = sorted(t.users)[0]
    unrated = [m for m, r in sorted(t.movies.items()) if r.get("factors") and m not in t.ratings[u]][:2]
    client = make_app(es_url, served.prefix, ES_REQUEST_TIMEOUT=TIMEOUT_S).test_client()
    es_double.set_delay(SLOW_S, path=f"/{served.prefix}-users-*/_doc/*")
    try:
        resp = client.post(f"/users/{u}/ratings", json=ratings_body({unrated[0]: 5.0, unrated[1]: 1.0}))
    finally:
        es_double.clear_faults()
    assert resp.status_code == 202, resp.get_json()
    body = resp.get_json()
    assert (body["user_id"], body["stored_movie_ids"], body["stored"]) == (u, sorted(unrated), True)
    assert feedback_of(es, served.prefix, u) == {unrated[0]: 5.0, unrated[1]: 1.0}
    # resending the same ratings is safe and serves them
    again = post(client, f"/users/{u}/ratings", ratings_body({unrated[0]: 5.0, unrated[1]: 1.0}), 200)
    assert set(unrated) <= set(again["rated_movie_ids"])


def test_a_feedback_write_that_times_out_answers_504_naming_the_user_it_may_have_stored(es, es_url, served, es_double):
    t = served.trained
    movies = sorted(m for m, r in t.movies.items() if r.get("factors"))
    client = make_app(es_url, served.prefix, ES_REQUEST_TIMEOUT=TIMEOUT_S).test_client()
    client.post("/users", json=ratings_body({movies[0]: 5.0}))  # creates the feedback indices undelayed
    es_double.set_delay(SLOW_S, path=f"/{served.prefix}-feedback/_doc/*")
    try:
        body = check_error(client.post("/users", json=ratings_body({movies[1]: 4.0})), 504)
    finally:
        es_double.clear_faults()
    user_id = ACCOUNT_ID_MIN + 1
    assert f"user {user_id}" in body["message"]
    assert body["errors"]["json"]["user_id"] == [f"user {user_id}: write not confirmed, may be stored"]
    assert body["errors"]["json"]["ratings"] == [f"movies {[movies[1]]}: write not confirmed, may be stored"]
    # the double applies the delayed write: the account the 504 named exists and is served on GET
    assert applied(es, served.prefix, user_id)
    assert feedback_of(es, served.prefix, user_id) == {movies[1]: 4.0}
    assert client.get(f"/users/{user_id}").get_json()["rated_movie_ids"] == [movies[1]]


def test_a_movielens_users_feedback_of_another_edition_does_not_make_them_exist_here(es, es_url, served):
    from service import feedback

    client = make_app(es_url, served.prefix).test_client()
    stranger = max(served.trained.users) + 1  # no user of the served edition
    feedback.ensure_indices(es, served.prefix)
    feedback.add_ratings(es, served.prefix, stranger, {1: 4.0}, 1_000, "another-edition")
    check_error(client.get(f"/users/{stranger}"), 404)
    check_error(client.post(f"/users/{stranger}/ratings", json=ratings_body({1: 4.0})), 404)
    assert feedback_of(es, served.prefix, stranger) == {1: 4.0}  # kept for its own edition
