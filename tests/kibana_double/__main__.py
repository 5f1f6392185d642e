"""Run the Kibana double standalone: `python -m tests.kibana_double --port 5601`."""

from __future__ import annotations

import argparse
import logging
import time

from tests.kibana_double.server import KibanaDouble

log = logging.getLogger("kibana_double")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5601)
    parser.add_argument("--not-ready-seconds", type=float, default=0.0, help="answer 503 on /api/status this long")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    double = KibanaDouble(not_ready_seconds=args.not_ready_seconds)
    log.info("Kibana double listening on %s", double.start(args.host, args.port))
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        double.stop()


if __name__ == "__main__":
    main()
