"""OpenTelemetry processor/reader interfaces in front of the export worker.

They only hand items to the worker's queues: conversion to envelopes, encoding and HTTP all
happen on the worker thread, never on the request thread.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from opentelemetry.context import Context
from opentelemetry.sdk._logs import LogRecordProcessor
from opentelemetry.sdk.metrics.export import MetricExporter, MetricReader, MetricsData
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from ai_core.delivery.worker import Channel, ExportWorker


class QueueSpanProcessor(SpanProcessor):
    """Sampled spans -> the worker's span queue."""

    def __init__(self, worker: ExportWorker, channel: Channel) -> None:
        self._worker = worker
        self._channel = channel

    def on_start(self, span: Span, parent_context: Optional[Context] = None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        if span.context.trace_flags.sampled:
            self._worker.submit(self._channel, span)

    def shutdown(self) -> None:
        pass  # the Telemetry handle stops the shared worker once, after every signal

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._worker.flush(timeout_millis / 1000)


class QueueLogRecordProcessor(LogRecordProcessor):
    """Log records -> the worker's log queue."""

    def __init__(self, worker: ExportWorker, channel: Channel) -> None:
        self._worker = worker
        self._channel = channel

    def on_emit(self, log_record: Any) -> None:
        self._worker.submit(self._channel, log_record)

    emit = on_emit  # older SDKs call emit()

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._worker.flush(timeout_millis / 1000)


class WorkerMetricReader(MetricReader):
    """Collected by the export worker on its timer instead of a thread of its own."""

    def __init__(self, exporter: MetricExporter) -> None:
        super().__init__(
            preferred_temporality=exporter._preferred_temporality,
            preferred_aggregation=exporter._preferred_aggregation,
        )
        self._exporter = exporter

    def _receive_metrics(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any) -> None:
        if metrics_data is not None and metrics_data.resource_metrics:
            self._exporter.export(metrics_data, timeout_millis=timeout_millis)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        pass

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True
