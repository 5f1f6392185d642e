"""docs/queries.md is exactly what the builders produce, and every request in it is valid JSON."""

from __future__ import annotations

import json
import re
from pathlib import Path

from service import queries
from service.querydocs import pretty, render

DOC = Path(__file__).resolve().parents[2] / "docs" / "queries.md"


def test_doc_matches_builders():
    assert DOC.read_text(encoding="utf-8") == render(), "regenerate with: python scripts/gen_query_docs.py"


def test_doc_requests_are_valid_json_and_the_builders_bodies():
    text = render()
    bodies = [json.loads(m.group(2)) for m in re.finditer(r"GET (\S+)/_search\n(.*?)\n```", text, re.DOTALL)]
    assert len(bodies) == 18
    assert queries.vocabulary(["age_band", "gender", "occupation"]) in bodies
    assert queries.user_ratings(42) in bodies
    assert queries.year_range() in bodies
    assert queries.genre_list() in bodies
    assert queries.title_search("toy sto", strict=False) in bodies


def test_pretty_keeps_short_parts_inline():
    assert pretty({"a": [1, 2]}) == '{"a": [1, 2]}'
    assert pretty({"a": "x" * 100}) == '{\n  "a": "' + "x" * 100 + '"\n}'
    assert pretty({"a": []}, width=3) == '{\n  "a": []\n}'
