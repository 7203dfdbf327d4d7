"""configure() -> shutdown() -> configure() in one process: the second pipeline receives what
the app records through OpenTelemetry's globals, including through tracers, meters and
instruments the app obtained before the first configure() (module-level ``tracer =
trace.get_tracer(__name__)`` is the common case). The OpenTelemetry API lets each global
provider be set only once, so ai_core installs switchable global providers once per process.

An app that set its own global provider before configure() keeps it.
"""

from __future__ import annotations

from typing import Any, Dict, List

import pytest

from ai_core.emulator import Emulator
from subprocess_helpers import run_python

APP = """
import logging, ai_core
from opentelemetry import trace, metrics, _logs
from opentelemetry._logs import SeverityNumber

# Obtained at import time, before any configure(): these must follow every later pipeline.
tracer = trace.get_tracer("shop.early")
meter = metrics.get_meter("shop.early")
orders = meter.create_counter("orders_placed")
latency = meter.create_histogram("checkout_ms")
queue = [0]
meter.create_observable_gauge("queue_depth", callbacks=[
    lambda options: [metrics.Observation(queue[0])]])
log = logging.getLogger("shop")

@tracer.start_as_current_span("decorated")
def decorated(n):
    return n

def record(n):
    with tracer.start_as_current_span("with-" + n):
        pass
    tracer.start_span("plain-" + n).end()
    decorated(n)
    trace.get_tracer("shop.late").start_span("late-" + n).end()
    log.warning("log-" + n)
    _logs.get_logger("shop.otel").emit(body="otel-log-" + n, severity_number=SeverityNumber.WARN)
    orders.add(int(n))
    latency.record(10.0 * int(n))
    queue[0] = 100 + int(n)
    metrics.get_meter("shop.late").create_counter("late_" + n).add(int(n))

cs = {cs!r}
tel = ai_core.configure(connection_string=cs, role_name="first", disable_offline_storage=True)
record("1")
print("flushed-1", tel.force_flush(10))
tel.shutdown()

tel = ai_core.configure(connection_string=cs, role_name="second", disable_offline_storage=True)
assert tel.is_shut_down is False
record("2")
print("flushed-2", tel.force_flush(10))
tel.shutdown()
"""


@pytest.fixture()
def emu():
    with Emulator(port=0, db=":memory:") as e:
        yield e


def _by_role(items: List[Dict[str, Any]]) -> Dict[str, set]:
    out: Dict[str, set] = {}
    for item in items:
        env = item["envelope"]
        base = env["data"]["baseData"]
        label = base.get("name") or base.get("message") or base["metrics"][0]["name"]
        out.setdefault(env["tags"]["ai.cloud.role"], set()).add(label)
    return out


def _metric_values(items: List[Dict[str, Any]], role: str) -> Dict[str, float]:
    values: Dict[str, float] = {}
    for item in items:
        env = item["envelope"]
        if env["tags"]["ai.cloud.role"] == role:
            point = env["data"]["baseData"]["metrics"][0]
            values[point["name"]] = point["value"]
    return values


def test_a_second_configure_after_shutdown_receives_everything_recorded_through_the_globals(emu):
    out = run_python(APP.format(cs=emu.connection_string))
    assert out.returncode == 0, out.stderr
    assert "flushed-1 True" in out.stdout and "flushed-2 True" in out.stdout, out.stdout + out.stderr

    deps = _by_role(emu.wait_for_items(count=8, timeout=60, type="dependency"))
    assert deps == {
        "first": {"with-1", "plain-1", "decorated", "late-1"},
        "second": {"with-2", "plain-2", "decorated", "late-2"},
    }
    logs = _by_role(emu.wait_for_items(count=4, timeout=60, type="trace"))
    assert logs == {"first": {"log-1", "otel-log-1"}, "second": {"log-2", "otel-log-2"}}

    metrics = emu.wait_for_items(count=10, timeout=60, type="metric")
    first, second = _metric_values(metrics, "first"), _metric_values(metrics, "second")
    assert first["orders_placed"] == 1 and second["orders_placed"] == 2
    assert first["checkout_ms"] == 10.0 and second["checkout_ms"] == 20.0
    assert first["queue_depth"] == 101 and second["queue_depth"] == 102
    assert first["late_1"] == 1 and second["late_2"] == 2
    assert "late_2" not in first and "late_1" not in second
    assert emu.rejected() == []


def test_an_app_that_set_its_own_global_providers_first_keeps_them(emu):
    out = run_python(
        f"""
        import ai_core
        from opentelemetry import trace, metrics, _logs
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk._logs import LoggerProvider
        mine = TracerProvider(), MeterProvider(), LoggerProvider()
        trace.set_tracer_provider(mine[0])
        metrics.set_meter_provider(mine[1])
        _logs.set_logger_provider(mine[2])
        for role in ("first", "second"):
            tel = ai_core.configure(connection_string={emu.connection_string!r}, role_name=role,
                                    disable_offline_storage=True)
            assert trace.get_tracer_provider() is mine[0]
            assert metrics.get_meter_provider() is mine[1]
            assert _logs.get_logger_provider() is mine[2]
            tel.shutdown()
        print("kept")
        """
    )
    assert out.returncode == 0, out.stderr
    assert "kept" in out.stdout


def test_the_global_tracer_provider_still_reaches_the_sdk_provider_it_stands_for(emu):
    """Code that reaches through the global (``add_span_processor``, ``resource``,
    ``force_flush``) keeps working: unknown attributes go to the current pipeline's provider."""
    out = run_python(
        f"""
        import ai_core
        from opentelemetry import trace, metrics, _logs
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        for role in ("first", "second"):
            tel = ai_core.configure(connection_string={emu.connection_string!r}, role_name=role,
                                    disable_offline_storage=True)
            provider = trace.get_tracer_provider()
            assert provider.resource.attributes["service.name"] == role
            memory = InMemorySpanExporter()
            provider.add_span_processor(SimpleSpanProcessor(memory))
            trace.get_tracer("x").start_span("s-" + role).end()
            assert [s.name for s in memory.get_finished_spans()] == ["s-" + role]
            assert provider.force_flush() is True
            assert _logs.get_logger_provider().resource.attributes["service.name"] == role
            tel.shutdown()
        print("ok")
        """
    )
    assert out.returncode == 0, out.stderr
    assert "ok" in out.stdout
