"""The double's aggregations against Elasticsearch 9 behaviour.

Each test names the elastic/elasticsearch YAML REST test (under
rest-api-spec/src/yamlRestTest/resources/rest-api-spec/test/search.aggregation/) or source file
it mirrors; expected values are quoted from those tests or computed by hand.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.es_double.aggs import (
    AggregationError,
    UnsupportedAggregation,
    run_aggregations,
)

DAY = 86_400_000


class Mapping:
    """The slice of the server's mapping object that aggregations use."""

    def __init__(self, types: dict[str, str], formats: dict[str, str] | None = None) -> None:
        self.types = types
        self.formats = formats or {}

    def field_type(self, path: str) -> str | None:
        return self.types.get(path)

    def doc_values(self, source: dict, path: str) -> list:
        value = source.get(path)
        if value is None:
            return []
        return list(value) if isinstance(value, list) else [value]

    def date_format(self, path: str) -> str | None:
        return self.formats.get(path)


TYPES = {
    "str": "keyword",
    "boolean": "boolean",
    "integer": "long",
    "double": "double",
    "number": "long",
    "date": "date",
    "title": "text",
    "rating": "float",
    "int_field": "integer",
    "double_field": "double",
    "string_field": "keyword",
}
M = Mapping(TYPES)


def aggs(request: dict, docs: list[dict], mapping: Any = M, **kwargs: Any) -> dict:
    return run_aggregations(request, docs, mapping, index="test_1", **kwargs)


def fails(request: dict, docs: list[dict] | None = None, **kwargs: Any) -> AggregationError:
    with pytest.raises(AggregationError) as info:
        aggs(request, docs or [], **kwargs)
    return info.value


# ----------------------------------------------------------------------------- terms


def test_terms_basic_keyword() -> None:
    """20_terms.yml "Basic test": abc 2, bcd 1, no key_as_string."""
    out = aggs({"str_terms": {"terms": {"field": "str"}}}, [{"str": "abc"}, {"str": "abc"}, {"str": "bcd"}])
    assert out == {"str_terms": {"doc_count_error_upper_bound": 0, "sum_other_doc_count": 0, "buckets": [
        {"key": "abc", "doc_count": 2}, {"key": "bcd", "doc_count": 1}]}}


def test_terms_boolean_keys() -> None:
    """20_terms.yml "Boolean test": key 1 / "true" (2 docs), key 0 / "false" (1 doc)."""
    out = aggs({"b": {"terms": {"field": "boolean"}}}, [{"boolean": True}, {"boolean": False}, {"boolean": True}])
    assert out["b"]["buckets"] == [{"key": 1, "key_as_string": "true", "doc_count": 2},
                                   {"key": 0, "key_as_string": "false", "doc_count": 1}]


def test_terms_numeric_and_date_keys() -> None:
    """20_terms.yml "Integer test", "Double test", "Date test": numeric keys stay numbers; date keys
    are epoch millis with key_as_string 2016-05-03T00:00:00.000Z."""
    ints = aggs({"t": {"terms": {"field": "integer"}}}, [{"integer": 1234}, {"integer": 5678}, {"integer": 1234}])
    assert ints["t"]["buckets"] == [{"key": 1234, "doc_count": 2}, {"key": 5678, "doc_count": 1}]
    assert isinstance(ints["t"]["buckets"][0]["key"], int)
    dbl = aggs({"t": {"terms": {"field": "double"}}}, [{"double": 1234.5}, {"double": 5678.5}, {"double": 1234.5}])
    assert dbl["t"]["buckets"] == [{"key": 1234.5, "doc_count": 2}, {"key": 5678.5, "doc_count": 1}]
    dates = aggs({"t": {"terms": {"field": "date"}}},
                 [{"date": 1462233600000}, {"date": 1409529600000}, {"date": 1462233600000}])
    assert dates["t"]["buckets"] == [
        {"key": 1462233600000, "key_as_string": "2016-05-03T00:00:00.000Z", "doc_count": 2},
        {"key": 1409529600000, "key_as_string": "2014-09-01T00:00:00.000Z", "doc_count": 1},
    ]


def test_terms_float_field_keys_are_float32_values() -> None:
    """NumberFieldMapper float: doc values are float32, so 3.7 comes back as 3.700000047683716."""
    out = aggs({"t": {"terms": {"field": "rating"}}}, [{"rating": 3.7}, {"rating": 4.5}])
    assert [b["key"] for b in out["t"]["buckets"]] == [3.700000047683716, 4.5]


def test_terms_default_order_breaks_count_ties_by_key() -> None:
    """TermsAggregationBuilder: default order is _count desc with a _key asc tie-breaker."""
    docs = [{"str": s} for s in ["pear", "apple", "fig", "pear", "apple", "kiwi", "fig", "apple"]]
    out = aggs({"t": {"terms": {"field": "str"}}}, docs)
    assert [(b["key"], b["doc_count"]) for b in out["t"]["buckets"]] == [
        ("apple", 3), ("fig", 2), ("pear", 2), ("kiwi", 1)]
    by_key = aggs({"t": {"terms": {"field": "str", "order": {"_key": "desc"}}}}, docs)
    assert [b["key"] for b in by_key["t"]["buckets"]] == ["pear", "kiwi", "fig", "apple"]
    asc = aggs({"t": {"terms": {"field": "str", "order": [{"_count": "asc"}]}}}, docs)
    assert [b["key"] for b in asc["t"]["buckets"]] == ["kiwi", "fig", "pear", "apple"]


def test_terms_size_and_sum_other_doc_count() -> None:
    """20_terms.yml "precise size" data; sum_other_doc_count counts the documents of the terms left out."""
    docs = [{"str": s} for s in "abcbcc"]
    out = aggs({"t": {"terms": {"field": "str", "size": 1}}}, docs)
    assert out["t"]["buckets"] == [{"key": "c", "doc_count": 3}]
    assert out["t"]["sum_other_doc_count"] == 3
    ordered = aggs({"t": {"terms": {"field": "str", "size": 2, "order": [{"_key": "asc"}]}}},
                   [d for d in docs if d["str"] in "bc"])
    assert ordered["t"]["buckets"] == [{"key": "b", "doc_count": 2}, {"key": "c", "doc_count": 3}]


def test_terms_order_by_sub_aggregation() -> None:
    """20_terms.yml "order by sub agg": size 1 ordered by max_number desc -> cow (7.0)."""
    docs = [{"str": "sheep", "number": 1}, {"str": "sheep", "number": 3}, {"str": "cow", "number": 7},
            {"str": "pig", "number": 1}]
    request = {"str_terms": {"terms": {"size": 1, "shard_size": 1, "field": "str", "order": [{"max_number": "desc"}]},
                             "aggs": {"max_number": {"max": {"field": "number"}}}}}
    out = aggs(request, docs)
    assert out["str_terms"]["buckets"] == [{"key": "cow", "doc_count": 1, "max_number": {"value": 7.0}}]


def test_terms_min_doc_count() -> None:
    """20_terms.yml "min_doc_count": query matches sheep/cow docs; min 2 -> sheep only; min 0 lists
    pig with doc_count 0 and a null max."""
    index = [{"str": "sheep", "number": 1}, {"str": "sheep", "number": 3}, {"str": "cow", "number": 1},
             {"str": "pig", "number": 1}]
    matching = index[:3]
    sub = {"max_number": {"max": {"field": "number"}}}
    two = aggs({"t": {"terms": {"field": "str", "min_doc_count": 2}, "aggs": sub}}, matching)
    assert two["t"]["buckets"] == [{"key": "sheep", "doc_count": 2, "max_number": {"value": 3.0}}]
    zero = aggs({"t": {"terms": {"field": "str", "min_doc_count": 0}, "aggs": sub}}, matching, all_docs=index)
    assert zero["t"]["buckets"] == [
        {"key": "sheep", "doc_count": 2, "max_number": {"value": 3.0}},
        {"key": "cow", "doc_count": 1, "max_number": {"value": 1.0}},
        {"key": "pig", "doc_count": 0, "max_number": {"value": None}},
    ]


def test_terms_missing_and_unmapped() -> None:
    """20_terms.yml "Unmapped strings": unmapped field with missing "abc" -> one bucket; an
    unmapped field without missing -> no buckets."""
    assert aggs({"t": {"terms": {"field": "nope", "missing": "abc"}}}, [{}])["t"]["buckets"] == [
        {"key": "abc", "doc_count": 1}]
    assert aggs({"t": {"terms": {"field": "nope"}}}, [{}]) == {
        "t": {"doc_count_error_upper_bound": 0, "sum_other_doc_count": 0, "buckets": []}}
    out = aggs({"t": {"terms": {"field": "str", "missing": "N/A"}}}, [{"str": "x"}, {}])
    assert out["t"]["buckets"] == [{"key": "N/A", "doc_count": 1}, {"key": "x", "doc_count": 1}]


def test_terms_on_text_field_is_fielddata_error() -> None:
    """TextFieldMapper.fielddataBuilder: the full "Fielddata is disabled on [x] in [idx]" message."""
    err = fails({"t": {"terms": {"field": "title"}}})
    assert (err.status, err.es_type) == (400, "illegal_argument_exception")
    assert err.message == (
        "Fielddata is disabled on [title] in [test_1]. Text fields are not optimised for operations that require "
        "per-document field data like aggregations and sorting, so these operations are disabled by default. Please "
        "use a keyword field instead. Alternatively, set fielddata=true on [title] in order to load field data by "
        "uninverting the inverted index. Note that this can use significant memory."
    )


def test_terms_parameter_errors() -> None:
    """TermsAggregationBuilder setters, wrapped by the object parser ("failed to parse field [size]");
    20_terms.yml "No field or script"; unknown order path (AggregationExecutionException text)."""
    err = fails({"t": {"terms": {"field": "str", "size": 0}}})
    assert (err.es_type, err.message) == ("x_content_parse_exception", "[terms] failed to parse field [size]")
    assert err.caused_by is not None and err.caused_by.reason == "[size] must be greater than 0. Found [0] in [t]"
    assert fails({"t": {"terms": {"size": 1}}}).message == "Required one of fields [field, script], but none were specified."
    err = fails({"t": {"terms": {"field": "str", "order": {"nope": "desc"}}}})
    assert err.es_type == "aggregation_execution_exception"
    assert err.message == ("Invalid aggregation order path [nope]. The provided aggregation [nope] either does not exist, "
                           "or is a pipeline aggregation and cannot be used to sort the buckets.")
    assert fails({"t": {"terms": {"field": "str", "sise": 3}}}).message == "[terms] unknown field [sise] did you mean [size]?"


# ----------------------------------------------------------------------------- metrics


STATS_DOCS = [{"int_field": v, "double_field": float(v), "string_field": "foo"} for v in (1, 51, 101, 151)]


def test_avg_and_stats() -> None:
    """100_avg_metric.yml / 150_stats_metric.yml: avg 76.0, min 1.0, max 151.0, sum 304.0, count 4."""
    out = aggs({"a": {"avg": {"field": "int_field"}}, "s": {"stats": {"field": "double_field"}},
                "mn": {"min": {"field": "int_field"}}, "mx": {"max": {"field": "int_field"}},
                "sm": {"sum": {"field": "int_field"}}, "vc": {"value_count": {"field": "string_field"}},
                "cd": {"cardinality": {"field": "int_field"}}}, STATS_DOCS)
    assert out == {
        "a": {"value": 76.0},
        "s": {"count": 4, "min": 1.0, "max": 151.0, "avg": 76.0, "sum": 304.0},
        "mn": {"value": 1.0},
        "mx": {"value": 151.0},
        "sm": {"value": 304.0},
        "vc": {"value": 4},
        "cd": {"value": 4},
    }


def test_metrics_on_empty_sets() -> None:
    """100_avg_metric.yml "Missing field without missing param" and InternalStats/InternalMin/
    InternalSum: avg/min/max null, sum 0.0, value_count/cardinality 0, stats with nulls."""
    out = aggs({"a": {"avg": {"field": "foo"}}, "mn": {"min": {"field": "int_field"}}, "mx": {"max": {"field": "foo"}},
                "sm": {"sum": {"field": "foo"}}, "vc": {"value_count": {"field": "foo"}},
                "cd": {"cardinality": {"field": "str"}}, "s": {"stats": {"field": "foo"}}}, [{}, {}])
    assert out == {
        "a": {"value": None}, "mn": {"value": None}, "mx": {"value": None}, "sm": {"value": 0.0},
        "vc": {"value": 0}, "cd": {"value": 0},
        "s": {"count": 0, "min": None, "max": None, "avg": None, "sum": 0.0},
    }


def test_metrics_missing_param() -> None:
    """150_stats_metric.yml "Missing field with missing param": missing 1 on 4 docs -> count 4, sum 4.0."""
    out = aggs({"s": {"stats": {"field": "foo", "missing": 1}}, "a": {"avg": {"field": "foo", "missing": 1}}}, STATS_DOCS)
    assert out == {"s": {"count": 4, "min": 1.0, "max": 1.0, "avg": 1.0, "sum": 4.0}, "a": {"value": 1.0}}


def test_metric_on_keyword_is_rejected() -> None:
    """100_avg_metric.yml "Aggregating wrong datatype test": 400, ValuesSourceRegistry message."""
    err = fails({"a": {"avg": {"field": "string_field"}}})
    assert (err.status, err.message) == (400, "Field [string_field] of type [keyword] is not supported for aggregation [avg]")


def test_sum_uses_compensated_summation() -> None:
    """SumAggregator / CompensatedSum: ten 0.1 sum to exactly 1.0 (naive addition gives 0.9999999999999999)."""
    assert aggs({"s": {"sum": {"field": "double"}}}, [{"double": 0.1}] * 10)["s"]["value"] == 1.0


def test_date_metrics_have_value_as_string() -> None:
    """InternalMin / InternalStats: a date field's format adds *_as_string."""
    out = aggs({"m": {"min": {"field": "date"}}}, [{"date": 1462233600000}, {"date": 1462233600000 + DAY}])
    assert out["m"] == {"value": 1462233600000.0, "value_as_string": "2016-05-03T00:00:00.000Z"}


def test_meta_is_echoed() -> None:
    """100_avg_metric.yml "Metadata test": meta comes back with the result."""
    out = aggs({"a": {"meta": {"foo": "bar"}, "avg": {"field": "int_field"}}}, STATS_DOCS)
    assert out["a"] == {"meta": {"foo": "bar"}, "value": 76.0}


# ----------------------------------------------------------------------------- histogram


NUMBERS = [{"number": v} for v in (1, 51, 101, 151)]


def keys_counts(result: dict) -> list[tuple[Any, int]]:
    return [(b["key"], b["doc_count"]) for b in result["buckets"]]


def test_histogram_basic_and_float_keys() -> None:
    """10_histogram.yml "Basic test": interval 50 -> keys 0, 50, 100, 150 (doubles), one doc each."""
    out = aggs({"h": {"histogram": {"field": "number", "interval": 50}}}, NUMBERS)
    assert keys_counts(out["h"]) == [(0.0, 1), (50.0, 1), (100.0, 1), (150.0, 1)]
    assert all(isinstance(b["key"], float) and "key_as_string" not in b for b in out["h"]["buckets"])


def test_histogram_empty_intervals_and_min_doc_count() -> None:
    """10_histogram.yml "Show empty intervals" / "histogram with min_doc_count"."""
    docs = [{"number": v} for v in (1, 51, 61, 71)]
    assert keys_counts(aggs({"h": {"histogram": {"field": "number", "interval": 20}}}, docs)["h"]) == [
        (0.0, 1), (20.0, 0), (40.0, 1), (60.0, 2)]
    assert keys_counts(aggs({"h": {"histogram": {"field": "number", "interval": 20, "min_doc_count": 2}}}, docs)["h"]) == [
        (60.0, 2)]


def test_histogram_extended_bounds_offset_and_missing() -> None:
    """10_histogram.yml "histogram with extended_bounds", "... with offset and unmapped",
    "... missing field with missing param"."""
    docs = [{"number": v} for v in (52, 51, 101, 150)]
    out = aggs({"h": {"histogram": {"field": "number", "interval": 50, "extended_bounds": {"min": 0, "max": 200}}}}, docs)
    assert keys_counts(out["h"]) == [(0.0, 0), (50.0, 2), (100.0, 1), (150.0, 1), (200.0, 0)]
    docs = [{"number": v} for v in (11, 51, 101, 151)]
    out = aggs({"h": {"histogram": {"field": "number", "interval": 50, "offset": 20}}}, docs)
    assert keys_counts(out["h"]) == [(-30.0, 1), (20.0, 1), (70.0, 1), (120.0, 1)]
    docs = [{"another_number": 11}, {"number": 51}, {"number": 101}, {"number": 151}]
    out = aggs({"h": {"histogram": {"field": "number", "interval": 50, "missing": 0}}}, docs)
    assert keys_counts(out["h"]) == [(0.0, 1), (50.0, 1), (100.0, 1), (150.0, 1)]


def test_histogram_too_many_buckets() -> None:
    """10_histogram.yml "Tiny tiny tiny range": search.max_buckets (65536) stops the request."""
    err = fails({"h": {"histogram": {"field": "number", "interval": 5e-10}}}, [{"number": 1}, {"number": 2}])
    assert err.es_type == "too_many_buckets_exception"
    assert err.message.startswith("Trying to create too many buckets. Must be less than or equal to: [65536]")


def test_histogram_sub_aggregations_and_interval_error() -> None:
    """Sub-aggregations run per bucket (empty buckets get empty metrics); interval <= 0 is refused
    by HistogramAggregationBuilder ("[interval] must be >0 for histogram aggregation [h]")."""
    docs = [{"number": 1, "rating": 2.0}, {"number": 31, "rating": 4.0}]
    out = aggs({"h": {"histogram": {"field": "number", "interval": 10},
                      "aggs": {"r": {"avg": {"field": "rating"}}}}}, docs)
    assert [b["r"]["value"] for b in out["h"]["buckets"]] == [2.0, None, None, 4.0]
    err = fails({"h": {"histogram": {"field": "number", "interval": -1}}})
    assert err.caused_by is not None and err.caused_by.reason == "[interval] must be >0 for histogram aggregation [h]"


# ----------------------------------------------------------------------------- date_histogram


def ms(y: int, m: int, d: int, h: int = 0) -> int:
    import datetime as dt

    return int(dt.datetime(y, m, d, h, tzinfo=dt.UTC).timestamp() * 1000)


DATES = [{"date": ms(2016, 1, 1)}, {"date": ms(2016, 1, 2)}, {"date": ms(2016, 2, 1)}, {"date": ms(2016, 3, 1)}]


def strings_counts(result: dict) -> list[tuple[str, int]]:
    return [(b["key_as_string"], b["doc_count"]) for b in result["buckets"]]


def test_date_histogram_calendar_month() -> None:
    """10_histogram.yml "date_histogram": calendar_interval month -> 2016-01 (2), 02 (1), 03 (1)."""
    out = aggs({"h": {"date_histogram": {"field": "date", "calendar_interval": "month"}}}, DATES)
    assert strings_counts(out["h"]) == [("2016-01-01T00:00:00.000Z", 2), ("2016-02-01T00:00:00.000Z", 1),
                                        ("2016-03-01T00:00:00.000Z", 1)]
    assert out["h"]["buckets"][0] == {"key_as_string": "2016-01-01T00:00:00.000Z", "key": 1451606400000, "doc_count": 2}


def test_date_histogram_month_buckets_across_february() -> None:
    """Calendar months have their own lengths: Jan 31 and Mar 1 (leap year 2024) fall in different
    buckets and the empty February bucket starts on 2024-02-01."""
    docs = [{"date": ms(2024, 1, 31, 23)}, {"date": ms(2024, 3, 1)}]
    out = aggs({"h": {"date_histogram": {"field": "date", "calendar_interval": "1M"}}}, docs)
    assert strings_counts(out["h"]) == [("2024-01-01T00:00:00.000Z", 1), ("2024-02-01T00:00:00.000Z", 0),
                                        ("2024-03-01T00:00:00.000Z", 1)]


def test_date_histogram_offset() -> None:
    """10_histogram.yml "date_histogram with offset": month buckets shifted by +1d."""
    out = aggs({"h": {"date_histogram": {"field": "date", "calendar_interval": "month", "offset": "+1d"}}}, DATES)
    assert strings_counts(out["h"]) == [("2015-12-02T00:00:00.000Z", 1), ("2016-01-02T00:00:00.000Z", 2),
                                        ("2016-02-02T00:00:00.000Z", 1)]


def test_date_histogram_extended_bounds_with_offset() -> None:
    """10_histogram.yml "date_histogram with extended_bounds and offset and unmapped": bounds are
    rounded without the offset, then shifted: 4 day buckets at 01:00."""
    docs = [{"date": ms(2016, 1, 2)}, {"date": ms(2016, 1, 3)}]
    request = {"h": {"date_histogram": {"field": "date", "calendar_interval": "day", "offset": "1h",
                                        "extended_bounds": {"min": "2016-01-01", "max": "2016-01-04"}}}}
    assert strings_counts(aggs(request, docs)["h"]) == [
        ("2016-01-01T01:00:00.000Z", 1), ("2016-01-02T01:00:00.000Z", 1), ("2016-01-03T01:00:00.000Z", 0),
        ("2016-01-04T01:00:00.000Z", 0)]


def test_date_histogram_week_quarter_year_and_fixed() -> None:
    """Rounding: ISO weeks start on Monday (2024-01-03 is a Wednesday -> 2024-01-01); quarters
    start in Jan/Apr/Jul/Oct; fixed_interval 30d counts 30-day blocks from the epoch."""
    doc = [{"date": ms(2024, 1, 3, 15)}]
    week = aggs({"h": {"date_histogram": {"field": "date", "calendar_interval": "week"}}}, doc)
    assert strings_counts(week["h"]) == [("2024-01-01T00:00:00.000Z", 1)]
    quarter = aggs({"h": {"date_histogram": {"field": "date", "calendar_interval": "quarter"}}}, [{"date": ms(2024, 5, 20)}])
    assert strings_counts(quarter["h"]) == [("2024-04-01T00:00:00.000Z", 1)]
    year = aggs({"h": {"date_histogram": {"field": "date", "calendar_interval": "1y"}}}, [{"date": ms(2024, 5, 20)}])
    assert strings_counts(year["h"]) == [("2024-01-01T00:00:00.000Z", 1)]
    fixed = aggs({"h": {"date_histogram": {"field": "date", "fixed_interval": "30d"}}}, [{"date": 45 * DAY}])
    assert fixed["h"]["buckets"] == [{"key_as_string": "1970-01-31T00:00:00.000Z", "key": 30 * DAY, "doc_count": 1}]


def test_date_histogram_format_and_errors() -> None:
    """DateIntervalWrapper messages; `format` applies to key_as_string; only UTC time zones."""
    out = aggs({"h": {"date_histogram": {"field": "date", "calendar_interval": "month", "format": "yyyy-MM-dd"}}}, DATES[:1])
    assert strings_counts(out["h"]) == [("2016-01-01", 1)]
    err = fails({"h": {"date_histogram": {"field": "date", "calendar_interval": "2d"}}})
    assert err.caused_by is not None
    assert err.caused_by.reason == "The supplied interval [2d] could not be parsed as a calendar interval."
    err = fails({"h": {"date_histogram": {"field": "date", "calendar_interval": "1d", "fixed_interval": "1d"}}})
    assert err.caused_by is not None
    assert err.caused_by.reason == "Cannot use [fixed_interval] with [calendar_interval] configuration option."
    with pytest.raises(UnsupportedAggregation):
        aggs({"h": {"date_histogram": {"field": "date", "calendar_interval": "day", "time_zone": "Europe/Paris"}}}, [])


# ----------------------------------------------------------------------------- range


RANGE_DOCS = [{"double": 42.1, "integer": 25}, {"double": 100.7, "integer": 80}, {"double": 50.5, "integer": 75}, {}]


def test_range_keys_from_to() -> None:
    """40_range.yml "Double range": keys *-50.0, 50.0-150.0, 150.0-* with counts 1, 2, 0."""
    request = {"r": {"range": {"field": "double", "ranges": [{"to": 50}, {"from": 50, "to": 150}, {"from": 150}]}}}
    assert aggs(request, RANGE_DOCS)["r"]["buckets"] == [
        {"key": "*-50.0", "to": 50.0, "doc_count": 1},
        {"key": "50.0-150.0", "from": 50.0, "to": 150.0, "doc_count": 2},
        {"key": "150.0-*", "from": 150.0, "doc_count": 0},
    ]


def test_range_missing_keyed_and_sorting() -> None:
    """40_range.yml "Double range with missing value" (missing 1000 -> last bucket 1) and "keyed
    response"; AbstractRangeBuilder sorts ranges by from, then to."""
    request = {"r": {"range": {"field": "double", "missing": 1000,
                               "ranges": [{"from": 150}, {"to": 50}, {"from": 50, "to": 150}]}}}
    assert [(b["key"], b["doc_count"]) for b in aggs(request, RANGE_DOCS)["r"]["buckets"]] == [
        ("*-50.0", 1), ("50.0-150.0", 2), ("150.0-*", 1)]
    keyed = {"r": {"range": {"field": "double", "keyed": True,
                             "ranges": [{"key": "first", "to": 50}, {"key": "last", "from": 150}]}}}
    assert aggs(keyed, RANGE_DOCS)["r"]["buckets"] == {"first": {"to": 50.0, "doc_count": 1},
                                                      "last": {"from": 150.0, "doc_count": 0}}


# ----------------------------------------------------------------------------- request errors


def test_request_structure_errors() -> None:
    """AggregatorFactories.parseAggregators: unknown type (with suggestion), two types, no type,
    invalid name; sub-aggregations under a metric (AggregationInitializationException)."""
    err = fails({"a": {"term": {"field": "str"}}})
    assert (err.es_type, err.message) == ("parsing_exception", "Unknown aggregation type [term] did you mean [terms]?")
    assert fails({"a": {"terms": {"field": "str"}, "avg": {"field": "x"}}}).message == (
        "Found two aggregation type definitions in [a]: [terms] and [avg]")
    assert fails({"a": {"aggs": {}}}).message == "Missing definition for aggregation [a]"
    assert fails({"a>b": {"avg": {"field": "x"}}}).message == (
        "Invalid aggregation name [a>b]. Aggregation names can contain any character except '[', ']', and '>'")
    err = fails({"a": {"avg": {"field": "int_field"}, "aggs": {"b": {"max": {"field": "int_field"}}}}})
    assert (err.es_type, err.message) == ("aggregation_initialization_exception",
                                          "Aggregator [a] of type [avg] cannot accept sub-aggregations")


def test_errors_are_raised_even_without_matching_documents() -> None:
    """ES validates the request before collecting: a bad sub-aggregation fails on zero hits too."""
    err = fails({"t": {"terms": {"field": "str"}, "aggs": {"bad": {"avg": {"field": "string_field"}}}}}, [])
    assert err.message == "Field [string_field] of type [keyword] is not supported for aggregation [avg]"


@pytest.mark.parametrize(
    "request_body",
    [
        {"a": {"top_hits": {}}},
        {"a": {"filter": {"term": {"str": "x"}}}},
        {"a": {"percentiles": {"field": "number"}}},
        {"a": {"terms": {"script": {"source": "1"}}}},
        {"a": {"terms": {"field": "str", "include": ["a"]}}},
        {"a": {"histogram": {"field": "number", "interval": 1, "keyed": True}}},
        {"a": {"histogram": {"field": "date", "interval": 1}}},
    ],
)
def test_unsupported_is_refused_loudly(request_body: dict) -> None:
    """Valid Elasticsearch the double does not implement: a named refusal, never a wrong answer."""
    with pytest.raises(UnsupportedAggregation) as info:
        aggs(request_body, [{"str": "x", "number": 1, "date": 0}])
    assert info.value.message.startswith("unsupported by the test double: ")
