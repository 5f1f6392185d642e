"""The movie catalogue: lookup by id, search by title as typed, resolving a title to one movie, its genres."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from flask_smorest import abort

from service import queries, store
from service.errors import SUGGESTIONS as SUGGESTIONS_KEY
from service.errors import suggestion
from service.explain import Session

SUGGESTIONS = 5
ALTERNATIVES = 5
_GENRE_LIST_CACHE = "movierec.genre_list"
_YEARS_CACHE = "movierec.catalogue_years"


def summary(source: Mapping[str, Any]) -> dict[str, Any]:
    """The movie fields every result carries (no vectors)."""
    return {k: source[k] for k in queries.MOVIE_FIELDS if k in source}


def title_summary(source: Mapping[str, Any]) -> dict[str, Any]:
    """A movie found by title: the summary plus its popularity (percentile of rating_count)."""
    return {k: source[k] for k in queries.TITLE_FIELDS if k in source}


def scored(hits: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Search hits as API items: the movie and its `_score`."""
    return [{"movie": summary(h["_source"]), "score": h.get("_score")} for h in hits]


def hits(resp: Mapping[str, Any]) -> list[dict[str, Any]]:
    return list(resp["hits"]["hits"])


def merged_into(session: Session | None, ids: Sequence[int]) -> dict[int, int]:
    """Old id -> canonical id for those of `ids` that cleaning merged into another movie (others absent)."""
    if not ids:
        return {}
    body = queries.movies_merged_into(ids)
    resp = session.search("movies", body, main=False) if session is not None else store.search("movies", body)
    wanted = {int(i) for i in ids}
    out: dict[int, int] = {}
    for hit in hits(resp):
        src = hit["_source"]
        out.update({int(m): int(src["movie_id"]) for m in src.get("merged_ids") or () if int(m) in wanted})
    return out


def canonical_ratings(session: Session, ratings: Mapping[int, float]) -> dict[int, float]:
    """Ratings keyed by canonical movie ids: a rating of a film's old id counts for the film (the last given wins)."""
    mapping = merged_into(session, list(ratings))
    out: dict[int, float] = {}
    for movie_id, rating in ratings.items():
        out[mapping.get(movie_id, movie_id)] = rating
    return out


def _document(movie_id: int, *, vectors: bool = False) -> dict[str, Any]:
    """A movie's document by its id or an old id merged into it; 404 when neither exists."""
    doc = store.get("movies", movie_id, vectors=vectors)
    if doc is None:
        canonical = merged_into(None, [movie_id]).get(movie_id)
        doc = store.get("movies", canonical, vectors=vectors) if canonical is not None else None
    if doc is None:
        _unknown_movie(movie_id)
    return doc


def get(movie_id: int) -> dict[str, Any]:
    """One movie's details (under its canonical id when given an old one), 404 when unknown."""
    doc = _document(movie_id)
    return {k: v for k, v in doc.items() if k in queries.MOVIE_DETAIL_FIELDS}


def with_vector(movie_id: int, field: str) -> tuple[dict[str, Any], list[float]]:
    """A movie and one of its vectors; 404 when the movie is unknown or the model has no vector for it."""
    doc = _document(movie_id, vectors=True)
    vector = doc.get(field)
    if not vector:
        abort(404, message=f"Movie {movie_id} has no {field} in the current model (nobody rated it).")
    return doc, vector


def search(args: Mapping[str, Any]) -> dict[str, Any]:
    """Title search as you type (fuzzy + prefix), or browsing by genre/year when there is no text."""
    session = Session(args.get("explain", False))
    genres, year, size = args.get("genre") or (), args.get("year"), args["k"]
    if args.get("q"):
        body = queries.title_search(args["q"], strict=False, size=size, genres=genres, year=year)
    else:
        body = queries.browse_movies(size=size, offset=args.get("offset", 0), genres=genres, year=year)
    resp = session.search("movies", body)
    return session.result(items=scored(hits(resp)), total=_total(resp))


def genres() -> dict[str, Any]:
    """Every genre with its number of movies, most common first; one aggregation per served run."""

    def build() -> list[dict[str, Any]]:
        resp = store.search("movies", queries.genre_list())
        buckets = resp["aggregations"]["genres"]["buckets"]
        return [{"name": b["key"], "count": int(b["doc_count"])} for b in buckets]

    return {"genres": store.per_active_run(_GENRE_LIST_CACHE, build)}


def catalogue_years() -> dict[str, int] | None:
    """The first and last release year of the served catalogue, once per served run (None when no movie has one)."""

    def build() -> dict[str, int] | None:
        aggs = store.search("movies", queries.year_range())["aggregations"]
        first, last = aggs["first"]["value"], aggs["last"]["value"]
        return None if first is None or last is None else {"first": int(first), "last": int(last)}

    return store.per_active_run(_YEARS_CACHE, build)


def year_note(title: str) -> dict[str, Any]:
    """The year hint of a typed title and the catalogue's years, for a page to say when the film cannot be there."""
    _, hint = queries.split_year_hint(title)
    return {"year_hint": hint, "catalogue_years": catalogue_years()}


def suggest(session: Session, title: str) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Loose matches (any word, fuzzy or as a prefix) to offer when a title does not resolve,
    and the first of them when it is a confident match (queries.confident_title)."""
    found = hits(session.search("movies", queries.title_search(title, strict=False, size=SUGGESTIONS), main=False))
    best = title_summary(found[0]["_source"]) if queries.confident_title(found) else None
    return [title_summary(h["_source"]) for h in found], best


def resolve(session: Session, title: str, year: int | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The best movie for a typed title and the close alternatives; 404 with suggestions when none matches."""
    body = queries.title_search(title, strict=True, size=ALTERNATIVES + 1, year=year)
    found = hits(session.search("movies", body, main=False))
    if not found:
        _unknown_titles(session, [title])
    return title_summary(found[0]["_source"]), [title_summary(h["_source"]) for h in found[1:]]


def resolve_many(session: Session, titles: Sequence[str]) -> list[dict[str, Any]]:
    """Each title's best movie; 404 with suggestions naming every title that matched nothing."""
    found = [hits(session.search("movies", queries.title_search(t, strict=True, size=1), main=False)) for t in titles]
    missing = [t for t, h in zip(titles, found, strict=True) if not h]
    if missing:
        _unknown_titles(session, missing, field="titles", location="json")
    return [summary(h[0]["_source"]) for h in found]


def vectors_of(
    session: Session | Callable[[dict[str, Any]], Mapping[str, Any]], ids: Sequence[int], field: str = "factors"
) -> dict[int, tuple[dict[str, Any], np.ndarray | None, str | None]]:
    """Movies by id: (summary, vector or None when the model has none, run_id); unknown ids are absent.

    `session` searches the movies alias; a plain callable (body -> response) searches wherever it
    sends the body (service.sync reads one run's concrete index).
    """
    search = session if callable(session) else (lambda body: session.search("movies", body, main=False))
    out: dict[int, tuple[dict[str, Any], np.ndarray | None, str | None]] = {}
    unique = sorted(set(ids))
    fields = queries.MOVIE_FIELDS + ("run_id",)
    for start in range(0, len(unique), queries.MAX_RESULT_WINDOW):
        chunk = unique[start : start + queries.MAX_RESULT_WINDOW]
        resp = search(queries.movies_by_ids(chunk, vectors=[field], fields=fields))
        for hit in hits(resp):
            src = hit["_source"]
            vector = np.asarray(src[field], dtype=np.float64) if src.get(field) else None
            out[int(src["movie_id"])] = (summary(src), vector, src.get("run_id"))
    return out


def _unknown_movie(movie_id: int) -> None:
    abort(404, message=f"Unknown movie {movie_id}.", errors={"path": {"movie_id": [f"unknown movie {movie_id}"]}})


def _unknown_titles(session: Session, titles: Sequence[str], field: str = "title", location: str = "query") -> None:
    """404 naming the titles (errors.<location>.<field>), with suggestions for each, the first flagged `confident`
    when it is a confident match, and the year notes of titles that carry a year."""
    suggestions: dict[str, list[dict[str, Any]]] = {}
    for t in titles:
        found, best = suggest(session, t)
        suggestions[t] = [suggestion(m["title"], m) for m in found]
        if best is not None and suggestions[t]:
            suggestions[t][0]["confident"] = True
    errors: dict[str, Any] = {location: {field: [f"no match for {t!r}" for t in titles]}, SUGGESTIONS_KEY: suggestions}
    notes = {t: note for t in titles if (note := year_note(t))["year_hint"] is not None}
    if notes:
        errors["years"] = notes
    names = ", ".join(repr(t) for t in titles)
    abort(404, message=f"No movie matches {names}; see errors.suggestions for close titles.", errors=errors)


def _total(resp: Mapping[str, Any]) -> int | None:
    total = resp["hits"].get("total")
    return int(total["value"]) if isinstance(total, dict) else total
