"""Text analysis: `_analyze`, custom analyzers in index settings, their use at index and search time.

Most cases are Elastic's own YAML REST tests of the analysis-common module
(modules/analysis-common/src/yamlRestTest/resources/rest-api-spec/test/analysis-common/,
files 40_token_filters.yml and 50_char_filters.yml) or examples from the reference pages
under https://www.elastic.co/docs/reference/text-analysis/.
"""

from __future__ import annotations

from typing import Any

import pytest
from elasticsearch import Elasticsearch

from tests.test_es_double.helpers import create, expect_error, ids, index_docs, reasons, types

pytestmark = pytest.mark.es


def analyze(es: Elasticsearch, **body: Any) -> list[dict[str, Any]]:
    return es.indices.analyze(**body)["tokens"]


def terms(tokens: list[dict[str, Any]]) -> list[str]:
    return [t["token"] for t in tokens]


def graph(tokens: list[dict[str, Any]]) -> list[tuple[str, int, int]]:
    """(token, position, positionLength) — positionLength is only reported when it is not 1."""
    return [(t["token"], t["position"], t.get("positionLength", 1)) for t in tokens]


# ---------------------------------------------------------------------- word_delimiter_graph
def test_word_delimiter_graph_defaults(es: Elasticsearch) -> None:
    """40_token_filters.yml "word_delimiter_graph": split at letter-number transitions, offsets adjusted."""
    tokens = analyze(es, text="the qu1ck brown fox", tokenizer="standard", filter=["word_delimiter_graph"])
    assert [(t["token"], t["start_offset"], t["end_offset"], t["position"]) for t in tokens] == [
        ("the", 0, 3, 0), ("qu", 4, 6, 1), ("1", 6, 7, 2), ("ck", 7, 9, 3), ("brown", 10, 15, 4), ("fox", 16, 19, 5),
    ]


def test_word_delimiter_graph_options(es: Elasticsearch) -> None:
    """40_token_filters.yml "word_delimiter_graph": `split_on_numerics: false` keeps qu1ck;
    `adjust_offsets: false` gives every part the original token's offsets."""
    kept = analyze(es, text="the qu1ck brown fox", tokenizer="standard",
                   filter=[{"type": "word_delimiter_graph", "split_on_numerics": False}])
    assert terms(kept) == ["the", "qu1ck", "brown", "fox"]
    unadjusted = analyze(es, text="the qu1ck brown fox", tokenizer="standard",
                         filter=[{"type": "word_delimiter_graph", "adjust_offsets": False}])
    assert [(t["token"], t["start_offset"], t["end_offset"]) for t in unadjusted[1:4]] == [
        ("qu", 4, 9), ("1", 4, 9), ("ck", 4, 9)]


def test_word_delimiter_graph_reference_example(es: Elasticsearch) -> None:
    """analysis-word-delimiter-graph-tokenfilter.md, "Example": the default rules, possessive removed."""
    tokens = analyze(es, text="Neil's-Super-Duper-XL500--42+AutoCoder", tokenizer="keyword", filter=["word_delimiter_graph"])
    assert terms(tokens) == ["Neil", "Super", "Duper", "XL", "500", "42", "Auto", "Coder"]


def test_word_delimiter_graph_catenations_span_their_parts(es: Elasticsearch) -> None:
    """analysis-word-delimiter-graph-tokenfilter.md: `catenate_all` "super-duper-xl-500" -> [superduperxl500,
    super, duper, xl, 500], `catenate_words` "super-duper-xl" -> [superduperxl, super, duper, xl]; the
    PowerShot2000 token graph shows the catenated PowerShot spanning two positions (positionLength 2)."""
    everything = analyze(es, text="super-duper-xl-500", tokenizer="keyword",
                         filter=[{"type": "word_delimiter_graph", "catenate_all": True}])
    assert graph(everything) == [("superduperxl500", 0, 4), ("super", 0, 1), ("duper", 1, 1), ("xl", 2, 1), ("500", 3, 1)]
    words = analyze(es, text="super-duper-xl", tokenizer="keyword",
                    filter=[{"type": "word_delimiter_graph", "catenate_words": True}])
    assert terms(words) == ["superduperxl", "super", "duper", "xl"]
    shot = analyze(es, text="PowerShot2000", tokenizer="keyword",
                   filter=[{"type": "word_delimiter_graph", "catenate_words": True}])
    assert graph(shot) == [("PowerShot", 0, 2), ("Power", 0, 1), ("Shot", 1, 1), ("2000", 2, 1)]


def test_flatten_graph_keeps_word_delimiter_positions(es: Elasticsearch) -> None:
    """analysis-flatten-graph-tokenfilter.md: flattening makes a graph indexable; a word_delimiter_graph
    catenation shares its parts' nodes, so every position stays where it was (Lucene FlattenGraphFilter)."""
    chain = [{"type": "word_delimiter_graph", "catenate_words": True}]
    plain = analyze(es, text="wi-fi ready", tokenizer="whitespace", filter=chain)
    flat = analyze(es, text="wi-fi ready", tokenizer="whitespace", filter=[*chain, "flatten_graph"])
    assert [(t, p) for t, p, _ in graph(flat)] == [(t, p) for t, p, _ in graph(plain)]
    assert [(t, p) for t, p, _ in graph(flat)] == [("wifi", 0), ("wi", 0), ("fi", 1), ("ready", 2)]


# ---------------------------------------------------------------------- synonym, stop
def test_synonym_equivalents_share_a_position(es: Elasticsearch, index_prefix: str) -> None:
    """40_token_filters.yml "synonym": "car,auto" puts auto at car's position, after it."""
    name = f"{index_prefix}-syn"
    es.indices.create(index=name, settings={"analysis": {"filter": {"my_synonym": {"type": "synonym", "synonyms": ["car,auto"]}}}})
    tokens = analyze(es, index=name, text="what car magazine", tokenizer="whitespace", filter=["my_synonym"])
    assert [(t["token"], t["position"]) for t in tokens] == [("what", 0), ("car", 1), ("auto", 1), ("magazine", 2)]


def test_synonym_without_index(es: Elasticsearch) -> None:
    """40_token_filters.yml "synonym_without_index": an inline filter definition in `_analyze`."""
    tokens = analyze(es, text="wibble", tokenizer="standard", filter=[{"type": "synonym", "synonyms": ["wibble, quack"]}])
    assert [(t["token"], t["position"]) for t in tokens] == [("wibble", 0), ("quack", 0)]


def test_explicit_synonyms_replace_the_input(es: Elasticsearch) -> None:
    """analysis-synonym-tokenfilter.md, Solr format: explicit rules (`foo, bar => baz`) map the left-hand
    words to the right-hand ones; the input token is not kept."""
    tokens = analyze(es, text="foo bar qux", tokenizer="whitespace", filter=[{"type": "synonym", "synonyms": ["foo, bar => baz"]}])
    assert [(t["token"], t["position"]) for t in tokens] == [("baz", 0), ("baz", 1), ("qux", 2)]


def test_stop_before_synonym_fails_unless_lenient(es: Elasticsearch, index_prefix: str) -> None:
    """analysis-synonym-tokenfilter.md, "Stop token filter before synonym token filter": with `lenient: false`
    a rule word the stop filter removes is an error; with `lenient: true` `foo => baz` is kept."""

    def settings(lenient: bool) -> dict[str, Any]:
        return {"analysis": {
            "filter": {"stop_bar": {"type": "stop", "stopwords": ["bar"]},
                       "syn": {"type": "synonym", "synonyms": ["foo, bar => baz"], "lenient": lenient}},
            "analyzer": {"a": {"tokenizer": "whitespace", "filter": ["stop_bar", "syn"]}},
        }}

    expect_error(lambda: es.indices.create(index=f"{index_prefix}-strict", settings=settings(False)), 400)
    es.indices.create(index=f"{index_prefix}-lenient", settings=settings(True))
    assert terms(analyze(es, index=f"{index_prefix}-lenient", analyzer="a", text="foo bar")) == ["baz"]


def test_synonym_after_word_delimiter_is_refused(es: Elasticsearch, index_prefix: str) -> None:
    """analysis-synonym-tokenfilter.md, "Token filters ordering": filters such as word_delimiter_graph before a
    synonym filter throw an error (SynonymsAnalysisTests#testDisallowedTokenFilters: "Token filter [x] cannot
    be used to parse synonyms")."""
    body = {"analysis": {
        "filter": {"parts": {"type": "word_delimiter_graph"}, "syn": {"type": "synonym", "synonyms": ["a, b"]}},
        "analyzer": {"a": {"tokenizer": "whitespace", "filter": ["parts", "syn"]}},
    }}
    exc = expect_error(lambda: es.indices.create(index=f"{index_prefix}-bad", settings=body), 400)
    assert "Token filter [parts] cannot be used to parse synonyms" in reasons(exc)


def test_stop_filter_reference_example(es: Elasticsearch) -> None:
    """analysis-stop-tokenfilter.md, "Example": the default English list removes `a` and `the`; the positions
    of the removed words stay empty (Lucene StopFilter adds their increments to the next token)."""
    tokens = analyze(es, text="a quick fox jumps over the lazy dog", tokenizer="standard", filter=["stop"])
    assert [(t["token"], t["position"]) for t in tokens] == [
        ("quick", 1), ("fox", 2), ("jumps", 3), ("over", 4), ("lazy", 6), ("dog", 7)]


# ---------------------------------------------------------------------- simple filters, char filters
def test_fingerprint(es: Elasticsearch, index_prefix: str) -> None:
    """40_token_filters.yml "fingerprint": sorted, deduplicated, joined by the separator (a space by default)."""
    name = f"{index_prefix}-fp"
    es.indices.create(index=name, settings={"analysis": {"filter": {"my_fingerprint": {"type": "fingerprint", "separator": "_"}}}})
    assert terms(analyze(es, index=name, text="A1 B2 A1 D4 C3", tokenizer="whitespace", filter=["my_fingerprint"])) == ["A1_B2_C3_D4"]
    assert terms(analyze(es, text="A1 B2 A1 D4 C3", tokenizer="whitespace", filter=["fingerprint"])) == ["A1 B2 C3 D4"]


def test_lowercase_trim_asciifolding(es: Elasticsearch) -> None:
    """40_token_filters.yml "lowercase", "trim", "asciifolding" (with and without preserve_original)."""
    assert terms(analyze(es, text="Foo Bar!", tokenizer="keyword", filter=["lowercase"])) == ["foo bar!"]
    assert terms(analyze(es, text="Foo Bar !", tokenizer="keyword", filter=["trim"])) == ["Foo Bar !"]
    assert terms(analyze(es, text="Musée d'Orsay", tokenizer="keyword", filter=["asciifolding"])) == ["Musee d'Orsay"]
    both = analyze(es, text="Musée d'Orsay", tokenizer="keyword",
                   filter=[{"type": "asciifolding", "preserve_original": True}])
    assert terms(both) == ["Musee d'Orsay", "Musée d'Orsay"]


def test_pattern_replace_and_mapping_char_filters(es: Elasticsearch) -> None:
    """50_char_filters.yml "pattern_replace" (Java `$1` groups) and "mapping" (offsets map to the original)."""
    replaced = analyze(es, text="sample6 sample1", tokenizer="keyword",
                       char_filter=[{"type": "pattern_replace", "pattern": "sample(.*)", "replacement": "replacedSample $1"}])
    assert terms(replaced) == ["replacedSample 6 sample1"]
    mapped = analyze(es, text="jeff quit phish", tokenizer="keyword",
                     char_filter=[{"type": "mapping", "mappings": ["ph => f", "qu => q"]}])
    assert [(t["token"], t["start_offset"], t["end_offset"], t["position"]) for t in mapped] == [("jeff qit fish", 0, 15, 0)]


def test_whitespace_tokenizer_keeps_punctuation(es: Elasticsearch) -> None:
    """analysis-whitespace-tokenizer.md: splits only at whitespace."""
    tokens = analyze(es, tokenizer="whitespace", text="The 2 QUICK Brown-Foxes jumped over the lazy dog's bone.")
    assert terms(tokens) == ["The", "2", "QUICK", "Brown-Foxes", "jumped", "over", "the", "lazy", "dog's", "bone."]


# ---------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"tokenizer": "nope", "text": "x"}, "failed to find global tokenizer under [nope]"),
        ({"tokenizer": "standard", "filter": ["nope"], "text": "x"}, "failed to find global filter under [nope]"),
        ({"tokenizer": "standard", "char_filter": ["nope"], "text": "x"}, "failed to find global char_filter under [nope]"),
    ],
)
def test_analyze_unknown_components(es: Elasticsearch, body: dict[str, Any], reason: str) -> None:
    """TransportAnalyzeActionTests#testUnknown: components that do not exist, without an index."""
    exc = expect_error(lambda: es.indices.analyze(**body), 400)
    assert types(exc)[0] == "illegal_argument_exception"
    assert reason in reasons(exc)


def test_custom_analyzer_with_an_unknown_filter(es: Elasticsearch, index_prefix: str) -> None:
    """CustomAnalyzerProvider: "Custom Analyzer [a] failed to find filter under name [nope]"."""
    body = {"analysis": {"analyzer": {"a": {"type": "custom", "tokenizer": "standard", "filter": ["nope"]}}}}
    exc = expect_error(lambda: es.indices.create(index=f"{index_prefix}-x", settings=body), 400)
    assert "Custom Analyzer [a] failed to find filter under name [nope]" in reasons(exc)


def test_mapping_names_an_undefined_analyzer(es: Elasticsearch, index_prefix: str) -> None:
    """A text field's `analyzer` must exist in the index (mapper_parsing_exception)."""
    exc = expect_error(lambda: create(es, f"{index_prefix}-x", {"t": {"type": "text", "analyzer": "nope"}}), 400)
    assert types(exc)[0] == "mapper_parsing_exception"
    assert any("analyzer [nope] has not been configured in mappings" in r for r in reasons(exc))


# ---------------------------------------------------------------------- index and search time
WIFI = {
    "analysis": {
        "filter": {
            "joined": {"type": "word_delimiter_graph", "catenate_words": True},
            "parts": {"type": "word_delimiter_graph"},
        },
        "analyzer": {
            "index_wd": {"tokenizer": "whitespace", "filter": ["lowercase", "joined", "flatten_graph"]},
            "search_wd": {"tokenizer": "whitespace", "filter": ["lowercase", "parts"]},
        },
    }
}


@pytest.fixture
def wifi(es: Elasticsearch, index_prefix: str) -> str:
    name = f"{index_prefix}-wifi"
    create(es, name, {"t": {"type": "text", "analyzer": "index_wd", "search_analyzer": "search_wd"}}, settings=WIFI)
    index_docs(es, name, {"1": {"t": "Wi-Fi ready"}, "2": {"t": "wifi only"}, "3": {"t": "ready wi"}})
    return name


@pytest.mark.parametrize(
    ("query", "expected"),
    [("wifi", ["1", "2"]), ("wi-fi", ["1"]), ("wi fi", ["1"]), ("WiFi", ["1", "2"])],
)
def test_catenations_at_index_time_match_every_spelling(es: Elasticsearch, wifi: str, query: str, expected: list[str]) -> None:
    """Lucene's WordDelimiterGraphFilter javadoc: catenate at index time and not at query time, so "wifi",
    "WiFi", "wi-fi" and "wi+fi" all match "wi-fi" (the field's search_analyzer analyses the query)."""
    response = es.search(index=wifi, query={"match": {"t": {"query": query, "operator": "and"}}})
    assert sorted(ids(response)) == expected


def test_match_phrase_follows_positions(es: Elasticsearch, wifi: str) -> None:
    """match_phrase needs the terms at consecutive positions: "wi fi ready" matches doc 1 only
    (https://www.elastic.co/docs/reference/query-languages/query-dsl/query-dsl-match-query-phrase)."""
    assert ids(es.search(index=wifi, query={"match_phrase": {"t": "wi fi ready"}})) == ["1"]
    assert ids(es.search(index=wifi, query={"match_phrase": {"t": "ready wi"}})) == ["3"]
    assert ids(es.search(index=wifi, query={"match_phrase": {"t": "fi wi"}})) == []


def test_analyze_with_an_index_analyzer_and_a_field(es: Elasticsearch, wifi: str) -> None:
    """`_analyze` with an index: its analyzers by name (the index analyzer keeps the catenation)."""
    assert graph(analyze(es, index=wifi, analyzer="index_wd", text="Wi-Fi")) == [("wifi", 0, 2), ("wi", 0, 1), ("fi", 1, 1)]
    assert terms(analyze(es, index=wifi, analyzer="search_wd", text="Wi-Fi")) == ["wi", "fi"]


def test_match_phrase_score_and_stop_word_gaps(es: Elasticsearch, index_prefix: str) -> None:
    """Phrase scoring by hand (Lucene PhraseWeight: BM25 with the terms' idf summed, tf = phrase frequency).
    Docs "quick brown fox", "brown fox", "the quick red fox": the stop filter drops "the" but its position
    stays empty, so lengths are 3, 2, 3 (N=3, avgdl=8/3) and "a quick red fox" (query side "a" dropped the same
    way) still lines up with doc 3, while "quick the brown" leaves a gap doc 1 does not have.
    "brown fox" in doc 2 (dl=2): brown df=2, fox df=3, idf = ln(1+1.5/2.5) + ln(1+0.5/3.5) = 0.603535;
    tf = 1/(1+1.2*(0.25+0.75*2/(8/3))) = 0.506329; score = 2.2*0.603535*0.506329 = 0.672292.
    """
    name = f"{index_prefix}-ph"
    settings = {"analysis": {"analyzer": {"stopped": {"tokenizer": "standard", "filter": ["lowercase", "stop"]}}}}
    create(es, name, {"t": {"type": "text", "analyzer": "stopped"}}, settings=settings)
    index_docs(es, name, {"1": {"t": "quick brown fox"}, "2": {"t": "brown fox"}, "3": {"t": "the quick red fox"}})
    both = es.search(index=name, query={"match_phrase": {"t": "brown fox"}})
    assert sorted(ids(both)) == ["1", "2"]
    assert {h["_id"]: h["_score"] for h in both["hits"]["hits"]}["2"] == pytest.approx(0.672292, rel=1e-5)
    assert ids(es.search(index=name, query={"match_phrase": {"t": "a quick red fox"}})) == ["3"]
    assert ids(es.search(index=name, query={"match_phrase": {"t": "quick the brown"}})) == []


def test_stacked_tokens_do_not_lengthen_the_field(es: Elasticsearch, index_prefix: str) -> None:
    """BM25's norm ignores tokens at the same position (`discount_overlaps` defaults to true,
    https://www.elastic.co/docs/reference/elasticsearch/index-settings/similarity). One doc "car" with the
    synonym "car,auto" holds 2 tokens (sumTotalTermFreq 2, avgdl 2) but its length is 1:
    idf = ln(1 + 0.5/1.5) = 0.287682; tf = 1/(1+1.2*(0.25+0.75*1/2)) = 0.571429; score = 2.2*idf*tf = 0.361658.
    """
    name = f"{index_prefix}-ov"
    settings = {"analysis": {"filter": {"syn": {"type": "synonym", "synonyms": ["car,auto"]}},
                             "analyzer": {"syn": {"tokenizer": "whitespace", "filter": ["syn"]}}}}
    create(es, name, {"t": {"type": "text", "analyzer": "syn", "search_analyzer": "standard"}}, settings=settings)
    index_docs(es, name, {"1": {"t": "car"}})
    response = es.search(index=name, query={"match": {"t": "auto"}})
    assert response["hits"]["hits"][0]["_score"] == pytest.approx(0.361658, rel=1e-5)


def test_default_analyzer_of_the_index_applies_to_text_fields(es: Elasticsearch, index_prefix: str) -> None:
    """An analyzer named `default` in the index settings is the index-time analyzer of text fields without one
    (https://www.elastic.co/docs/manage-data/data-store/text-analysis/specify-an-analyzer)."""
    name = f"{index_prefix}-def"
    settings = {"analysis": {"analyzer": {"default": {"tokenizer": "whitespace"}}}}
    create(es, name, {"t": {"type": "text"}}, settings=settings)
    index_docs(es, name, {"1": {"t": "Brown-Foxes"}})
    assert ids(es.search(index=name, query={"term": {"t": "Brown-Foxes"}})) == ["1"]
    assert ids(es.search(index=name, query={"term": {"t": "brown"}})) == []
