"""Bring a user's served documents in line with everything they rated: one fold-in, one conditional write.

A served run holds, per user, a document in its users index (vector, `rated_movie_ids`, stats) and
one document per rating in its ratings index. For a user who gave feedback through the API these are
derived from two sources: the run's ratings index (the dataset's ratings and the feedback the run
trained on) and the user's feedback document (service.feedback, the system of record) — only its ratings
given against the run's edition (`ServedRun.edition`, the run's dataset); other editions' are held back — the latest
rating per movie winning; at equal times the feedback wins (pipeline.data.feedback merges the same way).

`sync_user` reads the served user document FIRST (its `_seq_no`), then the feedback (the run's own
ratings of the user and its movie vectors do not change while it is served: they are read once), folds
the vector in (`ActiveModel.fold_in`, the one fold-in of service/foldin.py) and writes the user
document with `if_seq_no`/`if_primary_term`, retrying on 409. A write can only succeed if nothing
wrote the document after this attempt read it, and that attempt read the feedback after its read of
the document; so the last successful write always reflects every rating stored before it, whatever
order concurrent requests finish in (no lost update). The service calls it after each change; the
pipeline calls it after an alias swap for every user whose feedback changed during the run.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from elasticsearch import ConflictError, Elasticsearch, helpers

import es_mappings
from pipeline.splits import LIKED_THRESHOLD
from service import feedback, queries
from service.model import ActiveModel
from service.movies import vectors_of

log = logging.getLogger(__name__)

FOLDED_IN = "folded_in"
TOP_GENRES = 3  # as pipeline.features.TOP_GENRES_COUNT
RATING_DEMOGRAPHICS = ("age", "age_band", "gender", "occupation")  # denormalised into rating documents
RATINGS_PAGE = 5_000


@dataclass(frozen=True)
class ServedRun:
    """A run's model and the concrete indices it serves (never the aliases: they may move meanwhile)."""

    model: ActiveModel
    movies: str
    users: str
    ratings: str

    @property
    def run_id(self) -> str:
        return self.model.run_id

    @property
    def edition(self) -> str:
        """The dataset the run trained on: only feedback given against it is folded in (service.feedback)."""
        return self.model.dataset

    @classmethod
    def of(cls, prefix: str, model: ActiveModel) -> ServedRun:
        names = {kind: es_mappings.versioned_index(prefix, kind, model.run_id) for kind in ("movies", "users", "ratings")}
        return cls(model, **names)


@dataclass
class Synced:
    """What `sync_user` wrote: the user document and the rated movies the model could not use."""

    doc: dict[str, Any]
    ignored: list[int] = field(default_factory=list)  # rated movies the model has no vector (or entry) for
    attempts: int = 1


def top_genres(rated: Iterable[tuple[float, Iterable[str]]], n: int = TOP_GENRES) -> list[str]:
    """The n most liked genres of (rating, genres) pairs: most ratings >= LIKED_THRESHOLD, ties by name
    (as pipeline.features computes them); empty when nothing is liked."""
    counts = Counter(g for rating, genres in rated if rating >= LIKED_THRESHOLD for g in genres)
    return [g for g, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]


def served_ratings(es: feedback.Client, index: str, user_id: int) -> dict[int, tuple[float, int]]:
    """movie id -> (rating, rated_at) of a user in one run's ratings index, paged in movie order."""
    out: dict[int, tuple[float, int]] = {}
    after: int | None = None
    while True:
        resp = feedback.connect(es).search(index=index, body=queries.user_ratings(user_id, size=RATINGS_PAGE, after=after))
        batch = resp["hits"]["hits"]
        for hit in batch:
            src = hit["_source"]
            out[int(src["movie_id"])] = (float(src["rating"]), feedback.epoch(src.get("rated_at")))
        if len(batch) < RATINGS_PAGE:
            return out
        after = int(batch[-1]["_source"]["movie_id"])


def merge(served: Mapping[int, tuple[float, int]], given: Mapping[int, tuple[float, int]]) -> dict[int, tuple[float, int]]:
    """All of a user's ratings, (rating, rated_at) per movie: the feedback `given` unless the served one is newer."""
    out = dict(served)
    for movie, entry in given.items():
        if movie not in out or entry[1] >= out[movie][1]:
            out[movie] = entry
    return out


def user_doc(
    user_id: int,
    profile: Mapping[str, Any],
    ratings: Mapping[int, tuple[float, int]],
    movies: Mapping[int, Mapping[str, Any]],
    run_id: str,
    vector: np.ndarray | None,
) -> dict[str, Any]:
    """The served user document: demographics, stats over every rating, rated ids, the folded vector."""
    values = [r for r, _ in ratings.values()]
    times = [t for _, t in ratings.values()]
    doc: dict[str, Any] = {
        "user_id": int(user_id),
        "source": FOLDED_IN,
        **profile,
        "rating_count": len(values),
        "rating_mean": round(float(np.mean(values)), 4) if values else None,
        "first_rating_at": min(times) if times else None,
        "last_rating_at": max(times) if times else None,
        "top_genres": top_genres((r, movies[m].get("genres", [])) for m, (r, _) in ratings.items() if m in movies),
        "rated_movie_ids": sorted(ratings),
        "run_id": run_id,
    }
    if vector is not None:
        doc["factors"] = [float(x) for x in np.asarray(vector, dtype=np.float32)]
    return {k: v for k, v in doc.items() if v is not None}


def rating_docs(
    user_id: int, profile: Mapping[str, Any], ratings: Mapping[int, tuple[float, int]], movies: Mapping[int, Mapping[str, Any]]
) -> list[tuple[str, dict[str, Any]]]:
    """(id, document) per rating for a run's ratings index, with the movie and the user's demographics."""
    demo = {k: profile[k] for k in RATING_DEMOGRAPHICS if k in profile}
    docs = []
    for movie_id, (rating, rated_at) in sorted(ratings.items()):
        movie = movies.get(movie_id, {})
        doc = {"user_id": int(user_id), "movie_id": movie_id, "rating": rating, "rated_at": rated_at, **demo}
        doc.update({k: movie[k] for k in ("title", "year", "genres") if movie.get(k) is not None})
        docs.append((f"{user_id}-{movie_id}", doc))
    return docs


def fold(model: ActiveModel, ratings: Mapping[int, tuple[float, int]],
         found: Mapping[int, tuple[dict[str, Any], np.ndarray | None, str | None]]) -> tuple[np.ndarray | None, list[int]]:
    """The user's vector from the ratings whose movies have one (None when none can be folded), and the rest."""
    usable = sorted(m for m in ratings if m in found and found[m][1] is not None)
    ignored = sorted(set(ratings) - set(usable))
    if not usable:
        return None, ignored
    factors = np.vstack([found[m][1] for m in usable])
    values = np.asarray([ratings[m][0] for m in usable], dtype=np.float64)
    try:
        return model.fold_in(factors, values).vector, ignored
    except ValueError as exc:  # e.g. no rating reaches an implicit model's positive threshold
        log.info("no vector for this user under run %s: %s", model.run_id, exc)
        return None, ignored


def sync_user(
    es: feedback.Client,
    prefix: str,
    run: ServedRun,
    user_id: int,
    *,
    copy: Iterable[int] | None = None,
    refresh: str | bool = "wait_for",
    tries: int = feedback.CAS_TRIES,
    sleep: Callable[[float], None] = time.sleep,
) -> Synced:
    """Fold the user in against `run` from all their ratings and write their served documents.

    copy: movie ids of the feedback to (re)write into the run's ratings index (None: all of it).
    refresh: of the writes; "wait_for" (the default) makes them searchable on return, as the API
        promises; a batch of users (pipeline.publish.refold) writes with False and refreshes once.
    Raises feedback.Contended when every attempt lost to a concurrent writer.
    """
    # The run's own ratings of the user (the dataset's) and its movie vectors do not change while it is
    # served: read once. Each attempt re-reads the served document, then the feedback.
    stored = served_ratings(es, run.ratings, user_id)
    timeline: feedback.Timeline | None = None
    found: dict[int, tuple[dict[str, Any], np.ndarray | None, str | None]] = {}
    looked_up: set[int] = set()
    for attempt in range(tries):
        served = _get_with_seq(feedback.connect(es), run.users, user_id)
        account = feedback.get_account(es, prefix, user_id)
        if account is not None and account.legacy and timeline is None:
            timeline = feedback.served_editions(es, prefix)
        given = account.ratings(run.edition, timeline or ()) if account is not None else {}
        ratings = merge(stored, given)
        if set(ratings) - looked_up:
            new = sorted(set(ratings) - looked_up)
            found.update(vectors_of(lambda body: feedback.connect(es).search(index=run.movies, body=body), new))
            looked_up.update(new)
        vector, ignored = fold(run.model, ratings, found)
        movies = {m: found[m][0] for m in ratings if m in found}
        profile = _profile(served[0] if served else None, account)
        doc = user_doc(user_id, profile, ratings, movies, run.run_id, vector)
        options: dict[str, Any] = (
            {"if_seq_no": served[1], "if_primary_term": served[2]} if served else {"op_type": "create"}
        )
        try:
            feedback.connect(es).index(index=run.users, id=str(int(user_id)), document=doc, refresh=refresh, **options)
        except ConflictError:
            log.debug("user %s changed meanwhile in %s (attempt %d)", user_id, run.users, attempt + 1)
            sleep(feedback.backoff(attempt))
            continue
        wanted = set(given) if copy is None else set(copy) & set(given)
        if wanted:
            docs = rating_docs(user_id, profile, {m: ratings[m] for m in wanted}, movies)
            actions = ({"_index": run.ratings, "_id": i, "_source": d} for i, d in docs)
            helpers.bulk(feedback.connect(es), actions, refresh=refresh, raise_on_error=True)
        return Synced(doc=doc, ignored=ignored, attempts=attempt + 1)
    raise feedback.Contended(f"user {user_id} in {run.users} was changed by {tries} concurrent writers in a row")


def _get_with_seq(es: Elasticsearch, index: str, user_id: int) -> tuple[dict[str, Any], int, int] | None:
    resp = es.options(ignore_status=404).get(index=index, id=str(int(user_id)))
    if not resp.body.get("found"):
        if resp.meta.status == 404 and "error" in resp.body:  # the index itself is gone
            raise feedback.FeedbackError(f"{index} does not exist")
        return None
    return dict(resp["_source"]), int(resp["_seq_no"]), int(resp["_primary_term"])


def _profile(served: Mapping[str, Any] | None, account: feedback.Account | None) -> dict[str, Any]:
    """Demographics: an account's own, else what the served document carries (a MovieLens user's)."""
    if account is not None and account.origin == feedback.ACCOUNT:
        return account.profile()
    return {k: served[k] for k in feedback.DEMOGRAPHICS if served and served.get(k) is not None}
