"""How each benchmark mode switches telemetry on, shared by the hello-world apps.

``BENCH_MODE``: ``plain`` (nothing), ``floor`` (the stock OpenTelemetry instrumentations of the
framework, sqlite3 and urllib, and the logging bridge, with do-nothing exporters: the cost of the
instrumentation itself, the same set for every framework), ``official`` (Microsoft's
azure-monitor-opentelemetry distro at 100% sampling), ``ours`` (this project's adapter).
``BENCH_CS`` is the connection string of the local sink.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Optional

MODE = os.environ.get("BENCH_MODE", "plain")
CS = os.environ.get("BENCH_CS", "")

if MODE == "plain":
    # The other modes put a handler on the root logger; without one, the realistic route's
    # warning would go to logging's last-resort stderr writer (a write per request, into a
    # pipe web.py reads only when the server has stopped).
    import logging

    logging.getLogger().addHandler(logging.NullHandler())


def floor_provider(on_spans: Optional[Callable[[int], None]] = None) -> Any:
    """The floor's tracer provider, and the OpenTelemetry logging bridge, both exporting nothing.

    Every framework's floor calls this (and ``export_cost.py`` and ``request_cost.py`` for their
    floors), so all pay the same: spans and log records go through the SDK's batch processors to
    exporters that drop them, and the logging bridge's handler sits on the root logger as the
    product's does (the realistic route logs a warning). No meter provider: the target compares
    the whole product, its standard metrics included, with what the instrumentations cost
    before anything is sent (the stock instrumentations' metric calls then go to the API's
    no-op meter). The caller adds its framework, sqlite3 and urllib instrumentations on the
    returned provider. ``on_spans``: told how many spans each export dropped
    (``export_cost.py`` counts them).
    """
    import logging

    from opentelemetry import trace
    from opentelemetry._logs import set_logger_provider
    from opentelemetry.instrumentation.logging.handler import LoggingHandler
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExporter, LogRecordExportResult
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class Nothing(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            if on_spans is not None:
                on_spans(len(spans))
            return SpanExportResult.SUCCESS

    class NoLogs(LogRecordExporter):
        def export(self, batch: Any) -> LogRecordExportResult:
            return LogRecordExportResult.SUCCESS

        def shutdown(self) -> None:
            pass

        def force_flush(self, timeout_millis: int = 30000) -> bool:
            return True

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Nothing()))
    trace.set_tracer_provider(provider)
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(BatchLogRecordProcessor(NoLogs()))
    set_logger_provider(logger_provider)
    logging.getLogger().addHandler(LoggingHandler(logger_provider=logger_provider))
    return provider


def official() -> None:
    # No statsbeat, live metrics or cloud metadata probing: only the work a user pays per request.
    os.environ.setdefault("APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL", "true")
    os.environ.setdefault("OTEL_EXPERIMENTAL_RESOURCE_DETECTORS", "otel")
    from azure.monitor.opentelemetry import configure_azure_monitor

    configure_azure_monitor(connection_string=CS, sampling_ratio=1.0, enable_live_metrics=False,
                            disable_offline_storage=True)
    # The distro does not trace sqlite3; the other modes do, so the realistic route compares alike.
    from opentelemetry.instrumentation.sqlite3 import SQLite3Instrumentor

    SQLite3Instrumentor().instrument()


def realistic_work(logger_name: str) -> str:
    """The realistic route's body: one SQLite query, one outbound HTTP call, one log line."""
    import logging
    import sqlite3
    import urllib.request

    conn = sqlite3.connect(":memory:")
    try:
        cur = conn.cursor()
        cur.execute("SELECT 1")
        cur.fetchall()
    finally:
        conn.close()
    sink = CS.split("IngestionEndpoint=", 1)[1] if "IngestionEndpoint=" in CS else "http://127.0.0.1:9"
    with urllib.request.urlopen(sink + "/ping", timeout=5) as resp:
        resp.read()
    logging.getLogger(logger_name).warning("served the realistic route")
    return "ok"
