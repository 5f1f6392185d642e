"""Versioned indices behind aliases: create, verify, swap atomically, prune.

Each run writes `<prefix>-<kind>-<run_id>` for movies, users and ratings; the
service and Kibana read the aliases `<prefix>-<kind>`. After the export is
verified, ONE `POST /_aliases` request moves every alias (remove old + add
new), so a reader sees either the whole old run or the whole new one.

The runs index `<prefix>-runs` is a plain index (not versioned): run records
outlive the runs they describe and its mapping has no run-dependent vector
dims. It is created when missing; creating it again is a no-op. So are the feedback
and ids indices (service.feedback). When such a plain index already exists (a cluster
bootstrapped by an earlier movierec), `update_plain_mappings` brings its mapping up to
date with es_mappings' (new fields merged in by PUT _mapping; a changed field type is a
MappingConflict naming the index and field).

Builders (`alias_actions`, `prune_plan`, `vector_sample_query`) are pure and
return bodies/lists; the thin functions around them talk to the cluster.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from elasticsearch import ApiError, Elasticsearch, NotFoundError

import es_mappings
from es_mappings import alias_name, run_id_of, versioned_index
from pipeline.errors import PipelineError

log = logging.getLogger(__name__)

RUN_KINDS = ("movies", "users", "ratings")  # the kinds a run writes and an alias serves
PLAIN_KINDS = ("runs", "feedback", "ids")  # plain indices that outlive runs: created once, mappings upgraded
DEFAULT_KEEP = 2


def runs_index(prefix: str) -> str:
    """The (plain, unversioned) index holding run records."""
    return alias_name(prefix, "runs")


def run_indices(prefix: str, run_id: str) -> dict[str, str]:
    """The versioned index names one run writes."""
    return {kind: versioned_index(prefix, kind, run_id) for kind in RUN_KINDS}


def writer_alias(index: str) -> str:
    """The alias a run's export writes through (with `require_alias`): it goes when the index is deleted,
    so a bulk request still in flight from a stopped run fails instead of auto-creating a half-filled index."""
    return f"{index}-writer"


def index_dims(vector_size: int, rank: int, similar_dims: int | None = None) -> dict[str, dict[str, int]]:
    """dense_vector dims per kind: `factors` has the model's vector size, `factors_unit` the rank,
    `similar` its own size (the rank when not given: factors alone)."""
    movies = {"factors": vector_size, "factors_unit": rank, "similar": similar_dims or rank}
    return {"movies": movies, "users": {"factors": vector_size}, "ratings": {}}


# --------------------------------------------------------------------------- creation


def _create(es: Elasticsearch, index: str, body: Mapping[str, Any]) -> bool:
    """Create `index`; False when it already exists (idempotent bootstrap)."""
    try:
        es.indices.create(index=index, **body)
    except ApiError as exc:
        if exc.status_code == 400 and getattr(exc, "error", "") == "resource_already_exists_exception":
            return False
        raise
    return True


def ensure_runs_index(es: Elasticsearch, prefix: str) -> bool:
    """Create the runs index if missing; True when it was created now."""
    index = runs_index(prefix)
    if es.indices.exists(index=index):
        return False
    created = _create(es, index, es_mappings.index_body("runs"))
    if created:
        log.info("created %s", index)
    return created


class MappingConflict(PipelineError):
    """An existing plain index maps a field differently from es_mappings (its type changed)."""

    def __init__(self, index: str, field: str | None, reason: str) -> None:
        named = f"field [{field}]" if field else "a field"
        super().__init__(
            f"the mapping of {index} cannot be brought up to date: {named} is mapped differently than movierec's "
            f"mapping expects ({reason}); Elasticsearch cannot change an existing field's type in place"
        )
        self.index = index
        self.field = field


_CONFLICT_FIELD = re.compile(r"^(?:mapper \[([^\]]+)\] cannot be changed|Mapper for \[([^\]]+)\] conflicts)")


def update_mapping(es: Elasticsearch, index: str, kind: str) -> None:
    """Merge es_mappings' `kind` mapping into the existing `index` (PUT /<index>/_mapping).

    Fields the index lacks are added (nested objects too) and `dynamic` follows the file; documents
    already stored keep what they were indexed with. Raises MappingConflict (400 from Elasticsearch:
    a field's type or a non-updateable parameter changed), naming the index and the field.
    Elasticsearch: https://www.elastic.co/docs/api/doc/elasticsearch/operation/operation-indices-put-mapping
    """
    try:
        es.indices.put_mapping(index=index, body=es_mappings.index_body(kind)["mappings"])
    except ApiError as exc:
        if exc.status_code != 400:
            raise
        reason = _error_reason(exc)
        match = _CONFLICT_FIELD.match(reason)
        raise MappingConflict(index, (match.group(1) or match.group(2)) if match else None, reason) from exc
    log.info("mapping of %s brought up to date with es_mappings/%s.json", index, kind)


def _error_reason(exc: ApiError) -> str:
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error")
    if isinstance(error, dict) and isinstance(error.get("reason"), str):
        return error["reason"]
    return str(exc.message)


def update_plain_mappings(es: Elasticsearch, prefix: str, skip: Iterable[str] = ()) -> list[str]:
    """Bring the mapping of every existing plain index (runs, feedback, ids) up to date; the indices updated.

    `skip`: index names known to be current (created just now). Raises MappingConflict.
    """
    skipped = set(skip)
    updated = []
    for kind in PLAIN_KINDS:
        index = alias_name(prefix, kind)
        if index in skipped or not es.indices.exists(index=index):
            continue
        update_mapping(es, index, kind)
        updated.append(index)
    return updated


def create_run_indices(
    es: Elasticsearch, prefix: str, run_id: str, vector_size: int, rank: int, similar_dims: int | None = None
) -> dict[str, str]:
    """Create this run's movies/users/ratings indices, each with its writer alias; a name clash is an error."""
    names = run_indices(prefix, run_id)
    dims = index_dims(vector_size, rank, similar_dims)
    for kind, index in names.items():
        es.indices.create(index=index, aliases={writer_alias(index): {}}, **es_mappings.index_body(kind, dims[kind]))
        log.info("created %s", index)
    return names


def delete_indices(es: Elasticsearch, indices: Iterable[str]) -> list[str]:
    """Delete the named indices that exist; the ones deleted."""
    deleted = []
    for index in indices:
        try:
            es.indices.delete(index=index)
        except NotFoundError:
            continue
        deleted.append(index)
        log.info("deleted %s", index)
    return deleted


# --------------------------------------------------------------------------- verification


def vector_sample_query(ids: Sequence[str], field: str = "factors") -> dict:
    """Search body fetching `field` of the given ids, vectors included in `_source` (ES >= 9.2 leaves them out)."""
    return {
        "query": {"ids": {"values": list(ids)}},
        "size": len(ids),
        "_source": {"includes": [field], "exclude_vectors": False},
    }


def compare_vectors(expected: Mapping[str, Sequence[float]], hits: Iterable[Mapping[str, Any]], field: str = "factors") -> list[str]:
    """Problems found comparing expected vectors with search hits, at float32 precision."""
    found = {hit["_id"]: (hit.get("_source") or {}).get(field) for hit in hits}
    problems = []
    for doc_id, vector in expected.items():
        got = found.get(doc_id)
        if got is None:
            problems.append(f"document {doc_id}: {field} missing")
            continue
        want32 = np.asarray(vector, dtype=np.float32)
        got32 = np.asarray(got, dtype=np.float32)
        if want32.shape != got32.shape or not np.array_equal(want32, got32):
            problems.append(f"document {doc_id}: {field} differs from the Spark vector")
    return problems


def verify(
    es: Elasticsearch,
    indices: Mapping[str, str],
    expected_counts: Mapping[str, int],
    samples: Mapping[str, Mapping[str, Sequence[float]]],
) -> list[str]:
    """Refresh, then compare document counts and sampled vectors; a list of problems (empty = good)."""
    es.indices.refresh(index=",".join(indices.values()))
    problems = []
    for kind, index in indices.items():
        count = int(es.count(index=index)["count"])
        if count != expected_counts[kind]:
            problems.append(f"{index}: {count} documents, expected {expected_counts[kind]}")
    for kind, expected in samples.items():
        if not expected:
            continue
        resp = es.search(index=indices[kind], **vector_sample_query(list(expected)))
        problems.extend(f"{indices[kind]}: {p}" for p in compare_vectors(expected, resp["hits"]["hits"]))
    return problems


# --------------------------------------------------------------------------- aliases


def alias_targets(es: Elasticsearch, prefix: str) -> dict[str, list[str]]:
    """Indices each alias points at now (empty list when the alias does not exist)."""
    targets: dict[str, list[str]] = {kind: [] for kind in RUN_KINDS}
    for kind in RUN_KINDS:
        try:
            resp = es.indices.get_alias(name=alias_name(prefix, kind))
        except NotFoundError:
            continue
        targets[kind] = sorted(resp.body)
    return targets


def live_run_id(es: Elasticsearch, prefix: str) -> str | None:
    """The run the movies alias serves: the alias is the truth."""
    movies = alias_targets(es, prefix)["movies"]
    return run_id_of(movies[0], prefix, "movies") if len(movies) == 1 else None


def alias_actions(prefix: str, current: Mapping[str, Sequence[str]], new: Mapping[str, str]) -> list[dict]:
    """The one `_aliases` body moving every alias: remove each current target, add the new index."""
    actions: list[dict] = []
    for kind, index in new.items():
        alias = alias_name(prefix, kind)
        for old in current.get(kind, ()):
            if old != index:
                actions.append({"remove": {"index": old, "alias": alias}})
        actions.append({"add": {"index": index, "alias": alias}})
    return actions


def swap_aliases(es: Elasticsearch, prefix: str, new: Mapping[str, str]) -> dict[str, list[str]]:
    """Point every alias at `new` in one atomic request; returns what they pointed at before.

    If another run moved an alias in between, the `remove` of the stale
    target fails and ES applies none of the actions.
    """
    current = alias_targets(es, prefix)
    es.indices.update_aliases(actions=alias_actions(prefix, current, new))
    log.info("aliases now on %s (before: %s)", dict(new), {k: v for k, v in current.items() if v})
    return current


# --------------------------------------------------------------------------- pruning


def prune_plan(
    existing: Mapping[str, int],
    prefix: str,
    keep: int,
    protect: Iterable[str] = (),
    statuses: Mapping[str, str] | None = None,
) -> list[str]:
    """Versioned indices to delete: all but the `keep` newest succeeded runs', runs in progress and protected ones.

    `existing` maps index names to their creation time (ms, `index.creation_date`). A run's age is its
    indices' newest creation time, not its name: two runs started in the same second have run ids whose
    order is their random suffix's. `statuses` maps run ids to their record's status: a failed or
    abandoned run (or one without a record) never takes a kept place; a `running` one is kept (another
    process is exporting it). None: every run counts as succeeded. A run with an index in `protect` (what
    the aliases serve) keeps all its indices.
    """
    if keep < 1:
        raise ValueError("keep must be >= 1 (the live run is always kept)")
    protected = set(protect)
    found: dict[str, dict[str, str]] = {}  # run id -> kind -> index
    for index in existing:
        for kind in RUN_KINDS:
            run_id = run_id_of(index, prefix, kind)
            if run_id:
                found.setdefault(run_id, {})[kind] = index
    age = {run_id: max(existing[i] for i in named.values()) for run_id, named in found.items()}

    def status(run_id: str) -> str | None:
        return "succeeded" if statuses is None else statuses.get(run_id)

    succeeded = sorted((r for r in found if status(r) == "succeeded"), key=lambda r: (age[r], r), reverse=True)
    kept = set(succeeded[:keep]) | {r for r in found if status(r) == "running"}
    kept |= {r for r, named in found.items() if protected & set(named.values())}
    doomed = []
    for kind in RUN_KINDS:
        mine = sorted(((r, named[kind]) for r, named in found.items() if kind in named), key=lambda p: (age[p[0]], p[0]), reverse=True)
        doomed.extend(index for run_id, index in mine if run_id not in kept)
    return doomed


def prune(es: Elasticsearch, prefix: str, keep: int = DEFAULT_KEEP) -> list[str]:
    """Delete old versioned indices: keep the newest `keep` succeeded runs, runs in progress and what an alias serves."""
    found = es.indices.get(index=f"{prefix}-*", expand_wildcards="open,closed").body
    existing = {name: int(info["settings"]["index"]["creation_date"]) for name, info in found.items()}
    live = [i for targets in alias_targets(es, prefix).values() for i in targets]
    run_ids = sorted({r for name in existing for kind in RUN_KINDS if (r := run_id_of(name, prefix, kind))})
    statuses: dict[str, str] = {}
    if run_ids:
        resp = es.search(index=runs_index(prefix), size=len(run_ids), query={"ids": {"values": run_ids}}, source=["status"])
        statuses = {hit["_id"]: str(hit["_source"].get("status")) for hit in resp["hits"]["hits"]}
    return delete_indices(es, prune_plan(existing, prefix, keep, live, statuses))
