"""A Django request in OpenTelemetry's HTTP semantic conventions, as the stock instrumentation
writes it: the same contrib helpers, called once each.

The attributes are ``opentelemetry.instrumentation.wsgi.collect_request_attributes``'s
(``request.META``; built directly in the default conventions, key for key) or its ASGI twin's
(``request.scope``) in the mode ``OTEL_SEMCONV_STABILITY_OPT_IN`` selects; the status code and span status from the same
helpers the stock middleware calls; the span is SERVER with the trace context extracted from
the request's headers (``traceparent``), or INTERNAL inside a span that already runs.
``OTEL_PYTHON_DJANGO_TRACED_REQUEST_ATTRS`` and the ``OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_*``
variables are honoured as by the stock instrumentation, read once at the first request.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

from opentelemetry.instrumentation.utils import _start_internal_or_server_span
from opentelemetry.instrumentation.wsgi import collect_request_attributes as wsgi_request_attributes
from opentelemetry.instrumentation.wsgi import wsgi_getter
from opentelemetry.trace import SpanKind
from opentelemetry.instrumentation._semconv import _StabilityMode
from opentelemetry.util.http import detect_synthetic_user_agent, normalize_user_agent, sanitize_method

_DEFAULT_MODE = _StabilityMode.DEFAULT

# What the metric view keeps of each convention's duration attributes (the stock middleware
# records a dozen; the view, ai_core.autocollected_metrics, would drop the rest per request).
_OLD_METRIC_KEYS = ("http.status_code",)
_NEW_METRIC_KEYS = ("http.response.status_code",)
_METRIC_ATTRIBUTES: Dict[Tuple[Any, Any], Tuple[Dict[str, Any], Dict[str, Any]]] = {}

_ASGI_REQUEST: list = []  # django.core.handlers.asgi.ASGIRequest, imported on first use
_CAPTURE: list = []  # (request header patterns, response header patterns, sanitized fields)


def _asgi_request_class() -> Any:
    if not _ASGI_REQUEST:
        try:
            from django.core.handlers.asgi import ASGIRequest
        except ImportError:  # pragma: no cover (Django without ASGI)
            ASGIRequest = ()  # noqa: N806
        _ASGI_REQUEST.append(ASGIRequest)
    return _ASGI_REQUEST[0]


def is_asgi(request: Any) -> bool:
    return isinstance(request, _asgi_request_class())


def of(request: Any, mode: Any) -> Tuple[Any, Any, Dict[str, Any]]:
    """``(carrier, getter, start attributes)`` of a request, as the stock middleware reads them."""
    if is_asgi(request):
        from opentelemetry.instrumentation.asgi import asgi_getter
        from opentelemetry.instrumentation.asgi import collect_request_attributes as asgi_request_attributes

        return request.scope, asgi_getter, asgi_request_attributes(request.scope, mode)
    meta = request.META
    if mode is _DEFAULT_MODE:
        return meta, wsgi_getter, default_wsgi_request_attributes(meta)
    return meta, wsgi_getter, wsgi_request_attributes(meta, mode)


def default_wsgi_request_attributes(environ: Dict[str, Any]) -> Dict[str, Any]:
    """``wsgi.collect_request_attributes(environ)`` in the default (old) conventions, the same
    keys in the same order (``tests/django/test_django_semconv.py`` compares the two), in a
    quarter of the time: one dictionary built directly instead of a dozen mode checks and
    setter calls per request (~10 us). Other modes take the contrib helper."""
    result: Dict[str, Any] = {}
    method = sanitize_method(environ.get("REQUEST_METHOD", "")).strip()
    if method:
        result["http.method"] = method
    result["http.server_name"] = environ.get("SERVER_NAME")
    scheme = environ.get("wsgi.url_scheme")
    if scheme:
        result["http.scheme"] = scheme
    host = environ.get("HTTP_HOST")
    if host:
        result["net.host.name"] = host
        result["http.host"] = host
    port = environ.get("SERVER_PORT")
    if port:
        result["net.host.port"] = int(port)  # as the helper: a non-number raises
    target = environ.get("RAW_URI")
    if target is None:
        target = environ.get("REQUEST_URI")
    if target:
        result["http.target"] = target
    else:
        return wsgi_request_attributes(environ, _DEFAULT_MODE)  # the URL rebuilt: the helper's way
    peer = environ.get("REMOTE_ADDR")
    if peer:
        result["net.peer.ip"] = peer
    peer_port = environ.get("REMOTE_PORT")
    if peer_port:
        try:
            result["net.peer.port"] = int(peer_port)
        except (TypeError, ValueError):
            pass
    peer_name = environ.get("REMOTE_HOST")
    if peer_name and peer_name != peer:
        result["net.peer.name"] = peer_name
    agent = environ.get("HTTP_USER_AGENT")
    if agent:
        agent = normalize_user_agent(agent)
        if agent:
            result["http.user_agent"] = agent
            synthetic = detect_synthetic_user_agent(agent)
            if synthetic:
                result["user_agent.synthetic.type"] = synthetic
    flavor = environ.get("SERVER_PROTOCOL", "")
    if flavor.upper().startswith("HTTP/"):
        flavor = flavor[5:]
    if flavor:
        result["http.flavor"] = flavor
    return result


def start_span(tracer: Any, method: str, start_time: Optional[int], carrier: Any, getter: Any,
               attributes: Dict[str, Any]) -> Tuple[Any, Any]:
    """The request span and the token of the extracted context (None inside a running span).
    Named by the method until the route is known (``ai_core.web`` renames it then)."""
    name = sanitize_method((method or "").strip())
    return _start_internal_or_server_span(
        tracer=tracer, span_name="HTTP" if name == "_OTHER" else name, start_time=start_time,
        context_carrier=carrier, context_getter=getter, attributes=attributes)


def add_traced_request_attrs(span: Any, request: Any, names: Any) -> None:
    from opentelemetry.instrumentation.utils import extract_attributes_from_object

    for key, value in extract_attributes_from_object(request, names, {}).items():
        span.set_attribute(key, value)


def _capture() -> Tuple[Any, Any, Any]:
    if not _CAPTURE:
        from opentelemetry.util.http import (
            OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS,
            OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST,
            OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE,
            get_custom_headers,
        )

        _CAPTURE.append((get_custom_headers(OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST),
                         get_custom_headers(OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE),
                         get_custom_headers(OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS)))
    return _CAPTURE[0]


def add_custom_request_headers(span: Any, request: Any) -> None:
    """The request headers ``OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST`` names."""
    wanted, _, sanitized = _capture()
    if not wanted or span.kind is not SpanKind.SERVER:
        return
    if is_asgi(request):
        from opentelemetry.instrumentation.asgi import collect_custom_headers_attributes
        from opentelemetry.util.http import SanitizeValue, normalise_request_header_name

        found = collect_custom_headers_attributes(request.scope, SanitizeValue(sanitized), wanted,
                                                  normalise_request_header_name)
    else:
        from opentelemetry.instrumentation.wsgi import collect_custom_request_headers_attributes

        found = collect_custom_request_headers_attributes(request.META)
    if found:
        span.set_attributes(found)


def _add_custom_response_headers(span: Any, request: Any, response: Any) -> None:
    _, wanted, sanitized = _capture()
    if not wanted or not span.is_recording() or span.kind is not SpanKind.SERVER:
        return
    if is_asgi(request):
        from opentelemetry.instrumentation.asgi import asgi_setter, collect_custom_headers_attributes
        from opentelemetry.util.http import SanitizeValue, normalise_response_header_name

        headers: Dict[str, Any] = {}
        for key, value in response.items():
            asgi_setter.set(headers, key, value)
        found = collect_custom_headers_attributes(headers, SanitizeValue(sanitized), wanted,
                                                  normalise_response_header_name)
    else:
        from opentelemetry.instrumentation.wsgi import collect_custom_response_headers_attributes

        found = collect_custom_response_headers_attributes(response.items())
    for key, value in found.items():
        span.set_attribute(key, value)


def add_status(span: Any, request: Any, response: Any, mode: Any) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """The response's status code and span status; returns the duration metrics' attributes
    (old, new conventions): the status code, all ``requests/duration`` keeps of them
    (``ai_core.autocollected_metrics``), one shared pair per status code: never mutated."""
    from opentelemetry.instrumentation._semconv import _set_status

    metric: Dict[str, Any] = {}
    code = response.status_code
    try:
        number = int(code)
    except (TypeError, ValueError):
        number = -1
    # What add_response_attributes (WSGI) and set_status_code (ASGI) both do.
    _set_status(span, metric, number, str(code), server_span=True, sem_conv_opt_in_mode=mode)
    _add_custom_response_headers(span, request, response)
    key = (metric.get(_OLD_METRIC_KEYS[0]), metric.get(_NEW_METRIC_KEYS[0]))
    shared = _METRIC_ATTRIBUTES.get(key)
    if shared is None:  # one pair per status code, shared by the queued durations (memory)
        shared = ({k: metric[k] for k in _OLD_METRIC_KEYS if k in metric},
                  {k: metric[k] for k in _NEW_METRIC_KEYS if k in metric})
        if len(_METRIC_ATTRIBUTES) < 1024:
            _METRIC_ATTRIBUTES[key] = shared
    return shared


_DURATIONS: Dict[int, Tuple[Any, "RequestDurations"]] = {}


def request_durations(meter_provider: Any, version: str, schema_url: str, old: bool, new: bool) -> "RequestDurations":
    """One :class:`RequestDurations` per meter provider (its histograms are made once)."""
    known = _DURATIONS.get(id(meter_provider))
    if known is None or known[0] is not meter_provider:
        known = _DURATIONS[id(meter_provider)] = (meter_provider, RequestDurations(
            meter_provider, version, schema_url, old, new))
    return known[1]


class RequestDurations:
    """The stock instrumentation's request duration histograms (``requests/duration``).

    The old conventions' ``http.server.duration`` in ms, the new ones'
    ``http.server.request.duration`` in s, each created only in the mode that reports it, with
    the values and attributes the stock middleware records (README, "Django"). The meter
    provider is the pipeline's instrumentation provider, whose duration histograms record off
    the request thread, right before each metric collection (``ai_core.queued_durations``,
    shared with the Flask and FastAPI adapters).
    """

    def __init__(self, meter_provider: Any, version: str, schema_url: str, old: bool, new: bool) -> None:
        from opentelemetry.metrics import get_meter

        meter = get_meter("opentelemetry.instrumentation.django", version, meter_provider=meter_provider,
                          schema_url=schema_url)
        self.old_histogram = self.new_histogram = None
        if old:
            self.old_histogram = meter.create_histogram(
                name="http.server.duration", unit="ms", description="Measures the duration of inbound HTTP requests.")
        if new:
            from opentelemetry.instrumentation._semconv import HTTP_DURATION_HISTOGRAM_BUCKETS_NEW

            self.new_histogram = meter.create_histogram(
                name="http.server.request.duration", unit="s", description="Duration of HTTP server requests.",
                explicit_bucket_boundaries_advisory=HTTP_DURATION_HISTOGRAM_BUCKETS_NEW)

    def add(self, duration_s: float, attributes: Tuple[Dict[str, Any], Dict[str, Any]]) -> None:
        """One served request (``attributes``: what :func:`add_status` returned)."""
        if self.old_histogram is not None:
            self.old_histogram.record(max(round(duration_s * 1000), 0), attributes[0])
        if self.new_histogram is not None:
            self.new_histogram.record(max(duration_s, 0), attributes[1])
