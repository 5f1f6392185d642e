"""service.web without a browser: what is served where, with which headers, and what the files may not do."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from service import create_app
from service.web import STATIC_FOLDER

ASSETS = ("app.js", "style.css", "favicon.svg")


@pytest.fixture
def client():
    # No request here reaches Elasticsearch: the client is created lazily and never used.
    return create_app({"ES_URL": "http://127.0.0.1:9", "TESTING": True}).test_client()


def test_the_page_is_served_at_the_root_with_a_strict_policy(client) -> None:
    resp = client.get("/")
    assert resp.status_code == 200
    assert resp.mimetype == "text/html"
    html = resp.get_data(as_text=True)
    assert '<script type="module" src="ui/app.js"></script>' in html
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    policy = dict(part.split(" ", 1) for part in resp.headers["Content-Security-Policy"].split("; "))
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == policy["style-src"] == policy["connect-src"] == policy["img-src"] == "'self'"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    ("name", "mimetype"),
    [("app.js", "text/javascript"), ("style.css", "text/css"), ("favicon.svg", "image/svg+xml")],
)
def test_assets_are_served_under_ui(client, name: str, mimetype: str) -> None:
    resp = client.get(f"/ui/{name}")
    assert resp.status_code == 200
    assert resp.mimetype == mimetype
    assert resp.get_data() == (STATIC_FOLDER / name).read_bytes()
    assert "Content-Security-Policy" in resp.headers


def test_files_are_not_served_under_flask_default_static_path(client) -> None:
    # Only /ui/ serves them, so every copy carries the security headers.
    assert client.get("/static/app.js").status_code == 404
    assert client.get("/ui/app.js").status_code == 200


def test_every_asset_the_page_names_exists(client) -> None:
    html = client.get("/").get_data(as_text=True)
    named = set(re.findall(r'(?:src|href)="ui/([^"]+)"', html))
    assert named == set(ASSETS)


def test_the_page_stays_out_of_the_openapi_document(client) -> None:
    paths = client.get("/openapi.json").get_json()["paths"]
    assert "/" not in paths
    assert not [p for p in paths if p.startswith("/ui")]
    assert "/movies" in paths


def _static_text() -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(Path(STATIC_FOLDER).iterdir()) if p.is_file()}


def test_no_external_resources_at_run_time() -> None:
    # Absolute URLs: the SVG namespace (a name, not a request) and IMDb links people may follow.
    svg_namespace = "http://www.w3.org/2000/svg"
    urls = {
        name: [u for u in re.findall(r"https?://[^\s\"'`)]+", text) if u != svg_namespace]
        for name, text in _static_text().items()
    }
    assert {name: found for name, found in urls.items() if found and name != "app.js"} == {}
    assert [u for u in urls["app.js"] if not u.startswith("https://www.imdb.com/title/tt")] == []
    assert "@import" not in _static_text()["style.css"]


def test_script_never_parses_strings_as_html() -> None:
    script = _static_text()["app.js"]
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in script, sink
