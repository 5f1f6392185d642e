"""Searchable snapshots of an index ("segments"), built on refresh, with lazy columns.

A `Segment` is what one refresh made visible to search: an immutable list of documents in
Lucene doc-id order (a re-indexed document moves to the end, like a new Lucene doc).
Column structures are built lazily the first time a query needs them and cached for the
life of the snapshot:

* numeric columns (float64 with NaN for missing) for range filters and sorting,
* term postings (value -> doc ordinals) for keyword/boolean/numeric exact matches,
* text inverted indices (term -> doc ordinals, term frequencies; token counts encoded like
  Lucene norms) for BM25,
* contiguous float32 matrices per `dense_vector` field for brute-force kNN.

Each index is one shard: scoring statistics (doc count, doc freq, average length) are the
index's own, over live documents (Lucene also counts deleted-but-unmerged documents until
a merge; the double behaves like a freshly merged index).
"""

from __future__ import annotations

import bisect
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tests.es_double.analysis import deletion_variants
from tests.es_double.mapping import FieldSpec, Mapping


class Doc:
    """One indexed document (a version of it)."""

    __slots__ = ("id", "source", "values", "vectors", "version", "seq_no", "primary_term")

    def __init__(
        self,
        doc_id: str,
        source: dict[str, Any],
        values: dict[str, list[Any]],
        vectors: dict[str, np.ndarray],
        version: int,
        seq_no: int,
        primary_term: int = 1,
    ) -> None:
        self.id = doc_id
        self.source = source
        self.values = values
        self.vectors = vectors
        self.version = version
        self.seq_no = seq_no
        self.primary_term = primary_term


# ---------------------------------------------------------------------- Lucene norms
def _long_to_int4(i: int) -> int:
    num_bits = i.bit_length()
    if num_bits < 4:
        return i
    shift = num_bits - 4
    encoded = (i >> shift) & 0x07
    encoded |= (shift + 1) << 3
    return encoded


def _int4_to_long(i: int) -> int:
    bits = i & 0x07
    shift = (i >> 3) - 1
    if shift == -1:
        return bits
    return (bits | 0x08) << shift


_MAX_INT4 = _long_to_int4(2**31 - 1)
_NUM_FREE_VALUES = 255 - _MAX_INT4


def int_to_byte4(i: int) -> int:
    """Lucene SmallFloat.intToByte4: how BM25 norms store a field length in one byte."""
    if i < _NUM_FREE_VALUES:
        return i
    return _NUM_FREE_VALUES + _long_to_int4(i - _NUM_FREE_VALUES)


def byte4_to_int(b: int) -> int:
    """Lucene SmallFloat.byte4ToInt (decoded length used by BM25)."""
    if b < _NUM_FREE_VALUES:
        return b
    return _NUM_FREE_VALUES + _int4_to_long(b - _NUM_FREE_VALUES)


LENGTH_TABLE = np.array([byte4_to_int(b) for b in range(256)], dtype=np.float32)


@dataclass
class TermStats:
    """Per-field statistics BM25 needs (CollectionStatistics)."""

    doc_count: int
    sum_total_term_freq: int


@dataclass
class TextIndex:
    """Inverted index of one text (or keyword, for scoring) field."""

    postings: dict[str, tuple[np.ndarray, np.ndarray]]
    norms: np.ndarray  # encoded norm byte per doc (1 for fields without norms)
    stats: TermStats
    sorted_terms: list[str]
    positions: dict[str, dict[int, list[int]]] = field(default_factory=dict)  # term -> doc ordinal -> positions
    _deletes: dict[int, dict[str, list[str]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def prefix_terms(self, prefix: str) -> list[str]:
        """Terms starting with `prefix`, in term order."""
        start = bisect.bisect_left(self.sorted_terms, prefix)
        out = []
        for term in self.sorted_terms[start:]:
            if not term.startswith(prefix):
                break
            out.append(term)
        return out

    def deletion_index(self, max_deletes: int) -> dict[str, list[str]]:
        """Variant -> terms index for fuzzy candidate generation (built once per snapshot)."""
        with self._lock:
            index = self._deletes.get(max_deletes)
            if index is None:
                index = {}
                for term in self.sorted_terms:
                    for variant in deletion_variants(term, max_deletes):
                        index.setdefault(variant, []).append(term)
                self._deletes[max_deletes] = index
            return index


class Segment:
    """The searchable view of one index as of its last refresh."""

    def __init__(self, docs: list[Doc], mapping: Mapping) -> None:
        self.docs = docs
        self.n = len(docs)
        self.mapping = mapping
        self.id_to_ord = {d.id: i for i, d in enumerate(docs)}
        self._lock = threading.RLock()
        self._numeric: dict[str, tuple[np.ndarray, bool]] = {}
        self._terms: dict[str, dict[Any, np.ndarray]] = {}
        self._text: dict[str, TextIndex] = {}
        self._vectors: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._exists: dict[str, np.ndarray] = {}

    # ------------------------------------------------------------------ generic
    def values(self, path: str) -> list[list[Any]]:
        return [d.values.get(path, ()) for d in self.docs]  # type: ignore[misc]

    def exists(self, path: str) -> np.ndarray:
        """Docs with at least one indexed value for the field (or any field under an object)."""
        with self._lock:
            cached = self._exists.get(path)
            if cached is not None:
                return cached
            spec = self.mapping.field(path)
            if spec is not None and spec.type == "dense_vector":
                mask = np.fromiter((path in d.vectors for d in self.docs), dtype=bool, count=self.n)
            elif spec is not None:
                mask = np.fromiter((bool(d.values.get(path)) for d in self.docs), dtype=bool, count=self.n)
            elif path in self.mapping.object_paths:
                prefix = path + "."
                subs = [p for p in self.mapping.leaf_fields if p.startswith(prefix)]
                mask = np.zeros(self.n, dtype=bool)
                for sub in subs:
                    mask |= self.exists(sub)
            else:
                mask = np.zeros(self.n, dtype=bool)
            self._exists[path] = mask
            return mask

    # ------------------------------------------------------------------ numeric
    def numeric(self, path: str) -> tuple[np.ndarray, bool]:
        """(column, multi_valued): single-valued fields as a float64 array with NaN for missing."""
        with self._lock:
            cached = self._numeric.get(path)
            if cached is None:
                multi = False
                col = np.full(self.n, np.nan)
                for i, d in enumerate(self.docs):
                    vals = d.values.get(path)
                    if vals:
                        if len(vals) > 1:
                            multi = True
                        col[i] = float(vals[0])
                cached = (col, multi)
                self._numeric[path] = cached
            return cached

    # ------------------------------------------------------------------ terms
    def term_postings(self, path: str) -> dict[Any, np.ndarray]:
        """value -> sorted doc ordinals containing it (exact-match index)."""
        with self._lock:
            cached = self._terms.get(path)
            if cached is None:
                lists: dict[Any, list[int]] = {}
                for i, d in enumerate(self.docs):
                    vals = d.values.get(path)
                    if vals:
                        for v in set(vals):
                            lists.setdefault(v, []).append(i)
                cached = {k: np.asarray(v, dtype=np.int64) for k, v in lists.items()}
                self._terms[path] = cached
            return cached

    # ------------------------------------------------------------------ text
    def text_index(self, spec: FieldSpec) -> TextIndex:
        """BM25 index: analysed tokens (with positions) for text, whole values (no norms) for keyword/boolean.

        A text value goes through the field's index analyzer; the values of one field are
        `position_increment_gap` positions apart, and the norm counts tokens that advance
        the position (Lucene's discountOverlaps: stacked synonyms do not lengthen a field).
        """
        with self._lock:
            cached = self._text.get(spec.path)
            if cached is not None:
                return cached
            postings_lists: dict[str, tuple[list[int], list[int]]] = {}
            term_positions: dict[str, dict[int, list[int]]] = {}
            norms = np.ones(self.n, dtype=np.int64)
            doc_count = 0
            sum_ttf = 0
            analyzed = spec.type == "text"
            analyzer = self.mapping.analysis.index_analyzer(spec.params) if analyzed else None
            for i, d in enumerate(self.docs):
                vals = d.values.get(spec.path)
                if not vals:
                    continue
                if analyzer is not None:
                    counts: dict[str, int] = {}
                    length = 0
                    pos = -1
                    for k, v in enumerate(vals):
                        if k:
                            pos += analyzer.position_increment_gap
                        for tok in analyzer.tokens(v):
                            pos += tok.pos_inc
                            counts[tok.term] = counts.get(tok.term, 0) + 1
                            term_positions.setdefault(tok.term, {}).setdefault(i, []).append(pos)
                            if tok.pos_inc > 0:
                                length += 1
                    if not counts:
                        norms[i] = 0
                        continue
                    norms[i] = int_to_byte4(length)
                    sum_ttf += sum(counts.values())
                else:
                    counts = {_term_text(v): 1 for v in vals}
                    sum_ttf += len(counts)
                doc_count += 1
                for t, c in counts.items():
                    entry = postings_lists.get(t)
                    if entry is None:
                        entry = ([], [])
                        postings_lists[t] = entry
                    entry[0].append(i)
                    entry[1].append(c)
            postings = {
                t: (np.asarray(o, dtype=np.int64), np.asarray(f, dtype=np.float32))
                for t, (o, f) in postings_lists.items()
            }
            cached = TextIndex(postings, norms, TermStats(doc_count, sum_ttf), sorted(postings), term_positions)
            self._text[spec.path] = cached
            return cached

    # ------------------------------------------------------------------ vectors
    def vectors(self, spec: FieldSpec) -> tuple[np.ndarray, np.ndarray]:
        """(matrix float32 [n, dims], present mask) for a dense_vector field."""
        with self._lock:
            cached = self._vectors.get(spec.path)
            if cached is None:
                assert spec.vector is not None
                dims = spec.vector.dims or 0
                matrix = np.zeros((self.n, dims), dtype=np.float32)
                present = np.zeros(self.n, dtype=bool)
                for i, d in enumerate(self.docs):
                    v = d.vectors.get(spec.path)
                    if v is not None and len(v) == dims:
                        matrix[i] = v
                        present[i] = True
                if spec.vector.similarity == "cosine":
                    # indexed cosine vectors are normalised unless already unit length (EPS on squared magnitude)
                    squared = np.einsum("ij,ij->i", matrix, matrix, dtype=np.float32)
                    rescale = present & (np.abs(squared - np.float32(1)) > np.float32(1e-3))
                    lengths = np.where(rescale, np.sqrt(squared), np.float32(1)).astype(np.float32)
                    matrix = (matrix / lengths[:, None]).astype(np.float32)
                cached = (np.ascontiguousarray(matrix), present)
                self._vectors[spec.path] = cached
            return cached


def _term_text(value: Any) -> str:
    """The indexed term of a keyword/boolean value."""
    if isinstance(value, bool):
        return "T" if value else "F"
    return str(value)
