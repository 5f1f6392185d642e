"""Wait, bounded, until Elasticsearch, Kibana, a Spark master or worker, or an HTTP endpoint (the API) is up.

    python scripts/wait_for.py es           [--es-url URL] [--status yellow] [--timeout 120]
    python scripts/wait_for.py kibana       [--kibana-url URL] [--timeout 300]
    python scripts/wait_for.py http         --url http://localhost:5000/health [--timeout 60]
    python scripts/wait_for.py spark-master --url http://localhost:8080 [--timeout 60]
    python scripts/wait_for.py spark-worker --url http://localhost:8081 [--timeout 60]

Exits 0 once the service answers as ready, 1 when the time runs out or the
credentials are refused. Elasticsearch is asked through the official client
(`cluster.health(wait_for_status=...)`), credentials from ES_* variables;
Kibana through pipeline.kibana (KIBANA_* variables); a Spark standalone master
or worker through its web UI's `/json/` state: the master is ready when its
status is ALIVE, a worker once it has registered with a master (its UI answers
before that). Also used as a compose healthcheck with a short --timeout.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence

from elasticsearch import ApiError, TransportError

from pipeline.es import client_from_env, client_options, install_log_redaction, redact_url
from pipeline.kibana import KibanaClient, KibanaError, settings_from_env, wait_until

log = logging.getLogger("wait_for")

Probe = Callable[[float], tuple[bool, str]]


class Refused(Exception):
    """The service is up but refuses our credentials: waiting longer will not help."""


def es_probe(url: str | None, status: str) -> tuple[str, Probe]:
    """(what, probe) for Elasticsearch: ready when cluster health reaches `status`."""
    target = redact_url(client_options(url)["hosts"][0])
    client = client_from_env(url, max_retries=0)

    def probe(request_timeout: float) -> tuple[bool, str]:
        try:
            health = client.options(request_timeout=request_timeout + 1).cluster.health(
                wait_for_status=status, timeout=f"{max(1, int(request_timeout))}s"
            )
        except ApiError as exc:
            if exc.meta.status in (401, 403):
                raise Refused(f"Elasticsearch at {target} refused the credentials ({exc.meta.status})") from exc
            return False, f"HTTP {exc.meta.status}"
        except TransportError as exc:
            return False, f"{type(exc).__name__}: {exc}"
        return (not health.get("timed_out", False)), f"status {health.get('status')}"

    return f"Elasticsearch at {target}", probe


def http_probe(url: str) -> tuple[str, Probe]:
    """(what, probe) for a plain HTTP endpoint: ready on any 2xx answer to GET."""

    def probe(request_timeout: float) -> tuple[bool, str]:
        try:
            with urllib.request.urlopen(url, timeout=request_timeout) as resp:
                return 200 <= resp.status < 300, f"HTTP {resp.status}"
        except urllib.error.HTTPError as exc:
            return False, f"HTTP {exc.code}"

    return redact_url(url), probe


def spark_probe(url: str, role: str) -> tuple[str, Probe]:
    """(what, probe) for a Spark standalone daemon's web UI at `url`; `role` is "master" or "worker"."""
    state_url = url.rstrip("/") + "/json/"

    def probe(request_timeout: float) -> tuple[bool, str]:
        try:
            with urllib.request.urlopen(state_url, timeout=request_timeout) as resp:
                state = json.load(resp)
        except urllib.error.HTTPError as exc:
            return False, f"HTTP {exc.code}"
        except ValueError as exc:  # not JSON: not the Spark UI (yet)
            return False, f"no JSON state ({exc})"
        if role == "master":
            return state.get("status") == "ALIVE", f"status {state.get('status')}"
        master = state.get("masterurl")
        return bool(master), f"registered with {master}" if master else "not registered with a master yet"

    return f"Spark {role} at {url}", probe


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="service", required=True)
    es = sub.add_parser("es", help="wait for Elasticsearch cluster health")
    es.add_argument("--es-url", default=None, help="default $ES_URL or http://localhost:9200")
    es.add_argument("--status", default="yellow", choices=("green", "yellow", "red"))
    kibana = sub.add_parser("kibana", help="wait for Kibana /api/status")
    kibana.add_argument("--kibana-url", default=None, help="default $KIBANA_URL or http://localhost:5601")
    http = sub.add_parser("http", help="wait for a 2xx answer (e.g. the API's /health)")
    http.add_argument("--url", required=True)
    master = sub.add_parser("spark-master", help="wait for a Spark standalone master to be ALIVE")
    master.add_argument("--url", default="http://localhost:8080", help="its web UI (default %(default)s)")
    worker = sub.add_parser("spark-worker", help="wait for a Spark worker to register with its master")
    worker.add_argument("--url", default="http://localhost:8081", help="its web UI (default %(default)s)")
    for cmd, default in ((es, 120.0), (kibana, 300.0), (http, 60.0), (master, 60.0), (worker, 60.0)):
        cmd.add_argument("--timeout", type=float, default=default, help=f"seconds (default {default:.0f})")
        cmd.add_argument("--interval", type=float, default=2.0, help="seconds between checks (default 2)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    install_log_redaction()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        if args.service == "kibana":
            client = KibanaClient(settings_from_env(args.kibana_url))
            what = f"Kibana at {redact_url(client.settings.url)}"
            client.wait_until_available(timeout=args.timeout, interval=args.interval)
        else:
            if args.service == "es":
                what, probe = es_probe(args.es_url, args.status)
            elif args.service.startswith("spark-"):
                what, probe = spark_probe(args.url, args.service.removeprefix("spark-"))
            else:
                what, probe = http_probe(args.url)
            wait_until(probe, what, args.timeout, args.interval)
    except (TimeoutError, KibanaError, Refused) as exc:
        log.error("%s", exc)
        print(json.dumps({"service": args.service, "ready": False, "error": str(exc)}))
        return 1
    print(json.dumps({"service": args.service, "target": what, "ready": True}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
