"""The deliberate improvements over the official span mapping (the README's "Deliberate differences"), shown on
spans made by a real TracerProvider.

Items 1 and 3: dependencies and span events inside a request carry the request's operation
name, client IP and user. Item 5: a 5xx request is never successful. Item 6: no ``host:None``
targets, no default ports or empty ``?`` in rebuilt request URLs, the RPC system as the RPC
dependency type, ``messaging.destination.name`` honoured, no ``"stack": "None"``.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import pytest
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from ai_core.envelopes.spans import request_operation_name, span_to_envelopes
from ai_core.request_context import RequestContext, RequestContextRegistry

IKEY = "00000000-0000-0000-0000-000000000000"


@pytest.fixture()
def tracing():
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource({"service.name": "shop"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider.get_tracer("tests.improvements"), exporter
    provider.shutdown()


def _by_name(spans: List[ReadableSpan]) -> Dict[str, ReadableSpan]:
    return {span.name: span for span in spans}


def _tags(envelope: Dict[str, Any]) -> Dict[str, str]:
    return envelope["tags"]


def _base(envelope: Dict[str, Any]) -> Dict[str, Any]:
    return envelope["data"]["baseData"]


# ---------------------------------------------------------------------------------------------
# Items 1 and 3: the request's context on its dependencies and span events
# ---------------------------------------------------------------------------------------------

def _serve_one_request(tracer, registry: RequestContextRegistry, child_attributes=None):
    """A SERVER span with a CLIENT child that records an exception, as an instrumented app
    produces them. The route is set only after the child has ended (frameworks resolve it
    late), so the operation name must be read lazily from the live server span."""
    with tracer.start_as_current_span(
        "GET",
        kind=SpanKind.SERVER,
        attributes={
            "http.request.method": "GET",
            "url.scheme": "https",
            "server.address": "shop.example.com",
            "url.path": "/items/42",
            "client.address": "203.0.113.7",
        },
    ) as server:
        request = RequestContext(
                client_ip="203.0.113.7",
                auth_user_id="alice",
                user_id="anon-1",
                live_span=server,
                name_from_span=request_operation_name,
        )
        # What RequestContextSpanProcessor does in a pipeline: the request and every span
        # started inside it map to the request's context.
        registry.put(server.get_span_context().span_id, request)
        attributes = {
            "http.request.method": "GET",
            "url.full": "https://stock.internal:8443/stock/42",
            "server.address": "stock.internal",
            "server.port": 8443,
        }
        attributes.update(child_attributes or {})
        with tracer.start_as_current_span("GET", kind=SpanKind.CLIENT, attributes=attributes) as child:
            registry.put(child.get_span_context().span_id, request)
            try:
                raise TimeoutError("stock service timed out")
            except TimeoutError as exc:
                child.record_exception(exc)
        server.set_attribute("http.route", "/items/{id}")
        server.set_attribute("http.response.status_code", 200)


def test_children_carry_the_request_operation_name_ip_and_user(tracing):
    tracer, exporter = tracing
    registry = RequestContextRegistry()
    _serve_one_request(tracer, registry)
    spans = exporter.get_finished_spans()
    child = next(s for s in spans if s.kind is SpanKind.CLIENT)
    server = next(s for s in spans if s.kind is SpanKind.SERVER)

    dependency, exception = span_to_envelopes(child, IKEY, registry)
    for envelope in (dependency, exception):
        tags = _tags(envelope)
        assert tags["ai.operation.name"] == "GET /items/{id}"
        assert tags["ai.location.ip"] == "203.0.113.7"
        assert tags["ai.user.authUserId"] == "alice"
        assert tags["ai.user.id"] == "anon-1"
        assert tags["ai.operation.id"] == "%032x" % server.context.trace_id
    assert _tags(dependency)["ai.operation.parentId"] == "%016x" % server.context.span_id
    assert _tags(exception)["ai.operation.parentId"] == "%016x" % child.context.span_id
    assert exception["name"] == "Microsoft.ApplicationInsights.Exception"
    details = _base(exception)["exceptions"][0]
    assert details["typeName"] == "TimeoutError"
    assert details["message"] == "stock service timed out"
    assert details["hasFullStack"] is True and "Traceback" in details["stack"]
    # the dependency's own fields are untouched
    assert _base(dependency)["name"] == "GET /stock/42"
    assert _base(dependency)["target"] == "stock.internal:8443"


def test_without_lookup_the_output_is_the_official_one(tracing):
    tracer, exporter = tracing
    registry = RequestContextRegistry()
    _serve_one_request(tracer, registry)
    child = next(s for s in exporter.get_finished_spans() if s.kind is SpanKind.CLIENT)

    dependency, exception = span_to_envelopes(child, IKEY)
    assert _tags(dependency)["ai.operation.name"] == "GET /stock/42"  # its own name
    assert "ai.operation.name" not in _tags(exception)
    for envelope in (dependency, exception):
        for tag in ("ai.location.ip", "ai.user.authUserId", "ai.user.id"):
            assert tag not in _tags(envelope)


def test_the_request_envelope_itself_is_unaffected(tracing):
    tracer, exporter = tracing
    registry = RequestContextRegistry()
    _serve_one_request(tracer, registry)
    server = next(s for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER)

    with_lookup = span_to_envelopes(server, IKEY, registry)
    assert with_lookup == span_to_envelopes(server, IKEY)
    (request,) = with_lookup
    assert _tags(request)["ai.operation.name"] == "GET /items/{id}"
    assert _tags(request)["ai.location.ip"] == "203.0.113.7"
    assert "ai.user.authUserId" not in _tags(request)
    assert _base(request)["url"] == "https://shop.example.com/items/42"


def test_tags_the_span_sets_itself_win_over_the_request(tracing):
    tracer, exporter = tracing
    registry = RequestContextRegistry()
    _serve_one_request(tracer, registry, {"enduser.id": "bob", "enduser.pseudo.id": "anon-2"})
    child = next(s for s in exporter.get_finished_spans() if s.kind is SpanKind.CLIENT)

    dependency = span_to_envelopes(child, IKEY, registry)[0]
    assert _tags(dependency)["ai.user.authUserId"] == "bob"
    assert _tags(dependency)["ai.user.id"] == "anon-2"
    assert _tags(dependency)["ai.operation.name"] == "GET /items/{id}"


def test_spans_of_other_traces_are_left_alone(tracing):
    tracer, exporter = tracing
    registry = RequestContextRegistry()
    _serve_one_request(tracer, registry)
    with tracer.start_as_current_span("job", context=Context()):
        pass
    job = _by_name(exporter.get_finished_spans())["job"]
    assert span_to_envelopes(job, IKEY, registry) == span_to_envelopes(job, IKEY)


def test_request_operation_name_of_a_running_request(tracing):
    tracer, _ = tracing
    with tracer.start_as_current_span(
        "GET", kind=SpanKind.SERVER,
        attributes={"http.request.method": "GET", "url.full": "https://a.example/items/42?q=1"},
    ) as server:
        assert request_operation_name(server) == "GET /items/42"
        server.set_attribute("http.route", "/items/{id}")
        assert request_operation_name(server) == "GET /items/{id}"
    with tracer.start_as_current_span("nightly-job", kind=SpanKind.SERVER) as job:
        assert request_operation_name(job) == "nightly-job"


# ---------------------------------------------------------------------------------------------
# Items 5 and 6: field-level fixes
# ---------------------------------------------------------------------------------------------

def _convert(tracer, exporter, name: str, kind: SpanKind, attributes: Dict[str, Any],
             exception_event: Optional[Dict[str, Any]] = None) -> List[Dict[str, Any]]:
    span = tracer.start_span(name, kind=kind, attributes=attributes, context=Context())
    if exception_event is not None:
        span.add_event("exception", exception_event)
    span.end()
    converted = span_to_envelopes(exporter.get_finished_spans()[-1], IKEY)
    exporter.clear()
    return converted


@pytest.mark.parametrize(
    "code, success", [(200, True), (302, True), (404, False), (500, False), (503, False), (599, False)]
)
def test_5xx_request_is_never_successful(tracing, code, success):
    tracer, exporter = tracing
    (request,) = _convert(tracer, exporter, "GET /", SpanKind.SERVER,
                          {"http.method": "GET", "http.url": "http://a/", "http.status_code": code})
    assert _base(request)["responseCode"] == str(code)
    assert _base(request)["success"] is success


@pytest.mark.parametrize(
    "attributes, url",
    [
        ({"url.scheme": "https", "server.address": "a.example", "server.port": 443, "url.path": "/p"},
         "https://a.example/p"),
        ({"url.scheme": "http", "server.address": "a.example", "server.port": 80, "url.path": "/p",
          "url.query": "x=1"}, "http://a.example/p?x=1"),
        ({"url.scheme": "http", "server.address": "a.example", "server.port": 8080, "url.path": "/p",
          "url.query": ""}, "http://a.example:8080/p"),
        ({"http.scheme": "http", "http.host": "a.example:80", "http.target": "/p"}, "http://a.example/p"),
        ({"http.scheme": "https", "http.host": "a.example:80", "http.target": "/p"},
         "https://a.example:80/p"),
        ({"http.scheme": "https", "http.server_name": "srv", "net.host.port": 443, "http.target": "/"},
         "https://srv/"),
        ({"http.scheme": "http", "net.host.name": "node", "net.host.port": 8000, "http.target": "/"},
         "http://node:8000/"),
    ],
)
def test_rebuilt_request_url_has_no_default_port_or_empty_query(tracing, attributes, url):
    tracer, exporter = tracing
    (request,) = _convert(tracer, exporter, "GET", SpanKind.SERVER, {"http.request.method": "GET", **attributes})
    assert _base(request)["url"] == url


def test_http_dependency_without_port_targets_the_host(tracing):
    tracer, exporter = tracing
    (dependency,) = _convert(tracer, exporter, "GET", SpanKind.CLIENT, {
        "http.request.method": "GET", "url.full": "https://api.example.com/x", "server.address": "api.example.com",
    })
    assert _base(dependency)["target"] == "api.example.com"


def test_rpc_dependency_type_is_the_rpc_system(tracing):
    tracer, exporter = tracing
    (dependency,) = _convert(tracer, exporter, "pkg.Svc/Do", SpanKind.CLIENT, {"rpc.system": "grpc"})
    assert _base(dependency)["type"] == "grpc"
    assert _base(dependency)["target"] == "grpc"


def test_messaging_destination_name_is_used(tracing):
    tracer, exporter = tracing
    stable = {"messaging.system": "rabbitmq", "messaging.destination.name": "orders"}
    (producer,) = _convert(tracer, exporter, "orders publish", SpanKind.PRODUCER, stable)
    assert _base(producer)["type"] == "Queue Message | rabbitmq"
    assert _base(producer)["target"] == "orders"
    (consumer,) = _convert(tracer, exporter, "orders process", SpanKind.CONSUMER,
                           {**stable, "net.peer.name": "broker"})
    assert _base(consumer)["source"] == "broker/orders"
    # the deprecated attribute still wins when both are present, as in the official mapping
    (old,) = _convert(tracer, exporter, "x", SpanKind.PRODUCER, {**stable, "messaging.destination": "legacy"})
    assert _base(old)["target"] == "legacy"


def test_exception_without_stacktrace_has_no_stack(tracing):
    tracer, exporter = tracing
    _, exception = _convert(tracer, exporter, "work", SpanKind.INTERNAL, {},
                            {"exception.type": "KeyError", "exception.message": "'k'"})
    (details,) = _base(exception)["exceptions"]
    assert details == {"typeName": "KeyError", "message": "'k'", "hasFullStack": False}
    _, exception = _convert(tracer, exporter, "work", SpanKind.INTERNAL, {},
                            {"exception.type": "KeyError", "exception.stacktrace": "Traceback ..."})
    (details,) = _base(exception)["exceptions"]
    assert details["hasFullStack"] is True and details["stack"] == "Traceback ..."
    assert details["message"] == "Exception"


def test_current_span_is_not_required(tracing):
    """Conversion never looks at the current context (exporters run on their own thread)."""
    tracer, exporter = tracing
    with tracer.start_as_current_span("outer", kind=SpanKind.SERVER):
        (dependency,) = _convert(tracer, exporter, "inner", SpanKind.INTERNAL, {})
    assert "ai.operation.parentId" not in _tags(dependency)
    assert trace.get_current_span() is trace.INVALID_SPAN
