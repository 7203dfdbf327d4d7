"""The SDK processors that feed Live Metrics: spans and log records, as they end.

While nobody watches they cost one attribute read (``collecting``) per item; the process's
first item also starts the Live Metrics thread. While someone watches they append the item to
the stream's bounded buffer; conversion happens on the Live Metrics thread, never here.
Unsampled items never reach them (the sampler drops them before any processor); a log record
written in an unsampled trace is skipped, as the exporter skips it.
"""

from __future__ import annotations

from typing import Any, Optional

from opentelemetry.context import Context
from opentelemetry.sdk._logs import LogRecordProcessor
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from ai_core.envelopes.logs import trace_sampled
from ai_core.live_metrics.stream import LiveStream


class LiveSpanProcessor(SpanProcessor):
    def __init__(self, stream: LiveStream) -> None:
        self._stream = stream

    def on_start(self, span: Span, parent_context: Optional[Context] = None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        stream = self._stream
        if stream.collecting:
            if span.context.trace_flags.sampled:
                stream.collector.add(span)
        elif stream.idle:
            stream.wake()

    def shutdown(self) -> None:
        self._stream.shutdown()  # TracerProvider.shutdown(), i.e. the Telemetry handle's shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


class LiveLogRecordProcessor(LogRecordProcessor):
    def __init__(self, stream: LiveStream) -> None:
        self._stream = stream

    def on_emit(self, log_record: Any) -> None:
        stream = self._stream
        if stream.collecting:
            record = getattr(log_record, "log_record", None)
            if record is not None and trace_sampled(record) is False:
                return
            stream.collector.add(log_record)
        elif stream.idle:
            stream.wake()

    emit = on_emit  # older SDKs call emit()

    def shutdown(self) -> None:
        pass  # the span processor stops the stream

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
