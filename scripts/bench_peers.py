"""Benchmark: movierec's ALS beside its peers on msr-100k and liked-only, in one run.

    pip install -e '.[bench]'      # the `implicit` library (peer only)
    python scripts/bench_peers.py --data-dir /work/shared/data --output reports/peers.json
    python scripts/bench_peers.py --data-dir /work/shared/data --timing-only --repeats 5   # training time only
    python scripts/bench_peers.py --data-dir /work/shared/data --search     # movierec ALS validation search only

Same splits (recommenders' python_stratified_split procedure, seeds 42, 7,
123, 1, 2), same metric code (pipeline.scoring / pipeline.metrics), every
model tuned on a validation carve of the seed-42 training part only (the same
procedure, seed 43), the winner trained on each seed's training part and
scored once on its test part. Models:

- movierec ALS, numpy block solver on Spark (λ·n^ν, the default signal rule)
- pyspark.ml ALS (`--solver spark-ml`, ν = 1, every rating a positive)
- the `implicit` library's ALS (CPU, conjugate gradient) at the same rank
- EASE (closed form, numpy), item-kNN (cosine), most popular

Tuning of movierec's numpy solver runs its sweeps through the local runner
(`pipeline.model.solver.local_runner`: the same equations, identical factors,
tests/pipeline/model/test_solver.py); every reported training runs on Spark.
Training seconds are per model on the seed splits (median). Then, on all of
ml-100k, the training time of both Spark solvers at the same rank and
iterations (and `implicit`'s), median of `--repeats`. Prints JSON and tables.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger("bench_peers")

METRICS = ("ndcg_at_10", "precision_at_10", "recall_at_10", "map_at_10", "map_rel_at_10", "mrr")
VALIDATION_SEED = 43


def load(data_dir: Path, spark: Any) -> np.ndarray:
    """ml-100k (user, movie, rating) rows in (user, movie) order, loaded and cleaned by the pipeline."""
    from pipeline.clean import load_clean

    tables, _ = load_clean(spark, "ml-100k", data_dir)
    rows = tables.ratings.select("user_id", "movie_id", "rating").orderBy("user_id", "movie_id").collect()
    return np.asarray([(r[0], r[1], r[2]) for r in rows], dtype=np.float64)


def split(rows: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from pipeline.splits import MSR_TRAIN_RATIO, stratified_train_mask

    mask = stratified_train_mask(rows[:, 0].astype(np.int64), MSR_TRAIN_RATIO, seed)
    return rows[mask], rows[~mask]


def ranking_data(train: np.ndarray, test: np.ndarray, liked: bool) -> Any:
    from pipeline.scoring import RankingData
    from pipeline.splits import LIKED_THRESHOLD

    test = test[test[:, 2] >= LIKED_THRESHOLD] if liked else test
    return RankingData.from_rows(map(tuple, train), map(tuple, test))


def score(scorer: Any, data: Any) -> dict[str, float]:
    from pipeline.scoring import evaluate_ranking

    got = evaluate_ranking(scorer, data, (10,))
    return {k: float(got[k]) for k in METRICS}


# ---- models: fit(train rows, params) -> scorer factory(data); `data` fixes the user / catalog order,
# so one fit is scored on msr-100k and liked-only alike.


def _factor_scorer(name: str, user_ids: np.ndarray, users: np.ndarray, item_ids: np.ndarray, items: np.ndarray) -> Any:
    from pipeline.scoring import FactorScorer, align

    def make(data: Any) -> Any:
        u, _ = align(user_ids, users, data.user_ids, users.shape[1])
        i, known = align(item_ids, items, data.item_ids, items.shape[1])
        return FactorScorer(name, u, i, known)

    return make


def fit_block_local(train: np.ndarray, params: Mapping[str, Any]) -> Any:
    """movierec's solver through the local runner (tuning only)."""
    from pipeline.als import ALSParams
    from pipeline.model import solver

    p = ALSParams(**params)
    kept, s = p.signal_rule().signal(train[:, 2])
    ub, ib, uids, iids = solver.local_blocks(train[kept, 0].astype(np.int64), train[kept, 1].astype(np.int64), s, 2)
    cfg = solver.SolverConfig("implicit", p.rank, p.reg_param, p.reg_exponent, p.alpha, p.prior_weight)
    f = solver.fit(ub, ib, uids, iids, cfg, p.max_iter, p.seed)
    return _factor_scorer("movierec ALS", f.user_ids, f.users, f.item_ids, f.items)


def spark_fitter(spark: Any) -> Callable[[np.ndarray, Mapping[str, Any]], Any]:
    """Train with `pipeline.als.train` on Spark (either solver)."""

    def fit(train: np.ndarray, params: Mapping[str, Any]) -> Any:
        from pipeline import als
        from pipeline.columns import RATINGS_SCHEMA

        frame = spark.createDataFrame([(int(u), int(i), float(r), 0) for u, i, r in train], RATINGS_SCHEMA).cache()
        frame.count()
        model = als.train(frame, als.ALSParams(**params))
        u_ids, users = als.factor_matrix(model.user_factors, "user_id")
        i_ids, items = als.factor_matrix(model.item_factors, "movie_id")
        model.unpersist()
        frame.unpersist()
        return _factor_scorer(params.get("solver", "numpy"), u_ids, users, i_ids, items)

    return fit


def fit_implicit_lib(train: np.ndarray, params: Mapping[str, Any]) -> Any:
    """The `implicit` library's ALS on binary user × item confidence 1 + alpha (its own convention)."""
    import scipy.sparse as sp
    from implicit.cpu.als import AlternatingLeastSquares

    user_ids, u = np.unique(train[:, 0].astype(np.int64), return_inverse=True)
    item_ids, i = np.unique(train[:, 1].astype(np.int64), return_inverse=True)
    matrix = sp.csr_matrix((np.ones(len(train), dtype=np.float32), (u, i)), shape=(len(user_ids), len(item_ids)))
    model = AlternatingLeastSquares(
        factors=params["rank"], regularization=params["reg"], alpha=params["alpha"], iterations=params.get("iterations", 15),
        random_state=42, calculate_training_loss=False,
    )
    model.fit(matrix, show_progress=False)
    return _factor_scorer("implicit ALS", user_ids, np.asarray(model.user_factors), item_ids, np.asarray(model.item_factors))


def _item_item(name: str, weights: Callable[[np.ndarray, Mapping[str, Any]], np.ndarray]) -> Callable[[np.ndarray, Mapping[str, Any]], Any]:
    """A model scored by X·W, W computed in the fit from the whole training matrix."""

    def fit(train: np.ndarray, params: Mapping[str, Any]) -> Any:
        from pipeline.baselines import ItemItemScorer, interaction_matrix

        users, u = np.unique(train[:, 0].astype(np.int64), return_inverse=True)
        item_ids, i = np.unique(train[:, 1].astype(np.int64), return_inverse=True)
        by_user = [i[u == row] for row in range(len(users))]
        w = weights(interaction_matrix(by_user, len(item_ids)), params)

        def make(data: Any) -> Any:
            assert np.array_equal(data.item_ids, item_ids)  # the catalog is the training part's movies
            return ItemItemScorer(name, interaction_matrix(data.train_cols, len(item_ids)), w)

        return make

    return fit


fit_ease = _item_item("EASE", lambda x, p: _ease(x, p["reg"]))
fit_item_knn = _item_item("item-kNN", lambda x, p: _knn(x, p["neighbours"]))


def _ease(x: np.ndarray, reg: float) -> np.ndarray:
    from pipeline.baselines import ease_weights

    return ease_weights(x, reg)


def _knn(x: np.ndarray, neighbours: int) -> np.ndarray:
    from pipeline.baselines import item_knn_weights

    return item_knn_weights(x, neighbours)


def fit_popular(train: np.ndarray, params: Mapping[str, Any]) -> Any:
    from pipeline.baselines import StaticScorer

    return lambda data: StaticScorer("most popular", data.item_counts)


def grid(space: Mapping[str, Sequence[Any]], base: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    from pipeline.tuning import grid_points

    return [{**(base or {}), **point} for point in grid_points(space)]


def tune(
    name: str, fit: Callable[..., Any], points: list[dict[str, Any]], train: np.ndarray
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Best point by msr-100k validation nDCG@10 on a carve of `train` (the split procedure, seed 43).

    Each point is fitted once and scored on both validation protocols (liked-only reported beside).
    """
    inner_train, inner_test = split(train, VALIDATION_SEED)
    datas = {"msr": ranking_data(inner_train, inner_test, False), "liked": ranking_data(inner_train, inner_test, True)}
    tried = []
    for point in points:
        started = time.perf_counter()
        make = fit(inner_train, point)
        got = {key: score(make(data), data)["ndcg_at_10"] for key, data in datas.items()}
        tried.append({"params": point, "ndcg_at_10": got["msr"], "liked_ndcg_at_10": got["liked"], "seconds": round(time.perf_counter() - started, 2)})
        log.warning("%s validation %s -> ndcg@10 msr %.4f liked %.4f", name, point, got["msr"], got["liked"])
    best = max(tried, key=lambda t: t["ndcg_at_10"])
    return best["params"], tried


# `--search`: each knob moved alone from the defaults, then every combination of the knobs that gained,
# then the best few re-scored on a second carve (seed 44); the winner has the best mean of both carves.
SEARCH_AXES: dict[str, list[Any]] = {
    "rank": [96, 128],
    "max_iter": [20, 25],
    "reg_param": [2.0, 4.5],
    "alpha": [1.5, 3.0],
    "reg_exponent": [0.4, 0.6],
    "negative_weight": [0.5, 2.0],
    "positive_threshold": [3.0],
    "prior_weight": [0.3, 3.0],
}
SEARCH_SHORTLIST = 5
SECOND_CARVE_SEED = 44


def search(default: dict[str, Any], train: np.ndarray) -> dict[str, Any]:
    """movierec ALS's validation search on carves of `train` only (the seed-42 training part)."""
    stages: dict[str, list[dict[str, Any]]] = {}
    _, stages["alone"] = tune("alone", fit_block_local, [default] + [{**default, k: v} for k, vs in SEARCH_AXES.items() for v in vs], train)
    base = stages["alone"][0]["ndcg_at_10"]
    gains: dict[str, Any] = {}
    for t in stages["alone"][1:]:
        (key, value), = ((k, v) for k, v in t["params"].items() if v != default[k])
        if t["ndcg_at_10"] > max(base, gains.get(key, (None, -1.0))[1]):
            gains[key] = (value, t["ndcg_at_10"])
    seen = [t["params"] for t in stages["alone"]]
    combos = [p for p in grid({k: [default[k], v] for k, (v, _) in gains.items()}, default) if p not in seen] if len(gains) > 1 else []
    _, stages["combined"] = tune("combined", fit_block_local, combos, train) if combos else (None, [])
    tried = stages["alone"] + stages["combined"]
    shortlist = sorted(tried, key=lambda t: -t["ndcg_at_10"])[:SEARCH_SHORTLIST]
    if not any(t["params"] == default for t in shortlist):
        shortlist.append(stages["alone"][0])
    inner_train, inner_test = split(train, SECOND_CARVE_SEED)
    data = ranking_data(inner_train, inner_test, False)
    for t in shortlist:
        t["ndcg_at_10_carve_44"] = score(fit_block_local(inner_train, t["params"])(data), data)["ndcg_at_10"]
        t["mean_two_carves"] = (t["ndcg_at_10"] + t["ndcg_at_10_carve_44"]) / 2
        log.warning("shortlist %s -> carve 43 %.4f carve 44 %.4f", t["params"], t["ndcg_at_10"], t["ndcg_at_10_carve_44"])
    winner = max(shortlist, key=lambda t: t["mean_two_carves"])
    return {"default": default, "axes": SEARCH_AXES, "gains": gains, "stages": stages, "shortlist": shortlist, "winner": winner["params"]}


def print_search(found: Mapping[str, Any]) -> None:
    default = found["default"]
    print("\nvalidation nDCG@10 (seed-42 training part; carve 43, and 44 for the shortlist):")
    for t in [*found["stages"]["alone"], *found["stages"]["combined"]]:
        changed = {k: v for k, v in t["params"].items() if v != default[k]} or "defaults"
        extra = f"  carve 44 {t['ndcg_at_10_carve_44']:.4f}  mean {t['mean_two_carves']:.4f}" if "mean_two_carves" in t else ""
        print(f"  {t['ndcg_at_10']:.4f}  liked {t['liked_ndcg_at_10']:.4f}  {changed}{extra}")
    print(f"winner: { {k: v for k, v in found['winner'].items() if v != default[k]} or 'the defaults'}")


def run_models(rows: np.ndarray, models: Mapping[str, tuple[Callable[..., Any], dict[str, Any]]], seeds: Sequence[int]) -> dict[str, Any]:
    """Every model trained once per seed split, scored on msr-100k and liked-only."""
    per: dict[str, dict[str, list[dict[str, float]]]] = {"msr-100k": {n: [] for n in models}, "liked-only": {n: [] for n in models}}
    for seed in seeds:
        train, test = split(rows, seed)
        datas = {"msr-100k": ranking_data(train, test, False), "liked-only": ranking_data(train, test, True)}
        for name, (fit, params) in models.items():
            started = time.perf_counter()
            make = fit(train, params)
            seconds = time.perf_counter() - started
            for protocol, data in datas.items():
                per[protocol][name].append({**score(make(data), data), "train_seconds": seconds, "seed": seed})
            log.warning("seed %d %s: ndcg@10 %.4f (%.1fs)", seed, name, per["msr-100k"][name][-1]["ndcg_at_10"], seconds)
    return {protocol: {name: summarise(results) for name, results in table.items()} for protocol, table in per.items()}


def summarise(results: list[dict[str, float]]) -> dict[str, Any]:
    keys = [*METRICS, "train_seconds"]
    return {
        "mean": {k: float(np.mean([r[k] for r in results])) for k in keys},
        "sd": {k: float(np.std([r[k] for r in results], ddof=1)) if len(results) > 1 else 0.0 for k in keys},
        "median_train_seconds": float(statistics.median(r["train_seconds"] for r in results)),
        "per_seed": results,
    }


def timing(spark: Any, rows: np.ndarray, rank: int, iterations: int, repeats: int, block_params: dict[str, Any]) -> dict[str, Any]:
    """Training seconds on all of ml-100k at the same rank and iterations, interleaved repeats.

    numpy solver (blocks sized to the data: one task on ml-100k), the same forced to two blocks (a
    Spark job per half-step, as on bigger data), pyspark.ml ALS, and the `implicit` library.
    """
    from pipeline import als
    from pipeline.columns import RATINGS_SCHEMA

    frame = spark.createDataFrame([(int(u), int(i), float(r), 0) for u, i, r in rows], RATINGS_SCHEMA).cache()
    frame.count()
    numpy = als.ALSParams(**{**block_params, "rank": rank, "max_iter": iterations})
    configs = {
        "numpy": numpy,
        "numpy, 2 blocks": numpy.replace(num_blocks=2),
        "spark-ml": als.ALSParams.for_kind("implicit", "spark-ml").replace(rank=rank, max_iter=iterations),
    }
    seconds: dict[str, list[float]] = {name: [] for name in [*configs, "implicit"]}
    steps: dict[str, list[dict[str, Any]]] = {name: [] for name in configs if name != "spark-ml"}
    load_before = os.getloadavg()
    for _ in range(repeats):
        for name, p in configs.items():
            model = als.train(frame, p)
            seconds[name].append(model.meta["train_seconds"])
            if name in steps:
                steps[name].append(model.meta["solver_timings"])
            model.unpersist()
        started = time.perf_counter()
        fit_implicit_lib(rows, {"rank": rank, "reg": 1.0, "alpha": 1.0, "iterations": iterations})
        seconds["implicit"].append(time.perf_counter() - started)
    frame.unpersist()
    medians = {name: statistics.median(v) for name, v in seconds.items()}
    return {
        "rank": rank,
        "iterations": iterations,
        "repeats": repeats,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "seconds": seconds,
        "numpy_steps": steps,
        "median_seconds": medians,
        "numpy_over_spark_ml": medians["numpy"] / medians["spark-ml"],
        "per_repeat_numpy_over_spark_ml": [a / b for a, b in zip(seconds["numpy"], seconds["spark-ml"], strict=True)],
    }


def print_timing(times: Mapping[str, Any]) -> None:
    print(f"\ntraining on all of ml-100k, rank {times['rank']}, {times['iterations']} iterations, "
          f"median of {times['repeats']} interleaved repeats (load {times['load_average_before'][0]:.1f} -> {times['load_average_after'][0]:.1f}):")
    for name, value in times["median_seconds"].items():
        print(f"  {name:<18}{value:>8.2f} s   {', '.join(f'{v:.2f}' for v in times['seconds'][name])}")
    print(f"  numpy / spark-ml = {times['numpy_over_spark_ml']:.2f} (per repeat: "
          f"{', '.join(f'{r:.2f}' for r in times['per_repeat_numpy_over_spark_ml'])})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, type=Path)
    parser.add_argument("--output", type=Path, default=None, help="write the JSON here too")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--seeds", default="42,7,123,1,2")
    parser.add_argument("--repeats", type=int, default=3, help="timing repeats on all of ml-100k")
    parser.add_argument("--timing-only", action="store_true", help="only the training-time comparison on all of ml-100k")
    parser.add_argument("--rank", type=int, default=64, help="rank of the training-time comparison (default 64)")
    parser.add_argument("--search", action="store_true", help="only movierec ALS's validation search (no test part is scored)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(asctime)s %(message)s")
    from threadpoolctl import threadpool_limits  # comes with `implicit`

    threadpool_limits(1, "blas")  # as the Spark workers: one BLAS thread per process
    from pipeline.als import ALSParams
    from pipeline.commands.model import machine_info
    from pipeline.spark import get_spark

    spark = get_spark("movierec-bench-peers", master=args.master)
    spark.sparkContext.setLogLevel("ERROR")
    rows = load(args.data_dir, spark)
    default = {k: v for k, v in ALSParams().to_dict().items() if k != "num_blocks"}
    if args.timing_only:
        times = timing(spark, rows, args.rank, 15, args.repeats, default)
        times.update(command=" ".join(sys.argv), machine=machine_info(spark))
        text = json.dumps(times, indent=2, sort_keys=True, default=str)
        print(text)
        if args.output:
            args.output.parent.mkdir(parents=True, exist_ok=True)
            args.output.write_text(text + "\n", encoding="utf-8")
        print_timing(times)
        spark.stop()
        return 0
    seeds = [int(s) for s in args.seeds.split(",")]
    train42, _ = split(rows, seeds[0])
    if args.search:
        spark.stop()  # the search runs through the local runner
        found = search(default, train42)
        text = json.dumps({"command": " ".join(sys.argv), "load_average": os.getloadavg(), **found}, indent=2, sort_keys=True, default=str)
        print(text)
        if args.output:
            args.output.parent.mkdir(parents=True, exist_ok=True)
            args.output.write_text(text + "\n", encoding="utf-8")
        print_search(found)
        return 0
    started = time.perf_counter()

    tuning: dict[str, Any] = {}
    best: dict[str, dict[str, Any]] = {}
    block_points = [{**default, **p} for p in (
        {"reg_param": 3.0, "alpha": 2.0, "reg_exponent": 0.5},
        {"reg_param": 1.0, "alpha": 2.0, "reg_exponent": 0.5},
        {"reg_param": 10.0, "alpha": 2.0, "reg_exponent": 0.5},
        {"reg_param": 3.0, "alpha": 4.0, "reg_exponent": 0.5},
        {"reg_param": 0.3, "alpha": 1.0, "reg_exponent": 1.0},
        {"reg_param": 1.0, "alpha": 2.0, "reg_exponent": 1.0},
    )]
    best["movierec ALS"], tuning["movierec ALS"] = tune("movierec ALS", fit_block_local, block_points, train42)
    rules = [
        {"positive_threshold": None, "negative_weight": 0.0, "prior_weight": 0.0},
        {"positive_threshold": 2.0, "negative_weight": 1.0, "prior_weight": 1.0},
        {"positive_threshold": 3.0, "negative_weight": 0.5, "prior_weight": 1.0},
    ]
    rule_points = [{**best["movierec ALS"], **r} for r in rules if {**best["movierec ALS"], **r} != best["movierec ALS"]]
    _, tuning["signal rule"] = tune("signal rule", fit_block_local, rule_points, train42)
    # pyspark.ml ALS: its defaults were chosen on an msr-100k validation carve (docs/benchmarks.md)
    best["pyspark.ml ALS"] = {k: v for k, v in ALSParams.for_kind("implicit", "spark-ml").to_dict().items() if k != "num_blocks"}
    best["implicit ALS"], tuning["implicit ALS"] = tune(
        "implicit", fit_implicit_lib, grid({"reg": [0.1, 1.0, 10.0], "alpha": [1.0, 10.0]}, {"rank": best["movierec ALS"]["rank"]}), train42
    )
    best["EASE"], tuning["EASE"] = tune("EASE", fit_ease, grid({"reg": [100.0, 250.0, 500.0, 1000.0]}), train42)
    best["item-kNN"], tuning["item-kNN"] = tune("item-kNN", fit_item_knn, grid({"neighbours": [20, 50, 100, 200, 400]}), train42)
    tune_seconds = time.perf_counter() - started

    models = {
        "movierec ALS": (spark_fitter(spark), best["movierec ALS"]),
        "pyspark.ml ALS": (spark_fitter(spark), best["pyspark.ml ALS"]),
        "implicit ALS": (fit_implicit_lib, best["implicit ALS"]),
        "EASE": (fit_ease, best["EASE"]),
        "item-kNN": (fit_item_knn, best["item-kNN"]),
        "most popular": (fit_popular, {}),
    }
    results = run_models(rows, models, seeds)
    times = timing(spark, rows, args.rank, 15, args.repeats, default)
    summary = {
        "command": " ".join(sys.argv),
        "load_average": os.getloadavg(),
        "seeds": seeds,
        "best_params": best,
        "tuning": tuning,
        "tuning_seconds": tune_seconds,
        "results": results,
        "timing_ml100k": times,
        "machine": machine_info(spark),
    }
    text = json.dumps(summary, indent=2, sort_keys=True, default=str)
    print(text)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text + "\n", encoding="utf-8")
    for protocol, table in results.items():
        print(f"\n{protocol}: mean ± sd over seeds {seeds}")
        print(f"{'model':<18}{'nDCG@10':>18}{'P@10':>18}{'R@10':>18}{'MAP@10':>10}{'MAP(÷|rel|)':>13}{'train s':>9}")
        for name, r in table.items():
            m, sd = r["mean"], r["sd"]
            print(
                f"{name:<18}{m['ndcg_at_10']:>11.4f} ± {sd['ndcg_at_10']:.4f}{m['precision_at_10']:>11.4f} ± {sd['precision_at_10']:.4f}"
                f"{m['recall_at_10']:>11.4f} ± {sd['recall_at_10']:.4f}{m['map_at_10']:>10.4f}{m['map_rel_at_10']:>13.4f}{r['median_train_seconds']:>9.2f}"
            )
    print_timing(times)
    spark.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
