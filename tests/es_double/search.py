"""`_search` and `_count`: request parsing, per-index execution, merging, hits rendering.

The request is parsed first (body errors are 400s of the coordinating node), then indices
are resolved, terms lookups are fetched (the coordinating rewrite), and every index is
searched as one shard; shard-level errors become a `search_phase_execution_exception`.
Top-level `knn` runs per index first (Elasticsearch's DFS phase, `phase: "dfs"` in its
errors), the global top k of each clause is merged, and its hits are ORed with `query`,
scores added. (https://www.elastic.co/docs/solutions/search/vector/knn)
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from tests.es_double import errors as E
from tests.es_double.errors import EsError, ShardFailure
from tests.es_double.javafmt import float32_json
from tests.es_double.jsonloc import token_name
from tests.es_double.mapping import (
    INTEGER_RANGES,
    Mapping,
    doc_values,
    fetch_field_values,
    source_values,
)
from tests.es_double.query import (
    ExecContext,
    KnnSpec,
    Query,
    Terms,
    parse_knn,
    parse_query,
    walk,
)
from tests.es_double.source_filter import (
    SourceSpec,
    parse_body_source,
    parse_url_source,
)
from tests.es_double.store import Cluster, IndexState

DEFAULT_SIZE = 10
DEFAULT_TRACK_TOTAL_HITS = 10_000

# Search URL parameters Elasticsearch accepts and the double refuses as unsupported, not as unknown.
UNSUPPORTED_PARAMS = {
    "q",
    "filter_path",
    "stored_fields",
    "docvalue_fields",
    "terminate_after",
    "stats",
    "suggest_field",
    "suggest_mode",
    "suggest_size",
    "suggest_text",
    "analyzer",
    "analyze_wildcard",
    "default_operator",
    "df",
    "lenient",
    "include_named_queries_score",
    "force_synthetic_source",
}
SEARCH_PARAMS = UNSUPPORTED_PARAMS | {
    "scroll",  # tests/es_double/scroll.py
    "allow_no_indices",
    "allow_partial_search_results",
    "batched_reduce_size",
    "ccs_minimize_roundtrips",
    "expand_wildcards",
    "from",
    "ignore_throttled",
    "ignore_unavailable",
    "max_concurrent_shard_requests",
    "preference",
    "pre_filter_shard_size",
    "request_cache",
    "rest_total_hits_as_int",
    "routing",
    "search_type",
    "seq_no_primary_term",
    "size",
    "sort",
    "_source",
    "_source_excludes",
    "_source_includes",
    "_source_exclude_vectors",
    "timeout",
    "track_scores",
    "track_total_hits",
    "version",
    "error_trace",
    "human",
    "pretty",
    "typed_keys",
    "explain",
    "project_routing",
}
COUNT_PARAMS = {
    "allow_no_indices",
    "expand_wildcards",
    "ignore_throttled",
    "ignore_unavailable",
    "min_score",
    "preference",
    "routing",
    "terminate_after",
    "q",
    "analyzer",
    "analyze_wildcard",
    "default_operator",
    "df",
    "lenient",
    "error_trace",
    "human",
    "pretty",
    "filter_path",
    "project_routing",
}
BODY_KEYS = {
    "query",
    "knn",
    "from",
    "size",
    "sort",
    "_source",
    "fields",
    "track_total_hits",
    "min_score",
    "timeout",
    "aggs",
    "aggregations",
    "post_filter",
    "version",
    "seq_no_primary_term",
    "track_scores",
    "search_after",
}
UNSUPPORTED_BODY_KEYS = {
    "explain",
    "highlight",
    "suggest",
    "collapse",
    "pit",
    "rescore",
    "script_fields",
    "docvalue_fields",
    "stored_fields",
    "profile",
    "indices_boost",
    "stats",
    "runtime_mappings",
    "retriever",
    "rank",
    "terminate_after",
    "ext",
    "slice",
    "sub_searches",
}


def check_params(params: dict[str, str], allowed: set[str], path: str) -> None:
    """Elasticsearch rejects unknown URL parameters."""
    unknown = [p for p in params if p not in allowed]
    if unknown:
        noun = "parameter" if len(unknown) == 1 else "parameters"
        raise E.illegal_argument(f"request [{path}] contains unrecognized {noun}: [{'], ['.join(unknown)}]")


def _int_param(value: Any, name: str) -> int:
    try:
        if isinstance(value, bool):
            raise ValueError
        return int(value)
    except (TypeError, ValueError):
        raise E.illegal_argument(f"Failed to parse int parameter [{name}] with value [{value}]") from None


@dataclass
class SortKey:
    field: str
    order: str
    missing: Any = "_last"
    mode: str | None = None
    unmapped_type: str | None = None


def parse_sort(value: Any) -> list[SortKey]:
    """`sort`: "f", {"f": "desc"}, {"f": {"order", "missing", "mode", "unmapped_type"}}, or a list."""
    items = value if isinstance(value, list) else [value]
    keys: list[SortKey] = []
    for item in items:
        if isinstance(item, str):
            name, _, order = item.partition(":")
            default = "desc" if name == "_score" else "asc"
            keys.append(SortKey(name, (order or default).lower()))
            continue
        if not isinstance(item, dict) or len(item) != 1:
            raise E.parsing_error("[sort] failed to parse field [sort]")
        name, spec = next(iter(item.items()))
        default = "desc" if name == "_score" else "asc"
        if isinstance(spec, str):
            keys.append(SortKey(name, spec.lower()))
            continue
        if not isinstance(spec, dict):
            raise E.parsing_error(f"[{name}] failed to parse field [sort]")
        for key in spec:
            if key in ("nested", "numeric_type", "format", "script", "_geo_distance"):
                raise E.unsupported(f"sort option [{key}]")
            if key not in ("order", "missing", "mode", "unmapped_type"):
                raise E.parsing_error(f"[field_sort] unknown field [{key}]")
        keys.append(
            SortKey(
                name,
                str(spec.get("order", default)).lower(),
                spec.get("missing", "_last"),
                spec.get("mode"),
                spec.get("unmapped_type"),
            )
        )
    for key in keys:
        if key.order not in ("asc", "desc"):
            raise E.illegal_argument(f"Unknown SortOrder [{key.order}]")
        if key.mode is not None and key.mode not in ("min", "max", "avg", "sum", "median"):
            raise E.illegal_argument(f"Unknown SortMode [{key.mode}]")
        if key.mode in ("avg", "sum", "median"):
            raise E.unsupported(f"sort mode [{key.mode}]")
    return keys


@dataclass
class SearchRequest:
    """A parsed search (or count) request."""

    query: Query | None
    knn: list[KnnSpec]
    from_: int
    size: int
    sort: list[SortKey] | None
    source: SourceSpec
    fields: list[tuple[str, str | None]]
    track_total_hits: bool | int
    min_score: float | None
    aggs: dict[str, Any] | None
    post_filter: Query | None
    version: bool
    seq_no_primary_term: bool
    track_scores: bool
    rest_total_hits_as_int: bool
    search_after: list[Any] | None = None


def parse_search(body: Any, params: dict[str, str]) -> SearchRequest:
    body = body or {}
    if not isinstance(body, dict):
        raise E.parsing_error("Unknown key for a VALUE_STRING in [_na].")
    for key in params:
        if key in UNSUPPORTED_PARAMS:
            raise E.unsupported(f"search parameter [{key}]")
    if params.get("explain") == "true":
        raise E.unsupported("search parameter [explain]")
    if params.get("typed_keys") == "true":
        raise E.unsupported("search parameter [typed_keys]")
    for key, value in body.items():
        if key in UNSUPPORTED_BODY_KEYS:
            if key == "explain" and value is False:
                continue
            raise E.unsupported(f"search option [{key}]")
        if key not in BODY_KEYS:
            raise E.parsing_error(f"Unknown key for a {token_name(value)} in [{key}].")
    size = body.get("size", params.get("size", DEFAULT_SIZE))
    from_ = body.get("from", params.get("from", 0))
    size = _int_param(size, "size")
    from_ = _int_param(from_, "from")
    if size < 0:
        raise E.illegal_argument(f"[size] parameter cannot be negative, found [{size}]")
    if from_ < 0:
        raise E.illegal_argument(f"[from] parameter cannot be negative, found [{from_}]")
    knn_raw = body.get("knn")
    knn: list[KnnSpec] = []
    if knn_raw is not None:
        if params.get("search_type") is not None:
            raise E.illegal_argument(
                "cannot set [search_type] when using [knn] search, since the search type is determined automatically"
            )
        for item in knn_raw if isinstance(knn_raw, list) else [knn_raw]:
            knn.append(parse_knn(item, size, top_level=True))
    query = parse_query(body["query"]) if "query" in body else None
    post_filter = parse_query(body["post_filter"]) if "post_filter" in body else None
    sort = None
    if "sort" in body:
        sort = parse_sort(body["sort"])
    elif "sort" in params:
        sort = parse_sort(params["sort"].split(","))
    source = parse_url_source(params, parse_body_source(body.get("_source")))
    fields: list[tuple[str, str | None]] = []
    for item in body.get("fields", []) or []:
        if isinstance(item, str):
            fields.append((item, None))
        elif isinstance(item, dict) and "field" in item:
            for key in item:
                if key not in ("field", "format", "include_unmapped"):
                    raise E.parsing_error(f"[fields] unknown field [{key}]")
            if item.get("include_unmapped"):
                raise E.unsupported("fields [include_unmapped]")
            fields.append((str(item["field"]), item.get("format")))
        else:
            raise E.parsing_error("[fields] failed to parse field [fields]")
    tth_raw = body.get("track_total_hits", params.get("track_total_hits"))
    track: bool | int = DEFAULT_TRACK_TOTAL_HITS
    if tth_raw is not None:
        if tth_raw in (True, "true"):
            track = True
        elif tth_raw in (False, "false"):
            track = False
        else:
            track = _int_param(tth_raw, "track_total_hits")
            if track < -1:
                raise E.illegal_argument(f"[track_total_hits] parameter must be positive or equals to -1, got {track}")
            if track == -1:
                track = True
    # RestSearchAction.checkRestTotalHits: an integer total needs accurate tracking (YAML REST test
    # search/220_total_hits_object.yml: "... cannot be used if the tracking of total hits is not accurate, got 100")
    rest_int = params.get("rest_total_hits_as_int") == "true"
    if rest_int and tth_raw is None:
        track = True
    elif rest_int and track is not True and track is not False:
        raise E.illegal_argument(
            f"[rest_total_hits_as_int] cannot be used if the tracking of total hits is not accurate, got {track}"
        )
    aggs = body.get("aggs", body.get("aggregations"))
    if "aggs" in body and "aggregations" in body:
        raise E.parsing_error("Found two aggregation type definitions in [aggregations]: [aggs] and [aggregations]")
    min_score = body.get("min_score")
    search_after = _parse_search_after(body.get("search_after"), sort, from_)
    return SearchRequest(
        query=query,
        knn=knn,
        from_=from_,
        size=size,
        sort=sort,
        source=source,
        fields=fields,
        track_total_hits=track,
        min_score=None if min_score is None else float(min_score),
        aggs=aggs,
        post_filter=post_filter,
        version=bool(body.get("version", params.get("version") == "true")),
        seq_no_primary_term=bool(body.get("seq_no_primary_term", params.get("seq_no_primary_term") == "true")),
        track_scores=bool(body.get("track_scores", params.get("track_scores") == "true")),
        rest_total_hits_as_int=rest_int,
        search_after=search_after,
    )


def _parse_search_after(value: Any, sort: list[SortKey] | None, from_: int) -> list[Any] | None:
    """`search_after`: the sort values of the last hit of the previous page.

    SearchRequest.validate refuses it with `from` > 0; the count of values is checked against
    the sort on the shards (SearchAfterBuilder). (YAML REST test search/90_search_after.yml)
    """
    if value is None:
        return None
    if not isinstance(value, list):
        raise E.parsing_error(f"[search_after] failed to parse field [search_after]: expected an array, got {value!r}")
    if not value:
        return None
    if from_ > 0:
        raise EsError(
            400,
            "action_request_validation_exception",
            "Validation Failed: 1: [from] parameter must be set to 0 when [search_after] is used;",
        )
    if not sort:
        raise E.unsupported("search_after without [sort]")
    for item in value:
        if isinstance(item, (dict, list)):
            raise E.parsing_error(f"[search_after] values must be values, got {token_name(item)}")
    return list(value)


def resolve_terms_lookups(cluster: Cluster, roots: list[Query]) -> None:
    """Fetch terms-lookup documents (real-time GET) and replace them with values."""
    for root in roots:
        for node in walk(root):
            if isinstance(node, Terms) and node.lookup is not None:
                lookup = node.lookup
                idx = cluster.resolve_single(lookup.index)
                doc = idx.docs.get(lookup.id)
                values: list[Any] = []
                if doc is not None:
                    source = cluster.full_source(idx, doc)
                    for v in source_values(source, lookup.path):
                        if isinstance(v, list):
                            values.extend(v)
                        else:
                            values.append(v)
                node.values = values
                node.lookup = None


class _MultiMappingView:
    """MappingView over several indices: each source document answers from its own mapping."""

    def __init__(self, parts: list[tuple[Mapping, dict[int, dict[str, list[Any]]]]]) -> None:
        self._parts = parts

    def field_type(self, path: str) -> str | None:
        for mapping, _ in self._parts:
            t = mapping.field_type(path)
            if t is not None:
                return t
        return None

    def date_format(self, path: str) -> str | None:
        for mapping, _ in self._parts:
            spec = mapping.field(path)
            if spec is not None and spec.date_format is not None:
                return spec.date_format.text
        return None

    def doc_values(self, source: dict[str, Any], path: str) -> list[Any]:
        for mapping, known in self._parts:
            values = known.get(id(source))
            if values is not None:
                spec = mapping.field(path)
                return [] if spec is None else doc_values(spec, values.get(path, []))
        return []


@dataclass
class _IndexRun:
    idx: IndexState
    ctx: ExecContext
    mask: np.ndarray
    scores: np.ndarray


def execute_search(
    cluster: Cluster, expression: str | None, body: Any, params: dict[str, str], path: str
) -> tuple[int, dict[str, Any]]:
    """Run `_search`; returns (status, body).

    The whole search holds the cluster lock: mappings can change under dynamic updates, and a
    test double serialising requests is simpler than one that is clever about it.
    """
    started = time.monotonic()
    check_params(params, SEARCH_PARAMS, path)
    request = parse_search(body, params)
    with cluster.lock:
        return _search_locked(cluster, expression, params, request, started)


def _search_locked(
    cluster: Cluster,
    expression: str | None,
    params: dict[str, str],
    request: SearchRequest,
    started: float,
    *,
    result_window: bool = True,
) -> tuple[int, dict[str, Any]]:
    """`result_window=False`: no from + size limit (a scroll keeps every hit and checks its batch size itself)."""
    indices = cluster.resolve(
        expression,
        ignore_unavailable=params.get("ignore_unavailable") == "true",
        allow_no_indices=params.get("allow_no_indices", "true") != "false",
    )
    roots = [q for q in [request.query, request.post_filter] if q is not None]
    for spec in request.knn:
        roots.extend(spec.filters)
    resolve_terms_lookups(cluster, roots)
    snapshots = [(idx, idx.segment) for idx in indices]
    now_ms = int(time.time() * 1000)
    total_shards = sum(idx.number_of_shards for idx, _ in snapshots)
    failures: list[tuple[str, EsError]] = []
    phase = "query"
    runs: list[_IndexRun] = []
    contexts = {}
    for idx, seg in snapshots:
        contexts[idx.name] = ExecContext(idx.name, idx.uuid, seg, request.size, now_ms, idx.max_terms_count)
    # DFS phase: top-level knn candidates per index, merged to a global top k per clause
    knn_scores: dict[str, np.ndarray] = {name: np.zeros(c.n) for name, c in contexts.items()}
    knn_masks: dict[str, np.ndarray] = {name: np.zeros(c.n, dtype=bool) for name, c in contexts.items()}
    failed_names: set[str] = set()
    for spec in request.knn:
        pooled: list[tuple[float, int, int, str]] = []
        for pos, (idx, _seg) in enumerate(snapshots):
            if idx.name in failed_names:
                continue
            try:
                assert spec.k is not None
                ords, scores = spec.candidates(contexts[idx.name], spec.k)
            except ShardFailure as failure:
                failures.append((idx.name, failure.cause))
                failed_names.add(idx.name)
                phase = "dfs"
                continue
            pooled.extend((float(s), pos, int(o), idx.name) for o, s in zip(ords, scores, strict=True))
        assert spec.k is not None
        pooled.sort(key=lambda t: (-t[0], t[1], t[2]))
        for score, _pos, o, name in pooled[: spec.k]:
            knn_masks[name][o] = True
            knn_scores[name][o] += score
            if spec.name:
                named = contexts[name].named.setdefault(spec.name, np.zeros(contexts[name].n, dtype=bool))
                named[o] = True
    for idx, _seg in snapshots:
        if idx.name in failed_names:
            continue
        ctx = contexts[idx.name]
        try:
            if result_window and request.from_ + request.size > idx.max_result_window:
                raise ShardFailure(
                    E.illegal_argument(
                        f"Result window is too large, from + size must be less than or equal to: [{idx.max_result_window}] "
                        f"but was [{request.from_ + request.size}]. See the scroll api for a more efficient way to request "
                        f"large data sets. This limit can be set by changing the [index.max_result_window] index level setting."
                    )
                )
            if request.query is not None:
                mask, scores = request.query.run(ctx, True)
            elif request.knn:
                mask, scores = np.zeros(ctx.n, dtype=bool), np.zeros(ctx.n)
            else:
                mask, scores = np.ones(ctx.n, dtype=bool), np.ones(ctx.n)
            if request.knn:
                kmask = knn_masks[idx.name]
                scores = np.where(mask, scores, 0.0) + knn_scores[idx.name]
                mask = mask | kmask
                scores = scores.astype(np.float32).astype(np.float64)
            if request.min_score is not None:
                mask = mask & (scores >= float(np.float32(request.min_score)))
            if request.sort:
                _validate_sort(ctx, idx, request.sort)
                if request.search_after is not None and len(request.search_after) != len(request.sort):
                    raise ShardFailure(
                        E.illegal_argument(
                            f"search_after has {len(request.search_after)} value(s) but sort has {len(request.sort)}."
                        )
                    )
            runs.append(_IndexRun(idx, ctx, mask, scores))
        except ShardFailure as failure:
            failures.append((idx.name, failure.cause))
    if failures and not runs:
        raise E.search_phase_failure(failures, phase, cluster.node_id)
    aggregations = None
    if request.aggs is not None:
        try:
            aggregations = _run_aggs(cluster, request.aggs, runs)
        except EsError as exc:
            if exc.type in ("parsing_exception", "x_content_parse_exception") or exc.reason.startswith(
                E.UNSUPPORTED_PREFIX
            ):
                raise
            # aggregator creation / collection errors happen on the shards
            on_shards = [(run.idx.name, exc) for run in runs] or [("", exc)]
            raise E.search_phase_failure(on_shards, "query", cluster.node_id) from exc
    if request.post_filter is not None:
        for run in runs:
            try:
                m, _ = request.post_filter.run(run.ctx, False)
            except ShardFailure as failure:
                raise E.search_phase_failure([(run.idx.name, failure.cause)], "query", cluster.node_id) from failure
            run.mask = run.mask & m
    total = int(sum(int(r.mask.sum()) for r in runs))
    hits, max_score = _collect_hits(cluster, request, runs)
    took = int((time.monotonic() - started) * 1000)
    hits_obj: dict[str, Any] = {}
    if request.track_total_hits is False and request.rest_total_hits_as_int:
        hits_obj["total"] = -1  # 220_total_hits_object.yml ("track_total_hits with rest_total_hits_as_int")
    elif request.track_total_hits is not False:
        if request.rest_total_hits_as_int:
            hits_obj["total"] = total
        else:
            limit = None if request.track_total_hits is True else int(request.track_total_hits)
            if limit is not None and total > limit:
                hits_obj["total"] = {"value": limit, "relation": "gte"}
            else:
                hits_obj["total"] = {"value": total, "relation": "eq"}
    hits_obj["max_score"] = max_score
    hits_obj["hits"] = hits
    out: dict[str, Any] = {
        "took": took,
        "timed_out": False,
        "_shards": _shards(total_shards, failures, cluster.node_id),
        "hits": hits_obj,
    }
    if aggregations is not None:
        out["aggregations"] = aggregations
    return 200, out


def _shards(total: int, failures: list[tuple[str, EsError]], node_id: str) -> dict[str, Any]:
    out: dict[str, Any] = {"total": total, "successful": total - len(failures), "skipped": 0, "failed": len(failures)}
    if failures:
        out["failures"] = [
            {"shard": 0, "index": name, "node": node_id, "reason": cause.to_dict()} for name, cause in failures
        ]
    return out


def _run_aggs(cluster: Cluster, aggs: Any, runs: list[_IndexRun]) -> dict[str, Any]:
    from tests.es_double import aggs as aggs_module

    sources: list[dict[str, Any]] = []
    parts = []
    all_docs: list[dict[str, Any]] = []
    for run in runs:
        known: dict[int, dict[str, list[Any]]] = {}
        for o in np.flatnonzero(run.mask):
            doc = run.ctx.segment.docs[o]
            sources.append(doc.source)
            known[id(doc.source)] = doc.values
        for doc in run.ctx.segment.docs:
            known.setdefault(id(doc.source), doc.values)
            all_docs.append(doc.source)
        parts.append((run.idx.mapping, known))
    view = _MultiMappingView(parts)
    index_name = runs[0].idx.name if runs else ""
    return aggs_module.run_aggregations(aggs, sources, view, index=index_name, all_docs=all_docs)


def _validate_sort(ctx: ExecContext, idx: IndexState, keys: list[SortKey]) -> None:
    for key in keys:
        if key.field in ("_score", "_doc"):
            continue
        if key.field == "_id":
            raise ShardFailure(
                E.illegal_argument(
                    "Fielddata access on the _id field is disallowed, you can re-enable it by updating the dynamic cluster "
                    "setting: indices.id_field_data.enabled"
                )
            )
        spec = idx.mapping.field(key.field)
        if spec is None:
            if key.unmapped_type is None:
                raise ShardFailure(
                    E.query_shard(f"No mapping found for [{key.field}] in order to sort on", idx.name, idx.uuid)
                )
            continue
        if spec.type == "text":
            raise ShardFailure(
                E.illegal_argument(
                    f"Text fields are not optimised for operations that require per-document field data like aggregations "
                    f"and sorting, so these operations are disabled by default. Please use a keyword field instead. "
                    f"Alternatively, set fielddata=true on [{key.field}] in order to load field data by uninverting the "
                    f"inverted index. Note that this can use significant memory."
                )
            )
        if spec.type == "dense_vector":
            raise ShardFailure(E.illegal_argument(f"Field [{key.field}] of type [dense_vector] doesn't support sort"))


_LONG_MAX = 2**63 - 1
_LONG_MIN = -(2**63)


def _sort_value(idx: IndexState, doc_values_list: list[Any], key: SortKey) -> tuple[Any, Any]:
    """(comparable value or None for missing, value printed in `sort`)."""
    spec = idx.mapping.field(key.field)
    if spec is None or not doc_values_list:
        return None, None
    values = doc_values(spec, doc_values_list)
    if not values:
        return None, None
    mode = key.mode or ("max" if key.order == "desc" else "min")
    chosen = max(values) if mode == "max" else min(values)
    if spec.type == "boolean":
        return int(chosen), int(chosen)
    if spec.type in ("float", "half_float"):
        return chosen, float32_json(chosen)
    return chosen, chosen


def _compare_sort_values(keys: list[SortKey], a: list[Any], b: list[Any]) -> int:
    """-1 / 0 / 1: the order of two hits' sort values (None = missing, placed by `missing`)."""
    for i, key in enumerate(keys):
        va, vb = a[i], b[i]
        if va == vb:
            continue
        missing_first = key.missing == "_first"
        if va is None or vb is None:
            if key.missing not in ("_first", "_last"):
                va = key.missing if va is None else va
                vb = key.missing if vb is None else vb
                if va == vb:
                    continue
            else:
                return (-1 if missing_first else 1) if va is None else (1 if missing_first else -1)
        less = va < vb
        if key.order == "desc":
            less = not less
        return -1 if less else 1
    return 0


def _paging_keys(entry: tuple) -> list[Any]:
    """An entry's sort values as search_after compares them: `_doc` is the per-shard doc number."""
    return [k[1] if isinstance(k, tuple) else k for k in entry[0]]


def _after_values(runs: list[_IndexRun], keys: list[SortKey], values: list[Any]) -> list[Any]:
    """search_after values converted to each sort field's comparable form (DocValueFormat.parse*)."""
    out: list[Any] = []
    for key, value in zip(keys, values, strict=True):
        if value is None:
            out.append(None)
            continue
        if key.field == "_score":
            out.append(float(np.float32(_after_number(value, key.field))))
            continue
        if key.field == "_doc":
            out.append(int(_after_number(value, key.field)))
            continue
        spec = next((r.idx.mapping.field(key.field) for r in runs if r.idx.mapping.field(key.field)), None)
        out.append(_after_field_value(spec, key, value))
    return out


def _after_number(value: Any, field: str) -> float:
    if isinstance(value, bool):
        raise E.illegal_argument(f"search_after value [{value}] for sort field [{field}] is not a number")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise E.illegal_argument(f"search_after value [{value}] for sort field [{field}] is not a number") from None


def _after_field_value(spec: Any, key: SortKey, value: Any) -> Any:
    if spec is None or spec.type == "keyword":
        return str(value) if not isinstance(value, bool) else ("true" if value else "false")
    if spec.type == "boolean":
        if isinstance(value, bool) or value in ("true", "false"):
            return int(value in (True, "true"))
        return int(_after_number(value, key.field))
    if spec.type == "date":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return int(value)
        try:
            return int(value)
        except (TypeError, ValueError):
            assert spec.date_format is not None
            return int(spec.date_format.parse(value))
    number = _after_number(value, key.field)
    if spec.type in INTEGER_RANGES:
        return int(number) if float(number).is_integer() else number
    if spec.type == "float":
        return float(np.float32(number))
    if spec.type == "half_float":
        return float(np.float16(number))
    return number


def _missing_print(idx: IndexState, key: SortKey) -> Any:
    spec = idx.mapping.field(key.field)
    first = key.missing == "_first"
    if key.missing not in ("_first", "_last"):
        return key.missing
    if spec is None or spec.type == "keyword":
        return None
    high = (key.order == "asc") != first
    if spec.type in INTEGER_RANGES or spec.type in ("date", "boolean"):
        return _LONG_MAX if high else _LONG_MIN
    return math.inf if high else -math.inf


def _collect_hits(
    cluster: Cluster, request: SearchRequest, runs: list[_IndexRun]
) -> tuple[list[dict[str, Any]], float | None]:
    window = request.from_ + request.size
    scoring = request.sort is None or request.track_scores or any(k.field == "_score" for k in (request.sort or []))
    max_score: float | None = None
    all_scores = [r.scores[r.mask] for r in runs]
    if scoring and any(len(s) for s in all_scores):
        max_score = float32_json(max(float(s.max()) for s in all_scores if len(s)))
    if request.size == 0:
        return [], None  # no top docs are collected, so Elasticsearch reports max_score null
    selected: list[tuple[int, int, float, list[Any]]] = []
    if request.sort is None:
        pos_list, ord_list, score_list = [], [], []
        for pos, run in enumerate(runs):
            ords = np.flatnonzero(run.mask)
            pos_list.append(np.full(len(ords), pos))
            ord_list.append(ords)
            score_list.append(run.scores[ords].astype(np.float32))
        if not pos_list:
            return [], None
        positions = np.concatenate(pos_list)
        ords = np.concatenate(ord_list)
        scores = np.concatenate(score_list)
        if len(scores) > window > 0:
            threshold = np.partition(-scores, window - 1)[window - 1]
            keep = -scores <= threshold
            positions, ords, scores = positions[keep], ords[keep], scores[keep]
        order = np.lexsort((ords, positions, -scores))[:window]
        for i in order[request.from_ :]:
            selected.append((int(positions[i]), int(ords[i]), float(scores[i]), []))
    else:
        entries = []
        for pos, run in enumerate(runs):
            docs = run.ctx.segment.docs
            for o in np.flatnonzero(run.mask):
                doc = docs[o]
                keys = []
                printed = []
                for key in request.sort:
                    if key.field == "_score":
                        value = float(np.float32(run.scores[o]))
                        keys.append(value)
                        printed.append(float32_json(value))
                    elif key.field == "_doc":
                        keys.append((pos, int(o)))
                        printed.append(int(o))
                    else:
                        value, shown = _sort_value(run.idx, doc.values.get(key.field, []), key)
                        keys.append(value)
                        printed.append(shown if value is not None else _missing_print(run.idx, key))
                entries.append((keys, pos, int(o), float(run.scores[o]), printed))

        sort_keys = request.sort or []

        def compare(a: tuple, b: tuple) -> int:
            return _compare_sort_values(sort_keys, a[0], b[0]) or (-1 if (a[1], a[2]) < (b[1], b[2]) else 1)

        if request.search_after is not None:
            # Lucene's paging collector keeps only hits strictly after `after` (ES builds it with doc
            # Integer.MAX_VALUE, so hits tied on every sort value are skipped: use a tiebreaker field)
            after = _after_values(runs, sort_keys, request.search_after)
            entries = [e for e in entries if _compare_sort_values(sort_keys, _paging_keys(e), after) > 0]
        entries.sort(key=functools.cmp_to_key(compare))
        for _keys, pos, o, score, printed in entries[request.from_ : window]:
            selected.append((pos, o, score, printed))
    hits = []
    for pos, o, score, printed in selected:
        run = runs[pos]
        doc = run.ctx.segment.docs[o]
        hit: dict[str, Any] = {"_index": run.idx.name, "_id": doc.id}
        if request.version:
            hit["_version"] = doc.version
        if request.seq_no_primary_term:
            hit["_seq_no"] = doc.seq_no
            hit["_primary_term"] = doc.primary_term
        hit["_score"] = float32_json(score) if scoring else None
        if request.source.fetch:
            late = tuple(f for f, _ in request.fields if run.idx.mapping.field_type(f) == "dense_vector")
            hit["_source"] = cluster.render_source(run.idx, doc, request.source, late)
        if request.fields:
            fields_out = _fetch_fields(cluster, run.idx, doc, request.fields)
            if fields_out:
                hit["fields"] = fields_out
        names = [name for name, mask in run.ctx.named.items() if mask[o]]
        if names:
            hit["matched_queries"] = names
        if request.sort is not None:
            hit["sort"] = printed
        hits.append(hit)
    return hits, max_score


def _fetch_fields(cluster: Cluster, idx: IndexState, doc: Any, fields: list[tuple[str, str | None]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    full = cluster.full_source(idx, doc)
    for pattern, fmt in fields:
        for path in idx.mapping.matching_fields(pattern):
            spec = idx.mapping.field(path)
            assert spec is not None
            if spec.type == "dense_vector":
                vector = doc.vectors.get(path)
                if vector is not None:
                    out[path] = [float32_json(v) for v in vector]
                continue
            values = fetch_field_values(idx.mapping, spec, full, fmt)
            if values:
                out[path] = values
    return out


def execute_count(
    cluster: Cluster, expression: str | None, body: Any, params: dict[str, str], path: str
) -> dict[str, Any]:
    """`_count`: the number of documents matching `query` (refreshed data only)."""
    check_params(params, COUNT_PARAMS, path)
    for key in params:
        if key in ("q", "terminate_after", "analyzer", "analyze_wildcard", "default_operator", "df", "lenient"):
            raise E.unsupported(f"count parameter [{key}]")
    body = body or {}
    if not isinstance(body, dict):
        raise E.parsing_error("request body or source parameter is required")
    for key in body:
        if key != "query":
            raise E.parsing_error(f"request does not support [{key}]")
    query = parse_query(body["query"]) if "query" in body else None
    min_score = params.get("min_score")
    with cluster.lock:
        indices = cluster.resolve(
            expression,
            ignore_unavailable=params.get("ignore_unavailable") == "true",
            allow_no_indices=params.get("allow_no_indices", "true") != "false",
        )
        if query is not None:
            resolve_terms_lookups(cluster, [query])
        snapshots = [(idx, idx.segment) for idx in indices]
    now_ms = int(time.time() * 1000)
    count = 0
    failures: list[tuple[str, EsError]] = []
    for idx, seg in snapshots:
        ctx = ExecContext(idx.name, idx.uuid, seg, DEFAULT_SIZE, now_ms, idx.max_terms_count)
        try:
            if query is None:
                mask = np.ones(seg.n, dtype=bool)
                scores = np.ones(seg.n)
            else:
                mask, scores = query.run(ctx, min_score is not None)
            if min_score is not None:
                mask = mask & (scores >= float(min_score))
            count += int(mask.sum())
        except ShardFailure as failure:
            failures.append((idx.name, failure.cause))
    if failures and len(failures) == len(snapshots):
        raise E.search_phase_failure(failures, "query", cluster.node_id)
    total_shards = sum(idx.number_of_shards for idx, _ in snapshots)
    return {"count": count, "_shards": _shards(total_shards, failures, cluster.node_id)}
