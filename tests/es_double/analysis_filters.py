"""Analysis components: char filters, tokenizers and token filters over a token stream.

A token stream is a list of `Token`s with Lucene's attributes: term, offsets, type,
position increment and position length. Components (behaviour from Elastic's reference,
https://www.elastic.co/docs/reference/text-analysis/, and Lucene's javadocs):

* char filters: `pattern_replace` (Java regex, `$1` replacements, `flags`), `mapping`
  (longest match first);
* tokenizers: `standard` (UAX #29, see `analysis.py`), `whitespace` (Java's
  `Character.isWhitespace`), `keyword`;
* token filters: `lowercase`, `uppercase`, `asciifolding`, `trim`, `stop`, `synonym`
  (Solr rules of single tokens), `word_delimiter_graph`, `flatten_graph` (graphs without
  side paths), `fingerprint`.

Known deviations, documented rather than hidden: `asciifolding` folds letters by Unicode
decomposition plus a table of letters that have none (Lucene's table is larger: some symbols
such as "½" keep their form here); offsets after a char filter map into the original text
exactly outside replaced spans and to the span's edges inside one.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from tests.es_double import errors as E
from tests.es_double.analysis import MAX_TOKEN_LENGTH, lowercase_term, standard_spans


@dataclass
class Token:
    """One token with the attributes Lucene's analysis chain carries."""

    term: str
    start: int
    end: int
    type: str = "word"
    pos_inc: int = 1
    pos_len: int = 1
    keyword: bool = False


@dataclass
class Filtered:
    """Char-filtered text and, per output index, the input offset it came from."""

    text: str
    offsets: list[int]  # len(text) + 1 entries

    @classmethod
    def of(cls, text: str) -> Filtered:
        return cls(text, list(range(len(text) + 1)))

    def correct(self, offset: int) -> int:
        return self.offsets[min(max(offset, 0), len(self.text))]


# ---------------------------------------------------------------------- Java regex
_JAVA_FLAGS = {
    "CASE_INSENSITIVE": re.IGNORECASE,
    "MULTILINE": re.MULTILINE,
    "DOTALL": re.DOTALL,
    "COMMENTS": re.VERBOSE,
    "UNICODE_CASE": 0,  # Python's str patterns fold case by Unicode already
    "UNICODE_CHARACTER_CLASS": 0,  # \w, \d, \s are Unicode-aware in Python's str patterns
}
_JAVA_ONLY = (
    (re.compile(r"\\[pP]\{"), "\\p{...} character properties"),
    (re.compile(r"(?<!\\)&&"), "character class intersection (&&)"),
    (re.compile(r"[*+?}]\+"), "possessive quantifiers"),
    (re.compile(r"\\[QEhHRXGvVZ]"), "the escapes \\Q \\E \\h \\H \\R \\X \\G \\v \\V \\Z"),
    (re.compile(r"\\x\{"), "\\x{...} escapes"),
)


def java_regex(pattern: str, flags: str | None = None) -> re.Pattern[str]:
    """A Java `java.util.regex.Pattern` as a Python pattern; constructs that differ are refused."""
    value = 0
    for name in (flags or "").split("|"):
        name = name.strip()
        if not name:
            continue
        if name not in _JAVA_FLAGS:
            raise E.unsupported(f"regex flag [{name}]")
        value |= _JAVA_FLAGS[name]
    for rx, what in _JAVA_ONLY:
        if rx.search(pattern):
            raise E.unsupported(f"Java regex feature {what} in [{pattern}]")
    translated = re.sub(r"\(\?<(?=[A-Za-z])", "(?P<", pattern).replace("\\z", "\\Z")
    try:
        return re.compile(translated, value)
    except re.error as exc:
        raise E.illegal_argument(f"Illegal regex pattern [{pattern}]: {exc}") from exc


def java_replacement(replacement: str) -> Callable[[re.Match[str]], str]:
    """Matcher.appendReplacement semantics: `$n` / `${name}` groups, `\\x` a literal x."""
    parts: list[tuple[str, Any]] = []
    i = 0
    literal: list[str] = []
    while i < len(replacement):
        ch = replacement[i]
        if ch == "\\" and i + 1 < len(replacement):
            literal.append(replacement[i + 1])
            i += 2
            continue
        if ch == "$":
            if literal:
                parts.append(("lit", "".join(literal)))
                literal = []
            if i + 1 < len(replacement) and replacement[i + 1] == "{":
                close = replacement.index("}", i)
                parts.append(("group", replacement[i + 2 : close]))
                i = close + 1
                continue
            j = i + 1
            while j < len(replacement) and replacement[j].isdigit():
                j += 1
            if j == i + 1:
                raise E.illegal_argument("Illegal group reference")
            parts.append(("group", int(replacement[i + 1 : j])))
            i = j
            continue
        literal.append(ch)
        i += 1
    if literal:
        parts.append(("lit", "".join(literal)))

    def expand(match: re.Match[str]) -> str:
        out = []
        for kind, value in parts:
            out.append(value if kind == "lit" else (match.group(value) or ""))
        return "".join(out)

    return expand


# ---------------------------------------------------------------------- char filters
CharFilter = Callable[[Filtered], Filtered]


def _rewrite(source: Filtered, pieces: list[tuple[int, int, str]]) -> Filtered:
    """Replace non-overlapping spans (start, end, replacement) of `source`, keeping the offset map."""
    text: list[str] = []
    offsets: list[int] = []
    pos = 0
    for start, end, repl in pieces:
        text.append(source.text[pos:start])
        offsets.extend(source.offsets[pos:start])
        text.append(repl)
        width = end - start
        offsets.extend(source.offsets[start + min(k, width)] for k in range(len(repl)))
        pos = end
    text.append(source.text[pos:])
    offsets.extend(source.offsets[pos:])
    return Filtered("".join(text), offsets)


def pattern_replace_char_filter(pattern: re.Pattern[str], replacement: str) -> CharFilter:
    """PatternReplaceCharFilter: every match of `pattern` in the whole text replaced."""
    expand = java_replacement(replacement)

    def apply(source: Filtered) -> Filtered:
        pieces = [(m.start(), m.end(), expand(m)) for m in pattern.finditer(source.text)]
        return _rewrite(source, pieces) if pieces else source

    return apply


_MAPPING_RULE = re.compile(r"^(.*?)\s*=>\s*(.*)$", re.S)


def _unescape_mapping(text: str) -> str:
    """MappingCharFilterFactory's escapes: \\\\ \\" \\' \\n \\t \\r \\b \\f and \\uXXXX."""
    out: list[str] = []
    i = 0
    simple = {"\\": "\\", '"': '"', "'": "'", "n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt == "u" and re.fullmatch(r"[0-9A-Fa-f]{4}", text[i + 2 : i + 6]):
                out.append(chr(int(text[i + 2 : i + 6], 16)))
                i += 6
                continue
            if nxt in simple:
                out.append(simple[nxt])
                i += 2
                continue
            raise E.illegal_argument(f"Invalid escaped char in [{text}]")
        out.append(ch)
        i += 1
    return "".join(out)


def mapping_char_filter(rules: Sequence[str]) -> CharFilter:
    """MappingCharFilter: at each position the longest matching key is replaced."""
    table: dict[str, str] = {}
    for rule in rules:
        m = _MAPPING_RULE.match(rule)
        if m is None:
            raise E.illegal_argument(f"Invalid Mapping Rule : [{rule}]")
        key = _unescape_mapping(m.group(1))
        if not key:
            raise E.illegal_argument(f"Invalid Mapping Rule : [{rule}]")
        table[key] = _unescape_mapping(m.group(2))
    longest = max((len(k) for k in table), default=0)

    def apply(source: Filtered) -> Filtered:
        pieces: list[tuple[int, int, str]] = []
        text = source.text
        i = 0
        while i < len(text):
            for width in range(min(longest, len(text) - i), 0, -1):
                repl = table.get(text[i : i + width])
                if repl is not None:
                    pieces.append((i, i + width, repl))
                    i += width
                    break
            else:
                i += 1
        return _rewrite(source, pieces) if pieces else source

    return apply


# ---------------------------------------------------------------------- tokenizers
Tokenizer = Callable[[str], list[Token]]

_JAVA_WHITESPACE_CONTROL = set("\t\n\u000b\f\r\u001c\u001d\u001e\u001f")
_NOT_JAVA_WHITESPACE = {"\u00a0", "\u2007", "\u202f"}


def java_is_whitespace(ch: str) -> bool:
    """Java's Character.isWhitespace: space separators except no-break spaces, and a few controls."""
    if ch in _JAVA_WHITESPACE_CONTROL:
        return True
    return unicodedata.category(ch) in ("Zs", "Zl", "Zp") and ch not in _NOT_JAVA_WHITESPACE


def _check_max_token_length(value: int) -> int:
    if not 1 <= value <= 1024 * 1024:
        raise E.illegal_argument(f"maxTokenLen must be greater than 0 and less than 1048576 passed: {value}")
    return value


def standard_tokenizer(max_token_length: int = MAX_TOKEN_LENGTH) -> Tokenizer:
    _check_max_token_length(max_token_length)
    return lambda text: [Token(text[s:e], s, e, t) for s, e, t in standard_spans(text, max_token_length)]


def whitespace_tokenizer(max_token_length: int = MAX_TOKEN_LENGTH) -> Tokenizer:
    """WhitespaceTokenizer: runs of non-whitespace; longer runs split every `max_token_length` chars."""
    _check_max_token_length(max_token_length)

    def run(text: str) -> list[Token]:
        out: list[Token] = []
        i = 0
        n = len(text)
        while i < n:
            if java_is_whitespace(text[i]):
                i += 1
                continue
            j = i
            while j < n and not java_is_whitespace(text[j]) and j - i < max_token_length:
                j += 1
            out.append(Token(text[i:j], i, j))
            i = j
        return out

    return run


def keyword_tokenizer() -> Tokenizer:
    """KeywordTokenizer: the whole input as one token (none for an empty input)."""
    return lambda text: [Token(text, 0, len(text))] if text else []


# ---------------------------------------------------------------------- token filters
TokenFilter = Callable[[list[Token]], list[Token]]


def map_terms(fn: Callable[[str], str]) -> TokenFilter:
    return lambda tokens: [replace(t, term=fn(t.term)) for t in tokens]


def lowercase_filter() -> TokenFilter:
    return map_terms(lowercase_term)


def uppercase_filter() -> TokenFilter:
    return map_terms(lambda term: "".join(ch.upper() if len(ch.upper()) == 1 else ch for ch in term))


def trim_filter() -> TokenFilter:
    def strip(term: str) -> str:
        start, end = 0, len(term)
        while start < end and java_is_whitespace(term[start]):
            start += 1
        while end > start and java_is_whitespace(term[end - 1]):
            end -= 1
        return term[start:end]

    return map_terms(strip)


# Latin letters without a canonical decomposition, folded as ASCIIFoldingFilter folds them.
_FOLD_EXTRA = {
    "Æ": "AE", "æ": "ae", "Œ": "OE", "œ": "oe", "ß": "ss", "Ø": "O", "ø": "o", "Đ": "D", "đ": "d",
    "Ð": "D", "ð": "d", "Þ": "TH", "þ": "th", "Ł": "L", "ł": "l", "ı": "i", "Ħ": "H", "ħ": "h",
    "Ŧ": "T", "ŧ": "t", "ĸ": "q", "Ŋ": "N", "ŋ": "n", "‘": "'", "’": "'", "‚": "'", "“": '"',
    "”": '"', "„": '"', "–": "-", "—": "-", "…": "...",
}


def _fold_char(ch: str) -> str:
    if ch.isascii():
        return ch
    extra = _FOLD_EXTRA.get(ch)
    if extra is not None:
        return extra
    decomposed = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
    return decomposed if decomposed and decomposed.isascii() else ch


def ascii_fold(term: str) -> str:
    return term if term.isascii() else "".join(_fold_char(ch) for ch in term)


def asciifolding_filter(preserve_original: bool = False) -> TokenFilter:
    """ASCIIFoldingFilter; with `preserve_original` the original follows its folded form at the same position."""

    def run(tokens: list[Token]) -> list[Token]:
        out: list[Token] = []
        for t in tokens:
            folded = ascii_fold(t.term)
            out.append(replace(t, term=folded))
            if preserve_original and folded != t.term:
                out.append(replace(t, pos_inc=0))
        return out

    return run


ENGLISH_STOP_WORDS = (
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it", "no", "not",
    "of", "on", "or", "such", "that", "the", "their", "then", "there", "these", "they", "this", "to", "was",
    "will", "with",
)


def stop_filter(words: Sequence[str], ignore_case: bool = False) -> TokenFilter:
    """StopFilter: drop stop words; the position increments they held move to the next kept token."""
    stop = {w.lower() for w in words} if ignore_case else set(words)

    def run(tokens: list[Token]) -> list[Token]:
        out: list[Token] = []
        carried = 0
        for t in tokens:
            if (t.term.lower() if ignore_case else t.term) in stop:
                carried += t.pos_inc
                continue
            out.append(replace(t, pos_inc=t.pos_inc + carried) if carried else t)
            carried = 0
        return out

    return run


@dataclass
class SynonymRules:
    """Single-token synonym rules after analysis: input term -> (outputs, keep the original)."""

    table: dict[str, tuple[list[str], bool]] = field(default_factory=dict)

    def add(self, source: str, target: str, keep_original: bool) -> None:
        outputs, keep = self.table.get(source, ([], False))
        if target not in outputs:
            outputs.append(target)
        self.table[source] = (outputs, keep or keep_original)


def parse_solr_synonyms(rules: Sequence[str], analyze: Callable[[str], list[str]], expand: bool, lenient: bool) -> SynonymRules:
    """SolrSynonymParser: `a, b => c` replaces; `a, b, c` is equivalence (every pair when `expand`).

    Each term goes through the analysis chain that precedes the synonym filter; a term
    that analyses to nothing is an error unless `lenient`.
    """
    out = SynonymRules()
    for number, rule in enumerate(rules, 1):
        line = rule.strip()
        if not line or line.startswith("#"):
            continue

        def terms(side: str, number: int = number) -> list[str]:
            found: list[str] = []
            for raw in _split_unescaped(side, ","):
                raw = raw.strip()
                if not raw:
                    continue
                analysed = analyze(raw)
                if not analysed:
                    if lenient:
                        continue
                    raise E.illegal_argument(
                        "failed to build synonyms",
                        caused_by=E.EsError(
                            400,
                            "parse_exception",
                            f"Invalid synonym rule at line {number}",
                            caused_by=E.illegal_argument(f"term: {raw} was completely eliminated by analyzer"),
                        ),
                    )
                if len(analysed) > 1:
                    raise E.unsupported(f"multi-token synonym [{raw}] (only single-token rules are implemented)")
                found.append(analysed[0])
            return found

        sides = _split_unescaped(line, "=>")
        if len(sides) > 2:
            raise E.illegal_argument(
                "failed to build synonyms",
                caused_by=E.EsError(400, "parse_exception", f"Invalid synonym rule at line {number}",
                                    caused_by=E.illegal_argument("more than one explicit mapping specified on the same line")),
            )
        if len(sides) == 2:
            for source in terms(sides[0]):
                for target in terms(sides[1]):
                    out.add(source, target, keep_original=False)
            continue
        group = terms(sides[0])
        if expand:
            for source in group:
                for target in group:
                    if target != source:
                        out.add(source, target, keep_original=True)
        else:
            for source in group:
                out.add(source, group[0], keep_original=False)
    return out


def _split_unescaped(text: str, sep: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            current.append(text[i + 1])
            i += 2
            continue
        if text.startswith(sep, i):
            parts.append("".join(current))
            current = []
            i += len(sep)
            continue
        current.append(text[i])
        i += 1
    parts.append("".join(current))
    return parts


def synonym_filter(rules: SynonymRules) -> TokenFilter:
    """SynonymFilter for single-token rules: outputs at the input's position, the original first when kept."""

    def run(tokens: list[Token]) -> list[Token]:
        out: list[Token] = []
        for t in tokens:
            found = rules.table.get(t.term)
            if found is None:
                out.append(t)
                continue
            outputs, keep = found
            first = True
            if keep:
                out.append(t)
                first = False
            for term in outputs:
                if keep and term == t.term:
                    continue
                out.append(replace(t, term=term, type="SYNONYM", pos_inc=t.pos_inc if first else 0, pos_len=1))
                first = False
        return out

    return run


# ---------------------------------------------------------------------- word_delimiter_graph
LOWER, UPPER, DIGIT, DELIM = 1, 2, 4, 8
ALPHA = LOWER | UPPER
WDG_TYPES = {"LOWER": LOWER, "UPPER": UPPER, "ALPHA": ALPHA, "DIGIT": DIGIT, "ALPHANUM": ALPHA | DIGIT,
             "SUBWORD_DELIM": DELIM}


def _java_char_type(ch: str) -> int:
    """WordDelimiterIterator's default character types (Java Character categories)."""
    cat = unicodedata.category(ch)
    if ord(ch) < 256:
        if cat == "Ll" or ch in "ªº":
            return LOWER
        if cat == "Lu":
            return UPPER
        if cat == "Nd":
            return DIGIT
        return DELIM
    if cat == "Lu":
        return UPPER
    if cat == "Ll":
        return LOWER
    if cat in ("Lt", "Lm", "Lo", "Mn", "Me", "Mc"):
        return ALPHA
    if cat in ("Nd", "Nl", "No"):
        return DIGIT
    if cat == "Cs":
        return ALPHA | DIGIT
    return DELIM


@dataclass(frozen=True)
class WordDelimiterOptions:
    """word_delimiter_graph parameters with Elasticsearch's defaults."""

    generate_word_parts: bool = True
    generate_number_parts: bool = True
    catenate_words: bool = False
    catenate_numbers: bool = False
    catenate_all: bool = False
    preserve_original: bool = False
    split_on_case_change: bool = True
    split_on_numerics: bool = True
    stem_english_possessive: bool = True
    adjust_offsets: bool = True
    ignore_keywords: bool = False
    protected_words: frozenset[str] = frozenset()
    type_table: tuple[tuple[str, int], ...] = ()


def _subwords(term: str, opts: WordDelimiterOptions, types: Callable[[str], int]) -> list[tuple[int, int, int]]:
    """(start, end, type) of each subword, following WordDelimiterIterator's break rules."""
    ct = [types(ch) for ch in term]
    n = len(term)
    start_bound, end_bound = 0, n
    while start_bound < n and ct[start_bound] & DELIM:
        start_bound += 1
    while end_bound > start_bound and ct[end_bound - 1] & DELIM:
        end_bound -= 1

    def possessive(pos: int) -> bool:
        return (
            opts.stem_english_possessive
            and pos > 2
            and term[pos - 2] == "'"
            and term[pos - 1] in "sS"
            and bool(ct[pos - 3] & ALPHA)
            and (pos == end_bound or bool(ct[pos] & DELIM))
        )

    def is_break(last: int, cur: int) -> bool:
        if cur & last:
            return False
        if not opts.split_on_case_change and last & ALPHA and cur & ALPHA:
            return False
        if last & UPPER and cur & ALPHA:
            return False
        if not opts.split_on_numerics and ((last & ALPHA and cur & DIGIT) or (last & DIGIT and cur & ALPHA)):
            return False
        return True

    out: list[tuple[int, int, int]] = []
    current = start_bound
    skip_possessive = False
    while True:
        if skip_possessive:
            current += 2
            skip_possessive = False
        last = 0
        while current < end_bound and (last := ct[current]) & DELIM:
            current += 1
        if current >= end_bound:
            break
        end = current + 1
        while end < end_bound:
            if is_break(last, ct[end]):
                break
            last = ct[end]
            end += 1
        if end < end_bound - 1 and possessive(end + 2):
            skip_possessive = True
        first = ct[current]
        out.append((current, end, ALPHA if first & ALPHA and not first & DIGIT else first))
        current = end
    return out


def word_delimiter_graph_filter(opts: WordDelimiterOptions) -> TokenFilter:
    """WordDelimiterGraphFilter: subwords at consecutive positions, catenations spanning them.

    Within one input token the parts are ordered by start character, the longer first, so
    a catenation precedes its first part; its position length is the number of parts it
    covers. The original (preserve_original) comes first and spans every part.
    """
    table = dict(opts.type_table)

    def types(ch: str) -> int:
        return table.get(ch, _java_char_type(ch))

    def run(tokens: list[Token]) -> list[Token]:
        out: list[Token] = []
        accum = 0
        for tok in tokens:
            if opts.ignore_keywords and tok.keyword:
                out.append(tok)
                continue
            accum += tok.pos_inc
            term = tok.term
            subs = _subwords(term, opts, types)
            if (len(subs) == 1 and subs[0][0] == 0 and subs[0][1] == len(term)) or term in opts.protected_words:
                out.append(replace(tok, pos_inc=accum))
                accum = 0
                continue
            if not subs:
                if opts.preserve_original:
                    out.append(replace(tok, pos_inc=accum))
                    accum = 0
                continue
            parts = _buffer_parts(term, subs, opts)
            adjusting = opts.adjust_offsets and tok.end - tok.start == len(term)
            word_pos = 0
            last_start = tok.start
            for text, start_pos, end_pos, start_part, end_part in parts:
                if adjusting:
                    s, e = tok.start + start_part, tok.start + end_part
                else:
                    s, e = tok.start, tok.end
                s, e = max(s, last_start), max(e, last_start)
                last_start = s
                out.append(replace(tok, term=text, start=s, end=e, pos_inc=accum + start_pos - word_pos,
                                   pos_len=end_pos - start_pos))
                accum = 0
                word_pos = start_pos
        return out

    return run


def _buffer_parts(
    term: str, subs: list[tuple[int, int, int]], opts: WordDelimiterOptions
) -> list[tuple[str, int, int, int, int]]:
    """(text, start position, end position, start char, end char) of every emitted part, in output order."""
    parts: list[tuple[str, int, int, int, int]] = []
    word_pos = 0
    if opts.preserve_original:
        parts.append((term, 0, 1, 0, len(term)))

    def generate(kind: int) -> bool:
        return (opts.generate_word_parts and bool(kind & ALPHA)) or (opts.generate_number_parts and bool(kind & DIGIT))

    def catenate(kind: int) -> bool:
        return (opts.catenate_words and bool(kind & ALPHA)) or (opts.catenate_numbers and bool(kind & DIGIT))

    whole_single = len(subs) == 1
    if whole_single:
        s, e, _ = subs[0]
        parts.append((term[s:e], word_pos, word_pos + 1, s, e))
        word_pos += 1
    else:
        concat: dict[str, Any] = {}
        concat_all: dict[str, Any] = {}
        last_concat_count = 0

        def append(buf: dict[str, Any], s: int, e: int, kind: int) -> None:
            if not buf:
                buf.update(type=kind, start_part=s, start_pos=word_pos, text=[], count=0)
            buf["text"].append(term[s:e])
            buf["end_part"] = e
            buf["count"] += 1

        def write(buf: dict[str, Any]) -> None:
            parts.append(("".join(buf["text"]), buf["start_pos"], word_pos, buf["start_part"], buf["end_part"]))

        def flush() -> None:
            nonlocal word_pos, last_concat_count
            if word_pos == concat["start_pos"]:
                word_pos += 1
            last_concat_count = concat["count"]
            if concat["count"] != 1 or not generate(concat["type"]):
                write(concat)
            concat.clear()

        for s, e, kind in subs:
            if concat and not (concat["type"] & kind):
                flush()
            if catenate(kind):
                append(concat, s, e, kind)
            if opts.catenate_all:
                append(concat_all, s, e, kind)
            if generate(kind):
                parts.append((term[s:e], word_pos, word_pos + 1, s, e))
                word_pos += 1
        if concat:
            flush()
        if concat_all:
            if concat_all["count"] > last_concat_count:
                if word_pos == concat_all["start_pos"]:
                    word_pos += 1
                write(concat_all)
    if opts.preserve_original:
        parts[0] = (term, 0, max(word_pos, 1), 0, len(term))
        head, rest = parts[:1], parts[1:]
    else:
        head, rest = [], parts
    rest = sorted(rest, key=lambda p: (p[3], -p[4]))  # stable, like Lucene's merge sort
    return head + rest


# ---------------------------------------------------------------------- graphs
def positions(tokens: Sequence[Token]) -> list[int]:
    """Absolute position of each token (the first token's position is its increment minus one)."""
    out: list[int] = []
    pos = -1
    for t in tokens:
        pos += t.pos_inc
        out.append(pos)
    return out


def has_side_paths(tokens: Sequence[Token]) -> bool:
    """True when a multi-position token spans nodes that no single-position token reaches in order."""
    pos = positions(tokens)
    starts = set(pos)
    last = max(pos, default=-1)
    for t, p in zip(tokens, pos, strict=True):
        if t.pos_len > 1:
            for node in range(p + 1, p + t.pos_len):
                if node not in starts:
                    return True
            if p + t.pos_len - 1 > last:
                return True
    return False


def flatten_graph_filter() -> TokenFilter:
    """FlattenGraphFilter over graphs whose alternatives share the main path's nodes (no side paths).

    Such graphs are already flat: positions are unchanged. Graphs with side paths (from
    multi-token synonyms) are refused.
    """

    def run(tokens: list[Token]) -> list[Token]:
        if has_side_paths(tokens):
            raise E.unsupported("flatten_graph over a token graph with side paths")
        return tokens

    return run


def fingerprint_filter(separator: str = " ", max_output_size: int = 255) -> TokenFilter:
    """FingerprintFilter: the sorted unique terms joined by `separator` as one token (none when too long)."""

    def run(tokens: list[Token]) -> list[Token]:
        if not tokens:
            return []
        terms = sorted({t.term for t in tokens}, key=lambda s: s.encode("utf-16-be"))
        joined = separator.join(terms)
        if len(joined) > max_output_size:
            return []
        return [Token(joined, min(t.start for t in tokens), max(t.end for t in tokens), "fingerprint", 1, 1)]

    return run
