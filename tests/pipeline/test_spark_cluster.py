"""`movierec run` on a real Spark standalone cluster (one master, one 1-core worker).

The pipeline runs in a separate process (this test session already holds a
local SparkContext); its executors write to an ES double started as its own
process, over loopback — the same path a cluster deployment takes.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pyspark
import pytest
from elasticsearch import Elasticsearch

from pipeline import synthetic

pytestmark = [pytest.mark.slow, pytest.mark.spark]

START_TIMEOUT_S = 90
RUN_TIMEOUT_S = 420
PREFIX = "clustertest"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_line(log: Path, needle: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and needle in log.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            break
        time.sleep(0.5)
    raise AssertionError(f"{needle!r} not seen in {log} (exit code {proc.poll()}):\n{log.read_text(errors='replace')[-3000:] if log.exists() else ''}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="module")
def spark_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A standalone master and one worker (1 core, 1g) from the installed pyspark; yields (master URL, worker dir)."""
    base = tmp_path_factory.mktemp("spark-cluster")
    spark_home = Path(pyspark.__file__).parent
    env = {
        **os.environ,
        "SPARK_HOME": str(spark_home),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_MASTER_OPTS": "-Dspark.master.rest.enabled=false",
        "SPARK_LOCAL_DIRS": str(base / "local"),
        "PYSPARK_PYTHON": sys.executable,
    }
    spark_class = str(spark_home / "bin" / "spark-class")
    port = _free_port()
    master_log = base / "master.log"
    worker_log = base / "worker.log"
    procs = []
    try:
        with open(master_log, "wb") as out:
            master = subprocess.Popen(
                [spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port), "--webui-port", "0"],
                env=env, stdout=out, stderr=subprocess.STDOUT, cwd=base,
            )
        procs.append(master)
        _wait_for_line(master_log, "I have been elected leader", master, START_TIMEOUT_S)
        url = f"spark://127.0.0.1:{port}"
        with open(worker_log, "wb") as out:
            worker = subprocess.Popen(
                [spark_class, "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1", "--port", "0", "--webui-port", "0",
                 "--cores", "1", "--memory", "1g", "--work-dir", str(base / "work"), url],
                env=env, stdout=out, stderr=subprocess.STDOUT, cwd=base,
            )
        procs.append(worker)
        _wait_for_line(worker_log, "Successfully registered with master", worker, START_TIMEOUT_S)
        yield url, base / "work"
    finally:
        for proc in reversed(procs):
            _stop(proc)


@pytest.fixture(scope="module")
def es_double_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The ES double as its own process (executors reach it over loopback)."""
    port = _free_port()
    log = tmp_path_factory.mktemp("es-double") / "double.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "tests.es_double", "--port", str(port)], stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        client = Elasticsearch(url, request_timeout=2, max_retries=0)
        deadline = time.monotonic() + START_TIMEOUT_S
        while not client.ping():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"ES double did not start:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.3)
        yield url
    finally:
        _stop(proc)


def test_movierec_run_on_a_standalone_cluster(spark_cluster, es_double_process, tmp_path):
    master, work_dir = spark_cluster
    folder = synthetic.generate(tmp_path / "data", "ml-100k", n_users=40, n_movies=60, n_ratings=1200, seed=3)
    cmd = [
        sys.executable, "-m", "pipeline", "run",
        "--dataset", "ml-100k", "--data-dir", str(folder.parent),
        "--es-url", es_double_process, "--prefix", PREFIX,
        "--master", master,
        "--kind", "explicit", "--rank", "4", "--max-iter", "3",
        "--export-partitions", "3", "--chunk-size", "100",
        "--conf", "spark.executor.memory=512m", "--conf", "spark.driver.memory=1g",
        "--conf", "spark.sql.shuffle.partitions=4",
        "--json",
    ]
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "SPARK_LOCAL_IP": "127.0.0.1"}
    env.pop("PYSPARK_GATEWAY_PORT", None)
    done = subprocess.run(cmd, check=False, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-5000:]
    record = json.loads(done.stdout)
    assert record["status"] == "succeeded" and record["active"] is True
    assert record["counts"]["ratings"] == 1200
    # the executors ran on the worker: it keeps one folder per application with their logs
    assert [p.name.startswith("app-") for p in work_dir.iterdir()] == [True]

    es = Elasticsearch(es_double_process)
    run_id = record["run_id"]
    for kind in ("movies", "users", "ratings"):
        alias = f"{PREFIX}-{kind}"
        assert list(es.indices.get_alias(name=alias).body) == [f"{PREFIX}-{kind}-{run_id}"]
        assert es.count(index=alias)["count"] == record["counts"][kind]
    assert record["counts"]["users"] == 40
    hit = es.search(index=f"{PREFIX}-users", size=1, source={"exclude_vectors": False})["hits"]["hits"][0]
    assert len(hit["_source"]["factors"]) == 5 and hit["_source"]["factors"][-1] == 1.0  # explicit layout [u, 1]


def test_executors_bigger_than_any_worker_stop_the_run_with_a_clear_error(spark_cluster, es_double_process, tmp_path):
    """The worker offers 1g; executors asking for 4g would leave a standalone master waiting for ever."""
    master, _ = spark_cluster
    folder = synthetic.generate(tmp_path / "data", "ml-100k", n_users=20, n_movies=30, n_ratings=300, seed=3)
    cmd = [
        sys.executable, "-m", "pipeline", "run", "--dataset", "ml-100k", "--data-dir", str(folder.parent),
        "--es-url", es_double_process, "--prefix", PREFIX + "-big", "--master", master,
        "--conf", "spark.executor.memory=4g", "--conf", "spark.driver.memory=512m",
        "--conf", "spark.movierec.executorWaitSeconds=5",
    ]
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "SPARK_LOCAL_IP": "127.0.0.1"}
    env.pop("PYSPARK_GATEWAY_PORT", None)
    done = subprocess.run(cmd, check=False, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, cwd=tmp_path)
    assert done.returncode == 1, done.stderr[-3000:]
    assert f"no executor started on {master} within 5 s: each asks for spark.executor.memory=4g" in done.stderr
    assert "Traceback" not in done.stderr
