"""The synthetic generator: real files' shapes and quirks, exact bad lines, planted structure."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from pipeline import synthetic
from tests.pipeline.conftest import N_MOVIES, N_RATINGS, N_USERS


def _dat(path) -> np.ndarray:
    return np.array([line.split("::") for line in path.read_text(encoding="latin-1").splitlines()], dtype=np.int64)


def _data_lines(path, header: bool = False) -> list[str]:
    lines = path.read_bytes().decode("latin-1").splitlines()
    return lines[1:] if header else lines


def test_exact_rating_lines_and_expectations(synthetic_root):
    folder = synthetic_root / "ml-100k"
    # 2000 clean + 3 malformed + 2 out of range + 4 unknown movie + 5 duplicates + 2 unknown user
    assert len(_data_lines(folder / "u.data")) == 2_016
    meta = synthetic.read_meta(folder)
    assert meta["expected"]["ratings"] == {
        "malformed": 3,
        "out_of_range": 2,
        "unknown_movie": 4,
        "unknown_user": 2,
        "duplicate": 5,
    }
    # the "unknown" movie quirk plus the seeded ones
    assert meta["expected"]["flagged"]["movies"] == {"no_year": 2, "no_genres": 3}
    assert meta["expected"]["rows"] == {"ratings": 2_000, "movies": 120, "users": 50}


def test_ml100k_shapes(synthetic_root):
    folder = synthetic_root / "ml-100k"
    item = (folder / "u.item").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        item.decode("utf-8")  # latin-1 with non-ASCII titles, like the real u.item
    lines = item.decode("latin-1").splitlines()
    assert len(lines) == N_MOVIES + 1  # one malformed movie line
    assert sum(len(line.split("|")) == 24 for line in lines) == N_MOVIES
    assert any(line.split("|")[1] == "unknown" for line in lines)
    assert any("(V)" in line for line in lines) and any(", The (" in line for line in lines)
    users = (folder / "u.user").read_text(encoding="latin-1").splitlines()
    assert len(users) == N_USERS and {len(u.split("|")) for u in users} == {5}
    assert (folder / "u.genre").read_text().splitlines()[0] == "unknown|0"


def test_ml100k_official_folds(synthetic_root):
    folder = synthetic_root / "ml-100k"

    def rows(name):
        return {tuple(line.split("\t")) for line in _data_lines(folder / name)}

    tests = [rows(f"u{i}.test") for i in range(1, 6)]
    assert [len(t) for t in tests] == [400] * 5
    assert len(set().union(*tests)) == N_RATINGS  # disjoint test sets covering every clean rating
    for i in range(1, 6):
        assert rows(f"u{i}.base") | tests[i - 1] == set().union(*tests)
        assert not rows(f"u{i}.base") & tests[i - 1]
    ua = rows("ua.test")
    per_user = {}
    for user, *_ in ua:
        per_user[user] = per_user.get(user, 0) + 1
    assert set(per_user.values()) == {10}  # every user has >= 20 ratings here
    assert not ua & rows("ub.test")


def test_ml1m_codes_and_separators(synthetic_root):
    users = (synthetic_root / "ml-1m" / "users.dat").read_text(encoding="latin-1").splitlines()
    fields = [u.split("::") for u in users]
    assert {len(f) for f in fields} == {5}
    assert {int(f[2]) for f in fields} <= {1, 18, 25, 35, 45, 50, 56}
    assert {int(f[3]) for f in fields} <= set(range(21))
    movies = (synthetic_root / "ml-1m" / "movies.dat").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        movies.decode("utf-8")


def test_csv_quoting_and_line_ends(synthetic_root):
    folder = synthetic_root / "ml-latest-small"
    assert (folder / "ratings.csv").read_bytes().split(b"\n", 1)[0] == b"userId,movieId,rating,timestamp\r"
    with (folder / "movies.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    titles = [r[1] for r in rows[1:] if len(r) == 3]
    assert any('"' in t and "," in t for t in titles)
    assert any(not t.endswith(")") for t in titles)  # titles without a year
    assert any(r[2] == "(no genres listed)" for r in rows[1:] if len(r) == 3)
    assert any(ord(ch) > 255 for t in titles for ch in t)  # UTF-8 beyond latin-1
    with (folder / "tags.csv").open(encoding="utf-8", newline="") as fh:
        tags = [r[2] for r in list(csv.reader(fh))[1:]]
    assert 'dark, "gritty"' in tags
    links = (folder / "links.csv").read_text(encoding="utf-8").splitlines()[1:]
    assert all(len(line.split(",")[1]) == 7 for line in links)  # zero-padded IMDb ids


def test_same_seed_same_bytes(tmp_path):
    a = synthetic.generate(tmp_path / "a", "ml-1m", n_users=20, n_movies=40, n_ratings=500, seed=3)
    b = synthetic.generate(tmp_path / "b", "ml-1m", n_users=20, n_movies=40, n_ratings=500, seed=3)
    c = synthetic.generate(tmp_path / "c", "ml-1m", n_users=20, n_movies=40, n_ratings=500, seed=4)
    assert (a / "ratings.dat").read_bytes() == (b / "ratings.dat").read_bytes()
    assert (a / "ratings.dat").read_bytes() != (c / "ratings.dat").read_bytes()


def test_chunked_generation_keeps_exact_counts_and_distinct_pairs(tmp_path):
    folder = synthetic.generate(
        tmp_path, "ml-25m", n_users=300, n_movies=2_000, n_ratings=30_000, seed=1, quirks=False, chunk_ratings=4_000
    )
    rows = np.loadtxt(folder / "ratings.csv", delimiter=",", skiprows=1)
    assert len(rows) == 30_000
    assert len({(u, m) for u, m in rows[:, :2].tolist()}) == 30_000
    assert set(np.unique(rows[:, 2])) <= {v / 2 for v in range(1, 11)}
    per_user = np.bincount(rows[:, 0].astype(int))[1:]
    assert per_user.min() >= 20 and per_user.max() > 5 * np.median(per_user)  # casual and very active users


def test_planted_structure_is_in_the_ratings(tmp_path):
    folder = synthetic.generate(tmp_path, "ml-1m", n_users=200, n_movies=300, n_ratings=12_000, seed=5, quirks=False)
    truth = synthetic.load_truth(folder)
    rows = _dat(folder / "ratings.dat")
    user = rows[:, 0] - 1
    movie = np.searchsorted(truth["movie_ids"], rows[:, 1])
    taste = truth["user_taste"]
    in_favourite = truth["movie_primary"][movie] == taste.argmax(axis=1)[user]
    # chosen by taste: far more ratings fall in the user's favourite cluster than its catalogue share
    catalogue_share = np.mean(truth["movie_primary"][:, None] == taste.argmax(axis=1)[None, :])
    assert in_favourite.mean() > 2 * catalogue_share
    # rated by taste: the favourite cluster gets clearly higher ratings
    assert rows[in_favourite, 2].mean() > rows[~in_favourite, 2].mean() + 0.5


def test_per_user_time_order_follows_release_year(tmp_path):
    folder = synthetic.generate(tmp_path, "ml-1m", n_users=50, n_movies=200, n_ratings=4_000, seed=2, quirks=False)
    truth = synthetic.load_truth(folder)
    rows = _dat(folder / "ratings.dat")
    years = truth["movie_years"][np.searchsorted(truth["movie_ids"], rows[:, 1])]
    correlations = []
    for u in np.unique(rows[:, 0]):
        sel = rows[:, 0] == u
        correlations.append(np.corrcoef(years[sel], rows[sel, 3])[0, 1])
    assert np.mean(correlations) > 0.5


def test_bad_line_kinds_are_checked(tmp_path):
    with pytest.raises(ValueError, match="unknown bad_lines kind"):
        synthetic.generate(tmp_path, "ml-100k", bad_lines={"typo": 1})
    with pytest.raises(ValueError, match="no users table"):
        synthetic.generate(tmp_path, "ml-25m", bad_lines={"unknown_user": 1})
    with pytest.raises(ValueError, match="folds"):
        synthetic.generate(tmp_path, "ml-1m", folds=True)


def test_default_shape_grows_sublinearly():
    assert synthetic.default_shape(100_000) == (943, 1_682)
    users, movies = synthetic.default_shape(25_000_000)
    assert 100_000 < users < 170_000 and 30_000 < movies < 70_000
