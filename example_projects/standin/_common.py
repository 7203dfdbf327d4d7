"""What both stand-in apps share: command-line options, ``ai_core.configure()``, a WSGI server.

The stand-ins are plain WSGI apps served by ``wsgiref`` (one thread per request) and wrapped
in OpenTelemetry's WSGI middleware, so each incoming request is a SERVER span that continues
the caller's trace (W3C ``traceparent``). Everything else -- outbound ``requests``/``urllib``
calls, ``sqlite3`` queries, ``logging`` -- is picked up by ``ai_core.configure()`` itself.
When a framework adapter exists, its example app replaces this plumbing with one line.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from socketserver import ThreadingMixIn
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import ai_core

EMULATOR_CONNECTION_STRING = (
    "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=http://127.0.0.1:8990"
)

Environ = Dict[str, Any]
StartResponse = Callable[..., Any]
Response = Tuple[str, List[Tuple[str, str]], bytes]


def parse_args(description: str, default_port: int,
               extra: Optional[Callable[[argparse.ArgumentParser], None]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=default_port,
                        help="port to listen on, 0 for a free one (default %d)" % default_port)
    parser.add_argument("--connection-string",
                        default=os.environ.get("APPLICATIONINSIGHTS_CONNECTION_STRING") or EMULATOR_CONNECTION_STRING,
                        help="default: $APPLICATIONINSIGHTS_CONNECTION_STRING, else the emulator on port 8990")
    parser.add_argument("--storage-dir", default=None,
                        help="offline storage directory (default: offline storage off)")
    if extra is not None:
        extra(parser)
    return parser.parse_args()


def configure(role: str, args: argparse.Namespace) -> Any:
    """The one line a real app needs (here with the demo's choices spelled out)."""
    # Console lines for whoever reads the app's output (set before configure(), which adds
    # its own handler to the root logger; basicConfig does nothing once a handler exists).
    logging.basicConfig(level=logging.INFO, format="%(asctime)s " + role + " %(levelname)s %(message)s")
    # Stop cleanly on SIGTERM; ai_core flushes first, then calls this handler it finds here.
    signal.signal(signal.SIGTERM, _stop)
    storage: Dict[str, Any] = (
        {"storage_directory": args.storage_dir} if args.storage_dir else {"disable_offline_storage": True}
    )
    telemetry = ai_core.configure(
        connection_string=args.connection_string,
        role_name=role,
        logging_level="INFO",         # INFO and above become traces; the default is WARNING
        excluded_urls=["^/health$"],  # the demo driver's readiness probe is not telemetry
        **storage,
    )
    return telemetry


def reply(status: str, body: Any, content_type: str = "application/json",
          headers: Iterable[Tuple[str, str]] = ()) -> Response:
    if isinstance(body, (dict, list)):
        data = json.dumps(body).encode()
    else:
        data = str(body).encode()
    return status, [("Content-Type", content_type + "; charset=utf-8"), *headers], data


def read_body(environ: Environ) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    return environ["wsgi.input"].read(length) if length > 0 else b""


def wsgi(handler: Callable[[Environ], Response]) -> Callable[[Environ, StartResponse], List[bytes]]:
    """A WSGI callable from ``handler(environ) -> (status, headers, body)``."""
    def app(environ: Environ, start_response: StartResponse) -> List[bytes]:
        status, headers, body = handler(environ)
        start_response(status, headers + [("Content-Length", str(len(body)))])
        return [body]
    return app


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # the access log is telemetry now
        pass


def serve(app: Callable[[Environ, StartResponse], List[bytes]], args: argparse.Namespace, telemetry: Any,
          role: str) -> None:
    """Serve ``app`` (wrapped in the OpenTelemetry WSGI middleware) until SIGINT or SIGTERM."""
    from opentelemetry.instrumentation.wsgi import OpenTelemetryMiddleware

    server = make_server(args.host, args.port, OpenTelemetryMiddleware(app),
                         server_class=_Server, handler_class=_QuietHandler)
    print("%s listening on http://%s:%d" % (role, args.host, server.server_port), flush=True)
    thread = threading.Thread(target=server.serve_forever, name="http", daemon=True)
    thread.start()
    try:
        while thread.is_alive():
            thread.join(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
        server.server_close()
        flushed = telemetry.force_flush(10)
        telemetry.shutdown()
        print("%s stopped (telemetry flushed: %s)" % (role, flushed), flush=True)
    sys.exit(0)


def _stop(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt
