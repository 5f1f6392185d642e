"""movierec service: the Flask-Smorest recommendation API over Elasticsearch.

`create_app(config)` builds an app: defaults, then the environment, then
`config` last. The Elasticsearch client is created in `store.init_app` and
read back with `store.client()`; nothing connects at import time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from service import apidocs, config, errors, limits, store, web


def create_app(settings: Mapping[str, Any] | None = None) -> Flask:
    """The API app; `settings` (e.g. ES_URL, INDEX_PREFIX, ES_REQUEST_TIMEOUT) override everything else."""
    from pipeline.es import install_log_redaction
    from service.views import BLUEPRINTS

    install_log_redaction()  # ES_URL may carry a password
    app = Flask(__name__, static_folder=None)  # the page's files: only under /ui/, with its headers (web.py)
    app.config.from_mapping(config.DEFAULTS)
    app.config["API_SPEC_OPTIONS"] = config.API_SPEC_OPTIONS
    app.config.from_mapping(config.from_environ())
    if settings:
        app.config.from_mapping(settings)
    store.init_app(app)
    limits.init_app(app)
    apidocs.init_app(app)
    web.init_app(app)  # the page for people at / (a Flask blueprint: not in the OpenAPI spec)
    app.json.sort_keys = False  # keep schema order in answers
    api = errors.ServiceApi(app)
    for blueprint in BLUEPRINTS:
        api.register_blueprint(blueprint)
    errors.register_error_handlers(app)
    return app
