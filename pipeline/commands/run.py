"""`movierec run`, `movierec bootstrap`, `movierec runs list`: the Elasticsearch side of the pipeline.

Credentials and TLS come from the environment (ES_API_KEY or ES_USERNAME /
ES_PASSWORD, ES_CA_CERTS, ES_VERIFY_CERTS, ES_REQUEST_TIMEOUT; see pipeline/es.py).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import es_mappings
from pipeline import datasets, indices
from pipeline.als import ALSParams
from pipeline.commands.model import add_als_arguments, params_from_args, positive_int
from pipeline.es import client_from_env
from pipeline.export import BulkSettings
from pipeline.publish.hygiene import DEFAULT_STALE_AFTER_S, Interrupted

log = logging.getLogger("movierec")

ENV_HELP = (
    "environment: ES_URL, ES_API_KEY | ES_USERNAME + ES_PASSWORD, ES_CA_CERTS, "
    "ES_VERIFY_CERTS=false, ES_REQUEST_TIMEOUT (seconds)"
)


def _spark_conf(values: list[str]) -> dict[str, str]:
    conf = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise argparse.ArgumentTypeError(f"--conf expects KEY=VALUE, got {item!r}")
        conf[key] = value
    return conf


def _es_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--es-url", default=None, help="Elasticsearch URL (default: $ES_URL or http://localhost:9200)")
    parser.add_argument(
        "--prefix",
        default=os.environ.get("MOVIEREC_INDEX_PREFIX") or es_mappings.DEFAULT_PREFIX,  # read when the parser is built
        help=f"index and alias prefix (default: $MOVIEREC_INDEX_PREFIX, else {es_mappings.DEFAULT_PREFIX})",
    )


def register(subparsers: Any) -> None:
    """Add `run`, `bootstrap` and `runs` to the `movierec` CLI."""
    bulk = BulkSettings()

    run = subparsers.add_parser(
        "run",
        help="train on a dataset and publish the model to Elasticsearch (versioned indices + alias swap)",
        description="load → clean → features → (tune/evaluate) → train → export → verify → swap aliases → record run",
        epilog=ENV_HELP,
    )
    run.add_argument("--dataset", required=True, choices=datasets.NAMES, help="MovieLens edition")
    run.add_argument("--data-dir", type=Path, default=Path("data"), help="folder holding the dataset folder, as `data fetch` leaves it (default: ./data)")
    _es_arguments(run)
    run.add_argument("--master", default=None, help="Spark master, e.g. spark://host:7077 (default: local[*])")
    run.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE", help="extra Spark setting (repeatable)")
    add_als_arguments(run)
    run.add_argument("--evaluate", action="store_true", help="measure the model on the dataset's protocol and record the metrics")
    run.add_argument("--tune", action="store_true", help="grid-search ALS parameters first (implies --evaluate)")
    run.add_argument("--keep", type=positive_int, default=indices.DEFAULT_KEEP, help="versioned indices kept per kind (default: %(default)s)")
    run.add_argument("--keep-failed", action="store_true", help="keep a failed run's indices for inspection")
    run.add_argument("--chunk-size", type=positive_int, default=bulk.chunk_size, help="documents per bulk request (default: %(default)s)")
    run.add_argument("--max-retries", type=int, default=bulk.max_retries, help="retries of a rejected bulk item (default: %(default)s)")
    run.add_argument("--export-partitions", type=positive_int, default=None, help="parallel bulk writers per index (default: Spark parallelism)")
    run.add_argument("--max-reject-share", type=float, default=0.01, help="cleaning's reject threshold (default: %(default)s)")
    run.add_argument(
        "--stale-after", type=float, default=DEFAULT_STALE_AFTER_S, metavar="SECONDS",
        help="a run still `running` without a heartbeat for this long died: it is marked abandoned and its "
        "indices deleted (default: %(default)s)",
    )
    run.add_argument("--json", action="store_true", help="print the final run record as JSON")
    run.set_defaults(func=run_command)

    boot = subparsers.add_parser(
        "bootstrap", help="prepare a cluster (runs, feedback, ids indices; an existing one's mapping is brought up to date); safe to repeat", epilog=ENV_HELP
    )
    _es_arguments(boot)
    boot.set_defaults(func=bootstrap_command)

    runs_cmd = subparsers.add_parser("runs", help="run records")
    runs_sub = runs_cmd.add_subparsers(dest="runs_command", metavar="ACTION")
    runs_sub.required = True
    listing = runs_sub.add_parser("list", help="newest runs first; * marks the one the aliases serve", epilog=ENV_HELP)
    _es_arguments(listing)
    listing.add_argument("--size", type=positive_int, default=20, help="how many runs (default: %(default)s)")
    listing.add_argument("--json", action="store_true", help="print the records as JSON")
    listing.set_defaults(func=runs_list_command)


def als_params(args: argparse.Namespace) -> ALSParams:
    """The kind's defaults (as `movierec train` uses them) with every ALS flag given applied."""
    return params_from_args(args, "rating" if args.kind == "explicit" else "ranking")


def config_from_args(args: argparse.Namespace) -> Any:
    """The RunConfig an argparse namespace describes."""
    from pipeline.workflow import RunConfig

    params = als_params(args)
    return RunConfig(
        dataset=args.dataset,
        data_dir=args.data_dir,
        es_url=args.es_url,
        prefix=args.prefix,
        master=args.master,
        spark_conf=_spark_conf(args.conf),
        params=params,
        evaluate=args.evaluate or args.tune,
        tune=args.tune,
        keep=args.keep,
        keep_failed=args.keep_failed,
        bulk=BulkSettings(chunk_size=args.chunk_size, max_retries=args.max_retries),
        export_partitions=args.export_partitions,
        max_reject_share=args.max_reject_share,
        stale_after_s=args.stale_after,
    )


def run_command(args: argparse.Namespace) -> int:
    from pipeline.workflow import run_pipeline

    try:
        result = run_pipeline(config_from_args(args))
    except Interrupted as exc:  # recorded as failed, its indices deleted: exit as the signal asks
        log.error("run %s; the served model is unchanged", exc)
        return 128 + exc.signum
    if result.prepared is not None:
        result.prepared.unpersist()
    record = result.record
    if args.json:
        json.dump(record, sys.stdout, indent=2, sort_keys=True, default=str)
        sys.stdout.write("\n")
    else:
        counts = record.get("counts", {})
        sys.stdout.write(
            f"run {record['run_id']} {record['status']} in {record.get('duration_s', 0):.1f}s: "
            f"{counts.get('movies', 0)} movies, {counts.get('users', 0)} users, {counts.get('ratings', 0)} ratings → "
            f"{', '.join(es_mappings.alias_name(args.prefix, k) for k in indices.RUN_KINDS)}\n"
        )
    return 0


def bootstrap_command(args: argparse.Namespace) -> int:
    from pipeline.es import client_options
    from pipeline.workflow import bootstrap, check_cluster

    es = client_from_env(args.es_url)
    check_cluster(es, client_options(args.es_url)["hosts"][0])
    created = bootstrap(es, args.prefix)
    for index, new in created.items():
        sys.stdout.write(f"{index}: {'created' if new else 'exists, mapping up to date'}\n")
    return 0


def runs_list_command(args: argparse.Namespace) -> int:
    from pipeline import runs
    from pipeline.es import client_options
    from pipeline.workflow import check_cluster

    es = client_from_env(args.es_url)
    check_cluster(es, client_options(args.es_url)["hosts"][0])
    if not es.indices.exists(index=indices.runs_index(args.prefix)):
        sys.stdout.write(f"no runs yet ({indices.runs_index(args.prefix)} does not exist; run `movierec bootstrap`)\n")
        return 0
    live = indices.live_run_id(es, args.prefix)
    records = runs.list_runs(es, args.prefix, size=args.size)
    if args.json:
        json.dump(records, sys.stdout, indent=2, sort_keys=True, default=str)
        sys.stdout.write("\n")
        return 0
    present = set(es.indices.get(index=f"{args.prefix}-*", allow_no_indices=True, ignore_unavailable=True))
    sys.stdout.write(
        f"{'':1} {'run_id':24} {'status':9} {'dataset':15} {'kind':8} {'movies':>7} {'users':>7} {'ratings':>9} "
        f"{'online':>11} {'seconds':>8} indices\n"
    )
    for r in records:
        counts = r.get("counts") or {}
        mark = "*" if r["run_id"] == live else " "
        online = f"{counts['online_users']}/{counts['online_ratings']}" if "online_users" in counts else ""
        names = indices.run_indices(args.prefix, r["run_id"]).values()
        kept = sum(name in present for name in names)
        held = "kept" if kept == len(names) else "deleted" if kept == 0 else f"{kept} of {len(names)}"
        sys.stdout.write(
            f"{mark} {r['run_id']:24} {r.get('status', ''):9} {r.get('dataset', ''):15} {r.get('model_kind') or '':8} "
            f"{counts.get('movies', ''):>7} {counts.get('users', ''):>7} {counts.get('ratings', ''):>9} "
            f"{online:>11} {r.get('duration_s', ''):>8} {held}\n"
        )
    return 0
