"""Documents for Elasticsearch and the Spark-side bulk writer.

Two halves, kept apart so the first is testable without a cluster or Spark:
- `to_actions(rows, index, kind)`: plain dicts in, bulk actions out. Field names
  come from `es_mappings.properties(kind)`; nothing here lists them again.
- `write_partition` / `export_frame`: each Spark partition opens its own client
  from a picklable `client_options` dict and feeds `to_actions` to
  `elasticsearch.helpers.streaming_bulk`; per-partition stats travel back to
  the driver through `mapPartitionsWithIndex(...).collect()`, so the driver
  knows exactly how many documents landed and which failed.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout
from elasticsearch import Elasticsearch
from elasticsearch.helpers import streaming_bulk

import es_mappings
from pipeline import columns as C

log = logging.getLogger(__name__)

DOC_KINDS = ("movies", "users", "ratings")
FACTORS = C.FACTORS
FACTORS_UNIT = "factors_unit"
SIMILAR = "similar"  # the movie→movie vector (pipeline.similarity)
RATED_AT = "rated_at"
TRAINING_SOURCE = "training"
# Statuses worth another try: ES pushing back (429) and a proxy or node
# briefly unavailable (502/503/504). Anything else (400 mapping errors…) is final.
RETRY_STATUSES = (429, 502, 503, 504)


# --------------------------------------------------------------------------- documents


def doc_id(kind: str, row: Mapping[str, Any]) -> str:
    """The document id contract: movies/users by their id, ratings `user-movie`."""
    if kind == "movies":
        return str(row[C.MOVIE])
    if kind == "users":
        return str(row[C.USER])
    if kind == "ratings":
        return f"{row[C.USER]}-{row[C.MOVIE]}"
    raise ValueError(f"unknown document kind {kind!r}; expected one of {DOC_KINDS}")


def float32_list(values: Iterable[float]) -> list[float]:
    """Values rounded to float32, as Python floats (exactly what ES stores for `element_type: float`)."""
    return np.asarray(list(values), dtype=np.float32).astype(np.float64).tolist()


def unit_vector(values: Iterable[float]) -> list[float] | None:
    """`values / |values|` in float32, or None for a zero (or non-finite) vector.

    ES refuses non-unit vectors in a `dot_product` field, so a zero vector
    has no unit copy at all rather than a wrong one.
    """
    vec = np.asarray(list(values), dtype=np.float64)
    norm = float(np.linalg.norm(vec))
    if not vec.size or norm == 0.0 or not math.isfinite(norm):
        return None
    return float32_list(vec / norm)


@functools.cache
def _field_names(kind: str) -> frozenset[str]:
    return frozenset(es_mappings.properties(kind))


def to_document(row: Mapping[str, Any], kind: str, *, run_id: str | None = None, rank: int | None = None) -> dict:
    """One row (mapping field names, plus `factors` where there is one) as an ES document.

    Only mapped fields are kept (the indices are `dynamic: strict`) and nulls
    are left out. Movies get `factors_unit` from the first `rank` entries of
    `factors` (the latent part; the explicit model's bias entry is excluded).
    """
    fields = _field_names(kind)
    doc = {k: v for k, v in row.items() if k in fields and v is not None}
    if kind in ("movies", "users"):
        if run_id is not None:
            doc["run_id"] = run_id
        vector = row.get(FACTORS)
        if vector is not None:
            doc[FACTORS] = float32_list(vector)
        if kind == "movies" and row.get(SIMILAR) is not None:
            doc[SIMILAR] = float32_list(row[SIMILAR])
        if kind == "users":
            doc["source"] = TRAINING_SOURCE
        if kind == "movies" and vector is not None:
            if rank is None:
                raise ValueError("movies need the model rank to build factors_unit")
            unit = unit_vector(list(vector)[:rank])
            if unit is not None:
                doc[FACTORS_UNIT] = unit
            else:
                doc.pop(FACTORS_UNIT, None)
    return doc


def to_actions(
    rows: Iterable[Mapping[str, Any]],
    index: str,
    kind: str,
    *,
    run_id: str | None = None,
    rank: int | None = None,
) -> Iterator[dict]:
    """Bulk `index` actions (`_op_type`, `_index`, `_id`, `_source`) for `streaming_bulk`."""
    if kind not in DOC_KINDS:
        raise ValueError(f"unknown document kind {kind!r}; expected one of {DOC_KINDS}")
    for row in rows:
        yield {
            "_op_type": "index",
            "_index": index,
            "_id": doc_id(kind, row),
            "_source": to_document(row, kind, run_id=run_id, rank=rank),
        }


# --------------------------------------------------------------------------- Spark frames


def _mapped_columns(df: Any, kind: str, extra: tuple[str, ...] = ()) -> list[str]:
    fields = _field_names(kind)
    return [c for c in df.columns if c in fields or c in extra]


def movie_frame(movie_features: Any, item_factors: Any, similar: Any = None) -> Any:
    """Movie features with the index-side vector and, when given, the `similar` vectors
    (pipeline.similarity.vectors); movies ALS never saw keep no vector."""
    joined = movie_features.join(item_factors.select(C.MOVIE, FACTORS), on=C.MOVIE, how="left")
    if similar is not None:
        joined = joined.join(similar, on=C.MOVIE, how="left")
    return joined.select(*_mapped_columns(joined, "movies", (FACTORS,)))


def user_frame(user_features: Any, user_factors: Any) -> Any:
    """User features with the query-side vector."""
    joined = user_features.join(user_factors.select(C.USER, FACTORS), on=C.USER, how="left")
    return joined.select(*_mapped_columns(joined, "users", (FACTORS,)))


def rating_frame(ratings: Any, movies: Any, user_features: Any | None = None) -> Any:
    """Ratings denormalised with the movie's title/year/genres and the user's demographics.

    `user_features` (from `pipeline.features.user_features`) carries `age_band`
    next to the raw demographics, so the banding is not written twice.
    """
    from pyspark.sql import functions as F

    fields = _field_names("ratings")
    df = ratings.withColumnRenamed(C.TS, RATED_AT)
    movie_cols = [c for c in movies.columns if c in fields and c not in df.columns]
    df = df.join(F.broadcast(movies.select(C.MOVIE, *movie_cols)), on=C.MOVIE, how="left")
    if user_features is not None:
        user_cols = [c for c in user_features.columns if c in fields and c not in df.columns]
        if user_cols:
            df = df.join(F.broadcast(user_features.select(C.USER, *user_cols)), on=C.USER, how="left")
    return df.select(*_mapped_columns(df, "ratings"))


# --------------------------------------------------------------------------- bulk writing


@dataclass(frozen=True)
class BulkSettings:
    """How each partition writes.

    chunk_size: documents per `_bulk` request (default 500).
    max_retries: further tries of an item or request that got a retryable
        status or a connection error (default 5).
    initial_backoff / max_backoff: seconds slept before the first retry,
        doubled each time up to the cap (defaults 1 and 30).
    max_error_samples: failed items kept per partition for the report (default 5).
    progress_every: seconds between progress lines of one writer (default 15).
    """

    chunk_size: int = 500
    max_retries: int = 5
    initial_backoff: float = 1.0
    max_backoff: float = 30.0
    max_error_samples: int = 5
    progress_every: float = 15.0

    def __post_init__(self) -> None:
        if self.chunk_size < 1:
            raise ValueError("chunk_size must be >= 1")
        if self.max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        if self.initial_backoff < 0 or self.max_backoff < self.initial_backoff:
            raise ValueError("need 0 <= initial_backoff <= max_backoff")

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before retry number `attempt` (1-based)."""
        return min(self.max_backoff, self.initial_backoff * 2 ** (attempt - 1))


@dataclass
class PartitionStats:
    """What one partition (or, summed, one export) achieved."""

    ok: int = 0
    failed: int = 0
    retries: int = 0
    seconds: float = 0.0
    errors: list[dict] = field(default_factory=list)

    def add(self, other: PartitionStats, max_errors: int) -> None:
        self.ok += other.ok
        self.failed += other.failed
        self.retries += other.retries
        self.seconds = max(self.seconds, other.seconds)
        self.errors.extend(other.errors[: max(0, max_errors - len(self.errors))])


def _error_sample(info: Mapping[str, Any]) -> dict:
    """A small JSON-able description of a failed item (no document body, no exception object)."""
    op_type, item = next(iter(info.items()))
    error = item.get("error")
    if isinstance(error, Mapping):
        error = {k: error[k] for k in ("type", "reason") if k in error}
    elif error is not None:
        error = str(error)[:500]
    return {"op": op_type, "index": item.get("_index"), "id": item.get("_id"), "status": item.get("status"), "error": error}


def _chunks(actions: Iterable[dict], size: int) -> Iterator[list[dict]]:
    block: list[dict] = []
    for action in actions:
        block.append(action)
        if len(block) >= size:
            yield block
            block = []
    if block:
        yield block


def bulk_write(
    client: Elasticsearch,
    actions: Iterable[dict],
    settings: BulkSettings = BulkSettings(),
    sleep: Callable[[float], None] = time.sleep,
    *,
    require_alias: bool = False,
) -> PartitionStats:
    """Write `actions` with `streaming_bulk`, retrying what deserves it; never raises on item errors.

    `require_alias`: every `_index` must be an alias (a deleted target fails instead of being auto-created).

    `streaming_bulk` retries items answered with a status in RETRY_STATUSES
    (with `raise_on_exception=False` a whole-request 5xx becomes such items
    too). A connection error or timeout aborts its generator, so actions are
    fed one chunk at a time and the chunk's unacknowledged items are sent
    again after a backoff (index-by-id is idempotent).
    """
    stats = PartitionStats()
    started = last_report = time.monotonic()
    for block in _chunks(actions, settings.chunk_size):
        now = time.monotonic()
        if now - last_report >= settings.progress_every:
            last_report = now
            log.info("bulk: %d written, %d failed so far (%.0f docs/s)", stats.ok, stats.failed, stats.ok / (now - started))
        pending = block
        attempt = 0
        while pending:
            done: set[str] = set()
            try:
                for ok, info in streaming_bulk(
                    client,
                    pending,
                    chunk_size=settings.chunk_size,
                    max_retries=settings.max_retries,
                    initial_backoff=settings.initial_backoff,
                    max_backoff=settings.max_backoff,
                    retry_on_status=RETRY_STATUSES,
                    raise_on_error=False,
                    raise_on_exception=False,
                    **({"require_alias": True} if require_alias else {}),
                ):
                    item = next(iter(info.values()))
                    done.add(str(item.get("_id")))
                    if ok:
                        stats.ok += 1
                    else:
                        stats.failed += 1
                        if len(stats.errors) < settings.max_error_samples:
                            stats.errors.append(_error_sample(info))
                pending = []
            except (TransportConnectionError, ConnectionTimeout) as exc:
                reason = f"{type(exc).__name__}: {exc.message}"
                pending = [a for a in pending if a["_id"] not in done]
                attempt += 1
                if attempt > settings.max_retries:
                    stats.failed += len(pending)
                    for action in pending[: max(0, settings.max_error_samples - len(stats.errors))]:
                        stats.errors.append(
                            {"op": "index", "index": action["_index"], "id": action["_id"], "status": None, "error": reason[:500]}
                        )
                    pending = []
                else:
                    stats.retries += 1
                    wait = settings.backoff(attempt)
                    log.warning("bulk: %s; retrying %d documents in %.1fs", reason, len(pending), wait)
                    sleep(wait)
    stats.seconds = time.monotonic() - started
    return stats


def _executor_logging() -> None:
    """Executors' Python workers have no logging set up: send this module's INFO lines to stderr (the executor log)."""
    if not logging.getLogger().handlers and not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)


def write_partition(
    index_no: int,
    rows: Iterable[Any],
    *,
    client_options: Mapping[str, Any],
    index: str,
    kind: str,
    run_id: str | None,
    rank: int | None,
    settings: BulkSettings,
    require_alias: bool = False,
) -> Iterator[dict]:
    """Runs on an executor: its own client, its rows as bulk actions, one stats dict back."""
    _executor_logging()
    # Retries are ours (with backoff, counted); the transport must not repeat a bulk on its own.
    client = Elasticsearch(**{**client_options, "max_retries": 0})
    try:
        dicts = (row.asDict(recursive=True) if hasattr(row, "asDict") else dict(row) for row in rows)
        stats = bulk_write(client, to_actions(dicts, index, kind, run_id=run_id, rank=rank), settings, require_alias=require_alias)
    finally:
        client.close()
    rate = stats.ok / stats.seconds if stats.seconds > 0 else float("nan")
    log.info("%s partition %d: %d ok, %d failed in %.1fs (%.0f docs/s)", index, index_no, stats.ok, stats.failed, stats.seconds, rate)
    yield {"partition": index_no, **asdict(stats)}


def export_frame(
    df: Any,
    client_options: Mapping[str, Any],
    index: str,
    kind: str,
    *,
    run_id: str | None = None,
    rank: int | None = None,
    settings: BulkSettings = BulkSettings(),
    require_alias: bool = False,
) -> PartitionStats:
    """Write a DataFrame into `index` from the executors; the summed partition stats.

    `require_alias`: `index` is a (writer) alias and nothing may auto-create it (see indices.writer_alias).
    """
    writer = functools.partial(
        write_partition,
        client_options=dict(client_options),
        index=index,
        kind=kind,
        run_id=run_id,
        rank=rank,
        settings=settings,
        require_alias=require_alias,
    )
    started = time.monotonic()
    results = df.rdd.mapPartitionsWithIndex(writer).collect()
    total = PartitionStats()
    for part in sorted(results, key=lambda r: r["partition"]):
        total.add(
            PartitionStats(ok=part["ok"], failed=part["failed"], retries=part["retries"], seconds=part["seconds"], errors=part["errors"]),
            settings.max_error_samples,
        )
    total.seconds = time.monotonic() - started
    rate = total.ok / total.seconds if total.seconds > 0 else float("nan")
    log.info(
        "exported %s: %d ok, %d failed, %d connection retries, %d partitions in %.1fs (%.0f docs/s)",
        index, total.ok, total.failed, total.retries, len(results), total.seconds, rate,
    )
    return total
