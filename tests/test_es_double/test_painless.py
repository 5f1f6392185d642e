"""The double's Painless subset against Elasticsearch 9 behaviour.

Each test names the Elastic page or the elastic/elasticsearch source / YAML REST test it mirrors.
Expected values are computed by hand (or quoted from those tests), never by the code under test.
"""

from __future__ import annotations

import builtins
import math

import numpy as np
import pytest

from tests.es_double.painless import (
    BatchContext,
    ScriptContext,
    ScriptError,
    UnsupportedScript,
    compile_script,
)

YAML = "modules/lang-painless/src/yamlRestTest/resources/rest-api-spec/test/painless/"


def run(source: str, params: dict | None = None, score: float = 1.0, docs: dict | None = None,
        types: dict | None = None, dims: dict | None = None) -> float:
    """Execute `source` for one document whose doc values are `docs` and mapping types `types`."""
    docs, types = docs or {}, types or {}
    ctx = ScriptContext(
        params=params or {},
        score=score,
        doc_values=lambda f: docs.get(f, []),
        field_type=lambda f: types.get(f),
        vector_dims=(lambda f: dims.get(f)) if dims else None,
    )
    return compile_script(source).execute(ctx)


def error(source: str, **kwargs: object) -> ScriptError:
    with pytest.raises(ScriptError) as info:
        run(source, **kwargs)  # type: ignore[arg-type]
    return info.value


VEC = {"v": "dense_vector"}


# ----------------------------------------------------------------------------- vector functions


def test_dot_product_hand_computed() -> None:
    """script_score docs, "Dot product": [1,2]·[3,4] = 3 + 8 = 11."""
    assert run("dotProduct(params.query_vector, 'v')", {"query_vector": [1, 2]}, docs={"v": [3.0, 4.0]}, types=VEC) == 11.0


def test_max_inner_product_transform_matches_knn_score() -> None:
    """DESIGN "exact mode": dot<0 ? 1/(1-dot) : dot+1 (the kNN max_inner_product _score).

    dot = 11 gives 12; dot = [1,2]·[-3,1] = -1 gives 1/(1+1) = 0.5.
    """
    src = "double d = dotProduct(params.query_vector, 'v'); return d < 0 ? 1 / (1 - d) : d + 1;"
    assert run(src, {"query_vector": [1, 2]}, docs={"v": [3.0, 4.0]}, types=VEC) == 12.0
    assert run(src, {"query_vector": [1, 2]}, docs={"v": [-3.0, 1.0]}, types=VEC) == 0.5


def test_dense_vector_basic_yaml_scores() -> None:
    """140_dense_vector_basic.yml: dotProduct scores in [65425.62, 65425.63], [37111.98, 37111.99],
    [35853.78, 35853.79] and cosine order 3, 2, 1 with doc 1 in [0.78, 0.791]."""
    docs = {
        "1": [230.0, 300.33, -34.8988, 15.555, -200.0],
        "2": [-0.5, 100.0, -13, 14.8, -156.0],
        "3": [0.5, 111.3, -13.0, 14.8, -156.0],
    }
    qv = {"query_vector": [0.5, 111.3, -13.0, 14.8, -156.0]}
    dot = {k: run("dotProduct(params.query_vector, 'vector')", qv, docs={"vector": v}, types={"vector": "dense_vector"})
           for k, v in docs.items()}
    assert 65425.62 <= dot["1"] <= 65425.63
    assert 37111.98 <= dot["3"] <= 37111.99
    assert 35853.78 <= dot["2"] <= 35853.79
    cos = {k: run("cosineSimilarity(params.query_vector, 'vector')", qv, docs={"vector": v},
                  types={"vector": "dense_vector"}) for k, v in docs.items()}
    assert 0.999 <= cos["3"] <= 1.001 and 0.998 <= cos["2"] <= 1.0 and 0.78 <= cos["1"] <= 0.791
    assert cos["3"] > cos["2"] > cos["1"]


def test_cosine_l1_l2_hand_computed() -> None:
    """script_score docs, vector functions: cos([1,0],[1,1]) = 1/sqrt(2); l1([1,2],[3,5]) = 2+3 = 5;
    l2 = sqrt(4+9) (KnnDenseVector: float32 vectors, sums returned as double)."""
    p = {"q": [1, 0]}
    assert run("cosineSimilarity(params.q, 'v')", p, docs={"v": [1.0, 1.0]}, types=VEC) == pytest.approx(
        1 / math.sqrt(2), rel=1e-6)
    p = {"q": [1, 2]}
    assert run("l1norm(params.q, 'v')", p, docs={"v": [3.0, 5.0]}, types=VEC) == 5.0
    assert run("l2norm(params.q, 'v')", p, docs={"v": [3.0, 5.0]}, types=VEC) == pytest.approx(math.sqrt(13), rel=1e-7)
    assert run("1 / (1 + l2norm(params.q, 'v'))", p, docs={"v": [1.0, 2.0]}, types=VEC) == 1.0


def test_cosine_with_zero_query_vector_is_nan() -> None:
    """elastic/elasticsearch#82241 (maintainer comment): cosineSimilarity with a zero-magnitude
    vector yields NaN, which script_score then rejects as an invalid score."""
    assert math.isnan(run("cosineSimilarity(params.q, 'v')", {"q": [0, 0]}, docs={"v": [1.0, 2.0]}, types=VEC))


def test_missing_vector_error_and_size_guard() -> None:
    """160_dense_vector_special_cases.yml "Documents missing a vector field": script_exception,
    message from VectorScoreScriptUtils; `doc['v'].size() == 0 ? 0 : ...` scores 0."""
    err = error("cosineSimilarity(params.q, 'v')", params={"q": [10.0, 10.0, 10.0]}, types=VEC)
    assert str(err) == "A document doesn't have a value for a vector field!"
    assert err.to_es()["type"] == "script_exception" and err.to_es()["reason"] == "runtime error"
    guarded = "doc['v'].size() == 0 ? 0 : cosineSimilarity(params.q, 'v')"
    assert run(guarded, {"q": [10.0, 10.0, 10.0]}, types=VEC) == 0.0


def test_dimension_mismatch_message() -> None:
    """160_dense_vector_special_cases.yml + DenseVector.checkDimensions message text."""
    err = error("dotProduct(params.q, 'v')", params={"q": [1, 2, 3, 4]}, docs={"v": [1.0, 2.0, 3.0]}, types=VEC)
    assert str(err) == "The query vector has a different number of dimensions [4] than the document vectors [3]."
    assert err.error_type == "illegal_argument_exception"


def test_dimension_check_uses_mapped_dims_before_missing_value() -> None:
    """VectorScoreScriptUtils: the dims check runs in the function's constructor, before the
    per-document missing-value check."""
    err = error("dotProduct(params.q, 'v')", params={"q": [1, 2]}, types=VEC, dims={"v": 3})
    assert str(err) == "The query vector has a different number of dimensions [2] than the document vectors [3]."


def test_doc_field_as_second_argument_is_a_class_cast() -> None:
    """Painless score whitelist: `dotProduct(List, String)` — `doc['v']` is not a field name."""
    err = error("dotProduct(params.q, doc['v'])", params={"q": [1, 2]}, docs={"v": [1.0, 2.0]}, types=VEC)
    assert err.error_type == "class_cast_exception"


def test_vector_value_and_magnitude() -> None:
    """170_dense_vector_script_access.yml / DenseVectorScriptDocValues: vectorValue is float[],
    magnitude a float: |[3,4]| = 5."""
    assert run("doc['v'].magnitude", docs={"v": [3.0, 4.0]}, types=VEC) == 5.0
    assert run("float[] v = doc['v'].vectorValue; return v[1] * 10 + v.length;", docs={"v": [3.0, 4.0]}, types=VEC) == 42.0


def test_vector_value_through_value_is_refused_like_es() -> None:
    """DenseVectorScriptDocValues.get: UnsupportedOperationException text."""
    err = error("doc['v'].value", docs={"v": [3.0, 4.0]}, types=VEC)
    assert err.error_type == "unsupported_operation_exception"
    assert str(err) == ("accessing a vector field's value through 'get' or 'value' is not supported, use 'vectorValue' "
                        "or 'magnitude' instead.")


# ----------------------------------------------------------------------------- Java arithmetic


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("7 / 2", 3.0),  # int division truncates
        ("-7 / 2", -3.0),  # towards zero, not floor
        ("-7 % 3", -1.0),  # sign of the dividend
        ("7.0 / 2", 3.5),
        ("7 / 2.0", 3.5),
        ("2147483647 + 1", -2147483648.0),  # int overflow wraps
        ("2147483647L + 1", 2147483648.0),
        ("1 / 0.0", math.inf),
        ("0x10 + 010", 24.0),  # hex 16 + octal 8
        ("(int) 3.99 + (int) -3.99", 0.0),
        ("(long) 1e30", 9.223372036854776e18),
        ("1.0f / 3", float(np.float32(1) / np.float32(3))),
    ],
)
def test_java_numeric_semantics(source: str, expected: float) -> None:
    """Painless language spec, "Operators: numeric" (Java binary numeric promotion and int math)."""
    assert run(source) == expected


def test_integer_division_by_zero_is_arithmetic_exception() -> None:
    """Java semantics kept by Painless; docs "Debug script score calculation errors": x/0 throws."""
    err = error("1 / 0")
    assert (err.error_type, str(err), err.phase) == ("arithmetic_exception", "/ by zero", "runtime")


def test_float_arithmetic_is_float32() -> None:
    """Painless spec: float operands stay float: 0.1f + 0.2f is the float 0.3 (0.30000001192...)."""
    assert run("0.1f + 0.2f") == float(np.float32(0.1) + np.float32(0.2))
    assert run("0.1 + 0.2") == 0.30000000000000004


def test_string_concatenation_uses_java_formatting() -> None:
    """Painless spec, string concatenation: Double.toString gives "1.0" and "1.0E7"."""
    assert run("'a' + 1.0 == 'a1.0' && 'x' + 1e7 == 'x1.0E7' ? 1 : 0") == 1.0


def test_math_functions() -> None:
    """Painless java.lang.Math whitelist (every method takes double): abs returns a double,
    round(-2.5) = -2, log(0) = -Infinity, sqrt(-1) = NaN, pow(2, 10) = 1024."""
    assert run("Math.log(Math.E) + Math.log10(1000)") == 4.0
    assert run("Math.pow(2, 10)") == 1024.0
    assert run("Math.round(2.5) * 10 + Math.round(-2.5)") == 28.0
    assert run("Math.abs(-3) / 2") == 1.5
    assert run("Math.max(1, 2.5) + Math.min(-1, 3)") == 1.5
    assert run("Math.floor(-1.5) + Math.ceil(1.2) + Math.signum(-4)") == -1.0  # -2 + 2 - 1
    assert run("Math.log(0)") == -math.inf
    assert math.isnan(run("Math.sqrt(-1)"))
    assert run("Double.isNaN(Math.sqrt(-1)) ? Math.PI : 0") == math.pi


def test_saturation_and_sigmoid() -> None:
    """script_score predefined functions: saturation(v,k) = v/(k+v); sigmoid(v,k,a) = v^a/(k^a+v^a)."""
    assert run("saturation(params.v, 100)", {"v": 10}) == 10 / 110
    assert run("sigmoid(params.v, 100, 2)", {"v": 10}) == 100 / (10000 + 100)


# ----------------------------------------------------------------------------- doc values and params


def test_doc_value_missing_matches_es_docs_sample() -> None:
    """docs-content "Debug field not found errors in Painless": the sample error, verbatim —
    illegal_state_exception, offset 19, start 0, end 62, the statement and its pointer line."""
    src = "doc['author_score'].value > 50 ? doc['author_score'].value : 1"
    with pytest.raises(ScriptError) as info:
        compile_script(src).execute(ScriptContext({}, 1.0, lambda f: [], lambda f: "long"))
    es = info.value.to_es()
    assert es["caused_by"] == {
        "type": "illegal_state_exception",
        "reason": "A document doesn't have a value for a field! Use doc[<field>].size()==0 to check if a document is "
                  "missing a field!",
    }
    assert es["position"] == {"offset": 19, "start": 0, "end": 62}
    assert es["script_stack"] == [src, " " * 19 + "^---- HERE"]
    assert (es["type"], es["reason"], es["lang"], es["script"]) == ("script_exception", "runtime error", "painless", src)


def test_unmapped_field() -> None:
    """LeafDocLookup: "No field found for [x] in mapping" (illegal_argument_exception)."""
    err = error("doc['nope'].size()")
    assert (str(err), err.error_type) == ("No field found for [nope] in mapping", "illegal_argument_exception")
    assert run("doc.containsKey('nope') ? 1 : 2") == 2.0


def test_doc_values_reading() -> None:
    """ScriptDocValues: Longs for integer types, Doubles (widened float32) for float fields,
    size(), empty, isEmpty(), first value of a sorted multi-value."""
    types = {"n": "integer", "r": "float", "g": "keyword"}
    docs = {"n": [3, 9], "r": [0.1], "g": []}
    assert run("doc['n'].value + doc['n'].size() * 100", docs=docs, types=types) == 203.0
    assert run("doc['r'].value", docs=docs, types=types) == float(np.float32(0.1))
    assert run("doc['g'].empty && doc['g'].isEmpty() && !doc['n'].empty ? 1 : 0", docs=docs, types=types) == 1.0
    assert run("doc.n.get(1)", docs=docs, types=types) == 9.0
    assert run("doc['g'].size() == 0 ? params.d : doc['n'].value", {"d": 7}, docs=docs, types=types) == 7.0


def test_params_access() -> None:
    """Painless: params is a Map — `params.x`, `params['x']`, lists with size()/get()/[i]/negative index."""
    p = {"w": 2, "qv": [1.5, 2.5, 4.0], "name": "x"}
    assert run("params.w * params['qv'][1] + params.qv.size() + params.qv.get(0) + params.qv[-1]", p) == 13.5
    assert run("params.name == 'x' && params.get('absent') == null ? _score : 0", p, score=0.25) == 0.25


def test_statements_locals_if_and_implicit_return() -> None:
    """Painless spec, statements: declarations, if/else, return; the last expression is returned."""
    src = """
        double base = _score * params.boost;   // comment
        def bonus = doc['r'].size() == 0 ? 0 : doc['r'].value;
        /* block comment */
        if (bonus > 4) { return base + bonus; } else { base += 1; }
        base
    """
    assert run(src, {"boost": 2}, score=1.5, docs={"r": [4.5]}, types={"r": "float"}) == 7.5
    assert run(src, {"boost": 2}, score=1.5, docs={"r": [3.0]}, types={"r": "float"}) == 4.0


def test_script_without_return_scores_zero() -> None:
    """Painless auto-return: the execute method returns its default value when no return runs."""
    assert run("if (_score > 10) { return 1; }", score=1.0) == 0.0


def test_compile_errors() -> None:
    """Painless casting rules ("Cannot cast from [double] to [int].") and syntax errors are
    compile errors (script_exception "compile error")."""
    err = error("int x = 1.5; return x;")
    assert (str(err), err.phase) == ("Cannot cast from [double] to [int].", "compile")
    assert error("return true;").message == "Cannot cast from [boolean] to [double]."
    for bad in ("(1 + 2", "1 +", "x + 1", "params.", "doc['a'].value ?", "}"):
        assert error(bad).phase == "compile"


def test_script_error_as_es_error() -> None:
    """The error travels to the HTTP layer as a 400 script_exception caused by the Java exception."""
    es_error = error("1 / 0").to_es_error()
    assert (es_error.status, es_error.type, es_error.reason) == (400, "script_exception", "runtime error")
    assert es_error.caused_by is not None and es_error.caused_by.to_dict() == {"type": "arithmetic_exception",
                                                                               "reason": "/ by zero"}
    (root,) = es_error.root_causes()  # docs "Debug field not found errors": root_cause is the script_exception
    assert root["type"] == "script_exception" and root["script"] == "1 / 0" and "caused_by" not in root
    assert root["position"] == {"offset": 2, "start": 0, "end": 5}


def test_compile_errors_are_es_shaped() -> None:
    """script_exception shape (docs "Debug runtime field exception errors", compile error sample):
    reason "compile error", script_stack, script, lang, position, caused_by."""
    es = error("double x = 1; return y;").to_es()
    assert es["reason"] == "compile error" and es["caused_by"]["type"] == "illegal_argument_exception"
    assert es["script_stack"][1].endswith("^---- HERE") and es["position"]["offset"] == 21


@pytest.mark.parametrize(
    "source",
    [
        "for (int i = 0; i < 2; i++) { }",
        "while (true) { }",
        "Math.random()",
        "new ArrayList()",
        "params.x = 1",
        "1 << 2",
        "params.a ?: 1",
        "randomScore(100)",
        "decayNumericLinear(1, 2, 0, 0.5, 3)",
        "List l = params.x; return 1;",
    ],
)
def test_valid_painless_outside_the_subset_is_refused_loudly(source: str) -> None:
    """The double refuses what it does not implement, naming it."""
    with pytest.raises(UnsupportedScript) as info:
        compile_script(source)
    assert str(info.value).startswith("unsupported by the test double: ")


def test_other_languages() -> None:
    """ScriptService: unknown lang -> "script_lang not supported [x]"; `expression` exists in ES."""
    with pytest.raises(UnsupportedScript):
        compile_script("doc['a'].value", "expression")
    with pytest.raises(ScriptError, match=r"script_lang not supported \[python\]"):
        compile_script("1", "python")


# ----------------------------------------------------------------------------- hostile input


@pytest.mark.parametrize(
    "source",
    [
        '"; System.exit(0)',
        "System.exit(0)",
        "__import__('os').system('echo pwned')",
        "'\\n'",
        "'unterminated \\",
        "exec('1')",
        "eval",
        "1 +* 2",
        "é + 1",
        "doc['a'].value; }; import os",
    ],
)
def test_hostile_scripts_are_clear_errors(source: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Script text is parsed, never evaluated by Python: eval/exec/compile are never reached and
    the failure is a ScriptError."""

    def forbidden(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("Python code execution attempted")

    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    with pytest.raises(ScriptError):
        run(source)


def test_quotes_backslashes_and_unicode_in_values() -> None:
    """Painless strings: only \\\\ and the quote may be escaped; params carry any text."""
    p = {"s": "a\"b\\c'é😀"}
    assert run("params.s == 'a\"b\\\\c\\'é😀' ? 1 : 0", p) == 1.0
    assert run("params.s.length()", p) == 9.0  # UTF-16 code units: the emoji counts twice


def test_pathological_nesting_and_size() -> None:
    """ScriptService: inline scripts over script.max_size_in_bytes (65535) are rejected with ES'
    message; deep nesting is a ScriptError, not a Python RecursionError."""
    with pytest.raises(ScriptError, match="nested too deeply"):
        compile_script("(" * 5000 + "1" + ")" * 5000)
    big = "1" + " " * 70000
    with pytest.raises(ScriptError) as info:
        compile_script(big)
    assert str(info.value).startswith("exceeded max allowed inline script size in bytes [65535] with size [70001]")


# ----------------------------------------------------------------------------- cache and batch


def test_compiled_scripts_are_cached_by_source() -> None:
    """ES compiles a script once and reuses it (script cache); params do not change the source."""
    assert compile_script("_score * 2") is compile_script("_score * 2")


def _batch(params: dict, scores: list[float], columns: dict, types: dict) -> BatchContext:
    return BatchContext(params, np.asarray(scores), lambda f: columns.get(f, [[]] * len(scores)), lambda f: types.get(f))


def test_long_to_float_is_one_rounding_and_def_conditionals_keep_their_type() -> None:
    """Java values, per document and in batch.

    JLS 5.1.2: long -> float rounds once to nearest (2^60 + 2^36 + 1 -> 2^60 + 2^37; through a
    double it would land on the tie 2^60 + 2^36 and round to even, 2^60). Painless
    `AnalyzerCaster.promoteConditional`: a conditional with a def operand is def, so
    `(c ? 1 : params.w) / 2` divides the int 1 by 2.
    """
    params = {"big": 2**60 + 2**36 + 1, "w": 0.5, "i": 3}
    cases = {
        "(float) params.big": float(2**60 + 2**37),
        "float f = params.big; return f;": float(2**60 + 2**37),
        "params.big == 1152921642045800448.0f ? 1 : 0": 1.0,
        "(_score > 1 ? 1 : params.w) / 2": 0.0,
        "(_score > 1 ? params.i : params.w) / 2": 1.0,
        "(_score > 1 ? 1 : 2.5) / 2": 0.5,
    }
    ctx = _batch(params, [2.0, 2.0], {}, {})
    for src, want in cases.items():
        script = compile_script(src)
        assert script.execute(ScriptContext(params, 2.0, lambda f: [], lambda f: None)) == want, src
        assert script.execute_batch(ctx).tolist() == [want, want], src


def test_batch_equals_per_document_execution() -> None:
    """execute_batch gives exactly the per-document results (the vectorised path)."""
    rng = np.random.default_rng(7)
    n, d = 300, 16
    vectors = [list(map(float, rng.normal(size=d).astype(np.float32))) for _ in range(n)]
    vectors[5] = []
    ratings = [[float(x)] for x in rng.uniform(0.5, 5, size=n)]
    ratings[9] = []
    columns = {"factors": vectors, "bayes_rating": ratings}
    types = {"factors": "dense_vector", "bayes_rating": "float"}
    params = {"query_vector": list(map(float, rng.normal(size=d))), "w": 0.5, "zero": 0, "i": 3, "big": 2**60 + 2**36 + 1}
    scores = list(rng.uniform(0, 2, size=n))
    sources = [
        "doc['factors'].size() == 0 ? 0 : dotProduct(params.query_vector, 'factors')",
        (
            "double d = doc['factors'].size() == 0 ? 0 : dotProduct(params.query_vector, 'factors'); "
            "return d < 0 ? 1 / (1 - d) : d + 1;"
        ),
        "doc['factors'].empty ? 0 : cosineSimilarity(params.query_vector, 'factors') + 1.0",
        "doc['factors'].size() == 0 ? 1 : 1 / (1 + l2norm(params.query_vector, 'factors'))",
        "doc['bayes_rating'].size() == 0 ? _score : _score * Math.log10(1 + doc['bayes_rating'].value * params.w)",
        "(int) (_score * 10) / 3 + Math.max(_score, params.w)",
        "(int) (_score * 10 - 10) % 3 + (params.zero == 0 ? 0 : 7 / params.zero)",
        # Every Math function, saturation and sigmoid over real-valued inputs: numpy's vectorised
        # log/exp/pow differ from libm in the last ulp on some inputs, so the batch path must not use them.
        "Math.log(1 + _score) + Math.log1p(_score) + Math.exp(_score) + Math.expm1(_score) + Math.sqrt(_score)",
        "Math.pow(_score, 1.7) + Math.pow(params.w, _score) + Math.cbrt(_score - 1) + Math.hypot(_score, params.w)",
        "Math.sin(_score) + Math.cos(_score) + Math.tan(_score) + Math.asin(_score - 1) + Math.acos(_score / 2)",
        "Math.atan(_score) + Math.atan2(_score, params.w) + Math.sinh(_score) + Math.cosh(_score) + Math.tanh(_score)",
        "Math.log10(_score) + Math.toDegrees(_score) + Math.toRadians(_score) + Math.IEEEremainder(_score * 7, 3)",
        "Math.floor(_score * 3) + Math.ceil(_score * 3) + Math.rint(_score * 3) + Math.signum(_score - 1) + Math.abs(_score - 1)",
        "Math.min(_score, 1) + Math.max(_score, 1) + Math.ulp(_score) + Math.nextUp(_score) + Math.copySign(_score, -1)",
        "saturation(_score, 0.7) + sigmoid(_score, 0.7, 1.3)",
        # long -> float is one rounding on both paths (JLS 5.1.2), in casts, arithmetic and comparisons.
        "(float) params.big + (params.big + 0.5f) + (params.big == 1152921642045800448.0f ? 1 : 0) + _score",
        # A conditional with a def branch keeps the chosen value's own type (Painless promoteConditional):
        # int 1 / 2 is 0, not 0.5; both branches typed promote to double.
        "(_score > 1 ? params.i : params.w) / 2 + (_score > 1 ? 1 : params.w) / 2 + (_score > 1 ? 1 : 2.5) / 2",
    ]
    ctx = _batch(params, scores, columns, types)
    for src in sources:
        script = compile_script(src)
        batch = script.execute_batch(ctx)
        single = [
            script.execute(ScriptContext(params, scores[i], lambda f, i=i: columns[f][i], lambda f: types.get(f)))
            for i in range(n)
        ]
        assert batch.tolist() == single, src


def test_batch_vectorises_the_exact_knn_script(monkeypatch: pytest.MonkeyPatch) -> None:
    """The project's exact-mode script (DESIGN: dotProduct through the max_inner_product transform)
    runs on the numpy path, without per-document execution, and gives the hand-computed scores."""
    script = compile_script("double d = dotProduct(params.query_vector, 'factors'); return d < 0 ? 1 / (1 - d) : d + 1;")

    def per_document(*_args: object) -> float:
        raise AssertionError("fell back to per-document execution")

    monkeypatch.setattr(type(script), "execute", per_document)
    ctx = _batch({"query_vector": [1, 2]}, [1.0, 1.0], {"factors": [[3.0, 4.0], [-3.0, 1.0]]}, {"factors": "dense_vector"})
    assert script.execute_batch(ctx).tolist() == [12.0, 0.5]


def test_batch_raises_the_same_error_as_per_document() -> None:
    """A document without the vector fails the batch exactly as it fails alone."""
    columns = {"v": [[1.0, 2.0], [], [3.0, 4.0]]}
    ctx = _batch({"q": [1, 1]}, [1.0, 1.0, 1.0], columns, VEC)
    with pytest.raises(ScriptError, match="A document doesn't have a value for a vector field!"):
        compile_script("dotProduct(params.q, 'v')").execute_batch(ctx)


def test_batch_falls_back_for_scripts_outside_the_vectorised_subset() -> None:
    """if/else is not vectorised; the fallback still scores every document."""
    src = "if (doc['n'].value > 1) { return 10; } return doc['n'].value;"
    ctx = _batch({}, [1.0, 1.0], {"n": [[1], [5]]}, {"n": "long"})
    assert compile_script(src).execute_batch(ctx).tolist() == [1.0, 10.0]
