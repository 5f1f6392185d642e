"""The web page for people: one static HTML page at `/` whose JavaScript calls the JSON API.

There is no second code path: the page (service/static/) fetches /movies,
/users/{id}/recommendations, /recommendations/... like any API client. It is a
plain Flask blueprint registered on the app, not on the flask-smorest Api, so it
stays out of the OpenAPI document. Its answers carry a Content-Security-Policy
that only allows this origin: the page makes no request elsewhere, and an API
string that slipped into markup could not run as script.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Flask, Response, send_from_directory

STATIC_FOLDER = Path(__file__).with_name("static")
STATIC_URL = "/ui"

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

blp = Blueprint("web", __name__, static_folder=STATIC_FOLDER, static_url_path=STATIC_URL)


@blp.get("/")
def index() -> Response:
    """The page itself (static: every datum comes from the API at run time)."""
    return send_from_directory(STATIC_FOLDER, "index.html", max_age=0)


@blp.after_request
def _secure(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def init_app(app: Flask) -> None:
    """Serve the page at `/` and its files under STATIC_URL."""
    app.register_blueprint(blp)
