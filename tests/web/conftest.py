"""Fixtures for the browser tests: the real app on a loopback port over the ES double, and headless Chromium.

`live` publishes the API tests' pipeline-trained model (tests/service/trained.py,
one Spark training per session) under the test's index prefix, with one movie
renamed to a title full of markup, and serves `service.create_app` with
werkzeug in a thread. `web` (desktop) and `phone` are fresh Chromium pages that
record script errors and any request leaving the app's origin. Debian's
`chromium` is driven by Playwright for Python (no browser download, see
tests/web/browser.py); without either, the tests skip, except in CI
(CI=true), where they fail.
"""

from __future__ import annotations

import copy
import json
import os
import re
import threading
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from service import create_app
from tests.service.trained import Trained, publish
from tests.web.browser import DESKTOP, PHONE, launch, missing_browser

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "test-output" / "screenshots"
TIMEOUT_MS = 10_000

# A title that is markup if anything ever parses it as HTML: quotes, an ampersand, a script, an image with a handler.
HOSTILE_TITLE = 'Tom & Jerry\'s "Escape" <script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">'


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the session; skipped without it, except in CI where that is a failure."""
    reason = missing_browser()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests must run in CI: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = launch(pw)
        yield chromium
        chromium.close()


def _hostile(model: Trained) -> tuple[Trained, int]:
    """A copy of `model` whose lowest-id movie with a vector carries HOSTILE_TITLE (movies and ratings docs)."""
    docs = copy.deepcopy(model.docs)
    movie_id = min(int(r["movie_id"]) for r in docs["movies"] if r.get("factors"))
    for kind in ("movies", "ratings"):
        for row in docs[kind]:
            if int(row["movie_id"]) == movie_id:
                row["title"] = HOSTILE_TITLE
    return Trained(model.dataset, model.meta, model.params, model.rank, model.vector_size, docs), movie_id


@pytest.fixture(scope="session")
def web_trained(trained: Trained) -> tuple[Trained, int]:
    return _hostile(trained)


@dataclass(frozen=True)
class Live:
    """The app served over HTTP for one test, and a way to ask its API what the page should show."""

    url: str
    prefix: str
    trained: Trained
    hostile_movie_id: int

    def get(self, path: str, params: Mapping[str, Any] | Sequence[tuple[str, Any]] = ()) -> dict[str, Any]:
        query = urllib.parse.urlencode(list(params.items()) if isinstance(params, Mapping) else list(params))
        return self._call(urllib.request.Request(self.url + path + (f"?{query}" if query else "")))

    def post(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        data = json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        return self._call(urllib.request.Request(self.url + path, data=data, headers=headers))

    @staticmethod
    def _call(request: urllib.request.Request) -> dict[str, Any]:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return json.loads(resp.read())


@pytest.fixture
def live(es, es_url: str, index_prefix: str, web_trained: tuple[Trained, int]) -> Iterator[Live]:
    """The model published under this test's prefix; the app on a free loopback port."""
    data, hostile_id = web_trained
    publish(es, index_prefix, data)
    app = create_app({"ES_URL": es_url, "INDEX_PREFIX": index_prefix, "ES_REQUEST_TIMEOUT": 5})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="web-test-server", daemon=True)
    thread.start()
    try:
        yield Live(f"http://127.0.0.1:{server.server_port}/", index_prefix, data, hostile_id)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@dataclass
class Browsed:
    """A page on the live app and what it did: console errors, uncaught errors, requests elsewhere."""

    page: Any
    base: str
    name: str
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)

    def open(self) -> Any:
        self.page.goto(self.base)
        self.page.wait_for_selector("#genre-list input", state="attached")
        return self.page

    def screenshot(self, state: str, *, full_page: bool = False) -> Path:
        """test-output/screenshots/<test>-<state>.png (git-ignored), for looking at what the test saw."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{self.name}-{state}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        return path

    def assert_clean(self) -> None:
        """No script error, no CSP violation, nothing fetched from another origin."""
        assert self.page_errors == []
        assert self.console_errors == []
        assert self.foreign_requests == []


# Chromium logs every non-2xx fetch as a console error; the page shows those answers to people on purpose.
_EXPECTED_LOG = re.compile(
    r"^Failed to load resource: (the server responded with a status of \d+|net::ERR_CONNECTION_REFUSED)"
)


def _browse(browser: Any, live: Live, request: pytest.FixtureRequest, viewport: Mapping[str, int]) -> Iterator[Browsed]:
    context = browser.new_context(viewport=dict(viewport), locale="en-US", service_workers="block")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    browsed = Browsed(page, live.url, name)
    origin = live.url.rstrip("/")

    def on_console(message: Any) -> None:
        if message.type == "error" and not _EXPECTED_LOG.match(message.text):
            browsed.console_errors.append(message.text)

    def on_request(req: Any) -> None:
        if not req.url.startswith(origin + "/"):
            browsed.foreign_requests.append(req.url)

    page.on("console", on_console)
    page.on("pageerror", lambda error: browsed.page_errors.append(str(error)))
    page.on("request", on_request)
    try:
        yield browsed
    finally:
        context.close()


@pytest.fixture
def web(browser: Any, live: Live, request: pytest.FixtureRequest) -> Iterator[Browsed]:
    """The page at desktop size."""
    yield from _browse(browser, live, request, DESKTOP)


@pytest.fixture
def phone(browser: Any, live: Live, request: pytest.FixtureRequest) -> Iterator[Browsed]:
    """The page at phone size."""
    yield from _browse(browser, live, request, PHONE)
