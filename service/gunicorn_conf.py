"""gunicorn settings for the API in production (`gunicorn -c python:service.gunicorn_conf service.wsgi:app`).

Threaded workers (`gthread`): a worker's main loop accepts connections and
waits for their bytes without a thread; a request holds a thread only while it
is read and answered, so slow clients cannot take every worker the way they do
with `sync` workers. gunicorn's own answers (request line or headers over the
limits below, malformed requests) use the API's JSON error body, and a client
that stops sending mid-request is cut off after GUNICORN_READ_TIMEOUT
(service/serving.py). Put a buffering reverse proxy in front for internet
exposure (README, "The API").

Environment: WEB_CONCURRENCY (workers, default 2 x cores + 1), GUNICORN_THREADS
(threads per worker, default 4), PORT (default 5000), GUNICORN_TIMEOUT (seconds
a worker may go without notifying the arbiter, default 30; it must exceed the
app's per-request deadline MOVIEREC_REQUEST_DEADLINE_S, default 5, so a slow
Elasticsearch is a JSON 504, never a killed worker), GUNICORN_READ_TIMEOUT
(seconds a read from a client may wait, default 10), LOG_LEVEL (default info),
GUNICORN_ACCESS_LOG (default "-": stdout; empty: off).
"""

from __future__ import annotations

import multiprocessing
import os
from typing import Any

from service import config as service_config
from service import serving

bind = f"0.0.0.0:{os.environ.get('PORT', '5000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
read_timeout = float(os.environ.get("GUNICORN_READ_TIMEOUT", "10"))
deadline = float(service_config.from_environ().get("REQUEST_DEADLINE_S", service_config.DEFAULTS["REQUEST_DEADLINE_S"]))
if deadline >= timeout:
    raise ValueError(f"MOVIEREC_REQUEST_DEADLINE_S ({deadline:g}) must be below GUNICORN_TIMEOUT ({timeout})")
graceful_timeout = 30
keepalive = 5
# gunicorn's limits (its defaults, spelled out), answered with the JSON error body: 414 for a longer request line
# (8190 is the most gunicorn allows short of unlimited), 431 for more or longer header fields.
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
max_requests = 10_000  # recycle workers now and then (bounded memory growth)
max_requests_jitter = 1_000
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None  # "" turns the access log off
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info")
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
control_socket_disable = True  # gunicorn's control socket ($HOME/.gunicorn/gunicorn.ctl) is unused; two servers would share it


def post_worker_init(worker: Any) -> None:
    """In each worker: gunicorn's own error answers in JSON, a read timeout on every accepted connection."""
    serving.use_json_errors()
    serving.set_read_timeout(worker.sockets, read_timeout)
