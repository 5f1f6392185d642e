"""The YAML REST test runner: its language (do/match/length/set/catch/skip...) on hand-written YAML.

The format is Elastic's (rest-api-spec/src/yamlRestTest/resources/rest-api-spec/test/README.asciidoc in
elastic/elasticsearch); these files are written for these tests, Elastic's own files are never committed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from tests.es_double.double import EsDouble
from tests.es_double.yaml_runner import (
    Environment,
    Outcome,
    SuiteRunner,
    YamlSuite,
    build_request,
    encode_body,
    parse_version,
    split_path,
    values_match,
    version_in_ranges,
)

HERE = Path(__file__).parent / "yaml"


def test_version_ranges() -> None:
    """`skip.version` ranges: open ends, lists of ranges and `all`."""
    v = parse_version("9.5.6")
    assert v == (9, 5, 6)
    assert version_in_ranges(v, " - 9.5.6") and not version_in_ranges(v, " - 9.5.5")
    assert version_in_ranges(v, "9.0.0 - ") and not version_in_ranges(v, "9.6.0 - ")
    assert version_in_ranges(v, "7.0.0 - 7.9.99, 9.5.0 - 9.5.99")
    assert version_in_ranges(v, "all")


def test_paths_and_matching() -> None:
    r"""Dotted paths with `\.` escapes; numbers match by value; `/regex/` with the COMMENTS flag; null."""
    assert split_path("a.b\\.c.0") == ["a", "b.c", "0"]
    assert split_path("$body") == []
    assert values_match(1, 1.0) and not values_match(1, 2)
    assert values_match({"a": [1, "x"]}, {"a": [1.0, "x"]}) and not values_match({"a": 1, "b": 2}, {"a": 1})
    assert values_match("no such index [x]", "/no \\s such \\s index/")
    assert values_match(None, None) and not values_match(0, None)
    assert not values_match(True, 1)


def test_requests_are_built_from_the_api_table() -> None:
    """The most specific path whose parts are all given; booleans and lists as URL text; bulk as NDJSON."""
    assert build_request("search", {"index": ["a", "b"], "size": 0}) == ("GET", "/a,b/_search", {"size": "0"}, None, False)
    method, path, params, body, ndjson = build_request("bulk", {"refresh": True, "body": [{"index": {}}, {"f": 1}]})
    assert (method, path, params, ndjson) == ("POST", "/_bulk", {"refresh": "true"}, True)
    assert encode_body(body, ndjson) == b'{"index": {}}\n{"f": 1}\n'
    assert build_request("index", {"index": "i", "body": {}})[:2] == ("PUT", "/i/_doc")
    assert build_request("indices.get_alias", {"name": "x"})[:2] == ("GET", "/_alias/x")


@pytest.fixture
def outcomes(es_double_server: EsDouble | None) -> dict[str, Outcome]:
    if es_double_server is None:
        pytest.skip("the runner's own tests run against the double (its refusals are part of them)")
    es = Elasticsearch(es_double_server.url)
    runner = SuiteRunner(es, es_double_server.reset, Environment(parse_version("9.5.6")))
    suite = YamlSuite.parse((HERE / "runner_basics.yml").read_text("utf-8"), "runner_basics.yml")
    try:
        return {o.test: o for o in runner.run(suite)}
    finally:
        es.close()


def test_passing_sections_pass(outcomes: dict[str, Outcome]) -> None:
    """Setup, do, match/length/set/$stash/gt/lte/close_to/exists, catch, is_true/is_false and teardown."""
    for name in ("match, length, set and stash substitution", "catch by status name and by regex, is_true and is_false"):
        assert (outcomes[name].status, outcomes[name].detail) == ("passed", ""), name


def test_skips_failures_and_refusals_are_reported(outcomes: dict[str, Outcome]) -> None:
    """A skipped test says why; a broken assertion names path, expected and actual; a refusal quotes the double."""
    assert outcomes["a version range skips the test"].status == "skipped"
    assert "in ' - 99.99.99'" in outcomes["a version range skips the test"].detail
    assert outcomes["an unknown runner feature skips the test"].status == "skipped"
    failed = outcomes["a failing assertion fails the test"]
    assert (failed.status, failed.detail) == ("failed", "match 'count': expected 3, got 2")
    refused = outcomes["an unsupported feature is refused"]
    assert refused.status == "refused"
    assert refused.detail.startswith("unsupported by the test double: ")
