"""`movierec serve`, the WSGI entry point and the gunicorn settings."""

from __future__ import annotations

import importlib
import runpy
from pathlib import Path

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
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    monkeypatch.setenv("PORT", "8080")
    monkeypatch.setenv("GUNICORN_ACCESS_LOG", "")
    conf = runpy.run_path(str(CONF))
    assert conf["workers"] == 3 and conf["bind"] == "0.0.0.0:8080" and conf["accesslog"] is None
    assert conf["worker_class"] == "sync" and conf["timeout"] == 60 and conf["limit_request_line"] == 8190
    monkeypatch.delenv("WEB_CONCURRENCY")
    monkeypatch.setenv("GUNICORN_THREADS", "4")
    conf = runpy.run_path(str(CONF))
    assert conf["workers"] >= 3 and conf["worker_class"] == "gthread" and conf["threads"] == 4
