"""A plain WSGI app for process-model tests (gunicorn with and without --preload).

configure() runs at import, which with --preload is in the gunicorn master, before fork.
"""

import logging
import os

from opentelemetry.instrumentation.wsgi import OpenTelemetryMiddleware

import ai_core

ai_core.configure(role_name="wsgi-app", storage_directory=os.environ.get("STORAGE_DIR"))
log = logging.getLogger("wsgi_app")


def _app(environ, start_response):
    log.warning("served by pid %d", os.getpid())
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(os.getpid()).encode()]


application = OpenTelemetryMiddleware(_app)
