"""Schemathesis over /openapi.json against the app and the ES double: no 5xx, no schema violations.

A bounded run (EXAMPLES per operation and generation mode, derandomized); the
longer run is a benchmark (scripts/bench_api.py --fuzz, see docs/benchmarks.md).
"""

from __future__ import annotations

import collections

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

pytestmark = pytest.mark.spark

EXAMPLES = 12
CHECKS = [
    checks.not_a_server_error,
    checks.response_schema_conformance,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.negative_data_rejection,
]


def run_operation(operation, mode, statuses: collections.Counter, examples: int) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    def check(case):
        response = case.call()
        statuses[(operation.label, response.status_code)] += 1
        case.validate_response(response, checks=CHECKS)

    check()


def test_schemathesis_finds_no_server_error_or_schema_violation(es_url, served):
    from tests.service.conftest import make_app

    app = make_app(es_url, served.prefix)
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    statuses: collections.Counter = collections.Counter()
    failures = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 15
    for operation in operations:
        has_inputs = bool(operation.path_parameters or operation.query or operation.body)
        modes = [schemathesis.GenerationMode.POSITIVE] + ([schemathesis.GenerationMode.NEGATIVE] if has_inputs else [])
        for mode in modes:
            try:
                run_operation(operation, mode, statuses, EXAMPLES)
            except BaseException as exc:
                if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                    raise
                failures.append(f"{operation.label} [{mode.value}]: {exc}")
    assert not failures, "\n\n".join(failures)
    assert not [key for key in statuses if key[1] >= 500]
    assert {code for (_, code) in statuses} >= {200, 201, 404, 422}
    assert sum(statuses.values()) > len(operations) * EXAMPLES
