"""How each benchmark mode switches telemetry on, shared by the hello-world apps.

``BENCH_MODE``: ``plain`` (nothing), ``floor`` (the stock OpenTelemetry instrumentation with a
do-nothing exporter: the cost of the instrumentation itself), ``official`` (Microsoft's
azure-monitor-opentelemetry distro at 100% sampling), ``ours`` (this project's adapter).
``BENCH_CS`` is the connection string of the local sink.
"""

from __future__ import annotations

import os
from typing import Any

MODE = os.environ.get("BENCH_MODE", "plain")
CS = os.environ.get("BENCH_CS", "")


def floor_provider() -> Any:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class Nothing(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Nothing()))
    trace.set_tracer_provider(provider)
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
