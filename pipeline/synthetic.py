"""MovieLens-shaped synthetic data with planted latent structure, in every edition's format.

Why: tests must never download, and a model test needs data whose answer is
known. The generator plants a structure ALS can recover:

- K hidden clusters. Each movie has a primary and a secondary cluster
  (a_m = e_primary + 0.35·e_secondary), genres derived from them, a quality
  q_m and a Zipf-like popularity (long tail, correlated with quality).
- Each user has a taste vector θ_u ~ Dirichlet(0.25) over the clusters (1-3
  dominant clusters), a bias b_u and an activity level (log-normal: a few very
  active users, many casual ones; at least 20 ratings each when the size
  allows, as in MovieLens).
- Which movies a user rates: probability ∝ popularity · exp(β·a_m·θ_u)
  (implicit signal). The rating: 3.4 + b_u + q_m + γ·(a_m·θ_u − 0.3) + noise,
  rounded to the edition's scale (explicit signal).
- Timestamps: each user is active over a span inside the edition's years;
  their ratings are in time order over that span.

Files follow the real ones byte for byte in layout: ml-100k `u.data` (tab),
`u.item` (latin-1, 24 `|` fields, 19 genre flags), `u.user`, `u.genre`,
`u.occupation`, `u.info` and optionally the official folds; ml-1m `.dat` with
`::`, latin-1, age and occupation codes; ml-10m `.dat` (UTF-8) with tags;
CSV editions with a header row, quoted titles holding commas and quotes,
tags, links (zero-padded IMDb ids, some empty TMDb ids), CRLF line ends for
ml-latest-small.

With `quirks=True` (default) the realistic oddities are planted too: non-ASCII
titles, article suffixes ("…, The"), "a.k.a." titles, a "(V)" video title
(100k), a year range (CSV), ml-100k's "unknown" movie (no year, genre
"unknown"), "(no genres listed)" and a title without a year (CSV and
ml-10m), alphanumeric zip codes. `bad_lines` adds lines the cleaner must
reject or flag, in exact numbers. `synthetic.json` in the folder lists the
parameters and the exact rejects/flags the cleaner should report;
`truth.npz` holds the planted factors (see `load_truth`).
"""

from __future__ import annotations

import calendar
import csv
import io
import itertools
import json
import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.datasets import (
    AGE_CODES_1M,
    GENRES_100K,
    INTEGER_STARS,
    OCCUPATIONS_1M,
    OCCUPATIONS_100K,
    Dataset,
    get,
)

log = logging.getLogger(__name__)

RATING_REASONS = ("malformed", "out_of_range", "unknown_movie", "unknown_user", "duplicate")
MOVIE_REASONS = ("malformed_movie",)
MOVIE_FLAGS = ("no_year", "no_genres")
BAD_LINE_KINDS = RATING_REASONS + MOVIE_REASONS + MOVIE_FLAGS

AFFINITY_SECONDARY = 0.35  # weight of a movie's secondary cluster
SELECT_BETA = 5.0  # how strongly taste drives which movies a user rates
RATING_GAMMA = 2.5  # how strongly taste drives the rating value
RATING_NOISE = 0.6
MIN_USER_RATINGS = 20

_ADJECTIVES = (
    "Silent",
    "Crimson",
    "Lost",
    "Golden",
    "Broken",
    "Hidden",
    "Last",
    "Wild",
    "Dark",
    "Bright",
    "Frozen",
    "Burning",
    "Secret",
    "Electric",
    "Quiet",
    "Savage",
    "Gentle",
    "Iron",
    "Velvet",
    "Hollow",
    "Endless",
    "Distant",
    "Restless",
    "Midnight",
    "Scarlet",
    "Forgotten",
    "Rising",
    "Fallen",
    "Stolen",
    "Perfect",
    "Little",
    "Strange",
    "Lonely",
    "Eternal",
    "Wicked",
    "Brave",
    "Final",
    "Paper",
    "Glass",
    "Northern",
)
_NOUNS = (
    "River",
    "Empire",
    "Garden",
    "Horizon",
    "Shadow",
    "Kingdom",
    "Harbor",
    "Mirror",
    "Storm",
    "Road",
    "Station",
    "Promise",
    "Summer",
    "Winter",
    "Frontier",
    "Island",
    "Machine",
    "Symphony",
    "Crossing",
    "Orchard",
    "Signal",
    "Voyage",
    "Fortress",
    "Valley",
    "Letters",
    "Circus",
    "Engine",
    "Meadow",
    "Citadel",
    "Lantern",
    "Desert",
    "Canyon",
    "Witness",
    "Stranger",
    "Heist",
    "Detective",
    "Carnival",
    "Academy",
    "Tide",
    "Comet",
)
# Titles only latin-1 can hold (ml-100k u.item, ml-1m movies.dat) and ones that need UTF-8.
_LATIN1_TITLES = ("Café Lumière", "Amélie des Prés", "Niño Perdido", "Jalousie à Paris", "Mädchen im Schnee")
_UTF8_TITLES = ("Łódź Stories", "東京の夜", "Ящик Пандоры", "Café Lumière", "Şehir Işıkları")
_TAG_WORDS = (
    "atmospheric",
    "twist ending",
    "dark comedy",
    "slow burn",
    "visually stunning",
    "based on a book",
    "quirky",
    "feel-good",
    "cult classic",
    "great soundtrack",
    "thought-provoking",
    "violent",
    "romantic",
    "funny",
    "sci-fi",
    "nostalgic",
    "tense",
    "beautiful",
    "overrated",
    "classic",
)


@dataclass(frozen=True)
class _Movies:
    ids: np.ndarray  # movie ids (int64), file order
    primary: np.ndarray  # cluster index
    secondary: np.ndarray
    quality: np.ndarray
    popularity: np.ndarray  # selection weight, sums to 1
    titles: list[str]  # full MovieLens title, "Name (YYYY)" unless a no-year movie
    years: np.ndarray  # -1 when the title carries no year
    genres: list[list[str]]  # empty list = the edition's "no genres" marker


@dataclass(frozen=True)
class _Users:
    ids: np.ndarray
    taste: np.ndarray  # (n_users, K), rows sum to 1
    bias: np.ndarray
    counts: np.ndarray  # ratings per user
    start: np.ndarray  # first rating time
    span: np.ndarray  # seconds between first and last rating


def default_shape(n_ratings: int) -> tuple[int, int]:
    """Users and movies for `n_ratings`: ml-100k's 943 x 1,682 at 100k, growing sublinearly.

    The exponents put 25M ratings near ml-25m's shape (about 136k users and
    46k movies against 162k and 62k).
    """
    scale = n_ratings / 100_000
    n_users = max(20, round(943 * scale**0.9))
    n_movies = max(50, round(1_682 * scale**0.6))
    return n_users, n_movies


def _allocate(total: int, weights: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Integers in [lo, hi] summing to `total`, roughly proportional to `weights` above `lo`."""
    n = np.full(len(weights), lo, dtype=np.int64)
    remaining = total - lo * len(weights)
    while remaining > 0:
        room = hi - n
        share = np.where(room > 0, weights, 0.0)
        share = share / share.sum()
        add = np.minimum(np.floor(share * remaining).astype(np.int64), room)
        if add.sum() == 0:
            order = np.argsort(-share)
            order = order[room[order] > 0][:remaining]
            add[order] = 1
        n += add
        remaining -= int(add.sum())
    return n


def _epoch(year: int, month: int = 1, day: int = 1) -> int:
    return calendar.timegm((year, month, day, 0, 0, 0))


def _check_bad_lines(dataset: Dataset, bad_lines: Mapping[str, int] | None) -> dict[str, int]:
    bad = {kind: 0 for kind in BAD_LINE_KINDS}
    for kind, count in (bad_lines or {}).items():
        if kind not in bad:
            raise ValueError(f"unknown bad_lines kind {kind!r}; known: {', '.join(BAD_LINE_KINDS)}")
        if count < 0:
            raise ValueError(f"bad_lines[{kind!r}] must be >= 0")
        bad[kind] = int(count)
    if bad["unknown_user"] and dataset.users is None:
        raise ValueError(f"{dataset.name} has no users table, so no rating can have an unknown user")
    return bad


def _make_movies(
    dataset: Dataset, n_movies: int, k: int, rng: np.random.Generator, quirks: bool, bad: dict
) -> tuple[_Movies, dict]:
    """Movies with clusters, quality, popularity, titles and genres; returns the planted flags too."""
    if dataset.family == "100k":
        ids = np.arange(1, n_movies + 1, dtype=np.int64)
    else:  # real ids have gaps (removed or merged entries)
        ids = np.cumsum(rng.geometric(0.7, size=n_movies)).astype(np.int64)
    cluster_size = rng.dirichlet(np.full(k, 3.0))
    primary = rng.choice(k, size=n_movies, p=cluster_size)
    secondary = (primary + rng.integers(1, k, size=n_movies)) % k if k > 1 else primary.copy()
    quality = rng.normal(0.0, 0.45, size=n_movies)
    # Zipf-like popularity, ranks correlated with quality.
    rank_key = quality + rng.normal(0.0, 0.5, size=n_movies)
    ranks = np.empty(n_movies, dtype=np.int64)
    ranks[np.argsort(-rank_key)] = np.arange(1, n_movies + 1)
    popularity = 1.0 / ranks.astype(float) ** 0.9
    popularity /= popularity.sum()

    last_year = dataset.rating_years[1]
    years = np.clip(last_year - np.floor(rng.exponential(12.0, size=n_movies)).astype(np.int64), 1915, last_year)
    vocab = [g for g in dataset.genres if g not in ("unknown",)]
    cluster_genres = [vocab[(c * len(vocab)) // k] for c in range(k)]  # spread over the vocabulary
    extra_genres = [vocab[(c * 7 + 3) % len(vocab)] for c in range(k)]
    genres: list[list[str]] = []
    for m in range(n_movies):
        chosen = {
            cluster_genres[primary[m]],
            extra_genres[primary[m]] if rng.random() < 0.5 else cluster_genres[secondary[m]],
        }
        if rng.random() < 0.3:
            chosen.add(vocab[rng.integers(len(vocab))])
        genres.append([g for g in vocab if g in chosen])  # the edition's order, as in the real files

    names = []
    a, n = len(_ADJECTIVES), len(_NOUNS)
    for i, idx in enumerate(rng.permutation(n_movies)):
        name = f"{_ADJECTIVES[idx % a]} {_NOUNS[(idx // a) % n]}"
        if idx // (a * n):
            name += f" {idx // (a * n) + 1}"
        if i % 11 == 0:
            name = f"{name}, The"  # MovieLens moves the article to the end
        names.append(name)
    titles = [f"{name} ({year})" for name, year in zip(names, years, strict=True)]
    year_out = years.copy()
    flags = {"no_year": 0, "no_genres": 0}
    no_genres: set[int] = set()
    used: set[int] = set()

    def take(count: int) -> list[int]:
        free = [m for m in rng.permutation(n_movies).tolist() if m not in used][:count]
        used.update(free)
        return free

    if quirks and n_movies >= 12:
        picks = take(6)
        akaname = names[picks[0]].removesuffix(", The")
        titles[picks[0]] = f"{akaname} (a.k.a. {akaname[::-1].title()}) ({years[picks[0]]})"
        special = _LATIN1_TITLES if dataset.family != "csv" and dataset.name != "ml-10m" else _UTF8_TITLES
        for j, m in enumerate(picks[1:3]):
            titles[m] = f"{special[(j + int(m)) % len(special)]} {m} ({years[m]})"
        if dataset.family == "100k":
            unknown = min(n_movies - 1, max(0, round(n_movies * 266 / 1682)))
            if unknown in used:
                unknown = picks[3]
            used.add(unknown)
            titles[unknown], year_out[unknown] = "unknown", -1
            no_genres.add(unknown)
            flags["no_year"] += 1
            flags["no_genres"] += 1
            titles[picks[4]] = f"{names[picks[4]]} ({years[picks[4]]}) (V)"
        else:
            if dataset.family == "csv":
                m = picks[3]
                titles[m] = f'{names[m]}: Chapter "One", Part {m} ({years[m]})'  # quotes and a comma
                m = picks[4]
                titles[m] = f"{names[m]} ({years[m]}–{years[m] + 1})"  # a series: the first year counts
            if dataset.family == "csv" or dataset.name == "ml-10m":
                m = picks[5]
                titles[m], year_out[m] = names[m], -1
                flags["no_year"] += 1
                m = picks[4] if dataset.family == "dat" else picks[2]
                no_genres.add(m)
                flags["no_genres"] += 1
    for m in take(bad["no_year"]):
        titles[m], year_out[m] = names[m], -1
        flags["no_year"] += 1
    for m in take(bad["no_genres"]):
        no_genres.add(m)
        flags["no_genres"] += 1
    for m in no_genres:
        genres[m] = []
    movies = _Movies(ids, primary, secondary, quality, popularity, titles, year_out, genres)
    return movies, flags


def _make_users(
    dataset: Dataset, n_users: int, n_movies: int, n_ratings: int, k: int, rng: np.random.Generator
) -> _Users:
    taste = rng.dirichlet(np.full(k, 0.25), size=n_users)
    bias = rng.normal(0.0, 0.3, size=n_users)
    lo = min(MIN_USER_RATINGS, n_ratings // n_users, n_movies)
    hi = max(lo, min(n_movies, int(n_movies * 0.9)))
    if n_ratings > hi * n_users:
        raise ValueError(f"{n_ratings} ratings do not fit {n_users} users x {n_movies} movies (at most {hi} each)")
    activity = rng.lognormal(0.0, 1.1, size=n_users)
    counts = _allocate(n_ratings, activity, lo, hi)
    first, last = _epoch(dataset.rating_years[0]), _epoch(dataset.rating_years[1] + 1) - 1
    total = last - first
    span = np.minimum(rng.lognormal(np.log(60 * 86400), 1.5, size=n_users), total * 0.95).astype(np.int64)
    span = np.maximum(span, 3600)
    start = first + (rng.random(n_users) * (total - span)).astype(np.int64)
    return _Users(np.arange(1, n_users + 1, dtype=np.int64), taste, bias, counts, start, span)


class _Sampler:
    """Draws movies for users ∝ popularity · exp(β·affinity), grouped by (primary, secondary) type."""

    def __init__(self, movies: _Movies, k: int) -> None:
        self.k = k
        types = movies.primary * k + movies.secondary
        self.order = np.argsort(types, kind="stable")  # movie indexes grouped by type
        sorted_types = types[self.order]
        self.present = np.unique(sorted_types)
        pop = movies.popularity[self.order]
        self.type_pop = np.array([pop[sorted_types == t].sum() for t in self.present])
        cdf = np.empty(len(pop))
        for i, t in enumerate(self.present):
            sel = sorted_types == t
            cdf[sel] = i + np.cumsum(pop[sel]) / pop[sel].sum()
        cdf[np.r_[np.flatnonzero(np.diff(sorted_types)), len(cdf) - 1]] = np.arange(1, len(self.present) + 1)
        self.cdf = cdf
        prim, sec = self.present // k, self.present % k
        self.affinity = np.zeros((len(self.present), k))
        self.affinity[np.arange(len(self.present)), prim] += 1.0
        self.affinity[np.arange(len(self.present)), sec] += AFFINITY_SECONDARY

    def draw(self, taste: np.ndarray, counts: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(row index into `taste`, movie index) pairs; `counts[i]` draws for row i, with repeats."""
        weights = self.type_pop * np.exp(SELECT_BETA * taste @ self.affinity.T)
        weights /= weights.sum(axis=1, keepdims=True)
        per_type = rng.multinomial(counts, weights)
        rows = np.repeat(np.repeat(np.arange(len(counts)), len(self.present)), per_type.ravel())
        type_slot = np.repeat(np.tile(np.arange(len(self.present)), len(counts)), per_type.ravel())
        pos = np.searchsorted(self.cdf, type_slot + rng.random(len(type_slot)), side="right")
        pos = np.minimum(pos, len(self.cdf) - 1)
        return rows, self.order[pos]


def _pick_movies(
    sampler: _Sampler, taste: np.ndarray, want: np.ndarray, n_movies: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Distinct movies per user, exactly `want[i]` for row i (weighted; uniform top-up if needed)."""
    keys = np.empty(0, dtype=np.int64)
    deficit = want.copy()
    for _ in range(12):
        if not deficit.any():
            break
        ask = np.where(deficit > 0, np.ceil(deficit * 1.3).astype(np.int64) + 1, 0)
        rows, movies = sampler.draw(taste, ask, rng)
        new = rows.astype(np.int64) * n_movies + movies
        # first occurrence of each new pair, in draw order, not already held (keys stay sorted)
        order = np.argsort(new, kind="stable")
        ranked = new[order]
        new = new[np.sort(order[np.r_[True, ranked[1:] != ranked[:-1]]])]
        if len(keys):
            pos = np.minimum(np.searchsorted(keys, new), len(keys) - 1)
            new = new[keys[pos] != new]
        # keep at most deficit[i] per row
        row_of = new // n_movies
        order = np.argsort(row_of, kind="stable")
        new, row_of = new[order], row_of[order]
        starts = np.searchsorted(row_of, np.arange(len(want)))
        rank = np.arange(len(new)) - starts[row_of]
        new = new[rank < deficit[row_of]]
        keys = np.sort(np.concatenate([keys, new]))
        deficit = want - np.bincount(keys // n_movies, minlength=len(want))
    for i in np.flatnonzero(deficit):  # heavy users of a small catalogue: top up uniformly
        held = keys[keys // n_movies == i] % n_movies
        free = np.setdiff1d(np.arange(n_movies), held)
        extra = rng.choice(free, size=deficit[i], replace=False)
        keys = np.concatenate([keys, i * n_movies + extra])
    keys.sort()
    return keys // n_movies, keys % n_movies


def _rating_values(
    dataset: Dataset, users: _Users, movies: _Movies, u: np.ndarray, m: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Bias + quality + taste·movie affinity + noise, rounded to the edition's scale."""
    affinity = users.taste[u, movies.primary[m]] + AFFINITY_SECONDARY * users.taste[u, movies.secondary[m]]
    score = 3.4 + users.bias[u] + movies.quality[m] + RATING_GAMMA * (affinity - 0.3)
    score = score + rng.normal(0.0, RATING_NOISE, size=len(u))
    if dataset.rating_values == INTEGER_STARS:
        return np.clip(np.rint(score), 1, 5)
    return np.clip(np.rint(score * 2) / 2, 0.5, 5.0)


def _rating_chunks(
    dataset: Dataset, users: _Users, movies: _Movies, k: int, rng: np.random.Generator, chunk: int
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """(user index, movie index, rating, ts) arrays, users in chunks of about `chunk` ratings."""
    sampler = _Sampler(movies, k)
    bounds = np.searchsorted(np.cumsum(users.counts), np.arange(chunk, int(users.counts.sum()), chunk), side="left")
    edges = np.unique(np.r_[0, bounds + 1, len(users.ids)])
    for lo, hi in itertools.pairwise(edges):
        rows, m = _pick_movies(sampler, users.taste[lo:hi], users.counts[lo:hi], len(movies.ids), rng)
        u = rows + lo
        r = _rating_values(dataset, users, movies, u, m, rng)
        ts = users.start[u] + (rng.random(len(u)) * users.span[u]).astype(np.int64)
        yield u, m, r, ts


# --- writing ------------------------------------------------------------------------------------


def _fmt_rating(dataset: Dataset, value: float) -> str:
    if dataset.family == "csv":
        return f"{value:.1f}"
    return f"{value:g}"


class _LineFormatter:
    """Rating lines for whole chunks at once: ids and values are looked up as prepared strings."""

    def __init__(self, dataset: Dataset, users: _Users, movies: _Movies) -> None:
        self.sep = dataset.ratings.sep
        self.users = np.array([str(i) for i in users.ids.tolist()], dtype=object)
        self.movies = np.array([str(i) for i in movies.ids.tolist()], dtype=object)
        self.values = np.array(dataset.rating_values)
        self.value_text = np.array([_fmt_rating(dataset, v) for v in dataset.rating_values], dtype=object)

    def lines(self, u: np.ndarray, m: np.ndarray, r: np.ndarray, ts: np.ndarray) -> list[str]:
        value = self.value_text[np.searchsorted(self.values, r)]
        return list(map(self.sep.join, zip(self.users[u], self.movies[m], value, map(str, ts.tolist()), strict=True)))


def _rating_line(dataset: Dataset, user: int, movie: int, value: str, ts: int) -> str:
    sep = dataset.ratings.sep
    return f"{user}{sep}{movie}{sep}{value}{sep}{ts}"


def _bad_rating_lines(
    dataset: Dataset,
    bad: dict,
    users: _Users,
    movies: _Movies,
    sample: tuple[np.ndarray, ...],
    rng: np.random.Generator,
) -> list[str]:
    """Lines the cleaner must reject, one reason each, in exact numbers."""
    u, m, r, ts = sample
    sep = dataset.ratings.sep
    lines: list[str] = []
    good_value = _fmt_rating(dataset, dataset.rating_values[-1])
    pick = rng.integers(0, len(u), size=max(1, sum(bad.values())))
    forms = (
        lambda i: f"{users.ids[u[i]]}{sep}{movies.ids[m[i]]}{sep}{good_value}",  # a field short
        lambda i: f"{users.ids[u[i]]}{sep}{movies.ids[m[i]]}{sep}five{sep}{ts[i]}",  # rating not a number
        lambda i: f"user{u[i]}{sep}{movies.ids[m[i]]}{sep}{good_value}{sep}{ts[i]}",  # id not a number
        lambda i: f"{users.ids[u[i]]}{sep}{movies.ids[m[i]]}{sep}{good_value}{sep}{ts[i]}{sep}7",  # a field too many
    )
    for j in range(bad["malformed"]):
        lines.append(forms[j % len(forms)](pick[j % len(pick)]))
    outside = ("0", "6", "-1") if len(dataset.rating_values) == 5 else ("0.0", "5.5", "7.0")
    for j in range(bad["out_of_range"]):
        i = pick[j % len(pick)]
        lines.append(_rating_line(dataset, users.ids[u[i]], movies.ids[m[i]], outside[j % len(outside)], ts[i]))
    for j in range(bad["unknown_movie"]):
        i = pick[j % len(pick)]
        lines.append(_rating_line(dataset, users.ids[u[i]], int(movies.ids[-1]) + 1000 + j, good_value, ts[i]))
    for j in range(bad["unknown_user"]):
        i = pick[j % len(pick)]
        lines.append(_rating_line(dataset, int(users.ids[-1]) + 1000 + j, movies.ids[m[i]], good_value, ts[i]))
    if bad["duplicate"] > len(u):
        raise ValueError(f"cannot plant {bad['duplicate']} duplicates in a first chunk of {len(u)} ratings")
    for i in rng.choice(len(u), size=bad["duplicate"], replace=False):
        other = next(v for v in dataset.rating_values if v != r[i])
        # an older copy with another value: the cleaner keeps the latest, i.e. the planted rating
        lines.append(
            _rating_line(dataset, users.ids[u[i]], movies.ids[m[i]], _fmt_rating(dataset, other), ts[i] - 86_400)
        )
    return lines


class _Writer:
    """Text file writer with the edition's encoding and line ends."""

    def __init__(self, path: Path, encoding: str, crlf: bool) -> None:
        self.fh = path.open("w", encoding=encoding.split("|")[0], newline="")
        self.end = "\r\n" if crlf else "\n"

    def lines(self, lines: list[str]) -> None:
        if lines:
            self.fh.write(self.end.join(lines) + self.end)

    def close(self) -> None:
        self.fh.close()


def _csv_field(text: str) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow([text])
    return buf.getvalue()


def _movie_lines(dataset: Dataset, movies: _Movies, bad_movies: int) -> list[str]:
    lines = []
    for i, movie_id in enumerate(movies.ids):
        title, genres = movies.titles[i], movies.genres[i]
        if dataset.family == "100k":
            names = set(genres) or {"unknown"}
            flags = "|".join("1" if g in names else "0" for g in GENRES_100K)
            if title == "unknown":
                lines.append(f"{movie_id}|unknown||||{flags}")
                continue
            year = movies.years[i] if movies.years[i] > 0 else 1995
            date = f"{1 + i % 28:02d}-{calendar.month_abbr[1 + i % 12]}-{year}"
            url = "http://us.imdb.com/M/title-exact?" + title.replace(" ", "+").replace(",", "%2C")
            lines.append(f"{movie_id}|{title}|{date}||{url}|{flags}")
        else:
            text = "|".join(genres) or "(no genres listed)"
            if dataset.family == "csv":
                lines.append(f"{movie_id},{_csv_field(title)},{text}")
            else:
                lines.append(f"{movie_id}::{title}::{text}")
    base = int(movies.ids[-1]) + 500
    for j in range(bad_movies):
        bad_id = base + j
        if dataset.family == "100k":
            lines.append(f"{bad_id}|Broken Entry {j} (1999)|01-Jan-1999||")  # the genre flags are missing
        elif dataset.family == "csv":
            lines.append(f"{bad_id},Broken Entry {j} (1999)")  # genres missing
        else:
            lines.append(f"{bad_id}::Broken Entry {j} (1999)")
    return lines


def _user_lines(dataset: Dataset, users: _Users, rng: np.random.Generator, quirks: bool) -> list[str]:
    n = len(users.ids)
    gender = np.where(rng.random(n) < 0.71, "M", "F")
    zips = [f"{z:05d}" for z in rng.integers(1000, 99999, size=n)]
    if quirks and n >= 3:
        zips[1], zips[-1] = "T8H1N", "V3N4P"  # Canadian postal codes, as in u.user
    lines = []
    if dataset.family == "100k":
        ages = np.clip(rng.normal(33, 12, size=n).astype(int), 7, 73)
        occupation = rng.integers(0, len(OCCUPATIONS_100K), size=n)
        for i in range(n):
            lines.append(f"{users.ids[i]}|{ages[i]}|{gender[i]}|{OCCUPATIONS_100K[occupation[i]]}|{zips[i]}")
    else:
        ages = rng.choice(AGE_CODES_1M, size=n, p=[0.04, 0.18, 0.35, 0.2, 0.09, 0.08, 0.06])
        occupation = rng.integers(0, len(OCCUPATIONS_1M), size=n)
        for i in range(n):
            lines.append(f"{users.ids[i]}::{gender[i]}::{ages[i]}::{occupation[i]}::{zips[i]}")
    return lines


def _tag_lines(
    dataset: Dataset, tags: tuple[np.ndarray, ...], users: _Users, movies: _Movies, quirks: bool
) -> list[str]:
    u, m, ts, word = tags
    order = np.lexsort((m, u))
    lines = []
    for j, i in enumerate(order):
        tag = _TAG_WORDS[word[i]]
        if quirks and j == 0:
            tag = 'dark, "gritty"' if dataset.family == "csv" else "dark, gritty"
        if dataset.family == "csv":
            lines.append(f"{users.ids[u[i]]},{movies.ids[m[i]]},{_csv_field(tag)},{ts[i]}")
        else:
            lines.append(f"{users.ids[u[i]]}::{movies.ids[m[i]]}::{tag}::{ts[i]}")
    return lines


def _link_lines(movies: _Movies, rng: np.random.Generator, quirks: bool) -> list[str]:
    imdb = rng.choice(np.arange(10_000, 9_999_999), size=len(movies.ids), replace=False)
    tmdb = rng.integers(2, 900_000, size=len(movies.ids))
    lines = []
    for i, movie_id in enumerate(movies.ids):
        t = "" if quirks and i % 97 == 5 else str(tmdb[i])
        lines.append(f"{movie_id},{imdb[i]:07d},{t}")
    return lines


def _write_folds(
    folder: Path,
    dataset: Dataset,
    ratings: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    users: _Users,
    movies: _Movies,
    formatter: _LineFormatter,
    rng: np.random.Generator,
) -> None:
    """ml-100k's official splits: u1..u5 (5 disjoint 20% test sets) and ua/ub (10 test ratings per user)."""
    u, m, r, ts = ratings
    n = len(u)

    def write(name: str, idx: np.ndarray) -> None:
        idx = idx[np.lexsort((movies.ids[m[idx]], users.ids[u[idx]]))]  # sorted by user, then item, as shipped
        w = _Writer(folder / name, dataset.ratings.encoding, crlf=False)
        w.lines(formatter.lines(u[idx], m[idx], r[idx], ts[idx]))
        w.close()

    parts = np.array_split(rng.permutation(n), 5)
    for i, test in enumerate(parts, start=1):
        write(f"u{i}.test", test)
        write(f"u{i}.base", np.concatenate([p for j, p in enumerate(parts, start=1) if j != i]))
    by_user = np.lexsort((rng.random(n), u))
    starts = np.searchsorted(u[by_user], np.arange(len(users.ids)))
    ends = np.r_[starts[1:], n]
    for name, offset in (("ua", 0), ("ub", 1)):
        test = []
        for s, e in zip(starts, ends, strict=True):
            take = min(10, (e - s) // 2)
            test.append(by_user[s + offset * take : s + (offset + 1) * take])
        test_idx = np.concatenate(test) if test else np.empty(0, dtype=np.int64)
        mask = np.ones(n, dtype=bool)
        mask[test_idx] = False
        write(f"{name}.test", test_idx)
        write(f"{name}.base", np.flatnonzero(mask))


def generate(
    out_dir: str | Path,
    fmt: str = "ml-100k",
    n_users: int | None = 100,
    n_movies: int | None = 200,
    n_ratings: int = 5_000,
    seed: int = 0,
    *,
    n_clusters: int = 8,
    n_tags: int | None = None,
    folds: bool = False,
    bad_lines: Mapping[str, int] | None = None,
    quirks: bool = True,
    chunk_ratings: int = 1_000_000,
) -> Path:
    """Write a synthetic edition of format `fmt` into out_dir/<folder>; returns that folder.

    `n_users` / `n_movies` None: `default_shape(n_ratings)`. `n_tags` (editions
    with tags) defaults to n_ratings / 30.
    `n_ratings` is the exact number of clean ratings; `bad_lines` (kinds in
    BAD_LINE_KINDS) adds that many rating lines rejected for each reason,
    `malformed_movie` movie lines, and flags `no_year` / `no_genres` on that
    many movies. `folds` writes ml-100k's u1..u5 and ua/ub splits of the clean
    ratings (ml-100k only). Ratings are generated in chunks of
    `chunk_ratings`, so memory stays bounded at 25M ratings.
    """
    started = time.perf_counter()
    dataset = get(fmt)
    if n_users is None or n_movies is None:
        d_users, d_movies = default_shape(n_ratings)
        n_users = d_users if n_users is None else n_users
        n_movies = d_movies if n_movies is None else n_movies
    if n_users < 1 or n_movies < 2 or n_ratings < n_users:
        raise ValueError(
            f"need n_users >= 1, n_movies >= 2 and n_ratings >= n_users; got {n_users}, {n_movies}, {n_ratings}"
        )
    if folds and dataset.family != "100k":
        raise ValueError("official folds exist for ml-100k only")
    if folds and n_ratings > 20_000_000:
        raise ValueError("folds are built in memory; use at most 20M ratings")
    bad = _check_bad_lines(dataset, bad_lines)
    k = max(2, min(n_clusters, len(dataset.genres) - 1))
    rng = np.random.default_rng(seed)
    folder = Path(out_dir) / dataset.folder
    folder.mkdir(parents=True, exist_ok=True)

    movies, flags = _make_movies(dataset, n_movies, k, rng, quirks, bad)
    users = _make_users(dataset, n_users, n_movies, n_ratings, k, rng)
    crlf = dataset.name == "ml-latest-small"

    ratings_out = _Writer(folder / dataset.ratings.file, dataset.ratings.encoding, crlf)
    if dataset.ratings.header:
        ratings_out.lines([dataset.ratings.header])
    formatter = _LineFormatter(dataset, users, movies)
    keep_all = folds or (dataset.family == "100k" and n_ratings <= 2 * chunk_ratings)
    kept: list[tuple[np.ndarray, ...]] = []
    tag_source: list[tuple[np.ndarray, ...]] = []
    written = 0
    for number, (u, m, r, ts) in enumerate(_rating_chunks(dataset, users, movies, k, rng, chunk_ratings)):
        ts = _per_user_sorted(u, ts, movies.years[m] + rng.normal(0.0, 3.0, size=len(m)))
        lines = formatter.lines(u, m, r, ts)
        if number == 0:
            bad_rows = _bad_rating_lines(dataset, bad, users, movies, (u, m, r, ts), rng)
            for line in bad_rows:
                lines.insert(int(rng.integers(0, len(lines) + 1)), line)
        if dataset.family == "100k" and not keep_all:
            lines = [lines[i] for i in rng.permutation(len(lines))]
        if keep_all:
            kept.append((u, m, r, ts, lines))
        else:
            ratings_out.lines(lines)
        if dataset.tags is not None:
            share = (n_tags if n_tags is not None else max(10, n_ratings // 30)) / n_ratings
            pick = np.flatnonzero(rng.random(len(u)) < share)
            tag_source.append((u[pick], m[pick], ts[pick] + rng.integers(1, 3600, size=len(pick))))
        written += len(u)
        log.info("%s: %d of %d ratings generated", dataset.name, written, n_ratings)
    if keep_all:
        all_lines = [line for part in kept for line in part[4]]
        if dataset.family == "100k":
            all_lines = [all_lines[i] for i in rng.permutation(len(all_lines))]
        ratings_out.lines(all_lines)
    ratings_out.close()

    movie_out = _Writer(folder / dataset.movies.file, dataset.movies.encoding, crlf)
    if dataset.movies.header:
        movie_out.lines([dataset.movies.header])
    movie_out.lines(_movie_lines(dataset, movies, bad["malformed_movie"]))
    movie_out.close()

    if dataset.users is not None:
        w = _Writer(folder / dataset.users.file, dataset.users.encoding, crlf)
        w.lines(_user_lines(dataset, users, rng, quirks))
        w.close()
    n_tag_rows = 0
    if dataset.tags is not None:
        tu = np.concatenate([t[0] for t in tag_source])
        tm = np.concatenate([t[1] for t in tag_source])
        tt = np.concatenate([t[2] for t in tag_source])
        # tag words follow the movie's primary cluster, so tags carry the planted structure
        word = (movies.primary[tm] * 3 + rng.integers(0, 3, size=len(tm))) % len(_TAG_WORDS)
        w = _Writer(folder / dataset.tags.file, dataset.tags.encoding, crlf)
        if dataset.tags.header:
            w.lines([dataset.tags.header])
        tag_lines = _tag_lines(dataset, (tu, tm, tt, word), users, movies, quirks)
        w.lines(tag_lines)
        w.close()
        n_tag_rows = len(tag_lines)
    if dataset.links is not None:
        w = _Writer(folder / dataset.links.file, dataset.links.encoding, crlf)
        w.lines([dataset.links.header] + _link_lines(movies, rng, quirks))
        w.close()
    if dataset.family == "100k":
        _write_100k_extras(folder, dataset, n_users, n_movies, n_ratings)
    if folds:
        u = np.concatenate([p[0] for p in kept])
        m = np.concatenate([p[1] for p in kept])
        r = np.concatenate([p[2] for p in kept])
        ts = np.concatenate([p[3] for p in kept])
        _write_folds(folder, dataset, (u, m, r, ts), users, movies, formatter, rng)

    expected = {
        "ratings": {kind: bad[kind] for kind in RATING_REASONS if kind != "unknown_user" or dataset.users is not None},
        "movies": {"malformed": bad["malformed_movie"]},
        "flagged": {"movies": flags},
        "rows": {
            "ratings": n_ratings,
            "movies": n_movies,
            **({"users": n_users} if dataset.users is not None else {}),
            **({"tags": n_tag_rows} if dataset.tags is not None else {}),
            **({"links": n_movies} if dataset.links is not None else {}),
        },
    }
    meta = {
        "generator": "pipeline.synthetic",
        "format": dataset.name,
        "seed": seed,
        "n_users": n_users,
        "n_movies": n_movies,
        "n_ratings": n_ratings,
        "n_clusters": k,
        "quirks": quirks,
        "folds": folds,
        "bad_lines": {kind: count for kind, count in bad.items() if count},
        "expected": expected,
    }
    (folder / "synthetic.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    np.savez_compressed(
        folder / "truth.npz",
        user_ids=users.ids,
        user_taste=users.taste,
        user_bias=users.bias,
        user_counts=users.counts,
        movie_ids=movies.ids,
        movie_primary=movies.primary,
        movie_secondary=movies.secondary,
        movie_quality=movies.quality,
        movie_popularity=movies.popularity,
        movie_years=movies.years,
    )
    log.info(
        "wrote synthetic %s (%d ratings) to %s in %.1fs", dataset.name, n_ratings, folder, time.perf_counter() - started
    )
    return folder


def _per_user_sorted(u: np.ndarray, ts: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Re-deal each user's times so they increase with `key` (newer movies are rated later)."""
    slots = np.lexsort((key, u))  # rows of each user, by key
    times = np.lexsort((ts, u))  # rows of each user, by time
    out = np.empty_like(ts)
    out[slots] = ts[times]
    return out


def _write_100k_extras(folder: Path, dataset: Dataset, n_users: int, n_movies: int, n_ratings: int) -> None:
    (folder / "u.genre").write_text("".join(f"{g}|{i}\n" for i, g in enumerate(GENRES_100K)) + "\n", encoding="latin-1")
    (folder / "u.occupation").write_text("".join(f"{o}\n" for o in OCCUPATIONS_100K), encoding="latin-1")
    (folder / "u.info").write_text(f"{n_users} users\n{n_movies} items\n{n_ratings} ratings\n", encoding="latin-1")


def load_truth(folder: str | Path) -> dict[str, np.ndarray]:
    """The planted factors of a generated folder (arrays keyed as in truth.npz)."""
    with np.load(Path(folder) / "truth.npz") as data:
        return {key: data[key] for key in data.files}


def read_meta(folder: str | Path) -> dict:
    """synthetic.json of a generated folder: parameters and the exact expected rejects and flags."""
    return json.loads((Path(folder) / "synthetic.json").read_text(encoding="utf-8"))
