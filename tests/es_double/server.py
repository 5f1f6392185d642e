"""The HTTP server: routing, media types, headers, error bodies, fault hooks.

Speaks HTTP/1.1 with keep-alive on a loopback port. Every response carries
`X-Elastic-Product: Elasticsearch` (the official client refuses 2xx answers without it);
requests may use `application/json`, `application/x-ndjson` or the compatible media types
`application/vnd.elasticsearch+json; compatible-with=8|9` (and `+x-ndjson`); a response uses
the compatible type when the request's `Accept` asked for it, like Elasticsearch's
RestController (https://www.elastic.co/docs/reference/elasticsearch/rest-apis/compatibility).
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from tests.es_double import errors as E
from tests.es_double import scroll
from tests.es_double.analyzers import analyze_request
from tests.es_double.errors import EsError
from tests.es_double.faults import FaultState
from tests.es_double.jsonloc import token_name
from tests.es_double.mapping import Mapping, merge_mapping_update
from tests.es_double.search import check_params, execute_count, execute_search
from tests.es_double.segment import Segment
from tests.es_double.source_filter import parse_body_source, parse_url_source
from tests.es_double.store import Cluster, IndexState, parse_index_settings

log = logging.getLogger(__name__)

STACK_VERSION_FALLBACK = "9.5.6"
# The Lucene release bundled with the pinned stack; elastic/elasticsearch
# build-tools-internal/version.properties lists lucene = 10.4.0 for the 9.4 line, the newest
# line whose file could be checked.
LUCENE_VERSION = "10.4.0"
MINIMUM_WIRE_COMPATIBILITY_VERSION = "8.19.0"
MINIMUM_INDEX_COMPATIBILITY_VERSION = "8.0.0"

_COMPAT = re.compile(r"application/vnd\.elasticsearch\+(json|x-ndjson)\s*;\s*compatible-with\s*=\s*(\d+)", re.I)
_COMMON_PARAMS = {"error_trace", "human", "pretty", "filter_path"}


def stack_version() -> str:
    try:
        from es_mappings import STACK_VERSION

        return STACK_VERSION
    except ImportError:
        return STACK_VERSION_FALLBACK


def _dumps(obj: Any, pretty: bool = False) -> bytes:
    if pretty:
        return json.dumps(obj, indent=2, ensure_ascii=False).encode("utf-8") + b"\n"
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class Response:
    """Status, JSON body (None for HEAD-style answers) and extra headers."""

    __slots__ = ("status", "body", "headers", "raw")

    def __init__(
        self, status: int, body: Any = None, headers: dict[str, str] | None = None, raw: bytes | None = None
    ) -> None:
        self.status = status
        self.body = body
        self.headers = headers or {}
        self.raw = raw


class Request:
    """A parsed HTTP request."""

    def __init__(self, method: str, path: str, params: dict[str, str], body: bytes, headers: Any) -> None:
        self.method = method
        self.path = path
        self.params = params
        self.raw = body
        self.headers = headers
        self._json: Any = None
        self._parsed = False

    def json(self, required: bool = False) -> Any:
        """The JSON body (None when empty); malformed JSON is Elasticsearch's parse error."""
        if not self._parsed:
            self._parsed = True
            if self.raw.strip():
                text = self.raw.decode("utf-8", errors="replace")
                try:
                    self._json = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise EsError(
                        400,
                        "x_content_parse_exception",
                        f"[{exc.lineno}:{exc.colno}] {exc.msg}",
                        caused_by=EsError(400, "json_parse_exception", exc.msg),
                    ) from None
        if required and self._json is None:
            raise EsError(400, "parse_exception", "request body is required")
        return self._json

    def text(self) -> str:
        return self.raw.decode("utf-8", errors="replace")


Handler = Callable[["EsApp", Request, list[str]], Response]


class EsApp:
    """Routes requests to the cluster."""

    def __init__(self, cluster: Cluster, faults: FaultState) -> None:
        self.cluster = cluster
        self.faults = faults
        self.reported_version: str | None = None  # `GET /` version.number (None: the pinned stack version)
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._register()

    # ------------------------------------------------------------------ routing
    def route(self, methods: str, pattern: str, handler: Handler) -> None:
        rx = re.compile("^" + re.sub(r"\{(\w+)\}", r"([^/]+)", pattern) + "/?$")
        for method in methods.split(","):
            self.routes.append((method, rx, handler))

    def _register(self) -> None:
        r = self.route
        r("GET,HEAD", "/", EsApp.info)
        r("GET", "/_cluster/health", EsApp.cluster_health)
        r("GET", "/_cluster/health/{index}", EsApp.cluster_health)
        r("GET", "/_cat/indices", EsApp.cat_indices)
        r("GET", "/_cat/indices/{index}", EsApp.cat_indices)
        r("POST", "/_aliases", EsApp.update_aliases)
        r("GET", "/_aliases", EsApp.get_alias)
        r("GET,HEAD", "/_alias", EsApp.get_alias)
        r("GET,HEAD", "/_alias/{name}", EsApp.get_alias)
        r("GET,HEAD", "/{index}/_alias", EsApp.get_alias)
        r("GET,HEAD", "/{index}/_alias/{name}", EsApp.get_alias)
        r("GET", "/{index}/_aliases", EsApp.get_alias)
        r("PUT,POST", "/{index}/_alias/{name}", EsApp.put_alias)
        r("PUT,POST", "/{index}/_aliases/{name}", EsApp.put_alias)
        r("DELETE", "/{index}/_alias/{name}", EsApp.delete_alias)
        r("DELETE", "/{index}/_aliases/{name}", EsApp.delete_alias)
        r("POST,GET", "/_refresh", EsApp.refresh)
        r("POST,GET", "/{index}/_refresh", EsApp.refresh)
        r("GET", "/_mapping", EsApp.get_mapping)
        r("GET", "/{index}/_mapping", EsApp.get_mapping)
        r("PUT,POST", "/{index}/_mapping", EsApp.put_mapping)
        r("GET", "/_settings", EsApp.get_settings)
        r("GET", "/{index}/_settings", EsApp.get_settings)
        r("PUT", "/{index}/_settings", EsApp.put_settings)
        r("POST,PUT", "/_bulk", EsApp.bulk)
        r("POST,PUT", "/{index}/_bulk", EsApp.bulk)
        r("GET,POST", "/_mget", EsApp.mget)
        r("GET,POST", "/{index}/_mget", EsApp.mget)
        r("GET,POST", "/_search/scroll", EsApp.scroll)
        r("GET,POST", "/_search/scroll/{scroll_id}", EsApp.scroll)
        r("DELETE", "/_search/scroll", EsApp.clear_scroll)
        r("DELETE", "/_search/scroll/{scroll_id}", EsApp.clear_scroll)
        r("GET,POST", "/_search", EsApp.search)
        r("GET,POST", "/{index}/_search", EsApp.search)
        r("GET,POST", "/_analyze", EsApp.analyze)
        r("GET,POST", "/{index}/_analyze", EsApp.analyze)
        r("GET,POST", "/_count", EsApp.count)
        r("GET,POST", "/{index}/_count", EsApp.count)
        r("PUT,POST", "/{index}/_doc/{id}", EsApp.index_doc)
        r("POST", "/{index}/_doc", EsApp.index_doc_auto_id)
        r("PUT,POST", "/{index}/_create/{id}", EsApp.create_doc)
        r("GET,HEAD", "/{index}/_doc/{id}", EsApp.get_doc)
        r("GET,HEAD", "/{index}/_source/{id}", EsApp.get_source)
        r("DELETE", "/{index}/_doc/{id}", EsApp.delete_doc)
        r("POST", "/{index}/_update/{id}", EsApp.update_doc)
        r("PUT", "/{index}", EsApp.create_index)
        r("DELETE", "/{index}", EsApp.delete_index)
        r("HEAD", "/{index}", EsApp.index_exists)
        r("GET", "/{index}", EsApp.get_index)

    def dispatch(self, request: Request) -> Response:
        error = self.faults.next_error(request.method, request.path)
        if error is not None:
            return _error_response(error, request.method)
        segments_path = request.path
        for method, rx, handler in self.routes:
            match = rx.match(segments_path)
            if match is None:
                continue
            if method != request.method:
                continue
            args = [unquote(g) for g in match.groups()]
            if any(a.startswith("_") for a in args[:1]) and handler in (
                EsApp.create_index,
                EsApp.delete_index,
                EsApp.index_exists,
                EsApp.get_index,
            ):
                break
            try:
                return handler(self, request, args)
            except EsError as exc:
                return _error_response(exc, request.method)
        allowed = sorted({m for m, rx, _ in self.routes if rx.match(segments_path)})
        if allowed and request.method not in allowed:
            body = {
                "error": f"Incorrect HTTP method for uri [{request.path}] and method [{request.method}], "
                f"allowed: [{', '.join(allowed)}]",
                "status": 405,
            }
            return Response(405, body if request.method != "HEAD" else None)
        return _error_response(E.unsupported(f"endpoint [{request.method} {request.path}]"), request.method)

    # ------------------------------------------------------------------ cluster
    def info(self, request: Request, args: list[str]) -> Response:
        body = {
            "name": "es-double",
            "cluster_name": "es-test-double",
            "cluster_uuid": self.cluster.cluster_uuid,
            "version": {
                "number": self.reported_version or stack_version(),
                "build_flavor": "default",
                "build_type": "docker",
                "build_hash": "0" * 40,
                "build_date": "2026-01-01T00:00:00.000000000Z",
                "build_snapshot": False,
                "lucene_version": LUCENE_VERSION,
                "minimum_wire_compatibility_version": MINIMUM_WIRE_COMPATIBILITY_VERSION,
                "minimum_index_compatibility_version": MINIMUM_INDEX_COMPATIBILITY_VERSION,
            },
            "tagline": "You Know, for Search",
        }
        return Response(200, body)

    def cluster_health(self, request: Request, args: list[str]) -> Response:
        with self.cluster.lock:
            indices = self.cluster.resolve(args[0]) if args else list(self.cluster.indices.values())
            unassigned = sum(i.number_of_replicas * i.number_of_shards for i in indices)
            primaries = sum(i.number_of_shards for i in indices)
        status = "yellow" if unassigned else "green"
        wanted = request.params.get("wait_for_status")
        order = {"green": 0, "yellow": 1, "red": 2}
        timed_out = wanted is not None and order.get(status, 2) > order.get(wanted, 2)
        body = {
            "cluster_name": "es-test-double",
            "status": status,
            "timed_out": timed_out,
            "number_of_nodes": 1,
            "number_of_data_nodes": 1,
            "active_primary_shards": primaries,
            "active_shards": primaries,
            "relocating_shards": 0,
            "initializing_shards": 0,
            "unassigned_shards": unassigned,
            "unassigned_primary_shards": 0,
            "delayed_unassigned_shards": 0,
            "number_of_pending_tasks": 0,
            "number_of_in_flight_fetch": 0,
            "task_max_waiting_in_queue_millis": 0,
            "active_shards_percent_as_number": 100.0
            if not unassigned
            else 100.0 * primaries / (primaries + unassigned),
        }
        return Response(408 if timed_out else 200, body)

    def cat_indices(self, request: Request, args: list[str]) -> Response:
        if request.params.get("format") != "json":
            raise E.unsupported("_cat output other than format=json")
        with self.cluster.lock:
            indices = self.cluster.resolve(args[0] if args else None)
            rows = []
            for idx in indices:
                rows.append(
                    {
                        "health": "yellow" if idx.number_of_replicas else "green",
                        "status": "open",
                        "index": idx.name,
                        "uuid": idx.uuid,
                        "pri": str(idx.number_of_shards),
                        "rep": str(idx.number_of_replicas),
                        "docs.count": str(idx.segment.n),
                        "docs.deleted": "0",
                        "store.size": f"{max(1, idx.segment.n)}kb",
                        "pri.store.size": f"{max(1, idx.segment.n)}kb",
                        "dataset.size": f"{max(1, idx.segment.n)}kb",
                    }
                )
        return Response(200, rows)

    # ------------------------------------------------------------------ indices
    def create_index(self, request: Request, args: list[str]) -> Response:
        check_params(
            request.params, _COMMON_PARAMS | {"wait_for_active_shards", "timeout", "master_timeout"}, request.path
        )
        return Response(200, self.cluster.create_index(args[0], request.json()))

    def delete_index(self, request: Request, args: list[str]) -> Response:
        check_params(
            request.params,
            _COMMON_PARAMS
            | {"ignore_unavailable", "allow_no_indices", "expand_wildcards", "timeout", "master_timeout"},
            request.path,
        )
        return Response(200, self.cluster.delete_indices(args[0], request.params))

    def index_exists(self, request: Request, args: list[str]) -> Response:
        with self.cluster.lock:
            try:
                found = self.cluster.resolve(args[0], allow_no_indices=False)
            except EsError:
                found = []
        return Response(200 if found else 404)

    def get_index(self, request: Request, args: list[str]) -> Response:
        with self.cluster.lock:
            indices = self.cluster.resolve(
                args[0], ignore_unavailable=request.params.get("ignore_unavailable") == "true"
            )
            out = {
                idx.name: {
                    "aliases": {a: info.to_json() for a, info in sorted(idx.aliases.items())},
                    "mappings": idx.mapping.to_json(),
                    "settings": idx.settings_json(),
                }
                for idx in indices
            }
        return Response(200, out)

    def get_mapping(self, request: Request, args: list[str]) -> Response:
        with self.cluster.lock:
            indices = self.cluster.resolve(args[0] if args else None)
            out = {idx.name: {"mappings": idx.mapping.to_json()} for idx in indices}
        return Response(200, out)

    def put_mapping(self, request: Request, args: list[str]) -> Response:
        """`PUT /<index>/_mapping`: the body merged into each named index's mapping, all or none
        (see mapping.merge_mapping_update); existing documents keep the values they were indexed with."""
        body = request.json(required=True)
        with self.cluster.lock:
            indices = self.cluster.resolve(args[0], allow_no_indices=False)
            updated = []
            for idx in indices:
                merged = merge_mapping_update(idx.mapping.to_json(), body)
                updated.append((idx, Mapping(merged, idx.mapping.analysis)))
            for idx, mapping in updated:
                idx.mapping = mapping
                idx.segment = Segment(idx.segment.docs, mapping)  # the searchable view, under the new mapping
        return Response(200, {"acknowledged": True})

    def get_settings(self, request: Request, args: list[str]) -> Response:
        with self.cluster.lock:
            indices = self.cluster.resolve(args[0] if args else None)
            out = {idx.name: {"settings": idx.settings_json()} for idx in indices}
        return Response(200, out)

    def put_settings(self, request: Request, args: list[str]) -> Response:
        body = request.json(required=True)
        settings = body.get("settings", body) if isinstance(body, dict) else body
        parsed = parse_index_settings(settings)
        dynamic = {
            "index.number_of_replicas",
            "index.refresh_interval",
            "index.max_result_window",
            "index.max_terms_count",
            "index.auto_expand_replicas",
            "index.search.idle.after",
        }
        with self.cluster.lock:
            indices = self.cluster.resolve(args[0])
            static = sorted(k for k in parsed if k not in dynamic)
            if static:
                names = ", ".join(f"[{i.name}/{i.uuid}]" for i in indices)
                raise E.illegal_argument(
                    f"Can't update non dynamic settings [[{', '.join(static)}]] for open indices [{names}]"
                )
            for idx in indices:
                idx.settings.update(parsed)
        return Response(200, {"acknowledged": True})

    def refresh(self, request: Request, args: list[str]) -> Response:
        with self.cluster.lock:
            indices = self.cluster.resolve(
                args[0] if args else None, ignore_unavailable=request.params.get("ignore_unavailable") == "true"
            )
            for idx in indices:
                idx.refresh()
            total = sum(i.number_of_shards * (1 + i.number_of_replicas) for i in indices)
            ok = sum(i.number_of_shards for i in indices)
        return Response(200, {"_shards": {"total": total, "successful": ok, "failed": 0}})

    # ------------------------------------------------------------------ aliases
    def update_aliases(self, request: Request, args: list[str]) -> Response:
        return Response(200, self.cluster.update_aliases(request.json(required=True)))

    def get_alias(self, request: Request, args: list[str]) -> Response:
        index_expr = None
        alias_expr = None
        if request.path.startswith("/_alias"):
            alias_expr = args[0] if args else None
        else:
            index_expr = args[0]
            alias_expr = args[1] if len(args) > 1 else None
        status, body = self.cluster.get_aliases(index_expr, alias_expr)
        if request.method == "HEAD":
            if alias_expr is not None and status == 200 and not body:
                status = 404
            return Response(status)
        return Response(status, body)

    def put_alias(self, request: Request, args: list[str]) -> Response:
        return Response(200, self.cluster.put_alias(args[0], args[1], request.json()))

    def delete_alias(self, request: Request, args: list[str]) -> Response:
        return Response(200, self.cluster.delete_alias(args[0], args[1]))

    # ------------------------------------------------------------------ documents
    _WRITE_PARAMS = _COMMON_PARAMS | {
        "refresh",
        "routing",
        "timeout",
        "wait_for_active_shards",
        "if_seq_no",
        "if_primary_term",
        "op_type",
        "require_alias",
        "pipeline",
        "version",
        "version_type",
        "require_data_stream",
        "include_source_on_error",
        "list_executed_pipelines",
    }

    def _write_params(self, request: Request, extra: frozenset[str] = frozenset()) -> dict[str, Any]:
        check_params(request.params, self._WRITE_PARAMS | extra, request.path)
        p = request.params
        _refuse_params(p, ("pipeline", "version", "version_type"), "write")
        out: dict[str, Any] = {"refresh": _refresh_param(p), "require_alias": p.get("require_alias") == "true"}
        for key in ("if_seq_no", "if_primary_term"):
            if key in p:
                try:
                    out[key] = int(p[key])
                except ValueError:
                    raise E.illegal_argument(f"Failed to parse long parameter [{key}] with value [{p[key]}]") from None
        return out

    def _after_write(
        self, result_idx: IndexState | None, refresh: str, body: dict[str, Any]
    ) -> Callable[[], None] | None:
        """Apply `refresh`; for `wait_for` under the scheduler, the wait to run once the lock is released."""
        if result_idx is None:
            return None
        if refresh == "true":
            result_idx.refresh()
            body["forced_refresh"] = True
        elif refresh == "wait_for":
            return self.cluster.visibility_waiter(result_idx)
        return None

    def index_doc(self, request: Request, args: list[str], op_type: str | None = None) -> Response:
        opts = self._write_params(request)
        op = op_type or request.params.get("op_type", "index")
        if op not in ("index", "create"):
            raise E.illegal_argument(f"opType must be 'create' or 'index', found: [{op}]")
        source = request.json(required=True)
        doc_id = args[1] if len(args) > 1 else None
        with self.cluster.lock:
            result = self.cluster.index_document(
                args[0],
                doc_id,
                source,
                request.raw,
                op_type=op,
                if_seq_no=opts.get("if_seq_no"),
                if_primary_term=opts.get("if_primary_term"),
                require_alias=opts["require_alias"],
            )
            wait = self._after_write(result.index, opts["refresh"], result.body)
        if wait is not None:
            wait()
        return Response(result.status, result.body, {"Location": f"/{result.body['_index']}/_doc/{result.body['_id']}"})

    def index_doc_auto_id(self, request: Request, args: list[str]) -> Response:
        return self.index_doc(request, args)

    def create_doc(self, request: Request, args: list[str]) -> Response:
        return self.index_doc(request, args, op_type="create")

    def delete_doc(self, request: Request, args: list[str]) -> Response:
        opts = self._write_params(request)
        with self.cluster.lock:
            if args[0] not in self.cluster.indices and args[0] not in self.cluster.aliases():
                raise E.index_not_found(args[0])
            result = self.cluster.delete_document(
                args[0], args[1], if_seq_no=opts.get("if_seq_no"), if_primary_term=opts.get("if_primary_term")
            )
            wait = self._after_write(result.index, opts["refresh"], result.body)
        if wait is not None:
            wait()
        return Response(result.status, result.body)

    def update_doc(self, request: Request, args: list[str]) -> Response:
        opts = self._write_params(
            request, frozenset({"retry_on_conflict", "lang", "_source", "_source_includes", "_source_excludes"})
        )
        _refuse_params(request.params, ("_source", "_source_includes", "_source_excludes", "lang"), "update")
        body = request.json(required=True)
        with self.cluster.lock:
            result = self.cluster.update_document(
                args[0],
                args[1],
                body,
                if_seq_no=opts.get("if_seq_no"),
                if_primary_term=opts.get("if_primary_term"),
                require_alias=opts["require_alias"],
            )
            wait = self._after_write(result.index, opts["refresh"], result.body)
        if wait is not None:
            wait()
        return Response(result.status, result.body)

    _GET_PARAMS = _COMMON_PARAMS | {
        "_source",
        "_source_includes",
        "_source_excludes",
        "_source_exclude_vectors",
        "preference",
        "realtime",
        "refresh",
        "routing",
        "stored_fields",
        "version",
        "version_type",
    }

    def get_doc(self, request: Request, args: list[str]) -> Response:
        check_params(request.params, self._GET_PARAMS, request.path)
        _refuse_params(request.params, ("stored_fields", "version", "version_type"), "get")
        spec = parse_url_source(request.params)
        with self.cluster.lock:
            if request.params.get("refresh") == "true":
                self.cluster.resolve_single(args[0]).refresh()
            status, body = self.cluster.get_document(
                args[0], args[1], spec, realtime=request.params.get("realtime", "true") != "false"
            )
        if request.method == "HEAD":
            return Response(status)
        return Response(status, body)

    def get_source(self, request: Request, args: list[str]) -> Response:
        check_params(request.params, self._GET_PARAMS, request.path)
        spec = parse_url_source(request.params)
        with self.cluster.lock:
            status, body = self.cluster.get_document(args[0], args[1], spec)
        if status == 404:
            error = EsError(404, "resource_not_found_exception", f"Document not found [{body['_index']}]/[{args[1]}]")
            return _error_response(error, request.method)
        if request.method == "HEAD":
            return Response(200)
        return Response(200, body.get("_source", {}))

    def mget(self, request: Request, args: list[str]) -> Response:
        check_params(request.params, self._GET_PARAMS, request.path)
        body = request.json(required=True)
        if isinstance(body, dict):
            # MultiGetRequest.add: only the arrays `docs` and `ids` at the top level (so `_source` there is a 400)
            for key, value in body.items():
                if not isinstance(value, list):
                    raise E.parsing_error(f"unexpected token [{token_name(value)}], expected [FIELD_NAME] or [START_ARRAY]")
                if key not in ("docs", "ids"):
                    raise E.parsing_error(f"unknown key [{key}] for a START_ARRAY, expected [docs] or [ids]")
        if not isinstance(body, dict) or not ("docs" in body or "ids" in body):
            raise E.illegal_argument(
                "Unknown key for a START_OBJECT in [_na]" if isinstance(body, dict) else "request body is required"
            )
        default_index = args[0] if args else None
        base_spec = parse_url_source(request.params)
        items: list[tuple[str | None, str, Any]] = []
        if "ids" in body:
            ids = body["ids"]
            if not isinstance(ids, list):
                raise E.illegal_argument("ids must be an array")
            items = [(default_index, str(i), None) for i in ids]
        else:
            for item in body["docs"]:
                if not isinstance(item, dict):
                    raise E.illegal_argument("docs must contain objects")
                items.append((item.get("_index", default_index), str(item.get("_id")), item.get("_source")))
        missing_index = [n for n, (index, _, _) in enumerate(items) if index is None]
        if missing_index:
            raise EsError(
                400,
                "action_request_validation_exception",
                "Validation Failed: "
                + " ".join(f"{k + 1}: index is missing for doc {n};" for k, n in enumerate(missing_index)),
            )
        # realtime=false reads what the last refresh made visible; refresh=true refreshes first
        # (YAML REST test mget/60_realtime_refresh.yml)
        realtime = request.params.get("realtime", "true") != "false"
        docs = []
        with self.cluster.lock:
            if request.params.get("refresh") in ("", "true"):
                for index in sorted({i for i, _, _ in items if i is not None}):
                    try:
                        self.cluster.resolve_single(index).refresh()
                    except EsError:
                        pass  # a missing index is reported per document below
            for index, doc_id, source_opt in items:
                spec = base_spec
                if source_opt is not None:
                    body_spec = parse_body_source(source_opt)
                    if body_spec.exclude_vectors is None:
                        body_spec = dataclasses.replace(body_spec, exclude_vectors=base_spec.exclude_vectors)
                    spec = body_spec
                try:
                    _, doc = self.cluster.get_document(index, doc_id, spec, realtime=realtime)
                except EsError as exc:
                    doc = {"_index": index, "_id": doc_id, "error": {"root_cause": exc.root_causes(), **exc.to_dict()}}
                docs.append(doc)
        return Response(200, {"docs": docs})

    # ------------------------------------------------------------------ bulk
    _BULK_PARAMS = _COMMON_PARAMS | {
        "refresh",
        "routing",
        "timeout",
        "wait_for_active_shards",
        "require_alias",
        "pipeline",
        "_source",
        "_source_includes",
        "_source_excludes",
        "require_data_stream",
        "list_executed_pipelines",
        "include_source_on_error",
    }

    def bulk(self, request: Request, args: list[str]) -> Response:
        from tests.es_double.bulk import run_bulk

        check_params(request.params, self._BULK_PARAMS, request.path)
        _refuse_params(request.params, ("pipeline", "_source", "_source_includes", "_source_excludes"), "bulk")
        raw = run_bulk(
            self.cluster,
            request.raw,
            args[0] if args else None,
            _refresh_param(request.params),
            request.params.get("require_alias") == "true",
        )
        if request.params.get("pretty") in ("", "true"):
            return Response(200, json.loads(raw))
        return Response(200, raw=raw)

    # ------------------------------------------------------------------ search
    def search(self, request: Request, args: list[str]) -> Response:
        if "scroll" in request.params:
            return Response(200, scroll.start(self.cluster, args[0] if args else None, request.json(), request.params, request.path))
        status, body = execute_search(
            self.cluster, args[0] if args else None, request.json(), request.params, request.path
        )
        return Response(status, body)

    def analyze(self, request: Request, args: list[str]) -> Response:
        """`_analyze` (see analyzers.analyze_request); with an index, its analysis settings and fields."""
        body = request.json(required=True)
        if not isinstance(body, dict):
            raise EsError(400, "parse_exception", "request body is required")
        if not args:
            return Response(200, analyze_request(body, None, None))
        with self.cluster.lock:
            indices = self.cluster.resolve(args[0])
            if len(indices) != 1:
                raise E.illegal_argument(f"[{args[0]}] resolves to {len(indices)} indices; _analyze needs one")
            mapping = indices[0].mapping
        def field_params(path: str) -> dict[str, Any] | None:
            spec = mapping.field(path)
            return spec.params if spec is not None and spec.type == "text" else None
        return Response(200, analyze_request(body, mapping.analysis, field_params))

    def scroll(self, request: Request, args: list[str]) -> Response:
        return Response(200, scroll.next_page(self.cluster, request.json(), request.params, args[0] if args else None))

    def clear_scroll(self, request: Request, args: list[str]) -> Response:
        return Response(*scroll.clear(self.cluster, request.json(), request.params, args[0] if args else None))

    def count(self, request: Request, args: list[str]) -> Response:
        return Response(
            200, execute_count(self.cluster, args[0] if args else None, request.json(), request.params, request.path)
        )


def _refuse_params(params: dict[str, str], keys: tuple[str, ...], api: str) -> None:
    """URL parameters Elasticsearch accepts on `api` but the double does not implement."""
    for key in keys:
        if key in params:
            raise E.unsupported(f"{api} parameter [{key}]")


def _refresh_param(params: dict[str, str]) -> str:
    """A write's `refresh`: "true" (also when given bare), "false" or "wait_for"."""
    refresh = params.get("refresh", "false")
    if refresh == "":
        refresh = "true"
    if refresh not in ("true", "false", "wait_for"):
        raise E.illegal_argument(f"Unknown value for refresh: [{refresh}].")
    return refresh


def _error_response(error: EsError, method: str) -> Response:
    if method == "HEAD":
        return Response(error.status)
    headers = {}
    if error.status == 429:
        headers["Retry-After"] = "1"
    return Response(error.status, error.body(), headers)


# ---------------------------------------------------------------------- HTTP plumbing
class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "es-double"
    sys_version = ""

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, True)  # type: ignore[attr-defined]

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, False)  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - BaseHTTPRequestHandler API
        log.debug("es-double %s - %s", self.address_string(), format % args)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size_line = self.rfile.readline()
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            data = b"".join(chunks)
        else:
            length = int(self.headers.get("Content-Length") or 0)
            data = self.rfile.read(length) if length else b""
        if self.headers.get("Content-Encoding", "").lower() == "gzip" and data:
            data = gzip.decompress(data)
        return data

    def _handle(self) -> None:
        app: EsApp = self.server.app  # type: ignore[attr-defined]
        started = time.monotonic()
        split = urlsplit(self.path)
        params = dict(parse_qsl(split.query, keep_blank_values=True))
        body = self._read_body()
        path = split.path or "/"
        if len(path) > 1:
            path = path.rstrip("/") or "/"
        delay = app.faults.delay_for(path)
        if delay:
            time.sleep(delay)
        compat = self._compat_version()
        if isinstance(compat, EsError):
            response = _error_response(compat, self.command)
        else:
            try:
                response = app.dispatch(Request(self.command, path, params, body, self.headers))
            except EsError as exc:
                response = _error_response(exc, self.command)
            except Exception:  # an unexpected bug in the double: answer like an ES internal error
                log.exception("es-double failed on %s %s", self.command, self.path)
                response = _error_response(
                    EsError(500, "exception", "internal error in the ES test double"), self.command
                )
        self._send(response, compat if isinstance(compat, int) else None, params.get("pretty") in ("", "true"))
        log.debug(
            "es-double %s %s -> %s in %.1f ms",
            self.command,
            self.path,
            response.status,
            (time.monotonic() - started) * 1000,
        )

    def _compat_version(self) -> int | None | EsError:
        versions = []
        for header in ("Accept", "Content-Type"):
            value = self.headers.get(header)
            if value:
                m = _COMPAT.search(value)
                if m:
                    versions.append(int(m.group(2)))
        if not versions:
            return None
        if any(v not in (8, 9) for v in versions):
            return EsError(
                400,
                "media_type_header_exception",
                "Invalid media-type value on headers [Accept, Content-Type]",
                caused_by=EsError(
                    400,
                    "status_exception",
                    f"Accept version must be either version 9 or 8, but found {versions[0]}. "
                    f"Accept=[{self.headers.get('Accept')}]",
                ),
            )
        return max(versions)

    def _send(self, response: Response, compat: int | None, pretty: bool) -> None:
        if response.raw is not None:
            payload = response.raw
        elif response.body is None:
            payload = b""
        else:
            payload = _dumps(response.body, pretty)
        content_type = f"application/vnd.elasticsearch+json;compatible-with={compat}" if compat else "application/json"
        head = [
            f"HTTP/1.1 {response.status} {_REASONS.get(response.status, 'Unknown')}",
            "X-Elastic-Product: Elasticsearch",
            f"content-type: {content_type}",
        ]
        for key, value in response.headers.items():
            head.append(f"{key}: {value}")
        head.append(f"content-length: {len(payload) if self.command != 'HEAD' else len(payload)}")
        data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
        if self.command != "HEAD":
            data += payload
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = _handle
    do_POST = _handle
    do_PUT = _handle
    do_DELETE = _handle
    do_HEAD = _handle


_REASONS = {
    200: "OK",
    201: "Created",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], app: EsApp) -> None:
        self.app = app
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        super().__init__(address, _Handler)

    def track(self, conn: socket.socket, alive: bool) -> None:
        with self._conn_lock:
            if alive:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def drop_connections(self) -> None:
        with self._conn_lock:
            conns = list(self._connections)
            self._connections.clear()
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                conn.close()
            except OSError:
                pass


class HttpServer:
    """Runs `EsApp` on a loopback port in a background thread; can go down and come back."""

    def __init__(self, app: EsApp, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self._server = _Server((host, port), app)
        self.port = self._server.server_address[1]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self._server.serve_forever, name="es-double", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Close the listening socket and every open connection (clients get connection errors)."""
        if self._thread is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._server.drop_connections()
        self._thread.join(timeout=5)
        self._thread = None

    def restart(self) -> None:
        """Listen again on the same port."""
        if self._thread is not None:
            return
        deadline = time.monotonic() + 5
        while True:
            try:
                self._server = _Server((self.host, self.port), self.app)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.start()

    @property
    def running(self) -> bool:
        return self._thread is not None

    def serve_forever(self) -> None:
        """Blocking mode for `python -m tests.es_double`."""
        self._thread = threading.current_thread()
        self._server.serve_forever()
