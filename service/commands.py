"""`movierec serve`: the API on Flask's development server (gunicorn for production, see README)."""

from __future__ import annotations

import argparse
import logging

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `serve` to the `movierec` command line."""
    parser = subparsers.add_parser(
        "serve",
        help="serve the web page and the REST API (development server)",
        description="Serve the web page (open http://HOST:PORT/) and the REST API (Swagger UI at /docs) with "
        "Flask's development server. For production use gunicorn, as the compose stack does: "
        "gunicorn -c python:service.gunicorn_conf service.wsgi:app (settings: WEB_CONCURRENCY, GUNICORN_THREADS, "
        "GUNICORN_TIMEOUT, PORT; see README).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1; 0.0.0.0 for all)")
    parser.add_argument("--port", type=int, default=5000, help="port (default 5000)")
    parser.add_argument("--es-url", default=None, help="Elasticsearch URL (default $ES_URL, then http://localhost:9200)")
    parser.add_argument("--prefix", default=None, help="index prefix (default $MOVIEREC_INDEX_PREFIX, then movierec)")
    parser.add_argument("--debug", action="store_true", help="Flask debug mode (never in production)")
    parser.set_defaults(func=serve)


def serve(args: argparse.Namespace) -> int:
    """Build the app and run it until interrupted."""
    from service import create_app

    settings: dict[str, object] = {"DEBUG": bool(args.debug)}
    if args.es_url:
        settings["ES_URL"] = args.es_url
    if args.prefix:
        settings["INDEX_PREFIX"] = args.prefix
    app = create_app(settings)
    log.info("serving on http://%s:%d/ : open it for the web page (Swagger UI at /docs)", args.host, args.port)
    app.run(host=args.host, port=args.port, debug=bool(args.debug), use_reloader=False, threaded=True)
    return 0
