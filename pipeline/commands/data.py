"""`movierec data …`: list, fetch, summary and synth.

fetch and summary print rows per table and the rejects counts (stdout), from
a Spark load + clean of the edition; progress and logs go to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TextIO

from pipeline import datasets
from pipeline.errors import DatasetError, TooManyRejects
from pipeline.synthetic import BAD_LINE_KINDS

DEFAULT_DATA_DIR = "data"
TABLES = ("ratings", "movies", "users", "tags", "links")


def register(subparsers: argparse._SubParsersAction) -> None:
    data = subparsers.add_parser("data", help="get, inspect and generate MovieLens data")
    sub = data.add_subparsers(dest="data_command", metavar="ACTION")
    sub.required = True

    lst = sub.add_parser("list", help="the MovieLens editions this project reads")
    lst.set_defaults(func=run_list)

    fetch = sub.add_parser("fetch", help="download (or take --from) an edition, verify it, print its summary")
    _dataset_args(fetch)
    fetch.add_argument(
        "--from", dest="source", metavar="PATH", help="an existing folder or zip to use instead of downloading"
    )
    fetch.add_argument("--force", action="store_true", help="replace the folder even if present and verified")
    fetch.add_argument(
        "--no-checksum",
        action="store_true",
        help="check that files are present, not their checksums (e.g. synthetic data)",
    )
    fetch.add_argument("--url", help="download from this URL instead of files.grouplens.org")
    fetch.add_argument("--timeout", type=float, default=60.0, help="seconds a download may stall (default 60)")
    fetch.add_argument("--no-summary", action="store_true", help="skip the Spark load and summary")
    _summary_args(fetch)
    fetch.set_defaults(func=run_fetch)

    summary = sub.add_parser("summary", help="load an edition with Spark; print rows per table and rejects")
    _dataset_args(summary)
    _summary_args(summary)
    summary.set_defaults(func=run_summary)

    synth = sub.add_parser("synth", help="write a synthetic MovieLens-shaped edition with planted structure")
    synth.add_argument("--format", dest="fmt", choices=datasets.NAMES, default="ml-100k", help="edition format")
    synth.add_argument("--ratings", type=int, default=100_000, help="clean ratings to write (default 100000)")
    synth.add_argument("--users", type=int, default=None, help="users (default: grows with --ratings, 943 at 100k)")
    synth.add_argument("--movies", type=int, default=None, help="movies (default: grows with --ratings, 1682 at 100k)")
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--clusters", type=int, default=8, help="planted taste clusters (default 8)")
    synth.add_argument("--folds", action="store_true", help="also write ml-100k's u1..u5 / ua / ub splits")
    synth.add_argument("--no-quirks", action="store_true", help="leave out the real files' oddities")
    synth.add_argument(
        "--bad-lines",
        type=_bad_lines,
        default={},
        metavar="KIND=N,…",
        help="plant lines to reject or flag, e.g. malformed=3,duplicate=5,no_year=1",
    )
    synth.add_argument("--data-dir", default=DEFAULT_DATA_DIR, help="parent folder (default ./data)")
    synth.set_defaults(func=run_synth)


def _dataset_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", choices=datasets.NAMES, metavar="NAME", help=f"one of {', '.join(datasets.NAMES)}")
    parser.add_argument("--data-dir", default=DEFAULT_DATA_DIR, help="parent folder of the edition (default ./data)")


def _summary_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--report", metavar="PATH", help="write the rejects report (JSON) here")
    parser.add_argument(
        "--max-reject-share", type=float, default=0.01, help="fail when more ratings are rejected (default 0.01)"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON instead of a table")
    parser.add_argument("--master", default=None, help="Spark master (default local[*])")


def _bad_lines(text: str) -> dict[str, int]:
    found: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        kind, sep, count = item.partition("=")
        if not sep or not count.strip().isdigit():
            raise argparse.ArgumentTypeError(f"expected KIND=N, got {item!r}")
        if kind.strip() not in BAD_LINE_KINDS:
            raise argparse.ArgumentTypeError(f"unknown kind {kind.strip()!r}; known: {', '.join(BAD_LINE_KINDS)}")
        found[kind.strip()] = int(count)
    return found


def format_summary(report: dict) -> str:
    """Rows per table, rejects by reason and the kept-but-flagged counts, as a small table."""
    lines = [f"{report['dataset']} ({report['folder']})", f"{'table':<8} {'rows':>10} {'rejected':>9}  reasons"]
    for table in TABLES:
        entry = report["tables"].get(table)
        if entry is None:
            continue
        rejected = entry["read"] - entry["kept"]
        reasons = ", ".join(f"{k} {v}" for k, v in entry["rejected"].items() if v) or "-"
        flagged = entry.get("flagged")
        if flagged:
            reasons += "; kept but flagged: " + ", ".join(f"{k} {v}" for k, v in flagged.items())
        lines.append(f"{table:<8} {entry['kept']:>10,} {rejected:>9,}  {reasons}")
    share = report.get("ratings_reject_share", 0.0)
    lines.append(
        f"rejected ratings: {report.get('ratings_rejected', 0):,} "
        f"({share:.3%}; allowed {report['max_reject_share']:.3%}) -> {report.get('status', '?')}"
    )
    return "\n".join(lines)


def _summarise(args: argparse.Namespace, out: TextIO) -> int:
    from pipeline.clean import load_clean, unpersist
    from pipeline.spark import get_spark

    spark = get_spark("movierec-data", master=args.master, conf={"spark.ui.showConsoleProgress": "false"})
    try:
        tables, report = load_clean(
            spark, args.name, args.data_dir, max_reject_share=args.max_reject_share, report_path=args.report
        )
    except TooManyRejects as exc:
        out.write((json.dumps(exc.report, indent=2) if args.json else format_summary(exc.report)) + "\n")
        raise
    unpersist(tables)
    out.write((json.dumps(report, indent=2) if args.json else format_summary(report)) + "\n")
    return 0


def run_list(args: argparse.Namespace) -> int:
    for d in datasets.DATASETS.values():
        checksum = "md5 " + d.zip_md5 if d.zip_md5 else "no published checksum"
        sys.stdout.write(f"{d.name:<16} {d.folder + '/':<17} {', '.join(d.tables):<32} {checksum}\n")
    return 0


def _check_writable(data_dir: str, name: str) -> None:
    """Fail clearly, before any download, when the edition must be written into a folder we cannot write."""
    parent, target = Path(data_dir), Path(data_dir) / datasets.get(name).folder
    if target.is_dir() or not parent.is_dir() or os.access(parent, os.W_OK):
        return
    raise DatasetError(
        f"cannot write {name} into {parent}: it belongs to uid {parent.stat().st_uid} and this process runs as "
        f"uid {os.getuid()}. Make it writable (e.g. `sudo chown {os.getuid()} {parent}` on the host); "
        "a folder Docker creates for a bind mount that did not exist belongs to root."
    )


def run_fetch(args: argparse.Namespace) -> int:
    from pipeline.fetch import fetch

    _check_writable(args.data_dir, args.name)
    folder = fetch(
        args.name,
        args.data_dir,
        source=args.source,
        force=args.force,
        checksums=not args.no_checksum,
        url=args.url,
        timeout=args.timeout,
    )
    sys.stderr.write(f"{args.name} ready in {folder}\n")
    if args.no_summary:
        return 0
    return _summarise(args, sys.stdout)


def run_summary(args: argparse.Namespace) -> int:
    return _summarise(args, sys.stdout)


def run_synth(args: argparse.Namespace) -> int:
    from pipeline.synthetic import generate

    try:
        folder = generate(
            args.data_dir,
            fmt=args.fmt,
            n_users=args.users,
            n_movies=args.movies,
            n_ratings=args.ratings,
            seed=args.seed,
            n_clusters=args.clusters,
            folds=args.folds,
            bad_lines=args.bad_lines,
            quirks=not args.no_quirks,
        )
    except ValueError as exc:
        raise DatasetError(str(exc)) from exc
    sys.stdout.write(f"{folder}\n")
    return 0
