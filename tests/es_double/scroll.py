"""Scrolled searches: `_search?scroll=<keep alive>`, then `_search/scroll`, then clear scroll.

What Elasticsearch does and the double mirrors (YAML REST tests `scroll/10_basic.yml`, `scroll/11_clear.yml`;
https://www.elastic.co/docs/reference/elasticsearch/rest-apis/paginate-search-results#scroll-search-results):

* The first request runs the search on the indices as they are then and keeps its result: documents
  indexed or refreshed later are not seen by later pages ("Basic scroll"). Every page carries the first
  request's `hits.total` and a `_scroll_id`; after the last hit comes an empty page.
* `_search/scroll` takes `scroll_id` and `scroll` in the body or the URL; the body wins ("Body params
  override query string"). Each request renews the keep-alive; a context idle for longer is gone.
* Clear scroll frees contexts (`{"succeeded": true, "num_freed": n}`); a freed or unknown id then gives
  404 `search_context_missing_exception` to scroll and to clear scroll ("Clear scroll").
* `size: 0` is refused ("[size] cannot be [0] in a scroll context"), so is `request_cache=true`; a batch
  larger than `index.max_result_window` fails on the shard with "Batch size is too large ...".

The double keeps each context's hits rendered (a snapshot of the sorted result); `from`, aggregations,
`knn`, `post_filter`, `search_after` and slices with a scroll are refused as unsupported.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from tests.es_double import errors as E
from tests.es_double.errors import EsError
from tests.es_double.store import Cluster

_TIME = re.compile(r"^(\d+)(nanos|micros|ms|s|m|h|d)$")
_UNIT_S = {"nanos": 1e-9, "micros": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
MAX_KEEP_ALIVE_S = 86400.0  # search.max_keep_alive default (24h)
SCROLL_PARAMS = {"scroll", "scroll_id", "rest_total_hits_as_int", "error_trace", "human", "pretty"}


@dataclass
class ScrollContext:
    hits: list[dict[str, Any]]
    page: int
    total: dict[str, Any] | None
    keep_alive_s: float
    expires: float
    shards: dict[str, Any]
    pos: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def parse_keep_alive(value: Any, name: str = "scroll") -> float:
    """An Elasticsearch time value ("1m", "30s", "500ms") in seconds."""
    match = _TIME.match(str(value).strip())
    if not match:
        raise E.illegal_argument(f"failed to parse setting [{name}] with value [{value}] as a time value: unit is missing or unrecognized")
    seconds = int(match.group(1)) * _UNIT_S[match.group(2)]
    if seconds > MAX_KEEP_ALIVE_S:
        raise E.illegal_argument(
            f"Keep alive for request ({value}) is too large. It must be less than (24h). This limit can be set by "
            "changing the [search.max_keep_alive] cluster level setting."
        )
    return seconds


def _missing(scroll_id: str) -> EsError:
    return EsError(404, "search_context_missing_exception", f"No search context found for id [{scroll_id}]")


def _expire(cluster: Cluster, now: float) -> None:
    for key in [k for k, ctx in cluster.scrolls.items() if ctx.expires < now]:
        del cluster.scrolls[key]


def _total_object(total: Any) -> dict[str, Any] | None:
    if total is None or isinstance(total, dict):
        return total
    return {"value": int(total), "relation": "eq"}


def _page(scroll_id: str, ctx: ScrollContext, took_ms: int, as_int: bool) -> dict[str, Any]:
    """The next `page` hits; `hits.total` as the first request counted it (an int with rest_total_hits_as_int)."""
    hits = ctx.hits[ctx.pos : ctx.pos + ctx.page]
    ctx.pos += len(hits)
    out_hits: dict[str, Any] = {}
    if ctx.total is not None:
        out_hits["total"] = ctx.total["value"] if as_int else ctx.total
    out_hits["max_score"] = ctx.extra.get("max_score")
    out_hits["hits"] = hits
    return {"_scroll_id": scroll_id, "took": took_ms, "timed_out": False, "_shards": ctx.shards, "hits": out_hits}


def start(cluster: Cluster, expression: str | None, body: Any, params: dict[str, str], path: str) -> dict[str, Any]:
    """`_search?scroll=...`: run the whole search now, keep it, answer its first page."""
    from tests.es_double import search

    started = time.monotonic()
    search.check_params(params, search.SEARCH_PARAMS, path)
    keep_alive = parse_keep_alive(params["scroll"])
    request = search.parse_search(body, {k: v for k, v in params.items() if k != "scroll"})
    raw = body if isinstance(body, dict) else {}
    if request.size == 0:
        raise EsError(400, "action_request_validation_exception", "Validation Failed: 1: [size] cannot be [0] in a scroll context;")
    if params.get("request_cache") == "true":
        raise EsError(400, "action_request_validation_exception",
                      "Validation Failed: 1: [request_cache] cannot be used in a scroll context;")
    for name, present in (("from", request.from_ > 0), ("aggs", request.aggs is not None), ("knn", bool(request.knn)),
                          ("post_filter", request.post_filter is not None), ("slice", "slice" in raw),
                          ("search_after", "search_after" in raw)):
        if present:
            raise E.unsupported(f"[{name}] in a scroll context")
    everything = dataclasses.replace(request, size=2**31 - 1)
    with cluster.lock:
        indices = cluster.resolve(expression, ignore_unavailable=params.get("ignore_unavailable") == "true",
                                  allow_no_indices=params.get("allow_no_indices", "true") != "false")
        for idx in indices:
            if request.size > idx.max_result_window:
                cause = E.illegal_argument(
                    f"Batch size is too large, size must be less than or equal to: [{idx.max_result_window}] but was "
                    f"[{request.size}]. Scroll batch sizes cost as much memory as result windows so they are controlled "
                    f"by the [index.max_result_window] index level setting."
                )
                raise E.search_phase_failure([(idx.name, cause)], "query", cluster.node_id)
        _, out = search._search_locked(cluster, expression, params, everything, started, result_window=False)
        now = time.monotonic()
        _expire(cluster, now)
        scroll_id = secrets.token_urlsafe(24)
        ctx = ScrollContext(
            hits=out["hits"]["hits"],
            page=request.size,
            total=_total_object(out["hits"].get("total")),
            keep_alive_s=keep_alive,
            expires=now + keep_alive,
            shards=out["_shards"],
            extra={"max_score": out["hits"].get("max_score")},
        )
        cluster.scrolls[scroll_id] = ctx
        return _page(scroll_id, ctx, out["took"], request.rest_total_hits_as_int)


def next_page(cluster: Cluster, body: Any, params: dict[str, str], path_id: str | None) -> dict[str, Any]:
    """`_search/scroll`: the next page of a kept search; renews its keep-alive."""
    search_check(params, path_id)
    body = body if isinstance(body, dict) else {}
    for key in body:
        if key not in ("scroll_id", "scroll", "rest_total_hits_as_int"):
            raise E.unsupported(f"[{key}] in a scroll request body")
    scroll_id = body.get("scroll_id") or params.get("scroll_id") or path_id
    if not scroll_id:
        raise EsError(400, "action_request_validation_exception", "Validation Failed: 1: scrollId is missing;")
    keep_alive_raw = body.get("scroll", params.get("scroll"))
    with cluster.lock:
        now = time.monotonic()
        _expire(cluster, now)
        ctx = cluster.scrolls.get(str(scroll_id))
        if ctx is None:
            raise _missing(str(scroll_id))
        if keep_alive_raw is not None:
            ctx.keep_alive_s = parse_keep_alive(keep_alive_raw)
        ctx.expires = now + ctx.keep_alive_s
        as_int = str(body.get("rest_total_hits_as_int", params.get("rest_total_hits_as_int"))).lower() == "true"
        return _page(str(scroll_id), ctx, 0, as_int)


def clear(cluster: Cluster, body: Any, params: dict[str, str], path_id: str | None) -> tuple[int, dict[str, Any]]:
    """Clear scroll: free the named contexts (or `_all`); 404 when none of them existed."""
    search_check(params, path_id)
    raw: Any = None
    if isinstance(body, dict) and "scroll_id" in body:
        raw = body["scroll_id"]
    elif params.get("scroll_id") or path_id:
        raw = (params.get("scroll_id") or path_id or "").split(",")
    if raw is None:
        raise EsError(400, "action_request_validation_exception", "Validation Failed: 1: no scroll ids specified;")
    ids = [str(i) for i in (raw if isinstance(raw, list) else [raw])]
    with cluster.lock:
        _expire(cluster, time.monotonic())
        if ids == ["_all"]:
            freed = len(cluster.scrolls)
            cluster.scrolls.clear()
        else:
            freed = sum(cluster.scrolls.pop(i, None) is not None for i in ids)
    return (200 if freed or ids == ["_all"] else 404), {"succeeded": True, "num_freed": freed}


def search_check(params: dict[str, str], path_id: str | None) -> None:
    from tests.es_double.search import check_params

    check_params(params, SCROLL_PARAMS, "/_search/scroll" + (f"/{path_id}" if path_id else ""))
