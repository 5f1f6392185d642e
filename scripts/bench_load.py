"""Benchmark: load + clean time for ml-100k and for a synthetic 10M-rating edition.

Prints one JSON document (and a short table on stderr): the machine, JVM
start time (measured apart), and for each data set the median of repeated
`pipeline.clean.load_clean` runs (every table parsed, cleaned, counted and
cached, then released). The synthetic set is generated once into a
temporary folder (its generation time is reported too).

    python scripts/bench_load.py                       # ml-100k x5, synthetic 10M x3
    python scripts/bench_load.py --synthetic-ratings 0 # ml-100k only
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
import tempfile
import time
from pathlib import Path

from pipeline import clean, synthetic
from pipeline.es import install_log_redaction
from pipeline.spark import get_spark

log = logging.getLogger("bench_load")


def machine() -> dict:
    """CPU model, cores, memory, load: the context any timing here needs."""
    try:
        model = next(
            line.split(":", 1)[1].strip()
            for line in subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout.splitlines()
            if line.startswith("Model name")
        )
    except (OSError, subprocess.CalledProcessError, StopIteration):
        model = platform.processor() or "unknown"
    mem_kb = next(
        (
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        ),
        0,
    )
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gb": round(mem_kb / 1024**2, 1),
        "python": platform.python_version(),
        "load_average_at_start": list(os.getloadavg()),
    }


def time_load_clean(spark, name: str, data_dir: Path, runs: int) -> dict:
    """Median (and all) wall times of load_clean, with the row counts of the last run."""
    times, report = [], None
    for i in range(runs):
        started = time.perf_counter()
        tables, report = clean.load_clean(spark, name, data_dir)
        times.append(time.perf_counter() - started)
        clean.unpersist(tables)
        log.info("%s run %d/%d: %.2fs", name, i + 1, runs, times[-1])
    rows = {table: entry["kept"] for table, entry in report["tables"].items()}
    ratings = rows["ratings"]
    median = statistics.median(times)
    return {
        "dataset": name,
        "data_dir": str(data_dir),
        "runs": runs,
        "median_s": round(median, 3),
        "times_s": [round(t, 3) for t in times],
        "rows": rows,
        "ratings_per_s": round(ratings / median),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"), help="parent of ml-100k/ (real data)")
    parser.add_argument("--runs-100k", type=int, default=5)
    parser.add_argument("--synthetic-ratings", type=int, default=10_000_000, help="0 skips the synthetic set")
    parser.add_argument("--synthetic-format", default="ml-25m", help="edition format of the synthetic set")
    parser.add_argument("--runs-synthetic", type=int, default=3)
    parser.add_argument("--master", default="local[*]")
    parser.add_argument("--driver-memory", default="6g")
    args = parser.parse_args(argv)
    install_log_redaction()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)

    result: dict = {"machine": machine(), "master": args.master, "driver_memory": args.driver_memory, "results": []}
    started = time.perf_counter()
    spark = get_spark(
        "bench-load",
        master=args.master,
        conf={"spark.driver.memory": args.driver_memory, "spark.ui.showConsoleProgress": "false"},
    )
    spark.range(1).count()  # the JVM and the first job's startup, measured apart from every load
    result["jvm_start_s"] = round(time.perf_counter() - started, 3)
    spark.sparkContext.setLogLevel("WARN")

    result["results"].append(time_load_clean(spark, "ml-100k", args.data_dir, args.runs_100k))
    if args.synthetic_ratings > 0:
        with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
            started = time.perf_counter()
            folder = synthetic.generate(
                tmp, args.synthetic_format, n_users=None, n_movies=None, n_ratings=args.synthetic_ratings, seed=1
            )
            generated = time.perf_counter() - started
            entry = time_load_clean(spark, args.synthetic_format, folder.parent, args.runs_synthetic)
            entry["synthetic"] = {
                "ratings": args.synthetic_ratings,
                "generate_s": round(generated, 1),
                "ratings_file_mb": round((folder / "ratings.csv").stat().st_size / 1e6, 1)
                if (folder / "ratings.csv").exists()
                else None,
            }
            result["results"].append(entry)
    result["machine"]["load_average_at_end"] = list(os.getloadavg())

    print(json.dumps(result, indent=2))
    sys.stderr.write(
        f"{'dataset':<16} {'ratings':>12} {'median s':>9} {'ratings/s':>12}   (JVM start {result['jvm_start_s']}s)\n"
    )
    for entry in result["results"]:
        sys.stderr.write(
            f"{entry['dataset']:<16} {entry['rows']['ratings']:>12,} {entry['median_s']:>9} {entry['ratings_per_s']:>12,}\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
