"""Swagger UI assets served by the app itself when the `swagger-ui-bundle` package is installed.

flask-smorest's Swagger UI page loads its JavaScript from OPENAPI_SWAGGER_UI_URL;
serving the bundled copy keeps /docs working without internet access. ReDoc
has no PyPI bundle and loads from its CDN (OPENAPI_REDOC_URL).
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Flask, send_from_directory
from werkzeug.wrappers import Response

from service.config import SWAGGER_UI_CDN

ASSETS_URL = "/docs/assets/"


def bundled_swagger_ui() -> Path | None:
    """The folder of the installed swagger-ui-bundle assets, or None."""
    try:
        import swagger_ui_bundle
    except ImportError:
        return None
    folder = Path(swagger_ui_bundle.swagger_ui_path)
    return folder if (folder / "swagger-ui-bundle.js").is_file() else None


def init_app(app: Flask) -> None:
    """Point Swagger UI at the bundled assets (served here) or, without the package, at the CDN."""
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
