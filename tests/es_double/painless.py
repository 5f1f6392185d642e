"""A subset of Painless for the double's `script_score`, with Elasticsearch 9 semantics.

Why: the project ranks movies with `script_score` (exact kNN through `dotProduct` mapped by the
max_inner_product transform, rating-aware blending). The double must give the very scores
Elasticsearch gives, raise the errors Elasticsearch raises, and refuse loudly whatever it does
not implement. Script text is hostile input: it is tokenised and parsed by hand into an AST and
interpreted; nothing from it ever reaches Python's `eval`/`exec`.

Server-side use::

    script = compile_script(source, lang)   # cached by (lang, source); ScriptError on bad source
    score = script.execute(ScriptContext(params, score, doc_values, field_type))
    scores = script.execute_batch(BatchContext(params, scores, doc_values, field_type))

`execute` returns the script result cast to a Java double (the server still applies
script_score's own checks: NaN / negative -> "script_score script returned an invalid score",
boost, and Lucene's float score). `execute_batch` evaluates one script over many documents with
numpy when the script is simple enough (literals, params, `_score`, arithmetic, comparisons,
`&& || !`, ternaries, casts, `Math.*`, `saturation`/`sigmoid`, numeric `doc['f'].value`,
`doc['f'].size()`/`.empty`, the four vector functions, and local variables declared before a
final `return`); anything else, and any document on which the script would fail, falls back to
per-document `execute`, so errors and results are the same on both paths.

Supported subset (Painless reference: "Painless language specification", script_score "vector
functions", ES source `VectorScoreScriptUtils`, `DenseVector`, `KnnDenseVector`,
`ScriptDocValues`, `DenseVectorScriptDocValues`):

- literals: int / long (`1L`) / float (`1.5f`) / double (`1.5`, `1d`, `1e3`), hex and octal ints,
  strings in '...' or "..." (only `\\\\` and the quote may be escaped), `true`, `false`, `null`;
- `params.x`, `params['x']`, `params.get('x')`, `params.containsKey('x')`, list `size()`, `get(i)`,
  `[i]` (negative indexes count from the end, as Painless), `.length`; `_score`;
- Java arithmetic with Java types: int/long wrap around, integer `/` truncates and `%` keeps the
  sign of the dividend, integer division by zero is an ArithmeticException, float arithmetic is
  rounded to float32, `+` with a String concatenates (Java `Double.toString` formatting);
- comparisons, `==`/`!=` (Painless `def` equality), `&&`, `||`, `!`, `?:` (ternary), casts to
  int/long/float/double, local declarations (`double x = ...; def y = ...;`), assignment and
  `+= -= *= /= %=` to locals, `if`/`else` blocks, `return`, the implicit return of a final
  expression statement, and Painless' default return (0.0) when no return is reached;
- `Math.*` (all whitelisted methods except `random`, with Java's edge cases), `Math.E`, `Math.PI`,
  `Double`/`Float`/`Integer`/`Long` constants, `Double.isNaN/isInfinite/isFinite`;
- `saturation(v, k)`, `sigmoid(v, k, a)`;
- `doc['f']` / `doc.f` / `doc.get('f')` (unmapped: "No field found for [f] in mapping"),
  `doc.containsKey('f')`, `.value`, `.get(i)`, `[i]`, `.size()`, `.length`, `.empty`,
  `.isEmpty()`, `.values`; empty `.value` raises Elasticsearch's "A document doesn't have a
  value for a field! ..."; dense_vector fields: `.vectorValue` (float[]), `.magnitude`,
  `.size()` (0/1), `.value` refused with ES' UnsupportedOperationException text;
- `cosineSimilarity`, `dotProduct`, `l1norm`, `l2norm` with a List query vector and a field
  name String (as ES: `doc['f']` as second argument is a ClassCastException, not an alias), with
  ES' "A document doesn't have a value for a vector field!" and dimension-mismatch errors;
  arithmetic follows `KnnDenseVector` (float32 vectors, float32 dot products); a zero query
  vector gives NaN for cosine, as in ES.

Refused with `UnsupportedScript` (message "unsupported by the test double: ..."): loops,
`try`/`throw`, `new`, lambdas, list/map initialisers, bitwise and shift operators, `++`/`--`,
`?.`, `?:` (elvis), `instanceof`, assignment to fields/indexes, `Math.random`, date doc values,
`randomScore`, decay functions, `hamming`, term statistics, `field(...)`, other languages.

Known, documented approximations: vector sums are accumulated in float64 and rounded to float32
(Lucene accumulates in float32 with SIMD, so the last float32 ulp can differ); the
`script_stack` of errors holds only the Painless snippet lines (ES adds Java frames);
compile-error texts follow Painless' wording where it is documented and are otherwise
descriptive.
"""

from __future__ import annotations

import math
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tests.es_double.errors import UNSUPPORTED_PREFIX, EsError
from tests.es_double.javafmt import java_double, java_float

__all__ = [
    "BatchContext",
    "CompiledScript",
    "ScriptContext",
    "ScriptError",
    "UnsupportedScript",
    "compile_script",
]

MAX_SCRIPT_SIZE_BYTES = 65535  # script.max_size_in_bytes default
_MAX_NESTING = 200  # the double's guard against hostile, deeply nested input
_CACHE_SIZE = 512

DOC_MISSING_VALUE = (
    "A document doesn't have a value for a field! Use doc[<field>].size()==0 to check if a document is missing a field!"
)
VECTOR_MISSING_VALUE = "A document doesn't have a value for a vector field!"
VECTOR_VALUE_UNSUPPORTED = (
    "accessing a vector field's value through 'get' or 'value' is not supported, use 'vectorValue' or 'magnitude' instead."
)

_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1


# --------------------------------------------------------------------------- contexts and errors


@dataclass
class ScriptContext:
    """What one document's evaluation sees (the server builds one per scored document)."""

    params: dict
    score: float
    doc_values: Callable[[str], list]
    field_type: Callable[[str], str | None]
    vector_dims: Callable[[str], int | None] | None = None  # mapped dims of a dense_vector field


@dataclass
class BatchContext:
    """Many documents at once: `doc_values(field)` returns one doc-values list per document."""

    params: dict
    scores: Sequence[float] | np.ndarray
    doc_values: Callable[[str], Sequence[list]]
    field_type: Callable[[str], str | None]
    vector_dims: Callable[[str], int | None] | None = None


class ScriptError(Exception):
    """A compile or runtime error Elasticsearch would report as a `script_exception`.

    `str(err)` is the underlying Java exception's message (the `caused_by.reason` in ES);
    `error_type` its ES type name; `phase` is "compile" or "runtime"; `to_es()` renders the
    `script_exception` object ES puts in `failed_shards[].reason` / `root_cause`.
    """

    def __init__(
        self,
        message: str,
        *,
        error_type: str = "illegal_argument_exception",
        phase: str = "compile",
        script: str = "",
        lang: str = "painless",
        offset: int = -1,
        start: int = -1,
        end: int = -1,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.error_type = error_type
        self.phase = phase
        self.script = script
        self.lang = lang
        self.offset = offset
        self.start = start
        self.end = end
        self.status = 400

    def script_stack(self) -> list[str]:
        """The Painless lines ES appends to `script_stack`: a snippet and a `^---- HERE` pointer.

        Runtime errors quote the whole failing statement; compile errors quote 25 characters
        either side of the offending offset; "... " / " ..." mark cut text, as Painless does.
        """
        if not self.script or self.offset < 0:
            return []
        if self.phase == "runtime" and self.start >= 0 and self.end > self.start:
            lo, hi = self.start, self.end
        else:
            lo, hi = max(0, self.offset - 25), min(len(self.script), self.offset + 25)
        head = "... " if lo > 0 else ""
        tail = " ..." if hi < len(self.script) else ""
        pointer = " " * (len(head) + max(self.offset - lo, 0)) + "^---- HERE"
        return [head + self.script[lo:hi] + tail, pointer]

    def position(self) -> dict[str, int]:
        """ES' `position` object: the offending offset and the quoted range."""
        if self.phase == "runtime" and self.start >= 0 and self.end > self.start:
            return {"offset": self.offset, "start": self.start, "end": self.end}
        return {"offset": self.offset, "start": max(0, self.offset - 25), "end": min(len(self.script), self.offset + 25)}

    def to_es(self) -> dict[str, Any]:
        """The `script_exception` as Elasticsearch renders it."""
        out: dict[str, Any] = {
            "type": "script_exception",
            "reason": f"{self.phase} error",
            "script_stack": self.script_stack(),
            "script": self.script,
            "lang": self.lang,
        }
        if self.offset >= 0:
            out["position"] = self.position()
        out["caused_by"] = {"type": self.error_type, "reason": self.message}
        return out

    def to_es_error(self) -> EsError:
        """The same error as the double's `EsError` (400); its root cause is the script_exception
        with script_stack/script/lang/position, as in ES' responses."""
        meta = {k: v for k, v in self.to_es().items() if k not in ("type", "reason", "caused_by")}
        return EsError(
            self.status,
            "script_exception",
            f"{self.phase} error",
            meta=meta,
            caused_by=EsError(self.status, self.error_type, self.message),
        )


class UnsupportedScript(ScriptError):
    """Valid Painless outside the double's subset; the message starts with the unsupported prefix."""

    def __init__(self, what: str, **kwargs: Any) -> None:
        super().__init__(UNSUPPORTED_PREFIX + what, **kwargs)


def _err(message: str, node: Any = None, error_type: str = "illegal_argument_exception", phase: str = "runtime") -> ScriptError:
    return ScriptError(message, error_type=error_type, phase=phase, offset=getattr(node, "pos", -1))


def _compile_err(message: str, pos: int = -1) -> ScriptError:
    return ScriptError(message, phase="compile", offset=pos)


def _unsupported(what: str, pos: int = -1) -> UnsupportedScript:
    return UnsupportedScript(what, phase="compile", offset=pos)


# --------------------------------------------------------------------------- Java values


class JLong(int):
    """A Java `long` (Python `int` stands for Java `int`)."""

    __slots__ = ()


class JFloat(float):
    """A Java `float` (Python `float` stands for Java `double`)."""

    __slots__ = ()


class FloatArray(list):
    """A Java `float[]` (what `vectorValue` returns)."""


def _f32(x: float | int) -> float:
    """`x` rounded to a Java float, in one IEEE rounding (JLS 5.1.2: int/long to float too).

    A long must not pass through a double first: `(float) (2^60 + 2^36 + 1)` is 2^60 + 2^37 in
    Java, but rounding to double and then to float lands on the tie 2^60 + 2^36 and gives 2^60.
    """
    with np.errstate(over="ignore"):
        if isinstance(x, int):
            return float(np.float32(np.int64(x)))
        return float(np.float32(x))


def _wrap32(v: int) -> int:
    return ((v - _INT_MIN) & 0xFFFFFFFF) + _INT_MIN


def _wrap64(v: int) -> int:
    return ((v - _LONG_MIN) & 0xFFFFFFFFFFFFFFFF) + _LONG_MIN


_INT, _LONG, _FLOAT, _DOUBLE = 0, 1, 2, 3
_KIND_NAMES = ("int", "long", "float", "double")
_JAVA_CLASS = {
    bool: "java.lang.Boolean",
    JLong: "java.lang.Long",
    int: "java.lang.Integer",
    JFloat: "java.lang.Float",
    float: "java.lang.Double",
    str: "java.lang.String",
}


def _java_class(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, DocValues):
        return v.java_class()
    if isinstance(v, FloatArray):
        return "float[]"
    if isinstance(v, list):
        return "java.util.ArrayList"
    if isinstance(v, dict):
        return "java.util.HashMap"
    return _JAVA_CLASS.get(type(v), type(v).__name__)


def _num_kind(v: Any) -> int:
    """Binary-numeric-promotion rank of a boxed number, or -1 when `v` is not a number."""
    t = type(v)
    if t is int:
        return _INT
    if t is float:
        return _DOUBLE
    if t is JLong:
        return _LONG
    if t is JFloat:
        return _FLOAT
    return -1


def _box(kind: int, value: float) -> Any:
    if kind == _INT:
        return _wrap32(int(value))
    if kind == _LONG:
        return JLong(_wrap64(int(value)))
    if kind == _FLOAT:
        return JFloat(_f32(value))
    return float(value)


def _java_str(v: Any) -> str:
    """`String.valueOf(v)`."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, JFloat):
        return java_float(v)
    if isinstance(v, float):
        return java_double(v)
    if isinstance(v, (int, str)):
        return str(v)
    if isinstance(v, DocValues):
        return "[" + ", ".join(_java_str(x) for x in v.values) + "]"
    if isinstance(v, list):
        return "[" + ", ".join(_java_str(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_java_str(k)}={_java_str(x)}" for k, x in v.items()) + "}"
    return str(v)


def _to_java(v: Any) -> Any:
    """A params value as Jackson hands it to a script: Integer, Long, Double, String, List, Map."""
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, int):
        if _INT_MIN <= v <= _INT_MAX:
            return int(v)
        if _LONG_MIN <= v <= _LONG_MAX:
            return JLong(v)
        raise UnsupportedScript("BigInteger script params")
    if isinstance(v, float):
        return float(v)
    if isinstance(v, (list, tuple)):
        return [_to_java(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _to_java(x) for k, x in v.items()}
    raise UnsupportedScript(f"script params of type [{type(v).__name__}]")


# --------------------------------------------------------------------------- doc values


_LONG_TYPES = {"long", "integer", "short", "byte"}
_DOUBLE_TYPES = {"double", "float", "half_float"}
_STRING_TYPES = {"keyword", "text", "match_only_text", "constant_keyword", "wildcard"}

_DOC_CLASS = {
    "long": "org.elasticsearch.index.fielddata.ScriptDocValues$Longs",
    "double": "org.elasticsearch.index.fielddata.ScriptDocValues$Doubles",
    "boolean": "org.elasticsearch.index.fielddata.ScriptDocValues$Booleans",
    "string": "org.elasticsearch.index.fielddata.ScriptDocValues$Strings",
    "date": "org.elasticsearch.index.fielddata.ScriptDocValues$Dates",
    "vector": "org.elasticsearch.index.mapper.vectors.DenseVectorScriptDocValues",
}


def _round_float_field(ftype: str, x: Any) -> float:
    if ftype == "float":
        return _f32(float(x))
    if ftype == "half_float":
        return float(np.float16(float(x)))
    return float(x)


class DocValues:
    """`doc['f']` for one document: Longs, Doubles, Booleans, Strings or DenseVectorScriptDocValues."""

    __slots__ = ("family", "field", "ftype", "values")

    def __init__(self, field: str, ftype: str, raw: list) -> None:
        self.field = field
        self.ftype = ftype
        if ftype == "dense_vector":
            self.family = "vector"
            self.values = list(raw)
        elif ftype in _LONG_TYPES:
            self.family = "long"
            self.values = [JLong(int(x)) for x in raw]
        elif ftype in _DOUBLE_TYPES:
            self.family = "double"
            self.values = [_round_float_field(ftype, x) for x in raw]
        elif ftype == "boolean":
            self.family = "boolean"
            self.values = [bool(x) for x in raw]
        elif ftype in _STRING_TYPES:
            self.family = "string"
            self.values = [str(x) for x in raw]
        elif ftype in ("date", "date_nanos"):
            self.family = "date"
            self.values = list(raw)
        else:
            raise UnsupportedScript(f"doc values of [{ftype}] fields in scripts (field [{field}])")

    def java_class(self) -> str:
        return _DOC_CLASS[self.family]

    def size(self) -> int:
        if self.family == "vector":
            return 1 if self.values else 0
        return len(self.values)

    def get(self, index: Any, node: Any) -> Any:
        if self.family == "vector":
            raise _err(VECTOR_VALUE_UNSUPPORTED, node, "unsupported_operation_exception")
        if self.family == "date":
            raise UnsupportedScript("date doc values in scripts (ZonedDateTime)", phase="runtime", offset=node.pos)
        if not self.values:
            raise _err(DOC_MISSING_VALUE, node, "illegal_state_exception")
        i = _index_of(index, node)
        if not 0 <= i < len(self.values):
            raise _err(f"Index {i} out of bounds for length {len(self.values)}", node, "index_out_of_bounds_exception")
        return self.values[i]

    def vector(self, node: Any) -> list:
        if not self.values:
            raise _err(VECTOR_MISSING_VALUE, node)
        return self.values


def _index_of(index: Any, node: Any) -> int:
    if type(index) not in (int, JLong):
        raise _err(f"Cannot cast {_java_class(index)} to java.lang.Integer", node, "class_cast_exception")
    return int(index)


# --------------------------------------------------------------------------- lexer


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # num, str, id, op, eof
    text: str
    pos: int
    value: Any = None


_OPS = sorted(
    (
        ">>>=", "===", "!==", ">>>", "<<=", ">>=", "==", "!=", "<=", ">=", "&&", "||", "++", "--", "+=", "-=",
        "*=", "/=", "%=", "&=", "|=", "^=", "<<", ">>", "->", "::", "?.", "?:", "+", "-", "*", "/", "%", "<",
        ">", "=", "!", "~", "&", "|", "^", "?", ":", "(", ")", "[", "]", "{", "}", ",", ";", ".",
    ),
    key=len,
    reverse=True,
)
_NUMBER = re.compile(
    r"0[xX][0-9a-fA-F]+[lL]?"
    r"|0[0-7]+[lL]?"
    r"|(?:(?:0|[1-9][0-9]*)(?:\.[0-9]+)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[lLfFdD]?"
)
_IDENT = re.compile(r"[_a-zA-Z][_a-zA-Z0-9]*")
_WS = " \t\r\n"


def _number_token(text: str, pos: int) -> Token:
    lower = text.lower()
    suffix = lower[-1] if lower[-1] in "lfd" and not lower.startswith("0x") else ""
    if lower.startswith("0x"):
        suffix = "l" if lower.endswith("l") else ""
    body = text[: len(text) - 1] if suffix else text
    is_decimal = not lower.startswith("0x") and ("." in body or "e" in body.lower())
    if lower.startswith("0x"):
        value: Any = int(body, 16)
    elif len(body) > 1 and body[0] == "0" and body.isdigit():
        value = int(body, 8)
    elif is_decimal or suffix in ("f", "d"):
        value = float(body)
    else:
        value = int(body)
    if suffix == "l":
        if is_decimal:
            raise _compile_err(f"Invalid long constant [{text}].", pos)
        if value > _LONG_MAX:
            raise _compile_err(f"Invalid long constant [{text}].", pos)
        return Token("num", text, pos, JLong(value))
    if suffix == "f":
        return Token("num", text, pos, JFloat(_f32(value)))
    if suffix == "d" or is_decimal:
        return Token("num", text, pos, float(value))
    # a plain int literal; 2147483648 is only legal right after a unary minus (checked by the parser)
    if value > _INT_MAX + 1:
        raise _compile_err(
            f"Invalid int constant [{text}]. If a long constant was intended, consider appending an L or l to the literal.",
            pos,
        )
    return Token("num", text, pos, int(value))


def _tokenize(src: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if c in _WS:
            i += 1
            continue
        if src.startswith("//", i):
            j = src.find("\n", i)
            i = n if j < 0 else j + 1
            continue
        if src.startswith("/*", i):
            j = src.find("*/", i + 2)
            if j < 0:
                raise _compile_err("unterminated comment", i)
            i = j + 2
            continue
        if c in "\"'":
            j, out = i + 1, []
            while True:
                if j >= n:
                    raise _compile_err(f"unterminated string literal starting at offset [{i}]", i)
                ch = src[j]
                if ch == "\\":
                    nxt = src[j + 1] if j + 1 < n else ""
                    if nxt not in ("\\", c):
                        raise _compile_err(f"invalid escape sequence [\\{nxt}] in string literal", j)
                    out.append(nxt)
                    j += 2
                    continue
                if ch == c:
                    break
                out.append(ch)
                j += 1
            tokens.append(Token("str", src[i : j + 1], i, "".join(out)))
            i = j + 1
            continue
        if c.isdigit() or (c == "." and i + 1 < n and src[i + 1].isdigit()):
            m = _NUMBER.match(src, i)
            if m is None:  # pragma: no cover - the class above always matches a digit
                raise _compile_err(f"unexpected character [{c}].", i)
            end = m.end()
            if end < n and (src[end].isalnum() or src[end] == "_"):
                raise _compile_err(f"invalid number [{src[i:end + 1]}]", i)
            tokens.append(_number_token(m.group(0), i))
            i = end
            continue
        m = _IDENT.match(src, i)
        if m:
            tokens.append(Token("id", m.group(0), i))
            i = m.end()
            continue
        for op in _OPS:
            if src.startswith(op, i):
                tokens.append(Token("op", op, i))
                i += len(op)
                break
        else:
            raise _compile_err(f"unexpected character [{c}].", i)
    tokens.append(Token("eof", "<EOF>", n))
    return tokens


# --------------------------------------------------------------------------- AST


class Node:
    """An expression; `pos` is its source offset, for error messages."""

    __slots__ = ()
    pos: int


# eq=False: two nodes are equal only when they are the same node (and they stay hashable).
@dataclass(slots=True, eq=False)
class Lit(Node):
    value: Any
    pos: int


@dataclass(slots=True, eq=False)
class Name(Node):
    name: str
    pos: int


@dataclass(slots=True, eq=False)
class FieldAccess(Node):
    obj: Node
    name: str
    pos: int


@dataclass(slots=True, eq=False)
class IndexAccess(Node):
    obj: Node
    index: Node
    pos: int


@dataclass(slots=True, eq=False)
class Call(Node):
    name: str
    args: list[Node]
    pos: int


@dataclass(slots=True, eq=False)
class MethodCall(Node):
    obj: Node
    name: str
    args: list[Node]
    pos: int


@dataclass(slots=True, eq=False)
class Unary(Node):
    op: str
    operand: Node
    pos: int


@dataclass(slots=True, eq=False)
class Binary(Node):
    op: str
    left: Node
    right: Node
    pos: int


@dataclass(slots=True, eq=False)
class Ternary(Node):
    cond: Node
    then: Node
    other: Node
    pos: int


@dataclass(slots=True, eq=False)
class Cast(Node):
    type: str
    expr: Node
    pos: int


@dataclass(slots=True, eq=False)
class Assign(Node):
    target: Name
    op: str
    value: Node
    pos: int


class Stmt:
    """A statement; `start`/`end` delimit its source text."""

    __slots__ = ()
    start: int
    end: int


@dataclass(slots=True, eq=False)
class Decl(Stmt):
    type: str
    names: list[tuple[str, Node | None, int]]
    start: int
    end: int


@dataclass(slots=True, eq=False)
class ExprStmt(Stmt):
    expr: Node
    start: int
    end: int


@dataclass(slots=True, eq=False)
class Return(Stmt):
    expr: Node | None
    pos: int
    start: int
    end: int


@dataclass(slots=True, eq=False)
class If(Stmt):
    cond: Node
    then: list[Stmt]
    other: list[Stmt] | None
    start: int
    end: int


@dataclass(slots=True, eq=False)
class Block(Stmt):
    body: list[Stmt]
    start: int
    end: int


# --------------------------------------------------------------------------- parser

_PRIMITIVES = {"int", "long", "float", "double", "boolean", "def", "String"}
_UNSUPPORTED_PRIMITIVES = {"byte", "short", "char", "void"}
_ARRAY_TYPES = {"float", "double", "int", "long", "def"}
_UNSUPPORTED_STATEMENTS = {"for", "while", "do", "try", "throw", "break", "continue", "catch"}
_KNOWN_CLASSES = {  # whitelisted Painless classes the subset does not implement (declared as types)
    "List", "Map", "ArrayList", "HashMap", "Set", "HashSet", "Collection", "Collections", "Arrays", "Instant",
    "ZonedDateTime", "LocalDate", "LocalDateTime", "Duration", "ChronoUnit", "DateTimeFormatter", "Object",
    "Number", "Boolean", "Character", "StringBuilder", "Objects", "Pattern", "Matcher", "Optional",
    "BigDecimal", "BigInteger", "Iterator", "Debug", "StrictMath", "System", "Math", "Double", "Float",
    "Integer", "Long", "Short", "Byte", "String",
}


class _Parser:
    def __init__(self, src: str) -> None:
        self.src = src
        self.toks = _tokenize(src)
        self.i = 0
        self.depth = 0

    # -- token helpers
    def peek(self, k: int = 0) -> Token:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def next(self) -> Token:
        tok = self.toks[self.i]
        self.i = min(self.i + 1, len(self.toks) - 1)
        return tok

    def at(self, text: str, k: int = 0) -> bool:
        tok = self.peek(k)
        return tok.kind in ("op", "id") and tok.text == text

    def expect(self, text: str) -> Token:
        tok = self.next()
        if tok.kind not in ("op", "id") or tok.text != text:
            raise _compile_err(f"unexpected token [{tok.text}] was expecting [{text}].", tok.pos)
        return tok

    def enter(self, pos: int) -> None:
        self.depth += 1
        if self.depth > _MAX_NESTING:
            raise _compile_err("script is nested too deeply", pos)

    # -- statements
    def program(self) -> list[Stmt]:
        body: list[Stmt] = []
        while self.peek().kind != "eof":
            body.append(self.statement(top=True))
        return body

    def end_statement(self, top: bool) -> None:
        if self.at(";"):
            self.next()
        elif not ((top and self.peek().kind == "eof") or (not top and self.at("}"))):
            tok = self.peek()
            raise _compile_err(f"unexpected token [{tok.text}] was expecting one of [{{<EOF>, ';'}}].", tok.pos)

    def block_or_statement(self) -> list[Stmt]:
        if self.at("{"):
            blk = self.block()
            return blk.body
        return [self.statement(top=False)]

    def block(self) -> Block:
        start = self.expect("{").pos
        self.enter(start)
        body: list[Stmt] = []
        while not self.at("}"):
            if self.peek().kind == "eof":
                raise _compile_err("unexpected end of script, was expecting [}].", self.peek().pos)
            body.append(self.statement(top=False))
        end = self.next().pos + 1
        self.depth -= 1
        return Block(body, start, end)

    def statement(self, top: bool) -> Stmt:
        tok = self.peek()
        start = tok.pos
        if tok.kind == "id" and tok.text in _UNSUPPORTED_STATEMENTS:
            raise _unsupported(f"[{tok.text}] statements", tok.pos)
        if tok.kind == "id" and tok.text == "if":
            self.next()
            self.expect("(")
            cond = self.expression()
            self.expect(")")
            self.enter(start)
            then = self.block_or_statement()
            other = None
            if self.at("else"):
                self.next()
                other = self.block_or_statement()
            self.depth -= 1
            return If(cond, then, other, start, self.peek(-1).pos + len(self.peek(-1).text))
        if tok.kind == "id" and tok.text == "return":
            self.next()
            expr = None
            if not (self.at(";") or self.at("}") or self.peek().kind == "eof"):
                expr = self.expression()
            end = self.peek(-1).pos + len(self.peek(-1).text)
            self.end_statement(top)
            return Return(expr, tok.pos, start, end)
        if tok.kind == "op" and tok.text == "{":
            return self.block()
        if tok.kind == "op" and tok.text == ";":
            self.next()
            return Block([], start, start + 1)
        decl_type = self.declaration_type()
        if decl_type is not None:
            names: list[tuple[str, Node | None, int]] = []
            while True:
                name_tok = self.next()
                if name_tok.kind != "id":
                    raise _compile_err(f"unexpected token [{name_tok.text}] was expecting an identifier.", name_tok.pos)
                init = None
                if self.at("="):
                    self.next()
                    init = self.expression()
                names.append((name_tok.text, init, name_tok.pos))
                if not self.at(","):
                    break
                self.next()
            end = self.peek(-1).pos + len(self.peek(-1).text)
            self.end_statement(top)
            return Decl(decl_type, names, start, end)
        expr = self.expression()
        end = self.peek(-1).pos + len(self.peek(-1).text)
        self.end_statement(top)
        return ExprStmt(expr, start, end)

    def declaration_type(self) -> str | None:
        tok = self.peek()
        if tok.kind != "id" or tok.text in ("new", "this", "true", "false", "null", "instanceof"):
            return None
        dims = 0
        k = 1
        while self.at("[", k) and self.at("]", k + 1):
            dims += 1
            k += 2
        if self.peek(k).kind != "id":
            return None
        if tok.text in _UNSUPPORTED_PRIMITIVES:
            raise _unsupported(f"variables of type [{tok.text}]", tok.pos)
        if tok.text in _KNOWN_CLASSES and tok.text != "String":
            raise _unsupported(f"variables of type [{tok.text}]", tok.pos)
        if tok.text not in _PRIMITIVES:
            raise _compile_err(f"cannot resolve type [{tok.text}]", tok.pos)
        if dims > 1 or (dims == 1 and tok.text not in _ARRAY_TYPES):
            raise _unsupported(f"variables of type [{tok.text}{'[]' * dims}]", tok.pos)
        self.i += k
        return tok.text + "[]" * dims

    # -- expressions (Java precedence)
    def expression(self) -> Node:
        tok = self.peek()
        self.enter(tok.pos)
        try:
            return self.assignment()
        finally:
            self.depth -= 1

    def assignment(self) -> Node:
        left = self.ternary()
        tok = self.peek()
        if tok.kind == "op" and tok.text in ("=", "+=", "-=", "*=", "/=", "%="):
            self.next()
            value = self.assignment()
            if isinstance(left, Name):
                return Assign(left, tok.text, value, tok.pos)
            if isinstance(left, (FieldAccess, IndexAccess)):
                raise _unsupported("assignment to a field or an element", tok.pos)
            raise _compile_err("invalid assignment: the left side is not a variable", tok.pos)
        if tok.kind == "op" and tok.text in ("&=", "|=", "^=", "<<=", ">>=", ">>>="):
            raise _unsupported(f"operator [{tok.text}]", tok.pos)
        return left

    def ternary(self) -> Node:
        cond = self.logical_or()
        if self.at("?"):
            tok = self.next()
            then = self.expression()
            self.expect(":")
            other = self.expression()
            return Ternary(cond, then, other, tok.pos)
        if self.at("?:"):
            raise _unsupported("the elvis operator [?:]", self.peek().pos)
        return cond

    def logical_or(self) -> Node:
        left = self.logical_and()
        while self.at("||"):
            tok = self.next()
            left = Binary("||", left, self.logical_and(), tok.pos)
        return left

    def logical_and(self) -> Node:
        left = self.bitwise()
        while self.at("&&"):
            tok = self.next()
            left = Binary("&&", left, self.bitwise(), tok.pos)
        return left

    def bitwise(self) -> Node:
        left = self.equality()
        tok = self.peek()
        if tok.kind == "op" and tok.text in ("|", "^", "&"):
            raise _unsupported(f"operator [{tok.text}]", tok.pos)
        return left

    def equality(self) -> Node:
        left = self.relational()
        while True:
            tok = self.peek()
            if tok.kind == "op" and tok.text in ("==", "!="):
                self.next()
                left = Binary(tok.text, left, self.relational(), tok.pos)
            elif tok.kind == "op" and tok.text in ("===", "!=="):
                raise _unsupported(f"operator [{tok.text}]", tok.pos)
            else:
                return left

    def relational(self) -> Node:
        left = self.shift()
        while True:
            tok = self.peek()
            if tok.kind == "op" and tok.text in ("<", "<=", ">", ">="):
                self.next()
                left = Binary(tok.text, left, self.shift(), tok.pos)
            elif tok.kind == "id" and tok.text == "instanceof":
                raise _unsupported("operator [instanceof]", tok.pos)
            else:
                return left

    def shift(self) -> Node:
        left = self.additive()
        tok = self.peek()
        if tok.kind == "op" and tok.text in ("<<", ">>", ">>>"):
            raise _unsupported(f"operator [{tok.text}]", tok.pos)
        return left

    def additive(self) -> Node:
        left = self.multiplicative()
        while self.peek().kind == "op" and self.peek().text in ("+", "-"):
            tok = self.next()
            left = Binary(tok.text, left, self.multiplicative(), tok.pos)
        return left

    def multiplicative(self) -> Node:
        left = self.unary()
        while self.peek().kind == "op" and self.peek().text in ("*", "/", "%"):
            tok = self.next()
            left = Binary(tok.text, left, self.unary(), tok.pos)
        return left

    def unary(self) -> Node:
        tok = self.peek()
        if tok.kind == "op" and tok.text in ("-", "+", "!"):
            self.next()
            self.enter(tok.pos)
            try:
                nxt = self.peek()
                if tok.text == "-" and nxt.kind == "num" and type(nxt.value) is int and nxt.value == _INT_MAX + 1:
                    self.next()  # Integer.MIN_VALUE written as -2147483648
                    return self.postfix(Lit(_INT_MIN, tok.pos))
                return Unary(tok.text, self.unary(), tok.pos)
            finally:
                self.depth -= 1
        if tok.kind == "op" and tok.text in ("++", "--"):
            raise _unsupported(f"operator [{tok.text}]", tok.pos)
        if tok.kind == "op" and tok.text == "~":
            raise _unsupported("operator [~]", tok.pos)
        if tok.kind == "op" and tok.text == "(" and self.peek(1).kind == "id":
            type_tok = self.peek(1)
            k = 2
            dims = 0
            while self.at("[", k) and self.at("]", k + 1):
                k += 2
                dims += 1
            if self.at(")", k) and (type_tok.text in _PRIMITIVES or type_tok.text in _UNSUPPORTED_PRIMITIVES
                                    or type_tok.text in _KNOWN_CLASSES):
                if type_tok.text not in ("int", "long", "float", "double", "def") or dims:
                    raise _unsupported(f"casts to [{type_tok.text}{'[]' * dims}]", tok.pos)
                self.i += k + 1
                self.enter(tok.pos)
                try:
                    return Cast(type_tok.text, self.unary(), tok.pos)
                finally:
                    self.depth -= 1
        return self.postfix(self.primary())

    def postfix(self, node: Node) -> Node:
        while True:
            tok = self.peek()
            if tok.kind != "op":
                return node
            if tok.text == ".":
                self.next()
                name = self.next()
                if name.kind != "id":
                    raise _compile_err(f"unexpected token [{name.text}] was expecting an identifier.", name.pos)
                if self.at("("):
                    node = MethodCall(node, name.text, self.arguments(), tok.pos)
                else:
                    node = FieldAccess(node, name.text, tok.pos)
            elif tok.text == "[":
                self.next()
                index = self.expression()
                self.expect("]")
                node = IndexAccess(node, index, tok.pos)
            elif tok.text == "?.":
                raise _unsupported("the null-safe operator [?.]", tok.pos)
            elif tok.text in ("++", "--"):
                raise _unsupported(f"operator [{tok.text}]", tok.pos)
            elif tok.text == "::":
                raise _unsupported("method references", tok.pos)
            else:
                return node

    def arguments(self) -> list[Node]:
        self.expect("(")
        args: list[Node] = []
        if not self.at(")"):
            while True:
                args.append(self.expression())
                if self.at(","):
                    self.next()
                    continue
                break
        self.expect(")")
        return args

    def primary(self) -> Node:
        tok = self.next()
        if tok.kind == "num":
            if type(tok.value) is int and tok.value > _INT_MAX:
                raise _compile_err(
                    f"Invalid int constant [{tok.text}]. If a long constant was intended, consider appending an L or l "
                    "to the literal.",
                    tok.pos,
                )
            return Lit(tok.value, tok.pos)
        if tok.kind == "str":
            return Lit(tok.value, tok.pos)
        if tok.kind == "op" and tok.text == "(":
            self.enter(tok.pos)
            if self.peek().kind == "id" and self.at("->", 1) or self.at(")") and self.at("->", 1):
                raise _unsupported("lambdas", tok.pos)
            inner = self.expression()
            self.expect(")")
            self.depth -= 1
            return inner
        if tok.kind == "op" and tok.text in ("[", "{"):
            raise _unsupported("list and map initializers", tok.pos)
        if tok.kind == "id":
            if tok.text in ("true", "false"):
                return Lit(tok.text == "true", tok.pos)
            if tok.text == "null":
                return Lit(None, tok.pos)
            if tok.text == "new":
                raise _unsupported("[new]", tok.pos)
            if tok.text == "this":
                raise _unsupported("[this]", tok.pos)
            if self.at("->"):
                raise _unsupported("lambdas", tok.pos)
            if self.at("("):
                return Call(tok.text, self.arguments(), tok.pos)
            return Name(tok.text, tok.pos)
        if tok.kind == "eof":
            raise _compile_err("unexpected end of script.", tok.pos)
        raise _compile_err(f"unexpected token [{tok.text}].", tok.pos)


# --------------------------------------------------------------------------- Java operations


def _promote(a: Any, b: Any, op: str, node: Any) -> int:
    ka, kb = _num_kind(a), _num_kind(b)
    if ka < 0 or kb < 0:
        if a is None or b is None:
            raise _err(
                f"Cannot apply [{op}] operation to types [{_java_class(a)}] and [{_java_class(b)}].",
                node,
                "null_pointer_exception",
            )
        raise _err(
            f"Cannot apply [{op}] operation to types [{_java_class(a)}] and [{_java_class(b)}].",
            node,
            "class_cast_exception",
        )
    return max(kb, ka)


def _java_div_double(x: float, y: float) -> float:
    if y == 0.0:
        if math.isnan(x) or x == 0.0:
            return math.nan
        return math.copysign(math.inf, x) * math.copysign(1.0, y)
    return x / y


def _java_rem_double(x: float, y: float) -> float:
    if y == 0.0 or math.isinf(x) or math.isnan(x) or math.isnan(y):
        return math.nan
    if math.isinf(y):
        return x
    return math.fmod(x, y)


def _arith(op: str, a: Any, b: Any, node: Any) -> Any:
    if op == "+" and (type(a) is str or type(b) is str):
        return _java_str(a) + _java_str(b)
    kind = _promote(a, b, op, node)
    if kind >= _FLOAT:
        x, y = (_f32(a), _f32(b)) if kind == _FLOAT else (float(a), float(b))
        if op == "+":
            r = x + y
        elif op == "-":
            r = x - y
        elif op == "*":
            r = x * y
        elif op == "/":
            r = _java_div_double(x, y)
        else:
            r = _java_rem_double(x, y)
        return JFloat(_f32(r)) if kind == _FLOAT else r
    x, y = int(a), int(b)
    if op == "+":
        r = x + y
    elif op == "-":
        r = x - y
    elif op == "*":
        r = x * y
    else:
        if y == 0:
            raise _err("/ by zero", node, "arithmetic_exception")
        q = abs(x) // abs(y)
        q = q if (x >= 0) == (y >= 0) else -q
        r = q if op == "/" else x - q * y
    return _wrap32(r) if kind == _INT else JLong(_wrap64(r))


def _compare(op: str, a: Any, b: Any, node: Any) -> bool:
    kind = _promote(a, b, op, node)
    if kind >= _FLOAT:
        x, y = (_f32(a), _f32(b)) if kind == _FLOAT else (float(a), float(b))
    else:
        x, y = int(a), int(b)
    if op == "<":
        return x < y
    if op == "<=":
        return x <= y
    if op == ">":
        return x > y
    return x >= y


def _java_equals(a: Any, b: Any) -> bool:
    """`Object.equals` between two boxed values (Integer(1) does not equal Double(1.0))."""
    if a is None or b is None:
        return a is None and b is None
    if type(a) is not type(b):
        if isinstance(a, list) and isinstance(b, list) and not isinstance(a, FloatArray) and not isinstance(b, FloatArray):
            pass
        else:
            return False
    if isinstance(a, list):
        return len(a) == len(b) and all(_java_equals(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_java_equals(a[k], b[k]) for k in a)
    if isinstance(a, float):
        return (a == b) or (math.isnan(a) and math.isnan(b))  # Double.equals: NaN equals NaN, but 0.0 vs -0.0 is rare
    return a == b


def _def_equals(a: Any, b: Any) -> bool:
    """Painless `==` on def operands: numeric promotion for numbers, `equals` otherwise."""
    ka, kb = _num_kind(a), _num_kind(b)
    if ka >= 0 and kb >= 0:
        kind = max(kb, ka)
        if kind >= _FLOAT:
            x, y = (_f32(a), _f32(b)) if kind == _FLOAT else (float(a), float(b))
            return x == y
        return int(a) == int(b)
    if isinstance(a, DocValues) or isinstance(b, DocValues):
        return a is b
    return _java_equals(a, b)


def _cast_explicit(target: str, v: Any, node: Any) -> Any:
    if target == "def":
        return v
    kind = _num_kind(v)
    if kind < 0:
        raise _err(f"Cannot cast {_java_class(v)} to {target}", node, "class_cast_exception")
    if target == "double":
        return float(v)
    if target == "float":
        return JFloat(_f32(v))
    if kind >= _FLOAT:
        x = float(v)
        lo, hi = (_INT_MIN, _INT_MAX) if target == "int" else (_LONG_MIN, _LONG_MAX)
        r = 0 if math.isnan(x) else hi if x >= hi else lo if x <= lo else int(x)
    else:
        r = int(v)
    return _wrap32(r) if target == "int" else JLong(_wrap64(r))


_WIDENING = {
    "int": {"int"},
    "long": {"int", "long"},
    "float": {"int", "long", "float"},
    "double": {"int", "long", "float", "double"},
}


def _static_of(v: Any) -> str:
    kind = _num_kind(v)
    if kind >= 0:
        return _KIND_NAMES[kind]
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, str):
        return "String"
    return "def"


def _cast_implicit(target: str, v: Any, node: Any) -> Any:
    """Assignment conversion of a runtime value into a declared type (Painless def rules)."""
    if target == "def":
        return v
    if target == "boolean":
        if type(v) is bool:
            return v
        raise _err(f"Cannot cast {_java_class(v)} to java.lang.Boolean", node, "class_cast_exception")
    if target == "String":
        if v is None or type(v) is str:
            return v
        raise _err(f"Cannot cast {_java_class(v)} to java.lang.String", node, "class_cast_exception")
    if target.endswith("[]"):
        if v is None or (isinstance(v, FloatArray) and target == "float[]"):
            return v
        raise _err(f"Cannot cast {_java_class(v)} to {target}", node, "class_cast_exception")
    kind = _num_kind(v)
    if v is None:
        raise _err(f"Cannot cast null to a primitive type [{target}]", node, "null_pointer_exception")
    if kind < 0 or _KIND_NAMES[kind] not in _WIDENING[target]:
        raise _err(f"Cannot cast {_java_class(v)} to {target}", node, "class_cast_exception")
    return _cast_explicit(target, v, node)


# --------------------------------------------------------------------------- Java Math


def _jlog(x: float) -> float:
    if math.isnan(x) or x < 0:
        return math.nan
    if x == 0:
        return -math.inf
    return math.log(x)


def _jlog10(x: float) -> float:
    if math.isnan(x) or x < 0:
        return math.nan
    if x == 0:
        return -math.inf
    return math.log10(x)


def _jlog1p(x: float) -> float:
    if math.isnan(x) or x < -1:
        return math.nan
    if x == -1:
        return -math.inf
    return math.log1p(x)


def _jexp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def _jexpm1(x: float) -> float:
    try:
        return math.expm1(x)
    except OverflowError:
        return math.inf


def _jsqrt(x: float) -> float:
    return math.nan if math.isnan(x) or x < 0 else math.sqrt(x)


def _jpow(x: float, y: float) -> float:
    if math.isnan(y):
        return math.nan
    if y == 0:
        return 1.0
    if abs(x) == 1.0 and math.isinf(y):
        return math.nan
    try:
        return math.pow(x, y)
    except OverflowError:
        if x < 0 and y == int(y) and int(y) % 2 == 1:
            return -math.inf
        return math.inf
    except ValueError:
        if x == 0:  # 0 to a negative power
            negative_odd = y == int(y) and int(y) % 2 == 1 and math.copysign(1.0, x) < 0
            return -math.inf if negative_odd else math.inf
        return math.nan


def _jround(x: float) -> JLong:
    if math.isnan(x):
        return JLong(0)
    if x >= 2.0**63:
        return JLong(_LONG_MAX)
    if x <= -(2.0**63):
        return JLong(_LONG_MIN)
    f = math.floor(x)
    return JLong(int(f) + (1 if x - f >= 0.5 else 0))


def _jrint(x: float) -> float:
    if math.isinf(x) or math.isnan(x):
        return x
    r = float(round(x))  # banker's rounding, as Math.rint
    return math.copysign(r, x) if r == 0 else r


def _jsignum(x: float) -> float:
    if math.isnan(x) or x == 0:
        return x
    return 1.0 if x > 0 else -1.0


def _jmax(a: float, b: float) -> float:
    if math.isnan(a) or math.isnan(b):
        return math.nan
    if a == 0 and b == 0:
        return a + b  # +0.0 unless both are -0.0
    return max(a, b)


def _jmin(a: float, b: float) -> float:
    if math.isnan(a) or math.isnan(b):
        return math.nan
    if a == 0 and b == 0:
        return -((-a) + (-b))
    return min(a, b)


def _jtrig(fn: Callable[[float], float]) -> Callable[[float], float]:
    def call(x: float) -> float:
        try:
            return fn(x)
        except ValueError:
            return math.nan
        except OverflowError:
            return math.inf

    return call


def _jcbrt(x: float) -> float:
    if math.isnan(x) or math.isinf(x) or x == 0:
        return x
    r = abs(x) ** (1.0 / 3.0)
    r = r - (r * r * r - abs(x)) / (3 * r * r)  # one Newton step keeps exact cubes exact
    return math.copysign(r, x)


def _jhypot(a: float, b: float) -> float:
    if math.isinf(a) or math.isinf(b):
        return math.inf
    return math.hypot(a, b)


def _jceil(x: float) -> float:
    if math.isinf(x) or math.isnan(x):
        return x
    r = float(math.ceil(x))
    return -0.0 if r == 0 and x < 0 else r


def _jfloor(x: float) -> float:
    if math.isinf(x) or math.isnan(x):
        return x
    return float(math.floor(x)) if x != 0 else x


def _jabs(x: float) -> float:
    return abs(x)


def _jnext_after(a: float, b: float) -> float:
    return math.nextafter(a, b)


_MATH_1: dict[str, Callable[[float], float]] = {
    "abs": _jabs,
    "acos": _jtrig(math.acos),
    "asin": _jtrig(math.asin),
    "atan": _jtrig(math.atan),
    "cbrt": _jcbrt,
    "ceil": _jceil,
    "cos": _jtrig(math.cos),
    "cosh": _jtrig(math.cosh),
    "exp": _jexp,
    "expm1": _jexpm1,
    "floor": _jfloor,
    "log": _jlog,
    "log10": _jlog10,
    "log1p": _jlog1p,
    "nextDown": lambda x: math.nextafter(x, -math.inf),
    "nextUp": lambda x: math.nextafter(x, math.inf),
    "rint": _jrint,
    "signum": _jsignum,
    "sin": _jtrig(math.sin),
    "sinh": _jtrig(math.sinh),
    "sqrt": _jsqrt,
    "tan": _jtrig(math.tan),
    "tanh": _jtrig(math.tanh),
    "toDegrees": math.degrees,
    "toRadians": math.radians,
    "ulp": lambda x: math.ulp(x) if math.isfinite(x) else (math.inf if math.isinf(x) else math.nan),
}
_MATH_2: dict[str, Callable[[float, float], float]] = {
    "atan2": math.atan2,
    "copySign": math.copysign,
    "hypot": _jhypot,
    "IEEEremainder": lambda a, b: math.nan if (b == 0 or math.isinf(a) or math.isnan(a) or math.isnan(b)) else math.remainder(a, b),
    "max": _jmax,
    "min": _jmin,
    "nextAfter": _jnext_after,
    "pow": _jpow,
}
_CLASS_CONSTANTS: dict[str, dict[str, Any]] = {
    "Math": {"E": math.e, "PI": math.pi},
    "Double": {
        "MAX_VALUE": 1.7976931348623157e308,
        "MIN_VALUE": 5e-324,
        "MIN_NORMAL": 2.2250738585072014e-308,
        "NaN": math.nan,
        "POSITIVE_INFINITY": math.inf,
        "NEGATIVE_INFINITY": -math.inf,
    },
    "Float": {
        "MAX_VALUE": JFloat(_f32(3.4028234663852886e38)),
        "MIN_VALUE": JFloat(_f32(1.401298464324817e-45)),
        "NaN": JFloat(math.nan),
        "POSITIVE_INFINITY": JFloat(math.inf),
        "NEGATIVE_INFINITY": JFloat(-math.inf),
    },
    "Integer": {"MAX_VALUE": _INT_MAX, "MIN_VALUE": _INT_MIN},
    "Long": {"MAX_VALUE": JLong(_LONG_MAX), "MIN_VALUE": JLong(_LONG_MIN)},
}
_DOUBLE_PREDICATES = {"isNaN": lambda x: math.isnan(x), "isInfinite": math.isinf, "isFinite": math.isfinite}

_VECTOR_FUNCTIONS = ("cosineSimilarity", "dotProduct", "l1norm", "l2norm")
_UNSUPPORTED_FUNCTIONS = {
    "hamming", "randomScore", "decayNumericLinear", "decayNumericExp", "decayNumericGauss", "decayGeoLinear",
    "decayGeoExp", "decayGeoGauss", "decayDateLinear", "decayDateExp", "decayDateGauss",
    "documentFrequencyStatistics", "termFrequencyStatistics", "field", "maxSimDotProduct", "maxSimInvHamming",
    "emit",
}


# --------------------------------------------------------------------------- vector kernels


def _as_f32_matrix(rows: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(rows, dtype=np.float32)


def _dot_rows(doc32: np.ndarray, q32: np.ndarray) -> np.ndarray:
    """Row dot products: exact float32 products summed in float64, rounded to float32 like VectorUtil."""
    return np.einsum("ij,j->i", doc32.astype(np.float64), q32.astype(np.float64)).astype(np.float32)


def _self_dot_rows(doc32: np.ndarray) -> np.ndarray:
    """Each row's dot product with itself, rounded to float32 like VectorUtil.dotProduct(v, v)."""
    d64 = doc32.astype(np.float64)
    return np.einsum("ij,ij->i", d64, d64).astype(np.float32)


def _vector_kernel(fn: str, doc32: np.ndarray, q32: np.ndarray) -> np.ndarray:
    """`fn` of each document row against the query, as float64 (the ES function returns double)."""
    with np.errstate(all="ignore"):
        if fn == "dotProduct":
            return _dot_rows(doc32, q32).astype(np.float64)
        if fn == "cosineSimilarity":
            q64 = q32.astype(np.float64)
            magnitude = math.sqrt(float(np.add.reduce((q32 * q32).astype(np.float64))))
            q_norm = (q64 / magnitude).astype(np.float32) if magnitude else np.full_like(q32, np.nan)
            dots = _dot_rows(doc32, q_norm).astype(np.float64)
            doc_mag = np.sqrt(_self_dot_rows(doc32).astype(np.float64)).astype(np.float32).astype(np.float64)
            return dots / doc_mag
        diff = (doc32 - q32[None, :]).astype(np.float64)
        if fn == "l1norm":
            return np.add.reduce(np.abs(diff), axis=1)
        return np.sqrt(np.add.reduce(diff * diff, axis=1).astype(np.float32).astype(np.float64))


def _query_vector(v: Any, node: Any) -> np.ndarray:
    if isinstance(v, DocValues) or not isinstance(v, list):
        raise _err(
            f"Cannot cast {_java_class(v)} to java.util.List",
            node,
            "null_pointer_exception" if v is None else "class_cast_exception",
        )
    out = np.empty(len(v), dtype=np.float32)
    with np.errstate(over="ignore"):
        for i, x in enumerate(v):
            if _num_kind(x) < 0:
                raise _err(f"Cannot cast {_java_class(x)} to java.lang.Number", node, "class_cast_exception")
            out[i] = float(x)
    return out


def _dims_message(query_dims: int, doc_dims: int) -> str:
    return f"The query vector has a different number of dimensions [{query_dims}] than the document vectors [{doc_dims}]."


# --------------------------------------------------------------------------- compiler


class _Frame:
    __slots__ = ("ctx", "docs", "params", "slots")

    def __init__(self, nslots: int, ctx: ScriptContext, params: dict) -> None:
        self.slots: list[Any] = [None] * nslots
        self.ctx = ctx
        self.docs: dict[str, DocValues] = {}
        self.params = params


Fn = Callable[[_Frame], Any]


class _Expr:
    """A compiled expression: a closure plus its static Painless type."""

    __slots__ = ("fn", "node", "stype")

    def __init__(self, fn: Fn, stype: str, node: Node) -> None:
        self.fn, self.stype, self.node = fn, stype, node


_NUMERIC = ("int", "long", "float", "double")


def _static_promote(a: str, b: str) -> str:
    return _NUMERIC[max(_NUMERIC.index(a), _NUMERIC.index(b))]


class _Compiler:
    def __init__(self, src: str) -> None:
        self.src = src
        self.scopes: list[dict[str, tuple[int, str]]] = [{}]
        self.nslots = 0
        self.uses_score = False
        self.stypes: dict[int, str] = {}  # id(node) -> static type, for the batch path's promotions

    # -- scopes
    def lookup(self, name: str) -> tuple[int, str] | None:
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        return None

    def declare(self, name: str, stype: str, pos: int) -> int:
        if name in ("params", "doc", "_score", "ctx", "explanation", "_termStats") or self.lookup(name) is not None:
            raise _compile_err(f"variable [{name}] is already defined", pos)
        slot = self.nslots
        self.nslots += 1
        self.scopes[-1][name] = (slot, stype)
        return slot

    # -- statements
    def program(self, body: list[Stmt]) -> Callable[[_Frame], tuple[bool, Any]]:
        if body and isinstance(body[-1], ExprStmt):
            last = body[-1]
            body = body[:-1] + [Return(last.expr, last.expr.pos, last.start, last.end)]
        return self.block(body)

    def block(self, body: list[Stmt]) -> Callable[[_Frame], tuple[bool, Any]]:
        self.scopes.append({})
        fns = [self.statement(s) for s in body]
        self.scopes.pop()

        def run(frame: _Frame) -> tuple[bool, Any]:
            for fn in fns:
                done, value = fn(frame)
                if done:
                    return True, value
            return False, None

        return run

    def statement(self, stmt: Stmt) -> Callable[[_Frame], tuple[bool, Any]]:
        start, end = stmt.start, stmt.end
        try:
            fn = self._statement(stmt)
        except ScriptError as exc:
            if exc.start < 0:
                exc.start, exc.end = start, end
            raise

        def run(frame: _Frame) -> tuple[bool, Any]:
            try:
                return fn(frame)
            except ScriptError as exc:
                if exc.start < 0:
                    exc.start, exc.end = start, end
                raise

        return run

    def _statement(self, stmt: Stmt) -> Callable[[_Frame], tuple[bool, Any]]:
        if isinstance(stmt, Block):
            return self.block(stmt.body)
        if isinstance(stmt, Return):
            if stmt.expr is None:
                raise _compile_err("Cannot cast from [void] to [double].", stmt.pos)
            expr = self.expr(stmt.expr)
            if expr.stype not in _NUMERIC and expr.stype != "def":
                raise _compile_err(f"Cannot cast from [{expr.stype}] to [double].", stmt.expr.pos)
            efn, enode = expr.fn, stmt.expr

            def ret(frame: _Frame) -> tuple[bool, Any]:
                return True, _result_double(efn(frame), enode)

            return ret
        if isinstance(stmt, Decl):
            inits: list[tuple[int, Fn | None, Node | None]] = []
            for name, init, pos in stmt.names:
                efn = None
                if init is not None:
                    e = self.expr(init)
                    self.check_assignable(stmt.type, e.stype, init.pos)
                    efn = e.fn
                slot = self.declare(name, stmt.type, pos)
                inits.append((slot, efn, init))
            target = stmt.type
            default = _default_value(target)

            def decl(frame: _Frame) -> tuple[bool, Any]:
                for slot, efn, init in inits:
                    frame.slots[slot] = default if efn is None else _cast_implicit(target, efn(frame), init)
                return False, None

            return decl
        if isinstance(stmt, If):
            cond = self.expr(stmt.cond)
            self.check_boolean(cond)
            then = self.block(stmt.then)
            other = self.block(stmt.other) if stmt.other is not None else None
            cfn, cnode = cond.fn, stmt.cond

            def if_(frame: _Frame) -> tuple[bool, Any]:
                c = cfn(frame)
                if type(c) is not bool:
                    raise _err(f"Cannot cast {_java_class(c)} to java.lang.Boolean", cnode, "class_cast_exception")
                if c:
                    return then(frame)
                if other is not None:
                    return other(frame)
                return False, None

            return if_
        if isinstance(stmt, ExprStmt):
            if not isinstance(stmt.expr, (Assign, Call, MethodCall)):
                raise _compile_err("Not a statement.", stmt.expr.pos)
            efn = self.expr(stmt.expr).fn

            def run_expr(frame: _Frame) -> tuple[bool, Any]:
                efn(frame)
                return False, None

            return run_expr
        raise _compile_err("unknown statement", getattr(stmt, "start", -1))  # pragma: no cover

    # -- static checks
    def check_assignable(self, target: str, source: str, pos: int) -> None:
        if source in ("def", "null") and (source != "null" or target not in _NUMERIC + ("boolean",)):
            return
        if target == "def" or target == source:
            return
        if target in _WIDENING and source in _WIDENING[target]:
            return
        raise _compile_err(f"Cannot cast from [{source}] to [{target}].", pos)

    def check_boolean(self, e: _Expr) -> None:
        if e.stype not in ("boolean", "def"):
            raise _compile_err(f"Cannot cast from [{e.stype}] to [boolean].", e.node.pos)

    # -- expressions
    def expr(self, node: Node) -> _Expr:
        method = getattr(self, "x_" + type(node).__name__)
        out = method(node)
        self.stypes[id(node)] = out.stype
        return out

    def x_Lit(self, node: Lit) -> _Expr:
        value = node.value
        return _Expr(lambda frame: value, "null" if value is None else _static_of(value), node)

    def x_Name(self, node: Name) -> _Expr:
        name = node.name
        found = self.lookup(name)
        if found is not None:
            slot, stype = found
            return _Expr(lambda frame: frame.slots[slot], stype, node)
        if name == "_score":
            self.uses_score = True
            return _Expr(lambda frame: float(frame.ctx.score), "double", node)
        if name == "params":
            return _Expr(lambda frame: frame.params, "Map", node)
        if name == "doc":
            return _Expr(lambda frame: _DOC_MAP, "Map", node)
        if name in ("_termStats", "explanation", "_source", "ctx"):
            raise _unsupported(f"the script variable [{name}]", node.pos)
        if name in _KNOWN_CLASSES:
            raise _compile_err(f"cannot use the class [{name}] as a value", node.pos)
        raise _compile_err(f"cannot resolve symbol [{name}]", node.pos)

    def x_Assign(self, node: Assign) -> _Expr:
        found = self.lookup(node.target.name)
        if found is None:
            if node.target.name in ("_score", "params", "doc"):
                raise _compile_err(f"invalid assignment: cannot assign a value to read-only variable [{node.target.name}]",
                                   node.pos)
            raise _compile_err(f"cannot resolve symbol [{node.target.name}]", node.target.pos)
        slot, stype = found
        value = self.expr(node.value)
        if node.op == "=":
            self.check_assignable(stype, value.stype, node.value.pos)
            vfn, vnode = value.fn, node.value

            def assign(frame: _Frame) -> Any:
                v = _cast_implicit(stype, vfn(frame), vnode)
                frame.slots[slot] = v
                return v

            return _Expr(assign, stype, node)
        op = node.op[0]
        vfn = value.fn

        def compound(frame: _Frame) -> Any:
            current = frame.slots[slot]
            result = _arith(op, current, vfn(frame), node)
            v = result if stype == "def" else _cast_explicit(stype, result, node) if stype in _NUMERIC else (
                _cast_implicit(stype, result, node))
            frame.slots[slot] = v
            return v

        return _Expr(compound, stype, node)

    def x_Unary(self, node: Unary) -> _Expr:
        operand = self.expr(node.operand)
        ofn = operand.fn
        if node.op == "!":
            self.check_boolean(operand)

            def not_(frame: _Frame) -> bool:
                v = ofn(frame)
                if type(v) is not bool:
                    raise _err(f"Cannot cast {_java_class(v)} to java.lang.Boolean", node, "class_cast_exception")
                return not v

            return _Expr(not_, "boolean", node)
        if operand.stype not in _NUMERIC and operand.stype != "def":
            raise _compile_err(f"Cannot apply [{node.op}] operation to type [{operand.stype}].", node.pos)
        stype = operand.stype
        if node.op == "+":
            def plus(frame: _Frame) -> Any:
                v = ofn(frame)
                if _num_kind(v) < 0:
                    raise _err(f"Cannot apply [+] operation to type [{_java_class(v)}].", node, "class_cast_exception")
                return v

            return _Expr(plus, stype, node)

        def neg(frame: _Frame) -> Any:
            v = ofn(frame)
            kind = _num_kind(v)
            if kind < 0:
                raise _err(f"Cannot apply [-] operation to type [{_java_class(v)}].", node, "class_cast_exception")
            return _box(kind, -v) if kind <= _LONG else (JFloat(-v) if kind == _FLOAT else -v)

        return _Expr(neg, stype, node)

    def x_Binary(self, node: Binary) -> _Expr:
        left, right = self.expr(node.left), self.expr(node.right)
        lfn, rfn, op = left.fn, right.fn, node.op
        if op in ("&&", "||"):
            self.check_boolean(left)
            self.check_boolean(right)
            is_and = op == "&&"

            def logic(frame: _Frame) -> bool:
                a = lfn(frame)
                if type(a) is not bool:
                    raise _err(f"Cannot cast {_java_class(a)} to java.lang.Boolean", node.left, "class_cast_exception")
                if a is not is_and:
                    return a
                b = rfn(frame)
                if type(b) is not bool:
                    raise _err(f"Cannot cast {_java_class(b)} to java.lang.Boolean", node.right, "class_cast_exception")
                return b

            return _Expr(logic, "boolean", node)
        if op in ("==", "!="):
            negate = op == "!="
            ls, rs = left.stype, right.stype
            if ls in _NUMERIC and rs in _NUMERIC or ls == rs or "def" in (ls, rs) or "null" in (ls, rs):
                pass
            else:
                raise _compile_err(f"Cannot apply [{op}] operation to types [{ls}] and [{rs}].", node.pos)

            def eq(frame: _Frame) -> bool:
                return _def_equals(lfn(frame), rfn(frame)) is not negate

            return _Expr(eq, "boolean", node)
        for side in (left, right):
            bad = side.stype not in _NUMERIC and side.stype != "def"
            if bad and not (op == "+" and "String" in (left.stype, right.stype)):
                raise _compile_err(f"Cannot apply [{op}] operation to types [{left.stype}] and [{right.stype}].", node.pos)
        if op in ("<", "<=", ">", ">="):
            return _Expr(lambda frame: _compare(op, lfn(frame), rfn(frame), node), "boolean", node)
        if op == "+" and "String" in (left.stype, right.stype):
            stype = "String"
        elif left.stype in _NUMERIC and right.stype in _NUMERIC:
            stype = _static_promote(left.stype, right.stype)
        else:
            stype = "def"
        return _Expr(lambda frame: _arith(op, lfn(frame), rfn(frame), node), stype, node)

    def x_Ternary(self, node: Ternary) -> _Expr:
        cond, then, other = self.expr(node.cond), self.expr(node.then), self.expr(node.other)
        self.check_boolean(cond)
        cfn, tfn, ofn = cond.fn, then.fn, other.fn
        if then.stype in _NUMERIC and other.stype in _NUMERIC and then.stype != other.stype:
            stype = _static_promote(then.stype, other.stype)
            tfn = _converting(tfn, stype, node)
            ofn = _converting(ofn, stype, node)
        elif then.stype == other.stype:
            stype = then.stype
        else:
            stype = "def"

        def ternary(frame: _Frame) -> Any:
            c = cfn(frame)
            if type(c) is not bool:
                raise _err(f"Cannot cast {_java_class(c)} to java.lang.Boolean", node.cond, "class_cast_exception")
            return tfn(frame) if c else ofn(frame)

        return _Expr(ternary, stype, node)

    def x_Cast(self, node: Cast) -> _Expr:
        inner = self.expr(node.expr)
        if inner.stype in ("boolean", "String", "Map") or inner.stype.endswith("[]"):
            raise _compile_err(f"Cannot cast from [{inner.stype}] to [{node.type}].", node.pos)
        ifn, target = inner.fn, node.type
        return _Expr(lambda frame: _cast_explicit(target, ifn(frame), node), target, node)

    def x_FieldAccess(self, node: FieldAccess) -> _Expr:
        obj = node.obj
        if isinstance(obj, Name) and self.lookup(obj.name) is None and obj.name in _KNOWN_CLASSES:
            constants = _CLASS_CONSTANTS.get(obj.name)
            if constants is None or node.name not in constants:
                if obj.name in _CLASS_CONSTANTS or obj.name in ("System", "String"):
                    raise _compile_err(f"Unknown field [{node.name}] for type [{obj.name}].", node.pos)
                raise _unsupported(f"the class [{obj.name}]", obj.pos)
            value = constants[node.name]
            return _Expr(lambda frame: value, _static_of(value), node)
        target = self.expr(obj)
        tfn, name = target.fn, node.name
        if isinstance(obj, Name) and obj.name == "params" and target.stype == "Map" and name == "_source":
            raise _unsupported("params._source", node.pos)
        stype = "int" if name == "length" and target.stype.endswith("[]") else "def"
        return _Expr(lambda frame: _get_field(tfn(frame), name, node, frame), stype, node)

    def x_IndexAccess(self, node: IndexAccess) -> _Expr:
        target, index = self.expr(node.obj), self.expr(node.index)
        tfn, ifn = target.fn, index.fn
        if isinstance(node.obj, Name) and node.obj.name == "params" and isinstance(node.index, Lit) \
                and node.index.value == "_source":
            raise _unsupported("params._source", node.pos)
        stype = target.stype[:-2] if target.stype.endswith("[]") else "def"
        return _Expr(lambda frame: _get_index(tfn(frame), ifn(frame), node, frame), stype, node)

    def x_MethodCall(self, node: MethodCall) -> _Expr:
        obj = node.obj
        args = [self.expr(a) for a in node.args]
        afns = [a.fn for a in args]
        if isinstance(obj, Name) and self.lookup(obj.name) is None and obj.name in _KNOWN_CLASSES:
            return self.static_call(obj.name, node, args)
        target = self.expr(obj)
        tfn, name = target.fn, node.name
        return _Expr(lambda frame: _call_method(tfn(frame), name, [f(frame) for f in afns], node, frame), "def", node)

    def static_call(self, cls: str, node: MethodCall, args: list[_Expr]) -> _Expr:
        name, n = node.name, len(args)
        for a in args:
            if a.stype not in _NUMERIC and a.stype != "def":
                raise _compile_err(
                    f"Cannot cast from [{a.stype}] to [double].", a.node.pos
                ) if cls in ("Math", "Double") else _unsupported(f"[{cls}.{name}]", node.pos)
        afns = [a.fn for a in args]
        if cls == "Math":
            if name == "random":
                raise _unsupported("Math.random() (nondeterministic)", node.pos)
            if name == "round" and n == 1:
                f0 = afns[0]
                return _Expr(lambda frame: _jround(_double_arg(f0(frame), node)), "long", node)
            if name in _MATH_1 and n == 1:
                fn1, f0 = _MATH_1[name], afns[0]
                return _Expr(lambda frame: fn1(_double_arg(f0(frame), node)), "double", node)
            if name in _MATH_2 and n == 2:
                fn2, f0, f1 = _MATH_2[name], afns[0], afns[1]
                return _Expr(lambda frame: fn2(_double_arg(f0(frame), node), _double_arg(f1(frame), node)), "double", node)
            if name == "scalb" and n == 2:
                f0, f1 = afns
                return _Expr(lambda frame: math.ldexp(_double_arg(f0(frame), node), int(f1(frame))), "double", node)
            raise _compile_err(f"Unknown call [{name}] with [{n}] arguments on type [Math].", node.pos)
        if cls == "Double" and name in _DOUBLE_PREDICATES and n == 1:
            pred, f0 = _DOUBLE_PREDICATES[name], afns[0]
            return _Expr(lambda frame: bool(pred(_double_arg(f0(frame), node))), "boolean", node)
        if cls == "Double" and name in ("max", "min", "sum") and n == 2:
            f0, f1 = afns
            op2 = {"max": _jmax, "min": _jmin, "sum": lambda a, b: a + b}[name]
            return _Expr(lambda frame: op2(_double_arg(f0(frame), node), _double_arg(f1(frame), node)), "double", node)
        if cls == "System" and name in ("currentTimeMillis", "nanoTime"):
            raise _unsupported(f"System.{name}() (nondeterministic)", node.pos)
        if cls == "System":  # only arraycopy/currentTimeMillis/nanoTime are whitelisted on System
            raise _compile_err(f"Unknown call [{name}] with [{n}] arguments on type [{cls}].", node.pos)
        raise _unsupported(f"[{cls}.{name}]", node.pos)

    def x_Call(self, node: Call) -> _Expr:
        name, n = node.name, len(node.args)
        args = [self.expr(a) for a in node.args]
        afns = [a.fn for a in args]
        if name in _VECTOR_FUNCTIONS:
            if n != 2:
                raise _compile_err(f"Unknown call [{name}] with [{n}] arguments.", node.pos)
            for a, want in ((args[0], ("def", "Map", "List")), (args[1], ("def", "String"))):
                if a.stype not in want and a.stype != "null":
                    raise _compile_err(
                        f"Cannot cast from [{a.stype}] to [{'java.util.List' if a is args[0] else 'java.lang.String'}].",
                        a.node.pos,
                    )
            qfn, ffn = afns
            return _Expr(lambda frame: _vector_function(name, qfn(frame), ffn(frame), frame, node), "double", node)
        if name == "saturation" and n == 2:
            f0, f1 = afns
            return _Expr(lambda frame: _saturation(_double_arg(f0(frame), node), _double_arg(f1(frame), node)), "double",
                         node)
        if name == "sigmoid" and n == 3:
            f0, f1, f2 = afns
            return _Expr(
                lambda frame: _sigmoid(_double_arg(f0(frame), node), _double_arg(f1(frame), node),
                                       _double_arg(f2(frame), node)),
                "double",
                node,
            )
        if name in _UNSUPPORTED_FUNCTIONS:
            raise _unsupported(f"the script function [{name}]", node.pos)
        raise _compile_err(f"Unknown call [{name}] with [{n}] arguments.", node.pos)


def _converting(fn: Fn, stype: str, node: Node) -> Fn:
    return lambda frame: _cast_explicit(stype, fn(frame), node)


def _default_value(stype: str) -> Any:
    return {"int": 0, "long": JLong(0), "float": JFloat(0.0), "double": 0.0, "boolean": False}.get(stype)


def _double_arg(v: Any, node: Any) -> float:
    if _num_kind(v) < 0:
        raise _err(
            f"Cannot cast {_java_class(v)} to double",
            node,
            "null_pointer_exception" if v is None else "class_cast_exception",
        )
    return float(v)


def _result_double(v: Any, node: Any) -> float:
    """The ScoreScript contract: the script's value as a Java double."""
    if _num_kind(v) < 0:
        raise _err(
            f"Cannot cast {_java_class(v)} to double",
            node,
            "null_pointer_exception" if v is None else "class_cast_exception",
        )
    return float(v)


def _saturation(value: float, k: float) -> float:
    return _java_div_double(value, k + value)


def _sigmoid(value: float, k: float, a: float) -> float:
    va = _jpow(value, a)
    return _java_div_double(va, _jpow(k, a) + va)


class _DocMap:
    """The `doc` variable (LeafDocLookup)."""


_DOC_MAP = _DocMap()


def _lookup_doc(frame: _Frame, field: Any, node: Any) -> DocValues:
    if type(field) is not str:
        raise _err(f"Cannot cast {_java_class(field)} to java.lang.String", node, "class_cast_exception")
    cached = frame.docs.get(field)
    if cached is not None:
        return cached
    ftype = frame.ctx.field_type(field)
    if ftype is None:
        raise _err(f"No field found for [{field}] in mapping", node)
    values = DocValues(field, ftype, list(frame.ctx.doc_values(field) or []))
    frame.docs[field] = values
    return values


_DOC_GETTERS = {  # Painless' getter shortcut: `.value` calls getValue(), `.empty` isEmpty(), ...
    "value": "getValue",
    "vectorValue": "getVectorValue",
    "magnitude": "getMagnitude",
    "empty": "isEmpty",
    "length": "getLength",
    "values": "getValues",
    "dims": "dims",
}


def _get_field(obj: Any, name: str, node: Any, frame: _Frame) -> Any:
    """`obj.name`: Map shortcut, getter shortcut (`.value` -> getValue()), `.length`."""
    if obj is _DOC_MAP:
        return _lookup_doc(frame, name, node)
    if isinstance(obj, dict):
        return obj.get(name)
    if isinstance(obj, DocValues) and name in _DOC_GETTERS:
        return _call_method(obj, _DOC_GETTERS[name], [], node, frame)
    if isinstance(obj, list) and name == "length":
        return len(obj)
    if isinstance(obj, str) and name == "empty":
        return len(obj) == 0
    if isinstance(obj, list) and name == "empty":
        return len(obj) == 0
    if obj is None:
        raise _err(f"cannot access field [{name}] of a null value", node, "null_pointer_exception")
    raise _err(f"dynamic getter [{_java_class(obj)}, {name}] not found", node)


def _normalize_index(i: int, size: int) -> int:
    return i + size if i < 0 else i


def _get_index(obj: Any, index: Any, node: Any, frame: _Frame) -> Any:
    if obj is _DOC_MAP:
        return _lookup_doc(frame, index, node)
    if isinstance(obj, dict):
        return obj.get(index)
    if isinstance(obj, DocValues):
        return obj.get(index, node)
    if isinstance(obj, list):
        i = _index_of(index, node)
        j = _normalize_index(i, len(obj))
        if not 0 <= j < len(obj):
            kind = "array_index_out_of_bounds_exception" if isinstance(obj, FloatArray) else "index_out_of_bounds_exception"
            raise _err(f"Index {i} out of bounds for length {len(obj)}", node, kind)
        return obj[j]
    if obj is None:
        raise _err("cannot index into a null value", node, "null_pointer_exception")
    raise _err(f"Attempting to address a non-array-like type [{_java_class(obj)}] as an array.", node)


def _call_method(obj: Any, name: str, args: list[Any], node: Any, frame: _Frame) -> Any:
    n = len(args)
    if obj is _DOC_MAP:
        if name == "get" and n == 1:
            return _lookup_doc(frame, args[0], node)
        if name == "containsKey" and n == 1:
            return type(args[0]) is str and frame.ctx.field_type(args[0]) is not None
        raise _unsupported(f"doc.{name}()", node.pos)
    if isinstance(obj, DocValues):
        return _doc_method(obj, name, args, node)
    if isinstance(obj, dict):
        if name == "get" and n == 1:
            return obj.get(args[0])
        if name == "getOrDefault" and n == 2:
            return obj.get(args[0], args[1]) if args[0] in obj else args[1]
        if name == "containsKey" and n == 1:
            return args[0] in obj
        if name == "size" and n == 0:
            return len(obj)
        if name == "isEmpty" and n == 0:
            return len(obj) == 0
    elif isinstance(obj, list):
        if name == "size" and n == 0 and not isinstance(obj, FloatArray):
            return len(obj)
        if name == "get" and n == 1 and not isinstance(obj, FloatArray):
            i = _index_of(args[0], node)
            if not 0 <= i < len(obj):
                raise _err(f"Index {i} out of bounds for length {len(obj)}", node, "index_out_of_bounds_exception")
            return obj[i]
        if name == "isEmpty" and n == 0 and not isinstance(obj, FloatArray):
            return len(obj) == 0
        if name == "contains" and n == 1 and not isinstance(obj, FloatArray):
            return any(_java_equals(x, args[0]) for x in obj)
    elif isinstance(obj, str):
        if name == "length" and n == 0:
            return len(obj.encode("utf-16-le")) // 2
        if name == "isEmpty" and n == 0:
            return len(obj) == 0
        if name == "equals" and n == 1:
            return _java_equals(obj, args[0])
        if name in ("contains", "startsWith", "endsWith") and n == 1 and type(args[0]) is str:
            return {"contains": args[0] in obj, "startsWith": obj.startswith(args[0]),
                    "endsWith": obj.endswith(args[0])}[name]
        if name in ("toLowerCase", "toUpperCase", "trim") and n == 0:
            return {"toLowerCase": obj.lower(), "toUpperCase": obj.upper(),
                    "trim": obj.strip("".join(chr(c) for c in range(33)))}[name]
    elif _num_kind(obj) >= 0 and n == 0:
        conv = {"doubleValue": "double", "floatValue": "float", "longValue": "long", "intValue": "int"}.get(name)
        if conv is not None:
            return _cast_explicit(conv, obj, node)
    elif obj is None:
        raise _err(f"cannot invoke [{name}] on a null value", node, "null_pointer_exception")
    if name == "equals" and n == 1:
        return _java_equals(obj, args[0])
    if name == "toString" and n == 0:
        return _java_str(obj)
    raise _err(f"dynamic method [{_java_class(obj)}, {name}/{n}] not found", node)


def _doc_method(dv: DocValues, name: str, args: list[Any], node: Any) -> Any:
    n = len(args)
    if name in ("size", "getLength") and n == 0:
        return dv.size()
    if name == "isEmpty" and n == 0:
        return dv.size() == 0
    if dv.family == "vector":
        if name == "getVectorValue" and n == 0:
            return FloatArray(JFloat(_f32(x)) for x in dv.vector(node))
        if name == "getMagnitude" and n == 0:
            v32 = _as_f32_matrix(np.asarray([dv.vector(node)], dtype=np.float64))
            return JFloat(_f32(math.sqrt(float(_self_dot_rows(v32)[0]))))
        if name == "dims" and n == 0:
            return len(dv.vector(node))
        if name in ("getValue", "get"):
            raise _err(VECTOR_VALUE_UNSUPPORTED, node, "unsupported_operation_exception")
    else:
        if name == "getValue" and n == 0:
            return dv.get(0, node)
        if name == "get" and n == 1:
            return dv.get(args[0], node)
        if name == "getValues" and n == 0:
            if dv.family == "date":
                raise UnsupportedScript("date doc values in scripts (ZonedDateTime)", phase="runtime", offset=node.pos)
            return list(dv.values)
        if name == "contains" and n == 1:
            return any(_java_equals(x, args[0]) for x in dv.values)
    raise _err(f"dynamic method [{dv.java_class()}, {name}/{n}] not found", node)


def _vector_function(fn: str, query: Any, field: Any, frame: _Frame, node: Any) -> float:
    if type(field) is not str:
        raise _err(f"Cannot cast {_java_class(field)} to java.lang.String", node, "class_cast_exception")
    ctx = frame.ctx
    ftype = ctx.field_type(field)
    if ftype is None:
        raise _err(f"No field found for [{field}] in mapping", node)
    if ftype != "dense_vector":
        raise _err(
            f"class {_DOC_CLASS.get('long' if ftype in _LONG_TYPES else 'string', 'field')} cannot be cast to class "
            "org.elasticsearch.script.field.vectors.DenseVectorDocValuesField",
            node,
            "class_cast_exception",
        )
    if not isinstance(query, list) or isinstance(query, FloatArray):
        raise _err(
            f"Cannot cast {_java_class(query)} to java.util.List",
            node,
            "null_pointer_exception" if query is None else "class_cast_exception",
        )
    mapped = ctx.vector_dims(field) if ctx.vector_dims is not None else None
    if mapped is not None and mapped != len(query):
        raise _err(_dims_message(len(query), mapped), node)
    q32 = _query_vector(query, node)
    dv = _lookup_doc(frame, field, node)
    vec = dv.vector(node)
    if len(vec) != len(q32):
        raise _err(_dims_message(len(q32), len(vec)), node)
    doc32 = _as_f32_matrix(np.asarray([vec], dtype=np.float64))
    return float(_vector_kernel(fn, doc32, q32)[0])


# --------------------------------------------------------------------------- batch (numpy) path


class _NoBatch(Exception):
    """The script (or these inputs) is outside the vectorised subset; evaluate per document."""


_NP_KIND = {"int": np.int32, "long": np.int64, "float": np.float32, "double": np.float64}


class _BVal:
    """A value over all documents: `kind` plus an array (or a broadcast scalar) and an error mask."""

    __slots__ = ("err", "kind", "v")

    def __init__(self, kind: str, v: Any, err: np.ndarray | None = None) -> None:
        self.kind, self.v, self.err = kind, v, err


def _or_err(*masks: np.ndarray | None) -> np.ndarray | None:
    out = None
    for m in masks:
        if m is None:
            continue
        out = m if out is None else (out | m)
    return out


class _Batch:
    """Evaluates the AST over all documents with numpy; raises `_NoBatch` when it cannot."""

    def __init__(self, ctx: BatchContext, n: int, stypes: dict[int, str]) -> None:
        self.ctx = ctx
        self.n = n
        self.stypes = stypes
        self.locals: dict[str, _BVal] = {}
        self.columns: dict[str, Sequence[list]] = {}

    def column(self, field: str) -> Sequence[list]:
        col = self.columns.get(field)
        if col is None:
            col = self.ctx.doc_values(field)
            if len(col) != self.n:
                raise ValueError(f"doc_values({field!r}) returned {len(col)} entries for {self.n} documents")
            self.columns[field] = col
        return col

    def run(self, body: list[Stmt]) -> np.ndarray:
        if not body:
            return np.zeros(self.n)
        *head, last = body
        for stmt in head:
            if not isinstance(stmt, Decl):
                raise _NoBatch
            for name, init, _pos in stmt.names:
                if init is None or stmt.type not in ("def",) + _NUMERIC:
                    raise _NoBatch
                val = self.ev(init)
                self.locals[name] = val if stmt.type == "def" else self.widen(val, stmt.type)
        if not isinstance(last, (Return, ExprStmt)) or last.expr is None:
            raise _NoBatch
        out = self.ev(last.expr)
        if out.kind not in _NUMERIC or (out.err is not None and out.err.any()):
            raise _NoBatch
        return np.broadcast_to(np.asarray(out.v, dtype=np.float64), (self.n,)).copy()

    def widen(self, val: _BVal, target: str) -> _BVal:
        if val.kind not in _NUMERIC or _NUMERIC.index(val.kind) > _NUMERIC.index(target):
            raise _NoBatch
        return self.convert(val, target)

    def convert(self, val: _BVal, target: str) -> _BVal:
        if val.kind == target:
            return val
        dtype = _NP_KIND[target]
        with np.errstate(all="ignore"):
            if target in ("int", "long") and val.kind in ("float", "double"):
                info = np.iinfo(dtype)
                arr = np.asarray(val.v, dtype=np.float64)
                arr = np.where(np.isnan(arr), 0.0, np.clip(np.trunc(arr), float(info.min), float(info.max)))
                out = np.where(arr >= float(info.max), info.max, arr.astype(dtype))
                return _BVal(target, out.astype(dtype), val.err)
            return _BVal(target, np.asarray(val.v).astype(dtype), val.err)

    # -- expression evaluation
    def ev(self, node: Node) -> _BVal:
        method = getattr(self, "b_" + type(node).__name__, None)
        if method is None:
            raise _NoBatch
        return method(node)

    def b_Lit(self, node: Lit) -> _BVal:
        return self.scalar(node.value)

    def scalar(self, v: Any) -> _BVal:
        kind = _num_kind(v)
        if kind >= 0:
            return _BVal(_KIND_NAMES[kind], _NP_KIND[_KIND_NAMES[kind]](v))
        if type(v) is bool:
            return _BVal("boolean", np.bool_(v))
        if type(v) is str:
            return _BVal("String", v)
        if isinstance(v, list) and not isinstance(v, DocValues):
            return _BVal("list", v)
        raise _NoBatch

    def b_Name(self, node: Name) -> _BVal:
        if node.name in self.locals:
            return self.locals[node.name]
        if node.name == "_score":
            return _BVal("double", np.asarray(self.ctx.scores, dtype=np.float64))
        raise _NoBatch

    def param(self, node: Node) -> Any:
        if isinstance(node, FieldAccess) and isinstance(node.obj, Name) and node.obj.name == "params" \
                and "params" not in self.locals and node.name != "_source":
            return _to_java(self.ctx.params.get(node.name))
        if isinstance(node, IndexAccess) and isinstance(node.obj, Name) and node.obj.name == "params" \
                and "params" not in self.locals and isinstance(node.index, Lit) and type(node.index.value) is str \
                and node.index.value != "_source":
            return _to_java(self.ctx.params.get(node.index.value))
        raise _NoBatch

    def b_FieldAccess(self, node: FieldAccess) -> _BVal:
        if isinstance(node.obj, Name) and node.obj.name in _CLASS_CONSTANTS and node.obj.name not in self.locals:
            constants = _CLASS_CONSTANTS[node.obj.name]
            if node.name in constants:
                return self.scalar(constants[node.name])
            raise _NoBatch
        if isinstance(node.obj, Name) and node.obj.name == "params":
            return self.scalar(self.param(node))
        field = self.doc_field(node.obj)
        if field is not None and node.name == "value":
            return self.doc_value(field)
        if field is not None and node.name in ("empty", "length"):
            return self.doc_size(field, node.name)
        raise _NoBatch

    def b_IndexAccess(self, node: IndexAccess) -> _BVal:
        return self.scalar(self.param(node))

    def b_MethodCall(self, node: MethodCall) -> _BVal:
        field = self.doc_field(node.obj)
        if field is not None and not node.args and node.name in ("size", "isEmpty", "getValue"):
            if node.name == "getValue":
                return self.doc_value(field)
            return self.doc_size(field, "empty" if node.name == "isEmpty" else "size")
        if isinstance(node.obj, Name) and node.obj.name == "Math" and "Math" not in self.locals:
            args = [self.double(self.ev(a)) for a in node.args]
            if node.name in _MATH_NP and len(args) == _MATH_NP[node.name][0]:
                _arity, fn = _MATH_NP[node.name]
                with np.errstate(all="ignore"):
                    return _BVal("double", fn(*[a.v for a in args]), _or_err(*[a.err for a in args]))
        raise _NoBatch

    def doc_field(self, node: Node) -> str | None:
        if isinstance(node, IndexAccess) and isinstance(node.obj, Name) and node.obj.name == "doc" \
                and "doc" not in self.locals:
            if isinstance(node.index, Lit) and type(node.index.value) is str:
                return node.index.value
            return None
        if isinstance(node, FieldAccess) and isinstance(node.obj, Name) and node.obj.name == "doc" \
                and "doc" not in self.locals:
            return node.name
        return None

    def doc_value(self, field: str) -> _BVal:
        ftype = self.ctx.field_type(field)
        if ftype is None or (ftype not in _LONG_TYPES and ftype not in _DOUBLE_TYPES):
            raise _NoBatch
        col = self.column(field)
        missing = np.fromiter((not vals for vals in col), dtype=bool, count=self.n)
        firsts = [vals[0] if vals else 0 for vals in col]
        if ftype in _LONG_TYPES:
            return _BVal("long", np.asarray(firsts, dtype=np.int64), missing)
        arr = np.asarray(firsts, dtype=np.float64)
        if ftype == "float":
            arr = arr.astype(np.float32).astype(np.float64)
        elif ftype == "half_float":
            arr = arr.astype(np.float16).astype(np.float64)
        return _BVal("double", arr, missing)

    def doc_size(self, field: str, what: str) -> _BVal:
        ftype = self.ctx.field_type(field)
        if ftype is None or ftype in ("date", "date_nanos"):
            raise _NoBatch
        col = self.column(field)
        if ftype == "dense_vector":
            sizes = np.fromiter((1 if vals else 0 for vals in col), dtype=np.int32, count=self.n)
        else:
            sizes = np.fromiter((len(vals) for vals in col), dtype=np.int32, count=self.n)
        if what == "empty":
            return _BVal("boolean", sizes == 0)
        return _BVal("int", sizes)

    def double(self, val: _BVal) -> _BVal:
        if val.kind not in _NUMERIC:
            raise _NoBatch
        return self.convert(val, "double")

    def b_Cast(self, node: Cast) -> _BVal:
        val = self.ev(node.expr)
        if node.type == "def":
            return val
        if val.kind not in _NUMERIC:
            raise _NoBatch
        if val.kind in ("int", "long") and node.type == "int" and val.kind == "long":
            return _BVal("int", np.asarray(val.v).astype(np.int64).astype(np.int32), val.err)
        return self.convert(val, node.type)

    def b_Unary(self, node: Unary) -> _BVal:
        val = self.ev(node.operand)
        if node.op == "!":
            if val.kind != "boolean":
                raise _NoBatch
            return _BVal("boolean", np.logical_not(val.v), val.err)
        if val.kind not in _NUMERIC:
            raise _NoBatch
        if node.op == "+":
            return val
        with np.errstate(all="ignore"):
            return _BVal(val.kind, np.negative(np.asarray(val.v, dtype=_NP_KIND[val.kind])), val.err)

    def b_Ternary(self, node: Ternary) -> _BVal:
        cond = self.ev(node.cond)
        if cond.kind != "boolean":
            raise _NoBatch
        then, other = self.ev(node.then), self.ev(node.other)
        static = (self.stypes.get(id(node.then)), self.stypes.get(id(node.other)))
        if static[0] in _NUMERIC and static[1] in _NUMERIC and then.kind in _NUMERIC and other.kind in _NUMERIC:
            kind = _static_promote(then.kind, other.kind)  # both typed: binary numeric promotion
            then, other = self.convert(then, kind), self.convert(other, kind)
        elif then.kind == other.kind and (then.kind in _NUMERIC or then.kind == "boolean"):
            kind = then.kind  # a def branch: Painless keeps the chosen value's own type
        else:
            raise _NoBatch
        c = np.asarray(cond.v, dtype=bool)
        err = _or_err(cond.err, None if then.err is None else (c & then.err), None if other.err is None else (~c & other.err))
        return _BVal(kind, np.where(c, then.v, other.v), err)

    def b_Binary(self, node: Binary) -> _BVal:
        op = node.op
        left, right = self.ev(node.left), self.ev(node.right)
        if op in ("&&", "||"):
            if left.kind != "boolean" or right.kind != "boolean":
                raise _NoBatch
            lv = np.asarray(left.v, dtype=bool)
            rv = np.asarray(right.v, dtype=bool)
            if op == "&&":
                return _BVal("boolean", lv & rv, _or_err(left.err, None if right.err is None else (lv & right.err)))
            return _BVal("boolean", lv | rv, _or_err(left.err, None if right.err is None else (~lv & right.err)))
        if left.kind not in _NUMERIC or right.kind not in _NUMERIC:
            if op in ("==", "!=") and left.kind == right.kind == "boolean":
                res = np.equal(left.v, right.v)
                return _BVal("boolean", res if op == "==" else ~res, _or_err(left.err, right.err))
            raise _NoBatch
        kind = _static_promote(left.kind, right.kind)
        a = np.asarray(self.convert(left, kind).v, dtype=_NP_KIND[kind])
        b = np.asarray(self.convert(right, kind).v, dtype=_NP_KIND[kind])
        err = _or_err(left.err, right.err)
        with np.errstate(all="ignore"):
            if op in ("<", "<=", ">", ">=", "==", "!="):
                fn = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal, "==": np.equal,
                      "!=": np.not_equal}[op]
                return _BVal("boolean", fn(a, b), err)
            if op == "+":
                return _BVal(kind, a + b, err)
            if op == "-":
                return _BVal(kind, a - b, err)
            if op == "*":
                return _BVal(kind, a * b, err)
            if kind in ("float", "double"):
                if op == "/":
                    return _BVal(kind, np.true_divide(a, b), err)
                return _BVal(kind, np.fmod(a, b), err)
            if kind == "long":  # |Long.MIN_VALUE| overflows int64; take the exact per-document path
                raise _NoBatch
            zero = np.broadcast_to(b == 0, (self.n,))
            safe_b = np.where(b == 0, 1, b).astype(np.int64)
            q = np.abs(a.astype(np.int64)) // np.abs(safe_b)
            sign = np.where((a >= 0) == (safe_b >= 0), 1, -1)
            q = q * sign
            r = q if op == "/" else a.astype(np.int64) - q * safe_b.astype(np.int64)
            wrapped = ((np.asarray(r, dtype=np.int64) - _INT_MIN) & 0xFFFFFFFF) + _INT_MIN
            return _BVal("int", wrapped.astype(np.int32), _or_err(err, zero))

    def b_Call(self, node: Call) -> _BVal:
        if node.name in _VECTOR_FUNCTIONS and len(node.args) == 2:
            query = self.ev(node.args[0])
            field_val = self.ev(node.args[1])
            if query.kind != "list" or field_val.kind != "String":
                raise _NoBatch
            return self.vector(node.name, query.v, field_val.v)
        if node.name in ("saturation", "sigmoid"):
            args = [self.double(self.ev(a)) for a in node.args]
            if node.name == "saturation" and len(args) == 2:
                v, k = args
                return _BVal("double", _SATURATION_NP(v.v, k.v), _or_err(v.err, k.err))
            if node.name == "sigmoid" and len(args) == 3:
                v, k, a = args
                return _BVal("double", _SIGMOID_NP(v.v, k.v, a.v), _or_err(v.err, k.err, a.err))
        raise _NoBatch

    def vector(self, fn: str, query: list, field: str) -> _BVal:
        if self.ctx.field_type(field) != "dense_vector" or any(_num_kind(x) < 0 for x in query):
            raise _NoBatch
        q32 = np.asarray([float(x) for x in query], dtype=np.float64).astype(np.float32)
        dims_of = self.ctx.vector_dims
        mapped = dims_of(field) if dims_of is not None else None
        if mapped is not None and mapped != len(q32):
            raise _NoBatch  # every document fails the same way; let the scalar path raise it
        col = self.column(field)
        present = np.fromiter((len(v) == len(q32) for v in col), dtype=bool, count=self.n)
        mat = np.zeros((self.n, len(q32)), dtype=np.float32)
        if present.any():
            idx = np.flatnonzero(present)
            mat[idx] = np.asarray([col[i] for i in idx], dtype=np.float64).astype(np.float32)
        out = _vector_kernel(fn, mat, q32)
        return _BVal("double", out, ~present)


def _elementwise(fn: Callable[..., float], arity: int) -> Callable[..., np.ndarray]:
    """`fn`, the one scalar implementation of a Java function, applied to each element.

    The batch path must give exactly what per-document execution gives (Elasticsearch has
    one implementation, `java.lang.Math`), and numpy's vectorised log/exp/pow differ from
    libm's in the last ulp for some inputs, so both paths call the same scalar code.
    """
    ufunc = np.frompyfunc(lambda *xs: fn(*(float(x) for x in xs)), arity, 1)

    def call(*arrays: Any) -> np.ndarray:
        return np.asarray(ufunc(*(np.asarray(a, dtype=np.float64) for a in arrays)), dtype=np.float64)

    return call


_MATH_NP: dict[str, tuple[int, Callable[..., np.ndarray]]] = {
    **{name: (1, _elementwise(fn, 1)) for name, fn in _MATH_1.items()},
    **{name: (2, _elementwise(fn, 2)) for name, fn in _MATH_2.items()},
}
_SATURATION_NP = _elementwise(_saturation, 2)
_SIGMOID_NP = _elementwise(_sigmoid, 3)


# --------------------------------------------------------------------------- public entry points


class CompiledScript:
    """A compiled Painless script; `execute` per document, `execute_batch` for many."""

    def __init__(self, source: str, lang: str, body: list[Stmt]) -> None:
        self.source = source
        self.lang = lang
        self._body = body
        compiler = _Compiler(source)
        try:
            self._run = compiler.program(body)
        except ScriptError as exc:
            _locate(exc, source, lang)
            raise
        self._nslots = compiler.nslots
        self._stypes = compiler.stypes
        self.needs_score = compiler.uses_score
        self._last_params: tuple[dict, dict] | None = None

    def execute(self, ctx: ScriptContext) -> float:
        """The script's value for one document, cast to double as ScoreScript does."""
        frame = _Frame(self._nslots, ctx, self._java_params(ctx.params))
        try:
            done, value = self._run(frame)
        except ScriptError as exc:
            _locate(exc, self.source, self.lang)
            raise
        return value if done else 0.0

    def _java_params(self, params: dict) -> dict:
        """Params boxed as Jackson boxes them, converted once per distinct params object."""
        last = self._last_params
        if last is not None and last[0] is params:
            return last[1]
        try:
            boxed = _to_java(dict(params or {}))
        except UnsupportedScript as exc:
            _locate(exc, self.source, self.lang)
            exc.phase = "runtime"
            raise
        self._last_params = (params, boxed)
        return boxed

    def execute_batch(self, ctx: BatchContext) -> np.ndarray:
        """Scores for all documents of `ctx` (float64), identical to calling `execute` on each."""
        n = len(ctx.scores)
        try:
            return _Batch(ctx, n, self._stypes).run(self._body)
        except _NoBatch:
            pass
        except UnsupportedScript:
            pass
        return self._per_document(ctx, n)

    def _per_document(self, ctx: BatchContext, n: int) -> np.ndarray:
        columns: dict[str, Sequence[list]] = {}

        def column(field: str) -> Sequence[list]:
            col = columns.get(field)
            if col is None:
                col = columns[field] = ctx.doc_values(field)
            return col

        out = np.empty(n, dtype=np.float64)
        params = ctx.params
        for i in range(n):
            doc = ScriptContext(
                params=params,
                score=float(ctx.scores[i]),
                doc_values=lambda field, i=i: column(field)[i],
                field_type=ctx.field_type,
                vector_dims=ctx.vector_dims,
            )
            out[i] = self.execute(doc)
        return out


def _locate(exc: ScriptError, source: str, lang: str) -> None:
    exc.script = source
    exc.lang = lang


_CACHE: OrderedDict[tuple[str, str], CompiledScript] = OrderedDict()
_CACHE_LOCK = threading.Lock()


def compile_script(source: str, lang: str = "painless") -> CompiledScript:
    """Parse and check `source`; cached by (lang, source) like ES' script cache."""
    key = (lang, source)
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            _CACHE.move_to_end(key)
            return hit
    if lang != "painless":
        if lang in ("expression", "mustache"):
            raise UnsupportedScript(f"script lang [{lang}]", script=source, lang=lang)
        raise ScriptError(f"script_lang not supported [{lang}]", script=source, lang=lang)
    size = len(source.encode("utf-8"))
    if size > MAX_SCRIPT_SIZE_BYTES:
        raise ScriptError(
            f"exceeded max allowed inline script size in bytes [{MAX_SCRIPT_SIZE_BYTES}] with size [{size}] for script "
            f"[{source}]",
            script=source,
        )
    try:
        body = _Parser(source).program()
    except ScriptError as exc:
        _locate(exc, source, lang)
        raise
    except RecursionError:
        raise ScriptError("script is nested too deeply", script=source, lang=lang) from None
    compiled = CompiledScript(source, lang, body)
    with _CACHE_LOCK:
        _CACHE[key] = compiled
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return compiled

