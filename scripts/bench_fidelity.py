"""Benchmark: the HNSW recall@10 curve over num_candidates for a trained model's vectors.

    python scripts/bench_fidelity.py --data-dir /work/shared/data --dataset ml-100k --dataset ml-latest-small

Trains the default model (`movierec train`'s defaults) on each dataset with
Spark, then builds a faiss HNSW graph with the movies mapping's m and
ef_construction over the movie vectors and searches it for a sample of the
users' vectors with ef = each num_candidates (`pipeline.fidelity`). The
service's default num_candidates is chosen from these curves
(docs/benchmarks.md). Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

NUM_CANDIDATES = (10, 15, 20, 30, 50, 75, 100, 150, 200, 500)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, type=Path)
    parser.add_argument("--dataset", action="append", required=True)
    parser.add_argument("--users", type=int, default=1000, help="sampled query users")
    parser.add_argument("--master", default="local[2]")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    from pipeline import als, fidelity
    from pipeline.clean import load_clean
    from pipeline.spark import get_spark

    spark = get_spark("movierec-bench-fidelity", master=args.master)
    spark.sparkContext.setLogLevel("ERROR")
    out = {"load_average_start": os.getloadavg(), "curves": {}}
    for dataset in args.dataset:
        tables, _ = load_clean(spark, dataset, args.data_dir)
        model = als.train(tables.ratings, als.ALSParams())
        items = als.factor_matrix(model.item_factors, "movie_id")[1]
        users = als.factor_matrix(model.user_factors, "user_id")[1]
        rows = fidelity.sample_rows(len(users), args.users)
        out["curves"][dataset] = fidelity.hnsw_curve(items, users[rows], num_candidates=NUM_CANDIDATES, **fidelity.hnsw_options())
        model.unpersist()
    out["load_average_end"] = os.getloadavg()
    print(json.dumps(out, indent=2, sort_keys=True))
    spark.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
