"""Cleaning with a rejects report: every dropped row is counted under one reason.

Rules (in this order; a row gets the first reason that applies):
- ratings: `malformed` (wrong field count, non-numeric id, rating or time),
  `out_of_range` (not a value of the edition's scale: 1..5 whole stars for
  ml-100k / ml-1m, 0.5..5 half stars otherwise), `unknown_movie` (movie id not
  among the clean movies), `unknown_user` (editions with a users table only:
  user id not among the clean users), `duplicate` (a repeated (user, movie)
  pair: the latest by timestamp is kept, ties by the higher rating).
- movies: `malformed`, `duplicate_id` (one row per movie id is kept).
- users: `malformed`, `duplicate_id`.
- tags: `malformed`, `unknown_movie`. links: `malformed`, `unknown_movie`.
Flagged but KEPT (counted under `flagged`): movies without a year in the
title (`no_year`, year is null) and movies without genres (`no_genres`:
"(no genres listed)" or ml-100k's "unknown" genre; genres is []).

The run continues unless rejected ratings exceed `max_reject_share` of the
rating lines read; then TooManyRejects carries the report (also written to
`report_path` first, when given).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from pipeline import columns as C
from pipeline.datasets import Dataset
from pipeline.errors import DatasetError, TooManyRejects
from pipeline.loaders import ERROR, LINE, MALFORMED, SCHEMAS, RawTables, Tables, conform, load_raw

log = logging.getLogger(__name__)

REASON = "_reason"
DEFAULT_MAX_REJECT_SHARE = 0.01
DEFAULT_SAMPLES = 5

REASONS: dict[str, tuple[str, ...]] = {
    "ratings": (MALFORMED, "out_of_range", "unknown_movie", "unknown_user", "duplicate"),
    "movies": (MALFORMED, "duplicate_id"),
    "users": (MALFORMED, "duplicate_id"),
    "tags": (MALFORMED, "unknown_movie"),
    "links": (MALFORMED, "unknown_movie"),
}
FLAGS: dict[str, tuple[str, ...]] = {"movies": ("no_year", "no_genres")}


def _first_reason(*cases: tuple[Column, str]) -> Column:
    """The reason of the first case whose condition holds; rows already rejected keep theirs."""
    expr = F.when(F.col(ERROR).isNotNull(), F.col(ERROR))
    for condition, reason in cases:
        expr = expr.when(condition, F.lit(reason))
    return expr


def _duplicates(df: DataFrame, keys: list[str], order: list[Column], reason: str) -> DataFrame:
    """Mark all but the first row (by `order`) of each key among rows not yet rejected."""
    window = Window.partitionBy(*keys).orderBy(F.col(REASON).isNull().desc(), *order)
    ranked = df.withColumn("_rank", F.row_number().over(window))
    marked = F.when(F.col(REASON).isNull() & (F.col("_rank") > 1), F.lit(reason)).otherwise(F.col(REASON))
    return ranked.withColumn(REASON, marked).drop("_rank")


def _ids(df: DataFrame, column: str) -> DataFrame:
    return F.broadcast(df.select(F.col(column).alias("_known")).distinct())


def _known(df: DataFrame, ids: DataFrame, column: str) -> DataFrame:
    """Add a boolean `_has_<column>`: is the row's id among `ids`."""
    flag = f"_has_{column}"
    joined = df.join(ids, df[column] == ids["_known"], "left")
    return joined.withColumn(flag, F.col("_known").isNotNull()).drop("_known")


def _summarise(tagged: DataFrame, samples: int) -> tuple[dict[str | None, int], dict[str, list[str]]]:
    """Counts by reason (None = kept) and up to `samples` source lines per reason."""
    counts = {r[REASON]: r["count"] for r in tagged.groupBy(REASON).count().collect()}
    found: dict[str, list[str]] = {}
    if samples > 0 and any(reason is not None for reason in counts):
        window = Window.partitionBy(REASON).orderBy(LINE)
        rows = (
            tagged.filter(F.col(REASON).isNotNull())
            .withColumn("_n", F.row_number().over(window))
            .filter(F.col("_n") <= samples)
            .select(REASON, LINE)
            .collect()
        )
        for row in rows:
            found.setdefault(row[REASON], []).append(row[LINE])
    return counts, found


def _finish(
    tagged: DataFrame,
    table: str,
    samples: int,
    report: dict[str, Any],
    flags: dict[str, Column] | None = None,
    reasons: tuple[str, ...] | None = None,
) -> DataFrame:
    """Count and sample `tagged`, record it in `report`, return the kept rows (persisted)."""
    tagged = tagged.persist(StorageLevel.MEMORY_AND_DISK)
    reasons = reasons or REASONS[table]
    counts, found = _summarise(tagged, samples)
    kept = conform(tagged.filter(F.col(REASON).isNull()), SCHEMAS[table]).persist(StorageLevel.MEMORY_AND_DISK)
    entry: dict[str, Any] = {
        "read": sum(counts.values()),
        "kept": counts.get(None, 0),
        "rejected": {reason: counts.get(reason, 0) for reason in reasons},
    }
    unexpected = set(counts) - set(reasons) - {None}
    if unexpected:
        raise RuntimeError(f"cleaning produced undeclared reasons for {table}: {sorted(unexpected)}")
    if flags:
        row = kept.agg(*[F.sum(cond.cast("long")).alias(name) for name, cond in flags.items()]).first()
        entry["flagged"] = {name: int(row[name] or 0) for name in flags}
    report["tables"][table] = entry
    if found:
        report["samples"][table] = found
    kept.count()
    tagged.unpersist()
    return kept


def clean(raw: RawTables, max_reject_share: float = DEFAULT_MAX_REJECT_SHARE, samples: int = DEFAULT_SAMPLES) -> tuple[Tables, dict]:
    """Clean parsed tables; returns the kept tables (persisted) and the rejects report."""
    if not 0 <= max_reject_share <= 1:
        raise ValueError(f"max_reject_share must be within [0, 1], got {max_reject_share}")
    dataset: Dataset = raw.dataset
    report: dict[str, Any] = {
        "dataset": dataset.name,
        "folder": str(raw.folder),
        "max_reject_share": max_reject_share,
        "tables": {},
        "samples": {},
    }

    movies = raw.movies.withColumn(REASON, F.col(ERROR))
    movies = _duplicates(movies, [C.MOVIE], [F.col(LINE)], "duplicate_id")
    movies = _finish(
        movies,
        "movies",
        samples,
        report,
        flags={"no_year": F.col(C.YEAR).isNull(), "no_genres": F.size(C.GENRES) == 0},
    )

    users = None
    if raw.users is not None:
        users = raw.users.withColumn(REASON, F.col(ERROR))
        users = _finish(_duplicates(users, [C.USER], [F.col(LINE)], "duplicate_id"), "users", samples, report)

    valid = set(dataset.rating_values)
    ratings = _known(raw.ratings, _ids(movies, C.MOVIE), C.MOVIE)
    cases = [
        (~F.col(C.RATING).isin(sorted(valid)), "out_of_range"),
        (~F.col(f"_has_{C.MOVIE}"), "unknown_movie"),
    ]
    if users is not None:
        ratings = _known(ratings, _ids(users, C.USER), C.USER)
        cases.append((~F.col(f"_has_{C.USER}"), "unknown_user"))
    ratings = ratings.withColumn(REASON, _first_reason(*cases))
    ratings = _duplicates(ratings, [C.USER, C.MOVIE], [F.col(C.TS).desc(), F.col(C.RATING).desc()], "duplicate")
    reasons = REASONS["ratings"] if users is not None else tuple(r for r in REASONS["ratings"] if r != "unknown_user")
    ratings = _finish(ratings, "ratings", samples, report, reasons=reasons)

    tags = links = None
    if raw.tags is not None:
        tags = _known(raw.tags, _ids(movies, C.MOVIE), C.MOVIE)
        tags = _finish(tags.withColumn(REASON, _first_reason((~F.col(f"_has_{C.MOVIE}"), "unknown_movie"))), "tags", samples, report)
    if raw.links is not None:
        links = _known(raw.links, _ids(movies, C.MOVIE), C.MOVIE)
        links = _finish(
            links.withColumn(REASON, _first_reason((~F.col(f"_has_{C.MOVIE}"), "unknown_movie"))), "links", samples, report
        )

    entry = report["tables"]["ratings"]
    if entry["read"] == 0:
        raise DatasetError(f"{dataset.name}: no rating lines in {raw.folder / dataset.ratings.file}")
    rejected = entry["read"] - entry["kept"]
    share = rejected / entry["read"]
    report["ratings_rejected"] = rejected
    report["ratings_reject_share"] = share
    report["status"] = "ok" if share <= max_reject_share else "too_many_rejects"
    tables = Tables(ratings=ratings, movies=movies, users=users, tags=tags, links=links)
    log.info(
        "%s: kept %d of %d ratings (%d rejected, %.4f%%)",
        dataset.name, entry["kept"], entry["read"], rejected, 100 * share,
    )
    if share > max_reject_share:
        unpersist(tables)
        raise TooManyRejects(
            f"{dataset.name}: {rejected} of {entry['read']} ratings rejected ({share:.2%}), "
            f"above max_reject_share {max_reject_share:.2%}: {entry['rejected']}",
            report,
        )
    return tables, report


def unpersist(tables: Tables) -> None:
    """Release the cached tables of `load_clean`."""
    for df in (tables.ratings, tables.movies, tables.users, tables.tags, tables.links):
        if df is not None:
            df.unpersist()


def write_report(report: dict, path: str | Path) -> Path:
    """Write the rejects report as JSON (parent folders created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def load_clean(
    spark: SparkSession,
    name: str | Dataset,
    data_dir: str | Path,
    max_reject_share: float = DEFAULT_MAX_REJECT_SHARE,
    report_path: str | Path | None = None,
    samples: int = DEFAULT_SAMPLES,
) -> tuple[Tables, dict]:
    """Load and clean an edition; returns (tables, rejects report).

    The tables are persisted (MEMORY_AND_DISK) because every later step reads
    them several times; `unpersist(tables)` releases them. Raises
    TooManyRejects when rejected ratings exceed `max_reject_share`; the
    report is written to `report_path` (if given) either way.
    """
    raw = load_raw(spark, name, data_dir)
    try:
        tables, report = clean(raw, max_reject_share=max_reject_share, samples=samples)
    except TooManyRejects as exc:
        if report_path is not None:
            write_report(exc.report, report_path)
        raise
    if report_path is not None:
        write_report(report, report_path)
    return tables, report
