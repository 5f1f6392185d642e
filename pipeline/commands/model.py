"""`movierec train` and `movierec evaluate`: ALS on a MovieLens edition, without Elasticsearch.

train: load + clean → train on every rating → factor tables (Parquet) and the
model meta (JSON) in --output.
evaluate: load + clean → the protocol's split(s) → [tune on a validation carve
of the training part] → train → exact top-k / RMSE against the baselines →
report.json, report.md and PNG plots in --output.
Progress (counts, timings) is logged to stderr; the final summary is JSON on stdout.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

from pipeline import datasets, splits
from pipeline.als import ALSParams
from pipeline.errors import DatasetError, PipelineError

log = logging.getLogger(__name__)

# CLI flag -> ALSParams field; None on the command line means "the protocol's default".
PARAM_FLAGS = {
    "kind": "kind",
    "rank": "rank",
    "reg_param": "reg_param",
    "alpha": "alpha",
    "max_iter": "max_iter",
    "seed": "seed",
    "positive_threshold": "positive_threshold",
    "implicit_signal": "implicit_signal",
    "bias_reg": "bias_reg",
    "num_blocks": "num_blocks",
    "solver": "solver",
    "reg_exponent": "reg_exponent",
    "negative_weight": "negative_weight",
    "prior_weight": "prior_weight",
}


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text}")
    return value


def _ks(text: str) -> tuple[int, ...]:
    try:
        values = tuple(sorted({int(part) for part in text.split(",") if part.strip()}))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--ks expects comma-separated integers, got {text!r}") from exc
    if not values or values[0] < 1:
        raise argparse.ArgumentTypeError(f"--ks expects integers >= 1, got {text!r}")
    return values


def add_als_arguments(parser: argparse.ArgumentParser) -> None:
    """The ALS flags, shared by `train`, `evaluate` and `run`; None means "the default for the kind"."""
    als = parser.add_argument_group("ALS parameters (default: the kind's and solver's defaults, chosen on validation splits)")
    als.add_argument("--kind", choices=("implicit", "explicit"), default=None, help="implicit (ranking) or explicit (ratings, biases)")
    als.add_argument(
        "--solver", choices=("numpy", "spark-ml"), default=None, help="numpy block solver on Spark (default), or pyspark.ml ALS (ν = 1)"
    )
    als.add_argument("--rank", type=positive_int, default=None, help="latent dimensions")
    als.add_argument("--reg-param", type=float, default=None, help="λ, scaled per user / item by n^ν")
    als.add_argument("--reg-exponent", type=float, default=None, help="ν in λ·n^ν (1: ALS-WR as Spark ML; numpy solver only)")
    als.add_argument("--alpha", type=float, default=None, help="implicit confidence slope: c = 1 + alpha·|s|")
    als.add_argument("--max-iter", type=positive_int, default=None, help="ALS sweeps")
    als.add_argument("--seed", type=int, default=None, help="factor initialisation seed")
    als.add_argument(
        "--positive-threshold", type=float, default=None, help="implicit: ratings below this are negative evidence (or dropped)"
    )
    als.add_argument(
        "--negative-weight", type=float, default=None, help="implicit: β, a rating r below the threshold has s = −β·(threshold − r); 0 drops it"
    )
    als.add_argument("--prior-weight", type=float, default=None, help="implicit, numpy solver: λ₀ pulling users toward the mean user")
    als.add_argument("--implicit-signal", choices=("binary", "rating"), default=None, help="implicit: r = 1 or the rating")
    als.add_argument("--bias-reg", type=float, default=None, help="explicit: bias shrinkage λ_b (in ratings)")
    als.add_argument("--num-blocks", type=positive_int, default=None, help="user/item blocks (at least; default: Spark's parallelism)")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True, choices=datasets.NAMES, help="MovieLens edition")
    parser.add_argument("--data-dir", type=Path, default=Path("data"), help="folder holding the dataset folder, as `data fetch` leaves it (default: ./data)")
    parser.add_argument("--output", type=Path, default=None, help="folder for the results")
    parser.add_argument("--master", default=None, help="Spark master (default: local[*])")
    parser.add_argument("--max-reject-share", type=float, default=0.01, help="cleaning's reject threshold (default: %(default)s)")
    add_als_arguments(parser)


def register(subparsers: Any) -> None:
    """Add `train` and `evaluate` to the `movierec` CLI."""
    train = subparsers.add_parser("train", help="train ALS on a dataset; write factors and model meta")
    _common(train)
    train.set_defaults(func=train_command)

    evaluate = subparsers.add_parser(
        "evaluate", help="measure ALS and baselines on a protocol; write a JSON/Markdown/PNG report"
    )
    _common(evaluate)
    evaluate.add_argument(
        "--protocol",
        choices=splits.PROTOCOLS,
        default=None,
        help="msr-100k | surprise-100k | temporal (default: msr-100k or surprise-100k on ml-100k, else temporal)",
    )
    evaluate.add_argument("--tune", action="store_true", help="choose parameters on a validation carve of the training part")
    evaluate.add_argument(
        "--search-points", type=positive_int, default=None, help="random search with N points (default: the full grid)"
    )
    evaluate.add_argument(
        "--objective", default=None, help="metric tuning optimises, e.g. ndcg_at_5 (default: ndcg_at_10, or rmse)"
    )
    evaluate.add_argument("--ks", type=_ks, default=None, help="cut-offs, e.g. 1,5,10,20 (default: 1,3,5,10,20)")
    evaluate.add_argument("--max-users", type=positive_int, default=None, help="evaluate a fixed sample of test users")
    evaluate.add_argument("--no-baselines", action="store_true", help="skip the popularity / genre baselines")
    evaluate.set_defaults(func=evaluate_command)


def params_from_args(args: argparse.Namespace, task: str) -> ALSParams:
    """The defaults of --kind (else the task's kind: explicit for "rating") and --solver, with every flag given.

    PipelineError on a bad value (ALSParams' ValueError).
    """
    changes = {field: getattr(args, flag) for flag, field in PARAM_FLAGS.items() if getattr(args, flag, None) is not None}
    kind = changes.get("kind") or ("explicit" if task == "rating" else "implicit")
    try:
        base = ALSParams.for_kind(kind, changes.get("solver", "numpy"))
        return base.replace(**changes)
    except ValueError as exc:
        raise PipelineError(f"invalid ALS parameters: {exc}") from exc


def _session(args: argparse.Namespace, timings: dict[str, float]) -> Any:
    from pipeline.spark import get_spark

    started = time.perf_counter()
    spark = get_spark(f"movierec-{args.command}", master=args.master)
    timings["jvm_start"] = round(time.perf_counter() - started, 3)
    log.info("Spark %s on %s ready in %.1fs", spark.version, spark.sparkContext.master, timings["jvm_start"])
    return spark


def _load(spark: Any, args: argparse.Namespace, timings: dict[str, float]) -> Any:
    from pipeline.clean import load_clean

    started = time.perf_counter()
    tables, rejects = load_clean(spark, args.dataset, args.data_dir, max_reject_share=args.max_reject_share)
    n = tables.ratings.count()
    timings["load"] = round(time.perf_counter() - started, 3)
    log.info("%s: %d ratings after cleaning (%s rejected) in %.1fs", args.dataset, n, rejects.get("ratings_rejected", 0), timings["load"])
    return tables


def _emit(summary: dict[str, Any]) -> None:
    json.dump(summary, sys.stdout, indent=2, sort_keys=True, default=str)
    sys.stdout.write("\n")


def train_command(args: argparse.Namespace) -> int:
    from pipeline import als

    started = time.perf_counter()
    timings: dict[str, float] = {}
    kind = args.kind or "implicit"
    params = params_from_args(args, "rating" if kind == "explicit" else "ranking")
    spark = _session(args, timings)
    tables = _load(spark, args, timings)
    t0 = time.perf_counter()
    model = als.train(tables.ratings, params)
    timings["train"] = round(time.perf_counter() - t0, 3)
    meta = dict(model.meta)
    written: dict[str, str] = {}
    if args.output is not None:
        out = Path(args.output)
        out.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        for name, frame in (("user_factors", model.user_factors), ("item_factors", model.item_factors),
                            ("user_bias", model.user_bias), ("item_bias", model.item_bias)):
            if frame is not None:
                path = out / name
                frame.write.mode("overwrite").parquet(str(path))
                written[name] = str(path)
        (out / "model.json").write_text(
            json.dumps({"params": model.params, "meta": meta}, indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
        written["model"] = str(out / "model.json")
        timings["write"] = round(time.perf_counter() - t0, 3)
    timings["total"] = round(time.perf_counter() - started, 3)
    log.info("trained %s rank %d: %s", model.kind, model.rank, timings)
    summary = {k: v for k, v in meta.items() if k != "item_gramian"}
    _emit({"dataset": args.dataset, "params": model.params, "model": summary, "timings": timings, "written": written})
    return 0


def evaluate_command(args: argparse.Namespace) -> int:
    from pipeline import evaluate, report

    started = time.perf_counter()
    timings: dict[str, float] = {}
    protocol = args.protocol or evaluate.protocol_for(args.dataset, args.kind or "implicit", args.data_dir)
    if protocol == "surprise-100k" and args.dataset != "ml-100k":
        raise DatasetError("surprise-100k uses ml-100k's official u1..u5 folds: use --dataset ml-100k")
    task = splits.PROTOCOL_TASK[protocol]
    params = params_from_args(args, task)
    output = args.output or Path("reports") / f"{args.dataset}-{protocol}"
    spark = _session(args, timings)
    tables = _load(spark, args, timings)
    result = evaluate.run_protocol(
        spark,
        protocol,
        tables.ratings,
        tables.movies,
        args.data_dir,
        params,
        tune=args.tune,
        n_points=args.search_points,
        ks=args.ks or evaluate.DEFAULT_KS,
        with_baselines=not args.no_baselines,
        max_users=args.max_users,
        objective=args.objective,
    )
    result["dataset"] = args.dataset
    result["timings"] = {**timings, **result["timings"], "total": round(time.perf_counter() - started, 3)}
    result["machine"] = machine_info(spark)
    paths = report.write_report(result, output)
    columns = report.headline_columns(result)
    _emit(
        {
            "dataset": args.dataset,
            "protocol": protocol,
            "params": result["params"],
            "models": {name: {c: m.get(c) for c in columns} for name, m in result["models"].items()},
            "timings": result["timings"],
            "report": {name: str(path) for name, path in paths.items()},
        }
    )
    return 0


def machine_info(spark: Any) -> dict[str, Any]:
    """Where a figure was measured: CPU model and count, Spark master, BLAS."""
    import os
    import platform

    from pipeline.als import blas_info

    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "spark": spark.version,
        "master": spark.sparkContext.master,
        "python": platform.python_version(),
        "blas": blas_info(spark),
    }
