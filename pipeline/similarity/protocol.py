"""The item-to-item protocol: how good "because you liked X" lists are, on a train/test split.

As DESIGN.md ("Measuring", item-to-item) fixes it, on the msr-100k split:

* evaluated users: those with a liked (rating >= 4) training rating and a liked test rating;
* seed: the user's best training movie (highest rating; ties by the latest rating, then the
  lower id) — what a "because you liked" row would start from;
* the seed's similar list: the k = 10 catalogue movies whose vectors score highest against
  the seed's (the seed itself excluded, as `/movies/{id}/similar` does; ties by lower id).
  The catalogue is every movie rated in training that has a vector;
* hit rate@10: share of users with a liked test movie in the list; nDCG@10: binary gain,
  the ideal being min(liked test movies, 10) hits (metrics.ndcg_at_k). Popular films are
  more often in anyone's test set, so the hit rate is a guard, not the objective;
* over the distinct seeds with at least 20 training ratings: genre coherence, the mean
  Jaccard index of each listed movie's genres with the seed's, averaged over the seeds;
  popularity lift, the median of (mean ln(1 + training rating count) over the list minus the
  seed's). A lift above 0 means the lists climb toward more popular films.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from pipeline import metrics

LIKED = 4.0
K = 10
MIN_SEED_RATINGS = 20


@dataclass
class ItemToItemData:
    """A split in the shape the protocol needs.

    item_ids: the catalogue (ascending), movies rated in training. item_counts: their
    training rating counts. seed_cols: per evaluated user, the catalogue column of the seed.
    liked_test: per evaluated user, the liked test movie ids. genres: per catalogue column.
    """

    item_ids: np.ndarray
    item_counts: np.ndarray
    seed_cols: np.ndarray
    liked_test: list[np.ndarray]
    genres: list[frozenset[str]]

    @classmethod
    def from_rows(
        cls,
        train: Iterable[tuple[int, int, float, int]],
        test: Iterable[tuple[int, int, float, int]],
        genres_by_item: Mapping[int, Sequence[str]],
        liked: float = LIKED,
    ) -> ItemToItemData:
        """From (user, movie, rating, timestamp) rows of each part and the movies' genres."""
        counts: dict[int, int] = {}
        best: dict[int, tuple[float, int, int]] = {}  # user -> (rating, ts, -movie) of the seed so far
        for user, movie, rating, ts in train:
            counts[movie] = counts.get(movie, 0) + 1
            key = (float(rating), int(ts), -int(movie))
            if key > best.get(user, (-np.inf, 0, 0)):
                best[user] = key
        liked_test: dict[int, list[int]] = {}
        for user, movie, rating, _ in test:
            if rating >= liked:
                liked_test.setdefault(user, []).append(int(movie))
        item_ids = np.asarray(sorted(counts), dtype=np.int64)
        users = sorted(u for u in liked_test if u in best and best[u][0] >= liked)
        if not users:
            raise ValueError("no user has a liked training rating and a liked test rating")
        seeds = np.searchsorted(item_ids, [-best[u][2] for u in users])
        return cls(
            item_ids=item_ids,
            item_counts=np.asarray([counts[m] for m in item_ids.tolist()], dtype=np.float64),
            seed_cols=seeds.astype(np.int64),
            liked_test=[np.asarray(sorted(liked_test[u]), dtype=np.int64) for u in users],
            genres=[frozenset(genres_by_item.get(int(m), ())) for m in item_ids.tolist()],
        )


def similar_lists(vectors: np.ndarray, seed_cols: np.ndarray, k: int = K) -> np.ndarray:
    """Per seed column, the k catalogue columns whose vectors score highest (dot product).

    The seed itself and movies without a vector (zero rows) are never listed; ties go to
    the lower column, like metrics.top_k.
    """
    v = np.asarray(vectors, dtype=np.float64)
    missing = np.flatnonzero(~np.any(v != 0, axis=1))
    scores = v[seed_cols] @ v.T
    exclude = [np.union1d(missing, [c]) for c in seed_cols]
    return metrics.top_k(scores, k, exclude)


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    """|a ∩ b| / |a ∪ b| (0 when both are empty)."""
    union = len(a | b)
    return len(a & b) / union if union else 0.0


def evaluate(data: ItemToItemData, vectors: np.ndarray, k: int = K, min_seed_ratings: int = MIN_SEED_RATINGS) -> dict[str, float]:
    """The protocol's figures for one representation (`vectors` aligned with `data.item_ids`)."""
    if len(vectors) != len(data.item_ids):
        raise ValueError(f"{len(vectors)} vectors for a catalogue of {len(data.item_ids)} movies")
    unique, inverse = np.unique(data.seed_cols, return_inverse=True)
    lists = similar_lists(vectors, unique, k)
    per_user = lists[inverse]
    recommended = np.where(per_user >= 0, data.item_ids[np.maximum(per_user, 0)], metrics.PAD)
    hits, _ = metrics.hit_matrix(recommended, data.liked_test, k)
    popularity = np.log1p(data.item_counts)
    coherence: list[float] = []
    lift: list[float] = []
    for seed, row in zip(unique.tolist(), lists, strict=True):
        cols = row[row >= 0]
        if data.item_counts[seed] < min_seed_ratings or not len(cols):
            continue
        coherence.append(float(np.mean([jaccard(data.genres[c], data.genres[seed]) for c in cols.tolist()])))
        lift.append(float(popularity[cols].mean() - popularity[seed]))
    return {
        f"hit_rate_at_{k}": float(hits.any(axis=1).mean()),
        f"ndcg_at_{k}": metrics.ndcg_at_k(recommended, data.liked_test, k),
        "genre_coherence": float(np.mean(coherence)) if coherence else float("nan"),
        "popularity_lift": float(np.median(lift)) if lift else float("nan"),
        "users": int(len(data.seed_cols)),
        "seeds": int(len(unique)),
        "coherence_seeds": len(coherence),
    }
