"""All Elasticsearch I/O of the service: one client per app, thin calls over built bodies.

The client is created in `init_app` and kept in `app.extensions["elasticsearch"]`;
`client()` is the one accessor. Bodies come from `service.queries`; this module
only sends them, so tests can monkeypatch I/O here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from elastic_transport import TransportError
from elasticsearch import ApiError, Elasticsearch, NotFoundError, helpers
from flask import Flask, current_app, g, has_request_context
from werkzeug.wrappers import Response

from es_mappings import alias_name, run_id_of
from pipeline.es import check_version
from service.errors import DeadlineExceeded, IndexMissing

log = logging.getLogger(__name__)
EXTENSION = "elasticsearch"
VERSION = "elasticsearch.version"  # the cluster's version once checked (None: not reachable yet)
VERSION_CHECK_TIMEOUT_S = 2.0
_CALL_TIMEOUT = "elasticsearch.request_timeout"
ANSWER_RESERVE_S = 0.1  # of a request's deadline, kept for answering after its last Elasticsearch call
T = TypeVar("T")
_MISSING = object()


def client_options_for(config: Mapping[str, Any]) -> dict[str, Any]:
    """`Elasticsearch(...)` keyword arguments: the environment's, then ES_URL / ES_REQUEST_TIMEOUT overrides."""
    opts = dict(config.get("ES_CLIENT_OPTIONS") or {})
    if config.get("ES_URL"):
        opts["hosts"] = [config["ES_URL"]]
    if config.get("ES_REQUEST_TIMEOUT") is not None:
        opts["request_timeout"] = float(config["ES_REQUEST_TIMEOUT"])
    opts.setdefault("max_retries", int(config.get("ES_MAX_RETRIES", 1)))
    opts.setdefault("retry_on_timeout", False)
    return opts


def init_app(app: Flask) -> None:
    """Create the app's client, check the cluster's version, and time requests.

    A cluster outside pipeline.es.SUPPORTED_ES_VERSIONS stops the app here (UnsupportedVersion, naming
    the version found and the one needed); one not reachable yet is checked on its first answer.
    """
    options = client_options_for(app.config)
    app.extensions[EXTENSION] = Elasticsearch(**options)
    app.extensions[_CALL_TIMEOUT] = options.get("request_timeout")
    app.extensions[VERSION] = None
    _check_version(app)
    app.before_request(_start_clock)
    app.after_request(_server_timing)


def _check_version(app: Flask) -> None:
    """Record the cluster's version, raising UnsupportedVersion outside the supported range."""
    es: Elasticsearch = app.extensions[EXTENSION]
    try:
        number = es.options(request_timeout=VERSION_CHECK_TIMEOUT_S, max_retries=0).info()["version"]["number"]
    except (TransportError, ApiError) as exc:
        log.warning("Elasticsearch not reachable to check its version (%s); checking on its first answer", exc)
        return
    check_version(number)
    app.extensions[VERSION] = number


def _start_clock() -> None:
    g.started = time.perf_counter()
    g.es_ms, g.es_calls = 0.0, 0


def _timed(call: Callable[[], T]) -> T:
    """Run one Elasticsearch call, adding its wall time to this request's account."""
    started = time.perf_counter()
    try:
        return call()
    finally:
        if "es_ms" in g:
            g.es_ms += (time.perf_counter() - started) * 1000
            g.es_calls += 1


def _server_timing(response: Response) -> Response:
    """`Server-Timing`: time spent waiting on Elasticsearch and in the whole app (W3C Server Timing)."""
    if "started" in g:
        total = (time.perf_counter() - g.started) * 1000
        response.headers["Server-Timing"] = f"es;dur={g.es_ms:.2f};desc=\"{g.es_calls} calls\", app;dur={total:.2f}"
    return response


def client() -> Elasticsearch:
    """The current app's Elasticsearch client (its version checked once the cluster has answered); inside a
    request, one whose timeout is what is left of the request's deadline (REQUEST_DEADLINE_S from its arrival,
    less ANSWER_RESERVE_S to answer), so all calls of one request share one budget and even a 504 leaves before
    the deadline.

    Raises DeadlineExceeded (a 504) when nothing is left.
    """
    if current_app.extensions.get(VERSION) is None:
        _check_version(current_app)
    es: Elasticsearch = current_app.extensions[EXTENSION]
    if not has_request_context() or "started" not in g:
        return es
    deadline = float(current_app.config["REQUEST_DEADLINE_S"])
    left = deadline - ANSWER_RESERVE_S - (time.perf_counter() - g.started)
    if left <= 0:
        raise DeadlineExceeded(deadline)
    configured = current_app.extensions.get(_CALL_TIMEOUT)
    return es.options(request_timeout=left if configured is None else min(left, float(configured)))


def index_of(kind: str) -> str:
    """The alias the service reads and writes for `kind` (movies, users, ratings, runs)."""
    return alias_name(current_app.config["INDEX_PREFIX"], kind)


def _index_missing(exc: NotFoundError) -> bool:
    error = exc.body.get("error") if isinstance(exc.body, dict) else None
    return isinstance(error, dict) and error.get("type") == "index_not_found_exception"


def search(kind: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """Run one search on the alias of `kind`; the raw response body."""
    return _timed(lambda: client().search(index=index_of(kind), body=dict(body))).body


def get(kind: str, doc_id: int | str, *, vectors: bool = False) -> dict[str, Any] | None:
    """One document's `_source` (vectors only when asked), or None when it does not exist."""
    try:
        resp = _timed(lambda: client().get(index=index_of(kind), id=str(doc_id), source_exclude_vectors=not vectors))
    except NotFoundError as exc:
        if _index_missing(exc):
            raise IndexMissing(index_of(kind)) from exc
        return None
    return resp.body["_source"]


def create(kind: str, doc_id: int | str, doc: Mapping[str, Any]) -> None:
    """Index a new document, refusing to overwrite (ConflictError), visible to search on return."""
    _timed(lambda: client().index(index=index_of(kind), id=str(doc_id), document=dict(doc), op_type="create",
                                  refresh="wait_for"))


def put(kind: str, doc_id: int | str, doc: Mapping[str, Any]) -> None:
    """Index (replace) a document, visible to search on return."""
    _timed(lambda: client().index(index=index_of(kind), id=str(doc_id), document=dict(doc), refresh="wait_for"))


def bulk_put(kind: str, docs: Iterable[tuple[str, Mapping[str, Any]]]) -> int:
    """Index (replace) many documents, visible on return; raises BulkIndexError on any refused item."""
    actions = ({"_index": index_of(kind), "_id": doc_id, "_source": dict(doc)} for doc_id, doc in docs)
    ok, _ = _timed(lambda: helpers.bulk(client(), actions, refresh="wait_for", raise_on_error=True))
    return int(ok)


def count(kind: str) -> int:
    """Documents behind the alias of `kind`."""
    return int(_timed(lambda: client().count(index=index_of(kind))).body["count"])


def alias_target(kind: str) -> str | None:
    """The concrete index the alias of `kind` points at, or None when the alias does not exist."""
    try:
        resp = _timed(lambda: client().indices.get_alias(name=index_of(kind)))
    except NotFoundError:
        return None
    names = sorted(resp.body)
    return names[0] if names else None


def active_run_id() -> str | None:
    """The run whose movies index the movies alias points at (DESIGN: that is the active run)."""
    target = alias_target("movies")
    return run_id_of(target, current_app.config["INDEX_PREFIX"], "movies") if target else None


def per_active_run(key: str, build: Callable[[], T]) -> T:
    """`build()` once per served run, kept in the app under `key` (it only changes when a new run is served)."""
    run_id = active_run_id()
    cache: dict[str | None, Any] = current_app.extensions.setdefault(key, {})
    found = cache.get(run_id, _MISSING)  # one lookup: another thread may clear the cache meanwhile
    if found is not _MISSING:
        return found
    value = build()
    cache.clear()  # an older run's value is never served again
    cache[run_id] = value
    return value


def server_info() -> dict[str, Any]:
    """Cluster name and version (a cheap reachability probe)."""
    return _timed(lambda: client().info()).body
