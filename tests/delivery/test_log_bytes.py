"""The common log record (a Message without exception, event, availability or tag attributes,
with a text body) is written straight to its JSON bytes when no telemetry processor needs the
envelope (``ai_core.envelopes.log_bytes``): the bytes must be exactly those of the general path
(``log_to_envelope`` then ``encode_item``, i.e. ``json.dumps``) for every record, with request
contexts (and an app's role), sample rates, and whatever the properties cache has seen."""

from __future__ import annotations

import json
from typing import Any, Optional

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import TraceFlags

from golden_support import IKEY

from ai_core.delivery.encode import encode_item
from ai_core.envelopes import log_bytes
from ai_core.envelopes.log_bytes import log_item
from ai_core.envelopes.logs import log_to_envelope
from ai_core.request_context import RequestContext
from ai_core.role import Role

ROLE = Role("shop-api", "vm-7")


def assert_same(record: ReadableLogRecord, request: Optional[RequestContext], rate: Any, role: Any,
                ikey: str = IKEY) -> Optional[bytes]:
    try:
        envelope = log_to_envelope(record, ikey, lambda span_id: request, rate, role)
    except Exception:
        envelope = None
    expected = None
    if envelope is not None:
        expected = encode_item(envelope)
        assert expected == json.dumps(envelope, ensure_ascii=True, separators=(",", ":"), default=str).encode()
    item = log_item(record, ikey, lambda span_id: request, rate, role)
    if item is not None:
        assert item == expected
    return item


TEXT = st.one_of(
    st.text(max_size=10),
    st.text(alphabet=st.sampled_from(list('aé"\\\n \t\x00\x7f\u2028😀東')), max_size=10),
    st.sampled_from(["", "  ", "hello", " padded ", "x" * 40000]),
)
NUMBERS = st.one_of(st.sampled_from([0, 1, 0.0, -0.0, 1.0, True, False, float("nan")]), st.integers(), st.floats())
VALUES = st.one_of(TEXT, NUMBERS, st.lists(TEXT, max_size=2).map(tuple), st.lists(NUMBERS, max_size=2).map(tuple))
KEYS = st.sampled_from([
    "code.filepath", "code.function", "code.lineno", "thread.id", "thread.name", "custom", "logger_name", "é",
    "x" * 151, "http.method", "client.address", "net.peer.ip", "enduser.id", "enduser.pseudo.id", "session.id",
    "ai.operation.name", "user_agent.original", "exception.type", "exception.message", "exception.stacktrace",
    "microsoft.custom_event.name", "microsoft.availability.id", "microsoft.custom_measurements",
])


@st.composite
def log_records(draw: Any) -> ReadableLogRecord:
    trace_id = draw(st.sampled_from([0, 2**100 + 5]))
    record = LogRecord(
        timestamp=draw(st.sampled_from([None, 0, 1_765_000_000_123_456_789])),
        observed_timestamp=1_765_000_000_000_000_001,
        trace_id=trace_id,
        span_id=draw(st.sampled_from([0, 9])),
        trace_flags=TraceFlags(draw(st.sampled_from([0, 1]))),
        severity_number=draw(st.sampled_from(list(SeverityNumber))),
        body=draw(st.one_of(TEXT, st.sampled_from([None, 1, {"a": 1}]))),
        attributes=draw(st.dictionaries(KEYS, st.one_of(TEXT, NUMBERS) if draw(st.booleans()) else VALUES,
                                        max_size=5)),
    )
    scope = draw(st.sampled_from(["app.é", "ai_core.events", "bench", None]))
    return ReadableLogRecord(
        log_record=record, resource=draw(st.sampled_from([Resource({}), Resource({"service.name": "shop"})])),
        instrumentation_scope=InstrumentationScope(scope) if scope else None,
    )


REQUESTS = st.one_of(st.none(), st.builds(
    RequestContext,
    operation_name=st.one_of(st.none(), TEXT),
    client_ip=st.one_of(st.none(), TEXT),
    auth_user_id=st.one_of(st.none(), TEXT),
    user_id=st.one_of(st.none(), TEXT),
    role_name=st.one_of(st.none(), st.sampled_from(["web-app", "shop-api"])),
))


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(log_records(), REQUESTS, st.sampled_from([None, 50.0, 100, 3e-05, float("inf"), float("nan")]),
       st.sampled_from([None, ROLE]), st.sampled_from([IKEY, 'k"é']))
def test_random_log_records_give_the_general_bytes(
    record: ReadableLogRecord, request: Any, rate: Any, role: Any, ikey: str
) -> None:
    assert_same(record, request, rate, role, ikey)
    assert_same(record, request, rate, role, ikey)  # the second time from the cache


def record(attrs: dict, body: Any = "GET /realistic done", trace_id: int = 2**100 + 5) -> ReadableLogRecord:
    return ReadableLogRecord(
        log_record=LogRecord(
            timestamp=1_765_000_000_123_456_789, trace_id=trace_id, span_id=9, trace_flags=TraceFlags(1),
            severity_number=SeverityNumber.WARN, body=body, attributes=attrs,
        ),
        resource=Resource({"service.name": "shop"}), instrumentation_scope=InstrumentationScope("bench"),
    )


BRIDGE = {"code.filepath": "/app/hello_flask.py", "code.function": "realistic", "code.lineno": 42}


def test_the_common_record_takes_the_direct_path() -> None:
    request = RequestContext(operation_name="GET /realistic", client_ip="10.0.0.1", role_name="web-app")
    for case in (record(BRIDGE), record({}), record(BRIDGE, trace_id=0)):
        for lookup in (None, request):
            for role in (None, ROLE):
                assert assert_same(case, lookup, 50.0, role) is not None


def test_equal_values_of_other_types_are_not_taken_from_the_cache() -> None:
    for value in [1, 1.0, True, 0, 0.0, -0.0, False] * 2:
        assert_same(record(dict(BRIDGE, **{"code.lineno": value, "custom": value})), None, None, ROLE)


def test_the_cache_is_bounded() -> None:
    for index in range(log_bytes._PROPERTIES_MAX + 10):
        assert_same(record(dict(BRIDGE, **{"code.lineno": index})), None, None, None)
    assert len(log_bytes._PROPERTIES) <= log_bytes._PROPERTIES_MAX
