"""What the API answers under gunicorn as service/gunicorn_conf.py runs it: gunicorn's own limits in the JSON error
body, slow clients that cannot stall it, bodies refused before they are read.

Each test starts gunicorn (one threaded worker, a 1 s read timeout) against the ES double with no model served, and
talks raw HTTP over a socket. Socket timeouts are guards against a hung server, not measurements.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GUARD_S = 15.0
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def gunicorn(es_url: str, index_prefix: str) -> Iterator[int]:
    port = _free_port()
    env = {**os.environ, "ES_URL": es_url, "MOVIEREC_INDEX_PREFIX": index_prefix, "WEB_CONCURRENCY": "1",
           "GUNICORN_THREADS": "4", "GUNICORN_READ_TIMEOUT": "1", "GUNICORN_ACCESS_LOG": "", "LOG_LEVEL": "warning"}
    cmd = [sys.executable, "-m", "gunicorn", "-c", "python:service.gunicorn_conf", "--bind", f"127.0.0.1:{port}",
           "service.wsgi:app"]
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(240):
            try:
                if exchange(port, b"GET /openapi.json HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")[0] == 200:
                    break
            except OSError:
                time.sleep(0.25)
        else:
            raise AssertionError("gunicorn did not start: " + proc.stderr.read1().decode(errors="replace"))
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def exchange(port: int, raw: bytes, *, after: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    """Send `raw`, read one answer until the server closes or its Content-Length is in."""
    with socket.create_connection(("127.0.0.1", port), timeout=GUARD_S) as sock:
        sock.sendall(raw)
        if after:
            sock.sendall(after)
        return read_answer(sock)


def read_answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before an answer: {data!r}")
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    length = int(headers.get("Content-Length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(lines[0].split()[1]), headers, body


def json_error(answer: tuple[int, dict[str, str], bytes], code: int) -> dict:
    status, headers, body = answer
    assert status == code, body
    assert headers["Content-Type"].startswith("application/json")
    payload = json.loads(body)
    assert set(payload) == {"code", "status", "message", "errors"} and payload["code"] == code and payload["errors"] == {}
    return payload


def test_gunicorn_limits_and_malformed_requests_answer_in_json(gunicorn):
    query = "&".join(["genre=" + "%E2%80%94" * 50] * 20)  # 20 genres of 50 non-ASCII characters: over 8190 bytes
    long_line = f"GET /users/1/recommendations?{query} HTTP/1.1\r\nHost: t\r\n\r\n".encode()
    assert "Request Line is too large" in json_error(exchange(gunicorn, long_line), 414)["message"]
    many = b"".join(b"X-H%d: 1\r\n" % i for i in range(101))
    assert json_error(exchange(gunicorn, b"GET /health HTTP/1.1\r\nHost: t\r\n" + many + b"\r\n"), 431)
    large = b"X-Big: " + b"a" * 9000 + b"\r\n"
    assert json_error(exchange(gunicorn, b"GET /health HTTP/1.1\r\nHost: t\r\n" + large + b"\r\n"), 431)
    assert json_error(exchange(gunicorn, b"GARBAGE\r\n\r\n"), 400)


def test_two_slow_clients_do_not_stall_health(gunicorn):
    """Two clients sending one header line at a time (within the read timeout) hold connections; /health answers."""
    finished: list[int] = []
    sending = threading.Event()

    def slow_client() -> None:
        with socket.create_connection(("127.0.0.1", gunicorn), timeout=GUARD_S) as sock:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: t\r\n")
            sending.set()
            for i in range(8):
                time.sleep(0.4)
                sock.sendall(b"X-Slow-%d: 1\r\n" % i)
            sock.sendall(b"Connection: close\r\n\r\n")
            finished.append(read_answer(sock)[0])

    clients = [threading.Thread(target=slow_client) for _ in range(2)]
    for c in clients:
        c.start()
    sending.wait(GUARD_S)
    answers = [exchange(gunicorn, b"GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n") for _ in range(3)]
    still_sending = [c.is_alive() for c in clients]
    for c in clients:
        c.join(GUARD_S)
    assert all(still_sending)  # /health answered while both slow clients were still sending
    assert [a[0] for a in answers] == [503] * 3  # degraded (no model), answered in full
    assert all(json.loads(a[2])["status"] == "degraded" for a in answers)
    assert finished == [503, 503]  # the slow clients are served too


def test_a_client_that_stops_sending_is_cut_off(gunicorn):
    with socket.create_connection(("127.0.0.1", gunicorn), timeout=GUARD_S) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: t\r\n")  # and nothing more
        assert sock.recv(1024) == b""  # closed by the server's read timeout (GUARD_S would raise instead)


def test_a_body_that_stops_arriving_is_408(gunicorn):
    head = b"POST /recommendations/from-liked HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    assert json_error(exchange(gunicorn, head + b'{"movie_ids": [1'), 408)["message"] == "The request body did not arrive in full."


def test_bodies_over_the_limit_are_413_without_being_read(gunicorn):
    head = (b"POST /recommendations/from-liked HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            b"Content-Length: 20000000\r\n\r\n")
    answer = exchange(gunicorn, head + b'{"movie_ids": [' + b"1, " * 300)  # 20 MB announced, 1 KB sent
    assert json_error(answer, 413)["message"] == "The body is 20000000 bytes; at most 65536 are accepted."
    chunk = b'{"titles": ["' + b"a" * 70_000 + b'"]}'
    chunked = (b"POST /recommendations/from-liked HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n" + b"%x\r\n" % len(chunk) + chunk + b"\r\n0\r\n\r\n")
    assert json_error(exchange(gunicorn, chunked), 413)["message"] == "The body is over 65536 bytes; at most 65536 are accepted."


def test_gunicorn_error_writer_answers_json_for_any_status():
    """What gunicorn writes itself (a crash while handling a request is its 500) goes out in the JSON body."""
    from service import serving

    left, right = socket.socketpair()
    with left, right:
        serving.write_json_error(left, 500, "Internal Server Error", "")
        left.shutdown(socket.SHUT_WR)
        answer = read_answer(right)
    assert answer[1]["Connection"] == "close"
    assert json_error(answer, 500)["message"] == "Internal Server Error"
