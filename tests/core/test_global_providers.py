"""The switching providers behind OpenTelemetry's globals (ai_core.global_providers), tested on
their own, without touching this process's globals: whatever they handed out follows a switch
to another pipeline's providers."""

from __future__ import annotations

import asyncio

import pytest
from opentelemetry.metrics import Observation
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from ai_core.global_providers import GlobalLoggerProvider, GlobalMeterProvider, GlobalTracerProvider


def _tracing():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def _names(exporter) -> list:
    return [span.name for span in exporter.get_finished_spans()]


def test_tracers_handed_out_earlier_follow_the_switch():
    (p1, e1), (p2, e2) = _tracing(), _tracing()
    global_provider = GlobalTracerProvider(p1)
    tracer = global_provider.get_tracer("app", "1.0")

    @tracer.start_as_current_span("decorated")
    def work():
        return 42

    @tracer.start_as_current_span("decorated-async")
    async def async_work():
        await asyncio.sleep(0)
        return 43

    def record(suffix):
        with tracer.start_as_current_span("outer-" + suffix) as outer:
            tracer.start_span("inner-" + suffix).end()
            assert outer.is_recording()
        assert work() == 42
        assert asyncio.run(async_work()) == 43

    record("1")
    global_provider._switch(p2)
    record("2")
    assert sorted(_names(e1)) == ["decorated", "decorated-async", "inner-1", "outer-1"]
    assert sorted(_names(e2)) == ["decorated", "decorated-async", "inner-2", "outer-2"]
    inner, outer = e2.get_finished_spans()[:2]
    assert inner.parent.span_id == outer.context.span_id  # the current span is set as usual
    assert inner.instrumentation_scope.name == "app" and inner.instrumentation_scope.version == "1.0"
    assert global_provider.get_tracer("app", "1.0") is tracer


def test_an_exception_in_a_current_span_is_recorded_and_propagates():
    provider, exporter = _tracing()
    tracer = GlobalTracerProvider(provider).get_tracer("app")
    with pytest.raises(KeyError):
        with tracer.start_as_current_span("failing"):
            raise KeyError("missing")
    span = exporter.get_finished_spans()[0]
    assert span.status.status_code is StatusCode.ERROR
    assert [event.name for event in span.events] == ["exception"]


def test_unknown_attributes_are_the_current_sdk_providers():
    (p1, _), (p2, e2) = _tracing(), _tracing()
    global_provider = GlobalTracerProvider(p1)
    global_provider._switch(p2)
    assert global_provider.resource is p2.resource
    assert global_provider.force_flush() is True
    extra = InMemorySpanExporter()
    global_provider.add_span_processor(SimpleSpanProcessor(extra))  # lands on p2
    global_provider.get_tracer("x").start_span("s").end()
    assert _names(extra) == ["s"] and _names(e2) == ["s"]


def test_loggers_follow_the_switch():
    def logging_pipeline():
        exporter = InMemoryLogRecordExporter()
        provider = LoggerProvider()
        provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
        return provider, exporter

    (p1, e1), (p2, e2) = logging_pipeline(), logging_pipeline()
    global_provider = GlobalLoggerProvider(p1)
    otel_logger = global_provider.get_logger("app")
    otel_logger.emit(body="one")
    global_provider._switch(p2)
    otel_logger.emit(body="two")
    assert [r.log_record.body for r in e1.get_finished_logs()] == ["one"]
    assert [r.log_record.body for r in e2.get_finished_logs()] == ["two"]
    assert otel_logger.enabled() is True
    assert global_provider.get_logger("app") is otel_logger


def _points(reader) -> dict:
    data = reader.get_metrics_data()
    out = {}
    for resource_metrics in data.resource_metrics if data else ():
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                point = metric.data.data_points[0]
                out[metric.name] = point.value if hasattr(point, "value") else point.sum  # histogram: sum
    return out


def test_instruments_created_earlier_are_recreated_on_the_new_pipeline():
    r1, r2 = InMemoryMetricReader(), InMemoryMetricReader()
    p1, p2 = MeterProvider(metric_readers=[r1]), MeterProvider(metric_readers=[r2])
    global_provider = GlobalMeterProvider(p1)
    meter = global_provider.get_meter("app")
    counter = meter.create_counter("orders")
    updown = meter.create_up_down_counter("in_flight")
    histogram = meter.create_histogram("latency", explicit_bucket_boundaries_advisory=[1.0, 10.0])
    gauge = meter.create_gauge("temperature")
    depth = [5]
    meter.create_observable_gauge("depth", callbacks=[lambda options: [Observation(depth[0])]])
    meter.create_observable_counter("ticks", callbacks=[lambda options: [Observation(depth[0] * 10)]])
    meter.create_observable_up_down_counter("level", callbacks=[lambda options: [Observation(-depth[0])]])

    def record(n):
        counter.add(n)
        updown.add(-n)
        histogram.record(n)
        gauge.set(n * 100)
        depth[0] = n

    record(1)
    first = _points(r1)
    global_provider._switch(p2)
    record(2)
    second = _points(r2)
    assert first == {"orders": 1, "in_flight": -1, "latency": 1, "temperature": 100, "depth": 1,
                     "ticks": 10, "level": -1}
    assert second == {"orders": 2, "in_flight": -2, "latency": 2, "temperature": 200, "depth": 2,
                      "ticks": 20, "level": -2}
    assert meter.create_counter("orders") is counter  # one instrument per identity, like the SDK
    assert global_provider.get_meter("app") is meter
    p1.shutdown()
    p2.shutdown()
