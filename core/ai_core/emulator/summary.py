"""The summary columns of a valid envelope: what the store indexes and the viewer lists.

``summarize`` runs only after ``validate.check`` passed, so it can trust field types.
"""

from __future__ import annotations

from datetime import timezone
from typing import Any, Dict, NamedTuple, Optional

from ai_core.emulator.validate import duration_ms, parse_time

ITEM_TYPES: Dict[str, str] = {
    "RequestData": "request",
    "RemoteDependencyData": "dependency",
    "ExceptionData": "exception",
    "MessageData": "trace",
    "EventData": "event",
    "MetricData": "metric",
    "AvailabilityData": "availability",
    "PageViewData": "pageview",
}

# Names in the list are cut so that a 32 KiB log line does not bloat every list row;
# the full text stays in the stored envelope.
MAX_SUMMARY_NAME = 512


class Summary(NamedTuple):
    type: str
    ikey: str
    time: str  # normalised UTC, fixed width, so string order is time order
    name: Optional[str]
    role: Optional[str]
    role_instance: Optional[str]
    operation_id: Optional[str]
    parent_id: Optional[str]
    telemetry_id: Optional[str]
    success: Optional[bool]
    duration_ms: Optional[float]
    result_code: Optional[str]
    severity: Optional[int]
    target: Optional[str]


def normalize_time(value: str) -> Optional[str]:
    """ISO text to ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC (naive means UTC), or ``None``."""
    parsed = parse_time(value)
    if parsed is None:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(timezone.utc)
    return parsed.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def summarize(envelope: Dict[str, Any]) -> Summary:
    data = envelope["data"]
    base_type = data["baseType"]
    base = data["baseData"]
    tags = envelope.get("tags") or {}
    get = base.get
    name: Optional[str]
    if base_type == "MessageData":
        name = get("message")
    elif base_type == "ExceptionData":
        first = base["exceptions"][0]
        name = "%s: %s" % (first["typeName"], first["message"])
    elif base_type == "MetricData":
        name = base["metrics"][0]["name"]
    else:
        name = get("name") or tags.get("ai.operation.name")
    if name is not None and len(name) > MAX_SUMMARY_NAME:
        name = name[:MAX_SUMMARY_NAME]
    duration = get("duration")
    result_code = get("responseCode") if base_type == "RequestData" else get("resultCode")
    return Summary(
        type=ITEM_TYPES[base_type],
        ikey=envelope["iKey"],
        time=normalize_time(envelope["time"]) or envelope["time"],
        name=name,
        role=tags.get("ai.cloud.role"),
        role_instance=tags.get("ai.cloud.roleInstance"),
        operation_id=tags.get("ai.operation.id"),
        parent_id=tags.get("ai.operation.parentId"),
        telemetry_id=get("id") if base_type != "ExceptionData" else None,
        success=get("success"),
        duration_ms=duration_ms(duration) if isinstance(duration, str) else None,
        result_code=result_code,
        severity=get("severityLevel"),
        target=get("target") if base_type == "RemoteDependencyData" else None,
    )
