"""Without telemetry processors the exporters encode each span's and log record's envelope
themselves (``ai_core.delivery.sender.converted_item``), skipping the float checks of
``encode_item`` when the conversion's types show there is nothing to find. The bytes must be
exactly ``json.dumps``'s, as they are through ``encode_item``: checked over the golden span and
log cases and over random spans and records (attributes of every type, unicode, lone
surrogates, big ints, NaN, tiny floats, raw values a ReadableSpan may carry that the SDK would
refuse), and for whole request bodies sent the two ways."""

from __future__ import annotations

import gzip
import json
from typing import Any, Dict, List, Optional

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags

from golden_logs_metrics import emitted_log_record, readable_log_record
from golden_spans import build_span
from golden_support import IKEY, load_cases

from ai_core import AzureMonitorLogExporter, AzureMonitorTraceExporter
from ai_core.delivery import encode
from ai_core.delivery.encode import encode_converted, encode_item
from ai_core.delivery.sender import Sender, converted_item
from ai_core.delivery.transport import TrackResponse
from ai_core.envelopes.logs import log_to_envelope
from ai_core.envelopes.spans import span_to_envelopes
from ai_core.request_context import RequestContext
from ai_core.role import Role

CONNECTION_STRING = "InstrumentationKey=%s;IngestionEndpoint=http://127.0.0.1:9" % IKEY


def stdlib(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=True, separators=(",", ":"), default=str).encode()


def assert_same_bytes(envelopes: List[Dict[str, Any]]) -> None:
    for envelope in envelopes:
        expected = stdlib(envelope)
        assert encode_converted(envelope) == expected
        assert encode_item(envelope) == expected
        item = converted_item(envelope)
        assert item == expected or (item is envelope and len(expected) > 64 * 1024)


def test_the_float_free_path_is_in_use() -> None:
    """Otherwise the properties below would only compare encode_item with itself."""
    pytest.importorskip("orjson")
    assert encode._fast_float_free is not None
    span = build_span(load_cases("traces")[0]["input"])
    envelope = span_to_envelopes(span, IKEY)[0]
    assert encode._float_free(envelope)


# ---------------------------------------------------------------------------------------------
# The golden cases
# ---------------------------------------------------------------------------------------------

ROLE = Role("shop-api", "vm-7")


SPAN_CASES = [case for case in load_cases("traces") if "trace_id" in case["input"]]  # not the resource item


@pytest.mark.parametrize("case", SPAN_CASES, ids=lambda c: c["case"])
def test_golden_spans_encode_to_the_same_bytes(case: Dict[str, Any]) -> None:
    span = build_span(case["input"])
    request = RequestContext(operation_name="GET /é", client_ip="10.0.0.1", auth_user_id="ü", user_id="u")
    assert_same_bytes(span_to_envelopes(span, IKEY))
    assert_same_bytes(span_to_envelopes(span, IKEY, lambda span_id: request, ROLE))
    assert_same_bytes(span_to_envelopes(span, IKEY, lambda span_id: None, ROLE))


@pytest.mark.parametrize("case", load_cases("logs"), ids=lambda c: c["case"])
def test_golden_log_records_encode_to_the_same_bytes(case: Dict[str, Any]) -> None:
    for record in (readable_log_record(case), emitted_log_record(case)):
        for rate in (None, 25.0, 1e-05, float("nan")):
            envelope = log_to_envelope(record, IKEY, None, rate, ROLE)
            assert envelope is not None
            assert_same_bytes([envelope])


# ---------------------------------------------------------------------------------------------
# Random spans and log records
# ---------------------------------------------------------------------------------------------

TEXT = st.one_of(
    st.text(max_size=12),
    st.text(alphabet=st.sampled_from(list('aé"\\\n\x00\x7f\u2028😀東\ud800-e0.'))),
    st.sampled_from(["null", "1e-7", "0.00001", "GET", "http://h:80/p?q=1", "sqlite", "AlwaysOn x"]),
)
FLOATS = st.one_of(
    st.floats(),  # NaN and infinities included
    st.floats(min_value=-1e-3, max_value=1e-3),
    st.sampled_from([float("nan"), float("-inf"), 1e-05, 1e-07, 1e-4, 100.0, 1e16, 5e-324, -0.0, 0.1]),
)
INTS = st.one_of(st.integers(), st.integers(min_value=2**62, max_value=2**70), st.booleans())
SCALARS = st.one_of(TEXT, FLOATS, INTS)
# What a span from the SDK can hold, and (raw) what another ReadableSpan might.
SDK_VALUES = st.one_of(SCALARS, st.lists(TEXT, max_size=3).map(tuple), st.lists(FLOATS, max_size=3).map(tuple))
RAW_VALUES = st.one_of(SDK_VALUES, st.none(), st.lists(SCALARS, max_size=2), st.dictionaries(TEXT, FLOATS, max_size=2))
# The keys the conversion reads, so that every field is reached with every type.
KEYS = st.one_of(
    st.sampled_from([
        "http.method", "http.request.method", "http.url", "url.full", "url.scheme", "url.path", "url.query",
        "http.scheme", "http.host", "http.target", "http.route", "http.status_code", "http.response.status_code",
        "server.address", "server.port", "net.peer.name", "net.peer.port", "net.peer.ip", "peer.service",
        "user_agent.original", "http.user_agent", "client.address", "http.client_ip", "enduser.id",
        "enduser.pseudo.id", "session.id", "ai.cloud.role", "db.system", "db.system.name", "db.statement",
        "db.name", "messaging.system", "messaging.destination", "messaging.destination.name", "rpc.system",
        "az.namespace", "gen_ai.system", "celery.state", "_MS.sampleRate", "microsoft.custom_measurements",
        "user_agent.synthetic.type", "exception.type", "exception.message", "exception.stacktrace",
    ]),
    TEXT,
)


def attributes(values: Any) -> Any:
    return st.dictionaries(KEYS, values, max_size=8)


MEASUREMENTS = st.one_of(
    st.dictionaries(TEXT, st.one_of(FLOATS, INTS), max_size=3),
    st.dictionaries(TEXT, FLOATS, max_size=3).map(lambda d: json.dumps(d)),
)


@st.composite
def spans(draw: Any) -> ReadableSpan:
    raw = draw(st.booleans())
    attrs = draw(attributes(RAW_VALUES if raw else SDK_VALUES))
    if draw(st.booleans()):
        attrs["microsoft.custom_measurements"] = draw(MEASUREMENTS)
    if draw(st.booleans()):
        attrs["_MS.sampleRate"] = draw(st.one_of(FLOATS, INTS, st.sampled_from([float("nan"), 3e-05, 25.0])))
    trace_id = draw(st.integers(min_value=1, max_value=2**128 - 1))
    context = SpanContext(trace_id, draw(st.integers(min_value=1, max_value=2**64 - 1)), False,
                          TraceFlags(TraceFlags.SAMPLED))
    parent = None
    if draw(st.booleans()):
        parent = SpanContext(trace_id, draw(st.integers(min_value=1, max_value=2**64 - 1)), False)
    events = [
        Event(draw(st.sampled_from(["exception", "retry", "é"])), draw(attributes(RAW_VALUES if raw else SDK_VALUES)),
              timestamp=draw(st.integers(min_value=0, max_value=2**62)))
        for _ in range(draw(st.integers(min_value=0, max_value=2)))
    ]
    links = [Link(SpanContext(trace_id, 7, False), {"enqueuedTime": draw(INTS)})] if draw(st.booleans()) else []
    start = draw(st.integers(min_value=1, max_value=2**62))
    return ReadableSpan(
        name=draw(st.one_of(TEXT, st.lists(FLOATS, max_size=2).map(tuple)) if raw else TEXT),
        context=context,
        parent=parent,
        resource=draw(st.sampled_from([Resource({}), Resource({"service.name": "shop", "service.version": 1.5})])),
        attributes=attrs,
        events=events,
        links=links,
        kind=draw(st.sampled_from(list(SpanKind))),
        status=Status(draw(st.sampled_from(list(StatusCode)))),
        start_time=start,
        end_time=start + draw(st.integers(min_value=0, max_value=10**14)),
        instrumentation_scope=InstrumentationScope(draw(st.sampled_from(["opentelemetry.instrumentation.flask", "x"]))),
    )


REQUESTS = st.builds(
    RequestContext, operation_name=st.one_of(st.none(), TEXT), client_ip=st.one_of(st.none(), SCALARS),
    auth_user_id=st.one_of(st.none(), SCALARS), user_id=st.one_of(st.none(), SCALARS),
    role_name=st.one_of(st.none(), SCALARS),
)


def converted(convert: Any) -> Optional[Any]:
    try:
        return convert()
    except Exception:  # an input the conversion refuses is dropped the same way on both paths
        return None


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spans(), st.one_of(st.none(), REQUESTS), st.sampled_from([None, ROLE]))
def test_random_spans_encode_to_the_same_bytes(span: ReadableSpan, request: Optional[RequestContext], role: Any) -> None:
    envelopes = converted(lambda: span_to_envelopes(span, IKEY, lambda span_id: request, role))
    if envelopes is not None:
        assert_same_bytes(envelopes)


LOG_KEYS = st.one_of(KEYS, st.sampled_from([
    "microsoft.custom_event.name", "microsoft.availability.id", "microsoft.availability.name",
    "microsoft.availability.duration", "microsoft.availability.success", "microsoft.availability.runLocation",
    "microsoft.availability.message",
]))
AVAILABILITY = st.fixed_dictionaries({
    "microsoft.availability.id": RAW_VALUES, "microsoft.availability.name": RAW_VALUES,
    "microsoft.availability.duration": RAW_VALUES, "microsoft.availability.success": SCALARS,
})


@st.composite
def log_records(draw: Any) -> ReadableLogRecord:
    attrs = draw(st.dictionaries(LOG_KEYS, RAW_VALUES, max_size=8))
    if draw(st.booleans()):
        attrs.update(draw(AVAILABILITY))
    if draw(st.booleans()):
        attrs["microsoft.custom_measurements"] = draw(MEASUREMENTS)
    record = LogRecord(
        timestamp=draw(st.integers(min_value=1, max_value=2**62)),
        trace_id=draw(st.sampled_from([0, 2**100 + 5])),
        span_id=draw(st.sampled_from([0, 9])),
        trace_flags=TraceFlags(draw(st.sampled_from([0, 1]))),
        severity_number=draw(st.sampled_from(list(SeverityNumber))),
        body=draw(st.one_of(TEXT, RAW_VALUES)),
        attributes=attrs,
    )
    return ReadableLogRecord(
        log_record=record, resource=Resource({"service.name": "shop"}),
        instrumentation_scope=InstrumentationScope(draw(st.sampled_from(["app.é", "ai_core.events"]))),
    )


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(log_records(), st.one_of(st.none(), REQUESTS), st.sampled_from([None, 50.0, 3e-05, float("inf")]))
def test_random_log_records_encode_to_the_same_bytes(record: ReadableLogRecord, request: Any, rate: Any) -> None:
    envelope = converted(lambda: log_to_envelope(record, IKEY, lambda span_id: request, rate, ROLE))
    if envelope is not None:
        assert_same_bytes([envelope])


# ---------------------------------------------------------------------------------------------
# Whole request bodies
# ---------------------------------------------------------------------------------------------

class RecordingTransport:
    """Keeps each request body; answers 200."""

    def __init__(self) -> None:
        self.bodies: List[bytes] = []

    def post(self, body: bytes) -> TrackResponse:
        self.bodies.append(gzip.decompress(body))
        return TrackResponse(status=200)

    def close(self) -> None:
        pass


def sent_bodies(encodes_converted: bool) -> List[bytes]:
    transport = RecordingTransport()
    sender = Sender(transport)  # type: ignore[arg-type]
    traces = AzureMonitorTraceExporter(connection_string=CONNECTION_STRING, sender=sender, role=ROLE)
    logs = AzureMonitorLogExporter(connection_string=CONNECTION_STRING, sender=sender, role=ROLE)
    assert traces._encodes_converted and logs._encodes_converted  # what configure() builds
    traces._encodes_converted = logs._encodes_converted = encodes_converted
    span_list = [build_span(case["input"]) for case in SPAN_CASES]
    big = span_list[0]
    big._attributes = dict(big._attributes or {}, big="x" * 70000)  # over the item limit: trimmed
    traces.export(span_list)
    logs.export([readable_log_record(case) for case in load_cases("logs")])
    return transport.bodies


def test_the_request_bodies_are_the_same_both_ways(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("time.time_ns", lambda: 1_765_000_000_123_456_789)  # the _OTELRESOURCE_ item's time
    encoded_here = sent_bodies(True)
    as_before = sent_bodies(False)
    assert len(encoded_here) == 2
    assert encoded_here == as_before
    assert len(json.loads(encoded_here[0])) > len(SPAN_CASES)
