"""The one place that maps failures to HTTP answers in the API's one error body.

Every error answer is `{"code", "status", "message", "errors"}` (flask-smorest's
error schema), `errors` always present: `{}` when there is nothing to add,
`{<location>: {<field>: [messages]}}` when input is at fault (location: path,
query, json), and `errors.suggestions` when something given did not match:
`{<what was given>: [{"value": <what to send instead>, "movie": {...}?,
"confident": true?}]}`, best first. Views raise `abort(...)`; Elasticsearch failures, a spent request
deadline and anything unexpected are mapped here, so no answer ever carries a
stack trace.
"""

from __future__ import annotations

import difflib
import logging
import time
from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import Any

import marshmallow as ma
from elastic_transport import ConnectionError as ESConnectionError
from elastic_transport import ConnectionTimeout, TransportError
from elasticsearch import ApiError
from elasticsearch.helpers import BulkIndexError
from flask import Flask, current_app, g
from flask_smorest import Api
from werkzeug.exceptions import HTTPException

from pipeline.es import UnsupportedVersion

log = logging.getLogger(__name__)

SUGGESTIONS = "suggestions"
INVALID = "Invalid request; `errors` names each field (by location: path, query, json) and what is wrong."
# What every operation can answer besides its own statuses: gunicorn's limits (400 malformed request, 414 request
# line, 431 headers), the body size limit (413, any method), and Elasticsearch or the app failing (500, 502, 503, 504).
COMMON_ERRORS = (400, 413, 414, 431, 500, 502, 503, 504)


class IndexMissing(Exception):
    """An alias the service reads (e.g. `movierec-movies`) does not exist yet: no model exported."""

    def __init__(self, index: str, message: str | None = None) -> None:
        super().__init__(message or f"index {index} does not exist: no model has been exported yet")
        self.index = index


class DeadlineExceeded(Exception):
    """The request's time budget for Elasticsearch calls (REQUEST_DEADLINE_S) is spent before the next call."""

    def __init__(self, deadline_s: float) -> None:
        super().__init__(f"request deadline of {deadline_s:g} s spent")
        self.deadline_s = deadline_s


class SuggestionSchema(ma.Schema):
    value = ma.fields.String(required=True, metadata={"description": "What to send instead", "example": "Children's"})
    movie = ma.fields.Dict(metadata={"description": "The movie, when the suggestion is a movie (id, title, year, ...)"})
    confident = ma.fields.Boolean(metadata={"description": "On the first suggestion for a title when it is a confident "
                                                           "match (a page can offer it in one click)"})


class ErrorDetailsSchema(ma.Schema):
    """`errors`: the inputs at fault by location, and suggestions for what did not match."""

    class Meta:
        unknown = ma.INCLUDE  # the locations (path, query, json): {field: [messages]}, nested as the input is

    suggestions = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.List(ma.fields.Nested(SuggestionSchema)),
        metadata={"description": "For each value given that matched nothing: close matches, best first"},
    )
    years = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Dict(),
        metadata={"description": "For a title given with a year: `year_hint` and the catalogue's `catalogue_years` "
                                 "(`{first, last}`), to tell a film newer than the data"},
    )


class ErrorSchema(ma.Schema):
    """The one error body (documentation: answers are built by `error_body` and flask-smorest's handler)."""

    code = ma.fields.Integer(required=True, metadata={"description": "HTTP status code", "example": 422})
    status = ma.fields.String(required=True, metadata={"description": "HTTP status phrase", "example": HTTPStatus(422).phrase})
    message = ma.fields.String(required=True, metadata={"description": "What went wrong, for people"})
    errors = ma.fields.Nested(
        ErrorDetailsSchema,
        required=True,
        metadata={
            "description": "`{}`, or `{location: {field: [messages]}}` (location: path, query, json) naming each "
            "input at fault, and `suggestions` for values that matched nothing",
            "example": {"query": {"genre": ["unknown value 'Children'"]},
                        "suggestions": {"Children": [{"value": "Children's"}]}},
        },
    )


def error_body(code: int, message: str, errors: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A body in the API's one error schema."""
    return {"code": code, "status": HTTPStatus(code).phrase, "message": message, "errors": dict(errors or {})}


def suggestion(value: str, movie: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """One entry of `errors.suggestions[given]`."""
    return {"value": value, "movie": dict(movie)} if movie is not None else {"value": value}


def close_matches(given: str, choices: Iterable[str], n: int = 3, cutoff: float = 0.6) -> list[str]:
    """The choices closest to `given`, best first, compared case-insensitively (difflib's ratio >= cutoff)."""
    by_key: dict[str, str] = {}
    for choice in choices:
        by_key.setdefault(choice.casefold(), choice)
    return [by_key[k] for k in difflib.get_close_matches(given.casefold(), list(by_key), n=n, cutoff=cutoff)]


def _retry_after() -> dict[str, str]:
    return {"Retry-After": str(int(current_app.config["RETRY_AFTER_S"]))}


def _spent() -> str:
    """Time this request has spent so far and on how many Elasticsearch calls (store's clock)."""
    if "started" not in g:
        return ""
    return f" ({time.perf_counter() - g.started:.2f} s spent, {g.get('es_calls', 0)} Elasticsearch calls)"


def _unreachable(exc: Exception) -> tuple[dict, int, dict]:
    log.warning("Elasticsearch unreachable: %s", exc)
    return error_body(503, "Elasticsearch is unreachable; retry later"), 503, _retry_after()


def _timeout(exc: Exception) -> tuple[dict, int, dict]:
    deadline = float(current_app.config["REQUEST_DEADLINE_S"])
    log.warning("Elasticsearch timed out: %s%s", exc, _spent())
    return error_body(504, f"Elasticsearch did not answer within the request deadline of {deadline:g} s{_spent()}"), 504, {}


def _index_missing(exc: IndexMissing) -> tuple[dict, int, dict]:
    return error_body(503, str(exc)), 503, _retry_after()


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
    """flask-smorest's Api with the one error body: `message` and `errors` always there, a 405's `Allow` kept.

    Operations list their error statuses explicitly (service.views.blueprint), so there is no catch-all
    `default` response in the OpenAPI document.
    """

    ERROR_SCHEMA = ErrorSchema
    DEFAULT_ERROR_RESPONSE_NAME = None

    def handle_http_exception(self, error: HTTPException) -> tuple[dict, int, dict]:
        payload, code, headers = super().handle_http_exception(error)
        if "message" not in payload:
            payload["message"] = INVALID if code == 422 else (error.description or HTTPStatus(code).phrase)
        payload.setdefault("errors", {})
        # werkzeug's own headers for this error, e.g. `Allow` on a 405 (RFC 9110 §15.5.6); the body is JSON.
        extra = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
        return payload, code, {**extra, **dict(headers or {})}


def _unsupported_version(exc: UnsupportedVersion) -> tuple[dict, int, dict]:
    log.error("%s", exc)
    return error_body(503, str(exc)), 503, {}


def register_error_handlers(app: Flask) -> None:
    """Install the handlers (flask-smorest already renders HTTPException in the same schema)."""
    app.register_error_handler(UnsupportedVersion, _unsupported_version)
    app.register_error_handler(ConnectionTimeout, _timeout)
    app.register_error_handler(DeadlineExceeded, _timeout)
    app.register_error_handler(ESConnectionError, _unreachable)
    app.register_error_handler(IndexMissing, _index_missing)
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(BulkIndexError, _bulk_error)
    app.register_error_handler(TransportError, _transport_error)
    app.register_error_handler(Exception, _unexpected)
