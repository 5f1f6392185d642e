"""The API's Blueprint: strict argument parsing and every error status of an operation in the OpenAPI document.

- Unknown query parameters, path segments and body fields are 422, each named,
  with the closest valid name suggested (`genres` -> `genre`); an operation with
  no query arguments refuses any (`NoQuery`).
- A body whose Content-Type is not JSON is 415; one nested deeper than
  MAX_JSON_DEPTH is 400 before it is parsed; invalid JSON (also NaN, Infinity and
  repeated keys) is 400; a body that stops arriving is 408.
- Schemas are told whether they load text (query string, path) or JSON, so the
  strict fields of service.schemas accept "10" in a query string but not in a body.
- `response()` documents the statuses every operation can answer (COMMON_ERRORS)
  with the one error schema; `arguments()` adds 422, and 408 / 415 for bodies.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from typing import Any

import flask_smorest
import marshmallow as ma
from flask import Request, current_app
from webargs import core
from webargs.flaskparser import FlaskParser, abort, is_json_request
from werkzeug.exceptions import ClientDisconnected

from service import scale, vocabulary
from service.errors import COMMON_ERRORS, SUGGESTIONS, ErrorSchema, close_matches, suggestion
from service.limits import check_read_body, nesting_exceeds

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]
BODY_ERRORS = (408, 415)
RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "integer"}}}


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    repeated = sorted(k for k, n in Counter(k for k, _ in pairs).items() if n > 1)
    if repeated:
        raise ValueError(f"repeated keys {repeated}")
    return dict(pairs)


def _has_body(req: Request) -> bool:
    return bool(req.content_length) or "chunked" in req.headers.get("Transfer-Encoding", "").lower()


class StrictParser(FlaskParser):
    """webargs' Flask parser, refusing unknown names everywhere and reading JSON bodies strictly and within limits."""

    DEFAULT_UNKNOWN_BY_LOCATION = {location: ma.RAISE for location in FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION}

    def parse(self, argmap: Any, req: Request | None = None, *, location: str | None = None, **kwargs: Any) -> Any:
        """webargs' parse, then the vocabulary check of the fields that name a genre or a demographic
        and the rating-scale check of those bounded by the served edition's top rating."""
        data = super().parse(argmap, req, location=location, **kwargs)
        if isinstance(argmap, ma.Schema) and isinstance(data, dict):
            checked = vocabulary.checked(argmap, data, location or self.location)
            scale.checked(argmap, checked, location or self.location)
            return checked
        return data

    def _raw_load_json(self, req: Request) -> Any:
        if not _has_body(req):
            return core.missing
        if not is_json_request(req):
            abort(415, message=f"The body must be JSON (Content-Type: application/json), not {req.mimetype or 'untyped'}.")
        try:
            data = req.get_data(cache=True)
        except (ClientDisconnected, OSError):  # the body ended early: the client stopped sending (read timeout) or left
            abort(408, message="The request body did not arrive in full.")
        check_read_body(data)
        depth = int(current_app.config["MAX_JSON_DEPTH"])
        if nesting_exceeds(data, depth):
            abort(400, message=f"The JSON body is nested deeper than {depth} levels.", errors={"json": [f"nested deeper than {depth}"]})
        try:
            text = data.decode("utf-8")
            return json.loads(text, parse_constant=_refuse_constant, object_pairs_hook=_unique_keys)
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            abort(400, message=f"The body is not valid JSON: {exc}.", errors={"json": [f"invalid JSON: {exc}"]})

    def handle_error(
        self,
        error: ma.ValidationError,
        req: Request,
        schema: ma.Schema,
        *,
        error_status_code: int | None,
        error_headers: Mapping[str, str] | None,
    ) -> None:
        """422 naming each field; unknown names get their closest valid name in the message and in suggestions.

        A list of plain values (`genre=…&genre=…`, `titles`) has its messages as every field does, a list
        ("value 2: Must be printable ASCII."), not marshmallow's {index: [messages]}.
        """
        messages = error.messages if isinstance(error.messages, dict) else {"json": error.messages}
        known = [f.data_key or name for name, f in schema.load_fields.items()]
        suggestions: dict[str, list[dict[str, Any]]] = {}
        unknown_text = schema.error_messages["unknown"]
        for location, by_field in messages.items():
            if not isinstance(by_field, dict):
                continue
            for name, found in by_field.items():
                if _item_errors(found):
                    by_field[name] = [f"value {int(i) + 1}: {m}" for i, ms in sorted(found.items(), key=lambda e: int(e[0])) for m in ms]
                if found != [unknown_text]:
                    continue
                close = close_matches(str(name), known)
                what = "body field" if location == "json" else "parameter"
                by_field[name] = [f"Unknown {what}." + (f" Did you mean {close[0]!r}?" if close else "")]
                if close:
                    suggestions[str(name)] = [suggestion(c) for c in close]
        errors: dict[str, Any] = dict(messages)
        if suggestions:
            errors[SUGGESTIONS] = suggestions
        abort(error_status_code or self.DEFAULT_VALIDATION_STATUS, errors=errors, headers=error_headers)


def _item_errors(found: Any) -> bool:
    """Whether `found` is marshmallow's {index: [messages]} of a list of plain values (objects stay nested)."""
    return isinstance(found, dict) and bool(found) and all(
        str(k).isdigit() and isinstance(v, list) and all(isinstance(m, str) for m in v) for k, v in found.items()
    )


class NoQuery(ma.Schema):
    """For operations without query parameters: any given is unknown (422), none documented."""


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's Blueprint with the strict parser and every error status documented."""

    ARGUMENTS_PARSER = StrictParser()

    def arguments(self, schema: type[ma.Schema] | ma.Schema, *, location: str = "json", **kwargs: Any) -> Decorator:
        """`flask_smorest.Blueprint.arguments`, loading `schema` as text (query, path) or JSON, strictly."""
        instance = schema() if isinstance(schema, type) else schema
        instance.text_input = location != "json"  # read by service.schemas' strict fields
        parse = super().arguments(instance, location=location, **kwargs)
        return _compose(parse, *self._errors(BODY_ERRORS if location == "json" else ()))

    def response(self, status_code: int, schema: Any = None, *, errors: Iterable[int] = COMMON_ERRORS, **kwargs: Any) -> Decorator:
        """`flask_smorest.Blueprint.response`, also documenting `errors` (the statuses every operation can answer)."""
        return _compose(super().response(status_code, schema, **kwargs), *self._errors(errors))

    def errors(self, *statuses: int) -> Decorator:
        """Document more error statuses of one operation (e.g. 404, 409), all with the one error schema."""
        return _compose(*self._errors(statuses))

    def _errors(self, statuses: Iterable[int]) -> list[Decorator]:
        out = []
        for status in statuses:
            if status == 503:
                out.append(self.alt_response(503, schema=ErrorSchema, description=HTTPStatus(503).phrase, headers=RETRY_AFTER))
            else:
                out.append(self.alt_response(status, response=HTTPStatus(status).name))
        return out


def _compose(*decorators: Decorator) -> Decorator:
    def apply(func: Callable[..., Any]) -> Callable[..., Any]:
        for decorator in decorators:
            func = decorator(func)
        return func

    return apply
