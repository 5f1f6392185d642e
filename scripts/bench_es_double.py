"""Benchmark the ES test double through the real `elasticsearch` client.

Runs the double as a separate process (`python -m tests.es_double`), like a real cluster,
and measures:

* filtered kNN latency: 20,000 docs of 65-dim `max_inner_product` vectors, a `knn` with a
  genre `term` + rating `range` pre-filter, k=10 (median and p95 over repeated queries);
* bulk indexing throughput: 100,000 small documents with `helpers.bulk` and
  `helpers.streaming_bulk` (median docs/s over repeated runs, fresh index each run).

Prints one JSON object and a short table. Usage:
    python scripts/bench_es_double.py [--docs 20000] [--dims 65] [--bulk-docs 100000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
from elasticsearch import Elasticsearch, helpers

log = logging.getLogger("bench_es_double")

GENRES = ["Action", "Adventure", "Animation", "Comedy", "Crime", "Drama", "Fantasy", "Horror", "Romance", "Thriller"]


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def start_double(*options: str, cwd: str | None = None) -> tuple[subprocess.Popen[str], str]:
    """`python -m tests.es_double --port 0 [options]` and its URL (the first line it prints)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.es_double", "--port", "0", *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=cwd,
    )
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    if not url.startswith("http"):
        proc.kill()
        raise RuntimeError(f"the double did not start: {url!r}")
    return proc, url


def movie_docs(n: int, dims: int, seed: int = 0) -> Iterator[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(n, dims)).astype(np.float32) / np.sqrt(dims)
    for i in range(n):
        yield {
            "_index": "bench-movies",
            "_id": str(i),
            "_source": {
                "movie_id": i,
                "title": f"Movie {i}",
                "genres": [GENRES[i % len(GENRES)], GENRES[(i * 7) % len(GENRES)]],
                "bayes_rating": float(1 + (i % 40) / 10),
                "factors": vectors[i].tolist(),
            },
        }


def bench_knn(es: Elasticsearch, docs: int, dims: int, queries: int) -> dict[str, Any]:
    es.indices.create(
        index="bench-movies",
        settings={"number_of_shards": 1, "number_of_replicas": 0},
        mappings={
            "dynamic": "strict",
            "properties": {
                "movie_id": {"type": "integer"},
                "title": {"type": "text", "fields": {"keyword": {"type": "keyword"}}},
                "genres": {"type": "keyword"},
                "bayes_rating": {"type": "float"},
                "factors": {
                    "type": "dense_vector",
                    "dims": dims,
                    "index": True,
                    "similarity": "max_inner_product",
                    "index_options": {"type": "hnsw", "m": 16, "ef_construction": 100},
                },
            },
        },
    )
    helpers.bulk(es, movie_docs(docs, dims), chunk_size=1000, refresh="wait_for")
    rng = np.random.default_rng(1)
    latencies: list[float] = []
    took: list[int] = []
    for q in range(queries + 5):
        body = {
            "field": "factors",
            "query_vector": (rng.normal(size=dims) / np.sqrt(dims)).tolist(),
            "k": 10,
            "num_candidates": 100,
            "filter": [{"term": {"genres": GENRES[q % len(GENRES)]}}, {"range": {"bayes_rating": {"gte": 2.5}}}],
        }
        start = time.perf_counter()
        resp = es.search(index="bench-movies", knn=body, source=False)
        elapsed = (time.perf_counter() - start) * 1000
        if q >= 5:  # warm-up: the first queries build the vector matrix and filter postings
            latencies.append(elapsed)
            took.append(resp["took"])
        assert len(resp["hits"]["hits"]) == 10
    latencies.sort()
    return {
        "docs": docs,
        "dims": dims,
        "queries": queries,
        "median_ms": round(statistics.median(latencies), 2),
        "p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))], 2),
        "median_took_ms": statistics.median(took),
    }


def rating_docs(n: int, index: str) -> Iterator[dict[str, Any]]:
    for i in range(n):
        yield {
            "_index": index,
            "_id": f"{i // 50}-{i}",
            "_source": {
                "user_id": i // 50,
                "movie_id": i % 9000,
                "rating": float(1 + i % 5),
                "rated_at": 964982703 + i,
            },
        }


def _cpu_seconds(pid: int) -> float:
    """user + system CPU seconds of a process (Linux /proc)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_bulk(es: Elasticsearch, n: int, repeats: int, server_pid: int) -> dict[str, Any]:
    mapping = {
        "dynamic": "strict",
        "properties": {
            "user_id": {"type": "integer"},
            "movie_id": {"type": "integer"},
            "rating": {"type": "float"},
            "rated_at": {"type": "date", "format": "strict_date_optional_time||epoch_second"},
        },
    }
    out: dict[str, Any] = {"docs": n, "repeats": repeats}
    for name in ("bulk", "streaming_bulk"):
        rates = []
        cpu_rates = []
        for r in range(repeats):
            index = f"bench-ratings-{name}-{r}"
            es.indices.create(index=index, settings={"number_of_replicas": 0}, mappings=mapping)
            server_cpu = _cpu_seconds(server_pid)
            client_cpu = time.process_time()
            start = time.perf_counter()
            if name == "bulk":
                ok, _ = helpers.bulk(es, rating_docs(n, index), chunk_size=1000)
            else:
                ok = sum(
                    1 for success, _ in helpers.streaming_bulk(es, rating_docs(n, index), chunk_size=1000) if success
                )
            elapsed = time.perf_counter() - start
            cpu = (time.process_time() - client_cpu) + (_cpu_seconds(server_pid) - server_cpu)
            assert ok == n, ok
            rates.append(n / elapsed)
            cpu_rates.append(n / cpu)
            es.indices.delete(index=index)
        out[f"{name}_docs_per_s"] = round(statistics.median(rates))
        # client and server take turns (the helpers wait for each bulk response), so their summed
        # CPU time bounds the wall time on an idle machine: this is the rate without contention
        out[f"{name}_docs_per_cpu_s"] = round(statistics.median(cpu_rates))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--dims", type=int, default=65)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--bulk-docs", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    proc, url = start_double()
    try:
        es = Elasticsearch(url, request_timeout=120)
        log.info("double at %s; kNN benchmark on %d docs", url, args.docs)
        knn = bench_knn(es, args.docs, args.dims, args.queries)
        log.info("bulk benchmark: %d docs x %d", args.bulk_docs, args.repeats)
        bulk = bench_bulk(es, args.bulk_docs, args.repeats, proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    result = {
        "machine": {
            "cpu": _cpu_model(),
            "cores": _cores(),
            "python": platform.python_version(),
            "load_average_1m": round(_load(), 2),
        },
        "knn_filtered": knn,
        "bulk": bulk,
    }
    print(json.dumps(result, indent=2))
    print()
    print(f"{'metric':<34}{'value':>12}")
    print(f"{'kNN filtered median (ms)':<34}{knn['median_ms']:>12}")
    print(f"{'kNN filtered p95 (ms)':<34}{knn['p95_ms']:>12}")
    print(f"{'helpers.bulk docs/s':<34}{bulk['bulk_docs_per_s']:>12}")
    print(f"{'helpers.streaming_bulk docs/s':<34}{bulk['streaming_bulk_docs_per_s']:>12}")
    print(f"{'helpers.bulk docs per CPU-second':<34}{bulk['bulk_docs_per_cpu_s']:>12}")
    return 0


def _cores() -> int:
    return os.cpu_count() or 0


def _load() -> float:
    return os.getloadavg()[0]


if __name__ == "__main__":
    sys.exit(main())
