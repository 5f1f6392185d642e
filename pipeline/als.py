"""ALS training with pyspark.ml: implicit (ranking) and explicit-with-biases (rating).

Implicit (Hu, Koren, Volinsky 2008, as Spark implements it): the ratings that
count as positive (all, or those >= `positive_threshold`) become a signal r
(1.0 when `implicit_signal="binary"`, the rating itself when "rating"); the
confidence is c = 1 + alpha·r. Spark solves, per user,
(YᵀY + Yᵀ(C − I)Y + λ·n_u·I) x_u = YᵀC p_u with n_u the user's positive count
(the ALS-WR scaling of regParam). `meta` carries YᵀY so the service can fold
in a new user with the same equation.

Explicit: global mean μ and regularised biases fitted first by alternating
closed-form passes (b_i = Σ(r − μ − b_u)/(λ_b + n_i), then b_u likewise), then
ALS on the residual r − μ − b_u − b_i. The bias is folded into the vectors:
item v' = [v, b_i], user u' = [u, 1], so u'·v' = u·v + b_i, which for one user
ranks exactly like the full prediction μ + b_u + b_i + u·v.
"""

from __future__ import annotations

import dataclasses
import logging
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from py4j.protocol import Py4JError
from pyspark.ml.recommendation import ALS
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, FloatType

from pipeline.columns import FACTORS, MOVIE, RATING, USER

log = logging.getLogger(__name__)

KINDS = ("implicit", "explicit")
IMPLICIT_SIGNALS = ("binary", "rating")
BIAS = "bias"
_SIGNAL = "signal"
# The class defaults are the implicit ones; explicit differs in these.
EXPLICIT_DEFAULTS: dict[str, Any] = {"rank": 64, "reg_param": 0.1, "bias_reg": 5.0}


@dataclass(frozen=True)
class ALSParams:
    """Every knob of one ALS training; invalid values raise ValueError at construction.

    kind: "implicit" (ranking) or "explicit" (rating prediction, with biases).
    rank: latent dimensions (vector size is rank, +1 for explicit's folded bias).
    reg_param: Spark's regParam λ, scaled by each user's / item's rating count.
    alpha: implicit confidence slope, c = 1 + alpha·r.
    max_iter: ALS sweeps. seed: factor initialisation seed.
    nonnegative: constrain factors to >= 0 (NNLS solver).
    checkpoint_interval: checkpoint every N sweeps (only when a checkpoint dir is set).
    positive_threshold: implicit only; ratings below it are dropped (None keeps all).
    implicit_signal: implicit only; "binary" (r = 1) or "rating" (r = the rating).
    bias_reg: explicit only; λ_b, the bias shrinkage in ratings-worth.
    bias_iters: explicit only; alternating passes over (b_i, b_u).
    num_blocks: user and item blocks for Spark (parallelism vs. shuffle overhead).
    """

    kind: str = "implicit"
    rank: int = 64
    reg_param: float = 0.3
    alpha: float = 1.0
    max_iter: int = 15
    seed: int = 42
    nonnegative: bool = False
    checkpoint_interval: int = 10
    positive_threshold: float | None = None
    implicit_signal: str = "binary"
    bias_reg: float = 5.0
    bias_iters: int = 3
    num_blocks: int = 4

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if self.implicit_signal not in IMPLICIT_SIGNALS:
            raise ValueError(f"implicit_signal must be one of {IMPLICIT_SIGNALS}, got {self.implicit_signal!r}")
        for name in ("rank", "max_iter", "num_blocks"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        for name, low in (("bias_iters", 1), ("seed", 0), ("checkpoint_interval", -1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        for name in ("reg_param", "alpha", "bias_reg"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if self.checkpoint_interval == 0:
            raise ValueError("checkpoint_interval must be >= 1, or -1 to disable")
        if self.positive_threshold is not None and (
            isinstance(self.positive_threshold, bool)
            or not isinstance(self.positive_threshold, (int, float))
            or not np.isfinite(self.positive_threshold)
        ):
            raise ValueError(f"positive_threshold must be a number or None, got {self.positive_threshold!r}")
        if not isinstance(self.nonnegative, bool):
            raise ValueError(f"nonnegative must be a bool, got {self.nonnegative!r}")  # noqa: TRY004 (one error type for bad params)

    @property
    def vector_size(self) -> int:
        """Length of the exported vectors: rank, plus the folded bias entry for explicit."""
        return self.rank + (1 if self.kind == "explicit" else 0)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def for_kind(cls, kind: str) -> ALSParams:
        """Tune-free defaults per kind, chosen on ml-100k validation carves (docs/benchmarks.md)."""
        if kind == "explicit":
            return cls(kind="explicit", **EXPLICIT_DEFAULTS)
        return cls(kind=kind)

    def replace(self, **changes: Any) -> ALSParams:
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> ALSParams:
        """Build from a dict (e.g. a run record); unknown keys are an error, not silently dropped."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown ALS parameters {unknown}; known: {sorted(known)}")
        return cls(**dict(values))


@dataclass
class TrainedModel:
    """A trained factorisation, ready for evaluation and export.

    user_factors: user_id int, factors array<float> — the query-side vector ([u, 1] for explicit).
    item_factors: movie_id int, factors array<float> — the index-side vector ([v, b_i] for explicit).
    meta: JSON-able facts a consumer needs (kind, rank, vector_size, global_mean,
    reg_param, alpha, item_gramian for implicit fold-in, bias settings, counts, BLAS).
    user_bias / item_bias: explicit only; (user_id|movie_id, bias) to predict full ratings.
    """

    kind: str
    params: dict[str, Any]
    user_factors: DataFrame
    item_factors: DataFrame
    rank: int
    meta: dict[str, Any] = field(default_factory=dict)
    user_bias: DataFrame | None = None
    item_bias: DataFrame | None = None

    @property
    def vector_size(self) -> int:
        return int(self.meta["vector_size"])

    def unpersist(self) -> None:
        """Free the cached factor tables (tuning trains many models in one session)."""
        for frame in (self.user_factors, self.item_factors, self.user_bias, self.item_bias):
            if frame is not None:
                frame.unpersist()


def coerce_params(params: ALSParams | Mapping[str, Any] | None) -> ALSParams:
    if params is None:
        return ALSParams()
    if isinstance(params, ALSParams):
        return params
    return ALSParams.from_mapping(params)


def train(ratings: DataFrame, params: ALSParams | Mapping[str, Any] | None = None) -> TrainedModel:
    """Train ALS on `ratings` (canonical RATINGS_SCHEMA) and return the factor tables."""
    p = coerce_params(params)
    ensure_checkpoint_dir(ratings.sparkSession)
    started = time.perf_counter()
    if p.kind == "implicit":
        model = _train_implicit(ratings, p)
    else:
        model = _train_explicit(ratings, p)
    model.meta["train_seconds"] = round(time.perf_counter() - started, 3)
    model.meta["blas"] = blas_info(ratings.sparkSession)
    log.info(
        "trained %s ALS rank=%d on %d ratings (%d users, %d items) in %.1fs",
        p.kind,
        p.rank,
        model.meta["n_ratings"],
        model.meta["n_users"],
        model.meta["n_items"],
        model.meta["train_seconds"],
    )
    return model


def ensure_checkpoint_dir(spark: SparkSession) -> str | None:
    """Give local sessions a checkpoint dir so `checkpoint_interval` takes effect.

    Without one Spark ignores checkpointInterval, and ALS lineage grows every
    sweep until task serialisation overflows the stack (seen at 15 sweeps on
    ml-100k). On a cluster the caller must set a shared (HDFS/S3) dir.
    """
    sc = spark.sparkContext
    current = sc.getCheckpointDir()
    if current:
        return current
    if not sc.master.startswith("local"):
        log.warning("no checkpoint dir set on %s: long ALS runs may overflow; use sc.setCheckpointDir", sc.master)
        return None
    path = tempfile.mkdtemp(prefix="movierec-als-checkpoints-")
    sc.setCheckpointDir(path)
    log.info("ALS checkpoints go to %s", path)
    return sc.getCheckpointDir()


def _estimator(p: ALSParams, rating_col: str, implicit: bool) -> ALS:
    return ALS(
        rank=p.rank,
        maxIter=p.max_iter,
        regParam=float(p.reg_param),
        alpha=float(p.alpha),
        implicitPrefs=implicit,
        nonnegative=p.nonnegative,
        checkpointInterval=p.checkpoint_interval,
        seed=p.seed,
        numUserBlocks=p.num_blocks,
        numItemBlocks=p.num_blocks,
        userCol=USER,
        itemCol=MOVIE,
        ratingCol=rating_col,
        coldStartStrategy="drop",
    )


def _vectors(frame: DataFrame, id_col: str, extra: Any = None) -> DataFrame:
    """Spark's (id, features) as (id_col, factors array<float>), optionally with one entry appended."""
    features = F.col("features")
    if extra is not None:
        features = F.concat(features, F.array(extra.cast(FloatType())))
    return frame.select(F.col("id").alias(id_col), features.cast(ArrayType(FloatType())).alias(FACTORS))


def _train_implicit(ratings: DataFrame, p: ALSParams) -> TrainedModel:
    positives = ratings
    if p.positive_threshold is not None:
        positives = positives.where(F.col(RATING) >= F.lit(float(p.positive_threshold)))
    signal = F.lit(1.0) if p.implicit_signal == "binary" else F.col(RATING).cast("double")
    data = positives.select(USER, MOVIE, signal.alias(_SIGNAL)).cache()
    n_ratings = data.count()
    if n_ratings == 0:
        data.unpersist()
        raise ValueError("no positive ratings to train on (check positive_threshold)")
    fitted = _estimator(p, _SIGNAL, implicit=True).fit(data)
    users = _vectors(fitted.userFactors, USER).cache()
    items = _vectors(fitted.itemFactors, MOVIE).cache()
    item_matrix = factor_matrix(items, MOVIE)[1]
    gramian = (item_matrix.T @ item_matrix).tolist()
    meta = {
        "kind": "implicit",
        "rank": p.rank,
        "vector_size": p.vector_size,
        "reg_param": float(p.reg_param),
        "reg_scaling": "lambda * n_u (positive ratings of the user), as Spark's ALS-WR",
        "alpha": float(p.alpha),
        "confidence": "1 + alpha * r",
        "implicit_signal": p.implicit_signal,
        "positive_threshold": p.positive_threshold,
        "global_mean": None,
        "item_gramian": gramian,
        "n_ratings": n_ratings,
        "n_users": users.count(),
        "n_items": len(item_matrix),
    }
    data.unpersist()
    return TrainedModel("implicit", p.to_dict(), users, items, p.rank, meta)


def fit_biases(
    ratings: DataFrame, mu: float, bias_reg: float, iters: int
) -> tuple[DataFrame, DataFrame]:
    """Regularised user and item biases by alternating closed-form passes.

    Each pass: b_i = Σ_u (r − μ − b_u) / (λ_b + n_i), then b_u = Σ_i (r − μ − b_i) / (λ_b + n_u).
    Returns (user_bias: user_id, bias; item_bias: movie_id, bias), both cached.
    """
    base = ratings.select(USER, MOVIE, (F.col(RATING) - F.lit(mu)).alias("dev")).cache()
    user_bias = base.select(USER).distinct().withColumn(BIAS, F.lit(0.0))
    item_bias: DataFrame | None = None
    for _ in range(iters):
        item_bias = (
            base.join(user_bias, USER)
            .groupBy(MOVIE)
            .agg((F.sum(F.col("dev") - F.col(BIAS)) / (F.count(F.lit(1)) + F.lit(bias_reg))).alias(BIAS))
            .localCheckpoint()
        )
        user_bias = (
            base.join(item_bias, MOVIE)
            .groupBy(USER)
            .agg((F.sum(F.col("dev") - F.col(BIAS)) / (F.count(F.lit(1)) + F.lit(bias_reg))).alias(BIAS))
            .localCheckpoint()
        )
    base.unpersist()
    if item_bias is None:
        raise ValueError("iters must be >= 1")
    return user_bias, item_bias


def _train_explicit(ratings: DataFrame, p: ALSParams) -> TrainedModel:
    data = ratings.select(USER, MOVIE, F.col(RATING).cast("double").alias(RATING)).cache()
    n_ratings = data.count()
    if n_ratings == 0:
        data.unpersist()
        raise ValueError("no ratings to train on")
    mu = float(data.agg(F.avg(RATING)).first()[0])
    user_bias, item_bias = fit_biases(data, mu, float(p.bias_reg), p.bias_iters)
    residual = (
        data.join(user_bias.withColumnRenamed(BIAS, "b_u"), USER)
        .join(item_bias.withColumnRenamed(BIAS, "b_i"), MOVIE)
        .select(USER, MOVIE, (F.col(RATING) - F.lit(mu) - F.col("b_u") - F.col("b_i")).alias(_SIGNAL))
        .cache()
    )
    fitted = _estimator(p, _SIGNAL, implicit=False).fit(residual)
    users = _vectors(fitted.userFactors, USER, extra=F.lit(1.0)).cache()
    items = _vectors(
        fitted.itemFactors.join(item_bias.withColumnRenamed(MOVIE, "id"), "id"), MOVIE, extra=F.col(BIAS)
    ).cache()
    user_bias = user_bias.select(USER, F.col(BIAS).cast(FloatType()).alias(BIAS)).cache()
    item_bias = item_bias.select(MOVIE, F.col(BIAS).cast(FloatType()).alias(BIAS)).cache()
    meta = {
        "kind": "explicit",
        "rank": p.rank,
        "vector_size": p.vector_size,
        "global_mean": mu,
        "reg_param": float(p.reg_param),
        "reg_scaling": "lambda * n (ratings of the user / item), as Spark's ALS-WR",
        "bias_reg": float(p.bias_reg),
        "bias_iters": p.bias_iters,
        "alpha": None,
        "vector_layout": "user [u, 1] . item [v, b_i] = u.v + b_i; prediction = global_mean + b_u + that",
        "n_ratings": n_ratings,
        "n_users": users.count(),
        "n_items": items.count(),
    }
    residual.unpersist()
    data.unpersist()
    return TrainedModel("explicit", p.to_dict(), users, items, p.rank, meta, user_bias, item_bias)


def factor_matrix(frame: DataFrame, id_col: str) -> tuple[np.ndarray, np.ndarray]:
    """Collect (id_col, factors) to (ids int64 sorted, float64 matrix) on the driver."""
    rows = frame.select(id_col, FACTORS).orderBy(id_col).collect()
    if not rows:
        return np.empty(0, dtype=np.int64), np.empty((0, 0))
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    matrix = np.asarray([r[1] for r in rows], dtype=np.float64)
    return ids, matrix


def bias_vector(frame: DataFrame | None, id_col: str, ids: np.ndarray) -> np.ndarray:
    """Biases aligned with `ids` (0 where an id has none) — explicit models only."""
    out = np.zeros(len(ids), dtype=np.float64)
    if frame is None:
        return out
    lookup = {int(r[0]): float(r[1]) for r in frame.select(id_col, BIAS).collect()}
    for pos, key in enumerate(ids.tolist()):
        out[pos] = lookup.get(key, 0.0)
    return out


def blas_info(spark: SparkSession) -> dict[str, str]:
    """Which BLAS / LAPACK implementations dev.ludovic.netlib picked in the driver JVM.

    JavaBLAS / VectorBLAS are pure Java; JNIBLAS means a native library (e.g.
    OpenBLAS) was found. Spark's ALS solves its normal equations with LAPACK and
    BLAS from this library.
    """
    info: dict[str, str] = {}
    try:
        jvm = spark.sparkContext._jvm
        netlib = jvm.dev.ludovic.netlib
        info["blas"] = netlib.blas.BLAS.getInstance().getClass().getName()
        info["lapack"] = netlib.lapack.LAPACK.getInstance().getClass().getName()
        info["native_lib_setting"] = str(jvm.java.lang.System.getProperty("dev.ludovic.netlib.blas.nativeLib"))
    except (Py4JError, TypeError, AttributeError) as exc:  # no netlib on the classpath: report, never fail
        info["error"] = f"{type(exc).__name__}: {exc}"
    return info
