"""The three exporters used on their own, as drop-in replacements of the official ones."""

from __future__ import annotations

from typing import Any, List

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from ai_core import AzureMonitorMetricExporter

CONNECTION_STRING = "InstrumentationKey=00000000-0000-0000-0000-000000000001;IngestionEndpoint=http://127.0.0.1:9"


class _Sender:
    def __init__(self) -> None:
        self.sent: List[Any] = []

    def send(self, envelopes: List[Any]) -> bool:
        self.sent.extend(envelopes)
        return True

    def close(self) -> None:
        pass


def _exported_metric_entries(monkeypatch: pytest.MonkeyPatch, opt_in: str) -> List[Any]:
    monkeypatch.setenv("APPLICATIONINSIGHTS_METRIC_NAMESPACE_OPT_IN", opt_in)
    sender = _Sender()
    exporter = AzureMonitorMetricExporter(connection_string=CONNECTION_STRING, sender=sender)
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    provider.get_meter("shop.checkout").create_counter("orders").add(1)
    exporter.export(reader.get_metrics_data())
    return [m for env in sender.sent for m in env["data"]["baseData"]["metrics"]]


def test_metric_namespace_opt_in_variable_sends_the_meter_name_like_official(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _exported_metric_entries(monkeypatch, "true") == [{"name": "orders", "ns": "shop.checkout", "value": 1, "count": 1}]


def test_metrics_have_no_namespace_without_the_opt_in(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _exported_metric_entries(monkeypatch, "") == [{"name": "orders", "value": 1, "count": 1}]


def test_telemetry_processor_returning_a_bool_sends_nothing_bogus_and_says_why() -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.trace import SpanKind

    from ai_core import AzureMonitorTraceExporter
    from ai_core.diagnostics import DROPS

    def is_request(envelope: Any) -> Any:
        return envelope["name"].endswith("Request")  # a filter written as a predicate

    sender = _Sender()
    exporter = AzureMonitorTraceExporter(connection_string=CONNECTION_STRING, sender=sender, telemetry_processors=[is_request])
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    reason = "telemetry processor 'is_request' returned bool instead of the envelope or None"
    before = DROPS.totals().get(reason, 0)
    with provider.get_tracer("t").start_as_current_span("GET /", kind=SpanKind.SERVER):
        pass
    assert sender.sent == []  # not [True, False]: items the service would reject, or worse
    assert DROPS.totals().get(reason, 0) == before + 2  # the _OTELRESOURCE_ item and the request
