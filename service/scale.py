"""The served edition's rating scale: the ratings an account may give, and how high `min_rating` may go.

MovieLens 100K and 1M rate in whole stars (1..5), 10M and the CSV editions (latest-small,
20M, 25M, 32M) in half stars (0.5..5): `rating_values` of each edition in pipeline.datasets.
The served run's record names its edition; a run of an edition the registry does not know
accepts any rating from RATING_MIN to RATING_MAX (config). A rating off the scale is a 422
naming the field and listing the allowed values, before anything is stored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import marshmallow as ma
from flask import current_app
from webargs.flaskparser import abort

from pipeline.datasets import DATASETS
from service import model

ON_SCALE = "rating_scale"  # metadata key of a schema field whose value may not exceed the scale's top rating


@dataclass(frozen=True)
class Scale:
    """Allowed ratings: `values` (ascending) when the edition is known, else any number in [low, high]."""

    low: float
    high: float
    values: tuple[float, ...] = ()
    edition: str | None = None

    def allows(self, rating: float) -> bool:
        if self.values:
            return rating in self.values
        return self.low <= rating <= self.high

    def describe(self) -> str:
        """'ml-100k rates 1, 2, 3, 4, 5' (known edition) or 'ratings run from 0.5 to 5'."""
        if self.values:
            return f"{self.edition} rates {', '.join(_number(v) for v in self.values)}"
        return f"ratings run from {_number(self.low)} to {_number(self.high)}"


def of(edition: str | None) -> Scale:
    """The scale of a MovieLens edition by name; the configured range for an edition the registry lacks."""
    known = DATASETS.get(edition or "")
    if known is not None:
        values = tuple(sorted(known.rating_values))
        return Scale(values[0], values[-1], values, edition)
    return Scale(float(current_app.config["RATING_MIN"]), float(current_app.config["RATING_MAX"]), (), edition)


def served() -> Scale:
    """The scale of the served run's edition."""
    return of(model.current().dataset)


def check_ratings(items: Sequence[Mapping[str, Any]], field: str = "ratings") -> None:
    """422 (errors.json.<field>) when a `{"movie_id", "rating"}` item is off the served scale."""
    scale = served()
    off = [item for item in items if not scale.allows(float(item["rating"]))]
    if off:
        messages = [f"rating {_number(float(i['rating']))} of movie {i['movie_id']} is not on the served scale: "
                    f"{scale.describe()}" for i in off]
        abort(422, message=f"Ratings must be on the served edition's scale: {scale.describe()}.",
              errors={"json": {field: messages}})


def checked(schema: ma.Schema, data: Mapping[str, Any], location: str) -> None:
    """422 naming each ON_SCALE field of `data` above the served scale's top rating (reads the run only then)."""
    given = [(n, f) for n, f in schema.load_fields.items() if f.metadata.get(ON_SCALE) and data.get(n) is not None]
    if not given:
        return
    scale = served()
    errors = {(f.data_key or n): [f"{_number(float(data[n]))} is above the top rating {_number(scale.high)}: "
                                  f"{scale.describe()}"]
              for n, f in given if float(data[n]) > scale.high}
    if errors:
        abort(422, message=f"{', '.join(errors)} above the served edition's top rating {_number(scale.high)}.",
              errors={location: errors})


def _number(value: float) -> str:
    return f"{value:g}"
