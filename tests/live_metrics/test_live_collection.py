"""What Live Metrics counts and sends while someone watches: the per-second metrics (failed
requests counted, durations in milliseconds, each exception once, true rates under sampling),
documents chosen by the portal's filters, derived metrics, and nothing at all while nobody
watches. Real spans and log records through the SDK, real HTTP to a fake service, a fake clock."""

from __future__ import annotations

import logging
import random
import time
from typing import Any, Dict, List, Optional

import pytest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import SpanKind, Status, StatusCode

from ai_core.live_metrics.hooks import LiveLogRecordProcessor, LiveSpanProcessor
from ai_core.live_metrics.stream import LiveStream
from ai_core.sampler import ApplicationInsightsSampler
from fake_live_service import Call, FakeLiveService, portal_default_configuration

IKEY = "00000000-0000-0000-0000-0000000000aa"
REQUESTS = "\\ApplicationInsights\\Requests/Sec"
FAILED = "\\ApplicationInsights\\Requests Failed/Sec"
DURATION = "\\ApplicationInsights\\Request Duration"
DEPS = "\\ApplicationInsights\\Dependency Calls/Sec"
DEPS_FAILED = "\\ApplicationInsights\\Dependency Calls Failed/Sec"
DEP_DURATION = "\\ApplicationInsights\\Dependency Call Duration"
EXCEPTIONS = "\\ApplicationInsights\\Exceptions/Sec"


class SeededIds(IdGenerator):
    def __init__(self) -> None:
        self._random = random.Random(7)

    def generate_span_id(self) -> int:
        return self._random.getrandbits(64)

    def generate_trace_id(self) -> int:
        return self._random.getrandbits(128)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class App:
    """A TracerProvider and LoggerProvider feeding one LiveStream, as configure() wires them."""

    def __init__(self, service: FakeLiveService, sampling_ratio: float = 1.0) -> None:
        self.clock = FakeClock()
        self.stream = LiveStream(service.url, IKEY, "shop", "web-1", clock=self.clock, wall_clock=time.time,
                                 trace_sample_rate=sampling_ratio * 100 if sampling_ratio < 1 else None)
        # Trace ids from a fixed seed: which requests the sampler keeps is the same every run.
        self.tracer_provider = TracerProvider(sampler=ApplicationInsightsSampler(sampling_ratio),
                                              id_generator=SeededIds())
        self.tracer_provider.add_span_processor(LiveSpanProcessor(self.stream))
        self.tracer = self.tracer_provider.get_tracer("test")
        self.logger_provider = LoggerProvider()
        self.logger_provider.add_log_record_processor(LiveLogRecordProcessor(self.stream))
        self.service = service

    def request(self, path: str = "/items/1", status: int = 200, ms: float = 10.0, error: Optional[Exception] = None,
                dependency_ms: Optional[float] = None, dependency_status: int = 200) -> None:
        start = time.time_ns()
        span = self.tracer.start_span("GET /items/{id}", kind=SpanKind.SERVER, start_time=start, attributes={
            "http.request.method": "GET", "http.route": "/items/{id}", "url.path": path, "url.scheme": "http",
            "server.address": "shop.example", "http.response.status_code": status})
        if dependency_ms is not None:
            from opentelemetry import trace

            with trace.use_span(span):
                dep = self.tracer.start_span("GET", kind=SpanKind.CLIENT, start_time=start, attributes={
                    "http.request.method": "GET", "url.full": "http://stock.example/level",
                    "server.address": "stock.example", "http.response.status_code": dependency_status})
                if dependency_status >= 400:
                    dep.set_status(Status(StatusCode.ERROR))
                dep.end(end_time=start + int(dependency_ms * 1e6))
        if error is not None:
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR))
        span.end(end_time=start + int(ms * 1e6))

    def log(self, message: str, level: int = logging.WARNING, exc: bool = False) -> None:
        from opentelemetry.instrumentation.logging.handler import LoggingHandler

        handler = LoggingHandler(level=logging.DEBUG, logger_provider=self.logger_provider)
        record_logger = logging.getLogger("live-test-app")
        record_logger.propagate = False
        record_logger.addHandler(handler)
        try:
            if exc:
                try:
                    raise KeyError("missing item")
                except KeyError:
                    record_logger.exception(message)
            else:
                record_logger.log(level, message)
        finally:
            record_logger.removeHandler(handler)

    def tick(self, advance: float = 1.0) -> Call:
        self.clock.now += advance
        self.stream.tick()
        return self.service.calls[-1]

    def subscribe(self) -> None:
        self.service.subscribed = True
        self.tick(0)
        assert self.stream.collecting


@pytest.fixture
def service():
    with FakeLiveService() as svc:
        yield svc


def test_every_request_counts_failed_ones_too_and_durations_are_milliseconds(service: FakeLiveService) -> None:
    app = App(service)
    app.subscribe()
    for _ in range(3):
        app.request(status=200, ms=10)
    app.request(status=500, ms=50, error=RuntimeError("boom"))
    post = app.tick(1.0)
    assert post.operation == "post"
    assert post.metric(REQUESTS) == pytest.approx(4.0)  # the official Python counts 3
    assert post.metric(FAILED) == pytest.approx(1.0)
    assert post.metric(DURATION) == pytest.approx(20.0)  # (3 x 10 + 50) / 4, in milliseconds
    duration_point = [m for m in post.point["Metrics"] if m["Name"] == DURATION][0]
    assert duration_point["Weight"] == 4
    assert post.metric(EXCEPTIONS) == pytest.approx(1.0)


def test_rates_are_per_second_of_the_interval(service: FakeLiveService) -> None:
    app = App(service)
    app.subscribe()
    for _ in range(6):
        app.request()
    post = app.tick(2.0)  # a post two seconds after the last (a slow network, a paused thread)
    assert post.metric(REQUESTS) == pytest.approx(3.0)


def test_dependencies_are_counted_with_their_failures_and_durations(service: FakeLiveService) -> None:
    app = App(service)
    app.subscribe()
    app.request(dependency_ms=30, dependency_status=200)
    app.request(dependency_ms=90, dependency_status=503)
    post = app.tick()
    assert post.metric(DEPS) == pytest.approx(2.0)
    assert post.metric(DEPS_FAILED) == pytest.approx(1.0)
    assert post.metric(DEP_DURATION) == pytest.approx(60.0)


def test_an_exception_logged_outside_requests_counts_once(service: FakeLiveService) -> None:
    app = App(service)
    app.subscribe()
    app.log("could not load", exc=True)
    app.log("just a warning")
    post = app.tick()
    assert post.metric(EXCEPTIONS) == pytest.approx(1.0)


def test_under_sampling_each_item_weighs_100_over_the_sample_rate(service: FakeLiveService) -> None:
    app = App(service, sampling_ratio=0.1)
    app.subscribe()
    for i in range(2000):
        app.request(status=500 if i % 4 == 0 else 200)
    post = app.tick()
    # ~200 sampled requests, each standing for 10: the true rate, not a tenth of it
    assert post.metric(REQUESTS) == pytest.approx(2000, rel=0.2)
    assert post.metric(FAILED) == pytest.approx(500, rel=0.3)


def test_nothing_is_recorded_while_nobody_watches(service: FakeLiveService) -> None:
    app = App(service)
    app.tick(0)  # a ping: not subscribed
    assert not app.stream.collecting
    for _ in range(10):
        app.request()
    app.log("not watched")
    assert len(app.stream.collector._items) == 0
    service.subscribed = True
    app.tick(5)
    post = app.tick()
    assert post.metric(REQUESTS) == 0  # what happened before the subscription is not reported


def test_the_first_item_starts_the_thread_and_shutdown_stops_it(service: FakeLiveService) -> None:
    stream = LiveStream(service.url, IKEY, "shop", "web-1")
    provider = TracerProvider()
    provider.add_span_processor(LiveSpanProcessor(stream))
    assert not stream.running  # configure() starts nothing, pings nobody
    provider.get_tracer("t").start_span("first").end()
    service.wait_for(lambda calls: len(calls) >= 1, timeout=30)
    assert stream.running
    provider.shutdown()
    assert not stream.running


def documents_of(post: Call) -> List[Dict[str, Any]]:
    return post.point["Documents"]


def test_the_portal_default_stream_sends_failed_requests_exceptions_and_traces(service: FakeLiveService) -> None:
    service.configuration = portal_default_configuration()
    app = App(service)
    app.subscribe()
    app.request(path="/items/1", status=200, ms=5)
    app.request(path="/items/2", status=500, ms=1.0105, error=ValueError("bad item"))
    app.log("stock is low")
    docs = documents_of(app.tick())
    by_type = {d["DocumentType"]: d for d in docs}
    assert sorted(by_type) == ["Exception", "Request", "Trace"]
    request = by_type["Request"]
    assert request["Name"] == "GET /items/{id}" and request["ResponseCode"] == "500"
    assert request["Url"] == "http://shop.example/items/2"
    assert request["Duration"] == "PT0.001S"  # the envelope's value, in ISO 8601
    assert request["DocumentStreamIds"] == ["all-types-default"]
    assert by_type["Exception"]["ExceptionType"] == "ValueError"
    assert by_type["Exception"]["ExceptionMessage"] == "bad item"
    assert by_type["Trace"]["Message"] == "stock is low"


def slow_requests_of_route(etag: str = "2::slow::1") -> Dict[str, Any]:
    return {
        "ETag": etag, "Metrics": [], "DocumentStreams": [{"Id": "slow-or-404", "DocumentFilterGroups": [
            {"TelemetryType": "Request", "Filters": {"Filters": [
                {"FieldName": "Duration", "Predicate": "GreaterThan", "Comparand": "0.00:00:00.5"},
                {"FieldName": "Url", "Predicate": "Contains", "Comparand": "/ITEMS/"}]}},
            {"TelemetryType": "Request", "Filters": {"Filters": [
                {"FieldName": "ResponseCode", "Predicate": "Equal", "Comparand": "404"}]}},
        ]}],
    }


def test_filters_are_anded_in_a_group_and_ored_across_groups(service: FakeLiveService) -> None:
    service.configuration = slow_requests_of_route()
    app = App(service)
    app.subscribe()
    app.request(path="/items/1", ms=800)  # slow and /items/: group 1
    app.request(path="/other", ms=800)  # slow but not /items/: no group
    app.request(path="/items/2", ms=100)  # fast: no group
    app.request(path="/missing", status=404, ms=3)  # group 2
    docs = documents_of(app.tick())
    assert sorted(d["Url"].rsplit("/", 2)[-2] + "/" + d["Url"].rsplit("/", 1)[-1] for d in docs) == [
        "items/1", "shop.example/missing"]


def test_derived_metrics_count_and_average_what_the_filters_match(service: FakeLiveService) -> None:
    service.configuration = {"ETag": "3::m::1", "DocumentStreams": [], "Metrics": [
        {"Id": "failed-count", "TelemetryType": "Request", "Projection": "Count()", "Aggregation": "Sum",
         "BackEndAggregation": "Sum", "FilterGroups": [{"Filters": [
             {"FieldName": "Success", "Predicate": "Equal", "Comparand": "false"}]}]},
        {"Id": "avg-ms", "TelemetryType": "Request", "Projection": "Duration", "Aggregation": "Avg",
         "BackEndAggregation": "Avg", "FilterGroups": [{"Filters": []}]},
        {"Id": "max-ms", "TelemetryType": "Request", "Projection": "Duration", "Aggregation": "Max",
         "BackEndAggregation": "Max", "FilterGroups": []},
    ]}
    app = App(service)
    app.subscribe()
    app.request(ms=10)
    app.request(ms=30, status=503)
    app.request(ms=20, status=500)
    post = app.tick()
    assert post.metric("failed-count") == 2
    assert post.metric("avg-ms") == pytest.approx(20.0)
    assert post.metric("max-ms") == pytest.approx(30.0)


def test_a_full_buffer_drops_and_counts_instead_of_growing(service: FakeLiveService) -> None:
    from ai_core.diagnostics import DROPS

    reason = "Live Metrics items (the per-second buffer was full)"
    before = DROPS.totals().get(reason, 0)
    app = App(service)
    app.stream.collector._max = 5
    app.subscribe()
    for _ in range(8):
        app.request()
    post = app.tick()
    assert post.metric(REQUESTS) == 5
    assert DROPS.totals().get(reason, 0) - before == 3  # counted, and said in our diagnostics log
