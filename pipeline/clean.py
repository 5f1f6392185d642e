"""Cleaning with a rejects report: every dropped row is counted under one reason.

Rules (in this order; a row gets the first reason that applies):
- every table: `id_out_of_range` for an id that is not 1..2,147,483,647 (an ES `integer`); dataset
  user ids must also stay below 1,000,000,000, where the ids of accounts created through the API
  begin (es_mappings.ACCOUNT_ID_MIN).
- ratings: `malformed` (wrong field count, non-numeric id, rating or time),
  `out_of_range` (not a value of the edition's scale: 1..5 whole stars for
  ml-100k / ml-1m, 0.5..5 half stars otherwise), `unknown_movie` (movie id not
  among the clean movies), `unknown_user` (editions with a users table only:
  user id not among the clean users), `duplicate` (a repeated (user, movie)
  pair: the latest by timestamp is kept, ties by the higher rating).
- movies: `malformed` (wrong field count, non-numeric id, empty title, bad
  genre flags), `duplicate_id` (the first line of a movie id is kept),
  `duplicate_title` (the same film listed again under another id, see below).
- users: `malformed` (also unknown ml-1m age or occupation codes), `duplicate_id`.
- tags: `malformed`, `unknown_movie`. links: `malformed`, `unknown_movie`.
Flagged but KEPT (counted under `flagged`): movies without a year in the
title (`no_year`: year is null) and movies without genres (`no_genres`:
"(no genres listed)" or ml-100k's "unknown" genre; genres is []). They are
real, rateable movies; dropping them would turn their ratings into rejects.

One movie per film: movies with the same normalised title (Unicode NFKC,
case-folded, whitespace collapsed) and the same year are one film listed
twice (ml-100k lists 18 films twice, e.g. "Chasing Amy" as 246 and 268), unless
the edition's links say otherwise: entries whose IMDb or TMDb ids disagree and
never agree are different films (a TV film or a same-year namesake). The
lowest id is the canonical one; the others are counted under
`duplicate_title`, listed in the report's `merged_movies`, and their ratings,
tags and links follow the canonical id (then, as for any repeated (user,
movie) pair, the latest rating wins). The canonical movie gets the union of
the genres. Movies without a year are never merged.

The run continues unless rejected ratings exceed `max_reject_share` of the
rating lines read; then TooManyRejects carries the report (written to
`report_path` first, when given).
"""

from __future__ import annotations

import json
import logging
import unicodedata
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from pipeline import columns as C
from pipeline.datasets import Dataset
from pipeline.errors import DatasetError, TooManyRejects
from pipeline.loaders import (
    ERROR,
    ID_OUT_OF_RANGE,
    LINE,
    MALFORMED,
    MOVIE_ID_MAX,
    SCHEMAS,
    USER_ID_MAX,
    RawTables,
    Record,
    Tables,
    conform,
    frame,
    id_in_range,
    load_raw,
)

log = logging.getLogger(__name__)

REASON = "_reason"
DUPLICATE_TITLE = "duplicate_title"
DEFAULT_MAX_REJECT_SHARE = 0.01
DEFAULT_SAMPLES = 5

REASONS: dict[str, tuple[str, ...]] = {
    "ratings": (MALFORMED, ID_OUT_OF_RANGE, "out_of_range", "unknown_movie", "unknown_user", "duplicate"),
    "movies": (MALFORMED, ID_OUT_OF_RANGE, "duplicate_id", DUPLICATE_TITLE),
    "users": (MALFORMED, ID_OUT_OF_RANGE, "duplicate_id"),
    "tags": (MALFORMED, ID_OUT_OF_RANGE, "unknown_movie"),
    "links": (MALFORMED, ID_OUT_OF_RANGE, "unknown_movie"),
}


# --- small tables, in Python ----------------------------------------------------------------------


def clean_records(
    records: list[Record], samples: int, max_id: int = MOVIE_ID_MAX
) -> tuple[list[tuple], dict[str, Any], dict[str, list[str]]]:
    """Drop malformed lines, ids outside 1..max_id and repeated ids (first line wins); kept rows, counts, samples."""
    kept: list[tuple] = []
    seen: set[int] = set()
    rejected = {MALFORMED: 0, ID_OUT_OF_RANGE: 0, "duplicate_id": 0}
    found: dict[str, list[str]] = {}
    for values, line in records:
        if values is None:
            reason: str | None = MALFORMED
        elif not id_in_range(values[0], max_id):
            reason = ID_OUT_OF_RANGE
        else:
            reason = "duplicate_id" if values[0] in seen else None
        if reason is None:
            seen.add(values[0])
            kept.append(values)
            continue
        rejected[reason] += 1
        if len(found.setdefault(reason, [])) < samples:
            found[reason].append(line)
    entry = {"read": len(records), "kept": len(kept), "rejected": rejected}
    return kept, entry, found


def normalised_title(title: str) -> str:
    """The form two listings of one film share: NFKC, case-folded, whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFKC", title).casefold().split())


def _different_films(a: Sequence[str | None], b: Sequence[str | None]) -> bool:
    """Identifiers (IMDb, TMDb) that disagree and never agree mean two films."""
    both = [(x, y) for x, y in zip(a, b, strict=True) if x and y]
    return bool(both) and all(x != y for x, y in both)


def _title_groups(rows: Sequence[tuple]) -> dict[tuple[str, int], list[int]]:
    """Movie ids by (normalised title, year); movies without a year are left out."""
    groups: dict[tuple[str, int], list[int]] = {}
    for row in rows:
        movie_id, title, year = row[0], row[1], row[2]
        if year is not None and title:
            groups.setdefault((normalised_title(title), year), []).append(movie_id)
    return groups


def same_film_ids(rows: Sequence[tuple], links: Mapping[int, Sequence[str | None]] | None = None) -> dict[int, int]:
    """Merged movie id -> canonical (lowest) id, for films listed more than once (see module doc).

    `rows` are movie rows (movie_id, title, year, genres); `links` maps a movie id to
    its (imdb_id, tmdb_id) where the edition has them.
    """
    merged: dict[int, int] = {}
    ids_of = links or {}
    for ids in _title_groups(rows).values():
        pending = sorted(ids)
        while len(pending) > 1:
            cluster, rest = [pending[0]], []
            for m in pending[1:]:  # joins unless its identifiers disagree with a member's
                mine = ids_of.get(m, (None, None))
                if any(_different_films(ids_of.get(c, (None, None)), mine) for c in cluster):
                    rest.append(m)
                else:
                    cluster.append(m)
            merged.update({m: cluster[0] for m in cluster[1:]})
            pending = rest
    return merged


def merge_movie_rows(rows: Sequence[tuple], merged: Mapping[int, int]) -> list[tuple]:
    """Movie rows without the merged ids; a canonical row gets the union of its listings' genres."""
    extra: dict[int, list[str]] = {}
    for row in rows:
        if row[0] in merged:
            extra.setdefault(merged[row[0]], []).extend(row[3] or [])
    out = []
    for row in rows:
        if row[0] in merged:
            continue
        genres = list(row[3] or [])
        genres += [g for g in dict.fromkeys(extra.get(row[0], [])) if g not in genres]
        out.append((*row[:3], genres, *row[4:]))
    return out


def merged_by_canonical(report: Mapping[str, Any]) -> dict[int, list[int]]:
    """Canonical movie id -> the ids merged into it, from a cleaning report."""
    return {int(e["canonical"]): [int(m) for m in e["merged"]] for e in report.get("merged_movies", [])}


def _merged_report(rows: Sequence[tuple], merged: Mapping[int, int]) -> list[dict[str, Any]]:
    by_id = {row[0]: row for row in rows}
    canonical: dict[int, list[int]] = {}
    for old, new in sorted(merged.items()):
        canonical.setdefault(new, []).append(old)
    return [
        {"canonical": c, "merged": olds, "title": by_id[c][1], "year": by_id[c][2]}
        for c, olds in sorted(canonical.items())
    ]


def _link_ids(raw: RawTables, candidates: Sequence[int]) -> dict[int, tuple[str | None, str | None]] | None:
    """IMDb and TMDb ids of the candidate movies (None when the edition has no links)."""
    if raw.links is None or not candidates:
        return None
    rows = (
        raw.links.filter(F.col(ERROR).isNull() & F.col(C.MOVIE).isin(list(candidates)))
        .select(C.MOVIE, C.IMDB_ID, C.TMDB_ID)
        .collect()
    )
    return {int(r[0]): (r[1], r[2]) for r in rows}


def _dedupe_movies(raw: RawTables, rows: list[tuple], entry: dict[str, Any], report: dict[str, Any]) -> tuple[list[tuple], dict[int, int]]:
    """Merge films listed twice (see module doc); returns the kept rows and merged id -> canonical id."""
    candidates = [m for ids in _title_groups(rows).values() if len(ids) > 1 for m in ids]
    merged = same_film_ids(rows, _link_ids(raw, candidates))
    entry["rejected"][DUPLICATE_TITLE] = len(merged)
    entry["kept"] -= len(merged)
    report["merged_movies"] = _merged_report(rows, merged)
    if merged:
        log.info("%s: %d movies listed twice merged into their canonical ids", raw.dataset.name, len(merged))
    return merge_movie_rows(rows, merged), merged


def _canonical(df: DataFrame, merged_ids: DataFrame | None) -> DataFrame:
    """`movie_id` replaced by its canonical id where the movie was merged."""
    if merged_ids is None:
        return df
    joined = df.join(F.broadcast(merged_ids), df[C.MOVIE] == merged_ids["_old"], "left")
    return joined.withColumn(C.MOVIE, F.coalesce(F.col("_new"), F.col(C.MOVIE))).drop("_old", "_new")


# --- large tables, in Spark -----------------------------------------------------------------------


def _first_reason(*cases: tuple[Column, str]) -> Column:
    """The reason of the first case that holds; rows the loader marked malformed keep that."""
    expr = F.when(F.col(ERROR).isNotNull(), F.col(ERROR))
    for condition, reason in cases:
        expr = expr.when(condition, F.lit(reason))
    return expr


def _known(df: DataFrame, ids: DataFrame, column: str) -> DataFrame:
    """Add `_has_<column>`: is the row's id among `ids` (a small, broadcast id list)."""
    joined = df.join(F.broadcast(ids), df[column] == ids["_known"], "left")
    return joined.withColumn(f"_has_{column}", F.col("_known").isNotNull()).drop("_known")


def _id_frame(spark: SparkSession, ids: list[int]) -> DataFrame:
    return spark.createDataFrame([(i,) for i in ids], "_known int")


def _samples(rows: DataFrame, samples: int) -> dict[str, list[str]]:
    """Up to `samples` source lines per REASON (first by line text), from rejected rows only."""
    window = Window.partitionBy(REASON).orderBy(LINE)
    picked = (
        rows.withColumn("_n", F.row_number().over(window)).filter(F.col("_n") <= samples).select(REASON, LINE).collect()
    )
    found: dict[str, list[str]] = {}
    for row in picked:
        found.setdefault(row[REASON], []).append(row[LINE])
    return found


def _count_and_sample(
    tagged: DataFrame, table: str, reasons: tuple[str, ...], samples: int, report: dict[str, Any]
) -> dict[str | None, int]:
    """Rows of `tagged` by REASON (None = passes), recorded in the report with samples of the rejects."""
    counts = {r[REASON]: r["count"] for r in tagged.groupBy(REASON).count().collect()}
    unexpected = set(counts) - set(reasons) - {None}
    if unexpected:
        raise RuntimeError(f"cleaning produced undeclared reasons for {table}: {sorted(unexpected)}")
    if samples > 0 and any(reason is not None for reason in counts):
        found = _samples(tagged.filter(F.col(REASON).isNotNull()), samples)
        report["samples"].setdefault(table, {}).update(found)
    report["tables"][table] = {
        "read": sum(counts.values()),
        "kept": counts.get(None, 0),
        "rejected": {reason: counts.get(reason, 0) for reason in reasons},
    }
    return counts


def _persist(df: DataFrame) -> tuple[DataFrame, int]:
    """Cache (MEMORY_AND_DISK) and materialise; later steps read these tables several times."""
    df = df.persist(StorageLevel.MEMORY_AND_DISK)
    return df, df.count()


def _spark_table(
    tagged: DataFrame, table: str, reasons: tuple[str, ...], samples: int, report: dict[str, Any]
) -> DataFrame:
    """Count and sample the rows of `tagged` by REASON; return the kept rows, persisted."""
    _count_and_sample(tagged, table, reasons, samples, report)
    return _persist(conform(tagged.filter(F.col(REASON).isNull()), SCHEMAS[table]))[0]


def _clean_ratings(
    raw: RawTables,
    movie_ids: DataFrame,
    user_ids: DataFrame | None,
    samples: int,
    report: dict[str, Any],
    merged_ids: DataFrame | None = None,
) -> DataFrame:
    """Reject by line (malformed, out of range, unknown ids), then keep one rating per (user, movie).

    Ratings of a merged movie count for its canonical id before duplicates are
    resolved. Duplicates are resolved by an aggregate, not a window: the row kept
    for a pair is max((ts, rating)), i.e. the latest, ties by the higher rating.
    A clean file is read twice; its source lines are never cached.
    """
    ratings = _known(raw.ratings, movie_ids, C.MOVIE)
    cases = [
        (~F.col(C.RATING).isin(list(raw.dataset.rating_values)), "out_of_range"),
        (~F.col(f"_has_{C.MOVIE}"), "unknown_movie"),
    ]
    reasons = REASONS["ratings"]
    if user_ids is not None:
        ratings = _known(ratings, user_ids, C.USER)
        cases.append((~F.col(f"_has_{C.USER}"), "unknown_user"))
    else:
        reasons = tuple(r for r in reasons if r != "unknown_user")
    tagged = ratings.withColumn(REASON, _first_reason(*cases))
    counts = _count_and_sample(tagged, "ratings", reasons, samples, report)

    valid = _canonical(tagged.filter(F.col(REASON).isNull()), merged_ids)
    latest = valid.groupBy(C.USER, C.MOVIE).agg(F.max(F.struct(C.TS, C.RATING)).alias("_latest"))
    kept, n_kept = _persist(
        conform(latest.select(C.USER, C.MOVIE, f"_latest.{C.RATING}", f"_latest.{C.TS}"), C.RATINGS_SCHEMA)
    )
    duplicates = counts.get(None, 0) - n_kept
    entry = report["tables"]["ratings"]
    entry["kept"] -= duplicates
    entry["rejected"]["duplicate"] = duplicates
    if duplicates and samples > 0:
        # the older copies: valid rows other than their pair's kept (ts, rating)
        k = kept.select(C.USER, C.MOVIE, F.col(C.TS).alias("_kts"), F.col(C.RATING).alias("_kr"))
        dropped = valid.join(k, [C.USER, C.MOVIE]).filter(
            (F.col(C.TS) != F.col("_kts")) | (F.col(C.RATING) != F.col("_kr"))
        )
        found = _samples(dropped.select(F.lit("duplicate").alias(REASON), F.col(LINE)), samples)
        report["samples"].setdefault("ratings", {}).update(found)
    return kept


def _clean_by_movie(
    raw_table: DataFrame, table: str, movie_ids: DataFrame, samples: int, report: dict, merged_ids: DataFrame | None = None
) -> DataFrame:
    """Tags and links of known movies; a merged movie's tags follow its canonical id, its links are dropped."""
    tagged = _known(raw_table, movie_ids, C.MOVIE)
    tagged = tagged.withColumn(REASON, _first_reason((~F.col(f"_has_{C.MOVIE}"), "unknown_movie")))
    kept = _spark_table(tagged, table, REASONS[table], samples, report)
    if merged_ids is None:
        return kept
    if table == "links":  # the canonical movie keeps its own identifiers
        return kept.join(F.broadcast(merged_ids), kept[C.MOVIE] == merged_ids["_old"], "left_anti")
    return _canonical(kept, merged_ids)


# --- the whole edition ----------------------------------------------------------------------------


def clean(
    spark: SparkSession,
    raw: RawTables,
    max_reject_share: float = DEFAULT_MAX_REJECT_SHARE,
    samples: int = DEFAULT_SAMPLES,
) -> tuple[Tables, dict]:
    """Clean parsed tables; returns the kept tables and the rejects report (see module doc)."""
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

    listed, entry, found = clean_records(raw.movie_records, samples)
    movie_rows, merged = _dedupe_movies(raw, listed, entry, report)
    entry["flagged"] = {
        "no_year": sum(row[2] is None for row in movie_rows),
        "no_genres": sum(not row[3] for row in movie_rows),
    }
    report["tables"]["movies"] = entry
    if found:
        report["samples"]["movies"] = found
    movies = frame(spark, movie_rows, C.MOVIES_SCHEMA)
    movie_ids = _id_frame(spark, [row[0] for row in listed])  # merged ids stay known: their rows are remapped
    merged_ids = spark.createDataFrame(sorted(merged.items()), "_old int, _new int") if merged else None

    users = user_ids = None
    if raw.user_records is not None:
        user_rows, entry, found = clean_records(raw.user_records, samples, USER_ID_MAX)
        report["tables"]["users"] = entry
        if found:
            report["samples"]["users"] = found
        users = frame(spark, user_rows, C.USERS_SCHEMA)
        user_ids = _id_frame(spark, [row[0] for row in user_rows])

    ratings = _clean_ratings(raw, movie_ids, user_ids, samples, report, merged_ids)
    tags = _clean_by_movie(raw.tags, "tags", movie_ids, samples, report, merged_ids) if raw.tags is not None else None
    links = _clean_by_movie(raw.links, "links", movie_ids, samples, report, merged_ids) if raw.links is not None else None
    tables = Tables(ratings=ratings, movies=movies, users=users, tags=tags, links=links)

    entry = report["tables"]["ratings"]
    if entry["read"] == 0:
        unpersist(tables)
        raise DatasetError(f"{dataset.name}: no rating lines in {raw.folder / dataset.ratings.file}")
    rejected = entry["read"] - entry["kept"]
    share = rejected / entry["read"]
    report["ratings_rejected"] = rejected
    report["ratings_reject_share"] = share
    report["status"] = "ok" if share <= max_reject_share else "too_many_rejects"
    log.info(
        "%s: kept %d of %d ratings (%d rejected, %.4f%%)",
        dataset.name,
        entry["kept"],
        entry["read"],
        rejected,
        100 * share,
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

    Ratings, tags and links are persisted (MEMORY_AND_DISK) because later
    steps read them several times; `unpersist(tables)` releases them. Raises
    TooManyRejects when rejected ratings exceed `max_reject_share`; the
    report is written to `report_path` (if given) either way.
    """
    raw = load_raw(spark, name, data_dir)
    try:
        tables, report = clean(spark, raw, max_reject_share=max_reject_share, samples=samples)
    except TooManyRejects as exc:
        if report_path is not None:
            write_report(exc.report, report_path)
        raise
    if report_path is not None:
        write_report(report, report_path)
    return tables, report
