"""OpenTelemetry metric points -> Application Insights MetricData envelopes.

One envelope per data point (as the official exporter sends them). Two instrument families get
special treatment, as in the official exporter:

* the HTTP duration histograms of the stock instrumentations become the *standard metrics*
  ``requests/duration`` and ``dependencies/duration`` that feed the portal's Performance and
  Failures views; their custom dimensions are replaced by the fixed set the service expects;
* the other autocollected HTTP instruments (active requests, body sizes) are dropped.

``APPLICATION_INSIGHTS_TEMPORALITY`` is what the metric reader must be given so that counters
and histograms arrive as deltas (the service aggregates over time itself).
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional

from opentelemetry.sdk.metrics import (
    Counter,
    Histogram,
    ObservableCounter,
    ObservableGauge,
    ObservableUpDownCounter,
    UpDownCounter,
    _Gauge,
)
from opentelemetry.sdk.metrics.export import AggregationTemporality, MetricsData

from ai_core.envelopes.common import MAX_NAME, new_envelope, properties_from, resource_tags, synthetic_source
from ai_core.envelopes.span_fields import http_dependency_target, http_dependency_url
from ai_core.role import Role

__all__ = ["APPLICATION_INSIGHTS_TEMPORALITY", "DROPPED_INSTRUMENTS", "metrics_to_envelopes", "point_to_envelope"]

APPLICATION_INSIGHTS_TEMPORALITY: Dict[type, AggregationTemporality] = {
    Counter: AggregationTemporality.DELTA,
    Histogram: AggregationTemporality.DELTA,
    ObservableCounter: AggregationTemporality.DELTA,
    UpDownCounter: AggregationTemporality.CUMULATIVE,
    ObservableUpDownCounter: AggregationTemporality.CUMULATIVE,
    ObservableGauge: AggregationTemporality.CUMULATIVE,
    _Gauge: AggregationTemporality.CUMULATIVE,  # a gauge has no delta; the reader's default anyway
}

_MAX_NAMESPACE = 256

REQUEST_DURATION_NAMES = frozenset({"http.server.request.duration", "http.server.duration"})
# The point attributes ``requests/duration`` reads (its role dimensions come from the
# resource): the status code and the synthetic-traffic marker; ai_core.autocollected_metrics
# aggregates the request duration histograms by these alone.
REQUEST_DURATION_KEYS = ("http.response.status_code", "http.status_code", "user_agent.synthetic.type")
_DEPENDENCY_DURATION_NAMES = frozenset({"http.client.request.duration", "http.client.duration"})
# Autocollected by the HTTP instrumentations but meaningless to Application Insights.
DROPPED_INSTRUMENTS = frozenset(
    {
        "http.server.active_requests",
        "http.server.request.size",
        "http.server.response.size",
        "http.client.request.size",
        "http.client.response.size",
    }
)

# Our (and the official distro's) performance-counter instruments carry the Windows counter
# names the portal's "Performance counters" views query for.
_PERFORMANCE_COUNTER_NAMES: Dict[str, str] = {
    "azuremonitor.performancecounter.processtime": "\\Process(??APP_WIN32_PROC??)\\% Processor Time",
    "azuremonitor.performancecounter.processtimenormalized": (
        "\\Process(??APP_WIN32_PROC??)\\% Processor Time Normalized"
    ),
    "azuremonitor.performancecounter.processprivatebytes": "\\Process(??APP_WIN32_PROC??)\\Private Bytes",
    "azuremonitor.performancecounter.processiobytessec": "\\Process(??APP_WIN32_PROC??)\\IO Data Bytes/sec",
    "azuremonitor.performancecounter.processortotalprocessortime": "\\Processor(_Total)\\% Processor Time",
    "azuremonitor.performancecounter.memoryavailablebytes": "\\Memory\\Available Bytes",
    "azuremonitor.performancecounter.exceptionssec": (
        "\\.NET CLR Exceptions(??APP_CLR_PROC??)\\# of Exceps Thrown / sec"
    ),
    "azuremonitor.performancecounter.requestssec": "\\ASP.NET Applications(??APP_W3SVC_PROC??)\\Requests/Sec",
    "azuremonitor.performancecounter.requestexecutiontime": (
        "\\ASP.NET Applications(??APP_W3SVC_PROC??)\\Request Execution Time"
    ),
}


# ---------------------------------------------------------------------------------------------
# Standard metrics
# ---------------------------------------------------------------------------------------------

def _status_code(attributes: Mapping[str, Any]) -> int:
    """The HTTP status code as an int; 0 when missing or not a number."""
    code = attributes.get("http.response.status_code")
    if code is None:
        code = attributes.get("http.status_code")
    try:
        return int(code) if code is not None else 0
    except (TypeError, ValueError):
        return 0


def _is_success(code: int) -> str:
    # Standard metrics count every status >= 400 as a failure (unlike the Request envelope,
    # which only fails 4xx); no status at all is a failure too.
    return "True" if 0 < code < 400 else "False"


def _dependency_target(attributes: Mapping[str, Any]) -> Optional[str]:
    """``dependency/target``: exactly the target an HTTP dependency envelope with these
    attributes gets (shared helper), so the metric joins its dependencies in the portal. That
    includes the fix for the official ``"host:None"`` when ``server.port`` is absent
    (deliberate improvement 6)."""
    return http_dependency_target(attributes, http_dependency_url(attributes)) or None


def _request_duration_properties(attributes: Mapping[str, Any], tags: Mapping[str, Any]) -> Dict[str, str]:
    code = _status_code(attributes)
    props = {"_MS.MetricId": "requests/duration", "_MS.IsAutocollected": "True", "request/resultCode": str(code)}
    if "ai.operation.syntheticSource" in tags:
        props["operation/synthetic"] = "True"
    _add_role(props, tags)
    props["Request.Success"] = _is_success(code)
    return props


def _dependency_duration_properties(attributes: Mapping[str, Any], tags: Mapping[str, Any]) -> Dict[str, str]:
    code = _status_code(attributes)
    props = {
        "_MS.MetricId": "dependencies/duration",
        "_MS.IsAutocollected": "True",
        "Dependency.Type": "http",
        "Dependency.Success": _is_success(code),
    }
    target = _dependency_target(attributes)
    if target is not None:
        props["dependency/target"] = target
    props["dependency/resultCode"] = str(code)
    _add_role(props, tags)
    return props


def _add_role(props: Dict[str, str], tags: Mapping[str, Any]) -> None:
    instance = tags.get("ai.cloud.roleInstance")
    if instance is not None:
        props["cloud/roleInstance"] = instance
    role = tags.get("ai.cloud.role")
    if role is not None:
        props["cloud/roleName"] = role


# ---------------------------------------------------------------------------------------------
# Points
# ---------------------------------------------------------------------------------------------

def _metric_entry(point: Any, name: str, namespace: Optional[str]) -> Dict[str, Any]:
    """The one ``metrics[]`` item: value/count, plus min/max for histograms (no stdDev, no
    buckets: the service has nowhere to put them)."""
    entry: Dict[str, Any] = {"name": name}
    if namespace is not None:
        entry["ns"] = namespace
    count = getattr(point, "count", None)
    if count is None:  # NumberDataPoint (Sum or Gauge)
        entry["value"] = point.value
        entry["count"] = 1
        return entry
    entry["value"] = point.sum  # HistogramDataPoint / ExponentialHistogramDataPoint
    entry["count"] = int(count)
    if point.min is not None:
        entry["min"] = point.min
    if point.max is not None:
        entry["max"] = point.max
    return entry


def _envelope_metric_name(lowered_name: str) -> str:
    """Performance counters by their Windows counter name, anything else as is (truncated)."""
    return _PERFORMANCE_COUNTER_NAMES.get(lowered_name, lowered_name)[:MAX_NAME]


def point_to_envelope(
    point: Any,
    metric_name: str,
    resource: Any,
    scope: Any,
    ikey: str,
    namespace_opt_in: bool = False,
    role: Optional[Role] = None,
) -> Optional[Dict[str, Any]]:
    """The envelope for one data point, or None for instruments Application Insights drops.

    ``role``: the process's role (:mod:`ai_core.role`), in the tags and in the standard
    metrics' ``cloud/roleName``/``cloud/roleInstance``; None takes it from the resource.
    """
    # The SDK already lower-cases instrument names; hand-built points may not have been.
    lowered = metric_name.lower()
    if lowered in DROPPED_INSTRUMENTS:
        return None
    attributes = point.attributes or {}
    tags = resource_tags(resource, role)
    if attributes and synthetic_source(attributes):
        tags["ai.operation.syntheticSource"] = "True"

    if lowered in REQUEST_DURATION_NAMES:
        props = _request_duration_properties(attributes, tags)
    elif lowered in _DEPENDENCY_DURATION_NAMES:
        props = _dependency_duration_properties(attributes, tags)
    else:
        props = properties_from(attributes)

    namespace = scope.name[:_MAX_NAMESPACE] if namespace_opt_in and scope is not None else None
    base_data = {
        "ver": 2,
        "properties": props,
        "metrics": [_metric_entry(point, _envelope_metric_name(lowered), namespace)],
    }
    return new_envelope("Metric", ikey, tags, point.time_unix_nano, "MetricData", base_data)


def metrics_to_envelopes(
    metrics_data: MetricsData, ikey: str, namespace_opt_in: bool = False, role: Optional[Role] = None
) -> List[Dict[str, Any]]:
    """Every data point of an export, in order, minus the dropped ones."""
    envelopes: List[Dict[str, Any]] = []
    append = envelopes.append
    for resource_metrics in metrics_data.resource_metrics:
        resource = resource_metrics.resource
        for scope_metrics in resource_metrics.scope_metrics:
            scope = scope_metrics.scope
            for metric in scope_metrics.metrics:
                name = metric.name
                for point in metric.data.data_points:
                    envelope = point_to_envelope(point, name, resource, scope, ikey, namespace_opt_in, role)
                    if envelope is not None:
                        append(envelope)
    return envelopes
