"""The app factory, its configuration order, and the OpenAPI document."""

from __future__ import annotations

import hashlib
import re

from elasticsearch import Elasticsearch

from service import apidocs, create_app, store


def test_factory_defaults(monkeypatch):
    monkeypatch.delenv("MOVIEREC_INDEX_PREFIX", raising=False)
    monkeypatch.delenv("ES_URL", raising=False)
    app = create_app()
    assert app.debug is False and app.testing is False
    assert app.config["INDEX_PREFIX"] == "movierec"
    assert app.config["OPENAPI_JSON_PATH"] == "openapi.json" and app.config["OPENAPI_SWAGGER_UI_PATH"] == "/docs"
    client = app.extensions["elasticsearch"]
    assert isinstance(client, Elasticsearch)
    with app.app_context():
        assert store.client() is client
        assert store.index_of("movies") == "movierec-movies"
    assert client.transport.node_pool.get().base_url == "http://localhost:9200"


def test_environment_then_given_mapping(monkeypatch):
    monkeypatch.setenv("MOVIEREC_INDEX_PREFIX", "fromenv")
    monkeypatch.setenv("ES_URL", "http://es.example:9201")
    monkeypatch.setenv("ES_REQUEST_TIMEOUT", "7")
    app = create_app()
    assert app.config["INDEX_PREFIX"] == "fromenv"
    opts = store.client_options_for(app.config)
    assert opts["hosts"] == ["http://es.example:9201"] and opts["request_timeout"] == 7.0
    app = create_app({"INDEX_PREFIX": "given", "ES_URL": "http://other:9200", "ES_REQUEST_TIMEOUT": 0.5})
    assert app.config["INDEX_PREFIX"] == "given"
    opts = store.client_options_for(app.config)
    assert opts["hosts"] == ["http://other:9200"] and opts["request_timeout"] == 0.5


def test_openapi_document_and_doc_pages():
    client = create_app({"ES_URL": "http://127.0.0.1:9"}).test_client()
    spec = client.get("/openapi.json").get_json()
    assert spec["openapi"] == "3.0.3"
    expected = {
        ("get", "/health"), ("get", "/runs/current"), ("get", "/vocabulary"), ("get", "/movies"), ("get", "/movies/genres"), ("get", "/movies/{movie_id}"),
        ("get", "/movies/{movie_id}/similar"), ("get", "/movies/{movie_id}/audience"), ("post", "/users"),
        ("get", "/users/{user_id}"), ("post", "/users/{user_id}/ratings"), ("get", "/users/{user_id}/recommendations"),
        ("get", "/recommendations/by-title"), ("post", "/recommendations/from-liked"), ("get", "/recommendations/cold-start"),
    }
    ops = {(m, p): op for p, item in spec["paths"].items() for m, op in item.items() if m in ("get", "post")}
    assert set(ops) == expected
    for (_method, path), op in ops.items():
        # every status an operation can answer is listed, each error with the one error schema; no catch-all
        assert op["summary"] and "default" not in op["responses"]
        for status in (400, 413, 414, 431, 500, 502, 503, 504) + ((422,) if op.get("parameters") or "requestBody" in op else ()):
            if (status, path) == (503, "/health"):
                continue
            assert _error_schema(spec, op["responses"][str(status)]) == {"$ref": "#/components/schemas/Error"}, (path, status)
        if "requestBody" in op:
            assert {"408", "415"} <= set(op["responses"])
    assert "503" in ops[("get", "/health")]["responses"] and "409" in ops[("post", "/users")]["responses"]
    assert ops[("post", "/users")]["responses"]["201"]["headers"]["Location"]["required"] is True
    assert ops[("get", "/movies/{movie_id}")]["responses"]["404"] == {"$ref": "#/components/responses/NOT_FOUND"}
    assert ops[("get", "/runs/current")]["responses"]["503"]["headers"]["Retry-After"]
    error = spec["components"]["schemas"]["Error"]
    assert set(error["properties"]) == {"code", "status", "message", "errors"} == set(error["required"])
    k = next(p for p in ops[("get", "/users/{user_id}/recommendations")]["parameters"] if p["name"] == "k")
    assert k["schema"]["minimum"] == 1 and k["schema"]["maximum"] == 100 and k["description"]
    genres = ops[("get", "/movies/genres")]["responses"]["200"]["content"]["application/json"]["schema"]
    assert genres == {"$ref": "#/components/schemas/GenreList"}
    assert set(spec["components"]["schemas"]["GenreCount"]["properties"]) == {"name", "count"}
    assert ops[("get", "/movies/genres")]["summary"] == "Every genre with its number of movies, most common first."


def _error_schema(spec: dict, response: dict) -> dict:
    if "$ref" in response:
        response = spec["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    return response["content"]["application/json"]["schema"]


def _script_and_style_urls(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', html)


def test_doc_pages_load_nothing_from_another_host():
    client = create_app({"ES_URL": "http://127.0.0.1:9"}).test_client()
    docs = client.get("/docs").get_data(as_text=True)
    assert "/openapi.json" in docs and "/docs/assets/swagger-ui-bundle.js" in docs
    redoc_page = client.get("/redoc")
    redoc = redoc_page.get_data(as_text=True)
    assert '<redoc spec-url="/openapi.json"' in redoc and apidocs.REDOC_URL in redoc
    assert redoc_page.headers["Content-Security-Policy"] == "img-src 'self' data:"  # no logo from cdn.redoc.ly
    for html in (docs, redoc):
        assert not re.search(r"(?:https?:)?//", html), html
        for url in _script_and_style_urls(html):
            assert url.startswith("/") and not url.startswith("//")
            assert client.get(url).status_code == 200, url


def test_vendored_redoc_is_the_pinned_npm_bundle_with_its_notices():
    data = apidocs.REDOC_FILE.read_bytes()
    assert hashlib.sha256(data).hexdigest() == apidocs.REDOC_SHA256
    assert data.startswith(b"/*! For license information please see redoc.standalone.js.LICENSE.txt */")
    notices = apidocs.REDOC_FILE.with_name("redoc.standalone.js.LICENSE.txt").read_text(encoding="utf-8")
    assert f'Version: "{apidocs.REDOC_VERSION}"' in notices
    assert "The MIT License" in apidocs.REDOC_FILE.with_name("redoc.LICENSE").read_text(encoding="utf-8")
    served = create_app({"ES_URL": "http://127.0.0.1:9"}).test_client().get(apidocs.REDOC_URL)
    assert served.status_code == 200 and served.mimetype == "text/javascript" and served.get_data() == data


def test_redoc_url_can_still_be_configured():
    app = create_app({"ES_URL": "http://127.0.0.1:9", "OPENAPI_REDOC_URL": "/elsewhere/redoc.js"})
    assert '<script src="/elsewhere/redoc.js">' in app.test_client().get("/redoc").get_data(as_text=True)
