"""The Kibana double answers as Kibana does. Each test names its source.

Sources (elastic/kibana):
- [IMPORT-DOC] Kibana docs, "Import saved objects" (POST /api/saved_objects/_import: multipart/form-data
  with a `file` part, required `kbn-xsrf` header; 200 with success, successCount, successResults, errors).
- [IMPORT-IT] src/platform/test/api_integration/apis/saved_objects/import.ts (415 body without a file,
  conflict errors without overwrite, `overwrite: true` in successResults, unsupported_type,
  missing_references).
- [IMPORT-ROUTE] src/core/packages/saved-objects/server-internal/src/routes/import.ts
  ("Invalid file extension", body schema `file: schema.stream()`).
- [IMPORTER] .../import-export-server-internal/src/import/import_saved_objects.ts and lib/
  create_saved_objects.ts (objects are created only when there is no conflict / missing_references
  error; the others are still listed in successResults), lib/validate_references.ts (only
  index-pattern and search references are checked).
- [XSRF] src/core/server/http/integration_tests/lifecycle_handlers.test.ts (400 "Request must
  contain a kbn-xsrf header.").
- [STATUS-DOC] Kibana docs, "Get Kibana's current status" (200 when available, 503 while Kibana or
  an essential service is unavailable; `status.overall.level`).
- [EXPORT] .../import-export-server-internal/src/export/saved_objects_exporter.ts, sort_objects.ts,
  errors.ts (details line, references first, "Error fetching objects to export").
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

import pytest

from es_mappings import STACK_VERSION
from pipeline.kibana import encode_multipart
from tests.kibana_double import KibanaDouble

pytestmark = pytest.mark.kibana

VIS = {"type": "visualization", "id": "vis-1", "attributes": {"title": "Count of requests"},
       "references": [{"name": "ref_0", "type": "index-pattern", "id": "pattern-1"}]}
PATTERN = {"type": "index-pattern", "id": "pattern-1", "attributes": {"title": "logstash-*"}, "references": []}
DASH = {"type": "dashboard", "id": "dash-1", "attributes": {"title": "Requests"},
        "references": [{"name": "p1:panel_p1", "type": "visualization", "id": "vis-1"}]}


def call(url: str, method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> tuple[int, str, Any]:
    req = urllib.request.Request(url + path, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            status, ctype, raw = resp.status, resp.headers.get("Content-Type", ""), resp.read()
    except urllib.error.HTTPError as exc:
        status, ctype, raw = exc.code, exc.headers.get("Content-Type", ""), exc.read()
    return status, ctype, json.loads(raw) if ctype.startswith("application/json") else raw.decode()


def upload(url: str, objects: list[dict], query: str = "", filename: str = "export.ndjson", xsrf: bool = True):
    content = "".join(json.dumps(o) + "\n" for o in objects).encode()
    body, ctype = encode_multipart("file", filename, content)
    headers = {"Content-Type": ctype, **({"kbn-xsrf": "true"} if xsrf else {})}
    return call(url, "POST", f"/api/saved_objects/_import{query}", body, headers)


# ------------------------------------------------------------------ status


def test_status_is_503_for_the_first_requests_then_available(kibana_double):
    kibana_double.not_ready_requests = 2
    first = call(kibana_double.url, "GET", "/api/status")
    second = call(kibana_double.url, "GET", "/api/status")
    third = call(kibana_double.url, "GET", "/api/status")
    # [STATUS-DOC]: 503 while unavailable, 200 when available
    assert [first[0], second[0], third[0]] == [503, 503, 200]
    assert first[2]["status"]["overall"]["level"] == "unavailable"
    assert third[2]["status"]["overall"]["level"] == "available"
    assert third[2]["version"]["number"] == STACK_VERSION


def test_status_is_503_for_the_first_seconds():
    double = KibanaDouble(not_ready_seconds=0.4)
    url = double.start()
    try:
        assert call(url, "GET", "/api/status")[0] == 503
        time.sleep(0.5)
        assert call(url, "GET", "/api/status")[0] == 200
    finally:
        double.stop()


def test_not_ready_text_page_and_other_routes_wait_too(kibana_double):
    kibana_double.not_ready_requests = 1
    kibana_double.not_ready_text = True
    status, ctype, body = call(kibana_double.url, "GET", "/api/status")
    assert (status, body) == (503, "Kibana server is not ready yet") and ctype.startswith("text/plain")
    kibana_double.not_ready_requests = 5
    assert upload(kibana_double.url, [PATTERN])[0] == 503


def test_space_prefix_and_required_authorization():
    double = KibanaDouble(authorization="ApiKey secret")
    url = double.start()
    try:
        assert call(url, "GET", "/api/status")[2] == {"statusCode": 401, "error": "Unauthorized", "message": "Unauthorized"}
        assert call(url, "GET", "/s/team/api/status", headers={"Authorization": "ApiKey secret"})[0] == 200
    finally:
        double.stop()


# ------------------------------------------------------------------ import request checks


def test_import_without_kbn_xsrf_is_400(kibana_double):
    status, _, body = upload(kibana_double.url, [PATTERN], xsrf=False)
    # [XSRF]
    assert (status, body) == (400, {"statusCode": 400, "error": "Bad Request", "message": "Request must contain a kbn-xsrf header."})


def test_import_without_multipart_is_415(kibana_double):
    status, _, body = call(kibana_double.url, "POST", "/api/saved_objects/_import", b"{}",
                           {"kbn-xsrf": "true", "Content-Type": "application/json"})
    # [IMPORT-IT] "should return 415 when no file passed in"
    assert (status, body) == (415, {"statusCode": 415, "error": "Unsupported Media Type", "message": "Unsupported Media Type"})


def test_import_without_file_part_is_400(kibana_double):
    body, ctype = encode_multipart("other", "x.ndjson", b"{}")
    status, _, answer = call(kibana_double.url, "POST", "/api/saved_objects/_import", body,
                             {"kbn-xsrf": "true", "Content-Type": ctype})
    # [IMPORT-ROUTE] body schema file: schema.stream()
    assert status == 400
    assert answer["message"] == "[request body.file]: expected value of type [Stream] but got [undefined]"


def test_import_of_a_non_ndjson_file_is_400(kibana_double):
    status, _, body = upload(kibana_double.url, [PATTERN], filename="export.json")
    # [IMPORT-ROUTE]
    assert (status, body["message"]) == (400, "Invalid file extension .json")


def test_import_of_broken_ndjson_is_400(kibana_double):
    body, ctype = encode_multipart("file", "x.ndjson", b'{"type":"lens","id":"a"}\n{"type":\n')
    status, _, answer = call(kibana_double.url, "POST", "/api/saved_objects/_import", body,
                             {"kbn-xsrf": "true", "Content-Type": ctype})
    assert status == 400 and answer["error"] == "Bad Request"
    assert kibana_double.objects == {}


def test_overwrite_with_create_new_copies_is_refused(kibana_double):
    status, _, body = upload(kibana_double.url, [PATTERN], query="?overwrite=true&createNewCopies=true")
    # [IMPORT-ROUTE] query validation
    assert (status, body["message"]) == (400, "[request query]: cannot use [overwrite] with [createNewCopies]")


# ------------------------------------------------------------------ import semantics


def test_first_import_creates_and_reports_meta(kibana_double):
    status, _, body = upload(kibana_double.url, [PATTERN, VIS, DASH])
    assert status == 200
    # [IMPORT-IT] "should return 200 when importing SO with circular refs": no `overwrite` key on new objects
    assert body == {
        "success": True,
        "successCount": 3,
        "successResults": [
            {"type": "index-pattern", "id": "pattern-1", "meta": {"title": "logstash-*", "icon": "pattern"}, "managed": False},
            {"type": "visualization", "id": "vis-1", "meta": {"title": "Count of requests", "icon": "chartBarVertical"}, "managed": False},
            {"type": "dashboard", "id": "dash-1", "meta": {"title": "Requests", "icon": "productDashboard"}, "managed": False},
        ],
        "warnings": [],
    }
    assert set(kibana_double.objects) == {("index-pattern", "pattern-1"), ("visualization", "vis-1"), ("dashboard", "dash-1")}


def test_existing_objects_conflict_without_overwrite(kibana_double):
    upload(kibana_double.url, [PATTERN, VIS, DASH])
    before = kibana_double.get("dashboard", "dash-1")
    status, _, body = upload(kibana_double.url, [PATTERN, VIS, DASH])
    # [IMPORT-IT] "should return errors when conflicts exist"
    assert status == 200
    assert body == {
        "success": False,
        "successCount": 0,
        "errors": [
            {"id": "pattern-1", "type": "index-pattern", "meta": {"title": "logstash-*", "icon": "pattern"}, "error": {"type": "conflict"}},
            {"id": "vis-1", "type": "visualization", "meta": {"title": "Count of requests", "icon": "chartBarVertical"}, "error": {"type": "conflict"}},
            {"id": "dash-1", "type": "dashboard", "meta": {"title": "Requests", "icon": "productDashboard"}, "error": {"type": "conflict"}},
        ],
        "warnings": [],
    }
    assert kibana_double.get("dashboard", "dash-1") == before


def test_overwrite_marks_replaced_objects_and_stores_the_new_version(kibana_double):
    upload(kibana_double.url, [PATTERN])
    renamed = {**PATTERN, "attributes": {"title": "logs-*"}}
    status, _, body = upload(kibana_double.url, [renamed, VIS], query="?overwrite=true")
    # [IMPORT-IT] "should return 200 when conflicts exist but overwrite is passed in"
    assert status == 200 and body["success"] is True and body["successCount"] == 2
    assert [r.get("overwrite") for r in body["successResults"]] == [True, None]
    assert kibana_double.get("index-pattern", "pattern-1")["attributes"] == {"title": "logs-*"}


def test_unsupported_type(kibana_double):
    status, _, body = upload(kibana_double.url, [{"id": "1", "type": "wigwags", "attributes": {"title": "my title"}, "references": []}])
    # [IMPORT-IT] "should return 200 when trying to import unsupported types"
    assert (status, body) == (200, {
        "success": False,
        "successCount": 0,
        "errors": [{"id": "1", "type": "wigwags", "meta": {"title": "my title"}, "error": {"type": "unsupported_type"}}],
        "warnings": [],
    })


def test_missing_references_block_the_whole_import(kibana_double):
    orphan = {"type": "visualization", "id": "1", "attributes": {"title": "My visualization"},
              "references": [{"name": "ref_0", "type": "index-pattern", "id": "non-existing"},
                             {"name": "ref_1", "type": "search", "id": "non-existing-search"},
                             {"name": "ref_2", "type": "tag", "id": "not-validated"}]}
    status, _, body = upload(kibana_double.url, [PATTERN, orphan], query="?overwrite=true")
    # [IMPORT-IT] "should return errors when index patterns or search are missing"; [IMPORTER]:
    # only index-pattern/search references are validated, and with a resolvable error nothing is
    # created although the valid object is listed in successResults.
    assert status == 200
    assert body["success"] is False and body["successCount"] == 1
    assert body["errors"] == [{
        "type": "visualization", "id": "1",
        "meta": {"title": "My visualization", "icon": "chartBarVertical"},
        "error": {"type": "missing_references", "references": [
            {"type": "index-pattern", "id": "non-existing"}, {"type": "search", "id": "non-existing-search"}]},
    }]
    assert [r["id"] for r in body["successResults"]] == ["pattern-1"]
    assert kibana_double.objects == {}


def test_references_to_stored_objects_resolve(kibana_double):
    kibana_double.put(PATTERN)
    status, _, body = upload(kibana_double.url, [VIS])
    assert status == 200 and body["success"] is True
    assert kibana_double.get("visualization", "vis-1")["references"] == VIS["references"]


def test_export_details_line_of_an_import_file_is_skipped(kibana_double):
    details = {"exportedCount": 1, "missingRefCount": 0, "missingReferences": []}
    status, _, body = upload(kibana_double.url, [PATTERN, details])
    assert status == 200 and body["successCount"] == 1


# ------------------------------------------------------------------ export


def test_export_objects_with_references_puts_referenced_objects_first(kibana_double):
    for obj in (PATTERN, VIS, DASH):
        kibana_double.put(obj)
    status, ctype, text = call(kibana_double.url, "POST", "/api/saved_objects/_export",
                               json.dumps({"objects": [{"type": "dashboard", "id": "dash-1"}], "includeReferencesDeep": True}).encode(),
                               {"kbn-xsrf": "true", "Content-Type": "application/json"})
    assert status == 200 and ctype.startswith("application/ndjson")
    lines = [json.loads(line) for line in text.splitlines()]
    # [EXPORT] sortObjects: each object after what it references; details line last
    assert [(o.get("type"), o.get("id")) for o in lines[:-1]] == [
        ("index-pattern", "pattern-1"), ("visualization", "vis-1"), ("dashboard", "dash-1")]
    assert lines[-1] == {"excludedObjects": [], "excludedObjectsCount": 0, "exportedCount": 3,
                         "missingRefCount": 0, "missingReferences": []}
    assert all({"updated_at", "version", "created_at"} <= o.keys() for o in lines[:-1])


def test_export_by_type_sorts_by_id_and_reports_missing_references(kibana_double):
    kibana_double.put({**VIS, "id": "b"})
    kibana_double.put({**VIS, "id": "a"})
    status, _, text = call(kibana_double.url, "POST", "/api/saved_objects/_export",
                           json.dumps({"type": "visualization", "includeReferencesDeep": True}).encode(),
                           {"kbn-xsrf": "true", "Content-Type": "application/json"})
    assert status == 200
    lines = [json.loads(line) for line in text.splitlines()]
    assert [o["id"] for o in lines[:-1]] == ["a", "b"]
    assert lines[-1]["missingReferences"] == [{"type": "index-pattern", "id": "pattern-1"}]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({}, "Either `type` or `objects` are required."),
        ({"type": "lens", "objects": [{"type": "lens", "id": "x"}]}, "Can't specify both \"types\" and \"objects\" properties when exporting"),
        ({"type": ["wigwags"]}, "Trying to export non-exportable type(s): wigwags"),
        ({"objects": [{"type": "lens", "id": "absent"}]}, "Error fetching objects to export"),
    ],
)
def test_export_refusals(kibana_double, payload, message):
    status, _, body = call(kibana_double.url, "POST", "/api/saved_objects/_export", json.dumps(payload).encode(),
                           {"kbn-xsrf": "true", "Content-Type": "application/json"})
    assert (status, body["message"]) == (400, message)


def test_unknown_routes_are_refused_loudly(kibana_double):
    status, _, body = call(kibana_double.url, "POST", "/api/saved_objects/_resolve_import_errors", b"", {"kbn-xsrf": "true"})
    assert status == 404 and "does not implement" in body["message"]
