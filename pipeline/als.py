"""ALS training: implicit (ranking) and explicit-with-biases (rating), two solvers.

Solvers (`ALSParams.solver`):
- "numpy" (default): `pipeline.model.block_als`, the block solver on Spark with
  frequency-scaled regularisation λ·n^ν (ν = `reg_exponent`; Rendle et al.,
  RecSys 2022), numpy solves per partition. Equations: `pipeline.model.equations`.
- "spark-ml": `pyspark.ml` ALS (`pipeline.model.spark_ml`), the reference; it
  hard-codes λ·n (ALS-WR), so it takes ν = 1 only.

Implicit (Hu, Koren, Volinsky 2008, as Spark implements it): each rating
becomes a signal s (`equations.SignalRule`): ratings ≥ `positive_threshold`
are positive (s = 1, or the rating); ratings below it are negative evidence
s = −β·(threshold − r) (β = `negative_weight`; dropped when β = 0). Preference
p = [s > 0], confidence c = 1 + α·|s|. Per user:
(YᵀY + Yᵀ(C − I)Y + λ·n_u^ν·I) x_u = YᵀC p_u, n_u the user's positive count;
optionally (`prior_weight` λ₀ > 0) users are shrunk toward the mean user ū.
`meta` carries YᵀY (and ū) so the service folds in a new user with the same
equation.

Explicit: global mean μ and regularised biases fitted first by alternating
closed-form passes (b_i = Σ(r − μ − b_u)/(λ_b + n_i), then b_u likewise), then
ALS on the residual r − μ − b_u − b_i with λ·n^ν. The bias is folded into the
vectors: item v' = [v, b_i], user u' = [u, 1], so u'·v' = u·v + b_i, which for
one user ranks exactly like the full prediction μ + b_u + b_i + u·v.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from py4j.protocol import Py4JError
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, FloatType, IntegerType, StructField, StructType

from pipeline.columns import FACTORS, MOVIE, RATING, USER
from pipeline.model.equations import SignalRule

log = logging.getLogger(__name__)

KINDS = ("implicit", "explicit")
SOLVERS = ("numpy", "spark-ml")
IMPLICIT_SIGNALS = ("binary", "rating")
BIAS = "bias"
SIGNAL = "signal"
# Factor rows per slice when a solved factor table goes back into Spark.
FRAME_SLICE_ROWS = 50_000
_NO_SIGNAL_RULE: dict[str, Any] = {"positive_threshold": None, "negative_weight": 0.0, "prior_weight": 0.0}
# The class defaults are the implicit numpy-solver ones, chosen on validation carves
# (docs/benchmarks.md); the other (kind, solver) pairs differ in these.
DEFAULTS: dict[tuple[str, str], dict[str, Any]] = {
    ("implicit", "numpy"): {},
    ("explicit", "numpy"): {"rank": 64, "reg_param": 1.4, "bias_reg": 5.0, "reg_exponent": 0.5, **_NO_SIGNAL_RULE},
    # today's model before the numpy solver: every rating a positive, no prior
    ("implicit", "spark-ml"): {"rank": 64, "reg_param": 0.3, "alpha": 1.0, "reg_exponent": 1.0, **_NO_SIGNAL_RULE},
    ("explicit", "spark-ml"): {"rank": 64, "reg_param": 0.1, "bias_reg": 5.0, "reg_exponent": 1.0, **_NO_SIGNAL_RULE},
}


@dataclass(frozen=True)
class ALSParams:
    """Every knob of one ALS training; invalid values raise ValueError at construction.

    kind: "implicit" (ranking) or "explicit" (rating prediction, with biases).
    rank: latent dimensions (vector size is rank, +1 for explicit's folded bias).
    reg_param: λ, scaled per user / item by n^ν (n: its positive count, implicit; its ratings, explicit).
    alpha: implicit confidence slope, c = 1 + alpha·r.
    max_iter: ALS sweeps. seed: factor initialisation seed.
    nonnegative: constrain factors to >= 0 (spark-ml's NNLS solver only).
    checkpoint_interval: checkpoint every N sweeps (only when a checkpoint dir is set).
    positive_threshold: implicit only; ratings below it are negative evidence, or dropped
      when negative_weight is 0 (None: every rating is positive).
    implicit_signal: implicit only; "binary" (s = 1) or "rating" (s = the rating) when positive.
    negative_weight: implicit only; β, a rating r below the threshold has s = −β·(threshold − r).
    bias_reg: explicit only; λ_b, the bias shrinkage in ratings-worth.
    bias_iters: explicit only; alternating passes over (b_i, b_u).
    num_blocks: user and item blocks (None: Spark's default parallelism; the numpy solver adds
      blocks for big data).
    solver: "numpy" (block solver, λ·n^ν) or "spark-ml" (pyspark.ml ALS, ν = 1).
    reg_exponent: ν in λ·n^ν (1: ALS-WR as Spark ML; 0: plain L2).
    prior_weight: implicit, numpy solver; λ₀ > 0 shrinks every user toward the mean user.
    """

    kind: str = "implicit"
    rank: int = 64
    reg_param: float = 3.0
    alpha: float = 2.0
    max_iter: int = 15
    seed: int = 42
    nonnegative: bool = False
    checkpoint_interval: int = 10
    positive_threshold: float | None = 2.0
    implicit_signal: str = "binary"
    bias_reg: float = 5.0
    bias_iters: int = 3
    num_blocks: int | None = None
    solver: str = "numpy"
    reg_exponent: float = 0.5
    negative_weight: float = 1.0
    prior_weight: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if self.solver not in SOLVERS:
            raise ValueError(f"solver must be one of {SOLVERS}, got {self.solver!r}")
        for name in ("rank", "max_iter", "num_blocks"):
            value = getattr(self, name)
            if name == "num_blocks" and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        for name, low in (("bias_iters", 1), ("seed", 0), ("checkpoint_interval", -1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        for name in ("reg_param", "alpha", "bias_reg", "reg_exponent", "prior_weight"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if self.checkpoint_interval == 0:
            raise ValueError("checkpoint_interval must be >= 1, or -1 to disable")
        self.signal_rule()  # validates positive_threshold, implicit_signal, negative_weight
        if not isinstance(self.nonnegative, bool):
            raise ValueError(f"nonnegative must be a bool, got {self.nonnegative!r}")  # noqa: TRY004 (one error type for bad params)
        if self.solver == "spark-ml":
            if self.reg_exponent != 1:
                raise ValueError(f"solver spark-ml scales λ by n (ALS-WR): reg_exponent must be 1, got {self.reg_exponent}")
            if self.prior_weight:
                raise ValueError("solver spark-ml has no mean-user prior: prior_weight must be 0")
        elif self.nonnegative:
            raise ValueError("nonnegative factors need solver spark-ml (its NNLS solver)")

    def signal_rule(self) -> SignalRule:
        """How this model turns ratings into implicit signals (the service folds in with the same rule)."""
        return SignalRule(self.positive_threshold, self.implicit_signal, self.negative_weight)

    @property
    def vector_size(self) -> int:
        """Length of the exported vectors: rank, plus the folded bias entry for explicit."""
        return self.rank + (1 if self.kind == "explicit" else 0)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def for_kind(cls, kind: str, solver: str = "numpy") -> ALSParams:
        """Tune-free defaults per kind and solver, chosen on ml-100k validation carves (docs/benchmarks.md)."""
        if (kind, solver) not in DEFAULTS:
            raise ValueError(f"no defaults for kind {kind!r} with solver {solver!r}; kinds {KINDS}, solvers {SOLVERS}")
        return cls(kind=kind, solver=solver, **DEFAULTS[(kind, solver)])

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
    """Train ALS on `ratings` (canonical RATINGS_SCHEMA) with the chosen solver; the factor tables."""
    p = coerce_params(params)
    started = time.perf_counter()
    if p.solver == "spark-ml":
        from pipeline.model import spark_ml as backend
    else:
        from pipeline.model import block_als as backend
    model = backend.train_implicit(ratings, p) if p.kind == "implicit" else backend.train_explicit(ratings, p)
    model.meta["train_seconds"] = round(time.perf_counter() - started, 3)
    model.meta["solver"] = p.solver
    if p.solver == "spark-ml":
        model.meta["blas"] = blas_info(ratings.sparkSession)
    log.info(
        "trained %s ALS (%s) rank=%d on %d ratings (%d users, %d items) in %.1fs",
        p.kind,
        p.solver,
        p.rank,
        model.meta["n_ratings"],
        model.meta["n_users"],
        model.meta["n_items"],
        model.meta["train_seconds"],
    )
    return model


def signal_column(p: ALSParams) -> tuple[Column | None, Column]:
    """(filter or None, signal s) for implicit training: `SignalRule.signal` as Spark columns.

    Both solvers train on the same s, and Spark ML's implicit ALS treats s < 0
    as p = 0 with c = 1 + α|s|, exactly as `equations.confidence_terms`.
    """
    rating = F.col(RATING).cast("double")
    strength = F.lit(1.0) if p.implicit_signal == "binary" else rating
    if p.positive_threshold is None:
        return None, strength
    t = float(p.positive_threshold)
    positive = rating >= F.lit(t)
    signal = F.when(positive, strength).otherwise(F.lit(-float(p.negative_weight)) * (F.lit(t) - rating))
    return (None if p.negative_weight > 0 else positive), signal


def signal_frame(ratings: DataFrame, p: ALSParams) -> tuple[DataFrame, int]:
    """(user_id, movie_id, signal) of the implicit rule, cached, and its row count (ValueError if no positive)."""
    keep, signal = signal_column(p)
    frame = ratings if keep is None else ratings.where(keep)
    data = frame.select(USER, MOVIE, signal.alias(SIGNAL)).cache()
    counts = data.agg(F.count(F.lit(1)), F.sum((F.col(SIGNAL) > 0).cast("long"))).first()
    if not counts[1]:
        data.unpersist()
        raise ValueError("no positive ratings to train on (check positive_threshold)")
    return data, int(counts[0])


def implicit_meta(p: ALSParams, n_ratings: int, n_users: int, n_items: int, items: np.ndarray) -> dict[str, Any]:
    """What a consumer needs of an implicit model, the item Gramian YᵀY among it."""
    return {
        "kind": "implicit",
        "rank": p.rank,
        "vector_size": p.vector_size,
        "reg_param": float(p.reg_param),
        "reg_exponent": float(p.reg_exponent),
        "reg_scaling": "lambda * n^reg_exponent, n = positive entries of the user / item",
        "alpha": float(p.alpha),
        "confidence": "1 + alpha * |s|; preference [s > 0]",
        "implicit_signal": p.implicit_signal,
        "positive_threshold": p.positive_threshold,
        "negative_weight": float(p.negative_weight),
        "prior_weight": float(p.prior_weight),
        "global_mean": None,
        "item_gramian": (items.T @ items).tolist(),
        "n_ratings": n_ratings,
        "n_users": n_users,
        "n_items": n_items,
    }


def explicit_data(ratings: DataFrame, p: ALSParams) -> tuple[DataFrame, float, DataFrame, DataFrame, int]:
    """(residual frame user/movie/signal cached, μ, user_bias, item_bias, ratings): the input of explicit ALS."""
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
        .select(USER, MOVIE, (F.col(RATING) - F.lit(mu) - F.col("b_u") - F.col("b_i")).alias(SIGNAL))
        .cache()
    )
    residual.count()
    data.unpersist()
    return residual, mu, user_bias, item_bias, n_ratings


def explicit_model(
    p: ALSParams, users: DataFrame, items: DataFrame, user_bias: DataFrame, item_bias: DataFrame, mu: float, n_ratings: int
) -> TrainedModel:
    """Fold the biases into the latent tables (user [u, 1], item [v, b_i]) and describe the model."""
    users = users.select(USER, F.concat(F.col(FACTORS), F.array(F.lit(1.0).cast(FloatType()))).alias(FACTORS)).cache()
    items = (
        items.join(item_bias, MOVIE)
        .select(MOVIE, F.concat(F.col(FACTORS), F.array(F.col(BIAS).cast(FloatType()))).alias(FACTORS))
        .cache()
    )
    user_bias = user_bias.select(USER, F.col(BIAS).cast(FloatType()).alias(BIAS)).cache()
    item_bias = item_bias.select(MOVIE, F.col(BIAS).cast(FloatType()).alias(BIAS)).cache()
    meta = {
        "kind": "explicit",
        "rank": p.rank,
        "vector_size": p.vector_size,
        "global_mean": mu,
        "reg_param": float(p.reg_param),
        "reg_exponent": float(p.reg_exponent),
        "reg_scaling": "lambda * n^reg_exponent, n = ratings of the user / item",
        "bias_reg": float(p.bias_reg),
        "bias_iters": p.bias_iters,
        "alpha": None,
        "vector_layout": "user [u, 1] . item [v, b_i] = u.v + b_i; prediction = global_mean + b_u + that",
        "n_ratings": n_ratings,
        "n_users": users.count(),
        "n_items": items.count(),
    }
    return TrainedModel("explicit", p.to_dict(), users, items, p.rank, meta, user_bias, item_bias)


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


def factor_frame(spark: SparkSession, ids: np.ndarray, matrix: np.ndarray, id_col: str) -> DataFrame:
    """(id_col int, factors array<float>) from driver arrays, cached and materialised."""
    schema = StructType([StructField(id_col, IntegerType(), False), StructField(FACTORS, ArrayType(FloatType(), False), False)])
    rows = [(int(i), v) for i, v in zip(ids.tolist(), matrix.astype(np.float32).tolist(), strict=True)]
    # sized to the rows: a slice is a task, and ml-100k's 1,682 vectors are not worth two
    slices = max(1, min(spark.sparkContext.defaultParallelism, math.ceil(len(rows) / FRAME_SLICE_ROWS)))
    frame = spark.createDataFrame(spark.sparkContext.parallelize(rows, slices), schema).cache()
    frame.count()
    return frame


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
