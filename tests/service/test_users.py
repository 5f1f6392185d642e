"""Users: profiles, new users and new ratings folded in and searchable at once."""

from __future__ import annotations

import numpy as np
import pytest

from es_mappings import ACCOUNT_ID_MIN, INTEGER_MAX
from service.model import ActiveModel
from service.users import top_genres
from tests.service.conftest import assert_no_trace

pytestmark = pytest.mark.spark


def ranked(body):
    return [(item["movie"]["movie_id"], item["score"]) for item in body["items"]]


def folded_vector(served, ratings: dict[int, float]) -> np.ndarray:
    t = served.trained
    model = ActiveModel.from_run({"run_id": served.run_id, "model": t.meta, "params": t.params})
    ids = sorted(ratings)
    x = np.asarray([np.float32(t.movies[m]["factors"]) for m in ids], dtype=np.float64)
    return model.fold_in(x, np.asarray([ratings[m] for m in ids])).vector


def with_vectors(t):
    return sorted(m for m, r in t.movies.items() if r.get("factors"))


def test_top_genres_counts_liked_ratings_then_name():
    rated = [(5.0, ["Drama", "Comedy"]), (4.0, ["Drama"]), (4.5, ["Action", "Comedy"]), (4.0, ["War"])]
    assert top_genres(rated) == ["Comedy", "Drama", "Action"]
    horror = [(1.0, ["Horror"])] * 5 + [(2.0, ["Horror", "Thriller"]), (3.5, ["Horror"])]
    assert top_genres(horror + [(4.0, ["Comedy"])]) == ["Comedy"]  # rated most, liked never: not a top genre
    assert top_genres(horror) == []


def test_get_training_user_without_vector(client, served):
    t = served.trained
    user_id = min(t.users)
    body = client.get(f"/users/{user_id}").get_json()
    assert body["user_id"] == user_id and body["source"] == "training"
    assert body["rated_movie_ids"] == sorted(t.ratings[user_id])
    assert body["rating_count"] == len(t.ratings[user_id])
    assert "factors" not in body


def test_unknown_user_is_404_with_ways_forward(client, served):
    resp = client.get("/users/999999")
    assert resp.status_code == 404
    body = resp.get_json()
    assert body["errors"] == {"path": {"user_id": ["unknown user 999999"]}}
    assert "POST /users" in body["message"] and "/recommendations/cold-start" in body["message"]
    assert client.get("/users/999999/recommendations").status_code == 404
    assert client.post("/users/999999/ratings", json={"ratings": [{"movie_id": 1, "rating": 4}]}).status_code == 404


def test_new_user_is_folded_in_and_recommended_at_once(client, served, es):
    t = served.trained
    movies = with_vectors(t)
    ratings = {movies[0]: 5.0, movies[4]: 4.0, movies[9]: 2.0}  # whole stars: the served run is ml-100k
    resp = client.post("/users", json={"ratings": [{"movie_id": m, "rating": r} for m, r in ratings.items()],
                                       "age": 23, "gender": "F", "occupation": "writer"})
    assert resp.status_code == 201
    user = resp.get_json()
    user_id = user["user_id"]
    assert user_id == ACCOUNT_ID_MIN  # the allocator's first id, far above every dataset user id
    assert user["source"] == "folded_in" and user["age_band"] == "18-24" and user["rating_count"] == 3
    assert user["rated_movie_ids"] == sorted(ratings) and user["run_id"] == served.run_id
    liked = [g for m, r in ratings.items() if r >= 4 for g in t.movies[m]["genres"]]  # 5 and 4 stars, not 2
    assert user["top_genres"] == sorted(set(liked), key=lambda g: (-liked.count(g), g))[:3]
    stored = es.get(index=f"{served.prefix}-users", id=str(user_id), source_exclude_vectors=False)["_source"]
    assert stored["factors"] == pytest.approx(folded_vector(served, ratings), rel=1e-5, abs=1e-6)
    written = es.search(index=f"{served.prefix}-ratings", query={"term": {"user_id": user_id}}, size=10)["hits"]["hits"]
    assert sorted((h["_source"]["movie_id"], h["_source"]["rating"]) for h in written) == sorted(ratings.items())
    assert all(h["_source"]["gender"] == "F" and h["_source"]["title"] for h in written)
    recs = client.get(f"/users/{user_id}/recommendations?k=8").get_json()
    want = t.expected(stored["factors"], k=8, exclude=ratings)
    assert [m for m, _ in ranked(recs)] == [m for m, _ in want]


def test_recommendations_change_right_after_new_ratings(client, served):
    t = served.trained
    movies = with_vectors(t)
    user = client.post("/users", json={"ratings": [{"movie_id": movies[1], "rating": 5}]}).get_json()
    user_id = user["user_id"]
    before = [m for m, _ in ranked(client.get(f"/users/{user_id}/recommendations?k=5").get_json())]
    new = {before[0]: 1.0, before[1]: 5.0, movies[20]: 4.0}
    resp = client.post(f"/users/{user_id}/ratings", json={"ratings": [{"movie_id": m, "rating": r} for m, r in new.items()]})
    assert resp.status_code == 200
    assert resp.get_json()["rated_movie_ids"] == sorted({movies[1], *new})
    after_body = client.get(f"/users/{user_id}/recommendations?k=5").get_json()
    after = [m for m, _ in ranked(after_body)]
    assert after != before
    assert not set(after) & ({movies[1]} | set(new))
    vector = folded_vector(served, {movies[1]: 5.0, **new})
    assert after == [m for m, _ in t.expected(vector, k=5, exclude={movies[1], *new})]


def test_training_user_refolded_from_stored_plus_new_ratings(client, served):
    t = served.trained
    user_id = sorted(t.users)[3]
    extra = next(m for m in with_vectors(t) if m not in t.ratings[user_id])
    resp = client.post(f"/users/{user_id}/ratings", json={"ratings": [{"movie_id": extra, "rating": 4.0}]})
    body = resp.get_json()
    assert resp.status_code == 200 and body["source"] == "folded_in"
    assert body["rating_count"] == len(t.ratings[user_id]) + 1
    recs = client.get(f"/users/{user_id}/recommendations?k=6").get_json()
    vector = folded_vector(served, {**t.ratings[user_id], extra: 4.0})
    assert [m for m, _ in ranked(recs)] == [m for m, _ in t.expected(vector, k=6, exclude={*t.ratings[user_id], extra})]


def test_existing_id_conflicts_and_unknown_movies_are_named(client, served):
    t = served.trained
    movie = with_vectors(t)[0]
    chosen = client.post("/users", json={"user_id": ACCOUNT_ID_MIN + 5000, "ratings": [{"movie_id": movie, "rating": 4}]})
    assert chosen.status_code == 201 and chosen.get_json()["user_id"] == ACCOUNT_ID_MIN + 5000
    resp = client.post("/users", json={"user_id": ACCOUNT_ID_MIN + 5000, "ratings": [{"movie_id": movie, "rating": 4}]})
    assert resp.status_code == 409 and resp.get_json()["code"] == 409
    resp = client.post("/users", json={"ratings": [{"movie_id": movie, "rating": 4}, {"movie_id": 987654, "rating": 3}]})
    assert resp.status_code == 422
    assert resp.get_json()["errors"]["json"]["ratings"] == ["unknown movie ids: [987654]"]
    assert_no_trace(resp.get_json())

    assert client.get(f"/users/{ACCOUNT_ID_MIN + 5000}").get_json()["rated_movie_ids"] == [movie]


@pytest.mark.parametrize("user_id", [1, 943, ACCOUNT_ID_MIN - 1, INTEGER_MAX + 1, 2**40])
def test_a_chosen_id_outside_the_account_range_is_422_and_allocation_goes_on(client, served, user_id):
    """Dataset ids (below ACCOUNT_ID_MIN) and ids an ES `integer` cannot hold are refused before anything is stored."""
    movie = with_vectors(served.trained)[0]
    resp = client.post("/users", json={"user_id": user_id, "ratings": [{"movie_id": movie, "rating": 4}]})
    assert resp.status_code == 422
    assert list(resp.get_json()["errors"]["json"]) == ["user_id"]
    created = client.post("/users", json={"ratings": [{"movie_id": movie, "rating": 4}]})
    assert created.status_code == 201 and created.get_json()["user_id"] == ACCOUNT_ID_MIN


def test_the_largest_id_is_accepted_and_allocation_never_passes_it(client, served, es):
    movie = with_vectors(served.trained)[0]
    biggest = client.post("/users", json={"user_id": INTEGER_MAX, "ratings": [{"movie_id": movie, "rating": 4}]})
    assert biggest.status_code == 201 and biggest.get_json()["user_id"] == INTEGER_MAX
    nxt = client.post("/users", json={"ratings": [{"movie_id": movie, "rating": 4}]})
    assert nxt.status_code == 201 and nxt.get_json()["user_id"] == ACCOUNT_ID_MIN
    # the allocator at the top of the range: INTEGER_MAX is taken by the client above, and nothing lies beyond
    es.index(index=f"{served.prefix}-ids", id="user_id", document={"next": INTEGER_MAX}, refresh=True)
    full = client.post("/users", json={"ratings": [{"movie_id": movie, "rating": 4}]})
    assert full.status_code == 503 and full.headers["Retry-After"]
    assert_no_trace(full.get_json())
    es.indices.refresh(index=f"{served.prefix}-feedback")
    assert es.count(index=f"{served.prefix}-feedback")["count"] == 2


def test_account_demographics_are_checked_against_the_served_vocabulary(client, served, es):
    t = served.trained
    movie = with_vectors(t)[0]
    users_before = es.count(index=f"{served.prefix}-users")["count"]
    rating = [{"movie_id": movie, "rating": 4}]
    resp = client.post("/users", json={"ratings": rating, "gender": "X", "occupation": "teacher"})
    assert resp.status_code == 422
    errors = resp.get_json()["errors"]["json"]
    assert set(errors) == {"gender", "occupation"}
    [gender] = errors["gender"]
    assert gender.startswith("unknown value 'X'.") and gender.endswith("Valid genders: F, M.")
    assert "Valid occupations: " in errors["occupation"][0] and "writer" in errors["occupation"][0]
    typo = client.post("/users", json={"ratings": rating, "occupation": "writr"})
    assert typo.status_code == 422
    assert "Did you mean 'writer'?" in typo.get_json()["errors"]["json"]["occupation"][0]
    assert es.count(index=f"{served.prefix}-users")["count"] == users_before  # nothing stored

    ok = client.post("/users", json={"ratings": rating, "gender": "f", "occupation": "WRITER"})
    assert ok.status_code == 201
    assert (ok.get_json()["gender"], ok.get_json()["occupation"]) == ("F", "writer")  # the served spelling


@pytest.mark.parametrize("rating", [4.3, 4.5, 0.5, 5.5])
def test_ratings_off_the_served_scale_are_422_listing_it(client, served, es, rating):
    """The served run is ml-100k: whole stars 1..5 (pipeline.datasets), so 4.5 is off its scale too."""
    movie = with_vectors(served.trained)[0]
    users_before = es.count(index=f"{served.prefix}-users")["count"]
    resp = client.post("/users", json={"ratings": [{"movie_id": movie, "rating": 4}, {"movie_id": movie, "rating": rating}]})
    assert resp.status_code == 422
    body = resp.get_json()
    if rating in (4.5, 0.5):  # on some MovieLens scale, not on the served one
        assert body["errors"] == {"json": {"ratings": [
            f"rating {rating:g} of movie {movie} is not on the served scale: ml-100k rates 1, 2, 3, 4, 5"]}}
    else:  # on no MovieLens scale: the schema refuses it, naming the item's field
        [message] = body["errors"]["json"]["ratings"]["1"]["rating"]
        assert message.startswith("Must be a MovieLens rating: whole stars 1 to 5 (every edition) or half stars 0.5 to 4.5")
    assert es.count(index=f"{served.prefix}-users")["count"] == users_before
    added = client.post(f"/users/{min(served.trained.users)}/ratings", json={"ratings": [{"movie_id": movie, "rating": rating}]})
    assert added.status_code == 422 and "ratings" in added.get_json()["errors"]["json"]


def test_min_rating_above_the_scale_is_422_naming_it(client, served):
    resp = client.get("/recommendations/cold-start", query_string={"k": 3, "min_rating": 5.5})
    assert resp.status_code == 422
    assert resp.get_json()["errors"] == {"query": {"min_rating": ["5.5 is above the top rating 5: ml-100k rates 1, 2, 3, 4, 5"]}}
    assert client.get("/recommendations/cold-start", query_string={"k": 3, "min_rating": 5}).status_code == 200


def test_top_genres_are_the_liked_genres_not_the_most_rated(client, served):
    t = served.trained
    movies = with_vectors(t)
    favourite = next(m for m in movies if t.movies[m]["genres"])
    panned = [m for m in movies if m != favourite and set(t.movies[m]["genres"]) - set(t.movies[favourite]["genres"])][:5]
    ratings = [{"movie_id": m, "rating": 1} for m in panned] + [{"movie_id": favourite, "rating": 5}]
    resp = client.post("/users", json={"ratings": ratings})
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["top_genres"] == sorted(t.movies[favourite]["genres"])[:3]  # one liked film, ties by name
