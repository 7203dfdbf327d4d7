"""The request span of a Django request: our own middleware, first in ``MIDDLEWARE``.

Why not the stock ``DjangoInstrumentor`` middleware: per request it builds the absolute URI
three times (for its exclusion list, even when empty), resolves the URL a second time for the
span's first name, sets every attribute twice, reads the custom-header environment variables
and counts active requests that Application Insights drops; its exclusion matches the whole
URL, query string included, and does not stop its duration metric; it ends the span before a
streamed body is sent. This middleware starts and ends the same span with the contrib
helpers the stock one is built on (``opentelemetry.instrumentation.wsgi``/``asgi``
``collect_request_attributes``, their status rules, trace context extracted from the
request's headers; see ``django_ai.semconv``), under the stock instrumentation's scope name (the envelope mapping reads
it: ``_MS.ProcessedByMetricExtractors``), and records the same ``http.server.duration``
histogram, so envelopes and ``requests/duration`` are what they were (README, "Django").

Per request, in order:

- ``__call__``: exclusion first (``excluded_urls`` on the path, ``excluded_routes`` on the
  URL names the path resolves to): an excluded request runs inside
  :func:`ai_core.web.excluded_request` with no span and no metric, and everything it
  starts (SQL, HTTP calls, logs) is dropped at the sampler. Otherwise the span starts with the
  client IP (``trusted_proxies`` rule).
- ``process_view``: the route is named as soon as Django resolved it, with its leading ``/``,
  so dependencies and logs recorded while the view runs carry the request's final name.
- ``process_exception``: ``Http404`` and ``PermissionDenied`` are answers, not failures: they
  are answered the way Django itself would (``response_for_exception``). Any other exception
  of the view is the request's one exception item (a 500).
- the response: status code, route, the user (read after authentication ran), the duration
  metric; the span ends when the response is closed if its body is streamed (README,
  "Deliberate differences" 7).

Every step of ours is guarded: telemetry never breaks a request.
"""

from __future__ import annotations

import threading
from timeit import default_timer
from typing import Any, Callable, Optional

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.instrumentation.propagators import get_global_response_propagator

from ai_core.web import excluded_request
from ai_core.web.guard import guarded
from ai_core.web.setup import AppRequestRules
from django_ai import semconv
from django_ai.hooks import no_user_to_read
from django_ai.routes import request_route

_RULES: list = []  # the process's AppRequestRules, set by django_ai.apps at start-up

_SPAN = "_ai_core_span"  # request attributes of ours (Django's request objects take any)
REQUEST_SPAN = "_ai_core_request_span"  # the span, kept on the request after it ended (django_ai.logs)
_EXCEPTION = "_ai_core_exception"
_STARTTIME_KEY = "opentelemetry-instrumentor-django.starttime_key"  # honoured as the stock one does


_REQUEST_SPAN: list = []  # the process's _RequestSpan, built at its first request
_LOCK = threading.Lock()

# The guards of each step (ai_core.web.guard), stateless: built once, not per request.
_NAMING = guarded("naming the Django route")
_STARTING = guarded("starting the Django request span")
_READING_REQUEST = guarded("reading the Django request")
_READING_STATUS = guarded("reading the Django response's status")
_READING_RESPONSE = guarded("reading the Django response")
_RECORDING_DURATION = guarded("recording the Django request's duration")
_WAITING_FOR_BODY = guarded("waiting for the streamed body")
_ENDING = guarded("ending the Django request span")
_LEAVING = guarded("leaving the Django request's context")


def use_rules(rules: AppRequestRules) -> None:
    """Serve requests with these rules (``django_ai.apps``, once per process)."""
    with _LOCK:
        if not (_RULES and _RULES[0] is rules):
            _RULES[:] = [rules]
            del _REQUEST_SPAN[:]


def _request_span() -> Optional["_RequestSpan"]:
    """One per process, whatever number of handlers Django builds (each test ``Client`` builds
    its own middleware chain), built at the first request, not when Django loads the
    middleware: its metric instruments would start the export thread in processes that never
    serve (gunicorn's --preload master)."""
    with _LOCK:
        if not _REQUEST_SPAN and _RULES:
            with guarded("setting up the Django request span"):
                _REQUEST_SPAN.append(_RequestSpan(_RULES[0]))
        return _REQUEST_SPAN[0] if _REQUEST_SPAN else None


class ApplicationInsightsMiddleware:
    """Inserted first into ``MIDDLEWARE`` by ``django_ai`` at start-up; never listed by the user.

    Synchronous, like the stock one: under ASGI Django runs it in its thread, so a lazy
    ``request.user`` can be read at the response without ``SynchronousOnlyOperation``.
    """

    sync_capable = True
    async_capable = False

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        spans = _REQUEST_SPAN[0] if _REQUEST_SPAN else _request_span()
        if spans is None:
            return self.get_response(request)
        return spans.serve(request, self.get_response)

    def process_view(self, request: Any, view_func: Any, view_args: Any, view_kwargs: Any) -> None:
        span = request.__dict__.get(_SPAN)
        if span is not None:
            with _NAMING:
                _RULES[0].annotate(span, route=request_route(request))
        return None

    def process_exception(self, request: Any, exception: BaseException) -> Optional[Any]:
        from django.core.exceptions import PermissionDenied
        from django.http import Http404

        if isinstance(exception, (Http404, PermissionDenied)):
            from django.core.handlers.exception import response_for_exception

            return response_for_exception(request, exception)
        if _SPAN in request.__dict__:
            request.__dict__[_EXCEPTION] = exception
        return None


class _RequestSpan:
    """What the middleware needs per process: tracer, histogram, rules, semantic-convention mode."""

    def __init__(self, rules: AppRequestRules) -> None:
        from opentelemetry.instrumentation._semconv import (
            _get_schema_url,
            _OpenTelemetrySemanticConventionStability,
            _OpenTelemetryStabilitySignalType,
            _report_new,
            _report_old,
        )
        from opentelemetry.instrumentation.django.version import __version__
        from opentelemetry.util.http import get_traced_request_attrs

        from django_ai.semconv import request_durations

        _OpenTelemetrySemanticConventionStability._initialize()
        mode = _OpenTelemetrySemanticConventionStability._get_opentelemetry_stability_opt_in_mode(
            _OpenTelemetryStabilitySignalType.HTTP
        )
        self.mode = mode
        self.rules = rules
        options = rules.options
        self.excludes_paths = bool(options.excluded_urls or options.excluded_routes)
        self.matches_routes = bool(options.excluded_routes)
        telemetry = rules.telemetry
        # The stock instrumentation's scope: Application Insights marks requests of these scopes
        # as already counted in requests/duration (_MS.ProcessedByMetricExtractors).
        self.tracer = trace.get_tracer("opentelemetry.instrumentation.django", __version__,
                                       tracer_provider=telemetry.tracer_provider, schema_url=_get_schema_url(mode))
        self.durations = request_durations(
            telemetry.instrumentation_meter_provider, __version__, _get_schema_url(mode), _report_old(mode),
            _report_new(mode))
        self.traced_request_attrs = get_traced_request_attrs("DJANGO")
        # The default reader (request.user) has nothing to read on most anonymous requests:
        # asking it costs ~5 us (instrumentation suppressed around it), asking first ~0.3.
        self.default_user_reader = options.user_id is True

    def serve(self, request: Any, get_response: Callable[[Any], Any]) -> Any:
        started = self._start(request)
        if started is None:
            return get_response(request)
        if started is _EXCLUDED:
            with excluded_request():
                return get_response(request)
        span, tokens, attributes = started
        began = default_timer()
        response = None
        try:
            response = get_response(request)
        except Exception as exc:  # Django answers 500 itself unless DEBUG_PROPAGATE_EXCEPTIONS is set
            request.__dict__.setdefault(_EXCEPTION, exc)
            raise
        finally:
            self._finish(request, response, span, tokens, attributes, began)
        return response

    def _start(self, request: Any) -> Any:
        with _STARTING:
            carrier, getter, attributes = semconv.of(request, self.mode)
            if self.excludes_paths and self._excluded(attributes):
                return _EXCLUDED
            meta = request.META
            span, token = semconv.start_span(
                self.tracer, request.method, meta.get(_STARTTIME_KEY), carrier, getter, attributes)
            tokens = (otel_context.attach(trace.set_span_in_context(span)), token)
            request.__dict__[_SPAN] = span
            if span.is_recording():
                self._annotate_start(span, request, meta)
            return span, tokens, attributes
        return None

    def _annotate_start(self, span: Any, request: Any, meta: Any) -> None:
        """The request hook of the stock instrumentation, ours: the client IP, and what the
        OpenTelemetry environment variables ask for. Its own guard: the span has started."""
        with _READING_REQUEST:
            rules = self.rules
            rules.annotate(span, client_ip=rules.client_ip(
                meta.get("REMOTE_ADDR"), meta.get("HTTP_X_FORWARDED_FOR"), meta.get("HTTP_FORWARDED")))
            if self.traced_request_attrs:
                semconv.add_traced_request_attrs(span, request, self.traced_request_attrs)
            semconv.add_custom_request_headers(span, request)

    def _excluded(self, attributes: Any) -> bool:
        from ai_core.exclusion import path_from_attributes

        path = path_from_attributes(attributes)
        names = ()
        if self.matches_routes and path is not None:
            from django_ai.routes import route_names

            names = route_names(path)
        return self.rules.excludes(path, names)

    def _finish(self, request: Any, response: Any, span: Any, tokens: Any, attributes: Any, began: float) -> None:
        exception = request.__dict__.pop(_EXCEPTION, None)
        request.__dict__.pop(_SPAN, None)
        streamed = False
        if response is not None:
            metric_attributes = None
            with _READING_STATUS:
                metric_attributes = semconv.add_status(span, request, response, self.mode)
                propagator = get_global_response_propagator()
                if propagator is not None:  # a traceresponse header, when the app set one up
                    propagator.inject(response)
            with _READING_RESPONSE:
                self._annotate(span, request, response)
            if metric_attributes is not None:
                with _RECORDING_DURATION:
                    self.durations.add(default_timer() - began, metric_attributes)
            with _WAITING_FOR_BODY:
                streamed = bool(getattr(response, "streaming", False)) and self._end_after_body(span, response)
        with _ENDING:
            if exception is not None and span.is_recording():
                if response is None:  # it escaped Django too: the 500 rule writes the status code
                    from ai_core.web.annotation import record_uncaught_exception

                    record_uncaught_exception(span, exception)
                else:  # as the stock middleware's use_span records the view's exception
                    from opentelemetry.trace import Status, StatusCode

                    span.record_exception(exception)
                    span.set_status(Status(StatusCode.ERROR, "%s: %s" % (type(exception).__name__, exception)))
        for token in tokens:
            if token is not None:
                with _LEAVING:
                    otel_context.detach(token)
        if not streamed:
            span.end()

    def _annotate(self, span: Any, request: Any, response: Any) -> None:
        """The response hook of the stock instrumentation, ours: route, user, log context, browser SDK."""
        if not span.is_recording():
            return
        rules = self.rules
        if self.default_user_reader and no_user_to_read(request):
            user = None
        else:
            user = rules.user_id(request)
        rules.annotate(span, route=request_route(request), auth_user_id=user)
        # Django logs "Not Found: /x" after the span has ended; the log filter finds the
        # request's span here (django_ai.logs).
        request.__dict__[REQUEST_SPAN] = span
        if rules.injects_browser_sdk and not getattr(response, "streaming", False):
            with guarded("adding the browser SDK loader"):
                page = rules.page_with_browser_sdk(
                    response.content, response.get("Content-Type"), response.get("Content-Encoding"))
                if page is not None:
                    response.content = page
                    if response.has_header("Content-Length"):
                        response["Content-Length"] = str(len(page))

    @staticmethod
    def _end_after_body(span: Any, response: Any) -> bool:
        """A streamed body is sent after the middleware returned: Django closes the response
        once the server has sent it (WSGI and ASGI handlers alike), and the span ends then."""
        closers = getattr(response, "_resource_closers", None)
        if not isinstance(closers, list):
            return False
        closers.append(span.end)
        return True


_EXCLUDED = object()
