"""One request (or WebSocket session) on its way through the app, inside its server span.

``AppInServerSpan`` runs right inside the contrib ``OpenTelemetryMiddleware``, so the server span
is the current span. It writes the route and client IP on the span as the request starts,
the user when the response starts, and ends the span when the last body chunk has been sent:
a streamed body is inside the request's duration, background tasks (which Starlette runs
after the body) are not, though their spans still belong to the request's operation.

The span's end is deferred (``ai_core.web.streaming.defer_end``) so that an exception the
app did not handle is seen by ``ApplicationInsightsMiddleware`` after the contrib middleware
has recorded it and before the span ends: one exception item, response code 500.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Optional

from opentelemetry import trace

from ai_core.web.annotation import STATUS_CODE_KEYS, record_uncaught_exception
from ai_core.web.guard import guarded
from ai_core.web.naming import operation_name, route_template
from ai_core.web.setup import AppRequestRules
from ai_core.web.streaming import defer_end
from fastapi_ai.routes import RouteMatch
from fastapi_ai.scope import connection_of, peer_and_proxy_headers

logger = logging.getLogger("fastapi_ai")

SCOPE_KEY = "fastapi_ai.request"
"""Where the request's :class:`Exchange` is kept in the ASGI scope while it runs."""

# A WebSocket session is named and shown as the HTTP request that opened it: GET, answered
# 101 when the app accepted it, 403 when it closed the socket first (what the server sends).
_WS_METHOD = "GET"
_WS_ACCEPTED = 101
_WS_DENIED = 403


def _nothing() -> None:
    return None


class Exchange:
    """What is known about one request: its route (matched before the span started), its span."""

    __slots__ = ("route", "span", "finished", "_web", "_scope", "_end", "_answered", "_ws_status")

    def __init__(self, web: AppRequestRules, scope: Any, route: RouteMatch) -> None:
        self.route = route
        self.span: Any = None
        self.finished = False
        self._web = web
        self._scope = scope
        self._end: Callable[[], None] = _nothing
        self._answered = False
        self._ws_status: Optional[int] = None

    @property
    def is_websocket(self) -> bool:
        return self._scope.get("type") == "websocket"

    def method(self) -> str:
        return _WS_METHOD if self.is_websocket else str(self._scope.get("method") or "")

    def name(self) -> str:
        """``GET /api/orders/{order_id}``; ``GET /<not found>`` when no route matched."""
        return operation_name(self.method(), self.route.template)

    def begin(self, span: Any) -> None:
        """The server span has started: route and client IP on it; its end waits for the body."""
        self.span = span
        if span is None or not span.is_recording():
            return
        with guarded("reading the ASGI request"):
            peer, forwarded_for, forwarded, rewritten = peer_and_proxy_headers(self._scope)
            ip = self._web.client_ip(peer, forwarded_for, forwarded, rewritten)
            self._web.annotate(span, route=route_template(self.route.template), client_ip=ip)
        with guarded("deferring the end of the request span"):
            self._end = defer_end(span)

    def served_by(self, web: AppRequestRules) -> None:
        """An app mounted in the one whose middleware made this exchange serves the request:
        its role (and its user rule) apply from now on."""
        self._web = web
        span = self.span
        if span is not None and span.is_recording():
            web.claim(span)

    def on_send(self, message: Any) -> None:
        """A message is about to go to the server: the response start is when the user is read
        (authentication, wherever it sits, has run by then)."""
        kind = message.get("type")
        if kind in ("http.response.start", "websocket.accept", "websocket.http.response.start"):
            if kind == "websocket.accept":
                self._ws_status = _WS_ACCEPTED
            elif kind == "websocket.http.response.start":
                self._ws_status = message.get("status")
            if not self._answered:
                self._answered = True
                self._annotate_user()
        elif kind == "websocket.close" and self._ws_status is None:
            self._ws_status = _WS_DENIED

    def _annotate_user(self) -> None:
        span = self.span
        if span is None or not span.is_recording():
            return
        rule = self._web.options.user_id
        if not rule or (rule is True and self._scope.get("user") is None):
            return  # nothing to read (the default reader reads scope["user"]): no Request built
        # Inside the caller's guard ("reading the response"): not guarded twice.
        self._web.annotate(span, auth_user_id=self._web.user_id(connection_of(self._scope)))

    def fail(self, exc: BaseException) -> None:
        """An exception escaped the app (the 500 rule); after the body was sent it changes nothing."""
        if self.finished or self.span is None:
            return
        with guarded("recording an uncaught exception"):
            record_uncaught_exception(self.span, exc)

    def finish(self) -> None:
        """The request is over (last body chunk sent, app returned, or it raised): end the span."""
        if self.finished:
            return
        self.finished = True
        span = self.span
        if self.is_websocket and self._ws_status is not None and span is not None and span.is_recording():
            with guarded("setting the WebSocket status"):
                for key in STATUS_CODE_KEYS:
                    span.set_attribute(key, self._ws_status)
        with guarded("ending the request span"):
            self._end()


def is_last_message(message: Any) -> bool:
    """The message after which the response is complete (the server has the whole body)."""
    kind = message.get("type")
    if kind == "http.response.body":
        return not message.get("more_body", False)
    if kind == "http.response.trailers":
        return not message.get("more_trailers", False)
    return kind == "http.response.pathsend"


def span_details(scope: Any) -> tuple:
    """The contrib middleware's ``default_span_details``: the request's name from the start
    (never the raw path), and the HTTP method of a WebSocket session's opening request."""
    exchange = scope.get(SCOPE_KEY)
    with guarded("naming the request span"):
        if isinstance(exchange, Exchange):
            attributes = {"http.method": _WS_METHOD} if exchange.is_websocket else {}
            return exchange.name(), attributes
    return operation_name(scope.get("method"), None), {}


class AppInServerSpan:
    """The ASGI app the contrib middleware calls: it calls the user's app inside the server span."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        exchange = scope.get(SCOPE_KEY)
        if not isinstance(exchange, Exchange):
            await self.app(scope, receive, send)
            return
        exchange.begin(trace.get_current_span())

        async def send_observed(message: Any) -> None:
            with guarded("reading the response"):
                exchange.on_send(message)
            await send(message)
            # The contrib middleware's own end of the span (a no-op while deferred) has run
            # inside send; the span ends here, before any background task starts.
            if not exchange.finished and is_last_message(message):
                exchange.finish()

        try:
            await self.app(scope, receive, send_observed)
        except Exception as exc:
            if exchange.finished and not exchange.is_websocket:
                # The response was complete: a background task raised. The request stays as it
                # was answered; the error is logged inside the request's operation.
                logger.error("Exception in a background task of %s", exchange.name(), exc_info=exc)
            raise
