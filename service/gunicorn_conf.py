"""gunicorn settings for the API in production (`gunicorn -c service/gunicorn_conf.py service.wsgi:app`).

Environment: WEB_CONCURRENCY (workers, default 2 x cores + 1), GUNICORN_THREADS
(threads per worker, default 1), PORT (default 5000), GUNICORN_TIMEOUT
(seconds, default 60: above ES_REQUEST_TIMEOUT so Elasticsearch timeouts
become 504 answers rather than killed workers), LOG_LEVEL (default info),
GUNICORN_ACCESS_LOG (default "-": stdout; empty: off).
"""

from __future__ import annotations

import multiprocessing
import os

bind = f"0.0.0.0:{os.environ.get('PORT', '5000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
worker_class = "gthread" if threads > 1 else "sync"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
# The longest request line gunicorn takes (its maximum short of unlimited); longer ones get gunicorn's own
# 414 text/html answer before the app sees them. Requests within the API's input limits with plain ASCII
# values stay well below it.
limit_request_line = 8190
max_requests = 10_000  # recycle workers now and then (bounded memory growth)
max_requests_jitter = 1_000
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None  # "" turns the access log off
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info")
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
