"""Fixtures for the API tests: the session's pipeline-trained model, served from the ES double.

`trained` (tests/service/trained.py, registered once in tests/conftest.py)
trains a small model once per session. `served` publishes it for one test
(`publish`: milliseconds, no Spark job); `client` is a Flask test client on
that data.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from service import create_app
from tests.service.trained import Trained, publish


@dataclass(frozen=True)
class Served:
    run_id: str
    prefix: str
    trained: Trained


@pytest.fixture
def served(es, index_prefix, trained) -> Served:
    return Served(publish(es, index_prefix, trained), index_prefix, trained)


def make_app(es_url: str, prefix: str, **settings: Any):
    return create_app({"ES_URL": es_url, "INDEX_PREFIX": prefix, "TESTING": True, **settings})


@pytest.fixture
def client(es_url, served):
    return make_app(es_url, served.prefix).test_client()


def assert_no_trace(body: Mapping[str, Any] | str | bytes | None) -> None:
    """No answer may carry a Python stack trace or exception repr."""
    text = body if isinstance(body, str) else json.dumps(body) if not isinstance(body, bytes) else body.decode()
    for marker in ("Traceback", 'File "', "Error(", "Exception(", ".py\", line"):
        assert marker not in text, text


ERROR_KEYS = {"code", "status", "message", "errors"}


@pytest.fixture
def bare_client(es_url, index_prefix):
    """An app on an empty cluster: nothing exported under this prefix (validated requests then get 503)."""
    return make_app(es_url, index_prefix).test_client()


def check_error(resp, code: int) -> dict[str, Any]:
    """The answer is `code` in JSON with exactly the one error body (`errors` always present), no trace."""
    assert resp.status_code == code, resp.get_data(as_text=True)
    assert resp.mimetype == "application/json"
    body = resp.get_json()
    assert set(body) == ERROR_KEYS and body["code"] == code and body["status"] and body["message"]
    assert isinstance(body["errors"], dict)
    assert_no_trace(body)
    return body
