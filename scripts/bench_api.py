"""API benchmark: latency per endpoint under load, overhead over Elasticsearch's `took`, fold-in time and
a sustained run. Prints JSON and a table. (The schemathesis run of the API contract is scripts/bench_contract.py.)

Needs a cluster with a served model, e.g. the ES test double started standalone and a run on it:

    python -m tests.es_double --port 9277 &
    movierec run --dataset ml-100k --data-dir ../shared/data --es-url http://127.0.0.1:9277 --prefix benchapi
    python scripts/bench_api.py --es-url http://127.0.0.1:9277 --prefix benchapi

The script starts gunicorn (service/gunicorn_conf.py) itself and stops it at the end. Against the
double, "ES took" is the double's own `took` (its Python query time), not a real cluster's.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import numpy as np
import urllib3

from es_mappings import run_id_of
from pipeline.es import client_from_env, install_log_redaction
from service.model import ActiveModel

log = logging.getLogger("bench_api")
ROOT = Path(__file__).resolve().parent.parent
Request = tuple[str, str, dict[str, Any] | None]  # method, path with query, JSON body


@dataclass
class Samples:
    """Per request: client latency, and for answers that report them, ES `took` and the app's
    Server-Timing (time waiting on Elasticsearch round trips, total time in the app)."""

    latencies_ms: list[float] = field(default_factory=list)
    took_ms: list[float] = field(default_factory=list)
    over_took_ms: list[float] = field(default_factory=list)  # latency − took, per request
    es_round_trip_ms: list[float] = field(default_factory=list)
    app_only_ms: list[float] = field(default_factory=list)  # app time − ES round trips, per request
    statuses: dict[int, int] = field(default_factory=dict)

    def add(self, latency_ms: float, status: int, took: float | None, timing: dict[str, float]) -> None:
        self.latencies_ms.append(latency_ms)
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if took is not None:
            self.took_ms.append(took)
            self.over_took_ms.append(latency_ms - took)
        if "app" in timing:
            self.es_round_trip_ms.append(timing.get("es", 0.0))
            self.app_only_ms.append(timing["app"] - timing.get("es", 0.0))

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"n": len(self.latencies_ms),
                               "statuses": {str(k): v for k, v in sorted(self.statuses.items())}}
        for p in (50, 95, 99):
            out[f"p{p}_ms"] = _pct(self.latencies_ms, p)
        if self.took_ms:
            out["es_took_p50_ms"] = _pct(self.took_ms, 50)
            out["overhead_over_took_p50_ms"] = _pct(self.over_took_ms, 50)
        if self.app_only_ms:
            out["es_round_trips_p50_ms"] = _pct(self.es_round_trip_ms, 50)
            out["app_without_es_p50_ms"] = _pct(self.app_only_ms, 50)
        return out


def _pct(values: Any, p: float) -> float:
    return round(float(np.percentile(np.asarray(values, dtype=float), p)), 2)


def _server_timing(header: str | None) -> dict[str, float]:
    """{"es": ms, "app": ms} from `Server-Timing: es;dur=1.2;desc="2 calls", app;dur=3.4`."""
    out: dict[str, float] = {}
    for metric in (header or "").split(","):
        parts = metric.strip().split(";")
        for part in parts[1:]:
            if part.startswith("dur="):
                out[parts[0]] = float(part[4:])
    return out


def machine() -> dict[str, Any]:
    model = next((line.split(":", 1)[1].strip() for line in _lscpu() if line.startswith("Model name")), platform.processor())
    return {"cpu": model, "cores": os.cpu_count(), "python": platform.python_version(),
            "load_average_1m_at_start": round(os.getloadavg()[0], 1)}


def _lscpu() -> list[str]:
    try:
        return subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout.splitlines()
    except OSError:
        return []


def start_gunicorn(es_url: str, prefix: str, port: int, settings: dict[str, str]) -> subprocess.Popen:
    """gunicorn with service/gunicorn_conf.py on `port`, `settings` (WEB_CONCURRENCY, GUNICORN_*) in its
    environment; returns once GET /health answers 200 (SystemExit after 100 s)."""
    env = {**os.environ, "GUNICORN_ACCESS_LOG": "", **settings, "ES_URL": es_url, "MOVIEREC_INDEX_PREFIX": prefix,
           "PORT": str(port), "LOG_LEVEL": "warning"}
    cmd = [sys.executable, "-m", "gunicorn", "-c", "python:service.gunicorn_conf", "service.wsgi:app"]
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, start_new_session=True)
    http = urllib3.PoolManager()
    for _ in range(400):
        try:
            if http.request("GET", f"http://127.0.0.1:{port}/health", timeout=2).status == 200:
                return proc
        except urllib3.exceptions.HTTPError:
            pass
        time.sleep(0.25)
    stop(proc)
    raise SystemExit("gunicorn did not become healthy")


def stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=30)


def inputs(es_url: str, prefix: str, seed: int) -> dict[str, Any]:
    """Real ids and titles to request: sampled from the served indices."""
    es = client_from_env(url=es_url)
    rng = random.Random(seed)
    users = [h["_source"]["user_id"] for h in es.search(index=f"{prefix}-users", size=1000, _source=["user_id"])["hits"]["hits"]]
    movies = es.search(index=f"{prefix}-movies", size=2000, query={"exists": {"field": "factors"}},
                       _source=["movie_id", "title", "genres"])["hits"]["hits"]
    index = next(iter(es.indices.get_alias(name=f"{prefix}-movies").body))
    run_id = run_id_of(index, prefix, "movies")
    run = es.get(index=f"{prefix}-runs", id=run_id)["_source"]
    rated = rng.sample([m["_source"]["movie_id"] for m in movies], 20)
    factors = es.search(index=f"{prefix}-movies", size=20, query={"terms": {"movie_id": rated}},
                        _source={"includes": ["factors"], "exclude_vectors": False})["hits"]["hits"]
    es.close()
    return {
        "users": users,
        "movies": [m["_source"]["movie_id"] for m in movies],
        "titles": [m["_source"]["title"] for m in movies],
        "run": run,
        "foldin_factors": np.asarray([h["_source"]["factors"] for h in factors], dtype=np.float64),
        "rng": rng,
    }


def scenarios(data: dict[str, Any]) -> dict[str, Callable[[], Request]]:
    rng: random.Random = data["rng"]
    users, movies, titles = data["users"], data["movies"], data["titles"]

    def ratings(n: int) -> list[dict[str, Any]]:
        return [{"movie_id": m, "rating": rng.choice([2.0, 3.0, 4.0, 5.0])} for m in rng.sample(movies, n)]

    return {
        "GET /users/{id}/recommendations": lambda: ("GET", f"/users/{rng.choice(users)}/recommendations?k=10", None),
        "  + genre & min_rating filters": lambda: (
            "GET", f"/users/{rng.choice(users)}/recommendations?k=10&genre=Drama&genre=Comedy&min_rating=3.5", None),
        "  + mode=exact": lambda: ("GET", f"/users/{rng.choice(users)}/recommendations?k=10&mode=exact", None),
        "  + blend=0.3": lambda: ("GET", f"/users/{rng.choice(users)}/recommendations?k=10&blend=0.3", None),
        "GET /movies/{id}/similar": lambda: ("GET", f"/movies/{rng.choice(movies)}/similar?k=10", None),
        "GET /recommendations/by-title": lambda: (
            "GET", "/recommendations/by-title?" + urlencode({"title": rng.choice(titles), "k": 10}), None),
        "POST /recommendations/from-liked": lambda: (
            "POST", "/recommendations/from-liked", {"movie_ids": rng.sample(movies, 5), "k": 10}),
        "GET /movies/{id}/audience": lambda: ("GET", f"/movies/{rng.choice(movies)}/audience?k=10", None),
        "GET /recommendations/cold-start": lambda: ("GET", "/recommendations/cold-start?k=10&favorite_genre=Drama", None),
        "GET /movies?q= (as you type)": lambda: (
            "GET", "/movies?" + urlencode({"q": rng.choice(titles)[:6], "k": 10}), None),
        "GET /movies/{id}": lambda: ("GET", f"/movies/{rng.choice(movies)}", None),
        "POST /users (20 ratings, fold-in + writes)": lambda: ("POST", "/users", {"ratings": ratings(20)}),
    }


def load(base: str, make: Callable[[], Request], *, concurrency: int, requests: int | None = None,
         seconds: float | None = None) -> Samples:
    """`concurrency` threads with keep-alive connections send requests until the count or the time is reached."""
    http = urllib3.PoolManager(maxsize=concurrency, retries=False, timeout=urllib3.Timeout(total=30))
    samples = Samples()
    lock = threading.Lock()
    left = [requests if requests is not None else 1 << 62]
    deadline = time.perf_counter() + seconds if seconds else None

    def worker() -> None:
        while True:
            with lock:
                if left[0] <= 0 or (deadline and time.perf_counter() > deadline):
                    return
                left[0] -= 1
                method, path, body = make()
            started = time.perf_counter()
            try:
                resp = http.request(method, base + path, json=body)
                status, took, timing = resp.status, _took(resp.data), _server_timing(resp.headers.get("Server-Timing"))
            except urllib3.exceptions.HTTPError:
                status, took, timing = 599, None, {}
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                samples.add(elapsed, status, took, timing)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return samples


def _took(data: bytes) -> float | None:
    try:
        body = json.loads(data)
    except ValueError:
        return None
    return float(body["took_ms"]) if isinstance(body, dict) and "took_ms" in body else None


def foldin_time(run: dict[str, Any], factors: np.ndarray, repeats: int) -> dict[str, float]:
    """Median / p95 milliseconds of one fold-in of a 20-rating user (numpy only, no I/O)."""
    model = ActiveModel.from_run(run)
    ratings = np.asarray([5.0, 4.0, 3.0, 4.5, 2.0] * 4)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        model.fold_in(factors, ratings)
        times.append((time.perf_counter() - started) * 1000)
    return {"kind": model.kind, "rank": model.rank, "ratings": len(ratings), "repeats": repeats,
            "median_ms": round(statistics.median(times), 4), "p95_ms": round(float(np.percentile(times, 95)), 4)}


def table(results: dict[str, Any]) -> str:
    head = ("| endpoint | n | p50 ms | p95 ms | p99 ms | ES took p50 | over took p50 | ES round trips p50 "
            "| app w/o ES p50 | non-2xx |")
    rows = [head,
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name, s in results["endpoints"].items():
        bad = int(sum(v for k, v in s["statuses"].items() if not k.startswith("2")))
        rows.append(f"| {name} | {s['n']:.0f} | {s['p50_ms']} | {s['p95_ms']} | {s['p99_ms']} | "
                    f"{s.get('es_took_p50_ms', '–')} | {s.get('overhead_over_took_p50_ms', '–')} | "
                    f"{s.get('es_round_trips_p50_ms', '–')} | {s.get('app_without_es_p50_ms', '–')} | {bad} |")
    return "\n".join(rows)


def write_docs(path: Path, section: str) -> None:
    """Replace (or add) the `## API` section of docs/benchmarks.md, leaving other sections alone."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    start = text.find("\n## API\n")
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + 1)
        text = text[: start + 1] + section + (text[end:] if end >= 0 else "")
    path.write_text(text, encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--es-url", default="http://127.0.0.1:9277")
    parser.add_argument("--prefix", default="benchapi")
    parser.add_argument("--port", type=int, default=5077, help="gunicorn port (default 5077)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (WEB_CONCURRENCY, default 2)")
    parser.add_argument("--concurrency", type=int, default=4, help="client threads (default 4)")
    parser.add_argument("--requests", type=int, default=300, help="requests per endpoint (default 300)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of sustained mixed load (default 60)")
    parser.add_argument("--foldin-repeats", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--write-docs", type=Path, default=None, help="update the API section of this markdown file")
    parser.add_argument("--note", default="", help="a sentence added to the docs section (e.g. machine load)")
    parser.add_argument("--from-json", type=Path, nargs="+", default=None,
                        help="no run: combine earlier JSON outputs (median per number) and print / write them")
    args = parser.parse_args()
    install_log_redaction()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    if args.from_json:
        results = combine([json.loads(_json_part(p.read_text(encoding="utf-8"))) for p in args.from_json])
        print(json.dumps(results, indent=2))
        print(table(results))
        if args.write_docs:
            write_docs(args.write_docs, render_section(results, args.note))
        return 0

    data = inputs(args.es_url, args.prefix, args.seed)
    results: dict[str, Any] = {"machine": machine(), "settings": {k: v for k, v in vars(args).items() if k != "write_docs"}}
    results["settings"]["run_id"] = data["run"]["run_id"]
    results["foldin"] = foldin_time(data["run"], data["foldin_factors"], args.foldin_repeats)
    proc = start_gunicorn(args.es_url, args.prefix, args.port, {"WEB_CONCURRENCY": str(args.workers)})
    base = f"http://127.0.0.1:{args.port}"
    try:
        results["endpoints"] = {}
        for name, make in scenarios(data).items():
            load(base, make, concurrency=args.concurrency, requests=20)  # warm-up (connections, script caches)
            log.info("%s ...", name.strip())
            results["endpoints"][name] = load(base, make, concurrency=args.concurrency, requests=args.requests).summary()
        mixed = [make for name, make in scenarios(data).items() if not name.startswith("POST /users")]  # reads
        log.info("sustained mixed load for %.0f s ...", args.duration)
        sustained = load(base, lambda: random.choice(mixed)(), concurrency=args.concurrency, seconds=args.duration)
        summary = sustained.summary()
        summary["requests_per_s"] = round(summary["n"] / args.duration, 1)
        summary["errors"] = sum(v for k, v in summary["statuses"].items() if not k.startswith("2"))
        results["sustained"] = summary
    finally:
        stop(proc)
    print(json.dumps(results, indent=2))
    print(table(results))
    if args.write_docs:
        write_docs(args.write_docs, render_section(results, args.note))
    return 0


def _json_part(text: str) -> str:
    """The JSON object a run printed (the table follows it)."""
    return text[: text.rindex("\n}") + 2]


def combine(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median of every number across runs (structure of the first run); `runs` counts them."""
    def merge(values: list[Any]) -> Any:
        first = values[0]
        if isinstance(first, dict):
            return {k: merge([v[k] for v in values if isinstance(v, dict) and k in v]) for k in first}
        if isinstance(first, (int, float)) and not isinstance(first, bool):
            return round(float(statistics.median(values)), 4)
        return first

    out = merge(runs)
    out["runs"] = len(runs)
    return out


def render_section(r: dict[str, Any], note: str = "") -> str:
    """The `## API` section of docs/benchmarks.md from one run's (or combined runs') results."""
    s, f, m, cfg = r["sustained"], r["foldin"], r["machine"], r["settings"]
    runs = r.get("runs", 1)
    command = (f"python scripts/bench_api.py --es-url {cfg['es_url']} --prefix {cfg['prefix']} --requests "
               f"{cfg['requests']:.0f} --duration {cfg['duration']:.0f}")
    parts = [
        "## API\n",
        (f"Medians of {runs} runs of `{command}`" if runs > 1 else f"`{command}`")
        + f" — gunicorn with {cfg['workers']:.0f} sync workers, {cfg['concurrency']:.0f} client threads (keep-alive), "
        f"the ES test double standalone, all on one machine ({m['cpu']}, {m['cores']:.0f} cores, shared with the load "
        f"generator, the double and other work). Model: run `{cfg['run_id']}` (`movierec run --dataset ml-100k`, "
        "implicit, rank 64)." + (f" {note}" if note else "")
        + (f" Load average (1 min) at start: {m['load_average_1m_at_start']}." if "load_average_1m_at_start" in m else "")
        + "\n",
        (
            "\"ES took\" is the double's own `took` (its Python query time). *over took* = client latency − took, per "
            "request: gunicorn + Flask + validation + every HTTP round trip to the double (its request parsing and "
            "JSON included) + answer JSON. *ES round trips* and *app w/o ES* come from the API's `Server-Timing` "
            "header: the time the app waited on Elasticsearch calls (all of them, e.g. the user-vector GET and the "
            "kNN search), and the rest of the app's own time (validation, query building, fold-in, serialisation). "
            "Times in ms.\n"
        ),
        table(r) + "\n",
        (
            f"Sustained mixed read load for {cfg['duration']:.0f} s: **{s['requests_per_s']} requests/s**, "
            f"{s['errors']:.0f} errors, p50 {s['p50_ms']} ms, p99 {s['p99_ms']} ms.\n"
        ),
        (
            f"Fold-in of a 20-rating user ({f['kind']}, rank {f['rank']:.0f}, numpy, no I/O): median "
            f"**{f['median_ms']} ms**, p95 {f['p95_ms']} ms over {f['repeats']:.0f} solves.\n"
        ),
    ]
    parts.append(goals(r))
    return "\n".join(parts)


def goals(r: dict[str, Any]) -> str:
    """The results against the brief's goals, met or missed."""
    ends = [e for e in r["endpoints"].values() if "app_without_es_p50_ms" in e and "es_took_p50_ms" in e]
    app = [e["app_without_es_p50_ms"] for e in ends]
    over = [e["overhead_over_took_p50_ms"] for e in ends]
    s, f = r["sustained"], r["foldin"]

    def verdict(ok: bool) -> str:
        return "met" if ok else "**missed**"

    return (
        "Against the goals:\n\n"
        f"- overhead over ES `took` <= 3 ms p50: the app's own time without Elasticsearch waits is "
        f"{min(app)}–{max(app)} ms p50 per endpoint ({verdict(max(app) <= 3)}); the client-observed latency minus "
        f"`took` is {min(over)}–{max(over)} ms p50 ({verdict(max(over) <= 3)}): it holds the HTTP round trips to the "
        "double (a Python server: parsing, source filtering and JSON cost more than its `took`), the wait for a free "
        "gunicorn worker (4 clients, 2 workers) and CPU contention on 2 shared cores. A real cluster on its own "
        "machine would cost less; how much less is not measured here.\n"
        f"- fold-in of a 20-rating user <= 5 ms: {f['median_ms']} ms median ({verdict(f['median_ms'] <= 5)}).\n"
        f"- sustained load for {r['settings']['duration']:.0f} s with 0 errors: {s['requests_per_s']} requests/s, "
        f"{s['errors']:.0f} errors ({verdict(s['errors'] == 0)}).\n"
        "- `POST /users` spends most of its ES time in `refresh=wait_for` writes (the user and its ratings, so the "
        "next request sees them); on a real cluster `wait_for` waits for the next scheduled refresh "
        "(`index.refresh_interval`, 1 s by default), so expect up to ~1 s there too.\n"
    )


if __name__ == "__main__":
    raise SystemExit(main())
