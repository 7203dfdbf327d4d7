"""The hand-off to the export worker: the SDK's span/log-record processors and metric reader.

They only hand items to the worker's queues: conversion to envelopes, encoding and HTTP all
happen on the worker thread, never on the request thread.

Two exceptions, both for tests (README, "Testing your telemetry"): while
``ai_core.testing.capture_telemetry()`` is active, the processors hand what ends to the capture
(a :class:`Diversion`) instead of the queues, so nothing recorded in it is sent; and a
*capture-only* pipeline (what ``configure()`` builds once :func:`request_capture_only` was
called, as the package's pytest plugin does) has a :class:`CaptureOnlyWorker` and
:class:`NoDelivery`: no thread, no HTTP, no offline storage, whatever the connection string.
"""

from __future__ import annotations

import copy

import logging
import weakref
from typing import Any, Callable, Dict, List, Optional, Sequence

from opentelemetry.context import Context
from opentelemetry.sdk._logs import LogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExporter, MetricReader, MetricsData
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from ai_core.connection_string import ConnectionString
from ai_core.delivery.worker import Channel, ExportWorker
from ai_core.diagnostics import DROPS
from ai_core.envelopes.logs import trace_sampled

logger = logging.getLogger("ai_core")

Envelope = Dict[str, Any]
ToEnvelopes = Callable[[Sequence[Any]], List[Envelope]]
"""An exporter's conversion: SDK items -> the envelopes it would send (telemetry processors applied)."""


class Diversion:
    """Where the processors hand items instead of the queues (``ai_core.testing``'s capture).

    Each method returns True when the diversion took the item; False lets it go its usual way.
    Called on the application's threads: they must be quick and never raise.
    """

    def span_started(self, span: Span, to_envelopes: ToEnvelopes) -> None:
        """A sampled span started."""

    def span_ended(self, span: ReadableSpan, to_envelopes: ToEnvelopes) -> bool:
        return False

    def log_emitted(self, log_record: Any, to_envelopes: ToEnvelopes) -> bool:
        return False

    def metrics_collected(
        self, metrics_data: MetricsData, to_envelopes: Callable[[MetricsData], List[Envelope]]
    ) -> bool:
        """A capture-only pipeline's metric reader collected (see :func:`collect_capturable_metrics`)."""
        return False


_diversion: Optional[Diversion] = None
_capture_only = False


def divert(diversion: Optional[Diversion]) -> None:
    """Send what ends from now on to ``diversion`` (None: back to the queues)."""
    global _diversion
    _diversion = diversion


def current_diversion() -> Optional[Diversion]:
    return _diversion


def request_capture_only(on: bool = True) -> None:
    """Make ``configure()`` build capture-only pipelines from now on (see the module docstring)."""
    global _capture_only
    _capture_only = on


def capture_only_requested() -> bool:
    return _capture_only


class QueueSpanProcessor(SpanProcessor):
    """Sampled spans -> the worker's span queue of every destination (ours, the Collector's).

    ``to_envelopes`` is our exporter's conversion, for a :class:`Diversion` (without it, spans
    are never diverted).
    """

    def __init__(self, worker: ExportWorker, *channels: Channel, to_envelopes: Optional[ToEnvelopes] = None) -> None:
        self._worker = worker
        self._channels = channels
        self._to_envelopes = to_envelopes

    def on_start(self, span: Span, parent_context: Optional[Context] = None) -> None:
        diversion = _diversion
        if diversion is not None and self._to_envelopes is not None and span.context.trace_flags.sampled:
            diversion.span_started(span, self._to_envelopes)

    def on_end(self, span: ReadableSpan) -> None:
        if span.context.trace_flags.sampled:
            diversion = _diversion
            if diversion is not None and self._to_envelopes is not None and diversion.span_ended(
                span, self._to_envelopes
            ):
                return
            for channel in self._channels:
                self._worker.submit(channel, span)

    def shutdown(self) -> None:
        pass  # the Telemetry handle stops the shared worker once, after every signal

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._worker.flush(timeout_millis / 1000)


def _without_context(log_record: Any) -> Any:
    """The record as queued for export: without the context it was written in.

    The conversion reads the record's own trace and span ids, never its context; but the context
    holds the request's live span (and what that span holds), which a queued record would keep
    alive until its batch is sent, long enough for the garbage collector to promote it all.
    Shallow copies, so the processors after this one still see the record as it was."""
    inner = getattr(log_record, "log_record", None)
    if inner is None or getattr(inner, "context", None) is None:
        return log_record
    inner = _shallow_copy(inner)
    inner.context = None
    outer = _shallow_copy(log_record)
    outer.log_record = inner
    return outer


_PLAIN_COPY: Dict[type, bool] = {}


def _shallow_copy(obj: Any) -> Any:
    """``copy.copy(obj)`` for the SDK's record classes (a ``__dict__``, no copy hooks) without its
    generic ``__reduce_ex__`` round trip: ~0.4 us against ~1.7 on the request thread, once per
    log line. Any other class goes through ``copy.copy``."""
    cls = obj.__class__
    plain = _PLAIN_COPY.get(cls)
    if plain is None:
        plain = _PLAIN_COPY[cls] = _copies_its_dict(cls)
    if not plain:
        return copy.copy(obj)
    new = object.__new__(cls)
    new.__dict__.update(obj.__dict__)
    return new


def _copies_its_dict(cls: type) -> bool:
    """Whether ``copy.copy`` of an instance is a new instance with the same ``__dict__``: no
    ``__copy__``, no own reduce or state hooks, no slots that hold values."""
    if any(getattr(cls, name, None) is not getattr(object, name, None)
           for name in ("__reduce_ex__", "__reduce__", "__getstate__", "__new__")):
        return False
    if hasattr(cls, "__copy__") or hasattr(cls, "__setstate__"):
        return False
    return all(not getattr(base, "__slots__", ()) for base in cls.__mro__) and "__dict__" in dir(cls)


class QueueLogRecordProcessor(LogRecordProcessor):
    """Log records -> the worker's log queue of every destination.

    A record written inside a trace that was not sampled is dropped with it: sampling is
    trace-consistent (as Application Insights samples by operation), and an excluded request
    (a DROP at its server span) must produce no telemetry at all, its log lines included.
    """

    def __init__(self, worker: ExportWorker, *channels: Channel, to_envelopes: Optional[ToEnvelopes] = None) -> None:
        self._worker = worker
        self._channels = channels
        self._to_envelopes = to_envelopes

    def on_emit(self, log_record: Any) -> None:
        record = getattr(log_record, "log_record", None)
        if record is not None and trace_sampled(record) is False:
            return
        diversion = _diversion
        if diversion is not None and self._to_envelopes is not None and diversion.log_emitted(
            log_record, self._to_envelopes
        ):
            return
        log_record = _without_context(log_record)
        for channel in self._channels:
            self._worker.submit(channel, log_record)

    emit = on_emit  # older SDKs call emit()

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._worker.flush(timeout_millis / 1000)


class WorkerMetricReader(MetricReader):
    """Collected by the export worker on its timer instead of a thread of its own.

    ``to_envelopes`` (our exporter's conversion, given in capture-only pipelines) makes it
    collectable by a capture: :func:`collect_capturable_metrics`.
    """

    def __init__(
        self, exporter: MetricExporter, to_envelopes: Optional[Callable[[MetricsData], List[Envelope]]] = None
    ) -> None:
        super().__init__(
            preferred_temporality=exporter._preferred_temporality,
            preferred_aggregation=exporter._preferred_aggregation,
        )
        self._exporter = exporter
        self._to_envelopes = to_envelopes
        if to_envelopes is not None:
            _capturable_readers.add(self)

    def _receive_metrics(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any) -> None:
        if metrics_data is not None and metrics_data.resource_metrics:
            diversion = _diversion
            if diversion is not None and self._to_envelopes is not None and diversion.metrics_collected(
                metrics_data, self._to_envelopes
            ):
                return
            self._exporter.export(metrics_data, timeout_millis=timeout_millis)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        pass

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True


_capturable_readers: "weakref.WeakSet[WorkerMetricReader]" = weakref.WeakSet()


def collect_capturable_metrics() -> None:
    """Collect the metric readers of capture-only pipelines now, into the current diversion.

    Metrics have no "ended" moment to divert at: a capture collects when it starts (to leave
    out what was measured before), when it is read and when it ends (deltas, so each
    collection holds what was measured since the previous one).
    """
    for reader in list(_capturable_readers):
        try:
            reader.collect()
        except Exception:
            DROPS.add("metrics lost: collection for a capture raised")
            logger.debug("metric collection for a capture raised", exc_info=True)


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


class CaptureOnlyWorker(ExportWorker):
    """The worker of a capture-only pipeline: it starts no thread, queues nothing and never
    looks at offline storage. What a capture does not take is not kept (on purpose, not a drop:
    a test process sends nothing)."""

    def submit(self, channel: Channel, item: Any) -> None:
        pass

    def ensure_started(self) -> None:
        pass

    def flush(self, timeout_s: float = 10.0) -> bool:
        return True

    def start_if_backlog(self) -> None:
        pass

    def shutdown(self, timeout_s: float = 10.0) -> None:
        pass


class NoDelivery:
    """The sender of a capture-only pipeline: no HTTP, no offline storage."""

    patient = False

    def send(self, envelopes: Sequence[Envelope]) -> bool:
        return True  # nothing leaves a capture-only pipeline, by design

    def has_backlog(self) -> bool:
        return False

    def drain(self, limit: int = 0) -> int:
        return 0

    def close(self) -> None:
        pass


def capture_only_connection_string(configured: Optional[ConnectionString]) -> ConnectionString:
    """The connection string a capture-only pipeline's envelopes carry: the configured one (its
    instrumentation key is what the app would send), else the all-zero key and a reserved
    name (RFC 2606) that nothing could be sent to anyway."""
    if configured is not None:
        return configured
    return ConnectionString.parse(
        "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://capture-only.invalid/"
    )
