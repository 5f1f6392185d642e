"""Elasticsearch-shaped errors.

Every failure the double reports travels as an `EsError`, which renders exactly the JSON
Elasticsearch renders for an `ElasticsearchException`: `type`, `reason`, the exception's
metadata (`index`, `index_uuid`, `resource.id`, ...), an optional `caused_by` chain, and at
the top of a response body a `root_cause` list and the HTTP `status`.

Reference: https://www.elastic.co/docs/reference/elasticsearch/rest-apis/api-conventions
(error responses) and `ElasticsearchException#toXContent` / `#guessRootCauses`.
"""

from __future__ import annotations

from typing import Any

UNSUPPORTED_PREFIX = "unsupported by the test double: "


class EsError(Exception):
    """An Elasticsearch exception: HTTP status, type, reason, metadata and cause chain."""

    def __init__(
        self,
        status: int,
        type_: str,
        reason: str,
        *,
        meta: dict[str, Any] | None = None,
        caused_by: EsError | None = None,
        root_causes: list[dict[str, Any]] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.type = type_
        self.reason = reason
        self.meta = dict(meta or {})
        self.caused_by = caused_by
        self._root_causes = root_causes
        self.extra = dict(extra or {})

    def to_dict(self) -> dict[str, Any]:
        """The exception as it appears nested (bulk items, `caused_by`, shard failures)."""
        out: dict[str, Any] = {"type": self.type, "reason": self.reason}
        out.update(self.meta)
        out.update(self.extra)
        if self.caused_by is not None:
            out["caused_by"] = self.caused_by.to_dict()
        return out

    def root_causes(self) -> list[dict[str, Any]]:
        """Like `guessRootCauses`: the innermost Elasticsearch exception, without its causes."""
        if self._root_causes is not None:
            return self._root_causes
        if self.caused_by is not None and self.caused_by.is_elasticsearch:
            return self.caused_by.root_causes()
        head = {"type": self.type, "reason": self.reason}
        head.update(self.meta)
        return [head]

    @property
    def is_elasticsearch(self) -> bool:
        """Java exceptions such as IllegalArgumentException are not ElasticsearchExceptions."""
        return self.type not in _JAVA_EXCEPTIONS

    def body(self) -> dict[str, Any]:
        """The full response body: `{"error": {...root_cause...}, "status": N}`."""
        error = {"root_cause": self.root_causes()}
        error.update(self.to_dict())
        return {"error": error, "status": self.status}


_JAVA_EXCEPTIONS = {
    "illegal_argument_exception",
    "illegal_state_exception",
    "number_format_exception",
    "arithmetic_exception",
    "null_pointer_exception",
    "class_cast_exception",
    "date_time_parse_exception",
    "json_parse_exception",
    "array_index_out_of_bounds_exception",
    # xcontent-library exceptions are not ElasticsearchExceptions either
    "x_content_parse_exception",
    "named_object_not_found_exception",
}


def illegal_argument(reason: str, caused_by: EsError | None = None) -> EsError:
    """400 `illegal_argument_exception`."""
    return EsError(400, "illegal_argument_exception", reason, caused_by=caused_by)


def number_format(text: object) -> EsError:
    """Java's `NumberFormatException`, the cause Elasticsearch attaches when a number fails to parse."""
    return EsError(400, "number_format_exception", f'For input string: "{text}"')


def unsupported(feature: str) -> EsError:
    """A loud refusal for anything outside the double's subset (never a silent approximation)."""
    return illegal_argument(UNSUPPORTED_PREFIX + feature)


def parsing_error(reason: str, location: tuple[int, int] | None = None, caused_by: EsError | None = None) -> EsError:
    """400 `parsing_exception` (query DSL), with `line`/`col` when the location is known."""
    extra = {"line": location[0], "col": location[1]} if location else {}
    return EsError(400, "parsing_exception", reason, meta=extra, caused_by=caused_by)


def x_content_parse_error(
    reason: str, location: tuple[int, int] | None = None, caused_by: EsError | None = None
) -> EsError:
    """400 `x_content_parse_exception`: the object parser's "[line:col] [knn] unknown field [x]"."""
    prefix = f"[{location[0]}:{location[1]}] " if location else ""
    return EsError(400, "x_content_parse_exception", prefix + reason, caused_by=caused_by)


def index_not_found(name: str) -> EsError:
    """404 `index_not_found_exception` ("no such index [x]")."""
    return EsError(
        404,
        "index_not_found_exception",
        f"no such index [{name}]",
        meta={"resource.type": "index_or_alias", "resource.id": name, "index_uuid": "_na_", "index": name},
    )


def invalid_index_name(name: str, why: str) -> EsError:
    """400 `invalid_index_name_exception`."""
    return EsError(
        400,
        "invalid_index_name_exception",
        f"Invalid index name [{name}], {why}",
        meta={"index_uuid": "_na_", "index": name},
    )


def invalid_alias_name(name: str, why: str) -> EsError:
    """400 `invalid_alias_name_exception`."""
    return EsError(400, "invalid_alias_name_exception", f"Invalid alias name [{name}]: {why}")


def resource_already_exists(name: str, uuid: str) -> EsError:
    """400 `resource_already_exists_exception` on creating an existing index."""
    return EsError(
        400,
        "resource_already_exists_exception",
        f"index [{name}/{uuid}] already exists",
        meta={"index_uuid": uuid, "index": name},
    )


def mapper_parsing(reason: str, caused_by: EsError | None = None) -> EsError:
    """400 `mapper_parsing_exception` (invalid mappings at index creation)."""
    return EsError(400, "mapper_parsing_exception", reason, caused_by=caused_by)


def query_shard(reason: str, index: str, index_uuid: str, caused_by: EsError | None = None) -> EsError:
    """`query_shard_exception`: a query that parsed but cannot be built against this shard."""
    return EsError(
        400,
        "query_shard_exception",
        reason,
        meta={"index_uuid": index_uuid, "index": index},
        caused_by=caused_by,
    )


def failed_to_create_query(cause: EsError, index: str, index_uuid: str) -> EsError:
    """`SearchExecutionContext#toQuery` wraps every non-shard exception like this."""
    if cause.type == "query_shard_exception":
        return cause
    return query_shard(f"failed to create query: {cause.reason}", index, index_uuid, caused_by=cause)


def search_phase_failure(failures: list[tuple[str, EsError]], phase: str, node_id: str) -> EsError:
    """`search_phase_execution_exception` "all shards failed" with grouped shard failures.

    `failures` holds (index name, shard-level cause). Like Elasticsearch, identical causes
    are grouped, the HTTP status is the cause's status, and `caused_by` repeats the cause.
    """
    grouped: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    root: list[dict[str, Any]] = []
    for index, cause in failures:
        key = (cause.type, cause.reason)
        if key in seen:
            continue
        seen.add(key)
        grouped.append({"shard": 0, "index": index, "node": node_id, "reason": cause.to_dict()})
        root.extend(cause.root_causes())
    first = failures[0][1]
    wrapped = EsError(first.status, first.type, first.reason, meta=first.meta, caused_by=first)
    return EsError(
        first.status,
        "search_phase_execution_exception",
        "all shards failed",
        extra={"phase": phase, "grouped": True, "failed_shards": grouped},
        caused_by=wrapped,
        root_causes=root,
    )


class ShardFailure(Exception):
    """Raised while executing a search on one index ("shard"); becomes a shard failure."""

    def __init__(self, cause: EsError, phase: str = "query") -> None:
        super().__init__(cause.reason)
        self.cause = cause
        self.phase = phase
