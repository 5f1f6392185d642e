"""Mappings: validation at index creation, document parsing, doc values, the `fields` API.

Supported field types: `text` (`analyzer` / `search_analyzer` from the index's analysis
settings or the built-ins, see analyzers.py; `fields` sub-fields), `keyword`,
`long`/`integer`/`short`/`byte`/`double`/`float`/`half_float`, `boolean`, `date`,
`object` (with `properties`, `dynamic`, `enabled: false`) and `dense_vector` (float elements).
Other Elasticsearch types and parameters are refused loudly ("unsupported by the test
double: ...") when the mapping is created. `dynamic` is implemented for `strict`, `false`
and `true` (with Elasticsearch's default type inference and date detection).

References: https://www.elastic.co/docs/reference/elasticsearch/mapping-reference/ (field
types, `dynamic`, `dense_vector`), DenseVectorFieldMapper and DocumentParser sources.
"""

from __future__ import annotations

import copy
import math
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tests.es_double.analyzers import IndexAnalysis
from tests.es_double.dates import DateFormat, format_millis
from tests.es_double.errors import EsError, mapper_parsing, unsupported
from tests.es_double.javafmt import float32_json, java_double, java_float
from tests.es_double.jsonloc import JsonLocator, prefix, token_name

INTEGER_RANGES = {
    "long": (-(2**63), 2**63 - 1),
    "integer": (-(2**31), 2**31 - 1),
    "short": (-(2**15), 2**15 - 1),
    "byte": (-(2**7), 2**7 - 1),
}
FLOAT_TYPES = ("double", "float", "half_float")
_NARROW_FLOATS = {"float": np.float32, "half_float": np.float16}  # the precision each is stored at
NUMERIC_TYPES = tuple(INTEGER_RANGES) + FLOAT_TYPES
LEAF_TYPES = ("text", "keyword", "boolean", "date", "dense_vector") + NUMERIC_TYPES
KNOWN_ES_TYPES = {
    "nested",
    "flattened",
    "geo_point",
    "geo_shape",
    "ip",
    "scaled_float",
    "unsigned_long",
    "date_nanos",
    "match_only_text",
    "wildcard",
    "constant_keyword",
    "completion",
    "search_as_you_type",
    "alias",
    "binary",
    "integer_range",
    "long_range",
    "float_range",
    "double_range",
    "date_range",
    "ip_range",
    "sparse_vector",
    "rank_feature",
    "rank_features",
    "semantic_text",
    "token_count",
    "percolator",
    "join",
    "histogram",
    "version",
    "annotated_text",
    "murmur3",
    "point",
    "shape",
    "aggregate_metric_double",
    "rank_vectors",
    "counted_keyword",
    "passthrough",
    "exponential_histogram",
}
METADATA_FIELDS = (
    "_id",
    "_index",
    "_routing",
    "_source",
    "_seq_no",
    "_primary_term",
    "_version",
    "_ignored",
    "_field_names",
    "_doc_count",
    "_tier",
    "_data_stream_timestamp",
    "_feature",
    "_nested_path",
)
SIMILARITIES = ("l2_norm", "dot_product", "cosine", "max_inner_product")
VECTOR_INDEX_TYPES = {
    # type -> (allowed keys besides "type", float-only, dims check)
    "hnsw": ({"m", "ef_construction", "early_exit", "early_termination"}, False, None),
    "int8_hnsw": (
        {"m", "ef_construction", "confidence_interval", "rescore_vector", "early_exit", "early_termination"},
        True,
        None,
    ),
    "int4_hnsw": (
        {"m", "ef_construction", "confidence_interval", "rescore_vector", "early_exit", "early_termination"},
        True,
        "even",
    ),
    "flat": (set(), False, None),
    "int8_flat": ({"confidence_interval", "rescore_vector"}, True, None),
    "int4_flat": ({"confidence_interval", "rescore_vector"}, True, "even"),
    "bbq_hnsw": ({"m", "ef_construction", "rescore_vector", "early_exit", "early_termination"}, True, "bbq"),
    "bbq_flat": ({"rescore_vector"}, True, "bbq"),
    "bbq_disk": ({"cluster_size", "default_visit_percentage", "rescore_vector", "on_disk_rescore"}, True, "bbq"),
}
MAX_VECTOR_DIMS = 4096
UNIT_VECTOR_EPS = 1e-3  # DenseVectorFieldMapper.EPS, compared against the squared magnitude

_COMMON = {"type", "meta", "index", "store", "doc_values", "boost"}
_ALLOWED_PARAMS = {
    "text": _COMMON
    | {
        "fields",
        "analyzer",
        "search_analyzer",
        "search_quote_analyzer",
        "norms",
        "index_options",
        "fielddata",
        "similarity",
        "position_increment_gap",
        "term_vector",
        "eager_global_ordinals",
        "fielddata_frequency_filter",
        "index_phrases",
        "index_prefixes",
    },
    "keyword": _COMMON
    | {
        "fields",
        "ignore_above",
        "null_value",
        "norms",
        "normalizer",
        "index_options",
        "similarity",
        "eager_global_ordinals",
        "split_queries_on_whitespace",
        "script",
        "on_script_error",
        "time_series_dimension",
    },
    "boolean": _COMMON | {"fields", "null_value", "ignore_malformed", "script", "on_script_error"},
    "date": _COMMON | {"fields", "format", "locale", "null_value", "ignore_malformed", "script", "on_script_error"},
    "dense_vector": {"type", "meta", "dims", "element_type", "index", "similarity", "index_options"},
}
for _t in NUMERIC_TYPES:
    _ALLOWED_PARAMS[_t] = _COMMON | {
        "fields",
        "coerce",
        "ignore_malformed",
        "null_value",
        "script",
        "on_script_error",
        "time_series_dimension",
        "time_series_metric",
    }
_UNSUPPORTED_PARAMS = {
    "script",
    "on_script_error",
    "normalizer",
    "copy_to",
    "fielddata",
    "index_phrases",
    "index_prefixes",
    "time_series_dimension",
    "time_series_metric",
    "locale",
    "search_quote_analyzer",
    "fielddata_frequency_filter",
    "similarity",
    "term_vector",
    "position_increment_gap",
    "index_options",
    "norms",
    "eager_global_ordinals",
    "split_queries_on_whitespace",
}


def default_vector_index_options(dims: int | None) -> dict[str, Any]:
    """The index_options an indexed float dense_vector gets when the mapping names none.

    int8_hnsw (8.14+, YAML REST test search.vectors/80_dense_vector_indexed_by_default.yml "Default index
    options for dense_vector"); from 9.1, bbq_hnsw with rescore oversample 3.0 for dims >= 384
    (DenseVectorFieldMapper BBQ_DIMS_DEFAULT_THRESHOLD, DEFAULT_OVERSAMPLE; dense-vector docs). m and
    ef_construction are Lucene's defaults 16 and 100.
    """
    if dims is not None and dims >= 384:
        return shown_index_options({"type": "bbq_hnsw", "rescore_vector": {"oversample": 3.0}})
    return shown_index_options({"type": "int8_hnsw"})


def shown_index_options(options: dict[str, Any]) -> dict[str, Any]:
    """index_options as `GET _mapping` prints them: HNSW types always show m and ef_construction
    (Lucene's defaults 16 and 100) and `early_termination` (false unless set; YAML REST test
    search.vectors/80_dense_vector_indexed_by_default.yml, feature expose_hnsw_early_termination)."""
    if not str(options.get("type", "")).endswith("hnsw"):
        return dict(options)
    out: dict[str, Any] = {"type": options["type"], "m": 16, "ef_construction": 100}
    out.update(options)
    out.setdefault("early_termination", False)
    return out


@dataclass
class VectorSpec:
    """`dense_vector` parameters after Elasticsearch's defaults are applied."""

    dims: int | None
    similarity: str | None
    indexed: bool
    index_options: dict[str, Any] | None


@dataclass
class FieldSpec:
    """A leaf field (or a multi-field of one)."""

    path: str
    type: str
    params: dict[str, Any]
    subfields: dict[str, FieldSpec] = field(default_factory=dict)
    searchable: bool = True
    has_doc_values: bool = True
    coerce: bool = True
    ignore_malformed: bool = False
    null_value: Any = None
    ignore_above: int | None = None
    date_format: DateFormat | None = None
    vector: VectorSpec | None = None

    @property
    def is_numeric(self) -> bool:
        return self.type in NUMERIC_TYPES

    @property
    def is_integer(self) -> bool:
        return self.type in INTEGER_RANGES


@dataclass
class ObjectSpec:
    """An object field (or the root), holding `properties`."""

    path: str
    dynamic: str | None
    enabled: bool
    properties: dict[str, FieldSpec | ObjectSpec]
    params: dict[str, Any]


def _bool_param(value: Any, name: str, field_name: str) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise mapper_parsing(
        f"Failed to parse mapping: Failed to parse value [{value}] as only [true] or [false] are allowed.",
        caused_by=EsError(
            400, "illegal_argument_exception", f"Failed to parse value [{value}] as only [true] or [false] are allowed."
        ),
    )


def _fail(reason: str, java: bool = False) -> EsError:
    """Mapping failures are wrapped in "Failed to parse mapping: ..." like MapperService does."""
    inner = EsError(400, "illegal_argument_exception" if java else "mapper_parsing_exception", reason)
    return mapper_parsing(f"Failed to parse mapping: {reason}", caused_by=inner)


def _dynamic_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value in ("true", "false", "strict"):
        return value
    if value == "runtime":
        raise unsupported("dynamic [runtime]")
    raise _fail("Could not convert [dynamic] to boolean")


class Mapping:
    """One index's mapping, mutable through dynamic updates (dynamic: true)."""

    def __init__(self, body: dict[str, Any] | None, analysis: IndexAnalysis | None = None) -> None:
        self.analysis = analysis if analysis is not None else IndexAnalysis()
        body = copy.deepcopy(body or {})
        if "_doc" in body and isinstance(body["_doc"], dict) and len(body) == 1:
            body = body["_doc"]
        self.meta = body.pop("_meta", None)
        for key in ("date_detection", "numeric_detection"):
            if key in body:
                body[key] = _bool_param(body[key], key, "_doc")
        self.date_detection = body.pop("date_detection", True)
        self.numeric_detection = body.pop("numeric_detection", False)
        if self.numeric_detection:
            raise unsupported("mapping parameter [numeric_detection: true]")
        templates = body.pop("dynamic_templates", None)
        if templates:
            raise unsupported("mapping parameter [dynamic_templates]")
        if "dynamic_date_formats" in body:
            raise unsupported("mapping parameter [dynamic_date_formats]")
        for key in ("_source", "_routing", "runtime", "subobjects", "_data_stream_timestamp", "_field_names"):
            if key in body:
                raise unsupported(f"mapping parameter [{key}]")
        dynamic = _dynamic_value(body.pop("dynamic")) if "dynamic" in body else "true"
        enabled = _bool_param(body.pop("enabled", True), "enabled", "_doc")
        props = body.pop("properties", {}) or {}
        if body:
            key = sorted(body)[0]
            raise _fail(f"Root mapping definition has unsupported parameters:  [{key} : {_java_repr(body[key])}]")
        if not isinstance(props, dict):
            raise _fail("Expected map for property [fields] on field [properties] but got a class java.lang.String")
        self.leaf_fields: dict[str, FieldSpec] = {}
        self.object_paths: dict[str, ObjectSpec] = {}
        self.source_path: dict[str, str] = {}
        self.root = ObjectSpec("", dynamic, enabled, {}, {})
        for name, spec in props.items():
            self.root.properties[name] = self._parse_field(name, spec, "")
        self.has_vectors = any(f.type == "dense_vector" for f in self.leaf_fields.values())
        self._build_fast()

    # ------------------------------------------------------------------ mapping parsing
    def _parse_field(self, name: str, spec: Any, parent: str, multi: bool = False) -> FieldSpec | ObjectSpec:
        path = f"{parent}.{name}" if parent else name
        if not name.strip():
            raise _fail("field name cannot be an empty string")
        if not isinstance(spec, dict):
            raise _fail(f"Expected map for property [fields] on field [{name}] but got a class java.lang.String")
        spec = dict(spec)
        ftype = spec.get("type")
        if "." in name and not multi:
            head, _, rest = name.partition(".")
            return self._parse_field(head, {"properties": {rest: spec}}, parent)
        if ftype is None or ftype == "object":
            if multi:
                raise _fail(f"Field [{name}] of type [object] can't be used in multifields")
            allowed = {"type", "properties", "dynamic", "enabled", "subobjects"}
            extra = [k for k in spec if k not in allowed]
            if extra:
                raise _fail(
                    f"Mapping definition for [{name}] has unsupported parameters:  [{extra[0]} : {_java_repr(spec[extra[0]])}]"
                )
            if "subobjects" in spec:
                raise unsupported("object parameter [subobjects]")
            dynamic = _dynamic_value(spec["dynamic"]) if "dynamic" in spec else None
            enabled = _bool_param(spec.get("enabled", True), "enabled", name)
            obj = ObjectSpec(path, dynamic, enabled, {}, spec)
            self.object_paths[path] = obj
            props = spec.get("properties") or {}
            if not isinstance(props, dict):
                raise _fail(
                    f"Expected map for property [properties] on field [{name}] but got a class java.lang.String"
                )
            if enabled:
                for child, child_spec in props.items():
                    obj.properties[child] = self._parse_field(child, child_spec, path)
            return obj
        if not isinstance(ftype, str):
            raise _fail(f"No handler for type [{ftype}] declared on field [{name}]")
        if ftype in KNOWN_ES_TYPES:
            raise unsupported(f"field type [{ftype}] (field [{path}])")
        if ftype not in LEAF_TYPES:
            raise _fail(f"No handler for type [{ftype}] declared on field [{name}]")
        allowed = _ALLOWED_PARAMS[ftype]
        for key in spec:
            if key == "copy_to":
                raise unsupported(f"mapping parameter [copy_to] (field [{path}])")
            if key not in allowed:
                raise _fail(f"unknown parameter [{key}] on mapper [{name}] of type [{ftype}]")
            if (
                key in _UNSUPPORTED_PARAMS
                and ftype != "dense_vector"
                and not (ftype == "text" and key in ("norms", "index_options"))
            ):
                raise unsupported(f"mapping parameter [{key}] on field [{path}]")
        if ftype == "text":
            for key in ("analyzer", "search_analyzer"):
                if key in spec:
                    self.analysis.check_field_analyzer(str(spec[key]), path)
            if "search_analyzer" in spec and "analyzer" not in spec:
                raise unsupported(f"[search_analyzer] without [analyzer] on field [{path}]")
            if spec.get("norms") is False:
                raise unsupported(f"[norms: false] on text field [{path}]")
            if "index_options" in spec and spec["index_options"] != "positions":
                raise unsupported(f"[index_options: {spec['index_options']}] on text field [{path}]")
        fs = FieldSpec(path, ftype, spec)
        if "index" in spec:
            fs.searchable = _bool_param(spec["index"], "index", name)
        if "doc_values" in spec:
            fs.has_doc_values = _bool_param(spec["doc_values"], "doc_values", name)
            if not fs.has_doc_values:
                raise unsupported(f"[doc_values: false] on field [{path}]")
        if ftype == "text":
            fs.has_doc_values = False
        if not fs.searchable and ftype != "dense_vector":
            raise unsupported(f"[index: false] on field [{path}]")
        if "coerce" in spec:
            fs.coerce = _bool_param(spec["coerce"], "coerce", name)
        if "ignore_malformed" in spec:
            fs.ignore_malformed = _bool_param(spec["ignore_malformed"], "ignore_malformed", name)
        if "ignore_above" in spec:
            value = spec["ignore_above"]
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise _fail(f"[ignore_above] must be positive, got [{value}]")
            fs.ignore_above = value
        if ftype == "date":
            fs.date_format = DateFormat.of(spec.get("format"))
        if "null_value" in spec and spec["null_value"] is not None:
            try:
                fs.null_value = _normalize_scalar(fs, spec["null_value"])
            except EsError as exc:
                raise _fail(f"Error parsing [null_value] on field [{name}]: {exc.reason}") from exc
        if ftype == "dense_vector":
            fs.vector = self._parse_vector(name, spec)
            fs.has_doc_values = True
        if "fields" in spec:
            subs = spec["fields"]
            if not isinstance(subs, dict):
                raise _fail(f"Expected map for property [fields] on field [{name}] but got a class java.lang.String")
            for sub_name, sub_spec in subs.items():
                sub = self._parse_field(sub_name, sub_spec, path, multi=True)
                assert isinstance(sub, FieldSpec)
                if sub.type == "dense_vector":
                    raise _fail(f"Field [{sub_name}] of type [dense_vector] can't be used in multifields")
                fs.subfields[sub_name] = sub
                self.source_path[sub.path] = path
        self.leaf_fields[path] = fs
        self.source_path.setdefault(path, path)
        return fs

    def _parse_vector(self, name: str, spec: dict[str, Any]) -> VectorSpec:
        element = spec.get("element_type", "float")
        if element not in ("float", "byte", "bit", "bfloat16"):
            raise _fail(f"invalid element_type [{element}]; available types are [float, byte, bit]")
        if element != "float":
            raise unsupported(f"dense_vector element_type [{element}]")
        dims = spec.get("dims")
        if dims is not None:
            if not isinstance(dims, int) or isinstance(dims, bool):
                raise _fail(f"Property [dims] on field [{name}] must be an integer but got [{dims}]")
            if dims < 1 or dims > MAX_VECTOR_DIMS:
                raise _fail(f"The number of dimensions should be in the range [1, {MAX_VECTOR_DIMS}] but was [{dims}]")
        indexed = _bool_param(spec.get("index", True), "index", name)
        similarity = spec.get("similarity")
        if similarity is not None and similarity not in SIMILARITIES:
            raise _fail(
                f"Unknown value [{similarity}] for field [similarity] - accepted values are [{', '.join(SIMILARITIES)}]"
            )
        options = spec.get("index_options")
        if indexed:
            if similarity is None:
                similarity = "cosine"
        else:
            if similarity is not None:
                raise _fail(
                    "Field [similarity] can only be specified for a field of type [dense_vector] when it is indexed",
                    java=True,
                )
            if options is not None:
                raise _fail(
                    "Field [index_options] can only be specified for a field of type [dense_vector] when it is indexed",
                    java=True,
                )
        if options is not None:
            if not isinstance(options, dict):
                raise _fail(f"Expected map for property [index_options] on field [{name}]")
            options = dict(options)
            itype = options.get("type")
            if itype is None:
                raise _fail("[index_options] requires field [type] to be configured")
            if itype not in VECTOR_INDEX_TYPES:
                raise _fail(f"Unknown vector index options type [{itype}] for field [{name}]")
            allowed, _float_only, dims_rule = VECTOR_INDEX_TYPES[itype]
            extra = [k for k in options if k != "type" and k not in allowed]
            if extra:
                raise _fail(
                    f"Mapping definition for [{name}] has unsupported parameters:  [{extra[0]} : {_java_repr(options[extra[0]])}]"
                )
            if dims is not None and dims_rule == "even" and dims % 2 != 0:
                raise _fail(f"{itype} only supports even dimensions; provided={dims}", java=True)
            if dims is not None and dims_rule == "bbq" and dims < 64:
                raise _fail(f"{itype} does not support dimensions fewer than 64; provided={dims}", java=True)
        return VectorSpec(dims, similarity, indexed, options)

    # ------------------------------------------------------------------ output
    def to_json(self) -> dict[str, Any]:
        """The mapping as `GET _mapping` shows it."""
        out: dict[str, Any] = {}
        if self.root.dynamic != "true":
            out["dynamic"] = self.root.dynamic
        if self.meta is not None:
            out["_meta"] = self.meta
        props = self._props_json(self.root)
        if props:
            out["properties"] = props
        return out

    def _props_json(self, obj: ObjectSpec) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in sorted(obj.properties):
            spec = obj.properties[name]
            if isinstance(spec, ObjectSpec):
                item: dict[str, Any] = {}
                if spec.dynamic is not None:
                    item["dynamic"] = spec.dynamic
                if not spec.enabled:
                    item["type"] = "object"
                    item["enabled"] = False
                sub = self._props_json(spec)
                if sub:
                    item["properties"] = sub
                out[name] = item
            else:
                item = {k: v for k, v in spec.params.items() if k != "fields"}
                if spec.vector is not None:
                    if spec.vector.dims is not None:
                        item["dims"] = spec.vector.dims
                    item["index"] = spec.vector.indexed
                    if spec.vector.similarity is not None:
                        item["similarity"] = spec.vector.similarity
                    if spec.vector.indexed and "index_options" not in item:
                        item["index_options"] = default_vector_index_options(spec.vector.dims)
                    elif isinstance(item.get("index_options"), dict):
                        item["index_options"] = shown_index_options(item["index_options"])
                if spec.subfields:
                    item["fields"] = {n: {k: v for k, v in s.params.items()} for n, s in spec.subfields.items()}
                out[name] = item
        return out

    # ------------------------------------------------------------------ lookups
    def field(self, path: str) -> FieldSpec | None:
        return self.leaf_fields.get(path)

    def field_type(self, path: str) -> str | None:
        spec = self.leaf_fields.get(path)
        if spec is not None:
            return spec.type
        if path in self.object_paths:
            return "object"
        return None

    def vector_fields(self) -> list[FieldSpec]:
        return [f for f in self.leaf_fields.values() if f.type == "dense_vector"]

    def matching_fields(self, pattern: str) -> list[str]:
        """Leaf field paths matching a simple wildcard pattern (`*`)."""
        if "*" not in pattern:
            return [pattern] if pattern in self.leaf_fields else []
        rx = re.compile("^" + ".*".join(re.escape(p) for p in pattern.split("*")) + "$")
        return [p for p in self.leaf_fields if rx.match(p)]

    # ------------------------------------------------------------------ document parsing
    def parse_document(
        self,
        source: Any,
        doc_id: str,
        raw: str | bytes | None,
        exclude_vectors: bool,
    ) -> ParsedDoc:
        """Validate and normalise one document against the mapping (applying dynamic updates).

        Raises EsError shaped as Elasticsearch's document_parsing_exception /
        strict_dynamic_mapping_exception. Dynamic mapping additions are applied only when
        the whole document parses. `raw` is the document's JSON text, used only to locate
        errors. Flat documents of simple, valid values take a fast path (bulk speed); anything
        else goes through the full parser.
        """
        if not isinstance(source, dict):
            raise EsError(400, "document_parsing_exception", "[1:1] Malformed content, must start with an object")
        fast = self._fast_parse(source)
        if fast is not None:
            if exclude_vectors and fast.vector_sites:
                fast.stored_source = {k: v for k, v in source.items() if k not in self._fast_vector_keys}
            else:
                fast.stored_source = source
            return fast
        locator = JsonLocator(raw)
        parsed = ParsedDoc({}, {}, [])
        if not self.root.enabled:
            return self._finish(parsed, source, exclude_vectors)
        ctx = _ParseCtx(self, doc_id, locator, parsed)
        ctx.parse_object(self.root, source, (), "true")
        for path, spec in ctx.new_fields:
            self._add_dynamic(path, spec)
        if ctx.new_fields:
            self.has_vectors = any(f.type == "dense_vector" for f in self.leaf_fields.values())
            self._build_fast()
        return self._finish(parsed, source, exclude_vectors)

    def _build_fast(self) -> None:
        """Top-level leaf fields, for the fast path of `parse_document`."""
        self._fast: dict[str, FieldSpec] = {}
        if self.root.enabled:
            for name, spec in self.root.properties.items():
                if isinstance(spec, FieldSpec) and "." not in name and name not in METADATA_FIELDS:
                    self._fast[name] = spec
        self._fast_vector_keys = {n for n, s in self._fast.items() if s.type == "dense_vector"}
        self._fast_plan: dict[str, tuple[int, int, int, FieldSpec]] = {}
        for name, spec in self._fast.items():
            code = _C_OTHER
            lo = hi = 0
            if not spec.subfields and spec.null_value is None:
                if spec.type in INTEGER_RANGES:
                    code = _C_INT
                    lo, hi = INTEGER_RANGES[spec.type]
                elif spec.type == "keyword" and spec.ignore_above is None:
                    code = _C_KEYWORD
                elif spec.type == "float":
                    code = _C_FLOAT
            self._fast_plan[name] = (code, lo, hi, spec)

    def _fast_parse(self, source: dict[str, Any]) -> ParsedDoc | None:
        """Values of a flat document whose every value is plainly valid; None means "use the full parser"."""
        plan = self._fast_plan
        values: dict[str, list[Any]] = {}
        vectors: dict[str, np.ndarray] = {}
        sites: list[tuple[Any, ...]] = []
        pack, unpack = _F32.pack, _F32.unpack
        for key, value in source.items():
            entry = plan.get(key)
            if entry is None:
                return None
            code, lo, hi, spec = entry
            cls = value.__class__
            # the common cases inline: one plain value for a field without multi-fields
            if code == _C_INT:
                if cls is int and lo <= value <= hi:
                    values[key] = [value]
                    continue
            elif code == _C_KEYWORD:
                if cls is str:
                    values[key] = [value]
                    continue
            elif code == _C_FLOAT:
                if cls is float or cls is int:
                    try:
                        rounded = unpack(pack(value))[0]
                    except (OverflowError, struct.error):
                        return None
                    if rounded - rounded != 0.0:
                        return None
                    values[key] = [rounded]
                    continue
            if value is None:
                if spec.null_value is not None:
                    return None
                continue
            if spec.type == "dense_vector":
                vector = _fast_vector(spec, value)
                if vector is None:
                    return None
                vectors[key] = vector
                sites.append((key,))
                continue
            if not _fast_into(spec, value, values):
                return None
            for sub in spec.subfields.values():
                if not _fast_into(sub, value, values):
                    return None
        return ParsedDoc(values, vectors, sites)

    def _finish(self, parsed: ParsedDoc, source: dict[str, Any], exclude_vectors: bool) -> ParsedDoc:
        if exclude_vectors and parsed.vector_sites:
            parsed.stored_source = strip_paths(source, parsed.vector_sites)
        else:
            parsed.stored_source = source
        return parsed

    def _add_dynamic(self, path: str, spec: dict[str, Any]) -> None:
        parts = path.split(".")
        obj = self.root
        for i, part in enumerate(parts[:-1]):
            child = obj.properties.get(part)
            if not isinstance(child, ObjectSpec):
                child_path = ".".join(parts[: i + 1])
                child = ObjectSpec(child_path, None, True, {}, {})
                obj.properties[part] = child
                self.object_paths[child_path] = child
            obj = child
        leaf = parts[-1]
        existing = obj.properties.get(leaf)
        if isinstance(existing, FieldSpec):
            if existing.vector is not None and existing.vector.dims is None and "dims" in spec:
                existing.vector.dims = spec["dims"]
                existing.params = {**existing.params, "dims": spec["dims"]}
            return
        if existing is not None:
            return
        if spec.get("type") == "object":
            new = ObjectSpec(path, None, True, {}, {})
            obj.properties[leaf] = new
            self.object_paths[path] = new
            return
        obj.properties[leaf] = self._parse_field(leaf, spec, ".".join(parts[:-1]))


def _java_repr(value: Any) -> str:
    """Java's Map/List/primitive toString, used in messages that quote values."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return java_double(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_java_repr(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_java_repr(v) for v in value) + "]"
    return str(value)


@dataclass
class ParsedDoc:
    """Normalised field values of one document, ready to be indexed."""

    values: dict[str, list[Any]]
    vectors: dict[str, np.ndarray]
    vector_sites: list[tuple[Any, ...]]
    stored_source: dict[str, Any] = field(default_factory=dict)


def strip_paths(source: dict[str, Any], sites: list[tuple[Any, ...]]) -> dict[str, Any]:
    """A copy of `source` without the values at the given key paths (vectors left out of _source)."""
    out = dict(source)
    for site in sites:
        container: Any = out
        parents: list[Any] = []
        for key in site[:-1]:
            child = container[key]
            copied = dict(child) if isinstance(child, dict) else list(child)
            container[key] = copied
            parents.append(container)
            container = copied
        if isinstance(container, dict):
            container.pop(site[-1], None)
    return out


class _ParseCtx:
    """State of one document parse."""

    def __init__(self, mapping: Mapping, doc_id: str, locator: JsonLocator, parsed: ParsedDoc) -> None:
        self.mapping = mapping
        self.doc_id = doc_id
        self.locator = locator
        self.parsed = parsed
        self.new_fields: list[tuple[str, dict[str, Any]]] = []
        self.pending: dict[str, FieldSpec | ObjectSpec] = {}

    def describe(self) -> str:
        return f"document with id '{self.doc_id}'"

    def parse_object(self, obj: ObjectSpec, value: dict[str, Any], site: tuple[Any, ...], inherited: str) -> None:
        dynamic = obj.dynamic or inherited
        for key, child in value.items():
            self.parse_entry(obj, key, child, site + (key,), dynamic)

    def parse_entry(self, obj: ObjectSpec, key: str, value: Any, site: tuple[Any, ...], dynamic: str) -> None:
        if key == "":
            raise self._located(
                site,
                "failed to parse: Field name cannot be an empty string",
                EsError(400, "illegal_argument_exception", "Field name cannot be an empty string"),
            )
        if not key.strip():
            raise self._located(site, f"Field name cannot contain only whitespace: [{_join(obj.path, key)}]")
        if "." in key:
            head, _, rest = key.partition(".")
            if not head or not rest:
                raise self._located(
                    site,
                    "failed to parse: field name cannot contain only dots",
                    EsError(400, "illegal_argument_exception", "field name cannot contain only dots"),
                )
            head_path = _join(obj.path, head)
            child = obj.properties.get(head) or self.pending.get(head_path)
            if isinstance(child, ObjectSpec):
                if child.enabled:
                    self.parse_entry(child, rest, value, site, child.dynamic or dynamic)
                return
            if child is None:
                self._dynamic_object(obj, head, {rest: value}, site, dynamic, dotted=True)
                return
            raise self._located(
                site,
                f"Could not dynamically add mapping for field [{_join(obj.path, key)}]. "
                f"Existing mapping for [{child.path}] must be of type object but found [{child.type}].",
            )
        if obj.path == "" and key in METADATA_FIELDS:
            loc = self.locator.start(site)
            inner = EsError(
                400,
                "document_parsing_exception",
                f"{prefix(loc)}Field [{key}] is a metadata field and cannot be added inside a document. "
                f"Use the index API request parameters.",
            )
            raise EsError(
                400,
                "document_parsing_exception",
                f"{prefix(loc)}failed to parse field [{key}] of type [{key}] in {self.describe()}. "
                f"Preview of field's value: '{_java_repr(value)}'",
                caused_by=inner,
            )
        spec = obj.properties.get(key)
        path = _join(obj.path, key)
        if spec is None:
            spec = self.pending.get(path)
        if isinstance(spec, ObjectSpec):
            if not spec.enabled:
                return
            self._parse_into_object(spec, key, value, site, dynamic)
            return
        if spec is None:
            self._dynamic(obj, key, value, site, dynamic)
            return
        self.parse_leaf(spec, value, site)

    def _parse_into_object(self, spec: ObjectSpec, key: str, value: Any, site: tuple[Any, ...], dynamic: str) -> None:
        if value is None:
            return
        if isinstance(value, dict):
            self.parse_object(spec, value, site, dynamic)
            return
        if isinstance(value, list):
            for i, item in enumerate(value):
                self._parse_into_object(spec, key, item, site + (i,), dynamic)
            return
        raise self._located(
            site, f"object mapping for [{spec.path}] tried to parse field [{key}] as object, but found a concrete value"
        )

    def _dynamic(self, obj: ObjectSpec, key: str, value: Any, site: tuple[Any, ...], dynamic: str) -> None:
        path = _join(obj.path, key)
        if value is None or (isinstance(value, list) and all(v is None for v in _flatten(value))):
            return
        if dynamic == "strict":
            raise self._strict_dynamic(obj, key, site)
        if dynamic == "false":
            return
        if isinstance(value, dict) or (isinstance(value, list) and value and isinstance(_first(value), dict)):
            self._dynamic_object(obj, key, value, site, dynamic)
            return
        spec = self._infer(value, path)
        self.new_fields.append((path, spec))
        built = Mapping(None)._parse_field(key, spec, obj.path)
        assert isinstance(built, FieldSpec)
        self.pending[path] = built
        self.parse_leaf(built, value, site)

    def _dynamic_object(
        self, obj: ObjectSpec, key: str, value: Any, site: tuple[Any, ...], dynamic: str, dotted: bool = False
    ) -> None:
        path = _join(obj.path, key)
        if dynamic == "strict":
            raise self._strict_dynamic(obj, key, site)
        if dynamic == "false":
            return
        existing = self.pending.get(path)
        new = existing if isinstance(existing, ObjectSpec) else ObjectSpec(path, None, True, {}, {})
        if existing is None:
            self.new_fields.append((path, {"type": "object"}))
            self.pending[path] = new
        obj_value = value
        items = obj_value if isinstance(obj_value, list) else [obj_value]
        for i, item in enumerate(items):
            if item is None:
                continue
            if not isinstance(item, dict):
                raise self._located(
                    site,
                    f"object mapping for [{path}] tried to parse field [{key}] as object, but found a concrete value",
                )
            for child_key, child_value in item.items():
                child_site = site if dotted else (site + ((i,) if isinstance(obj_value, list) else ()) + (child_key,))
                self._dynamic_child(new, child_key, child_value, child_site, dynamic)

    def _dynamic_child(self, obj: ObjectSpec, key: str, value: Any, site: tuple[Any, ...], dynamic: str) -> None:
        path = _join(obj.path, key)
        if "." in key:
            head, _, rest = key.partition(".")
            self._dynamic_object(obj, head, {rest: value}, site, dynamic, dotted=True)
            return
        existing = self.pending.get(path)
        if isinstance(existing, FieldSpec):
            self.parse_leaf(existing, value, site)
            return
        if isinstance(value, dict) or (isinstance(value, list) and value and isinstance(_first(value), dict)):
            self._dynamic_object(obj, key, value, site, dynamic)
            return
        self._dynamic(obj, key, value, site, dynamic)

    def _infer(self, value: Any, path: str) -> dict[str, Any]:
        """Elasticsearch's default dynamic field mapping."""
        if isinstance(value, list):
            flat = [v for v in _flatten(value) if v is not None]
            if (
                128 <= len(flat) <= MAX_VECTOR_DIMS
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in flat)
                and any(isinstance(v, float) for v in flat)
            ):
                raise unsupported(
                    f"dynamic mapping of the numeric array [{path}] (Elasticsearch maps float arrays "
                    f"of 128..4096 values to dense_vector)"
                )
            value = flat[0]
        if isinstance(value, bool):
            return {"type": "boolean"}
        if isinstance(value, int):
            return {"type": "long"}
        if isinstance(value, float):
            return {"type": "float"}
        if isinstance(value, str):
            if self.mapping.date_detection:
                for fmt in ("strict_date_optional_time", "yyyy/MM/dd HH:mm:ss||yyyy/MM/dd"):
                    try:
                        DateFormat.of(fmt).parse(value)
                    except EsError:
                        continue
                    if fmt == "strict_date_optional_time":
                        return {"type": "date"}
                    return {"type": "date", "format": "yyyy/MM/dd HH:mm:ss||yyyy/MM/dd||epoch_millis"}
            return {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}}
        raise unsupported(f"dynamic mapping of value [{value!r}]")

    def _located(self, site: tuple[Any, ...], reason: str, cause: EsError | None = None) -> EsError:
        return EsError(400, "document_parsing_exception", prefix(self.locator.start(site)) + reason, caused_by=cause)

    def _strict_dynamic(self, obj: ObjectSpec, key: str, site: tuple[Any, ...]) -> EsError:
        """`dynamic: strict` refuses a new field, at the location of its value."""
        return EsError(
            400,
            "strict_dynamic_mapping_exception",
            f"{prefix(self.locator.start(site))}mapping set to strict, dynamic introduction of [{key}] "
            f"within [{obj.path or '_doc'}] is not allowed",
        )

    # ------------------------------------------------------------------ leaves
    def parse_leaf(self, spec: FieldSpec, value: Any, site: tuple[Any, ...]) -> None:
        if spec.type == "dense_vector":
            self._parse_vector(spec, value, site)
            return
        if isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, list):
                    self.parse_leaf(spec, item, site + (i,))
                else:
                    self._parse_scalar(spec, item, site + (i,))
            return
        self._parse_scalar(spec, value, site)

    def _parse_scalar(self, spec: FieldSpec, value: Any, site: tuple[Any, ...]) -> None:
        if value is None:
            if spec.null_value is None:
                return
            normalized = spec.null_value
        else:
            try:
                normalized = _normalize_scalar(spec, value)
            except EsError as cause:
                if spec.ignore_malformed and not isinstance(value, dict):
                    return
                raise EsError(
                    400,
                    "document_parsing_exception",
                    f"{prefix(self.locator.start(site))}failed to parse field [{spec.path}] of type [{spec.type}] in "
                    f"{self.describe()}. Preview of field's value: '{_java_repr(value)}'",
                    caused_by=cause,
                ) from cause
        values = self.parsed.values
        if spec.type == "keyword" and spec.ignore_above is not None and len(normalized) > spec.ignore_above:
            pass
        else:
            values.setdefault(spec.path, []).append(normalized)
        for sub in spec.subfields.values():
            self._parse_scalar(sub, value, site)

    def _parse_vector(self, spec: FieldSpec, value: Any, site: tuple[Any, ...]) -> None:
        assert spec.vector is not None
        if value is None:
            return
        if spec.path in self.parsed.vectors:
            raise self._located(
                site,
                f"failed to parse: Field [{spec.path}] of type [dense_vector] doesn't support "
                f"indexing multiple values for the same field in the same document",
                EsError(
                    400,
                    "illegal_argument_exception",
                    f"Field [{spec.path}] of type [dense_vector] doesn't support indexing multiple "
                    f"values for the same field in the same document",
                ),
            )
        if isinstance(value, str):
            raise unsupported(f"base64/hex encoded vectors (field [{spec.path}])")
        if not isinstance(value, list):
            loc = self.locator.start(site)
            raise EsError(
                400,
                "document_parsing_exception",
                f"{prefix(loc)}failed to parse field [{spec.path}] of type [dense_vector] in "
                f"{self.describe()}. Preview of field's value: '{_java_repr(value)}'",
                caused_by=EsError(
                    400,
                    "parsing_exception",
                    f"Unsupported type [{token_name(value)}] for provided value [{_java_repr(value)}]",
                ),
            )
        dims = spec.vector.dims
        description = self.describe()
        for i, item in enumerate(value):
            if dims is not None and i >= dims:
                msg = (
                    f"The [dense_vector] field [{spec.path}] in doc [{description}] has more dimensions than "
                    f"defined in the mapping [{dims}]"
                )
                raise self._located(
                    site + (i,), f"failed to parse: {msg}", EsError(400, "illegal_argument_exception", msg)
                )
            if isinstance(item, bool) or not isinstance(item, (int, float)):
                loc = self.locator.start(site + (i,))
                msg = f"Failed to parse object: expecting token of type [VALUE_NUMBER] but found [{token_name(item)}]"
                raise EsError(
                    400,
                    "document_parsing_exception",
                    f"{prefix(loc)}failed to parse: {msg}",
                    caused_by=EsError(
                        400, "parsing_exception", msg, meta={"line": loc[0], "col": loc[1]} if loc else {}
                    ),
                )
        vector = np.asarray(value, dtype=np.float32)
        end = self.locator.end(site)
        if dims is None:
            dims = len(value)
            self.new_fields.append((spec.path, {**spec.params, "dims": dims}))
        elif len(value) != dims:
            msg = (
                f"The [dense_vector] field [{spec.path}] in doc [{description}] has a different number of dimensions "
                f"[{len(value)}] than defined in the mapping [{dims}]"
            )
            raise EsError(
                400,
                "document_parsing_exception",
                f"{prefix(end)}failed to parse: {msg}",
                caused_by=EsError(400, "illegal_argument_exception", msg),
            )
        error = vector_value_error(vector, spec.vector.similarity if spec.vector.indexed else None)
        if error is not None:
            raise EsError(
                400,
                "document_parsing_exception",
                f"{prefix(end)}failed to parse: {error}",
                caused_by=EsError(400, "illegal_argument_exception", error),
            )
        self.parsed.vectors[spec.path] = vector
        self.parsed.vector_sites.append(site)


_F32 = struct.Struct("<f")
_C_OTHER, _C_INT, _C_KEYWORD, _C_FLOAT = range(4)
_NO = object()  # the fast path cannot decide: use the full parser
_SKIP = object()  # valid but not indexed (keyword over ignore_above)


def _fast_scalar(spec: FieldSpec, value: Any) -> Any:
    t = spec.type
    cls = value.__class__
    if t in INTEGER_RANGES:
        if cls is int:
            lo, hi = INTEGER_RANGES[t]
            if lo <= value <= hi:
                return value
        return _NO
    if t == "keyword":
        if cls is str:
            if spec.ignore_above is not None and len(value) > spec.ignore_above:
                return _SKIP
            return value
        return _NO
    if t == "float":
        if cls is float or cls is int:
            try:
                rounded = _F32.unpack(_F32.pack(value))[0]
            except (OverflowError, struct.error):
                return _NO
            return rounded if math.isfinite(rounded) else _NO
        return _NO
    if t == "double":
        if (cls is float or cls is int) and math.isfinite(value):
            return float(value)
        return _NO
    if t == "text":
        return value if cls is str else _NO
    if t == "boolean":
        return value if cls is bool else _NO
    if t == "date":
        assert spec.date_format is not None
        if cls is int:
            millis = spec.date_format.fast_int(value)
            return _NO if millis is None else millis
        if cls is str:
            try:
                return spec.date_format.parse(value)
            except EsError:
                return _NO
        return _NO
    return _NO


def _fast_into(spec: FieldSpec, value: Any, values: dict[str, list[Any]]) -> bool:
    if value.__class__ is list:
        out = []
        for item in value:
            if item is None:
                continue
            v = _fast_scalar(spec, item)
            if v is _NO:
                return False
            if v is not _SKIP:
                out.append(v)
        if out:
            existing = values.get(spec.path)
            if existing is None:
                values[spec.path] = out
            else:
                existing.extend(out)
        return True
    v = _fast_scalar(spec, value)
    if v is _NO:
        return False
    if v is not _SKIP:
        existing = values.get(spec.path)
        if existing is None:
            values[spec.path] = [v]
        else:
            existing.append(v)
    return True


def _fast_vector(spec: FieldSpec, value: Any) -> np.ndarray | None:
    vec_spec = spec.vector
    assert vec_spec is not None
    if value.__class__ is not list or vec_spec.dims is None or len(value) != vec_spec.dims:
        return None
    for item in value:
        cls = item.__class__
        if cls is not float and cls is not int:
            return None
    with np.errstate(over="ignore", invalid="ignore"):
        vector = np.asarray(value, dtype=np.float32)
        if not np.isfinite(vector).all():
            return None
        if vec_spec.indexed and vec_spec.similarity in ("dot_product", "cosine"):
            squared = float(np.dot(vector, vector))
            if not math.isfinite(squared):
                return None
            if vec_spec.similarity == "dot_product" and abs(squared - 1.0) > UNIT_VECTOR_EPS * 0.5:
                return None
            if vec_spec.similarity == "cosine" and squared == 0.0:
                return None
    return vector


def vector_value_error(vector: np.ndarray, similarity: str | None) -> str | None:
    """The float-vector checks of DenseVectorFieldMapper (NaN/inf, magnitude), or None."""
    for i, v in enumerate(vector):
        if math.isnan(v):
            return f"element_type [float] vectors do not support NaN values but found [NaN] at dim [{i}];" + preview(
                vector
            )
        if math.isinf(v):
            return (
                f"element_type [float] vectors do not support infinite values but found [{java_float(v)}] at dim [{i}];"
                + preview(vector)
            )
    squared = np.float32(0)
    with np.errstate(over="ignore"):
        for v in vector:
            squared = np.float32(squared + v * v)
    if not math.isfinite(squared):
        return (
            "NaN or Infinite magnitude detected, this usually means the vector values are too extreme to fit "
            "within a float." + preview(vector)
        )
    if similarity == "dot_product" and abs(float(squared) - 1.0) > UNIT_VECTOR_EPS:
        return "The [dot_product] similarity can only be used with unit-length vectors." + preview(vector)
    if similarity == "cosine" and math.sqrt(float(squared)) == 0.0:
        return "The [cosine] similarity does not support vectors with zero magnitude." + preview(vector)
    return None


def preview(vector: np.ndarray) -> str:
    """ElementType.appendErrorElements: the first five values of an invalid vector."""
    shown = ", ".join(java_float(v) for v in vector[:5])
    tail = ", ..." if len(vector) >= 5 else ""
    return f" Preview of invalid vector: [{shown}{tail}]"


def _first(values: list[Any]) -> Any:
    for v in _flatten(values):
        if v is not None:
            return v
    return None


def _flatten(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if isinstance(v, list):
            out.extend(_flatten(v))
        else:
            out.append(v)
    return out


def _join(parent: str, key: str) -> str:
    return f"{parent}.{key}" if parent else key


# ---------------------------------------------------------------------- scalar values
_INT_TEXT = re.compile(r"[+-]?\d+")
_FLOAT_TEXT = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def _number_from(spec: FieldSpec, value: Any) -> float | int:
    if isinstance(value, bool):
        raise EsError(
            400,
            "illegal_argument_exception",
            "Current token (VALUE_"
            + ("TRUE" if value else "FALSE")
            + ") not numeric, can not use numeric value accessors",
        )
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        if not spec.coerce:
            raise EsError(400, "illegal_argument_exception", "[coerce] was set to false and the value was a string")
        text = value.strip()
        if spec.is_integer and _INT_TEXT.fullmatch(text):
            return int(text)
        if text in ("NaN", "Infinity", "-Infinity", "+Infinity"):
            return float(text.replace("+", ""))
        if _FLOAT_TEXT.fullmatch(text):
            return float(text)
        kind = "number_format_exception" if spec.type in FLOAT_TYPES else "illegal_argument_exception"
        raise EsError(400, kind, f'For input string: "{value}"')
    raise EsError(400, "illegal_argument_exception", f"Can't parse value of type {type(value).__name__}")


def _normalize_scalar(spec: FieldSpec, value: Any) -> Any:
    """The indexed (doc-values) form of one scalar value, or EsError like the field mapper's."""
    t = spec.type
    if isinstance(value, dict):
        raise EsError(
            400,
            "illegal_argument_exception" if t not in ("keyword", "text") else "illegal_state_exception",
            "Can't get text on a START_OBJECT"
            if t in ("keyword", "text")
            else "Current token (START_OBJECT) not numeric, can not use numeric value accessors",
        )
    if t == "keyword":
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, float):
            return repr(value)
        return str(value)
    if t == "text":
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)
    if t in INTEGER_RANGES:
        number = _number_from(spec, value)
        if isinstance(number, float):
            if not math.isfinite(number):
                raise EsError(
                    400, "illegal_argument_exception", f"Value [{java_double(number)}] is out of range for {_an(t)}"
                )
            if not spec.coerce and not number.is_integer():
                raise EsError(400, "illegal_argument_exception", f"Value [{java_double(number)}] has a decimal part")
            lo, hi = INTEGER_RANGES[t]
            if number < lo or number > hi:
                raise EsError(
                    400, "illegal_argument_exception", f"Value [{java_double(number)}] is out of range for {_an(t)}"
                )
            return int(number)
        lo, hi = INTEGER_RANGES[t]
        if number < lo or number > hi:
            raise EsError(400, "illegal_argument_exception", f"Value [{number}] is out of range for {_an(t)}")
        return number
    if t in FLOAT_TYPES:
        number = float(_number_from(spec, value))
        if not math.isfinite(number):
            raise EsError(
                400, "illegal_argument_exception", f"[{t}] supports only finite values, but got [{java_double(number)}]"
            )
        if t in _NARROW_FLOATS:
            stored = _NARROW_FLOATS[t](number)
            if not math.isfinite(stored):  # finite as a double, overflows the field's precision
                raise EsError(
                    400,
                    "illegal_argument_exception",
                    f"[{t}] supports only finite values, but got [{java_float(float(stored))}]",
                )
            return float(stored)
        return number
    if t == "boolean":
        if isinstance(value, bool):
            return value
        if value in ("true", "false"):
            return value == "true"
        if value == "":
            return False
        raise EsError(
            400,
            "illegal_argument_exception",
            f"Failed to parse value [{_java_repr(value)}] as only [true] or [false] are allowed.",
        )
    if t == "date":
        assert spec.date_format is not None
        if isinstance(value, bool):
            raise EsError(
                400,
                "illegal_argument_exception",
                f"failed to parse date field [{_java_repr(value)}] with format [{spec.date_format.text}]",
            )
        return spec.date_format.parse(value)
    raise unsupported(f"values of type [{t}]")


def _an(type_name: str) -> str:
    return f"an {type_name}" if type_name[0] in "aeiou" else f"a {type_name}"


def normalize_query_value(spec: FieldSpec, value: Any) -> Any:
    """A term/range value converted to the field's indexed form (raises EsError when invalid)."""
    if spec.type == "date" and not isinstance(value, (int, float)):
        assert spec.date_format is not None
        return spec.date_format.parse(value)
    if spec.type == "text":
        return value if isinstance(value, str) else _normalize_scalar(spec, value)
    return _normalize_scalar(spec, value)


# ---------------------------------------------------------------------- doc values
def doc_values(spec: FieldSpec, values: list[Any]) -> list[Any]:
    """Doc values as Elasticsearch presents them: sorted; keyword values de-duplicated."""
    if spec.type == "keyword":
        return sorted(set(values))
    if spec.type == "text":
        return []
    return sorted(values)


def source_values(source: dict[str, Any], path: str) -> list[Any]:
    """Raw values at a dotted path in a _source document (arrays and dotted keys expanded)."""
    out: list[Any] = []
    _collect(source, path.split("."), out)
    return out


def _collect(node: Any, parts: list[str], out: list[Any]) -> None:
    if isinstance(node, list):
        for item in node:
            _collect(item, parts, out)
        return
    if not parts:
        if node is not None:
            out.append(node)
        return
    if not isinstance(node, dict):
        return
    for k in range(len(parts), 0, -1):
        key = ".".join(parts[:k])
        if key in node:
            _collect(node[key], parts[k:], out)


class MappingView:
    """What aggs.py needs to read field values: mapping types and doc values.

    `doc_values(source, path)` returns the values Elasticsearch would expose as doc values
    for that field of the document whose `_source` is given: keyword strings (sorted,
    de-duplicated), numbers (integers as int; float fields rounded to float32, half_float to
    float16, then widened), booleans as bool, dates as epoch milliseconds (int), sorted.
    Text fields have no doc values (empty list). Multi-fields (`title.keyword`) resolve to
    their parent's source value.
    """

    def __init__(self, mapping: Mapping, known: dict[int, dict[str, list[Any]]] | None = None) -> None:
        self._mapping = mapping
        self._known = known or {}

    def field_type(self, path: str) -> str | None:
        return self._mapping.field_type(path)

    def date_format(self, path: str) -> str | None:
        spec = self._mapping.field(path)
        return spec.date_format.text if spec is not None and spec.date_format is not None else None

    def doc_values(self, source: dict[str, Any], path: str) -> list[Any]:
        spec = self._mapping.field(path)
        if spec is None:
            return []
        cached = self._known.get(id(source))
        if cached is not None:
            return doc_values(spec, cached.get(path, []))
        return doc_values(spec, values_from_source(self._mapping, spec, source))


def values_from_source(mapping: Mapping, spec: FieldSpec, source: dict[str, Any]) -> list[Any]:
    """Normalised values of one field, re-derived from a _source document."""
    out: list[Any] = []
    for raw in source_values(source, mapping.source_path.get(spec.path, spec.path)):
        try:
            value = _normalize_scalar(spec, raw)
        except EsError:
            continue
        if spec.type == "keyword" and spec.ignore_above is not None and len(value) > spec.ignore_above:
            continue
        out.append(value)
    return out


# ---------------------------------------------------------------------- fields API
def fetch_field_values(mapping: Mapping, spec: FieldSpec, source: dict[str, Any], fmt: str | None) -> list[Any]:
    """Values for the search `fields` option: from _source, typed and formatted by the mapping."""
    raw_values = source_values(source, mapping.source_path.get(spec.path, spec.path))
    if spec.type == "dense_vector":
        return [
            float32_json(v) for v in (raw_values[0] if raw_values and isinstance(raw_values[0], list) else raw_values)
        ]
    out: list[Any] = []
    for raw in raw_values:
        try:
            value = _normalize_scalar(spec, raw)
        except EsError:
            continue
        if spec.type == "date":
            assert spec.date_format is not None
            out.append(format_millis(value, fmt) if fmt else spec.date_format.format(value))
        elif spec.type == "float" or spec.type == "half_float":
            out.append(float32_json(value))
        elif spec.type == "keyword" and spec.ignore_above is not None and len(value) > spec.ignore_above:
            continue
        else:
            out.append(value)
    return out


ValueGetter = Callable[[str], list]


# --------------------------------------------------------------------------- put mapping (merge)

# Leaf parameters an update may change (ES: `Parameter.updateable`); every other one must stay as it is.
_UPDATEABLE_PARAMS = frozenset({"meta", "ignore_above", "fields"})


def merge_mapping_update(current: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """`PUT /<index>/_mapping`: the mapping `update` merged into `current` (both as `GET _mapping` shows them).

    Elasticsearch's merge (docs: "Update mapping API"; YAML REST tests indices.put_mapping/10_basic.yml,
    all_path_options.yml): new properties are added at any depth (dotted names expand into objects),
    multi-fields are added, the root's and an object's `dynamic` may change, `_meta` and a field's `meta`
    are replaced; an existing field's type cannot change (`mapper [f] cannot be changed from type [a] to [b]`)
    nor a parameter that is not updateable. A body wrapped in a type is refused as 9.x refuses it.
    """
    if not isinstance(update, dict):
        raise _fail("Malformed mapping: expected an object")
    if "_doc" in update and isinstance(update["_doc"], dict):
        raise EsError(400, "illegal_argument_exception", "Types cannot be provided in put mapping requests")
    merged = copy.deepcopy(current)
    for key, value in update.items():
        if key == "properties":
            if not isinstance(value, dict):
                raise _fail("Expected map for property [fields] on field [properties] but got a class java.lang.String")
            _merge_properties(merged.setdefault("properties", {}), value, "")
        else:
            merged[key] = copy.deepcopy(value)  # dynamic, _meta, date_detection …: replaced; Mapping validates them
    return merged


def _expand_dotted(name: str, spec: Any) -> tuple[str, Any]:
    if "." not in name:
        return name, spec
    head, rest = name.split(".", 1)
    inner_name, inner = _expand_dotted(rest, spec)
    return head, {"properties": {inner_name: inner}}


def _is_object(spec: dict[str, Any]) -> bool:
    return spec.get("type", "object") == "object"


def _merge_properties(old: dict[str, Any], new: dict[str, Any], parent: str) -> None:
    for raw_name, raw_spec in new.items():
        if raw_name == "":
            raise EsError(400, "illegal_argument_exception", "field name cannot be an empty string")
        if raw_name.startswith(".") or raw_name.endswith(".") or ".." in raw_name:
            raise unsupported(f"put_mapping of the field name [{raw_name}]")
        name, spec = _expand_dotted(raw_name, raw_spec)
        if not isinstance(spec, dict):
            raise _fail(f"Expected map for property [fields] on field [{name}] but got a class java.lang.String")
        path = f"{parent}.{name}" if parent else name
        existing = old.get(name)
        if existing is None:
            old[name] = copy.deepcopy(spec)
            continue
        if spec.get("type") == "nested" or existing.get("type") == "nested":
            raise unsupported("put_mapping of a nested field")
        if _is_object(existing) != _is_object(spec):
            raise unsupported(f"put_mapping changing [{path}] between an object and a field")
        if _is_object(existing):
            for key, value in spec.items():
                if key == "properties":
                    _merge_properties(existing.setdefault("properties", {}), value, path)
                elif key == "dynamic":
                    existing[key] = value
                elif key != "type" and existing.get(key, True) != value:
                    raise unsupported(f"put_mapping changing object parameter [{key}] of [{path}]")
            continue
        _merge_leaf(existing, spec, path)


def _merge_leaf(existing: dict[str, Any], spec: dict[str, Any], path: str) -> None:
    old_type, new_type = existing.get("type"), spec.get("type")
    if new_type != old_type:
        raise EsError(
            400, "illegal_argument_exception", f"mapper [{path}] cannot be changed from type [{old_type}] to [{new_type}]"
        )
    left_out = sorted(k for k in existing if k not in spec and k not in _UPDATEABLE_PARAMS)
    if left_out:
        raise unsupported(f"put_mapping leaving out parameter [{left_out[0]}] of existing field [{path}]")
    for key, value in spec.items():
        if key == "fields":
            subs = existing.setdefault("fields", {})
            for sub_name, sub_spec in value.items():
                if sub_name in subs:
                    _merge_leaf(subs[sub_name], sub_spec, f"{path}.{sub_name}")
                else:
                    subs[sub_name] = copy.deepcopy(sub_spec)
        elif key in _UPDATEABLE_PARAMS:
            existing[key] = copy.deepcopy(value)
        elif existing.get(key) != value:
            raise EsError(
                400,
                "illegal_argument_exception",
                f"Mapper for [{path}] conflicts with existing mapper:\n\tCannot update parameter [{key}] "
                f"from [{_java_repr(existing.get(key))}] to [{_java_repr(value)}]",
            )
