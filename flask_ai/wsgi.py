"""The request span of a Flask app: the contrib WSGI middleware around ``app.wsgi_app``.

Why not ``FlaskInstrumentor.instrument_app``: it starts the span in a ``before_request``
function added at set-up, so ``before_request`` functions registered earlier run outside the
request (one that answers, such as a login check, leaves no request at all); it ends the span
in ``teardown_request``, before a generator's body is sent; its exclusion matches the whole
URL, query string included, and is decided after the route ran. The WSGI middleware it is
built on wraps the whole request and ends the span after the last body chunk, which gives
the right duration for streamed bodies (README, "Deliberate differences" 7) without
:func:`ai_core.web.streaming.defer_end`. Flask's own signals (``flask_ai.signals``) add the
route, client IP, user and uncaught exception; the middleware's hooks are only ours, guarded.

Exclusion is decided here, before any span starts: ``excluded_urls`` on the path (never the
query string), ``excluded_routes`` on the endpoint or rule the app's URL map matches. An
excluded request runs inside :func:`ai_core.web.excluded_request` under a span the
sampler drops, so its dependencies and log records are dropped with it, and it skips the
middleware, so it records no metrics either. (The middleware starts its span in a context of
its own, extracted from the request headers, so it cannot be the one to see the exclusion.)
"""

from __future__ import annotations

import atexit
import contextvars
import threading
from types import GeneratorType
from typing import Any, Callable, Dict, Iterable, Iterator, Optional

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from ai_core.web import excluded_request
from ai_core.web.guard import guarded
from ai_core.web.setup import AppRequestRules
from flask_ai.routes import route_names

WSGIApp = Callable[[Any, Any], Iterable[bytes]]


class TelemetryMiddleware:
    """Replaces ``app.wsgi_app``; ``wrapped`` is the app's WSGI callable it was given.

    Each request runs in a copy of the caller's context, its body included: the contrib
    middleware keeps its context attached until the last body chunk, so a body that is not
    read to the end (the test client's response, unread) would otherwise leave the request
    current in the caller's thread and make the next request its child.
    """

    def __init__(self, app: Any, wrapped: WSGIApp, web: AppRequestRules) -> None:
        self.wrapped = wrapped
        self._app = app
        self._web = web
        options = web.options
        self._excludes_paths = bool(options.excluded_urls or options.excluded_routes)
        self._matches_routes = bool(options.excluded_routes)
        self._tracer = web.telemetry.tracer_provider.get_tracer("flask_ai")
        # Built on the first request of each process, not at set-up: its metric instruments
        # would start the export thread in processes that never serve (gunicorn's --preload
        # master, the dev server's reloader watcher).
        self._traced: Optional[WSGIApp] = None
        self._lock = threading.Lock()

    def __call__(self, environ: Any, start_response: Any) -> Iterable[bytes]:
        run = contextvars.copy_context().run
        return _RunIn(run, run(self._serve, environ, start_response))

    def _serve(self, environ: Any, start_response: Any) -> Iterable[bytes]:
        if self._excludes_paths and self._excluded(environ):
            with excluded_request():
                span = self._tracer.start_span("excluded request", kind=SpanKind.SERVER)  # dropped
                request_context = trace.set_span_in_context(span)
            # Not detached: this is the request's own copy of the context, dropped after it.
            otel_context.attach(request_context)
            return self.wrapped(environ, start_response)
        traced = self._traced or self._build()
        return traced(environ, start_response)

    def _excluded(self, environ: Any) -> bool:
        with guarded("matching excluded_urls/excluded_routes"):
            path = (environ.get("SCRIPT_NAME") or "") + (environ.get("PATH_INFO") or "") or "/"
            names = route_names(self._app, environ) if self._matches_routes else ()
            return self._web.excludes(path, names)
        return False

    def _build(self) -> WSGIApp:
        with self._lock:
            if self._traced is None:
                from opentelemetry.instrumentation.wsgi import OpenTelemetryMiddleware

                telemetry = self._web.telemetry
                self._traced = OpenTelemetryMiddleware(
                    self.wrapped,
                    tracer_provider=telemetry.tracer_provider,
                    meter_provider=telemetry.instrumentation_meter_provider,
                )
            return self._traced


# Response bodies that are generators (the contrib middleware's) and not closed yet, each with
# its request's context: one that nobody closes (a test client's response left unread) is closed
# in that context when its _RunIn is collected, or at exit, before the pipeline shuts down.
# A generator left to the garbage collector would run its cleanup (end the span, detach its
# context) wherever the collector runs, or never.
_OPEN_BODIES: Dict[Any, Callable[..., Any]] = {}


@atexit.register
def _close_open_bodies() -> None:
    for body, run in list(_OPEN_BODIES.items()):
        _close_in_context(body, run, _OPEN_BODIES)


def _close_in_context(body: Any, run: Callable[..., Any], open_bodies: Dict[Any, Any]) -> None:
    if open_bodies.pop(body, None) is not None:
        try:
            run(body.close)
        except Exception:
            pass


class _RunIn:
    """A response body sent in its request's context: what a streamed body records while it
    is sent belongs to that request (and is dropped with an excluded one)."""

    __slots__ = ("_run", "_body", "_chunks")

    def __init__(self, run: Callable[..., Any], body: Iterable[bytes]) -> None:
        self._run = run
        self._body = body
        self._chunks: Optional[Iterator[bytes]] = None
        if isinstance(body, GeneratorType):
            _OPEN_BODIES[body] = run

    def __iter__(self) -> "_RunIn":
        return self

    def __next__(self) -> bytes:
        if self._chunks is None:
            self._chunks = self._run(iter, self._body)
        return self._run(next, self._chunks)  # type: ignore[no-any-return]

    def close(self) -> None:
        _OPEN_BODIES.pop(self._body, None)
        close = getattr(self._body, "close", None)
        if close is not None:
            self._run(close)

    # Defaults, not globals: at interpreter exit the module's globals may be gone already.
    def __del__(self, _open: Dict[Any, Any] = _OPEN_BODIES, _close: Any = _close_in_context) -> None:
        _close(self._body, self._run, _open)
