"""What gunicorn itself answers, in the API's terms: its own errors in the JSON error body, silent clients timed out.

gunicorn answers some requests before the app sees them: a request line over
`limit_request_line` (414), headers over `limit_request_fields` /
`limit_request_field_size` (431), a malformed request (400), a crash while
handling one (500). It writes those with `gunicorn.util.write_error`, an HTML
page; `use_json_errors()` puts the API's `{code, status, message, errors}` body
in its place, gunicorn's status and reason unchanged.

gunicorn's threaded worker waits up to 5 s for a new connection's first bytes
without holding a thread, but once a request has started it reads it with
blocking calls: a client that stops sending would hold a thread for good.
`set_read_timeout()` gives the listening sockets a receive timeout
(SO_RCVTIMEO, socket(7)), which accepted connections inherit: a read that
waits longer fails, and gunicorn closes that connection. Both are installed by
the `post_worker_init` hook of service/gunicorn_conf.py.
"""

from __future__ import annotations

import json
import logging
import socket
import struct
from collections.abc import Iterable
from typing import Any

from gunicorn import util

from service.errors import error_body

log = logging.getLogger(__name__)


def write_json_error(sock: socket.socket, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's `util.write_error`, answering with the API's JSON error body (same status, reason, Connection: close)."""
    body = json.dumps(error_body(int(status_int), mesg or reason)).encode("utf-8")
    head = (
        f"HTTP/1.1 {int(status_int)} {reason}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    util.write_nonblock(sock, head.encode("latin-1") + body)


class ReadTimeoutLog(logging.Filter):
    """gunicorn logs a connection cut by the read timeout as a socket error with a traceback; say what it is."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, BlockingIOError):  # EAGAIN from a blocking read: SO_RCVTIMEO expired
            record.msg, record.args, record.exc_info, record.exc_text = "client read timed out; connection closed", (), None, None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def use_json_errors() -> None:
    """Make gunicorn's own error answers JSON in this process (gunicorn calls `util.write_error` for all of them)."""
    util.write_error = write_json_error


def set_read_timeout(listeners: Iterable[Any], seconds: float) -> None:
    """SO_RCVTIMEO on each listening socket: every connection accepted from it times out a read after `seconds`."""
    whole = int(seconds)
    micro = int(round((seconds - whole) * 1_000_000))
    timeval = struct.pack("ll", whole, micro)
    sockets = list(listeners)
    for listener in sockets:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval)
    logging.getLogger("gunicorn.error").addFilter(ReadTimeoutLog())
    log.info("request read timeout %.1f s on %d listening socket(s)", seconds, len(sockets))
