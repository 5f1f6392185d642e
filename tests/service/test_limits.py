"""The JSON nesting scan: depth counted on raw bytes, strings skipped, linear in the body."""

from __future__ import annotations

import pytest

from service.limits import nesting_exceeds

CASES = [
    (b"[]", 1, False),
    (b"[[]]", 1, True),
    (b'{"a": [1, {"b": []}]}', 4, False),
    (b'{"a": [1, {"b": []}]}', 3, True),
    (b'{"a": "[[[[[[[[[["}', 1, False),  # brackets inside a string are text
    (b'{"a": "\\"[[[[", "b": 1}', 1, False),  # an escaped quote does not end the string
    (b'{"a": "\\\\", "b": [[]]}', 3, False),  # an escaped backslash does
    (b'{"a": "\\\\", "b": [[]]}', 2, True),
    (b"[" * 1000, 16, True),
    (b'["unterminated ' + b"[" * 40, 16, False),  # invalid JSON: the parser refuses it afterwards
    (b"]]]][[", 1, False),  # unbalanced: invalid JSON, refused by the parser
    (b'[{"k": [{"k": [1]}]}]', 5, False),
    (b'[{"k": [{"k": [1]}]}]', 4, True),
]


@pytest.mark.parametrize(("data", "limit", "deeper"), CASES, ids=[c[0][:30].decode() for c in CASES])
def test_nesting_depth(data, limit, deeper):
    assert nesting_exceeds(data, limit) is deeper
