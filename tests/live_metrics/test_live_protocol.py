"""Live Metrics against a fake of the service on loopback: the state machine, headers, bodies,
redirects, configuration and failures. ``tick()`` is driven directly with a fake clock, so the
20 s and 60 s rules are checked without waiting for them; every ping and post is real HTTP."""

from __future__ import annotations

import logging
import re
import time
from typing import Any, List

import pytest

from ai_core.live_metrics.endpoint import redirect_allowed
from ai_core.live_metrics.stream import LiveStream
from fake_live_service import FakeLiveService, portal_default_configuration

IKEY = "00000000-0000-0000-0000-0000000000aa"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def service():
    with FakeLiveService() as svc:
        yield svc


def make_stream(url: str, clock: FakeClock, **kwargs: Any) -> LiveStream:
    return LiveStream(url, IKEY, "shop", "web-1", clock=clock, wall_clock=time.time, **kwargs)


def run(stream: LiveStream, clock: FakeClock, ticks: int) -> List[float]:
    """``ticks`` pings/posts, the fake clock moved by each returned delay; the delays."""
    delays = []
    for _ in range(ticks):
        delay = stream.tick()
        delays.append(delay)
        clock.now += delay
    return delays


def test_pings_every_5_s_until_subscribed_then_posts_every_second(service: FakeLiveService) -> None:
    clock = FakeClock()
    stream = make_stream(service.url, clock)
    assert run(stream, clock, 3) == [5.0, 5.0, 5.0]
    assert [c.operation for c in service.calls] == ["ping"] * 3
    assert not stream.collecting
    service.subscribed = True
    assert run(stream, clock, 3) == [1.0, 1.0, 1.0]
    assert [c.operation for c in service.calls] == ["ping"] * 4 + ["post"] * 2
    assert stream.collecting


def test_post_answered_unsubscribed_returns_to_pinging_at_once(service: FakeLiveService) -> None:
    clock = FakeClock()
    service.subscribed = True
    stream = make_stream(service.url, clock)
    run(stream, clock, 3)  # ping, post, post
    service.subscribed = False
    assert run(stream, clock, 2) == [5.0, 5.0]
    assert [c.operation for c in service.calls] == ["ping", "post", "post", "post", "ping"]
    assert not stream.collecting


def test_ping_headers_and_body_identify_the_process(service: FakeLiveService) -> None:
    clock = FakeClock()
    stream = make_stream(service.url, clock)
    before = time.time()
    stream.tick()
    ping = service.calls[0]
    assert ping.query == {"api-version": "2024-04-01-preview", "ikey": IKEY}
    h = ping.headers
    assert re.fullmatch(r"[0-9a-f]{32}", h["x-ms-qps-stream-id"])
    assert h["x-ms-qps-role-name"] == "shop"
    assert re.fullmatch(r"web-1 \(pid \d+\)", h["x-ms-qps-instance-name"])
    assert h["x-ms-qps-machine-name"]
    assert h["x-ms-qps-invariant-version"] == "1"
    assert h["x-ms-qps-configuration-etag"] == ""
    ticks = int(h["x-ms-qps-transmission-time"])  # .NET ticks: 100 ns since 0001-01-01
    assert abs((ticks - 621355968000000000) / 1e7 - before) < 60
    body = ping.body
    assert isinstance(body, dict)  # one MonitoringDataPoint
    assert body["StreamId"] == h["x-ms-qps-stream-id"]
    assert body["RoleName"] == "shop" and body["Instance"] == h["x-ms-qps-instance-name"]
    assert body["InvariantVersion"] == 1 and body["MachineName"] == h["x-ms-qps-machine-name"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z", body["Timestamp"])


def test_post_body_is_an_array_of_one_data_point_with_the_eleven_metrics(service: FakeLiveService) -> None:
    clock = FakeClock()
    service.subscribed = True
    stream = make_stream(service.url, clock)
    run(stream, clock, 2)
    post = service.of("post")[0]
    assert isinstance(post.body, list) and len(post.body) == 1
    point = post.point
    assert point["StreamId"] == service.of("ping")[0].headers["x-ms-qps-stream-id"]
    names = [m["Name"] for m in point["Metrics"]]
    assert names[:7] == [
        "\\ApplicationInsights\\Requests/Sec", "\\ApplicationInsights\\Requests Failed/Sec",
        "\\ApplicationInsights\\Request Duration", "\\ApplicationInsights\\Dependency Calls/Sec",
        "\\ApplicationInsights\\Dependency Calls Failed/Sec", "\\ApplicationInsights\\Dependency Call Duration",
        "\\ApplicationInsights\\Exceptions/Sec",
    ]
    assert set(names[7:]) == {"\\Memory\\Committed Bytes", "\\Process\\Physical Bytes",
                              "\\Processor(_Total)\\% Processor Time", "\\% Process\\Processor Time Normalized"}
    assert post.metric("\\Process\\Physical Bytes") > 1_000_000
    assert point["Documents"] == []


def test_posts_failing_for_20_s_go_back_to_pinging_60_s_later(service: FakeLiveService) -> None:
    clock = FakeClock()
    service.subscribed = True
    stream = make_stream(service.url, clock)
    run(stream, clock, 2)  # ping, post
    service.status = 503
    delays = run(stream, clock, 20)  # failed posts at 1 s .. 20 s after the last good one
    assert delays[:19] == [1.0] * 19  # still posting every second
    assert delays[19] == 60.0  # 20 s without success: give up, the next call is a ping 60 s later
    service.status = 200
    stream.tick()
    assert service.calls[-1].operation == "ping"


def test_pings_failing_for_60_s_then_ping_every_60_s(service: FakeLiveService) -> None:
    clock = FakeClock()
    service.status = 503
    stream = make_stream(service.url, clock)
    delays = run(stream, clock, 15)
    assert delays[:12] == [5.0] * 12  # 0..55 s: the normal ping interval
    assert delays[12:] == [60.0] * 3  # from 60 s of failures on: once a minute
    service.status = 200
    assert run(stream, clock, 1) == [5.0]  # one success and back to normal


def test_401_is_logged_once_not_every_ping(service: FakeLiveService, caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    service.status = 401
    stream = make_stream(service.url, clock)
    with caplog.at_level(logging.WARNING, logger="ai_core"):
        run(stream, clock, 10)
    said = [r for r in caplog.records if "401" in r.getMessage()]
    assert len(said) == 1, [r.getMessage() for r in caplog.records]
    assert "refused" in said[0].getMessage()
    assert len(service.calls) == 10  # it kept trying


def test_polling_hint_sets_the_ping_interval(service: FakeLiveService) -> None:
    clock = FakeClock()
    service.polling_hint_ms = 12000
    stream = make_stream(service.url, clock)
    assert run(stream, clock, 2) == [12.0, 12.0]


def test_configuration_from_the_ping_answer_is_applied_and_its_etag_sent_back(service: FakeLiveService) -> None:
    clock = FakeClock()
    service.configuration = portal_default_configuration("1::abc::2")
    stream = make_stream(service.url, clock)
    run(stream, clock, 2)  # two pings, not subscribed: the official Python would ignore this body
    assert service.calls[0].headers["x-ms-qps-configuration-etag"] == ""
    assert service.calls[1].headers["x-ms-qps-configuration-etag"] == "1::abc::2"
    assert [s.id for s in stream.configuration.streams] == ["all-types-default"]


def test_configuration_from_a_post_answer_replaces_the_previous_one(service: FakeLiveService) -> None:
    clock = FakeClock()
    service.subscribed = True
    service.configuration = portal_default_configuration("1::first::1")
    stream = make_stream(service.url, clock)
    run(stream, clock, 2)
    second = portal_default_configuration("1::second::1")
    second["DocumentStreams"][0]["Id"] = "only-failures"
    service.configuration = second
    run(stream, clock, 2)
    assert [s.id for s in stream.configuration.streams] == ["only-failures"]
    assert service.of("post")[-1].headers["x-ms-qps-configuration-etag"] == "1::second::1"


def test_configuration_errors_are_reported_in_the_next_post(service: FakeLiveService) -> None:
    clock = FakeClock()
    service.subscribed = True
    config = portal_default_configuration("1::bad::1")
    config["DocumentStreams"][0]["DocumentFilterGroups"].append(
        {"TelemetryType": "Request", "Filters": {"Filters": [{"FieldName": "Duration", "Predicate": "GreaterThan",
                                                              "Comparand": "half a second"}]}})
    config["Metrics"] = [{"Id": "m1", "TelemetryType": "PerformanceCounter", "FilterGroups": [],
                          "Projection": "Count()", "Aggregation": "Sum", "BackEndAggregation": "Sum"}]
    service.configuration = config
    stream = make_stream(service.url, clock)
    run(stream, clock, 2)
    errors = service.of("post")[0].point["CollectionConfigurationErrors"]
    kinds = sorted(e["CollectionConfigurationErrorType"] for e in errors)
    assert kinds == ["DocumentStreamFailureToCreateFilterUnexpected", "MetricTelemetryTypeUnsupported"]
    assert any("half a second" in e["Message"] for e in errors)
    # the valid groups of the stream still apply
    assert set(stream.configuration.streams[0].groups) == {"Request", "Dependency", "Exception", "Event", "Trace"}


def test_redirect_to_another_loopback_endpoint_is_followed_for_a_loopback_live_endpoint() -> None:
    with FakeLiveService() as first, FakeLiveService() as second:
        first.redirect_to = second.url + "/"
        clock = FakeClock()
        stream = make_stream(first.url, clock)
        run(stream, clock, 3)
        assert len(first.calls) == 1 and len(second.calls) == 2
        assert stream.client.endpoint == second.url


def test_redirect_to_a_host_the_rules_refuse_is_not_followed(service: FakeLiveService,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    service.redirect_to = "http://example.com"
    clock = FakeClock()
    stream = make_stream(service.url, clock)
    with caplog.at_level(logging.WARNING, logger="ai_core"):
        run(stream, clock, 3)
    assert len(service.calls) == 3
    assert sum("not following" in r.getMessage() for r in caplog.records) == 1


@pytest.mark.parametrize("configured, location, allowed", [
    ("https://rt.services.visualstudio.com", "https://westeurope.livediagnostics.monitor.azure.com/", True),
    ("https://rt.services.visualstudio.com", "http://westeurope.livediagnostics.monitor.azure.com/", False),
    ("https://rt.services.visualstudio.com", "https://evil.example.com/", False),
    ("https://rt.services.visualstudio.com", "https://monitor.azure.com.evil.example/", False),
    ("https://rt.services.visualstudio.com", "http://127.0.0.1:9000/", False),
    ("http://127.0.0.1:8990", "http://localhost:9000/", True),
    ("http://127.0.0.1:8990", "https://westeurope.livediagnostics.monitor.azure.com/", False),
    ("https://westeurope.livediagnostics.monitor.azure.com", "https://user@x.monitor.azure.com/", False),
])
def test_redirect_rule_is_https_to_azure_monitor_or_loopback_to_loopback(configured: str, location: str,
                                                                          allowed: bool) -> None:
    assert redirect_allowed(configured, location)[0] is allowed


def test_an_entra_id_token_is_sent_as_bearer_only_over_https(service: FakeLiveService) -> None:
    class Provider:
        def token(self) -> str:
            return "secret-token"

    clock = FakeClock()
    stream = make_stream(service.url, clock, token_provider=Provider())
    run(stream, clock, 2)
    assert service.calls == []  # plain http: refused before sending anything


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory):
    import shutil
    import ssl
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("openssl is not available to make a test certificate")
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-keyout", str(key),
                    "-out", str(cert), "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(str(cert), str(key))
    return server, ssl.create_default_context(cafile=str(cert))


def test_entra_id_bearer_token_with_the_monitor_scope_over_https_and_renewed_after_a_401(tls: Any) -> None:
    from ai_core.delivery.auth import BearerTokenProvider

    class Credential:
        def __init__(self) -> None:
            self.scopes: List[str] = []

        def get_token(self, *scopes: str, **kwargs: Any) -> Any:
            self.scopes.append(scopes[0])
            token = "token-%d" % len(self.scopes)
            return type("AccessToken", (), {"token": token, "expires_on": time.time() + 3600})()

    server_context, client_context = tls
    credential = Credential()
    with FakeLiveService(tls=server_context) as svc:
        clock = FakeClock()
        stream = make_stream(svc.url, clock, token_provider=BearerTokenProvider(credential), ssl_context=client_context)
        run(stream, clock, 2)
        assert [c.headers["authorization"] for c in svc.calls] == ["Bearer token-1"] * 2  # cached
        assert credential.scopes == ["https://monitor.azure.com/.default"]
        svc.status = 401
        run(stream, clock, 1)
        svc.status = 200
        run(stream, clock, 1)
        assert svc.calls[-1].headers["authorization"] == "Bearer token-2"  # the 401 made it ask again
