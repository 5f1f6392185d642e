"""The catalogue: lookup, title search as typed, browsing, the genre list."""

from __future__ import annotations

import copy
from collections import Counter

import pytest

from service import store
from tests.service.conftest import make_app
from tests.service.trained import Trained, publish

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


def _hand_count(movies) -> list[dict]:
    counts = Counter(g for r in movies for g in r.get("genres") or [])
    return [{"name": g, "count": n} for g, n in sorted(counts.items(), key=lambda gn: (-gn[1], gn[0]))]


def test_genre_list_counts_the_indexed_movies(client, served):
    body = client.get("/movies/genres").get_json()
    want = _hand_count(served.trained.movies.values())
    assert len(want) > 1
    assert body == {"genres": want}
    assert sum(g["count"] for g in body["genres"]) == sum(len(r["genres"]) for r in served.trained.movies.values())


def test_genres_path_does_not_shadow_movie_ids(client, served):
    movie_id = min(served.trained.movies)
    assert client.get(f"/movies/{movie_id}").get_json()["movie_id"] == movie_id
    assert "genres" in client.get("/movies/genres").get_json()
    bad = client.get("/movies/genre")
    assert bad.status_code == 422 and "movie_id" in bad.get_json()["errors"]["path"]


def test_genre_list_is_kept_until_another_run_is_served(es, es_url, served, monkeypatch):
    client = make_app(es_url, served.prefix).test_client()
    first = client.get("/movies/genres").get_json()
    sent: list[str] = []
    real_search = store.search
    monkeypatch.setattr(store, "search", lambda kind, body: sent.append(kind) or real_search(kind, body))
    assert client.get("/movies/genres").get_json() == first
    assert sent == []

    docs = copy.deepcopy(served.trained.docs)
    changed = min(int(r["movie_id"]) for r in docs["movies"])
    for row in docs["movies"]:
        if int(row["movie_id"]) == changed:
            row["genres"] = list(row["genres"]) + ["Zombie"]
    t = served.trained
    publish(es, served.prefix, Trained(t.dataset, t.meta, t.params, t.rank, t.vector_size, docs))
    second = client.get("/movies/genres").get_json()
    assert sent == ["movies"]
    assert {"name": "Zombie", "count": 1} in second["genres"]
    assert second == {"genres": _hand_count(docs["movies"])}
