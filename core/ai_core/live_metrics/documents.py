"""Envelopes -> Live Metrics documents, and the columns the portal's filters look at.

A document carries the same values as the item's envelope (name, URL, result code, duration,
success, properties), so the live feed and the stored telemetry never disagree; only the
duration's notation differs: ISO 8601 (``PT0.0010105S``) as the service definition asks,
instead of the envelope's ``d.hh:mm:ss.fff``.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Tuple

from ai_core.sampler import item_weight

__all__ = ["LiveItem", "live_item", "iso_duration", "timespan_seconds"]

MAX_PROPERTIES = 10  # per document, as the other SDKs keep documents small
_MAX_VALUE = 1024


def timespan_seconds(text: Any) -> Optional[float]:
    """``[d.]hh:mm:ss[.fff]`` (the envelope's duration, the portal's Duration comparand) in seconds."""
    if not isinstance(text, str):
        return None
    parts = text.strip().split(":")
    if len(parts) != 3:
        return None
    first, minutes, seconds = parts
    days, _, hours = first.rpartition(".")
    try:
        total = float(seconds) + int(minutes) * 60 + int(hours) * 3600 + (int(days) * 86400 if days else 0)
    except ValueError:
        return None
    return total if total >= 0 else None


def iso_duration(seconds: float) -> str:
    """ISO 8601 duration, e.g. ``PT0.123S``, ``PT1M5.5S``, ``P1DT2H``."""
    seconds = max(seconds, 0.0)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    text = "P%dD" % days if days else "P"
    time_part = ""
    if hours:
        time_part += "%dH" % hours
    if minutes:
        time_part += "%dM" % minutes
    if secs or not time_part:
        time_part += ("%.7f" % secs).rstrip("0").rstrip(".") + "S"
    return text + "T" + time_part


class LiveItem:
    """One envelope as Live Metrics sees it: its kind, weight, filter columns and document."""

    __slots__ = ("kind", "weight", "success", "duration_ms", "columns", "properties", "measurements", "_document")

    def __init__(
        self,
        kind: str,
        weight: float,
        columns: Dict[str, Any],
        properties: Mapping[str, Any],
        measurements: Mapping[str, Any],
        document: Dict[str, Any],
        success: bool = True,
        duration_ms: float = 0.0,
    ) -> None:
        self.kind = kind  # the portal's TelemetryType: Request, Dependency, Exception, Event, Trace
        self.weight = weight
        self.success = success
        self.duration_ms = duration_ms
        self.columns = columns
        self.properties = properties
        self.measurements = measurements
        self._document = document

    def document(self, stream_ids: List[str]) -> Dict[str, Any]:
        doc = dict(self._document)
        doc["DocumentStreamIds"] = stream_ids
        props = [
            {"key": str(k)[:_MAX_VALUE], "value": str(v)[:_MAX_VALUE]}
            for k, v in self.properties.items() if not str(k).startswith("_MS.")
        ][:MAX_PROPERTIES]
        if props:
            doc["Properties"] = props
        return doc


def _code(value: Any) -> Optional[int]:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def live_item(envelope: Mapping[str, Any]) -> Optional[LiveItem]:
    """The ``LiveItem`` of a Request, RemoteDependency, Exception, Message or Event envelope;
    None for the others (availability results, metrics)."""
    data = envelope.get("data") or {}
    base = data.get("baseData") or {}
    base_type = data.get("baseType")
    weight = item_weight(envelope.get("sampleRate"))
    properties = base.get("properties") or {}
    measurements = base.get("measurements") or {}
    if base_type == "RequestData":
        seconds = timespan_seconds(base.get("duration")) or 0.0
        success = bool(base.get("success", True))
        columns = {
            "Name": base.get("name", ""), "Url": base.get("url", ""),
            "ResponseCode": _code(base.get("responseCode")), "Duration": seconds, "Success": success,
        }
        document = {
            "DocumentType": "Request", "Name": base.get("name", ""), "Url": base.get("url", ""),
            "ResponseCode": str(base.get("responseCode", "")), "Duration": iso_duration(seconds),
        }
        return LiveItem("Request", weight, columns, properties, measurements, document, success, seconds * 1000)
    if base_type == "RemoteDependencyData":
        seconds = timespan_seconds(base.get("duration")) or 0.0
        success = bool(base.get("success", True))
        columns = {
            "Name": base.get("name", ""), "Target": base.get("target", ""), "Type": base.get("type", ""),
            "Data": base.get("data", ""), "ResultCode": _code(base.get("resultCode")), "Duration": seconds,
            "Success": success,
        }
        document = {
            "DocumentType": "RemoteDependency", "Name": base.get("name", ""),
            "CommandName": base.get("data", ""), "ResultCode": str(base.get("resultCode", "")),
            "Duration": iso_duration(seconds),
        }
        return LiveItem("Dependency", weight, columns, properties, measurements, document, success, seconds * 1000)
    if base_type == "ExceptionData":
        details = (base.get("exceptions") or [{}])[0] or {}
        columns = {"Message": details.get("message", ""), "StackTrace": details.get("stack", "")}
        document = {
            "DocumentType": "Exception", "ExceptionType": details.get("typeName", ""),
            "ExceptionMessage": details.get("message", ""),
        }
        return LiveItem("Exception", weight, columns, properties, measurements, document)
    if base_type == "MessageData":
        columns = {"Message": base.get("message", "")}
        document = {"DocumentType": "Trace", "Message": base.get("message", "")}
        return LiveItem("Trace", weight, columns, properties, measurements, document)
    if base_type == "EventData":
        columns = {"Name": base.get("name", "")}
        document = {"DocumentType": "Event", "Name": base.get("name", "")}
        return LiveItem("Event", weight, columns, properties, measurements, document)
    return None


def known_columns() -> Dict[str, Tuple[str, ...]]:
    """Filterable columns per telemetry type (besides ``CustomDimensions.<key>`` and ``*``)."""
    return dict(_COLUMNS)


_COLUMNS: Dict[str, Tuple[str, ...]] = {
    "Request": ("Name", "Url", "ResponseCode", "Duration", "Success"),
    "Dependency": ("Name", "Target", "Type", "Data", "ResultCode", "Duration", "Success"),
    "Exception": ("Message", "StackTrace"),
    "Trace": ("Message",),
    "Event": ("Name",),
}
