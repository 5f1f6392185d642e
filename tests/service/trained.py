"""The pipeline-trained model the API and web tests share, trained ONCE per test session.

`trained` runs `pipeline.workflow.prepare` (synthetic MovieLens 100K-shaped
data, Spark local[2], rank 6) and keeps the export documents on the driver.
It is registered once, in tests/conftest.py, so tests/service and tests/web
run together still pay for one Spark training. `publish` serves a `Trained`
under an index prefix with the pipeline's own export pieces (index creation,
`export.to_actions`, alias swap, run record), written from the driver rather
than by Spark executors, so each test pays milliseconds, not a Spark job.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from elasticsearch import Elasticsearch, helpers

from pipeline import export, indices, runs, synthetic
from pipeline.als import ALSParams
from pipeline.workflow import RunConfig, prepare
from service.queries import knn_score

N_USERS, N_MOVIES, N_RATINGS, RANK = 40, 60, 1_200, 6
PARAMS = ALSParams(kind="implicit", rank=RANK, max_iter=8, reg_param=0.05, alpha=5.0, num_blocks=2)


@dataclass
class Trained:
    """A pipeline-trained model and its export documents, as plain Python."""

    dataset: str
    meta: dict[str, Any]
    params: dict[str, Any]
    rank: int
    vector_size: int
    docs: dict[str, list[dict[str, Any]]]  # kind -> rows (mapping fields + factors)
    movies: dict[int, dict[str, Any]] = field(default_factory=dict)
    users: dict[int, dict[str, Any]] = field(default_factory=dict)
    ratings: dict[int, dict[int, float]] = field(default_factory=dict)  # user -> movie -> rating
    data_dir: Any = None  # the synthetic dataset's parent folder (for tests that run the pipeline again)

    def __post_init__(self) -> None:
        self.movies = {int(r["movie_id"]): r for r in self.docs["movies"]}
        self.users = {int(r["user_id"]): r for r in self.docs["users"]}
        for r in self.docs["ratings"]:
            self.ratings.setdefault(int(r["user_id"]), {})[int(r["movie_id"])] = float(r["rating"])

    def movie_matrix(self, field_name: str = "factors") -> tuple[np.ndarray, np.ndarray]:
        """(movie ids, float32-rounded vectors as ES stores them) of movies that have the vector."""
        rows = [(m, r[field_name]) for m, r in sorted(self.movies.items()) if r.get(field_name)]
        ids = np.array([m for m, _ in rows])
        return ids, np.asarray([v for _, v in rows], dtype=np.float32).astype(np.float64)

    def unit_vector(self, movie_id: int) -> np.ndarray:
        v = np.asarray(self.movies[movie_id]["factors"][: self.rank], dtype=np.float64)
        return np.asarray(v / np.linalg.norm(v), dtype=np.float32).astype(np.float64)

    def expected(
        self,
        vector: Iterable[float],
        *,
        k: int = 10,
        field_name: str = "factors",
        similarity: str = "max_inner_product",
        exclude: Iterable[int] = (),
        keep: Callable[[dict[str, Any]], bool] = lambda m: True,
    ) -> list[tuple[int, float]]:
        """Exact top-k by numpy: ES's kNN score of every eligible movie, ties by id."""
        if field_name == "factors_unit":
            ids = np.array(sorted(m for m, r in self.movies.items() if r.get("factors")))
            matrix = np.vstack([self.unit_vector(int(m)) for m in ids])
        else:
            ids, matrix = self.movie_matrix(field_name)
        q = np.asarray(np.asarray(list(vector), dtype=np.float32), dtype=np.float64)
        dots = matrix @ q
        skip = set(exclude)
        scored = [
            (int(m), knn_score(similarity, float(d)))
            for m, d in zip(ids, dots, strict=True)
            if int(m) not in skip and keep(self.movies[int(m)])
        ]
        return sorted(scored, key=lambda x: (-x[1], x[0]))[:k]


def _rows(frame: Any) -> list[dict[str, Any]]:
    return [json.loads(json.dumps(r.asDict(recursive=True))) for r in frame.collect()]


def train(spark: Any, root: Any, dataset: str = "ml-100k") -> Trained:
    """Run the pipeline's Spark half on the edition under `root` and keep its export rows."""
    prepared = prepare(spark, RunConfig(dataset=dataset, data_dir=root, params=PARAMS, sample_size=3))
    try:
        docs = {kind: _rows(prepared.frames[kind]) for kind in indices.RUN_KINDS}
        model = prepared.model
        return Trained(dataset, dict(model.meta), dict(model.params), model.rank, model.vector_size, docs, data_dir=root)
    finally:
        prepared.unpersist()


@pytest.fixture(scope="session")
def trained(spark, tmp_path_factory) -> Trained:
    """Synthetic ml-100k-shaped data (with demographics), an implicit ALS model, export rows."""
    root = tmp_path_factory.mktemp("service-data")
    synthetic.generate(root, "ml-100k", n_users=N_USERS, n_movies=N_MOVIES, n_ratings=N_RATINGS, seed=11)
    return train(spark, root)


def publish(es: Elasticsearch, prefix: str, trained: Trained) -> str:
    """Serve `trained` under `prefix` the way `movierec run` does (indices, docs, alias swap, run record)."""
    indices.ensure_runs_index(es, prefix)
    started = dt.datetime.now(dt.UTC)
    run_id = runs.new_run_id(started)
    similar_dims = trained.meta.get("similarity", {}).get("dims")
    names = indices.create_run_indices(es, prefix, run_id, trained.vector_size, trained.rank, similar_dims)
    for kind in indices.RUN_KINDS:
        actions = export.to_actions(trained.docs[kind], names[kind], kind, run_id=run_id, rank=trained.rank)
        helpers.bulk(es, actions, refresh=True)
    indices.swap_aliases(es, prefix, names)
    record = runs.run_record(run_id, dataset=trained.dataset, started_at=started, params=trained.params, indices=names)
    record.update(runs.model_fields(trained.meta, trained.params))
    record.update(runs.finish_fields(runs.SUCCEEDED, started, dt.datetime.now(dt.UTC),
                                     counts={k: len(v) for k, v in trained.docs.items()}))
    record["active"] = True
    runs.put_run(es, prefix, record)
    return run_id
