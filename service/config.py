"""Configuration: defaults, then the environment; `create_app` applies a caller's mapping last.

Every key can be given in the mapping passed to `service.create_app`; the
environment variables read here are the ones the compose stack sets.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from es_mappings import DEFAULT_PREFIX
from pipeline.es import client_options

SWAGGER_UI_CDN = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/"

DEFAULTS: dict[str, Any] = {
    "DEBUG": False,
    "TESTING": False,
    # Elasticsearch. ES_CLIENT_OPTIONS comes from the environment (pipeline.es);
    # ES_URL / ES_REQUEST_TIMEOUT, when set, override its hosts / timeout.
    "ES_URL": None,
    "ES_REQUEST_TIMEOUT": None,
    "ES_MAX_RETRIES": 1,
    "INDEX_PREFIX": DEFAULT_PREFIX,
    # Seconds a client is told to wait (Retry-After) when Elasticsearch is unreachable.
    "RETRY_AFTER_S": 10,
    # Seconds one request may spend, counted from its arrival: every Elasticsearch call of the request gets
    # what is left as its timeout, so a slow cluster is a JSON 504 (keep it below gunicorn's timeout).
    "REQUEST_DEADLINE_S": 5.0,
    # Request limits, checked before any work: body bytes (413) and JSON nesting depth (400).
    "MAX_BODY_BYTES": 64 * 1024,
    "MAX_JSON_DEPTH": 16,
    # Seconds the active run record (model meta, Gramian) is kept before it is read again.
    "RUN_CACHE_TTL_S": 30.0,
    # Ratings scale of the dataset (MovieLens: 0.5..5); fold-in treats a liked movie as RATING_MAX.
    "RATING_MIN": 0.5,
    "RATING_MAX": 5.0,
    # OpenAPI / docs (flask-smorest).
    "API_TITLE": "movierec",
    "API_VERSION": "1.0",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/",
    "OPENAPI_JSON_PATH": "openapi.json",
    "OPENAPI_SWAGGER_UI_PATH": "/docs",
    "OPENAPI_SWAGGER_UI_URL": None,  # None: bundled assets when swagger-ui-bundle is installed, else the CDN
    "OPENAPI_REDOC_PATH": "/redoc",
    "OPENAPI_REDOC_URL": None,  # None: the vendored bundle (service/static/vendor, see service.apidocs)
}

API_SPEC_OPTIONS: dict[str, Any] = {
    "info": {
        "description": (
            "Movie recommendations served from Elasticsearch: ALS factor vectors in dense_vector fields, "
            "every recommendation one kNN or script_score query. Errors share one body: "
            "`{code, status, message, errors}`."
        ),
        "license": {"name": "Apache-2.0"},
    },
}


def from_environ(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The settings the environment gives (ES_* via `pipeline.es.client_options`, MOVIEREC_*)."""
    env = os.environ if environ is None else environ
    out: dict[str, Any] = {"ES_CLIENT_OPTIONS": client_options(None, env)}
    if env.get("MOVIEREC_INDEX_PREFIX"):
        out["INDEX_PREFIX"] = env["MOVIEREC_INDEX_PREFIX"]
    if env.get("MOVIEREC_RETRY_AFTER_S"):
        out["RETRY_AFTER_S"] = int(env["MOVIEREC_RETRY_AFTER_S"])
    if env.get("MOVIEREC_RUN_CACHE_TTL_S"):
        out["RUN_CACHE_TTL_S"] = float(env["MOVIEREC_RUN_CACHE_TTL_S"])
    if env.get("MOVIEREC_REQUEST_DEADLINE_S"):
        out["REQUEST_DEADLINE_S"] = float(env["MOVIEREC_REQUEST_DEADLINE_S"])
    if env.get("MOVIEREC_MAX_BODY_BYTES"):
        out["MAX_BODY_BYTES"] = int(env["MOVIEREC_MAX_BODY_BYTES"])
    return out
