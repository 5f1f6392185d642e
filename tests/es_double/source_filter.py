"""`_source` filtering (includes / excludes with `*` wildcards) and vector exclusion.

Semantics follow `XContentMapValues.filter`: a path is kept when it matches an include
pattern (then its whole subtree is kept, minus excludes), or when an include pattern can
still match one of its descendants (then it is kept only if something below survives);
excludes always win. Objects inside arrays are filtered element by element. Patterns match
full dotted paths; `*` matches any characters including dots.
(https://www.elastic.co/docs/reference/elasticsearch/rest-apis/retrieve-selected-fields)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from tests.es_double.errors import parsing_error
from tests.es_double.jsonloc import token_name


@lru_cache(maxsize=1024)
def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile("^" + ".*".join(re.escape(p) for p in pattern.split("*")) + "$", re.S)


def _matches(patterns: tuple[str, ...], path: str) -> bool:
    return any(_rx(p).match(path) for p in patterns)


def _may_match_below(patterns: tuple[str, ...], path: str) -> bool:
    prefix = path + "."
    for p in patterns:
        literal, star, _ = p.partition("*")
        if star:
            if prefix.startswith(literal) or literal.startswith(prefix):
                return True
        elif literal.startswith(prefix):
            return True
    return False


@dataclass(frozen=True)
class SourceSpec:
    """What the request asked of `_source`."""

    fetch: bool = True
    includes: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    exclude_vectors: bool | None = None
    extra_excludes: tuple[str, ...] = field(default=())

    def explicitly_includes(self, path: str) -> bool:
        return path in self.includes

    def filter(self, source: dict[str, Any], excludes_more: tuple[str, ...] = ()) -> dict[str, Any]:
        excludes = self.excludes + self.extra_excludes + excludes_more
        if not self.includes and not excludes:
            return source
        return _filter_map(source, "", self.includes, excludes, include_all=not self.includes)


def _filter_map(
    node: dict[str, Any], path: str, includes: tuple[str, ...], excludes: tuple[str, ...], include_all: bool
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in node.items():
        p = f"{path}.{key}" if path else key
        if excludes and _matches(excludes, p):
            continue
        if include_all or _matches(includes, p):
            out[key] = _filter_value(value, p, includes, excludes, True)
            continue
        if _may_match_below(includes, p):
            kept = _filter_value(value, p, includes, excludes, False)
            if isinstance(kept, dict) and kept:
                out[key] = kept
            elif isinstance(kept, list) and kept:
                out[key] = kept
    return out


def _filter_value(
    value: Any, path: str, includes: tuple[str, ...], excludes: tuple[str, ...], include_all: bool
) -> Any:
    if isinstance(value, dict):
        return _filter_map(value, path, includes, excludes, include_all)
    if isinstance(value, list):
        items = []
        for item in value:
            if isinstance(item, (dict, list)):
                kept = _filter_value(item, path, includes, excludes, include_all)
                if include_all or kept:
                    items.append(kept)
            elif include_all:
                items.append(item)
        return items
    return value if include_all else None


def _patterns(value: Any, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(p for p in value.split(",") if p) if "," in value else (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise parsing_error(f"Expected one of [VALUE_STRING, START_ARRAY] but found [{type(value).__name__}] for [{what}]")


def parse_body_source(value: Any) -> SourceSpec:
    """The search body's `_source`: bool, string, list, or {includes, excludes, exclude_vectors}."""
    if value is None:
        return SourceSpec()
    if isinstance(value, bool):
        return SourceSpec(fetch=value)
    if isinstance(value, (str, list)):
        return SourceSpec(includes=_patterns(value, "_source"))
    if isinstance(value, dict):
        allowed = {"includes", "include", "excludes", "exclude", "exclude_vectors"}
        for key in value:
            if key not in allowed:
                raise parsing_error(f"Unknown key for a {token_name(value[key])} in [{key}].")
        ev = value.get("exclude_vectors")
        if ev is not None and not isinstance(ev, bool):
            raise parsing_error(f"Expected a boolean for [exclude_vectors] but found [{ev}]")
        return SourceSpec(
            includes=_patterns(value.get("includes", value.get("include")), "includes"),
            excludes=_patterns(value.get("excludes", value.get("exclude")), "excludes"),
            exclude_vectors=ev,
        )
    raise parsing_error(f"Unknown key for a {token_name(value)} in [_source].")


def parse_url_source(params: dict[str, str], body_spec: SourceSpec | None = None) -> SourceSpec:
    """URL parameters `_source`, `_source_includes`, `_source_excludes`, `_source_exclude_vectors`."""
    spec = body_spec or SourceSpec()
    fetch = spec.fetch
    includes = spec.includes
    excludes = spec.excludes
    exclude_vectors = spec.exclude_vectors
    if "_source" in params:
        raw = params["_source"]
        if raw in ("true", ""):
            fetch = True
        elif raw == "false":
            fetch = False
        else:
            fetch = True
            includes = tuple(p for p in raw.split(",") if p)
    if "_source_includes" in params:
        includes = tuple(p for p in params["_source_includes"].split(",") if p)
        fetch = True
    if "_source_excludes" in params:
        excludes = tuple(p for p in params["_source_excludes"].split(",") if p)
        fetch = True
    if "_source_exclude_vectors" in params:
        exclude_vectors = params["_source_exclude_vectors"] != "false"
    return SourceSpec(fetch=fetch, includes=includes, excludes=excludes, exclude_vectors=exclude_vectors)
