"""scripts/wait_for.py: bounded waits for Kibana, an HTTP endpoint and Elasticsearch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "wait_for.py"
CLOSED = "http://127.0.0.1:9"  # the discard port: nothing listens there


def run(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KIBANA_", "ES_"))}
    return subprocess.run([sys.executable, str(SCRIPT), *args], check=False, capture_output=True, text=True, env=env, timeout=60, cwd=ROOT)


@pytest.mark.kibana
def test_kibana_waits_through_503s(kibana_double):
    kibana_double.not_ready_requests = 2
    done = run("kibana", "--kibana-url", kibana_double.url, "--interval", "0.05", "--timeout", "10")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"service": "kibana", "target": f"Kibana at {kibana_double.url}", "ready": True}
    assert kibana_double.status_calls == 3


@pytest.mark.kibana
def test_http_waits_for_a_2xx_answer(kibana_double):
    kibana_double.not_ready_requests = 1
    url = f"{kibana_double.url}/api/status"
    done = run("http", "--url", url, "--interval", "0.05", "--timeout", "10")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["ready"] is True
    assert "waiting for " + url + ": HTTP 503" in done.stderr


@pytest.mark.kibana
def test_http_gives_up_on_a_steady_error(kibana_double):
    done = run("http", "--url", f"{kibana_double.url}/nothing-here", "--interval", "0.05", "--timeout", "0.3")
    assert done.returncode == 1
    assert json.loads(done.stdout)["ready"] is False
    assert "not available after 0.3 s (HTTP 404)" in done.stderr


def test_http_gives_up_when_nothing_listens():
    done = run("http", "--url", CLOSED, "--interval", "0.05", "--timeout", "0.3")
    assert done.returncode == 1
    assert f"{CLOSED} not available after 0.3 s (URLError" in done.stderr


def test_elasticsearch_gives_up_when_nothing_listens():
    done = run("es", "--es-url", CLOSED, "--interval", "0.05", "--timeout", "0.5")
    assert done.returncode == 1
    assert f"Elasticsearch at {CLOSED} not available after 0.5 s (ConnectionError" in done.stderr


def test_elasticsearch_is_not_fooled_by_a_server_that_is_not_elasticsearch(kibana_double):
    """The official client refuses answers without `X-Elastic-Product: Elasticsearch`."""
    done = run("es", "--es-url", kibana_double.url, "--interval", "0.05", "--timeout", "0.3")
    assert done.returncode == 1
    assert "not available after 0.3 s" in done.stderr
