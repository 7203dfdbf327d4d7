"""``ApplicationInsightsMiddleware``: the one line a FastAPI or Starlette app adds.

    app.add_middleware(ApplicationInsightsMiddleware, connection_string=..., role_name=...)

A pure ASGI middleware (Starlette's own are the model: other scopes pass through, ``send`` is
wrapped). Each request's server span is made by the contrib
``opentelemetry.instrumentation.asgi.OpenTelemetryMiddleware``, which is this middleware's
``.app``: FastAPI's own tracing looks for that instance along the ``.app`` chain and steps
aside, so every request has exactly one server span. Its per-message ``http send`` and
``http receive`` spans are off. What the contrib middleware does not know (route templates,
exclusions, client IP, user, the 500 rule) comes from ``ai_core.web``.

Starlette builds middleware when the app first runs (lifespan start-up or the first request):
options are checked then, and the pipeline is configured then too, because the role default is
the app's title, known from ``scope["app"]``. A bad option fails the start-up, naming it. The
ASGI lifespan shutdown flushes and stops the pipeline: uvicorn re-raises SIGTERM after its
shutdown, so ``atexit`` would never run.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Optional

from ai_core.configure import current
from ai_core.errors import ConfigurationError
from ai_core.options import resolve_options
from ai_core.telemetry import Telemetry
from ai_core.web import excluded_request
from ai_core.web.guard import guarded
from ai_core.web.setup import AppRequestRules, setup_web
from fastapi_ai.request import SCOPE_KEY, Exchange, AppInServerSpan, span_details
from fastapi_ai.routes import NO_MATCH, match_request
from fastapi_ai.scope import app_name, starlette_user_id

logger = logging.getLogger("ai_core")

SOURCE = "ApplicationInsightsMiddleware"
# FastAPI's own tracing skips a request whose scope has this key (it is how FastAPI keeps a
# mounted FastAPI app from tracing a request again): a mounted FastAPI sub-app would
# otherwise start a second server span, since its own middleware stack has no contrib
# middleware to find.
_FASTAPI_TELEMETRY = "fastapi.telemetry"


class ApplicationInsightsMiddleware:
    """Requests, dependencies, exceptions, logs and metrics of a FastAPI/Starlette app.

    Keyword options are the README's option table (``connection_string``, ``role_name``,
    ``sampling_ratio``, ``excluded_urls``, ``excluded_routes`` (route names or path templates),
    ``user_id`` (``True``: ``scope["user"]`` of Starlette's ``AuthenticationMiddleware``, or a
    callable ``(request) -> user or user ID``, such as the user a dependency put on
    ``request.state``), ``trusted_proxies``, ...). Without a connection string (keyword or
    ``APPLICATIONINSIGHTS_CONNECTION_STRING``) or with ``enabled=False`` the app runs
    untouched and one warning says telemetry is off.
    """

    def __init__(self, app: Any, **options: Any) -> None:
        self._next = app
        self._options = options
        self._problem: Optional[ConfigurationError] = None
        try:
            resolve_options(dict(options), source=SOURCE)
        except ConfigurationError as err:
            # Raised from here, while Starlette builds its middleware inside the lifespan
            # start-up, uvicorn would take it for "lifespan unsupported" and serve anyway:
            # the start-up fails instead (see _lifespan).
            self._problem = err
        self._lock = threading.Lock()
        self._web: Optional[AppRequestRules] = None
        self._traced: Optional[Any] = None  # OpenTelemetryMiddleware(AppInServerSpan(app)) of the pipeline
        self._traced_for: Optional[Telemetry] = None
        # Starlette builds this middleware inside the app's first call, right before FastAPI's
        # own tracing looks along ``.app`` for the contrib middleware. When another app already
        # configured the process, the contrib middleware is there from now on: FastAPI's tracing
        # would otherwise trace (and count) this app's first request too.
        telemetry = current()
        if telemetry is not None and telemetry.enabled and self._problem is None:
            with guarded("building the request span middleware"):
                self._traced = self._contrib_middleware(telemetry)
                self._traced_for = telemetry

    @property
    def app(self) -> Any:
        """The next ASGI app: the contrib OpenTelemetryMiddleware once telemetry is on."""
        return self._traced or self._next

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        if kind not in ("http", "websocket"):
            await self._next(scope, receive, send)
            return
        if SCOPE_KEY in scope:  # the middleware of an app this one is mounted in traces it
            self._serve_mounted(scope)
            await self._next(scope, receive, send)
            return
        web = self._web
        if web is None or web.telemetry.is_shut_down:
            web = self._start(scope)  # no lifespan (httpx ASGITransport, --lifespan off): now
        traced = self._traced
        if traced is None or not web.enabled:
            await self._next(scope, receive, send)
            return
        route = NO_MATCH
        excluded = False
        with guarded("matching the request's route"):
            route = match_request(scope.get("app") or self._next, scope)
            excluded = web.excludes(scope.get("path"), route.names)
        scope.setdefault(_FASTAPI_TELEMETRY, None)
        if excluded:
            with excluded_request():  # its children (SQL, HTTP calls) are dropped too
                await self._next(scope, receive, send)
            return
        exchange = Exchange(web, scope, route)
        scope[SCOPE_KEY] = exchange
        try:
            await traced(scope, receive, send)
        except Exception as exc:
            exchange.fail(exc)
            raise
        finally:
            exchange.finish()

    # --- start-up and shutdown --------------------------------------------------------------

    def _start(self, scope: Any) -> AppRequestRules:
        """Configure telemetry for the app in ``scope["app"]`` (once per pipeline)."""
        if self._problem is not None:
            raise self._problem
        with self._lock:
            web = self._web
            if web is not None and not web.telemetry.is_shut_down:
                return web
            app = scope.get("app") or self._next  # the app we are in, or the app we wrap
            web = setup_web(self._options, str, SOURCE, role_default=app_name(app),
                            default_user_reader=starlette_user_id)
            if not web.enabled:
                self._traced = self._traced_for = None
            elif self._traced_for is not web.telemetry:
                self._traced = self._contrib_middleware(web.telemetry)
                self._traced_for = web.telemetry
            self._web = web
            if self._traced is not None:
                _warn_if_hidden(app, self)
            return web

    def _serve_mounted(self, scope: Any) -> None:
        """A request the middleware of an outer app traces is served by this app: its items
        carry this app's role (README, "Where the role name comes from")."""
        exchange = scope.get(SCOPE_KEY)
        if not isinstance(exchange, Exchange):
            return
        with guarded("naming the mounted app's role"):
            web = self._web
            if web is None or web.telemetry.is_shut_down:
                web = self._start(scope)
            exchange.served_by(web)

    def _contrib_middleware(self, tel: Telemetry) -> Any:
        from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

        return OpenTelemetryMiddleware(
            AppInServerSpan(self._next),
            default_span_details=span_details,
            tracer_provider=tel.tracer_provider,
            meter_provider=tel.instrumentation_meter_provider,
            exclude_spans=["send", "receive"],
        )

    async def _lifespan(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            self._start(scope)  # before the app's own start-up, so its start-up is recorded
        except ConfigurationError as err:
            # Starlette's own way to fail a start-up: the server prints the message and exits.
            message = await receive()
            if message.get("type") == "lifespan.startup":
                await send({"type": "lifespan.startup.failed", "message": str(err)})
            raise

        async def send_stopping(message: Any) -> None:
            if message.get("type") in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                await self._stop()
            await send(message)

        try:
            await self._next(scope, receive, send_stopping)
        finally:
            await self._stop()  # an app that ends its lifespan without a shutdown message

    async def _stop(self) -> None:
        web = self._web
        if web is None or not web.enabled:
            return
        from anyio import to_thread

        await to_thread.run_sync(web.stop)


def _warn_if_hidden(app: Any, middleware: ApplicationInsightsMiddleware) -> None:
    """FastAPI's own tracing finds the contrib middleware by following ``.app`` from the top of
    the middleware stack; a middleware outside ours without ``.app`` hides it, and every
    request would be traced twice. Say so once, at start-up."""
    try:
        from fastapi import FastAPI
    except ImportError:  # plain Starlette: no tracing of its own
        return
    stack = getattr(app, "middleware_stack", None)
    if stack is None or not isinstance(app, FastAPI):
        return
    seen = set()
    while stack is not None and id(stack) not in seen:
        if stack is middleware:
            return
        seen.add(id(stack))
        stack = getattr(stack, "app", None)
    logger.warning(
        "ApplicationInsightsMiddleware cannot be found from the top of %r's middleware stack (a middleware "
        "added after it has no .app attribute): FastAPI's own tracing will also trace each request. Add "
        "ApplicationInsightsMiddleware last, or pass telemetry={'tracing': False} to FastAPI().",
        getattr(app, "title", app),
    )
