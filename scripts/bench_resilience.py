"""The API under a slow client and a slow cluster, served by gunicorn as compose runs it. Prints JSON, then a table.

    python -m scripts.bench_resilience slow-clients [--worker-class gthread|sync] [--lines 8] [--every 4]
    python -m scripts.bench_resilience slow-cluster [--delay 2.5] [--deadline 5] [--requests 5]

Run from the repository root with `-m` (the ES test double is imported from `tests`). Both start the double in
this process (its fault injection delays answers), a small served catalogue in it (random vectors, no Spark),
and gunicorn with service/gunicorn_conf.py.

* slow-clients: two connections send a request's header lines one every `--every` seconds (inside the read
  timeout, so they are never cut off), while a third client asks `GET /health` once a second; reports each
  /health latency and status. `--worker-class sync` runs the same against gunicorn's sync workers (2 of them,
  as before), for comparison.
* slow-cluster: every search answers after `--delay` seconds; `GET /recommendations/by-title` (two searches and
  a get) is asked `--requests` times; reports status, Content-Type, latency and message, and the deadline.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from elasticsearch import Elasticsearch, helpers

from pipeline import export, indices, runs
from tests.es_double.double import EsDouble

log = logging.getLogger("bench_resilience")
ROOT = Path(__file__).resolve().parent.parent
PREFIX = "resilience"
RANK = 16


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def publish_catalogue(es: Elasticsearch, movies: int = 300, users: int = 50, seed: int = 7) -> None:
    """A served run without Spark: random factor vectors, titles "Film <n>", users with vectors, no ratings."""
    rng = np.random.default_rng(seed)
    run_id = runs.new_run_id()
    indices.ensure_runs_index(es, PREFIX)
    names = indices.create_run_indices(es, PREFIX, run_id, RANK, RANK)
    rows = {
        "movies": [{"movie_id": m, "title": f"Film {m}", "year": 1990 + m % 10, "genres": ["Drama"], "rating_count": 10 + m,
                    "factors": rng.normal(size=RANK).tolist()} for m in range(1, movies + 1)],
        "users": [{"user_id": u, "rating_count": 20, "factors": rng.normal(size=RANK).tolist()} for u in range(1, users + 1)],
        "ratings": [],
    }
    for kind, docs in rows.items():
        helpers.bulk(es, export.to_actions(docs, names[kind], kind, run_id=run_id, rank=RANK), refresh=True)
    indices.swap_aliases(es, PREFIX, names)


@contextmanager
def gunicorn(es_url: str, *, worker_class: str | None, env: dict[str, str]) -> Iterator[int]:
    port = free_port()
    cmd = [sys.executable, "-m", "gunicorn", "-c", "python:service.gunicorn_conf", "--bind", f"127.0.0.1:{port}"]
    if worker_class:
        cmd += ["--worker-class", worker_class]
    full_env = {**os.environ, "ES_URL": es_url, "MOVIEREC_INDEX_PREFIX": PREFIX, "GUNICORN_ACCESS_LOG": "",
                "LOG_LEVEL": "warning", **env}
    proc = subprocess.Popen([*cmd, "service.wsgi:app"], env=full_env, cwd=ROOT, start_new_session=True)
    try:
        for _ in range(240):
            try:
                if request(port, "GET", "/openapi.json")[0] == 200:
                    break
            except OSError:
                time.sleep(0.25)
        else:
            raise SystemExit("gunicorn did not start")
        yield port
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)


def request(port: int, method: str, path: str, timeout: float = 120.0) -> tuple[int, str, bytes, float]:
    """One request on a fresh connection: (status, Content-Type, body, seconds)."""
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v for k, _, v in (line.partition(": ") for line in lines[1:])}
    return int(lines[0].split()[1]), headers.get("content-type", ""), body, time.perf_counter() - started


def slow_client(port: int, lines: int, every: float, done: list[Any]) -> None:
    """Send a request one header line every `every` seconds, then read the answer: (seconds, status or error)."""
    started = time.perf_counter()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=lines * every + 120) as sock:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: bench\r\n")
            for i in range(lines):
                time.sleep(every)
                sock.sendall(b"X-Slow-%d: 1\r\n" % i)
            sock.sendall(b"Connection: close\r\n\r\n")
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        outcome: Any = int(data.split(b" ", 2)[1]) if data else "closed without an answer"
    except OSError as exc:
        outcome = f"{type(exc).__name__}: {exc}"
    done.append((round(time.perf_counter() - started, 1), outcome))


def slow_clients(args: argparse.Namespace, es_url: str) -> dict[str, Any]:
    env = {"WEB_CONCURRENCY": str(args.workers), "GUNICORN_THREADS": str(args.threads)}
    with gunicorn(es_url, worker_class=args.worker_class, env=env) as port:
        done: list[float] = []
        clients = [threading.Thread(target=slow_client, args=(port, args.lines, args.every, done)) for _ in range(2)]
        for c in clients:
            c.start()
        time.sleep(0.5)  # both slow clients are connected and sending
        health: list[dict[str, Any]] = []
        while any(c.is_alive() for c in clients):
            sending = all(c.is_alive() for c in clients)
            status, ctype, _, seconds = request(port, "GET", "/health")
            health.append({"status": status, "seconds": round(seconds, 3), "json": ctype.startswith("application/json"),
                           "asked_while_slow_clients_sending": sending})
            time.sleep(max(0.0, 1.0 - seconds))
        for c in clients:
            c.join()
    during = [h["seconds"] for h in health if h["asked_while_slow_clients_sending"]]
    return {
        "scenario": "slow-clients",
        "worker_class": args.worker_class or "gthread (service/gunicorn_conf.py)",
        "workers": args.workers, "threads": args.threads,
        "slow_clients": 2, "header_line_every_s": args.every, "header_lines": args.lines,
        "health_requests_during": len(during),
        "health_max_s_during": max(during) if during else None,
        "health_median_s_during": float(np.median(during)) if during else None,
        "health_statuses": sorted({h["status"] for h in health}),
        "slow_clients_outcome": sorted(done, key=str),
        "health": health,
    }


def slow_cluster(args: argparse.Namespace, es_url: str, double: EsDouble) -> dict[str, Any]:
    env = {"WEB_CONCURRENCY": "2", "MOVIEREC_REQUEST_DEADLINE_S": str(args.deadline)}
    path = "/recommendations/by-title?title=Film%2042&k=10"
    with gunicorn(es_url, worker_class=None, env=env) as port:
        baseline = request(port, "GET", path)
        double.set_delay(args.delay, path="*/_search")
        try:
            answers = [request(port, "GET", path) for _ in range(args.requests)]
        finally:
            double.clear_faults()
    rows = [{"status": s, "json": t.startswith("application/json"), "seconds": round(sec, 3),
             "message": json.loads(b).get("message") if t.startswith("application/json") else b[:80].decode(errors="replace")}
            for s, t, b, sec in answers]
    return {
        "scenario": "slow-cluster",
        "search_delay_s": args.delay, "deadline_s": args.deadline, "requests": args.requests,
        "baseline": {"status": baseline[0], "seconds": round(baseline[3], 3)},
        "statuses": sorted({r["status"] for r in rows}),
        "max_seconds": max(r["seconds"] for r in rows),
        "median_seconds": float(np.median([r["seconds"] for r in rows])),
        "answers": rows,
    }


def table(result: dict[str, Any]) -> str:
    if result["scenario"] == "slow-clients":
        return (f"{result['worker_class']}: /health while 2 slow clients send: {result['health_requests_during']} requests, "
                f"median {result['health_median_s_during']} s, max {result['health_max_s_during']} s, "
                f"statuses {result['health_statuses']}")
    return (f"by-title, every search {result['search_delay_s']} s, deadline {result['deadline_s']} s: statuses "
            f"{result['statuses']}, median {result['median_seconds']:.2f} s, max {result['max_seconds']:.2f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="scenario", required=True)
    clients = sub.add_parser("slow-clients")
    clients.add_argument("--worker-class", default=None, help="override gunicorn_conf's gthread (e.g. sync)")
    clients.add_argument("--workers", type=int, default=2)
    clients.add_argument("--threads", type=int, default=4)
    clients.add_argument("--lines", type=int, default=8, help="header lines each slow client sends (default 8)")
    clients.add_argument("--every", type=float, default=4.0, help="seconds between them (default 4)")
    cluster = sub.add_parser("slow-cluster")
    cluster.add_argument("--delay", type=float, default=2.5, help="seconds every search waits (default 2.5)")
    cluster.add_argument("--deadline", type=float, default=5.0, help="MOVIEREC_REQUEST_DEADLINE_S (default 5)")
    cluster.add_argument("--requests", type=int, default=5)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    double = EsDouble().start()
    try:
        es = Elasticsearch(double.url)
        publish_catalogue(es)
        es.close()
        run: Callable[[], dict[str, Any]] = (
            (lambda: slow_clients(args, double.url)) if args.scenario == "slow-clients"
            else (lambda: slow_cluster(args, double.url, double))
        )
        result = run()
    finally:
        double.stop()
    result["load_average_1m"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result, indent=2))
    print(table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
