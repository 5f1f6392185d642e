"""Health: is Elasticsearch reachable, is a run served, how many documents each alias holds."""

from __future__ import annotations

from typing import Any

from elastic_transport import TransportError
from elasticsearch import ApiError
from flask import current_app

from service import store
from service.errors import DeadlineExceeded

KINDS = ("movies", "users", "ratings")


def check() -> tuple[dict[str, Any], int, dict[str, str]]:
    """The report, its HTTP status (200 served, 503 degraded) and headers (Retry-After when degraded)."""
    problems: list[str] = []
    report: dict[str, Any] = {"status": "ok", "elasticsearch": {"reachable": False}, "active_run": None, "indices": {}}
    try:
        info = store.server_info()
    except (TransportError, ApiError, DeadlineExceeded) as exc:
        problems.append(f"Elasticsearch unreachable: {type(exc).__name__}")
        return _finish(report, problems)
    report["elasticsearch"] = {
        "reachable": True,
        "cluster_name": info.get("cluster_name"),
        "version": (info.get("version") or {}).get("number"),
    }
    try:
        report["active_run"] = store.active_run_id()
        for kind in KINDS:
            report["indices"][kind] = _index(kind, problems)
    except (TransportError, ApiError, DeadlineExceeded) as exc:
        problems.append(f"Elasticsearch failed a health probe: {type(exc).__name__}")
    if report["active_run"] is None:
        problems.append(f"no run is served: alias {store.index_of('movies')} is missing")
    return _finish(report, problems)


def _index(kind: str, problems: list[str]) -> dict[str, Any]:
    alias = store.index_of(kind)
    target = store.alias_target(kind)
    if target is None:
        problems.append(f"alias {alias} is missing")
        return {"alias": alias, "index": None, "count": None}
    count = store.count(kind)
    if kind != "ratings" and count == 0:
        problems.append(f"{alias} is empty")
    return {"alias": alias, "index": target, "count": count}


def _finish(report: dict[str, Any], problems: list[str]) -> tuple[dict[str, Any], int, dict[str, str]]:
    report["problems"] = problems
    if not problems:
        return report, 200, {}
    report["status"] = "degraded"
    return report, 503, {"Retry-After": str(int(current_app.config["RETRY_AFTER_S"]))}
