"""Elasticsearch 9 aggregations over the matching documents of one index (one shard).

Why: analysts' dashboards and the API's facets send `aggs` with their searches; the double
must answer with Elasticsearch's response shapes, key types, orderings, empty-set values and
errors, and refuse loudly what it does not implement (`UnsupportedAggregation`, whose message
starts with "unsupported by the test double: ").

Server-side use::

    result = run_aggregations(body["aggs"], matching_sources, mapping, index="movies-1",
                              all_docs=every_source_of_the_index)   # -> the "aggregations" object

`mapping` must offer `field_type(path) -> str | None` and `doc_values(source, path) -> list`
(normalised doc values: keyword str, numbers int/float, dates epoch millis, booleans bool).
Optional: `date_format(path) -> str | None` (the field's `format` mapping parameter; default
`strict_date_optional_time||epoch_millis`). `index` names the index in the text-field fielddata
error; `all_docs` is only needed for `terms` with `min_doc_count: 0` (ES then also lists the
index's terms that match no document).

Supported: `terms` (field, size, shard_size, min_doc_count, shard_min_doc_count, order by
`_count` / `_key` / a metric sub-aggregation, missing, show_term_doc_count_error, format on date
fields; default order `_count` desc then `_key` asc), `avg`, `min`, `max`, `sum`, `value_count`,
`cardinality` (exact; ES' HyperLogLog++ is exact in practice below `precision_threshold`, 3000 by
default), `stats`, `histogram` (interval, offset, min_doc_count, extended_bounds, order, missing),
`date_histogram` (calendar_interval minute..year, fixed_interval in ms/s/m/h/d, offset, format,
time_zone UTC only, min_doc_count, extended_bounds, order, missing), `range` (numeric fields,
ranges with key/from/to, keyed), sub-aggregations under bucket aggregations, and `meta`.
Single shard: `doc_count_error_upper_bound` is always 0; `sum_other_doc_count` follows ES' shard
selection (`shard_size` default `size * 1.5 + 10` unless ordered by key) and reduce.

Refused: scripts, `value_type`, include/exclude, `keyed` on histograms, `hard_bounds`, non-UTC
time zones, formats on numbers, aggregations on other field types, every other aggregation type
(filter(s), top_hits, percentiles, pipelines, ...).

Error texts quote Elasticsearch where its source or REST tests show them; ES prefixes parser
errors with "[line:col]", which the double cannot know and leaves out.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tests.es_double.dates import DEFAULT_DATE_FORMAT, DateFormat
from tests.es_double.errors import UNSUPPORTED_PREFIX, EsError
from tests.es_double.javafmt import java_double
from tests.es_double.jsonloc import token_name

__all__ = ["AggregationError", "UnsupportedAggregation", "run_aggregations"]

MAX_BUCKETS = 65536  # search.max_buckets default

_METRICS = ("avg", "min", "max", "sum", "value_count", "cardinality", "stats")
_BUCKETS = ("terms", "histogram", "date_histogram", "range")
# Elasticsearch's other aggregation types (core, x-pack, pipelines): known, valid, not implemented.
_KNOWN_UNSUPPORTED = (
    "adjacency_matrix", "auto_date_histogram", "avg_bucket", "boxplot", "bucket_correlation",
    "bucket_count_ks_test", "bucket_script", "bucket_selector", "bucket_sort", "categorize_text", "change_point",
    "children", "composite", "cumulative_cardinality", "cumulative_sum", "date_range", "derivative",
    "diversified_sampler", "extended_stats", "extended_stats_bucket", "filter", "filters", "frequent_item_sets",
    "geo_bounds", "geo_centroid", "geo_distance", "geo_line", "geohash_grid", "geohex_grid", "geotile_grid",
    "global", "histogram_bucket", "inference", "ip_prefix", "ip_range", "matrix_stats", "max_bucket",
    "median_absolute_deviation", "min_bucket", "missing", "moving_fn", "moving_percentiles", "multi_terms",
    "nested", "normalize", "parent", "percentile_ranks", "percentiles", "percentiles_bucket", "random_sampler",
    "rare_terms", "rate", "reverse_nested", "sampler", "scripted_metric", "serial_diff", "significant_terms",
    "significant_text", "stats_bucket", "string_stats", "sum_bucket", "t_test", "time_series", "top_hits",
    "top_metrics", "variable_width_histogram", "weighted_avg",
)
_VALID_NAME = re.compile(r"[^\[\]>]+")

_KEYWORD = {"keyword", "constant_keyword"}
_TEXT = {"text", "match_only_text"}
_LONG = {"long", "integer", "short", "byte"}
_DOUBLE = {"double", "float", "half_float"}

_CALENDAR_UNITS = {
    "year": "year", "1y": "year", "quarter": "quarter", "1q": "quarter", "month": "month", "1M": "month",
    "week": "week", "1w": "week", "day": "day", "1d": "day", "hour": "hour", "1h": "hour", "minute": "minute",
    "1m": "minute", "second": "second", "1s": "second",
}
_FIXED_UNITS = {"nanos": 1e-6, "micros": 1e-3, "ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_UTC_ZONES = {"UTC", "Z", "+00:00", "-00:00", "Etc/UTC", "GMT", "Etc/GMT", "+00", "UTC+00:00"}
_DAY = 86_400_000


class AggregationError(EsError):
    """An error Elasticsearch reports for an aggregation request (type, message, HTTP status)."""

    def __init__(
        self,
        message: str,
        es_type: str = "illegal_argument_exception",
        status: int = 400,
        *,
        caused_by: EsError | None = None,
    ) -> None:
        super().__init__(status, es_type, message, caused_by=caused_by)
        self.message = message
        self.es_type = es_type


class UnsupportedAggregation(AggregationError):
    """Valid Elasticsearch outside the double's subset."""

    def __init__(self, what: str) -> None:
        super().__init__(UNSUPPORTED_PREFIX + what)


def _parsing(message: str) -> AggregationError:
    return AggregationError(message, "parsing_exception")


def _failed_field(agg_type: str, field_name: str, cause: str, cause_type: str = "illegal_argument_exception") -> AggregationError:
    """ObjectParser wraps a setter's exception: "[terms] failed to parse field [size]"."""
    return AggregationError(
        f"[{agg_type}] failed to parse field [{field_name}]",
        "x_content_parse_exception",
        caused_by=EsError(400, cause_type, cause),
    )


def _wrong_type(agg_type: str, key: str, value: Any) -> AggregationError:
    """ObjectParser's type check: "[terms] field doesn't support values of type: VALUE_NUMBER"."""
    return AggregationError(f"[{agg_type}] {key} doesn't support values of type: {token_name(value)}",
                            "x_content_parse_exception")


def _similarity(a: str, b: str) -> float:
    """Lucene's LevenshteinDistance: 1 - edits / max(len)."""
    if not a and not b:
        return 1.0
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
        prev = cur
    return 1.0 - prev[-1] / max(len(a), len(b))


def _did_you_mean(name: str, candidates: Iterable[str]) -> str:
    scored = sorted((-_similarity(name, c), c) for c in candidates if _similarity(name, c) > 0.5)
    if not scored:
        return ""
    keys = [c for _, c in scored]
    if len(keys) == 1:
        return f" did you mean [{keys[0]}]?"
    return " did you mean any of [" + ", ".join(keys) + "]?"


# --------------------------------------------------------------------------- request parsing


@dataclass
class _Order:
    kind: str  # "_count", "_key" or "agg"
    asc: bool
    path: str = ""
    agg: str = ""
    prop: str | None = None


@dataclass
class _Spec:
    name: str
    type: str
    body: dict
    subs: list[_Spec]
    meta: dict | None
    orders: list[_Order] = field(default_factory=list)


_COMMON_VS = ("field", "missing", "script", "value_type", "format")
_PARAMS = {
    "avg": _COMMON_VS,
    "min": _COMMON_VS,
    "max": _COMMON_VS,
    "sum": _COMMON_VS,
    "stats": _COMMON_VS,
    "value_count": _COMMON_VS,
    "cardinality": _COMMON_VS + ("precision_threshold", "execution_hint"),
    "terms": _COMMON_VS + (
        "size", "shard_size", "min_doc_count", "shard_min_doc_count", "execution_hint", "collect_mode", "order",
        "include", "exclude", "show_term_doc_count_error",
    ),
    "histogram": _COMMON_VS + ("interval", "offset", "keyed", "min_doc_count", "extended_bounds", "hard_bounds",
                               "order"),
    "date_histogram": _COMMON_VS + ("calendar_interval", "fixed_interval", "offset", "keyed", "min_doc_count",
                                    "extended_bounds", "hard_bounds", "order", "time_zone"),
    "range": _COMMON_VS + ("ranges", "keyed"),
}


def _parse_aggs(aggs: Any, parent: str | None) -> list[_Spec]:
    if not isinstance(aggs, dict):
        raise _parsing(f"Expected [START_OBJECT] under [{'aggs' if parent is None else parent}], but got a "
                       f"[{token_name(aggs)}]")
    specs: list[_Spec] = []
    for name, body in aggs.items():
        if not isinstance(name, str) or not _VALID_NAME.fullmatch(name):
            raise _parsing(
                f"Invalid aggregation name [{name}]. Aggregation names can contain any character except '[', ']', and '>'"
            )
        if not isinstance(body, dict):
            raise _parsing(f"Aggregation definition for [{name} starts with a [{token_name(body)}], expected a "
                           "[START_OBJECT].")
        agg_type: str | None = None
        sub_body: Any = None
        saw_sub = False
        meta = None
        for key, value in body.items():
            if key in ("aggs", "aggregations"):
                if saw_sub:
                    raise _parsing(f"Found two sub aggregation definitions under [{name}]")
                saw_sub, sub_body = True, value
                continue
            if key == "meta":
                if not isinstance(value, dict):
                    raise _parsing(f"Expected [START_OBJECT] under [meta], but got a [{token_name(value)}] in [{name}]")
                meta = value
                continue
            if not isinstance(value, dict):
                raise _parsing(f"Expected [START_OBJECT] under [{key}], but got a [{token_name(value)}] in [{name}]")
            if agg_type is not None:
                raise _parsing(f"Found two aggregation type definitions in [{name}]: [{agg_type}] and [{key}]")
            if key not in _METRICS and key not in _BUCKETS:
                if key in _KNOWN_UNSUPPORTED:
                    raise UnsupportedAggregation(f"the [{key}] aggregation")
                raise _parsing(f"Unknown aggregation type [{key}]"
                               + _did_you_mean(key, _METRICS + _BUCKETS + _KNOWN_UNSUPPORTED))
            agg_type = key
        if agg_type is None:
            raise _parsing(f"Missing definition for aggregation [{name}]")
        subs = _parse_aggs(sub_body, name) if saw_sub else []
        if subs and agg_type in _METRICS:
            raise AggregationError(
                f"Aggregator [{name}] of type [{agg_type}] cannot accept sub-aggregations",
                "aggregation_initialization_exception",
            )
        spec = _Spec(name, agg_type, body[agg_type], subs, meta)
        _check_params(spec)
        specs.append(spec)
    return specs


def _check_params(spec: _Spec) -> None:
    allowed = _PARAMS[spec.type]
    for key in spec.body:
        if key not in allowed:
            raise AggregationError(f"[{spec.type}] unknown field [{key}]" + _did_you_mean(key, allowed),
                                   "x_content_parse_exception")
    if "script" in spec.body:
        raise UnsupportedAggregation(f"scripts in the [{spec.type}] aggregation [{spec.name}]")
    if "value_type" in spec.body:
        raise UnsupportedAggregation(f"[value_type] in the [{spec.type}] aggregation [{spec.name}]")
    if "field" not in spec.body:
        raise AggregationError("Required one of fields [field, script], but none were specified.")
    for key in ("field", "format", "time_zone", "calendar_interval", "fixed_interval", "execution_hint",
                "collect_mode"):
        if key in spec.body and not isinstance(spec.body[key], str):
            raise _wrong_type(spec.type, key, spec.body[key])
    for key in ("include", "exclude", "hard_bounds"):
        if key in spec.body:
            raise UnsupportedAggregation(f"[{key}] in the [{spec.type}] aggregation [{spec.name}]")
    if spec.body.get("keyed") and spec.type in ("histogram", "date_histogram"):
        raise UnsupportedAggregation(f"[keyed] in the [{spec.type}] aggregation [{spec.name}]")
    if "order" in spec.body:
        spec.orders = _parse_order(spec, spec.body["order"])


def _parse_order(spec: _Spec, raw: Any) -> list[_Order]:
    items = raw if isinstance(raw, list) else [raw]
    orders: list[_Order] = []
    for item in items:
        if not isinstance(item, dict) or len(item) != 1:
            raise _failed_field(spec.type, "order", "Must specify at least one field for [order]"
                                if isinstance(item, dict) else f"Unknown order format [{token_name(item)}]")
        (key, direction), = item.items()
        if not isinstance(direction, str) or direction.lower() not in ("asc", "desc"):
            raise _failed_field(spec.type, "order", f"Unknown terms order direction [{direction}]"
                                if spec.type == "terms" else f"Unknown order direction [{direction}]")
        asc = direction.lower() == "asc"
        if key in ("_term", "_time"):
            raise UnsupportedAggregation(f"the deprecated order key [{key}]")
        if key in ("_count", "_key"):
            orders.append(_Order(key, asc))
            continue
        if ">" in key or "[" in key:
            raise UnsupportedAggregation(f"ordering by the sub-aggregation path [{key}]")
        agg, _, prop = key.partition(".")
        orders.append(_Order("agg", asc, key, agg, prop or None))
    return orders


# --------------------------------------------------------------------------- values


@dataclass
class _Ctx:
    mapping: Any
    index: str
    all_docs: list[dict] | None
    buckets: int = 0

    def consume(self, n: int) -> None:
        self.buckets += n
        if self.buckets > MAX_BUCKETS:
            raise AggregationError(
                f"Trying to create too many buckets. Must be less than or equal to: [{MAX_BUCKETS}] but this number of "
                "buckets was exceeded. This limit can be set by changing the [search.max_buckets] cluster level "
                "setting.",
                "too_many_buckets_exception",
            )

    def date_format(self, path: str) -> DateFormat:
        getter = getattr(self.mapping, "date_format", None)
        fmt = getter(path) if callable(getter) else None
        return _date_format(fmt or DEFAULT_DATE_FORMAT)


def _date_format(fmt: str) -> DateFormat:
    try:
        return DateFormat.of(fmt)
    except EsError as exc:
        raise UnsupportedAggregation(exc.reason[len(UNSUPPORTED_PREFIX):] if exc.reason.startswith(UNSUPPORTED_PREFIX)
                                     else f"the date format [{fmt}]") from None


class _Source:
    """A field's doc values as one aggregation reads them, with `missing` applied."""

    def __init__(self, spec: _Spec, ctx: _Ctx, usage: str) -> None:
        self.spec = spec
        self.ctx = ctx
        self.field = spec.body["field"]
        self.ftype: str | None = ctx.mapping.field_type(self.field)
        self.missing: list[Any] | None = None
        ftype = self.ftype
        if ftype is None:
            self.kind = "unmapped"
        elif ftype in _KEYWORD:
            self.kind = "keyword"
        elif ftype in _TEXT:
            self.kind = "text"
        elif ftype in _LONG:
            self.kind = "long"
        elif ftype in _DOUBLE:
            self.kind = "double"
        elif ftype == "date":
            self.kind = "date"
        elif ftype == "boolean":
            self.kind = "boolean"
        else:
            raise UnsupportedAggregation(f"the [{spec.type}] aggregation on field [{self.field}] of type [{ftype}]")
        self._check_usage(usage)
        self.format: DateFormat | None = None
        if self.kind == "date" or (self.kind == "unmapped" and spec.type == "date_histogram"):
            self.format = _date_format(spec.body["format"]) if "format" in spec.body else ctx.date_format(self.field)
        elif "format" in spec.body and self.kind != "unmapped":
            raise UnsupportedAggregation(f"[format] on the non-date field [{self.field}]")
        if "missing" in spec.body and spec.body["missing"] is not None:
            self.missing = [self._parse_missing(spec.body["missing"])]

    def _check_usage(self, usage: str) -> None:
        kind, spec = self.kind, self.spec
        if kind == "text":
            if usage in ("terms", "any"):
                raise AggregationError(
                    f"Fielddata is disabled on [{self.field}] in [{self.ctx.index}]. Text fields are not optimised for "
                    "operations that require per-document field data like aggregations and sorting, so these "
                    "operations are disabled by default. Please use a keyword field instead. Alternatively, set "
                    f"fielddata=true on [{self.field}] in order to load field data by uninverting the inverted index. "
                    "Note that this can use significant memory."
                )
            raise AggregationError(f"Field [{self.field}] of type [{self.ftype}] is not supported for aggregation "
                                   f"[{spec.type}]")
        if usage in ("numeric", "histogram", "date_histogram", "range") and kind == "keyword":
            raise AggregationError(f"Field [{self.field}] of type [{self.ftype}] is not supported for aggregation "
                                   f"[{spec.type}]")
        if usage == "numeric" and kind == "boolean":
            raise UnsupportedAggregation(f"the [{spec.type}] aggregation on the boolean field [{self.field}]")
        if usage in ("histogram", "range") and kind in ("date", "boolean"):
            raise UnsupportedAggregation(f"the [{spec.type}] aggregation on the {kind} field [{self.field}]")
        if usage == "date_histogram" and kind in ("long", "double", "boolean"):
            raise UnsupportedAggregation(f"the [date_histogram] aggregation on the {kind} field [{self.field}]")

    def _parse_missing(self, raw: Any) -> Any:
        kind = self.kind
        text = _java_text(raw)
        if kind == "keyword":
            return text
        if kind == "unmapped" and self.spec.type == "date_histogram":
            kind = "date"  # date_histogram reads an unmapped field as a date (its default value type)
        if kind == "unmapped":
            if self.spec.type in ("terms", "value_count", "cardinality"):
                if isinstance(raw, str):
                    return raw
                raise UnsupportedAggregation(f"a non-string [missing] on the unmapped field [{self.field}]")
            d = _parse_double(text)
            if not math.isfinite(d):
                raise AggregationError(f'For input string: "{text}"', "number_format_exception")
            return d
        if kind == "long":  # DocValueFormat.RAW.parseLong: Math.round(Math.floor(Double.parseDouble(text)))
            d = _parse_double(text)
            return _java_round(math.floor(d) if math.isfinite(d) else d)
        if kind == "double":
            return _round_float(self.ftype or "double", _parse_double(text))
        if kind == "boolean":
            if text in ("true", "false"):
                return text == "true"
            raise AggregationError(f"Can't parse boolean value [{text}], expected [true] or [false]")
        if kind == "date":
            assert self.format is not None
            try:
                return self.format.parse(raw)
            except EsError as exc:
                raise AggregationError(exc.reason, exc.type, caused_by=exc.caused_by) from None
        return raw  # pragma: no cover

    def values(self, doc: dict) -> list:
        """Sorted doc values of `doc` (duplicates kept for numbers, as SortedNumericDocValues)."""
        if self.kind == "unmapped":
            raw: list = []
        else:
            raw = list(self.ctx.mapping.doc_values(doc, self.field) or [])
        if not raw:
            return list(self.missing) if self.missing is not None else []
        kind = self.kind
        if kind == "long" or kind == "date":
            vals = sorted(int(v) for v in raw)
        elif kind == "double":
            vals = sorted(_round_float(self.ftype or "double", float(v)) for v in raw)
        elif kind == "boolean":
            vals = sorted(bool(v) for v in raw)
        else:
            vals = sorted({str(v) for v in raw})
        return vals

    def numbers(self, doc: dict) -> list[float]:
        return [float(v) for v in self.values(doc)]

    def format_number(self, value: float) -> str | None:
        if self.format is None:
            return None
        return _format_date(self.format, int(value))


def _format_date(fmt: DateFormat, millis: int) -> str:
    try:
        return fmt.format(millis)
    except (OverflowError, ValueError):
        raise UnsupportedAggregation(f"dates outside the years 1-9999 ([{millis}] epoch millis)") from None


def _java_text(raw: Any) -> str:
    """`Object.toString()` of a JSON value as Jackson parsed it."""
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, float):
        return java_double(raw)
    return str(raw)


def _parse_double(text: str) -> float:
    try:
        if not re.fullmatch(r"\s*[+-]?(NaN|Infinity|(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)[dDfF]?\s*", text):
            raise ValueError(text)
        return float(text.strip().rstrip("dDfF").replace("Infinity", "inf"))
    except ValueError:
        raise AggregationError(f'For input string: "{text}"', "number_format_exception") from None


def _java_round(x: float) -> int:
    """`Math.round(double)`: NaN is 0, out-of-range values clamp to the long range."""
    if math.isnan(x):
        return 0
    if x >= 2.0**63:
        return 2**63 - 1
    if x <= -(2.0**63):
        return -(2**63)
    return math.floor(x + 0.5)


def _round_float(ftype: str, x: float) -> float:
    if ftype == "float":
        with np.errstate(over="ignore"):
            return float(np.float32(x))
    if ftype == "half_float":
        with np.errstate(over="ignore"):
            return float(np.float16(x))
    return x


class _Kahan:
    """ES' CompensatedSum (Kahan summation) used by sum, avg and stats."""

    __slots__ = ("delta", "value")

    def __init__(self) -> None:
        self.value = 0.0
        self.delta = 0.0

    def add(self, x: float) -> None:
        if not math.isfinite(x):  # Inf/NaN turn the running total into Inf/NaN
            self.value = x + self.value
        if math.isfinite(self.value):
            corrected = x + self.delta
            updated = self.value + corrected
            self.delta = corrected - (updated - self.value)
            self.value = updated


# --------------------------------------------------------------------------- metrics


def _metric(spec: _Spec, docs: list[dict], ctx: _Ctx) -> tuple[dict, dict[str, float]]:
    """The metric's JSON and its sort values (`value` or the stats properties)."""
    t = spec.type
    if t in ("value_count", "cardinality"):
        if t == "cardinality" and "precision_threshold" in spec.body:
            pt = spec.body["precision_threshold"]
            if not isinstance(pt, (int, float)) or isinstance(pt, bool) or pt < 0:
                raise _failed_field("cardinality", "precision_threshold",
                                    f"[precisionThreshold] must be greater than or equal to 0. Found [{pt}] in "
                                    f"[{spec.name}]")
        src = _Source(spec, ctx, "any")
        if t == "value_count":
            count = sum(len(src.values(d)) for d in docs)
        else:
            seen: set = set()
            for d in docs:
                seen.update(src.values(d))
            count = len(seen)
        return {"value": count}, {"value": float(count)}
    src = _Source(spec, ctx, "numeric")
    values = [v for d in docs for v in src.numbers(d)]
    count = len(values)
    total = _Kahan()
    for v in values:
        total.add(v)
    lo = min(values) if values else math.inf
    hi = max(values) if values else -math.inf
    if t == "avg":
        avg = total.value / count if count else math.nan
        out: dict[str, Any] = {"value": avg if count else None}
        if count and src.format is not None:
            out["value_as_string"] = src.format_number(avg)
        return out, {"value": avg}
    if t == "sum":
        out = {"value": total.value}
        if src.format is not None:
            out["value_as_string"] = src.format_number(total.value)
        return out, {"value": total.value}
    if t in ("min", "max"):
        v = lo if t == "min" else hi
        out = {"value": v if count else None}
        if count and src.format is not None:
            out["value_as_string"] = src.format_number(v)
        return out, {"value": v}
    # stats
    avg = total.value / count if count else math.nan
    if count:
        out = {"count": count, "min": lo, "max": hi, "avg": avg, "sum": total.value}
        if src.format is not None:
            out.update({
                "min_as_string": src.format_number(lo),
                "max_as_string": src.format_number(hi),
                "avg_as_string": src.format_number(avg),
                "sum_as_string": src.format_number(total.value),
            })
    else:
        out = {"count": 0, "min": None, "max": None, "avg": None, "sum": 0.0}
    return out, {"count": float(count), "min": lo, "max": hi, "avg": avg, "sum": total.value}


# --------------------------------------------------------------------------- bucket helpers


@dataclass
class _Bucket:
    key: Any
    docs: list[dict]
    doc_count: int
    sub_json: dict = field(default_factory=dict)
    sub_sort: dict[str, dict[str, float]] = field(default_factory=dict)


def _run_subs(bucket: _Bucket, subs: list[_Spec], ctx: _Ctx) -> None:
    bucket.sub_json, bucket.sub_sort = _run_level(subs, bucket.docs, ctx)


def _double_compare(a: float, b: float) -> int:
    """`Double.compare`: NaN is greater than everything, -0.0 < 0.0."""
    a_nan, b_nan = math.isnan(a), math.isnan(b)
    if a_nan or b_nan:
        return (a_nan > b_nan) - (a_nan < b_nan)
    if a < b:
        return -1
    if a > b:
        return 1
    sa, sb = math.copysign(1.0, a), math.copysign(1.0, b)
    return (sa > sb) - (sa < sb)


def _key_compare(a: Any, b: Any) -> int:
    return (a > b) - (a < b)


def _validate_orders(spec: _Spec) -> list[_Order]:
    subs = {s.name: s for s in spec.subs}
    for order in spec.orders:
        if order.kind != "agg":
            continue
        sub = subs.get(order.agg)
        if sub is None:
            raise AggregationError(
                f"Invalid aggregation order path [{order.path}]. The provided aggregation [{order.agg}] either does not "
                "exist, or is a pipeline aggregation and cannot be used to sort the buckets.",
                "aggregation_execution_exception",
            )
        if sub.type not in _METRICS:
            raise UnsupportedAggregation(f"ordering by the bucket sub-aggregation [{order.agg}]")
        if sub.type == "stats":
            if order.prop not in ("count", "min", "max", "avg", "sum"):
                raise AggregationError(
                    f"Invalid aggregation order path [{order.path}]. "
                    + (f"Unknown value key [{order.prop}] for multi-value metric aggregation [{order.agg}]"
                       if order.prop else
                       f"Buckets can only be sorted on a sub-aggregator path that is built out of zero or more "
                       f"single-bucket aggregations within the path and a final single-bucket or a metrics "
                       f"aggregation at the path end. [{order.agg}] is a multi-value metrics aggregation"),
                    "aggregation_execution_exception",
                )
        elif order.prop not in (None, "value"):
            raise AggregationError(
                f"Invalid aggregation order path [{order.path}]. Unknown value key [{order.prop}] for single-value metric "
                f"aggregation [{order.agg}]. Either use [value] as key or drop the key all together",
                "aggregation_execution_exception",
            )
    orders = list(spec.orders)
    if (len(orders) > 1 or (orders and orders[0].kind != "_key")) and orders[-1].kind != "_key":
        orders.append(_Order("_key", True))
    return orders


def _comparator(orders: list[_Order]) -> Callable[[_Bucket, _Bucket], int]:
    def compare(a: _Bucket, b: _Bucket) -> int:
        for order in orders:
            if order.kind == "_count":
                c = (a.doc_count > b.doc_count) - (a.doc_count < b.doc_count)
            elif order.kind == "_key":
                c = _key_compare(a.key, b.key)
            else:
                prop = order.prop or "value"
                c = _double_compare(a.sub_sort[order.agg][prop], b.sub_sort[order.agg][prop])
            if c:
                return c if order.asc else -c
        return 0

    return compare


def _bucket_json(bucket: _Bucket, head: dict) -> dict:
    out = dict(head)
    out["doc_count"] = bucket.doc_count
    out.update(bucket.sub_json)
    return out


def _int_param(spec: _Spec, name: str, default: int) -> int:
    raw = spec.body.get(name, default)
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise _wrong_type(spec.type, name, raw)
    try:
        value = float(raw) if not isinstance(raw, int) else raw
        return int(value)
    except (ValueError, OverflowError):
        raise _failed_field(spec.type, name, f'For input string: "{raw}"', "number_format_exception") from None


# --------------------------------------------------------------------------- terms


def _terms(spec: _Spec, docs: list[dict], ctx: _Ctx) -> dict:
    size = _int_param(spec, "size", 10)
    if size <= 0:
        raise _failed_field("terms", "size", f"[size] must be greater than 0. Found [{size}] in [{spec.name}]")
    shard_size = _int_param(spec, "shard_size", -1)
    if "shard_size" in spec.body and shard_size <= 0:
        raise _failed_field("terms", "shard_size",
                            f"[shardSize] must be greater than 0. Found [{shard_size}] in [{spec.name}]")
    min_doc_count = _int_param(spec, "min_doc_count", 1)
    if min_doc_count < 0:
        raise _failed_field("terms", "min_doc_count",
                            f"[minDocCount] must be greater than or equal to 0. Found [{min_doc_count}] in [{spec.name}]")
    shard_min = _int_param(spec, "shard_min_doc_count", 0)
    if shard_min < 0:
        raise _failed_field("terms", "shard_min_doc_count",
                            f"[shardMinDocCount] must be greater than or equal to 0. Found [{shard_min}] in [{spec.name}]")
    show_error = bool(spec.body.get("show_term_doc_count_error", False))
    orders = _validate_orders(spec) if spec.orders else [_Order("_count", False), _Order("_key", True)]
    src = _Source(spec, ctx, "terms")

    groups: dict[Any, list[dict]] = {}
    for doc in docs:
        for value in dict.fromkeys(src.values(doc)):
            groups.setdefault(value, []).append(doc)
    if min_doc_count == 0 and src.kind != "unmapped":
        if ctx.all_docs is None:
            raise UnsupportedAggregation("[min_doc_count: 0] on terms without the index's documents (all_docs)")
        for doc in ctx.all_docs:
            for value in src.values(doc):
                groups.setdefault(value, [])
    buckets = [_Bucket(k, v, len(v)) for k, v in groups.items()]
    needs_subs_to_order = any(order.kind == "agg" for order in orders)
    if needs_subs_to_order:
        for bucket in buckets:
            _run_subs(bucket, spec.subs, ctx)

    key_order = len(orders) == 1 and orders[0].kind == "_key"
    if shard_size < 0:
        shard_size = size if key_order else min(int(size * 1.5 + 10), 2**31 - 1)
    shard_size = max(shard_size, size)
    compare = functools.cmp_to_key(_comparator(orders))
    total = sum(b.doc_count for b in buckets)
    eligible = sorted((b for b in buckets if b.doc_count >= shard_min), key=compare)
    shard_top = eligible[:shard_size]
    other = total - sum(b.doc_count for b in shard_top)
    kept = [b for b in shard_top if b.doc_count >= min_doc_count]
    final, overflow = kept[:size], kept[size:]
    other += sum(b.doc_count for b in overflow)
    ctx.consume(len(final))
    if not needs_subs_to_order:
        for bucket in final:
            _run_subs(bucket, spec.subs, ctx)

    out_buckets = []
    for bucket in final:
        key = bucket.key
        if src.kind == "boolean":
            head: dict[str, Any] = {"key": 1 if key else 0, "key_as_string": "true" if key else "false"}
        elif src.kind == "date":
            head = {"key": key, "key_as_string": src.format_number(key)}
        else:
            head = {"key": key}
        out = {**head, "doc_count": bucket.doc_count}
        if show_error:
            out["doc_count_error_upper_bound"] = 0
        out.update(bucket.sub_json)
        out_buckets.append(out)
    return {"doc_count_error_upper_bound": 0, "sum_other_doc_count": other, "buckets": out_buckets}


# --------------------------------------------------------------------------- histogram


def _number_param(spec: _Spec, name: str, default: float | None) -> float | None:
    if name not in spec.body:
        return default
    raw = spec.body[name]
    if isinstance(raw, bool) or raw is None or not isinstance(raw, (int, float, str)):
        raise _wrong_type(spec.type, name, raw)
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise _failed_field(spec.type, name, f'For input string: "{raw}"', "number_format_exception")
    return value


def _histogram_orders(spec: _Spec) -> list[_Order]:
    if not spec.orders:
        return [_Order("_key", True)]
    return _validate_orders(spec)


def _histogram(spec: _Spec, docs: list[dict], ctx: _Ctx) -> dict:
    interval = _number_param(spec, "interval", None)
    message = f"[interval] must be >0 for histogram aggregation [{spec.name}]"
    if interval is None:
        raise AggregationError(message)
    if not interval > 0:
        raise _failed_field("histogram", "interval", message)
    offset = _number_param(spec, "offset", 0.0) or 0.0
    min_doc_count = _int_param(spec, "min_doc_count", 0)
    if min_doc_count < 0:
        raise _failed_field("histogram", "min_doc_count",
                            f"[minDocCount] must be greater than or equal to 0. Found [{min_doc_count}] in [{spec.name}]")
    min_bound, max_bound = math.inf, -math.inf
    if "extended_bounds" in spec.body:
        eb = spec.body["extended_bounds"]
        if not isinstance(eb, dict) or set(eb) - {"min", "max"}:
            raise _failed_field("histogram", "extended_bounds", "[extended_bounds] must be an object with [min] and [max]")
        lo = eb.get("min", math.inf)
        hi = eb.get("max", -math.inf)
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (lo, hi)):
            raise UnsupportedAggregation("non-numeric [extended_bounds] on a histogram")
        if not math.isfinite(lo):
            raise _failed_field("histogram", "extended_bounds", f"minBound must be finite, got: {java_double(float(lo))}")
        if not math.isfinite(hi):
            raise _failed_field("histogram", "extended_bounds", f"maxBound must be finite, got: {java_double(float(hi))}")
        if hi < lo:
            raise _failed_field("histogram", "extended_bounds",
                                f"maxBound [{java_double(float(hi))}] must be greater than minBound [{java_double(float(lo))}]")
        min_bound, max_bound = float(lo), float(hi)
    orders = _histogram_orders(spec)
    src = _Source(spec, ctx, "histogram")

    def round_key(v: float) -> float:
        return math.floor((v - offset) / interval) * interval + offset

    def next_key(k: float) -> float:
        return round_key(k + interval + interval / 2)

    groups: dict[float, list[dict]] = {}
    for doc in docs:
        for key in dict.fromkeys(round_key(v) for v in src.numbers(doc)):
            groups.setdefault(key, []).append(doc)
    keys = sorted(k for k, g in groups.items() if len(g) >= max(min_doc_count, 1))
    if min_doc_count == 0:
        filled: list[float] = []
        if not keys:
            k = round_key(min_bound) if math.isfinite(min_bound) else math.inf
            while k <= max_bound:
                filled.append(k)
                _guard(filled, ctx)
                k = next_key(k)
        else:
            if math.isfinite(min_bound):
                k = round_key(min_bound)
                while k < keys[0]:
                    filled.append(k)
                    _guard(filled, ctx)
                    k = next_key(k)
            for i, key in enumerate(keys):
                filled.append(key)
                if i + 1 < len(keys):
                    k = next_key(key)
                    while k < keys[i + 1]:
                        filled.append(k)
                        _guard(filled, ctx)
                        k = next_key(k)
            k = next_key(keys[-1])
            while k <= max_bound:
                filled.append(k)
                _guard(filled, ctx)
                k = next_key(k)
        keys = filled
    buckets = [_Bucket(k, groups.get(k, []), len(groups.get(k, []))) for k in keys]
    return _emit_histogram(spec, buckets, orders, ctx, lambda b: {"key": b.key})


def _guard(keys: list, ctx: _Ctx) -> None:
    if ctx.buckets + len(keys) > MAX_BUCKETS:
        ctx.consume(len(keys))


def _emit_histogram(spec: _Spec, buckets: list[_Bucket], orders: list[_Order], ctx: _Ctx,
                    head: Callable[[_Bucket], dict]) -> dict:
    ctx.consume(len(buckets))
    for bucket in buckets:
        _run_subs(bucket, spec.subs, ctx)
    if not (len(orders) == 1 and orders[0].kind == "_key" and orders[0].asc):
        buckets = sorted(buckets, key=functools.cmp_to_key(_comparator(orders)))
    return {"buckets": [_bucket_json(b, head(b)) for b in buckets]}


# --------------------------------------------------------------------------- date_histogram


def _days_from_civil(y: int, m: int, d: int) -> int:
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468


def _civil_from_days(z: int) -> tuple[int, int, int]:
    z += 719468
    era = (z if z >= 0 else z - 146096) // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return y + (m <= 2), m, d


class _Rounding:
    """Rounding.Builder for a calendar unit or a fixed interval, UTC, with an offset."""

    def __init__(self, unit: str | None, fixed_ms: int | None, offset: int) -> None:
        self.unit, self.fixed, self.offset = unit, fixed_ms, offset

    def _round(self, t: int) -> int:
        if self.fixed is not None:
            return (t // self.fixed) * self.fixed
        unit = self.unit
        if unit in ("second", "minute", "hour", "day"):
            size = {"second": 1000, "minute": 60_000, "hour": 3_600_000, "day": _DAY}[unit]
            return (t // size) * size
        days = t // _DAY
        if unit == "week":
            return (days - (days + 3) % 7) * _DAY  # ISO weeks start on Monday; 1970-01-01 was a Thursday
        y, m, _d = _civil_from_days(days)
        if unit == "quarter":
            m = (m - 1) // 3 * 3 + 1
        elif unit == "year":
            m = 1
        return _days_from_civil(y, m, 1) * _DAY

    def _next(self, t: int) -> int:
        """The next rounded value after the rounded `t` (no offset)."""
        if self.fixed is not None:
            return t + self.fixed
        unit = self.unit
        if unit in ("second", "minute", "hour", "day", "week"):
            return t + {"second": 1000, "minute": 60_000, "hour": 3_600_000, "day": _DAY, "week": 7 * _DAY}[unit]
        y, m, _d = _civil_from_days(t // _DAY)
        months = {"month": 1, "quarter": 3, "year": 12}[unit or "month"]
        total = y * 12 + (m - 1) + months
        return _days_from_civil(total // 12, total % 12 + 1, 1) * _DAY

    def round(self, t: int) -> int:
        return self._round(t - self.offset) + self.offset

    def next_key(self, key: int) -> int:
        return self._next(key - self.offset) + self.offset

    def round_without_offset(self, t: int) -> int:
        return self._round(t)


def _time_value_ms(text: str, setting: str) -> float:
    m = re.fullmatch(r"\s*(-?\d+)\s*(nanos|micros|ms|s|m|h|d)\s*", text)
    if not m:
        raise ValueError(f"failed to parse setting [{setting}] with value [{text}] as a time value: unit is missing or "
                         "unrecognized")
    return int(m.group(1)) * _FIXED_UNITS[m.group(2)]


def _date_offset(spec: _Spec) -> int:
    raw = spec.body.get("offset", 0)
    if isinstance(raw, bool) or raw is None:
        raise _failed_field("date_histogram", "offset", "[offset] must be a number or a time value")
    if isinstance(raw, (int, float)):
        if not math.isfinite(raw):
            raise _failed_field("date_histogram", "offset", f'For input string: "{raw}"', "number_format_exception")
        return int(raw)
    text = str(raw).strip()
    sign = -1 if text.startswith("-") else 1
    body = text[1:] if text[:1] in "+-" else text
    try:
        return sign * int(_time_value_ms(body, "date_histogram.offset"))
    except ValueError as exc:
        raise _failed_field("date_histogram", "offset", str(exc), "parse_exception") from None


def _date_rounding(spec: _Spec) -> _Rounding:
    unit: str | None = None
    fixed: int | None = None
    seen: str | None = None
    for key in spec.body:
        if key not in ("calendar_interval", "fixed_interval"):
            continue
        raw = spec.body[key]
        if seen is not None:
            raise _failed_field("date_histogram", key, f"Cannot use [{key}] with [{seen}] configuration option.")
        seen = key
        if not isinstance(raw, str) or not raw:
            raise _failed_field("date_histogram", key, "[interval] must not be null: [date_histogram]")
        if key == "calendar_interval":
            if raw not in _CALENDAR_UNITS:
                raise _failed_field("date_histogram", key,
                                    f"The supplied interval [{raw}] could not be parsed as a calendar interval.")
            unit = _CALENDAR_UNITS[raw]
        else:
            try:
                ms = _time_value_ms(raw, "date_histogram.fixedInterval")
            except ValueError as exc:
                raise _failed_field("date_histogram", key, str(exc), "parse_exception") from None
            if ms <= 0:
                raise AggregationError("Zero or negative time interval not supported")
            if ms != int(ms):
                raise UnsupportedAggregation("sub-millisecond [fixed_interval] values")
            fixed = int(ms)
    if seen is None:
        raise AggregationError("Invalid interval specified, must be non-null and non-empty")
    return _Rounding(unit, fixed, _date_offset(spec))


def _date_histogram(spec: _Spec, docs: list[dict], ctx: _Ctx) -> dict:
    zone = spec.body.get("time_zone")
    if zone is not None and zone not in _UTC_ZONES:
        raise UnsupportedAggregation(f"[time_zone] [{zone}] (only UTC)")
    rounding = _date_rounding(spec)
    min_doc_count = _int_param(spec, "min_doc_count", 0)
    if min_doc_count < 0:
        raise _failed_field("date_histogram", "min_doc_count",
                            f"[minDocCount] must be greater than or equal to 0. Found [{min_doc_count}] in [{spec.name}]")
    orders = _histogram_orders(spec)
    src = _Source(spec, ctx, "date_histogram")
    fmt = src.format if src.format is not None else ctx.date_format(src.field)
    bounds: tuple[int | None, int | None] | None = None
    if "extended_bounds" in spec.body:
        eb = spec.body["extended_bounds"]
        if not isinstance(eb, dict) or set(eb) - {"min", "max"}:
            raise _failed_field("date_histogram", "extended_bounds", "[extended_bounds] must be an object with [min] and [max]")
        parsed: list[int | None] = []
        for k in ("min", "max"):
            if k not in eb or eb[k] is None:
                parsed.append(None)
                continue
            try:
                parsed.append(fmt.parse(eb[k]))
            except EsError as exc:
                raise AggregationError(exc.reason, exc.type, caused_by=exc.caused_by) from None
        lo, hi = parsed
        if lo is not None and hi is not None and lo > hi:
            raise AggregationError(f"[extended_bounds.min][{lo}] cannot be greater than [extended_bounds.max][{hi}] for "
                                   f"histogram aggregation [{spec.name}]")
        bounds = (
            None if lo is None else rounding.round_without_offset(lo),
            None if hi is None else rounding.round_without_offset(hi),
        )
    groups: dict[int, list[dict]] = {}
    for doc in docs:
        for key in dict.fromkeys(rounding.round(int(v)) for v in src.values(doc)):
            groups.setdefault(key, []).append(doc)
    keys = sorted(k for k, g in groups.items() if len(g) >= max(min_doc_count, 1))
    if min_doc_count == 0:
        filled: list[int] = []
        lo_b = bounds[0] if bounds else None
        hi_b = bounds[1] if bounds else None
        if not keys:
            if lo_b is not None and hi_b is not None:
                k, top = lo_b + rounding.offset, hi_b + rounding.offset
                while k <= top:
                    filled.append(k)
                    _guard(filled, ctx)
                    k = rounding.next_key(k)
        else:
            if lo_b is not None:
                k = lo_b + rounding.offset
                while k < keys[0]:
                    filled.append(k)
                    _guard(filled, ctx)
                    k = rounding.next_key(k)
            for i, key in enumerate(keys):
                filled.append(key)
                if i + 1 < len(keys):
                    k = rounding.next_key(key)
                    while k < keys[i + 1]:
                        filled.append(k)
                        _guard(filled, ctx)
                        k = rounding.next_key(k)
            if hi_b is not None and hi_b + rounding.offset > keys[-1]:
                k, top = rounding.next_key(keys[-1]), hi_b + rounding.offset
                while k <= top:
                    filled.append(k)
                    _guard(filled, ctx)
                    k = rounding.next_key(k)
        keys = filled
    buckets = [_Bucket(k, groups.get(k, []), len(groups.get(k, []))) for k in keys]
    return _emit_histogram(spec, buckets, orders, ctx,
                           lambda b: {"key_as_string": _format_date(fmt, b.key), "key": b.key})


# --------------------------------------------------------------------------- range


def _range(spec: _Spec, docs: list[dict], ctx: _Ctx) -> dict:
    raw_ranges = spec.body.get("ranges")
    if raw_ranges is None or (isinstance(raw_ranges, list) and not raw_ranges):
        raise AggregationError(f"No [ranges] specified for the [{spec.name}] aggregation")
    if not isinstance(raw_ranges, list) or not all(isinstance(r, dict) for r in raw_ranges):
        raise _failed_field("range", "ranges", "[ranges] must be an array of objects")
    keyed = bool(spec.body.get("keyed", False))
    src = _Source(spec, ctx, "range")
    ranges = []
    for r in raw_ranges:
        unknown = set(r) - {"key", "from", "to"}
        if unknown:
            raise AggregationError(f"[range] unknown field [{min(unknown)}]", "x_content_parse_exception")
        bounds = []
        for name, default in (("from", -math.inf), ("to", math.inf)):
            v = r.get(name)
            if v is None:
                bounds.append(default)
            elif isinstance(v, bool):
                raise _failed_field("range", "ranges", f"[range] {name} doesn't support values of type: VALUE_BOOLEAN")
            elif isinstance(v, (int, float)):
                bounds.append(float(v))
            else:
                bounds.append(_parse_double(str(v)))
        key = r.get("key")
        ranges.append((bounds[0], bounds[1], None if key is None else _java_text(key)))
    ranges.sort(key=functools.cmp_to_key(lambda a, b: _double_compare(a[0], b[0]) or _double_compare(a[1], b[1])))
    ftype = src.ftype or "double"
    buckets = []
    for lo, hi, key in ranges:
        match_lo, match_hi = _round_float(ftype, lo), _round_float(ftype, hi)
        members = [d for d in docs if any(match_lo <= v < match_hi for v in src.numbers(d))]
        b = _Bucket(key, members, len(members))
        buckets.append((lo, hi, b))
    ctx.consume(len(buckets))
    out_list = []
    out_keyed: dict[str, Any] = {}
    for lo, hi, b in buckets:
        _run_subs(b, spec.subs, ctx)
        key = b.key if b.key is not None else (
            ("*" if math.isinf(lo) else java_double(lo)) + "-" + ("*" if math.isinf(hi) else java_double(hi))
        )
        head: dict[str, Any] = {} if keyed else {"key": key}
        if not math.isinf(lo):
            head["from"] = lo
        if not math.isinf(hi):
            head["to"] = hi
        body = _bucket_json(b, head)
        if keyed:
            out_keyed[key] = body
        else:
            out_list.append(body)
    return {"buckets": out_keyed if keyed else out_list}


# --------------------------------------------------------------------------- driver

_RUNNERS: dict[str, Callable[[_Spec, list[dict], _Ctx], dict]] = {
    "terms": _terms,
    "histogram": _histogram,
    "date_histogram": _date_histogram,
    "range": _range,
}


def _run_level(specs: list[_Spec], docs: list[dict], ctx: _Ctx) -> tuple[dict, dict[str, dict[str, float]]]:
    out: dict[str, Any] = {}
    sort_values: dict[str, dict[str, float]] = {}
    for spec in specs:
        if spec.type in _METRICS:
            body, sort_values[spec.name] = _metric(spec, docs, ctx)
        else:
            body = _RUNNERS[spec.type](spec, docs, ctx)
        out[spec.name] = {"meta": spec.meta, **body} if spec.meta is not None else body
    return out, sort_values


def run_aggregations(
    aggs: dict,
    docs: list[dict],
    mapping: Any,
    *,
    index: str = "",
    all_docs: list[dict] | None = None,
) -> dict:
    """The `aggregations` object of a search response for `aggs` over the matching `docs`."""
    specs = _parse_aggs(aggs, None)
    _validate(specs, _Ctx(mapping, index, None if all_docs is None else []))
    ctx = _Ctx(mapping, index, all_docs)
    out, _ = _run_level(specs, list(docs), ctx)
    return out


def _validate(specs: list[_Spec], ctx: _Ctx) -> None:
    """Build every aggregation once over no documents, so that bad parameters, field types and
    order paths fail as in Elasticsearch (at parse / aggregator creation), not only when a
    bucket happens to hold documents."""
    for spec in specs:
        ctx.buckets = 0
        if spec.type in _METRICS:
            _metric(spec, [], ctx)
        else:
            _RUNNERS[spec.type](spec, [], ctx)
        _validate(spec.subs, ctx)
