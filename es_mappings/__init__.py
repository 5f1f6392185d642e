"""The index definitions (settings + mappings): the only place they are written.

The JSON files beside this module are valid Elasticsearch create-index bodies
(vector `dims` are left out; `index_body` fills them from the run's vector size).

movies / users / ratings are versioned per run behind aliases; runs, feedback
(accounts and ratings given through the API: the system of record no run
replaces) and ids (the durable user-id allocator) are plain indices.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from importlib import resources

KINDS = ("movies", "users", "ratings", "runs", "feedback", "ids")


@cache
def _load(kind: str) -> dict:
    if kind not in KINDS:
        raise ValueError(f"unknown index kind {kind!r}; expected one of {KINDS}")
    return json.loads(resources.files(__name__).joinpath(f"{kind}.json").read_text("utf-8"))


def index_body(kind: str, dims: dict[str, int] | None = None) -> dict:
    """A fresh create-index body for `kind`, with `dims` set on the named vector fields.

    `dims` maps a dense_vector field name to its dimension count; every
    dense_vector field of the index must be given one.
    """
    body = copy.deepcopy(_load(kind))
    props = body["mappings"]["properties"]
    dims = dict(dims or {})
    for name, spec in props.items():
        if spec.get("type") == "dense_vector":
            if name not in dims:
                raise ValueError(f"index {kind!r}: dims missing for vector field {name!r}")
            spec["dims"] = int(dims.pop(name))
    if dims:
        raise ValueError(f"index {kind!r} has no vector fields {sorted(dims)}")
    return body


def properties(kind: str) -> dict:
    """The mapping properties of `kind` (read-only view for tests and Kibana checks)."""
    return copy.deepcopy(_load(kind)["mappings"]["properties"])


DEFAULT_PREFIX = "movierec"
INTEGER_MAX = 2**31 - 1  # the largest value of an ES `integer` field (and of Spark's IntegerType): every id
# User ids the API hands out (and accepts from a client) lie in [ACCOUNT_ID_MIN, INTEGER_MAX]; every MovieLens
# edition's user ids lie far below (ml-32m's highest is 200,948), and the loaders reject dataset user ids from
# this range, so an account can never collide with a dataset user.
ACCOUNT_ID_MIN = 1_000_000_000
STACK_VERSION = "9.5.6"  # the Elasticsearch / Kibana release the project pins (compose, the test double)


def alias_name(prefix: str, kind: str) -> str:
    """The alias the service and Kibana read, e.g. `movierec-movies`."""
    return f"{prefix}-{kind}"


def versioned_index(prefix: str, kind: str, run_id: str) -> str:
    """The concrete index a run writes, e.g. `movierec-movies-20261122-101900-ab12cd`."""
    return f"{prefix}-{kind}-{run_id}"


def run_id_of(index: str, prefix: str, kind: str) -> str | None:
    """The run id inside a versioned index name, or None when it is not one of ours."""
    head = f"{prefix}-{kind}-"
    return index[len(head):] if index.startswith(head) and len(index) > len(head) else None
