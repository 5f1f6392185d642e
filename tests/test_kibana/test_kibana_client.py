"""pipeline/kibana.py without a server: settings, NDJSON, multipart, import summaries, the bounded wait."""

from __future__ import annotations

import json

import pytest

from pipeline import kibana
from pipeline.kibana import (
    KibanaClient,
    KibanaError,
    KibanaSettings,
    Response,
    describe_error,
    encode_multipart,
    files_by_type,
    ordered_for_import,
    parse_ndjson,
    read_objects,
    settings_from_env,
    summarize_import,
    wait_until,
)

# ------------------------------------------------------------------ settings


def test_settings_defaults_without_environment():
    s = settings_from_env(environ={})
    assert s == KibanaSettings(url="http://localhost:5601", authorization=None, ca_certs=None, verify_certs=True,
                               space=None, request_timeout=30.0)


def test_api_key_is_sent_as_apikey_and_wins_over_basic_auth():
    s = settings_from_env(environ={"KIBANA_API_KEY": "aWQ6a2V5", "KIBANA_USERNAME": "elastic", "KIBANA_PASSWORD": "x"})
    assert s.authorization == "ApiKey aWQ6a2V5"


def test_basic_auth_header():
    s = settings_from_env(environ={"KIBANA_USERNAME": "elastic", "KIBANA_PASSWORD": "changeme"})
    assert s.authorization == "Basic ZWxhc3RpYzpjaGFuZ2VtZQ=="  # base64("elastic:changeme")


def test_url_argument_wins_over_environment_and_tls_and_space_settings():
    env = {"KIBANA_URL": "http://env:5601", "KIBANA_VERIFY_CERTS": "false", "KIBANA_CA_CERTS": "/ca.pem",
           "KIBANA_SPACE": "team a", "KIBANA_REQUEST_TIMEOUT": "7"}
    s = settings_from_env("https://arg:5601/", environ=env)
    assert (s.url, s.verify_certs, s.ca_certs, s.request_timeout) == ("https://arg:5601/", False, "/ca.pem", 7.0)
    assert s.api_url("/api/status") == "https://arg:5601/s/team%20a/api/status"
    assert KibanaSettings(space="default").api_url("/api/status") == "http://localhost:5601/api/status"


# ------------------------------------------------------------------ NDJSON


def test_parse_ndjson_skips_blank_and_export_details_lines():
    text = '{"type":"lens","id":"a"}\n\n{"exportedCount":1,"missingRefCount":0,"missingReferences":[]}\n'
    assert parse_ndjson(text) == [{"type": "lens", "id": "a"}]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"type":"lens","id":"a"}\n{"type": "lens", "id": }\n', "f.ndjson:2: not JSON"),
        ('[1, 2]\n', "f.ndjson:1: expected a JSON object"),
        ('{"type":"lens"}\n', "f.ndjson:1: a saved object needs string 'type' and 'id'"),
    ],
)
def test_parse_ndjson_names_the_bad_line(text, message):
    with pytest.raises(ValueError, match=message):
        parse_ndjson(text, source="f.ndjson")


def test_read_objects_orders_for_import_and_rejects_duplicates(tmp_path):
    (tmp_path / "b.ndjson").write_text('{"type":"dashboard","id":"d"}\n{"type":"lens","id":"z"}\n')
    (tmp_path / "a.ndjson").write_text('{"type":"lens","id":"y"}\n{"type":"index-pattern","id":"p"}\n')
    assert [(o["type"], o["id"]) for o in read_objects(tmp_path)] == [
        ("index-pattern", "p"), ("lens", "y"), ("lens", "z"), ("dashboard", "d"),
    ]
    (tmp_path / "c.ndjson").write_text('{"type":"lens","id":"y"}\n')
    with pytest.raises(ValueError, match="lens 'y' already defined"):
        read_objects(tmp_path)


def test_read_objects_needs_ndjson_files(tmp_path):
    with pytest.raises(ValueError, match="no .ndjson files"):
        read_objects(tmp_path)


def test_unknown_types_go_after_lens_and_before_dashboards():
    objs = [{"type": "dashboard", "id": "1"}, {"type": "widget", "id": "1"}, {"type": "lens", "id": "1"},
            {"type": "index-pattern", "id": "1"}, {"type": "map", "id": "1"}]
    assert [o["type"] for o in ordered_for_import(objs)] == ["index-pattern", "lens", "widget", "map", "dashboard"]


def test_files_by_type_strips_volatile_fields_and_sorts_by_id():
    exported = [
        {"type": "lens", "id": "b", "attributes": {"title": "B"}, "references": [], "updated_at": "t", "version": "WzEsMV0=",
         "created_at": "t", "created_by": "u", "updated_by": "u", "namespaces": ["default"]},
        {"type": "lens", "id": "a", "attributes": {"title": "A"}, "references": []},
        {"type": "index-pattern", "id": "p", "attributes": {"title": "p"}, "references": []},
    ]
    files = files_by_type(exported)
    assert files == {
        "index-pattern.ndjson": '{"attributes":{"title":"p"},"id":"p","references":[],"type":"index-pattern"}\n',
        "lens.ndjson": '{"attributes":{"title":"A"},"id":"a","references":[],"type":"lens"}\n'
                       '{"attributes":{"title":"B"},"id":"b","references":[],"type":"lens"}\n',
    }


# ------------------------------------------------------------------ multipart


def test_encode_multipart_body_with_fixed_boundary():
    body, content_type = encode_multipart("file", "x.ndjson", b'{"a":1}\n', boundary="BOUNDARY")
    assert content_type == "multipart/form-data; boundary=BOUNDARY"
    assert body == (
        b"--BOUNDARY\r\n"
        b'Content-Disposition: form-data; name="file"; filename="x.ndjson"\r\n'
        b"Content-Type: application/ndjson\r\n\r\n"
        b'{"a":1}\n'
        b"\r\n--BOUNDARY--\r\n"
    )


def test_encode_multipart_refuses_a_boundary_inside_the_content():
    with pytest.raises(ValueError, match="boundary"):
        encode_multipart("file", "x.ndjson", b"--BOUNDARY", boundary="BOUNDARY")


# ------------------------------------------------------------------ import answers


# The answer shape of Kibana's import API (api_integration test "should return 200 when
# conflicts exist but overwrite is passed in" and import_saved_objects.ts): `overwrite: true`
# marks objects that existed before.
KIBANA_ANSWER = {
    "success": True,
    "successCount": 2,
    "successResults": [
        {"type": "index-pattern", "id": "p", "meta": {"title": "logs", "icon": "pattern"}, "overwrite": True, "managed": False},
        {"type": "dashboard", "id": "d", "meta": {"title": "Requests", "icon": "productDashboard"}, "managed": False},
    ],
    "warnings": [],
}


def test_summarize_import_splits_created_and_updated():
    report = summarize_import(KIBANA_ANSWER)
    assert report.success is True and report.success_count == 2 and report.errors == []
    assert report.updated == [{"type": "index-pattern", "id": "p", "title": "logs"}]
    assert report.created == [{"type": "dashboard", "id": "d", "title": "Requests"}]


def test_summarize_import_keeps_errors_and_describes_them():
    answer = {
        "success": False,
        "successCount": 0,
        "errors": [
            {"type": "lens", "id": "v", "meta": {"title": "My vis", "icon": "lensApp"},
             "error": {"type": "missing_references", "references": [{"type": "index-pattern", "id": "gone"}]}},
            {"type": "wigwags", "id": "1", "meta": {"title": "w"}, "error": {"type": "unsupported_type"}},
        ],
        "warnings": [],
    }
    report = summarize_import(answer)
    assert report.created == report.updated == []
    assert [describe_error(e) for e in report.errors] == [
        "lens 'v' (My vis): missing_references [index-pattern 'gone']",
        "wigwags '1' (w): unsupported_type",
    ]


def test_overall_level_reads_full_and_redacted_status():
    assert kibana.overall_level({"status": {"overall": {"level": "available"}}}) == "available"
    assert kibana.overall_level({"status": {}}) is None
    assert kibana.overall_level(None) is None


def test_response_message_prefers_kibana_message():
    assert Response(400, {}, b'{"statusCode":400,"message":"bad"}').message() == "bad"
    assert Response(503, {}, b"Kibana server is not ready yet").message() == "Kibana server is not ready yet"


# ------------------------------------------------------------------ bounded waiting


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_wait_until_retries_until_ready_and_counts_attempts():
    answers = iter([OSError("refused"), (False, "HTTP 503"), (True, "HTTP 200")])

    def probe(timeout: float) -> tuple[bool, str]:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    clock = FakeClock()
    assert wait_until(probe, "thing", timeout=10, interval=2, clock=clock, sleep=clock.sleep) == 3
    assert clock.sleeps == [2, 2]


def test_wait_until_is_bounded():
    clock = FakeClock()
    calls = []

    def probe(timeout: float) -> tuple[bool, str]:
        calls.append(timeout)
        return False, "HTTP 503"

    with pytest.raises(TimeoutError, match=r"thing not available after 5 s \(HTTP 503\)"):
        wait_until(probe, "thing", timeout=5, interval=2, clock=clock, sleep=clock.sleep)
    assert len(calls) == 3 and clock.now == 4  # checks at t=0, 2, 4; a 4th would end past 5 s
    assert calls[0] == 5  # each request's own timeout never outlives the budget


def test_wait_until_available_accepts_degraded_only_with_saved_objects_available(monkeypatch):
    client = KibanaClient(KibanaSettings())
    degraded = {"status": {"overall": {"level": "degraded"}, "core": {"savedObjects": {"level": "available"}}}}
    redacted = {"status": {"overall": {"level": "degraded"}}}
    answers = iter([Response(200, {}, json.dumps(redacted).encode()), Response(200, {}, json.dumps(degraded).encode())])
    monkeypatch.setattr(client, "status", lambda timeout=None: next(answers))
    clock = FakeClock()
    assert client.wait_until_available(timeout=10, interval=1, clock=clock, sleep=clock.sleep) == degraded
    assert clock.sleeps == [1]


def test_wait_until_available_stops_at_once_on_refused_credentials(monkeypatch):
    client = KibanaClient(KibanaSettings())
    monkeypatch.setattr(client, "status", lambda timeout=None: Response(401, {}, b'{"message":"Unauthorized"}'))
    clock = FakeClock()
    with pytest.raises(KibanaError, match=r"refused the credentials \(401\): Unauthorized"):
        client.wait_until_available(timeout=100, interval=1, clock=clock, sleep=clock.sleep)
    assert clock.sleeps == []
