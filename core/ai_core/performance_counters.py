"""The portal's Performance counters: process and machine load, request and exception rates.

Nine observable gauges on the pipeline's MeterProvider, read at each metric collection (every
``OTEL_METRIC_EXPORT_INTERVAL``, with the other metrics), so they travel the ordinary metric
path; ``ai_core.envelopes.metrics`` gives them the counter names the portal's Performance
counters view queries (README, "Performance counters"). Each gauge measures over the time
since its own previous reading, so a collection that comes early (a flush) shortens a window
and loses nothing; one that comes right after another (the flushes at shutdown) sends nothing.

Requests and exceptions are counted as they end, by a span processor and a log record
processor: about a microsecond per request (a lock and a few additions), less for other
spans, nothing else on the request thread. They count what becomes an item, so each failure counts once, as it is stored once:

* a request is a server or consumer span (what becomes a Request item); its duration feeds
  the mean execution time;
* an exception is an ``exception`` event on a span or a log record carrying an exception
  (what becomes an Exception item). The adapters already keep a framework's second report of
  an uncaught exception (Django's ``django.request`` line, Flask's "Exception on ...") out of
  the log pipeline, so it never reaches the counter either;
* under sampling each counted item weighs 100 / its sample rate, so the rates are the app's
  true rates; excluded requests send nothing and count nothing.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Iterator, List, Optional

from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk._logs import LogRecordProcessor
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.util import BoundedList
from opentelemetry.trace import SpanKind

from ai_core.envelopes.logs import trace_sampled
from ai_core.forking import after_fork_in_child
from ai_core.process_usage import (
    UsageMeter,
    available_memory_bytes,
    process_io_bytes,
    process_memory,
)
from ai_core.sampler import SAMPLE_RATE_ATTRIBUTE, item_weight
from ai_core.span_attributes import span_attributes

__all__ = ["METER_NAME", "PerformanceCounters", "enable_performance_counters"]

METER_NAME = "ai_core.performance_counters"

PROCESS_TIME = "azuremonitor.performancecounter.processtime"
PROCESS_TIME_NORMALIZED = "azuremonitor.performancecounter.processtimenormalized"
PROCESS_PRIVATE_BYTES = "azuremonitor.performancecounter.processprivatebytes"
PROCESS_IO_BYTES_PER_SECOND = "azuremonitor.performancecounter.processiobytessec"
PROCESSOR_TOTAL_TIME = "azuremonitor.performancecounter.processortotalprocessortime"
AVAILABLE_MEMORY = "azuremonitor.performancecounter.memoryavailablebytes"
EXCEPTIONS_PER_SECOND = "azuremonitor.performancecounter.exceptionssec"
REQUESTS_PER_SECOND = "azuremonitor.performancecounter.requestssec"
REQUEST_EXECUTION_TIME = "azuremonitor.performancecounter.requestexecutiontime"

_REQUEST_KINDS = (SpanKind.SERVER, SpanKind.CONSUMER)
_EXCEPTION_KEYS = ("exception.type", "exception.message")

Reading = Callable[[], Optional[float]]


def enable_performance_counters(
    meter_provider: Any, tracer_provider: Any, logger_provider: Any, sampling_ratio: float = 1.0,
    readers: int = 1,
) -> "PerformanceCounters":
    """Register the counters' gauges and processors on a pipeline's providers (``readers``:
    how many metric readers the meter provider has).

    Call before the meter provider starts the export worker on ``get_meter``: the gauges must
    not count as the process's first activity (a process that records nothing sends nothing).
    """
    counters = PerformanceCounters(sampling_ratio)
    counters.register(meter_provider.get_meter(METER_NAME), readers)
    tracer_provider.add_span_processor(counters.span_processor)
    logger_provider.add_log_record_processor(counters.log_record_processor)
    return counters


class _Rate:
    """Growth per second of a running total since the previous reading."""

    def __init__(self, total: Callable[[], Optional[float]], clock: Callable[[], float]) -> None:
        self._total, self._clock = total, clock
        self.restart()

    def restart(self) -> None:
        self._since, self._last = self._clock(), self._total()

    def __call__(self) -> Optional[float]:
        now, total = self._clock(), self._total()
        elapsed, last = now - self._since, self._last
        self._since, self._last = now, total
        if total is None or last is None or elapsed <= 0:
            return None
        return max(total - last, 0) / elapsed


class _ItemCounts:
    """Requests, their durations and exceptions since the previous reading (any thread adds)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.restart()

    def restart(self) -> None:
        self._lock = threading.Lock()  # another thread may have held it at fork
        self._requests = self._duration_ms = self._exceptions = 0.0
        self._since = self._clock()
        self.requests_per_second: Optional[float] = 0.0
        self.mean_duration_ms: Optional[float] = None
        self.exceptions_per_second: Optional[float] = 0.0

    def add_request(self, weight: float, duration_ms: float, exceptions: int = 0) -> None:
        with self._lock:
            self._requests += weight
            self._duration_ms += weight * duration_ms
            if exceptions:
                self._exceptions += weight * exceptions

    def add_exceptions(self, weight: float) -> None:
        with self._lock:
            self._exceptions += weight

    def take(self) -> None:
        """Turn what was counted since the previous ``take`` into rates, and start again."""
        with self._lock:
            requests, duration_ms, exceptions = self._requests, self._duration_ms, self._exceptions
            self._requests = self._duration_ms = self._exceptions = 0.0
            now = self._clock()
            elapsed, self._since = now - self._since, now
        if elapsed <= 0:
            return
        self.requests_per_second = requests / elapsed
        self.exceptions_per_second = exceptions / elapsed
        self.mean_duration_ms = duration_ms / requests if requests else None


class PerformanceCounters:
    """The nine gauges' readings and the processors that count requests and exceptions.

    Each gauge reads at its own collection callback, from its own window; the three item
    gauges share one window, taken by the first of them in each collection
    (requests per second), so the mean execution time covers the same requests.
    """

    def __init__(self, sampling_ratio: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        # A log record inside a sampled trace stands for as many records as its trace's spans.
        self._log_weight = 1.0 / sampling_ratio if 0 < sampling_ratio < 1 else 1.0
        self._cpu = UsageMeter(clock)
        self._cpu_normalized = UsageMeter(clock)
        self._machine = UsageMeter(clock)
        self._io = _Rate(_as_float(process_io_bytes), clock)
        self.counts = _ItemCounts(clock)
        self.span_processor = _CountingSpanProcessor(self.counts)
        self.log_record_processor = _CountingLogRecordProcessor(self.counts, self._log_weight)
        after_fork_in_child(self.restart)

    def restart(self) -> None:
        """Measure everything from now on (a forked child starts its own windows)."""
        for meter in (self._cpu, self._cpu_normalized, self._machine, self._io, self.counts):
            meter.restart()

    def readings(self) -> List[tuple]:
        """``(instrument name, unit, description, reading)`` of every counter, in table order."""
        return [
            (PROCESS_TIME, "%", "Process CPU, percent of one CPU", lambda: self._cpu.read().process_cpu_percent),
            (PROCESS_TIME_NORMALIZED, "%", "Process CPU, percent of all CPUs",
             lambda: self._cpu_normalized.read().process_cpu_percent_normalized),
            (PROCESS_PRIVATE_BYTES, "By", "Process private memory", _as_float(lambda: process_memory().private_bytes)),
            (PROCESS_IO_BYTES_PER_SECOND, "By/s", "Process I/O (files and sockets)", self._io),
            (PROCESSOR_TOTAL_TIME, "%", "Machine CPU busy", lambda: self._machine.read().machine_cpu_percent),
            (AVAILABLE_MEMORY, "By", "Machine memory available", _as_float(available_memory_bytes)),
            (REQUESTS_PER_SECOND, "{request}/s", "Requests per second", self._requests_per_second),
            (REQUEST_EXECUTION_TIME, "ms", "Mean request duration", lambda: self.counts.mean_duration_ms),
            (EXCEPTIONS_PER_SECOND, "{exception}/s", "Exceptions per second", lambda: self.counts.exceptions_per_second),
        ]

    def register(self, meter: Any, readers: int = 1) -> None:
        """Create the gauges on ``meter``, whose provider has ``readers`` metric readers."""
        for name, unit, description, reading in self.readings():
            meter.create_observable_gauge(
                name, callbacks=[_Callback(reading, self._clock, readers)], unit=unit, description=description
            )

    def _requests_per_second(self) -> Optional[float]:
        self.counts.take()
        return self.counts.requests_per_second


class _Callback:
    """A gauge's callback: one reading per collection round, given once to each metric reader.

    The SDK runs the callbacks once per reader (with an OTLP endpoint there are two, a few
    milliseconds apart): a second reading would measure those milliseconds and end the window
    the next round needs, so a reading younger than ``SAME_ROUND_S`` is given to the round's
    other readers. A collection right after a whole round (at shutdown a flush is followed by
    the provider's own) gets no point: sending the window again would count its requests
    twice in the portal's sums, and the next reading still measures from this one, so nothing
    is lost. The shortest metric interval is 1 s, so timed rounds always read afresh.
    """

    SAME_ROUND_S = 0.5

    def __init__(self, reading: Reading, clock: Callable[[], float], readers: int = 1) -> None:
        self._reading, self._clock, self._readers = reading, clock, max(readers, 1)
        self._at: Optional[float] = None
        self._value: Optional[float] = None
        self._given = 0

    def __call__(self, options: CallbackOptions) -> Iterator[Observation]:
        now = self._clock()
        if self._at is None or not 0 <= now - self._at < self.SAME_ROUND_S:
            self._at, self._given = now, 0
            try:
                self._value = self._reading()
            except Exception:  # a reading that fails sends no point; the other counters go on
                self._value = None
        if self._given >= self._readers:
            return
        self._given += 1
        if self._value is not None:
            yield Observation(self._value)


def _as_float(read: Callable[[], Optional[int]]) -> Reading:
    def reading() -> Optional[float]:
        value = read()
        return None if value is None else float(value)

    return reading


def _events(span: ReadableSpan) -> Any:
    """The span's events without the copy ``ReadableSpan.events`` makes under a lock (about a
    microsecond on every span end, although almost every span has none)."""
    raw = getattr(span, "_events", None)
    if raw.__class__ is BoundedList:
        return raw._dq  # noqa: SLF001 (read-only use of the SDK's storage)
    return span.events


class _CountingSpanProcessor(SpanProcessor):
    """Counts requests (with their durations) and exception events as spans end."""

    def __init__(self, counts: _ItemCounts) -> None:
        self._counts = counts

    def on_start(self, span: Span, parent_context: Any = None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        try:
            events = _events(span)
            is_request = span.kind in _REQUEST_KINDS
            if not (is_request or events):
                return  # most spans: a dependency without events
            attributes = span_attributes(span)
            weight = item_weight(attributes.get(SAMPLE_RATE_ATTRIBUTE) if attributes else None)
            exceptions = sum(1 for event in events if event.name == "exception") if events else 0
            if is_request:
                start, end = span.start_time, span.end_time
                self._counts.add_request(weight, (end - start) / 1e6 if start and end else 0.0, exceptions)
            elif exceptions:
                self._counts.add_exceptions(weight * exceptions)
        except Exception:  # never into the request
            pass

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


class _CountingLogRecordProcessor(LogRecordProcessor):
    """Counts log records that become Exception items (those written in a dropped trace
    are dropped with it, so they count nothing)."""

    def __init__(self, counts: _ItemCounts, sampled_weight: float) -> None:
        self._counts = counts
        self._sampled_weight = sampled_weight

    def on_emit(self, log_data: Any) -> None:
        try:
            record = getattr(log_data, "log_record", log_data)
            attributes = record.attributes
            if not attributes or not any(attributes.get(key) is not None for key in _EXCEPTION_KEYS):
                return
            sampled = trace_sampled(record)
            if sampled is False:
                return
            self._counts.add_exceptions(self._sampled_weight if sampled else 1.0)
        except Exception:  # never into the caller's logging
            pass

    emit = on_emit  # older SDKs call emit()

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
