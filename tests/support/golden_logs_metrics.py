"""Rebuild the golden log and metric inputs as real OpenTelemetry SDK objects.

Logs: an SDK ``LogRecord`` (timestamps, trace context, severity, body, typed attributes)
inside a ``ReadableLogRecord`` with the case's resource and scope, either built directly or
emitted through a real ``LoggerProvider`` (``emitted_log_record``). For cases made through
Python ``logging`` the input's attributes are already what the ``LoggingHandler`` produced.

Metrics: a ``NumberDataPoint``/``HistogramDataPoint`` with the case's attributes, times and
values, plus metric name, resource and scope; ``metrics_data_for`` wraps one into a
``MetricsData`` the way a reader hands it to an exporter.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Tuple

from opentelemetry.context import Context
from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider, ReadableLogRecord
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Gauge,
    Histogram,
    HistogramDataPoint,
    Metric,
    MetricsData,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import INVALID_SPAN, NonRecordingSpan, SpanContext, TraceFlags, set_span_in_context

from golden_support import hex_int, make_resource, make_scope, typed_attributes, typed_value

# ---------------------------------------------------------------------------------------------
# Logs
# ---------------------------------------------------------------------------------------------

_SCALAR_BODY_TYPES = frozenset({"string", "int", "bool", "double"})


def log_body(inp: Mapping[str, Any]) -> Any:
    """The body as the SDK held it: scalars typed, maps and lists as they were (a list body is
    a list of mixed values, not a typed ``string[]`` attribute)."""
    body = inp.get("body")
    if inp.get("body_type") in _SCALAR_BODY_TYPES:
        return typed_value(body, inp["body_type"])
    return body


def log_context(inp: Mapping[str, Any]) -> Context:
    """A context holding the case's span context, or an explicitly invalid one (so the SDK does
    not pick up whatever span happens to be current in the test)."""
    trace_id = hex_int(inp.get("trace_id"))
    if not trace_id:
        return set_span_in_context(INVALID_SPAN, Context())
    span_context = SpanContext(
        trace_id=trace_id,
        span_id=hex_int(inp.get("span_id")) or 0,
        is_remote=False,
        trace_flags=TraceFlags(inp.get("trace_flags") or 0),
    )
    return set_span_in_context(NonRecordingSpan(span_context), Context())


def api_log_record(inp: Mapping[str, Any]) -> LogRecord:
    severity = inp.get("severity_number")
    return LogRecord(
        timestamp=inp.get("timestamp"),
        observed_timestamp=inp.get("observed_timestamp"),
        context=log_context(inp),
        severity_text=inp.get("severity_text"),
        severity_number=SeverityNumber(severity) if severity is not None else None,
        body=log_body(inp),
        attributes=typed_attributes(inp.get("attributes"), inp.get("attribute_types")),
        event_name=inp.get("event_name"),
    )


def readable_log_record(case: Mapping[str, Any]) -> ReadableLogRecord:
    """The case as an exporter receives it, built directly."""
    inp = case["input"]
    return ReadableLogRecord(
        log_record=api_log_record(inp),
        resource=make_resource(inp.get("resource")),
        instrumentation_scope=make_scope(inp.get("instrumentation_scope")),
    )


def emitted_log_record(case: Mapping[str, Any]) -> ReadableLogRecord:
    """The case emitted through a real LoggerProvider/Logger/processor into an in-memory
    exporter: what our exporter really receives (bounded attributes, copied records)."""
    inp = case["input"]
    scope = make_scope(inp.get("instrumentation_scope"))
    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider(resource=make_resource(inp.get("resource")), shutdown_on_exit=False)
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    logger = provider.get_logger(scope.name, scope.version) if scope else provider.get_logger("")
    logger.emit(api_log_record(inp))
    provider.shutdown()
    (record,) = exporter.get_finished_logs()
    return record


# ---------------------------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------------------------

def data_point(inp: Mapping[str, Any]) -> Any:
    """The case's point: NumberDataPoint or HistogramDataPoint with typed attributes."""
    attributes = typed_attributes(inp.get("attributes"), inp.get("attribute_types"))
    if inp["point_type"] == "HistogramDataPoint":
        return HistogramDataPoint(
            attributes=attributes,
            start_time_unix_nano=inp["start_time_unix_nano"],
            time_unix_nano=inp["time_unix_nano"],
            count=inp["count"],
            sum=inp["sum"],
            bucket_counts=inp.get("bucket_counts") or [],
            explicit_bounds=inp.get("explicit_bounds") or [],
            min=inp.get("min"),
            max=inp.get("max"),
        )
    return NumberDataPoint(
        attributes=attributes,
        start_time_unix_nano=inp["start_time_unix_nano"],
        time_unix_nano=inp["time_unix_nano"],
        value=inp["value"],
    )


def point_inputs(case: Mapping[str, Any]) -> Tuple[Any, str, Resource, Optional[InstrumentationScope]]:
    """(point, metric_name, resource, scope) for ``point_to_envelope``."""
    inp = case["input"]
    return (
        data_point(inp),
        inp["metric_name"],
        make_resource(inp.get("resource")),
        make_scope(inp.get("instrumentation_scope")),
    )


def namespace_opt_in(case: Mapping[str, Any]) -> bool:
    return "METRIC_NAMESPACE_OPT_IN=true" in (case["input"].get("note") or "")


def _metric_data(inp: Mapping[str, Any], point: Any) -> Any:
    temporality = AggregationTemporality[inp["aggregation_temporality"] or "CUMULATIVE"]
    if isinstance(point, HistogramDataPoint):
        return Histogram(data_points=[point], aggregation_temporality=temporality)
    if inp.get("data_type") == "Sum":
        return Sum(data_points=[point], aggregation_temporality=temporality, is_monotonic=bool(inp.get("is_monotonic")))
    return Gauge(data_points=[point])


def metrics_data_for(case: Mapping[str, Any]) -> MetricsData:
    """One point wrapped in MetricsData/ResourceMetrics/ScopeMetrics/Metric as a reader does."""
    inp = case["input"]
    point, name, resource, scope = point_inputs(case)
    metric = Metric(
        name=name,
        description=inp.get("description") or None,
        unit=inp.get("unit") or None,
        data=_metric_data(inp, point),
    )
    scope = scope or InstrumentationScope("")
    return MetricsData(
        resource_metrics=[
            ResourceMetrics(
                resource=resource,
                scope_metrics=[ScopeMetrics(scope=scope, metrics=[metric], schema_url="")],
                schema_url="",
            )
        ]
    )


def recorded_measurements(case: Mapping[str, Any]) -> List[Dict[str, Any]]:
    """The measurements the golden run recorded through the real instrument (typed like the
    point's attributes: every measurement of a case uses the same attribute types; the string
    "see point attributes" stands for the point's own attributes)."""
    inp = case["input"]
    types = inp.get("attribute_types")
    out = []
    for m in inp.get("measurements") or []:
        attributes = m.get("attributes")
        if not isinstance(attributes, Mapping):
            attributes = inp.get("attributes")
        out.append({"value": m["value"], "attributes": typed_attributes(attributes, types)})
    return out
