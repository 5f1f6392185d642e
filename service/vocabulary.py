"""The values the filters accept: the served run's genres, age bands, genders and occupations.

A parameter naming a genre (`genre`, `exclude_genre`, `favorite_genre`) or a
demographic (`age_band`, `gender`, `occupation`) is checked against the values
the served indices hold (terms aggregations over `movies.genres` and
`users.age_band` / `gender` / `occupation`, kept RUN_CACHE_TTL_S seconds).
Matching is case-insensitive and a value is replaced by its stored spelling
("sci-fi" -> "Sci-Fi"); an unknown value is a 422 naming the field, listing the
valid values and suggesting the closest ("Children" -> "Children's" on
MovieLens 100K, which spells it so). `GET /vocabulary` lists them; the OpenAPI
document lists the values each MovieLens edition has (`describe`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import marshmallow as ma
from flask import current_app
from webargs.flaskparser import abort

from pipeline.datasets import GENRES_CSV, GENRES_DAT, OCCUPATIONS_1M, OCCUPATIONS_100K
from pipeline.features import AGE_BANDS, OLDEST_BAND
from service import queries, store
from service.errors import SUGGESTIONS, close_matches, suggestion

# kind -> (index kind, keyword field); a schema field names its kind in `metadata["vocabulary"]`.
KINDS: dict[str, tuple[str, str]] = {
    "genres": ("movies", "genres"),
    "age_bands": ("users", "age_band"),
    "genders": ("users", "gender"),
    "occupations": ("users", "occupation"),
}
_CACHE = "movierec.vocabulary"
_EDITIONS = {
    "genres": f"MovieLens 100K, 1M and 10M: {', '.join(GENRES_DAT)}; the CSV editions (20M, 25M, 32M, latest) spell "
    f"`Children` and add `IMAX`: {', '.join(GENRES_CSV)}",
    "age_bands": f"{', '.join(label for _, label in AGE_BANDS)}, {OLDEST_BAND} (MovieLens 100K and 1M; the CSV editions "
    "have no demographics)",
    "genders": "M, F (MovieLens 100K and 1M; the CSV editions have no demographics)",
    "occupations": f"MovieLens 100K: {', '.join(OCCUPATIONS_100K)}; MovieLens 1M: {', '.join(OCCUPATIONS_1M)}",
}


@dataclass(frozen=True)
class Vocabulary:
    """The served values of each kind, in name order, and when they were read."""

    values: dict[str, tuple[str, ...]]
    loaded_at: float = 0.0


def describe(kind: str) -> str:
    """OpenAPI text: where the values come from and those of each MovieLens edition."""
    return (f"One of the served run's {kind.replace('_', ' ')} (GET /vocabulary), matched case-insensitively. "
            f"{_EDITIONS[kind]}.")


def load() -> Vocabulary:
    """Read every kind's values from the served indices now (one aggregation per index)."""
    by_index: dict[str, list[str]] = {}
    for kind, (index, _field) in KINDS.items():
        by_index.setdefault(index, []).append(kind)
    values: dict[str, tuple[str, ...]] = {}
    for index, kinds in by_index.items():
        resp = store.search(index, queries.vocabulary([KINDS[k][1] for k in kinds]))
        for kind in kinds:
            buckets = resp["aggregations"][KINDS[kind][1]]["buckets"]
            values[kind] = tuple(str(b["key"]) for b in buckets)
    return Vocabulary(values, time.monotonic())


def current() -> Vocabulary:
    """The served values, read again after RUN_CACHE_TTL_S."""
    cached: Vocabulary | None = current_app.extensions.get(_CACHE)
    if cached is not None and time.monotonic() - cached.loaded_at < float(current_app.config["RUN_CACHE_TTL_S"]):
        return cached
    fresh = load()
    current_app.extensions[_CACHE] = fresh
    return fresh


def listing() -> dict[str, list[str]]:
    """GET /vocabulary: every kind's values."""
    return {kind: list(values) for kind, values in current().values.items()}


def checked(schema: ma.Schema, data: Mapping[str, Any], location: str) -> dict[str, Any]:
    """`data` loaded by `schema` with each vocabulary field's values in their served spelling; 422 for unknown ones.

    Reads the vocabulary only when such a field was given.
    """
    given = [(name, f) for name, f in schema.load_fields.items() if f.metadata.get("vocabulary") and data.get(name) is not None]
    out = dict(data)
    if not given:
        return out
    served = current().values
    errors: dict[str, list[str]] = {}
    suggestions: dict[str, list[dict[str, Any]]] = {}
    for name, field in given:
        kind = field.metadata["vocabulary"]
        allowed = served.get(kind, ())
        spelled = {v.casefold(): v for v in allowed}
        values = data[name] if isinstance(data[name], list) else [data[name]]
        unknown = [v for v in values if v.casefold() not in spelled]
        if not unknown:
            fixed = [spelled[v.casefold()] for v in values]
            out[name] = fixed if isinstance(data[name], list) else fixed[0]
            continue
        messages = []
        for value in unknown:
            close = close_matches(value, allowed)
            messages.append(_unknown(kind, value, allowed, close))
            if close:
                suggestions[value] = [suggestion(c) for c in close]
        errors[field.data_key or name] = messages
    if errors:
        body: dict[str, Any] = {location: errors}
        if suggestions:
            body[SUGGESTIONS] = suggestions
        names = ", ".join(errors)
        abort(422, message=f"Unknown values for {names}; `errors` lists the valid ones (also at GET /vocabulary).",
              errors=body)
    return out


def _unknown(kind: str, value: str, allowed: tuple[str, ...], close: list[str]) -> str:
    what = kind.replace("_", " ")
    if not allowed:
        return f"unknown value {value!r}: the served run has no {what}"
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return f"unknown value {value!r}.{hint} Valid {what}: {', '.join(allowed)}."
