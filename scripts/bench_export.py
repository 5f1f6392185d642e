"""Export benchmarks: `movierec run` wall time, bulk throughput, a 10M-rating export.

    python scripts/bench_export.py run        [--es-url URL] [--data-dir ../shared/data] [--repeats 3]
    python scripts/bench_export.py throughput [--es-url URL] [--docs 100000] [--repeats 3]
    python scripts/bench_export.py ratings    [--es-url URL] [--ratings 10000000] [--max-rss-gb 12]

Without --es-url the ES test double is started as its own process
(`python -m tests.es_double --port N`) and stopped afterwards; its resident
memory is sampled so `ratings` can stop before the double exhausts the machine
(and say how far it got). Prints JSON, then a short table. Medians of repeats.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from elasticsearch import Elasticsearch

import es_mappings
from pipeline import export, indices
from pipeline.es import client_options, install_log_redaction

log = logging.getLogger("bench_export")

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def machine() -> dict:
    model = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as fh:
        model = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), "")
    return {"cpu": model or platform.processor(), "cores": os.cpu_count(), "python": platform.python_version()}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_gb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024 / 1024
    return 0.0


@contextlib.contextmanager
def es_target(url: str | None) -> Iterator[tuple[str, int | None]]:
    """(URL, pid of the double or None): the given cluster, or a double started for the benchmark."""
    if url:
        yield url, None
        return
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "tests.es_double", "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        client = Elasticsearch(url, request_timeout=2, max_retries=0)
        deadline = time.monotonic() + 60
        while not client.ping():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the ES double did not start")
            time.sleep(0.2)
        yield url, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def bench_run(url: str, data_dir: Path, repeats: int, rank: int | None) -> dict:
    """Wall time of the whole `movierec run` on ml-100k (a fresh process each time, JVM start included);
    `rank` None: the default model's."""
    walls, records = [], []
    for i in range(repeats):
        cmd = [sys.executable, "-m", "pipeline", "run", "--dataset", "ml-100k", "--data-dir", str(data_dir),
               "--es-url", url, "--prefix", "bench-run", *(["--rank", str(rank)] if rank else []), "--keep", "1", "--json"]
        started = time.monotonic()
        done = subprocess.run(cmd, check=False, capture_output=True, text=True)
        wall = time.monotonic() - started
        if done.returncode != 0:
            raise SystemExit(f"movierec run failed:\n{done.stderr[-3000:]}")
        record = json.loads(done.stdout)
        walls.append(wall)
        records.append(record)
        log.info("run %d: %.1fs wall, steps %s", i + 1, wall, record["timings"])
    steps = {k: statistics.median(r["timings"][k] for r in records) for k in records[0]["timings"]}
    return {"dataset": "ml-100k", "rank": records[-1]["params"]["rank"], "repeats": repeats, "wall_s": walls, "median_wall_s": statistics.median(walls),
            "median_step_s": steps, "counts": records[-1]["counts"]}


def _rating_rows(n: int) -> Iterator[dict]:
    """Rating documents shaped like ml-100k's denormalised ones."""
    for i in range(n):
        yield {"user_id": i % 943 + 1, "movie_id": i // 943 + 1, "rating": float(i % 5 + 1), "rated_at": 880000000 + i,
               "title": f"Movie {i // 943}", "year": 1995, "genres": ["Drama", "Comedy"], "age": 30, "age_band": "25-34",
               "gender": "M", "occupation": "engineer"}


def _movie_rows(n: int, dims: int) -> Iterator[dict]:
    for i in range(n):
        yield {"movie_id": i + 1, "title": f"Movie {i}", "year": 1995, "genres": ["Drama"], "rating_count": 10,
               "rating_mean": 3.5, "bayes_rating": 3.4, "popularity": 0.5,
               "factors": [((i * 31 + j * 17) % 97) / 97.0 - 0.5 for j in range(dims)]}


def bench_throughput(url: str, n_docs: int, repeats: int, chunk_size: int) -> dict:
    """Client-side bulk throughput of one writer (`bulk_write`, as each Spark partition runs it)."""
    es = Elasticsearch(**client_options(url))
    out = {}
    for kind, rows, dims in (("ratings", lambda: _rating_rows(n_docs), None), ("movies", lambda: _movie_rows(n_docs // 5, 65), 65)):
        rates = []
        for i in range(repeats):
            index = f"bench-tp-{kind}-{i}"
            body = es_mappings.index_body(kind, {"factors": dims, "factors_unit": dims - 1, "similar": dims - 1} if dims else None)
            indices.delete_indices(es, [index])
            es.indices.create(index=index, **body)
            started = time.monotonic()
            stats = export.bulk_write(es, export.to_actions(rows(), index, kind, run_id="bench", rank=(dims - 1) if dims else None),
                                      export.BulkSettings(chunk_size=chunk_size))
            seconds = time.monotonic() - started
            if stats.failed:
                raise SystemExit(f"{stats.failed} documents failed: {stats.errors}")
            rates.append(stats.ok / seconds)
            indices.delete_indices(es, [index])
        out[kind] = {"docs": n_docs if kind == "ratings" else n_docs // 5, "docs_per_s": rates, "median_docs_per_s": statistics.median(rates)}
        log.info("%s: median %.0f docs/s", kind, out[kind]["median_docs_per_s"])
    return {"chunk_size": chunk_size, **out}


def bench_ratings(url: str, pid: int | None, n_ratings: int, max_rss_gb: float, partitions: int, chunk_size: int) -> dict:
    """Synthetic ratings (ml-25m CSV layout) → Spark → denormalised rating docs → the ratings index, from the executors."""
    from pipeline import synthetic
    from pipeline.clean import load_clean
    from pipeline.spark import get_spark

    es = Elasticsearch(**client_options(url))
    index = "bench-ratings-10m"
    indices.delete_indices(es, [index])
    es.indices.create(index=index, **es_mappings.index_body("ratings"))
    with tempfile.TemporaryDirectory(prefix="bench-ratings-") as tmp:
        started = time.monotonic()
        folder = synthetic.generate(tmp, "ml-25m", n_users=None, n_movies=None, n_ratings=n_ratings, seed=11, quirks=False)
        generate_s = time.monotonic() - started
        spark = get_spark("bench-export", conf={"spark.sql.shuffle.partitions": str(partitions)})
        spark.sparkContext.setLogLevel("ERROR")
        tables, _ = load_clean(spark, "ml-25m", folder.parent)
        # the CSV editions have no demographics: the documents carry the movie's title/year/genres
        frame = export.rating_frame(tables.ratings, tables.movies)
        frame = frame.repartition(partitions).cache()
        expected = frame.count()
        peak = {"rss_gb": 0.0, "stopped": False}
        stop = threading.Event()

        def watch() -> None:  # stop the export before the double eats the machine
            while not stop.wait(2.0):
                if pid is None:
                    continue
                peak["rss_gb"] = max(peak["rss_gb"], rss_gb(pid))
                if peak["rss_gb"] > max_rss_gb:
                    peak["stopped"] = True
                    log.warning("double RSS %.1f GB > %.1f GB: cancelling the export", peak["rss_gb"], max_rss_gb)
                    spark.sparkContext.cancelAllJobs()
                    return

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        started = time.monotonic()
        stats = None
        try:
            stats = export.export_frame(frame, client_options(url), index, "ratings", settings=export.BulkSettings(chunk_size=chunk_size))
        except Exception as exc:  # cancelled by the watchdog: report how far it got
            if not peak["stopped"]:
                raise
            log.warning("export cancelled: %s", type(exc).__name__)
        seconds = time.monotonic() - started
        stop.set()
        watcher.join()
        es.indices.refresh(index=index)
        reached = int(es.count(index=index)["count"])
        spark.stop()
    indices.delete_indices(es, [index])
    return {
        "ratings_generated": n_ratings, "docs_expected": expected, "docs_indexed": reached,
        "complete": reached == expected and not peak["stopped"], "export_s": seconds,
        "docs_per_s": reached / seconds if seconds else None, "generate_s": generate_s,
        "partitions": partitions, "chunk_size": chunk_size, "double_peak_rss_gb": peak["rss_gb"],
        "stopped_at_rss_cap": peak["stopped"], "failed": stats.failed if stats else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("run", "throughput", "ratings"))
    parser.add_argument("--es-url", default=None, help="cluster to use (default: start the ES double)")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA, help="folder holding ml-100k (run)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rank", type=int, default=None, help="ALS rank (run; default: the model's default)")
    parser.add_argument("--docs", type=int, default=100_000, help="rating docs per repeat (throughput; movies: a fifth)")
    parser.add_argument("--ratings", type=int, default=10_000_000, help="synthetic ratings (ratings)")
    parser.add_argument("--partitions", type=int, default=4, help="parallel writers (ratings)")
    parser.add_argument("--chunk-size", type=int, default=500)
    parser.add_argument("--max-rss-gb", type=float, default=12.0, help="stop when the double's memory passes this (ratings)")
    args = parser.parse_args()
    install_log_redaction()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    with es_target(args.es_url) as (url, pid):
        if args.what == "run":
            result = bench_run(url, args.data_dir, args.repeats, args.rank)
            table = [("median wall (s)", f"{result['median_wall_s']:.1f}")] + [(f"  {k}", f"{v:.1f}") for k, v in result["median_step_s"].items()]
        elif args.what == "throughput":
            result = bench_throughput(url, args.docs, args.repeats, args.chunk_size)
            table = [(f"{k} docs/s (median)", f"{result[k]['median_docs_per_s']:.0f}") for k in ("ratings", "movies")]
        else:
            result = bench_ratings(url, pid, args.ratings, args.max_rss_gb, args.partitions, args.chunk_size)
            table = [(k, str(result[k])) for k in ("docs_indexed", "docs_expected", "complete", "export_s", "docs_per_s", "double_peak_rss_gb")]
    result = {"benchmark": args.what, "target": "es-double" if pid else url, "machine": machine(), **result}
    print(json.dumps(result, indent=2, default=str))
    for name, value in table:
        print(f"{name:32} {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
