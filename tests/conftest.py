"""Suite-wide options and fixtures.

`--es-url` / `--kibana-url` point the tests marked `es` / `kibana` at a real
cluster instead of the in-process doubles (see README, "Tests against a real
cluster").
"""

from __future__ import annotations

import pytest

from tests.es_double.fixtures import *  # noqa: F401,F403
from tests.service.trained import trained  # noqa: F401


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("movierec")
    group.addoption("--es-url", default=None, help="run `es` tests against this Elasticsearch instead of the double")
    group.addoption("--kibana-url", default=None, help="run `kibana` tests against this Kibana instead of the double")


@pytest.fixture(scope="session")
def spark():
    """One local Spark session for the whole run (JVM start costs seconds)."""
    from pipeline.spark import get_spark

    session = get_spark(
        "movierec-tests",
        master="local[2]",
        conf={"spark.sql.shuffle.partitions": "4", "spark.default.parallelism": "4", "spark.driver.memory": "2g"},
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
