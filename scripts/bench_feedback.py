"""Concurrent writes with Elasticsearch's refresh cost: 20 rating posts to one user, 20 account creations. Prints JSON.

    python scripts/bench_feedback.py --data-dir /work/shared/data --trials 5

A double with scheduled refresh (`refresh=wait_for` waits for the next refresh, `index.refresh_interval`
1 s, as on a real cluster) is filled by `movierec run` (ml-100k); gunicorn runs with the worker settings
docker-compose.yaml gives the API (WEB_CONCURRENCY 2, GUNICORN_THREADS 4 by default). Per trial: a new
account with one rating, then 20 `POST /users/{id}/ratings` at once (each another movie), then 20
`POST /users` at once. Reported: answers by status, latency p50 / p95 / max per scenario, ratings lost
(a post answered 200 but its movie is missing from `rated_movie_ids`) and ids handed out twice.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import urllib3
import yaml
from bench_api import machine, start_gunicorn, stop
from bench_es_double import start_double
from bench_refresh import publish

from pipeline.es import install_log_redaction

log = logging.getLogger("bench_feedback")
ROOT = Path(__file__).resolve().parent.parent
PARALLEL = 20
_DEFAULT = re.compile(r"^\$\{\w+:-([^}]*)\}$")


def compose_workers() -> dict[str, str]:
    """The api service's WEB_* / GUNICORN_* settings in docker-compose.yaml, at their defaults."""
    api = yaml.safe_load((ROOT / "docker-compose.yaml").read_text("utf-8"))["services"]["api"]
    out = {}
    for key, value in (api.get("environment") or {}).items():
        if key.startswith(("WEB_", "GUNICORN_")):
            match = _DEFAULT.match(str(value))
            out[key] = match.group(1) if match else str(value)
    out["GUNICORN_ACCESS_LOG"] = ""
    return out


def call(http: urllib3.PoolManager, base: str, method: str, path: str, body: Any = None) -> tuple[int, dict, float]:
    """One request on a fresh connection (a kept-alive one can be closed by gunicorn just as it is reused)."""
    started = time.perf_counter()
    resp = http.request(method, base + path, body=None if body is None else json.dumps(body),
                        headers={"Content-Type": "application/json", "Connection": "close"}, timeout=60, retries=False)
    return resp.status, json.loads(resp.data or b"{}"), (time.perf_counter() - started) * 1000


def at_once(http: urllib3.PoolManager, base: str, calls: list[tuple[str, str, Any]]) -> list[tuple[int, dict, float]]:
    gate = threading.Barrier(len(calls))

    def one(spec: tuple[str, str, Any]) -> tuple[int, dict, float]:
        gate.wait()
        return call(http, base, *spec)

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(one, calls))


def summary(ms: list[float], statuses: list[int]) -> dict[str, Any]:
    ordered = sorted(ms)
    return {
        "requests": len(ms),
        "statuses": {str(s): statuses.count(s) for s in sorted(set(statuses))},
        "p50_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 1),
        "max_ms": round(ordered[-1], 1),
    }


def trials(base: str, movies: list[int], n: int) -> dict[str, Any]:
    http = urllib3.PoolManager(maxsize=PARALLEL * 2)
    rating_ms, rating_status, create_ms, create_status = [], [], [], []
    lost = duplicated = 0
    for trial in range(n):
        first, rest = movies[trial], [m for m in movies if m != movies[trial]][trial: trial + PARALLEL]
        status, user, _ = call(http, base, "POST", "/users", {"ratings": [{"movie_id": first, "rating": 5}]})
        assert status == 201, user
        answers = at_once(http, base, [("POST", f"/users/{user['user_id']}/ratings",
                                        {"ratings": [{"movie_id": m, "rating": 4}]}) for m in rest])
        rating_ms += [a[2] for a in answers]
        rating_status += [a[0] for a in answers]
        rated = set(call(http, base, "GET", f"/users/{user['user_id']}")[1]["rated_movie_ids"])
        lost += sum(1 for m, a in zip(rest, answers, strict=True) if a[0] == 200 and m not in rated)
        created = at_once(http, base, [("POST", "/users", {"ratings": [{"movie_id": first, "rating": 4}]})] * PARALLEL)
        create_ms += [a[2] for a in created]
        create_status += [a[0] for a in created]
        ids = [a[1]["user_id"] for a in created if a[0] == 201]
        duplicated += len(ids) - len(set(ids))
        log.info("trial %d done", trial + 1)
    return {
        f"{PARALLEL} POST /users/{{id}}/ratings at once": {**summary(rating_ms, rating_status), "ratings_lost": lost},
        f"{PARALLEL} POST /users at once": {**summary(create_ms, create_status), "ids_handed_out_twice": duplicated},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", required=True, help="folder holding ml-100k")
    parser.add_argument("--prefix", default="benchfeedback")
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--port", type=int, default=5079)
    parser.add_argument("--immediate-refresh", action="store_true", help="the double refreshes at once (no refresh cost)")
    args = parser.parse_args(argv)
    install_log_redaction()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    workers = compose_workers()
    results: dict[str, Any] = {"machine": machine(), "settings": {**vars(args), **workers}, "load_average_start": os.getloadavg()}
    double, url = start_double(*([] if args.immediate_refresh else ["--scheduled-refresh"]), cwd=str(ROOT))
    try:
        publish(url, args.prefix, args.data_dir, args.rank)
        app = start_gunicorn(url, args.prefix, args.port, workers)
        try:
            base = f"http://127.0.0.1:{args.port}"
            http = urllib3.PoolManager()
            found = call(http, base, "GET", "/movies?k=100")[1]["items"]
            movies = sorted(item["movie"]["movie_id"] for item in found)
            results.update(trials(base, movies, args.trials))
        finally:
            stop(app)
    finally:
        double.terminate()
        double.wait(timeout=30)
    results["load_average_end"] = os.getloadavg()
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
