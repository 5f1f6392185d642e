"""The API contract through the Flask client: strict input, one error body everywhere, limits before work,
a per-request deadline, and filters checked against the served run's vocabulary.

`bare_client` serves no model: a request that passes validation reaches Elasticsearch and gets 503 (no index), so
503 there means "accepted by validation", 422 "refused by it". What gunicorn itself answers is in test_serving.py.
"""

from __future__ import annotations

import json

import pytest

from es_mappings import ACCOUNT_ID_MIN
from tests.service.conftest import check_error as error
from tests.service.conftest import make_app

INVALID = "Invalid request; `errors` names each field (by location: path, query, json) and what is wrong."


# --------------------------------------------------------------------------- unknown and misspelled names

UNKNOWN = [
    ("/users/1/recommendations?genres=Horror", "genres", "genre"),
    ("/users/1/recommendations?genre[]=Horror", "genre[]", "genre"),
    ("/users/1/recommendations?yearfrom=1998", "yearfrom", "year_from"),
    ("/recommendations/cold-start?favourite_genre=Horror", "favourite_genre", "favorite_genre"),
    ("/movies?genres=Drama&q=heat", "genres", "genre"),
    ("/movies/1/similar?exclude_genres=Horror", "exclude_genres", "exclude_genre"),
    ("/recommendations/by-title?title=heat&yaer=1995", "yaer", "year"),
]


@pytest.mark.parametrize(("url", "name", "close"), UNKNOWN, ids=[u for u, _, _ in UNKNOWN])
def test_unknown_parameter_is_422_naming_it_with_the_close_valid_name(bare_client, url, name, close):
    body = error(bare_client.get(url), 422)
    assert body["message"] == INVALID
    assert body["errors"]["query"] == {name: [f"Unknown parameter. Did you mean {close!r}?"]}
    assert body["errors"]["suggestions"][name][0] == {"value": close}


@pytest.mark.parametrize("url", ["/health?verbose=1", "/runs/current?id=1", "/movies/1?explain=true", "/users/1?x=",
                                 "/movies/genres?k=5", "/vocabulary?kind=genres"])
def test_operations_without_query_parameters_refuse_any(bare_client, url):
    name = url.split("?")[1].split("=")[0]
    body = error(bare_client.get(url), 422)
    assert list(body["errors"]["query"]) == [name] and body["errors"]["query"][name][0].startswith("Unknown parameter.")


def test_unknown_body_field_and_query_on_a_post_are_422(bare_client):
    body = error(bare_client.post("/recommendations/from-liked", json={"movie_id": [1]}), 422)
    assert body["errors"]["json"]["movie_id"] == ["Unknown body field. Did you mean 'movie_ids'?"]
    assert body["errors"]["suggestions"] == {"movie_id": [{"value": "movie_ids"}]}
    body = error(bare_client.post("/users?dry_run=1", json={"ratings": [{"movie_id": 1, "rating": 4}]}), 422)
    assert list(body["errors"]["query"]) == ["dry_run"]


def test_one_spelling_of_favorite_in_parameters_descriptions_and_answers(bare_client):
    spec = bare_client.get("/openapi.json").get_data(as_text=True)
    assert "favourite" not in spec.lower() and "favorite_genre" in spec and "favorite_genres" in spec


# --------------------------------------------------------------------------- strict types

LENIENT_QUERIES = [
    ("/users/1/recommendations?k=10.5", "k"),
    ("/users/1/recommendations?k=10.0", "k"),
    ("/users/1/recommendations?k=1_0", "k"),
    ("/users/1/recommendations?k=%D9%A1", "k"),  # Arabic-Indic digit one: int() takes it
    ("/users/1/recommendations?k=%EF%BC%95", "k"),  # fullwidth 5
    ("/users/1/recommendations?k=+5", "k"),
    ("/users/1/recommendations?k=05", "k"),
    ("/users/1/recommendations?k=%205", "k"),
    ("/users/1/recommendations?k=", "k"),
    ("/users/1/recommendations?explain=yes", "explain"),
    ("/users/1/recommendations?explain=1", "explain"),
    ("/users/1/recommendations?explain=0", "explain"),
    ("/users/1/recommendations?explain=True", "explain"),
    ("/users/1/recommendations?explain=on", "explain"),
    ("/users/1/recommendations?blend=0_5", "blend"),
    ("/users/1/recommendations?blend=.5", "blend"),
    ("/users/1/recommendations?blend=infinity", "blend"),
    ("/users/1/recommendations?min_rating=%D9%A3", "min_rating"),
    ("/movies/1/audience?exclude_rated=no", "exclude_rated"),
]


@pytest.mark.parametrize(("url", "field"), LENIENT_QUERIES, ids=[u for u, _ in LENIENT_QUERIES])
def test_query_values_are_typed_strictly(bare_client, url, field):
    body = error(bare_client.get(url), 422)
    assert list(body["errors"]["query"]) == [field]


@pytest.mark.parametrize("path", ["/movies/1_0", "/movies/%D9%A1", "/movies/01", "/movies/+1", "/users/1.0",
                                  "/users/%EF%BC%91/recommendations", "/movies/1e3/similar"])
def test_path_ids_are_ascii_digits(bare_client, path):
    field = "movie_id" if path.startswith("/movies") else "user_id"
    assert error(bare_client.get(path), 422)["errors"]["path"] == {field: ["Not a valid integer."]}


LENIENT_BODIES = [
    ({"movie_ids": [1], "k": "10"}, "k"),
    ({"movie_ids": [1], "k": 10.5}, "k"),
    ({"movie_ids": [1], "k": 10.0}, "k"),
    ({"movie_ids": [1], "k": True}, "k"),
    ({"movie_ids": [1], "explain": 0}, "explain"),
    ({"movie_ids": [1], "explain": "yes"}, "explain"),
    ({"movie_ids": [1], "explain": "true"}, "explain"),
    ({"movie_ids": [1], "blend": "0.5"}, "blend"),
    ({"movie_ids": [1], "blend": False}, "blend"),
    ({"movie_ids": ["1"]}, "movie_ids"),
    ({"movie_ids": [1.0]}, "movie_ids"),
    ({"movie_ids": [True]}, "movie_ids"),
    ({"titles": "Heat"}, "titles"),
]


@pytest.mark.parametrize(("body", "field"), LENIENT_BODIES, ids=[json.dumps(b) for b, _ in LENIENT_BODIES])
def test_json_values_are_typed_strictly(bare_client, body, field):
    answer = error(bare_client.post("/recommendations/from-liked", json=body), 422)
    assert field in answer["errors"]["json"]


def test_ratings_are_typed_strictly(bare_client):
    for rating in ("4", True, None):
        answer = error(bare_client.post("/users", json={"ratings": [{"movie_id": 1, "rating": rating}]}), 422)
        assert list(answer["errors"]["json"]["ratings"]["0"]) == ["rating"]
    answer = error(bare_client.post("/users", json={"ratings": [{"movie_id": 1, "rating": 4}], "age": 31.0}), 422)
    assert list(answer["errors"]["json"]) == ["age"]


def test_well_typed_values_pass_validation(bare_client):
    ok = "/users/1/recommendations?k=5&explain=true&blend=0.25&min_rating=3.5&min_popularity=5e-1&year_from=1990&mode=exact"
    assert error(bare_client.get(ok), 503)  # validated, then no model to serve
    assert error(bare_client.get("/users/1/recommendations?k=-0&explain=false"), 422)["errors"]["query"].keys() == {"k"}
    body = {"movie_ids": [1, 2], "k": 5, "explain": False, "blend": 0, "min_rating": 3}
    assert error(bare_client.post("/recommendations/from-liked", json=body), 503)
    charset = bare_client.post("/recommendations/from-liked", data=json.dumps(body),
                               content_type="application/json; charset=utf-8")
    assert error(charset, 503)


@pytest.mark.parametrize("url", ["/recommendations/by-title?title=%20%20", "/movies?q=%09", "/movies/1/audience?gender=%20"])
def test_blank_text_is_422(bare_client, url):
    body = error(bare_client.get(url), 422)
    assert list(body["errors"]["query"].values()) == [["Must not be blank."]]


def test_blank_liked_title_is_422(bare_client):
    body = error(bare_client.post("/recommendations/from-liked", json={"titles": ["Heat", "   "]}), 422)
    assert body["errors"]["json"] == {"titles": ["value 2: Must not be blank."]}  # a list of messages, as every field


# --------------------------------------------------------------------------- one error body everywhere

def test_errors_is_always_present(bare_client):
    assert error(bare_client.get("/nowhere"), 404)["errors"] == {}
    assert error(bare_client.get("/users/1"), 503)["errors"] == {}
    runs = bare_client.get("/runs/current")
    assert error(runs, 503)["errors"] == {} and runs.headers["Retry-After"] == "10"


@pytest.mark.parametrize(("method", "url", "allow"), [
    ("delete", "/users/1", {"GET", "HEAD", "OPTIONS"}),
    ("put", "/users", {"POST", "OPTIONS"}),
    ("post", "/movies/1", {"GET", "HEAD", "OPTIONS"}),
    ("patch", "/recommendations/from-liked", {"POST", "OPTIONS"}),
])
def test_405_carries_allow(bare_client, method, url, allow):
    resp = getattr(bare_client, method)(url)
    assert error(resp, 405)["errors"] == {}
    assert {m.strip() for m in resp.headers["Allow"].split(",")} == allow


def test_json_body_with_another_content_type_is_415(bare_client):
    body = json.dumps({"movie_ids": [1]})
    for content_type in ("application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x"):
        resp = bare_client.post("/recommendations/from-liked", data=body, content_type=content_type)
        assert "application/json" in error(resp, 415)["message"]
    untyped = bare_client.post("/users", data=b'{"ratings": []}', headers={"Content-Type": ""})
    assert error(untyped, 415)["message"].endswith("not untyped.")


# --------------------------------------------------------------------------- limits before work

def test_deep_json_is_400_before_parsing(bare_client):
    deep = bare_client.post("/recommendations/from-liked", data="[" * 1000, content_type="application/json")
    assert error(deep, 400)["message"] == "The JSON body is nested deeper than 16 levels."
    nested = '{"movie_ids": [1], "titles": ' + "[" * 16 + '"x"' + "]" * 16 + "}"  # 17 levels with the object
    assert error(bare_client.post("/recommendations/from-liked", data=nested, content_type="application/json"), 400)
    in_text = {"titles": ["[" * 40 + "{" * 40]}  # brackets inside a string are text, not nesting
    assert error(bare_client.post("/recommendations/from-liked", json=in_text), 503)


@pytest.mark.parametrize("text", ['{"movie_ids": [1], "blend": NaN}', '{"movie_ids": [1], "k": Infinity}',
                                  '{"movie_ids": [1], "movie_ids": [2]}', '{"movie_ids": [1]', "\xff\xfe"])
def test_invalid_json_is_400(bare_client, text):
    resp = bare_client.post("/recommendations/from-liked", data=text.encode("latin-1"), content_type="application/json")
    body = error(resp, 400)
    assert body["message"].startswith("The body is not valid JSON: ") and list(body["errors"]) == ["json"]


def test_bodies_over_the_size_limit_are_413_before_reading(bare_client):
    big = json.dumps({"movie_ids": list(range(1, 2_000_001))})
    body = error(bare_client.post("/recommendations/from-liked", data=big, content_type="application/json"), 413)
    assert body["message"] == f"The body is {len(big)} bytes; at most 65536 are accepted."
    assert error(bare_client.get("/health", data=b"x" * 70_000), 413)  # whatever the method
    small = make_app(bare_client.application.config["ES_URL"], "x", MAX_BODY_BYTES=100).test_client()
    assert error(small.post("/recommendations/from-liked", json={"titles": ["a" * 100]}), 413)


# --------------------------------------------------------------------------- served model: 404, 409, 201, vocabulary

@pytest.mark.spark
def test_not_found_and_conflict_name_the_input(client, served):
    assert error(client.get("/movies/999999"), 404)["errors"] == {"path": {"movie_id": ["unknown movie 999999"]}}
    assert error(client.get("/users/999999/recommendations"), 404)["errors"] == {"path": {"user_id": ["unknown user 999999"]}}
    movie = min(m for m, r in served.trained.movies.items() if r.get("factors"))
    body = {"user_id": ACCOUNT_ID_MIN, "ratings": [{"movie_id": movie, "rating": 4}]}
    assert client.post("/users", json=body).status_code == 201
    taken = error(client.post("/users", json=body), 409)["errors"]
    assert taken == {"json": {"user_id": [f"user {ACCOUNT_ID_MIN} already exists"]}}


@pytest.mark.spark
def test_created_user_has_a_location(client, served):
    movie = min(m for m, r in served.trained.movies.items() if r.get("factors"))
    resp = client.post("/users", json={"ratings": [{"movie_id": movie, "rating": 5}]})
    assert resp.status_code == 201
    user_id = resp.get_json()["user_id"]
    assert resp.headers["Location"] == f"/users/{user_id}"
    assert client.get(resp.headers["Location"]).get_json()["user_id"] == user_id


@pytest.mark.spark
def test_suggestions_have_one_shape_for_names_values_and_titles(client, served):
    by_name = error(client.get("/users/1/recommendations?genres=Drama"), 422)["errors"]["suggestions"]
    by_value = error(client.get("/users/1/recommendations?genre=dramma"), 422)["errors"]["suggestions"]
    title = served.trained.movies[min(served.trained.movies)]["title"]
    by_title = error(client.get("/recommendations/by-title", query_string={"title": title + " qqqq"}), 404)
    titles = by_title["errors"]["suggestions"]
    for suggestions in (by_name, by_value, titles):
        assert isinstance(suggestions, dict)
        for given, items in suggestions.items():
            assert isinstance(given, str) and isinstance(items, list)
            assert all(isinstance(i, dict) and isinstance(i["value"], str) and set(i) <= {"value", "movie", "confident"}
                       for i in items)
    assert by_name == {"genres": [{"value": "genre"}]} and by_value == {"dramma": [{"value": "Drama"}]}
    assert titles[title + " qqqq"] and all(i["value"] == i["movie"]["title"] for i in titles[title + " qqqq"])


@pytest.mark.spark
def test_genre_children_on_ml100k_is_422_suggesting_childrens(client, served):
    genres = sorted({g for r in served.trained.movies.values() for g in r.get("genres", [])})
    assert served.trained.dataset == "ml-100k" and "Children's" in genres
    resp = client.get("/users/1/recommendations?genre=Children&genre=Drama")
    body = error(resp, 422)
    assert body["errors"]["query"] == {"genre": [f"unknown value 'Children'. Did you mean \"Children's\"? Valid genres: {', '.join(genres)}."]}
    assert body["errors"]["suggestions"] == {"Children": [{"value": "Children's"}]}
    assert body["message"] == "Unknown values for genre; `errors` lists the valid ones (also at GET /vocabulary)."


@pytest.mark.spark
def test_vocabulary_matching_is_case_insensitive_and_answers_in_the_served_spelling(client, served):
    user_id = min(served.trained.users)
    exact = client.get(f"/users/{user_id}/recommendations?k=5&genre=Sci-Fi&genre=Drama&explain=true").get_json()
    lower = client.get(f"/users/{user_id}/recommendations?k=5&genre=sci-fi&genre=DRAMA&explain=true").get_json()
    assert lower["items"] == exact["items"]
    assert lower["explain"][0]["body"]["knn"]["filter"]["bool"]["filter"][0] == {"terms": {"genres": ["Sci-Fi", "Drama"]}}
    body = error(client.get("/recommendations/cold-start?age_band=30s&gender=X&favorite_genre=scifi"), 422)
    assert set(body["errors"]["query"]) == {"age_band", "gender", "favorite_genre"}
    assert body["errors"]["suggestions"]["scifi"] == [{"value": "Sci-Fi"}]


@pytest.mark.spark
def test_vocabulary_endpoint_lists_the_served_values(client, served):
    t = served.trained
    body = client.get("/vocabulary").get_json()
    assert body == {
        "genres": sorted({g for r in t.movies.values() for g in r.get("genres", [])}),
        "age_bands": sorted({r["age_band"] for r in t.users.values() if r.get("age_band")}),
        "genders": sorted({r["gender"] for r in t.users.values() if r.get("gender")}),
        "occupations": sorted({r["occupation"] for r in t.users.values() if r.get("occupation")}),
    }


# --------------------------------------------------------------------------- one deadline for all Elasticsearch calls

@pytest.mark.spark
def test_slow_cluster_is_a_504_once_the_request_deadline_is_spent(es_double, es_url, served):
    """by-title makes two searches and a get: each search alone fits in the deadline, both do not."""
    client = make_app(es_url, served.prefix, REQUEST_DEADLINE_S=1.0).test_client()
    title = served.trained.movies[min(m for m, r in served.trained.movies.items() if r.get("factors"))]["title"]
    assert client.get("/recommendations/by-title", query_string={"title": title}).status_code == 200
    es_double.set_delay(0.6, path="*/_search")
    try:
        resp = client.get("/recommendations/by-title", query_string={"title": title})
    finally:
        es_double.clear_faults()
    body = error(resp, 504)
    assert body["message"].startswith("Elasticsearch did not answer within the request deadline of 1 s (")
    assert body["message"].endswith(" s spent, 3 Elasticsearch calls)")


def test_a_spent_deadline_stops_before_the_next_call(es_url, index_prefix):
    import time

    from flask import g

    from service import store
    from service.errors import DeadlineExceeded

    app = make_app(es_url, index_prefix, REQUEST_DEADLINE_S=2.0)
    with app.test_request_context("/movies/1"):
        g.started, g.es_ms, g.es_calls = time.perf_counter() - 2.5, 0.0, 0
        with pytest.raises(DeadlineExceeded):
            store.client()
        g.started = time.perf_counter()
        assert store.client() is not app.extensions["elasticsearch"]  # a copy carrying the remaining time
    with app.app_context():
        assert store.client() is app.extensions["elasticsearch"]  # outside a request: the client itself


# --------------------------------------------------------------------------- lists of values: one error shape

def test_a_bad_value_in_a_list_parameter_is_a_list_of_messages_like_any_field(bare_client):
    body = error(bare_client.get("/recommendations/cold-start?genre=Comedy&genre=Dr%C3%A4ma&genre=%20"), 422)
    assert body["errors"] == {"query": {"genre": ["value 2: Must be printable ASCII.", "value 3: Must not be blank."]}}
    rated = error(bare_client.post("/users", json={"ratings": [{"movie_id": 1, "rating": 9}]}), 422)
    assert list(rated["errors"]["json"]["ratings"]["0"]) == ["rating"]  # a list of objects stays nested as given


def test_typographic_apostrophes_and_dashes_pass_validation(bare_client):
    # validated, then 503 (this cluster serves nothing): the curly apostrophe is no longer "not printable ASCII"
    error(bare_client.get("/recommendations/cold-start", query_string={"genre": "Children\u2019s"}), 503)
    error(bare_client.get("/recommendations/cold-start", query_string={"exclude_genre": "Film\u2013Noir"}), 503)
