"""OpenTelemetry log records -> Application Insights envelopes.

One log record becomes one Exception, Event, Availability or Message envelope, by the same
rules the official exporter applies (as measured; tests/support/golden), with three deliberate
improvements (README, "Deliberate differences"):

* item 2: a record outside any trace context carries no ``ai.operation.id``/``parentId`` tags
  (the official exporter sends 32 and 16 zeros, which groups unrelated logs into one
  "operation");
* items 1 and 3: given a ``request_lookup``, a record inside a request gets that request's
  operation name, client IP and user tags, unless the record sets them itself;
* item 6: an exception without a stack trace omits ``stack`` instead of sending ``"None"``.
"""

from __future__ import annotations

import json
from typing import Any, Dict, Mapping, Optional

from opentelemetry.sdk._logs import ReadableLogRecord

from ai_core.envelopes.common import (
    MAX_MESSAGE,
    MAX_NAME,
    MAX_PROPERTY_KEY,
    MAX_PROPERTY_VALUE,
    custom_measurements,
    new_envelope,
    resource_tags,
    synthetic_source,
)
from ai_core.request_context import RequestLookup
from ai_core.span_attributes import attribute_dict
from ai_core.role import Role
from ai_core.request_attributes import (
    AUTH_USER_ID,
    TAG_AUTH_USER_ID,
    TAG_CLIENT_IP,
    TAG_OPERATION_NAME,
    TAG_USER_ID,
    USER_ID,
    client_ip_of,
)

__all__ = ["log_to_envelope", "severity_level", "body_to_message", "trace_sampled"]

# Attributes that feed envelope fields rather than customDimensions. Unlike spans, logs keep
# http.*, client.address and ai.operation.name as properties: the official exporter does.
_EXCEPTION_TYPE = "exception.type"
_EXCEPTION_MESSAGE = "exception.message"
_EXCEPTION_STACKTRACE = "exception.stacktrace"
_CUSTOM_EVENT_NAME = "microsoft.custom_event.name"
_EVENT_MARKER = "APPLICATION_INSIGHTS_EVENT_MARKER_ATTRIBUTE"
_CUSTOM_MEASUREMENTS = "microsoft.custom_measurements"
_AVAILABILITY_PREFIX = "microsoft.availability."
_AVAILABILITY_ID = _AVAILABILITY_PREFIX + "id"
_AVAILABILITY_NAME = _AVAILABILITY_PREFIX + "name"
_AVAILABILITY_DURATION = _AVAILABILITY_PREFIX + "duration"
_AVAILABILITY_SUCCESS = _AVAILABILITY_PREFIX + "success"
_AVAILABILITY_RUN_LOCATION = _AVAILABILITY_PREFIX + "runLocation"
_AVAILABILITY_MESSAGE = _AVAILABILITY_PREFIX + "message"
_AVAILABILITY_REQUIRED = (_AVAILABILITY_ID, _AVAILABILITY_NAME, _AVAILABILITY_DURATION, _AVAILABILITY_SUCCESS)
# The logger ``ai_core.track_event`` emits on: ours, not the user's, so its name is not worth a
# ``logger_name`` property on every custom event.
TRACK_EVENT_LOGGER = "ai_core.events"

_NOT_PROPERTIES = frozenset(
    {
        _EXCEPTION_TYPE,
        _EXCEPTION_MESSAGE,
        _EXCEPTION_STACKTRACE,
        "exception.escaped",
        _EVENT_MARKER,
        _CUSTOM_EVENT_NAME,
        _CUSTOM_MEASUREMENTS,
        AUTH_USER_ID,
        USER_ID,
        "session.id",
    }
)

_ATTRIBUTE_TAGS = (
    (AUTH_USER_ID, TAG_AUTH_USER_ID),
    (USER_ID, TAG_USER_ID),
    (TAG_OPERATION_NAME, TAG_OPERATION_NAME),
)
_MAX_EXCEPTION_TYPE = MAX_NAME


# ---------------------------------------------------------------------------------------------
# Field helpers
# ---------------------------------------------------------------------------------------------

def severity_level(severity_number: Any) -> int:
    """Application Insights severity (0 verbose .. 4 critical) from an OTel SeverityNumber.

    OTel numbers come in blocks of four (9-12 INFO, 13-16 WARN, ...); anything below INFO,
    including no severity at all, is verbose.
    """
    if severity_number is None:
        return 0
    n = getattr(severity_number, "value", severity_number)
    if n < 9:
        return 0
    return int((n - 1) / 4 - 1)


def body_to_message(body: Any) -> str:
    """The record body as message text: str as is (truncated), exceptions by ``str()``,
    anything else as JSON (``str()`` when it does not serialise); a falsy body is ``""``."""
    if not body:
        return ""
    if body.__class__ is str:
        return body[:MAX_MESSAGE]
    if isinstance(body, str):
        return str(body)[:MAX_MESSAGE]
    if isinstance(body, BaseException):
        return str(body)
    try:
        return json.dumps(body)
    except Exception:  # bytes, sets, arbitrary objects: the official exporter falls back too
        return str(body)


def _log_properties(attributes: Optional[Mapping[str, Any]], logger_name: Optional[str]) -> Dict[str, str]:
    """customDimensions: every attribute but the ones with their own envelope field, then
    ``logger_name`` (the instrumentation scope, i.e. the Python logger) unless already set."""
    props: Dict[str, str] = {}
    if attributes:
        for key, value in attributes.items():
            if value is None or len(key) > MAX_PROPERTY_KEY or key in _NOT_PROPERTIES:
                continue
            if key.startswith(_AVAILABILITY_PREFIX):
                continue
            props[key] = value[:MAX_PROPERTY_VALUE] if value.__class__ is str else str(value)[:MAX_PROPERTY_VALUE]
    if logger_name is not None and "logger_name" not in props:
        props["logger_name"] = logger_name
    return props


def _log_tags(
    record: Any,
    resource: Any,
    attributes: Mapping[str, Any],
    request_lookup: Optional[RequestLookup],
    role: Optional[Role] = None,
) -> Dict[str, Any]:
    """Part-A tags, trace correlation, and the user/session/location tags the record carries."""
    tags = resource_tags(resource, role)
    # Deliberate improvement 2: outside a trace (id 0 or None) there is no operation id at
    # all, rather than the official all-zero one that joins unrelated logs into one operation.
    trace_id = record.trace_id
    if trace_id:
        tags["ai.operation.id"] = "%032x" % trace_id
        span_id = record.span_id
        if span_id:
            tags["ai.operation.parentId"] = "%016x" % span_id

    if attributes:
        # Tag values must be strings (the service and our emulator reject others), so an
        # int user id from ``extra=`` is sent as "42"; strings go through untouched.
        for key, tag in _ATTRIBUTE_TAGS:
            value = attributes.get(key)
            if value is not None:
                tags[tag] = value if value.__class__ is str else str(value)
        value = attributes.get("session.id")
        if value.__class__ is str:
            tags["ai.session.id"] = value
        if synthetic_source(attributes):
            tags["ai.operation.syntheticSource"] = "True"
        ip = client_ip_of(attributes)
        if ip:
            tags[TAG_CLIENT_IP] = ip

    if request_lookup is not None and trace_id:
        # Deliberate improvements 1 and 3: the enclosing request's operation name, client IP
        # and user, so the log shows up under the right operation and user. The record's own win.
        request = request_lookup(record.span_id)
        if request is not None:
            request.fill_tags(tags, replace_name=False)
    return tags


# ---------------------------------------------------------------------------------------------
# One builder per envelope type
# ---------------------------------------------------------------------------------------------

def _exception_data(
    attributes: Mapping[str, Any], message: str, severity: int, props: Dict[str, str], measurements: Dict[str, float]
) -> Dict[str, Any]:
    """ExceptionData: the log text wins over the exception's own message (so
    ``logger.exception("calculation failed")`` reads as written)."""
    exc_type = attributes.get(_EXCEPTION_TYPE)
    exc_message = attributes.get(_EXCEPTION_MESSAGE)
    stack = attributes.get(_EXCEPTION_STACKTRACE)
    details: Dict[str, Any] = {
        "typeName": str(exc_type or "Exception")[:_MAX_EXCEPTION_TYPE],
        "message": str(message or exc_message or "Exception")[:MAX_MESSAGE],
        "hasFullStack": stack is not None,
    }
    if stack is not None:  # deliberate improvement 6: no "stack": "None"
        details["stack"] = str(stack)[:MAX_MESSAGE]
    return {
        "ver": 2,
        "severityLevel": severity,
        "properties": props,
        "measurements": measurements,
        "exceptions": [details],
    }


def _event_data(
    attributes: Mapping[str, Any], message: str, props: Dict[str, str], measurements: Dict[str, float]
) -> Dict[str, Any]:
    """EventData: named by ``microsoft.custom_event.name``, else by the body; no severity."""
    name = attributes.get(_CUSTOM_EVENT_NAME)
    return {
        "ver": 2,
        "name": (str(name) if name is not None else "") or message,
        "properties": props,
        "measurements": measurements,
    }


def _availability_data(
    attributes: Mapping[str, Any], message: str, props: Dict[str, str], measurements: Dict[str, float]
) -> Dict[str, Any]:
    """AvailabilityData from the ``microsoft.availability.*`` attributes (duration as given)."""
    data: Dict[str, Any] = {
        "ver": 2,
        "id": attributes[_AVAILABILITY_ID],
        "name": attributes[_AVAILABILITY_NAME],
        "duration": attributes[_AVAILABILITY_DURATION],
        "success": str(attributes[_AVAILABILITY_SUCCESS]).lower() == "true",
    }
    run_location = attributes.get(_AVAILABILITY_RUN_LOCATION)
    if run_location is not None:
        data["runLocation"] = run_location
    data["message"] = attributes.get(_AVAILABILITY_MESSAGE) or message
    data["properties"] = props
    data["measurements"] = measurements
    return data


def _message_data(message: str, severity: int, props: Dict[str, str], measurements: Dict[str, float]) -> Dict[str, Any]:
    """MessageData: surrounding whitespace stripped; an empty message becomes ``"n/a"``."""
    return {
        "ver": 2,
        "message": message.strip() or "n/a",
        "severityLevel": severity,
        "properties": props,
        "measurements": measurements,
    }


def _is_availability(attributes: Mapping[str, Any]) -> bool:
    for key in _AVAILABILITY_REQUIRED:
        if attributes.get(key) is None:
            return False
    return True


def trace_sampled(log: Any) -> Optional[bool]:
    """Whether the trace a log record was written in was sampled; None outside any trace
    (or when the record carries no flags)."""
    flags = log.trace_flags
    if not (log.trace_id and log.span_id) or flags is None:
        return None
    return bool(int(flags) & 0x01)


def log_to_envelope(
    record: ReadableLogRecord,
    ikey: str,
    request_lookup: Optional[RequestLookup] = None,
    trace_sample_rate: Optional[float] = None,
    role: Optional[Role] = None,
) -> Optional[Dict[str, Any]]:
    """The envelope for one log record (never None today; the Optional leaves room to drop).

    Type decision, first match: exception attributes -> Exception; a custom event name or the
    event marker -> Event; all four availability attributes -> Availability; else Message.

    ``trace_sample_rate`` (percent, below 100) is the rate of the sampler that kept this
    record's trace: a record written inside a sampled trace stands for as many records as its
    spans do (README, "Deliberate differences"), so it carries the same ``sampleRate``.
    ``role``: the process's role (:mod:`ai_core.role`); None takes it from the resource.
    """
    log = record.log_record
    rate = trace_sample_rate if trace_sample_rate is not None and trace_sampled(log) else None
    # The plain dict behind the SDK's BoundedAttributes: its own ``get`` raises and catches a
    # KeyError for every absent key, and a dozen keys are looked up here, most of them absent.
    attributes = attribute_dict(log.attributes)
    scope = record.instrumentation_scope
    tags = _log_tags(log, record.resource, attributes, request_lookup, role)
    scope_name = scope.name if scope is not None else None
    props = _log_properties(attributes, None if scope_name == TRACK_EVENT_LOGGER else scope_name)
    measurements = custom_measurements(attributes.get(_CUSTOM_MEASUREMENTS)) if attributes else {}
    message = body_to_message(log.body)
    time_ns = log.timestamp or log.observed_timestamp

    if attributes.get(_EXCEPTION_TYPE) is not None or attributes.get(_EXCEPTION_MESSAGE) is not None:
        data = _exception_data(attributes, message, severity_level(log.severity_number), props, measurements)
        return new_envelope("Exception", ikey, tags, time_ns, "ExceptionData", data, rate)
    if attributes.get(_CUSTOM_EVENT_NAME) is not None or attributes.get(_EVENT_MARKER) is not None:
        data = _event_data(attributes, message, props, measurements)
        return new_envelope("Event", ikey, tags, time_ns, "EventData", data, rate)
    if attributes and _is_availability(attributes):
        data = _availability_data(attributes, message, props, measurements)
        return new_envelope("Availability", ikey, tags, time_ns, "AvailabilityData", data, rate)
    data = _message_data(message, severity_level(log.severity_number), props, measurements)
    return new_envelope("Message", ikey, tags, time_ns, "MessageData", data, rate)
