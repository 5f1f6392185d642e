"""WSGI entry point for gunicorn: `gunicorn -c service/gunicorn_conf.py service.wsgi:app`.

The app is built when a worker imports this module (configuration from the
environment), never when the `service` package is imported.
"""

from __future__ import annotations

from service import create_app

app = create_app()
