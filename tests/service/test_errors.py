"""The error model: 422 naming the field, 404, 503 + Retry-After, 504, 500 — one schema, no stack traces."""

from __future__ import annotations

import pytest

from service import store
from tests.service.conftest import check_error, make_app

LONG = "x" * 201
BAD_QUERIES = [
    ("/users/1/recommendations?k=0", "query", "k"),
    ("/users/1/recommendations?k=101", "query", "k"),
    ("/users/1/recommendations?k=ten", "query", "k"),
    ("/users/1/recommendations?mode=fast", "query", "mode"),
    ("/users/1/recommendations?blend=1.5", "query", "blend"),
    ("/users/1/recommendations?blend=nan", "query", "blend"),
    ("/users/1/recommendations?min_rating=-1", "query", "min_rating"),
    ("/users/1/recommendations?min_ratings=-3", "query", "min_ratings"),
    ("/users/1/recommendations?min_popularity=1.5", "query", "min_popularity"),
    ("/users/1/recommendations?year_from=1700", "query", "year_from"),
    ("/users/1/recommendations?year_from=2000&year_to=1990", "query", "year_to"),
    ("/users/1/recommendations?k=20&num_candidates=10", "query", "num_candidates"),
    ("/users/1/recommendations?num_candidates=10001", "query", "num_candidates"),
    ("/users/1/recommendations?explain=perhaps", "query", "explain"),
    ("/users/1/recommendations?genre=" + "g" * 51, "query", "genre"),
    ("/users/1/recommendations?" + "&".join(["genre=a"] * 21), "query", "genre"),
    ("/users/0/recommendations", "path", "user_id"),
    ("/users/abc", "path", "user_id"),
    ("/users/2147483648", "path", "user_id"),
    ("/movies/-4", "path", "movie_id"),
    ("/movies/1.5/similar", "path", "movie_id"),
    ("/movies?q=" + LONG, "query", "q"),
    ("/movies?k=5&offset=9999", "query", "offset"),
    ("/movies/1/audience?gender=" + "m" * 51, "query", "gender"),
    ("/movies/1/audience?exclude_rated=maybe", "query", "exclude_rated"),
    ("/recommendations/by-title", "query", "title"),
    ("/recommendations/by-title?title=" + LONG, "query", "title"),
    ("/recommendations/by-title?title=heat&year=99999", "query", "year"),
    ("/recommendations/cold-start?age=0", "query", "age"),
    ("/recommendations/cold-start?k=1000", "query", "k"),
]


@pytest.mark.parametrize(("url", "location", "field"), BAD_QUERIES, ids=[u for u, _, _ in BAD_QUERIES])
def test_bad_parameters_are_422_naming_the_field(bare_client, url, location, field):
    body = check_error(bare_client.get(url), 422)
    assert field in body["errors"][location], body


RATING = {"movie_id": 1, "rating": 4.0}
BAD_BODIES = [
    ("/users", {}, "ratings"),
    ("/users", {"ratings": []}, "ratings"),
    ("/users", {"ratings": [RATING] * 501}, "ratings"),
    ("/users", {"ratings": [{"movie_id": 1, "rating": 6}]}, "ratings"),
    ("/users", {"ratings": [{"movie_id": "1", "rating": 4}]}, "ratings"),
    ("/users", {"ratings": [{"movie_id": 1, "rating": "good"}]}, "ratings"),
    ("/users", {"ratings": [RATING], "age": 300}, "age"),
    ("/users", {"ratings": [RATING], "user_id": 0}, "user_id"),
    ("/users", {"ratings": [RATING], "nickname": "x"}, "nickname"),
    ("/users/1/ratings", {"ratings": "5 stars"}, "ratings"),
    ("/recommendations/from-liked", {}, "movie_ids"),
    ("/recommendations/from-liked", {"movie_ids": list(range(1, 52))}, "movie_ids"),
    ("/recommendations/from-liked", {"titles": [""]}, "titles"),
    ("/recommendations/from-liked", {"titles": [LONG]}, "titles"),
    ("/recommendations/from-liked", {"movie_ids": [1], "k": 0}, "k"),
    ("/recommendations/from-liked", {"movie_ids": [1], "blend": -0.1}, "blend"),
]


@pytest.mark.parametrize(("url", "body", "field"), BAD_BODIES, ids=[f"{u}-{f}-{i}" for i, (u, _, f) in enumerate(BAD_BODIES)])
def test_bad_bodies_are_422_naming_the_field(bare_client, url, body, field):
    answer = check_error(bare_client.post(url, json=body), 422)
    assert field in answer["errors"]["json"], answer


def test_not_json_is_a_400_in_the_error_schema(bare_client):
    check_error(bare_client.post("/users", data="{not json", content_type="application/json"), 400)


def test_routing_errors_use_the_error_schema(bare_client):
    check_error(bare_client.get("/nowhere"), 404)
    check_error(bare_client.delete("/users/1"), 405)


def test_no_model_exported_yet_is_503_with_retry_after(bare_client, index_prefix):
    resp = bare_client.get("/users/1/recommendations")
    body = check_error(resp, 503)
    assert resp.headers["Retry-After"] == "10"
    assert f"{index_prefix}-users" in body["message"] or f"{index_prefix}-users" in str(body.get("errors"))
    runs = bare_client.get("/runs/current")
    assert "no run is served" in check_error(runs, 503)["message"].lower() and runs.headers["Retry-After"] == "10"


def test_elasticsearch_down_is_503_with_retry_after(es_double, bare_client):
    with es_double.outage():
        for url in ("/movies/1", "/users/1/recommendations", "/recommendations/cold-start", "/movies?q=heat"):
            resp = bare_client.get(url)
            check_error(resp, 503)
            assert int(resp.headers["Retry-After"]) > 0
        resp = bare_client.post("/users", json={"ratings": [RATING]})
        check_error(resp, 503)


def test_elasticsearch_timeout_is_504(es_double, es_url, index_prefix):
    client = make_app(es_url, index_prefix, ES_REQUEST_TIMEOUT=0.2).test_client()
    es_double.set_delay(1.0)
    try:
        check_error(client.get("/movies?q=heat"), 504)
        check_error(client.get("/users/1"), 504)
    finally:
        es_double.clear_faults()


def test_elasticsearch_overload_is_503(es_double, bare_client):
    es_double.fail_requests(1, status=429)
    resp = bare_client.get("/movies?q=heat")
    check_error(resp, 503)
    assert "Retry-After" in resp.headers


def test_unexpected_failure_is_500_without_trace(bare_client, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(store, "search", boom)
    body = check_error(bare_client.get("/movies?q=heat"), 500)
    assert "secret" not in body["message"]


@pytest.mark.spark
def test_unknown_ids_are_404(client):
    for url in ("/movies/999999", "/movies/999999/similar", "/movies/999999/audience", "/users/999999",
                "/users/999999/recommendations"):
        body = check_error(client.get(url), 404)
        assert "999999" in body["message"]
    body = check_error(client.post("/recommendations/from-liked", json={"titles": ["qqqqqqqq zzzzzzzz"]}), 404)
    assert body["errors"]["json"] == {"titles": ["no match for 'qqqqqqqq zzzzzzzz'"]}
    body = check_error(client.post("/recommendations/from-liked", json={"movie_ids": [999999]}), 422)
    assert body["errors"]["json"]["movie_ids"] == ["unknown movie ids: [999999]"]
