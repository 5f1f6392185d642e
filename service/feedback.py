"""Online feedback, the system of record: accounts and ratings given through the API.

Two plain indices that no run replaces (definitions in es_mappings/feedback.json, ids.json):

* `<prefix>-feedback`: one document per user who told movierec something through the API, id = user id.
  `origin` is "account" for users created by `POST /users` (with their demographics) and "dataset" for
  MovieLens users who rated more; `ratings` holds every rating given through the API,
  `[{movie_id, rating, rated_at, edition}]` (epoch seconds; `edition` = the dataset name of the run served
  when it was given: movie ids, and a MovieLens user's id, mean something only within one edition). One document per user makes every change one
  read-modify-write, written with `if_seq_no`/`if_primary_term` and retried on 409, so two requests
  can never lose each other's ratings (Elasticsearch "Optimistic concurrency control").
* `<prefix>-ids`: the user-id allocator, one document `user_id` holding `next`, advanced by the same
  compare-and-set. Ids start at `es_mappings.ACCOUNT_ID_MIN`, are never handed out twice (also across
  runs and dataset changes: nothing here is versioned) and never pass `es_mappings.INTEGER_MAX`.

Every run reads the feedback index back (pipeline.data.feedback) and trains on the ratings of its own
edition; the service folds a user in from the served edition's ratings. Ratings of other editions are kept
and held back (they count again when a run of their edition is served). An account exists in every edition;
a MovieLens user's feedback only in the editions it has ratings of. Ratings stored before editions were
recorded (no `edition`) are attributed to the edition of the run that was served when they were given:
the last run with status "succeeded" that finished at or before `rated_at` (`served_editions`,
`edition_at`); with no such run their edition is UNKNOWN_EDITION and they are held back. A write of the
document stores the attributed edition. Functions take a
plain `Elasticsearch` client (the pipeline's) or a function giving one per call (the service's
`store.client`, whose timeout is what the request has left), so the service and the pipeline share them.
"""

from __future__ import annotations

import logging
import random
import time
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Union

from elasticsearch import ApiError, ConflictError, Elasticsearch, NotFoundError

import es_mappings
from service import queries

log = logging.getLogger(__name__)

ACCOUNT, DATASET = "account", "dataset"  # values of `origin`
ALLOCATOR_ID = "user_id"
DEMOGRAPHICS = ("age", "age_band", "gender", "occupation", "zip")
CAS_TRIES = 64  # read-modify-write attempts before giving up (20 concurrent writers need at most 20)
BACKOFF_CAP_S = 0.05  # full-jitter backoff between attempts: uniform(0, min(cap, base * 2^attempt))
BACKOFF_BASE_S = 0.002
UNKNOWN_EDITION = "unknown"  # a rating stored before editions were recorded, given when no run had been served
Timeline = Sequence[tuple[int, str]]  # (finished_at epoch seconds, dataset) of the served runs, oldest first
Entries = dict[tuple[str, int], tuple[float, int]]  # (edition, movie id) -> (rating, rated_at epoch seconds)


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

    @property
    def legacy(self) -> bool:
        """Whether some rating was stored before editions were recorded (attributing it needs `served_editions`)."""
        return any("edition" not in r for r in self.source.get("ratings", []))

    def entries(self, timeline: Timeline = ()) -> Entries:
        """Every stored rating: (edition, movie id) -> (rating, rated_at); the latest per key."""
        return entries_of(self.source.get("ratings", []), timeline)

    def ratings(self, edition: str, timeline: Timeline = ()) -> dict[int, tuple[float, int]]:
        """movie id -> (rating, rated_at epoch seconds) of the ratings given against `edition`."""
        return {m: v for (e, m), v in self.entries(timeline).items() if e == edition}

    def belongs_to(self, edition: str, timeline: Timeline = ()) -> bool:
        """Whether this user exists in `edition`: an account always, a MovieLens user with ratings of it."""
        return self.origin == ACCOUNT or any(e == edition for e, _ in self.entries(timeline))

    def profile(self) -> dict[str, Any]:
        """The demographics an account was created with (empty for origin "dataset")."""
        return {k: self.source[k] for k in DEMOGRAPHICS if self.source.get(k) is not None}


def feedback_index(prefix: str) -> str:
    return es_mappings.alias_name(prefix, "feedback")


def ids_index(prefix: str) -> str:
    return es_mappings.alias_name(prefix, "ids")


def edition_at(timeline: Timeline, at: int) -> str:
    """The dataset of the run served at `at` (epoch s): the last one finished by then, else UNKNOWN_EDITION."""
    i = bisect_right([t for t, _ in timeline], int(at))
    return timeline[i - 1][1] if i else UNKNOWN_EDITION


def served_editions(es: Client, prefix: str) -> list[tuple[int, str]]:
    """The edition timeline: (finished_at epoch s, dataset) of every run with status "succeeded", oldest first."""
    try:
        resp = connect(es).search(index=es_mappings.alias_name(prefix, "runs"), body=queries.served_runs())
    except NotFoundError:
        return []
    out = []
    for hit in resp["hits"]["hits"]:
        src = hit["_source"]
        if src.get("finished_at") and src.get("dataset"):
            out.append((epoch(src["finished_at"]), str(src["dataset"])))
    return sorted(out)


def epoch(value: Any) -> int:
    """Epoch seconds from a stored date (epoch seconds or an ISO date; now when missing)."""
    if isinstance(value, (int, float)) or (isinstance(value, str) and value.isdigit()):
        return int(value)
    if isinstance(value, str):
        return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())  # noqa: FURB162 - 3.10 refuses "Z"
    return int(time.time())


def entries_of(stored: Iterable[Mapping[str, Any]], timeline: Timeline = ()) -> Entries:
    """Stored `ratings` entries as (edition, movie id) -> (rating, rated_at), the latest per key; an entry
    without `edition` gets the one `edition_at` attributes."""
    out: Entries = {}
    for r in stored:
        at = int(r["rated_at"])
        key = (str(r.get("edition") or edition_at(timeline, at)), int(r["movie_id"]))
        if key not in out or at >= out[key][1]:
            out[key] = (float(r["rating"]), at)
    return out


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


def _entry(edition: str, movie_id: int, rating: float, rated_at: int) -> dict[str, Any]:
    entry: dict[str, Any] = {"movie_id": int(movie_id), "rating": float(rating), "rated_at": int(rated_at)}
    if edition != UNKNOWN_EDITION:  # an unattributed legacy rating stays as it was stored
        entry["edition"] = edition
    return entry


def _document(user_id: int, origin: str, profile: Mapping[str, Any], ratings: Entries,
              created_at: int, updated_at: int) -> dict[str, Any]:
    return {
        "user_id": int(user_id),
        "origin": origin,
        **{k: profile[k] for k in DEMOGRAPHICS if profile.get(k) is not None},
        "rating_count": len(ratings),
        "ratings": [_entry(e, m, r, t) for (e, m), (r, t) in sorted(ratings.items())],
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
    es: Client, prefix: str, user_id: int, profile: Mapping[str, Any], ratings: Mapping[int, float], now: int, edition: str
) -> Account:
    """Store a new account with its first ratings, given against `edition`; ConflictError when the id is taken."""
    doc = _document(user_id, ACCOUNT, profile, {(edition, m): (r, now) for m, r in ratings.items()}, now, now)
    resp = connect(es).index(index=feedback_index(prefix), id=str(int(user_id)), document=doc, op_type="create")
    return Account(int(user_id), doc, int(resp["_seq_no"]), int(resp["_primary_term"]))


def add_ratings(
    es: Client,
    prefix: str,
    user_id: int,
    ratings: Mapping[int, float],
    now: int,
    edition: str,
    *,
    tries: int = CAS_TRIES,
    sleep: Callable[[float], None] = time.sleep,
) -> Account:
    """Merge ratings given against `edition` into the user's feedback (a movie rated again in the same
    edition keeps the newest; other editions' ratings are kept as they are), by compare-and-set.

    A user without a feedback document (a MovieLens user rating for the first time here) gets one with
    origin "dataset". Ratings stored before editions were recorded are written back with the edition
    `edition_at` attributes. Raises Contended when every attempt met a concurrent write.
    """
    given = {(edition, m): (r, now) for m, r in ratings.items()}
    timeline: Timeline | None = None
    for attempt in range(tries):
        current = get_account(es, prefix, user_id)
        if current is None:
            doc = _document(user_id, DATASET, {}, given, now, now)
            options: dict[str, Any] = {"op_type": "create"}
        else:
            if current.legacy and timeline is None:
                timeline = served_editions(es, prefix)
            merged = {**current.entries(timeline or ()), **given}
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
