"""Benchmark: the cost curve of training, from 1M to 25M synthetic ratings, both solvers.

    pip install -e '.[bench]'     # psutil, to sample memory
    nice -n 10 python scripts/bench_cost.py --work-dir /tmp/movierec-cost --sizes 1000000,10000000,25000000

For each size a MovieLens-shaped synthetic set in the ml-25m format is
generated (`pipeline.synthetic.generate`, users and movies scaled like the
real editions: ml-1m, ml-10m, ml-25m), then each solver runs in a fresh
Python process (so the JVM, its heap and the Python workers are its own):
load + clean, train (rank 64, 15 iterations, `local[*]`), write the factor
tables as Parquet (what `movierec train --output` writes). A sampler reads
the resident memory of the process and all its children (the JVM, the
Python workers) every 0.5 s; the peak is reported. Prints JSON and a table;
`--plot` writes a PNG of time and peak memory against ratings.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

# (users, movies) of the MovieLens edition each size imitates
SHAPES = {1_000_000: (6_040, 3_706), 10_000_000: (69_878, 10_677), 25_000_000: (162_541, 59_047)}
SOLVERS = ("numpy", "spark-ml")


def shape(n: int) -> tuple[int, int]:
    if n in SHAPES:
        return SHAPES[n]
    return max(100, n // 150), max(100, n // 420)  # ml-25m's ratios


def generate(work: Path, n: int) -> Path:
    from pipeline import synthetic

    root = work / f"synth-{n}"
    if (root / "ml-25m" / "ratings.csv").is_file():
        return root
    users, movies = shape(n)
    started = time.perf_counter()
    synthetic.generate(root, "ml-25m", n_users=users, n_movies=movies, n_ratings=n, seed=25, quirks=False)
    logging.getLogger("bench_cost").warning("generated %d ratings in %.0fs", n, time.perf_counter() - started)
    return root


def single(args: argparse.Namespace) -> dict[str, Any]:
    """One solver on one size, in this process."""
    from pipeline import als
    from pipeline.clean import load_clean
    from pipeline.spark import get_spark

    timings: dict[str, float] = {}
    started = time.perf_counter()
    spark = get_spark("movierec-bench-cost", master=args.master, conf={"spark.driver.memory": args.driver_memory})
    spark.sparkContext.setLogLevel("ERROR")
    timings["jvm_start"] = time.perf_counter() - started
    started = time.perf_counter()
    tables, _ = load_clean(spark, "ml-25m", args.data_dir)
    ratings = tables.ratings.cache()
    n = ratings.count()
    timings["load"] = time.perf_counter() - started
    params = als.ALSParams.for_kind("implicit", args.solver).replace(rank=args.rank, max_iter=args.iterations)
    started = time.perf_counter()
    model = als.train(ratings, params)
    timings["train"] = time.perf_counter() - started
    started = time.perf_counter()
    out = Path(args.work_dir) / f"factors-{args.solver}-{n}"
    model.user_factors.write.mode("overwrite").parquet(str(out / "user_factors"))
    model.item_factors.write.mode("overwrite").parquet(str(out / "item_factors"))
    timings["export"] = time.perf_counter() - started
    result = {
        "ratings": n,
        "users": model.meta["n_users"],
        "movies": model.meta["n_items"],
        "solver": args.solver,
        "timings": {k: round(v, 2) for k, v in timings.items()},
        "solver_timings": model.meta.get("solver_timings"),
    }
    spark.stop()
    return result


def peak_rss(pid: int, stop: threading.Event, peak: list[int], limit_gb: float) -> None:
    """Sample the resident memory of `pid` and its descendants; kill the tree above `limit_gb`."""
    import psutil

    root = psutil.Process(pid)
    while not stop.is_set():
        try:
            procs = [root, *root.children(recursive=True)]
            rss = sum(p.memory_info().rss for p in procs if p.is_running())
        except psutil.Error:
            rss = 0
        peak[0] = max(peak[0], rss)
        if rss > limit_gb * 2**30:
            for p in reversed(procs):
                try:
                    p.kill()
                except psutil.Error:
                    pass
            return
        stop.wait(0.5)


def measure(args: argparse.Namespace, n: int, solver: str, data_dir: Path) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--single", "--solver", solver, "--data-dir", str(data_dir), "--work-dir", str(args.work_dir),
           "--master", args.master, "--rank", str(args.rank), "--iterations", str(args.iterations), "--driver-memory", args.driver_memory]
    load_before = os.getloadavg()
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    stop, peak = threading.Event(), [0]
    sampler = threading.Thread(target=peak_rss, args=(proc.pid, stop, peak, args.max_rss_gb), daemon=True)
    sampler.start()
    out, _ = proc.communicate()
    stop.set()
    sampler.join()
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        return {"ratings": n, "solver": solver, "error": f"exit {proc.returncode}", "peak_rss_gb": round(peak[0] / 2**30, 2), "wall": wall}
    result = json.loads(out.strip().splitlines()[-1])
    result.update(wall=round(wall, 1), peak_rss_gb=round(peak[0] / 2**30, 2), load_average_before=load_before, load_average_after=os.getloadavg())
    return result


def plot(results: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for solver in SOLVERS:
        rows = sorted((r for r in results if r["solver"] == solver and "error" not in r), key=lambda r: r["ratings"])
        if not rows:
            continue
        xs = [r["ratings"] / 1e6 for r in rows]
        left.plot(xs, [r["timings"]["train"] for r in rows], marker="o", label=f"{solver}: train")
        left.plot(xs, [r["timings"]["load"] for r in rows], marker=".", linestyle="--", label=f"{solver}: load + clean")
        right.plot(xs, [r["peak_rss_gb"] for r in rows], marker="o", label=solver)
    left.set(xlabel="ratings (millions)", ylabel="seconds", title="time (local[2], rank 64; sweeps per run: see the table)")
    right.set(xlabel="ratings (millions)", ylabel="GB", title="peak resident memory (process tree)")
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work-dir", type=Path, required=True, help="synthetic data and factor outputs")
    parser.add_argument("--sizes", default="1000000,10000000,25000000")
    parser.add_argument("--solvers", default=",".join(SOLVERS))
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--rank", type=int, default=64)
    parser.add_argument("--iterations", type=int, default=15)
    parser.add_argument("--driver-memory", default="8g")
    parser.add_argument("--max-rss-gb", type=float, default=14.0, help="kill a run whose process tree passes this")
    parser.add_argument("--plot", type=Path, default=None)
    parser.add_argument("--single", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--solver", default="numpy", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    if args.single:
        print(json.dumps(single(args)))
        return 0
    args.work_dir.mkdir(parents=True, exist_ok=True)
    results = []
    for n in (int(s) for s in args.sizes.split(",")):
        data_dir = generate(args.work_dir, n)
        for solver in args.solvers.split(","):
            results.append(measure(args, n, solver, data_dir))
            logging.getLogger("bench_cost").warning("%s", json.dumps(results[-1]))
    print(json.dumps({"command": " ".join(sys.argv), "results": results}, indent=2, sort_keys=True))
    print(f"\n{'ratings':>11} {'solver':<9} {'load s':>8} {'train s':>8} {'export s':>9} {'peak GB':>8}")
    for r in results:
        t = r.get("timings", {})
        print(f"{r['ratings']:>11,} {r['solver']:<9} {t.get('load', float('nan')):>8.1f} {t.get('train', float('nan')):>8.1f} "
              f"{t.get('export', float('nan')):>9.1f} {r['peak_rss_gb']:>8.2f} {r.get('error', '')}")
    if args.plot:
        plot(results, args.plot)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
