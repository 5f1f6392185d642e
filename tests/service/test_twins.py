"""One movie per film, end to end: a film listed twice is one movie after the pipeline, the API
accepts its old id and answers with the canonical one, and nobody is recommended a film they rated
under either id."""

from __future__ import annotations

from collections import Counter

import pytest

from pipeline import synthetic
from tests.service.conftest import make_app
from tests.service.trained import N_MOVIES, N_RATINGS, N_USERS, Trained, publish, train

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def twinned(spark, tmp_path_factory) -> tuple[Trained, int, int, list[int]]:
    """Synthetic ml-100k where the most rated movie is listed again under a new id; a third of its
    raters rated it under the new id only, and one user under both (the later rating wins)."""
    root = tmp_path_factory.mktemp("twins-data")
    synthetic.generate(root, "ml-100k", n_users=N_USERS, n_movies=N_MOVIES, n_ratings=N_RATINGS, seed=23)
    folder = root / "ml-100k"
    items = (folder / "u.item").read_bytes().decode("latin-1").splitlines()
    lines = (folder / "u.data").read_text().splitlines()
    counts = Counter(int(line.split("\t")[1]) for line in lines)
    canonical = counts.most_common(1)[0][0]
    twin = max(int(line.split("|")[0]) for line in items) + 1
    source = next(line for line in items if int(line.split("|")[0]) == canonical)
    items.append("|".join([str(twin), *source.split("|")[1:]]))
    (folder / "u.item").write_bytes(("\n".join(items) + "\n").encode("latin-1"))
    raters = [i for i, line in enumerate(lines) if int(line.split("\t")[1]) == canonical]
    moved = raters[::3]
    for i in moved:
        user, _, rating, ts = lines[i].split("\t")
        lines[i] = "\t".join([user, str(twin), rating, ts])
    both = lines[raters[1]].split("\t")
    lines.append("\t".join([both[0], str(twin), "1", str(int(both[3]) + 1)]))
    (folder / "u.data").write_text("\n".join(lines) + "\n")
    twin_users = sorted({int(lines[i].split("\t")[0]) for i in moved})
    return train(spark, root), canonical, twin, twin_users


@pytest.fixture
def api(es, es_url, index_prefix, twinned):
    trained, canonical, twin, twin_users = twinned
    publish(es, index_prefix, trained)
    return make_app(es_url, index_prefix).test_client()


def test_the_twin_is_one_movie_with_its_old_id_recorded(twinned):
    trained, canonical, twin, _ = twinned
    assert twin not in trained.movies
    assert trained.movies[canonical]["merged_ids"] == [twin]
    assert all(int(r["movie_id"]) != twin for r in trained.docs["ratings"])


def test_old_ids_answer_with_the_canonical_movie(api, twinned):
    _, canonical, twin, _ = twinned
    assert api.get(f"/movies/{twin}").get_json()["movie_id"] == canonical
    similar = api.get(f"/movies/{twin}/similar?k=5").get_json()
    assert similar["movie"]["movie_id"] == canonical
    assert canonical not in [i["movie"]["movie_id"] for i in similar["items"]]
    audience = api.get(f"/movies/{twin}/audience?k=5").get_json()
    assert audience["movie"]["movie_id"] == canonical


def test_a_user_who_rated_one_twin_never_gets_the_other(api, twinned):
    trained, canonical, twin, twin_users = twinned
    assert twin_users
    for user_id in twin_users:
        assert canonical in trained.users[user_id]["rated_movie_ids"]
        body = api.get(f"/users/{user_id}/recommendations?k=100").get_json()
        got = {i["movie"]["movie_id"] for i in body["items"]}
        assert got and not got & {canonical, twin}


def test_the_latest_rating_wins_across_both_ids(twinned):
    trained, canonical, twin, _ = twinned
    user_both = [u for u, movies in trained.ratings.items() if movies.get(canonical) == 1.0]
    assert len(user_both) == 1  # the user who rated the twin last, with 1 star


def test_new_ratings_and_liked_ids_by_old_id_count_for_the_film(api, twinned):
    trained, canonical, twin, _ = twinned
    other = next(m for m, r in sorted(trained.movies.items()) if m != canonical and r.get("factors"))
    created = api.post("/users", json={"ratings": [{"movie_id": twin, "rating": 5}, {"movie_id": other, "rating": 4}]})
    assert created.status_code in (200, 201), created.get_json()
    user = created.get_json()
    assert user["rated_movie_ids"] == sorted([canonical, other])
    recs = api.get(f"/users/{user['user_id']}/recommendations?k=100").get_json()
    assert canonical not in {i["movie"]["movie_id"] for i in recs["items"]}
    liked = api.post("/recommendations/from-liked", json={"movie_ids": [twin], "k": 50}).get_json()
    assert [m["movie_id"] for m in liked["liked"]] == [canonical]
    assert canonical not in {i["movie"]["movie_id"] for i in liked["items"]}
