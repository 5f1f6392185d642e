"""`POST /users` latency with Elasticsearch's refresh cost. Prints JSON.

The API writes a new user and its ratings with `refresh=wait_for`, so the next request sees them.
Elasticsearch answers such a write only after its next scheduled refresh (`index.refresh_interval`,
1 s by default); the ES test double by default refreshes at once. This script serves the same model
from two doubles — one refreshing at once, one with scheduled refresh (`--scheduled-refresh`) —
and measures `POST /users` (20 ratings: fold-in, user write, ratings bulk write) against each:

    python scripts/bench_refresh.py --data-dir /work/shared/data --requests 40

Each double is a `python -m tests.es_double` process, filled by `movierec run` (ml-100k, a small
rank: the write path does not depend on model quality); requests come one at a time (concurrency
1) from the client of scripts/bench_api.py against gunicorn (service/gunicorn_conf.py).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench_api import inputs, load, machine, scenarios, start_gunicorn, stop
from bench_es_double import start_double

log = logging.getLogger("bench_refresh")
ROOT = Path(__file__).resolve().parent.parent
POST_USERS = "POST /users (20 ratings, fold-in + writes)"


def publish(url: str, prefix: str, data_dir: str, rank: int) -> None:
    """Train and export a model into the double with the pipeline's own command."""
    cmd = [sys.executable, "-m", "pipeline", "run", "--dataset", "ml-100k", "--data-dir", data_dir, "--es-url", url,
           "--prefix", prefix, "--rank", str(rank), "--max-iter", "5", "--master", "local[2]"]
    started = time.monotonic()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, cwd=ROOT, env={**os.environ, "PYSPARK_PYTHON": sys.executable})
    log.info("model published in %.0f s", time.monotonic() - started)


def measure(scheduled: bool, args: argparse.Namespace) -> dict[str, Any]:
    double, url = start_double(*(["--scheduled-refresh"] if scheduled else []), cwd=str(ROOT))
    try:
        publish(url, args.prefix, args.data_dir, args.rank)
        data = inputs(url, args.prefix, args.seed)
        app = start_gunicorn(url, args.prefix, args.port, {"WEB_CONCURRENCY": str(args.workers)})
        base = f"http://127.0.0.1:{args.port}"
        try:
            make = scenarios(data)[POST_USERS]
            load(base, make, concurrency=1, requests=3)  # warm-up
            return load(base, make, concurrency=1, requests=args.requests).summary()
        finally:
            stop(app)
    finally:
        double.terminate()
        double.wait(timeout=30)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", required=True, help="folder holding ml-100k")
    parser.add_argument("--prefix", default="benchrefresh")
    parser.add_argument("--requests", type=int, default=40, help="POST /users requests per mode (default 40)")
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--port", type=int, default=5078, help="gunicorn port (default 5078)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    results: dict[str, Any] = {"machine": machine(), "settings": vars(args), "load_average_start": os.getloadavg()}
    for mode, scheduled in (("refresh at once", False), ("scheduled refresh, refresh_interval 1s", True)):
        log.info("%s ...", mode)
        results[mode] = measure(scheduled, args)
    results["load_average_end"] = os.getloadavg()
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
