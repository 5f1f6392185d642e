"""Users: lookup, and accounts whose vector is folded in from ratings in real time.

Creating a user or adding ratings folds the ratings in (service.foldin, against
the active run's movie vectors), writes the ratings to the ratings index and
the user (vector, rated_movie_ids, stats) to the users index with
refresh=wait_for, so the very next recommendation is a plain kNN on the new
vector with the new ratings excluded.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from elasticsearch import ConflictError
from flask_smorest import abort

from service import model, queries, store
from service.explain import Session
from service.foldin import FoldedUser
from service.movies import canonical_ratings, vectors_of

log = logging.getLogger(__name__)

FOLDED_IN = "folded_in"
TOP_GENRES = 3  # as pipeline.features.TOP_GENRES_COUNT
DEMOGRAPHICS = ("age", "age_band", "gender", "occupation", "zip")
ALLOCATE_TRIES = 5
NEXT_STEPS = [
    "POST /users with ratings creates an account",
    "POST /recommendations/from-liked recommends from a few liked titles without an account",
    "GET /recommendations/cold-start recommends without any history",
]


@dataclass(frozen=True)
class Fold:
    """A fold-in result with what it used."""

    user: FoldedUser
    model: model.ActiveModel
    movies: dict[int, dict[str, Any]]  # summaries of the movies used
    ignored: list[int]  # rated movies the model has no vector for


def public(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A user document without its vector."""
    return {k: v for k, v in doc.items() if k != "factors"}


def get(user_id: int) -> dict[str, Any]:
    """One user's profile and stats; 404 (with ways forward) when unknown."""
    doc = store.get("users", user_id)
    if doc is None:
        not_found(user_id)
    return public(doc)


def not_found(user_id: int) -> None:
    abort(404, message=f"Unknown user {user_id}. Ways forward: " + "; ".join(NEXT_STEPS) + ".",
          errors={"path": {"user_id": [f"unknown user {user_id}"]}})


def fold(session: Session, ratings: Mapping[int, float], *, liked: bool = False, field: str = "ratings") -> Fold:
    """Fold ratings (movie id -> rating) into a user vector; 422 naming unknown or unusable movies."""
    found = vectors_of(session, list(ratings))
    unknown = sorted(set(ratings) - set(found))
    if unknown:
        abort(422, message="Unknown movie ids.", errors={"json": {field: [f"unknown movie ids: {unknown}"]}})
    usable = sorted(m for m, (_, vec, _) in found.items() if vec is not None)
    if not usable:
        abort(422, message="None of these movies has a vector in the current model.",
              errors={"json": {field: ["no rated movie has a vector in the current model (nobody else rated them)"]}})
    run_ids = {found[m][2] for m in usable} - {None}
    active = model.current(next(iter(run_ids)) if len(run_ids) == 1 else None)
    factors = np.vstack([found[m][1] for m in usable])
    values = np.asarray([ratings[m] for m in usable], dtype=np.float64)
    try:
        user = active.fold_in(factors, values, liked=liked)
    except ValueError as exc:
        abort(422, message=str(exc), errors={"json": {field: [str(exc)]}})
    ignored = sorted(set(found) - set(usable))
    return Fold(user=user, model=active, movies={m: found[m][0] for m in found}, ignored=ignored)


def create(body: Mapping[str, Any]) -> dict[str, Any]:
    """A new user from ratings (and optional demographics); 409 when a given id exists."""
    session = Session()
    ratings = canonical_ratings(session, _ratings_map(body["ratings"]))
    folded = fold(session, ratings)
    now = int(time.time())
    profile = _demographics(body)
    wanted = body.get("user_id")
    for attempt in range(ALLOCATE_TRIES):
        user_id = wanted if wanted is not None else _next_user_id()
        doc = _user_doc(user_id, profile, ratings, {m: now for m in ratings}, folded)
        try:
            store.create("users", user_id, doc)
        except ConflictError:
            if wanted is not None:
                abort(409, message=f"User {user_id} already exists; POST /users/{user_id}/ratings adds ratings.",
                      errors={"json": {"user_id": [f"user {user_id} already exists"]}})
            log.info("user id %s taken meanwhile (try %d)", user_id, attempt + 1)
            continue
        _write_ratings(user_id, profile, ratings, now, folded.movies)
        return _answer(doc, folded)
    abort(503, message="Could not allocate a user id; retry.", headers={"Retry-After": "1"})


def add_ratings(user_id: int, body: Mapping[str, Any]) -> dict[str, Any]:
    """Merge new ratings into a user (new values win), fold the vector in again and store it."""
    current = store.get("users", user_id)
    if current is None:
        not_found(user_id)
    session = Session()
    new = canonical_ratings(session, _ratings_map(body["ratings"]))
    previous, rated_at = _stored_ratings(user_id)
    now = int(time.time())
    merged = {**previous, **new}
    rated_at.update({m: now for m in new})
    folded = fold(session, merged)
    profile = {k: current[k] for k in DEMOGRAPHICS if current.get(k) is not None}
    _write_ratings(user_id, profile, new, now, folded.movies)
    doc = _user_doc(user_id, profile, merged, rated_at, folded)
    store.put("users", user_id, doc)
    return _answer(doc, folded)


def _answer(doc: Mapping[str, Any], folded: Fold) -> dict[str, Any]:
    out = public(doc)
    out["ignored_movie_ids"] = folded.ignored
    return out


def _ratings_map(items: Sequence[Mapping[str, Any]]) -> dict[int, float]:
    """movie id -> rating; a movie rated twice in one request keeps its last rating."""
    return {int(item["movie_id"]): float(item["rating"]) for item in items}


def _demographics(body: Mapping[str, Any]) -> dict[str, Any]:
    profile = {k: body[k] for k in DEMOGRAPHICS if body.get(k) is not None}
    if "age" in profile and "age_band" not in profile:
        from pipeline.features import (
            age_band,  # one banding table for pipeline and service
        )

        profile["age_band"] = age_band(int(profile["age"]))
    return profile


def _next_user_id() -> int:
    resp = store.search("users", queries.max_user_id())
    highest = resp.get("aggregations", {}).get("max_user_id", {}).get("value")
    return int(highest or 0) + 1


def _stored_ratings(user_id: int) -> tuple[dict[int, float], dict[int, int]]:
    """A user's ratings in the ratings index (paged by movie id)."""
    ratings: dict[int, float] = {}
    rated_at: dict[int, int] = {}
    after: int | None = None
    page = 5_000
    while True:
        resp = store.search("ratings", queries.user_ratings(user_id, size=page, after=after))
        batch = resp["hits"]["hits"]
        for hit in batch:
            src = hit["_source"]
            ratings[int(src["movie_id"])] = float(src["rating"])
            rated_at[int(src["movie_id"])] = _epoch(src.get("rated_at"))
        if len(batch) < page:
            return ratings, rated_at
        after = int(batch[-1]["_source"]["movie_id"])


def _epoch(value: Any) -> int:
    if isinstance(value, (int, float)):
        return int(value)
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if isinstance(value, str):
        from datetime import datetime

        return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())  # noqa: FURB162 - 3.10 refuses "Z"
    return int(time.time())


def _user_doc(
    user_id: int,
    profile: Mapping[str, Any],
    ratings: Mapping[int, float],
    rated_at: Mapping[int, int],
    folded: Fold,
) -> dict[str, Any]:
    values = list(ratings.values())
    times = [rated_at[m] for m in ratings if m in rated_at]
    return {
        "user_id": int(user_id),
        "source": FOLDED_IN,
        **profile,
        "rating_count": len(values),
        "rating_mean": round(float(np.mean(values)), 4),
        "first_rating_at": min(times),
        "last_rating_at": max(times),
        "top_genres": top_genres(folded.movies[m].get("genres", []) for m in ratings if m in folded.movies),
        "rated_movie_ids": sorted(ratings),
        "run_id": folded.model.run_id,
        "factors": [float(x) for x in np.asarray(folded.user.vector, dtype=np.float32)],
    }


def top_genres(genre_lists: Any, n: int = TOP_GENRES) -> list[str]:
    """The n most rated genres, ties by name (as pipeline.features computes them)."""
    counts = Counter(g for genres in genre_lists for g in genres)
    return [g for g, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]


def _write_ratings(
    user_id: int, profile: Mapping[str, Any], ratings: Mapping[int, float], now: int, movies: Mapping[int, Mapping[str, Any]]
) -> None:
    demo = {k: profile[k] for k in ("age", "age_band", "gender", "occupation") if k in profile}
    docs = []
    for movie_id, rating in sorted(ratings.items()):
        movie = movies.get(movie_id, {})
        doc = {"user_id": int(user_id), "movie_id": movie_id, "rating": rating, "rated_at": now, **demo}
        doc.update({k: movie[k] for k in ("title", "year", "genres") if movie.get(k) is not None})
        docs.append((f"{user_id}-{movie_id}", doc))
    written = store.bulk_put("ratings", docs)
    log.info("user %s: %d ratings written", user_id, written)
