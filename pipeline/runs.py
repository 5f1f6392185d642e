"""Run records in `<prefix>-runs`: what a run read, learnt, wrote, and how it ended.

The service reads the active run from here (its Gramian for implicit fold-in,
its vector size). `active` is a convenience flag; the alias `<prefix>-movies`
is the truth, and after a swap the flag is moved to match it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch

import es_mappings
from pipeline.indices import live_run_id, runs_index

log = logging.getLogger(__name__)

RUNNING, SUCCEEDED, FAILED = "running", "succeeded", "failed"
ABANDONED = "abandoned"  # left `running` by a process that died (pipeline.publish.hygiene)


def new_run_id(now: dt.datetime | None = None, token: str | None = None) -> str:
    """`YYYYmmdd-HHMMSS-<6 hex>` in UTC: unique per run; sorts by start second (ties by the random suffix)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    token = token if token is not None else secrets.token_hex(3)
    return f"{now.astimezone(dt.timezone.utc):%Y%m%d-%H%M%S}-{token}"


def iso(ts: dt.datetime) -> str:
    """UTC ISO-8601 with milliseconds, as ES `date` parses it."""
    return ts.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def sha256_file(path: Path, block: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(block):
            digest.update(chunk)
    return digest.hexdigest()


def file_hashes(paths: Iterable[Path], root: Path | None = None) -> dict[str, str]:
    """sha256 of each file, keyed by its path relative to `root` (or its name)."""
    out = {}
    for path in sorted(Path(p) for p in paths):
        key = str(path.relative_to(root)) if root is not None else path.name
        out[key] = sha256_file(path)
    return out


def data_hash(hashes: Mapping[str, str]) -> str:
    """One sha256 over the sorted `name:hash` lines: equal inputs give equal hashes."""
    digest = hashlib.sha256()
    for name in sorted(hashes):
        digest.update(f"{name}:{hashes[name]}\n".encode())
    return digest.hexdigest()


def _mapped_keys(values: Mapping[str, Any] | None, section: str) -> dict:
    """Keep the keys the runs mapping declares under `section` (the index is `dynamic: strict`)."""
    allowed = es_mappings.properties("runs")[section]["properties"]
    return {k: v for k, v in (values or {}).items() if k in allowed and v is not None}


def run_record(
    run_id: str,
    *,
    dataset: str,
    started_at: dt.datetime,
    status: str = RUNNING,
    data_files: Mapping[str, str] | None = None,
    model_kind: str | None = None,
    params: Mapping[str, Any] | None = None,
    indices: Mapping[str, str] | None = None,
) -> dict:
    """The record written when a run starts; later steps `update_run` it."""
    files = dict(data_files or {})
    record = {
        "run_id": run_id,
        "status": status,
        "active": False,
        "dataset": dataset,
        "data_hash": data_hash(files) if files else None,
        "data_files": files,
        "model_kind": model_kind,
        "started_at": iso(started_at),
        "params": dict(params or {}),
        "indices": dict(indices or {}),
        "timings": {},
        "errors": [],
    }
    return {k: v for k, v in record.items() if v is not None}


def finish_fields(
    status: str,
    started_at: dt.datetime,
    finished_at: dt.datetime,
    *,
    timings: Mapping[str, float] | None = None,
    counts: Mapping[str, int] | None = None,
    metrics: Mapping[str, float] | None = None,
    errors: Iterable[Any] = (),
) -> dict:
    """The fields a finished run adds: status, end time, duration, counts, metrics, errors."""
    fields = {
        "status": status,
        "finished_at": iso(finished_at),
        "duration_s": round((finished_at - started_at).total_seconds(), 3),
        "timings": {k: round(v, 3) for k, v in (timings or {}).items()},
        "errors": list(errors),
    }
    if counts:
        fields["counts"] = _mapped_keys(counts, "counts")
    if metrics:
        fields["metrics"] = _mapped_keys(metrics, "metrics")
    return fields


def model_fields(meta: Mapping[str, Any], params: Mapping[str, Any]) -> dict:
    """What the service needs of the model: kind, vector size, and `meta` (Gramian, biases…)."""
    return {
        "model_kind": meta.get("kind"),
        "vector_size": int(meta["vector_size"]) if meta.get("vector_size") is not None else None,
        "params": dict(params),
        "model": dict(meta),
    }


def put_run(es: Elasticsearch, prefix: str, record: Mapping[str, Any]) -> None:
    """Write a whole run record (id = run id), visible to searches at once."""
    es.index(index=runs_index(prefix), id=record["run_id"], document=dict(record), refresh="wait_for")


def update_run(es: Elasticsearch, prefix: str, run_id: str, fields: Mapping[str, Any]) -> None:
    """Merge `fields` into a run record."""
    es.update(index=runs_index(prefix), id=run_id, doc={k: v for k, v in fields.items() if v is not None}, refresh="wait_for")


def get_run(es: Elasticsearch, prefix: str, run_id: str) -> dict:
    return dict(es.get(index=runs_index(prefix), id=run_id)["_source"])


def list_runs(es: Elasticsearch, prefix: str, size: int = 20) -> list[dict]:
    """The newest runs first: by start time in ms (run ids alone tie within a second)."""
    order = [{"started_at": {"order": "desc"}}, {"run_id": {"order": "desc"}}]
    resp = es.search(index=runs_index(prefix), size=size, sort=order, query={"match_all": {}})
    return [hit["_source"] for hit in resp["hits"]["hits"]]


def sync_active(es: Elasticsearch, prefix: str) -> str | None:
    """Make `active` true on the run the alias serves and false on every other; that run id."""
    live = live_run_id(es, prefix)
    resp = es.search(index=runs_index(prefix), size=1000, query={"term": {"active": True}}, source=["run_id"])
    for hit in resp["hits"]["hits"]:
        if hit["_id"] != live:
            update_run(es, prefix, hit["_id"], {"active": False})
    if live is not None:
        update_run(es, prefix, live, {"active": True})
    return live
