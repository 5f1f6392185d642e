"""`_bulk`: NDJSON parsing, per-item execution in request order, per-item errors.

Like Elasticsearch, the whole request is parsed before anything runs: a malformed action
line, an unknown action or metadata parameter, or a missing index fails the request as a
whole (400); everything else fails item by item, and `errors` is true when any item failed.
(https://www.elastic.co/docs/api/doc/elasticsearch/operation/operation-bulk)
"""

from __future__ import annotations

import json
import time
from typing import Any

from tests.es_double import errors as E
from tests.es_double.errors import EsError
from tests.es_double.store import Cluster, IndexState, new_doc_id

_ACTIONS = ("index", "create", "delete", "update")
_META = {
    "index": {"_index", "_id", "routing", "if_seq_no", "if_primary_term", "version", "version_type", "pipeline",
              "require_alias", "dynamic_templates", "op_type", "require_data_stream", "list_executed_pipelines"},
    "create": {"_index", "_id", "routing", "if_seq_no", "if_primary_term", "version", "version_type", "pipeline",
               "require_alias", "dynamic_templates", "require_data_stream", "list_executed_pipelines"},
    "delete": {"_index", "_id", "routing", "if_seq_no", "if_primary_term", "version", "version_type", "require_alias"},
    "update": {"_index", "_id", "routing", "if_seq_no", "if_primary_term", "retry_on_conflict", "require_alias",
               "_source", "version", "version_type"},
}


def _token(value: Any) -> str:
    if isinstance(value, list):
        return "START_ARRAY"
    if isinstance(value, str):
        return "VALUE_STRING"
    if isinstance(value, bool):
        return "VALUE_BOOLEAN"
    if value is None:
        return "VALUE_NULL"
    return "VALUE_NUMBER"


def _parse(raw: bytes, default_index: str | None) -> list[tuple[str, dict[str, Any], bytes | None]]:
    if not raw.strip():
        raise EsError(400, "action_request_validation_exception", "Validation Failed: 1: no requests added;")
    if not raw.endswith(b"\n"):
        raise E.illegal_argument("The bulk request must be terminated by a newline [\\n]")
    lines = raw.split(b"\n")
    ops: list[tuple[str, dict[str, Any], bytes | None]] = []
    i = 0
    n = len(lines) - 1  # the terminating newline leaves one empty tail
    while i < n:
        line = lines[i]
        line_no = i + 1
        if not line.strip():
            i += 1
            continue
        try:
            action = json.loads(line)
        except ValueError as exc:
            raise EsError(400, "x_content_parse_exception", f"[1:{getattr(exc, 'colno', 1)}] {exc}")
        if not isinstance(action, dict):
            raise E.illegal_argument(
                f"Malformed action/metadata line [{line_no}], expected START_OBJECT or END_OBJECT but found "
                f"[{_token(action)}]")
        if len(action) != 1:
            raise E.illegal_argument(
                f"Malformed action/metadata line [{line_no}], expected a simple value for field "
                f"[{list(action)[1] if len(action) > 1 else ''}] but found [START_OBJECT]" if len(action) > 1 else
                f"Malformed action/metadata line [{line_no}], expected FIELD_NAME but found [END_OBJECT]")
        kind, meta = next(iter(action.items()))
        if kind not in _ACTIONS:
            raise E.illegal_argument(
                f"Malformed action/metadata line [{line_no}], expected field [create], [delete], [index] or [update] "
                f"but found [{kind}]")
        if not isinstance(meta, dict):
            raise E.illegal_argument(
                f"Malformed action/metadata line [{line_no}], expected START_OBJECT but found [{_token(meta)}]")
        for key, value in meta.items():
            if key not in _META[kind]:
                raise E.illegal_argument(f"Action/metadata line [{line_no}] contains an unknown parameter [{key}]")
            if isinstance(value, (dict, list)) and key != "dynamic_templates":
                raise E.illegal_argument(
                    f"Malformed action/metadata line [{line_no}], expected a simple value for field [{key}] but found "
                    f"[{_token(value) if isinstance(value, list) else 'START_OBJECT'}]")
        for key in ("pipeline", "version", "version_type", "dynamic_templates", "_source"):
            if key in meta:
                raise E.unsupported(f"bulk action parameter [{key}]")
        if "_index" not in meta and default_index is not None:
            meta = {**meta, "_index": default_index}
        source: bytes | None = None
        if kind != "delete":
            i += 1
            if i >= n:
                raise E.illegal_argument("The bulk request must be terminated by a newline [\\n]")
            source = lines[i]
        ops.append((kind, meta, source))
        i += 1
    problems = []
    for kind, meta, _ in ops:
        if "_index" not in meta:
            problems.append("index is missing")
        if kind in ("update", "delete") and meta.get("_id") in (None, ""):
            problems.append("id is missing")
        elif meta.get("_id") == "":
            problems.append("if _id is specified it must not be empty")
    if problems:
        raise EsError(400, "action_request_validation_exception",
                      "Validation Failed: " + "".join(f"{k + 1}: {p};" for k, p in enumerate(problems)))
    if not ops:
        raise EsError(400, "action_request_validation_exception", "Validation Failed: 1: no requests added;")
    return ops


def _int_meta(meta: dict[str, Any], key: str) -> int | None:
    value = meta.get(key)
    return None if value is None else int(value)


def run_bulk(cluster: Cluster, raw: bytes, default_index: str | None, refresh: str, require_alias: bool) -> dict[str, Any]:
    """Execute a bulk request; returns the response body (always HTTP 200)."""
    started = time.monotonic()
    ops = _parse(raw, default_index)
    items: list[dict[str, Any]] = []
    errors = False
    touched: dict[str, IndexState] = {}
    with cluster.lock:
        for kind, meta, source_line in ops:
            target = str(meta["_index"])
            doc_id = None if meta.get("_id") is None else str(meta["_id"])
            if kind in ("index", "create") and doc_id is None:
                doc_id = new_doc_id()
                kind_effective = "create"
            else:
                kind_effective = kind if kind != "index" else meta.get("op_type", "index")
            resolved_name = target
            existing = cluster.indices.get(target)
            if existing is None:
                members = cluster.aliases().get(target)
                if members and len(members) == 1:
                    resolved_name = members[0].name
            fault = cluster.bulk_fault_for(kind, (target, resolved_name), doc_id)
            if fault is not None:
                errors = True
                items.append({kind: {"_index": resolved_name, "_id": doc_id, "status": fault.status,
                                     "error": {"type": fault.error_type, "reason": fault.reason}}})
                continue
            try:
                item = _execute(cluster, kind, kind_effective, meta, target, doc_id, source_line,
                                require_alias or meta.get("require_alias") in (True, "true"))
            except EsError as exc:
                errors = True
                item = {"_index": _error_index(exc, resolved_name), "_id": doc_id, "status": exc.status,
                        "error": exc.to_dict()}
                items.append({kind: item})
                continue
            idx = cluster.indices.get(item["_index"])
            if idx is not None:
                touched[idx.name] = idx
            items.append({kind: item})
        if refresh in ("true", "wait_for"):
            for idx in touched.values():
                idx.refresh()
            if refresh == "true":
                for entry in items:
                    body = next(iter(entry.values()))
                    if "error" not in body:
                        body["forced_refresh"] = True
    return {"errors": errors, "took": int((time.monotonic() - started) * 1000), "items": items}


def _error_index(exc: EsError, fallback: str) -> str:
    index = exc.meta.get("index")
    return index if isinstance(index, str) and exc.type != "index_not_found_exception" else fallback


def _execute(cluster: Cluster, kind: str, op_type: str, meta: dict[str, Any], target: str, doc_id: str | None,
             source_line: bytes | None, require_alias: bool) -> dict[str, Any]:
    if_seq_no = _int_meta(meta, "if_seq_no")
    if_primary_term = _int_meta(meta, "if_primary_term")
    if kind == "delete":
        assert doc_id is not None
        result = cluster.delete_document(target, doc_id, if_seq_no=if_seq_no, if_primary_term=if_primary_term)
        return {**result.body, "status": result.status}
    assert source_line is not None
    try:
        source = json.loads(source_line)
    except ValueError as exc:
        cluster.resolve_write(target, require_alias=require_alias)
        raise EsError(400, "document_parsing_exception", f"[1:{getattr(exc, 'colno', 1)}] failed to parse",
                      caused_by=EsError(400, "json_parse_exception", str(exc)))
    if kind == "update":
        assert doc_id is not None
        result = cluster.update_document(target, doc_id, source, if_seq_no=if_seq_no, if_primary_term=if_primary_term,
                                         require_alias=require_alias)
        return {**result.body, "status": result.status}
    result = cluster.index_document(target, doc_id, source, source_line, op_type=op_type, if_seq_no=if_seq_no,
                                    if_primary_term=if_primary_term, require_alias=require_alias)
    return {**result.body, "status": result.status}
