"""A runner for Elasticsearch's YAML REST tests, to hold the double to Elasticsearch's own tests.

Elastic's `rest-api-spec/src/yamlRestTest/resources/rest-api-spec/test/**.yml` files describe
requests and assertions in a small language (rest-api-spec/src/yamlRestTest/.../test/README in
elastic/elasticsearch). This module executes that language against any URL — the double or a
real cluster — for the APIs the double implements:

* a file holds YAML documents: an optional `setup` and `teardown`, then one test per document
  (`{"test name": [steps]}`); every test runs on an emptied cluster: wipe, setup, steps, teardown;
* steps: `do` (an API call, with `catch`, `headers`, `allowed_warnings`), `match` (values,
  `/regex/` with the COMMENTS flag, `$body`, stashed `$var`), `length`, `is_true`, `is_false`,
  `gt`, `gte`, `lt`, `lte`, `set`, `close_to`, `exists`, `not_exists`, `contains`;
* `skip` / `requires`: version ranges (`" - 8.13.99"`, `"8.0.0 - "`, `all`), runner
  features, `cluster_features` (`gte_vX.Y.Z` from the version; named features only when the
  caller declares them), `capabilities` and `known_issues` (skipped: not answerable here).

Each test ends `passed`, `failed` (with the first broken assertion), `skipped` (with why) or
`refused` — the double answered "unsupported by the test double", i.e. the test needs a feature
outside what the double claims (see tests/es_double/README.md).

CLI: `python -m tests.es_double.yaml_runner FILE_OR_DIR... [--es-url URL] [--json]`; without
`--es-url` an in-process double is started. Prints one line per test and a summary (JSON with
`--json`).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml
from elasticsearch import Elasticsearch

from tests.es_double.errors import UNSUPPORTED_PREFIX

log = logging.getLogger(__name__)

# Runner features this runner implements (`skip.features`, `requires.test_runner_features`).
RUNNER_FEATURES = frozenset(
    {"close_to", "contains", "headers", "allowed_warnings", "allowed_warnings_regex", "exists", "is_after"}
)
# Named cluster features (`requires.cluster_features`) the double implements; `gte_vX.Y.Z` features
# come from its version. Only features whose YAML tests pass belong here.
DOUBLE_CLUSTER_FEATURES = frozenset(
    {
        "search.vectors.k_param_supported",
        "search.vectors.mappers.expose_hnsw_early_termination",
        "bulk_auto_id",
        "bulk_require_alias",
    }
)
# `catch` names (DoSection of Elastic's runner): the statuses they accept.
CATCHES: dict[str, Callable[[int], bool]] = {
    "bad_request": lambda s: s == 400,
    "unauthorized": lambda s: s == 401,
    "forbidden": lambda s: s == 403,
    "missing": lambda s: s == 404,
    "request_timeout": lambda s: s == 408,
    "conflict": lambda s: s == 409,
    "unavailable": lambda s: s == 503,
    "request": lambda s: s >= 400 and s not in (404, 408, 409),
}

# API name -> (method without body, method with body, path templates most specific first).
_API: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "info": ("GET", "GET", ("/",)),
    "cluster.health": ("GET", "GET", ("/_cluster/health/{index}", "/_cluster/health")),
    "cat.indices": ("GET", "GET", ("/_cat/indices/{index}", "/_cat/indices")),
    "indices.create": ("PUT", "PUT", ("/{index}",)),
    "indices.delete": ("DELETE", "DELETE", ("/{index}",)),
    "indices.exists": ("HEAD", "HEAD", ("/{index}",)),
    "indices.get": ("GET", "GET", ("/{index}",)),
    "indices.get_mapping": ("GET", "GET", ("/{index}/_mapping", "/_mapping")),
    "indices.put_mapping": ("PUT", "PUT", ("/{index}/_mapping",)),
    "indices.get_settings": ("GET", "GET", ("/{index}/_settings", "/_settings")),
    "indices.put_settings": ("PUT", "PUT", ("/{index}/_settings", "/_settings")),
    "indices.refresh": ("POST", "POST", ("/{index}/_refresh", "/_refresh")),
    "indices.update_aliases": ("POST", "POST", ("/_aliases",)),
    "indices.get_alias": ("GET", "GET", ("/{index}/_alias/{name}", "/_alias/{name}", "/{index}/_alias", "/_alias")),
    "indices.exists_alias": ("HEAD", "HEAD", ("/{index}/_alias/{name}", "/_alias/{name}")),
    "indices.put_alias": ("PUT", "PUT", ("/{index}/_alias/{name}",)),
    "indices.delete_alias": ("DELETE", "DELETE", ("/{index}/_alias/{name}",)),
    "index": ("POST", "PUT", ("/{index}/_doc/{id}", "/{index}/_doc")),
    "create": ("PUT", "PUT", ("/{index}/_create/{id}",)),
    "get": ("GET", "GET", ("/{index}/_doc/{id}",)),
    "exists": ("HEAD", "HEAD", ("/{index}/_doc/{id}",)),
    "get_source": ("GET", "GET", ("/{index}/_source/{id}",)),
    "delete": ("DELETE", "DELETE", ("/{index}/_doc/{id}",)),
    "update": ("POST", "POST", ("/{index}/_update/{id}",)),
    "mget": ("GET", "POST", ("/{index}/_mget", "/_mget")),
    "bulk": ("POST", "POST", ("/{index}/_bulk", "/_bulk")),
    "search": ("GET", "POST", ("/{index}/_search", "/_search")),
    "count": ("GET", "POST", ("/{index}/_count", "/_count")),
}
_PATH_PARTS = ("index", "id", "name")
_MEDIA = "application/vnd.elasticsearch+json; compatible-with=9"
_NDJSON = "application/vnd.elasticsearch+x-ndjson; compatible-with=9"


class Skip(Exception):
    """The test cannot run here (unsupported runner feature, API, version or cluster feature)."""


class StepFailure(AssertionError):
    """An assertion of the test did not hold."""


class Refused(Exception):
    """The double refused a request as outside what it supports."""


@dataclass
class Outcome:
    file: str
    test: str
    status: str  # passed | failed | skipped | refused
    detail: str = ""


@dataclass
class Response:
    status: int
    body: Any
    text: str


@dataclass
class Environment:
    """What the target cluster offers: its version and any named cluster features it declares."""

    version: tuple[int, int, int]
    cluster_features: frozenset[str] = frozenset()


# ---------------------------------------------------------------------------------------- parsing
@dataclass
class YamlSuite:
    """One YAML test file: setup, teardown and named tests (each a list of steps)."""

    path: str
    setup: list[dict[str, Any]] = field(default_factory=list)
    teardown: list[dict[str, Any]] = field(default_factory=list)
    tests: list[tuple[str, list[dict[str, Any]]]] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str, path: str = "<yaml>") -> YamlSuite:
        suite = cls(path)
        for doc in yaml.safe_load_all(text):
            if doc is None:
                continue
            if not isinstance(doc, dict) or len(doc) != 1:
                raise ValueError(f"{path}: each YAML document must hold one section, got {doc!r:.80}")
            (name, steps), = doc.items()
            steps = list(steps or [])
            if name == "setup":
                suite.setup = steps
            elif name == "teardown":
                suite.teardown = steps
            else:
                suite.tests.append((str(name), steps))
        return suite


def parse_version(text: str) -> tuple[int, int, int]:
    parts = [int(p) for p in re.findall(r"\d+", text)[:3]] + [0, 0, 0]
    return (parts[0], parts[1], parts[2])


def version_in_ranges(version: tuple[int, int, int], spec: str) -> bool:
    """`spec` like " - 8.13.99", "8.0.0 - 8.9.99", "all", or several ranges separated by commas."""
    if spec.strip() == "all":
        return True
    for part in spec.split(","):
        if "-" not in part:
            raise ValueError(f"version range without '-': {spec!r}")
        low, _, high = part.partition("-")
        lo = parse_version(low) if low.strip() else (0, 0, 0)
        hi = parse_version(high) if high.strip() else (999, 999, 999)
        if lo <= version <= hi:
            return True
    return False


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def check_skip(steps: list[dict[str, Any]], env: Environment) -> None:
    """Raise Skip when a leading `skip` / `requires` section rules this test out here."""
    for step in steps:
        if "requires" in step:
            spec = step["requires"] or {}
            for feature in _as_list(spec.get("test_runner_features")):
                if feature not in RUNNER_FEATURES:
                    raise Skip(f"runner feature [{feature}] not implemented")
            for feature in _as_list(spec.get("cluster_features")):
                if not _has_cluster_feature(feature, env):
                    raise Skip(f"cluster feature [{feature}] not declared")
            if spec.get("capabilities"):
                raise Skip("capabilities checks are not answerable here")
        elif "skip" in step:
            spec = step["skip"] or {}
            for feature in _as_list(spec.get("features")):
                if feature not in RUNNER_FEATURES:
                    raise Skip(f"runner feature [{feature}] not implemented")
            if spec.get("version") and version_in_ranges(env.version, str(spec["version"])):
                raise Skip(f"version {'.'.join(map(str, env.version))} in {spec['version']!r}: {spec.get('reason')}")
            for feature in _as_list(spec.get("cluster_features")):
                if _has_cluster_feature(feature, env):
                    raise Skip(f"cluster feature [{feature}] present: {spec.get('reason')}")
            if spec.get("known_issues") or spec.get("awaits_fix"):
                raise Skip(f"known issue: {spec.get('reason')}")
            if spec.get("capabilities"):
                raise Skip("capabilities checks are not answerable here")
        else:
            return


def _has_cluster_feature(feature: str, env: Environment) -> bool:
    m = re.fullmatch(r"gte_v(\d+\.\d+\.\d+)", feature)
    if m:
        return env.version >= parse_version(m.group(1))
    return feature in env.cluster_features


# ---------------------------------------------------------------------------------------- values
class Stash:
    """Values saved by `set`, substituted for `$name` / `${name}` in requests and expectations."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def resolve(self, value: Any) -> Any:
        if isinstance(value, str):
            if value.startswith("$") and value[1:] in self.values:
                return self.values[value[1:]]
            return re.sub(r"\$\{(\w+)\}", lambda m: str(self.values.get(m.group(1), m.group(0))), value)
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if isinstance(value, dict):
            return {self.resolve(k): self.resolve(v) for k, v in value.items()}
        return value


_MISSING = object()


def split_path(path: str) -> list[str]:
    """A dotted response path; `\\.` is a literal dot inside a key."""
    if path in ("", "$body"):
        return []
    parts, current, i = [], "", 0
    while i < len(path):
        if path[i] == "\\" and i + 1 < len(path) and path[i + 1] == ".":
            current += "."
            i += 2
            continue
        if path[i] == ".":
            parts.append(current)
            current = ""
        else:
            current += path[i]
        i += 1
    parts.append(current)
    return parts


def lookup(body: Any, path: str, stash: Stash) -> Any:
    node = body
    for raw in split_path(path):
        key = stash.resolve(raw) if raw.startswith("$") else raw
        if isinstance(node, list):
            try:
                node = node[int(key)]
            except (ValueError, IndexError):
                return _MISSING
        elif isinstance(node, dict):
            if key == "_arbitrary_key_" and node:
                node = next(iter(node))
                continue
            if key not in node:
                return _MISSING
            node = node[key]
        else:
            return _MISSING
    return node


def _regex(value: Any) -> str | None:
    if isinstance(value, str):
        text = value.strip()
        if len(text) >= 2 and text.startswith("/") and text.endswith("/"):
            return text[1:-1]
    return None


def values_match(actual: Any, expected: Any) -> bool:
    """`match` equality: numbers by value (1 == 1.0), objects and lists recursively, regex strings."""
    if expected is None:
        return actual is None or actual is _MISSING  # `match: {path: null}` also holds for an absent key
    pattern = _regex(expected)
    if pattern is not None:
        return actual is not _MISSING and re.search(pattern, _as_text(actual), re.X) is not None
    if isinstance(expected, bool) or isinstance(actual, bool):
        return actual is expected or (isinstance(actual, bool) and isinstance(expected, bool) and actual == expected)
    if isinstance(expected, (int, float)) and isinstance(actual, (int, float)):
        return float(actual) == float(expected)
    if isinstance(expected, dict):
        return isinstance(actual, dict) and actual.keys() == expected.keys() and all(
            values_match(actual[k], v) for k, v in expected.items()
        )
    if isinstance(expected, list):
        return isinstance(actual, list) and len(actual) == len(expected) and all(
            values_match(a, e) for a, e in zip(actual, expected, strict=True)
        )
    if isinstance(expected, str) and isinstance(actual, (int, float)) and not isinstance(actual, bool):
        return str(actual) == expected  # a YAML string against a rendered number ("1" vs 1)
    return actual == expected


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def is_truthy(value: Any) -> bool:
    """`is_true`: present and not null, false, "", "false", 0 or "0"."""
    if value is _MISSING or value is None or value is False:
        return False
    if isinstance(value, str) and value in ("", "false", "0"):
        return False
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0:
        return False
    return True


# ---------------------------------------------------------------------------------------- requests
def build_request(api: str, args: dict[str, Any]) -> tuple[str, str, dict[str, str], Any, bool]:
    """(method, path, query params, body, ndjson) for one `do` of `api` with its arguments."""
    if api not in _API:
        raise Skip(f"API [{api}] is not in the runner")
    plain_method, body_method, templates = _API[api]
    args = dict(args)
    body = args.pop("body", None)
    parts = {k: args.pop(k) for k in _PATH_PARTS if k in args}
    for template in templates:
        names = re.findall(r"\{(\w+)\}", template)
        if all(n in parts for n in names) and set(parts) <= set(names):
            path = template
            for n in names:
                value = parts[n]
                text = ",".join(map(str, value)) if isinstance(value, list) else str(value)
                path = path.replace("{" + n + "}", quote(text, safe=",*"))
            break
    else:
        raise Skip(f"API [{api}] with path parts {sorted(parts)} is not in the runner")
    params = {k: _param_text(v) for k, v in args.items() if k not in ("ignore",)}
    ndjson = api == "bulk"
    method = body_method if body is not None else plain_method
    return method, path, params, body, ndjson


def _param_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_param_text(v) for v in value)
    return str(value)


def encode_body(body: Any, ndjson: bool) -> bytes | None:
    """The request payload: JSON, or NDJSON lines for bulk (a list of objects / JSON strings, or text)."""
    if body is None:
        return None
    if isinstance(body, str):
        text = body if not ndjson or body.endswith("\n") else body + "\n"
        return text.encode("utf-8")
    if ndjson:
        lines = body if isinstance(body, list) else [body]
        return "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines).encode()
    return json.dumps(body).encode("utf-8")


class Client:
    """Sends runner requests through the official client's transport (status and body, no raising)."""

    def __init__(self, es: Elasticsearch) -> None:
        self.es = es.options(ignore_status=tuple(range(400, 600)))

    def send(self, method: str, path: str, params: dict[str, str], body: bytes | None, headers: dict[str, str],
             ndjson: bool) -> Response:
        base = {"accept": _MEDIA, "content-type": _NDJSON if ndjson else _MEDIA}
        base.update({k.lower(): v for k, v in headers.items()})
        if base.get("content-type", "").startswith("application/json"):
            base["content-type"] = _NDJSON if ndjson else _MEDIA  # the client only speaks compatible types
        query = "&".join(f"{quote(k)}={quote(v, safe=',*')}" for k, v in params.items())
        target = path + ("?" + query if query else "")
        resp = self.es.perform_request(method, target, headers=base, body=body)
        status = resp.meta.status
        if method == "HEAD":
            return Response(status, status == 200, "")
        raw = resp.body
        text = raw if isinstance(raw, str) else json.dumps(raw, separators=(",", ":"), ensure_ascii=False)
        return Response(status, raw, text)


# ---------------------------------------------------------------------------------------- execution
class SuiteRunner:
    """Runs YAML suites against a cluster; `wipe` empties it before each test."""

    def __init__(self, es: Elasticsearch, wipe: Callable[[], None], env: Environment) -> None:
        self.client = Client(es)
        self.wipe = wipe
        self.env = env

    def run(self, suite: YamlSuite, only: Iterable[str] | None = None) -> list[Outcome]:
        wanted = set(only) if only is not None else None
        out = []
        for name, steps in suite.tests:
            if wanted is not None and name not in wanted:
                continue
            out.append(self.run_test(suite, name, steps))
        return out

    def run_test(self, suite: YamlSuite, name: str, steps: list[dict[str, Any]]) -> Outcome:
        try:
            check_skip(suite.setup, self.env)
            check_skip(steps, self.env)
        except Skip as exc:
            return Outcome(suite.path, name, "skipped", str(exc))
        self.wipe()
        stash = Stash()
        state: dict[str, Any] = {"last": None}
        try:
            for step in suite.setup + steps:
                self.step(step, stash, state)
            for step in suite.teardown:
                self.step(step, stash, state)
        except Skip as exc:
            return Outcome(suite.path, name, "skipped", str(exc))
        except Refused as exc:
            return Outcome(suite.path, name, "refused", str(exc))
        except StepFailure as exc:
            return Outcome(suite.path, name, "failed", str(exc))
        except Exception as exc:  # a malformed step or an answer of unexpected shape: a failure, not a crash
            return Outcome(suite.path, name, "failed", f"{type(exc).__name__}: {exc}")
        return Outcome(suite.path, name, "passed")

    def step(self, step: dict[str, Any], stash: Stash, state: dict[str, Any]) -> None:
        (kind, spec), = step.items()
        if kind in ("skip", "requires"):
            return
        if kind == "do":
            state["last"] = self.do(spec, stash)
            return
        last: Response | None = state["last"]
        body = last.body if last is not None else None
        if kind == "set":
            for path, var in spec.items():
                stash.values[var] = lookup(body, path, stash)
            return
        if kind in ("is_true", "is_false", "exists", "not_exists"):
            path = spec if isinstance(spec, str) else str(spec)
            value = lookup(body, path, stash)
            ok = {
                "is_true": is_truthy(value),
                "is_false": not is_truthy(value),
                "exists": value is not _MISSING,
                "not_exists": value is _MISSING,
            }[kind]
            if not ok:
                raise StepFailure(f"{kind} {path!r}: got {_show(value)}")
            return
        if not isinstance(spec, dict):
            raise StepFailure(f"malformed {kind} step: {spec!r}")
        for path, expected in spec.items():
            self.assertion(kind, str(path), stash.resolve(expected), body, stash)

    def assertion(self, kind: str, path: str, expected: Any, body: Any, stash: Stash) -> None:
        actual = lookup(body, path, stash)
        if kind == "match":
            ok = values_match(actual, expected)
        elif kind == "length":
            ok = actual is not _MISSING and hasattr(actual, "__len__") and len(actual) == int(expected)
        elif kind in ("gt", "gte", "lt", "lte"):
            ok = isinstance(actual, (int, float)) and not isinstance(actual, bool) and {
                "gt": actual > expected, "gte": actual >= expected, "lt": actual < expected, "lte": actual <= expected
            }[kind]
        elif kind == "close_to":
            ok = isinstance(actual, (int, float)) and math.fabs(actual - expected["value"]) <= expected["error"]
        elif kind == "contains":
            ok = isinstance(actual, list) and any(values_match(item, expected) for item in actual)
        else:
            raise Skip(f"assertion [{kind}] is not in the runner")
        if not ok:
            raise StepFailure(f"{kind} {path!r}: expected {_show(expected)}, got {_show(actual)}")

    def do(self, spec: dict[str, Any], stash: Stash) -> Response:
        spec = dict(spec)
        catch = spec.pop("catch", None)
        headers = spec.pop("headers", None) or {}
        if spec.pop("warnings", None) or spec.pop("warnings_regex", None):
            raise Skip("expected deprecation warnings are not produced by the double")
        for key in ("allowed_warnings", "allowed_warnings_regex", "node_selector"):
            spec.pop(key, None)
        if len(spec) != 1:
            raise StepFailure(f"a do step names one API, got {sorted(spec)}")
        (api, args), = spec.items()
        args = stash.resolve(dict(args or {}))
        ignore = {int(s) for s in _as_list(args.get("ignore"))}
        method, path, params, body, ndjson = build_request(api, args)
        response = self.client.send(method, path, params, encode_body(body, ndjson), stash.resolve(headers), ndjson)
        failed = response.status >= 400 and method != "HEAD"
        if catch is None:
            if failed and response.status not in ignore:
                reason = _error_reason(response.body)
                if reason.startswith(UNSUPPORTED_PREFIX):
                    raise Refused(reason)
                raise StepFailure(f"{api} answered {response.status}: {response.text[:300]}")
            return response
        if catch in CATCHES:
            if not CATCHES[catch](response.status):
                reason = _error_reason(response.body)
                if reason.startswith(UNSUPPORTED_PREFIX):
                    raise Refused(reason)
                raise StepFailure(f"{api}: expected catch {catch}, got {response.status}: {response.text[:300]}")
            return response
        if catch == "param":
            raise Skip("client-side parameter validation (catch: param) is not in the runner")
        pattern = _regex(catch)
        if pattern is None:
            raise StepFailure(f"unknown catch {catch!r}")
        if not failed:
            raise StepFailure(f"{api}: expected an error matching {catch}, got {response.status}")
        if re.search(pattern, response.text) is None:
            reason = _error_reason(response.body)
            if reason.startswith(UNSUPPORTED_PREFIX):
                raise Refused(reason)
            raise StepFailure(f"{api}: error does not match {catch}: {response.text[:300]}")
        return response


def _error_reason(body: Any) -> str:
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            return str(error.get("reason", ""))
        if isinstance(error, str):
            return error
    return ""


def _show(value: Any) -> str:
    if value is _MISSING:
        return "<missing>"
    return _as_text(value)[:200]


# ---------------------------------------------------------------------------------------- CLI
def yaml_files(paths: Iterable[str]) -> Iterator[Path]:
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*.yml") if p.is_file())
        else:
            yield path


def run_files(paths: Iterable[str], es: Elasticsearch, wipe: Callable[[], None], env: Environment) -> list[Outcome]:
    runner = SuiteRunner(es, wipe, env)
    outcomes: list[Outcome] = []
    for path in yaml_files(paths):
        suite = YamlSuite.parse(path.read_text("utf-8"), str(path))
        results = runner.run(suite)
        for r in results:
            log.info("%-7s %s :: %s %s", r.status, path.name, r.test, r.detail)
        outcomes.extend(results)
    return outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.es_double.yaml_runner", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", help="YAML test files or directories")
    parser.add_argument("--es-url", help="a real cluster (default: an in-process test double)")
    parser.add_argument("--json", action="store_true", help="print every outcome as JSON")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("elastic_transport").setLevel(logging.WARNING)
    from tests.es_double.double import EsDouble
    from tests.es_double.server import stack_version

    double = None
    if args.es_url:
        es = Elasticsearch(args.es_url)
        env = Environment(parse_version(es.info()["version"]["number"]))

        def wipe() -> None:
            names = list(es.indices.get(index="*", expand_wildcards="open,closed").body)
            for start in range(0, len(names), 50):
                es.indices.delete(index=",".join(names[start : start + 50]))
    else:
        double = EsDouble().start()
        es = Elasticsearch(double.url)
        env = Environment(parse_version(stack_version()), DOUBLE_CLUSTER_FEATURES)
        wipe = double.reset
    try:
        outcomes = run_files(args.paths, es, wipe, env)
    finally:
        es.close()
        if double is not None:
            double.stop()
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.status] = counts.get(o.status, 0) + 1
    report = {"counts": counts, "outcomes": [o.__dict__ for o in outcomes]} if args.json else {"counts": counts}
    sys.stdout.write(json.dumps(report, indent=2) + "\n")
    return 1 if counts.get("failed") else 0


if __name__ == "__main__":
    sys.exit(main())
