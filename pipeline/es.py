"""The Elasticsearch client, configured from the environment at call time.

Environment (all optional):
  ES_URL              cluster URL (default http://localhost:9200)
  ES_API_KEY          API key (base64 "id:key" form), preferred over basic auth
  ES_USERNAME / ES_PASSWORD   basic auth
  ES_CA_CERTS         path to a CA bundle for TLS
  ES_VERIFY_CERTS     "false" to turn certificate verification off (default true)
  ES_REQUEST_TIMEOUT  seconds per request (default 30)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from elasticsearch import Elasticsearch

DEFAULT_URL = "http://localhost:9200"

_FALSE = {"0", "false", "no", "off"}


def client_options(url: str | None = None, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Keyword arguments for `Elasticsearch(...)` from `environ` (default `os.environ`).

    Returned as a plain dict so Spark executors can rebuild the client from it.
    """
    env = os.environ if environ is None else environ
    opts: dict[str, Any] = {
        "hosts": [url or env.get("ES_URL") or DEFAULT_URL],
        "request_timeout": float(env.get("ES_REQUEST_TIMEOUT", "30")),
    }
    if env.get("ES_API_KEY"):
        opts["api_key"] = env["ES_API_KEY"]
    elif env.get("ES_USERNAME"):
        opts["basic_auth"] = (env["ES_USERNAME"], env.get("ES_PASSWORD", ""))
    if env.get("ES_CA_CERTS"):
        opts["ca_certs"] = env["ES_CA_CERTS"]
    if env.get("ES_VERIFY_CERTS", "").strip().lower() in _FALSE:
        opts["verify_certs"] = False
        opts["ssl_show_warn"] = False
    return opts


def client_from_env(url: str | None = None, environ: Mapping[str, str] | None = None, **overrides: Any) -> Elasticsearch:
    """An `Elasticsearch` client for `url` (or `$ES_URL`), credentials from the environment."""
    opts = client_options(url, environ)
    opts.update(overrides)
    return Elasticsearch(**opts)
