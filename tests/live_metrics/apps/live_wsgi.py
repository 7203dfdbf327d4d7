"""A plain WSGI app for the Live Metrics process-model tests (gunicorn, --preload).

configure() runs at import, which with --preload is in the gunicorn master, before fork.
LIVE_SAMPLING sets sampling_ratio. ``/fail`` answers 500.
"""

import os

from opentelemetry.instrumentation.wsgi import OpenTelemetryMiddleware

import ai_core

ai_core.configure(role_name="live-app", sampling_ratio=float(os.environ.get("LIVE_SAMPLING", "1")),
                  disable_offline_storage=True)


def _app(environ, start_response):
    if environ.get("PATH_INFO") == "/fail":
        start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
        return [str(os.getpid()).encode()]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(os.getpid()).encode()]


application = OpenTelemetryMiddleware(_app)
