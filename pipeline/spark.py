"""Building the Spark session: local by default, any master on request."""

from __future__ import annotations

import os

from pyspark.sql import SparkSession

DEFAULT_MASTER = "local[*]"


def get_spark(
    app_name: str = "movierec",
    master: str | None = None,
    conf: dict[str, str] | None = None,
) -> SparkSession:
    """Return the active session or build one.

    Under `spark-submit` (which starts the JVM and passes its gateway port)
    the master it was given is kept; otherwise `master` or `local[*]`.
    Shuffle partitions are kept small: MovieLens fits in memory.
    """
    builder = SparkSession.builder.appName(app_name)
    if master:
        builder = builder.master(master)
    elif "PYSPARK_GATEWAY_PORT" not in os.environ and "spark.master" not in (conf or {}):
        builder = builder.master(DEFAULT_MASTER)
    settings = {
        "spark.sql.shuffle.partitions": "8",
        "spark.ui.enabled": "false",
        "spark.sql.session.timeZone": "UTC",
        "spark.driver.memory": "4g",
        # Python workers solve ALS blocks with numpy: one BLAS thread each, Spark runs them in
        # parallel (a multi-threaded OpenBLAS per worker oversubscribes the cores, 10x slower).
        "spark.executorEnv.OPENBLAS_NUM_THREADS": "1",
        "spark.executorEnv.OMP_NUM_THREADS": "1",
        "spark.executorEnv.MKL_NUM_THREADS": "1",
    }
    settings.update(conf or {})
    for key, value in settings.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()
