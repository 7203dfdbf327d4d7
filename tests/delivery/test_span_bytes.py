"""The common span shapes (a server's HTTP request, an HTTP client call, a database call) are
written straight to their JSON bytes when no telemetry processor needs the envelope
(``ai_core.envelopes.span_bytes``): the bytes must be exactly those of the general path
(``span_to_envelopes`` then ``encode_item``, i.e. ``json.dumps``) for every input, with request
contexts (their name, client, user and an app's role replacing the process's tags) and roles,
and whatever the per-shape cache has seen before (values equal across types: 1, 1.0, True;
0.0 and -0.0)."""

from __future__ import annotations

import json
from typing import Any, List, Optional

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

from golden_support import IKEY

from ai_core.delivery.encode import encode_item
from ai_core.envelopes import span_bytes
from ai_core.envelopes.span_bytes import span_item
from ai_core.envelopes.spans import span_to_envelopes
from ai_core.request_context import RequestContext
from ai_core.role import Role

ROLE = Role("shop-api", "vm-7")
RESOURCES = [Resource({}), Resource({"service.name": "shop", "service.version": 1.5, "device.id": "dé"})]


def general(span: ReadableSpan, request: Optional[RequestContext], role: Any, resource_ikey: str = IKEY) -> Any:
    try:
        envelopes = span_to_envelopes(span, resource_ikey, lambda span_id: request, role)
    except Exception:  # refused by the general path: the fast path must not write it either
        return None
    expected = [encode_item(envelope) for envelope in envelopes]
    for item, envelope in zip(expected, envelopes):
        assert item == json.dumps(envelope, ensure_ascii=True, separators=(",", ":"), default=str).encode()
    return expected


def assert_same(span: ReadableSpan, request: Optional[RequestContext], role: Any, ikey: str = IKEY) -> Optional[bytes]:
    expected = general(span, request, role, ikey)
    item = span_item(span, ikey, lambda span_id: request, role)
    if item is not None:
        assert expected is not None and [item] == expected
    return item


# ---------------------------------------------------------------------------------------------
# Random spans of each common shape
# ---------------------------------------------------------------------------------------------

TEXT = st.one_of(
    st.text(max_size=10),
    st.text(alphabet=st.sampled_from(list('aé"\\\n\x00\x7f\u2028😀東-/:?.')), max_size=10),
    st.sampled_from(["GET", "POST", "/", "/items/{id}", "http://h:80/p?q=1", "https://h:443/", "sqlite",
                     "postgresql", "AlwaysOn x", "bot", "127.0.0.1", "SELECT 1", ""]),
)
NUMBERS = st.one_of(
    st.sampled_from([0, 1, 80, 443, 200, 404, 500, 5432, 0.0, -0.0, 1.0, 100.0, 200.0, float("nan"), True, False]),
    st.integers(), st.floats(),
)
VALUES = st.one_of(TEXT, NUMBERS, st.lists(TEXT, max_size=2).map(tuple), st.lists(NUMBERS, max_size=2).map(tuple))

SERVER_KEYS = [
    "http.method", "http.request.method", "http.server_name", "http.scheme", "url.scheme", "net.host.name",
    "http.host", "net.host.port", "http.target", "url.path", "url.query", "url.full", "http.url", "server.address",
    "server.port", "net.peer.ip", "http.user_agent", "user_agent.original", "http.flavor", "http.route",
    "client.address", "http.client_ip", "http.status_code", "http.response.status_code",
]
CLIENT_KEYS = [
    "http.method", "http.request.method", "http.url", "url.full", "http.scheme", "http.host", "http.target",
    "net.peer.name", "net.peer.ip", "net.peer.port", "peer.service", "server.address", "server.port",
    "http.status_code", "http.response.status_code", "user_agent.original", "url.scheme",
]
DB_KEYS = [
    "db.system", "db.system.name", "db.statement", "db.query.text", "db.operation", "db.operation.name",
    "db.name", "db.namespace", "net.peer.name", "net.peer.ip", "net.peer.port", "server.address",
    "server.port", "peer.service",
]
SHARED_KEYS = [
    "_MS.sampleRate", "enduser.id", "enduser.pseudo.id", "session.id", "user_agent.synthetic.type",
    "custom", "é", "thread.id", "code.function", "x" * 151, "gen_ai.system", "az.namespace",
    "microsoft.custom_measurements", "celery.state", "ai.cloud.role", "ai_core.app_role",
]
SHAPES = {
    SpanKind.SERVER: (SERVER_KEYS, {"http.method": "GET"}),
    SpanKind.CLIENT: (CLIENT_KEYS, {"http.method": "GET", "http.url": "http://h:8080/p"}),
    None: (DB_KEYS, {"db.system": "sqlite", "db.statement": "SELECT 1"}),
}
SCOPES = ["opentelemetry.instrumentation.wsgi", "opentelemetry.instrumentation.requests",
          "opentelemetry.instrumentation.sqlite3", "app", None]


@st.composite
def shaped_spans(draw: Any) -> ReadableSpan:
    shape = draw(st.sampled_from(list(SHAPES)))
    keys, base = SHAPES[shape]
    attrs = dict(base) if draw(st.integers(0, 4)) else {}
    attrs.update(draw(st.dictionaries(st.sampled_from(keys), st.one_of(TEXT, NUMBERS), max_size=8)))
    attrs.update(draw(st.dictionaries(st.sampled_from(SHARED_KEYS + keys), VALUES, max_size=2)))
    if draw(st.booleans()):
        attrs["_MS.sampleRate"] = draw(st.sampled_from([100.0, 25.0, 100, 1e-05, float("nan"), float("inf"), True]))
    trace_id = draw(st.sampled_from([1, 2**100 + 5, 2**128 - 1]))
    context = SpanContext(trace_id, draw(st.integers(1, 2**64 - 1)), False, TraceFlags(TraceFlags.SAMPLED))
    parent = SpanContext(trace_id, draw(st.integers(0, 2**64 - 1)), False) if draw(st.booleans()) else None
    start = draw(st.sampled_from([0, 1, 1_765_000_000_123_456_789, 1_765_000_000_000_000_000]))
    scope = draw(st.sampled_from(SCOPES))
    return ReadableSpan(
        name=draw(st.one_of(TEXT, st.sampled_from([1, 1.0, ("a",)]))),
        context=context,
        parent=parent,
        resource=draw(st.sampled_from(RESOURCES)),
        attributes=attrs,
        kind=shape if shape is not None else SpanKind.CLIENT,
        status=Status(draw(st.sampled_from(list(StatusCode)))),
        start_time=start,
        end_time=start + draw(st.sampled_from([0, 1, 499_999, 500_000, 1_234_567_890, 10**14])) if start else None,
        instrumentation_scope=InstrumentationScope(scope) if scope else None,
    )


REQUESTS = st.one_of(st.none(), st.builds(
    RequestContext,
    operation_name=st.one_of(st.none(), TEXT),
    client_ip=st.one_of(st.none(), TEXT),
    auth_user_id=st.one_of(st.none(), TEXT),
    user_id=st.one_of(st.none(), TEXT),
    role_name=st.one_of(st.none(), st.sampled_from(["web-app", "shop-api", "é"])),
))


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shaped_spans(), REQUESTS, st.sampled_from([None, ROLE]), st.sampled_from([IKEY, 'k"é']))
def test_random_spans_of_the_common_shapes_give_the_general_bytes(
    span: ReadableSpan, request: Optional[RequestContext], role: Any, ikey: str
) -> None:
    assert_same(span, request, role, ikey)
    assert_same(span, request, role, ikey)  # the second time from the cache


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(shaped_spans(), min_size=2, max_size=6), REQUESTS.filter(lambda r: r is not None),
       st.sampled_from([None, ROLE]))
def test_the_dependencies_of_one_request_one_after_the_other_give_the_general_bytes(
    spans: List[ReadableSpan], request: RequestContext, role: Any
) -> None:
    """The request's tags are written once for consecutive dependencies of one request (other
    names, other parents, tags of their own): each one's bytes are still the general path's."""
    for item in spans:
        assert_same(item, request, role)


def test_a_running_request_s_new_name_reaches_its_next_dependency() -> None:
    """While the request runs its tags are read from its span, which the app may still rename."""

    class Renamed:  # a live server span, as far as the request context reads it
        name = "GET /before"
        attributes: dict = {}

    live = Renamed()
    request = RequestContext(live, name_from_span=lambda s: s.name)
    assert request.live
    first = assert_same(span(SpanKind.CLIENT, SQL, name="SELECT"), request, None)
    live.name = "GET /orders/{id}"
    second = assert_same(span(SpanKind.CLIENT, SQL, name="SELECT"), request, None)
    assert first is not None and second is not None
    assert json.loads(second)["tags"]["ai.operation.name"] == "GET /orders/{id}"


# ---------------------------------------------------------------------------------------------
# The path is taken, and the cache never mixes up equal values of different types
# ---------------------------------------------------------------------------------------------

def span(kind: SpanKind, attrs: dict, name: Any = "GET", scope: str = "opentelemetry.instrumentation.wsgi",
         parent: bool = True) -> ReadableSpan:
    return ReadableSpan(
        name=name,
        context=SpanContext(2**100 + 5, 77, False, TraceFlags(TraceFlags.SAMPLED)),
        parent=SpanContext(2**100 + 5, 66, False) if parent else None,
        resource=RESOURCES[1],
        attributes=attrs,
        kind=kind,
        status=Status(StatusCode.UNSET),
        start_time=1_765_000_000_123_456_789,
        end_time=1_765_000_000_223_456_789,
        instrumentation_scope=InstrumentationScope(scope),
    )


SERVER = {
    "http.method": "GET", "http.server_name": "localhost", "http.scheme": "http", "net.host.name": "localhost",
    "http.host": "localhost", "net.host.port": 80, "http.target": "/realistic", "net.peer.ip": "127.0.0.1",
    "http.user_agent": "Werkzeug/3.1.9", "http.flavor": "1.1", "_MS.sampleRate": 100.0, "http.route": "/realistic",
    "client.address": "127.0.0.1", "http.status_code": 200,
}
HTTP_CLIENT = {"http.method": "GET", "http.url": "http://127.0.0.1:39013/ping", "_MS.sampleRate": 100.0,
               "http.status_code": 200}
SQL = {"_MS.sampleRate": 100.0, "db.system": "sqlite", "db.statement": "SELECT 1"}
ENDED_REQUEST = RequestContext(operation_name="GET /realistic", client_ip="10.0.0.1", auth_user_id="ü",
                               user_id="u")


def test_the_common_shapes_take_the_direct_path() -> None:
    """Otherwise the comparisons above would compare the general path with itself."""
    cases = [
        (span(SpanKind.SERVER, SERVER), None),
        (span(SpanKind.CLIENT, HTTP_CLIENT, scope="opentelemetry.instrumentation.urllib"), ENDED_REQUEST),
        (span(SpanKind.CLIENT, SQL, name="SELECT", scope="opentelemetry.instrumentation.sqlite3"), ENDED_REQUEST),
        (span(SpanKind.CLIENT, SQL, name="SELECT", scope="opentelemetry.instrumentation.sqlite3"), None),
    ]
    for role in (None, ROLE):
        for item, request in cases:
            assert assert_same(item, request, role) is not None


def test_an_app_role_replaces_the_process_role_in_place() -> None:
    request = RequestContext(operation_name="GET /", client_ip="10.0.0.1", role_name="web-app")
    item = assert_same(span(SpanKind.CLIENT, SQL, name="SELECT"), request, ROLE)
    assert item is not None
    tags = json.loads(item)["tags"]
    assert tags["ai.cloud.role"] == "web-app"
    assert list(tags).index("ai.cloud.role") < list(tags).index("ai.operation.id")


def test_equal_values_of_other_types_are_not_taken_from_the_cache() -> None:
    for values in ([200, 200.0, True], [0.0, -0.0, 0, False], [1, True, 1.0]):
        for value in values + values:
            attrs = dict(HTTP_CLIENT, **{"http.status_code": value, "custom": value, "net.peer.port": value})
            assert_same(span(SpanKind.CLIENT, attrs), ENDED_REQUEST, ROLE)
            assert_same(span(SpanKind.SERVER, dict(SERVER, **{"http.status_code": value, "x": value})), None, ROLE)
    for name in ("1", 1, 1.0, True):
        assert_same(span(SpanKind.CLIENT, SQL, name=name), None, ROLE)


def test_the_cache_is_bounded() -> None:
    for index in range(span_bytes._ENTRIES_MAX + 10):
        assert_same(span(SpanKind.CLIENT, dict(SQL, **{"db.statement": "SELECT %d" % index})), None, None)
    assert len(span_bytes._ENTRIES) <= span_bytes._ENTRIES_MAX


class Keep(SpanExporter):
    def __init__(self) -> None:
        self.spans: List[ReadableSpan] = []

    def export(self, spans: Any) -> SpanExportResult:
        self.spans.extend(spans)
        return SpanExportResult.SUCCESS


def test_sdk_spans_with_and_without_events() -> None:
    """Spans from the SDK (their events and links in a BoundedList): a span with an event takes
    the general path (its Message item), one without takes the direct one."""
    keep = Keep()
    provider = TracerProvider(resource=RESOURCES[1])
    provider.add_span_processor(SimpleSpanProcessor(keep))
    tracer = provider.get_tracer("opentelemetry.instrumentation.sqlite3")
    with tracer.start_as_current_span("GET /", kind=SpanKind.SERVER, attributes=SERVER):
        with tracer.start_as_current_span("SELECT", kind=SpanKind.CLIENT, attributes=SQL):
            pass
        with tracer.start_as_current_span("SELECT", kind=SpanKind.CLIENT, attributes=SQL) as with_event:
            with_event.add_event("retry")
    taken = [assert_same(item, ENDED_REQUEST, ROLE) is not None for item in keep.spans]
    assert taken == [True, False, True]
