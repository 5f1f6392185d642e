"""The supported Elasticsearch range, checked before the pipeline writes anything."""

from __future__ import annotations

import logging

import pytest

from pipeline.cli import main
from pipeline.es import SUPPORTED_ES_VERSIONS, UnsupportedVersion, check_version


@pytest.mark.parametrize(("number", "parsed"), [("9.2.0", (9, 2, 0)), ("9.5.6", (9, 5, 6)), ("9.3.0-SNAPSHOT", (9, 3, 0))])
def test_supported_versions_pass(number: str, parsed: tuple[int, int, int]) -> None:
    assert check_version(number) == parsed


@pytest.mark.parametrize("number", ["9.1.9", "8.19.2", "10.0.0", "garbage"])
def test_versions_outside_the_range_name_found_and_needed(number: str) -> None:
    with pytest.raises(UnsupportedVersion) as info:
        check_version(number)
    assert info.value.found == number
    assert str(info.value).startswith(f"Elasticsearch {number} found; movierec needs Elasticsearch {SUPPORTED_ES_VERSIONS}")


@pytest.mark.es
def test_bootstrap_refuses_an_old_cluster_before_writing(es_url, es_double, index_prefix, es, caplog):
    """`movierec bootstrap` (like `run`) stops at the version check: nothing is created."""
    es_double.report_version("9.1.4")
    with caplog.at_level(logging.ERROR):
        code = main(["bootstrap", "--es-url", es_url, "--prefix", index_prefix])
    assert code == 1
    assert f"Elasticsearch 9.1.4 found; movierec needs Elasticsearch {SUPPORTED_ES_VERSIONS}" in caplog.text
    assert not es.indices.exists(index=f"{index_prefix}-runs")
