"""Vocabulary schema: the values each filter kind accepts."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields

from service import vocabulary


def _values(kind: str, params: str, example: list[str]) -> fields.List:
    text = f"Values of {params} ({vocabulary.describe(kind)})"
    return fields.List(fields.String(), required=True, metadata={"description": text, "example": example})


class VocabularySchema(ma.Schema):
    genres = _values("genres", "`genre`, `exclude_genre`, `favorite_genre`", ["Action", "Children's", "Sci-Fi"])
    age_bands = _values("age_bands", "`age_band`", ["18-24", "25-34"])
    genders = _values("genders", "`gender`", ["F", "M"])
    occupations = _values("occupations", "`occupation`", ["engineer", "writer"])
