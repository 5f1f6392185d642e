"""Elasticsearch test double: an in-process HTTP server speaking the ES REST subset the project uses.

Start it with `EsDouble().start()` (or the pytest fixtures in `tests.es_double.fixtures`,
or `python -m tests.es_double --port 9200`); point the official `elasticsearch` client at
`EsDouble.url`. See `tests/es_double/README.md` for what is implemented and what is not.
"""

from __future__ import annotations

from typing import Any

__all__ = ["EsDouble"]


def __getattr__(name: str) -> Any:
    # Lazy, so that `tests.es_double.painless` / `.aggs` can be imported without starting anything.
    if name == "EsDouble":
        from tests.es_double.double import EsDouble

        return EsDouble
    raise AttributeError(name)
