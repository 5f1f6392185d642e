"""Java's `Float.toString` / `Double.toString`, for messages that quote numbers.

Elasticsearch builds error texts such as "Preview of invalid vector: [1.0, 0.5]" or
"script_score script returned an invalid score [-1.0]" by string concatenation of Java
floats, so the double formats numbers the same way: the shortest digits that round-trip
(JDK 19+), plain notation for 1e-3 <= |x| < 1e7, otherwise computerized scientific
notation ("1.0E-5").
"""

from __future__ import annotations

import math

import numpy as np


def _java_format(digits: str, exponent: int, negative: bool) -> str:
    """Lay out significant `digits` (no dot) with decimal `exponent` of the first digit."""
    sign = "-" if negative else ""
    if -3 <= exponent < 7:
        if exponent >= 0:
            whole = digits[: exponent + 1].ljust(exponent + 1, "0")
            frac = digits[exponent + 1 :] or "0"
        else:
            whole = "0"
            frac = "0" * (-exponent - 1) + digits
        return f"{sign}{whole}.{frac}"
    frac = digits[1:] or "0"
    return f"{sign}{digits[0]}.{frac}E{exponent}"


def _split_scientific(text: str) -> tuple[str, int]:
    mantissa, _, exp = text.partition("e")
    digits = mantissa.replace(".", "").replace("-", "")
    digits = digits.rstrip("0") or "0"
    return digits, int(exp)


def java_float(value: float) -> str:
    """`Float.toString(value)` after rounding `value` to float32."""
    f = np.float32(value)
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "Infinity" if f > 0 else "-Infinity"
    if f == 0:
        return "-0.0" if math.copysign(1.0, float(f)) < 0 else "0.0"
    digits, exponent = _split_scientific(np.format_float_scientific(abs(f), unique=True, trim="-"))
    return _java_format(digits, exponent, f < 0)


def java_double(value: float) -> str:
    """`Double.toString(value)`."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    digits, exponent = _split_scientific(_repr_sci(abs(value)))
    return _java_format(digits, exponent, value < 0)


def _repr_sci(value: float) -> str:
    """Shortest round-trip digits of a double in scientific form (Python's repr is shortest)."""
    return np.format_float_scientific(np.float64(value), unique=True, trim="-")


def float32_json(value: float) -> float:
    """The double whose shortest repr equals the float32's shortest repr.

    Elasticsearch serialises float scores and float vector values with Jackson, which prints
    the float's shortest digits (0.2876821); converting the float32 straight to a double would
    print 0.28768208622932434. Parsing the float's own digits back gives the same JSON text.
    """
    f = np.float32(value)
    if not math.isfinite(f):
        return float(f)
    return float(np.format_float_positional(f, unique=True, trim="-")) if f != 0 else 0.0
