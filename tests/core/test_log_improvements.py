"""Deliberate improvements to log envelopes (the README's "Deliberate differences"), shown end to end.

Python ``logging`` -> OpenTelemetry's ``LoggingHandler`` -> a real ``LoggerProvider`` -> our
``log_to_envelope``, inside real spans of a real ``TracerProvider``:

* item 2: a log outside any trace has no ``ai.operation.id``/``parentId`` (the official
  exporter sends 32 and 16 zeros, putting every such log in one giant "operation");
* items 1 and 3: a log inside a request carries the request's operation name, client IP and
  user, so it is listed under that operation and user; the record's own values win;
* item 6: an exception logged without a traceback has no ``"stack": "None"``.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, Iterator, List, Tuple

import pytest
from opentelemetry.instrumentation.logging.handler import LoggingHandler
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind

from ai_core.envelopes.logs import log_to_envelope
from ai_core.request_context import RequestContext, RequestContextRegistry
from golden_support import IKEY, wire

RESOURCE = Resource({"service.name": "shop", "service.instance.id": "web-1"})
LOGGER_NAME = "tests.log_improvements"


@pytest.fixture
def pipeline() -> Iterator[Tuple[logging.Logger, InMemoryLogRecordExporter, Any]]:
    """A Python logger wired through LoggingHandler to an in-memory log exporter, and a tracer."""
    exporter = InMemoryLogRecordExporter()
    logger_provider = LoggerProvider(resource=RESOURCE, shutdown_on_exit=False)
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    handler = LoggingHandler(level=logging.DEBUG, logger_provider=logger_provider)
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addHandler(handler)
    tracer = TracerProvider(resource=RESOURCE, shutdown_on_exit=False).get_tracer("tests")
    try:
        yield logger, exporter, tracer
    finally:
        logger.removeHandler(handler)
        logger_provider.shutdown()


def envelopes(exporter: InMemoryLogRecordExporter, lookup: Any = None) -> List[Dict[str, Any]]:
    return [wire(log_to_envelope(record, IKEY, request_lookup=lookup)) for record in exporter.get_finished_logs()]


def operation_tags(envelope: Dict[str, Any]) -> Dict[str, Any]:
    return {k: v for k, v in envelope["tags"].items() if k.startswith(("ai.operation.", "ai.location.", "ai.user."))}


def test_log_outside_a_trace_has_no_operation_ids(pipeline: Any) -> None:
    logger, exporter, _ = pipeline
    logger.warning("disk at 91%")
    (env,) = envelopes(exporter, lookup=RequestContextRegistry())
    assert operation_tags(env) == {}  # official: id "000...0" (32), parentId "0000000000000000"
    assert env["data"]["baseData"]["message"] == "disk at 91%"
    assert env["data"]["baseData"]["properties"] == {"logger_name": LOGGER_NAME}


def test_log_in_a_span_without_lookup_is_the_official_output(pipeline: Any) -> None:
    logger, exporter, tracer = pipeline
    with tracer.start_as_current_span("GET /items/{id}", kind=SpanKind.SERVER) as span:
        logger.info("inside a span")
    (env,) = envelopes(exporter)
    context = span.get_span_context()
    assert operation_tags(env) == {
        "ai.operation.id": "%032x" % context.trace_id,
        "ai.operation.parentId": "%016x" % context.span_id,
    }


def test_log_in_a_request_gets_its_operation_name_ip_and_user(pipeline: Any) -> None:
    logger, exporter, tracer = pipeline
    registry = RequestContextRegistry()
    with tracer.start_as_current_span("GET", kind=SpanKind.SERVER) as request_span:
        request = request_span.get_span_context()
        context = RequestContext(
            operation_name="GET /items/{id}", client_ip="203.0.113.7", auth_user_id="42", user_id="anon-7"
        )
        registry.put(request.span_id, context)  # as RequestContextSpanProcessor does in a pipeline
        logger.info("in the view")
        with tracer.start_as_current_span("SELECT shop", kind=SpanKind.CLIENT) as db_span:
            registry.put(db_span.get_span_context().span_id, context)
            logger.warning("slow query")
    view_log, query_log = envelopes(exporter, lookup=registry)
    request_tags = {
        "ai.operation.id": "%032x" % request.trace_id,
        "ai.operation.name": "GET /items/{id}",
        "ai.location.ip": "203.0.113.7",
        "ai.user.authUserId": "42",
        "ai.user.id": "anon-7",
    }
    assert operation_tags(view_log) == dict(request_tags, **{"ai.operation.parentId": "%016x" % request.span_id})
    # a log inside a dependency of the request still belongs to the request's operation
    db_span_id = "%016x" % db_span.get_span_context().span_id
    assert operation_tags(query_log) == dict(request_tags, **{"ai.operation.parentId": db_span_id})


def test_the_records_own_values_win_over_the_request(pipeline: Any) -> None:
    logger, exporter, tracer = pipeline
    registry = RequestContextRegistry()
    with tracer.start_as_current_span("GET", kind=SpanKind.SERVER) as span:
        registry.put(
            span.get_span_context().span_id,
            RequestContext(operation_name="GET /cart", client_ip="203.0.113.7", auth_user_id="42", user_id="anon-7"),
        )
        logger.info(
            "acting for someone",
            extra={"enduser.id": "bob", "client.address": "192.0.2.44", "ai.operation.name": "custom op"},
        )
    (env,) = envelopes(exporter, lookup=registry)
    tags = env["tags"]
    assert tags["ai.user.authUserId"] == "bob"
    assert tags["ai.location.ip"] == "192.0.2.44"
    assert tags["ai.operation.name"] == "custom op"
    assert tags["ai.user.id"] == "anon-7"  # not set by the record, so the request's


def test_operation_name_is_read_from_the_live_request_span(pipeline: Any) -> None:
    """The route is often known only after routing; the name is computed when the log is
    converted, from the request span as it is then."""
    logger, exporter, tracer = pipeline
    registry = RequestContextRegistry()
    with tracer.start_as_current_span("GET", kind=SpanKind.SERVER) as span:
        registry.put(
            span.get_span_context().span_id,
            RequestContext(live_span=span, name_from_span=lambda s: "GET " + s.attributes.get("http.route", "/")),
        )
        logger.info("before routing")
        span.set_attribute("http.route", "/orders/{id}")
        (env,) = envelopes(exporter, lookup=registry)
    assert env["tags"]["ai.operation.name"] == "GET /orders/{id}"


def test_unknown_trace_gives_the_official_output(pipeline: Any) -> None:
    logger, exporter, tracer = pipeline
    with tracer.start_as_current_span("background job"):
        logger.info("not a request")
    (record,) = exporter.get_finished_logs()
    assert log_to_envelope(record, IKEY, request_lookup=RequestContextRegistry()) == log_to_envelope(record, IKEY)


def test_exception_without_traceback_has_no_stack(pipeline: Any) -> None:
    logger, exporter, _ = pipeline
    error = ValueError("bad input")
    logger.error("validation failed", exc_info=(ValueError, error, None))
    (env,) = envelopes(exporter)
    assert env["data"]["baseType"] == "ExceptionData"
    assert env["data"]["baseData"]["exceptions"] == [
        {"typeName": "ValueError", "message": "validation failed", "hasFullStack": False}
    ]  # official: "stack": "None"


def test_logged_exception_with_traceback_keeps_its_stack(pipeline: Any) -> None:
    logger, exporter, tracer = pipeline
    with tracer.start_as_current_span("job"):
        try:
            {}["missing"]
        except KeyError:
            logger.exception("lookup failed")
    (env,) = envelopes(exporter)
    (details,) = env["data"]["baseData"]["exceptions"]
    assert details["typeName"] == "KeyError"
    assert details["message"] == "lookup failed"
    assert details["hasFullStack"] is True
    assert details["stack"].startswith("Traceback (most recent call last):")
    assert env["data"]["baseData"]["severityLevel"] == 3
    assert "ai.operation.id" in env["tags"]


def test_logs_of_a_kept_trace_carry_its_sample_rate(pipeline: Any) -> None:
    """Item 8: below 100 %, a record inside a sampled trace stands for as many records as the
    trace's spans do; a record outside any trace was not sampled and carries no rate."""
    logger, exporter, tracer = pipeline
    with tracer.start_as_current_span("GET /orders", kind=SpanKind.SERVER):
        logger.warning("order 7 is late")
        try:
            raise ValueError("no stock")
        except ValueError:
            logger.exception("could not reserve")
    logger.warning("outside")
    records = exporter.get_finished_logs()
    rated = [wire(log_to_envelope(r, IKEY, trace_sample_rate=25.0)) for r in records]
    assert [(e["name"].rsplit(".", 1)[-1], e.get("sampleRate")) for e in rated] == [
        ("Message", 25.0), ("Exception", 25.0), ("Message", None)]
    # Without a rate (100 % sampling, or a plain exporter) nothing changes: the official output.
    assert all("sampleRate" not in wire(log_to_envelope(r, IKEY)) for r in records)
