"""The edition registry: every entry complete and consistent with the published facts."""

from __future__ import annotations

import re

import pytest

from pipeline import datasets
from pipeline.errors import DatasetError

HEX32 = re.compile(r"^[0-9a-f]{32}$")
HEX64 = re.compile(r"^[0-9a-f]{64}$")


def test_registry_lists_the_seven_editions():
    assert datasets.NAMES == ("ml-100k", "ml-latest-small", "ml-1m", "ml-10m", "ml-20m", "ml-25m", "ml-32m")


@pytest.mark.parametrize("name", datasets.NAMES)
def test_entry_is_complete(name):
    d = datasets.get(name)
    assert d.url == f"https://files.grouplens.org/datasets/movielens/{name}.zip"
    assert HEX32.match(d.zip_md5)  # every edition has its GroupLens MD5
    assert d.zip_sha256 is None or HEX64.match(d.zip_sha256)
    assert all(HEX64.match(h) for h in d.file_sha256.values())
    assert d.ratings.file in d.required_files and d.movies.file in d.required_files
    assert len(d.ratings.fields) == 4
    assert d.rating_values and d.genres
    assert d.rows["ratings"] > 0


def test_file_formats_per_family():
    small, ml1m, ml10m, ml25m = (datasets.get(n) for n in ("ml-100k", "ml-1m", "ml-10m", "ml-25m"))
    assert (small.ratings.file, small.ratings.sep, small.movies.sep, small.movies.encoding) == (
        "u.data",
        "\t",
        "|",
        "latin-1",
    )
    assert len(small.movies.fields) == 24 and small.genre_format == "flags" and len(small.genres) == 19
    assert (ml1m.ratings.sep, ml1m.movies.encoding, ml1m.users.file) == ("::", "latin-1", "users.dat")
    assert ml10m.folder == "ml-10M100K" and ml10m.tags.file == "tags.dat" and ml10m.users is None
    assert ml25m.ratings.header == "userId,movieId,rating,timestamp" and ml25m.movies.quoted
    assert set(ml25m.tables) == {"ratings", "movies", "tags", "links"}


def test_rating_scales():
    assert datasets.get("ml-100k").rating_values == (1.0, 2.0, 3.0, 4.0, 5.0)
    assert datasets.get("ml-1m").rating_range == (1.0, 5.0)
    half = datasets.get("ml-latest-small").rating_values
    assert half[0] == 0.5 and half[-1] == 5.0 and len(half) == 10


def test_published_checksums():
    assert datasets.get("ml-latest-small").zip_md5 == "31a303aabbc519bd33d025e44d6c2570"
    assert datasets.get("ml-100k").zip_md5 == "0e33842e24a9c977be4e0107933c0723"
    assert datasets.get("ml-100k").file_sha256["u.data"].startswith("06416e59")
    assert datasets.get("ml-latest-small").file_sha256["ratings.csv"].startswith("aa289ca8")


def test_ml1m_codes():
    assert datasets.OCCUPATIONS_1M[0] == "other" and datasets.OCCUPATIONS_1M[20] == "writer"
    assert len(datasets.OCCUPATIONS_1M) == 21
    assert datasets.AGE_CODES_1M == (1, 18, 25, 35, 45, 50, 56)


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(DatasetError, match="ml-100k"):
        datasets.get("ml-5k")
