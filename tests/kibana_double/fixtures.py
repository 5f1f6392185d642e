"""Pytest fixtures for the Kibana double; tests/conftest.py imports them.

`kibana_url` is a fresh double's URL, or the real Kibana given with
`pytest --kibana-url URL`. `kibana_double` is the double's handle (its stored
objects, recorded requests, not-ready phase); tests that need it are skipped
when running against a real Kibana, since they inspect the double itself.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.kibana_double.server import KibanaDouble


@pytest.fixture
def kibana_double(request: pytest.FixtureRequest) -> Iterator[KibanaDouble]:
    """A fresh, ready Kibana double (configure its not-ready phase before the first request)."""
    if request.config.getoption("--kibana-url", default=None):
        pytest.skip("inspects the Kibana double; running against a real Kibana (--kibana-url)")
    double = KibanaDouble()
    double.start()
    yield double
    double.stop()


@pytest.fixture
def kibana_url(request: pytest.FixtureRequest) -> str:
    """The Kibana to talk to: `--kibana-url`, or a fresh double."""
    real = request.config.getoption("--kibana-url", default=None)
    if real:
        return real
    return request.getfixturevalue("kibana_double").url
