"""Reading the body of a Live Metrics ping or post: ``MonitoringDataPoint`` objects, checked
field by field as the service definition describes them (Azure/azure-rest-api-specs,
``specification/applicationinsights/ApplicationInsights.LiveMetrics/models.tsp``).

Every field is checked only when present: the definition's own examples leave out most of the
"required" ones (a point with just ``Instance``, ``Metrics``, ``Documents``, ``Timestamp`` and
``Version``), so an emulator stricter than that would refuse the examples. A ping may have no
body at all (its headers identify the app); a post carries an array of one point.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional

from ai_core.emulator import ingest

MAX_BODY = 4 * 1024 * 1024  # inflated; a data point is a few KB
DOCUMENT_TYPES = ("Request", "RemoteDependency", "Exception", "Event", "Trace", "Unknown")
_STRING_FIELDS = ("Version", "Instance", "RoleName", "MachineName", "StreamId", "Timestamp", "TransmissionTime")


class LiveInputError(ValueError):
    """A ping or post the service would refuse; the message names the field."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


_TIMESTAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(?:Z|\+00:00)$")


def epoch(timestamp: Any) -> Optional[float]:
    """A data point's ``Timestamp`` (UTC, up to 7 fractional digits as .NET writes them)."""
    match = _TIMESTAMP.match(timestamp) if isinstance(timestamp, str) else None
    if match is None:
        return None
    try:
        whole = datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    except ValueError:
        return None
    return whole.timestamp() + float("0." + (match.group(2) or "0"))


def _check_point(point: Any, where: str) -> Dict[str, Any]:
    """A data point's shape, field by field (the example's subset is enough: every field is
    checked only when present)."""
    if not isinstance(point, dict):
        raise LiveInputError("%s: a MonitoringDataPoint must be a JSON object" % where)
    for name in _STRING_FIELDS:
        if name in point and point[name] is not None and not isinstance(point[name], str):
            raise LiveInputError("%s.%s: must be a string" % (where, name))
    for name in ("IsWebApp", "PerformanceCollectionSupported"):
        if name in point and point[name] is not None and not isinstance(point[name], bool):
            raise LiveInputError("%s.%s: must be true or false" % (where, name))
    if "InvariantVersion" in point and point["InvariantVersion"].__class__ not in (int, type(None)):
        raise LiveInputError("%s.InvariantVersion: must be an integer" % where)
    metrics = point.get("Metrics") or []
    if not isinstance(metrics, list):
        raise LiveInputError("%s.Metrics: must be an array of {Name, Value, Weight}" % where)
    for i, metric in enumerate(metrics):
        path = "%s.Metrics[%d]" % (where, i)
        if not isinstance(metric, dict) or not isinstance(metric.get("Name"), str):
            raise LiveInputError("%s: must be an object with a string Name" % path)
        value = metric.get("Value")
        if value.__class__ not in (int, float) or value != value or value in (float("inf"), float("-inf")):
            raise LiveInputError("%s.Value: must be a finite number (%s)" % (path, metric["Name"]))
        if "Weight" in metric and metric["Weight"].__class__ not in (int, float, type(None)):
            raise LiveInputError("%s.Weight: must be a number" % path)
    documents = point.get("Documents") or []
    if not isinstance(documents, list):
        raise LiveInputError("%s.Documents: must be an array" % where)
    for i, doc in enumerate(documents):
        path = "%s.Documents[%d]" % (where, i)
        if not isinstance(doc, dict) or not isinstance(doc.get("DocumentType"), str):
            raise LiveInputError("%s: must be an object with a DocumentType" % path)
        ids = doc.get("DocumentStreamIds")
        if ids is not None and (not isinstance(ids, list) or not all(isinstance(x, str) for x in ids)):
            raise LiveInputError("%s.DocumentStreamIds: must be an array of strings" % path)
        props = doc.get("Properties")
        if props is not None and (not isinstance(props, list) or not all(
                isinstance(p, dict) and isinstance(p.get("key"), str) for p in props)):
            raise LiveInputError("%s.Properties: must be an array of {key, value}" % path)
    for name in ("TopCpuProcesses", "CollectionConfigurationErrors"):
        if point.get(name) is not None and not isinstance(point[name], list):
            raise LiveInputError("%s.%s: must be an array" % (where, name))
    return point


def parse_body(body: bytes, content_encoding: Optional[str], operation: str) -> List[Dict[str, Any]]:
    """The data points of a ping (none when its body is empty) or post (at least one)."""
    try:
        raw = ingest.decompress(body, content_encoding, limit=MAX_BODY)
        text = raw.decode("utf-8-sig").strip()
    except ingest.BodyError as exc:
        raise LiveInputError(str(exc), exc.status) from None
    except UnicodeDecodeError as exc:
        raise LiveInputError("body is not UTF-8: %s" % exc) from None
    if not text:
        if operation == "ping":
            return []
        raise LiveInputError("body is empty: a post carries an array of one MonitoringDataPoint")
    try:
        value = ingest.loads_unicode(text)
    except ValueError as exc:
        raise LiveInputError("body is not valid JSON: %s" % exc) from None
    if isinstance(value, dict):
        return [_check_point(value, "body")]
    if not isinstance(value, list):
        raise LiveInputError("body must be a MonitoringDataPoint object or an array of them")
    if not value and operation == "post":
        raise LiveInputError("body is an empty array: a post carries one MonitoringDataPoint")
    return [_check_point(p, "body[%d]" % i) for i, p in enumerate(value)]
