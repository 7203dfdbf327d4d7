"""What an adapter writes on a request span is what the Request, its dependencies and its
logs show: route name, client IP, user, and the 500 rule for an uncaught exception."""

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from ai_core.envelopes.spans import request_operation_name, span_to_envelopes
from ai_core.request_context import RequestContextRegistry, RequestContextSpanProcessor
from ai_core.web.annotation import annotate_request, record_uncaught_exception
from ai_core.web.naming import NOT_FOUND_ROUTE

START = {"http.request.method": "GET", "url.scheme": "http", "server.address": "shop", "url.path": "/items/42",
         "net.peer.ip": "10.0.0.2"}


@pytest.fixture()
def pipeline():
    registry = RequestContextRegistry()
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource({"service.name": "shop"}), shutdown_on_exit=False)
    provider.add_span_processor(RequestContextSpanProcessor(registry, request_operation_name))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider.get_tracer("tests"), exporter, registry
    provider.shutdown()


def _envelopes(exporter, registry):
    out = []
    for span in exporter.get_finished_spans():
        out.extend(span_to_envelopes(span, "ikey", registry))
    return out


def test_route_client_ip_and_user_reach_the_request_and_its_dependency(pipeline):
    tracer, exporter, registry = pipeline
    with tracer.start_as_current_span("GET", kind=SpanKind.SERVER, attributes=START) as span:
        with tracer.start_as_current_span("SELECT", kind=SpanKind.CLIENT, attributes={"db.system": "sqlite"}):
            pass
        annotate_request(span, route="/items/{id}", client_ip="203.0.113.7", auth_user_id="42")
        span.set_attribute("http.response.status_code", 200)
    request = next(e for e in _envelopes(exporter, registry) if e["data"]["baseType"] == "RequestData")
    dependency = next(e for e in _envelopes(exporter, registry) if e["data"]["baseType"] == "RemoteDependencyData")
    assert request["data"]["baseData"]["name"] == "GET /items/{id}"
    for env in (request, dependency):
        assert env["tags"]["ai.operation.name"] == "GET /items/{id}"
        assert env["tags"]["ai.location.ip"] == "203.0.113.7"  # not the proxy's 10.0.0.2
    assert dependency["tags"]["ai.user.authUserId"] == "42"
    assert exporter.get_finished_spans()[-1].name == "GET /items/{id}"  # other exporters agree


def test_an_unmatched_request_is_named_by_the_fixed_route(pipeline):
    tracer, exporter, registry = pipeline
    with tracer.start_as_current_span("GET", kind=SpanKind.SERVER, attributes=START) as span:
        annotate_request(span, route=NOT_FOUND_ROUTE)
        span.set_attribute("http.response.status_code", 404)
    (request,) = _envelopes(exporter, registry)
    assert request["data"]["baseData"]["name"] == "GET /<not found>"
    assert request["data"]["baseData"]["url"] == "http://shop/items/42"  # the URL keeps the path


def test_uncaught_exception_is_one_exception_on_a_failed_500_request(pipeline):
    tracer, exporter, registry = pipeline
    with tracer.start_as_current_span("GET", kind=SpanKind.SERVER, attributes=START,
                                      record_exception=False, set_status_on_exception=False) as span:
        try:
            raise LookupError("no such item")
        except LookupError as exc:
            span.record_exception(exc)  # what a stock instrumentation already did
            record_uncaught_exception(span, exc)  # and our adapter again: still one item
    envelopes = _envelopes(exporter, registry)
    request = next(e for e in envelopes if e["data"]["baseType"] == "RequestData")["data"]["baseData"]
    exceptions = [e for e in envelopes if e["data"]["baseType"] == "ExceptionData"]
    assert request["responseCode"] == "500" and request["success"] is False
    assert len(exceptions) == 1
    assert exceptions[0]["data"]["baseData"]["exceptions"][0]["typeName"] == "LookupError"


def test_a_status_the_server_already_sent_is_kept(pipeline):
    tracer, exporter, registry = pipeline
    with tracer.start_as_current_span("GET", kind=SpanKind.SERVER, attributes=START) as span:
        span.set_attribute("http.response.status_code", 503)
        record_uncaught_exception(span, RuntimeError("after the response started"))
    request = next(e for e in _envelopes(exporter, registry) if e["data"]["baseType"] == "RequestData")
    assert request["data"]["baseData"]["responseCode"] == "503"


def test_annotating_a_span_that_is_not_recording_does_nothing():
    from opentelemetry.trace import INVALID_SPAN

    annotate_request(INVALID_SPAN, route="/x", client_ip="1.2.3.4", auth_user_id="u")
    record_uncaught_exception(INVALID_SPAN, ValueError())
    annotate_request(None, route="/x")
