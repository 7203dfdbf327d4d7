"""``otlp_endpoint``: also send every signal to an OpenTelemetry Collector over OTLP/HTTP.

The official ``opentelemetry-exporter-otlp-proto-http`` exporters (an optional dependency)
encode and send; this module only builds them. ``configure()`` plugs them into the same
export worker as our own exporters, as extra channels and a second metric reader, so the
Collector costs no thread of its own and its HTTP calls run under the worker's
suppress-instrumentation context like ours.
"""

from __future__ import annotations

import time
from typing import Any, Callable, List, NamedTuple

from opentelemetry.sdk.metrics.export import MetricExporter, MetricsData

from ai_core.diagnostics import DROPS
from ai_core.errors import ConfigurationError
from ai_core.forking import on_fork_in_child

PACKAGE = "opentelemetry-exporter-otlp-proto-http"
INSTALL_HINT = "pip install 'appinsights-otel[otlp]' (or pip install %s)" % PACKAGE

# The paths OTEL_EXPORTER_OTLP_ENDPOINT appends to its base URL (OTLP/HTTP specification).
TRACES_PATH, LOGS_PATH, METRICS_PATH = "v1/traces", "v1/logs", "v1/metrics"
PAUSE_AFTER_FAILURE_S = 30.0


class OtlpExporters(NamedTuple):
    """Batch export functions for the worker's channels, and the exporter for a metric reader."""

    export_spans: Callable[[List[Any]], Any]
    export_logs: Callable[[List[Any]], Any]
    metric_exporter: MetricExporter


def signal_url(endpoint: str, path: str) -> str:
    """``http://collector:4318`` -> ``http://collector:4318/v1/traces`` (a base path is kept)."""
    return "%s/%s" % (endpoint.rstrip("/"), path)


# Connection pools a forked child inherited: kept referenced, never closed or collected, because
# closing (or urllib3's finalizer) takes pool locks the parent's export thread may have held at
# the moment of the fork; one abandoned pool per fork is the price of never hanging there.
_INHERITED_POOLS: list = []


def _fresh_adapters(session: "requests.Session") -> None:
    from requests.adapters import HTTPAdapter

    _INHERITED_POOLS.append(dict(session.adapters))
    session.adapters.clear()
    session.mount("https://", HTTPAdapter())
    session.mount("http://", HTTPAdapter())


def build_otlp_exporters(endpoint: str) -> OtlpExporters:
    """The three OTLP/HTTP exporters for a Collector at ``endpoint`` (a base URL).

    Headers, timeout, compression and TLS files still come from the standard
    ``OTEL_EXPORTER_OTLP_*`` variables; the endpoint is the option's. Raises
    ``ConfigurationError`` when the optional package is not installed.
    """
    try:
        import requests
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError:
        raise ConfigurationError(
            "otlp_endpoint is set, but the OTLP exporter package %s is not installed: %s"
            % (PACKAGE, INSTALL_HINT)
        ) from None

    # One keep-alive connection to the Collector for all three signals (they are sent one
    # after the other by the worker thread). A forked child must not reuse the parent's socket.
    session = requests.Session()
    on_fork_in_child(session, _fresh_adapters)

    spans = OTLPSpanExporter(endpoint=signal_url(endpoint, TRACES_PATH), session=session)
    logs = OTLPLogExporter(endpoint=signal_url(endpoint, LOGS_PATH), session=session)
    metrics = OTLPMetricExporter(endpoint=signal_url(endpoint, METRICS_PATH), session=session)
    gate = CollectorGate()
    return OtlpExporters(
        export_spans=gate.guard("otlp spans", spans.export, len),
        export_logs=gate.guard("otlp log records", logs.export, len),
        metric_exporter=_GuardedMetricExporter(metrics, gate.guard("otlp metric collections", metrics.export, lambda _: 1)),
    )


class CollectorGate:
    """Keeps a Collector outage from stalling Application Insights delivery.

    The OTLP exporters retry inside ``export()`` for up to their timeout (10 s by default) and
    then report failure; they run on the worker thread that also sends to Application Insights.
    After a failure, every OTLP export is skipped (and counted as dropped) for ``pause_s``, so
    an unreachable Collector costs one timeout per pause instead of one per batch and signal.
    """

    def __init__(self, pause_s: float = PAUSE_AFTER_FAILURE_S) -> None:
        self.pause_s = pause_s
        self.paused_until = 0.0

    def guard(self, name: str, export: Callable[[Any], Any], count: Callable[[Any], int]) -> Callable[[Any], Any]:
        def export_batch(batch: Any, *args: Any, **kwargs: Any) -> Any:
            if time.monotonic() < self.paused_until:
                DROPS.add("%s dropped: the OpenTelemetry Collector failed recently" % name, count(batch))
                return None
            result = export(batch, *args, **kwargs)
            if getattr(result, "name", None) != "SUCCESS":  # Span/LogRecord/MetricExportResult
                DROPS.add("%s lost: the OpenTelemetry Collector did not accept them" % name, count(batch))
                self.paused_until = time.monotonic() + self.pause_s
            return result

        return export_batch


class _GuardedMetricExporter(MetricExporter):
    """The OTLP metric exporter, behind the gate, for a ``WorkerMetricReader``."""

    def __init__(self, inner: MetricExporter, export: Callable[..., Any]) -> None:
        super().__init__(
            preferred_temporality=inner._preferred_temporality,
            preferred_aggregation=inner._preferred_aggregation,
        )
        self._export = export
        self._inner = inner

    def export(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any) -> Any:
        return self._export(metrics_data, timeout_millis=timeout_millis)

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self._inner.shutdown()
