"""Benchmark: tune-free train + evaluate on a protocol, JVM start timed apart.

Each repeat runs in a fresh Python process (so the JVM start is real), loads
and cleans the dataset, builds the protocol's split, trains ALS with the
protocol's default parameters and evaluates it (exact top-k, or RMSE over
folds). Prints JSON (per-repeat figures and medians) and a short table.

    python scripts/bench_model.py --data-dir /work/shared/data --dataset ml-100k --protocol msr-100k --repeats 3
    python scripts/bench_model.py ... --blas java   # force the pure-Java BLAS/LAPACK for comparison
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

# Pointing netlib at a library that does not exist makes it fall back to its Java implementations.
JAVA_BLAS_OPTIONS = (
    "-Ddev.ludovic.netlib.blas.nativeLib=movierec-no-native-blas.so "
    "-Ddev.ludovic.netlib.lapack.nativeLib=movierec-no-native-lapack.so"
)
STEPS = ("jvm_start", "load", "split", "collect", "train", "evaluate", "baselines", "train_and_evaluate", "wall_after_jvm")


def single(args: argparse.Namespace) -> dict[str, Any]:
    """One measured run in this process."""
    from pipeline import evaluate
    from pipeline.clean import load_clean
    from pipeline.commands.model import machine_info
    from pipeline.spark import get_spark
    from pipeline.splits import MSR_SEED

    conf = {"spark.driver.extraJavaOptions": JAVA_BLAS_OPTIONS} if args.blas == "java" else {}
    started = time.perf_counter()
    spark = get_spark("movierec-bench", master=args.master, conf=conf)
    spark.sparkContext.setLogLevel("ERROR")
    jvm = time.perf_counter() - started
    started = time.perf_counter()
    tables, _ = load_clean(spark, args.dataset, args.data_dir)
    tables.ratings.count()
    load = time.perf_counter() - started
    task = "rating" if args.protocol == "surprise-100k" else "ranking"
    params = evaluate.default_params(task)
    if args.params:
        params = params.replace(**json.loads(args.params))
    report = evaluate.run_protocol(
        spark, args.protocol, tables.ratings, tables.movies, args.data_dir, params, with_baselines=not args.no_baselines,
        seeds=(MSR_SEED,),  # one split: this measures the cost of one train + evaluate
    )
    wall = time.perf_counter() - started
    timings = {"jvm_start": jvm, "load": load, **report["timings"], "wall_after_jvm": wall}
    metric_keys = ("ndcg_at_10", "precision_at_10", "recall_at_10", "map_at_10", "mrr", "ndcg_at_5", "precision_at_5", "recall_at_5", "rmse", "mae")
    result = {
        "timings": {k: round(v, 3) for k, v in timings.items()},
        "metrics": {k: v for k, v in report["models"]["als"].items() if k in metric_keys},
        "params": report["params"],
        "machine": machine_info(spark),
    }
    spark.stop()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, type=Path)
    parser.add_argument("--dataset", default="ml-100k")
    parser.add_argument("--protocol", default="msr-100k", choices=("msr-100k", "liked-only", "surprise-100k", "temporal"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--blas", choices=("auto", "java"), default="auto", help="auto: native if installed")
    parser.add_argument("--params", default=None, help="JSON overrides of the default ALS parameters")
    parser.add_argument("--no-baselines", action="store_true")
    parser.add_argument("--single", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    if args.single:
        print(json.dumps(single(args)))
        return 0
    forwarded = sys.argv[1:] if argv is None else list(argv)
    runs = []
    for n in range(args.repeats):
        out = subprocess.run([sys.executable, __file__, "--single", *forwarded], check=True, capture_output=True, text=True)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
        logging.getLogger("bench").warning("repeat %d/%d: %s", n + 1, args.repeats, runs[-1]["timings"])
    medians = {
        step: round(statistics.median(r["timings"][step] for r in runs), 3)
        for step in STEPS
        if all(step in r["timings"] for r in runs)
    }
    summary = {
        "dataset": args.dataset,
        "protocol": args.protocol,
        "blas_requested": args.blas,
        "repeats": args.repeats,
        "median_seconds": medians,
        "metrics": runs[-1]["metrics"],
        "params": runs[-1]["params"],
        "machine": runs[-1]["machine"],
        "runs": runs,
    }
    print(json.dumps(summary, indent=2, sort_keys=True))
    print(f"\n{'step':<22}{'median s':>10}")
    for step, value in medians.items():
        print(f"{step:<22}{value:>10.2f}")
    for key, value in summary["metrics"].items():
        print(f"{key:<22}{value:>10.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
