"""The OpenAPI document against the API: schemathesis over /openapi.json with the app and the ES double, and the
request-line budget of every operation.

A bounded run (EXAMPLES per operation and generation mode, derandomized) with every check that judges one
response, configured by tests/schemathesis.toml; the long run, with all of schemathesis' phases against
gunicorn, is a benchmark (scripts/bench_contract.py, see docs/benchmarks.md).
"""

from __future__ import annotations

import collections
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks
from schemathesis.config import SchemathesisConfig

EXAMPLES = 12
CONFIG = Path(__file__).resolve().parents[1] / "schemathesis.toml"
CHECKS = [
    checks.not_a_server_error,
    checks.response_schema_conformance,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.negative_data_rejection,
    checks.positive_data_acceptance,
]
GUNICORN_LIMIT_REQUEST_LINE = 8190


def run_operation(operation, mode, statuses: collections.Counter, examples: int) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    def check(case):
        response = case.call()
        statuses[(operation.label, response.status_code)] += 1
        case.validate_response(response, checks=CHECKS)

    check()


def _worst_bytes(name: str, schema: dict) -> int:
    """Bytes of `name=value` (with its `&`) for the longest value `schema` allows, percent-encoded at worst:
    3 bytes per printable-ASCII character (`%7E`), 12 per other character (4 UTF-8 bytes, each `%XX`)."""
    kind = schema.get("type")
    if kind == "array":
        return schema["maxItems"] * _worst_bytes(name, schema["items"])
    if kind == "string":
        longest = max(map(len, schema["enum"])) if "enum" in schema else schema["maxLength"]
        per_char = 3 if schema.get("pattern") == "^[ -~]+$" or "enum" in schema else 12
        return len(name) + 2 + longest * per_char
    if kind == "integer":
        return len(name) + 2 + max(len(str(schema["minimum"])), len(str(schema["maximum"])))
    if kind == "number":
        return len(name) + 2 + len("-1.7976931348623157e+308")  # the longest repr of a float
    if kind == "boolean":
        return len(name) + 2 + len("false")
    raise AssertionError(f"no size rule for {name}: {schema}")


def test_every_valid_request_line_fits_in_gunicorn_limit():
    """Valid requests are never refused by gunicorn's 414: the schemas' own limits keep the request line short."""
    from service import create_app

    spec = create_app({"ES_URL": "http://127.0.0.1:9"}).test_client().get("/openapi.json").get_json()
    worst = {}
    for path, item in spec["paths"].items():
        shared = item.get("parameters", [])  # path parameters, listed once per path
        for method, op in item.items():
            if method == "parameters":
                continue
            own = op.get("parameters", [])
            params = own + [p for p in shared if (p["name"], p["in"]) not in {(q["name"], q["in"]) for q in own}]
            line = len(method) + 1 + len(path) + 1 + len(" HTTP/1.1")
            for p in params:
                if p["in"] == "path":
                    line += len(str(p["schema"]["maximum"])) - len("{" + p["name"] + "}")
                else:
                    line += _worst_bytes(p["name"], p["schema"])
            worst[f"{method.upper()} {path}"] = line
    assert max(worst.values()) < GUNICORN_LIMIT_REQUEST_LINE, worst
    assert worst["GET /recommendations/cold-start"] > 6000  # the rule counts every parameter


@pytest.mark.spark
def test_schemathesis_finds_no_server_error_or_schema_violation(es_url, served):
    from tests.service.conftest import make_app

    app = make_app(es_url, served.prefix)
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app, config=SchemathesisConfig.from_path(CONFIG))
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
