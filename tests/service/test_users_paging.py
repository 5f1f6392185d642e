"""A user's stored ratings are read page by page (search_after on movie id), past the first 5,000."""

from __future__ import annotations

import pytest
from elasticsearch import helpers

pytestmark = pytest.mark.spark

FILLER_FROM, FILLER_COUNT = 100_000, 5_200  # more than one page of 5,000 (service.sync.served_ratings)


def test_new_ratings_fold_in_every_stored_rating_past_the_first_page(client, served, es):
    """Adding one rating re-reads all 5,200 + n stored ratings: the second page counts in `rating_count`.

    The filler movies exist but have no vector in the model, so the fold-in ignores them and names them.
    """
    t = served.trained
    user_id = sorted(t.users)[2]
    own = t.ratings[user_id]
    filler = list(range(FILLER_FROM, FILLER_FROM + FILLER_COUNT))
    movies, ratings = f"{served.prefix}-movies", f"{served.prefix}-ratings"
    actions = [{"_index": movies, "_id": str(m), "movie_id": m, "title": f"Filler {m}", "genres": ["Drama"]}
               for m in filler]
    actions += [{"_index": ratings, "_id": f"{user_id}-{m}", "user_id": user_id, "movie_id": m, "rating": 3.0,
                 "rated_at": 0} for m in filler]
    helpers.bulk(es, actions, refresh=True)
    extra = next(m for m, r in sorted(t.movies.items()) if r.get("factors") and m not in own)

    resp = client.post(f"/users/{user_id}/ratings", json={"ratings": [{"movie_id": extra, "rating": 4.0}]})

    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["rating_count"] == len(own) + FILLER_COUNT + 1
    assert body["rated_movie_ids"] == sorted({*own, *filler, extra})
    assert body["ignored_movie_ids"] == filler
