"""`movierec serve`, the WSGI entry point and the gunicorn settings."""

from __future__ import annotations

import importlib
import runpy
from pathlib import Path

import pytest
from flask import Flask

from pipeline.cli import build_parser
from service import commands

CONF = Path(__file__).resolve().parents[2] / "service" / "gunicorn_conf.py"


def test_serve_builds_the_app_and_runs_it(monkeypatch):
    seen = {}

    def fake_run(self, **kwargs):
        seen.update(kwargs, es_url=self.config["ES_URL"], prefix=self.config["INDEX_PREFIX"], debug=self.debug)

    monkeypatch.setattr(Flask, "run", fake_run)
    args = build_parser().parse_args(["serve", "--host", "0.0.0.0", "--port", "5055", "--es-url", "http://es:9200",
                                      "--prefix", "demo"])
    assert args.func is commands.serve
    assert args.func(args) == 0
    assert seen == {"host": "0.0.0.0", "port": 5055, "debug": False, "use_reloader": False, "threaded": True,
                    "es_url": "http://es:9200", "prefix": "demo"}


def test_wsgi_app_reads_the_environment(monkeypatch):
    monkeypatch.setenv("MOVIEREC_INDEX_PREFIX", "fromenv")
    import service.wsgi

    module = importlib.reload(service.wsgi)
    assert module.app.config["INDEX_PREFIX"] == "fromenv" and module.app.debug is False


def test_gunicorn_settings_from_environment(monkeypatch):
    for name in ("GUNICORN_THREADS", "GUNICORN_TIMEOUT", "GUNICORN_READ_TIMEOUT", "MOVIEREC_REQUEST_DEADLINE_S"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    monkeypatch.setenv("PORT", "8080")
    monkeypatch.setenv("GUNICORN_ACCESS_LOG", "")
    conf = runpy.run_path(str(CONF))
    assert conf["workers"] == 3 and conf["bind"] == "0.0.0.0:8080" and conf["accesslog"] is None
    assert conf["worker_class"] == "gthread" and conf["threads"] == 4 and conf["timeout"] == 30
    assert conf["read_timeout"] == 10.0 and conf["deadline"] == 5.0 and conf["control_socket_disable"] is True
    assert (conf["limit_request_line"], conf["limit_request_fields"], conf["limit_request_field_size"]) == (8190, 100, 8190)
    monkeypatch.delenv("WEB_CONCURRENCY")
    monkeypatch.setenv("GUNICORN_THREADS", "8")
    monkeypatch.setenv("GUNICORN_READ_TIMEOUT", "2.5")
    conf = runpy.run_path(str(CONF))
    assert conf["workers"] >= 3 and conf["threads"] == 8 and conf["read_timeout"] == 2.5


def test_gunicorn_refuses_a_deadline_that_a_worker_timeout_would_cut(monkeypatch):
    monkeypatch.setenv("GUNICORN_TIMEOUT", "20")
    monkeypatch.setenv("MOVIEREC_REQUEST_DEADLINE_S", "25")
    with pytest.raises(ValueError, match=r"MOVIEREC_REQUEST_DEADLINE_S \(25\) must be below GUNICORN_TIMEOUT \(20\)"):
        runpy.run_path(str(CONF))
