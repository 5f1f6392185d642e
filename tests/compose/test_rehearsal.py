"""The compose rehearsal (tests/compose/rehearsal.py): the stack comes up here as `docker compose up` would bring it up.

One full rehearsal for the module: every service, in dependency order, each healthcheck
failing before its service is ready and passing after, the API serving recommendations
from the model the pipeline trained on the Spark cluster. Then the rehearsal itself is
shown to fail on a compose file with a passed-through variable removed and on ones whose
healthcheck passes early.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.compose import stack

pytestmark = [pytest.mark.slow, pytest.mark.spark]

# A user's `.env` choices on top of .env.example: a non-default index prefix (it must reach
# the pipeline and the API alike), a small model, and Spark sizes for a 2-core machine.
SHELL = {
    "MOVIEREC_INDEX_PREFIX": "rehearsal",
    "MOVIEREC_RUN_ARGS": "--rank 8 --max-iter 3",
    "SPARK_WORKER_MEMORY": "1g",
    "SPARK_EXECUTOR_MEMORY": "768m",
    "SPARK_DRIVER_MEMORY": "1g",
}
KIBANA_CHECK = next(line.strip() for line in stack.COMPOSE_FILE.read_text("utf-8").splitlines() if "5601/api/status" in line)
HEALTHCHECKED = {"elasticsearch", "kibana", "spark-master", "spark-worker", "api"}
ONE_SHOT = {"setup", "pipeline", "dashboards"}


def _require_namespaces() -> None:
    """The rehearsal needs the Compose v2 binary and root's `unshare` (CI has both; so do the dev machines)."""
    try:
        stack.compose_binary()
        done = subprocess.run(["unshare", "--net", "--mount", "true"], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise stack.ComposeUnavailable(f"unshare --net --mount refused: {done.stderr.strip()}")
    except (stack.ComposeUnavailable, FileNotFoundError) as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the compose rehearsal cannot run on CI: {exc}")
        pytest.skip(f"compose rehearsal unavailable here: {exc}")


def rehearse(work: Path, compose_file: Path = stack.COMPOSE_FILE, timeout: float = 600) -> tuple[int, dict[str, Any]]:
    _require_namespaces()
    shell = [f"--shell={k}={v}" for k, v in SHELL.items()]
    done = subprocess.run(
        [sys.executable, "-m", "tests.compose.rehearsal", "--work", str(work), "--compose-file", str(compose_file),
         "--timeout", str(timeout), *shell],
        capture_output=True, text=True, check=False, cwd=stack.ROOT, timeout=timeout + 180,
    )
    report_path = work / "report.json"
    assert report_path.is_file(), f"no report (exit {done.returncode}):\n{done.stderr[-3000:]}"
    return done.returncode, json.loads(report_path.read_text("utf-8"))


def mutated(tmp_path: Path, old: str, new: str) -> Path:
    text = stack.COMPOSE_FILE.read_text("utf-8")
    assert text.count(old) == 1, f"{old!r} must occur once in docker-compose.yaml"
    path = tmp_path / "docker-compose.yaml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def full_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict[str, Any], Path]:
    work = tmp_path_factory.mktemp("rehearsal")
    code, report = rehearse(work)
    return code, report, work


def _events(report: dict[str, Any], service: str) -> list[str]:
    return [e["event"] for e in report["events"] if e["service"] == service]


def test_the_whole_stack_comes_up(full_run):
    code, report, _ = full_run
    assert report["failures"] == [] and report["ok"] is True and code == 0
    assert report["events"][-1]["event"] == "every service is up"
    for name in HEALTHCHECKED:
        events = _events(report, name)
        assert events[0] == "healthcheck fails before start (as it must)", name
        assert events[1].startswith("started: "), name
        assert events[2].startswith("healthy after "), name
    for name in ONE_SHOT:
        assert _events(report, name)[0].startswith("started: "), name


def test_services_start_only_once_their_dependencies_are_satisfied(full_run):
    _, report, _ = full_run
    started = {e["service"]: e["t"] for e in report["events"] if e["event"].startswith("started: ")}
    healthy = {e["service"]: e["t"] for e in report["events"] if e["event"].startswith("healthy after ")}
    for before, after in [("elasticsearch", "kibana"), ("elasticsearch", "setup"), ("spark-master", "spark-worker"),
                          ("spark-worker", "pipeline"), ("kibana", "dashboards"), ("elasticsearch", "api")]:
        assert healthy[before] <= started[after], (before, after)
    # the API does not wait for training: it starts before the pipeline ends and turns healthy once a model is served
    assert started["api"] < healthy["api"]
    assert started["pipeline"] < healthy["api"]


def test_the_pipeline_trains_on_the_mounted_data_and_publishes_under_the_shell_prefix(full_run):
    _, _, work = full_run
    pipeline_log = (work / "logs" / "pipeline.log").read_text("utf-8", errors="replace")
    assert "ml-1m present and verified at /data/ml-1m; nothing downloaded" in pipeline_log
    assert "→ rehearsal-movies, rehearsal-users, rehearsal-ratings" in pipeline_log
    dashboards_log = (work / "logs" / "dashboards.log").read_text("utf-8", errors="replace")
    summary = json.loads(dashboards_log[dashboards_log.index("\n{") + 1:])  # the import's JSON summary ends the log
    saved = sum(1 for f in (stack.ROOT / "kibana_saved_objects").glob("*.ndjson") for line in f.read_text("utf-8").splitlines() if line.strip())
    assert summary["errors"] == [] and len(summary["created"]) + len(summary["updated"]) == saved


def test_a_passed_through_variable_removed_from_the_compose_file_fails_the_rehearsal(tmp_path):
    broken = mutated(tmp_path, "  KIBANA_SPACE: ${MOVIEREC_KIBANA_SPACE:-}\n", "")
    code, report = rehearse(tmp_path / "work", broken)
    assert code == 1 and report["ok"] is False
    assert len(report["failures"]) == 1
    failure = report["failures"][0]
    assert failure.startswith("environment:")
    for service in ("setup", "pipeline", "dashboards", "api"):
        assert f"{service}: its code reads KIBANA_SPACE (pipeline/kibana.py), compose does not pass it" in failure


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param(
            """test: ["CMD-SHELL", "curl -fsS $${ELASTIC_PASSWORD""",
            """test: ["CMD-SHELL", "true || curl -fsS $${ELASTIC_PASSWORD""",
            "elasticsearch: healthcheck passes before the service is started",
            id="elasticsearch-always-passes",
        ),
        pytest.param(
            KIBANA_CHECK,
            """test: ["CMD-SHELL", "curl -s http://localhost:5601/api/status | grep -q level"]""",
            "kibana: healthcheck passed while the service was not ready (HTTP 503, overall level unavailable",
            id="kibana-503-counts-as-up",
        ),
        pytest.param(
            """"--url", "http://localhost:5000/health",""",
            """"--url", "http://localhost:5000/openapi.json",""",
            "api: healthcheck passed while the service was not ready (/health HTTP 503",
            id="api-up-before-a-model-is-served",
        ),
    ],
)
def test_a_healthcheck_that_passes_early_fails_the_rehearsal(tmp_path, old, new, expected):
    broken = mutated(tmp_path, old, new)
    code, report = rehearse(tmp_path / "work", broken, timeout=300)
    assert code == 1 and report["ok"] is False
    assert len(report["failures"]) == 1 and report["failures"][0].startswith(expected), report["failures"]
