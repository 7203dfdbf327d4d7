"""Pieces every envelope shares: time and duration formats, part-A tags (device, role, version),
property stringification, and the envelope skeleton itself.

Envelopes are plain dicts in wire order (name, iKey, tags, time, data, sampleRate) so that
encoding is one ``json.dumps`` with no model objects in between: this is where most of the
official exporter's time goes.
"""

from __future__ import annotations

import json
import locale
import math
import os
import platform
import sys
from datetime import datetime, timezone
from typing import Any, Dict, Mapping, Optional

from opentelemetry.sdk.resources import Resource

try:  # the SDK version goes into ai.internal.sdkVersion, as the official exporter does
    from opentelemetry.sdk.version import __version__ as _OTEL_SDK_VERSION
except Exception:  # pragma: no cover - very old SDKs
    _OTEL_SDK_VERSION = "unknown"

from ai_core.role import Role, role_of_resource
from ai_core.version import __version__

# Field length limits of the Application Insights schema (as the official exporter applies them).
MAX_NAME = 1024
MAX_URL = 2048
MAX_DATA = 8192
MAX_MESSAGE = 32768
MAX_PROPERTY_KEY = 150
MAX_PROPERTY_VALUE = 8192

ENVELOPE_PREFIX = "Microsoft.ApplicationInsights."

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


# Whole second -> "YYYY-MM-DDTHH:MM:SS": the items of a batch fall into a handful of seconds.
_SECOND_PREFIXES: Dict[int, str] = {}
# The second of the last item, and its text (one tuple, replaced whole: thread-safe).
_LAST_SECOND: Any = (None, "")


def _reference_time(time_ns: int) -> str:
    return datetime.fromtimestamp(time_ns / 1e9, timezone.utc).isoformat().replace("+00:00", "Z")


def format_time(time_ns: Optional[int]) -> str:
    """Envelope ``time``: ISO 8601 UTC, microseconds rounded, fraction omitted when zero.

    The official exporter divides by 1e9 as a float and lets ``datetime`` round, and prints no
    fraction for whole seconds; we reproduce that exactly so stored times match. Building a
    ``datetime`` per item is a measurable share of the hot path, so the microseconds are
    rounded here the way ``datetime.fromtimestamp`` rounds them (the float's fraction times
    1e6, half to even, carrying into the next second) and the date/time text is cached per
    second; :func:`_reference_time` is the plain version (tests compare the two).
    """
    global _LAST_SECOND
    if not time_ns or time_ns < 0:
        return _reference_time(time_ns or 0)
    seconds = time_ns / 1e9
    whole = int(seconds)
    micros = round((seconds - whole) * 1e6)
    if micros >= 1000000:
        micros -= 1000000
        whole += 1
    last = _LAST_SECOND
    if last[0] == whole:
        prefix = last[1]
    else:
        prefix = _SECOND_PREFIXES.get(whole)
        if prefix is None:
            if len(_SECOND_PREFIXES) >= 4096:
                _SECOND_PREFIXES.clear()
            prefix = datetime.fromtimestamp(whole, timezone.utc).isoformat()[:-6]  # no "+00:00"
            _SECOND_PREFIXES[whole] = prefix
        _LAST_SECOND = (whole, prefix)
    return "%s.%06dZ" % (prefix, micros) if micros else prefix + "Z"


def format_duration(duration_ns: int) -> str:
    """``d.hh:mm:ss.fff``, millisecond precision, halves rounded up (the service's TimeSpan)."""
    if duration_ns < 0:
        duration_ns = 0
    ms = (duration_ns + 500000) // 1000000
    if ms < 60000:  # most spans take less than a minute
        return "0.00:00:%02d.%03d" % divmod(ms, 1000)
    seconds, ms = divmod(ms, 1000)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    return "%d.%02d:%02d:%02d.%03d" % (days, hours, minutes, seconds, ms)


def stringify(value: Any, limit: int = MAX_PROPERTY_VALUE) -> str:
    """A property value as the service stores it: Python's ``str()``, truncated."""
    if value.__class__ is str:
        return value[:limit]
    return str(value)[:limit]


def properties_from(
    attributes: Optional[Mapping[str, Any]],
    is_excluded: Optional[Any] = None,
    limit: int = MAX_PROPERTY_VALUE,
) -> Dict[str, str]:
    """customDimensions from attributes: keys over 150 chars and None values are dropped.

    ``is_excluded(key) -> bool`` removes keys that already have a dedicated envelope field.
    """
    out: Dict[str, str] = {}
    if not attributes:
        return out
    for key, value in attributes.items():
        if value is None or len(key) > MAX_PROPERTY_KEY:
            continue
        if is_excluded is not None and is_excluded(key):
            continue
        out[key] = stringify(value, limit)
    return out


def custom_measurements(raw: Any) -> Dict[str, float]:
    """``microsoft.custom_measurements`` (JSON text or a mapping): finite numbers as floats."""
    if raw is None:
        return {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return {}
    if not isinstance(raw, Mapping):
        return {}
    out: Dict[str, float] = {}
    for key, value in raw.items():
        # bool is an int subclass but not a measurement; numpy-style float subclasses are
        if not isinstance(value, (int, float)) or value.__class__ is bool:
            continue
        try:
            number = float(value)
        except OverflowError:  # an int beyond float range is not a usable measurement
            continue
        if math.isfinite(number):
            out[str(key)[:MAX_PROPERTY_KEY]] = number
    return out


# ---------------------------------------------------------------------------------------------
# Tags shared by every envelope of one process/resource
# ---------------------------------------------------------------------------------------------

def _sdk_version() -> str:
    # rp: u (unknown host), f (Functions), a (App Service), k (Kubernetes); os; attach m(anual)
    rp = "u"
    if os.environ.get("WEBSITE_SITE_NAME"):
        rp = "f" if os.environ.get("FUNCTIONS_WORKER_RUNTIME") else "a"
    elif os.environ.get("KUBERNETES_SERVICE_HOST"):
        rp = "k"
    os_letter = {"linux": "l", "win32": "w"}.get(sys.platform, "u")
    py = platform.python_version()
    return "%s%sm_py%s:otel%s:aio%s" % (rp, os_letter, py, _OTEL_SDK_VERSION, __version__)


def _locale() -> Optional[str]:
    try:
        return locale.getlocale()[0] or os.environ.get("LANG", "").split(".")[0] or None
    except Exception:
        return None


def _device_tags() -> Dict[str, str]:
    tags = {"ai.device.id": platform.node(), "ai.device.type": "Other"}
    loc = _locale()
    if loc:
        tags["ai.device.locale"] = loc
    tags["ai.internal.sdkVersion"] = _sdk_version()
    return tags


_DEVICE_TAGS = _device_tags()


def _resource_tags(resource: Optional[Resource], role: Optional[Role]) -> Dict[str, str]:
    tags = dict(_DEVICE_TAGS)
    attrs = resource.attributes if resource is not None else {}
    if role is not None:
        tags.update(role.tags())
    elif attrs:  # the official exporter adds no role tags for an empty resource
        tags.update(role_of_resource(attrs).tags())
    if not attrs:
        return tags
    if attrs.get("service.version") is not None:
        tags["ai.application.ver"] = str(attrs["service.version"])
    if attrs.get("device.id") is not None:
        tags["ai.device.id"] = str(attrs["device.id"])
    if attrs.get("device.model.name") is not None:
        tags["ai.device.model"] = str(attrs["device.model.name"])
    if attrs.get("device.manufacturer") is not None:
        tags["ai.device.oemName"] = str(attrs["device.manufacturer"])
    return tags


_TAG_CACHE: Dict[Any, Any] = {}
# The last (resource, role, tags) looked up: a process has one resource and one role, so this
# answers nearly every call with two identity checks (one tuple, replaced whole: thread-safe).
_LAST_TAGS: Any = (object(), object(), {})


def resource_tags(resource: Optional[Resource], role: Optional[Role] = None) -> Dict[str, str]:
    """Part-A tags for a resource (a fresh dict the caller may extend).

    ``role``: the process's role as ``configure()`` decided it (:mod:`ai_core.role`); None
    (exporters used on their own) takes it from the resource by the official rule.
    Cached per resource and role: a process has one of each, and recomputing the tags for
    every item is measurable on the hot path.
    """
    global _LAST_TAGS
    last = _LAST_TAGS
    if last[0] is resource and last[1] is role:
        return last[2].copy()
    key = (id(resource), id(role))
    hit = _TAG_CACHE.get(key)
    if hit is None or hit[0] is not resource or hit[1] is not role:
        if len(_TAG_CACHE) > 64:
            _TAG_CACHE.clear()
        hit = (resource, role, _resource_tags(resource, role))
        _TAG_CACHE[key] = hit
    _LAST_TAGS = hit
    return hit[2].copy()


def new_envelope(
    kind: str,
    ikey: str,
    tags: Dict[str, str],
    time_ns: Optional[int],
    base_type: str,
    base_data: Dict[str, Any],
    sample_rate: Optional[float] = None,
) -> Dict[str, Any]:
    """The envelope skeleton, in the field order the official exporter puts on the wire."""
    return named_envelope(ENVELOPE_PREFIX + kind, ikey, tags, time_ns, base_type, base_data, sample_rate)


def named_envelope(
    name: str,
    ikey: str,
    tags: Dict[str, str],
    time_ns: Optional[int],
    base_type: str,
    base_data: Dict[str, Any],
    sample_rate: Optional[float] = None,
) -> Dict[str, Any]:
    """:func:`new_envelope` with its ``name`` already whole (the span conversion keeps one per kind)."""
    env: Dict[str, Any] = {
        "name": name,
        "iKey": ikey,
        "tags": tags,
        "time": format_time(time_ns),
        "data": {"baseData": base_data, "baseType": base_type},
    }
    if sample_rate is not None:
        env["sampleRate"] = sample_rate
    return env


def synthetic_source(attrs: Mapping[str, Any]) -> Optional[str]:
    """``"True"`` for bot/test traffic and Azure's AlwaysOn pings, else None."""
    if attrs.get("user_agent.synthetic.type") in ("bot", "test"):
        return "True"
    ua = attrs.get("user_agent.original") or attrs.get("http.user_agent")
    if ua and "AlwaysOn" in str(ua):
        return "True"
    return None
