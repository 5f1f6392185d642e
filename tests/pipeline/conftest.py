"""Synthetic MovieLens editions shared by the data-layer tests (generated once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline import synthetic
from pipeline.datasets import NAMES, get

N_USERS, N_MOVIES, N_RATINGS = 50, 120, 2_000
# Lines each synthetic edition carries on purpose; the cleaner must report exactly these.
BAD_LINES = {
    "malformed": 3,
    "out_of_range": 2,
    "unknown_movie": 4,
    "duplicate": 5,
    "malformed_movie": 1,
    "no_year": 1,
    "no_genres": 2,
}
BAD_LINES_WITH_USERS = {**BAD_LINES, "unknown_user": 2}


def bad_lines_for(name: str) -> dict[str, int]:
    return BAD_LINES_WITH_USERS if get(name).users is not None else BAD_LINES


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every edition's format, with quirks and seeded bad lines, under one parent folder."""
    root = tmp_path_factory.mktemp("movielens")
    for name in NAMES:
        synthetic.generate(
            root,
            name,
            n_users=N_USERS,
            n_movies=N_MOVIES,
            n_ratings=N_RATINGS,
            seed=7,
            folds=name == "ml-100k",
            bad_lines=bad_lines_for(name),
        )
    return root
