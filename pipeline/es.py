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

import logging
import os
import re
from collections.abc import Mapping
from typing import Any

from elasticsearch import Elasticsearch

DEFAULT_URL = "http://localhost:9200"
_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<password>[^@/\s]*)@")

# The Elasticsearch versions movierec runs against. The lower bound is where vectors are left out of
# `_source` and the `exclude_vectors` source option (`_source_exclude_vectors`) that asks for them back
# exists: 9.2 (Elastic, "Lighter by default: Excluding vectors from source", search-labs blog;
# changelog PR 131907 "Enable exclude_source_vectors by default for new indices"). The upper bound is
# the client's major: elasticsearch-py 9.x speaks `compatible-with=9`.
MIN_ES_VERSION = (9, 2, 0)
MAX_ES_VERSION_EXCLUSIVE = (10, 0, 0)
SUPPORTED_ES_VERSIONS = ">= 9.2.0, < 10.0.0"


class UnsupportedVersion(RuntimeError):
    """The cluster's version is outside SUPPORTED_ES_VERSIONS (carries what was found)."""

    def __init__(self, found: str) -> None:
        super().__init__(
            f"Elasticsearch {found} found; movierec needs Elasticsearch {SUPPORTED_ES_VERSIONS} "
            f"(9.2 added the `exclude_vectors` source option movierec uses to leave vectors out of _source)"
        )
        self.found = found


def check_version(number: str) -> tuple[int, int, int]:
    """The cluster version `number` ("9.2.1", "9.3.0-SNAPSHOT") as a tuple; UnsupportedVersion outside the range."""
    parts = [int(p) for p in re.findall(r"\d+", number)[:3]]
    if len(parts) < 2:
        raise UnsupportedVersion(number)
    version = (parts + [0, 0])[:3]
    found = (version[0], version[1], version[2])
    if not MIN_ES_VERSION <= found < MAX_ES_VERSION_EXCLUSIVE:
        raise UnsupportedVersion(number)
    return found

_FALSE = {"0", "false", "no", "off"}


def redact_url(text: str) -> str:
    """`text` with the password of every `scheme://user:password@host` in it replaced by `***`.

    Use it on anything logged or printed that may hold a URL given by the user (ES_URL, --es-url,
    KIBANA_URL, and error messages that repeat them).
    """
    return _CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:***@", str(text))


def install_log_redaction() -> None:
    """Mask URL passwords in every log record this process makes from now on, whatever logs it (idempotent).

    A log record factory (not a handler filter) so records of every logger and every handler are covered,
    gunicorn's and Spark's Python side included.
    """
    factory = logging.getLogRecordFactory()
    if getattr(factory, "redacts_urls", False):
        return

    def make_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed call: leave it to logging's own error report
            return record
        clean = redact_url(message)
        if clean != message:
            record.msg, record.args = clean, ()
        return record

    make_record.redacts_urls = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(make_record)


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
