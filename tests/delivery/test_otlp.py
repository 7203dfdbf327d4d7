"""``otlp_endpoint``: a real process sends every signal both to Application Insights (the
emulator) and to an OpenTelemetry Collector over OTLP/HTTP (a tiny local receiver that decodes
the protobuf bodies), through the one export worker, without tracing its own export calls."""

from __future__ import annotations

import gzip
import importlib.util
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, Iterator, List

import pytest

from ai_core.emulator import Emulator
from subprocess_helpers import run_python

needs_exporter = pytest.mark.skipif(
    importlib.util.find_spec("opentelemetry.exporter.otlp.proto.http") is None,
    reason="pip install opentelemetry-exporter-otlp-proto-http (extra 'otlp')",
)


def otlp_signals() -> Dict[str, Any]:
    """URL path -> (request, response) protobuf classes; the proto package comes with the exporter."""
    from opentelemetry.proto.collector.logs.v1 import logs_service_pb2 as logs
    from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2 as metrics
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as traces

    return {
        "/v1/traces": (traces.ExportTraceServiceRequest, traces.ExportTraceServiceResponse),
        "/v1/logs": (logs.ExportLogsServiceRequest, logs.ExportLogsServiceResponse),
        "/v1/metrics": (metrics.ExportMetricsServiceRequest, metrics.ExportMetricsServiceResponse),
    }


class Collector:
    """OTLP/HTTP protobuf receiver on 127.0.0.1:<free port>; keeps every decoded request."""

    def __init__(self) -> None:
        signals = otlp_signals()
        self.received: Dict[str, List[Any]] = {path: [] for path in signals}
        self.other_requests: List[str] = []  # anything that is not an OTLP export
        collector = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                encoding = (self.headers.get("Content-Encoding") or "").lower()
                if encoding == "gzip":
                    body = gzip.decompress(body)
                elif encoding == "deflate":
                    body = zlib.decompress(body)
                if self.path not in signals or self.headers.get("Content-Type") != "application/x-protobuf":
                    collector.other_requests.append("POST " + self.path)
                    self._reply(404, b"")
                    return
                request_type, response_type = signals[self.path]
                message = request_type()
                message.ParseFromString(body)
                collector.received[self.path].append(message)
                self._reply(200, response_type().SerializeToString())

            def do_GET(self) -> None:  # noqa: N802
                collector.other_requests.append("GET " + self.path)
                self._reply(200, b"pong")

            def _reply(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- decoded content ------------------------------------------------------------------------
    def spans(self) -> List[Any]:
        return [
            (resource_spans.resource, span)
            for request in self.received["/v1/traces"]
            for resource_spans in request.resource_spans
            for scope_spans in resource_spans.scope_spans
            for span in scope_spans.spans
        ]

    def log_records(self) -> List[Any]:
        return [
            (resource_logs.resource, record)
            for request in self.received["/v1/logs"]
            for resource_logs in request.resource_logs
            for scope_logs in resource_logs.scope_logs
            for record in scope_logs.log_records
        ]

    def metrics(self) -> List[Any]:
        return [
            (resource_metrics.resource, metric)
            for request in self.received["/v1/metrics"]
            for resource_metrics in request.resource_metrics
            for scope_metrics in resource_metrics.scope_metrics
            for metric in scope_metrics.metrics
        ]


def attrs(proto_attributes: Any) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for kv in proto_attributes:
        kind = kv.value.WhichOneof("value")
        out[kv.key] = getattr(kv.value, kind) if kind else None
    return out


@pytest.fixture()
def collector() -> Iterator[Collector]:
    c = Collector()
    yield c
    c.close()


@pytest.fixture()
def emu() -> Iterator[Emulator]:
    with Emulator(port=0, db=":memory:") as e:
        yield e


APP = """
import logging, requests, ai_core
from opentelemetry import trace, metrics
from opentelemetry.trace import SpanKind

tel = ai_core.configure(connection_string={cs!r}, otlp_endpoint={otlp!r}, role_name="shop-api",
                        logging_level="INFO")
logging.getLogger().setLevel(logging.INFO)
tracer = trace.get_tracer("shop")
with tracer.start_as_current_span("GET /orders/{{id}}", kind=SpanKind.SERVER,
        attributes={{"http.request.method": "GET", "http.route": "/orders/{{id}}", "url.path": "/orders/7",
                     "url.scheme": "http", "server.address": "shop", "http.response.status_code": 200}}):
    logging.getLogger("shop.orders").info("loaded order 7")
    # The app's own call to the same host IS traced: proves the requests instrumentation is on.
    requests.get({otlp!r} + "/ping", timeout=5)
metrics.get_meter("shop").create_counter("orders_placed").add(3)
print("flushed", tel.force_flush(10))
tel.shutdown()
"""


@needs_exporter
def test_every_signal_goes_to_both_the_collector_and_application_insights(collector: Collector, emu: Emulator) -> None:
    out = run_python(APP.format(cs=emu.connection_string, otlp=collector.url))
    assert out.returncode == 0, out.stderr
    assert "flushed True" in out.stdout, out.stderr

    # The Collector: the span, the log body and the counter, with our resource.
    spans = {span.name: (resource, span) for resource, span in collector.spans()}
    assert "GET /orders/{id}" in spans, sorted(spans)
    resource, server_span = spans["GET /orders/{id}"]
    assert attrs(resource.attributes)["service.name"] == "shop-api"
    assert server_span.kind == server_span.SPAN_KIND_SERVER

    bodies = [record.body.string_value for _, record in collector.log_records()]
    assert "loaded order 7" in bodies
    log_record = next(r for _, r in collector.log_records() if r.body.string_value == "loaded order 7")
    assert log_record.trace_id == server_span.trace_id  # correlated with the request

    metrics = {metric.name: (resource, metric) for resource, metric in collector.metrics()}
    assert "orders_placed" in metrics, sorted(metrics)
    resource, counter = metrics["orders_placed"]
    assert attrs(resource.attributes)["service.name"] == "shop-api"
    assert counter.sum.data_points[0].as_int == 3

    # Application Insights: the same request, trace and metric.
    request = emu.wait_for_items(count=1, timeout=60, type="request")[0]["envelope"]
    assert request["data"]["baseData"]["name"] == "GET /orders/{id}"
    assert request["tags"]["ai.cloud.role"] == "shop-api"
    assert request["tags"]["ai.operation.id"] == server_span.trace_id.hex()
    messages = [t["envelope"]["data"]["baseData"]["message"] for t in emu.wait_for_items(count=1, timeout=60, type="trace")]
    assert "loaded order 7" in messages
    metric_names = [m["envelope"]["data"]["baseData"]["metrics"][0]["name"] for m in emu.items(type="metric")]
    assert "orders_placed" in metric_names
    assert emu.rejected() == []

    # Our own export calls are never traced, at either destination, while the app's own
    # request to the same host is (so the instrumentation really was on).
    assert collector.other_requests == ["GET /ping"]
    client_spans = [span for _, span in collector.spans() if span.kind == span.SPAN_KIND_CLIENT]
    assert [attrs(s.attributes).get("url.full", attrs(s.attributes).get("http.url")) for s in client_spans] == [
        collector.url + "/ping"
    ]
    dependencies = [d["envelope"]["data"]["baseData"] for d in emu.items(type="dependency")]
    assert [d["data"] for d in dependencies] == [collector.url + "/ping"]
    assert not any("/v1/" in str(d) or "/v2.1/track" in str(d) for d in dependencies)
    assert not any(name.startswith("POST") for name in spans)


def test_endpoint_base_path_is_kept_and_signal_paths_appended() -> None:
    from ai_core.otlp import LOGS_PATH, METRICS_PATH, TRACES_PATH, signal_url

    assert signal_url("http://127.0.0.1:4318", TRACES_PATH) == "http://127.0.0.1:4318/v1/traces"
    assert signal_url("http://127.0.0.1:4318/", LOGS_PATH) == "http://127.0.0.1:4318/v1/logs"
    assert signal_url("https://gw.example/otel/", METRICS_PATH) == "https://gw.example/otel/v1/metrics"


MISSING_PACKAGE = """
import sys
sys.modules["opentelemetry.exporter.otlp.proto.http"] = None  # as if it were not installed
import ai_core
from ai_core.errors import ConfigurationError
try:
    ai_core.configure(connection_string={cs!r}, otlp_endpoint="http://127.0.0.1:4318")
except ConfigurationError as exc:
    print("ERROR:", exc)
else:
    print("no error")
print("current:", sys.modules["ai_core.configure"].current())
"""


def test_otlp_endpoint_without_the_package_is_a_clear_configuration_error(emu: Emulator) -> None:
    out = run_python(MISSING_PACKAGE.format(cs=emu.connection_string))
    assert out.returncode == 0, out.stderr
    error = next(line for line in out.stdout.splitlines() if line.startswith(("ERROR:", "no error")))
    assert error.startswith("ERROR: otlp_endpoint"), out.stdout
    assert "opentelemetry-exporter-otlp-proto-http" in error
    assert "pip install" in error
    assert "current: None" in out.stdout  # no half-built pipeline left behind


COLLECTOR_DOWN = """
import logging, socket, time, ai_core
from opentelemetry import trace, metrics
from opentelemetry.trace import SpanKind

s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()  # nobody listens
tel = ai_core.configure(connection_string={cs!r}, otlp_endpoint="http://127.0.0.1:%d" % port,
                        role_name="shop-api", logging_level="INFO")
logging.getLogger().setLevel(logging.INFO)
with trace.get_tracer("shop").start_as_current_span("GET /health", kind=SpanKind.SERVER):
    logging.getLogger("shop").info("still delivered")
metrics.get_meter("shop").create_counter("orders_placed").add(1)
started = time.monotonic()
print("flushed", tel.force_flush(30), "in", round(time.monotonic() - started, 1))
tel.shutdown()
"""


@needs_exporter
def test_a_collector_outage_does_not_stall_application_insights(emu: Emulator) -> None:
    out = run_python(COLLECTOR_DOWN.format(cs=emu.connection_string))
    assert out.returncode == 0, out.stderr
    flushed, seconds = out.stdout.split("flushed ")[1].split(" in ")
    assert flushed == "True"
    # One failed OTLP export, not one per signal: the first signal's export fails, and the
    # others are skipped by the gate (said by the drop report, so no time window is needed).
    assert "otlp spans lost: the OpenTelemetry Collector did not accept them" in out.stderr
    assert "otlp log records dropped: the OpenTelemetry Collector failed recently" in out.stderr
    assert "otlp metric collections dropped: the OpenTelemetry Collector failed recently" in out.stderr
    assert "otlp log records lost" not in out.stderr and "otlp metric collections lost" not in out.stderr
    # A loose ceiling: one exporter timeout is 10 s, three (one per signal) would be 30 s.
    assert float(seconds) < 25, out.stdout
    assert emu.wait_for_items(count=1, timeout=60, type="request")[0]["envelope"]["data"]["baseData"]["name"] == "GET /health"
    assert [t["envelope"]["data"]["baseData"]["message"] for t in emu.items(type="trace")] == ["still delivered"]
    assert "orders_placed" in [m["envelope"]["data"]["baseData"]["metrics"][0]["name"] for m in emu.items(type="metric")]


def test_the_gate_skips_the_collector_for_a_while_after_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    from enum import Enum

    from ai_core import otlp
    from ai_core.otlp import CollectorGate

    class Clock:  # the gate's clock, moved by the test: a slow machine cannot end the pause early
        now = 1000.0

        def monotonic(self) -> float:
            return self.now

    clock = Clock()
    monkeypatch.setattr(otlp, "time", clock)

    class Result(Enum):
        SUCCESS = 0
        FAILURE = 1

    calls: List[str] = []
    outcome = {"next": Result.FAILURE}

    def export(batch: List[Any]) -> Result:
        calls.append("export")
        return outcome["next"]

    gate = CollectorGate(pause_s=0.2)
    spans = gate.guard("otlp spans", export, len)
    logs = gate.guard("otlp log records", export, len)
    assert spans([1, 2]) is Result.FAILURE
    outcome["next"] = Result.SUCCESS
    clock.now += 0.19
    assert logs([1]) is None and spans([1]) is None  # paused: skipped, not sent
    assert calls == ["export"]
    clock.now += 0.02
    assert logs([1]) is Result.SUCCESS
    assert calls == ["export", "export"]
