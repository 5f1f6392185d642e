"""Kibana saved objects: wait for Kibana, import the NDJSON in `kibana_saved_objects/`, export it back.

Kibana is not Elasticsearch: the official Elasticsearch client does not speak
Kibana's HTTP API, so this module uses the standard library's `urllib`.
The API calls (Kibana docs, "Saved objects API"):

  GET  /api/status                    200 when ready (`status.overall.level`), 503 while starting
  POST /api/saved_objects/_import     multipart/form-data with a `file` part (an .ndjson file),
                                      header `kbn-xsrf`; 200 with `success`, `successCount`,
                                      `successResults`, `errors`
  POST /api/saved_objects/_export     JSON body `{"objects": [...], "includeReferencesDeep": ...}`,
                                      answers NDJSON ending with an export-details line

Environment (all optional), read at call time like `pipeline.es`:
  KIBANA_URL              default http://localhost:5601
  KIBANA_API_KEY          sent as `Authorization: ApiKey <key>` (preferred over basic auth)
  KIBANA_USERNAME / KIBANA_PASSWORD   basic auth
  KIBANA_CA_CERTS         CA bundle for TLS;  KIBANA_VERIFY_CERTS=false turns verification off
  KIBANA_SPACE            a Kibana space id (default: the default space)
  KIBANA_REQUEST_TIMEOUT  seconds per request (default 30)

Folder layout: one file per saved-object type (`index-pattern.ndjson`,
`lens.ndjson`, `dashboard.ndjson`), objects sorted by id, keys sorted, so an
export after editing in Kibana gives a reviewable diff.
"""

from __future__ import annotations

import base64
import http.client
import json
import logging
import os
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.errors import PipelineError
from pipeline.es import redact_url

log = logging.getLogger(__name__)

DEFAULT_URL = "http://localhost:5601"
DEFAULT_DIR = "kibana_saved_objects"
IMPORT_FILENAME = "movierec.ndjson"  # Kibana refuses any other extension than .ndjson

# Import order inside the one upload: what others reference comes first (Kibana resolves
# references within the file either way; the order keeps the upload readable). Types not
# listed go after lens and before map/dashboard, by name.
TYPE_ORDER = ("config", "tag", "index-pattern", "search", "visualization", "lens", "map", "dashboard")

# Fields Kibana adds on every save; left out of the folder so exports diff cleanly.
VOLATILE_KEYS = ("created_at", "created_by", "updated_at", "updated_by", "version", "namespaces", "sort")

_FALSE = {"0", "false", "no", "off"}
_READY_LEVELS = ("available",)


class KibanaError(PipelineError):
    """Kibana answered with an error, or could not be reached in time."""

    def __init__(self, message: str, status: int | None = None, body: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class ImportFailed(KibanaError):
    """Kibana reported per-object errors (`errors`); with a conflict or a missing reference it wrote nothing."""

    def __init__(self, message: str, errors: list[dict], report: ImportReport) -> None:
        super().__init__(message, status=200, body=errors)
        self.errors = errors
        self.report = report


@dataclass(frozen=True)
class KibanaSettings:
    """Where Kibana is and how to authenticate; build with `settings_from_env`."""

    url: str = DEFAULT_URL
    authorization: str | None = field(default=None, repr=False)  # a secret: kept out of logs
    ca_certs: str | None = None
    verify_certs: bool = True
    space: str | None = None
    request_timeout: float = 30.0

    def api_url(self, path: str) -> str:
        """Full URL of an API path, inside the configured space."""
        base = self.url.rstrip("/")
        if self.space and self.space != "default":
            base = f"{base}/s/{urllib.parse.quote(self.space, safe='')}"
        return f"{base}{path}"


def settings_from_env(url: str | None = None, environ: Mapping[str, str] | None = None) -> KibanaSettings:
    """Settings from `environ` (default `os.environ`); `url` wins over `$KIBANA_URL`."""
    env = os.environ if environ is None else environ
    authorization = None
    if env.get("KIBANA_API_KEY"):
        authorization = f"ApiKey {env['KIBANA_API_KEY']}"
    elif env.get("KIBANA_USERNAME"):
        pair = f"{env['KIBANA_USERNAME']}:{env.get('KIBANA_PASSWORD', '')}".encode()
        authorization = f"Basic {base64.b64encode(pair).decode('ascii')}"
    return KibanaSettings(
        url=url or env.get("KIBANA_URL") or DEFAULT_URL,
        authorization=authorization,
        ca_certs=env.get("KIBANA_CA_CERTS") or None,
        verify_certs=env.get("KIBANA_VERIFY_CERTS", "").strip().lower() not in _FALSE,
        space=env.get("KIBANA_SPACE") or None,
        request_timeout=float(env.get("KIBANA_REQUEST_TIMEOUT", "30")),
    )


# --------------------------------------------------------------------------- pure helpers


def dumps_object(obj: Mapping[str, Any]) -> str:
    """One NDJSON line: keys sorted, compact, UTF-8 kept — the folder's canonical form."""
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def parse_ndjson(text: str, source: str = "<ndjson>") -> list[dict]:
    """Saved objects of one NDJSON text; blank lines and export-details lines are skipped.

    Raises ValueError naming the line for anything that is not a JSON object with
    string `type` and `id`.
    """
    objects: list[dict] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{source}:{number}: not JSON: {exc.msg}") from exc
        if not isinstance(obj, dict):
            raise ValueError(f"{source}:{number}: expected a JSON object")  # noqa: TRY004 - bad file content
        if "exportedCount" in obj:  # Kibana's trailing export-details line
            continue
        if not isinstance(obj.get("type"), str) or not isinstance(obj.get("id"), str):
            raise ValueError(f"{source}:{number}: a saved object needs string 'type' and 'id'")  # noqa: TRY004
        objects.append(obj)
    return objects


def read_objects(directory: str | Path) -> list[dict]:
    """Every saved object in the `*.ndjson` files of `directory`, in import order.

    Raises ValueError on a malformed line or on an id used twice for one type.
    """
    folder = Path(directory)
    files = sorted(folder.glob("*.ndjson"))
    if not files:
        raise ValueError(f"no .ndjson files in {folder}")
    objects: list[dict] = []
    seen: dict[tuple[str, str], str] = {}
    for path in files:
        for obj in parse_ndjson(path.read_text("utf-8"), source=str(path)):
            key = (obj["type"], obj["id"])
            if key in seen:
                raise ValueError(f"{path}: {key[0]} {key[1]!r} already defined in {seen[key]}")
            seen[key] = str(path)
            objects.append(obj)
    return ordered_for_import(objects)


def _type_rank(object_type: str) -> tuple[int, str]:
    if object_type in TYPE_ORDER:
        return (TYPE_ORDER.index(object_type) * 2, object_type)
    return (TYPE_ORDER.index("lens") * 2 + 1, object_type)  # unknown types just before maps/dashboards


def ordered_for_import(objects: Iterable[Mapping[str, Any]]) -> list[dict]:
    """Objects sorted by type rank (data views first, dashboards last), then id."""
    return sorted((dict(o) for o in objects), key=lambda o: (_type_rank(o["type"]), o["id"]))


def to_ndjson(objects: Iterable[Mapping[str, Any]]) -> bytes:
    """The import file body: one canonical line per object."""
    return "".join(dumps_object(o) + "\n" for o in objects).encode("utf-8")


def encode_multipart(
    field_name: str, filename: str, content: bytes, boundary: str | None = None
) -> tuple[bytes, str]:
    """A multipart/form-data body with one file part; returns (body, content-type header)."""
    boundary = boundary or f"movierec-{uuid.uuid4().hex}"
    if boundary.encode() in content:
        raise ValueError("multipart boundary occurs in the file content")
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="{field_name}"; filename="{filename}"\r\n'
        "Content-Type: application/ndjson\r\n\r\n"
    ).encode()
    body = head + content + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


@dataclass(frozen=True)
class ImportReport:
    """What one import did, from Kibana's answer (`successResults` / `errors`)."""

    created: list[dict] = field(default_factory=list)
    updated: list[dict] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)
    warnings: list[dict] = field(default_factory=list)
    success: bool = False
    success_count: int = 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary (what the script prints)."""
        return {
            "success": self.success,
            "successCount": self.success_count,
            "created": self.created,
            "updated": self.updated,
            "errors": self.errors,
            "warnings": self.warnings,
        }


def _brief(result: Mapping[str, Any]) -> dict[str, Any]:
    meta = result.get("meta") or {}
    out: dict[str, Any] = {"type": result.get("type"), "id": result.get("id")}
    if meta.get("title") is not None:
        out["title"] = meta["title"]
    if result.get("destinationId"):
        out["destinationId"] = result["destinationId"]
    return out


def summarize_import(response: Mapping[str, Any]) -> ImportReport:
    """Split Kibana's import answer into created / updated objects and errors.

    Kibana marks `overwrite: true` on a success result when the object existed
    before (it was overwritten); otherwise the object is new.
    """
    created: list[dict] = []
    updated: list[dict] = []
    for result in response.get("successResults") or []:
        (updated if result.get("overwrite") else created).append(_brief(result))
    errors = []
    for err in response.get("errors") or []:
        entry = _brief(err)
        entry["error"] = err.get("error") or {}
        errors.append(entry)
    return ImportReport(
        created=created,
        updated=updated,
        errors=errors,
        warnings=list(response.get("warnings") or []),
        success=bool(response.get("success")),
        success_count=int(response.get("successCount") or 0),
    )


def describe_error(err: Mapping[str, Any]) -> str:
    """One readable line for an import error (type, id, title, Kibana's error type and details)."""
    detail = err.get("error") or {}
    kind = detail.get("type", "unknown")
    text = f"{err.get('type')} {err.get('id')!r}"
    if err.get("title"):
        text += f" ({err['title']})"
    text += f": {kind}"
    if kind == "missing_references":
        refs = ", ".join(f"{r.get('type')} {r.get('id')!r}" for r in detail.get("references") or [])
        text += f" [{refs}]"
    elif detail.get("message"):
        text += f" — {detail['message']}"
    return text


def clean_for_folder(obj: Mapping[str, Any]) -> dict:
    """An exported object without the fields Kibana rewrites on every save."""
    return {k: v for k, v in obj.items() if k not in VOLATILE_KEYS}


def files_by_type(objects: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """The folder's files: `<type>.ndjson` -> text, objects sorted by id."""
    grouped: dict[str, list[dict]] = {}
    for obj in objects:
        grouped.setdefault(obj["type"], []).append(clean_for_folder(obj))
    return {
        f"{object_type}.ndjson": "".join(dumps_object(o) + "\n" for o in sorted(objs, key=lambda o: o["id"]))
        for object_type, objs in sorted(grouped.items())
    }


def overall_level(status_body: Any) -> str | None:
    """`status.overall.level` of a /api/status answer (also the redacted anonymous form)."""
    try:
        level = status_body["status"]["overall"]["level"]
    except (KeyError, TypeError):
        return None
    return level if isinstance(level, str) else None


def wait_until(
    probe: Callable[[float], tuple[bool, str]],
    what: str,
    timeout: float,
    interval: float = 2.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Call `probe(request_timeout)` until it returns `(True, detail)`; returns the attempt count.

    Bounded: raises TimeoutError after `timeout` seconds with the last detail.
    An OSError or http.client.HTTPException from the probe (connection refused,
    reset, timeout, a half-written answer) means "not up yet"; any other
    exception propagates. Used for Kibana here and by
    scripts/wait_for.py for Elasticsearch and the API.
    """
    deadline = clock() + timeout
    last = "no answer yet"
    attempt = 0
    while True:
        attempt += 1
        try:
            ready, last = probe(max(1.0, min(10.0, deadline - clock())))
        except (OSError, http.client.HTTPException) as exc:
            ready, last = False, f"{type(exc).__name__}: {exc}"
        if ready:
            log.info("%s is up (%s, after %d checks)", what, last, attempt)
            return attempt
        if clock() + interval > deadline:
            raise TimeoutError(f"{what} not available after {timeout:g} s ({last})")
        log.info("waiting for %s: %s", what, last)
        sleep(interval)


# --------------------------------------------------------------------------- HTTP


@dataclass(frozen=True)
class Response:
    """A raw HTTP answer."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        """The body as JSON, or None when it is not JSON (Kibana's 503 page is plain text)."""
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return None

    def message(self) -> str:
        """Kibana's error message (`message` of its error body) or the start of the body."""
        data = self.json()
        if isinstance(data, dict) and data.get("message"):
            return str(data["message"])
        return self.body[:300].decode("utf-8", "replace").strip()


class KibanaClient:
    """The three Kibana calls the project makes; one instance per command."""

    def __init__(self, settings: KibanaSettings) -> None:
        self.settings = settings
        self._ssl = self._ssl_context(settings)

    @staticmethod
    def _ssl_context(settings: KibanaSettings) -> ssl.SSLContext | None:
        if not settings.url.lower().startswith("https"):
            return None
        context = ssl.create_default_context(cafile=settings.ca_certs)
        if not settings.verify_certs:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> Response:
        """One HTTP request; any status comes back as a Response (connection errors raise OSError)."""
        all_headers = {"kbn-xsrf": "true"}  # Kibana's CSRF guard wants it on every non-GET call
        if self.settings.authorization:
            all_headers["Authorization"] = self.settings.authorization
        all_headers.update(headers or {})
        req = urllib.request.Request(self.settings.api_url(path), data=body, method=method, headers=all_headers)
        try:
            with urllib.request.urlopen(
                req, timeout=timeout or self.settings.request_timeout, context=self._ssl
            ) as resp:
                return Response(resp.status, dict(resp.headers), resp.read())
        except urllib.error.HTTPError as exc:
            return Response(exc.code, dict(exc.headers or {}), exc.read())

    # ---------------------------------------------------------------- status

    def status(self, timeout: float | None = None) -> Response:
        """GET /api/status."""
        return self.request("GET", "/api/status", timeout=timeout)

    def wait_until_available(
        self,
        timeout: float = 300.0,
        interval: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> dict:
        """Poll /api/status until Kibana says it is available; bounded by `timeout` seconds.

        Kibana answers 503 (or refuses connections) while it starts and 200 with
        `status.overall.level == "available"` when ready. A 200 with
        `degraded` counts as ready when its saved-objects service is available.
        401/403 stop at once: waiting will not fix credentials.
        """
        seen: dict[str, Any] = {}

        def probe(request_timeout: float) -> tuple[bool, str]:
            resp = self.status(timeout=request_timeout)
            if resp.status in (401, 403):
                raise KibanaError(
                    f"Kibana at {redact_url(self.settings.url)} refused the credentials ({resp.status}): {resp.message()}",
                    resp.status,
                    resp.json(),
                )
            data = resp.json()
            level = overall_level(data)
            seen["data"] = data
            return resp.status == 200 and _is_ready(data, level), f"HTTP {resp.status}, level {level or 'unknown'}"

        try:
            wait_until(probe, f"Kibana at {redact_url(self.settings.url)}", timeout, interval, clock, sleep)
        except TimeoutError as exc:
            raise KibanaError(str(exc)) from exc
        return seen["data"]

    # ---------------------------------------------------------------- import / export

    def import_objects(self, objects: Sequence[Mapping[str, Any]], overwrite: bool = True) -> ImportReport:
        """Import `objects` in one upload; raises ImportFailed when any object fails."""
        content = to_ndjson(objects)
        body, content_type = encode_multipart("file", IMPORT_FILENAME, content)
        query = "?overwrite=true" if overwrite else ""
        resp = self.request(
            "POST", f"/api/saved_objects/_import{query}", body=body, headers={"Content-Type": content_type}
        )
        data = resp.json()
        if resp.status != 200 or not isinstance(data, dict):
            raise KibanaError(f"Kibana refused the import ({resp.status}): {resp.message()}", resp.status, data)
        report = summarize_import(data)
        if not report.success or report.errors:
            lines = "; ".join(describe_error(e) for e in report.errors) or "success: false without errors"
            raise ImportFailed(f"{len(report.errors)} saved object(s) failed to import: {lines}", report.errors, report)
        return report

    def export_objects(
        self, objects: Sequence[Mapping[str, str]], include_references_deep: bool = True
    ) -> list[dict]:
        """Export the given `{type, id}` objects (and what they reference); details line dropped."""
        payload = {
            "objects": [{"type": o["type"], "id": o["id"]} for o in objects],
            "includeReferencesDeep": include_references_deep,
            "excludeExportDetails": False,
        }
        resp = self.request(
            "POST",
            "/api/saved_objects/_export",
            body=json.dumps(payload).encode("utf-8"),
            headers={"Content-Type": "application/json"},
        )
        if resp.status != 200:
            raise KibanaError(f"Kibana refused the export ({resp.status}): {resp.message()}", resp.status, resp.json())
        text = resp.body.decode("utf-8")
        details = [json.loads(line) for line in text.splitlines() if line.strip() and '"exportedCount"' in line]
        for detail in details:
            if detail.get("missingRefCount"):
                log.warning("export: %d missing references: %s", detail["missingRefCount"], detail.get("missingReferences"))
        return parse_ndjson(text, source="export")


def _is_ready(data: Any, level: str | None) -> bool:
    if level in _READY_LEVELS:
        return True
    if level == "degraded":
        try:
            return data["status"]["core"]["savedObjects"]["level"] == "available"
        except (KeyError, TypeError):
            return False
    return False


# --------------------------------------------------------------------------- commands


def import_folder(
    client: KibanaClient,
    directory: str | Path = DEFAULT_DIR,
    timeout: float = 300.0,
    interval: float = 2.0,
    overwrite: bool = True,
) -> ImportReport:
    """Wait for Kibana, then import every object of `directory` in one request."""
    objects = read_objects(directory)
    log.info("read %d saved objects from %s", len(objects), directory)
    client.wait_until_available(timeout=timeout, interval=interval)
    report = client.import_objects(objects, overwrite=overwrite)
    for item in report.created:
        log.info("created %s %s (%s)", item["type"], item["id"], item.get("title", ""))
    for item in report.updated:
        log.info("updated %s %s (%s)", item["type"], item["id"], item.get("title", ""))
    for warning in report.warnings:
        log.warning("Kibana import warning: %s", warning)
    return report


def export_folder(
    client: KibanaClient,
    directory: str | Path = DEFAULT_DIR,
    objects: Sequence[Mapping[str, str]] | None = None,
    timeout: float = 60.0,
    interval: float = 2.0,
) -> dict[str, int]:
    """Write Kibana's current version of the folder's objects back into it.

    `objects` defaults to every `{type, id}` already in the folder; objects they
    reference are exported too. Files of types no longer present are left alone.
    Returns {file name: object count}.
    """
    folder = Path(directory)
    wanted = list(objects) if objects is not None else [{"type": o["type"], "id": o["id"]} for o in read_objects(folder)]
    if not wanted:
        raise ValueError("nothing to export")
    client.wait_until_available(timeout=timeout, interval=interval)
    exported = client.export_objects(wanted)
    folder.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for name, text in files_by_type(exported).items():
        (folder / name).write_text(text, encoding="utf-8")
        counts[name] = text.count("\n")
        log.info("wrote %s (%d objects)", folder / name, counts[name])
    return counts
