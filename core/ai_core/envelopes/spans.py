"""OpenTelemetry spans -> Application Insights envelopes (Request, RemoteDependency, and the
Exception/Message envelopes of span events), plus the ``_OTELRESOURCE_`` metric envelope.

The mapping follows the official exporter as measured (tests/support/golden); the deliberate
differences are those of the README's "Deliberate differences":

* items 1 and 3: given a ``request_lookup``, dependencies and span events recorded inside a
  request carry that request's operation name, client IP and user tags;
* item 5: a request answered with a 5xx code is never successful;
* item 6: no ``host:None`` targets, no default ports or empty ``?`` in rebuilt request URLs,
  the RPC system as the RPC dependency type, ``messaging.destination.name`` honoured, and no
  ``"stack": "None"`` for exceptions recorded without a stack trace.

Field-level rules live in :mod:`ai_core.envelopes.span_fields`; this module assembles them.
Envelopes are plain dicts in wire order, built with :func:`common.new_envelope` (the span's own
envelope with ``_envelope``, the same with its name prebuilt). This runs once per exported span
on the export thread, so the common path calls few functions (benchmarks/README.md,
"Conversion").
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util import BoundedList
from opentelemetry.trace import SpanKind, StatusCode

from ai_core.envelopes.common import (
    ENVELOPE_PREFIX,
    MAX_DATA,
    MAX_MESSAGE,
    MAX_NAME,
    MAX_URL,
    custom_measurements,
    format_duration,
    named_envelope,
    new_envelope,
    resource_tags,
)
from ai_core.envelopes.span_fields import (
    azure_sdk_target,
    client_ip,
    custom_properties,
    db_dependency_target,
    db_dependency_type,
    db_statement,
    http_dependency_target,
    http_dependency_url,
    http_request_name,
    http_request_url,
    links_property,
    messaging_dependency_target,
    messaging_request_source,
    operation_name_from_url,
    peer_target,
    status_code,
    time_since_enqueued,
    user_agent,
)
from ai_core.privacy import safe_url
from ai_core.span_attributes import attribute_dict, span_attributes
from ai_core.request_attributes import APP_ROLE, AUTH_USER_ID, TAG_AUTH_USER_ID, TAG_ROLE, TAG_USER_ID, USER_ID
from ai_core.request_context import RequestContext, RequestLookup
from ai_core.role import Role

__all__ = ["span_to_envelopes", "request_operation_name", "otel_resource_envelope"]

_SERVER = SpanKind.SERVER
_CONSUMER = SpanKind.CONSUMER
# The contrib Celery instrumentation writes the task's state on its run span.
_TASK_STATE = "celery.state"
_FAILED_TASK_STATES = frozenset({"FAILURE", "RETRY", "REVOKED", "REJECTED"})
_CLIENT = SpanKind.CLIENT
_PRODUCER = SpanKind.PRODUCER
_ERROR = StatusCode.ERROR
_REQUEST = ENVELOPE_PREFIX + "Request"
_DEPENDENCY = ENVELOPE_PREFIX + "RemoteDependency"

# Scopes whose spans also feed the standard request/dependency metrics; the portal uses the
# marker to avoid counting them twice.
_METRIC_EXTRACTOR_SCOPES = frozenset(
    "opentelemetry.instrumentation." + name
    for name in (
        "asgi", "django", "falcon", "fastapi", "flask", "pyramid", "requests", "starlette",
        "urllib3", "httpx", "wsgi",
    )
)


# The last trace id converted and its text: a request's spans share it (one tuple, replaced
# whole, so the trace and log export threads may both use it).
_LAST_TRACE: Any = (None, "")


# ``ReadableSpan.events`` and ``.links`` copy the SDK's ``BoundedList`` into a new tuple through
# its locked, Python-level ``__iter__`` on every access, although almost every span has none.
# An ended span's lists no longer change, so for an SDK span we read the deque behind them
# (any other ReadableSpan takes the public way).

def _span_events(span: ReadableSpan) -> Sequence[Event]:
    """The span's events, to iterate once."""
    raw = getattr(span, "_events", None)
    if raw.__class__ is BoundedList:
        return raw._dq  # noqa: SLF001 (read-only use of the SDK's storage)
    return span.events


def _span_links(span: ReadableSpan) -> Sequence[Any]:
    raw = getattr(span, "_links", None)
    if raw.__class__ is BoundedList:
        items = raw._dq  # noqa: SLF001
        return tuple(items) if items else ()
    return span.links


def _has_http_method(attrs: Mapping[str, Any]) -> bool:
    return "http.request.method" in attrs or "http.method" in attrs


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------

def span_to_envelopes(
    span: ReadableSpan, ikey: str, request_lookup: Optional[RequestLookup] = None, role: Optional[Role] = None
) -> List[Dict[str, Any]]:
    """The span's Request or RemoteDependency envelope, then one envelope per span event.

    ``request_lookup(span_id)`` gives the context of the request this span belongs to (if
    the request is served by this process); dependency and event envelopes then carry the
    request's operation name, client IP, user and app role. Without it the output is the
    official one. ``role``: the process's role (:mod:`ai_core.role`); None takes it from the
    span's resource, as the official exporter does.
    """
    global _LAST_TRACE
    attrs = span_attributes(span)
    context = span.context
    trace_id = context.trace_id
    last = _LAST_TRACE
    if last[0] == trace_id:  # a request's spans share their trace, and mostly arrive together
        operation_id = last[1]
    else:
        operation_id = "%032x" % trace_id
        _LAST_TRACE = (trace_id, operation_id)
    span_id = "%016x" % context.span_id

    tags = resource_tags(span.resource, role)
    tags["ai.operation.id"] = operation_id
    parent = span.parent
    if parent is not None and parent.span_id:
        tags["ai.operation.parentId"] = "%016x" % parent.span_id
    if attrs:  # the user, session and synthetic tags (in this order)
        sample_rate = attrs.get("_MS.sampleRate")
        user = attrs.get(AUTH_USER_ID)
        if user is not None:
            tags[TAG_AUTH_USER_ID] = str(user)
        user = attrs.get(USER_ID)
        if user is not None:
            tags[TAG_USER_ID] = str(user)
        session = attrs.get("session.id")
        if session.__class__ is str:
            tags["ai.session.id"] = session
        # common.synthetic_source(), inline
        if attrs.get("user_agent.synthetic.type") in _SYNTHETIC_TYPES:
            tags["ai.operation.syntheticSource"] = "True"
        else:
            agent = attrs.get("user_agent.original") or attrs.get("http.user_agent")
            if agent and "AlwaysOn" in str(agent):
                tags["ai.operation.syntheticSource"] = "True"
    else:
        sample_rate = None
    kind = span.kind
    if kind is _SERVER or kind is _CONSUMER:
        app_role = attrs.get(APP_ROLE) if attrs else None
        if app_role:  # served by an app with a role of its own (ai_core.web)
            tags[TAG_ROLE] = app_role if app_role.__class__ is str else str(app_role)
        envelope = _request_envelope(span, attrs, ikey, tags, span_id, sample_rate)
        request = None
    else:
        envelope = _dependency_envelope(span, attrs, ikey, tags, span_id, sample_rate)
        request = request_lookup(context.span_id) if request_lookup is not None else None
        if request is not None:
            # README, "Deliberate differences" 1 and 3: grouped under its request (the request's name replaces the
            # dependency's own: that is the point), showing the request's client and user.
            request.fill_tags(tags, replace_name=True)
    envelopes = [envelope]

    events = _span_events(span)
    if events:
        if request is None and request_lookup is not None:
            request = request_lookup(context.span_id)
        session = attrs.get("session.id")
        for event in events:
            envelopes.append(
                _event_envelope(
                    event, span.resource, ikey, operation_id, span_id, session, sample_rate, request, role
                )
            )
    return envelopes


def request_operation_name(span: ReadableSpan) -> Optional[str]:
    """The ``ai.operation.name`` the span's Request envelope gets (``"GET /items/{id}"``).

    Safe on a span that is still running: children converted before the request ends can be
    given the name their request will have.
    """
    attrs = span_attributes(span)
    name = span.name
    if "az.namespace" in attrs or not _has_http_method(attrs):
        return name
    if "http.route" in attrs:  # no need to rebuild the URL
        return http_request_name(attrs, "", name)
    return http_request_name(attrs, http_request_url(attrs), name)


def otel_resource_envelope(
    resource: Optional[Resource], ikey: str, time_ns: int, application_id: Optional[str] = None,
    role: Optional[Role] = None,
) -> Dict[str, Any]:
    """The ``_OTELRESOURCE_`` MetricData envelope that describes the process's resource.

    Sent ahead of each span batch, as the official exporter does, so that resource attributes
    are queryable without repeating them on every item.
    """
    properties: Dict[str, Any] = dict(resource.attributes) if resource is not None else {}
    if application_id:
        properties["microsoft.applicationId"] = application_id
    base_data = {
        "ver": 2,
        "metrics": [{"name": "_OTELRESOURCE_", "value": 0}],
        "properties": properties,
    }
    return new_envelope("Metric", ikey, resource_tags(resource, role), time_ns, "MetricData", base_data)


# ---------------------------------------------------------------------------------------------
# Tags
# ---------------------------------------------------------------------------------------------

_SYNTHETIC_TYPES = ("bot", "test")


# ---------------------------------------------------------------------------------------------
# Envelopes
# ---------------------------------------------------------------------------------------------

def _properties_and_measurements(span: ReadableSpan, attrs: Mapping[str, Any]) -> tuple:
    properties = custom_properties(attrs) if attrs else {}
    scope = span.instrumentation_scope
    if scope is not None and scope.name in _METRIC_EXTRACTOR_SCOPES:
        properties["_MS.ProcessedByMetricExtractors"] = "True"
    raw = getattr(span, "_links", None)  # _span_links(), inline: most spans have none
    links = raw._dq if raw.__class__ is BoundedList else span.links  # noqa: SLF001
    if links:
        properties["_MS.links"] = links_property(tuple(links))
    raw = attrs.get("microsoft.custom_measurements")
    measurements = custom_measurements(raw) if raw is not None else {}
    return properties, measurements


def _request_envelope(
    span: ReadableSpan,
    attrs: Mapping[str, Any],
    ikey: str,
    tags: Dict[str, str],
    span_id: str,
    sample_rate: Any,
) -> Dict[str, Any]:
    """SERVER and CONSUMER spans: an incoming HTTP request, message or call."""
    properties, measurements = _properties_and_measurements(span, attrs)
    name = span.name
    status = span.status
    success = status is None or status.status_code is not _ERROR
    response_code = "0"
    url = source = agent = None
    if "az.namespace" in attrs:
        source = azure_sdk_target(attrs)
        links = _span_links(span)
        if links:
            enqueued = time_since_enqueued(span.start_time, links)
            measurements = {"timeSinceEnqueued": enqueued, **measurements}
    elif "http.request.method" in attrs or "http.method" in attrs:
        url = safe_url(http_request_url(attrs))
        name = http_request_name(attrs, url, name)
        code = status_code(attrs)
        response_code = str(code)
        # Official: 4xx fails, 5xx with an UNSET status succeeds. README, "Deliberate differences" 5: 5xx fails too.
        success = success and code != 0 and not 400 <= code < 600
        agent = user_agent(attrs)
    elif "messaging.system" in attrs:
        source = messaging_request_source(attrs)
    if _TASK_STATE in attrs:  # a Celery task's run (README, "Celery"): its state is the result code
        response_code = str(attrs[_TASK_STATE])
        success = success and response_code not in _FAILED_TASK_STATES

    tags["ai.operation.name"] = name
    if attrs:
        ip = client_ip(attrs)
        if ip:
            tags["ai.location.ip"] = ip
    if agent:
        tags["ai.user.userAgent"] = agent
    start, end = span.start_time, span.end_time
    base_data: Dict[str, Any] = {
        "ver": 2,
        "name": name[:MAX_NAME],
        "id": span_id,
        "duration": format_duration(end - start if start and end else 0),
        "responseCode": response_code[:MAX_NAME],
        "success": success,
        "properties": properties,
        "measurements": measurements,
    }
    if url:
        base_data["url"] = url[:MAX_URL]
    if source:
        base_data["source"] = source[:MAX_NAME]
    return named_envelope(_REQUEST, ikey, tags, start, "RequestData", base_data, sample_rate)


def _client_fields(span: ReadableSpan, attrs: Mapping[str, Any]) -> tuple:
    """(type, target, data, name, resultCode, userAgent) of a CLIENT span, by what it called."""
    name = span.name
    if "az.namespace" in attrs:
        return str(attrs["az.namespace"]), azure_sdk_target(attrs), None, name, "0", None
    if _has_http_method(attrs):
        url = safe_url(http_dependency_url(attrs))
        method = attrs.get("http.request.method") or attrs.get("http.method")
        name = operation_name_from_url(method, url) or name
        target = http_dependency_target(attrs, url)
        return "HTTP", target, url, name, str(status_code(attrs)), user_agent(attrs)
    if "db.system.name" in attrs or "db.system" in attrs:
        system = attrs.get("db.system.name") or attrs.get("db.system")
        return (
            db_dependency_type(system), db_dependency_target(attrs, system),
            db_statement(attrs), name, "0", None,
        )
    if "messaging.system" in attrs:
        system = str(attrs["messaging.system"])
        return system, messaging_dependency_target(attrs), None, name, "0", None
    if "rpc.system" in attrs:
        # README, "Deliberate differences" 6: the RPC system ("grpc"), not the official literal "rpc.system".
        system = str(attrs["rpc.system"])
        return system, peer_target(attrs) or system, None, name, "0", None
    return "N/A", peer_target(attrs), None, name, "0", None


def _dependency_envelope(
    span: ReadableSpan,
    attrs: Mapping[str, Any],
    ikey: str,
    tags: Dict[str, str],
    span_id: str,
    sample_rate: Any,
) -> Dict[str, Any]:
    """CLIENT, PRODUCER and INTERNAL spans: an outgoing call, a sent message, in-process work."""
    properties, measurements = _properties_and_measurements(span, attrs)
    kind = span.kind
    data = agent = None
    name = span.name
    result_code = "0"
    if kind is _CLIENT:
        dep_type, target, data, name, result_code, agent = _client_fields(span, attrs)
    elif kind is _PRODUCER:
        if "az.namespace" in attrs:
            dep_type = "Queue Message | %s" % attrs["az.namespace"]
            target = azure_sdk_target(attrs)
        else:
            system = attrs.get("messaging.system")
            dep_type = "Queue Message | %s" % system if system else "Queue Message"
            target = messaging_dependency_target(attrs)
    else:
        namespace = attrs.get("az.namespace")
        dep_type = "InProc | %s" % namespace if namespace is not None else "InProc"
        target = peer_target(attrs) if attrs else ""
    # GenAI work is shown as such whatever transport carried it (not on PRODUCER spans, as
    # officially). Its target comes from the address rules above; only a CLIENT call they give
    # no target is named after the GenAI system. In-process GenAI steps (INTERNAL) have none.
    gen_ai = attrs.get("gen_ai.system") if kind is not _PRODUCER else None
    if gen_ai is not None:
        dep_type = "GenAI | %s" % gen_ai
        if kind is _CLIENT and not target:
            target = str(gen_ai)

    tags["ai.operation.name"] = name
    if agent:
        tags["ai.user.userAgent"] = agent
    start, end = span.start_time, span.end_time
    status = span.status
    base_data: Dict[str, Any] = {
        "ver": 2,
        "name": name[:MAX_NAME],
        "id": span_id,
        "resultCode": result_code[:MAX_NAME],
        "duration": format_duration(end - start if start and end else 0),
        "success": status is None or status.status_code is not _ERROR,
        "properties": properties,
        "measurements": measurements,
        "type": dep_type[:MAX_NAME],
    }
    if data:
        base_data["data"] = str(data)[:MAX_DATA]
    if target:
        base_data["target"] = target[:MAX_NAME]
    return named_envelope(_DEPENDENCY, ikey, tags, start, "RemoteDependencyData", base_data, sample_rate)


def _event_envelope(
    event: Event,
    resource: Optional[Resource],
    ikey: str,
    operation_id: str,
    span_id: str,
    span_session: Any,
    sample_rate: Any,
    request: Optional[RequestContext],
    role: Optional[Role] = None,
) -> Dict[str, Any]:
    """A span event: ``exception`` events become Exception items, others Message items."""
    attrs = attribute_dict(event.attributes)
    tags = resource_tags(resource, role)
    tags["ai.operation.id"] = operation_id
    tags["ai.operation.parentId"] = span_id  # the event belongs to the span itself
    session = attrs.get("session.id")
    if session.__class__ is not str:
        session = span_session
    if session.__class__ is str:
        tags["ai.session.id"] = session
    if request is not None:
        request.fill_tags(tags, replace_name=True)

    properties = custom_properties(attrs) if attrs else {}
    raw = attrs.get("microsoft.custom_measurements")
    measurements = custom_measurements(raw) if raw is not None else {}
    if event.name == "exception":
        base_data: Dict[str, Any] = {
            "ver": 2,
            "properties": properties,
            "measurements": measurements,
            "exceptions": [_exception_details(attrs)],
        }
        return new_envelope(
            "Exception", ikey, tags, event.timestamp, "ExceptionData", base_data, sample_rate
        )
    base_data = {
        "ver": 2,
        "message": str(event.name)[:MAX_MESSAGE],
        "properties": properties,
        "measurements": measurements,
    }
    return new_envelope(
        "Message", ikey, tags, event.timestamp, "MessageData", base_data, sample_rate
    )


def _exception_details(attrs: Mapping[str, Any]) -> Dict[str, Any]:
    """One ``exceptions[]`` entry from the ``exception.*`` event attributes.

    README, "Deliberate differences" 6: without a stack trace there is no ``stack`` (the official one sends the
    string ``"None"``, which the portal shows as if it were the stack).
    """
    stack = attrs.get("exception.stacktrace")
    details: Dict[str, Any] = {
        "typeName": str(attrs.get("exception.type") or "Exception")[:MAX_NAME],
        "message": str(attrs.get("exception.message") or "Exception")[:MAX_MESSAGE],
        "hasFullStack": stack is not None,
    }
    if stack is not None:
        details["stack"] = str(stack)[:MAX_MESSAGE]
    return details
