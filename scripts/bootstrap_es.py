"""Prepare an empty Elasticsearch for movierec (the runs index); safe to run again.

Usage: python scripts/bootstrap_es.py [--es-url URL] [--prefix movierec]
Credentials/TLS from the environment (ES_API_KEY, ES_USERNAME/ES_PASSWORD, ES_CA_CERTS, ES_VERIFY_CERTS).
Same as `movierec bootstrap`.
"""

from __future__ import annotations

import sys

from pipeline.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["bootstrap", *sys.argv[1:]]))
