"""Read any MovieLens edition into the canonical tables of `pipeline.columns`.

Files are read as text and parsed field by field, so a bad line becomes a row
tagged "malformed" instead of an exception: ratings, tags and links are parsed
by Spark (they can be tens of millions of lines); movies and users are small
(under 100k lines in every edition) and parsed in Python, which also handles
their encodings (latin-1 for ml-100k `u.item` and the ml-1m `.dat` files) and
CSV quoting.

Conventions, whatever the edition:
- `title` is the MovieLens title with its trailing "(YYYY)" removed and
  whitespace trimmed; `year` is that YYYY or null. ml-100k's video marker
  after the year is kept: "Land Before Time III: ... (1995) (V)" gives
  "Land Before Time III: ... (V)" and 1995. Nothing else is rewritten:
  articles stay where MovieLens puts them ("Usual Suspects, The") and
  alternative titles stay ("Seven (a.k.a. Se7en)"). A trailing year range
  "(2006–2007)" gives its first year.
- `genres` is an array: ml-100k's 19 flags become the flagged genre names;
  the placeholders "unknown" (ml-100k) and "(no genres listed)" become [].
- ml-1m users: `age` is the age code (the lower bound of the band: 1 = under
  18, 18, 25, 35, 45, 50, 56 = 56+); `occupation` is the code's name from the
  ml-1m README.
- `imdb_id` / `tmdb_id` are kept as the strings in links.csv (IMDb ids keep
  their leading zeros); an empty tmdbId is null.
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, DataType, StringType, StructType

from es_mappings import ACCOUNT_ID_MIN, INTEGER_MAX
from pipeline import columns as C
from pipeline.datasets import (
    AGE_CODES_1M,
    NO_GENRE_MARKERS,
    OCCUPATIONS_1M,
    Dataset,
    TableFile,
    get,
)
from pipeline.errors import DatasetError

log = logging.getLogger(__name__)

# Bookkeeping columns of the raw tables: the source line and why it is bad (null when fine).
LINE = "_line"
ERROR = "_error"
MALFORMED = "malformed"
ID_OUT_OF_RANGE = "id_out_of_range"
# Ids the canonical tables hold: positive and within an ES `integer` (Spark IntegerType); dataset user ids
# also stay below the range the API gives accounts (es_mappings.ACCOUNT_ID_MIN), so the two never collide.
MOVIE_ID_MAX = INTEGER_MAX
USER_ID_MAX = ACCOUNT_ID_MIN - 1

_TITLE_YEAR = re.compile(
    r"^(?P<title>.*?)\s*\((?P<year>\d{4})(?:\s*[-–]\s*(?:\d{4})?)?\)(?P<note>\s*\([A-Z]{1,3}\))?\s*$"
)
_INT = re.compile(r"^\s*-?\d+\s*$")


@dataclass(frozen=True)
class Tables:
    """The canonical tables of one dataset; users/tags/links are None when the edition lacks them."""

    ratings: DataFrame
    movies: DataFrame
    users: DataFrame | None = None
    tags: DataFrame | None = None
    links: DataFrame | None = None


# A small-table line: its parsed values in canonical column order (None when malformed) and the line.
Record = tuple[tuple | None, str]


@dataclass(frozen=True)
class RawTables:
    """Every input line of every table, parsed where possible.

    The Spark-parsed tables (ratings, tags, links) have the canonical columns
    (nullable) plus LINE (the source line) and ERROR ("malformed" or null).
    Movies and users are small and stay in Python as records in file order.
    Cleaning reads all of it to count and sample rejects.
    """

    dataset: Dataset
    folder: Path
    ratings: DataFrame
    movie_records: list[Record]
    user_records: list[Record] | None = None
    tags: DataFrame | None = None
    links: DataFrame | None = None


SCHEMAS: dict[str, StructType] = {
    "ratings": C.RATINGS_SCHEMA,
    "movies": C.MOVIES_SCHEMA,
    "users": C.USERS_SCHEMA,
    "tags": C.TAGS_SCHEMA,
    "links": C.LINKS_SCHEMA,
}


def _default(data_type: DataType) -> Column:
    if isinstance(data_type, ArrayType):
        return F.array().cast(data_type)
    if isinstance(data_type, StringType):
        return F.lit("")
    return F.lit(0).cast(data_type)


def conform(df: DataFrame, schema: StructType) -> DataFrame:
    """Select `schema`'s columns in order, cast, with its nullability.

    Callers filter out rows with nulls in required columns first; the
    `coalesce` never fires and only tells Spark's analyser what the filter
    guarantees, so the result's schema equals `schema`.
    """
    cols = []
    for f in schema.fields:
        col = F.col(f.name).cast(f.dataType)
        if not f.nullable:
            col = F.coalesce(col, _default(f.dataType))
        cols.append(col.alias(f.name))
    return df.select(*cols)


def resolve_folder(dataset: Dataset, data_dir: str | Path) -> Path:
    """The folder holding `dataset`'s files: data_dir/<folder>, or data_dir itself."""
    base = Path(data_dir)
    for candidate in (base / dataset.folder, base):
        if (candidate / dataset.ratings.file).is_file():
            missing = [f for f in dataset.required_files if not (candidate / f).is_file()]
            if missing:
                raise DatasetError(f"{dataset.name} in {candidate} is incomplete: missing {', '.join(missing)}")
            return candidate
    raise DatasetError(
        f"{dataset.name} not found in {base} (looked for {dataset.folder}/{dataset.ratings.file}); "
        f"run `movierec data fetch {dataset.name} --data-dir {base}`"
    )


# --- plain-Python parsing of the small tables -------------------------------------------------


def _decode(raw: bytes, encoding: str) -> str:
    """Decode one line with the edition's encoding; UTF-8 lines that fail fall back to latin-1."""
    choices = encoding.split("|")
    if choices[0] != "latin-1" and "latin-1" not in choices:
        choices.append("latin-1")
    for choice in choices[:-1]:
        try:
            return raw.decode(choice)
        except UnicodeDecodeError:
            continue
    return raw.decode(choices[-1])


def read_lines(path: Path, table: TableFile) -> Iterator[str]:
    """The data lines of a small file: decoded, without line ends, header and blank lines."""
    with path.open("rb") as fh:
        for number, raw in enumerate(fh):
            line = _decode(raw.rstrip(b"\r\n"), table.encoding)
            if not line.strip() or (number == 0 and table.header is not None and line.strip() == table.header):
                continue
            yield line


def parse_title(raw: str) -> tuple[str, int | None]:
    """("Seven (a.k.a. Se7en) (1995)") -> ("Seven (a.k.a. Se7en)", 1995); no trailing year -> (title, None)."""
    text = raw.strip()
    match = _TITLE_YEAR.match(text)
    if match and match.group("title").strip():
        note = (match.group("note") or "").strip()
        return " ".join(p for p in (match.group("title").strip(), note) if p), int(match.group("year"))
    return text, None


def _split(line: str, table: TableFile) -> list[str]:
    if table.quoted:
        return next(csv.reader([line]))
    return line.split(table.sep)


def parse_movie(line: str, dataset: Dataset) -> tuple | None:
    """One movies line -> (movie_id, title, year, genres), or None when malformed."""
    table = dataset.movies
    try:
        parts = _split(line, table)
    except csv.Error:
        return None
    if len(parts) != len(table.fields) or not _INT.match(parts[0]) or not parts[1].strip():
        return None
    title, year = parse_title(parts[1])
    if dataset.genre_format == "flags":
        flags = parts[5:]
        if any(f.strip() not in ("0", "1") for f in flags):
            return None
        names = [g for g, f in zip(dataset.genres, flags, strict=True) if f.strip() == "1"]
    else:
        names = [g for g in parts[2].strip().split("|") if g]
    genres = [g for g in names if g not in NO_GENRE_MARKERS]
    return int(parts[0]), title, year, genres


def parse_user(line: str, dataset: Dataset) -> tuple | None:
    """One users line -> (user_id, age, gender, occupation, zip), or None when malformed."""
    table = dataset.users
    assert table is not None
    parts = line.split(table.sep)
    if len(parts) != len(table.fields):
        return None
    if dataset.family == "100k":
        user, age, gender, occupation, zipcode = parts
        if not _INT.match(user) or not _INT.match(age):
            return None
        return int(user), int(age), gender.strip() or None, occupation.strip() or None, zipcode.strip() or None
    user, gender, age, occupation, zipcode = parts
    if not (_INT.match(user) and _INT.match(age) and _INT.match(occupation)):
        return None
    code = int(occupation)
    if int(age) not in AGE_CODES_1M or not 0 <= code < len(OCCUPATIONS_1M):
        return None
    return int(user), int(age), gender.strip() or None, OCCUPATIONS_1M[code], zipcode.strip() or None


def id_in_range(value: int, highest: int) -> bool:
    """An id the canonical tables can hold: 1..highest (MOVIE_ID_MAX, or USER_ID_MAX for users)."""
    return 1 <= value <= highest


def read_records(path: Path, table: TableFile, parse) -> list[Record]:
    """Parse a small file line by line; a line `parse` rejects is kept with None values."""
    return [(parse(line), line) for line in read_lines(path, table)]


def frame(spark: SparkSession, rows: list[tuple], schema: StructType) -> DataFrame:
    """A DataFrame of already-valid Python rows in a canonical schema."""
    return spark.createDataFrame(rows, schema)


# --- Spark parsing of the large tables --------------------------------------------------------


def _text(spark: SparkSession, path: Path, table: TableFile) -> DataFrame:
    """Lines of a file as LINE, without line ends, blank lines and the header line."""
    lines = spark.read.text(str(path)).select(F.regexp_replace("value", r"\r$", "").alias(LINE))
    lines = lines.filter(F.trim(F.col(LINE)) != "")
    if table.header is not None:
        lines = lines.filter(F.col(LINE) != table.header)
    return lines


def _tag_errors(df: DataFrame, schema: StructType, ok: Column, in_range: Column | None = None) -> DataFrame:
    """Null every canonical column of the rows that failed, and set ERROR (malformed, else id_out_of_range)."""
    parsed = F.coalesce(ok, F.lit(False))
    good = parsed if in_range is None else parsed & F.coalesce(in_range, F.lit(False))
    cols = [F.when(good, F.col(f.name)).alias(f.name) for f in schema.fields]
    error = F.when(good, F.lit(None).cast("string")).when(~parsed, F.lit(MALFORMED)).otherwise(F.lit(ID_OUT_OF_RANGE))
    return df.select(*cols, F.col(LINE), error.alias(ERROR))


def _ids_in_range(**highest: int) -> Column:
    """Every named id column within 1..its highest value."""
    checks = [F.col(name).between(1, top) for name, top in highest.items()]
    out = checks[0]
    for check in checks[1:]:
        out = out & check
    return out


def _ratings_frame(spark: SparkSession, path: Path, table: TableFile) -> DataFrame:
    lines = _text(spark, path, table)
    parts = F.split(F.col(LINE), f"\\Q{table.sep}\\E")
    parsed = lines.select(
        F.col(LINE),
        F.size(parts).alias("_n"),
        F.trim(F.get(parts, 0)).try_cast("long").alias(C.USER),
        F.trim(F.get(parts, 1)).try_cast("long").alias(C.MOVIE),
        F.trim(F.get(parts, 2)).try_cast("float").alias(C.RATING),
        F.trim(F.get(parts, 3)).try_cast("long").alias(C.TS),
    )
    ok = (F.col("_n") == len(table.fields)) & F.col(C.USER).isNotNull() & F.col(C.MOVIE).isNotNull()
    ok = ok & F.col(C.RATING).isNotNull() & F.col(C.TS).isNotNull()
    return _tag_errors(parsed, C.RATINGS_SCHEMA, ok, _ids_in_range(**{C.USER: USER_ID_MAX, C.MOVIE: MOVIE_ID_MAX}))


def _unquote(name: str) -> Column:
    """CSV field text: strip one pair of enclosing quotes and undouble inner quotes."""
    col = F.col(name)
    quoted = col.startswith('"') & col.endswith('"') & (F.length(col) >= 2)
    inner = F.regexp_replace(F.expr(f"substring({name}, 2, length({name}) - 2)"), '""', '"')
    return F.when(quoted, inner).otherwise(col)


def _tags_frame(spark: SparkSession, path: Path, table: TableFile) -> DataFrame:
    # Only the tag may hold the separator or quotes; ids and timestamp are digits,
    # so the tag is everything between the second and the last separator.
    sep = re.escape(table.sep)
    pattern = rf"^\s*(\d+){sep}(\d+){sep}(.*){sep}(\d+)\s*$"
    lines = _text(spark, path, table)
    matched = lines.select(
        F.col(LINE),
        F.regexp_extract(F.col(LINE), pattern, 1).alias("_u"),
        F.regexp_extract(F.col(LINE), pattern, 2).alias("_m"),
        F.regexp_extract(F.col(LINE), pattern, 3).alias("_tag_raw"),
        F.regexp_extract(F.col(LINE), pattern, 4).alias("_t"),
    )
    tag = _unquote("_tag_raw") if table.quoted else F.col("_tag_raw")
    parsed = matched.select(
        F.col(LINE),
        F.col("_u").try_cast("long").alias(C.USER),
        F.col("_m").try_cast("long").alias(C.MOVIE),
        tag.alias(C.TAG),
        F.col("_t").try_cast("long").alias(C.TS),
    )
    ok = F.col(C.USER).isNotNull() & F.col(C.MOVIE).isNotNull() & F.col(C.TS).isNotNull()
    return _tag_errors(parsed, C.TAGS_SCHEMA, ok, _ids_in_range(**{C.USER: USER_ID_MAX, C.MOVIE: MOVIE_ID_MAX}))


def _links_frame(spark: SparkSession, path: Path, table: TableFile) -> DataFrame:
    pattern = r"^\s*(\d+),(\d*),(\d*)\s*$"
    lines = _text(spark, path, table)
    parsed = lines.select(
        F.col(LINE),
        F.regexp_extract(F.col(LINE), pattern, 1).try_cast("long").alias(C.MOVIE),
        F.nullif(F.regexp_extract(F.col(LINE), pattern, 2), F.lit("")).alias(C.IMDB_ID),
        F.nullif(F.regexp_extract(F.col(LINE), pattern, 3), F.lit("")).alias(C.TMDB_ID),
    )
    return _tag_errors(parsed, C.LINKS_SCHEMA, F.col(C.MOVIE).isNotNull(), _ids_in_range(**{C.MOVIE: MOVIE_ID_MAX}))


# --- public API ---------------------------------------------------------------------------------


def _dataset(name: str | Dataset) -> Dataset:
    return name if isinstance(name, Dataset) else get(name)


def read_ratings(spark: SparkSession, path: str | Path, name: str | Dataset) -> DataFrame:
    """One ratings file in `name`'s format (e.g. ml-100k `u1.base`) in RATINGS_SCHEMA; bad lines dropped."""
    dataset = _dataset(name)
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"ratings file {path} not found")
    raw = _ratings_frame(spark, path, dataset.ratings)
    return conform(raw.filter(F.col(ERROR).isNull()), C.RATINGS_SCHEMA)


def load_raw(spark: SparkSession, name: str | Dataset, data_dir: str | Path) -> RawTables:
    """Parse every table of the edition, keeping bad lines tagged (see RawTables)."""
    dataset = _dataset(name)
    folder = resolve_folder(dataset, data_dir)
    log.info("reading %s from %s", dataset.name, folder)
    ratings = _ratings_frame(spark, folder / dataset.ratings.file, dataset.ratings)
    movies = read_records(folder / dataset.movies.file, dataset.movies, lambda line: parse_movie(line, dataset))
    users = tags = links = None
    if dataset.users is not None:
        users = read_records(folder / dataset.users.file, dataset.users, lambda line: parse_user(line, dataset))
    if dataset.tags is not None:
        tags = _tags_frame(spark, folder / dataset.tags.file, dataset.tags)
    if dataset.links is not None:
        links = _links_frame(spark, folder / dataset.links.file, dataset.links)
    return RawTables(dataset, folder, ratings, movies, users, tags, links)


def good_rows(raw: DataFrame | None, table: str) -> DataFrame | None:
    """The well-formed rows of a Spark-parsed raw table in the canonical schema."""
    if raw is None:
        return None
    return conform(raw.filter(F.col(ERROR).isNull()), SCHEMAS[table])


def load(spark: SparkSession, name: str | Dataset, data_dir: str | Path) -> Tables:
    """The edition's tables in the canonical schemas, malformed lines and out-of-range ids dropped (not otherwise cleaned).

    `data_dir` is the parent folder holding e.g. `ml-100k/`, or that folder
    itself. For counted and reported rejects use `pipeline.clean.load_clean`.
    """
    raw = load_raw(spark, name, data_dir)
    users = None
    if raw.user_records is not None:
        rows = [v for v, _ in raw.user_records if v is not None and id_in_range(v[0], USER_ID_MAX)]
        users = frame(spark, rows, C.USERS_SCHEMA)
    return Tables(
        ratings=good_rows(raw.ratings, "ratings"),
        movies=frame(spark, [v for v, _ in raw.movie_records if v is not None and id_in_range(v[0], MOVIE_ID_MAX)],
                     C.MOVIES_SCHEMA),
        users=users,
        tags=good_rows(raw.tags, "tags"),
        links=good_rows(raw.links, "links"),
    )
