"""A checkpoint folder per run, removed when the run ends (ALS checkpoints its lineage every few sweeps).

On a local master the run gets a fresh temporary folder as the SparkContext's checkpoint dir, and the
folder goes when the run ends, however it ends. A cluster's checkpoint dir must be shared storage the
user configured (`sc.setCheckpointDir`); it is left alone.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
from collections.abc import Iterator
from typing import Any

log = logging.getLogger(__name__)

PREFIX = "movierec-als-checkpoints-"


@contextlib.contextmanager
def run_checkpoint_dir(spark: Any) -> Iterator[str | None]:
    """Point a local session's checkpoints at a new temporary folder for the run; remove it afterwards."""
    sc = spark.sparkContext
    if not sc.master.startswith("local"):
        yield sc.getCheckpointDir()
        return
    path = tempfile.mkdtemp(prefix=PREFIX)
    sc.setCheckpointDir(path)
    log.info("ALS checkpoints of this run go to %s", path)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
        log.info("removed the run's checkpoint folder %s", path)
