"""Schema checks for one telemetry envelope, as the ingestion service applies them.

``check(envelope)`` returns ``(error, warnings)``: ``error`` is ``None`` for a valid item,
else one message naming the field and the reason (``"data.baseData.url: longer than 2048
characters (2100)"``); the item is then rejected with statusCode 400. ``warnings`` lists
problems the real service tolerates by truncating (over-long context tags: the official
exporter never truncates tags, e.g. a 3005-character ``ai.operation.name``), so the item is
accepted but a viewer can still show them.

Limits are those of the Application Insights v2 schema (the official exporter's measured limits plus
the schema's own per-field maxima). The checks are plain dict look-ups and a few regexes
because they run for every item at ingestion speed.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any, Dict, List, Optional, Tuple

GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
# TimeSpan as the service reads it: [d.]hh:mm:ss[.fffffff]; the SDKs send d.hh:mm:ss.fff.
DURATION = re.compile(r"(?:(\d+)\.)?(\d{1,2}):([0-5]\d):([0-5]\d)(?:\.(\d{1,7}))?\Z")

MAX_PROPERTY_KEY = 150
MAX_PROPERTY_VALUE = 8192
# The official exporter lets the GenAI message attributes (gen_ai.input.messages, ...) through
# with 256 KiB instead of 8192 characters (measured on the official exporter), so the service must accept them.
MAX_GENAI_PROPERTY_VALUE = 256 * 1024
MAX_ENVELOPE_NAME = 1024

# Field kinds: "str" (non-empty when required), "bool", "num", "int", "duration".
# (field, kind, required, max length or None)
Spec = Tuple[str, str, bool, Optional[int]]

FIELDS: Dict[str, Tuple[Spec, ...]] = {
    "RequestData": (
        ("id", "str", True, 128),
        ("duration", "duration", True, None),
        ("responseCode", "str", True, 1024),
        ("success", "bool", True, None),
        ("name", "str", False, 1024),
        ("url", "str", False, 2048),
        ("source", "str", False, 1024),
    ),
    "RemoteDependencyData": (
        ("name", "str", True, 1024),
        ("duration", "duration", True, None),
        ("success", "bool", True, None),
        ("id", "str", False, 128),
        ("resultCode", "str", False, 1024),
        ("type", "str", False, 1024),
        ("target", "str", False, 1024),
        ("data", "str", False, 8192),
    ),
    "ExceptionData": (
        ("severityLevel", "int", False, None),
        ("problemId", "str", False, 1024),
    ),
    "MessageData": (
        ("message", "str", True, 32768),
        ("severityLevel", "int", False, None),
    ),
    "EventData": (("name", "str", True, 512),),
    "MetricData": (),
    "AvailabilityData": (
        ("id", "str", True, 64),
        ("name", "str", True, 1024),
        ("duration", "duration", True, None),
        ("success", "bool", True, None),
        ("runLocation", "str", False, 1024),
        ("message", "str", False, 8192),
    ),
    "PageViewData": (
        ("name", "str", True, 1024),
        ("url", "str", False, 2048),
        ("duration", "duration", False, None),
        ("id", "str", False, 128),
        ("referrerUri", "str", False, 2048),
    ),
}
BASE_TYPES = tuple(FIELDS)

EXCEPTION_DETAIL_FIELDS: Tuple[Spec, ...] = (
    ("typeName", "str", True, 1024),
    ("message", "str", True, 32768),
    ("hasFullStack", "bool", True, None),
    ("stack", "str", False, 32768),
    ("id", "int", False, None),
    ("outerId", "int", False, None),
)
METRIC_POINT_FIELDS: Tuple[Spec, ...] = (
    ("name", "str", True, 1024),
    ("value", "num", True, None),
    ("ns", "str", False, 256),
    ("count", "int", False, None),
    ("min", "num", False, None),
    ("max", "num", False, None),
    ("stdDev", "num", False, None),
)

# Context tag maxima from the schema's ContextTagKeys; longer values are truncated by the
# service, so they only produce warnings.
TAG_LIMITS: Dict[str, int] = {
    "ai.application.ver": 1024,
    "ai.device.id": 1024,
    "ai.device.locale": 64,
    "ai.device.model": 256,
    "ai.device.oemName": 256,
    "ai.device.osVersion": 256,
    "ai.device.type": 64,
    "ai.location.ip": 46,
    "ai.operation.id": 128,
    "ai.operation.name": 1024,
    "ai.operation.parentId": 128,
    "ai.operation.syntheticSource": 1024,
    "ai.operation.correlationVector": 64,
    "ai.session.id": 64,
    "ai.session.isFirst": 5,
    "ai.user.accountId": 1024,
    "ai.user.id": 128,
    "ai.user.authUserId": 1024,
    "ai.cloud.role": 256,
    "ai.cloud.roleInstance": 256,
    "ai.internal.sdkVersion": 64,
    "ai.internal.agentVersion": 64,
    "ai.internal.nodeName": 256,
}

_JSON_TYPE = {str: "string", bool: "boolean", int: "number", float: "number", list: "array",
              dict: "object", type(None): "null"}


def _kind(value: Any) -> str:
    return _JSON_TYPE.get(type(value), type(value).__name__)


def parse_time(value: str) -> Optional[datetime]:
    """An envelope ``time`` (ISO 8601 date and time) or ``None`` when it is not one."""
    if len(value) < 19 or value[10] not in "Tt ":
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def duration_ms(value: str) -> Optional[float]:
    """``d.hh:mm:ss.fff`` in milliseconds, ``None`` when the text is not a TimeSpan."""
    m = DURATION.match(value)
    if m is None:
        return None
    days, hours, minutes, seconds, fraction = m.groups()
    ms = ((int(days or 0) * 24 + int(hours)) * 60 + int(minutes)) * 60 + int(seconds)
    ms *= 1000.0
    if fraction:
        ms += int(fraction) / 10 ** (len(fraction) - 3)
    return ms


def _check_fields(obj: Dict[str, Any], specs: Tuple[Spec, ...], path: str) -> Optional[str]:
    for field, kind, required, limit in specs:
        value = obj.get(field)
        if value is None:
            if required:
                return "%s.%s: required field is missing" % (path, field)
            continue
        cls = value.__class__
        if kind == "str":
            if cls is not str:
                return "%s.%s: must be a string, got %s" % (path, field, _kind(value))
            if required and not value:
                return "%s.%s: required field is empty" % (path, field)
            if limit is not None and len(value) > limit:
                return "%s.%s: longer than %d characters (%d)" % (path, field, limit, len(value))
        elif kind == "bool":
            if cls is not bool:
                return "%s.%s: must be a boolean, got %s" % (path, field, _kind(value))
        elif kind == "duration":
            if cls is not str:
                return "%s.%s: must be a duration string, got %s" % (path, field, _kind(value))
            if DURATION.match(value) is None:
                return "%s.%s: not a d.hh:mm:ss.fff duration (%r)" % (path, field, value[:64])
        elif kind == "int":
            if cls is not int:
                return "%s.%s: must be an integer, got %s" % (path, field, _kind(value))
        else:  # num
            if cls is not int and cls is not float:
                return "%s.%s: must be a number, got %s" % (path, field, _kind(value))
            if cls is float and not math.isfinite(value):
                return "%s.%s: must be a finite number" % (path, field)
    return None


def _check_properties(base: Dict[str, Any]) -> Optional[str]:
    props = base.get("properties")
    if props is not None:
        if props.__class__ is not dict:
            return "data.baseData.properties: must be an object, got %s" % _kind(props)
        for key, value in props.items():
            if len(key) > MAX_PROPERTY_KEY:
                return "data.baseData.properties: key longer than %d characters (%d): %r" % (
                    MAX_PROPERTY_KEY, len(key), key[:40] + "...")
            if value.__class__ is not str:
                return "data.baseData.properties.%s: must be a string, got %s" % (key, _kind(value))
            if len(value) > MAX_PROPERTY_VALUE:
                limit = MAX_GENAI_PROPERTY_VALUE if key.startswith("gen_ai.") else MAX_PROPERTY_VALUE
                if len(value) > limit:
                    return "data.baseData.properties.%s: longer than %d characters (%d)" % (
                        key, limit, len(value))
    measurements = base.get("measurements")
    if measurements is not None:
        if measurements.__class__ is not dict:
            return "data.baseData.measurements: must be an object, got %s" % _kind(measurements)
        for key, value in measurements.items():
            if len(key) > MAX_PROPERTY_KEY:
                return "data.baseData.measurements: key longer than %d characters (%d): %r" % (
                    MAX_PROPERTY_KEY, len(key), key[:40] + "...")
            cls = value.__class__
            if (cls is not int and cls is not float) or (cls is float and not math.isfinite(value)):
                return "data.baseData.measurements.%s: must be a finite number, got %s" % (
                    key, _kind(value))
    return None


def _check_list(base: Dict[str, Any], field: str, specs: Tuple[Spec, ...]) -> Optional[str]:
    entries = base.get(field)
    if entries is None:
        return "data.baseData.%s: required field is missing" % field
    if entries.__class__ is not list:
        return "data.baseData.%s: must be an array, got %s" % (field, _kind(entries))
    if not entries:
        return "data.baseData.%s: must not be empty" % field
    for i, entry in enumerate(entries):
        path = "data.baseData.%s[%d]" % (field, i)
        if entry.__class__ is not dict:
            return "%s: must be an object, got %s" % (path, _kind(entry))
        error = _check_fields(entry, specs, path)
        if error:
            return error
    return None


def _check_tags(tags: Any, warnings: List[str]) -> Optional[str]:
    if tags.__class__ is not dict:
        return "tags: must be an object, got %s" % _kind(tags)
    for key, value in tags.items():
        if value.__class__ is not str:
            return "tags.%s: must be a string, got %s" % (key, _kind(value))
        limit = TAG_LIMITS.get(key)
        if limit is not None and len(value) > limit:
            warnings.append("tags.%s: longer than %d characters (%d), the service truncates it"
                            % (key, limit, len(value)))
    return None


def check(envelope: Any) -> Tuple[Optional[str], List[str]]:
    """Validate one envelope: ``(None, warnings)`` when valid, else ``(message, warnings)``."""
    warnings: List[str] = []
    if envelope.__class__ is not dict:
        return "item: must be a JSON object, got %s" % _kind(envelope), warnings
    name = envelope.get("name")
    if name is None:
        return "name: required field is missing", warnings
    if name.__class__ is not str or not name:
        return "name: must be a non-empty string", warnings
    if len(name) > MAX_ENVELOPE_NAME:
        return "name: longer than %d characters (%d)" % (MAX_ENVELOPE_NAME, len(name)), warnings
    time = envelope.get("time")
    if time is None:
        return "time: required field is missing", warnings
    if time.__class__ is not str or parse_time(time) is None:
        return "time: not an ISO 8601 date-time (%r)" % (str(time)[:64],), warnings
    ikey = envelope.get("iKey")
    if ikey is None:
        return "iKey: required field is missing", warnings
    if ikey.__class__ is not str or GUID.match(ikey) is None:
        return "iKey: not a GUID (%r)" % (str(ikey)[:64],), warnings
    sample_rate = envelope.get("sampleRate")
    if sample_rate is not None and (
        sample_rate.__class__ not in (int, float) or not 0 < sample_rate <= 100
    ):
        return "sampleRate: must be a number in (0, 100], got %r" % (sample_rate,), warnings
    tags = envelope.get("tags")
    if tags is not None:
        error = _check_tags(tags, warnings)
        if error:
            return error, warnings
    data = envelope.get("data")
    if data is None:
        return "data: required field is missing", warnings
    if data.__class__ is not dict:
        return "data: must be an object, got %s" % _kind(data), warnings
    base_type = data.get("baseType")
    if base_type is None:
        return "data.baseType: required field is missing", warnings
    specs = FIELDS.get(base_type) if base_type.__class__ is str else None
    if specs is None:
        return "data.baseType: unknown type %r (expected one of %s)" % (
            base_type, ", ".join(BASE_TYPES)), warnings
    base = data.get("baseData")
    if base is None:
        return "data.baseData: required field is missing", warnings
    if base.__class__ is not dict:
        return "data.baseData: must be an object, got %s" % _kind(base), warnings
    error = _check_fields(base, specs, "data.baseData")
    if error is None:
        if base_type == "ExceptionData":
            error = _check_list(base, "exceptions", EXCEPTION_DETAIL_FIELDS)
        elif base_type == "MetricData":
            error = _check_list(base, "metrics", METRIC_POINT_FIELDS)
    if error is None:
        error = _check_properties(base)
    return error, warnings
