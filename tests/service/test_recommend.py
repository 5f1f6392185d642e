"""Recommendations through the API, against the ES double and a pipeline-trained model,
compared with exact numpy computations."""

from __future__ import annotations

import numpy as np
import pytest

from service.model import ActiveModel
from service.queries import blend_factor
from tests.service.conftest import assert_no_trace

pytestmark = pytest.mark.spark


def ranked(body):
    return [(item["movie"]["movie_id"], item["score"]) for item in body["items"]]


def assert_ranking(got, want):
    assert [m for m, _ in got] == [m for m, _ in want]
    assert [s for _, s in got] == pytest.approx([s for _, s in want], rel=1e-5)


def sample_users(trained, n=4):
    return sorted(trained.users)[:: max(1, len(trained.users) // n)][:n]


# --------------------------------------------------------------------------- for a user


def test_user_recommendations_equal_exact_numpy_and_never_rated(client, served):
    t = served.trained
    for user_id in sample_users(t):
        body = client.get(f"/users/{user_id}/recommendations?k=10").get_json()
        want = t.expected(t.users[user_id]["factors"], k=10, exclude=t.ratings[user_id])
        assert_ranking(ranked(body), want)
        assert not {m for m, _ in ranked(body)} & set(t.ratings[user_id])
        assert body["user_id"] == user_id and body["mode"] == "knn" and "explain" not in body


def test_exact_mode_agrees_with_knn(client, served):
    for user_id in sample_users(served.trained):
        knn = ranked(client.get(f"/users/{user_id}/recommendations?k=15").get_json())
        exact = client.get(f"/users/{user_id}/recommendations?k=15&mode=exact").get_json()
        assert exact["mode"] == "exact"
        assert_ranking(ranked(exact), knn)


FILTERS = [
    ("genre=Comedy&genre=Drama", lambda m: bool({"Comedy", "Drama"} & set(m.get("genres", [])))),
    ("exclude_genre=Drama", lambda m: "Drama" not in m.get("genres", [])),
    ("min_rating=3.6", lambda m: m["bayes_rating"] >= np.float32(3.6)),
    ("min_ratings=25", lambda m: m["rating_count"] >= 25),
    ("min_popularity=0.7", lambda m: m["popularity"] >= np.float32(0.7)),
    ("year_from=1990&year_to=1996", lambda m: m.get("year") is not None and 1990 <= m["year"] <= 1996),
]


@pytest.mark.parametrize(("query", "keep"), FILTERS, ids=[q for q, _ in FILTERS])
@pytest.mark.parametrize("mode", ["knn", "exact"])
def test_each_filter_is_honoured(client, served, query, keep, mode):
    t = served.trained
    user_id = sample_users(t)[1]
    body = client.get(f"/users/{user_id}/recommendations?k=8&mode={mode}&{query}").get_json()
    want = t.expected(t.users[user_id]["factors"], k=8, exclude=t.ratings[user_id], keep=keep)
    assert want, "the filter leaves nothing: the test data does not exercise it"
    assert_ranking(ranked(body), want)
    assert all(keep(t.movies[m]) for m, _ in ranked(body))


@pytest.mark.parametrize("mode", ["knn", "exact"])
def test_blend_rescales_by_bayesian_rating(client, served, mode):
    t = served.trained
    user_id = sample_users(t)[2]
    k, blend = 5, 0.6
    body = client.get(f"/users/{user_id}/recommendations?k={k}&blend={blend}&mode={mode}").get_json()
    pool = t.expected(t.users[user_id]["factors"], k=5 * k if mode == "knn" else 10_000, exclude=t.ratings[user_id])
    rescored = [(m, s * blend_factor(float(np.float32(t.movies[m]["bayes_rating"])), blend)) for m, s in pool]
    want = sorted(rescored, key=lambda x: (-x[1], x[0]))[:k]
    assert_ranking(ranked(body), want)


def test_explain_returns_the_request_sent(client, served):
    user_id = sample_users(served.trained)[0]
    body = client.get(f"/users/{user_id}/recommendations?k=3&genre=Drama&explain=true").get_json()
    (sent,) = body["explain"]
    assert sent["index"] == f"{served.prefix}-movies"
    knn = sent["body"]["knn"]
    assert knn["k"] == 3 and knn["query_vector"] == pytest.approx(served.trained.users[user_id]["factors"])
    lookup = {"index": f"{served.prefix}-users", "id": str(user_id), "path": "rated_movie_ids"}
    assert {"terms": {"movie_id": lookup}} in knn["filter"]["bool"]["must_not"]


# --------------------------------------------------------------------------- similar, by title


def test_similar_movies_equal_the_nearest_similar_vectors(client, served):
    t = served.trained
    movie_id = sorted(m for m, r in t.movies.items() if r.get("similar"))[3]
    body = client.get(f"/movies/{movie_id}/similar?k=6").get_json()
    want = t.expected(t.movies[movie_id]["similar"], k=6, field_name="similar", similarity="dot_product", exclude=[movie_id])
    assert_ranking(ranked(body), want)
    assert body["movie"]["movie_id"] == movie_id
    exact = client.get(f"/movies/{movie_id}/similar?k=6&mode=exact").get_json()
    assert_ranking(ranked(exact), want)


def test_by_title_resolves_then_recommends_similar(client, served):
    t = served.trained
    movie_id = sorted(m for m, r in t.movies.items() if r.get("factors") and "," not in r["title"])[5]
    title = t.movies[movie_id]["title"]
    body = client.get("/recommendations/by-title", query_string={"title": title.lower(), "k": 5}).get_json()
    assert body["matched"]["movie_id"] == movie_id
    want = t.expected(t.movies[movie_id]["similar"], k=5, field_name="similar", similarity="dot_product", exclude=[movie_id])
    assert_ranking(ranked(body), want)
    year = t.movies[movie_id]["year"]
    hinted = client.get("/recommendations/by-title", query_string={"title": f"{title} ({year})"}).get_json()
    assert hinted["matched"]["movie_id"] == movie_id


def test_by_title_with_a_typo_and_as_a_prefix(client, served):
    t = served.trained
    movie_id, title = next((m, r["title"]) for m, r in sorted(t.movies.items())
                           if r.get("factors") and len(r["title"].split()) == 2 and all(len(w) >= 6 for w in r["title"].split()))
    first, second = title.split()
    typo = f"{first} {second[0]}{second[2]}{second[1]}{second[3:]}"  # one transposition
    assert client.get("/recommendations/by-title", query_string={"title": typo}).get_json()["matched"]["movie_id"] == movie_id
    prefix = f"{first} {second[:3]}"
    matched = client.get("/recommendations/by-title", query_string={"title": prefix}).get_json()
    assert movie_id in [matched["matched"]["movie_id"]] + [a["movie_id"] for a in matched["alternatives"]]


def test_ambiguous_title_lists_alternatives(client, served):
    t = served.trained
    words = {}
    for m, r in t.movies.items():
        if r.get("factors"):
            words.setdefault(r["title"].split()[0], []).append(m)
    word, movies = max(words.items(), key=lambda kv: (len(kv[1]), kv[0]))
    assert len(movies) >= 2
    body = client.get("/recommendations/by-title", query_string={"title": word}).get_json()
    found = {body["matched"]["movie_id"]} | {a["movie_id"] for a in body["alternatives"]}
    assert len(found) >= 2 and len(found & set(movies)) >= 2
    assert word.lower() in body["matched"]["title"].lower()


def test_unknown_title_is_404_with_suggestions(client, served):
    t = served.trained
    word = t.movies[min(t.movies)]["title"].split()[0]
    resp = client.get("/recommendations/by-title", query_string={"title": f"{word} qqqqqqqq"})
    assert resp.status_code == 404
    body = resp.get_json()
    assert body["code"] == 404 and body["status"] == "Not Found" and "qqqqqqqq" in body["message"]
    suggestions = body["errors"]["suggestions"][f"{word} qqqqqqqq"]
    assert any(word.lower() in s["movie"]["title"].lower() for s in suggestions)
    assert all(s["value"] == s["movie"]["title"] for s in suggestions)
    assert body["errors"]["query"]["title"] == [f"no match for '{word} qqqqqqqq'"]
    nothing = client.get("/recommendations/by-title", query_string={"title": "zzzzzzzz"}).get_json()
    assert nothing["errors"]["suggestions"] == {"zzzzzzzz": []}


NASTY = [
    "x'); return 1e9; //",
    'Heat" OR 1==1 \\',
    "doc['bayes_rating'].value * 1000",
    "\\\\u0000\"}}]",
]


@pytest.mark.parametrize("text", NASTY)
def test_hostile_text_changes_nothing_but_the_match(client, served, text):
    t = served.trained
    user_id = sample_users(t)[0]
    with_nasty = client.get(f"/users/{user_id}/recommendations", query_string={"k": 5, "genre": ["Drama", text]})
    assert with_nasty.status_code == 422  # too long, or not a genre of the served run: refused before any search
    assert set(with_nasty.get_json()["errors"]["query"]) == {"genre"}
    assert_no_trace(with_nasty.get_data(as_text=True))
    blended = client.get(f"/users/{user_id}/recommendations", query_string={"k": 5, "exclude_genre": text, "blend": 0.5})
    assert blended.status_code == 422 and set(blended.get_json()["errors"]["query"]) == {"exclude_genre"}
    by_title = client.get("/recommendations/by-title", query_string={"title": text})
    assert by_title.status_code in (200, 404)
    assert_no_trace(by_title.get_data(as_text=True))
    if by_title.status_code == 404:
        assert set(by_title.get_json()["errors"]["suggestions"]) == {text}


# --------------------------------------------------------------------------- from liked, audience, cold start


def test_from_liked_folds_in_and_excludes_the_liked(client, served):
    t = served.trained
    liked = sorted(m for m, r in t.movies.items() if r.get("factors"))[:3]
    title_id = sorted(m for m, r in t.movies.items() if r.get("factors") and "," not in r["title"])[10]
    body = client.post("/recommendations/from-liked",
                       json={"movie_ids": liked, "titles": [t.movies[title_id]["title"]], "k": 7}).get_json()
    all_liked = sorted(set(liked) | {title_id})
    assert [m["movie_id"] for m in body["liked"]] == all_liked
    model = ActiveModel.from_run({"run_id": served.run_id, "model": t.meta, "params": t.params})
    x = np.asarray([np.float32(t.movies[m]["factors"]) for m in all_liked], dtype=np.float64)
    vector = model.fold_in(x, np.full(len(all_liked), 5.0), liked=True).vector
    assert_ranking(ranked(body), t.expected(vector, k=7, exclude=all_liked))


def test_audience_equals_numpy_over_user_vectors(client, served):
    t = served.trained
    movie_id = sorted(m for m, r in t.movies.items() if r.get("factors"))[2]
    body = client.get(f"/movies/{movie_id}/audience?k=5").get_json()
    q = np.float32(t.movies[movie_id]["factors"]).astype(np.float64)
    scored = []
    for u, r in t.users.items():
        if movie_id in t.ratings[u]:
            continue
        dot = float(np.float32(r["factors"]).astype(np.float64) @ q)
        scored.append((u, 1 / (1 - dot) if dot < 0 else dot + 1))
    want = sorted(scored, key=lambda x: (-x[1], x[0]))[:5]
    got = [(x["user"]["user_id"], x["score"]) for x in body["users"]]
    assert [u for u, _ in got] == [u for u, _ in want]
    assert [s for _, s in got] == pytest.approx([s for _, s in want], rel=1e-5)
    everyone = client.get(f"/movies/{movie_id}/audience?k=40&exclude_rated=false").get_json()
    assert {x["user"]["user_id"] for x in everyone["users"]} & {u for u in t.users if movie_id in t.ratings[u]}


def _cold_expected(t, weights, k, keep=lambda m: True):
    scored = []
    for m, r in t.movies.items():
        if not keep(r):
            continue
        boost = sum(w for g, w in weights.items() if g in r.get("genres", []))
        b = min(float(np.float32(r["bayes_rating"])), 5.0)
        p = float(np.float32(r["popularity"]))
        scored.append((m, (1 + boost) * b / 5.0 * (0.1 + p)))
    return sorted(scored, key=lambda x: (-x[1], x[0]))[:k]


def test_cold_start_scores_rating_popularity_and_genres(client, served):
    t = served.trained
    plain = client.get("/recommendations/cold-start?k=6").get_json()
    assert plain["strategy"] == "bayes_rating+popularity" and plain["genre_weights"] == {}
    assert_ranking(ranked(plain), _cold_expected(t, {}, 6))
    fav = client.get("/recommendations/cold-start?k=6&favorite_genre=Drama&min_ratings=5").get_json()
    assert fav["strategy"] == "bayes_rating+popularity+favorite_genres"
    assert_ranking(ranked(fav), _cold_expected(t, {"Drama": 1.0}, 6, keep=lambda m: m["rating_count"] >= 5))


def test_cold_start_with_demographics_boosts_the_profile_genres(client, served):
    t = served.trained
    user = next(r for r in t.users.values() if r.get("gender") and r.get("age_band"))
    profile = {"gender": user["gender"], "age_band": user["age_band"]}
    body = client.get("/recommendations/cold-start", query_string={"k": 5, **profile}).get_json()
    members = {u for u, r in t.users.items() if all(r.get(k) == v for k, v in profile.items())}
    everyone, group = {}, {}
    for u, rated in t.ratings.items():
        for m in rated:
            for g in t.movies[m].get("genres", []):
                everyone[g] = everyone.get(g, 0) + 1
                if u in members:
                    group[g] = group.get(g, 0) + 1
    n_all, n_group = sum(everyone.values()), sum(group.values())
    lifts = {g: (c / n_group) / (everyone[g] / n_all) for g, c in group.items()}
    weights = {g: round(min(1.0, v - 1.0), 4) for g, v in lifts.items() if v > 1.0}
    assert body["profile"] == profile
    assert body["profile_ratings"] == sum(len(t.ratings[u]) for u in members)
    assert body["genre_weights"] == pytest.approx(weights)
    assert body["strategy"] == "bayes_rating+popularity+profile_genres"
    assert_ranking(ranked(body), _cold_expected(t, weights, 5))
    same = client.get("/recommendations/cold-start", query_string={"k": 5, "gender": user["gender"].lower(),
                                                                    "age_band": user["age_band"].upper()}).get_json()
    assert same["profile"] == profile and ranked(same) == ranked(body)  # matched case-insensitively, served spelling
    unknown = client.get("/recommendations/cold-start?k=3&occupation=astronaut-xyz")
    assert unknown.status_code == 422
    [message] = unknown.get_json()["errors"]["query"]["occupation"]
    occupations = sorted({r["occupation"] for r in t.users.values() if r.get("occupation")})
    assert message == f"unknown value 'astronaut-xyz'. Valid occupations: {', '.join(occupations)}."


def test_a_genre_typed_with_a_curly_apostrophe_is_the_served_genre(client, served):
    """Phones type "Children’s"; ml-100k spells it "Children's": the same filter, the same answer."""
    ascii_answer = client.get("/recommendations/cold-start", query_string={"k": 5, "genre": "Children's"})
    curly = client.get("/recommendations/cold-start", query_string={"k": 5, "genre": "children’s"})
    assert ascii_answer.status_code == curly.status_code == 200, curly.get_json()
    assert ranked(curly.get_json()) == ranked(ascii_answer.get_json())
    assert all("Children's" in item["movie"]["genres"] for item in curly.get_json()["items"])
    noir = client.get("/recommendations/cold-start", query_string={"k": 5, "exclude_genre": "film–noir"})
    assert noir.status_code == 200 and all("Film-Noir" not in i["movie"]["genres"] for i in noir.get_json()["items"])
