"""A tiny in-process HTTP double of Kibana's status and saved-objects import/export APIs.

It answers the three calls `pipeline.kibana` makes the way Kibana does (sources
cited in tests/test_kibana/test_double.py):

- `GET /api/status`: 503 with `status.overall.level: "unavailable"` during a
  configurable not-ready phase (the first N requests, or the first S seconds),
  then 200 with `status.overall.level: "available"` and the version it pins.
- `POST /api/saved_objects/_import`: the `kbn-xsrf` header is required (400
  "Request must contain a kbn-xsrf header."), the body must be
  multipart/form-data (415) with a `file` part (400) named `*.ndjson` (400),
  the NDJSON must parse (400). Then Kibana's import steps: unsupported types
  (`unsupported_type`), references to data views / searches neither in the
  file nor stored (`missing_references`), existing objects without
  `overwrite=true` (`conflict`). When any of those "resolvable" errors
  occurs nothing is written, yet the other objects are listed in
  `successResults` — exactly as Kibana's `createSavedObjects` does.
- `POST /api/saved_objects/_export`: by `type` or by `objects`, optionally
  with references; NDJSON sorted like Kibana's exporter plus the
  export-details line.

Anything else gets a Kibana-shaped 404/400 naming what is not supported —
never a silent wrong answer.
"""

from __future__ import annotations

import base64
import copy
import json
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from es_mappings import STACK_VERSION

# Importable / exportable types the double knows, with the icon Kibana's type
# registry reports in import results (cosmetic; `None` = no icon).
TYPES: dict[str, str | None] = {
    "index-pattern": "pattern",
    "search": "discoverApp",
    "visualization": "chartBarVertical",
    "lens": "lensApp",
    "map": "gisApp",
    "dashboard": "productDashboard",
    "tag": "tag",
    "config": None,
}
# Kibana validates only these reference types on import (validate_references.ts).
VALIDATED_REFERENCE_TYPES = ("index-pattern", "search")
RESOLVABLE_ERRORS = ("conflict", "ambiguous_conflict", "missing_references")
OBJECT_LIMIT = 10_000  # savedObjects.maxImportExportSize default


@dataclass
class RecordedRequest:
    """One request as the double received it (header names lower-cased)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


class _HttpError(Exception):
    def __init__(self, status: int, body: Any, content_type: str = "application/json") -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.content_type = content_type


def _boom(status: int, message: str, **extra: Any) -> _HttpError:
    """Kibana's (hapi Boom) error envelope."""
    reason = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 415: "Unsupported Media Type"}[status]
    return _HttpError(status, {"statusCode": status, "error": reason, "message": message, **extra})


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass
class KibanaDouble:
    """Start with `start()` (returns the URL), stop with `stop()`.

    not_ready_requests: the first N `GET /api/status` answer 503.
    not_ready_seconds: `GET /api/status` answers 503 for S seconds after start.
    not_ready_text: while not ready, answer Kibana's plain-text "Kibana server is
        not ready yet" page instead of the JSON status (what its early HTTP server does).
    level: the overall level once ready ("available", or "degraded" to test that case).
    authorization: when set, every request must send exactly this Authorization header (else 401).
    """

    not_ready_requests: int = 0
    not_ready_seconds: float = 0.0
    not_ready_text: bool = False
    level: str = "available"
    authorization: str | None = None
    version: str = STACK_VERSION
    objects: dict[tuple[str, str], dict] = field(default_factory=dict)
    requests: list[RecordedRequest] = field(default_factory=list)
    status_calls: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._started = 0.0
        self._seq = 0
        self.uuid = str(uuid.uuid4())

    # ------------------------------------------------------------------ lifecycle

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        double = self

        class Handler(_Handler):
            kibana = double

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._started = time.monotonic()
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="kibana-double", daemon=True
        )
        self._thread.start()
        return self.url

    @property
    def url(self) -> str:
        assert self._server is not None, "double not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # ------------------------------------------------------------------ state helpers

    def put(self, obj: Mapping[str, Any]) -> None:
        """Store an object directly (as if created earlier in Kibana)."""
        with self._lock:
            self._store(obj)

    def get(self, object_type: str, object_id: str) -> dict | None:
        with self._lock:
            found = self.objects.get((object_type, object_id))
            return copy.deepcopy(found) if found else None

    def _store(self, obj: Mapping[str, Any]) -> None:
        self._seq += 1
        key = (obj["type"], obj["id"])
        previous = self.objects.get(key)
        stored = {k: copy.deepcopy(v) for k, v in obj.items() if k != "version"}
        stored.setdefault("references", [])
        stored.setdefault("managed", False)
        stored["created_at"] = previous["created_at"] if previous else _now()
        stored["updated_at"] = _now()
        stored["version"] = base64.b64encode(json.dumps([self._seq, 1]).encode()).decode()
        self.objects[key] = stored

    def ready(self) -> bool:
        """Whether the not-ready phase is over (counts this status call)."""
        with self._lock:
            self.status_calls += 1
            in_count = self.status_calls <= self.not_ready_requests
            in_time = time.monotonic() - self._started < self.not_ready_seconds
            return not (in_count or in_time)

    def is_ready_now(self) -> bool:
        """Whether the not-ready phase is over, without counting a status call."""
        with self._lock:
            return self.status_calls >= self.not_ready_requests and (
                time.monotonic() - self._started >= self.not_ready_seconds
            )

    # ------------------------------------------------------------------ API logic

    def status_body(self, level: str) -> dict:
        core_level = "available" if level in ("available", "degraded") else level
        return {
            "name": "kibana-double",
            "uuid": self.uuid,
            "version": {
                "number": self.version,
                "build_hash": "0" * 40,
                "build_number": 0,
                "build_snapshot": False,
                "build_flavor": "traditional",
                "build_date": "2026-01-01T00:00:00.000Z",
            },
            "status": {
                "overall": {"level": level, "summary": f"Kibana is {level}"},
                "core": {
                    "elasticsearch": {"level": core_level, "summary": f"Elasticsearch is {core_level}"},
                    "savedObjects": {"level": core_level, "summary": f"SavedObjects service is {core_level}"},
                },
                "plugins": {},
            },
            "metrics": {"last_updated": _now(), "collection_interval_in_millis": 5000},
        }

    def import_ndjson(self, lines: list[dict], overwrite: bool) -> dict:
        """Kibana's importSavedObjectsFromStream over the parsed lines."""
        with self._lock:
            errors: list[dict] = []
            collected: list[dict] = []
            for obj in lines:  # collectSavedObjects: unsupported types fail
                if obj["type"] not in TYPES:
                    errors.append(
                        {"id": obj["id"], "type": obj["type"], "meta": {"title": _title(obj)},
                         "error": {"type": "unsupported_type"}}
                    )
                else:
                    collected.append(obj)
            in_file = {(o["type"], o["id"]) for o in collected}
            for obj in collected:  # validateReferences
                missing: list[dict] = []
                for ref in obj.get("references") or []:
                    key = (ref.get("type"), ref.get("id"))
                    if key[0] not in VALIDATED_REFERENCE_TYPES or key in in_file or key in self.objects:
                        continue
                    if {"type": key[0], "id": key[1]} not in missing:
                        missing.append({"type": key[0], "id": key[1]})
                if missing:
                    errors.append(
                        {"id": obj["id"], "type": obj["type"], "meta": {"title": _title(obj)},
                         "error": {"type": "missing_references", "references": missing}}
                    )
            pending_overwrites: set[tuple[str, str]] = set()
            for obj in collected:  # checkConflicts
                key = (obj["type"], obj["id"])
                if key in self.objects:
                    if overwrite:
                        pending_overwrites.add(key)
                    else:
                        errors.append(
                            {"id": obj["id"], "type": obj["type"], "meta": {"title": _title(obj)},
                             "error": {"type": "conflict"}}
                        )
            failed = {(e["type"], e["id"]) for e in errors}
            to_create = [o for o in collected if (o["type"], o["id"]) not in failed]
            if not any(e["error"]["type"] in RESOLVABLE_ERRORS for e in errors):
                for obj in to_create:  # bulkCreate
                    self._store(obj)
            success_results = []
            for obj in to_create:
                result: dict[str, Any] = {
                    "type": obj["type"],
                    "id": obj["id"],
                    "meta": _meta(obj),
                    "managed": bool(obj.get("managed", False)),
                }
                if (obj["type"], obj["id"]) in pending_overwrites:
                    result["overwrite"] = True
                success_results.append(result)
            error_results = []
            for err in errors:
                meta = dict(err["meta"])
                if TYPES.get(err["type"]):
                    meta["icon"] = TYPES[err["type"]]
                entry = {**err, "meta": meta}
                if (err["type"], err["id"]) in pending_overwrites:
                    entry["overwrite"] = True
                error_results.append(entry)
            response: dict[str, Any] = {"successCount": len(to_create), "success": not errors, "warnings": []}
            if success_results:
                response["successResults"] = success_results
            if error_results:
                response["errors"] = error_results
            return response

    def export(self, body: Mapping[str, Any]) -> str:
        """Kibana's SavedObjectsExporter: NDJSON of the objects, then the details line."""
        types = body.get("type")
        if isinstance(types, str):
            types = [types]
        objects = body.get("objects") or []
        if not types and not objects:
            raise _boom(400, "Either `type` or `objects` are required.")
        if types and objects:
            raise _boom(400, 'Can\'t specify both "types" and "objects" properties when exporting')
        unknown = sorted({t for t in (types or [o.get("type") for o in objects]) if t not in TYPES})
        if unknown:
            raise _boom(400, f"Trying to export non-exportable type(s): {', '.join(map(str, unknown))}")
        with self._lock:
            if objects:
                absent = [o for o in objects if (o.get("type"), o.get("id")) not in self.objects]
                if absent:
                    raise _boom(
                        400,
                        "Error fetching objects to export",
                        attributes={"objects": [
                            {"id": o.get("id"), "type": o.get("type"),
                             "error": {"statusCode": 404, "error": "Not Found",
                                       "message": f"Saved object [{o.get('type')}/{o.get('id')}] not found"}}
                            for o in absent
                        ]},
                    )
                roots = [copy.deepcopy(self.objects[(o["type"], o["id"])]) for o in objects]
            else:
                roots = sorted(
                    (copy.deepcopy(o) for (t, _), o in self.objects.items() if t in types), key=lambda o: o["id"]
                )
            exported, missing = roots, []
            if body.get("includeReferencesDeep"):
                exported, missing = self._with_references(roots)
        ordered = _sort_objects(exported)
        details = {
            "excludedObjects": [],
            "excludedObjectsCount": 0,
            "exportedCount": len(ordered),
            "missingRefCount": len(missing),
            "missingReferences": missing,
        }
        lines = [json.dumps(o) for o in ordered]
        if not body.get("excludeExportDetails"):
            lines.append(json.dumps(details))
        return "\n".join(lines)

    def _with_references(self, roots: list[dict]) -> tuple[list[dict], list[dict]]:
        seen = {(o["type"], o["id"]) for o in roots}
        out, missing, queue = list(roots), [], list(roots)
        while queue:
            obj = queue.pop(0)
            for ref in obj.get("references") or []:
                key = (ref.get("type"), ref.get("id"))
                if key in seen:
                    continue
                seen.add(key)
                if key in self.objects:
                    found = copy.deepcopy(self.objects[key])
                    out.append(found)
                    queue.append(found)
                else:
                    missing.append({"type": key[0], "id": key[1]})
        return out, missing


def _title(obj: Mapping[str, Any]) -> Any:
    attrs = obj.get("attributes") or {}
    if obj.get("type") == "index-pattern":
        return attrs.get("name") or attrs.get("title")
    if obj.get("type") == "config":
        return f"Advanced Settings [{obj.get('id')}]"
    return attrs.get("title")


def _meta(obj: Mapping[str, Any]) -> dict:
    meta: dict[str, Any] = {"title": _title(obj)}
    if TYPES.get(obj["type"]):
        meta["icon"] = TYPES[obj["type"]]
    return meta


def _sort_objects(objects: Iterable[dict]) -> list[dict]:
    """Kibana's export sortObjects: each object after the objects it references."""
    by_key = {(o["type"], o["id"]): o for o in objects}
    done: set[tuple[str, str]] = set()
    out: list[dict] = []

    def visit(obj: dict) -> None:
        key = (obj["type"], obj["id"])
        if key in done:
            return
        done.add(key)
        for ref in obj.get("references") or []:
            target = by_key.get((ref.get("type"), ref.get("id")))
            if target is not None:
                visit(target)
        out.append(obj)

    for obj in list(by_key.values()):
        visit(obj)
    return out


def parse_import_lines(payload: bytes) -> list[dict]:
    """createSavedObjectsStreamFromNdJson: split on newlines, skip blanks and the details line."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _boom(400, f"file is not UTF-8: {exc}") from exc
    objects = []
    for line in text.split("\n"):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise _boom(400, f"Unexpected token in JSON at position {exc.pos}") from exc
        if isinstance(obj, dict) and obj.get("exportedCount") is not None:
            continue
        if not isinstance(obj, dict) or not isinstance(obj.get("type"), str) or not isinstance(obj.get("id"), str):
            raise _boom(400, "the Kibana double only imports objects with string `type` and `id`")
        objects.append(obj)
    if len(objects) > OBJECT_LIMIT:
        raise _boom(400, f"Can't import more than {OBJECT_LIMIT} objects")
    return objects


class _Handler(BaseHTTPRequestHandler):
    kibana: KibanaDouble
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _send(self, status: int, body: Any, content_type: str = "application/json", extra: Mapping[str, str] | None = None) -> None:
        data = body if isinstance(body, bytes) else (
            body.encode("utf-8") if isinstance(body, str) else json.dumps(body).encode("utf-8")
        )
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _record(self) -> RecordedRequest:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parsed = urllib.parse.urlsplit(self.path)
        rec = RecordedRequest(
            method=self.command,
            path=parsed.path,
            query=urllib.parse.parse_qs(parsed.query),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        with self.kibana._lock:
            self.kibana.requests.append(rec)
        return rec

    def _dispatch(self) -> None:
        rec = self._record()
        try:
            status, body, content_type, extra = self._route(rec)
        except _HttpError as err:
            status, body, content_type, extra = err.status, err.body, err.content_type, None
        self._send(status, body, content_type, extra)

    do_GET = _dispatch
    do_POST = _dispatch
    do_PUT = _dispatch
    do_DELETE = _dispatch

    def _route(self, rec: RecordedRequest) -> tuple[int, Any, str, dict[str, str] | None]:
        kibana = self.kibana
        path = rec.path
        if path.startswith("/s/"):  # /s/<space>/api/... — one store for all spaces in the double
            path = "/" + path.split("/", 3)[3] if path.count("/") >= 3 else path
        if kibana.authorization is not None and rec.headers.get("authorization") != kibana.authorization:
            raise _boom(401, "Unauthorized")
        if rec.method == "GET" and path == "/api/status":
            if not kibana.ready():
                if kibana.not_ready_text:
                    raise _HttpError(503, "Kibana server is not ready yet", "text/plain; charset=utf-8")
                return 503, kibana.status_body("unavailable"), "application/json", None
            return 200, kibana.status_body(kibana.level), "application/json", None
        if rec.method not in ("GET", "HEAD", "OPTIONS") and "kbn-xsrf" not in rec.headers:
            raise _boom(400, "Request must contain a kbn-xsrf header.")
        if not kibana.is_ready_now():
            raise _HttpError(503, "Kibana server is not ready yet", "text/plain; charset=utf-8")
        if rec.method == "POST" and path == "/api/saved_objects/_import":
            return 200, self._import(rec), "application/json", None
        if rec.method == "POST" and path == "/api/saved_objects/_export":
            try:
                body = json.loads(rec.body or b"{}")
            except json.JSONDecodeError as exc:
                raise _boom(400, f"Invalid request payload JSON format: {exc.msg}") from exc
            text = kibana.export(body)
            return 200, text, "application/ndjson", {"Content-Disposition": 'attachment; filename="export.ndjson"'}
        raise _boom(404, f"Not Found (the Kibana double does not implement {rec.method} {rec.path})")

    def _import(self, rec: RecordedRequest) -> dict:
        query = {k: v[-1] for k, v in rec.query.items()}
        overwrite = query.get("overwrite", "false") == "true"
        if query.get("createNewCopies", "false") == "true":
            if overwrite:
                raise _boom(400, "[request query]: cannot use [overwrite] with [createNewCopies]")
            raise _boom(400, "the Kibana double does not support createNewCopies")
        content_type = rec.headers.get("content-type", "")
        if not content_type.lower().startswith("multipart/form-data"):
            raise _boom(415, "Unsupported Media Type")
        message = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + rec.body
        )
        if not message.is_multipart():
            raise _boom(400, "Invalid multipart payload format")
        file_part = None
        for part in message.iter_parts():
            if part.get_param("name", header="content-disposition") == "file":
                file_part = part
        if file_part is None or file_part.get_filename() is None:
            raise _boom(400, "[request body.file]: expected value of type [Stream] but got [undefined]")
        filename = file_part.get_filename()
        extension = ("." + filename.rsplit(".", 1)[1]).lower() if "." in filename else ""
        if extension != ".ndjson":
            raise _boom(400, f"Invalid file extension {extension}")
        payload = file_part.get_payload(decode=True) or b""
        return self.kibana.import_ndjson(parse_import_lines(payload), overwrite)
