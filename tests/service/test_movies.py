"""The catalogue: lookup, title search as typed, browsing."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.spark


def test_get_movie_details_without_vectors(client, served):
    t = served.trained
    movie_id = min(t.movies)
    body = client.get(f"/movies/{movie_id}").get_json()
    assert body["movie_id"] == movie_id and body["title"] == t.movies[movie_id]["title"]
    assert body["run_id"] == served.run_id
    assert "factors" not in body and "factors_unit" not in body


def test_search_as_you_type_finds_the_title(client, served):
    t = served.trained
    movie_id = next(m for m, r in sorted(t.movies.items()) if len(r["title"].split()) == 2 and "," not in r["title"])
    first, second = t.movies[movie_id]["title"].split()
    body = client.get("/movies", query_string={"q": f"{first.lower()} {second[:3].lower()}", "k": 5}).get_json()
    assert movie_id in [i["movie"]["movie_id"] for i in body["items"]]
    exact = client.get("/movies", query_string={"q": t.movies[movie_id]["title"], "k": 5}).get_json()
    assert exact["items"][0]["movie"]["movie_id"] == movie_id


def test_browse_by_genre_and_year_most_rated_first(client, served):
    t = served.trained
    body = client.get("/movies?genre=Drama&k=5").get_json()
    want = sorted((m for m, r in t.movies.items() if "Drama" in r.get("genres", [])), key=lambda m: (-t.movies[m]["rating_count"], m))
    assert [i["movie"]["movie_id"] for i in body["items"]] == want[:5]
    assert body["total"] == len(want) and all(i["score"] is None for i in body["items"])
    page2 = client.get("/movies?genre=Drama&k=5&offset=5").get_json()
    assert [i["movie"]["movie_id"] for i in page2["items"]] == want[5:10]
    year = t.movies[want[0]].get("year")
    by_year = client.get(f"/movies?year={year}&k=50").get_json()
    assert {i["movie"]["movie_id"] for i in by_year["items"]} == {m for m, r in t.movies.items() if r.get("year") == year}
