"""Run hygiene in pieces: signals, heartbeats, abandoned runs, checkpoint folders, workers' Python, masked URLs.

The whole story (a real `movierec run` killed mid-export, then a good run) is in test_run_kills.py.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from pipeline import indices, runs
from pipeline.es import install_log_redaction, redact_url
from pipeline.model.checkpoints import PREFIX, run_checkpoint_dir
from pipeline.publish import hygiene
from pipeline.spark import worker_python

T0 = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.timezone.utc)


def _record(run_id: str, status: str, heartbeat: dt.datetime | None, started: dt.datetime = T0) -> dict:
    out = {"run_id": run_id, "status": status, "started_at": runs.iso(started)}
    if heartbeat is not None:
        out["heartbeat_at"] = runs.iso(heartbeat)
    return out


def test_stale_runs_are_running_ones_silent_for_longer_than_the_limit():
    now = T0 + dt.timedelta(seconds=600)
    records = [
        _record("fresh", "running", now - dt.timedelta(seconds=10)),
        _record("silent", "running", now - dt.timedelta(seconds=121)),
        _record("never-beat", "running", None, started=now - dt.timedelta(seconds=500)),
        _record("young", "running", None, started=now - dt.timedelta(seconds=30)),
        _record("done", "succeeded", now - dt.timedelta(seconds=900)),
        _record("broke", "failed", now - dt.timedelta(seconds=900)),
    ]
    assert hygiene.stale_runs(records, now, 120) == ["silent", "never-beat"]


def test_sigterm_and_sigint_raise_interrupted_and_a_second_signal_is_ignored():
    for signum in (signal.SIGTERM, signal.SIGINT):
        before = signal.getsignal(signum)
        with pytest.raises(hygiene.Interrupted) as info, hygiene.interruptible():
            os.kill(os.getpid(), signum)
            time.sleep(5)  # the handler raises long before this ends
        assert info.value.signum == signum and signum.name in str(info.value)
        assert signal.getsignal(signum) is before  # restored on the way out
    with hygiene.interruptible():
        with pytest.raises(hygiene.Interrupted):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
        os.kill(os.getpid(), signal.SIGTERM)  # ignored while the first is being cleaned up after


def test_heartbeat_then_abandon_deletes_what_a_dead_run_left(es, index_prefix):
    indices.ensure_runs_index(es, index_prefix)
    started = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=60)
    dead = runs.new_run_id(started, "dead00")
    alive = runs.new_run_id(started, "a11ve0")
    for run_id in (dead, alive):
        runs.put_run(es, index_prefix, runs.run_record(run_id, dataset="ml-100k", started_at=started))
    names = indices.create_run_indices(es, index_prefix, dead, 3, 2)
    es.index(index=names["movies"], id="1", document={"movie_id": 1}, refresh=True)  # half filled
    with hygiene.Heartbeat(es, index_prefix, alive, interval=0.05):
        deadline = time.monotonic() + 10
        while "heartbeat_at" not in runs.get_run(es, index_prefix, alive) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert hygiene.abandon_stale(es, index_prefix, stale_after_s=30) == [dead]
    record = runs.get_run(es, index_prefix, dead)
    assert record["status"] == runs.ABANDONED and record["finished_at"]
    assert record["errors"][-1]["step"] == "abandoned" and names["movies"] in record["errors"][-1]["message"]
    assert not any(es.indices.exists(index=i) for i in names.values())
    assert runs.get_run(es, index_prefix, alive)["status"] == runs.RUNNING
    assert hygiene.abandon_stale(es, index_prefix, stale_after_s=30) == []


def test_the_run_checkpoint_folder_goes_when_the_run_ends(spark, tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    with pytest.raises(RuntimeError), run_checkpoint_dir(spark) as path:
        assert path and Path(path).is_dir() and Path(path).name.startswith(PREFIX)
        assert spark.sparkContext.getCheckpointDir().startswith(f"file:{path}")
        raise RuntimeError("the run failed")
    assert list(tmp_path.iterdir()) == []


def test_workers_run_this_interpreter_unless_the_user_chose_one():
    assert worker_python({}, {}) == sys.executable
    assert worker_python({}, {"PYSPARK_PYTHON": "/opt/py/bin/python"}) == "/opt/py/bin/python"
    assert worker_python({"spark.pyspark.python": "/x/python3"}, {"PYSPARK_PYTHON": "/opt/py/bin/python"}) == "/x/python3"


def test_the_session_launches_workers_with_the_chosen_python(spark):
    assert spark.sparkContext.pythonExec == worker_python(dict(spark.sparkContext.getConf().getAll()))


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("http://user:pass@host:9200", "http://user:***@host:9200"),
        ("https://elastic:s3cr%40t@es.example.com:9243/path?q=1", "https://elastic:***@es.example.com:9243/path?q=1"),
        ("Elasticsearch at http://u:p@a:9200 and https://v:q@b is down", "Elasticsearch at http://u:***@a:9200 and https://v:***@b is down"),
        ("http://localhost:9200", "http://localhost:9200"),
        ("user:pass without a scheme", "user:pass without a scheme"),
    ],
)
def test_redact_url(text, masked):
    assert redact_url(text) == masked


def test_every_log_record_has_url_passwords_masked(caplog):
    install_log_redaction()
    install_log_redaction()  # idempotent
    with caplog.at_level(logging.INFO):
        logging.getLogger("anything.at.all").info("connecting to %s", "http://elastic:hunter2@es:9200")
    assert caplog.messages == ["connecting to http://elastic:***@es:9200"]
    assert "hunter2" not in caplog.text
