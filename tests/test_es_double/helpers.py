"""Small helpers shared by the double's tests (they work against a real cluster too)."""

from __future__ import annotations

from typing import Any

import pytest
from elasticsearch import ApiError, Elasticsearch


def error_body(exc: ApiError) -> dict[str, Any]:
    """The `error` object of an Elasticsearch error response."""
    body = exc.body
    assert isinstance(body, dict), body
    return body["error"]


def _error_nodes(exc: ApiError) -> list[dict[str, Any]]:
    """The error and every error nested in it: root causes, the caused_by chain, shard failures."""
    out: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            out.append(node)
            for key in ("caused_by", "reason"):
                if isinstance(node.get(key), dict):
                    walk(node[key])
            for item in node.get("root_cause", []) or []:
                walk(item)
            for item in node.get("failed_shards", []) or []:
                walk(item)

    walk(error_body(exc))
    return out


def reasons(exc: ApiError) -> list[str]:
    """Every `reason` in the error: top level, root causes, the caused_by chain, shard failures."""
    return [node["reason"] for node in _error_nodes(exc) if isinstance(node.get("reason"), str)]


def types(exc: ApiError) -> list[str]:
    """Every exception `type` in the error (same traversal as `reasons`)."""
    return [node["type"] for node in _error_nodes(exc) if isinstance(node.get("type"), str)]


def expect_error(call: Any, status: int) -> ApiError:
    """Run `call()` and return the ApiError, checking its HTTP status."""
    with pytest.raises(ApiError) as info:
        call()
    assert info.value.meta.status == status, info.value.body
    return info.value


def create(
    es: Elasticsearch,
    name: str,
    properties: dict[str, Any],
    *,
    dynamic: str | None = "strict",
    settings: dict[str, Any] | None = None,
) -> None:
    mappings: dict[str, Any] = {"properties": properties}
    if dynamic is not None:
        mappings["dynamic"] = dynamic
    es.indices.create(
        index=name, mappings=mappings, settings={"number_of_shards": 1, "number_of_replicas": 0, **(settings or {})}
    )


def index_docs(es: Elasticsearch, name: str, docs: dict[str, dict[str, Any]]) -> None:
    """Index documents by id, then refresh."""
    for doc_id, doc in docs.items():
        es.index(index=name, id=doc_id, document=doc)
    es.indices.refresh(index=name)


def ids(response: Any) -> list[str]:
    return [hit["_id"] for hit in response["hits"]["hits"]]
