"""The common log record written straight to its JSON bytes: a Message item without exception,
event, availability or user/session/location attributes, with a text body.

The counterpart of :mod:`ai_core.envelopes.span_bytes` for log records: when no telemetry
processor needs the envelope as a dict, :func:`log_item` writes the bytes
:func:`ai_core.delivery.encode.encode_item` would write for
:func:`ai_core.envelopes.logs.log_to_envelope`'s envelope. The properties (the record's
attributes and its logger's name) depend only on the logger and the attribute values, so they
are encoded once per distinct set (bounded cache, keyed with the values' types); per record
the ids, time, severity, message and the request context's tags are written. Anything else
answers None and takes the general path (tests/delivery/test_log_bytes.py compares the bytes).
"""

from __future__ import annotations

from json.encoder import encode_basestring_ascii as _enc  # type: ignore[attr-defined]
from typing import Any, Dict, Optional

from ai_core.envelopes import logs as _logs
from ai_core.envelopes.common import MAX_MESSAGE, format_time, resource_tags
from ai_core.envelopes.span_bytes import _cacheable, _number, request_tags_json
from ai_core.request_attributes import (
    AUTH_USER_ID,
    CLIENT_IP_KEYS,
    TAG_OPERATION_NAME,
    USER_ID,
)
from ai_core.span_attributes import attribute_dict

__all__ = ["log_item"]

# Keys that make the record something other than a plain Message, or give it tags of its own:
# the general path converts it.
_GENERAL_ONLY = frozenset((
    _logs._EXCEPTION_TYPE, _logs._EXCEPTION_MESSAGE, _logs._CUSTOM_EVENT_NAME,  # noqa: SLF001
    _logs._EVENT_MARKER, _logs._CUSTOM_MEASUREMENTS, _logs._AVAILABILITY_ID,  # noqa: SLF001
    _logs._AVAILABILITY_NAME, _logs._AVAILABILITY_DURATION, _logs._AVAILABILITY_SUCCESS,  # noqa: SLF001
    AUTH_USER_ID, USER_ID, TAG_OPERATION_NAME, "session.id", "user_agent.synthetic.type",
    "user_agent.original", "http.user_agent", *CLIENT_IP_KEYS,
))

# (scope name, attribute keys, values, their types) -> the properties' JSON text, or None.
_PROPERTIES: Dict[Any, Any] = {}
_PROPERTIES_MAX = 512
_PROPERTIES_TEXT_MAX = 2048

_LAST_PARTS: Any = (object(), object(), object(), None)


def _parts(resource: Any, role: Any, ikey: str) -> Any:
    """(the resource's part-A tags, the envelope's opening with them, without them)."""
    global _LAST_PARTS
    last = _LAST_PARTS
    if last[0] is resource and last[1] is role and last[2] == ikey:
        return last[3]
    tags = resource_tags(resource, role)
    text = ",".join(_enc(key) + ":" + _enc(value) for key, value in tags.items())
    opening = '{"name":"Microsoft.ApplicationInsights.Message","iKey":%s,"tags":{' % _enc(ikey)
    parts = (tags, opening + text, opening)
    _LAST_PARTS = (resource, role, ikey, parts)
    return parts


def _properties(scope_name: Any, attributes: Any) -> Optional[str]:
    if attributes and not _GENERAL_ONLY.isdisjoint(attributes):
        return None
    if any(key.__class__ is not str for key in attributes):
        return None
    props = _logs._log_properties(  # noqa: SLF001 (the general path's own rule)
        attributes, None if scope_name == _logs.TRACK_EVENT_LOGGER else scope_name
    )
    return ",".join(_enc(key) + ":" + _enc(value) for key, value in props.items())


def log_item(record: Any, ikey: str, request_lookup: Any = None, trace_sample_rate: Any = None,
             role: Any = None) -> Optional[bytes]:
    """The JSON bytes of the record's envelope if it is the common Message (see the module
    docstring); None otherwise."""
    try:
        return _log_item(record, ikey, request_lookup, trace_sample_rate, role)
    except Exception:  # an unexpected value: the general path converts it, or counts the drop
        return None


def _log_item(record: Any, ikey: str, request_lookup: Any, trace_sample_rate: Any, role: Any) -> Optional[bytes]:
    log = record.log_record
    body = log.body
    if body.__class__ is not str:
        return None
    attributes = attribute_dict(log.attributes)
    scope = record.instrumentation_scope
    scope_name = scope.name if scope is not None else None
    values = attributes.values()
    classes = tuple(map(type, values))
    key = (scope_name, tuple(attributes), tuple(values), classes)
    properties = _PROPERTIES.get(key, False)
    if properties is False:
        properties = _properties(scope_name, attributes)
        if (scope_name is None or scope_name.__class__ is str) and _cacheable("", classes, values) and (
            properties is None or len(properties) <= _PROPERTIES_TEXT_MAX
        ):
            if len(_PROPERTIES) >= _PROPERTIES_MAX:
                _PROPERTIES.clear()
            _PROPERTIES[key] = properties
    if properties is None:
        return None

    if trace_sample_rate is not None and _logs.trace_sampled(log):
        rate = _number(trace_sample_rate)
        if rate is None:
            return None
        closing = ',"sampleRate":%s}' % rate
    else:
        closing = "}"
    parts = _parts(record.resource, role, ikey)
    trace_id = log.trace_id
    if trace_id:
        span_id = log.span_id
        if span_id:
            ids = '"ai.operation.id":"%032x","ai.operation.parentId":"%016x"' % (trace_id, span_id)
        else:
            ids = '"ai.operation.id":"%032x"' % trace_id
    else:
        span_id = None
        ids = ""
    opening = parts[1]
    request = request_lookup(log.span_id) if request_lookup is not None and trace_id else None
    if request is not None:  # _log_tags: the request's name, client and user
        tags: Dict[str, Any] = {}
        if trace_id:
            tags["ai.operation.id"] = "%032x" % trace_id
            if span_id:
                tags["ai.operation.parentId"] = "%016x" % span_id
        request.fill_tags(tags, replace_name=False)
        opening, ids = request_tags_json(tags, parts[0], opening, parts[2])
    if ids and opening[-1] != "{":
        ids = "," + ids
    message = body[:MAX_MESSAGE].strip() or "n/a"
    return ('%s%s},"time":"%s","data":{"baseData":{"ver":2,"message":%s,"severityLevel":%d,'
            '"properties":{%s},"measurements":{}},"baseType":"MessageData"}%s' % (
                opening, ids, format_time(log.timestamp or log.observed_timestamp), _enc(message),
                _logs.severity_level(log.severity_number), properties, closing,
            )).encode("ascii")
