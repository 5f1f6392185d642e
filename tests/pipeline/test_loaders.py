"""Loaders: every edition's files parse into the canonical schemas, quirks included."""

from __future__ import annotations

import pytest

from pipeline import columns as C
from pipeline import loaders
from pipeline.datasets import NAMES, get
from pipeline.errors import DatasetError
from tests.pipeline.conftest import N_MOVIES, N_USERS


@pytest.mark.parametrize(
    ("raw", "title", "year"),
    [
        ("Toy Story (1995)", "Toy Story", 1995),
        ("Seven (a.k.a. Se7en) (1995)", "Seven (a.k.a. Se7en)", 1995),
        ("Usual Suspects, The (1995)", "Usual Suspects, The", 1995),
        ("Babylon 5", "Babylon 5", None),
        ("unknown", "unknown", None),
        ("Death Note: Desu nôto (2006–2007)", "Death Note: Desu nôto", 2006),
        ("From Dusk Till Dawn 2 (1999) ", "From Dusk Till Dawn 2", 1999),
        ("Land Before Time III (1995) (V)", "Land Before Time III (V)", 1995),
        ("1492: Conquest of Paradise (1992)", "1492: Conquest of Paradise", 1992),
    ],
)
def test_parse_title(raw, title, year):
    assert loaders.parse_title(raw) == (title, year)


def test_parse_movie_lines():
    small, latest = get("ml-100k"), get("ml-latest-small")
    flags = ["0"] * 19
    flags[1] = flags[16] = "1"  # Action, Thriller
    line = "2|GoldenEye (1995)|01-Jan-1995||http://us.imdb.com/x|" + "|".join(flags)
    assert loaders.parse_movie(line, small) == (2, "GoldenEye", 1995, ["Action", "Thriller"])
    unknown = "267|unknown||||1|" + "|".join(["0"] * 18)
    assert loaders.parse_movie(unknown, small) == (267, "unknown", None, [])
    assert loaders.parse_movie("4|Broken (1999)|01-Jan-1999||", small) is None
    csv_line = '11,"American President, The (1995)",Comedy|Drama|Romance'
    assert loaders.parse_movie(csv_line, latest) == (
        11,
        "American President, The",
        1995,
        ["Comedy", "Drama", "Romance"],
    )
    assert loaders.parse_movie("143410,Hyena Road,(no genres listed)", latest) == (143410, "Hyena Road", None, [])
    assert loaders.parse_movie("x,Title (1999),Drama", latest) is None


def test_parse_user_lines():
    assert loaders.parse_user("1|24|M|technician|85711", get("ml-100k")) == (1, 24, "M", "technician", "85711")
    assert loaders.parse_user("2|53|F|other|T8H1N", get("ml-100k"))[4] == "T8H1N"
    assert loaders.parse_user("5::M::25::20::55455", get("ml-1m")) == (5, 25, "M", "writer", "55455")
    assert loaders.parse_user("6::F::50::9::55117", get("ml-1m"))[3] == "homemaker"
    assert loaders.parse_user("7::F::30::9::55117", get("ml-1m")) is None  # 30 is not an age code
    assert loaders.parse_user("8::F::25::21::55117", get("ml-1m")) is None  # occupation codes stop at 20


def test_missing_dataset_is_a_clear_error(tmp_path):
    with pytest.raises(DatasetError, match="movierec data fetch ml-1m"):
        loaders.resolve_folder(get("ml-1m"), tmp_path)
    (tmp_path / "ml-1m").mkdir()
    (tmp_path / "ml-1m" / "ratings.dat").write_text("1::1::5::1\n")
    with pytest.raises(DatasetError, match="missing movies.dat, users.dat"):
        loaders.resolve_folder(get("ml-1m"), tmp_path)


@pytest.mark.spark
@pytest.mark.parametrize("name", NAMES)
def test_every_format_loads_into_the_canonical_schemas(spark, synthetic_root, name):
    dataset = get(name)
    tables = loaders.load(spark, name, synthetic_root)
    assert tables.ratings.schema == C.RATINGS_SCHEMA
    assert tables.movies.schema == C.MOVIES_SCHEMA
    # malformed lines dropped; the other seeded bad ratings are parsed (cleaning rejects them)
    seeded = 2 + 4 + 5 + (2 if dataset.users is not None else 0)
    assert tables.ratings.count() == 2_000 + seeded
    movies = {r.movie_id: r for r in tables.movies.collect()}
    assert len(movies) == N_MOVIES  # the malformed movie line is dropped
    # no year: 1 seeded + 1 quirk (100k's "unknown" movie; CSV and ml-10m's "Babylon 5"-like title)
    assert sum(m.year is None for m in movies.values()) == (1 if name == "ml-1m" else 2)
    assert sum(m.genres == [] for m in movies.values()) == (2 if name == "ml-1m" else 3)
    assert all(not m.title.endswith(")") or m.title.endswith("(V)") or "a.k.a." in m.title for m in movies.values())
    assert all(g in dataset.genres for m in movies.values() for g in m.genres)
    assert any(ch in "éàñäö" or ord(ch) > 255 for m in movies.values() for ch in m.title)  # encodings decoded
    if dataset.users is not None:
        assert tables.users.schema == C.USERS_SCHEMA and tables.users.count() == N_USERS
    else:
        assert tables.users is None
    assert (tables.tags is not None) == (dataset.tags is not None)
    assert (tables.links is not None) == (dataset.links is not None)


@pytest.mark.spark
def test_ml100k_values(spark, synthetic_root):
    tables = loaders.load(spark, "ml-100k", synthetic_root / "ml-100k")  # the dataset folder itself works too
    movies = {r.movie_id: r for r in tables.movies.collect()}
    unknown = [m for m in movies.values() if m.title == "unknown"]
    assert len(unknown) == 1 and unknown[0].year is None and unknown[0].genres == []
    video = [m for m in movies.values() if m.title.endswith("(V)")]
    assert len(video) == 1 and video[0].year is not None
    ratings = tables.ratings.filter("rating between 1 and 5").select("rating").distinct().collect()
    assert {r.rating for r in ratings} <= {1.0, 2.0, 3.0, 4.0, 5.0}
    users = tables.users.collect()
    assert {u.zip for u in users} >= {"T8H1N", "V3N4P"}


@pytest.mark.spark
def test_ml1m_users_map_codes(spark, synthetic_root):
    users = loaders.load(spark, "ml-1m", synthetic_root).users.collect()
    assert {u.age for u in users} <= {1, 18, 25, 35, 45, 50, 56}
    assert {u.occupation for u in users} <= set(loaders.OCCUPATIONS_1M)
    assert {u.gender for u in users} <= {"M", "F"}


@pytest.mark.spark
def test_csv_tags_and_links(spark, synthetic_root):
    tables = loaders.load(spark, "ml-latest-small", synthetic_root)
    assert tables.tags.schema == C.TAGS_SCHEMA and tables.links.schema == C.LINKS_SCHEMA
    tags = [r.tag for r in tables.tags.collect()]
    assert 'dark, "gritty"' in tags  # CSV quoting undone
    links = tables.links.collect()
    assert len(links) == N_MOVIES and all(len(r.imdb_id) == 7 for r in links)
    assert any(r.tmdb_id is None for r in links)  # empty tmdbId is null
    titles = [r.title for r in tables.movies.collect()]
    assert any('"' in t and "," in t for t in titles)


@pytest.mark.spark
def test_read_ratings_reads_one_fold(spark, synthetic_root):
    fold = loaders.read_ratings(spark, synthetic_root / "ml-100k" / "u1.base", "ml-100k")
    assert fold.schema == C.RATINGS_SCHEMA
    assert fold.count() == 1_600
    with pytest.raises(DatasetError):
        loaders.read_ratings(spark, synthetic_root / "ml-100k" / "u9.base", "ml-100k")


def test_utf8_lines_that_fail_fall_back_to_latin1(tmp_path):
    path = tmp_path / "movies.dat"
    path.write_bytes("1::Amélie (2001)::Comedy\r\n".encode() + "2::Café (1999)::Drama\n".encode("latin-1") + b"\n")
    lines = list(loaders.read_lines(path, get("ml-10m").movies))
    assert lines == ["1::Amélie (2001)::Comedy", "2::Café (1999)::Drama"]
    header = tmp_path / "movies.csv"
    header.write_text("movieId,title,genres\n1,Heat (1995),Action\n", encoding="utf-8")
    assert list(loaders.read_lines(header, get("ml-25m").movies)) == ["1,Heat (1995),Action"]
