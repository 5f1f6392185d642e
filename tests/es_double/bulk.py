"""`_bulk`: NDJSON parsing, per-item execution in request order, per-item errors.

Like Elasticsearch, the whole request is parsed before anything runs: a malformed action
line, an unknown action or metadata parameter, or a missing index fails the request as a
whole (400); everything else fails item by item, and `errors` is true when any item failed.
(https://www.elastic.co/docs/api/doc/elasticsearch/operation/operation-bulk)

Speed: all lines are decoded by one `json.loads` of a JSON array when the request is well
formed (line by line otherwise, to report the bad line), flat documents take the mapping's
fast path, and successful index/create items are rendered straight to JSON text.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from tests.es_double import errors as E
from tests.es_double.errors import EsError
from tests.es_double.jsonloc import token_name
from tests.es_double.store import Cluster, IndexState, new_doc_id

_ACTIONS = ("index", "create", "delete", "update")
# Metadata fields each action accepts: every action takes the delete set; index = create + op_type.
_DELETE_META = {"_index", "_id", "routing", "if_seq_no", "if_primary_term", "version", "version_type", "require_alias"}
_CREATE_META = _DELETE_META | {"pipeline", "dynamic_templates", "require_data_stream", "list_executed_pipelines"}
_META = {
    "index": _CREATE_META | {"op_type"},
    "create": _CREATE_META,
    "delete": _DELETE_META,
    "update": _DELETE_META | {"retry_on_conflict", "_source"},
}
_UNSUPPORTED_META = {"pipeline", "version", "version_type", "dynamic_templates", "_source"}
_PLAIN_META = frozenset({"_index", "_id"})
_PLAIN_ID = re.compile(r'[^"\\\x00-\x1f\x7f-\uffff]*')


class _BadLine:
    """A line that is not valid JSON (reported per item for documents, per request for actions)."""

    def __init__(self, error: ValueError) -> None:
        self.error = error


def _decode_lines(lines: list[bytes]) -> list[Any]:
    """Decode every line; one array parse when everything is valid JSON."""
    try:
        return json.loads(b"[" + b",".join(lines) + b"]")
    except ValueError:
        pass
    out: list[Any] = []
    for line in lines:
        try:
            out.append(json.loads(line))
        except ValueError as exc:
            out.append(_BadLine(exc))
    return out


def _parse(raw: bytes, default_index: str | None) -> list[tuple[str, dict[str, Any], Any, bytes | None]]:
    if not raw.strip():
        raise EsError(400, "action_request_validation_exception", "Validation Failed: 1: no requests added;")
    if not raw.endswith(b"\n"):
        raise E.illegal_argument("The bulk request must be terminated by a newline [\\n]")
    all_lines = raw.split(b"\n")[:-1]
    numbered = [(i + 1, line.rstrip(b"\r")) for i, line in enumerate(all_lines) if line.strip()]
    decoded = _decode_lines([line for _, line in numbered])
    ops: list[tuple[str, dict[str, Any], Any, bytes | None]] = []
    k = 0
    while k < len(numbered):
        line_no, _line = numbered[k]
        action = decoded[k]
        if isinstance(action, _BadLine):
            raise EsError(400, "x_content_parse_exception", f"[1:{getattr(action.error, 'colno', 1)}] {action.error}")
        if not isinstance(action, dict):
            raise E.illegal_argument(
                f"Malformed action/metadata line [{line_no}], expected START_OBJECT or END_OBJECT but found "
                f"[{token_name(action)}]"
            )
        if len(action) != 1:
            raise E.illegal_argument(
                f"Malformed action/metadata line [{line_no}], expected FIELD_NAME but found [END_OBJECT]"
                if not action
                else f"Malformed action/metadata line [{line_no}], expected END_OBJECT but found [FIELD_NAME]"
            )
        kind, meta = next(iter(action.items()))
        if kind not in _ACTIONS:
            raise E.illegal_argument(
                f"Malformed action/metadata line [{line_no}], expected field [create], [delete], [index] or [update] "
                f"but found [{kind}]"
            )
        if not isinstance(meta, dict):
            raise E.illegal_argument(
                f"Malformed action/metadata line [{line_no}], expected START_OBJECT but found [{token_name(meta)}]"
            )
        if not (_PLAIN_META.issuperset(meta) and _simple(meta)):
            _check_meta(kind, meta, line_no)
        if "_index" not in meta and default_index is not None:
            meta = {**meta, "_index": default_index}
        source: Any = None
        source_raw: bytes | None = None
        if kind != "delete":
            k += 1
            if k >= len(numbered):
                raise E.illegal_argument("The bulk request must be terminated by a newline [\\n]")
            source = decoded[k]
            source_raw = numbered[k][1]
        ops.append((kind, meta, source, source_raw))
        k += 1
    problems = []
    for kind, meta, _, _ in ops:
        if "_index" not in meta:
            problems.append("index is missing")
        if kind in ("update", "delete") and meta.get("_id") is None:
            problems.append("id is missing")
    if problems:
        raise EsError(
            400,
            "action_request_validation_exception",
            "Validation Failed: " + "".join(f"{k + 1}: {p};" for k, p in enumerate(problems)),
        )
    if not ops:
        raise EsError(400, "action_request_validation_exception", "Validation Failed: 1: no requests added;")
    return ops


def _check_meta(kind: str, meta: dict[str, Any], line_no: int) -> None:
    """Full validation of an action line's metadata (the common `_index`/`_id` case skips it)."""
    allowed = _META[kind]
    for key, value in meta.items():
        if key not in allowed:
            raise E.illegal_argument(f"Action/metadata line [{line_no}] contains an unknown parameter [{key}]")
        if value.__class__ in (dict, list) and key != "dynamic_templates":
            raise E.illegal_argument(
                f"Malformed action/metadata line [{line_no}], expected a simple value for field [{key}] but found "
                f"[{'START_ARRAY' if isinstance(value, list) else 'START_OBJECT'}]"
            )
        if key in _UNSUPPORTED_META:
            raise E.unsupported(f"bulk action parameter [{key}]")


def _simple(meta: dict[str, Any]) -> bool:
    for value in meta.values():
        if value.__class__ in (dict, list):
            return False
    return True


def _int_meta(meta: dict[str, Any], key: str) -> int | None:
    value = meta.get(key)
    return None if value is None else int(value)


def _json_str(text: str) -> str:
    return f'"{text}"' if _PLAIN_ID.fullmatch(text) else json.dumps(text, ensure_ascii=False)


def run_bulk(cluster: Cluster, raw: bytes, default_index: str | None, refresh: str, require_alias: bool) -> bytes:
    """Execute a bulk request; returns the response body as JSON bytes (always HTTP 200)."""
    started = time.monotonic()
    ops = _parse(raw, default_index)
    items: list[str] = []
    errors = False
    touched: dict[str, IndexState] = {}
    forced = ',"forced_refresh":true' if refresh == "true" else ""
    with cluster.lock:
        targets: dict[tuple[str, bool], IndexState] = {}
        prefixes: dict[tuple[str, str], str] = {}
        shard_parts: dict[str, str] = {}
        has_faults = bool(cluster.bulk_faults)
        for kind, meta, source, source_raw in ops:
            target = str(meta["_index"])
            doc_id = None if meta.get("_id") is None else str(meta["_id"])
            if kind in ("index", "create") and doc_id is None:
                doc_id = new_doc_id()
                op_type = "create"
            elif kind == "index":
                op_type = str(meta.get("op_type", "index"))
            else:
                op_type = kind
            # the item is reported under its op type: an `index` action with op_type create is a `create`
            # (YAML REST test bulk/10_basic.yml, "Empty _id with op_type create": items.4.create.result)
            key = "create" if kind == "index" and str(meta.get("op_type", "index")) == "create" else kind
            flag = meta.get("require_alias")
            must_alias = require_alias if flag is None else flag in (True, "true")
            try:
                idx = targets.get((target, must_alias))
                if idx is None:
                    if kind == "delete" and target not in cluster.indices and target not in cluster.aliases():
                        raise E.index_not_found(target)  # deletes never auto-create an index
                    idx = cluster.resolve_write(target, require_alias=must_alias)
                    targets[(target, must_alias)] = idx
                if has_faults:
                    fault = cluster.bulk_fault_for(kind, (target, idx.name), doc_id)
                    if fault is not None:
                        raise EsError(fault.status, fault.error_type, fault.reason)
                if doc_id == "":
                    raise E.illegal_argument("if _id is specified it must not be empty")
                if kind in ("index", "create"):
                    if isinstance(source, _BadLine):
                        raise EsError(
                            400,
                            "document_parsing_exception",
                            f"[1:{getattr(source.error, 'colno', 1)}] failed to parse",
                            caused_by=EsError(400, "json_parse_exception", str(source.error)),
                        )
                    assert doc_id is not None
                    if len(doc_id) > 128:
                        cluster._check_id(doc_id)
                    cas_seq = meta.get("if_seq_no")
                    cas_term = meta.get("if_primary_term")
                    doc, created = cluster.put_document(
                        idx,
                        doc_id,
                        source,
                        source_raw,
                        op_type,
                        None if cas_seq is None else int(cas_seq),
                        None if cas_term is None else int(cas_term),
                    )
                    prefix = prefixes.get((key, idx.name))
                    if prefix is None:
                        prefix = f'{{"{key}":{{"_index":{_json_str(idx.name)},"_id":'
                        prefixes[(key, idx.name)] = prefix
                        shard_parts[idx.name] = (
                            f'"_shards":{{"total":{1 + idx.number_of_replicas},"successful":1,"failed":0}}'
                        )
                    touched[idx.name] = idx
                    if created:
                        items.append(
                            f'{prefix}{_json_str(doc_id)},"_version":{doc.version},"result":"created",'
                            f'{shard_parts[idx.name]},"_seq_no":{doc.seq_no},"_primary_term":1{forced},"status":201}}}}'
                        )
                    else:
                        items.append(
                            f'{prefix}{_json_str(doc_id)},"_version":{doc.version},"result":"updated",'
                            f'{shard_parts[idx.name]},"_seq_no":{doc.seq_no},"_primary_term":1{forced},"status":200}}}}'
                        )
                    continue
                body = _execute_other(cluster, kind, meta, idx, doc_id, source, must_alias)
                touched[idx.name] = idx
                if forced:
                    body["forced_refresh"] = True
                items.append(json.dumps({kind: body}, separators=(",", ":"), ensure_ascii=False))
            except EsError as exc:
                errors = True
                index_name = _error_index(exc, targets.get((target, must_alias)), target)
                item = {"_index": index_name, "_id": doc_id, "status": exc.status, "error": exc.to_dict()}
                items.append(json.dumps({key: item}, separators=(",", ":"), ensure_ascii=False))
        waits = []
        for idx in touched.values():
            if refresh == "true":
                idx.refresh()
            elif refresh == "wait_for":
                waits.append(cluster.visibility_waiter(idx))
    for wait in waits:
        if wait is not None:
            wait()
    took = int((time.monotonic() - started) * 1000)
    head = f'{{"errors":{"true" if errors else "false"},"took":{took},"items":['
    return (head + ",".join(items) + "]}").encode("utf-8")


def _error_index(exc: EsError, resolved: IndexState | None, target: str) -> str:
    if resolved is not None:
        return resolved.name
    index = exc.meta.get("index")
    return index if isinstance(index, str) and exc.type != "index_not_found_exception" else target


def _execute_other(
    cluster: Cluster,
    kind: str,
    meta: dict[str, Any],
    idx: IndexState,
    doc_id: str | None,
    source: Any,
    require_alias: bool,
) -> dict[str, Any]:
    if_seq_no = _int_meta(meta, "if_seq_no")
    if_primary_term = _int_meta(meta, "if_primary_term")
    assert doc_id is not None
    if kind == "delete":
        result = cluster.delete_document(idx.name, doc_id, if_seq_no=if_seq_no, if_primary_term=if_primary_term)
        return {**result.body, "status": result.status}
    if isinstance(source, _BadLine):
        raise EsError(400, "x_content_parse_exception", f"[1:{getattr(source.error, 'colno', 1)}] {source.error}")
    result = cluster.update_document(idx.name, doc_id, source, if_seq_no=if_seq_no, if_primary_term=if_primary_term)
    return {**result.body, "status": result.status}
