"""The `similar` vectors of a trained model, as a Spark frame the export joins into the movie documents.

Item factors and the movies' genres, years and tags are small (one row per movie: 87k
rows of 64 floats for MovieLens 32M), so they are collected to the driver, the vectors
are computed with numpy (representations.movie_vectors) and sent back as a frame.
Movies the model has no factors for (nobody rated them) get no `similar` vector, like
before: "similar to an unrated movie" is not offered.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pipeline import als
from pipeline.columns import GENRES, MOVIE, YEAR
from pipeline.features import RATING_COUNT, TAGS
from pipeline.similarity.representations import SimilaritySpec, movie_vectors

SIMILAR = "similar"


def similar_frame(model: als.TrainedModel, movie_features: Any, spec: SimilaritySpec) -> tuple[Any, int]:
    """(frame of movie_id, similar) and the vectors' dimension count, for the movies with factors."""
    ids, factors = als.factor_matrix(model.item_factors, MOVIE)
    has_tags = TAGS in movie_features.columns
    columns = [MOVIE, GENRES, YEAR, RATING_COUNT] + ([TAGS] if has_tags else [])
    info = {int(r[0]): r for r in movie_features.select(*columns).collect()}
    keep = [i for i, m in enumerate(ids.tolist()) if int(m) in info]
    rows = [info[int(ids[i])] for i in keep]
    vectors = movie_vectors(
        factors[keep][:, : model.rank],
        [list(r[1] or []) for r in rows],
        [r[2] for r in rows],
        spec,
        [list(r[4] or []) for r in rows] if has_tags else None,
        [int(r[3] or 0) for r in rows],
    )
    dims = int(vectors.shape[1]) if len(rows) else model.rank
    data = [(int(r[0]), v.astype(np.float32).astype(float).tolist()) for r, v in zip(rows, vectors, strict=True) if v.any()]
    spark = movie_features.sparkSession
    frame = spark.createDataFrame(data, f"{MOVIE} int, {SIMILAR} array<double>")
    return frame, dims
