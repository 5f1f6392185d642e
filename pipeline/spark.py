"""Building the Spark session: local by default, any master on request."""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Mapping

from pyspark.sql import SparkSession

from pipeline.errors import PipelineError

log = logging.getLogger(__name__)

DEFAULT_MASTER = "local[*]"
# Seconds to wait for the first executor on a standalone cluster (`--conf spark.movierec.executorWaitSeconds=S`).
EXECUTOR_WAIT_KEY = "spark.movierec.executorWaitSeconds"
EXECUTOR_WAIT_S = 120.0


class NoExecutors(PipelineError):
    """A standalone cluster gave the application no executor: no worker offers what each executor asks for."""

PYTHON_CONF = "spark.pyspark.python"


def worker_python(conf: Mapping[str, str] | None = None, environ: Mapping[str, str] | None = None) -> str:
    """The Python Spark's workers run: `spark.pyspark.python`, else $PYSPARK_PYTHON, else this interpreter.

    Spark's own default is whichever `python3` is first on PATH; from an unactivated virtualenv that is
    the system Python, which lacks this package (the export fails with ModuleNotFoundError: pipeline).
    """
    env = os.environ if environ is None else environ
    return (conf or {}).get(PYTHON_CONF) or env.get("PYSPARK_PYTHON") or sys.executable


def get_spark(
    app_name: str = "movierec",
    master: str | None = None,
    conf: dict[str, str] | None = None,
) -> SparkSession:
    """Return the active session or build one.

    Under `spark-submit` (which starts the JVM and passes its gateway port)
    the master it was given is kept; otherwise `master` or `local[*]`.
    Shuffle partitions are kept small: MovieLens fits in memory. The workers'
    Python is `worker_python(conf)`.
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
    python = worker_python(conf)
    settings[PYTHON_CONF] = python
    for key, value in settings.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    # PySpark launches workers with SparkContext.pythonExec, which it reads from $PYSPARK_PYTHON only.
    session.sparkContext.pythonExec = python
    log.debug("Spark workers run %s", python)
    if session.sparkContext.master.startswith("spark://"):
        wait_for_executors(session, float(session.conf.get(EXECUTOR_WAIT_KEY, str(EXECUTOR_WAIT_S))))
    return session


def wait_for_executors(spark: SparkSession, timeout_s: float = EXECUTOR_WAIT_S) -> int:
    """Wait until an executor has registered; returns how many did. Raises NoExecutors after `timeout_s` seconds.

    A standalone master keeps an application whose executors fit no worker (spark.executor.memory
    above every worker's --memory, or more cores than any offers) waiting for ever, with only the
    warning "Initial job has not accepted any resources" in the log; this turns that into an error.
    """
    tracker = spark.sparkContext._jsc.sc().statusTracker()
    deadline = time.monotonic() + timeout_s
    while True:
        executors = len(tracker.getExecutorInfos()) - 1  # the driver is listed too
        if executors > 0:
            return executors
        if time.monotonic() > deadline:
            conf = spark.sparkContext.getConf()
            raise NoExecutors(
                f"no executor started on {spark.sparkContext.master} within {timeout_s:g} s: each asks for "
                f"spark.executor.memory={conf.get('spark.executor.memory', '1g')} and "
                f"spark.executor.cores={conf.get('spark.executor.cores', 'all of a worker')}; is a worker alive "
                "and does it offer that much (its --memory / SPARK_WORKER_MEMORY, --cores)? See the master's web UI."
            )
        log.info("waiting for executors on %s", spark.sparkContext.master)
        time.sleep(1.0)
