"""The service checks the cluster's version when it starts (and, if the cluster was down, on its first answer)."""

from __future__ import annotations

import pytest

from pipeline.es import SUPPORTED_ES_VERSIONS, UnsupportedVersion
from service import store
from tests.service.conftest import assert_no_trace, make_app


def test_an_unsupported_cluster_stops_the_app_at_start(es_url, es_double, index_prefix):
    es_double.report_version("8.19.0")
    with pytest.raises(UnsupportedVersion) as info:
        make_app(es_url, index_prefix)
    assert str(info.value).startswith(f"Elasticsearch 8.19.0 found; movierec needs Elasticsearch {SUPPORTED_ES_VERSIONS}")


def test_a_supported_cluster_is_recorded(es_url, es_double, index_prefix):
    es_double.report_version("9.2.0")
    app = make_app(es_url, index_prefix)
    assert app.extensions[store.VERSION] == "9.2.0"


def test_a_cluster_down_at_start_is_checked_on_its_first_answer(es_url, es_double, index_prefix):
    """Down at start: the app starts (503 while down); an unsupported version is then a 503 naming it."""
    with es_double.outage():
        app = make_app(es_url, index_prefix)
        assert app.extensions[store.VERSION] is None
        down = app.test_client().get("/movies/1")
        assert down.status_code == 503
    es_double.report_version("9.1.0")
    resp = app.test_client().get("/movies/1")
    assert resp.status_code == 503
    body = resp.get_json()
    assert body["message"].startswith("Elasticsearch 9.1.0 found; movierec needs Elasticsearch")
    assert_no_trace(body)
