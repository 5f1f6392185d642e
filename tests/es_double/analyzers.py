"""Analyzers: the built-in ones, custom analyzers from `index.analysis.*` settings, `_analyze`.

An index's analysis settings define char filters, tokenizers, token filters and analyzers
by name (https://www.elastic.co/docs/manage-data/data-store/text-analysis/create-custom-analyzer).
They are validated when the index is created, with Elasticsearch's errors ("Custom Analyzer
[a] failed to find filter under name [f]", "Unknown filter type [x] for [f]", "Token filter
[f] cannot be used to parse synonyms" for a synonym filter placed after a filter that
splits or merges tokens). Text fields pick their analyzers in Elasticsearch's order: at
index time `analyzer`, then the index's `default`, then `standard`; at search time the
query's `analyzer`, the field's `search_analyzer`, the index's `default_search`, the field's
`analyzer`, the index's `default`, then `standard`
(https://www.elastic.co/docs/manage-data/data-store/text-analysis/specify-an-analyzer).
Components and parameters Elasticsearch knows but the double does not implement are refused
with "unsupported by the test double: ...".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tests.es_double import errors as E
from tests.es_double.analysis import MAX_TOKEN_LENGTH
from tests.es_double.analysis_filters import (
    ENGLISH_STOP_WORDS,
    WDG_TYPES,
    CharFilter,
    Filtered,
    Token,
    TokenFilter,
    Tokenizer,
    WordDelimiterOptions,
    asciifolding_filter,
    fingerprint_filter,
    flatten_graph_filter,
    java_regex,
    keyword_tokenizer,
    lowercase_filter,
    mapping_char_filter,
    parse_solr_synonyms,
    pattern_replace_char_filter,
    standard_tokenizer,
    stop_filter,
    synonym_filter,
    trim_filter,
    uppercase_filter,
    whitespace_tokenizer,
    word_delimiter_graph_filter,
)

TEXT_POSITION_INCREMENT_GAP = 100  # TextFieldMapper's default between the values of one field
IMPLEMENTED_ANALYZERS = ("standard", "whitespace", "keyword")
KNOWN_ANALYZERS = {
    "simple", "stop", "pattern", "fingerprint", "snowball", "classic", "arabic", "armenian", "basque", "bengali",
    "brazilian", "bulgarian", "catalan", "cjk", "czech", "danish", "dutch", "english", "estonian", "finnish",
    "french", "galician", "german", "greek", "hindi", "hungarian", "indonesian", "irish", "italian", "latvian",
    "lithuanian", "norwegian", "persian", "portuguese", "romanian", "russian", "serbian", "sorani", "spanish",
    "swedish", "turkish", "thai",
}
KNOWN_TOKENIZERS = {
    "letter", "lowercase", "classic", "uax_url_email", "ngram", "edge_ngram", "char_group", "pattern",
    "simple_pattern", "simple_pattern_split", "path_hierarchy", "thai",
}
KNOWN_CHAR_FILTERS = {"html_strip"}
KNOWN_FILTERS = {
    "apostrophe", "cjk_bigram", "cjk_width", "classic", "common_grams", "condition", "decimal_digit",
    "delimited_payload", "dictionary_decompounder", "edge_ngram", "elision", "hunspell", "hyphenation_decompounder",
    "keep_types", "keep", "keyword_marker", "keyword_repeat", "kstem", "length", "limit", "min_hash", "multiplexer",
    "ngram", "pattern_capture", "pattern_replace", "porter_stem", "predicate_token_filter", "remove_duplicates",
    "reverse", "shingle", "snowball", "stemmer", "stemmer_override", "synonym_graph", "truncate", "unique",
    "word_delimiter", "arabic_normalization", "german_normalization", "hindi_normalization", "indic_normalization",
    "persian_normalization", "scandinavian_folding", "scandinavian_normalization", "serbian_normalization",
    "sorani_normalization", "bengali_normalization", "arabic_stem", "brazilian_stem", "czech_stem", "dutch_stem",
    "french_stem", "german_stem", "russian_stem",
}
# filters that may not precede a synonym filter (their output cannot parse synonym rules)
NOT_FOR_SYNONYMS = {"word_delimiter", "word_delimiter_graph", "fingerprint", "ngram", "edge_ngram", "shingle",
                    "common_grams", "multiplexer", "cjk_bigram", "keyword_repeat"}


@dataclass
class Analyzer:
    """Char filters, a tokenizer and token filters, applied in that order."""

    name: str
    tokenizer: Tokenizer
    char_filters: list[CharFilter] = field(default_factory=list)
    filters: list[TokenFilter] = field(default_factory=list)
    position_increment_gap: int = TEXT_POSITION_INCREMENT_GAP
    custom: bool = False
    tokenizer_name: str = "standard"

    def tokens(self, text: str) -> list[Token]:
        filtered = Filtered.of(text)
        for cf in self.char_filters:
            filtered = cf(filtered)
        tokens = [
            Token(t.term, filtered.correct(t.start), filtered.correct(t.end), t.type, t.pos_inc, t.pos_len)
            for t in self.tokenizer(filtered.text)
        ]
        for tf in self.filters:
            tokens = tf(tokens)
        return tokens

    def terms(self, text: str) -> list[str]:
        return [t.term for t in self.tokens(text)]


# ---------------------------------------------------------------------- parameters
def _bool(params: Mapping[str, Any], key: str, default: bool) -> bool:
    value = params.get(key, default)
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise E.illegal_argument(f"Failed to parse value [{value}] as only [true] or [false] are allowed.")


def _int(params: Mapping[str, Any], key: str, default: int) -> int:
    value = params.get(key, default)
    if isinstance(value, bool):
        raise E.illegal_argument(f"Failed to parse value [{value}] for setting [{key}]")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise E.illegal_argument(f"Failed to parse value [{value}] for setting [{key}]") from None


def _list(params: Mapping[str, Any], key: str) -> list[str] | None:
    value = params.get(key)
    if value is None:
        return None
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)]


def _refuse(params: Mapping[str, Any], kind: str, keys: Sequence[str]) -> None:
    for key in keys:
        if key in params:
            raise E.unsupported(f"[{key}] of {kind}")


# ---------------------------------------------------------------------- component factories
def make_char_filter(name: str, params: Mapping[str, Any]) -> CharFilter:
    kind = params.get("type")
    if kind == "pattern_replace":
        if "pattern" not in params:
            raise E.illegal_argument(f"pattern is missing for [{name}] char filter of type 'pattern_replace'")
        return pattern_replace_char_filter(java_regex(str(params["pattern"]), params.get("flags")),
                                           str(params.get("replacement", "")))
    if kind == "mapping":
        _refuse(params, "the mapping char filter", ("mappings_path",))
        rules = _list(params, "mappings")
        if rules is None:
            raise E.illegal_argument("mapping requires either `mappings` or `mappings_path` to be configured")
        return mapping_char_filter(rules)
    if kind in KNOWN_CHAR_FILTERS:
        raise E.unsupported(f"char filter type [{kind}]")
    raise E.illegal_argument(f"Unknown char_filter type [{kind}] for [{name}]")


def make_tokenizer(name: str, params: Mapping[str, Any]) -> Tokenizer:
    kind = params.get("type")
    if kind == "standard":
        return standard_tokenizer(_int(params, "max_token_length", MAX_TOKEN_LENGTH))
    if kind == "whitespace":
        return whitespace_tokenizer(_int(params, "max_token_length", MAX_TOKEN_LENGTH))
    if kind == "keyword":
        return keyword_tokenizer()
    if kind in KNOWN_TOKENIZERS:
        raise E.unsupported(f"tokenizer type [{kind}]")
    raise E.illegal_argument(f"Unknown tokenizer type [{kind}] for [{name}]")


def _stop_words(params: Mapping[str, Any]) -> list[str]:
    _refuse(params, "the stop filter", ("stopwords_path",))
    value = params.get("stopwords", "_english_")
    if isinstance(value, str):
        if value == "_english_":
            return list(ENGLISH_STOP_WORDS)
        if value == "_none_":
            return []
        if value.startswith("_") and value.endswith("_"):
            raise E.unsupported(f"stop word list [{value}]")
        return [w.strip() for w in value.split(",")]
    return [str(v) for v in value]


def _type_table(rules: list[str] | None) -> tuple[tuple[str, int], ...]:
    out: list[tuple[str, int]] = []
    for rule in rules or ():
        left, sep, right = rule.partition("=>")
        key, kind = left.strip(), right.strip()
        if not sep or len(key) != 1 or kind not in WDG_TYPES:
            raise E.illegal_argument(f"Invalid Mapping Rule : [{rule}]")
        out.append((key, WDG_TYPES[kind]))
    return tuple(out)


@dataclass
class ChainSoFar:
    """What precedes a token filter in its analyzer (a synonym filter parses its rules with it)."""

    char_filters: list[CharFilter]
    tokenizer: Tokenizer
    filters: list[tuple[str, str, TokenFilter]]  # (name, type, filter)


def make_token_filter(name: str, params: Mapping[str, Any], chain: ChainSoFar | None) -> TokenFilter:
    kind = params.get("type")
    if kind == "lowercase":
        if "language" in params:
            raise E.unsupported("[language] of the lowercase filter")
        return lowercase_filter()
    if kind == "uppercase":
        return uppercase_filter()
    if kind == "trim":
        return trim_filter()
    if kind == "asciifolding":
        return asciifolding_filter(_bool(params, "preserve_original", False))
    if kind == "stop":
        if not _bool(params, "remove_trailing", True):
            raise E.unsupported("[remove_trailing: false] of the stop filter")
        return stop_filter(_stop_words(params), _bool(params, "ignore_case", False))
    if kind == "synonym":
        return _synonym(name, params, chain)
    if kind == "word_delimiter_graph":
        _refuse(params, "the word_delimiter_graph filter", ("protected_words_path", "type_table_path"))
        opts = WordDelimiterOptions(
            **{k: _bool(params, k, getattr(WordDelimiterOptions, k)) for k in (
                "generate_word_parts", "generate_number_parts", "catenate_words", "catenate_numbers",
                "catenate_all", "preserve_original", "split_on_case_change", "split_on_numerics",
                "stem_english_possessive", "adjust_offsets", "ignore_keywords")},
            protected_words=frozenset(_list(params, "protected_words") or ()),
            type_table=_type_table(_list(params, "type_table")),
        )
        return word_delimiter_graph_filter(opts)
    if kind == "flatten_graph":
        return flatten_graph_filter()
    if kind == "fingerprint":
        separator = str(params.get("separator", " "))
        if len(separator) > 1:
            raise E.illegal_argument("Setting [separator] must be a single, non-null character. [" + separator + "] was provided.")
        return fingerprint_filter(separator, _int(params, "max_output_size", 255))
    if kind in KNOWN_FILTERS:
        raise E.unsupported(f"token filter type [{kind}]")
    raise E.illegal_argument(f"Unknown filter type [{kind}] for [{name}]")


def _synonym(name: str, params: Mapping[str, Any], chain: ChainSoFar | None) -> TokenFilter:
    _refuse(params, "the synonym filter", ("synonyms_path", "synonyms_set"))
    if params.get("format", "solr") != "solr":
        raise E.unsupported(f"synonym format [{params['format']}]")
    rules = _list(params, "synonyms")
    if rules is None:
        raise E.illegal_argument("synonym requires either `synonyms`, `synonyms_set` or `synonyms_path` to be configured")
    if chain is not None:
        for filter_name, filter_type, _ in chain.filters:
            if filter_type in NOT_FOR_SYNONYMS:
                raise E.illegal_argument(f"Token filter [{filter_name}] cannot be used to parse synonyms")
        rule_analyzer = Analyzer("synonyms", chain.tokenizer, list(chain.char_filters), [f for _, _, f in chain.filters])
    else:
        rule_analyzer = Analyzer("synonyms", whitespace_tokenizer())
    table = parse_solr_synonyms(rules, rule_analyzer.terms, _bool(params, "expand", True), _bool(params, "lenient", False))
    return synonym_filter(table)


# ---------------------------------------------------------------------- built-ins
PREBUILT_TOKENIZERS = ("standard", "whitespace", "keyword")
PREBUILT_CHAR_FILTERS: tuple[str, ...] = ()
PREBUILT_FILTERS = ("lowercase", "uppercase", "asciifolding", "trim", "stop", "word_delimiter_graph",
                    "flatten_graph", "fingerprint")


def builtin_analyzer(name: str) -> Analyzer | None:
    if name in ("standard", "default"):
        return Analyzer("standard", standard_tokenizer(), filters=[lowercase_filter()], tokenizer_name="standard")
    if name == "whitespace":
        return Analyzer("whitespace", whitespace_tokenizer(), tokenizer_name="whitespace")
    if name == "keyword":
        return Analyzer("keyword", keyword_tokenizer(), tokenizer_name="keyword")
    return None


# ---------------------------------------------------------------------- an index's analysis
class IndexAnalysis:
    """The analysis components of one index: its `index.analysis.*` settings plus the built-ins."""

    def __init__(self, tree: Mapping[str, Any] | None = None) -> None:
        tree = dict(tree or {})
        unknown = sorted(set(tree) - {"analyzer", "tokenizer", "char_filter", "filter", "normalizer"})
        if unknown:
            raise E.illegal_argument(
                f"unknown setting [index.analysis.{unknown[0]}] please check that any required plugins are installed, "
                "or check the breaking changes documentation for removed settings"
            )
        if tree.get("normalizer"):
            raise E.unsupported("index.analysis.normalizer")
        self.char_filter_defs: dict[str, dict[str, Any]] = _section(tree, "char_filter")
        self.tokenizer_defs: dict[str, dict[str, Any]] = _section(tree, "tokenizer")
        self.filter_defs: dict[str, dict[str, Any]] = _section(tree, "filter")
        self.analyzer_defs: dict[str, dict[str, Any]] = _section(tree, "analyzer")
        for kind, defs in (("char_filter", self.char_filter_defs), ("tokenizer", self.tokenizer_defs),
                           ("filter", self.filter_defs)):
            for name, spec in defs.items():
                if "type" not in spec:
                    raise E.illegal_argument(f"{kind} [{name}] must specify either an analyzer type, or a tokenizer")
        self.char_filters = {n: make_char_filter(n, spec) for n, spec in self.char_filter_defs.items()}
        self.tokenizers = {n: make_tokenizer(n, spec) for n, spec in self.tokenizer_defs.items()}
        self.analyzers: dict[str, Analyzer] = {}
        for name, spec in self.analyzer_defs.items():
            self.analyzers[name] = self._analyzer(name, spec)

    # -- lookups ----------------------------------------------------------------------
    def has_analyzer(self, name: str) -> bool:
        return name in self.analyzers or builtin_analyzer(name) is not None

    def analyzer(self, name: str) -> Analyzer:
        found = self.analyzers.get(name) or builtin_analyzer(name)
        if found is None:
            raise E.illegal_argument(f"failed to find analyzer [{name}]")
        return found

    def check_field_analyzer(self, name: str, field_path: str) -> None:
        """A mapping's analyzer name must be defined (mapper_parsing_exception otherwise)."""
        if self.has_analyzer(name):
            return
        if name in KNOWN_ANALYZERS:
            raise E.unsupported(f"analyzer [{name}] on field [{field_path}]")
        raise E.mapper_parsing(
            f"Failed to parse mapping: analyzer [{name}] has not been configured in mappings",
            caused_by=E.illegal_argument(f"analyzer [{name}] has not been configured in mappings"),
        )

    def index_analyzer(self, params: Mapping[str, Any]) -> Analyzer:
        name = params.get("analyzer")
        if name is None:
            return self.analyzer("default") if "default" in self.analyzers else self.analyzer("standard")
        return self.analyzer(name)

    def search_analyzer(self, params: Mapping[str, Any], query_analyzer: str | None = None) -> Analyzer:
        for name in (query_analyzer, params.get("search_analyzer")):
            if name is not None:
                return self.analyzer(name)
        if "default_search" in self.analyzers:
            return self.analyzers["default_search"]
        return self.index_analyzer(params)

    # -- building ---------------------------------------------------------------------
    def _analyzer(self, name: str, spec: Mapping[str, Any]) -> Analyzer:
        kind = spec.get("type")
        if kind is None and "tokenizer" not in spec:
            raise E.illegal_argument(f"analyzer [{name}] must specify either an analyzer type, or a tokenizer")
        if kind in (None, "custom"):
            return self.custom(name, spec, inline=False)
        if kind in IMPLEMENTED_ANALYZERS:
            if kind == "standard" and (spec.get("stopwords") not in (None, "_none_") or "stopwords_path" in spec):
                raise E.unsupported("[stopwords] of the standard analyzer")
            built = builtin_analyzer(kind)
            assert built is not None
            if kind == "standard" and "max_token_length" in spec:
                built.tokenizer = standard_tokenizer(_int(spec, "max_token_length", MAX_TOKEN_LENGTH))
            built.name = name
            return built
        if kind in KNOWN_ANALYZERS:
            raise E.unsupported(f"analyzer type [{kind}]")
        raise E.illegal_argument(f"Unknown analyzer type [{kind}] for [{name}]")

    def custom(self, name: str, spec: Mapping[str, Any], *, inline: bool) -> Analyzer:
        """A custom analyzer from names (settings) or names and inline definitions (`_analyze`)."""
        tok_ref = spec.get("tokenizer")
        if tok_ref is None:
            raise E.illegal_argument(f"Custom Analyzer [{name}] must be configured with a tokenizer")
        tokenizer, tokenizer_name = self._tokenizer_ref(tok_ref, name, inline)
        char_filters = [self._char_filter_ref(ref, name, inline) for ref in _refs(spec.get("char_filter"))]
        filters: list[tuple[str, str, TokenFilter]] = []
        for ref in _refs(spec.get("filter")):
            fname, ftype, params = self._filter_def(ref, name, inline)
            built = make_token_filter(fname, params, ChainSoFar(char_filters, tokenizer, list(filters)))
            filters.append((fname, ftype, built))
        gap = _int(spec, "position_increment_gap", TEXT_POSITION_INCREMENT_GAP)
        return Analyzer(name, tokenizer, char_filters, [f for _, _, f in filters], gap, True, tokenizer_name)

    def _tokenizer_ref(self, ref: Any, analyzer: str, inline: bool) -> tuple[Tokenizer, str]:
        if isinstance(ref, dict):
            return make_tokenizer("__anonymous__" + str(ref.get("type")), ref), str(ref.get("type"))
        ref = str(ref)
        if ref in self.tokenizers:
            return self.tokenizers[ref], ref
        if ref in PREBUILT_TOKENIZERS:
            return make_tokenizer(ref, {"type": ref}), ref
        if ref in KNOWN_TOKENIZERS:
            raise E.unsupported(f"tokenizer [{ref}]")
        if inline:
            raise E.illegal_argument(f"failed to find {self._scope()}tokenizer under [{ref}]")
        raise E.illegal_argument(f"Custom Analyzer [{analyzer}] failed to find tokenizer under name [{ref}]")

    def _char_filter_ref(self, ref: Any, analyzer: str, inline: bool) -> CharFilter:
        if isinstance(ref, dict):
            return make_char_filter("__anonymous__" + str(ref.get("type")), ref)
        ref = str(ref)
        if ref in self.char_filters:
            return self.char_filters[ref]
        if ref in KNOWN_CHAR_FILTERS:
            raise E.unsupported(f"char filter [{ref}]")
        if inline:
            raise E.illegal_argument(f"failed to find {self._scope()}char_filter under [{ref}]")
        raise E.illegal_argument(f"Custom Analyzer [{analyzer}] failed to find char_filter under name [{ref}]")

    def _filter_def(self, ref: Any, analyzer: str, inline: bool) -> tuple[str, str, Mapping[str, Any]]:
        if isinstance(ref, dict):
            kind = str(ref.get("type"))
            return "__anonymous__" + kind, kind, ref
        ref = str(ref)
        if ref in self.filter_defs:
            spec = self.filter_defs[ref]
            return ref, str(spec.get("type")), spec
        if ref in PREBUILT_FILTERS:
            return ref, ref, {"type": ref}
        if ref in KNOWN_FILTERS:
            raise E.unsupported(f"token filter [{ref}]")
        if inline:
            raise E.illegal_argument(f"failed to find {self._scope()}filter under [{ref}]")
        raise E.illegal_argument(f"Custom Analyzer [{analyzer}] failed to find filter under name [{ref}]")

    def _scope(self) -> str:
        return "" if self.scoped else "global "

    scoped = True


class GlobalAnalysis(IndexAnalysis):
    """The components available to `_analyze` without an index."""

    scoped = False

    def __init__(self) -> None:
        super().__init__({})


def _section(tree: Mapping[str, Any], key: str) -> dict[str, dict[str, Any]]:
    value = tree.get(key) or {}
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise E.illegal_argument(f"Failed to load settings for [index.analysis.{key}]")
    return {str(k): dict(v) for k, v in value.items()}


def _refs(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [value]


def analysis_tree(flat: Mapping[str, Any]) -> dict[str, Any]:
    """`index.analysis.*` settings (flat keys) as the nested tree IndexAnalysis reads."""
    tree: dict[str, Any] = {}
    for key, value in flat.items():
        parts = key.split(".")[2:]
        node = tree
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return tree


# ---------------------------------------------------------------------- _analyze
def analyze_request(body: Mapping[str, Any], index: IndexAnalysis | None, field_params: Callable[[str], Mapping[str, Any] | None] | None) -> dict[str, Any]:
    """The `_analyze` API: tokens of `text` through a named analyzer, a field's, or a chain given inline.

    https://www.elastic.co/docs/api/doc/elasticsearch/operation/operation-indices-analyze
    """
    allowed = {"text", "analyzer", "tokenizer", "char_filter", "filter", "field", "explain", "attributes", "normalizer"}
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise E.illegal_argument(f"Unknown parameter [{unknown[0]}] in request body or parameter is of the wrong type[VALUE_STRING] ")
    if body.get("explain") or body.get("attributes"):
        raise E.unsupported("_analyze with explain or attributes")
    if body.get("normalizer"):
        raise E.unsupported("_analyze with a normalizer")
    errors: list[str] = []
    text = body.get("text")
    if text is None or text == []:
        errors.append("text is missing")
    named = body.get("analyzer") is not None
    components = any(body.get(k) is not None for k in ("tokenizer", "char_filter", "filter"))
    if named and components:
        errors.append("cannot define extra components on a named analyzer")
    if errors:
        reasons = "".join(f"{i}: {e};" for i, e in enumerate(errors, 1))
        raise E.EsError(400, "action_request_validation_exception", f"Validation Failed: {reasons}")
    texts = text if isinstance(text, list) else [text]
    if len(texts) != 1:
        raise E.unsupported("_analyze with an array of texts")
    scope: IndexAnalysis = index or GlobalAnalysis()
    if named:
        name = str(body["analyzer"])
        if not scope.has_analyzer(name):
            if name in KNOWN_ANALYZERS:
                raise E.unsupported(f"analyzer [{name}]")
            raise E.illegal_argument(f"failed to find {scope._scope()}analyzer [{name}]")
        analyzer = scope.analyzer(name)
    elif components:
        if body.get("tokenizer") is None:
            raise E.unsupported("_analyze with filters but no tokenizer (normalizer mode)")
        analyzer_spec = {"tokenizer": body["tokenizer"], "char_filter": body.get("char_filter"), "filter": body.get("filter")}
        analyzer = scope.custom("__custom__", analyzer_spec, inline=True)
    elif body.get("field") is not None and index is not None and field_params is not None:
        params = field_params(str(body["field"]))
        if params is None:
            analyzer = scope.analyzer("standard")
        else:
            if params.get("search_analyzer") not in (None, params.get("analyzer")):
                raise E.unsupported("_analyze on a field whose search_analyzer differs from its analyzer")
            analyzer = scope.index_analyzer(params)
    else:
        analyzer = scope.analyzer("standard")
    tokens = analyzer.tokens(str(texts[0]))
    out = []
    pos = -1
    for t in tokens:
        pos += t.pos_inc
        item: dict[str, Any] = {"token": t.term, "start_offset": t.start, "end_offset": t.end, "type": t.type,
                                "position": pos}
        if t.pos_len != 1:
            item["positionLength"] = t.pos_len
        out.append(item)
    return {"tokens": out}
