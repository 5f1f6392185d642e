"""Users: lookup, and accounts whose vector is folded in from ratings in real time.

Creating a user or adding ratings first stores them in the feedback index, the
system of record no run replaces (service.feedback: account ids from a durable
allocator, every change a compare-and-set). Then service.sync folds the user in
against the served run's movie vectors and writes their served documents
(vector, rated_movie_ids, stats, one document per rating) with refresh=wait_for,
so the very next recommendation is a plain kNN on the new vector with every
rated movie excluded. Should the aliases move to a new run meanwhile, the user
is written again against that run.

Ratings are stored with the served run's edition (its dataset) and a user is
folded in from the served edition's ratings only (service.feedback).

Once the feedback write has succeeded, the answer says so whatever happens next:
when writing the served documents fails (Elasticsearch slow, down, overloaded,
the model changing again and again) the answer is 202 Accepted (`accepted`),
with the user id, the stored movie ids and a `Location`; the served documents
follow on GET /users/{id} (an account the served run lacks is folded in then),
on the user's next ratings or at the next run. When the feedback write itself
times out, the 504 names the user id and says the write may have been stored.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from elastic_transport import ConnectionTimeout, TransportError
from elasticsearch import ApiError, ConflictError
from flask import current_app
from flask_smorest import abort

from service import feedback, model, scale, store, sync
from service.errors import DeadlineExceeded, IndexMissing
from service.explain import Session
from service.foldin import FoldedUser
from service.movies import canonical_ratings, vectors_of
from service.sync import top_genres

__all__ = ["Accepted", "add_ratings", "create", "fold", "get", "not_found", "public", "served", "top_genres"]

log = logging.getLogger(__name__)

ALLOCATE_TRIES = 5  # allocated ids a client had already chosen for itself before one is free
RUN_CHANGES = 3  # alias swaps one request follows before it gives up
_READY = "movierec.feedback_indices"
NEXT_STEPS = [
    "POST /users with ratings creates an account",
    "POST /recommendations/from-liked recommends from a few liked titles without an account",
    "GET /recommendations/cold-start recommends without any history",
]


# What can fail between the durable feedback write and the served documents' write: the answer is then 202.
_AFTER_STORE = (TransportError, ApiError, DeadlineExceeded, IndexMissing, feedback.FeedbackError)


@dataclass(frozen=True)
class Accepted:
    """Feedback stored durably whose served documents could not be written within this request (a 202)."""

    user_id: int
    stored_movie_ids: list[int]
    edition: str
    reason: str

    def body(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "stored": True,
            "served": False,
            "stored_movie_ids": self.stored_movie_ids,
            "edition": self.edition,
            "message": f"Stored: user {self.user_id} and ratings of movies {self.stored_movie_ids}. The served vector "
            f"follows ({self.reason}); do not send this request again. GET /users/{self.user_id} shows the user once "
            "served (an account is folded in on that request), their next ratings or the next run serve it too.",
        }


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
    return public(served(user_id))


def served(user_id: int, *, vectors: bool = False) -> dict[str, Any]:
    """The user's served document; 404 when unknown.

    A user with feedback whom the served run lacks (the aliases moved to a run that has not
    re-folded them yet) is folded in against it now.
    """
    doc = store.get("users", user_id, vectors=vectors)
    if doc is not None:
        return doc
    if not _has_feedback(user_id):
        not_found(user_id)
    try:
        _sync(user_id, copy=None)
    except feedback.FeedbackError as exc:
        _busy(exc)
    doc = store.get("users", user_id, vectors=vectors)
    if doc is None:
        not_found(user_id)
    return doc


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


def create(body: Mapping[str, Any]) -> dict[str, Any] | Accepted:
    """A new account from ratings (and optional demographics); 409 when a chosen id is taken.

    The served user (201), or Accepted (202) when the account is stored but not served yet.
    """
    scale.check_ratings(body["ratings"])  # 422 for a rating off the served edition's scale
    session = Session()
    ratings = canonical_ratings(session, _ratings_map(body["ratings"]))
    edition = fold(session, ratings).model.dataset  # 422 for unknown movies, or none with a vector, before anything is stored
    _ensure_feedback_indices()
    now = int(time.time())
    user_id = _new_account(body.get("user_id"), _demographics(body), ratings, now, edition)
    return _sync_or_accept(user_id, ratings, edition, copy=None)


def add_ratings(user_id: int, body: Mapping[str, Any]) -> dict[str, Any] | Accepted:
    """Store more ratings (a movie rated again keeps the newest), then fold the user in again.

    The served user (200), or Accepted (202) when the ratings are stored but the user is not served anew yet.
    """
    es = store.client
    if store.get("users", user_id) is None and not _has_feedback(user_id):
        not_found(user_id)
    scale.check_ratings(body["ratings"])
    session = Session()
    new = canonical_ratings(session, _ratings_map(body["ratings"]))
    unknown = sorted(set(new) - set(vectors_of(session, list(new))))
    if unknown:
        abort(422, message="Unknown movie ids.", errors={"json": {"ratings": [f"unknown movie ids: {unknown}"]}})
    _ensure_feedback_indices()
    edition = _served_edition()
    try:
        feedback.add_ratings(es, _prefix(), user_id, new, int(time.time()), edition)
    except feedback.Contended as exc:
        _busy(exc)
    except ConnectionTimeout:
        _maybe_stored(user_id, sorted(new), "resending the same ratings is safe (a movie rated again keeps the newest)")
    return _sync_or_accept(user_id, new, edition, copy=new)


def _served_edition() -> str:
    return model.current(store.active_run_id()).dataset


def _has_feedback(user_id: int) -> bool:
    """Whether the user gave feedback that exists in the served edition (an account, or a MovieLens user's ratings)."""
    account = feedback.get_account(store.client, _prefix(), user_id)
    if account is None:
        return False
    timeline = feedback.served_editions(store.client, _prefix()) if account.legacy else ()
    return account.belongs_to(_served_edition(), timeline)


def _sync_or_accept(user_id: int, stored: Mapping[int, float], edition: str, *, copy: Mapping[int, float] | None
                    ) -> dict[str, Any] | Accepted:
    """Write the served documents after the durable write; Accepted (a 202) when that fails, never an error."""
    try:
        return _answer(_sync(user_id, copy=copy))
    except _AFTER_STORE as exc:
        log.warning("user %s: feedback stored, served documents not written: %s: %s", user_id, type(exc).__name__, exc)
        return Accepted(user_id, sorted(stored), edition, _reason(exc))


def _reason(exc: Exception) -> str:
    if isinstance(exc, (ConnectionTimeout, DeadlineExceeded)):
        return "Elasticsearch did not answer within the request deadline"
    if isinstance(exc, feedback.FeedbackError):
        return str(exc)
    return f"Elasticsearch could not write it now: {type(exc).__name__}"


def _maybe_stored(user_id: int, movie_ids: list[int], retry: str) -> None:
    """A 504 for a feedback write that timed out: Elasticsearch may still have applied it."""
    abort(504, message=f"Elasticsearch did not confirm the write of user {user_id} within the request deadline; it may "
          f"have been stored: GET /users/{user_id} tells; {retry}.",
          errors={"json": {"user_id": [f"user {user_id}: write not confirmed, may be stored"],
                           "ratings": [f"movies {movie_ids}: write not confirmed, may be stored"]}})


def _new_account(wanted: int | None, profile: Mapping[str, Any], ratings: Mapping[int, float], now: int, edition: str) -> int:
    """Store the account under the chosen id, or the allocator's next one that no client took."""
    es, prefix = store.client, _prefix()
    if wanted is not None:
        try:
            feedback.create_account(es, prefix, wanted, profile, ratings, now, edition)
        except ConnectionTimeout:
            _maybe_stored(wanted, sorted(ratings), f"do not create it again: POST /users/{wanted}/ratings adds ratings")
        except ConflictError:
            abort(409, message=f"User {wanted} already exists; POST /users/{wanted}/ratings adds ratings.",
                  errors={"json": {"user_id": [f"user {wanted} already exists"]}})
        return wanted
    for _ in range(ALLOCATE_TRIES):
        try:
            user_id = feedback.allocate_user_id(es, prefix)
        except feedback.FeedbackError as exc:
            _busy(exc)
        try:
            feedback.create_account(es, prefix, user_id, profile, ratings, now, edition)
        except ConnectionTimeout:
            _maybe_stored(user_id, sorted(ratings), f"do not create another account: POST /users/{user_id}/ratings "
                          "adds ratings once it exists")
        except ConflictError:
            log.info("user id %s was chosen by a client; allocating the next", user_id)
            continue
        return user_id
    abort(503, message="Could not allocate a user id; retry.", headers={"Retry-After": "1"})


def _sync(user_id: int, *, copy: Mapping[int, float] | None) -> sync.Synced:
    """Write the user's served documents against the served run, again if the aliases moved meanwhile.

    Raises feedback.FeedbackError when writers kept colliding or the served run kept changing.
    """
    es, prefix = store.client, _prefix()
    for _ in range(RUN_CHANGES):
        run = sync.ServedRun.of(prefix, model.current(store.active_run_id()))
        synced = sync.sync_user(es, prefix, run, user_id, copy=None if copy is None else list(copy))
        if store.active_run_id() == run.run_id:
            return synced
        log.info("run %s stopped being served while user %s was written; writing again", run.run_id, user_id)
    raise feedback.FeedbackError(f"the served model changed {RUN_CHANGES} times while user {user_id} was written")


def _busy(exc: Exception) -> None:
    log.warning("%s", exc)
    abort(503, message=f"{exc}; retry.", headers={"Retry-After": "1"})


def _prefix() -> str:
    return str(current_app.config["INDEX_PREFIX"])


def _ensure_feedback_indices() -> None:
    """Create the feedback indices on this app's first write (bootstrap and every run create them too)."""
    if not current_app.extensions.get(_READY):
        feedback.ensure_indices(store.client, _prefix())
        current_app.extensions[_READY] = True


def _answer(synced: sync.Synced) -> dict[str, Any]:
    out = public(synced.doc)
    out["ignored_movie_ids"] = synced.ignored
    return out


def _ratings_map(items: Sequence[Mapping[str, Any]]) -> dict[int, float]:
    """movie id -> rating; a movie rated twice in one request keeps its last rating."""
    return {int(item["movie_id"]): float(item["rating"]) for item in items}


def _demographics(body: Mapping[str, Any]) -> dict[str, Any]:
    profile = {k: body[k] for k in feedback.DEMOGRAPHICS if body.get(k) is not None}
    if "age" in profile and "age_band" not in profile:
        from pipeline.features import (
            age_band,  # one banding table for pipeline and service
        )

        profile["age_band"] = age_band(int(profile["age"]))
    return profile
