"""configure() end to end: a real process sends spans, logs, events and metrics over real HTTP
to the emulator, and what arrives is what a user would look for in Application Insights."""

import os
import subprocess
import sys
import textwrap
import time

import pytest

from ai_core.emulator import Emulator
from subprocess_helpers import run_python

APP = """
import logging, ai_core
from opentelemetry import trace, metrics
from opentelemetry.trace import SpanKind

tel = ai_core.configure(connection_string={cs!r}, role_name="shop-api", role_instance="shop-1",
                        logging_level="INFO")
logging.getLogger().setLevel(logging.INFO)
log = logging.getLogger("shop.orders")
tracer = trace.get_tracer("shop")
with tracer.start_as_current_span("GET /orders/{{id}}", kind=SpanKind.SERVER,
        attributes={{"http.request.method": "GET", "http.route": "/orders/{{id}}", "url.path": "/orders/7",
                     "url.scheme": "http", "server.address": "shop", "http.response.status_code": 200,
                     "client.address": "203.0.113.9"}}):
    with tracer.start_as_current_span("SELECT orders", kind=SpanKind.CLIENT,
            attributes={{"db.system": "postgresql", "db.statement": "SELECT 1", "db.name": "shop"}}):
        log.info("loaded order", extra={{"order_id": 7}})
    try:
        raise KeyError("missing")
    except KeyError:
        log.exception("lookup failed")
ai_core.track_event("CheckoutCompleted", properties={{"cart": "3"}}, measurements={{"total": 12.5}})
logging.getLogger("ai_core").warning("internal diagnostics line that must not be exported")
metrics.get_meter("shop").create_counter("orders_placed").add(2)
print("flushed", tel.force_flush(10))
tel.shutdown()
"""


@pytest.fixture()
def emu():
    with Emulator(port=0, db=":memory:") as e:
        yield e


def test_a_configured_process_delivers_every_signal_to_the_endpoint(emu):
    out = run_python(APP.format(cs=emu.connection_string))
    assert out.returncode == 0, out.stderr
    assert "flushed True" in out.stdout

    request = emu.wait_for_items(count=1, timeout=60, type="request")[0]
    env = request["envelope"]
    assert env["data"]["baseData"]["name"] == "GET /orders/{id}"
    assert env["tags"]["ai.cloud.role"] == "shop-api"
    assert env["tags"]["ai.cloud.roleInstance"] == "shop-1"
    op_id = env["tags"]["ai.operation.id"]

    dep = emu.wait_for_items(count=1, timeout=60, type="dependency")[0]["envelope"]
    assert dep["data"]["baseData"]["type"] == "postgresql"
    assert dep["tags"]["ai.operation.id"] == op_id
    # README "Deliberate differences" 1 and 3: the child carries the request's name and client IP.
    assert dep["tags"]["ai.operation.name"] == "GET /orders/{id}"
    assert dep["tags"]["ai.location.ip"] == "203.0.113.9"

    traces = [i["envelope"] for i in emu.wait_for_items(count=1, timeout=60, type="trace")]
    messages = [t["data"]["baseData"]["message"] for t in traces]
    assert messages == ["loaded order"]
    assert traces[0]["data"]["baseData"]["properties"]["order_id"] == "7"
    assert traces[0]["tags"]["ai.operation.name"] == "GET /orders/{id}"
    assert not any("internal diagnostics" in m for m in messages)

    exc = emu.wait_for_items(count=1, timeout=60, type="exception")[0]["envelope"]
    assert exc["data"]["baseData"]["exceptions"][0]["typeName"] == "KeyError"
    assert exc["tags"]["ai.operation.id"] == op_id

    event = emu.wait_for_items(count=1, timeout=60, type="event")[0]["envelope"]
    assert event["data"]["baseData"]["name"] == "CheckoutCompleted"
    assert event["data"]["baseData"]["properties"]["cart"] == "3"
    assert event["data"]["baseData"]["measurements"] == {"total": 12.5}
    assert "ai.operation.id" not in event["tags"]  # README "Deliberate differences" 2

    metric_names = [
        m["envelope"]["data"]["baseData"]["metrics"][0]["name"]
        for m in emu.wait_for_items(count=2, timeout=60, type="metric")
    ]
    assert "orders_placed" in metric_names
    assert "_OTELRESOURCE_" in metric_names
    assert emu.rejected() == []


def test_a_process_that_records_only_metrics_exports_them_on_the_interval(emu):
    # The app records one counter and then idles; the test waits (generous ceiling) for the
    # metric to arrive and only then kills the app with SIGKILL: no flush and no atexit ever
    # run, so only the periodic export can have sent it, however slow the machine is.
    code = textwrap.dedent(
        f"""
        import time, ai_core
        from opentelemetry import metrics
        ai_core.configure(connection_string={emu.connection_string!r}, disable_offline_storage=True)
        metrics.get_meter("jobs").create_counter("jobs_done").add(5)
        print("recorded", flush=True)
        time.sleep(600)
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APPLICATIONINSIGHTS_", "OTEL_"))}
    env["OTEL_METRIC_EXPORT_INTERVAL"] = "1000"
    app = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
    try:
        assert app.stdout.readline().strip() == "recorded", app.stderr.read()
        deadline = time.monotonic() + 60
        names = []
        while "jobs_done" not in names:
            assert app.poll() is None, app.stderr.read()
            assert time.monotonic() < deadline, "no periodic metric export within 60 s: %s" % names
            names = [m["envelope"]["data"]["baseData"]["metrics"][0]["name"] for m in emu.items(type="metric")]
            time.sleep(0.1)
    finally:
        app.kill()
        app.communicate()


def test_an_excluded_request_sends_nothing_not_even_its_log_lines(emu):
    out = run_python(
        f"""
        import logging, ai_core
        from opentelemetry import trace
        from opentelemetry.trace import SpanKind
        tel = ai_core.configure(connection_string={emu.connection_string!r}, excluded_urls=["^/health"],
                                disable_offline_storage=True)
        tracer = trace.get_tracer("app")
        for path in ("/health", "/orders"):
            with tracer.start_as_current_span("GET " + path, kind=SpanKind.SERVER,
                    attributes={{"http.request.method": "GET", "url.path": path, "http.route": path,
                                 "url.scheme": "http", "http.response.status_code": 200}}):
                with tracer.start_as_current_span("SELECT", kind=SpanKind.CLIENT, attributes={{"db.system": "sqlite"}}):
                    logging.getLogger("app").warning("inside %s", path)
        print("flushed", tel.force_flush(10))
        """
    )
    assert out.returncode == 0, out.stderr
    emu.wait_for_items(count=1, timeout=60, type="trace")
    assert [i["envelope"]["data"]["baseData"]["message"] for i in emu.items(type="trace")] == ["inside /orders"]
    assert [i["name"] for i in emu.items(type="request")] == ["GET /orders"]
    assert len(emu.items(type="dependency")) == 1
