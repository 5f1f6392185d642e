"""The `movierec` command line: one entry point, sub-commands registered by module.

Each module in COMMAND_MODULES exposes `register(subparsers)`, which adds its
sub-commands with `set_defaults(func=...)`; `func(args) -> int` runs one.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from pipeline.errors import PipelineError
from pipeline.es import install_log_redaction

COMMAND_MODULES = (
    "pipeline.commands.data",  # data fetch / data summary
    "pipeline.commands.model",  # train / evaluate / tune
    "pipeline.commands.run",  # run (train + export + swap), bootstrap, runs
    "service.commands",  # serve
)

DESCRIPTION = """\
movierec: movie recommendations served by Elasticsearch.

Get MovieLens ratings (data), train a recommender on them with Spark and check how
good it is (train, evaluate), publish it to Elasticsearch (run), then serve
recommendations through a web page and a REST API (serve).

  movierec data fetch ml-100k                  # into ./data
  movierec run --dataset ml-100k --evaluate    # train, measure, publish
  movierec serve                               # then open http://127.0.0.1:5000/
"""

log = logging.getLogger("movierec")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="movierec", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging (also after the command)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is None or not name.startswith(exc.name):
                raise
            continue  # a command group not installed in this build
        module.register(sub)
    _accept_verbose_anywhere(sub)
    return parser


def _accept_verbose_anywhere(subparsers: argparse._SubParsersAction) -> None:
    """`movierec runs list -v` as well as `movierec -v runs list`: every command takes -v too."""
    for command in set(subparsers.choices.values()):
        nested = [a for a in command._actions if isinstance(a, argparse._SubParsersAction)]
        for group in nested:
            _accept_verbose_anywhere(group)
        if not nested:
            command.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="debug logging")


QUIET_LOGGERS = ("elastic_transport", "faiss")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    install_log_redaction()
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # One INFO line per HTTP request (elastic_transport) and faiss's probe of its CPU
    # variants ("Could not load library with AVX2 support ...") are debugging detail.
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET if args.verbose else logging.WARNING)
    try:
        return int(args.func(args) or 0)
    except PipelineError as exc:
        log.error("%s", exc)
        return 1
