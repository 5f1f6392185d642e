"""Cluster state: indices, aliases, documents, refresh, bulk.

Near-real-time semantics as in Elasticsearch: writes go to the live document table, which
`GET`/`_mget` read (real-time); search and count read the `Segment` made by the last
refresh. By default the double never refreshes on its own (a real cluster refreshes every
`index.refresh_interval`, 1s by default), so a test that forgets `refresh` fails
deterministically instead of passing by luck, and `refresh=wait_for` refreshes at once.
With the opt-in `RefreshScheduler` every index refreshes on its `index.refresh_interval`
(`-1`: never) and `refresh=wait_for` waits for the next scheduled refresh, as it does in
Elasticsearch, so latencies show what production pays.
(https://www.elastic.co/docs/reference/elasticsearch/rest-apis/refresh-parameter)
"""

from __future__ import annotations

import fnmatch
import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tests.es_double import errors as E
from tests.es_double.analyzers import IndexAnalysis, analysis_tree
from tests.es_double.errors import EsError
from tests.es_double.javafmt import float32_json
from tests.es_double.mapping import Mapping
from tests.es_double.segment import Doc, Segment
from tests.es_double.source_filter import SourceSpec

INVALID_NAME_CHARS = ["\\", "/", "*", "?", '"', "<", ">", "|", " ", ","]
MAX_ID_BYTES = 512
DEFAULT_MAX_RESULT_WINDOW = 10000
DEFAULT_MAX_TERMS_COUNT = 65536

_TIME_VALUE = re.compile(r"-1|0|\d+(?:\.\d+)?(?:nanos|micros|ms|s|m|h|d)")
_TIME_UNITS = {"nanos": 1e-9, "micros": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
DEFAULT_REFRESH_INTERVAL = "1s"
_BOOL_SETTINGS = {
    "index.mapping.exclude_source_vectors",
    "index.hidden",
    "index.blocks.read_only",
    "index.blocks.write",
    "index.blocks.read",
    "index.blocks.metadata",
    "index.query.parse.allow_unmapped_fields",
}
_INT_SETTINGS = {
    "index.number_of_shards": 1,
    "index.number_of_replicas": 0,
    "index.max_result_window": 1,
    "index.max_terms_count": 1,
    "index.max_inner_result_window": 1,
    "index.max_docvalue_fields_search": 0,
    "index.max_script_fields": 0,
    "index.mapping.total_fields.limit": 0,
    "index.mapping.depth.limit": 1,
    "index.mapping.nested_fields.limit": 0,
    "index.mapping.nested_objects.limit": 0,
    "index.mapping.field_name_length.limit": 1,
    "index.max_ngram_diff": 0,
    "index.max_shingle_diff": 0,
    "index.max_refresh_listeners": 0,
    "index.max_rescore_window": 1,
    "index.max_regex_length": 1,
    "index.routing_partition_size": 1,
}
_TIME_SETTINGS = {
    "index.refresh_interval",
    "index.search.idle.after",
    "index.translog.sync_interval",
    "index.unassigned.node_left.delayed_timeout",
    "index.gc_deletes",
}
_OTHER_SETTINGS = {
    "index.auto_expand_replicas",
    "index.codec",
    "index.translog.durability",
    "index.priority",
    "index.lifecycle.name",
    "index.lifecycle.rollover_alias",
    "index.default_pipeline",
    "index.final_pipeline",
    "index.mapping.ignore_malformed",
    "index.mapping.coerce",
    "index.routing.allocation.include._tier_preference",
}
_UNSUPPORTED_SETTING_PREFIXES = (
    "index.similarity.",
    "index.sort.",
    "index.mode",
    "index.knn",
    "index.mapping.source.",
    "index.store.",
    "index.routing_path",
    "index.time_series.",
)


def _flatten_settings(settings: Any, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    if not isinstance(settings, dict):
        raise E.illegal_argument("Failed to load settings from [" + json.dumps(settings) + "]")
    for key, value in settings.items():
        full = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten_settings(value, full + "."))
        else:
            out[full] = value
    return out


def _setting_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_setting_text(v) for v in value)
    return str(value)


def parse_index_settings(settings: Any) -> dict[str, Any]:
    """Flatten and validate index settings like `IndexScopedSettings#validate`.

    `index.analysis.*` values keep their lists (synonym rules contain commas); the
    analysis components they define are validated when the index is created.
    """
    flat = _flatten_settings(settings or {})
    out: dict[str, Any] = {}
    for key, value in flat.items():
        full = key if key.startswith("index.") else f"index.{key}"
        if full.startswith("index.analysis."):
            out[full] = [_setting_text(v) for v in value] if isinstance(value, list) else _setting_text(value)
            continue
        text = _setting_text(value)
        if any(full.startswith(p) or full == p.rstrip(".") for p in _UNSUPPORTED_SETTING_PREFIXES):
            if not (full == "index.mode" and text == "standard"):
                raise E.unsupported(f"index setting [{full}]")
        if full in _INT_SETTINGS:
            try:
                number = int(text)
            except ValueError:
                raise E.illegal_argument(
                    f"Failed to parse value [{text}] for setting [{full}]",
                    caused_by=E.number_format(text),
                ) from None
            minimum = _INT_SETTINGS[full]
            if number < minimum:
                raise E.illegal_argument(f"Failed to parse value [{text}] for setting [{full}] must be >= {minimum}")
        elif full in _BOOL_SETTINGS:
            if text not in ("true", "false"):
                raise E.illegal_argument(f"Failed to parse value [{text}] as only [true] or [false] are allowed.")
            if full == "index.query.parse.allow_unmapped_fields" and text == "false":
                raise E.unsupported(f"index setting [{full}: false] (queries on unmapped fields are always allowed)")
        elif full in _TIME_SETTINGS:
            if not _TIME_VALUE.fullmatch(text):
                raise E.illegal_argument(
                    f"failed to parse setting [{full}] with value [{text}] as a time value: "
                    f"unit is missing or unrecognized"
                )
        elif (
            full not in _OTHER_SETTINGS
            and not full.startswith("index.routing.allocation.")
            and not full.startswith("index.blocks.")
            and not full.startswith("index.lifecycle.")
        ):
            raise E.illegal_argument(
                f"unknown setting [{full}] please check that any required plugins are installed, or check the "
                f"breaking changes documentation for removed settings"
            )
        out[full] = text
    return out


def _check_name_characters(name: str, error: Callable[[str, str], EsError]) -> None:
    """The character rules `validateIndexOrAliasName` shares between index and alias names."""
    if any(ch in name for ch in INVALID_NAME_CHARS):
        raise error(name, "must not contain the following characters " + str(INVALID_NAME_CHARS).replace("'", ""))
    if "#" in name:
        raise error(name, "must not contain '#'")
    if ":" in name:
        raise error(name, "must not contain ':'")
    if name[0] in "_-+":
        raise error(name, "must not start with '_', '-', or '+'")


def refuse_date_math(name: str) -> None:
    """Date math index names (`<logs-{now/d}>`) resolve against the clock in Elasticsearch; not here."""
    if name.startswith("<") and name.endswith(">"):
        raise E.unsupported(f"date math index name [{name}]")


def validate_index_name(name: str) -> None:
    """MetadataCreateIndexService.validateIndexOrAliasName + the lowercase rule."""
    refuse_date_math(name)
    if not name:
        raise E.invalid_index_name(name, "must not be empty")
    _check_name_characters(name, E.invalid_index_name)
    length = len(name.encode("utf-8"))
    if length > 255:
        raise E.invalid_index_name(name, f"index name is too long, ({length} > 255)")
    if name in (".", ".."):
        raise E.invalid_index_name(name, "must not be '.' or '..'")
    if name.lower() != name:
        raise E.invalid_index_name(name, "must be lowercase")


def validate_alias_name(name: str) -> None:
    if not name:
        raise E.invalid_alias_name(name, "alias name must not be empty")
    _check_name_characters(name, E.invalid_alias_name)
    if name in (".", ".."):
        raise E.invalid_alias_name(name, "must not be '.' or '..'")


def new_doc_id() -> str:
    """A 20-character URL-safe id, like Elasticsearch's auto-generated (time-based) ids."""
    return secrets.token_urlsafe(15)


@dataclass
class AliasInfo:
    """One index's membership in an alias."""

    is_write_index: bool | None = None
    is_hidden: bool | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.is_write_index is not None:
            out["is_write_index"] = self.is_write_index
        if self.is_hidden is not None:
            out["is_hidden"] = self.is_hidden
        return out


class IndexState:
    """One index (one shard, zero started replicas)."""

    def __init__(self, name: str, settings: dict[str, str], mapping: Mapping) -> None:
        self.name = name
        self.uuid = secrets.token_urlsafe(16)[:22]
        self.created_ms = int(time.time() * 1000)
        self.settings = settings
        self.mapping = mapping
        self.aliases: dict[str, AliasInfo] = {}
        self.docs: dict[str, Doc] = {}
        self.tombstones: dict[str, int] = {}
        self.next_seq_no = 0
        self.primary_term = 1
        self.segment = Segment([], mapping)
        self.dirty = False
        self.refresh_generation = 0  # refreshes that made new writes visible
        self.next_scheduled_refresh: float | None = None  # monotonic time (RefreshScheduler)

    @property
    def number_of_shards(self) -> int:
        return int(self.settings.get("index.number_of_shards", "1"))

    @property
    def number_of_replicas(self) -> int:
        return int(self.settings.get("index.number_of_replicas", "1"))

    @property
    def exclude_source_vectors(self) -> bool:
        return self.settings.get("index.mapping.exclude_source_vectors", "true") == "true"

    @property
    def max_result_window(self) -> int:
        return int(self.settings.get("index.max_result_window", str(DEFAULT_MAX_RESULT_WINDOW)))

    @property
    def max_terms_count(self) -> int:
        return int(self.settings.get("index.max_terms_count", str(DEFAULT_MAX_TERMS_COUNT)))

    def shards_header(self) -> dict[str, int]:
        """`_shards` of a write response: primary + (unassigned) replicas."""
        return {"total": 1 + self.number_of_replicas, "successful": 1, "failed": 0}

    def refresh(self) -> None:
        if self.dirty:
            self.segment = Segment(list(self.docs.values()), self.mapping)
            self.dirty = False
            self.refresh_generation += 1

    @property
    def refresh_interval_seconds(self) -> float | None:
        """`index.refresh_interval` in seconds; None when scheduled refresh is off (`-1`)."""
        text = self.settings.get("index.refresh_interval", DEFAULT_REFRESH_INTERVAL)
        if text == "-1":
            return None
        if text == "0":
            return 0.0
        number, unit = re.fullmatch(r"(\d+(?:\.\d+)?)([a-z]+)", text).groups()  # type: ignore[union-attr]
        return float(number) * _TIME_UNITS[unit]

    def settings_json(self) -> dict[str, Any]:
        """`GET idx/_settings` (all values as strings, nested like Elasticsearch prints them)."""
        flat = {
            "index.number_of_shards": "1",
            "index.number_of_replicas": "1",
            **self.settings,
            "index.uuid": self.uuid,
            "index.creation_date": str(self.created_ms),
            "index.provided_name": self.name,
            "index.version.created": "9039000",
            "index.routing.allocation.include._tier_preference": "data_content",
        }
        nested: dict[str, Any] = {}
        for key, value in sorted(flat.items()):
            node = nested
            parts = key.split(".")
            for part in parts[:-1]:
                node = node.setdefault(part, {})
                if not isinstance(node, dict):
                    break
            else:
                node[parts[-1]] = value
        return nested


# ---------------------------------------------------------------------- faults
@dataclass
class BulkItemFault:
    """Make matching bulk items fail (`times` times, or forever when None)."""

    status: int
    error_type: str
    reason: str
    index_pattern: str | None = None
    id_predicate: Callable[[str | None], bool] | None = None
    ops: frozenset[str] | None = None
    times: int | None = None
    hits: int = 0

    def matches(self, op: str, index_names: tuple[str, ...], doc_id: str | None) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        if self.ops is not None and op not in self.ops:
            return False
        if self.index_pattern is not None and not any(fnmatch.fnmatchcase(n, self.index_pattern) for n in index_names):
            return False
        if self.id_predicate is not None and not self.id_predicate(doc_id):
            return False
        return True


@dataclass
class WriteResult:
    """Outcome of one document operation: HTTP status and the response body."""

    status: int
    body: dict[str, Any]
    index: IndexState | None = None


@dataclass
class Cluster:
    """All indices and aliases of the double, behind one lock."""

    indices: dict[str, IndexState] = field(default_factory=dict)
    bulk_faults: list[BulkItemFault] = field(default_factory=list)
    scrolls: dict[str, Any] = field(default_factory=dict)  # scroll id -> tests.es_double.scroll.ScrollContext
    lock: threading.RLock = field(default_factory=threading.RLock)
    cluster_uuid: str = field(default_factory=lambda: secrets.token_urlsafe(16)[:22])
    node_id: str = field(default_factory=lambda: secrets.token_urlsafe(16)[:22])

    def __post_init__(self) -> None:
        self.refreshed = threading.Condition(self.lock)  # notified by the RefreshScheduler
        self.scheduler: RefreshScheduler | None = None

    def reset(self) -> None:
        with self.lock:
            self.indices.clear()
            self.bulk_faults.clear()
            self.scrolls.clear()

    # ------------------------------------------------------------------ refresh=wait_for
    def visibility_waiter(self, idx: IndexState) -> Callable[[], None] | None:
        """For `refresh=wait_for` (call with `lock` held): None after refreshing at once when no
        scheduler runs, else a function to call once `lock` is released, which returns when a
        refresh of `idx` has made this write visible (the next scheduled one, or an explicit one).
        """
        if self.scheduler is None:
            idx.refresh()
            return None
        target = idx.refresh_generation + 1

        def wait() -> None:
            with self.refreshed:
                while idx.refresh_generation < target and idx.dirty and self.indices.get(idx.name) is idx:
                    if self.scheduler is None:  # stopped meanwhile: behave as without it
                        idx.refresh()
                        break
                    self.refreshed.wait(timeout=0.02)  # explicit refreshes do not notify; poll for them

        return wait

    # ------------------------------------------------------------------ name resolution
    def aliases(self) -> dict[str, list[IndexState]]:
        out: dict[str, list[IndexState]] = {}
        for idx in self.indices.values():
            for alias in idx.aliases:
                out.setdefault(alias, []).append(idx)
        return out

    def resolve(
        self,
        expression: str | None,
        *,
        ignore_unavailable: bool = False,
        allow_no_indices: bool = True,
        allow_aliases: bool = True,
    ) -> list[IndexState]:
        """Index expression (names, aliases, `*` wildcards, `-` exclusions, comma lists) -> indices."""
        aliases = self.aliases()
        if expression in (None, "", "_all"):
            parts = ["*"]
        else:
            parts = [p for p in expression.split(",") if p != ""]
        chosen: dict[str, IndexState] = {}
        wildcard_seen = False
        for part in parts:
            refuse_date_math(part)
            if part.startswith("-") and wildcard_seen:
                pattern = part[1:]
                for name in list(chosen):
                    if fnmatch.fnmatchcase(name, pattern) or any(
                        fnmatch.fnmatchcase(a, pattern) for a in chosen[name].aliases
                    ):
                        del chosen[name]
                continue
            if "*" in part:
                wildcard_seen = True
                for name, idx in self.indices.items():
                    if fnmatch.fnmatchcase(name, part):
                        chosen[name] = idx
                if allow_aliases:
                    for alias, members in aliases.items():
                        if fnmatch.fnmatchcase(alias, part):
                            for idx in members:
                                chosen[idx.name] = idx
                continue
            if part in self.indices:
                chosen[part] = self.indices[part]
            elif allow_aliases and part in aliases:
                for idx in aliases[part]:
                    chosen[idx.name] = idx
            elif not ignore_unavailable:
                raise E.index_not_found(part)
        if not chosen and not allow_no_indices:
            raise E.index_not_found(expression or "_all")
        return [chosen[n] for n in sorted(chosen)]

    def resolve_single(self, name: str) -> IndexState:
        """For get/update/delete of one document: an index, or an alias with one (write) index."""
        refuse_date_math(name)
        if name in self.indices:
            return self.indices[name]
        members = self.aliases().get(name)
        if members is None:
            raise E.index_not_found(name)
        if len(members) == 1:
            return members[0]
        writers = [m for m in members if m.aliases[name].is_write_index]
        if writers:
            return writers[0]
        raise E.illegal_argument(
            f"alias [{name}] has more than one index associated with it [{', '.join(sorted(m.name for m in members))}], "
            f"can't execute a single index op"
        )

    def resolve_write(self, name: str, require_alias: bool = False, auto_create: bool = True) -> IndexState:
        """The index a write goes to: the index, the alias' write index, or an auto-created index."""
        if "*" in name or "," in name:
            validate_index_name(name)
        members = self.aliases().get(name)
        if members is not None:
            if len(members) == 1 and members[0].aliases[name].is_write_index is not False:
                return members[0]
            writers = [m for m in members if m.aliases[name].is_write_index]
            if writers:
                return writers[0]
            raise E.illegal_argument(
                f"no write index is defined for alias [{name}]. The write index may be explicitly disabled using "
                f"is_write_index=false or the alias points to multiple indices without one being designated as a write index"
            )
        if require_alias:
            raise EsError(
                404,
                "index_not_found_exception",
                f"no such index [{name}] and [require_alias] request flag is [true] and [{name}] is not an alias",
                meta={"resource.type": "index_or_alias", "resource.id": name, "index_uuid": "_na_", "index": name},
            )
        if name in self.indices:
            return self.indices[name]
        if not auto_create:
            raise E.index_not_found(name)
        validate_index_name(name)
        idx = IndexState(name, {}, Mapping(None))
        self.indices[name] = idx
        return idx

    # ------------------------------------------------------------------ index admin
    def create_index(self, name: str, body: dict[str, Any] | None) -> dict[str, Any]:
        body = body or {}
        if not isinstance(body, dict):
            raise EsError(400, "parse_exception", "request body is required")
        validate_index_name(name)
        for key in body:
            if key not in ("settings", "mappings", "aliases"):
                raise EsError(400, "parse_exception", f"unknown key [{key}] for create index")
        settings = parse_index_settings(body.get("settings"))
        analysis = IndexAnalysis(analysis_tree({k: v for k, v in settings.items() if k.startswith("index.analysis.")}))
        mapping = Mapping(body.get("mappings"), analysis)
        aliases_body = body.get("aliases") or {}
        if not isinstance(aliases_body, dict):
            raise EsError(400, "parse_exception", "key [aliases] must be an object")
        with self.lock:
            if name in self.indices:
                raise E.resource_already_exists(name, self.indices[name].uuid)
            if name in self.aliases():
                raise E.invalid_index_name(name, "already exists as alias")
            idx = IndexState(name, settings, mapping)
            for alias, props in aliases_body.items():
                validate_alias_name(alias)
                if alias in self.indices:
                    raise E.invalid_alias_name(alias, "an index or data stream exists with the same name as the alias")
                idx.aliases[alias] = _alias_props(props or {})
            self.indices[name] = idx
        return {"acknowledged": True, "shards_acknowledged": True, "index": name}

    def delete_indices(self, expression: str, params: dict[str, str]) -> dict[str, Any]:
        parts = expression.split(",")
        if any("*" in p or p == "_all" for p in parts):
            raise E.illegal_argument("Wildcard expressions or all indices are not allowed")
        ignore = params.get("ignore_unavailable") == "true"
        with self.lock:
            aliases = self.aliases()
            targets = []
            for part in parts:
                if part in self.indices:
                    targets.append(part)
                elif part in aliases:
                    raise E.illegal_argument(
                        f"The provided expression [{part}] matches an alias, specify the corresponding concrete indices instead."
                    )
                elif not ignore:
                    raise E.index_not_found(part)
            for name in targets:
                self.indices.pop(name, None)
        return {"acknowledged": True}

    # ------------------------------------------------------------------ aliases
    def update_aliases(self, body: Any) -> dict[str, Any]:
        """`POST /_aliases`: every action resolved and validated first, then applied at once."""
        if not isinstance(body, dict):
            raise EsError(400, "parse_exception", "request body is required")
        if "actions" not in body:
            raise EsError(400, "action_request_validation_exception", "Validation Failed: 1: No action specified;")
        actions = body["actions"]
        if not isinstance(actions, list) or not actions:
            raise EsError(400, "action_request_validation_exception", "Validation Failed: 1: No action specified;")
        with self.lock:
            plan: list[tuple[str, str, str, AliasInfo | None, bool]] = []
            results: list[dict[str, Any]] = []  # one per action, naming the indices it resolved to
            errors = False
            removed_indices: set[str] = set()
            for raw in actions:
                kind, spec = _alias_action(raw)
                indices = _as_list(spec.get("indices", spec.get("index")), "index")
                aliases_list = _as_list(spec.get("aliases", spec.get("alias")), "alias")
                must_exist = spec.get("must_exist")
                if must_exist is not None and kind != "remove":
                    raise E.illegal_argument(f"[must_exist] is unsupported for [{kind.upper()}]")
                if kind != "remove_index" and not aliases_list:
                    raise EsError(
                        400,
                        "action_request_validation_exception",
                        "Validation Failed: 1: One of [aliases] or [alias] is required;",
                    )
                if not indices:
                    raise EsError(
                        400,
                        "action_request_validation_exception",
                        "Validation Failed: 1: One of [index/indices] is required;",
                    )
                concrete = self.resolve(",".join(indices), allow_aliases=False)
                resolved = sorted(i.name for i in concrete)
                if kind == "remove_index":
                    for idx in concrete:
                        plan.append(("remove_index", idx.name, "", None, False))
                        removed_indices.add(idx.name)
                    results.append({"action": {"type": kind, "indices": resolved, "aliases": []}, "status": 200})
                    continue
                if kind == "add":
                    for key in ("filter", "routing", "index_routing", "search_routing"):
                        if key in spec:
                            raise E.unsupported(f"alias [{key}]")
                    info = _alias_props({k: v for k, v in spec.items() if k in ("is_write_index", "is_hidden")})
                    for idx in concrete:
                        for alias in aliases_list:
                            validate_alias_name(alias)
                            plan.append(("add", idx.name, alias, info, False))
                    results.append({"action": {"type": kind, "indices": resolved, "aliases": aliases_list}, "status": 200})
                    continue
                # remove: expands alias wildcards against the index's current aliases
                removed = 0
                for idx in concrete:
                    names = [a for a in idx.aliases if any(fnmatch.fnmatchcase(a, p) for p in aliases_list)]
                    if not names and must_exist:
                        names = list(aliases_list)
                    for alias in names:
                        plan.append(("remove", idx.name, alias, None, bool(must_exist)))
                        removed += 1
                result: dict[str, Any] = {
                    "action": {"type": "remove", "indices": resolved, "aliases": aliases_list},
                    "status": 200,
                }
                if removed == 0:
                    errors = True
                    missing = _aliases_missing(aliases_list)
                    result["status"] = 404
                    result["error"] = missing.to_dict()
                results.append(result)
                continue
            if not plan:
                raise _aliases_missing([a for r in results if r["status"] == 404 for a in r["action"]["aliases"]])
            # validate the whole plan against the state it would produce
            for kind, index_name, alias, _info, must in plan:
                if kind == "add":
                    if alias in self.indices and alias not in removed_indices:
                        raise E.invalid_alias_name(
                            alias, "an index or data stream exists with the same name as the alias"
                        )
                if kind == "remove" and must and alias not in self.indices[index_name].aliases:
                    raise _aliases_missing([alias])
            # apply atomically
            for kind, index_name, _alias, _info, _must in plan:
                if kind == "remove_index":
                    self.indices.pop(index_name, None)
            for kind, index_name, alias, info, _must in plan:
                idx = self.indices.get(index_name)
                if idx is None:
                    continue
                if kind == "add":
                    assert info is not None
                    idx.aliases[alias] = info
                elif kind == "remove":
                    idx.aliases.pop(alias, None)
            self._check_write_indices()
        # action_results (8.14+) only when an action failed; each names the concrete indices it
        # resolved to: YAML REST test indices.update_aliases/40_must_exist.yml ("Single result per input action")
        out: dict[str, Any] = {"acknowledged": True, "errors": errors}
        if errors:
            out["action_results"] = results
        return out

    def _check_write_indices(self) -> None:
        for alias, members in self.aliases().items():
            writers = [m for m in members if m.aliases[alias].is_write_index]
            if len(writers) > 1:
                raise E.illegal_argument(
                    f"alias [{alias}] has more than one write index [{','.join(sorted(m.name for m in writers))}]"
                )

    def put_alias(self, index_expr: str, alias: str, body: dict[str, Any] | None) -> dict[str, Any]:
        return self.update_aliases({"actions": [{"add": {"index": index_expr, "alias": alias, **(body or {})}}]})

    def delete_alias(self, index_expr: str, alias_expr: str) -> dict[str, Any]:
        with self.lock:
            concrete = self.resolve(index_expr, allow_aliases=False)
            patterns = alias_expr.split(",")
            hits = [
                (idx, a)
                for idx in concrete
                for a in list(idx.aliases)
                if any(fnmatch.fnmatchcase(a, p) or p == "_all" for p in patterns)
            ]
            if not hits:
                raise _aliases_missing(patterns)
            for idx, alias in hits:
                idx.aliases.pop(alias, None)
        return {"acknowledged": True, "errors": False}

    def get_aliases(self, index_expr: str | None, alias_expr: str | None) -> tuple[int, dict[str, Any]]:
        """`GET [idx]/_alias[/name]`; a missing named alias is a 404 with an error *string*."""
        with self.lock:
            indices = (
                self.resolve(index_expr, allow_aliases=True)
                if index_expr
                else sorted(self.indices.values(), key=lambda i: i.name)
            )
            # No alias name lists every index; a name (even `_all` or `*`) lists only indices having a
            # matching alias: YAML REST test indices.get_alias/10_basic.yml ("Get aliases via /_alias/_all")
            patterns = None if alias_expr is None else ["*" if p == "_all" else p for p in alias_expr.split(",")]
            out: dict[str, Any] = {}
            found: set[str] = set()
            for idx in indices:
                chosen = {}
                for alias, info in sorted(idx.aliases.items()):
                    if patterns is None or any(fnmatch.fnmatchcase(alias, p) for p in patterns):
                        chosen[alias] = info.to_json()
                        found.add(alias)
                if chosen or patterns is None:
                    out[idx.name] = {"aliases": chosen}
            if patterns is not None:
                # "alias [a] missing" / "aliases [a,b] missing", names sorted (10_basic.yml, "Existent and
                # non-existent aliases returns 404 and the existing alias")
                missing = sorted({p for p in patterns if "*" not in p and p not in found})
                if missing:
                    noun = "alias" if len(missing) == 1 else "aliases"
                    body = {"error": f"{noun} [{','.join(missing)}] missing", "status": 404}
                    body.update(out)
                    return 404, body
                if not out and index_expr is None:
                    return 200, {}
            return 200, out

    # ------------------------------------------------------------------ documents
    def _check_id(self, doc_id: str | None) -> None:
        if doc_id is None:
            return
        if doc_id == "":
            raise EsError(
                400,
                "action_request_validation_exception",
                "Validation Failed: 1: if _id is specified it must not be empty;",
            )
        size = len(doc_id.encode("utf-8"))
        if size > MAX_ID_BYTES:
            raise EsError(
                400,
                "action_request_validation_exception",
                f"Validation Failed: 1: id [{doc_id}] is too long, must be no longer than 512 bytes but was: {size};",
            )

    def index_document(
        self,
        target: str,
        doc_id: str | None,
        source: Any,
        raw: str | bytes | None,
        *,
        op_type: str = "index",
        if_seq_no: int | None = None,
        if_primary_term: int | None = None,
        require_alias: bool = False,
    ) -> WriteResult:
        """Index or create one document; the caller holds `lock`."""
        self._check_id(doc_id)
        idx = self.resolve_write(target, require_alias=require_alias)
        if doc_id is None:
            doc_id = new_doc_id()
            op_type = "create"
        doc, created = self.put_document(idx, doc_id, source, raw, op_type, if_seq_no, if_primary_term)
        body = {
            "_index": idx.name,
            "_id": doc_id,
            "_version": doc.version,
            "result": "created" if created else "updated",
            "_shards": idx.shards_header(),
            "_seq_no": doc.seq_no,
            "_primary_term": 1,
        }
        return WriteResult(201 if created else 200, body, idx)

    def put_document(
        self,
        idx: IndexState,
        doc_id: str,
        source: Any,
        raw: str | bytes | None,
        op_type: str = "index",
        if_seq_no: int | None = None,
        if_primary_term: int | None = None,
    ) -> tuple[Doc, bool]:
        """Parse and store one document version in `idx`: (the new Doc, whether it was created)."""
        existing = idx.docs.get(doc_id)
        if op_type == "create" and existing is not None:
            raise _version_conflict(idx, doc_id, f"document already exists (current version [{existing.version}])")
        if if_seq_no is not None or if_primary_term is not None:
            _check_cas(idx, doc_id, existing, if_seq_no, if_primary_term)
        parsed = idx.mapping.parse_document(source, doc_id, raw, idx.exclude_source_vectors)
        version = existing.version + 1 if existing is not None else idx.tombstones.pop(doc_id, 0) + 1
        seq_no = idx.next_seq_no
        idx.next_seq_no += 1
        doc = Doc(doc_id, parsed.stored_source, parsed.values, parsed.vectors, version, seq_no)
        if existing is not None:
            del idx.docs[doc_id]
        idx.docs[doc_id] = doc
        idx.dirty = True
        return doc, existing is None

    def delete_document(
        self, target: str, doc_id: str, *, if_seq_no: int | None = None, if_primary_term: int | None = None
    ) -> WriteResult:
        self._check_id(doc_id)
        idx = self.resolve_write(target, auto_create=True)
        existing = idx.docs.get(doc_id)
        if if_seq_no is not None or if_primary_term is not None:
            _check_cas(idx, doc_id, existing, if_seq_no, if_primary_term)
        seq_no = idx.next_seq_no
        idx.next_seq_no += 1
        if existing is None:
            version = idx.tombstones.get(doc_id, 0) + 1
            idx.tombstones[doc_id] = version
            result, status = "not_found", 404
        else:
            version = existing.version + 1
            del idx.docs[doc_id]
            idx.tombstones[doc_id] = version
            idx.dirty = True
            result, status = "deleted", 200
        body = {
            "_index": idx.name,
            "_id": doc_id,
            "_version": version,
            "result": result,
            "_shards": idx.shards_header(),
            "_seq_no": seq_no,
            "_primary_term": 1,
        }
        return WriteResult(status, body, idx)

    def update_document(
        self,
        target: str,
        doc_id: str,
        body: Any,
        *,
        if_seq_no: int | None = None,
        if_primary_term: int | None = None,
        require_alias: bool = False,
    ) -> WriteResult:
        """Partial update with `doc` (merged recursively), `doc_as_upsert`, `upsert`, `detect_noop`."""
        self._check_id(doc_id)
        if not isinstance(body, dict):
            raise EsError(400, "x_content_parse_exception", "[1:1] [UpdateRequest] failed to parse object")
        for key in body:
            if key in ("script", "scripted_upsert"):
                raise E.unsupported("scripted updates")
            if key not in ("doc", "doc_as_upsert", "upsert", "detect_noop", "_source"):
                raise EsError(400, "x_content_parse_exception", f"[1:2] [UpdateRequest] unknown field [{key}]")
        if "_source" in body:
            raise E.unsupported("[_source] in update requests")
        if "doc" not in body and "upsert" not in body:
            raise EsError(400, "action_request_validation_exception", "Validation Failed: 1: script or doc is missing;")
        idx = self.resolve_write(target, require_alias=require_alias)
        existing = idx.docs.get(doc_id)
        if if_seq_no is not None or if_primary_term is not None:
            _check_cas(idx, doc_id, existing, if_seq_no, if_primary_term)
        partial = body.get("doc")
        if partial is not None and not isinstance(partial, dict):
            raise EsError(
                400,
                "x_content_parse_exception",
                "[1:8] [UpdateRequest] doc doesn't support values of type: VALUE_STRING",
            )
        if existing is None:
            if body.get("doc_as_upsert") is True and partial is not None:
                new_source = partial
            elif "upsert" in body:
                new_source = body["upsert"]
            else:
                raise EsError(
                    404,
                    "document_missing_exception",
                    f"[{doc_id}]: document missing",
                    meta={"index_uuid": idx.uuid, "shard": "0", "index": idx.name},
                )
            raw = json.dumps(new_source, separators=(",", ":"))
            return self.index_document(idx.name, doc_id, new_source, raw, op_type="create")
        current = self.full_source(idx, existing)
        merged = _merge(json.loads(json.dumps(current)), partial or {})
        if body.get("detect_noop", True) and merged == current:
            out = {
                "_index": idx.name,
                "_id": doc_id,
                "_version": existing.version,
                "result": "noop",
                "_shards": {"total": 0, "successful": 0, "failed": 0},
                "_seq_no": existing.seq_no,
                "_primary_term": 1,
            }
            return WriteResult(200, out, idx)
        raw = json.dumps(merged, separators=(",", ":"))
        return self.index_document(idx.name, doc_id, merged, raw, op_type="index")

    def full_source(self, idx: IndexState, doc: Doc) -> dict[str, Any]:
        """The document's _source with vectors rehydrated (index.mapping.exclude_source_vectors)."""
        if not doc.vectors or not idx.exclude_source_vectors:
            return doc.source
        out = json.loads(json.dumps(doc.source))
        for path, vector in doc.vectors.items():
            _put_path(out, path, [float32_json(v) for v in _rehydrated(idx, path, vector)])
        return out

    def render_source(
        self, idx: IndexState, doc: Doc, spec: SourceSpec, late_excludes: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        """_source for get/search responses: vector exclusion rules, then includes/excludes."""
        exclude = spec.exclude_vectors if spec.exclude_vectors is not None else idx.exclude_source_vectors
        vector_paths = [f.path for f in idx.mapping.vector_fields()]
        if exclude and vector_paths:
            keep = [p for p in vector_paths if spec.explicitly_includes(p) and p not in spec.excludes]
            drop = tuple(p for p in vector_paths if p not in keep)
            if idx.exclude_source_vectors:
                source = doc.source
                if keep:
                    source = json.loads(json.dumps(source))
                    for path in keep:
                        vector = doc.vectors.get(path)
                        if vector is not None:
                            _put_path(source, path, [float32_json(v) for v in _rehydrated(idx, path, vector)])
            else:
                source = doc.source
            return spec.filter(source, drop + late_excludes)
        source = self.full_source(idx, doc)
        return spec.filter(source, late_excludes)

    def get_document(
        self, target: str, doc_id: str, spec: SourceSpec, realtime: bool = True
    ) -> tuple[int, dict[str, Any]]:
        idx = self.resolve_single(target)
        if not realtime:
            idx_docs = {d.id: d for d in idx.segment.docs}
            doc = idx_docs.get(doc_id)
        else:
            doc = idx.docs.get(doc_id)
        if doc is None:
            return 404, {"_index": idx.name, "_id": doc_id, "found": False}
        out: dict[str, Any] = {
            "_index": idx.name,
            "_id": doc_id,
            "_version": doc.version,
            "_seq_no": doc.seq_no,
            "_primary_term": doc.primary_term,
            "found": True,
        }
        if spec.fetch:
            out["_source"] = self.render_source(idx, doc, spec)
        return 200, out

    def bulk_fault_for(self, op: str, index_names: tuple[str, ...], doc_id: str | None) -> BulkItemFault | None:
        for fault in self.bulk_faults:
            if fault.matches(op, index_names, doc_id):
                fault.hits += 1
                return fault
        return None


def _rehydrated(idx: IndexState, path: str, vector: np.ndarray) -> np.ndarray:
    """Vector values as a real cluster returns them from the index (float32; cosine stored normalised)."""
    spec = idx.mapping.field(path)
    if spec is not None and spec.vector is not None and spec.vector.similarity == "cosine":
        squared = np.float32(np.dot(vector, vector))
        if abs(float(squared) - 1.0) > 1e-3:
            length = np.float32(np.sqrt(squared))
            return ((vector / length).astype(np.float32) * length).astype(np.float32)
    return vector


def _put_path(source: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    node = source
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


def _merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """XContentHelper.update: objects merge recursively, everything else is replaced."""
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value
    return base


def _version_conflict(idx: IndexState, doc_id: str, detail: str) -> EsError:
    return EsError(
        409,
        "version_conflict_engine_exception",
        f"[{doc_id}]: version conflict, {detail}",
        meta={"index_uuid": idx.uuid, "shard": "0", "index": idx.name},
    )


def _check_cas(
    idx: IndexState, doc_id: str, existing: Doc | None, if_seq_no: int | None, if_primary_term: int | None
) -> None:
    if if_seq_no is None or if_primary_term is None:
        raise EsError(
            400,
            "action_request_validation_exception",
            "Validation Failed: 1: ifSeqNo is set, but primary term is [0];"
            if if_primary_term is None
            else f"Validation Failed: 1: ifSeqNo is unassigned, but primary term is [{if_primary_term}];",
        )
    if existing is None:
        raise _version_conflict(
            idx, doc_id, f"required seqNo [{if_seq_no}], primary term [{if_primary_term}]. but no document was found"
        )
    if existing.seq_no != if_seq_no or existing.primary_term != if_primary_term:
        raise _version_conflict(
            idx,
            doc_id,
            f"required seqNo [{if_seq_no}], primary term [{if_primary_term}]. current document has seqNo "
            f"[{existing.seq_no}] and primary term [{existing.primary_term}]",
        )


def _alias_props(props: Any) -> AliasInfo:
    if not isinstance(props, dict):
        raise EsError(400, "parse_exception", "alias properties must be an object")
    for key in props:
        if key in ("filter", "routing", "index_routing", "search_routing"):
            raise E.unsupported(f"alias [{key}]")
        if key not in ("is_write_index", "is_hidden"):
            raise EsError(400, "x_content_parse_exception", f"[1:2] [alias] unknown field [{key}]")
    return AliasInfo(props.get("is_write_index"), props.get("is_hidden"))


def _alias_action(raw: Any) -> tuple[str, dict[str, Any]]:
    if not isinstance(raw, dict) or len(raw) != 1:
        raise EsError(
            400,
            "x_content_parse_exception",
            "[1:1] [alias_action] failed to parse field [actions]",
            caused_by=E.illegal_argument("Expected [START_OBJECT] but got a single action"),
        )
    kind, spec = next(iter(raw.items()))
    if kind not in ("add", "remove", "remove_index"):
        raise EsError(400, "x_content_parse_exception", f"[1:2] [alias_action] unknown field [{kind}]")
    if not isinstance(spec, dict):
        raise EsError(400, "x_content_parse_exception", f"[1:2] [{kind}] failed to parse")
    allowed = {
        "index",
        "indices",
        "alias",
        "aliases",
        "must_exist",
        "is_write_index",
        "is_hidden",
        "filter",
        "routing",
        "index_routing",
        "search_routing",
    }
    for key in spec:
        if key not in allowed:
            raise EsError(400, "x_content_parse_exception", f"[1:2] [{kind}] unknown field [{key}]")
    return kind, spec


def _as_list(value: Any, what: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise EsError(400, "x_content_parse_exception", f"[1:2] [{what}] must be a string or an array of strings")


def _aliases_missing(names: list[str]) -> EsError:
    joined = ",".join(names)
    return EsError(
        404,
        "aliases_not_found_exception",
        f"aliases [{joined}] missing",
        meta={"resource.type": "aliases", "resource.id": joined},
    )


class RefreshScheduler:
    """Refreshes each index every `index.refresh_interval` (default 1s, `-1` never), like
    Elasticsearch's scheduled refresh; `refresh=wait_for` writes then wait for it.

    Opt-in (`EsDouble(scheduled_refresh=True)`, `python -m tests.es_double --scheduled-refresh`):
    tests keep the deterministic default where only explicit refreshes make writes visible.
    Not modelled: search-idle shards (`index.search.idle.after`) skipping scheduled refreshes, and
    `index.max_refresh_listeners` forcing a refresh when too many writes wait.
    """

    def __init__(self, cluster: Cluster, tick: float = 0.005) -> None:
        self.cluster = cluster
        self.tick = tick
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        with self.cluster.lock:
            self.cluster.scheduler = self
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="es-double-refresh", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        with self.cluster.refreshed:
            self.cluster.scheduler = None
            self.cluster.refreshed.notify_all()

    def _run(self) -> None:
        while not self._stop.wait(self.tick):
            self.run_due(time.monotonic())

    def run_due(self, now: float) -> int:
        """Refresh every index whose scheduled time has come; returns how many made writes visible."""
        refreshed = 0
        with self.cluster.refreshed:
            for idx in list(self.cluster.indices.values()):
                interval = idx.refresh_interval_seconds
                if interval is None:
                    idx.next_scheduled_refresh = None
                    continue
                if idx.next_scheduled_refresh is None:
                    idx.next_scheduled_refresh = now + interval
                    continue
                if now < idx.next_scheduled_refresh:
                    continue
                if idx.dirty:
                    idx.refresh()
                    refreshed += 1
                while idx.next_scheduled_refresh <= now:
                    idx.next_scheduled_refresh += max(interval, self.tick)
            if refreshed:
                self.cluster.refreshed.notify_all()
        return refreshed
