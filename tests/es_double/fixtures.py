"""pytest fixtures: the ES test double, or a real cluster with `pytest --es-url URL`.

* `es_url`     URL of a freshly reset double (one server per session, emptied for every test),
               or the real cluster given with `--es-url`.
* `es`         an `elasticsearch.Elasticsearch` client on `es_url` (credentials and TLS from
               the environment, see `pipeline.es.client_from_env`).
* `index_prefix` a unique lowercase prefix ("mrtest-1a2b3c4d"); every index under it is deleted
               after the test, on a real cluster too (by concrete names: Elasticsearch refuses
               wildcard deletes by default, `action.destructive_requires_name`).
* `es_double`  the double's `EsDouble` handle for fault injection; skips against a real cluster.

Tests that use `es_url` (directly or through the other fixtures) are marked `es` automatically.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from elasticsearch import Elasticsearch

from tests.es_double.double import EsDouble

__all__ = ["es", "es_double", "es_double_server", "es_url", "index_prefix", "pytest_collection_modifyitems"]

SKIP_REASON = "needs the ES test double's fault injection (not available with --es-url)"


def _real_url(config: pytest.Config) -> str | None:
    url = config.getoption("--es-url", default=None)
    return url.rstrip("/") if url else None


def _client(url: str) -> Elasticsearch:
    from pipeline.es import client_from_env

    return client_from_env(url=url)


@pytest.fixture(scope="session")
def es_double_server(request: pytest.FixtureRequest) -> Iterator[EsDouble | None]:
    """One double for the whole session (None when running against a real cluster)."""
    if _real_url(request.config):
        yield None
        return
    double = EsDouble().start()
    yield double
    double.stop()


@pytest.fixture
def es_url(request: pytest.FixtureRequest, es_double_server: EsDouble | None) -> str:
    """The Elasticsearch URL for this test: an empty double, or `--es-url`."""
    real = _real_url(request.config)
    if real:
        return real
    assert es_double_server is not None
    es_double_server.reset()
    return es_double_server.url


@pytest.fixture
def es(es_url: str) -> Iterator[Elasticsearch]:
    client = _client(es_url)
    yield client
    client.close()


@pytest.fixture
def index_prefix(es_url: str) -> Iterator[str]:
    prefix = f"mrtest-{uuid.uuid4().hex[:8]}"
    yield prefix
    client = _client(es_url).options(ignore_status=404)
    try:
        found = client.indices.get(
            index=f"{prefix}*", expand_wildcards="all", ignore_unavailable=True, allow_no_indices=True
        )
        names = sorted(found.body) if found.meta.status == 200 else []
        for start in range(0, len(names), 50):
            client.indices.delete(index=",".join(names[start : start + 50]), ignore_unavailable=True)
    finally:
        client.close()


@pytest.fixture
def es_double(request: pytest.FixtureRequest, es_url: str, es_double_server: EsDouble | None) -> EsDouble:
    if es_double_server is None:
        pytest.skip(SKIP_REASON)
    return es_double_server


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test that talks to Elasticsearch carries the `es` marker."""
    for item in items:
        if "es_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.es)
