"""Titles as people type them, through the API: years anywhere, numbers, articles, punctuation,
twins and franchises ranked by popularity, 404s that offer a confident match.

The session's trained model is served with hand-made titles (and rating counts) on some of
its movies, so each case knows which movie must win.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.service.conftest import make_app
from tests.service.trained import Trained, publish

pytestmark = pytest.mark.spark

# title, year, rating_count, popularity (percentile of rating_count)
CATALOGUE = [
    ("Toy Story", 1995, 452, 0.99),
    ("Toy Story 2", 1999, 120, 0.80),
    ("Story of Toys", 1995, 40, 0.50),
    ("Sabrina", 1954, 30, 0.40),
    ("Sabrina", 1995, 150, 0.85),
    ("M*A*S*H", 1970, 206, 0.90),
    ("Mask, The", 1994, 129, 0.82),
    ("Face/Off", 1997, 194, 0.88),
    ("Usual Suspects, The", 1995, 267, 0.95),
    ("Star Trek III: The Search for Spock", 1984, 171, 0.86),
    ("Star Trek: First Contact", 1996, 365, 0.97),
    ("Star Wars", 1977, 583, 1.00),
    ("2 Days in the Valley", 1996, 93, 0.70),
    ("Heat", 1995, 223, 0.91),
    ("Heat and Dust", 1983, 12, 0.20),
    # ml-100k's near misses under ES's default AUTO fuzziness: matrix~martin, memento~cement/moment (2 edits)
    ("Return of Martin Guerre, The (Retour de Martin Guerre, Le)", 1982, 44, 0.45),
    ("Cement Garden, The", 1993, 15, 0.25),
    ("For the Moment", 1994, 20, 0.30),
    ("Pulp Fiction", 1994, 394, 0.98),
]


@pytest.fixture(scope="module")
def titled_docs(trained: Trained) -> dict[str, list[dict[str, Any]]]:
    docs = copy.deepcopy(trained.docs)
    movies = sorted(docs["movies"], key=lambda r: int(r["movie_id"]))
    assert len(movies) > len(CATALOGUE)
    for row, (title, year, count, popularity) in zip(movies, CATALOGUE, strict=False):
        row.update(title=title, year=year, rating_count=count, popularity=popularity)
    for row in movies[len(CATALOGUE):]:  # the rest: distinct, unrelated titles, least popular
        row.update(title=f"Zzyzx Road {int(row['movie_id'])}", year=2000, popularity=0.0)
    return docs


@pytest.fixture
def titles(es, es_url, index_prefix, trained, titled_docs):
    t = trained
    publish(es, index_prefix, Trained(t.dataset, t.meta, t.params, t.rank, t.vector_size, titled_docs))
    client = make_app(es_url, index_prefix).test_client()
    ids = {(r["title"], r["year"]): int(r["movie_id"]) for r in titled_docs["movies"]}
    return client, ids


def by_title(client, text: str) -> dict[str, Any]:
    response = client.get("/recommendations/by-title", query_string={"title": text, "k": 3})
    body = response.get_json()
    body["_status"] = response.status_code
    return body


def matched(client, text: str) -> tuple[str, int]:
    body = by_title(client, text)
    assert body["_status"] == 200, body
    return body["matched"]["title"], body["matched"]["year"]


@pytest.mark.parametrize(
    ("typed", "movie"),
    [
        ("toy story 1995", ("Toy Story", 1995)),
        ("Toy Story (1995)", ("Toy Story", 1995)),
        ("1995 toy story", ("Toy Story", 1995)),
        ("toy story", ("Toy Story", 1995)),  # the whole title beats "Toy Story 2"
        ("toy story two", ("Toy Story 2", 1999)),  # numbers as words ...
        ("toy story ii", ("Toy Story 2", 1999)),  # ... or roman numerals
        ("heat 1995", ("Heat", 1995)),
        ("star trek 3", ("Star Trek III: The Search for Spock", 1984)),
        ("two days in the valley", ("2 Days in the Valley", 1996)),
        ("The Usual Suspects", ("Usual Suspects, The", 1995)),  # a leading article in either position
        ("usual suspects, the", ("Usual Suspects, The", 1995)),
        ("usual suspects", ("Usual Suspects, The", 1995)),
        ("toy stroy", ("Toy Story", 1995)),  # a typo, fuzzily
        ("pulp fictoin", ("Pulp Fiction", 1994)),  # a transposition is one edit
        ("pulp fiktion", ("Pulp Fiction", 1994)),
    ],
)
def test_titles_as_typed_resolve(titles, typed, movie):
    client, _ = titles
    assert matched(client, typed) == movie


@pytest.mark.parametrize("typed", ["M*A*S*H", "mash", "MASH", "m*a*s*h 1970"])
def test_punctuation_joined_title_resolves_to_itself(titles, typed):
    client, _ = titles
    assert matched(client, typed) == ("M*A*S*H", 1970)


@pytest.mark.parametrize("typed", ["Face/Off", "face off", "faceoff"])
def test_slash_joined_title_resolves_either_way(titles, typed):
    client, _ = titles
    assert matched(client, typed) == ("Face/Off", 1997)


def test_the_twin_with_more_ratings_wins_unless_the_year_says_otherwise(titles):
    client, _ = titles
    assert matched(client, "sabrina") == ("Sabrina", 1995)
    assert matched(client, "Sabrina 1954") == ("Sabrina", 1954)
    body = by_title(client, "sabrina")
    assert ("Sabrina", 1954) in [(m["title"], m["year"]) for m in body["alternatives"]]


def test_a_franchise_name_finds_its_best_known_film(titles):
    client, _ = titles
    assert matched(client, "star trek") == ("Star Trek: First Contact", 1996)


def test_the_match_carries_popularity_and_the_year_hint(titles):
    client, _ = titles
    body = by_title(client, "toy story 1995")
    assert body["matched"]["popularity"] == pytest.approx(0.99)
    assert body["year_hint"] == 1995
    assert body["catalogue_years"] == {"first": 1954, "last": 2000}
    assert by_title(client, "toy story")["year_hint"] is None


def test_a_year_past_the_catalogue_still_finds_the_title_and_says_so(titles):
    client, _ = titles
    body = by_title(client, "toy story 2019")
    assert (body["matched"]["title"], body["year_hint"]) == ("Toy Story", 2019)
    assert body["catalogue_years"]["last"] < body["year_hint"]


def test_a_strict_miss_is_404_with_a_confident_suggestion(titles):
    client, ids = titles
    body = by_title(client, "Star Wars Episode IV")
    assert body["_status"] == 404 and body["code"] == 404
    errors = body["errors"]
    assert errors["query"] == {"title": ["no match for 'Star Wars Episode IV'"]}
    first = errors["suggestions"]["Star Wars Episode IV"][0]
    assert first["movie"]["movie_id"] == ids[("Star Wars", 1977)] and first["value"] == "Star Wars"
    assert first["confident"] is True


@pytest.mark.parametrize("typed", ["the matrix", "The Matrix (1999)", "memento", "Memento 2000"])
def test_a_two_edit_near_miss_is_404_not_the_film(titles, typed):
    """"matrix" is 2 edits from "martin", "memento" from "cement" and "moment": ES's AUTO fuzziness
    allows them on a 6-letter word, a close match does not, so the title is a 404 with suggestions."""
    client, _ = titles
    body = by_title(client, typed)
    assert body["_status"] == 404, body
    assert body["errors"]["query"] == {"title": [f"no match for {typed!r}"]}
    offered = body["errors"]["suggestions"][typed]
    assert not any("confident" in s for s in offered)
    years = body["errors"].get("years", {})
    if typed[-4:].isdigit():
        assert years[typed] == {"year_hint": int(typed[-5:].strip("( )")), "catalogue_years": {"first": 1954, "last": 2000}}


def test_liked_titles_with_a_near_miss_are_404_naming_it(titles):
    client, _ = titles
    response = client.post("/recommendations/from-liked", json={"titles": ["pulp fictoin", "the matrix"], "k": 3})
    body = response.get_json()
    assert response.status_code == 404, body
    assert body["errors"]["json"] == {"titles": ["no match for 'the matrix'"]}
    assert list(body["errors"]["suggestions"]) == ["the matrix"]


def test_a_vague_miss_offers_no_confident_suggestion(titles):
    client, _ = titles
    body = by_title(client, "star heat")
    assert body["_status"] == 404
    assert body["errors"]["suggestions"]["star heat"]
    assert not any("confident" in s for s in body["errors"]["suggestions"]["star heat"])


def test_search_as_you_type_ranks_by_match_then_popularity(titles):
    client, _ = titles
    body = client.get("/movies", query_string={"q": "heat", "k": 5}).get_json()
    assert [(i["movie"]["title"], i["movie"]["year"]) for i in body["items"]][:2] == [("Heat", 1995), ("Heat and Dust", 1983)]
    typed = client.get("/movies", query_string={"q": "star t", "k": 5}).get_json()
    assert [i["movie"]["title"] for i in typed["items"]][:2] == ["Star Trek: First Contact", "Star Trek III: The Search for Spock"]
