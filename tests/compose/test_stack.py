"""The rehearsal's pieces: finding the variables code reads, the start order, what the image gives a container."""

from __future__ import annotations

import pytest

from tests.compose import rehearsal, stack

SOURCE = '''
import os

def options(environ=None):
    env = os.environ if environ is None else environ
    url = env.get("ES_URL") or "http://localhost:9200"
    if env["ES_API_KEY"]:
        pass
    if "PYSPARK_GATEWAY_PORT" not in os.environ:
        pass
    timeout = os.getenv("GUNICORN_TIMEOUT", "60")
    os.environ["WRITTEN"] = "x"          # a write, not a read
    other = {"NOT_ENV": 1}.get("NOT_ENV")  # another mapping
    return url, timeout, env.get(name_in_a_variable)
'''


def test_env_reads_finds_gets_subscripts_membership_and_getenv():
    assert stack.env_reads(SOURCE) == {"ES_URL", "ES_API_KEY", "PYSPARK_GATEWAY_PORT", "GUNICORN_TIMEOUT"}


def test_the_code_reads_the_connection_settings_compose_must_pass():
    reads = stack.code_env_reads(sorted((stack.ROOT / "pipeline").rglob("*.py")))
    assert reads["ES_CA_CERTS"] == {"pipeline/es.py"}
    assert reads["KIBANA_SPACE"] == {"pipeline/kibana.py"}


def _svc(name, **spec):
    return stack.Service(name, spec)


def test_start_order_puts_dependencies_first_and_refuses_cycles():
    svcs = {
        "api": _svc("api", depends_on={"es": {"condition": "service_healthy"}, "setup": {"condition": "service_completed_successfully"}}),
        "setup": _svc("setup", depends_on={"es": {"condition": "service_healthy"}}),
        "es": _svc("es"),
    }
    assert stack.start_order(svcs) == ["es", "setup", "api"]
    svcs["es"] = _svc("es", depends_on={"api": {"condition": "service_started"}})
    with pytest.raises(ValueError, match="dependency cycle: api -> es -> api"):
        stack.start_order(svcs)


def test_image_defaults_come_from_the_dockerfile():
    image = stack.image_defaults()
    assert image.workdir == "/app"
    assert image.env["PYSPARK_PYTHON"] == "python3" and image.env["PYTHONUNBUFFERED"] == "1"
    assert image.workdir_copies == ["scripts", "kibana_saved_objects"]


def test_required_variables_by_service_kind():
    reads = {"ES_URL": {"pipeline/es.py"}, "GUNICORN_TIMEOUT": {"service/gunicorn_conf.py"}, "PORT": {"service/gunicorn_conf.py"}}
    api = _svc("api", image="movierec:local", command=["gunicorn", "service.wsgi:app"])
    setup = _svc("setup", image="movierec:local", command=["movierec", "bootstrap"])
    master = _svc("spark-master", image="movierec:local", command=["spark-class", "org.apache.spark.deploy.master.Master"])
    es = _svc("elasticsearch", image="docker.elastic.co/elasticsearch/elasticsearch:9.5.6")
    assert set(rehearsal.required_variables(api, reads)) == {"ES_URL", "GUNICORN_TIMEOUT"}  # PORT: the command binds
    assert set(rehearsal.required_variables(setup, reads)) == {"ES_URL"}
    assert rehearsal.required_variables(master, reads) == {}
    assert rehearsal.required_variables(es, reads) == {}


def test_environment_problems_name_a_missing_variable_a_leak_and_tls_on_http():
    image = stack.ImageDefaults(env={}, workdir="/app")
    reads = {"ES_URL": {"pipeline/es.py"}, "KIBANA_SPACE": {"pipeline/kibana.py"}}
    svc = _svc("setup", image="movierec:local", command=["movierec", "bootstrap"],
               environment={"ES_URL": "http://elasticsearch:9200", "ES_CA_CERTS": f"/home/{rehearsal.LEAK}/ca.crt"})
    assert rehearsal.environment_problems({"setup": svc}, image, reads) == [
        "setup: its code reads KIBANA_SPACE (pipeline/kibana.py), compose does not pass it",
        "setup: the user's shell leaks into ES_CA_CERTS",
        "setup: TLS options ['ca_certs'] for the http URL http://elasticsearch:9200 (the client refuses them)",
    ]
