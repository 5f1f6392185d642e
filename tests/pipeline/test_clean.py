"""Cleaning: exact rejects by reason, what is kept, and the reject-share threshold."""

from __future__ import annotations

import inspect
import json
import re

import pytest

from pipeline import clean
from pipeline.datasets import get
from pipeline.errors import TooManyRejects
from tests.pipeline.conftest import N_MOVIES

pytestmark = pytest.mark.spark

FLAGS = ["0"] * 19


def _flags(*on: int) -> str:
    flags = list(FLAGS)
    for i in on:
        flags[i] = "1"
    return "|".join(flags)


@pytest.fixture(scope="module")
def hand_made(tmp_path_factory):
    """A tiny ml-100k folder whose every line has a known fate."""
    folder = tmp_path_factory.mktemp("hand") / "ml-100k"
    folder.mkdir()
    (folder / "u.item").write_bytes(
        "\n".join(
            [
                f"1|Toy Story (1995)|01-Jan-1995||http://x|{_flags(3, 4, 5)}",
                f"2|Café Society (1995)|01-Jan-1995||http://x|{_flags(8)}",
                f"3|unknown||||{_flags(0)}",
                "4|Broken (1999)|01-Jan-1999||",
            ]
        ).encode("latin-1")
        + b"\n"
    )
    (folder / "u.user").write_text("1|24|M|technician|85711\n2|53|F|other|94043\n")
    (folder / "u.data").write_text(
        "\n".join(
            [
                "1\t1\t5\t100",  # older copy of (1, 1): duplicate
                "1\t1\t3\t200",  # kept: the latest (1, 1)
                "1\t2\t6\t100",  # out_of_range
                "1\t9\t4\t100",  # unknown_movie
                "3\t1\t4\t100",  # unknown_user
                "2\tx\t4\t100",  # malformed
                "2\t2\t4\t300",  # kept
                "2\t3\t2\t400",  # kept (the "unknown" movie exists)
            ]
        )
        + "\n"
    )
    return folder.parent


def test_hand_made_rejects(spark, hand_made, tmp_path):
    report_path = tmp_path / "out" / "rejects.json"
    tables, report = clean.load_clean(spark, "ml-100k", hand_made, max_reject_share=0.625, report_path=report_path)
    kept = sorted((r.user_id, r.movie_id, r.rating, r.ts) for r in tables.ratings.collect())
    assert kept == [(1, 1, 3.0, 200), (2, 2, 4.0, 300), (2, 3, 2.0, 400)]
    ratings = report["tables"]["ratings"]
    assert (ratings["read"], ratings["kept"]) == (8, 3)
    assert ratings["rejected"] == {
        "malformed": 1,
        "id_out_of_range": 0,
        "out_of_range": 1,
        "unknown_movie": 1,
        "unknown_user": 1,
        "duplicate": 1,
    }
    assert report["ratings_rejected"] == 5 and report["ratings_reject_share"] == 0.625
    movies = report["tables"]["movies"]
    assert (movies["read"], movies["kept"], movies["rejected"]["malformed"]) == (4, 3, 1)
    assert movies["rejected"]["duplicate_title"] == 0 and report["merged_movies"] == []
    assert movies["flagged"] == {"no_year": 1, "no_genres": 1}
    assert report["samples"]["ratings"]["malformed"] == ["2\tx\t4\t100"]
    assert report["samples"]["movies"]["malformed"] == ["4|Broken (1999)|01-Jan-1999||"]
    titles = {r.movie_id: (r.title, r.year, r.genres) for r in tables.movies.collect()}
    assert titles == {
        1: ("Toy Story", 1995, ["Animation", "Children's", "Comedy"]),
        2: ("Café Society", 1995, ["Drama"]),
        3: ("unknown", None, []),
    }
    assert json.loads(report_path.read_text(encoding="utf-8")) == report
    clean.unpersist(tables)


def test_share_above_the_threshold_raises_with_the_report(spark, hand_made, tmp_path):
    report_path = tmp_path / "rejects.json"
    with pytest.raises(TooManyRejects, match="5 of 8 ratings rejected") as info:
        clean.load_clean(spark, "ml-100k", hand_made, max_reject_share=0.62, report_path=report_path)
    assert info.value.report["status"] == "too_many_rejects"
    assert info.value.report["tables"]["ratings"]["rejected"]["duplicate"] == 1
    assert json.loads(report_path.read_text(encoding="utf-8"))["ratings_rejected"] == 5


def test_bad_threshold_is_refused(spark, hand_made):
    with pytest.raises(ValueError, match="max_reject_share"):
        clean.load_clean(spark, "ml-100k", hand_made, max_reject_share=1.5)


# One edition per file layout (ml-20m and ml-25m share ml-32m's CSV layout; ml-latest-small adds CRLF).
@pytest.mark.parametrize("name", ["ml-100k", "ml-1m", "ml-10m", "ml-latest-small", "ml-32m"])
def test_exact_rejects_on_seeded_files(spark, synthetic_root, name):
    has_users = get(name).users is not None
    tables, report = clean.load_clean(spark, name, synthetic_root, max_reject_share=0.01)
    expected = {"malformed": 3, "id_out_of_range": 0, "out_of_range": 2, "unknown_movie": 4, "duplicate": 5}
    if has_users:
        expected["unknown_user"] = 2
    assert report["tables"]["ratings"]["rejected"] == expected
    assert report["tables"]["ratings"]["kept"] == 2_000
    assert report["tables"]["movies"]["rejected"] == {"malformed": 1, "id_out_of_range": 0, "duplicate_id": 0,
                                                      "duplicate_title": 0}
    # seeded (1 no year, 2 no genres) plus the format's own quirks (none in ml-1m)
    quirk = 0 if name == "ml-1m" else 1
    assert report["tables"]["movies"]["flagged"] == {"no_year": 1 + quirk, "no_genres": 2 + quirk}
    assert report["tables"]["movies"]["kept"] == N_MOVIES
    assert tables.ratings.count() == 2_000
    assert tables.ratings.groupBy("user_id", "movie_id").count().filter("count > 1").count() == 0
    assert report["status"] == "ok"
    clean.unpersist(tables)


def test_duplicates_keep_the_latest(spark, synthetic_root):
    tables, _ = clean.load_clean(spark, "ml-latest-small", synthetic_root)
    lines = (synthetic_root / "ml-latest-small" / "ratings.csv").read_text(encoding="utf-8").splitlines()[1:]
    valid = re.compile(r"^(\d+),(\d+),([0-5]\.[05]),(\d+)$")
    latest: dict[tuple[int, int], tuple[int, float]] = {}
    repeated = set()
    for line in lines:
        match = valid.match(line)
        if not match or match.group(3) in ("0.0", "5.5"):  # the seeded out-of-range values
            continue
        key, value = (int(match.group(1)), int(match.group(2))), (int(match.group(4)), float(match.group(3)))
        if key in latest:
            repeated.add(key)
        latest[key] = max(latest.get(key, value), value)
    kept = {(r.user_id, r.movie_id): (r.ts, r.rating) for r in tables.ratings.collect()}
    assert len(repeated) == 5
    assert all(kept[key] == latest[key] for key in repeated)
    clean.unpersist(tables)


def test_ids_out_of_range_are_counted_rejects_in_every_table(spark, tmp_path):
    """An id past an ES `integer` (or a dataset user id in the accounts' range) is a reject, never a crash."""
    folder = tmp_path / "ml-latest-small"
    folder.mkdir()
    (folder / "movies.csv").write_text(
        "movieId,title,genres\n1,Toy Story (1995),Comedy\n2,Heat (1995),Action\n"
        "3000000000,Hashed Id Movie (2000),Drama\n0,Zero (2001),Drama\n"
    )
    (folder / "ratings.csv").write_text(
        "userId,movieId,rating,timestamp\n1,1,4.0,100\n2,2,3.5,200\n"
        "1,3000000000,4.0,100\n"  # movie id past the integer range
        "3000000000,1,4.0,100\n"  # user id past the integer range
        "1000000000,1,4.0,100\n"  # a dataset user id in the accounts' range
        "1,x,4.0,100\n"  # malformed
    )
    (folder / "tags.csv").write_text("userId,movieId,tag,timestamp\n1,1,fun,100\n1,3000000000,odd,100\n2000000000,2,odd,100\n")
    (folder / "links.csv").write_text("movieId,imdbId,tmdbId\n1,0114709,862\n2,0113277,949\n3000000000,1,2\n")
    tables, report = clean.load_clean(spark, "ml-latest-small", tmp_path, max_reject_share=1.0)
    rejected = {table: entry["rejected"] for table, entry in report["tables"].items()}
    assert rejected["movies"] == {"malformed": 0, "id_out_of_range": 2, "duplicate_id": 0, "duplicate_title": 0}
    assert rejected["ratings"]["id_out_of_range"] == 3 and rejected["ratings"]["malformed"] == 1
    assert rejected["tags"] == {"malformed": 0, "id_out_of_range": 2, "unknown_movie": 0}
    assert rejected["links"] == {"malformed": 0, "id_out_of_range": 1, "unknown_movie": 0}
    assert report["samples"]["movies"]["id_out_of_range"] == ["3000000000,Hashed Id Movie (2000),Drama", "0,Zero (2001),Drama"]
    assert sorted(r.movie_id for r in tables.movies.collect()) == [1, 2]
    assert sorted((r.user_id, r.movie_id) for r in tables.ratings.collect()) == [(1, 1), (2, 2)]
    clean.unpersist(tables)


def test_user_ids_in_the_accounts_range_are_rejected_from_users_files(spark, tmp_path):
    folder = tmp_path / "ml-100k"
    folder.mkdir()
    (folder / "u.item").write_bytes(f"1|Toy Story (1995)|01-Jan-1995||http://x|{_flags(5)}\n".encode("latin-1"))
    (folder / "u.user").write_text("1|24|M|technician|85711\n1000000000|30|F|other|94043\n3000000000|30|F|other|94043\n")
    (folder / "u.data").write_text("1\t1\t5\t100\n")
    tables, report = clean.load_clean(spark, "ml-100k", tmp_path)
    assert report["tables"]["users"]["rejected"] == {"malformed": 0, "id_out_of_range": 2, "duplicate_id": 0}
    assert [r.user_id for r in tables.users.collect()] == [1]
    clean.unpersist(tables)


def test_default_threshold_is_one_percent():
    assert inspect.signature(clean.load_clean).parameters["max_reject_share"].default == 0.01


# --- one movie per film ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def twins(tmp_path_factory):
    """ml-100k lines listing two films twice (as ml-100k lists Chasing Amy as 246 and 268), and namesakes."""
    folder = tmp_path_factory.mktemp("twins") / "ml-100k"
    folder.mkdir()
    (folder / "u.item").write_bytes(
        "\n".join(
            [
                f"5|Chasing Amy (1997)|01-Jan-1997||http://x|{_flags(5, 8)}",
                f"6|Sabrina (1954)|01-Jan-1954||http://x|{_flags(5)}",
                f"7|Chasing  AMY (1997)|01-Jan-1997||http://x|{_flags(5, 14)}",
                f"8|Sabrina (1995)|01-Jan-1995||http://x|{_flags(5)}",
                f"9|Mystery Film||||{_flags(0)}",
                f"10|Mystery Film||||{_flags(0)}",
                f"11|Chasing Amy (1997)|01-Jan-1997||http://x|{_flags(8)}",
            ]
        ).encode("latin-1")
        + b"\n"
    )
    (folder / "u.user").write_text("1|24|M|technician|85711\n2|53|F|other|94043\n")
    (folder / "u.data").write_text(
        "\n".join(
            [
                "1\t5\t2\t100",  # user 1 rated the film under both ids: the later one (ts 200) wins
                "1\t7\t5\t200",
                "2\t11\t4\t300",  # user 2 rated it only under a merged id: it counts for 5
                "2\t6\t3\t300",  # namesakes of other years stay apart
                "2\t8\t4\t300",
                "1\t9\t1\t100",  # no year: never merged
                "1\t10\t2\t100",
            ]
        )
        + "\n"
    )
    return folder.parent


def test_a_film_listed_twice_becomes_one_movie(spark, twins):
    tables, report = clean.load_clean(spark, "ml-100k", twins, max_reject_share=0.5)
    movies = {r.movie_id: (r.title, r.year, r.genres) for r in tables.movies.collect()}
    assert sorted(movies) == [5, 6, 8, 9, 10]
    assert movies[5] == ("Chasing Amy", 1997, ["Comedy", "Drama", "Romance"])  # the genres of every listing
    assert report["merged_movies"] == [{"canonical": 5, "merged": [7, 11], "title": "Chasing Amy", "year": 1997}]
    entry = report["tables"]["movies"]
    assert entry["rejected"] == {"malformed": 0, "id_out_of_range": 0, "duplicate_id": 0, "duplicate_title": 2}
    assert (entry["read"], entry["kept"]) == (7, 5)
    kept = sorted((r.user_id, r.movie_id, r.rating, r.ts) for r in tables.ratings.collect())
    assert kept == [(1, 5, 5.0, 200), (1, 9, 1.0, 100), (1, 10, 2.0, 100), (2, 5, 4.0, 300), (2, 6, 3.0, 300), (2, 8, 4.0, 300)]
    assert report["tables"]["ratings"]["rejected"]["duplicate"] == 1
    assert clean.merged_by_canonical(report) == {5: [7, 11]}
    clean.unpersist(tables)


@pytest.mark.parametrize(
    ("links", "merged"),
    [
        ({}, {2: 1, 3: 1}),  # no identifiers: title and year decide
        ({1: ("0116191", "3573"), 2: ("0118308", "12254")}, {3: 1}),  # ids disagree: a TV film of the same title
        ({1: ("0290538", "4912"), 2: ("0270288", "4912")}, {2: 1, 3: 1}),  # one id agrees: the same film
        ({1: ("0081454", None), 2: ("0079285", "19761")}, {3: 1}),  # the ids both have disagree
        ({2: ("0081454", None), 3: ("0079285", None)}, {2: 1}),  # 1 has none: 2 joins it, 3 disagrees with 2
    ],
)
def test_links_tell_namesakes_apart(links, merged):
    rows = [(1, "Emma", 1996, []), (2, "emma", 1996, []), (3, "Emma ", 1996, []), (4, "Emma", 1972, [])]
    assert clean.same_film_ids(rows, links) == merged


def test_links_of_a_merged_movie_are_dropped_and_its_tags_follow(spark, tmp_path):
    folder = tmp_path / "ml-latest-small"
    folder.mkdir()
    (folder / "movies.csv").write_text(
        "movieId,title,genres\n1,Confessions (2002),Comedy\n2,Confessions (2002),Drama\n3,Emma (1996),Romance\n4,Emma (1996),Drama\n"
    )
    (folder / "links.csv").write_text("movieId,imdbId,tmdbId\n1,0290538,4912\n2,0270288,4912\n3,0116191,3573\n4,0118308,12254\n")
    (folder / "tags.csv").write_text("userId,movieId,tag,timestamp\n1,2,clever,10\n1,4,period,10\n")
    (folder / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,1,4.0,10\n1,2,3.5,20\n1,3,5.0,10\n1,4,2.0,10\n")
    tables, report = clean.load_clean(spark, "ml-latest-small", tmp_path, max_reject_share=0.5)
    assert report["merged_movies"] == [{"canonical": 1, "merged": [2], "title": "Confessions", "year": 2002}]
    assert sorted(r.movie_id for r in tables.movies.collect()) == [1, 3, 4]
    assert sorted((r.movie_id, r.imdb_id) for r in tables.links.collect()) == [(1, "0290538"), (3, "0116191"), (4, "0118308")]
    assert sorted((r.movie_id, r.tag) for r in tables.tags.collect()) == [(1, "clever"), (4, "period")]
    assert sorted((r.movie_id, r.rating) for r in tables.ratings.collect()) == [(1, 3.5), (3, 5.0), (4, 2.0)]
    clean.unpersist(tables)
