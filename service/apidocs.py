"""The API documentation pages' JavaScript, served by the app itself: /docs and /redoc work offline.

Swagger UI (/docs) comes from the `swagger-ui-bundle` package (install_requires),
served under ASSETS_URL; without it, flask-smorest's page falls back to the CDN.
ReDoc (/redoc) has no PyPI bundle: `service/static/vendor/redoc.standalone.js`
is the npm package's `bundles/redoc.standalone.js`, byte for byte (REDOC_VERSION,
REDOC_SHA256; its notices are in the `.LICENSE.txt` and `redoc.LICENSE` files
beside it), served with the page's other files under /ui/. ReDoc 3 ships an ES
module, which flask-smorest's template (a classic `<script src>`) cannot load,
so the pin stays on the 2.x line. To update: `npm view redoc@2 version`,
`npm pack redoc@<version>`, copy those three files, update the two constants.
ReDoc 2 always puts Redocly's logo, fetched from cdn.redoc.ly, in its menu; the
/redoc page's REDOC_POLICY keeps images on this host (ReDoc hides a logo that
fails to load), so opening the docs asks nothing of another host.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Flask, request, send_from_directory
from werkzeug.wrappers import Response

from service.config import SWAGGER_UI_CDN
from service.web import STATIC_FOLDER, STATIC_URL

ASSETS_URL = "/docs/assets/"
REDOC_VERSION = "2.5.4"
REDOC_SHA256 = "dcaf76612bc4a3fbcc923a8966dee2f6146a5f32e5ce1b6f02dd60cbbf89500b"
REDOC_FILE = STATIC_FOLDER / "vendor" / "redoc.standalone.js"
REDOC_URL = f"{STATIC_URL}/vendor/redoc.standalone.js"
REDOC_ENDPOINT = "api-docs.openapi_redoc"  # flask-smorest's name for the /redoc view
REDOC_POLICY = "img-src 'self' data:"


def bundled_swagger_ui() -> Path | None:
    """The folder of the installed swagger-ui-bundle assets, or None."""
    try:
        import swagger_ui_bundle
    except ImportError:
        return None
    folder = Path(swagger_ui_bundle.swagger_ui_path)
    return folder if (folder / "swagger-ui-bundle.js").is_file() else None


def init_app(app: Flask) -> None:
    """Point ReDoc at the vendored bundle and Swagger UI at the packaged assets, unless configured otherwise."""
    if not app.config.get("OPENAPI_REDOC_URL"):
        app.config["OPENAPI_REDOC_URL"] = REDOC_URL
    app.after_request(_redoc_policy)
    if app.config.get("OPENAPI_SWAGGER_UI_URL"):
        return
    folder = bundled_swagger_ui()
    if folder is None:
        app.config["OPENAPI_SWAGGER_UI_URL"] = SWAGGER_UI_CDN
        return
    blp = Blueprint("swagger_ui_assets", __name__, url_prefix=ASSETS_URL.rstrip("/"))

    @blp.route("/<path:filename>")
    def asset(filename: str) -> Response:
        return send_from_directory(folder, filename, max_age=86400)

    app.register_blueprint(blp)
    app.config["OPENAPI_SWAGGER_UI_URL"] = ASSETS_URL


def _redoc_policy(response: Response) -> Response:
    if request.endpoint == REDOC_ENDPOINT:
        response.headers.setdefault("Content-Security-Policy", REDOC_POLICY)
    return response
