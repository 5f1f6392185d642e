"""Run the double standalone: `python -m tests.es_double --port 9200`."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from tests.es_double.double import EsDouble


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.es_double", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=9200, help="port (default: 9200; 0 picks a free one)")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    parser.add_argument(
        "--scheduled-refresh",
        action="store_true",
        help="refresh indices every index.refresh_interval; refresh=wait_for waits for it (as Elasticsearch)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(message)s")
    double = EsDouble(args.host, args.port, scheduled_refresh=args.scheduled_refresh).start()
    logging.getLogger(__name__).info("Elasticsearch test double listening on %s", double.url)
    print(double.url, flush=True)  # the one line of output: how callers (the benchmark) learn the port
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    double.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
