"""Request limits checked before any work: body size (413) and JSON nesting depth (400).

The size limit is checked before the view runs for a declared Content-Length,
whatever the method, and while a chunked body is read (werkzeug's
MAX_CONTENT_LENGTH stops reading it one byte past the limit). The depth check scans the raw bytes in one
pass, skipping strings, so a body like `[` x 1000 is refused without being
parsed (Python's parser would recurse once per level).
"""

from __future__ import annotations

import re

from flask import Flask, current_app, request
from webargs.flaskparser import abort

# A JSON string (escapes included; Friedl's "unrolled loop", linear), a lone quote (an unterminated string), or a
# bracket. A 64 KiB body of any shape is scanned in tens of milliseconds at most.
_TOKENS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|["\[\]{}]', re.S)
_OPEN = frozenset((b"[", b"{"))
_CLOSE = frozenset((b"]", b"}"))


def nesting_exceeds(data: bytes, limit: int) -> bool:
    """Whether the JSON text `data` nests arrays/objects deeper than `limit` (brackets inside strings ignored).

    Invalid JSON may answer either way; the parser refuses it afterwards.
    """
    depth = 0
    for match in _TOKENS.finditer(data):
        token = match.group()
        if token in _OPEN:
            depth += 1
            if depth > limit:
                return True
        elif token in _CLOSE:
            depth -= 1
        elif token == b'"':  # unterminated string: invalid JSON, nothing deeper can follow
            return False
    return False


def _body_size() -> None:
    limit = int(current_app.config["MAX_BODY_BYTES"])
    if request.content_length is not None and request.content_length > limit:
        abort(413, message=f"The body is {request.content_length} bytes; at most {limit} are accepted.")


def check_read_body(data: bytes) -> None:
    """413 for a body without Content-Length (chunked) that went past the limit while it was read."""
    limit = int(current_app.config["MAX_BODY_BYTES"])
    if len(data) > limit:
        abort(413, message=f"The body is over {limit} bytes; at most {limit} are accepted.")


def init_app(app: Flask) -> None:
    """Refuse an oversized body before any view reads it (413, the one error body).

    werkzeug stops reading a chunked body at MAX_CONTENT_LENGTH without saying so; one byte past the limit lets
    `check_read_body` tell a body at the limit from a longer one.
    """
    app.config["MAX_CONTENT_LENGTH"] = int(app.config["MAX_BODY_BYTES"]) + 1
    app.before_request(_body_size)
