"""docker-compose.yaml, Dockerfile, .dockerignore and .env.example: the one-command stack.

No Docker engine runs on the development and CI machines, so the file is checked
statically, plus `docker-compose config -q` (Debian package `docker-compose`)
when the binary is installed — required under CI=true.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from es_mappings import STACK_VERSION

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yaml"
COMPOSE_TEXT = COMPOSE_FILE.read_text("utf-8")
COMPOSE = yaml.safe_load(COMPOSE_TEXT)
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
APP_SERVICES = ("spark-master", "spark-worker", "setup", "pipeline", "api")
VAR = re.compile(r"\$\{(\w+)(?::?-([^}]*))?\}")


def interpolate(value: str) -> str:
    """Compose's interpolation with an empty environment: `${X:-d}` -> d, `${X}` -> '', `$$` -> `$`."""
    return VAR.sub(lambda m: m.group(2) or "", value.replace("$$", "\0")).replace("\0", "$")


def command_text(service: str) -> str:
    command = SERVICES[service]["command"]
    return interpolate(" ".join(command) if isinstance(command, list) else command)


def healthcheck_text(service: str) -> str:
    test = SERVICES[service]["healthcheck"]["test"]
    return interpolate(" ".join(test) if isinstance(test, list) else test)


def depends(service: str) -> dict[str, str]:
    return {name: spec["condition"] for name, spec in SERVICES[service]["depends_on"].items()}


def test_services():
    assert set(SERVICES) == {"elasticsearch", "kibana", *APP_SERVICES}


def test_stack_version_is_pinned_once_and_matches_the_project():
    es_image = SERVICES["elasticsearch"]["image"]
    kibana_image = SERVICES["kibana"]["image"]
    assert es_image == f"docker.elastic.co/elasticsearch/elasticsearch:${{STACK_VERSION:-{STACK_VERSION}}}"
    assert kibana_image == f"docker.elastic.co/kibana/kibana:${{STACK_VERSION:-{STACK_VERSION}}}"
    # the default appears only in those two image lines; .env.example states the same release
    assert set(re.findall(r"\$\{STACK_VERSION:-([^}]*)\}", COMPOSE_TEXT)) == {STACK_VERSION}
    assert COMPOSE_TEXT.count(STACK_VERSION) == 2
    env_example = (ROOT / ".env.example").read_text("utf-8")
    assert re.search(r"^STACK_VERSION=(.+)$", env_example, re.MULTILINE).group(1) == STACK_VERSION


def test_elasticsearch_single_node_laptop_sized_security_off_by_default():
    es = SERVICES["elasticsearch"]
    env = es["environment"]
    assert env["discovery.type"] == "single-node"
    assert env["ES_JAVA_OPTS"] == "-Xms1g -Xmx1g"
    assert interpolate(env["xpack.security.enabled"]) == "false"
    assert env["xpack.security.enabled"] == "${ES_SECURITY:-false}"
    assert es["mem_limit"] == "2g"
    assert "esdata:/usr/share/elasticsearch/data" in es["volumes"]


def test_healthchecks():
    assert "_cluster/health?wait_for_status=yellow" in healthcheck_text("elasticsearch")
    assert "curl" in healthcheck_text("elasticsearch")
    kibana = healthcheck_text("kibana")
    assert "http://localhost:5601/api/status" in kibana and '"level":"available"' in kibana
    assert "scripts/wait_for.py http --url http://localhost:8080" in healthcheck_text("spark-master")
    assert "scripts/wait_for.py http --url http://localhost:8081" in healthcheck_text("spark-worker")
    assert "scripts/wait_for.py http --url http://localhost:5000/health" in healthcheck_text("api")
    for name in ("elasticsearch", "kibana", "spark-master", "spark-worker", "api"):
        assert SERVICES[name]["healthcheck"]["retries"] >= 5, name


def test_dependency_conditions():
    assert depends("kibana") == {"elasticsearch": "service_healthy"}
    assert depends("spark-worker") == {"spark-master": "service_healthy"}
    assert depends("setup") == {"elasticsearch": "service_healthy", "kibana": "service_healthy"}
    assert depends("pipeline") == {
        "elasticsearch": "service_healthy",
        "spark-worker": "service_healthy",
        "setup": "service_completed_successfully",
    }
    assert depends("api") == {"elasticsearch": "service_healthy", "pipeline": "service_completed_successfully"}
    for one_shot in ("setup", "pipeline"):
        assert SERVICES[one_shot]["restart"] == "no"


def test_published_ports_bind_to_localhost_by_default():
    published = {
        name: [interpolate(p) for p in spec.get("ports", [])] for name, spec in SERVICES.items() if spec.get("ports")
    }
    assert published == {
        "elasticsearch": ["127.0.0.1:9200:9200"],
        "kibana": ["127.0.0.1:5601:5601"],
        "spark-master": ["127.0.0.1:8080:8080"],
        "api": ["127.0.0.1:5000:5000"],
    }


def test_app_services_share_one_image_built_from_the_dockerfile():
    for name in APP_SERVICES:
        spec = SERVICES[name]
        assert spec["build"] == {"context": ".", "dockerfile": "Dockerfile"}, name
        assert interpolate(spec["image"]) == "movierec:local", name
        assert interpolate(spec["environment"]["ES_URL"]) == "http://elasticsearch:9200", name
        assert interpolate(spec["environment"]["KIBANA_URL"]) == "http://kibana:5601", name


def test_spark_cluster_runs_from_the_application_image():
    """Master and worker use the image's pyspark `spark-class`: one Spark build and one Python everywhere."""
    master, worker = command_text("spark-master"), command_text("spark-worker")
    assert master.startswith("spark-class org.apache.spark.deploy.master.Master --host spark-master --port 7077")
    assert worker.startswith("spark-class org.apache.spark.deploy.worker.Worker --host spark-worker")
    assert worker.endswith("spark://spark-master:7077")
    # executors read the MovieLens files at the driver's path
    data = [v for v in SERVICES["pipeline"]["volumes"] if v.endswith(":/data")]
    assert data and data == [v for v in SERVICES["spark-worker"]["volumes"] if v.endswith(":/data")]


def test_one_shot_commands():
    setup = command_text("setup")
    assert re.fullmatch(r"sh -c movierec bootstrap && python scripts/kibana_objects\.py import( --timeout \d+)?", setup)
    pipeline = command_text("pipeline")
    assert pipeline.startswith(
        "sh -c movierec data fetch ml-100k --data-dir /data --no-summary && movierec run --dataset ml-100k --data-dir /data"
    )
    for flag in ("--es-url http://elasticsearch:9200", "--master spark://spark-master:7077", "--evaluate"):
        assert flag in pipeline
    api = command_text("api")
    assert api == "gunicorn -c python:service.gunicorn_conf --bind 0.0.0.0:5000 service.wsgi:app"
    assert importlib.util.find_spec("service.gunicorn_conf") is not None
    assert importlib.util.find_spec("service.wsgi") is not None


def test_scripts_the_stack_runs_exist():
    used = set(re.findall(r"scripts/[\w.]+\.py", COMPOSE_TEXT))
    assert used == {"scripts/kibana_objects.py", "scripts/wait_for.py"}
    for path in used:
        assert (ROOT / path).is_file(), path


def test_no_secret_in_the_compose_file():
    for name, spec in SERVICES.items():
        for key, value in (spec.get("environment") or {}).items():
            if re.search(r"PASSWORD|API_KEY|SECRET|TOKEN", key):
                assert re.fullmatch(r"\$\{\w+:-\}", str(value)), f"{name}.{key} must come from the environment"


def test_every_mounted_path_exists_and_named_volumes_are_declared():
    declared = set(COMPOSE["volumes"])
    for name, spec in SERVICES.items():
        for volume in spec.get("volumes", []):
            source = interpolate(volume).split(":")[0]
            if source.startswith((".", "/")):
                assert (ROOT / source).exists(), f"{name}: {source}"
            else:
                assert source in declared, f"{name}: volume {source} not declared"


# ------------------------------------------------------------------ Dockerfile


DOCKERFILE = (ROOT / "Dockerfile").read_text("utf-8")
IGNORED = [line.strip() for line in (ROOT / ".dockerignore").read_text("utf-8").splitlines()
           if line.strip() and not line.startswith("#")]


def copy_sources() -> list[str]:
    sources = []
    for line in DOCKERFILE.splitlines():
        if line.startswith("COPY "):
            words = [w for w in line.split()[1:] if not w.startswith("--")]
            sources += words[:-1]
    return sources


def test_dockerfile_base_runtime_and_user():
    assert re.search(r"^FROM python:3\.11-slim-bookworm$", DOCKERFILE, re.MULTILINE)
    for package in ("openjdk-17-jre-headless", "libopenblas0"):
        assert package in DOCKERFILE
    users = re.findall(r"^USER (\S+)$", DOCKERFILE, re.MULTILINE)
    assert users and users[-1] not in ("root", "0")
    assert 'VOLUME ["/data"]' in DOCKERFILE


def test_every_copied_path_exists_and_is_not_docker_ignored():
    sources = copy_sources()
    assert {"pipeline", "service", "es_mappings", "scripts", "kibana_saved_objects", "setup.cfg"} <= set(sources)
    for source in sources:
        assert (ROOT / source).exists(), source
        assert not any(fnmatch.fnmatch(source, pattern) for pattern in IGNORED), f"{source} is in .dockerignore"


def test_dockerignore_keeps_secrets_and_the_venv_out():
    assert {".env", ".venv", ".git"} <= set(IGNORED)


# ------------------------------------------------------------------ docker-compose config


def test_docker_compose_config_is_valid():
    binary = shutil.which("docker-compose")
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("docker-compose is not installed; .ci/run must install the Debian package docker-compose")
        pytest.skip("docker-compose binary not installed (Debian package docker-compose)")
    env = {k: v for k, v in os.environ.items() if not re.match(r"(STACK_VERSION|ES_|KIBANA_|MOVIEREC_|SPARK_)", k)}
    done = subprocess.run([binary, "-f", str(COMPOSE_FILE), "config", "-q"], check=False, capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "is not set" not in done.stderr  # every variable has a default
