"""The instrumentations' meter provider: the HTTP instruments Application Insights drops record
nothing on the request path; the duration histograms (standard metrics) and the app's own
instruments are untouched; exemplars are off unless asked for."""

import json

from opentelemetry.metrics import NoOpHistogram, NoOpUpDownCounter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from ai_core.autocollected_metrics import AutocollectedMeterProvider
from subprocess_helpers import run_python

CS = "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=http://127.0.0.1:9"


def _points(reader):
    data = reader.get_metrics_data()
    out = {}
    for rm in data.resource_metrics if data else ():
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                out[metric.name] = list(metric.data.data_points)
    return out


def test_dropped_instruments_are_no_ops_and_the_duration_is_recorded():
    reader = InMemoryMetricReader()
    meter = AutocollectedMeterProvider(MeterProvider(metric_readers=[reader])).get_meter("opentelemetry.instrumentation.asgi")
    active = meter.create_up_down_counter("http.server.active_requests", unit="{request}")
    size = meter.create_histogram("http.server.response.size", unit="By")
    duration = meter.create_histogram("http.server.duration", unit="ms")
    requests = meter.create_counter("app.requests")  # any other kind goes to the real meter
    assert isinstance(active, NoOpUpDownCounter) and isinstance(size, NoOpHistogram)

    active.add(1, {"http.method": "GET"})
    size.record(12, {"http.method": "GET"})
    duration.record(3.5, {"http.status_code": 200})
    requests.add(2)

    points = _points(reader)
    assert sorted(points) == ["app.requests", "http.server.duration"]
    assert points["http.server.duration"][0].sum == 3.5
    assert points["app.requests"][0].value == 2


def test_configure_hands_the_instrumentations_the_lean_provider_and_turns_exemplars_off():
    out = run_python(
        f"""
        import json, ai_core
        from opentelemetry.instrumentation.urllib import URLLibInstrumentor
        from opentelemetry.sdk.metrics import AlwaysOffExemplarFilter
        tel = ai_core.configure(connection_string={CS!r})
        print(json.dumps({{
            "lean": type(tel.instrumentation_meter_provider).__name__,
            "exemplars_off": isinstance(tel.meter_provider._sdk_config.exemplar_filter, AlwaysOffExemplarFilter),
        }}))
        """
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {"lean": "AutocollectedMeterProvider", "exemplars_off": True}


def test_exemplars_follow_the_sdk_variable_when_set():
    out = run_python(
        f"""
        import ai_core
        from opentelemetry.sdk.metrics import AlwaysOnExemplarFilter
        tel = ai_core.configure(connection_string={CS!r})
        print(isinstance(tel.meter_provider._sdk_config.exemplar_filter, AlwaysOnExemplarFilter))
        """,
        env={"OTEL_METRICS_EXEMPLAR_FILTER": "always_on"},
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[-1] == "True"


def test_request_durations_are_aggregated_by_what_requests_duration_keeps():
    from ai_core.autocollected_metrics import standard_metric_views
    from ai_core.envelopes.metrics import metrics_to_envelopes

    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader], views=standard_metric_views())
    meter = AutocollectedMeterProvider(provider).get_meter("opentelemetry.instrumentation.wsgi")
    duration = meter.create_histogram("http.server.duration", unit="ms")
    other = meter.create_histogram("app.latency", unit="ms")  # the app's own: every attribute kept
    for route, method, ms in (("/a", "GET", 10.0), ("/b", "POST", 30.0), ("/b", "GET", 20.0)):
        attrs = {"http.method": method, "http.route": route, "http.scheme": "http", "http.status_code": 200,
                 "net.host.port": 8000}
        duration.record(ms, attrs)
        other.record(ms, attrs)
    duration.record(5.0, {"http.method": "GET", "http.route": "/a", "http.status_code": 500})

    envelopes = metrics_to_envelopes(reader.get_metrics_data(), "ikey")
    standard = sorted(
        (e["data"]["baseData"]["properties"]["request/resultCode"], e["data"]["baseData"]["metrics"][0]["count"],
         e["data"]["baseData"]["metrics"][0]["value"])
        for e in envelopes if e["data"]["baseData"]["properties"].get("_MS.MetricId") == "requests/duration"
    )
    assert standard == [("200", 3, 60.0), ("500", 1, 5.0)]
    assert len([e for e in envelopes if e["data"]["baseData"]["metrics"][0]["name"] == "app.latency"]) == 3
