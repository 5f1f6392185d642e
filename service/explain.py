"""Searches that remember what they sent, so `explain=true` can return the exact request bodies."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from service import store


class Session:
    """One API request's searches; `result()` adds `took_ms` and, when explaining, the requests."""

    def __init__(self, explain: bool = False) -> None:
        self.explain = explain
        self.sent: list[dict[str, Any]] = []
        self.took_ms: int | None = None

    def search(self, kind: str, body: Mapping[str, Any], *, main: bool = True) -> dict[str, Any]:
        """Run one search; `main` marks the one whose `took` the answer reports."""
        self._note(kind, body)
        resp = store.search(kind, body)
        if main:
            self.took_ms = int(resp.get("took", 0))
        return resp

    def result(self, **fields: Any) -> dict[str, Any]:
        out: dict[str, Any] = dict(fields)
        if self.took_ms is not None:
            out["took_ms"] = self.took_ms
        if self.explain:
            out["explain"] = self.sent
        return out

    def _note(self, kind: str, body: Mapping[str, Any]) -> None:
        if self.explain:
            self.sent.append({"index": store.index_of(kind), "body": dict(body)})
