"""The three exporter classes as a user switching from the official package uses them (README,
"Switching from the official exporter"): plain OpenTelemetry SDK providers and processors, our
exporter built with the official constructor keywords, real HTTP to the emulator."""

from __future__ import annotations

import logging
import socket
from pathlib import Path
from typing import Any, Iterator, List

import pytest
from opentelemetry.instrumentation.logging.handler import LoggingHandler
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.trace import SpanKind

from ai_core import (
    AzureMonitorLogExporter,
    AzureMonitorMetricExporter,
    AzureMonitorTraceExporter,
    ConfigurationError,
)
from ai_core.emulator import Emulator, connection_string
from emulator_fixtures import emulator  # noqa: F401

RESOURCE = Resource({"service.name": "switched-api", "service.instance.id": "switched-1"})
WAIT_S = 30.0


def closed_port_connection_string() -> str:
    """An endpoint nobody listens on: every send fails at once with 'connection refused'."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return connection_string("http://127.0.0.1:%d" % port)


def stored_blobs(directory: Path) -> List[Path]:
    return sorted(p for p in directory.iterdir() if ".blob" in p.name and not p.name.endswith(".tmp"))


def test_trace_exporter_in_a_plain_sdk_setup_sends_requests_and_dependencies(emulator: Emulator, tmp_path: Path) -> None:  # noqa: F811
    exporter = AzureMonitorTraceExporter(
        connection_string=emulator.connection_string, storage_directory=str(tmp_path / "store")
    )
    provider = TracerProvider(resource=RESOURCE)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    tracer = provider.get_tracer("checkout")
    with tracer.start_as_current_span("GET /orders/{id}", kind=SpanKind.SERVER, attributes={
            "http.request.method": "GET", "http.route": "/orders/{id}", "url.path": "/orders/7",
            "url.scheme": "http", "server.address": "shop", "http.response.status_code": 200}):
        with tracer.start_as_current_span("GET inventory", kind=SpanKind.CLIENT, attributes={
                "http.request.method": "GET", "url.full": "http://inventory:8080/stock/7",
                "server.address": "inventory", "server.port": 8080, "http.response.status_code": 200}):
            pass
    provider.shutdown()  # flushes the batch processor: the user's usual way out

    request = emulator.wait_for_items(1, WAIT_S, type="request")[0]
    dependency = emulator.wait_for_items(1, WAIT_S, type="dependency")[0]
    assert request["name"] == "GET /orders/{id}" and request["result_code"] == "200"
    assert request["role"] == "switched-api" and request["role_instance"] == "switched-1"
    assert dependency["envelope"]["data"]["baseData"]["type"] == "HTTP"
    assert dependency["target"] == "inventory:8080"
    assert dependency["operation_id"] == request["operation_id"]
    assert dependency["parent_id"] == request["telemetry_id"]
    assert emulator.rejected() == []
    assert not (tmp_path / "store").exists() or stored_blobs(tmp_path / "store") == []  # all delivered


def test_log_exporter_in_a_plain_sdk_setup_sends_messages_and_exceptions(emulator: Emulator) -> None:  # noqa: F811
    exporter = AzureMonitorLogExporter(connection_string=emulator.connection_string, disable_offline_storage=True)
    provider = LoggerProvider(resource=RESOURCE)
    provider.add_log_record_processor(BatchLogRecordProcessor(exporter))
    handler = LoggingHandler(level=logging.INFO, logger_provider=provider)
    log = logging.getLogger("switched.orders")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        log.warning("order %s is late", 7, extra={"order_id": 7})
        try:
            raise KeyError("no such order")
        except KeyError:
            log.exception("lookup failed")
    finally:
        log.removeHandler(handler)
    provider.shutdown()

    trace = emulator.wait_for_items(1, WAIT_S, type="trace")[0]
    assert trace["name"] == "order 7 is late"
    assert trace["severity"] == 2  # Warning
    assert trace["envelope"]["data"]["baseData"]["properties"]["order_id"] == "7"
    assert trace["role"] == "switched-api"
    exception = emulator.wait_for_items(1, WAIT_S, type="exception")[0]
    assert exception["envelope"]["data"]["baseData"]["exceptions"][0]["typeName"] == "KeyError"
    assert emulator.rejected() == []


def test_metric_exporter_in_a_plain_sdk_setup_sends_counters_and_histograms(emulator: Emulator) -> None:  # noqa: F811
    exporter = AzureMonitorMetricExporter(connection_string=emulator.connection_string, disable_offline_storage=True)
    # A long interval: only the final collection at shutdown can have sent the points.
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    provider = MeterProvider(resource=RESOURCE, metric_readers=[reader])
    meter = provider.get_meter("switched")
    meter.create_counter("orders_placed").add(3, {"shop": "north"})
    meter.create_histogram("order_total").record(12.5)
    provider.shutdown()

    deadline_items = emulator.wait_for_items(2, WAIT_S, type="metric")
    by_name = {m["name"]: m["envelope"]["data"]["baseData"] for m in deadline_items}
    assert by_name["orders_placed"]["metrics"][0]["value"] == 3
    assert by_name["orders_placed"]["properties"] == {"shop": "north"}
    assert by_name["order_total"]["metrics"][0]["value"] == 12.5
    assert by_name["order_total"]["metrics"][0]["count"] == 1
    assert emulator.rejected() == []


def _export_one_span(exporter: Any, name: str) -> None:
    provider = TracerProvider(resource=RESOURCE)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    provider.get_tracer("switched").start_span(name, kind=SpanKind.INTERNAL).end()
    provider.shutdown()


def test_storage_directory_keeps_what_the_endpoint_did_not_take_and_it_arrives_later(emulator: Emulator, tmp_path: Path) -> None:  # noqa: F811
    store = tmp_path / "store"
    down = AzureMonitorTraceExporter(connection_string=closed_port_connection_string(), storage_directory=str(store))
    _export_one_span(down, "while the endpoint was down")
    assert len(stored_blobs(store)) == 1  # kept on disk, in the directory the user chose

    # The app restarted against a reachable endpoint: its first successful send drains the
    # stored batch (once its retry lease is over; a fresh span is sent until then).
    up = AzureMonitorTraceExporter(connection_string=emulator.connection_string, storage_directory=str(store))
    provider = TracerProvider(resource=RESOURCE)
    provider.add_span_processor(SimpleSpanProcessor(up))
    tracer = provider.get_tracer("switched")
    found: List[Any] = []
    for attempt in range(int(WAIT_S)):
        tracer.start_span("after restart %d" % attempt).end()
        try:
            found = emulator.wait_for_items(1, 1.0, type="dependency", q="while the endpoint was down")
            break
        except TimeoutError:
            continue
    provider.shutdown()
    assert found, "the stored span never arrived"
    assert stored_blobs(store) == []


def test_disable_offline_storage_never_touches_the_disk(tmp_path: Path) -> None:
    store = tmp_path / "store"
    exporter = AzureMonitorTraceExporter(
        connection_string=closed_port_connection_string(), storage_directory=str(store), disable_offline_storage=True
    )
    _export_one_span(exporter, "lost on purpose")
    assert not store.exists()


class RecordingCredential:
    """An azure-identity-shaped credential: get_token(scope) -> object with token, expires_on."""

    def __init__(self) -> None:
        self.scopes: List[str] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        import time
        from types import SimpleNamespace

        self.scopes.extend(scopes)
        return SimpleNamespace(token="secret-token-value", expires_on=int(time.time()) + 3600)


@pytest.fixture
def ai_core_records() -> Iterator[List[logging.LogRecord]]:
    records: List[logging.LogRecord] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = records.append  # type: ignore[method-assign]
    logging.getLogger("ai_core").addHandler(handler)
    try:
        yield records
    finally:
        logging.getLogger("ai_core").removeHandler(handler)


def test_credential_is_accepted_and_its_token_never_goes_over_plain_http(emulator: Emulator, tmp_path: Path,  # noqa: F811
                                                                        ai_core_records: List[logging.LogRecord]) -> None:
    credential = RecordingCredential()
    store = tmp_path / "store"
    exporter = AzureMonitorTraceExporter(
        connection_string=emulator.connection_string, storage_directory=str(store), credential=credential
    )
    _export_one_span(exporter, "needs a token")
    # The emulator is plain http: the bearer token is refused there, the batch is kept.
    assert emulator.stats()["received"]["batches_received"] == 0
    assert len(stored_blobs(store)) == 1
    errors = [r.getMessage() for r in ai_core_records if r.levelno >= logging.ERROR]
    assert any("must be https" in e for e in errors), errors
    assert not any("secret-token-value" in r.getMessage() for r in ai_core_records)


def test_a_credential_without_get_token_is_refused_at_construction_naming_it() -> None:
    with pytest.raises(ConfigurationError, match="credential"):
        AzureMonitorLogExporter(connection_string=connection_string("http://127.0.0.1:9"), credential="not-a-credential")
