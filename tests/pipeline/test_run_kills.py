"""A real `movierec run` killed mid-export (SIGTERM, then SIGKILL), then a good run, against the ES double.

Every run is the console script called by its full path with a PATH that lacks the virtualenv, as a
user who never activated it would: Spark's workers must still get this interpreter (the export runs
in them). The double slows every bulk request so each kill lands while the run exports. Throughout,
the served model never changes until the good run swaps; afterwards nothing half-filled is left, the
SIGKILLed run's record reads `abandoned`, and the previously served run was not pruned.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from es_mappings import run_id_of
from pipeline import indices, runs, synthetic
from pipeline.model.checkpoints import PREFIX as CHECKPOINTS

pytestmark = [pytest.mark.spark, pytest.mark.es, pytest.mark.slow]

VENV_BIN = Path(sys.executable).parent
MOVIEREC = VENV_BIN / "movierec"
STALE_AFTER_S = 3
BULK_DELAY_S = 0.25


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    folder = synthetic.generate(tmp_path_factory.mktemp("kills"), "ml-100k", n_users=40, n_movies=60, n_ratings=900, seed=4)
    return folder.parent


def _env(tmp: Path) -> dict[str, str]:
    """The environment of a shell where the virtualenv was never activated; TMPDIR shows leftover folders."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON", "VIRTUAL_ENV")}
    venv = VENV_BIN.resolve()
    path = [p for p in env.get("PATH", "").split(os.pathsep) if p and Path(p).resolve() != venv]
    env["PATH"] = os.pathsep.join(path or ["/usr/bin", "/bin"])
    tmp.mkdir(parents=True, exist_ok=True)
    env["TMPDIR"] = str(tmp)
    return env


def _argv(data_dir: Path, es_url: str, prefix: str) -> list[str]:
    return [
        str(MOVIEREC), "run", "--dataset", "ml-100k", "--data-dir", str(data_dir), "--es-url", es_url, "--prefix", prefix,
        "--master", "local[2]", "--rank", "4", "--max-iter", "3", "--chunk-size", "10", "--export-partitions", "2",
        "--stale-after", str(STALE_AFTER_S), "--conf", "spark.driver.memory=1g", "--conf", "spark.sql.shuffle.partitions=4",
        "--json",
    ]


def _good_run(data_dir: Path, es_url: str, prefix: str, tmp: Path) -> dict:
    done = subprocess.run(_argv(data_dir, es_url, prefix), env=_env(tmp), capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-4000:]
    assert "No module named 'pipeline'" not in done.stderr  # the workers ran this interpreter
    return json.loads(done.stdout)


def _start(data_dir: Path, es_url: str, prefix: str, tmp: Path) -> subprocess.Popen:
    env = _env(tmp)
    with (tmp / "run.log").open("w") as log:
        return subprocess.Popen(_argv(data_dir, es_url, prefix), env=env, stdout=subprocess.DEVNULL, stderr=log,
                                start_new_session=True)


def _run_ids(es_double, prefix: str) -> set[str]:
    names = list(es_double.cluster.indices)
    return {r for name in names for kind in indices.RUN_KINDS if (r := run_id_of(name, prefix, kind))}


def _wait_mid_export(es_double, proc: subprocess.Popen, prefix: str, served: str, tmp: Path) -> str:
    """The new run's id once its movies index holds documents but the export goes on."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        assert proc.poll() is None, (tmp / "run.log").read_text()[-4000:]
        for name, idx in list(es_double.cluster.indices.items()):
            run_id = run_id_of(name, prefix, "movies")
            if run_id and run_id != served and idx.docs:
                return run_id
        time.sleep(0.1)
    raise AssertionError("the run never reached its export")


def _wait_gone(proc: subprocess.Popen, timeout: float = 120) -> int:
    """Wait for the run and every process it started (its session: the JVM, Spark's Python workers)."""
    code = proc.wait(timeout=timeout)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return code
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # the group this test started; its processes outlived the run
    raise AssertionError("processes of the killed run were still alive two minutes later")


def _record(es, prefix: str, run_id: str) -> dict:
    es.indices.refresh(index=indices.runs_index(prefix))
    return runs.get_run(es, prefix, run_id)


def _checkpoint_folders(tmp: Path) -> list[Path]:
    return sorted(tmp.glob(f"{CHECKPOINTS}*"))


def test_killed_runs_change_nothing_served_and_the_next_good_run_cleans_up(es, es_url, es_double, index_prefix, data_dir, tmp_path):
    first = _good_run(data_dir, es_url, index_prefix, tmp_path / "first")
    served = first["run_id"]
    assert first["status"] == "succeeded" and indices.live_run_id(es, index_prefix) == served
    assert _checkpoint_folders(tmp_path / "first") == []
    es_double.set_delay(BULK_DELAY_S, path="/_bulk")

    # SIGTERM mid-export: recorded failed, its indices deleted at once, nothing served changes
    proc = _start(data_dir, es_url, index_prefix, tmp_path / "term")
    termed = _wait_mid_export(es_double, proc, index_prefix, served, tmp_path / "term")
    assert indices.live_run_id(es, index_prefix) == served
    proc.send_signal(signal.SIGTERM)
    assert _wait_gone(proc) == 128 + signal.SIGTERM
    time.sleep(BULK_DELAY_S * 4)  # bulk requests still in flight when it stopped have been answered
    record = _record(es, index_prefix, termed)
    assert record["status"] == runs.FAILED
    assert record["errors"][0]["type"] == "Interrupted" and record["errors"][0]["step"].startswith("export_")
    assert termed not in _run_ids(es_double, index_prefix)  # deleted, and not auto-created again by a late write
    assert indices.live_run_id(es, index_prefix) == served
    assert _checkpoint_folders(tmp_path / "term") == []

    # SIGKILL mid-export: no chance to clean up; the record stays `running`, the indices half filled
    proc = _start(data_dir, es_url, index_prefix, tmp_path / "kill")
    killed = _wait_mid_export(es_double, proc, index_prefix, served, tmp_path / "kill")
    os.kill(proc.pid, signal.SIGKILL)
    assert _wait_gone(proc) == -signal.SIGKILL
    es_double.set_delay(0)
    assert _record(es, index_prefix, killed)["status"] == runs.RUNNING
    assert killed in _run_ids(es_double, index_prefix)
    assert indices.live_run_id(es, index_prefix) == served
    while "heartbeat_at" in (rec := _record(es, index_prefix, killed)) and _age_s(rec["heartbeat_at"]) <= STALE_AFTER_S:
        time.sleep(0.5)

    # the next good run: the dead run is abandoned and its leftovers deleted; the served run is kept
    second = _good_run(data_dir, es_url, index_prefix, tmp_path / "second")
    assert second["status"] == "succeeded" and indices.live_run_id(es, index_prefix) == second["run_id"]
    dead = _record(es, index_prefix, killed)
    assert dead["status"] == runs.ABANDONED and dead["errors"][-1]["step"] == "abandoned"
    assert _run_ids(es_double, index_prefix) == {served, second["run_id"]}
    for kind in indices.RUN_KINDS:
        assert es.indices.exists(index=f"{index_prefix}-{kind}-{served}")
    assert _record(es, index_prefix, termed)["status"] == runs.FAILED
    assert _checkpoint_folders(tmp_path / "second") == []


def _age_s(iso: str) -> float:
    return (dt.datetime.now(dt.timezone.utc) - dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))).total_seconds()  # noqa: FURB162
