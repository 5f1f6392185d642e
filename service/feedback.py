"""Online feedback, the system of record: accounts and ratings given through the API.

Two plain indices that no run replaces (definitions in es_mappings/feedback.json, ids.json):

* `<prefix>-feedback`: one document per user who told movierec something through the API, id = user id.
  `origin` is "account" for users created by `POST /users` (with their demographics) and "dataset" for
  MovieLens users who rated more; `ratings` holds every rating given through the API,
  `[{movie_id, rating, rated_at}]` (epoch seconds). One document per user makes every change one
  read-modify-write, written with `if_seq_no`/`if_primary_term` and retried on 409, so two requests
  can never lose each other's ratings (Elasticsearch "Optimistic concurrency control").
* `<prefix>-ids`: the user-id allocator, one document `user_id` holding `next`, advanced by the same
  compare-and-set. Ids start at `es_mappings.ACCOUNT_ID_MIN`, are never handed out twice (also across
  runs and dataset changes: nothing here is versioned) and never pass `es_mappings.INTEGER_MAX`.

Every run reads the feedback index back (pipeline.data.feedback) and trains on it. Functions take a
plain `Elasticsearch` client (the pipeline's) or a function giving one per call (the service's
`store.client`, whose timeout is what the request has left), so the service and the pipeline share them.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Union

from elasticsearch import ApiError, ConflictError, Elasticsearch, NotFoundError

import es_mappings

log = logging.getLogger(__name__)

ACCOUNT, DATASET = "account", "dataset"  # values of `origin`
ALLOCATOR_ID = "user_id"
DEMOGRAPHICS = ("age", "age_band", "gender", "occupation", "zip")
CAS_TRIES = 64  # read-modify-write attempts before giving up (20 concurrent writers need at most 20)
BACKOFF_CAP_S = 0.05  # full-jitter backoff between attempts: uniform(0, min(cap, base * 2^attempt))
BACKOFF_BASE_S = 0.002


Client = Union[Elasticsearch, Callable[[], Elasticsearch]]  # noqa: UP007 - a runtime alias


def connect(es: Client) -> Elasticsearch:
    """The client for the next call: `es` itself, or what `es()` gives now."""
    return es() if callable(es) else es


class FeedbackError(Exception):
    """Base class of this module's errors."""


class Contended(FeedbackError):
    """A read-modify-write lost every one of its attempts to concurrent writers."""


class IdsExhausted(FeedbackError):
    """The allocator reached the largest id an ES `integer` holds."""


@dataclass(frozen=True)
class Account:
    """One feedback document as read, with what a conditional write of it needs."""

    user_id: int
    source: dict[str, Any]
    seq_no: int
    primary_term: int

    @property
    def origin(self) -> str:
        return str(self.source.get("origin", DATASET))

    def ratings(self) -> dict[int, tuple[float, int]]:
        """movie id -> (rating, rated_at epoch seconds)."""
        return {int(r["movie_id"]): (float(r["rating"]), int(r["rated_at"])) for r in self.source.get("ratings", [])}

    def profile(self) -> dict[str, Any]:
        """The demographics an account was created with (empty for origin "dataset")."""
        return {k: self.source[k] for k in DEMOGRAPHICS if self.source.get(k) is not None}


def feedback_index(prefix: str) -> str:
    return es_mappings.alias_name(prefix, "feedback")


def ids_index(prefix: str) -> str:
    return es_mappings.alias_name(prefix, "ids")


def ensure_indices(es: Client, prefix: str) -> dict[str, bool]:
    """Create the feedback and ids indices when missing: {index: created now}. Safe to repeat and to race."""
    out = {}
    for kind in ("feedback", "ids"):
        index = es_mappings.alias_name(prefix, kind)
        created = False
        if not connect(es).indices.exists(index=index):
            try:
                connect(es).indices.create(index=index, **es_mappings.index_body(kind))
                created = True
                log.info("created %s", index)
            except ApiError as exc:
                if getattr(exc, "error", "") != "resource_already_exists_exception":
                    raise
        out[index] = created
    return out


def backoff(attempt: int, rng: Callable[[float, float], float] = random.uniform) -> float:
    """Seconds to wait before attempt `attempt + 1` ("full jitter": spreads writers that collided)."""
    return rng(0.0, min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**attempt))


def _entry(movie_id: int, rating: float, rated_at: int) -> dict[str, Any]:
    return {"movie_id": int(movie_id), "rating": float(rating), "rated_at": int(rated_at)}


def _document(user_id: int, origin: str, profile: Mapping[str, Any], ratings: Mapping[int, tuple[float, int]],
              created_at: int, updated_at: int) -> dict[str, Any]:
    return {
        "user_id": int(user_id),
        "origin": origin,
        **{k: profile[k] for k in DEMOGRAPHICS if profile.get(k) is not None},
        "rating_count": len(ratings),
        "ratings": [_entry(m, r, t) for m, (r, t) in sorted(ratings.items())],
        "created_at": int(created_at),
        "updated_at": int(updated_at),
    }


def get_account(es: Client, prefix: str, user_id: int) -> Account | None:
    """The user's feedback document (real-time get), or None when they never gave feedback here."""
    try:
        resp = connect(es).get(index=feedback_index(prefix), id=str(int(user_id)))
    except NotFoundError:
        return None  # no such document, or no feedback index yet: nobody gave feedback
    return Account(int(user_id), dict(resp["_source"]), int(resp["_seq_no"]), int(resp["_primary_term"]))


def create_account(
    es: Client, prefix: str, user_id: int, profile: Mapping[str, Any], ratings: Mapping[int, float], now: int
) -> Account:
    """Store a new account with its first ratings; ConflictError when the id is taken."""
    doc = _document(user_id, ACCOUNT, profile, {m: (r, now) for m, r in ratings.items()}, now, now)
    resp = connect(es).index(index=feedback_index(prefix), id=str(int(user_id)), document=doc, op_type="create")
    return Account(int(user_id), doc, int(resp["_seq_no"]), int(resp["_primary_term"]))


def add_ratings(
    es: Client,
    prefix: str,
    user_id: int,
    ratings: Mapping[int, float],
    now: int,
    *,
    tries: int = CAS_TRIES,
    sleep: Callable[[float], None] = time.sleep,
) -> Account:
    """Merge ratings into the user's feedback (a movie rated again keeps the newest), by compare-and-set.

    A user without a feedback document (a MovieLens user rating for the first time here) gets one with
    origin "dataset". Raises Contended when every attempt met a concurrent write.
    """
    for attempt in range(tries):
        current = get_account(es, prefix, user_id)
        if current is None:
            doc = _document(user_id, DATASET, {}, {m: (r, now) for m, r in ratings.items()}, now, now)
            options: dict[str, Any] = {"op_type": "create"}
        else:
            merged = {**current.ratings(), **{m: (r, now) for m, r in ratings.items()}}
            created = int(current.source.get("created_at") or now)
            doc = _document(user_id, current.origin, current.profile(), merged, created, now)
            options = {"if_seq_no": current.seq_no, "if_primary_term": current.primary_term}
        try:
            resp = connect(es).index(index=feedback_index(prefix), id=str(int(user_id)), document=doc, **options)
        except ConflictError:
            log.debug("feedback of user %s changed meanwhile (attempt %d)", user_id, attempt + 1)
            sleep(backoff(attempt))
            continue
        return Account(int(user_id), doc, int(resp["_seq_no"]), int(resp["_primary_term"]))
    raise Contended(f"the feedback of user {user_id} was changed by {tries} concurrent writers in a row")


def allocate_user_id(
    es: Client, prefix: str, *, tries: int = CAS_TRIES, sleep: Callable[[float], None] = time.sleep
) -> int:
    """The next unused account id, by compare-and-set on the allocator document; never the same id twice."""
    index = ids_index(prefix)
    for attempt in range(tries):
        try:
            resp = connect(es).get(index=index, id=ALLOCATOR_ID)
        except NotFoundError:
            try:
                connect(es).index(index=index, id=ALLOCATOR_ID, document={"next": es_mappings.ACCOUNT_ID_MIN + 1,
                                                                  "updated_at": int(time.time())}, op_type="create")
            except ConflictError:
                sleep(backoff(attempt))
                continue
            return es_mappings.ACCOUNT_ID_MIN
        value = int(resp["_source"]["next"])
        if value > es_mappings.INTEGER_MAX:
            raise IdsExhausted(f"every user id up to {es_mappings.INTEGER_MAX} has been handed out")
        try:
            connect(es).index(index=index, id=ALLOCATOR_ID, document={"next": value + 1, "updated_at": int(time.time())},
                     if_seq_no=int(resp["_seq_no"]), if_primary_term=int(resp["_primary_term"]))
        except ConflictError:
            sleep(backoff(attempt))
            continue
        return value
    raise Contended(f"the user-id allocator was advanced by {tries} concurrent writers in a row")
