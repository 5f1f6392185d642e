"""GET /health and GET /runs/current."""

from __future__ import annotations

import pytest

from tests.service.conftest import make_app


@pytest.mark.spark
def test_health_ok_with_counts_and_current_run(client, served):
    resp = client.get("/health")
    assert resp.status_code == 200 and "Retry-After" not in resp.headers
    body = resp.get_json()
    t = served.trained
    assert body["status"] == "ok" and body["problems"] == [] and body["active_run"] == served.run_id
    assert body["elasticsearch"]["reachable"] is True and body["elasticsearch"]["version"]
    assert {k: v["count"] for k, v in body["indices"].items()} == {k: len(v) for k, v in t.docs.items()}
    assert body["indices"]["movies"] == {"alias": f"{served.prefix}-movies", "index": f"{served.prefix}-movies-{served.run_id}",
                                         "count": len(t.movies)}
    run = client.get("/runs/current").get_json()
    assert run["run_id"] == served.run_id and run["model_kind"] == "implicit" and run["status"] == "succeeded"
    assert run["params"]["rank"] == t.rank and "model" not in run


def test_health_degraded_without_a_model(es_url, index_prefix):
    resp = make_app(es_url, index_prefix).test_client().get("/health")
    assert resp.status_code == 503 and resp.headers["Retry-After"] == "10"
    body = resp.get_json()
    assert body["status"] == "degraded" and body["elasticsearch"]["reachable"] is True
    assert f"alias {index_prefix}-movies is missing" in body["problems"]


def test_health_degraded_when_elasticsearch_is_down(es_double, es_url, index_prefix):
    client = make_app(es_url, index_prefix, RETRY_AFTER_S=3).test_client()
    with es_double.outage():
        resp = client.get("/health")
    assert resp.status_code == 503 and resp.headers["Retry-After"] == "3"
    body = resp.get_json()
    assert body["elasticsearch"] == {"reachable": False} and body["problems"] == ["Elasticsearch unreachable: ConnectionError"]
