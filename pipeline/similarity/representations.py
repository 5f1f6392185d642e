"""Movie vectors for "similar movies": unit rows whose dot product is the similarity.

Cosine of implicit-ALS item factors is dominated by the direction every popular film
shares (Toy Story's neighbours were Star Trek, Independence Day, Return of the Jedi).
The representations here change what "close" means while staying one stored vector per
movie, so Elasticsearch still serves them with kNN (`dot_product` on unit vectors):

* collaborative part, from the item factors V (n movies × rank): optionally centred (V minus
  its mean row, with the `drop_components` leading principal directions projected out,
  "all-but-the-top", Mu & Viswanath, ICLR 2018), optionally whitened with strength α
  (V·G^(-α/2), G = VᵀV / n its Gramian: α = 1 is the full Mahalanobis cosine where no latent
  direction dominates, smaller α flattens the dominant ones part of the way; eigenvalues
  floored at 1e-6 of the largest), then each row normalised. No centring and α = 0 is the
  plain factor cosine served before;
* content part, what a film is: genres (one-hot weighted by idf = ln(N / df)), release
  year (triangular buckets every YEAR_STEP years, so films a few years apart overlap),
  tags where the edition has them (tf-idf over each movie's top tags, the MAX_TAG_TERMS
  most used tags of the catalogue), and its standing: ln(1 + rating count) in triangular
  buckets POPULARITY_STEP wide, so a cult film's neighbours are not all blockbusters. Each
  part is a unit vector (or zero when the movie has none) scaled by the square root of its
  weight.

The movie's vector is unit(√(1−w)·collaborative ⊕ √w·content): for two movies with both
parts, the dot product is (1−w)·cos_collaborative + w·cos_content. `w` (content_weight)
and the rest of a `SimilaritySpec` are chosen on validation data (scripts/bench_similarity.py).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

YEAR_STEP = 10  # years between year buckets; a film's year spreads over the two nearest
POPULARITY_STEP = 0.5  # width of a ln(1 + rating count) bucket
MAX_TAG_TERMS = 256  # the most used tags only: the vector must stay far below Elasticsearch's 4096 dims
EIGEN_FLOOR = 1e-6


@dataclass(frozen=True)
class SimilaritySpec:
    """How to build the similarity vector; invalid values raise ValueError.

    center: subtract the mean factor row first.
    drop_components: with `center`, leading principal directions removed (0..rank-1).
    whitening: α in [0, 1], the strength of the Gramian whitening (0: none).
    content_weight: w, the content's share of the dot product (0 = collaborative only, 1 = content only).
    year_weight, tag_weight, popularity_weight: shares of the year, the tags and the standing
    (rating count) inside the content part; genres get the rest.
    """

    center: bool = False
    drop_components: int = 0
    whitening: float = 0.0
    content_weight: float = 0.0
    year_weight: float = 0.0
    tag_weight: float = 0.0
    popularity_weight: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.center, bool):
            raise ValueError(f"center must be a bool, got {self.center!r}")
        if isinstance(self.drop_components, bool) or not isinstance(self.drop_components, int) or self.drop_components < 0:
            raise ValueError(f"drop_components must be an integer >= 0, got {self.drop_components!r}")
        if self.drop_components and not self.center:
            raise ValueError("drop_components needs center=True (principal directions of the centred factors)")
        for name in ("whitening", "content_weight", "year_weight", "tag_weight", "popularity_weight"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {value!r}")
        if self.year_weight + self.tag_weight + self.popularity_weight > 1.0 + 1e-9:
            raise ValueError("year_weight + tag_weight + popularity_weight must be at most 1 (genres get the rest)")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def label(self) -> str:
        """A short name for tables, e.g. `centred, whitened 0.1 + content 0.15 (year 0.2)`."""
        steps = []
        if self.center:
            steps.append("centred" + (f" -{self.drop_components} PC" if self.drop_components else ""))
        if self.whitening:
            steps.append(f"whitened {self.whitening:g}")
        base = ", ".join(steps) if steps else "cosine"
        if not self.content_weight:
            return base
        parts = [f"year {self.year_weight:g}"] if self.year_weight else []
        if self.tag_weight:
            parts.append(f"tags {self.tag_weight:g}")
        if self.popularity_weight:
            parts.append(f"standing {self.popularity_weight:g}")
        extra = f" ({', '.join(parts)})" if parts else ""
        return f"{base} + content {self.content_weight:g}{extra}"


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1; zero (or non-finite) rows stay zero."""
    m = np.asarray(matrix, dtype=np.float64)
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    ok = np.isfinite(norms) & (norms > 0)
    return np.where(ok, m / np.where(ok, norms, 1.0), 0.0)


def collaborative_part(factors: np.ndarray, spec: SimilaritySpec) -> np.ndarray:
    """Unit collaborative vectors from item factors (n × rank): centred and whitened per `spec`."""
    v = np.asarray(factors, dtype=np.float64)
    if spec.center:
        v = v - v.mean(axis=0, keepdims=True)
        if spec.drop_components:
            if spec.drop_components >= v.shape[1]:
                raise ValueError(f"drop_components must be below the rank {v.shape[1]}, got {spec.drop_components}")
            _, _, vt = np.linalg.svd(v, full_matrices=False)
            top = vt[: spec.drop_components]
            v = v - (v @ top.T) @ top
    if spec.whitening:
        gram = v.T @ v / max(1, len(v))
        values, vectors = np.linalg.eigh(gram)
        values = np.maximum(values, EIGEN_FLOOR * max(float(values.max()), EIGEN_FLOOR))
        v = v @ (vectors * values ** (-spec.whitening / 2)) @ vectors.T
    return unit_rows(v)


def _tfidf(lists: Sequence[Sequence[str]], max_terms: int | None = None) -> np.ndarray:
    """Binary term presence weighted by idf = ln(N / df) (N: rows with any term), rows unit.

    With `max_terms`, only the terms on the most rows are kept (ties by the term).
    """
    df_all: dict[str, int] = {}
    for terms in lists:
        for t in set(terms):
            df_all[t] = df_all.get(t, 0) + 1
    ranked = sorted(df_all, key=lambda t: (-df_all[t], t))
    vocab = sorted(ranked[:max_terms] if max_terms is not None else ranked)
    if not vocab:
        return np.zeros((len(lists), 0))
    index = {t: i for i, t in enumerate(vocab)}
    m = np.zeros((len(lists), len(vocab)))
    for row, terms in enumerate(lists):
        for t in set(terms):
            if t in index:
                m[row, index[t]] = 1.0
    n = max(1, int((m.sum(axis=1) > 0).sum()))
    df = m.sum(axis=0)
    return unit_rows(m * np.log(n / np.maximum(df, 1.0)))


def _buckets(values: Sequence[float | None], step: float) -> np.ndarray:
    """Triangular buckets `step` apart: a value splits its weight between the two nearest bucket
    centres, so the dot product of two rows' unit vectors falls as their values part (None: zero row)."""
    known = [v for v in values if v is not None]
    if not known:
        return np.zeros((len(values), 0))
    first = math.floor(min(known) / step) * step
    n_buckets = int(math.floor((max(known) - first) / step)) + 2
    m = np.zeros((len(values), n_buckets))
    for row, value in enumerate(values):
        if value is None:
            continue
        pos = (value - first) / step
        low = int(math.floor(pos))
        frac = pos - low
        m[row, low] = 1.0 - frac
        if frac:
            m[row, low + 1] = frac
    return unit_rows(m)


def year_features(years: Sequence[int | None]) -> np.ndarray:
    """Release years in triangular buckets every YEAR_STEP years."""
    return _buckets(years, YEAR_STEP)


def standing_features(counts: Sequence[float]) -> np.ndarray:
    """ln(1 + rating count) in triangular buckets POPULARITY_STEP wide."""
    return _buckets([math.log1p(max(0.0, float(c))) for c in counts], POPULARITY_STEP)


def content_part(
    genres: Sequence[Sequence[str]],
    years: Sequence[int | None],
    tags: Sequence[Sequence[str]] | None,
    spec: SimilaritySpec,
    counts: Sequence[float] | None = None,
) -> np.ndarray:
    """Unit content vectors: √weight-scaled genre, year, tag and standing parts, concatenated and normalised."""
    genre_weight = max(0.0, 1.0 - spec.year_weight - spec.tag_weight - spec.popularity_weight)
    parts = [math.sqrt(genre_weight) * _tfidf(genres)]
    if spec.year_weight:
        parts.append(math.sqrt(spec.year_weight) * year_features(years))
    if spec.tag_weight and tags is not None:
        parts.append(math.sqrt(spec.tag_weight) * _tfidf(tags, MAX_TAG_TERMS))
    if spec.popularity_weight:
        if counts is None:
            raise ValueError("popularity_weight needs the movies' rating counts")
        parts.append(math.sqrt(spec.popularity_weight) * standing_features(counts))
    return unit_rows(np.hstack(parts))


def movie_vectors(
    factors: np.ndarray,
    genres: Sequence[Sequence[str]],
    years: Sequence[int | None],
    spec: SimilaritySpec,
    tags: Sequence[Sequence[str]] | None = None,
    counts: Sequence[float] | None = None,
) -> np.ndarray:
    """The similarity vectors (n × dims, float64, unit rows) of n movies given in the same order in every
    argument (`counts`: rating counts, needed for the standing part)."""
    n = len(factors)
    if not (len(genres) == len(years) == n) or any(x is not None and len(x) != n for x in (tags, counts)):
        raise ValueError("factors, genres, years (and tags, counts) must describe the same movies")
    cf = collaborative_part(factors, spec)
    if not spec.content_weight:
        return cf
    content = content_part(genres, years, tags, spec, counts)
    return unit_rows(np.hstack([math.sqrt(1.0 - spec.content_weight) * cf, math.sqrt(spec.content_weight) * content]))


def ppmi_svd(pairs: np.ndarray, n_items: int, rank: int) -> np.ndarray:
    """Unit item vectors from the truncated SVD of positive pointwise mutual information of co-rating.

    `pairs` are (user row, item column) of the training interactions. PMI(i, j) =
    ln(c_ij · N / (c_i · c_j)) over users (N = interactions), clipped at 0 (Levy & Goldberg, NIPS 2014);
    the vectors are U·√S of its rank-`rank` SVD (rows unit).
    """
    users = int(pairs[:, 0].max()) + 1 if len(pairs) else 0
    x = np.zeros((users, n_items))
    x[pairs[:, 0], pairs[:, 1]] = 1.0
    co = x.T @ x
    counts = np.diag(co).copy()
    total = max(1.0, float(x.sum()))
    with np.errstate(divide="ignore", invalid="ignore"):
        pmi = np.log(co * total / np.outer(counts, counts))
    ppmi = np.where(np.isfinite(pmi) & (pmi > 0), pmi, 0.0)  # the diagonal (an item with itself) is kept
    u, s, _ = np.linalg.svd(ppmi, full_matrices=False)
    return unit_rows(u[:, :rank] * np.sqrt(s[:rank]))


# What the pipeline serves: chosen on validation carves of the msr-100k training part by
# scripts/bench_similarity.py (figures and command in docs/benchmarks.md, "Similar movies").
DEFAULT_SPEC = SimilaritySpec(whitening=0.2, content_weight=0.15, popularity_weight=0.2)


def spec_from(values: Mapping[str, Any]) -> SimilaritySpec:
    """A spec from a dict (e.g. a run record); unknown keys are an error."""
    known = {f.name for f in dataclasses.fields(SimilaritySpec)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown similarity settings {unknown}; known: {sorted(known)}")
    return SimilaritySpec(**dict(values))
