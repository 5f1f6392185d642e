"""The one place that maps failures to HTTP answers in the API's error schema.

Every error body is flask-smorest's `{"code", "status", "message", "errors"}`:
views raise `abort(...)`, Elasticsearch failures and anything unexpected are
mapped here, so no answer ever carries a stack trace.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from elastic_transport import ConnectionError as ESConnectionError
from elastic_transport import ConnectionTimeout, TransportError
from elasticsearch import ApiError
from elasticsearch.helpers import BulkIndexError
from flask import Flask, current_app
from flask_smorest import Api
from werkzeug.exceptions import HTTPException

from pipeline.es import UnsupportedVersion

log = logging.getLogger(__name__)


class IndexMissing(Exception):
    """An alias the service reads (e.g. `movierec-movies`) does not exist yet: no model exported."""

    def __init__(self, index: str, message: str | None = None) -> None:
        super().__init__(message or f"index {index} does not exist: no model has been exported yet")
        self.index = index


def error_body(code: int, message: str, errors: dict[str, Any] | None = None) -> dict[str, Any]:
    """A body in the API's one error schema."""
    body: dict[str, Any] = {"code": code, "status": HTTPStatus(code).phrase, "message": message}
    if errors:
        body["errors"] = errors
    return body


def _retry_after() -> dict[str, str]:
    return {"Retry-After": str(int(current_app.config["RETRY_AFTER_S"]))}


def _unreachable(exc: Exception) -> tuple[dict, int, dict]:
    log.warning("Elasticsearch unreachable: %s", exc)
    return error_body(503, "Elasticsearch is unreachable; retry later"), 503, _retry_after()


def _timeout(exc: Exception) -> tuple[dict, int, dict]:
    log.warning("Elasticsearch timed out: %s", exc)
    return error_body(504, "Elasticsearch did not answer in time"), 504, {}


def _index_missing(exc: IndexMissing) -> tuple[dict, int, dict]:
    return error_body(503, str(exc), {"index": [exc.index]}), 503, _retry_after()


def _api_error(exc: ApiError) -> tuple[dict, int, dict]:
    """ES answered with an error: overload and unavailability are 503, the rest 502 (logged in full)."""
    status = int(getattr(exc, "status_code", 0) or getattr(exc.meta, "status", 0) or 0)
    kind = _error_type(exc)
    if kind == "index_not_found_exception":
        index = _error_field(exc, "index") or "?"
        return _index_missing(IndexMissing(index))
    if status in (429, 503):
        log.warning("Elasticsearch busy (%s): %s", status, kind)
        return error_body(503, f"Elasticsearch is busy ({kind}); retry later"), 503, _retry_after()
    log.error("Elasticsearch rejected a request: %s %s", status, exc.body)
    return error_body(502, f"Elasticsearch failed the request ({kind})"), 502, {}


def _bulk_error(exc: BulkIndexError) -> tuple[dict, int, dict]:
    log.error("Elasticsearch refused %d writes: %s", len(exc.errors), exc.errors[:3])
    return error_body(502, f"Elasticsearch refused {len(exc.errors)} writes"), 502, {}


def _transport_error(exc: TransportError) -> tuple[dict, int, dict]:
    log.error("Elasticsearch transport error: %s", exc)
    return error_body(502, "Elasticsearch answered unreadably"), 502, {}


def _unexpected(exc: Exception) -> tuple[dict, int, dict]:
    log.exception("unhandled error")
    return error_body(500, "Unexpected error; it has been logged"), 500, {}


def _error_type(exc: ApiError) -> str:
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error")
    if isinstance(error, dict):
        return str(error.get("type", "error"))
    return "not_found" if body.get("found") is False else str(error or "error")


def _error_field(exc: ApiError, name: str) -> str | None:
    error = exc.body.get("error") if isinstance(exc.body, dict) else None
    return error.get(name) if isinstance(error, dict) else None


class ServiceApi(Api):
    """flask-smorest's Api whose HTTP errors always carry a message (422: "Invalid request...")."""

    def handle_http_exception(self, error: HTTPException) -> tuple[dict, int, dict]:
        payload, code, headers = super().handle_http_exception(error)
        if "message" not in payload:
            payload["message"] = INVALID if code == 422 else (error.description or HTTPStatus(code).phrase)
        return payload, code, headers


INVALID = "Invalid request; `errors` names each field (by location: path, query, json) and what is wrong."


def _unsupported_version(exc: UnsupportedVersion) -> tuple[dict, int, dict]:
    log.error("%s", exc)
    return error_body(503, str(exc)), 503, {}


def register_error_handlers(app: Flask) -> None:
    """Install the handlers (flask-smorest already renders HTTPException in the same schema)."""
    app.register_error_handler(UnsupportedVersion, _unsupported_version)
    app.register_error_handler(ConnectionTimeout, _timeout)
    app.register_error_handler(ESConnectionError, _unreachable)
    app.register_error_handler(IndexMissing, _index_missing)
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(BulkIndexError, _bulk_error)
    app.register_error_handler(TransportError, _transport_error)
    app.register_error_handler(Exception, _unexpected)
