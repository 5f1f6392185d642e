"""Kibana fixtures for this folder until tests/conftest.py imports them for the whole suite."""

from tests.kibana_double.fixtures import kibana_double, kibana_url  # noqa: F401
