"""The reference solver: `pyspark.ml` ALS, which scales λ by n (ALS-WR, ν = 1).

Fed the same signal (`als.signal_frame`) or residuals (`als.explicit_data`)
as the block solver, so the two differ only in the regularisation exponent
and in how the normal equations are solved.
"""

from __future__ import annotations

import logging
import tempfile

from pyspark.ml.recommendation import ALS
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, FloatType

from pipeline import als
from pipeline.columns import FACTORS, MOVIE, USER

log = logging.getLogger(__name__)


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


def _estimator(p: als.ALSParams, implicit: bool, spark: SparkSession) -> ALS:
    blocks = p.num_blocks or spark.sparkContext.defaultParallelism
    return ALS(
        rank=p.rank,
        maxIter=p.max_iter,
        regParam=float(p.reg_param),
        alpha=float(p.alpha),
        implicitPrefs=implicit,
        nonnegative=p.nonnegative,
        checkpointInterval=p.checkpoint_interval,
        seed=p.seed,
        numUserBlocks=blocks,
        numItemBlocks=blocks,
        userCol=USER,
        itemCol=MOVIE,
        ratingCol=als.SIGNAL,
        coldStartStrategy="drop",
    )


def _vectors(frame: DataFrame, id_col: str) -> DataFrame:
    """Spark's (id, features) as (id_col, factors array<float>)."""
    return frame.select(F.col("id").alias(id_col), F.col("features").cast(ArrayType(FloatType())).alias(FACTORS))


def train_implicit(ratings: DataFrame, p: als.ALSParams) -> als.TrainedModel:
    ensure_checkpoint_dir(ratings.sparkSession)
    data, n_ratings = als.signal_frame(ratings, p)
    fitted = _estimator(p, True, ratings.sparkSession).fit(data)
    users = _vectors(fitted.userFactors, USER).cache()
    items = _vectors(fitted.itemFactors, MOVIE).cache()
    item_matrix = als.factor_matrix(items, MOVIE)[1]
    meta = als.implicit_meta(p, n_ratings, users.count(), len(item_matrix), item_matrix)
    data.unpersist()
    return als.TrainedModel("implicit", p.to_dict(), users, items, p.rank, meta)


def train_explicit(ratings: DataFrame, p: als.ALSParams) -> als.TrainedModel:
    ensure_checkpoint_dir(ratings.sparkSession)
    residual, mu, user_bias, item_bias, n_ratings = als.explicit_data(ratings, p)
    fitted = _estimator(p, False, ratings.sparkSession).fit(residual)
    model = als.explicit_model(
        p, _vectors(fitted.userFactors, USER), _vectors(fitted.itemFactors, MOVIE), user_bias, item_bias, mu, n_ratings
    )
    residual.unpersist()
    return model
