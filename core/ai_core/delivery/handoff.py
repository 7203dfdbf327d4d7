"""The hand-off to the export worker: the SDK's span/log-record processors and metric reader.

They only hand items to the worker's queues: conversion to envelopes, encoding and HTTP all
happen on the worker thread, never on the request thread.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Optional, Sequence

from opentelemetry.context import Context
from opentelemetry.sdk._logs import LogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExporter, MetricReader, MetricsData
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from ai_core.delivery.worker import Channel, ExportWorker
from ai_core.diagnostics import DROPS
from ai_core.envelopes.logs import trace_sampled

logger = logging.getLogger("ai_core")


class QueueSpanProcessor(SpanProcessor):
    """Sampled spans -> the worker's span queue of every destination (ours, the Collector's)."""

    def __init__(self, worker: ExportWorker, *channels: Channel) -> None:
        self._worker = worker
        self._channels = channels

    def on_start(self, span: Span, parent_context: Optional[Context] = None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        if span.context.trace_flags.sampled:
            for channel in self._channels:
                self._worker.submit(channel, span)

    def shutdown(self) -> None:
        pass  # the Telemetry handle stops the shared worker once, after every signal

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._worker.flush(timeout_millis / 1000)


class QueueLogRecordProcessor(LogRecordProcessor):
    """Log records -> the worker's log queue of every destination.

    A record written inside a trace that was not sampled is dropped with it: sampling is
    trace-consistent (as Application Insights samples by operation), and an excluded request
    (a DROP at its server span) must produce no telemetry at all, its log lines included.
    """

    def __init__(self, worker: ExportWorker, *channels: Channel) -> None:
        self._worker = worker
        self._channels = channels

    def on_emit(self, log_record: Any) -> None:
        record = getattr(log_record, "log_record", None)
        if record is not None and trace_sampled(record) is False:
            return
        for channel in self._channels:
            self._worker.submit(channel, log_record)

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


def collect_all(readers: Sequence[MetricReader]) -> Callable[[], None]:
    """The worker's ``collect_metrics``: one collection per reader (one per destination); a
    reader that fails does not keep the others from exporting."""

    def collect() -> None:
        for reader in readers:
            try:
                reader.collect()
            except Exception:
                DROPS.add("metrics lost: collection or export raised")
                logger.debug("metric collection raised", exc_info=True)

    return collect


class WorkerStartingMeterProvider(MeterProvider):
    """A MeterProvider that starts the export worker when application code asks for a meter.

    Spans and log records start the worker with their first item; metric measurements give
    no such signal, so a process that records only metrics would otherwise export them at
    shutdown only. ``arm()`` is called once ``configure()`` is done, so the meters that the
    instrumentations create during set-up do not count as activity.
    """

    def __init__(self, worker: ExportWorker, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._worker = worker
        self._armed = False

    def arm(self) -> None:
        self._armed = True

    def get_meter(self, *args: Any, **kwargs: Any) -> Any:
        if self._armed:
            try:
                self._worker.ensure_started()
            except Exception:  # telemetry must never break the caller
                pass
        return super().get_meter(*args, **kwargs)
