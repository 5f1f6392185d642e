"""Unit tests of the double's building blocks (no server; each mirrors a documented Lucene/ES rule)."""

from __future__ import annotations

import pytest

from tests.es_double.analysis import analyze_standard, auto_fuzziness, osa_distance
from tests.es_double.dates import DateFormat, parse_date_math
from tests.es_double.javafmt import java_float
from tests.es_double.query import calculate_min_should_match
from tests.es_double.segment import byte4_to_int, int_to_byte4


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.0, "1.0"),
        (0.1, "0.1"),
        (1e-5, "1.0E-5"),
        (123456789.0, "1.2345679E8"),
        (-1.0, "-1.0"),
        (float("nan"), "NaN"),
        (0.001, "0.001"),
    ],
)
def test_java_float_to_string(value: float, text: str) -> None:
    """Java's Float.toString: shortest digits; plain notation in [1e-3, 1e7), else "d.dddEn".

    https://docs.oracle.com/en/java/javase/21/docs/api/java.base/java/lang/Float.html#toString(float)
    """
    assert java_float(value) == text


@pytest.mark.parametrize(("length", "decoded"), [(1, 1), (23, 23), (24, 24), (100, 96), (1000, 984)])
def test_bm25_norm_length_encoding(length: int, decoded: int) -> None:
    """Lucene SmallFloat.intToByte4: exact below 24, 4 significant bits above (100 -> 96).

    https://lucene.apache.org/core/10_0_0/core/org/apache/lucene/util/SmallFloat.html
    """
    assert byte4_to_int(int_to_byte4(length)) == decoded


@pytest.mark.parametrize(
    ("clauses", "spec", "expected"),
    [(3, "75%", 2), (4, "-25%", 3), (5, 2, 2), (5, -2, 3), (3, "2<-25% 9<-3", 3), (4, "2<-25% 9<-3", 3)],
)
def test_minimum_should_match_formats(clauses: int, spec: object, expected: int) -> None:
    """minimum_should_match: integers, negatives, percentages (rounded down), and conditional specs.

    https://www.elastic.co/docs/reference/query-languages/query-dsl/query-dsl-minimum-should-match
    """
    assert calculate_min_should_match(clauses, spec) == expected


@pytest.mark.parametrize(
    ("a", "b", "distance"), [("ab", "ba", 1), ("quick", "quikc", 1), ("computer", "komputor", 2), ("fox", "fox", 0)]
)
def test_edit_distance_counts_transpositions_once(a: str, b: str, distance: int) -> None:
    """Fuzzy matching uses Damerau-Levenshtein (optimal string alignment) distance.

    https://www.elastic.co/docs/reference/query-languages/query-dsl/query-dsl-fuzzy-query#fuzzy-query-field-params
    """
    assert osa_distance(a, b, 2) == distance


@pytest.mark.parametrize(("term", "edits"), [("ab", 0), ("abc", 1), ("abcde", 1), ("abcdef", 2)])
def test_auto_fuzziness(term: str, edits: int) -> None:
    """AUTO: 0..2 chars exact, 3..5 one edit, more than 5 two edits.

    https://www.elastic.co/docs/reference/elasticsearch/rest-apis/common-options#fuzziness
    """
    assert auto_fuzziness(term) == edits


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("Amélie (2001)", ["amélie", "2001"]),
        ("東京タワー", ["東", "京", "タワー"]),
        ("rock’n’roll", ["rock’n’roll"]),
        ("e-mail", ["e", "mail"]),
    ],
)
def test_standard_analyzer_unicode(text: str, tokens: list[str]) -> None:
    """Standard tokenizer: letters with diacritics stay whole, each ideograph is a token, katakana runs join,
    right single quotation marks join letters (MidNumLet); then lowercase.

    https://www.elastic.co/docs/reference/text-analysis/analysis-standard-tokenizer (UAX #29)
    """
    assert analyze_standard(text) == tokens


def test_date_formats_and_math() -> None:
    """`||` alternatives are tried in order; date math rounds down for gte and up for lte.

    https://www.elastic.co/docs/reference/elasticsearch/rest-apis/common-options#date-math
    """
    fmt = DateFormat.of("strict_date_optional_time||epoch_second")
    assert fmt.parse("1970-01-02") == 86_400_000
    assert fmt.parse(86_400) == 86_400_000
    assert parse_date_math("1970-01-02T10:00:00Z||/d", fmt, round_up=False) == 86_400_000
    assert parse_date_math("1970-01-02T10:00:00Z||/d", fmt, round_up=True) == 2 * 86_400_000 - 1
    assert parse_date_math("now-1d", fmt, round_up=False, now_ms=2 * 86_400_000) == 86_400_000
