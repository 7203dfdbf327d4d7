"""Metric point -> envelope conformance with the official exporter (tests/support/golden/metrics.jsonl).

Every golden case is rebuilt as a real SDK data point (plus metric name, resource and scope)
and converted by ``point_to_envelope`` and, wrapped in ``MetricsData``, by
``metrics_to_envelopes``. ``"envelope": null`` means the point must be dropped. The cases that
came from a real instrument are also recorded again through a real ``MeterProvider`` +
``InMemoryMetricReader`` with our temporalities, to prove the whole path.

No shared metric case differs by design; the one deliberate difference we make for metrics
(``dependency/target`` without ``"host:None"``, README "Deliberate differences" 6) has no shared
case and is shown by its own test below.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import pytest
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import (
    Counter,
    Histogram,
    MeterProvider,
    ObservableCounter,
    ObservableGauge,
    ObservableUpDownCounter,
    UpDownCounter,
    _Gauge,
)
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    ExponentialHistogramDataPoint,
    HistogramDataPoint,
    InMemoryMetricReader,
    NumberDataPoint,
)
from opentelemetry.sdk.metrics.export import Buckets
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from ai_core.envelopes.metrics import APPLICATION_INSIGHTS_TEMPORALITY, metrics_to_envelopes, point_to_envelope
from golden_logs_metrics import metrics_data_for, namespace_opt_in, point_inputs, recorded_measurements
from golden_support import IKEY, json_text, load_cases, make_resource, normalized_golden, normalized_ours, wire

CASES = {case["case"]: case for case in load_cases("metrics")}
DELIBERATE: Dict[str, str] = {}  # no shared metric case differs from the official exporter


def convert(case: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    point, name, resource, scope = point_inputs(case)
    return point_to_envelope(point, name, resource, scope, IKEY, namespace_opt_in(case))


@pytest.mark.parametrize("name", list(CASES))
def test_metric_case(name: str) -> None:
    case = CASES[name]
    ours = convert(case)
    if case["envelope"] is None:
        assert ours is None
    else:
        assert json_text(normalized_ours(ours)) == json_text(normalized_golden(case["envelope"]))


@pytest.mark.parametrize("name", list(CASES))
def test_metric_case_through_metrics_data(name: str) -> None:
    case = CASES[name]
    ours = metrics_to_envelopes(metrics_data_for(case), IKEY, namespace_opt_in(case))
    expected = [] if case["envelope"] is None else [normalized_golden(case["envelope"])]
    assert json_text([normalized_ours(e) for e in ours]) == json_text(expected)


def test_summary(capsys: pytest.CaptureFixture) -> None:
    identical = dropped = 0
    for name, case in CASES.items():
        ours = convert(case)
        assert name not in DELIBERATE
        assert json_text(normalized_ours(ours)) == json_text(normalized_golden(case["envelope"])), name
        identical += 1
        dropped += ours is None
    with capsys.disabled():
        print(
            "\nmetrics conformance: %d cases, %d identical (%d of them dropped points), %d deliberate improvements"
            % (len(CASES), identical, dropped, len(DELIBERATE))
        )


# ---------------------------------------------------------------------------------------------
# The whole path: instrument -> MeterProvider -> reader with our temporalities -> envelopes
# ---------------------------------------------------------------------------------------------

# The SDK lower-cases instrument names; the golden run created this one in camel case.
_INSTRUMENT_NAMES = {"mycamelcasecounter": "MyCamelCaseCounter"}
_SDK_CASES = [name for name, case in CASES.items() if case["input"]["instrument"] != "hand-built point"]


def _record(meter: Any, inp: Dict[str, Any], name: str, measurements: List[Dict[str, Any]]) -> None:
    kind = inp["instrument"]
    unit, description = inp.get("unit") or "", inp.get("description") or ""
    if kind.startswith("Observable"):
        def callback(options: CallbackOptions) -> List[Observation]:
            return [Observation(m["value"], m["attributes"]) for m in measurements]

        create = {
            "ObservableGauge": meter.create_observable_gauge,
            "ObservableCounter": meter.create_observable_counter,
            "ObservableUpDownCounter": meter.create_observable_up_down_counter,
        }[kind]
        create(name, callbacks=[callback], unit=unit, description=description)
        return
    if kind == "Histogram":
        instrument = meter.create_histogram(name, unit=unit, description=description)
        record = instrument.record
    elif kind == "Counter":
        record = meter.create_counter(name, unit=unit, description=description).add
    elif kind == "UpDownCounter":
        record = meter.create_up_down_counter(name, unit=unit, description=description).add
    elif kind == "Gauge (synchronous)":
        record = meter.create_gauge(name, unit=unit, description=description).set
    else:  # pragma: no cover - a new kind in the corpus
        raise AssertionError("unknown instrument kind %r" % kind)
    for m in measurements:
        record(m["value"], attributes=m["attributes"])


@pytest.mark.parametrize("name", _SDK_CASES)
def test_metric_case_through_meter_provider(name: str) -> None:
    case = CASES[name]
    inp = case["input"]
    reader = InMemoryMetricReader(preferred_temporality=APPLICATION_INSIGHTS_TEMPORALITY)
    provider = MeterProvider(metric_readers=[reader], resource=make_resource(inp["resource"]), shutdown_on_exit=False)
    scope = inp["instrumentation_scope"]
    meter = provider.get_meter(scope["name"], scope.get("version") or None)
    instrument_name = _INSTRUMENT_NAMES.get(inp["metric_name"], inp["metric_name"])
    _record(meter, inp, instrument_name, recorded_measurements(case))
    envelopes = metrics_to_envelopes(reader.get_metrics_data(), IKEY, namespace_opt_in(case))
    provider.shutdown()

    if case["envelope"] is None:
        assert envelopes == []
        return
    # Point times are collection times; the golden run pinned them, so we pin ours the same way.
    ours = []
    for envelope in envelopes:
        envelope = wire(envelope)
        envelope["time"] = case["envelope"]["time"]
        ours.append(json_text(normalized_ours(envelope)))
    # The whole list, not membership: one envelope per attribute set recorded (the SDK's points;
    # the corpus keeps some of a metric's points back, so the others are counted, not compared),
    # none doubled, and the official envelope of this point exactly once.
    points = {json_text(sorted(m["attributes"].items())) for m in recorded_measurements(case)}
    assert len(ours) == len(points)
    assert len(set(ours)) == len(ours)
    assert ours.count(json_text(normalized_golden(case["envelope"]))) == 1


def test_temporalities_for_the_reader() -> None:
    delta, cumulative = AggregationTemporality.DELTA, AggregationTemporality.CUMULATIVE
    assert APPLICATION_INSIGHTS_TEMPORALITY[Counter] is delta
    assert APPLICATION_INSIGHTS_TEMPORALITY[Histogram] is delta
    assert APPLICATION_INSIGHTS_TEMPORALITY[ObservableCounter] is delta
    assert APPLICATION_INSIGHTS_TEMPORALITY[UpDownCounter] is cumulative
    assert APPLICATION_INSIGHTS_TEMPORALITY[ObservableUpDownCounter] is cumulative
    assert APPLICATION_INSIGHTS_TEMPORALITY[ObservableGauge] is cumulative
    assert APPLICATION_INSIGHTS_TEMPORALITY[_Gauge] is cumulative


# ---------------------------------------------------------------------------------------------
# Rules of README 1e beyond the shared cases
# ---------------------------------------------------------------------------------------------

_RESOURCE = Resource({"service.name": "checkout", "service.namespace": "shop", "service.instance.id": "i-1"})
_SCOPE = InstrumentationScope("opentelemetry.instrumentation.requests", "0.66b1")
_T = 1700003060000000000


def _histogram(attributes: Dict[str, Any], total: float = 0.5, count: int = 2, lo: Any = 0.1, hi: Any = 0.4):
    return HistogramDataPoint(attributes, _T - 60 * 10**9, _T, count, total, [0, count], [1.0], lo, hi)


def _number(value: Any, attributes: Optional[Dict[str, Any]] = None) -> NumberDataPoint:
    return NumberDataPoint(attributes or {}, _T - 60 * 10**9, _T, value)


def _envelope(point: Any, name: str, scope: Any = _SCOPE, opt_in: bool = False) -> Optional[Dict[str, Any]]:
    return wire(point_to_envelope(point, name, _RESOURCE, scope, IKEY, opt_in))


def test_synthetic_request_duration() -> None:
    attributes = {"http.request.method": "GET", "http.response.status_code": 404, "user_agent.synthetic.type": "bot"}
    env = _envelope(_histogram(attributes), "http.server.request.duration")
    assert env["tags"]["ai.operation.syntheticSource"] == "True"
    assert env["data"]["baseData"]["properties"] == {
        "_MS.MetricId": "requests/duration",
        "_MS.IsAutocollected": "True",
        "request/resultCode": "404",
        "operation/synthetic": "True",
        "cloud/roleInstance": "i-1",
        "cloud/roleName": "shop.checkout",
        "Request.Success": "False",
    }
    assert env["data"]["baseData"]["metrics"] == [
        {"name": "http.server.request.duration", "value": 0.5, "count": 2, "min": 0.1, "max": 0.4}
    ]


@pytest.mark.parametrize(
    "attributes,target,code,success",
    [
        # old semconv: the peer rule, default port dropped
        ({"http.method": "GET", "http.scheme": "https", "net.peer.name": "api.x", "net.peer.port": 443,
          "http.status_code": 503}, "api.x", "503", "False"),
        ({"http.method": "GET", "http.scheme": "http", "net.peer.name": "api.x", "net.peer.port": 8080,
          "http.status_code": 302}, "api.x:8080", "302", "True"),
        ({"http.method": "GET", "http.scheme": "https", "http.host": "h.example:443", "http.status_code": "200"},
         "h.example", "200", "True"),
        ({"http.method": "GET", "http.url": "http://u.example:8081/p?q", "http.status_code": 200},
         "u.example:8081", "200", "True"),
        ({"http.method": "GET", "peer.service": "billing", "net.peer.name": "ignored"}, "billing", "0", "False"),
        # new semconv: server.address + non-default port
        ({"http.request.method": "GET", "url.scheme": "https", "server.address": "b", "server.port": 8443,
          "http.response.status_code": 200}, "b:8443", "200", "True"),
    ],
)
def test_dependency_duration_targets(attributes: Dict[str, Any], target: str, code: str, success: str) -> None:
    props = _envelope(_histogram(attributes), "http.client.duration")["data"]["baseData"]["properties"]
    assert props == {
        "_MS.MetricId": "dependencies/duration",
        "_MS.IsAutocollected": "True",
        "Dependency.Type": "http",
        "Dependency.Success": success,
        "dependency/target": target,
        "dependency/resultCode": code,
        "cloud/roleInstance": "i-1",
        "cloud/roleName": "shop.checkout",
    }


def test_dependency_target_without_server_port_is_the_bare_host() -> None:
    """Deliberate difference (README "Deliberate differences" 6): the official exporter reports
    ``"api.example.com:None"``; we report the host, matching our dependency envelopes."""
    attributes = {"http.request.method": "GET", "url.scheme": "https", "server.address": "api.example.com"}
    props = _envelope(_histogram(attributes), "http.client.request.duration")["data"]["baseData"]["properties"]
    assert props["dependency/target"] == "api.example.com"


@pytest.mark.parametrize(
    "name",
    [
        "http.server.active_requests",
        "http.server.request.size",
        "http.server.response.size",
        "http.client.request.size",
        "http.client.response.size",
    ],
)
def test_autocollected_instruments_are_dropped(name: str) -> None:
    assert point_to_envelope(_number(1, {"http.method": "GET"}), name, _RESOURCE, _SCOPE, IKEY) is None


@pytest.mark.parametrize(
    "otel_name,ai_name",
    [
        ("azuremonitor.performancecounter.processtime", "\\Process(??APP_WIN32_PROC??)\\% Processor Time"),
        ("azuremonitor.performancecounter.processprivatebytes", "\\Process(??APP_WIN32_PROC??)\\Private Bytes"),
        ("azuremonitor.performancecounter.memoryavailablebytes", "\\Memory\\Available Bytes"),
        ("azuremonitor.performancecounter.processortotalprocessortime", "\\Processor(_Total)\\% Processor Time"),
    ],
)
def test_performance_counter_names(otel_name: str, ai_name: str) -> None:
    env = _envelope(_number(1.5), otel_name)
    assert env["data"]["baseData"] == {"ver": 2, "properties": {}, "metrics": [{"name": ai_name, "value": 1.5, "count": 1}]}


def test_custom_metric_keeps_all_attributes_and_marks_synthetic() -> None:
    attributes = {"http.method": "GET", "user_agent.original": "AlwaysOn", "flag": False, "k" * 151: "x"}
    env = _envelope(_number(2, attributes), "my.metric")
    assert env["tags"]["ai.operation.syntheticSource"] == "True"
    assert env["data"]["baseData"]["properties"] == {
        "http.method": "GET",
        "user_agent.original": "AlwaysOn",
        "flag": "False",
    }


def test_names_are_lower_cased_and_truncated() -> None:
    assert _envelope(_number(1), "My.Metric")["data"]["baseData"]["metrics"][0]["name"] == "my.metric"
    assert len(_envelope(_number(1), "m" * 2000)["data"]["baseData"]["metrics"][0]["name"]) == 1024


def test_namespace_only_when_opted_in_and_truncated() -> None:
    scope = InstrumentationScope("s" * 300)
    assert _envelope(_number(1), "m", scope, opt_in=True)["data"]["baseData"]["metrics"][0]["ns"] == "s" * 256
    assert "ns" not in _envelope(_number(1), "m", scope)["data"]["baseData"]["metrics"][0]
    assert "ns" not in _envelope(_number(1), "m", None, opt_in=True)["data"]["baseData"]["metrics"][0]


def test_histogram_without_min_max_and_exponential_histogram() -> None:
    assert _envelope(_histogram({}, lo=None, hi=None), "h")["data"]["baseData"]["metrics"] == [
        {"name": "h", "value": 0.5, "count": 2}
    ]
    point = ExponentialHistogramDataPoint(
        {}, _T - 1, _T, 3, 6.0, 0, 0, Buckets(0, [3]), Buckets(0, []), 0, 1.0, 3.0
    )
    assert _envelope(point, "e")["data"]["baseData"]["metrics"] == [
        {"name": "e", "value": 6.0, "count": 3, "min": 1.0, "max": 3.0}
    ]


def test_time_is_the_point_time() -> None:
    assert _envelope(_number(1), "m")["time"] == "2023-11-14T23:04:20Z"
