"""Recommendations: resolve who or what to a vector, build the query (service.queries), run it once.

For a user: their stored vector, kNN on movie `factors`, rated movies excluded
inside Elasticsearch by a terms lookup on the user's `rated_movie_ids`. For a
title or a movie: its `similar` vector (collaborative and content parts, see
pipeline.similarity), kNN by dot product. For liked titles:
a vector folded in now. Audience: the movie's vector, kNN on user `factors`.
Cold start: one script_score over Bayesian rating, popularity and genres.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from flask import current_app

from service import movies, queries, store, users
from service.explain import Session
from service.queries import Filters, SeenLookup, VectorSearch

PROFILE_FIELDS = ("age_band", "gender", "occupation")
SIMILAR = "similar"  # the movie→movie vectors (pipeline.similarity), unit length
_GENRE_CACHE = "movierec.genre_counts"


def _vector_query(args: Mapping[str, Any], field: str, vector: Sequence[float], **kwargs: Any) -> dict[str, Any]:
    q = VectorSearch(
        field=field,
        vector=vector,
        k=args["k"],
        mode=args.get("mode", "knn"),
        num_candidates=args.get("num_candidates"),
        blend=args.get("blend", 0.0),
        rating_scale=float(current_app.config["RATING_MAX"]),
        **kwargs,
    )
    return queries.vector_search(q)


def for_user(user_id: int, args: Mapping[str, Any]) -> dict[str, Any]:
    """Top movies for a stored user (trained or folded in), never one they rated."""
    session = Session(args["explain"])
    user = users.served(user_id, vectors=True)
    if not user.get("factors"):
        users.not_found(user_id)
    seen = SeenLookup(index=store.index_of("users"), user_id=user_id)
    filt = queries.movie_filter(Filters.from_args(args), seen=seen)
    resp = session.search("movies", _vector_query(args, "factors", user["factors"], filter=filt))
    return session.result(user_id=user_id, mode=args["mode"], items=movies.scored(movies.hits(resp)))


def _similar(session: Session, movie_id: int, args: Mapping[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    doc, unit = movies.with_vector(movie_id, SIMILAR)
    filt = queries.movie_filter(Filters.from_args(args), exclude_ids=[int(doc["movie_id"])])
    body = _vector_query(args, SIMILAR, unit, similarity="dot_product", filter=filt)
    return movies.summary(doc), movies.scored(movies.hits(session.search("movies", body)))


def similar(movie_id: int, args: Mapping[str, Any]) -> dict[str, Any]:
    """Movies whose `similar` vectors are closest to this one's (dot product of unit vectors), itself excluded."""
    session = Session(args["explain"])
    movie, items = _similar(session, movie_id, args)
    return session.result(movie=movie, mode=args["mode"], items=items)


def by_title(args: Mapping[str, Any]) -> dict[str, Any]:
    """Free text resolved to the best movie, then its similar movies; says what matched."""
    session = Session(args["explain"])
    match, alternatives = movies.resolve(session, args["title"], args.get("year"))
    _, items = _similar(session, match["movie_id"], args)
    return session.result(matched=match, alternatives=alternatives, mode=args["mode"], items=items,
                          **movies.year_note(args["title"]))


def from_liked(args: Mapping[str, Any]) -> dict[str, Any]:
    """A vector folded in now from liked movies (ids and/or titles), then kNN without them."""
    session = Session(args["explain"])
    ids = list(args.get("movie_ids") or [])
    old_ids = movies.merged_into(session, ids)  # a film listed twice answers under its canonical id
    ids = [old_ids.get(m, m) for m in ids]
    if args.get("titles"):
        ids += [m["movie_id"] for m in movies.resolve_many(session, args["titles"])]
    liked = {movie_id: float(current_app.config["RATING_MAX"]) for movie_id in ids}
    folded = users.fold(session, liked, liked=True, field="movie_ids")
    filt = queries.movie_filter(Filters.from_args(args), exclude_ids=sorted(liked))
    resp = session.search("movies", _vector_query(args, "factors", folded.user.vector.tolist(), filter=filt))
    return session.result(
        liked=[folded.movies[m] for m in sorted(liked)],
        ignored_movie_ids=folded.ignored,
        mode=args["mode"],
        items=movies.scored(movies.hits(resp)),
    )


def audience(movie_id: int, args: Mapping[str, Any]) -> dict[str, Any]:
    """Users whose vectors score this movie highest (kNN on users' factors), by default not yet raters."""
    session = Session(args["explain"])
    doc, vector = movies.with_vector(movie_id, "factors")
    filt = queries.user_filter(
        gender=args.get("gender"),
        age_band=args.get("age_band"),
        occupation=args.get("occupation"),
        not_rated=int(doc["movie_id"]) if args["exclude_rated"] else None,
    )
    body = _vector_query({**args, "blend": 0.0}, "factors", vector, filter=filt, source=queries.USER_FIELDS)
    hits = movies.hits(session.search("users", body))
    found = [{"user": {k: h["_source"][k] for k in queries.USER_FIELDS if k in h["_source"]}, "score": h["_score"]} for h in hits]
    return session.result(movie=movies.summary(doc), mode=args["mode"], users=found)


def genre_lifts(everyone: Mapping[str, int], profile: Mapping[str, int]) -> dict[str, float]:
    """genre -> its share among the profile's ratings divided by its share among everyone's (1.0 = as everyone)."""
    total_all, total_profile = sum(everyone.values()), sum(profile.values())
    if not total_all or not total_profile:
        return {}
    return {g: (c / total_profile) / (everyone[g] / total_all) for g, c in sorted(profile.items()) if everyone.get(g)}


def profile_weights(lifts: Mapping[str, float], cap: float = 1.0) -> dict[str, float]:
    """Boost weights for the genres a profile over-rates: lift − 1, capped, only where positive."""
    return {g: round(min(cap, lift - 1.0), 4) for g, lift in sorted(lifts.items()) if lift > 1.0}


def _buckets(resp: Mapping[str, Any]) -> dict[str, int]:
    return {b["key"]: int(b["doc_count"]) for b in resp["aggregations"]["genres"]["buckets"]}


def _everyone_genres(session: Session) -> dict[str, int]:
    """Ratings per genre over everyone, kept per served run (it only changes with a new run)."""
    return store.per_active_run(_GENRE_CACHE, lambda: _buckets(session.search("ratings", queries.genre_counts(), main=False)))


def cold_start(args: Mapping[str, Any]) -> dict[str, Any]:
    """No history: Bayesian rating x popularity x favorite genres and genres the profile over-rates."""
    session = Session(args["explain"])
    weights = {g: 1.0 for g in args.get("favorite_genre") or ()}
    profile = _profile(args)
    strategy = ["bayes_rating", "popularity"] + (["favorite_genres"] if weights else [])
    profile_ratings = None
    if profile:
        resp = session.search("ratings", queries.genre_counts(profile), main=False)
        counts, profile_ratings = _buckets(resp), int(resp["hits"]["total"]["value"])
        for genre, w in profile_weights(genre_lifts(_everyone_genres(session), counts)).items():
            weights[genre] = max(weights.get(genre, 0.0), w)
        if profile_ratings:
            strategy.append("profile_genres")
    body = queries.cold_start(
        k=args["k"], genre_weights=weights, filters=Filters.from_args(args), rating_scale=float(current_app.config["RATING_MAX"])
    )
    resp = session.search("movies", body)
    return session.result(
        strategy="+".join(strategy),
        profile=profile,
        profile_ratings=profile_ratings,
        genre_weights=weights,
        items=movies.scored(movies.hits(resp)),
    )


def _profile(args: Mapping[str, Any]) -> dict[str, Any]:
    profile = {k: args[k] for k in PROFILE_FIELDS if args.get(k) is not None}
    if args.get("age") is not None and "age_band" not in profile:
        from pipeline.features import (
            age_band,  # one banding table for pipeline and service
        )

        profile["age_band"] = age_band(int(args["age"]))
    return profile
