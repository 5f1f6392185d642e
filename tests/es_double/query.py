"""Query DSL: parse (coordinating-node errors) and execute against one index's segment.

Supported: match_all, match_none, bool, term, terms (incl. terms lookup), range, exists,
ids, match, match_bool_prefix, match_phrase (slop 0), multi_match (best_fields, most_fields, bool_prefix),
dis_max, constant_score, knn, script_score. Any other query Elasticsearch knows is refused
with "unsupported by the test double: ..."; names Elasticsearch does not know get its own
`parsing_exception` "unknown query [x]".

Scoring follows Lucene / Elasticsearch:
* BM25 as Elasticsearch's LegacyBM25Similarity (k1=1.2, b=0.75, weight = boost·(k1+1)·idf,
  idf = ln(1 + (N - n + 0.5)/(n + 0.5)), tf = freq / (freq + k1·(1 - b + b·dl/avgdl)) with dl
  decoded from the one-byte norm exactly as Lucene's SmallFloat encodes it), computed in
  float32 like Lucene's BM25Scorer; keyword/boolean fields have no norms (dl = 1) and
  freq = 1. Statistics are per index over live documents.
* Fuzzy terms (match `fuzziness`) expand to at most `max_expansions` terms within the edit
  distance (optimal string alignment, transpositions on), boosted by 1 - edits/min(len),
  with document frequencies blended to the maximum (TopTermsBlendedFreqScoringRewrite).
* term/terms/range/exists/ids on non-text fields, prefix terms, constant_score: constant
  scores equal to the boost; bool sums must + should; filter/must_not do not score.
* kNN: exact brute force (perfect recall), Elasticsearch's similarity-to-score transforms.
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tests.es_double import errors as E
from tests.es_double.analysis import (
    auto_fuzziness,
    deletion_variants,
    osa_distance,
)
from tests.es_double.analysis_filters import Token
from tests.es_double.analysis_filters import positions as token_positions
from tests.es_double.dates import DateFormat, parse_date_math
from tests.es_double.errors import EsError, ShardFailure
from tests.es_double.javafmt import java_float
from tests.es_double.jsonloc import token_name
from tests.es_double.mapping import (
    INTEGER_RANGES,
    FieldSpec,
    doc_values,
    normalize_query_value,
    vector_value_error,
)
from tests.es_double.segment import LENGTH_TABLE, Segment

K1 = np.float32(1.2)
B = np.float32(0.75)
NUM_CANDS_LIMIT = 10_000

KNOWN_UNSUPPORTED_QUERIES = {
    "function_score",
    "nested",
    "has_child",
    "has_parent",
    "parent_id",
    "query_string",
    "simple_query_string",
    "prefix",
    "wildcard",
    "regexp",
    "fuzzy",
    "match_phrase_prefix",
    "combined_fields",
    "more_like_this",
    "geo_bounding_box",
    "geo_distance",
    "geo_grid",
    "geo_polygon",
    "geo_shape",
    "shape",
    "span_containing",
    "span_field_masking",
    "span_first",
    "span_multi",
    "span_near",
    "span_not",
    "span_or",
    "span_term",
    "span_within",
    "boosting",
    "pinned",
    "rank_feature",
    "distance_feature",
    "percolate",
    "wrapper",
    "semantic",
    "sparse_vector",
    "text_expansion",
    "weighted_tokens",
    "intervals",
    "terms_set",
    "script",
    "rule",
    "type",
    "common",
    "exact_knn",
}

SUPPORTED_QUERIES = {
    "match_all",
    "match_none",
    "bool",
    "term",
    "terms",
    "range",
    "exists",
    "ids",
    "match",
    "match_bool_prefix",
    "match_phrase",
    "multi_match",
    "dis_max",
    "constant_score",
    "knn",
    "script_score",
}


# ---------------------------------------------------------------------- execution context
@dataclass
class ExecContext:
    """Everything a query needs to run on one index."""

    index_name: str
    index_uuid: str
    segment: Segment
    request_size: int
    now_ms: int
    max_terms_count: int
    named: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return self.segment.n

    @property
    def mapping(self):  # type: ignore[no-untyped-def]
        return self.segment.mapping

    def fail(self, cause: EsError) -> ShardFailure:
        """A shard-level failure to build the query ("failed to create query: ...")."""
        return ShardFailure(E.failed_to_create_query(cause, self.index_name, self.index_uuid))

    def empty(self) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros(self.n, dtype=bool), np.zeros(self.n)

    def const(self, mask: np.ndarray, boost: float) -> tuple[np.ndarray, np.ndarray]:
        return mask, np.where(mask, float(np.float32(boost)), 0.0)


Result = tuple[np.ndarray, np.ndarray]


class Query(ABC):
    """A parsed query node."""

    boost: float = 1.0
    name: str | None = None

    def run(self, ctx: ExecContext, scoring: bool = True) -> Result:
        mask, scores = self.execute(ctx, scoring)
        if self.name is not None:
            prev = ctx.named.get(self.name)
            ctx.named[self.name] = mask if prev is None else (prev | mask)
        return mask, scores.astype(np.float32).astype(np.float64)

    @abstractmethod
    def execute(self, ctx: ExecContext, scoring: bool) -> Result:
        """(match mask, scores) over the segment's documents."""

    def rewrite(self, resolver: Callable[[Query], Query]) -> Query:
        """Coordinating-node rewrite (terms lookup); returns self when nothing changes."""
        return resolver(self)

    def children(self) -> list[Query]:
        return []


# ---------------------------------------------------------------------- helpers
def _float(value: Any, what: str, query: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise E.parsing_error(f"[{query}] {what} must be a number, got [{token_name(value)}]")
    try:
        return float(value)
    except ValueError:
        raise E.parsing_error(
            f"[{query}] failed to parse field [{what}]",
            caused_by=E.number_format(value),
        ) from None


def _int(value: Any, what: str, query: str) -> int:
    if isinstance(value, bool):
        raise E.parsing_error(f"[{query}] failed to parse field [{what}]")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    raise E.parsing_error(
        f"[{query}] failed to parse field [{what}]",
        caused_by=E.number_format(value),
    )


def _bool(value: Any, what: str, query: str) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise E.parsing_error(f"[{query}] failed to parse field [{what}]")


def _single_field(query: str, body: Any) -> tuple[str, Any]:
    if not isinstance(body, dict) or not body:
        raise E.parsing_error(f"[{query}] query malformed, no start_object after query name")
    fields = [k for k in body if k not in ("boost", "_name")]
    if len(fields) != 1:
        if not fields:
            raise E.parsing_error(f"[{query}] query does not support [{next(iter(body))}]")
        raise E.parsing_error(f"[{query}] query doesn't support multiple fields, found [{fields[0]}] and [{fields[1]}]")
    return fields[0], body[fields[0]]


def calculate_min_should_match(optional_count: int, spec: Any) -> int:
    """Elasticsearch `Queries.calculateMinShouldMatch` (ints, percentages, negatives, `N<spec`)."""
    if spec is None:
        return 0
    text = str(spec).strip()
    result = optional_count
    if "<" in text:
        text = re.sub(r"\s*<\s*", "<", text)
        for part in text.split():
            upper, _, rest = part.partition("<")
            if optional_count <= int(upper):
                return result
            result = calculate_min_should_match(optional_count, rest)
        return result
    if text.endswith("%"):
        percent = int(text[:-1])
        calc = float(np.float32(result * percent) * np.float32(1 / 100))
        result = result + int(calc) if calc < 0 else int(calc)
    else:
        calc_i = int(text)
        result = result + calc_i if calc_i < 0 else calc_i
    return max(result, 0)


def _check_msm(value: Any, query: str) -> Any:
    if value is None:
        return None
    text = str(value).strip()
    if not re.fullmatch(r"(?:\d+\s*<\s*)?-?\d+%?(?:\s+\d+\s*<\s*-?\d+%?)*", text):
        raise E.parsing_error(
            f"[{query}] failed to parse field [minimum_should_match]",
            caused_by=E.number_format(text),
        )
    return value


# ---------------------------------------------------------------------- parse entry
def parse_query(body: Any) -> Query:
    """Parse one query clause `{name: {...}}` (AbstractQueryBuilder.parseInnerQueryBuilder)."""
    if not isinstance(body, dict):
        raise E.parsing_error("[_na] query malformed, must start with start_object")
    if not body:
        raise E.parsing_error("query malformed, empty clause found")
    if len(body) > 1:
        first = next(iter(body))
        raise E.parsing_error(f"[{first}] malformed query, expected [END_OBJECT] but found [FIELD_NAME]")
    name, spec = next(iter(body.items()))
    if name in KNOWN_UNSUPPORTED_QUERIES:
        raise E.unsupported(f"query [{name}]")
    if name not in SUPPORTED_QUERIES:
        raise E.parsing_error(
            f"unknown query [{name}]",
            caused_by=EsError(400, "named_object_not_found_exception", f"unknown field [{name}]"),
        )
    if not isinstance(spec, dict):
        raise E.parsing_error(f"[{name}] query malformed, no start_object after query name")
    return _PARSERS[name](spec)


def _common(node: Query, spec: dict[str, Any], query: str) -> None:
    if "boost" in spec:
        node.boost = _float(spec["boost"], "boost", query)
    if "_name" in spec:
        node.name = str(spec["_name"])


def _unknown(query: str, spec: dict[str, Any], allowed: set[str]) -> None:
    for key in spec:
        if key not in allowed:
            raise E.parsing_error(f"[{query}] query does not support [{key}]")


def _field_spec(ctx: ExecContext, path: str) -> FieldSpec | None:
    return ctx.mapping.field(path)


# ---------------------------------------------------------------------- leaf queries
class MatchAll(Query):
    def execute(self, ctx: ExecContext, scoring: bool) -> Result:
        return ctx.const(np.ones(ctx.n, dtype=bool), self.boost)


def _parse_match_all(spec: dict[str, Any]) -> Query:
    _unknown("match_all", spec, {"boost", "_name"})
    node = MatchAll()
    _common(node, spec, "match_all")
    return node


class MatchNone(Query):
    def execute(self, ctx: ExecContext, scoring: bool) -> Result:
        return ctx.empty()


def _parse_match_none(spec: dict[str, Any]) -> Query:
    _unknown("match_none", spec, {"boost", "_name"})
    node = MatchNone()
    _common(node, spec, "match_none")
    return node


def _idf(n_docs: int, df: int) -> np.float32:
    """BM25's idf = ln(1 + (N - n + 0.5) / (n + 0.5)), as a float like Lucene computes it."""
    return np.float32(math.log(1 + (n_docs - df + 0.5) / (df + 0.5)))


def _bm25_scores(tindex: Any, ords: np.ndarray, freqs: np.ndarray, idf: np.float32, boost: float) -> np.ndarray:
    """float32 LegacyBM25Similarity scores of docs `ords` with term (or phrase) frequencies `freqs`."""
    avgdl = np.float32(tindex.stats.sum_total_term_freq / tindex.stats.doc_count)
    cache = (np.float32(1) / (K1 * ((np.float32(1) - B) + B * LENGTH_TABLE / avgdl))).astype(np.float32)
    weight = np.float32(np.float32(boost) * np.float32(np.float32(1) + K1)) * idf
    norm_inverse = cache[tindex.norms[ords]]
    return (weight - weight / (np.float32(1) + freqs * norm_inverse)).astype(np.float32)


def _bm25_term(
    ctx: ExecContext, spec: FieldSpec, term: str, boost: float, df_override: int | None = None, term_boost: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """(doc ordinals, float32 scores) of one term under LegacyBM25Similarity."""
    tindex = ctx.segment.text_index(spec)
    posting = tindex.postings.get(term)
    if posting is None:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    ords, freqs = posting
    df = df_override if df_override is not None else len(ords)
    idf = _idf(tindex.stats.doc_count, df)
    return ords, _bm25_scores(tindex, ords, freqs, idf, np.float32(np.float32(boost) * np.float32(term_boost)))


def _scatter(ctx: ExecContext, ords: np.ndarray, scores: np.ndarray) -> Result:
    mask = np.zeros(ctx.n, dtype=bool)
    out = np.zeros(ctx.n)
    mask[ords] = True
    out[ords] = scores
    return mask, out


def _exact_mask(ctx: ExecContext, spec: FieldSpec, values: list[Any]) -> np.ndarray:
    postings = ctx.segment.term_postings(spec.path)
    mask = np.zeros(ctx.n, dtype=bool)
    for v in values:
        ords = postings.get(v)
        if ords is not None:
            mask[ords] = True
    return mask


def query_date(ctx: ExecContext, fmt: DateFormat, value: Any, round_up: bool) -> int:
    """A date (or date math) in a query: JavaDateMathParser's ElasticsearchParseException on failure."""
    try:
        return parse_date_math(value, fmt, round_up, ctx.now_ms)
    except EsError as exc:
        raise ctx.fail(
            EsError(
                400,
                "elasticsearch_parse_exception",
                f"failed to parse date field [{value}] with format [{fmt.text}]: [{exc.reason}]",
                caused_by=exc,
            )
        ) from exc


def _normalize_term(ctx: ExecContext, spec: FieldSpec, value: Any) -> Any:
    """Term value in indexed form; None means "matches nothing" (e.g. a decimal for an integer field)."""
    if spec.type == "date":
        assert spec.date_format is not None
        return query_date(ctx, spec.date_format, value, False)
    if spec.type == "dense_vector":
        raise ctx.fail(E.illegal_argument(f"Field [{spec.path}] of type [dense_vector] doesn't support term queries"))
    if spec.type in INTEGER_RANGES and isinstance(value, float) and not value.is_integer():
        return None
    if spec.type in INTEGER_RANGES and isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            number = None
        if number is not None and not number.is_integer():
            return None
    try:
        return normalize_query_value(spec, value)
    except EsError as exc:
        raise ctx.fail(exc) from exc


class Term(Query):
    def __init__(self, field: str, value: Any, case_insensitive: bool = False) -> None:
        self.field = field
        self.value = value
        self.case_insensitive = case_insensitive

    def execute(self, ctx: ExecContext, scoring: bool) -> Result:
        if self.field == "_id":
            return ctx.const(_ids_mask(ctx, [str(self.value)]), self.boost)
        if self.field == "_index":
            return ctx.const(np.full(ctx.n, str(self.value) == ctx.index_name, dtype=bool), self.boost)
        spec = _field_spec(ctx, self.field)
        if spec is None:
            return ctx.empty()
        if spec.type in ("text", "keyword", "boolean"):
            if spec.type == "boolean":
                value = _normalize_term(ctx, spec, self.value)
                term = "T" if value else "F"
            elif spec.type == "keyword":
                term = str(_normalize_term(ctx, spec, self.value))
            else:
                term = self.value if isinstance(self.value, str) else str(_normalize_term(ctx, spec, self.value))
            if self.case_insensitive:
                tindex = ctx.segment.text_index(spec)
                mask = np.zeros(ctx.n, dtype=bool)
                for candidate in tindex.sorted_terms:
                    if candidate.lower() == term.lower():
                        mask[tindex.postings[candidate][0]] = True
                return ctx.const(mask, self.boost)
            ords, scores = _bm25_term(ctx, spec, term, self.boost)
            return _scatter(ctx, ords, scores)
        value = _normalize_term(ctx, spec, self.value)
        if value is None:
            return ctx.empty()
        return ctx.const(_exact_mask(ctx, spec, [value]), self.boost)


def _parse_term(spec: dict[str, Any]) -> Query:
    fname, value = _single_field("term", spec)
    node: Term
    if isinstance(value, dict):
        # TermQueryBuilder parses "term" and "value" alike (TERM_FIELD, VALUE_FIELD); the last one read wins
        _unknown("term", value, {"value", "term", "boost", "_name", "case_insensitive"})
        given = [v for k, v in value.items() if k in ("value", "term")]
        if not given:
            raise E.illegal_argument("value cannot be null")
        node = Term(fname, given[-1], _bool(value.get("case_insensitive", False), "case_insensitive", "term"))
        _common(node, value, "term")
    else:
        node = Term(fname, value)
    if isinstance(node.value, (list, dict)):
        raise E.parsing_error("[term] query does not support array of values")
    if node.value is None:
        raise E.illegal_argument("value cannot be null")
    _common(node, spec, "term")
    return node


def _ids_mask(ctx: ExecContext, ids: list[str]) -> np.ndarray:
    mask = np.zeros(ctx.n, dtype=bool)
    lookup = ctx.segment.id_to_ord
    for i in ids:
        o = lookup.get(i)
        if o is not None:
            mask[o] = True
    return mask


@dataclass
class TermsLookup:
    index: str
    id: str
    path: str
    routing: str | None = None


class Terms(Query):
    def __init__(self, field: str, values: list[Any] | None, lookup: TermsLookup | None) -> None:
        self.field = field
        self.values = values
        self.lookup = lookup

    def execute(self, ctx: ExecContext, scoring: bool) -> Result:
        values = self.values or []
        if len(values) > ctx.max_terms_count:
            raise ShardFailure(
                E.illegal_argument(
                    f"The number of terms [{len(values)}] used in the Terms Query request has exceeded the allowed maximum "
                    f"of [{ctx.max_terms_count}]. This maximum can be set by changing the [index.max_terms_count] index "
                    f"level setting."
                )
            )
        if self.field == "_id":
            return ctx.const(_ids_mask(ctx, [str(v) for v in values]), self.boost)
        if self.field == "_index":
            return ctx.const(np.full(ctx.n, ctx.index_name in [str(v) for v in values], dtype=bool), self.boost)
        spec = _field_spec(ctx, self.field)
        if spec is None or not values:
            return ctx.empty()
        if spec.type == "text":
            tindex = ctx.segment.text_index(spec)
            mask = np.zeros(ctx.n, dtype=bool)
            for v in values:
                posting = tindex.postings.get(v if isinstance(v, str) else str(v))
                if posting is not None:
                    mask[posting[0]] = True
            return ctx.const(mask, self.boost)
        normalized = []
        for v in values:
            nv = _normalize_term(ctx, spec, v)
            if nv is not None:
                normalized.append(nv)
        return ctx.const(_exact_mask(ctx, spec, normalized), self.boost)


def _parse_terms(spec: dict[str, Any]) -> Query:
    fname, value = _single_field("terms", spec)
    if isinstance(value, list):
        if any(isinstance(v, (dict, list)) for v in value):
            raise E.parsing_error("[terms] query does not support nested arrays or objects")
        if any(v is None for v in value):
            raise E.illegal_argument("No value specified for terms query")
        node = Terms(fname, list(value), None)
    elif isinstance(value, dict):
        for key in value:
            if key not in ("index", "id", "path", "routing"):
                raise E.parsing_error(f"[terms] query does not support [{key}] within lookup element")
        missing = [k for k in ("index", "id", "path") if k not in value]
        if missing:
            raise EsError(
                400,
                "action_request_validation_exception",
                "Validation Failed: " + " ".join(f"{i + 1}: [{k}] is missing;" for i, k in enumerate(missing)),
            )
        node = Terms(
            fname, None, TermsLookup(str(value["index"]), str(value["id"]), str(value["path"]), value.get("routing"))
        )
    else:
        raise E.parsing_error(f"[terms] query does not support [{fname}]")
    _common(node, spec, "terms")
    return node


class Range(Query):
    def __init__(
        self, field: str, gt: Any, gte: Any, lt: Any, lte: Any, fmt: str | None, time_zone: str | None
    ) -> None:
        self.field = field
        self.gt, self.gte, self.lt, self.lte = gt, gte, lt, lte
        self.format = fmt
        self.time_zone = time_zone

    def execute(self, ctx: ExecContext, scoring: bool) -> Result:
        spec = _field_spec(ctx, self.field)
        if spec is None:
            return ctx.empty()
        if spec.type == "text" or spec.type == "dense_vector":
            raise ctx.fail(
                E.illegal_argument(f"Field [{spec.path}] of type [{spec.type}] does not support range queries")
            )
        if spec.type == "keyword":
            return ctx.const(self._keyword(ctx, spec), self.boost)
        if spec.type == "boolean":
            raise E.unsupported("range queries on boolean fields")
        low, low_incl, high, high_incl = self._bounds(ctx, spec)
        col, multi = ctx.segment.numeric(spec.path)
        if not multi:
            with np.errstate(invalid="ignore"):
                mask = ~np.isnan(col)
                if low is not None:
                    mask &= (col >= low) if low_incl else (col > low)
                if high is not None:
                    mask &= (col <= high) if high_incl else (col < high)
            return ctx.const(mask, self.boost)
        mask = np.zeros(ctx.n, dtype=bool)
        for i, vals in enumerate(ctx.segment.values(spec.path)):
            for v in vals:
                if (low is None or (v >= low if low_incl else v > low)) and (
                    high is None or (v <= high if high_incl else v < high)
                ):
                    mask[i] = True
                    break
        return ctx.const(mask, self.boost)

    def _bounds(self, ctx: ExecContext, spec: FieldSpec) -> tuple[float | None, bool, float | None, bool]:
        def convert(value: Any, round_up: bool) -> float:
            if spec.type == "date":
                fmt = DateFormat.of(self.format) if self.format else spec.date_format
                assert fmt is not None
                return float(query_date(ctx, fmt, value, round_up))
            try:
                number = float(normalize_query_value(_numeric_probe(spec), value))
            except EsError as exc:
                raise ctx.fail(exc) from exc
            # Elasticsearch 8.14+ clamps a bound beyond the float/half_float range instead of refusing it:
            # YAML REST test search/510_range_query_out_of_bounds.yml (lte 1e+300 on a float field)
            with np.errstate(over="ignore"):
                if spec.type == "float":
                    return float(np.float32(number))
                if spec.type == "half_float":
                    return float(np.float16(number))
            return number

        low = high = None
        low_incl = high_incl = True
        if self.gt is not None:
            low, low_incl = convert(self.gt, True), False
        if self.gte is not None:
            low, low_incl = convert(self.gte, False), True
        if self.lt is not None:
            high, high_incl = convert(self.lt, False), False
        if self.lte is not None:
            high, high_incl = convert(self.lte, True), True
        return low, low_incl, high, high_incl

    def _keyword(self, ctx: ExecContext, spec: FieldSpec) -> np.ndarray:
        mask = np.zeros(ctx.n, dtype=bool)
        for i, vals in enumerate(ctx.segment.values(spec.path)):
            for v in vals:
                ok = True
                if self.gt is not None and not v > str(self.gt):
                    ok = False
                if self.gte is not None and not v >= str(self.gte):
                    ok = False
                if self.lt is not None and not v < str(self.lt):
                    ok = False
                if self.lte is not None and not v <= str(self.lte):
                    ok = False
                if ok:
                    mask[i] = True
                    break
        return mask


def _numeric_probe(spec: FieldSpec) -> FieldSpec:
    """Range bounds are parsed as doubles: integer fields accept decimal bounds, float fields wide ones."""
    if spec.type in INTEGER_RANGES or spec.type in ("float", "half_float"):
        return FieldSpec(spec.path, "double", {})
    return spec


def _parse_range(spec: dict[str, Any]) -> Query:
    fname, value = _single_field("range", spec)
    if not isinstance(value, dict):
        raise E.parsing_error("[range] query malformed, no start_object after query name")
    allowed = {
        "gt",
        "gte",
        "lt",
        "lte",
        "from",
        "to",
        "include_lower",
        "include_upper",
        "format",
        "time_zone",
        "boost",
        "_name",
        "relation",
    }
    _unknown("range", value, allowed)
    gt, gte, lt, lte = value.get("gt"), value.get("gte"), value.get("lt"), value.get("lte")
    if "from" in value:
        if value.get("include_lower", True):
            gte = value["from"]
        else:
            gt = value["from"]
    if "to" in value:
        if value.get("include_upper", True):
            lte = value["to"]
        else:
            lt = value["to"]
    tz = value.get("time_zone")
    if tz not in (None, "Z", "UTC", "+00:00", "Etc/UTC"):
        raise E.unsupported(f"range [time_zone: {tz}]")
    if value.get("relation") not in (None, "intersects", "INTERSECTS"):
        raise E.unsupported(f"range [relation: {value['relation']}]")
    fmt = value.get("format")
    if fmt is not None:
        DateFormat.of(fmt)
    node = Range(fname, gt, gte, lt, lte, fmt, tz)
    _common(node, value, "range")
    _common(node, spec, "range")
    return node


class Exists(Query):
    def __init__(self, field: str) -> None:
        self.field = field

    def execute(self, ctx: ExecContext, scoring: bool) -> Result:
        if self.field in ("_id", "_index"):
            return ctx.const(np.ones(ctx.n, dtype=bool), self.boost)
        if "*" in self.field:
            mask = np.zeros(ctx.n, dtype=bool)
            for path in ctx.mapping.matching_fields(self.field):
                mask |= ctx.segment.exists(path)
            return ctx.const(mask, self.boost)
        return ctx.const(ctx.segment.exists(self.field), self.boost)


def _parse_exists(spec: dict[str, Any]) -> Query:
    _unknown("exists", spec, {"field", "boost", "_name"})
    if "field" not in spec:
        raise E.parsing_error("[exists] must be provided with a [field]")
    node = Exists(str(spec["field"]))
    _common(node, spec, "exists")
    return node


class Ids(Query):
    def __init__(self, values: list[str]) -> None:
        self.values = values

    def execute(self, ctx: ExecContext, scoring: bool) -> Result:
        return ctx.const(_ids_mask(ctx, self.values), self.boost)


def _parse_ids(spec: dict[str, Any]) -> Query:
    _unknown("ids", spec, {"values", "boost", "_name", "type"})
    values = spec.get("values", [])
    if not isinstance(values, list):
        raise E.parsing_error("[ids] failed to parse field [values]")
    node = Ids([str(v) for v in values])
    _common(node, spec, "ids")
    return node


# ---------------------------------------------------------------------- full text
@dataclass
class Fuzziness:
    """`fuzziness`: 0/1/2, or AUTO[:low,high]."""

    fixed: int | None
    low: int = 3
    high: int = 6

    def edits(self, term: str) -> int:
        if self.fixed is not None:
            return self.fixed
        return auto_fuzziness(term, self.low, self.high)


def _parse_fuzziness(value: Any, query: str) -> Fuzziness | None:
    if value is None:
        return None
    text = str(value).strip()
    if text.upper().startswith("AUTO"):
        rest = text[4:]
        if not rest:
            return Fuzziness(None)
        if rest.startswith(":"):
            low, _, high = rest[1:].partition(",")
            try:
                return Fuzziness(None, int(low), int(high))
            except ValueError:
                pass
        raise EsError(400, "elasticsearch_parse_exception", "failed to find low and high distance values")
    try:
        number = float(text)
    except ValueError:
        raise E.parsing_error(
            f"[{query}] failed to parse field [fuzziness]",
            caused_by=E.number_format(text),
        ) from None
    if not number.is_integer() or number < 0:
        raise E.illegal_argument(f"Invalid fuzziness value: {text}")
    if number > 2:
        raise E.illegal_argument(f"Valid edit distances are [0, 1, 2] but was [{int(number)}]")
    return Fuzziness(int(number))


@dataclass
class TextOptions:
    """Options shared by match, match_bool_prefix and multi_match."""

    operator: str = "or"
    fuzziness: Fuzziness | None = None
    prefix_length: int = 0
    max_expansions: int = 50
    transpositions: bool = True
    minimum_should_match: Any = None
    zero_terms_query: str = "none"
    lenient: bool = False
    analyzer: str | None = None


def _parse_text_options(body: dict[str, Any], query: str) -> TextOptions:
    opts = TextOptions()
    if "operator" in body:
        op = str(body["operator"]).lower()
        if op not in ("or", "and"):
            raise E.illegal_argument(f"operator needs to be either [AND, OR], but not [{body['operator']}]")
        opts.operator = op
    opts.fuzziness = _parse_fuzziness(body.get("fuzziness"), query)
    if "prefix_length" in body:
        opts.prefix_length = _int(body["prefix_length"], "prefix_length", query)
        if opts.prefix_length < 0:
            raise E.illegal_argument(f"[{query}] requires prefix length to be non-negative.")
    if "max_expansions" in body:
        opts.max_expansions = _int(body["max_expansions"], "max_expansions", query)
        if opts.max_expansions <= 0:
            raise E.illegal_argument(f"[{query}] requires maxExpansions to be positive.")
    if "fuzzy_transpositions" in body:
        opts.transpositions = _bool(body["fuzzy_transpositions"], "fuzzy_transpositions", query)
    opts.minimum_should_match = _check_msm(body.get("minimum_should_match"), query)
    if "zero_terms_query" in body:
        zt = str(body["zero_terms_query"]).lower()
        if zt not in ("none", "all"):
            raise EsError(400, "elasticsearch_exception", f"unknown serialized type [{body['zero_terms_query']}]")
        opts.zero_terms_query = zt
    if "lenient" in body:
        opts.lenient = _bool(body["lenient"], "lenient", query)
    if body.get("analyzer") is not None:
        opts.analyzer = str(body["analyzer"])
    if body.get("fuzzy_rewrite") is not None:
        raise E.unsupported(f"[{query}] fuzzy_rewrite")
    return opts


def _fuzzy_expand(
    ctx: ExecContext, spec: FieldSpec, term: str, fuzz: Fuzziness, opts: TextOptions
) -> list[tuple[str, float]]:
    """FuzzyQuery term expansion: (term, boost) for the best `max_expansions` candidates."""
    edits = fuzz.edits(term)
    tindex = ctx.segment.text_index(spec)
    if edits == 0:
        return [(term, 1.0)] if term in tindex.postings else []
    variants_index = tindex.deletion_index(edits)
    candidates: set[str] = set()
    for variant in deletion_variants(term, edits):
        candidates.update(variants_index.get(variant, ()))
    prefix = term[: opts.prefix_length]
    scored: list[tuple[float, str]] = []
    for cand in candidates:
        if opts.prefix_length and not cand.startswith(prefix):
            continue
        if opts.transpositions:
            dist = osa_distance(term, cand, edits)
        else:
            dist = _levenshtein(term, cand, edits)
        if dist > edits:
            continue
        boost = 1.0 if dist == 0 else 1.0 - dist / min(len(cand), len(term))
        scored.append((boost, cand))
    scored.sort(key=lambda x: (-x[0], x[1]))
    return [(t, b) for b, t in scored[: opts.max_expansions]]


def _levenshtein(a: str, b: str, limit: int) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return min(prev[-1], limit + 1)


def _term_clause(ctx: ExecContext, spec: FieldSpec, term: str, boost: float, opts: TextOptions, fuzzy: bool) -> Result:
    """One analysed term: a TermQuery, or a blended fuzzy expansion."""
    if fuzzy and opts.fuzziness is not None:
        expansions = _fuzzy_expand(ctx, spec, term, opts.fuzziness, opts)
        if not expansions:
            return ctx.empty()
        tindex = ctx.segment.text_index(spec)
        df = max(len(tindex.postings[t][0]) for t, _ in expansions)
        mask = np.zeros(ctx.n, dtype=bool)
        total = np.zeros(ctx.n)
        for t, term_boost in expansions:
            ords, scores = _bm25_term(ctx, spec, t, boost, df_override=df, term_boost=term_boost)
            mask[ords] = True
            total[ords] += scores
        return mask, total
    ords, scores = _bm25_term(ctx, spec, term, boost)
    return _scatter(ctx, ords, scores)


def _prefix_clause(ctx: ExecContext, spec: FieldSpec, prefix: str, boost: float) -> Result:
    tindex = ctx.segment.text_index(spec)
    mask = np.zeros(ctx.n, dtype=bool)
    for t in tindex.prefix_terms(prefix):
        mask[tindex.postings[t][0]] = True
    return ctx.const(mask, boost)


def _combine(ctx: ExecContext, clauses: list[Result], operator: str, msm: Any) -> Result:
    """A BooleanQuery of SHOULD (or MUST for operator and) clauses: summed scores."""
    if not clauses:
        return ctx.empty()
    count = np.zeros(ctx.n, dtype=np.int64)
    total = np.zeros(ctx.n)
    for mask, scores in clauses:
        count += mask
        total += np.where(mask, scores, 0.0)
    if operator == "and":
        required = len(clauses)
    else:
        required = calculate_min_should_match(len(clauses), msm) if msm is not None else 1
        required = max(required, 1)
    mask = count >= required
    return mask, np.where(mask, total, 0.0)


def _search_tokens(ctx: ExecContext, spec: FieldSpec, text: Any, opts: TextOptions, query: str) -> list[Token]:
    """The query text through the field's search analyzer (or the query's `analyzer`)."""
    analysis = ctx.mapping.analysis
    if opts.analyzer is not None and not analysis.has_analyzer(opts.analyzer):
        raise ctx.fail(E.illegal_argument(f"[{query}] analyzer [{opts.analyzer}] not found"))
    analyzer = analysis.search_analyzer(spec.params, opts.analyzer)
    return analyzer.tokens(str(text) if not isinstance(text, str) else text)


def _refuse_graph(tokens: list[Token], query: str) -> None:
    """Stacked tokens (synonyms, word parts at one position) make Lucene build synonym or graph queries."""
    if any(t.pos_len > 1 for t in tokens) or any(t.pos_inc == 0 for t in tokens[1:]):
        raise E.unsupported(f"[{query}] on text analysed into several tokens at one position (synonym/graph queries)")


def _text_field_query(
    ctx: ExecContext, field_path: str, text: Any, boost: float, opts: TextOptions, prefix_last: bool
) -> Result:
    """match / match_bool_prefix on one field."""
    spec = _field_spec(ctx, field_path)
    if spec is None:
        return ctx.empty()
    if spec.type == "text":
        analysed = _search_tokens(ctx, spec, text, opts, "match")
        _refuse_graph(analysed, "match_bool_prefix" if prefix_last else "match")
        tokens = [t.term for t in analysed]
        if not tokens:
            if opts.zero_terms_query == "all":
                return ctx.const(np.ones(ctx.n, dtype=bool), boost)
            return ctx.empty()
        clauses = []
        for i, tok in enumerate(tokens):
            if prefix_last and i == len(tokens) - 1:
                clauses.append(_prefix_clause(ctx, spec, tok, boost))
            else:
                clauses.append(_term_clause(ctx, spec, tok, boost, opts, fuzzy=True))
        if len(clauses) == 1:
            return clauses[0]
        return _combine(ctx, clauses, opts.operator, opts.minimum_should_match)
    if spec.type in ("keyword", "boolean"):
        try:
            value = normalize_query_value(spec, text)
        except EsError as exc:
            if opts.lenient:
                return ctx.empty()
            raise ctx.fail(exc) from exc
        term = ("T" if value else "F") if spec.type == "boolean" else str(value)
        if prefix_last:
            return _prefix_clause(ctx, spec, term, boost)
        return _term_clause(ctx, spec, term, boost, opts, fuzzy=spec.type == "keyword")
    if spec.type == "dense_vector":
        if opts.lenient:
            return ctx.empty()
        raise ctx.fail(E.illegal_argument(f"Field [{spec.path}] of type [dense_vector] does not support match queries"))
    try:
        value = _normalize_term(ctx, spec, text)
    except ShardFailure:
        if opts.lenient:
            return ctx.empty()
        raise
    if value is None:
        return ctx.empty()
    return ctx.const(_exact_mask(ctx, spec, [value]), boost)


class Match(Query):
    def __init__(self, field: str, text: Any, opts: TextOptions, prefix_last: bool = False) -> None:
        self.field = field
        self.text = text
        self.opts = opts
        self.prefix_last = prefix_last

    def execute(self, ctx: ExecContext, scoring: bool) -> Result:
        return _text_field_query(ctx, self.field, self.text, self.boost, self.opts, self.prefix_last)


def _parse_match(spec: dict[str, Any], query: str = "match") -> Query:
    fname, value = _single_field(query, spec)
    prefix_last = query == "match_bool_prefix"
    if isinstance(value, dict):
        allowed = {
            "query",
            "operator",
            "fuzziness",
            "prefix_length",
            "max_expansions",
            "minimum_should_match",
            "boost",
            "analyzer",
            "zero_terms_query",
            "lenient",
            "fuzzy_transpositions",
            "fuzzy_rewrite",
            "_name",
            "auto_generate_synonyms_phrase_query",
            "cutoff_frequency",
        }
        if prefix_last:
            allowed -= {"zero_terms_query", "lenient", "auto_generate_synonyms_phrase_query", "cutoff_frequency"}
        _unknown(query, value, allowed)
        if "query" not in value:
            raise E.illegal_argument(f"[{query}] requires query value")
        opts = _parse_text_options(value, query)
        node = Match(fname, value["query"], opts, prefix_last)
        _common(node, value, query)
    else:
        if isinstance(value, list):
            raise E.parsing_error(f"[{query}] unknown token [START_ARRAY] after [{fname}]")
        if value is None:
            raise E.illegal_argument(f"[{query}] requires query value")
        node = Match(fname, value, TextOptions(), prefix_last)
    _common(node, spec, query)
    return node


class MatchPhrase(Query):
    """match_phrase with slop 0: every analysed term at its relative position (Lucene's PhraseQuery).

    Scored as BM25 with the phrase frequency as tf and the sum of the terms' idf (float
    each, summed in double) as idf, like Lucene's PhraseWeight; one term is a term query.
    https://www.elastic.co/docs/reference/query-languages/query-dsl/query-dsl-match-query-phrase
    """

    def __init__(self, field: str, text: Any, opts: TextOptions) -> None:
        self.field = field
        self.text = text
        self.opts = opts

    def execute(self, ctx: ExecContext, scoring: bool) -> Result:
        spec = _field_spec(ctx, self.field)
        if spec is None:
            return ctx.empty()
        if spec.type != "text":
            return _text_field_query(ctx, self.field, self.text, self.boost, self.opts, False)
        analysed = _search_tokens(ctx, spec, self.text, self.opts, "match_phrase")
        _refuse_graph(analysed, "match_phrase")
        if not analysed:
            if self.opts.zero_terms_query == "all":
                return ctx.const(np.ones(ctx.n, dtype=bool), self.boost)
            return ctx.empty()
        if len(analysed) == 1:
            ords, scores = _bm25_term(ctx, spec, analysed[0].term, self.boost)
            return _scatter(ctx, ords, scores)
        tindex = ctx.segment.text_index(spec)
        absolute = token_positions(analysed)
        offsets = [p - absolute[0] for p in absolute]
        terms = [t.term for t in analysed]
        if any(t not in tindex.positions for t in terms):
            return ctx.empty()
        first = tindex.positions[terms[0]]
        docs = set(first)
        for t in terms[1:]:
            docs &= set(tindex.positions[t])
        freqs: dict[int, int] = {}
        for doc in docs:
            sets = [set(tindex.positions[t][doc]) for t in terms]
            count = sum(1 for p in first[doc] if all(p + off in sets[k] for k, off in enumerate(offsets)))
            if count:
                freqs[doc] = count
        if not freqs:
            return ctx.empty()
        ords = np.asarray(sorted(freqs), dtype=np.int64)
        phrase_freq = np.asarray([freqs[o] for o in ords.tolist()], dtype=np.float32)
        n_docs = tindex.stats.doc_count
        idf = np.float32(sum(float(_idf(n_docs, len(tindex.postings[t][0]))) for t in terms))
        scores = _bm25_scores(tindex, ords, phrase_freq, idf, self.boost)
        return _scatter(ctx, ords, scores)


def _parse_match_phrase(spec: dict[str, Any]) -> Query:
    fname, value = _single_field("match_phrase", spec)
    if isinstance(value, dict):
        _unknown("match_phrase", value, {"query", "analyzer", "slop", "zero_terms_query", "boost", "_name"})
        if "query" not in value:
            raise E.illegal_argument("[match_phrase] requires query value")
        if _int(value.get("slop", 0), "slop", "match_phrase") != 0:
            raise E.unsupported("[match_phrase] with slop other than 0")
        opts = _parse_text_options({k: v for k, v in value.items() if k in ("analyzer", "zero_terms_query")}, "match_phrase")
        node = MatchPhrase(fname, value["query"], opts)
        _common(node, value, "match_phrase")
    else:
        if value is None:
            raise E.illegal_argument("[match_phrase] requires query value")
        node = MatchPhrase(fname, value, TextOptions())
    _common(node, spec, "match_phrase")
    return node


class DisMax(Query):
    def __init__(self, queries: list[Query], tie_breaker: float) -> None:
        self.queries = queries
        self.tie_breaker = tie_breaker

    def execute(self, ctx: ExecContext, scoring: bool) -> Result:
        if not self.queries:
            return ctx.empty()
        results = [q.run(ctx, scoring) for q in self.queries]
        mask = np.zeros(ctx.n, dtype=bool)
        best = np.zeros(ctx.n)
        total = np.zeros(ctx.n)
        for m, s in results:
            mask |= m
            contrib = np.where(m, s, 0.0)
            best = np.maximum(best, contrib)
            total += contrib
        score = best + self.tie_breaker * (total - best)
        return mask, np.where(mask, score * self.boost, 0.0)

    def children(self) -> list[Query]:
        return list(self.queries)

    def rewrite(self, resolver: Callable[[Query], Query]) -> Query:
        self.queries = [q.rewrite(resolver) for q in self.queries]
        return resolver(self)


def _parse_dis_max(spec: dict[str, Any]) -> Query:
    _unknown("dis_max", spec, {"queries", "tie_breaker", "boost", "_name"})
    queries = spec.get("queries")
    if queries is None:
        raise E.parsing_error("[dis_max] requires 'queries' field with at least one clause")
    if isinstance(queries, dict):
        queries = [queries]
    node = DisMax([parse_query(q) for q in queries], _float(spec.get("tie_breaker", 0.0), "tie_breaker", "dis_max"))
    _common(node, spec, "dis_max")
    return node


_MULTI_MATCH_TIE = {"best_fields": 0.0, "most_fields": 1.0, "bool_prefix": 1.0}


def _parse_multi_match(spec: dict[str, Any]) -> Query:
    allowed = {
        "query",
        "fields",
        "type",
        "operator",
        "minimum_should_match",
        "fuzziness",
        "prefix_length",
        "max_expansions",
        "tie_breaker",
        "boost",
        "analyzer",
        "lenient",
        "zero_terms_query",
        "_name",
        "fuzzy_transpositions",
        "fuzzy_rewrite",
        "auto_generate_synonyms_phrase_query",
        "slop",
    }
    _unknown("multi_match", spec, allowed)
    if "query" not in spec:
        raise E.parsing_error("[multi_match] requires query value")
    kind = str(spec.get("type", "best_fields")).lower()
    if kind in ("phrase", "phrase_prefix", "cross_fields"):
        raise E.unsupported(f"multi_match type [{kind}]")
    if kind not in _MULTI_MATCH_TIE:
        raise E.parsing_error(f"[multi_match] query does not support type {kind}")
    if kind == "bool_prefix" and spec.get("slop", 0) != 0:
        # MultiMatchQueryBuilder: YAML REST test search/310_match_bool_prefix.yml
        # ("multi_match multiple fields with slop throws exception")
        raise E.parsing_error("[slop] not allowed for type [bool_prefix]")
    fields = spec.get("fields")
    if not fields:
        raise E.unsupported("multi_match without [fields] (index.query.default_field)")
    if isinstance(fields, str):
        fields = [fields]
    opts = _parse_text_options(spec, "multi_match")
    tie = _float(spec.get("tie_breaker", _MULTI_MATCH_TIE[kind]), "tie_breaker", "multi_match")
    node = MultiMatch(str(spec["query"]), [str(f) for f in fields], kind, opts, tie)
    _common(node, spec, "multi_match")
    return node


class MultiMatch(Query):
    def __init__(self, text: str, fields: list[str], kind: str, opts: TextOptions, tie: float) -> None:
        self.text = text
        self.fields = fields
        self.kind = kind
        self.opts = opts
        self.tie = tie

    def execute(self, ctx: ExecContext, scoring: bool) -> Result:
        per_field: list[Result] = []
        for raw in self.fields:
            pattern, _, boost_text = raw.partition("^")
            field_boost = float(boost_text) if boost_text else 1.0
            paths = ctx.mapping.matching_fields(pattern) if "*" in pattern else [pattern]
            for path in paths:
                opts = self.opts
                if "*" in pattern:
                    opts = TextOptions(**{**opts.__dict__, "lenient": True})
                per_field.append(
                    _text_field_query(ctx, path, self.text, self.boost * field_boost, opts, self.kind == "bool_prefix")
                )
        if not per_field:
            return ctx.empty()
        if len(per_field) == 1:
            return per_field[0]
        mask = np.zeros(ctx.n, dtype=bool)
        best = np.zeros(ctx.n)
        total = np.zeros(ctx.n)
        for m, s in per_field:
            s32 = np.where(m, s, 0.0).astype(np.float32).astype(np.float64)
            mask |= m
            best = np.maximum(best, s32)
            total += s32
        return mask, np.where(mask, best + self.tie * (total - best), 0.0)


# ---------------------------------------------------------------------- compound
class Bool(Query):
    def __init__(
        self, must: list[Query], should: list[Query], filter_: list[Query], must_not: list[Query], msm: Any
    ) -> None:
        self.must = must
        self.should = should
        self.filter = filter_
        self.must_not = must_not
        self.msm = msm

    def children(self) -> list[Query]:
        return self.must + self.should + self.filter + self.must_not

    def rewrite(self, resolver: Callable[[Query], Query]) -> Query:
        self.must = [q.rewrite(resolver) for q in self.must]
        self.should = [q.rewrite(resolver) for q in self.should]
        self.filter = [q.rewrite(resolver) for q in self.filter]
        self.must_not = [q.rewrite(resolver) for q in self.must_not]
        return resolver(self)

    def execute(self, ctx: ExecContext, scoring: bool) -> Result:
        if not (self.must or self.should or self.filter or self.must_not):
            return ctx.const(np.ones(ctx.n, dtype=bool), self.boost)
        mask = np.ones(ctx.n, dtype=bool)
        total = np.zeros(ctx.n)
        for q in self.must:
            m, s = q.run(ctx, scoring)
            mask &= m
            total += np.where(m, s, 0.0)
        for q in self.filter:
            m, _ = q.run(ctx, False)
            mask &= m
        for q in self.must_not:
            m, _ = q.run(ctx, False)
            mask &= ~m
        if self.should:
            count = np.zeros(ctx.n, dtype=np.int64)
            for q in self.should:
                m, s = q.run(ctx, scoring)
                count += m
                total += np.where(m, s, 0.0)
            if self.msm is not None:
                required = calculate_min_should_match(len(self.should), self.msm)
            else:
                required = 0 if (self.must or self.filter) else 1
            if required > 0:
                mask &= count >= required
        return mask, np.where(mask, total * self.boost, 0.0)


def _clauses(value: Any, occur: str) -> list[Query]:
    if isinstance(value, dict):
        return [parse_query(value)]
    if isinstance(value, list):
        return [parse_query(v) for v in value]
    raise E.parsing_error(f"[bool] query does not support [{occur}]")


def _parse_bool(spec: dict[str, Any]) -> Query:
    _unknown(
        "bool",
        spec,
        {"must", "should", "filter", "must_not", "minimum_should_match", "boost", "_name", "adjust_pure_negative"},
    )
    node = Bool(
        _clauses(spec.get("must", []), "must"),
        _clauses(spec.get("should", []), "should"),
        _clauses(spec.get("filter", []), "filter"),
        _clauses(spec.get("must_not", []), "must_not"),
        _check_msm(spec.get("minimum_should_match"), "bool"),
    )
    _common(node, spec, "bool")
    return node


class _Wrapper(Query):
    """A query around one inner query, which the coordinating-node rewrite must reach too."""

    def __init__(self, inner: Query) -> None:
        self.inner = inner

    def children(self) -> list[Query]:
        return [self.inner]

    def rewrite(self, resolver: Callable[[Query], Query]) -> Query:
        self.inner = self.inner.rewrite(resolver)
        return resolver(self)


class ConstantScore(_Wrapper):
    def execute(self, ctx: ExecContext, scoring: bool) -> Result:
        m, _ = self.inner.run(ctx, False)
        return ctx.const(m, self.boost)


def _parse_constant_score(spec: dict[str, Any]) -> Query:
    _unknown("constant_score", spec, {"filter", "boost", "_name"})
    if "filter" not in spec:
        raise E.parsing_error("[constant_score] requires a 'filter' element")
    node = ConstantScore(parse_query(spec["filter"]))
    _common(node, spec, "constant_score")
    return node


# ---------------------------------------------------------------------- vectors
def similarity_scores(similarity: str, matrix: np.ndarray, query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(raw similarity, Elasticsearch score) per row, in float32 like Lucene.

    cosine: (1 + cos) / 2 over normalised vectors; dot_product: (1 + dot) / 2 floored at 0;
    l2_norm: 1 / (1 + d²) (raw similarity is the distance d); max_inner_product:
    dot < 0 ? 1 / (1 - dot) : dot + 1.
    (https://www.elastic.co/docs/reference/elasticsearch/mapping-reference/dense-vector#dense-vector-similarity)
    """
    one = np.float32(1)
    if similarity == "l2_norm":
        diff = matrix - query[None, :]
        squared = np.einsum("ij,ij->i", diff, diff, dtype=np.float32)
        return np.sqrt(squared).astype(np.float32), (one / (one + squared)).astype(np.float32)
    dots = (matrix @ query).astype(np.float32)
    if similarity in ("cosine", "dot_product"):
        return dots, np.maximum((one + dots) / np.float32(2), np.float32(0)).astype(np.float32)
    negative = dots < 0
    with np.errstate(divide="ignore"):
        scores = np.where(negative, one / (one - np.where(negative, dots, 0)), dots + one).astype(np.float32)
    return dots, scores


def similarity_to_score(similarity: str, value: float) -> np.float32:
    """VectorSimilarity.score: the score a raw similarity threshold corresponds to."""
    v = np.float32(value)
    one = np.float32(1)
    if similarity == "l2_norm":
        return np.float32(one / (one + v * v))
    if similarity in ("cosine", "dot_product"):
        return np.float32((one + v) / np.float32(2))
    return np.float32(one / (one + -one * v)) if v < 0 else np.float32(v + one)


@dataclass
class KnnSpec:
    """A kNN clause (top-level `knn` or the `knn` query)."""

    field: str
    vector: list[float]
    k: int | None
    num_candidates: int | None
    filters: list[Query]
    similarity: float | None
    boost: float
    name: str | None

    def candidates(self, ctx: ExecContext, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (doc ordinals, float32 scores) on this index: exact brute force, pre-filtered."""
        spec = _field_spec(ctx, self.field)
        if spec is None:
            if ctx.mapping.field_type(self.field) is None:
                return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        if spec is None or spec.type != "dense_vector":
            raise ctx.fail(E.illegal_argument("[knn] queries are only supported on [dense_vector] fields"))
        assert spec.vector is not None
        if not spec.vector.indexed:
            raise ctx.fail(
                E.illegal_argument(
                    f"to perform knn search on field [{spec.path}], its mapping must have [index] set to [true]"
                )
            )
        query = np.asarray(self.vector, dtype=np.float32)
        dims = spec.vector.dims
        if dims is not None and dims != len(query):
            raise ctx.fail(
                E.illegal_argument(
                    f"The query vector has a different number of dimensions [{len(query)}] than the document vectors [{dims}]."
                )
            )
        problem = vector_value_error(
            query, spec.vector.similarity if spec.vector.similarity in ("cosine", "dot_product") else None
        )
        if problem is not None:
            raise ctx.fail(E.illegal_argument(problem))
        if dims is None or ctx.n == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        similarity = spec.vector.similarity or "cosine"
        if similarity == "cosine":
            squared = np.float32(np.dot(query, query))
            if abs(float(squared) - 1.0) > 1e-3:
                query = (query / np.float32(math.sqrt(squared))).astype(np.float32)
        matrix, present = ctx.segment.vectors(spec)
        mask = present.copy()
        for f in self.filters:
            m, _ = f.run(ctx, False)
            mask &= m
        ords = np.flatnonzero(mask)
        if len(ords) == 0:
            return ords, np.zeros(0, dtype=np.float32)
        raw, scores = similarity_scores(similarity, matrix[ords] if len(ords) < ctx.n else matrix, query)
        if self.similarity is not None:
            threshold = similarity_to_score(similarity, self.similarity)
            keep = scores >= threshold
            ords, scores = ords[keep], scores[keep]
        if len(ords) > k:
            part = np.argpartition(-scores, k - 1)[:k]
            ords, scores = ords[part], scores[part]
        order = np.lexsort((ords, -scores))
        ords, scores = ords[order], scores[order]
        boosted = (scores * np.float32(self.boost)).astype(np.float32)
        return ords, boosted


def default_num_candidates(k: int) -> int:
    """num_candidates when the request leaves it out: Math.round(Math.min(1.5f * k, 10000))."""
    return int(math.floor(min(NUM_CANDS_LIMIT, float(np.float32(1.5) * np.float32(k))) + 0.5))


def parse_knn(body: Any, default_size: int, top_level: bool) -> KnnSpec:
    """Parse and validate a kNN clause with Elasticsearch's messages and defaults."""
    what = "knn"
    if not isinstance(body, dict):
        raise E.x_content_parse_error(f"[{what}] knn doesn't support values of type: {token_name(body)}")
    allowed = {
        "field",
        "query_vector",
        "k",
        "num_candidates",
        "filter",
        "similarity",
        "boost",
        "_name",
        "query_vector_builder",
        "inner_hits",
        "rescore_vector",
        "visit_percentage",
    }
    for key in body:
        if key not in allowed:
            raise E.x_content_parse_error(f"[{what}] unknown field [{key}]")
    for key in ("query_vector_builder", "inner_hits", "rescore_vector", "visit_percentage"):
        if key in body:
            raise E.unsupported(f"knn [{key}]")
    if "field" not in body:
        raise E.illegal_argument("Required [field]")
    vector = body.get("query_vector")
    if vector is None:
        raise E.illegal_argument("either [query_vector] or [query_vector_builder] must be provided")
    if isinstance(vector, str):
        raise E.unsupported("hex/base64 encoded query vectors")
    if not isinstance(vector, list) or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in vector):
        raise E.x_content_parse_error(f"[{what}] failed to parse field [query_vector]")
    k = body.get("k")
    num_candidates = body.get("num_candidates")
    if k is not None:
        k = _int(k, "k", what)
    if num_candidates is not None:
        num_candidates = _int(num_candidates, "num_candidates", what)
    similarity = body.get("similarity")
    if similarity is not None:
        similarity = _float(similarity, "similarity", what)
    boost = _float(body.get("boost", 1.0), "boost", what)
    filters_raw = body.get("filter", [])
    if isinstance(filters_raw, dict):
        filters_raw = [filters_raw]
    filters = [parse_query(f) for f in filters_raw]
    if top_level:
        k = k if k is not None else default_size
        if num_candidates is None:
            num_candidates = default_num_candidates(k)
        if k < 1:
            raise E.illegal_argument("[k] must be greater than 0")
        if num_candidates < k:
            raise E.illegal_argument("[num_candidates] cannot be less than [k]")
        if num_candidates > NUM_CANDS_LIMIT:
            raise E.illegal_argument(f"[num_candidates] cannot exceed [{NUM_CANDS_LIMIT}]")
    else:
        problem = None
        if k is not None and k < 1:
            problem = "[k] must be greater than 0"
        elif num_candidates is not None and num_candidates > NUM_CANDS_LIMIT:
            problem = f"[num_candidates] cannot exceed [{NUM_CANDS_LIMIT}]"
        elif k is not None and num_candidates is not None and num_candidates < k:
            problem = "[num_candidates] cannot be less than [k]"
        if problem is not None:
            raise E.x_content_parse_error(
                "Failed to build [knn] after last required field arrived", caused_by=E.illegal_argument(problem)
            )
    return KnnSpec(
        str(body["field"]), [float(v) for v in vector], k, num_candidates, filters, similarity, boost, body.get("_name")
    )


class Knn(Query):
    """The `knn` query: top k per shard, pre-filtered.

    Without `k`, k is the request size capped by `num_candidates` (KnnVectorQueryBuilder.doToQuery:
    `k = requestSize; if (numCands != null) k = Math.min(k, numCands)`), so a knn query with
    `num_candidates: 5` in a `size: 10` search collects 5 per shard: YAML REST test
    search.vectors/140_knn_query_with_other_queries.yml ("dis_max query with knn query": 5 knn hits
    + the match's hits; its function_score section sets `k: 5` to collect 5 with `size: 3`).
    """

    def __init__(self, spec: KnnSpec) -> None:
        self.spec = spec
        self.name = spec.name

    def children(self) -> list[Query]:
        return list(self.spec.filters)

    def rewrite(self, resolver: Callable[[Query], Query]) -> Query:
        self.spec.filters = [q.rewrite(resolver) for q in self.spec.filters]
        return resolver(self)

    def execute(self, ctx: ExecContext, scoring: bool) -> Result:
        k = self.spec.k
        if k is None:
            k = ctx.request_size
            if self.spec.num_candidates is not None:
                k = min(k, self.spec.num_candidates)
        if k <= 0:
            return ctx.empty()
        ords, scores = self.spec.candidates(ctx, k)
        return _scatter(ctx, ords, scores)


def _parse_knn_query(spec: dict[str, Any]) -> Query:
    return Knn(parse_knn(spec, 10, top_level=False))


# ---------------------------------------------------------------------- script_score
class ScriptScore(_Wrapper):
    def __init__(self, inner: Query, source: str, params: dict[str, Any], min_score: float | None) -> None:
        super().__init__(inner)
        self.source = source
        self.params = params
        self.min_score = min_score

    def execute(self, ctx: ExecContext, scoring: bool) -> Result:
        from tests.es_double import painless

        try:
            compiled = painless.compile_script(self.source, "painless")
        except painless.UnsupportedScript as exc:
            raise E.illegal_argument(str(exc)) from exc
        except painless.ScriptError as exc:
            raise ctx.fail(exc.to_es_error()) from exc
        mask, inner_scores = self.inner.run(ctx, True)
        ords = np.flatnonzero(mask)
        mapping = ctx.mapping
        docs = ctx.segment.docs

        def column(path: str) -> list[list]:
            spec = mapping.field(path)
            if spec is None:
                return [[] for _ in ords]
            if spec.type == "dense_vector":
                out_col = []
                for o in ords:
                    vec = docs[o].vectors.get(path)
                    out_col.append([] if vec is None else vec.tolist())
                return out_col
            return [doc_values(spec, docs[o].values.get(path, [])) for o in ords]

        def vector_dims(path: str) -> int | None:
            spec = mapping.field(path)
            return spec.vector.dims if spec is not None and spec.vector is not None else None

        batch = painless.BatchContext(
            params=self.params,
            scores=inner_scores[ords].astype(np.float32),
            doc_values=column,
            field_type=mapping.field_type,
            vector_dims=vector_dims,
        )
        try:
            values = compiled.execute_batch(batch)
        except painless.UnsupportedScript as exc:
            raise E.illegal_argument(str(exc)) from exc
        except painless.ScriptError as exc:
            raise ShardFailure(exc.to_es_error()) from exc
        scores = np.asarray(values, dtype=np.float64).astype(np.float32)
        bad = np.flatnonzero((scores < 0) | np.isnan(scores))
        if len(bad):
            first = bad[0]
            raise ShardFailure(
                E.illegal_argument(
                    f"script_score script returned an invalid score [{java_float(scores[first])}] for doc [{ords[first]}]. "
                    f"Must be a non-negative score!"
                )
            )
        out = np.zeros(ctx.n)
        out[ords] = (scores * np.float32(self.boost)).astype(np.float32)
        if self.min_score is not None:
            mask = mask & (out >= float(np.float32(self.min_score)))
        return mask, np.where(mask, out, 0.0)


def parse_script(value: Any, where: str) -> tuple[str, dict[str, Any]]:
    """A script object: inline `source` (painless) with `params`; stored scripts are refused."""
    if isinstance(value, str):
        return value, {}
    if not isinstance(value, dict):
        raise E.parsing_error(f"[{where}] failed to parse field [script]")
    for key in value:
        if key not in ("source", "id", "params", "lang", "options"):
            raise E.parsing_error(f"[script] unknown field [{key}]")
    if "id" in value:
        raise E.unsupported("stored scripts (script.id)")
    lang = value.get("lang", "painless")
    if lang != "painless":
        raise E.unsupported(f"script lang [{lang}]")
    if "source" not in value:
        raise E.parsing_error("must specify either [source] for an inline script or [id] for a stored script")
    params = value.get("params") or {}
    if not isinstance(params, dict):
        raise E.parsing_error("[script] failed to parse field [params]")
    return str(value["source"]), params


def _parse_script_score(spec: dict[str, Any]) -> Query:
    _unknown("script_score", spec, {"query", "script", "min_score", "boost", "_name"})
    if "query" not in spec:
        raise E.parsing_error("[script_score] requires 'query' field")
    if "script" not in spec:
        raise E.parsing_error("[script_score] requires 'script' field")
    source, params = parse_script(spec["script"], "script_score")
    min_score = spec.get("min_score")
    node = ScriptScore(
        parse_query(spec["query"]),
        source,
        params,
        None if min_score is None else _float(min_score, "min_score", "script_score"),
    )
    _common(node, spec, "script_score")
    return node


_PARSERS: dict[str, Callable[[dict[str, Any]], Query]] = {
    "match_all": _parse_match_all,
    "match_none": _parse_match_none,
    "bool": _parse_bool,
    "term": _parse_term,
    "terms": _parse_terms,
    "range": _parse_range,
    "exists": _parse_exists,
    "ids": _parse_ids,
    "match": _parse_match,
    "match_bool_prefix": lambda s: _parse_match(s, "match_bool_prefix"),
    "match_phrase": _parse_match_phrase,
    "multi_match": _parse_multi_match,
    "dis_max": _parse_dis_max,
    "constant_score": _parse_constant_score,
    "knn": _parse_knn_query,
    "script_score": _parse_script_score,
}


def walk(node: Query) -> list[Query]:
    """All nodes of a query tree (for rewrites)."""
    out = [node]
    for child in node.children():
        out.extend(walk(child))
    return out
