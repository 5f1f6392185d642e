"""The `standard` analyzer and the fuzzy-matching primitives of Lucene.

Standard tokenizer: Unicode text segmentation (UAX #29) word boundaries, keeping tokens that
contain a letter or digit, as Lucene's `StandardTokenizer` does
(https://www.elastic.co/docs/reference/text-analysis/analysis-standard-tokenizer). The rules
implemented here:

* letters (category L*) and digits (Nd) join into one token, also across `_`
  (ExtendNumLet): `R2D2`, `foo_bar`;
* between two letters, `'`, `’`, `.`, `:` and `·` do not break (MidLetter / MidNumLet /
  Single_Quote): `can't`, `U.S.A`;
* between two digits, `,`, `;`, `.`, `'` do not break (MidNum / MidNumLet): `1,000`, `3.14`;
* each CJK ideograph and each Hiragana character is its own token; Katakana runs join;
* combining marks (Mn, Mc, Me) stay attached to the preceding character;
* tokens longer than 255 characters are split every 255 characters (max_token_length).

Known deviations (documented, not hidden): no dictionary segmentation of Thai/Lao/Khmer/
Myanmar (a run becomes one token), emoji sequences are not emitted as tokens, and
Unicode-version differences of the character database are inherited from Python's
`unicodedata`. The lowercase filter lowercases code point by code point like Java's
`Character.toLowerCase` (no special casing that changes string length).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

MAX_TOKEN_LENGTH = 255

_ASCII_TOKEN = re.compile(
    r"[A-Za-z0-9_]+(?:(?<=[A-Za-z])['.:](?=[A-Za-z])[A-Za-z0-9_]+|(?<=[0-9])[.,;'](?=[0-9])[A-Za-z0-9_]+)*"
)
_HAS_ALNUM = re.compile(r"[A-Za-z0-9]")

_MID_LETTER = set(":\u00b7\u0387\u05f4\u2027\ufe13\ufe55\uff1a")
_MID_NUM = set(",;\u037e\u0589\u060c\u060d\u066c\u07f8\u2044\ufe10\ufe14\ufe50\ufe54\uff0c\uff1b")
_MID_NUM_LET = set(".'\u2018\u2019\u2024\ufe52\uff07\uff0e")

# character classes for the scanner
_LETTER, _DIGIT, _EXTEND_NUM_LET, _KATAKANA, _IDEO, _MARK, _OTHER = range(7)


@lru_cache(maxsize=65536)
def _char_class(ch: str) -> int:
    code = ord(ch)
    if ch == "_":
        return _EXTEND_NUM_LET
    cat = unicodedata.category(ch)
    if cat in ("Mn", "Mc", "Me"):
        return _MARK
    if 0x30A0 <= code <= 0x30FF or 0x31F0 <= code <= 0x31FF or 0xFF66 <= code <= 0xFF9F:
        return _KATAKANA if cat[0] == "L" or ch == "\u30fc" else _OTHER
    if (
        0x3040 <= code <= 0x309F
        or 0x4E00 <= code <= 0x9FFF
        or 0x3400 <= code <= 0x4DBF
        or 0x20000 <= code <= 0x2FA1F
        or 0xF900 <= code <= 0xFAFF
        or 0x3005 <= code <= 0x3007
    ):
        return _IDEO if cat[0] == "L" or cat == "Nl" else _OTHER
    if cat[0] == "L":
        return _LETTER
    if cat == "Nd":
        return _DIGIT
    if cat == "Pc":
        return _EXTEND_NUM_LET
    return _OTHER


def _scan(text: str) -> list[tuple[int, int]]:
    """General UAX#29-style scanner (used for non-ASCII text): (start, end) of each token."""
    spans: list[tuple[int, int]] = []
    n = len(text)
    i = 0
    while i < n:
        cls = _char_class(text[i])
        if cls == _IDEO:
            j = i + 1
            while j < n and _char_class(text[j]) == _MARK:
                j += 1
            spans.append((i, j))
            i = j
            continue
        if cls not in (_LETTER, _DIGIT, _EXTEND_NUM_LET, _KATAKANA):
            i += 1
            continue
        start = i
        last = cls
        i += 1
        while i < n:
            c = _char_class(text[i])
            if c == _MARK:
                i += 1
                continue
            if c == _KATAKANA and last in (_KATAKANA, _EXTEND_NUM_LET):
                last = c
                i += 1
                continue
            if c in (_LETTER, _DIGIT, _EXTEND_NUM_LET) and last in (_LETTER, _DIGIT, _EXTEND_NUM_LET):
                last = c
                i += 1
                continue
            if c == _EXTEND_NUM_LET and last == _KATAKANA:
                last = c
                i += 1
                continue
            if c == _OTHER and i + 1 < n:
                ch = text[i]
                nxt = _char_class(text[i + 1])
                if last == _LETTER and nxt == _LETTER and (ch in _MID_LETTER or ch in _MID_NUM_LET):
                    last = _LETTER
                    i += 2
                    continue
                if last == _DIGIT and nxt == _DIGIT and (ch in _MID_NUM or ch in _MID_NUM_LET):
                    last = _DIGIT
                    i += 2
                    continue
            break
        if any(_char_class(ch) in (_LETTER, _DIGIT, _KATAKANA) for ch in text[start:i]):
            spans.append((start, i))
    return spans


def _split_long(spans: list[tuple[int, int]], limit: int = MAX_TOKEN_LENGTH) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for start, end in spans:
        if end - start <= limit:
            out.append((start, end))
        else:
            out.extend((k, min(k + limit, end)) for k in range(start, end, limit))
    return out


def _standard_type(token: str) -> str:
    """The token type Lucene's StandardTokenizer reports (the subset the scanner distinguishes)."""
    classes = {_char_class(ch) for ch in token}
    if _IDEO in classes:
        code = ord(token[0])
        return "<HIRAGANA>" if 0x3040 <= code <= 0x309F else "<IDEOGRAPHIC>"
    if _KATAKANA in classes:
        return "<KATAKANA>"
    if _LETTER in classes or _EXTEND_NUM_LET in classes:
        return "<ALPHANUM>"
    return "<NUM>"


def standard_spans(text: str, max_token_length: int = MAX_TOKEN_LENGTH) -> list[tuple[int, int, str]]:
    """Standard tokenizer: (start, end, type) of each token, offsets into `text`."""
    if text.isascii():
        spans = [m.span() for m in _ASCII_TOKEN.finditer(text) if _HAS_ALNUM.search(m.group())]
    else:
        spans = _scan(text)
    return [(s, e, _standard_type(text[s:e])) for s, e in _split_long(spans, max_token_length)]


def tokenize(text: str) -> list[str]:
    """Standard tokenizer (no lowercasing)."""
    return [text[s:e] for s, e, _ in standard_spans(text)]


def lowercase_term(token: str) -> str:
    """Java's `Character.toLowerCase` code point by code point (what Lucene's LowerCaseFilter does)."""
    if token.isascii():
        return token.lower()
    return "".join(ch.lower() if len(ch.lower()) == 1 else ch for ch in token)


def analyze_standard(text: str) -> list[str]:
    """The `standard` analyzer: standard tokenizer + lowercase filter (no stop words)."""
    return [lowercase_term(t) for t in tokenize(text)]


def osa_distance(a: str, b: str, limit: int) -> int:
    """Optimal-string-alignment edit distance (Lucene fuzzy with transpositions), capped at limit+1."""
    la, lb = len(a), len(b)
    if abs(la - lb) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(lb + 1))
    for i in range(1, la + 1):
        cur = [i] + [0] * lb
        best = i
        ai = a[i - 1]
        for j in range(1, lb + 1):
            cost = 0 if ai == b[j - 1] else 1
            v = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and ai == b[j - 2] and a[i - 2] == b[j - 1]:
                v = min(v, prev2[j - 2] + 1)
            cur[j] = v
            if v < best:
                best = v
        if best > limit:
            return limit + 1
        prev2, prev = prev, cur
    return min(prev[lb], limit + 1)


def auto_fuzziness(term: str, low: int = 3, high: int = 6) -> int:
    """`AUTO[:low,high]`: 0 edits below `low` code points, 1 below `high`, else 2.

    https://www.elastic.co/docs/reference/elasticsearch/rest-apis/common-options#fuzziness
    """
    length = len(term)
    if length < low:
        return 0
    if length < high:
        return 1
    return 2


def deletion_variants(term: str, max_deletes: int) -> set[str]:
    """All strings reachable by deleting up to `max_deletes` characters (candidate index key)."""
    out = {term}
    frontier = {term}
    for _ in range(max_deletes):
        nxt: set[str] = set()
        for t in frontier:
            for k in range(len(t)):
                nxt.add(t[:k] + t[k + 1 :])
        out |= nxt
        frontier = nxt
    return out
