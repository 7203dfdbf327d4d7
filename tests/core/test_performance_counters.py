"""Performance counters (README, "Performance counters"), in process: each value checked
against an independent reading (CPU the test burned by its own clock, memory it allocated,
requests and exceptions it made), through a real SDK pipeline and our metric envelopes."""

from __future__ import annotations

import logging
import os
import random
import resource
import sys
import time
from typing import Dict, List

import pytest
from opentelemetry import trace
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import SpanKind

from ai_core.log_export import install_log_handler
from ai_core.envelopes.metrics import APPLICATION_INSIGHTS_TEMPORALITY, metrics_to_envelopes
from ai_core.performance_counters import (
    AVAILABLE_MEMORY,
    EXCEPTIONS_PER_SECOND,
    PROCESS_IO_BYTES_PER_SECOND,
    PROCESS_PRIVATE_BYTES,
    PROCESS_TIME,
    PROCESS_TIME_NORMALIZED,
    PROCESSOR_TOTAL_TIME,
    REQUEST_EXECUTION_TIME,
    REQUESTS_PER_SECOND,
    enable_performance_counters,
)
from ai_core.process_usage import UsageMeter, cpu_count
from ai_core.sampler import ApplicationInsightsSampler

LINUX = sys.platform.startswith("linux")
MB = 1 << 20

# The portal's Performance counters view queries these names (the table in
# ai_core/envelopes/metrics.py, as the official distro sends them).
COUNTER_NAMES = {
    "\\Process(??APP_WIN32_PROC??)\\% Processor Time",
    "\\Process(??APP_WIN32_PROC??)\\% Processor Time Normalized",
    "\\Process(??APP_WIN32_PROC??)\\Private Bytes",
    "\\Process(??APP_WIN32_PROC??)\\IO Data Bytes/sec",
    "\\Processor(_Total)\\% Processor Time",
    "\\Memory\\Available Bytes",
    "\\.NET CLR Exceptions(??APP_CLR_PROC??)\\# of Exceps Thrown / sec",
    "\\ASP.NET Applications(??APP_W3SVC_PROC??)\\Requests/Sec",
    "\\ASP.NET Applications(??APP_W3SVC_PROC??)\\Request Execution Time",
}
REQUESTS_NAME = "\\ASP.NET Applications(??APP_W3SVC_PROC??)\\Requests/Sec"


class Clock:
    """Seconds that pass when the test says so, for the rate windows."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class SeededIds(IdGenerator):
    """Trace ids from a fixed seed: which traces the sampler keeps is the same every run."""

    def __init__(self) -> None:
        self._random = random.Random(7)

    def generate_span_id(self) -> int:
        return self._random.getrandbits(64)

    def generate_trace_id(self) -> int:
        return self._random.getrandbits(128)


class Pipeline:
    def __init__(self, sampling_ratio: float = 1.0, clock=time.monotonic) -> None:
        self.reader = InMemoryMetricReader(preferred_temporality=APPLICATION_INSIGHTS_TEMPORALITY)
        resource_ = Resource({"service.name": "perf-test", "service.instance.id": "instance-1"})
        self.meters = MeterProvider(metric_readers=[self.reader], resource=resource_)
        self.tracers = TracerProvider(
            resource=resource_, sampler=ApplicationInsightsSampler(sampling_ratio), id_generator=SeededIds()
        )
        self.logs = LoggerProvider(resource=resource_)
        import ai_core.performance_counters as module

        self.counters = module.PerformanceCounters(sampling_ratio, clock=clock)
        self.counters.register(self.meters.get_meter(module.METER_NAME))
        self.tracers.add_span_processor(self.counters.span_processor)
        self.logs.add_log_record_processor(self.counters.log_record_processor)
        self.tracer = self.tracers.get_tracer("test")

    def collect(self) -> Dict[str, float]:
        """One collection: instrument name -> value."""
        data = self.reader.get_metrics_data()
        values: Dict[str, float] = {}
        for rm in data.resource_metrics if data else ():
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    for point in metric.data.data_points:
                        values[metric.name] = point.value
        self.last = data
        return values

    def envelopes(self) -> List[dict]:
        return metrics_to_envelopes(self.reader.get_metrics_data(), "ikey")

    def request(self, duration_ms: float, kind: SpanKind = SpanKind.SERVER, error: bool = False) -> bool:
        start = time.time_ns()
        span = self.tracer.start_span("GET /items", kind=kind, start_time=start)
        kept = span.is_recording()
        if error:
            span.record_exception(ValueError("boom"))
        span.end(end_time=start + int(duration_ms * 1e6))
        return kept

    def shutdown(self) -> None:
        self.meters.shutdown()
        self.tracers.shutdown()
        self.logs.shutdown()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def pipeline(clock: Clock):
    p = Pipeline(clock=clock)
    yield p
    p.shutdown()


def _cpu_seconds_by_rusage() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def test_process_cpu_percent_is_the_cpu_this_process_burned() -> None:
    pipeline = Pipeline()  # the real clock: CPU shares are CPU seconds per wall-clock second
    try:
        pipeline.collect()  # the window starts
        wall0, cpu0 = time.monotonic(), _cpu_seconds_by_rusage()
        spin = 0
        while _cpu_seconds_by_rusage() - cpu0 < 0.7:  # busy, however loaded the machine is
            spin += 1
        wall1, cpu1 = time.monotonic(), _cpu_seconds_by_rusage()
        values = pipeline.collect()
    finally:
        pipeline.shutdown()
    expected = (cpu1 - cpu0) / (wall1 - wall0) * 100
    assert values[PROCESS_TIME] == pytest.approx(expected, rel=0.1, abs=3)
    assert values[PROCESS_TIME_NORMALIZED] == pytest.approx(expected / cpu_count(), rel=0.1, abs=3)


def test_usage_meter_cpu_seconds_match_the_kernels_accounting() -> None:
    meter = UsageMeter()
    reading = meter.read()
    assert reading.cpu_seconds == pytest.approx(_cpu_seconds_by_rusage(), abs=0.05)


@pytest.mark.skipif(not LINUX, reason="memory readings come from /proc")
def test_private_bytes_rise_by_the_memory_allocated(pipeline: Pipeline, clock: Clock) -> None:
    before = pipeline.collect()[PROCESS_PRIVATE_BYTES]
    block = b"\x01" * (200 * MB)  # written, so every page is really in use
    clock.now += 1
    after = pipeline.collect()[PROCESS_PRIVATE_BYTES]
    del block
    clock.now += 1
    released = pipeline.collect()[PROCESS_PRIVATE_BYTES]
    assert after - before == pytest.approx(200 * MB, rel=0.1)
    assert after - released == pytest.approx(200 * MB, rel=0.1)


@pytest.mark.skipif(not LINUX, reason="memory readings come from /proc")
def test_private_bytes_are_the_processs_own_memory_not_the_libraries_it_maps(pipeline: Pipeline) -> None:
    private = pipeline.collect()[PROCESS_PRIVATE_BYTES]
    with open("/proc/self/smaps_rollup") as f:  # the kernel's page-table walk, another way to count
        rollup = {line.split(":")[0]: int(line.split()[1]) * 1024 for line in f if line.endswith("kB\n")}
    assert private == pytest.approx(rollup["Anonymous"] + rollup["Swap"], rel=0.05)
    assert private < rollup["Rss"] - 4 * MB  # libpython and the extension modules are not private


def test_requests_per_second_and_execution_time_are_the_requests_made(pipeline: Pipeline, clock: Clock) -> None:
    pipeline.collect()
    for duration in (10, 20, 30, 40) * 5:  # 20 requests, 25 ms on average
        pipeline.request(duration)
    pipeline.request(500, kind=SpanKind.CLIENT)  # a dependency is no request
    pipeline.request(500, kind=SpanKind.INTERNAL)
    clock.now += 4
    values = pipeline.collect()
    assert values[REQUESTS_PER_SECOND] == pytest.approx(20 / 4)
    assert values[REQUEST_EXECUTION_TIME] == pytest.approx(25.0)
    assert values[EXCEPTIONS_PER_SECOND] == 0

    clock.now += 2  # a quiet interval: no requests, no execution time to report
    values = pipeline.collect()
    assert values[REQUESTS_PER_SECOND] == 0
    assert REQUEST_EXECUTION_TIME not in values


def test_a_second_metric_reader_does_not_steal_the_window(clock: Clock) -> None:
    # With an OTLP endpoint the pipeline has two readers; the SDK runs the callbacks for each.
    first, second = (InMemoryMetricReader(preferred_temporality=APPLICATION_INSIGHTS_TEMPORALITY) for _ in "12")
    meters, tracers = MeterProvider(metric_readers=[first, second]), TracerProvider()
    import ai_core.performance_counters as module

    counters = module.PerformanceCounters(clock=clock)
    counters.register(meters.get_meter(module.METER_NAME), readers=2)
    tracers.add_span_processor(counters.span_processor)
    try:
        first.get_metrics_data(), second.get_metrics_data()
        for _ in range(6):
            with tracers.get_tracer("t").start_as_current_span("GET /", kind=SpanKind.SERVER):
                pass
        clock.now += 3
        first_values = _values(first.get_metrics_data())
        clock.now += 0.01
        second_values = _values(second.get_metrics_data())
    finally:
        meters.shutdown()
        tracers.shutdown()
    assert first_values[REQUESTS_PER_SECOND] == pytest.approx(2.0)
    assert second_values[REQUESTS_PER_SECOND] == pytest.approx(2.0)


def test_a_collection_right_after_another_sends_no_second_point(pipeline: Pipeline, clock: Clock) -> None:
    # At shutdown the pipeline is flushed several times in a row (force_flush, then the
    # provider's own shutdown): the window that was just sent must not be sent again, or the
    # portal's sums count its requests twice.
    pipeline.collect()
    for _ in range(6):
        pipeline.request(10)
    clock.now += 3
    assert pipeline.collect()[REQUESTS_PER_SECOND] == pytest.approx(2.0)
    clock.now += 0.01
    assert not any(name.startswith("azuremonitor.") for name in pipeline.collect())
    clock.now += 0.01
    assert not any(name.startswith("azuremonitor.") for name in pipeline.collect())
    clock.now += 2  # the next timed round measures from the last reading: nothing lost
    pipeline.request(10)
    assert pipeline.collect()[REQUESTS_PER_SECOND] == pytest.approx(1 / 2.02)


def _values(data) -> Dict[str, float]:
    return {m.name: p.value for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
            for p in m.data.data_points if m.name.startswith("azuremonitor.")}


def test_exceptions_count_each_exception_item_once(pipeline: Pipeline, clock: Clock) -> None:
    log = logging.getLogger("perf-counter-test")
    handler = install_log_handler(pipeline.logs, log.name, logging.WARNING)  # the pipeline's own handler
    log.propagate = False
    try:
        pipeline.collect()
        pipeline.request(5, error=True)  # an uncaught exception: one event on its request
        with pipeline.tracer.start_as_current_span("GET /handled", kind=SpanKind.SERVER):
            try:
                raise KeyError("sku")
            except KeyError:
                log.exception("handled, and logged with its traceback")  # one Exception item
            log.warning("a warning is no exception")
        pipeline.request(5, kind=SpanKind.CLIENT, error=True)  # a failed dependency's exception event
        try:
            raise RuntimeError("outside any request")
        except RuntimeError:
            log.exception("background job failed")
        clock.now += 2
        values = pipeline.collect()
    finally:
        log.removeHandler(handler)
        log.propagate = True
    assert values[EXCEPTIONS_PER_SECOND] == pytest.approx(4 / 2)
    assert values[REQUESTS_PER_SECOND] == pytest.approx(2 / 2)


def test_under_sampling_the_rates_are_the_apps_true_rates(clock: Clock) -> None:
    pipeline = Pipeline(sampling_ratio=0.25, clock=clock)
    log = logging.getLogger("perf-counter-sampling-test")
    handler = install_log_handler(pipeline.logs, log.name, logging.WARNING)
    log.propagate = False
    kept = 0
    try:
        pipeline.collect()
        for _ in range(200):
            kept += pipeline.request(10, error=True)  # the exception recorded on the request
        for _ in range(200):
            with pipeline.tracer.start_as_current_span("GET /", kind=SpanKind.SERVER) as span:
                kept += span.is_recording()
                try:
                    raise KeyError("sku")
                except KeyError:
                    log.exception("handled")  # sent only with its trace, standing for as many
        clock.now += 10
        values = pipeline.collect()
    finally:
        log.removeHandler(handler)
        log.propagate = True
        pipeline.shutdown()
    assert 0 < kept < 400  # the sampler really dropped some
    assert values[REQUESTS_PER_SECOND] == pytest.approx(kept * 4 / 10)  # each kept one stands for 4
    assert values[REQUESTS_PER_SECOND] == pytest.approx(400 / 10, rel=0.2)
    assert values[EXCEPTIONS_PER_SECOND] == pytest.approx(values[REQUESTS_PER_SECOND])


def test_every_counter_becomes_an_envelope_with_the_portals_name(pipeline: Pipeline, clock: Clock) -> None:
    pipeline.collect()
    pipeline.request(12)
    clock.now += 1
    envelopes = pipeline.envelopes()
    names = {e["data"]["baseData"]["metrics"][0]["name"] for e in envelopes}
    expected = COUNTER_NAMES if LINUX else {n for n in COUNTER_NAMES if "Private" not in n and "IO" not in n
                                             and "Processor(_Total)" not in n and "Available" not in n}
    assert names == expected
    for envelope in envelopes:
        assert envelope["data"]["baseType"] == "MetricData"
        assert envelope["tags"]["ai.cloud.role"] == "perf-test"
        assert envelope["data"]["baseData"]["metrics"][0]["value"] >= 0


@pytest.mark.skipif(not LINUX, reason="machine readings come from /proc")
def test_machine_readings_are_within_what_the_machine_has(pipeline: Pipeline, clock: Clock) -> None:
    with open("/proc/meminfo") as f:
        total = int(next(line for line in f if line.startswith("MemTotal:")).split()[1]) * 1024
    pipeline.collect()
    with open(__file__, "rb") as f:  # some I/O of our own
        f.read()
    clock.now += 1
    values = pipeline.collect()
    assert 0 < values[AVAILABLE_MEMORY] <= total
    assert 0 <= values[PROCESSOR_TOTAL_TIME] <= 100
    assert values[PROCESS_IO_BYTES_PER_SECOND] >= len(open(__file__, "rb").read())


def test_the_counters_register_on_a_pipelines_providers() -> None:
    reader = InMemoryMetricReader()
    meters, tracers, logs = MeterProvider(metric_readers=[reader]), TracerProvider(), LoggerProvider()
    try:
        enable_performance_counters(meters, tracers, logs)
        with tracers.get_tracer("t").start_as_current_span("GET /", kind=SpanKind.SERVER):
            pass
        names = {m.name for rm in reader.get_metrics_data().resource_metrics for sm in rm.scope_metrics
                 for m in sm.metrics}
    finally:
        meters.shutdown(), tracers.shutdown(), logs.shutdown()
    assert REQUESTS_PER_SECOND in names and PROCESS_TIME in names
    assert trace.get_current_span() is trace.INVALID_SPAN


# --- the option, in a configured process ------------------------------------------------------

APP = """
import ai_core
from opentelemetry import trace
from opentelemetry.trace import SpanKind

tel = ai_core.configure(connection_string={cs!r}, role_name="counters-app"{option})
with trace.get_tracer("app").start_as_current_span("GET /", kind=SpanKind.SERVER):
    pass
print("flushed", tel.force_flush(30))
tel.shutdown()
"""


def _counter_names(emu) -> set:
    return {i["envelope"]["data"]["baseData"]["metrics"][0]["name"] for i in emu.items(type="metric", limit=1000)} & COUNTER_NAMES


@pytest.mark.parametrize("option, sent", [("", True), (", performance_counters=False", False)],
                         ids=["default-on", "switched-off"])
def test_the_option_switches_the_counters(option: str, sent: bool) -> None:
    from ai_core.emulator import Emulator
    from subprocess_helpers import run_python

    with Emulator(port=0, db=":memory:") as emu:
        out = run_python(APP.format(cs=emu.connection_string, option=option))
        assert out.returncode == 0 and "flushed True" in out.stdout, out.stderr
        emu.wait_for_items(count=1, timeout=60, type="request")
        if sent:
            names = _counter_names(emu)
            assert names == (COUNTER_NAMES if LINUX else names) and REQUESTS_NAME in names
            # One request, sent once: flushing at exit repeats no window that counted it.
            counted = [i for i in emu.items(type="metric", limit=1000)
                       if i["envelope"]["data"]["baseData"]["metrics"][0]["name"] == REQUESTS_NAME
                       and i["envelope"]["data"]["baseData"]["metrics"][0]["value"] > 0]
            assert len(counted) == 1, [i["envelope"]["data"]["baseData"]["metrics"] for i in counted]
        else:
            assert _counter_names(emu) == set()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork")
def test_a_forked_worker_counts_only_its_own_requests(pipeline: Pipeline, clock: Clock) -> None:
    pipeline.collect()
    for _ in range(5):
        pipeline.request(10)  # served by the parent before the fork (gunicorn --preload's master)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: one request of its own
        try:
            pipeline.request(10)
            clock.now += 1
            os.write(write_end, repr(pipeline.collect().get(REQUESTS_PER_SECOND)).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    child_rate = os.read(read_end, 100).decode()
    os.waitpid(pid, 0)
    clock.now += 1
    assert child_rate == "1.0"
    assert pipeline.collect()[REQUESTS_PER_SECOND] == pytest.approx(5.0)
