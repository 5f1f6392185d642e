"""Token locations in raw JSON, for the "[line:col]" prefix of Elasticsearch parse errors.

Elasticsearch reports document and query parse errors at the location Jackson's parser is
at when the error is raised (`XContentLocation`: 1-based line, 1-based byte column). The
double parses JSON with the stdlib, so on the (rare) error path it re-scans the raw text to
find where a given value starts, or where an array ends. `token_name` gives the Jackson token
a parsed value starts with, which the same messages name. Only used to build messages.
"""

from __future__ import annotations

from typing import Any

Path = tuple[Any, ...]


class JsonLocator:
    """Maps a path of keys / list indices to the location of that value in the raw text."""

    def __init__(self, raw: str | bytes | None) -> None:
        if isinstance(raw, (bytes, bytearray)):
            raw = raw.decode("utf-8", errors="replace")
        self._raw = raw
        self._starts: dict[Path, tuple[int, int]] | None = None
        self._ends: dict[Path, tuple[int, int]] = {}
        self._keys: dict[Path, tuple[int, int]] = {}

    def _index(self) -> None:
        if self._starts is not None:
            return
        self._starts = {}
        if not self._raw:
            return
        text = self._raw
        line_starts = [0]
        for i, ch in enumerate(text):
            if ch == "\n":
                line_starts.append(i + 1)
        byte_cache: dict[int, int] = {}

        def loc(pos: int) -> tuple[int, int]:
            lo, hi = 0, len(line_starts) - 1
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if line_starts[mid] <= pos:
                    lo = mid
                else:
                    hi = mid - 1
            start = line_starts[lo]
            if pos not in byte_cache:
                byte_cache[pos] = len(text[start:pos].encode("utf-8"))
            return lo + 1, byte_cache[pos] + 1

        n = len(text)

        def skip_ws(i: int) -> int:
            while i < n and text[i] in " \t\r\n":
                i += 1
            return i

        def scan_string(i: int) -> tuple[str, int]:
            j = i + 1
            out = []
            while j < n and text[j] != '"':
                if text[j] == "\\":
                    out.append(text[j : j + 2])
                    j += 2
                else:
                    out.append(text[j])
                    j += 1
            import json as _json

            try:
                value = _json.loads('"' + "".join(out) + '"')
            except ValueError:
                value = "".join(out)
            return value, j + 1

        def scan(i: int, path: Path) -> int:
            i = skip_ws(i)
            if i >= n:
                return i
            assert self._starts is not None
            self._starts[path] = loc(i)
            ch = text[i]
            if ch in "{[":
                i = skip_ws(i + 1)
                if i < n and text[i] == ("}" if ch == "{" else "]"):
                    self._ends[path] = loc(i)
                    return i + 1
                k = 0
                while i < n:
                    member: Any = k  # an array member's index, an object member's key
                    if ch == "{":
                        i = skip_ws(i)
                        key_pos = i
                        member, i = scan_string(i)
                        self._keys[path + (member,)] = loc(key_pos)
                        i = skip_ws(i)
                        i += 1  # colon
                    i = scan(i, path + (member,))
                    k += 1
                    i = skip_ws(i)
                    if i < n and text[i] == ",":
                        i += 1
                        continue
                    if i < n:
                        self._ends[path] = loc(i)
                    return i + 1
                return i
            if ch == '"':
                _, i = scan_string(i)
                return i
            while i < n and text[i] not in ",]} \t\r\n":
                i += 1
            return i

        try:
            scan(0, ())
        except (IndexError, ValueError):
            pass

    def start(self, path: Path) -> tuple[int, int] | None:
        """Location of the first token of the value at `path`."""
        self._index()
        assert self._starts is not None
        return self._starts.get(path)

    def end(self, path: Path) -> tuple[int, int] | None:
        """Location of the closing bracket of the array/object at `path`."""
        self._index()
        return self._ends.get(path)

    def key(self, path: Path) -> tuple[int, int] | None:
        """Location of the field name whose value is at `path`."""
        self._index()
        return self._keys.get(path)


def prefix(location: tuple[int, int] | None) -> str:
    """The "[line:col] " prefix Elasticsearch puts in front of located messages."""
    return f"[{location[0]}:{location[1]}] " if location else ""


def token_name(value: Any) -> str:
    """Jackson's `JsonToken` a parsed JSON value starts with, as Elasticsearch messages name it."""
    if isinstance(value, dict):
        return "START_OBJECT"
    if isinstance(value, list):
        return "START_ARRAY"
    if isinstance(value, bool):
        return "VALUE_BOOLEAN"
    if isinstance(value, str):
        return "VALUE_STRING"
    if value is None:
        return "VALUE_NULL"
    return "VALUE_NUMBER"
