"""The active model: what the service needs of the run the movies alias serves.

Read from the run record (`<prefix>-runs`, written by pipeline.runs) and kept
for RUN_CACHE_TTL_S seconds per process; a vector fetched from a newer run
(its documents carry `run_id`) makes the cache reload at once, so a fold-in
never mixes two models.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from flask import current_app

from pipeline.model.equations import SignalRule
from service import foldin, store
from service.errors import IndexMissing
from service.feedback import UNKNOWN_EDITION

_CACHE_KEY = "movierec.active_model"
_LOCK = threading.Lock()


class NoActiveModel(IndexMissing):
    """No run is served yet (alias missing) or its run record is gone."""


@dataclass(frozen=True)
class ActiveModel:
    """Fold-in settings of one trained model (see pipeline.als meta)."""

    run_id: str
    kind: str  # "implicit" | "explicit"
    rank: int
    vector_size: int
    reg_param: float
    global_mean: float | None = None  # explicit
    bias_reg: float = 0.0  # explicit
    alpha: float = 1.0  # implicit
    implicit_signal: str = "binary"  # implicit: "binary" (s = 1) or "rating" (s = the rating)
    positive_threshold: float | None = None  # implicit: ratings below it are negative evidence (or dropped)
    negative_weight: float = 0.0  # implicit: β, s = −β·(threshold − r) below the threshold; 0 drops them
    reg_exponent: float = 1.0  # ν of λ·n^ν (records before the numpy solver: Spark ML's ALS-WR, 1)
    prior_weight: float = 0.0  # implicit: λ₀ of the mean-user prior
    mean_user: np.ndarray | None = None  # implicit: ū, with a prior
    gramian: np.ndarray | None = None  # implicit: YᵀY
    loaded_at: float = 0.0
    dataset: str = UNKNOWN_EDITION  # the edition the run trained on (its record's `dataset`): what its movie and user ids mean

    @classmethod
    def from_run(cls, run: Mapping[str, Any], loaded_at: float = 0.0) -> ActiveModel:
        """From a run record; a record without the model meta cannot serve fold-in (ValueError)."""
        meta = dict(run.get("model") or {})
        params = dict(run.get("params") or {})
        kind = meta.get("kind") or run.get("model_kind") or params.get("kind")
        if kind not in ("implicit", "explicit"):
            raise ValueError(f"run {run.get('run_id')}: unknown model kind {kind!r}")
        rank = int(meta.get("rank") or params["rank"])
        gramian = meta.get("item_gramian")
        return cls(
            run_id=str(run["run_id"]),
            kind=kind,
            rank=rank,
            vector_size=int(meta.get("vector_size") or run.get("vector_size") or rank + (kind == "explicit")),
            reg_param=float(_first(meta, params, "reg_param")),
            global_mean=None if meta.get("global_mean") is None else float(meta["global_mean"]),
            bias_reg=float(_first(meta, params, "bias_reg", 0.0)),
            alpha=float(_first(meta, params, "alpha", 1.0)),
            implicit_signal=str(_first(meta, params, "implicit_signal", "binary")),
            positive_threshold=_first(meta, params, "positive_threshold", None),
            negative_weight=float(_first(meta, params, "negative_weight", 0.0)),
            reg_exponent=float(_first(meta, params, "reg_exponent", 1.0)),
            prior_weight=float(_first(meta, params, "prior_weight", 0.0)),
            mean_user=None if meta.get("mean_user") is None else np.asarray(meta["mean_user"], dtype=np.float64),
            gramian=None if gramian is None else foldin.unpack_gramian(gramian, rank),
            loaded_at=loaded_at,
            dataset=str(run.get("dataset") or UNKNOWN_EDITION),
        )

    def fold_in(self, item_factors: np.ndarray, ratings: np.ndarray, *, liked: bool = False) -> foldin.FoldedUser:
        """A user vector from ratings of movies whose indexed `factors` are the rows of `item_factors`.

        `liked`: the ratings are "I like these" marks with no low ratings to
        compare against; an explicit model then keeps the user bias at 0 so the
        whole signal shapes the direction u (a bias would absorb it).
        Implicit: the training rule (`SignalRule`) turns ratings into signals,
        low ratings into negative evidence. Raises ValueError when no rating
        carries a signal for this model.
        """
        x = np.asarray(item_factors, dtype=np.float64)
        r = np.asarray(ratings, dtype=np.float64)
        if self.kind == "explicit":
            if self.global_mean is None:
                raise ValueError(f"run {self.run_id} has no global mean; cannot fold in explicit ratings")
            mode = "none" if liked else "baseline"
            return foldin.explicit(
                x, r, global_mean=self.global_mean, reg=self.reg_param, bias_mode=mode, bias_reg=self.bias_reg, exponent=self.reg_exponent
            )
        if self.gramian is None:
            raise ValueError(f"run {self.run_id} has no item Gramian; cannot fold in implicit feedback")
        rule = SignalRule(self.positive_threshold, self.implicit_signal, self.negative_weight)
        kept, signal = rule.signal(r)
        if not kept.any():
            raise ValueError(f"no rating reaches the model's positive threshold {self.positive_threshold}")
        return foldin.implicit(
            x[kept],
            signal,
            gramian=self.gramian,
            alpha=self.alpha,
            reg=self.reg_param,
            exponent=self.reg_exponent,
            prior_weight=self.prior_weight,
            mean_user=self.mean_user,
        )


def _first(meta: Mapping[str, Any], params: Mapping[str, Any], name: str, *default: Any) -> Any:
    for source in (meta, params):
        if source.get(name) is not None:
            return source[name]
    if default:
        return default[0]
    raise ValueError(f"run record lacks {name!r}")


def load(run_id: str | None = None) -> ActiveModel:
    """Read the active run's record now (or the given run's)."""
    run_id = run_id or store.active_run_id()
    if run_id is None:
        raise NoActiveModel(store.index_of("movies"))
    run = store.get("runs", run_id)
    if run is None:
        index = store.index_of("runs")
        raise NoActiveModel(index, f"the record of the active run {run_id} is missing from {index}")
    try:
        return ActiveModel.from_run(run, loaded_at=time.monotonic())
    except (KeyError, TypeError, ValueError) as exc:
        index = store.index_of("runs")
        raise NoActiveModel(index, f"the record of run {run_id} in {index} cannot serve fold-in: {exc}") from exc


def current(run_id: str | None = None) -> ActiveModel:
    """The cached active model; reloaded after RUN_CACHE_TTL_S or when `run_id` names another run."""
    cached: ActiveModel | None = current_app.extensions.get(_CACHE_KEY)
    ttl = float(current_app.config["RUN_CACHE_TTL_S"])
    fresh = cached is not None and time.monotonic() - cached.loaded_at < ttl
    if fresh and (run_id is None or cached.run_id == run_id):
        return cached
    with _LOCK:
        model = load(run_id)
        current_app.extensions[_CACHE_KEY] = model
    return model
